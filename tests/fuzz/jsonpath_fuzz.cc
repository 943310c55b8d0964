// libFuzzer target: the JSONPath parser, and selection and edits with what it parses, must
// never crash, leak or hang. The input is a path, optionally followed by a NUL byte and a
// document (a fixed document otherwise). Whatever parses is selected in the document; the
// selected places are then erased (JSON.DEL) in a copy and assigned (JSON.SET) in another,
// and both results must write out as JSON that parses back to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "service/json_document.h"
#include "service/jsonpath.h"

namespace {

using devstate::json::Json;

const Json& FixedDocument() {
  static const Json doc = Json::parse(
      R"({"a":{"b":[1,2,{"x":3,"y":[true,null]}],"x":1.5},"s":"str","arr":[[0,1],[2,[3,4]]],)"
      R"("e":{},"n":null,"x":-7,"k y":{"'q\"":1}})");
  return doc;
}

void CheckRoundTrip(const Json& doc) {
  Json back;
  if (!devstate::json::Parse(devstate::json::Compact(doc), &back).ok() || back != doc) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view text = input;
  Json doc = FixedDocument();
  if (const size_t nul = input.find('\0'); nul != std::string_view::npos) {
    text = input.substr(0, nul);
    if (!devstate::json::Parse(input.substr(nul + 1), &doc).ok()) return 0;
  }
  devstate::jsonpath::Path path;
  if (!devstate::jsonpath::Parse(text, &path).ok()) return 0;
  if (path.segments.size() > devstate::jsonpath::kMaxSegments) std::abort();

  devstate::json::Selection sel;
  if (!sel.Select(doc, path).ok()) return 0;
  for (size_t i = 0; i < sel.size(); ++i) {
    if (sel.node(i) == nullptr || sel.depth(i) > devstate::json::kMaxDepth) std::abort();
  }

  Json erased = doc;
  for (size_t i : sel.EditOrder()) {
    if (!sel.is_root(i) && !sel.Erase(erased, i)) std::abort();  // every place is reached
  }
  CheckRoundTrip(erased);

  devstate::json::Selection places;
  if (!places.SelectForSet(doc, path).ok()) return 0;
  Json set = doc;
  for (size_t i : places.EditOrder()) {
    Json* node = places.Resolve(set, i);
    if (node == nullptr) std::abort();
    *node = Json::array({"set"});
  }
  CheckRoundTrip(set);
  return 0;
}
