// libFuzzer target: the HTTP request handler (routing, query strings, ETags, content types,
// event and batch bodies) must answer every request exactly once with a well-formed status
// and never crash, leak or hang. The service is the in-memory fake with the real merge.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "api/http/handler.h"
#include "service/device_record.h"
#include "tests/unit/fake_service.h"

namespace {

using devstate::http::Request;
using devstate::http::Response;

// Input layout: [method byte] target \n header-value(content-type) \n if-none-match \n body
std::string_view Take(std::string_view* in) {
  const size_t nl = in->find('\n');
  std::string_view part = in->substr(0, nl);
  in->remove_prefix(nl == std::string_view::npos ? in->size() : nl + 1);
  return part;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // State carries across inputs, like a long-running server. One dead letter whose head is
  // not UTF-8 keeps the escaping of /deadletters under the fuzzer.
  static devstate::testing::FakeService service;
  static const bool seeded = [] {
    service.letters.push_back(devstate::DeadLetter{1, 0, "mqtt:x", "bad", "\xff\xfe\xc3", 3});
    return true;
  }();
  (void)seeded;
  static const devstate::http::Handler handler(
      &service, devstate::http::HandlerOptions{.limits = devstate::EventLimits{.max_bytes = 4096},
                                               .max_batch_events = 64});
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const boost::beast::http::verb kMethods[] = {boost::beast::http::verb::get,
                                                      boost::beast::http::verb::post,
                                                      boost::beast::http::verb::delete_};
  const std::string_view target = Take(&in);
  const std::string_view type = Take(&in);
  const std::string_view etag = Take(&in);
  if (target.empty() || target.front() != '/')
    return 0;  // Beast only hands over origin-form targets
  Request req{kMethods[data[0] % 3], target, 11};
  req.set(boost::beast::http::field::content_type, type);
  if (!etag.empty()) req.set(boost::beast::http::field::if_none_match, etag);
  req.body().assign(in);
  req.prepare_payload();
  int replies = 0;
  handler.Handle(req, [&](Response res) {
    ++replies;
    const unsigned code = res.result_int();
    if (code < 200 || code > 599) std::abort();
  });
  if (replies != 1) std::abort();
  return 0;
}
