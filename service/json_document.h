// JSON documents behind the JSON.* commands: parsing with limits, selecting nodes by
// JSONPath (jsonpath.h), editing at what was selected, and writing text as RedisJSON does.
//
// A document is nlohmann::ordered_json (members keep their insertion order, as in
// RedisJSON); the keyspace holds it as compact text, so a command parses, works and, for a
// write, writes it back. Limits: kMaxDepth levels of nesting, kMaxMatches nodes selected
// by one path; both are errors, never a crash or an unbounded stall. Not thread-safe per
// object; no shared state.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "service/jsonpath.h"
#include "store/status.h"

namespace devstate::json {

using Json = nlohmann::ordered_json;

// Levels of nesting a stored document may have ([] is one; MemoryDB's default is 128).
inline constexpr size_t kMaxDepth = 128;
// Nodes one path may select, counting those a `..` passes through.
inline constexpr size_t kMaxMatches = 1'000'000;

// Parses `text` as one JSON value: InvalidArgument when it is not JSON or nests deeper
// than kMaxDepth.
Status Parse(std::string_view text, Json* out);

// Levels of nesting in `value`: 0 for a scalar, 1 for [] or {"a":1}.
size_t Depth(const Json& value);

// JSON.GET's INDENT, NEWLINE and SPACE; all empty is compact text.
struct Format {
  std::string indent;
  std::string newline;
  std::string space;
};
void Write(const Json& value, const Format& format, std::string* out);
std::string Compact(const Json& value);

// JSON.TYPE's names: object array string integer number boolean null.
std::string_view TypeName(const Json& value);

// The nodes a path selects in one document, in document order (duplicates kept, as a
// union like [0,0] asks), and where each is, so that a write can reach it again.
class Selection {
 public:
  Status Select(const Json& root, const jsonpath::Path& path) { return Run(root, path, false); }
  // As Select; and when the last segment is member names, an object without such a member
  // contributes a place to create it (JSON.SET's rule). node() is null for such a place.
  Status SelectForSet(const Json& root, const jsonpath::Path& path) {
    return Run(root, path, true);
  }

  size_t size() const { return result_.size(); }
  bool empty() const { return result_.empty(); }
  const Json* node(size_t i) const { return entries_[result_[i]].node; }
  bool is_root(size_t i) const { return result_[i] == 0; }
  // Levels from the root to the place (0 for the root).
  size_t depth(size_t i) const;

  // The selected places, each once, in an order where no edit moves a place a later one
  // reaches: a deeper place before its ancestors, a later sibling before an earlier one.
  std::vector<size_t> EditOrder() const;
  // The node at place i of the document being edited (created as null if it is a place
  // to create); null if an earlier edit removed it.
  Json* Resolve(Json& root, size_t i) const;
  // Removes the node at place i (not the root); false if it is not there.
  bool Erase(Json& root, size_t i) const;

 private:
  struct Entry {
    const Json* node;   // null: a member to create, named new_names_[position]
    int32_t parent;     // index in entries_, -1 for the root
    uint32_t position;  // among the parent's members (insertion order) or elements
  };

  Status Run(const Json& root, const jsonpath::Path& path, bool for_set);
  Status Apply(const jsonpath::Segment& segment, int32_t at, bool create,
               std::vector<int32_t>* next);
  Status Add(const Json* node, int32_t parent, uint32_t position, std::vector<int32_t>* next);
  std::vector<uint32_t> Steps(int32_t entry) const;
  Json* ResolveEntry(Json& root, int32_t entry) const;

  std::vector<Entry> entries_;
  std::vector<int32_t> result_;
  std::vector<std::string> new_names_;
  size_t reached_ = 0;  // nodes filters' queries reached (they count against kMaxMatches)
};

}  // namespace devstate::json
