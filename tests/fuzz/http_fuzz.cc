// libFuzzer target: the HTTP request handler (routing, query strings, ETags, content types,
// event and batch bodies) must answer every request exactly once with a well-formed status
// and never crash, leak or hang. The service is an in-memory fake with the real merge.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "api/http/handler.h"
#include "service/device_record.h"

namespace {

using devstate::http::Request;
using devstate::http::Response;

class FakeService : public devstate::DeviceService {
 public:
  void Ingest(std::vector<devstate::Event> events, devstate::Ingest::Done done) override {
    std::vector<devstate::IngestResult> results;
    for (devstate::Event& e : events) {
      auto result = std::make_shared<devstate::IngestResult>();
      devstate::Mutation m = devstate::MergeMutation(std::move(e), result, [] { return int64_t{42}; });
      auto it = records_.find(m.key);
      devstate::Change c = m.apply(it == records_.end() ? nullptr : it->second);
      if (c.kind == devstate::Change::Kind::kPut) records_[m.key] = c.record;
      results.push_back(*result);
    }
    done(devstate::Status::OK(), std::move(results));
  }
  void CountRejected(uint64_t) override {}
  devstate::RecordPtr Get(std::string_view key) const override {
    auto it = records_.find(std::string(key));
    return it == records_.end() ? nullptr : it->second;
  }
  devstate::Status WriteStatus() const override { return devstate::Status::OK(); }
  devstate::MqttState mqtt_state() const override { return devstate::MqttState::kDisabled; }
  std::vector<devstate::DeadLetter> DeadLetters(size_t) const override {
    return {devstate::DeadLetter{1, 0, "mqtt:x", "bad", "\xff\xfe\xc3", 3}};
  }
  uint64_t DeadLetterTotal() const override { return 1; }
  int64_t NowMs() const override { return 1000; }
  void Write(std::vector<devstate::Mutation>, devstate::CommitCallback done) override { done(devstate::Status::OK(), 1); }
  size_t KeyCount() const override { return records_.size(); }
  uint64_t Scan(uint64_t cursor, size_t count, const devstate::Keyspace::ScanFn& fn) const override {
    uint64_t i = 0;
    for (const auto& [key, record] : records_) {
      if (i++ < cursor) continue;
      fn(key, record);
      if (--count == 0) return i < records_.size() ? i : 0;
    }
    return 0;
  }
  uint64_t JournalPosition() const override { return 0; }
  uint64_t ExpiredKeys() const override { return 0; }
  size_t KeysWithExpiry() const override { return 0; }
  devstate::Metrics& metrics() override { return metrics_; }
  std::string MetricsText() const override { return ""; }

 private:
  std::map<std::string, devstate::RecordPtr> records_;
  devstate::Metrics metrics_;
};

// Input layout: [method byte] target \n header-value(content-type) \n if-none-match \n body
std::string_view Take(std::string_view* in) {
  const size_t nl = in->find('\n');
  std::string_view part = in->substr(0, nl);
  in->remove_prefix(nl == std::string_view::npos ? in->size() : nl + 1);
  return part;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FakeService service;  // state carries across inputs, like a long-running server
  static const devstate::http::Handler handler(
      &service, devstate::http::HandlerOptions{.limits = devstate::EventLimits{.max_bytes = 4096}, .max_batch_events = 64});
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const boost::beast::http::verb kMethods[] = {boost::beast::http::verb::get, boost::beast::http::verb::post,
                                                      boost::beast::http::verb::delete_};
  const std::string_view target = Take(&in);
  const std::string_view type = Take(&in);
  const std::string_view etag = Take(&in);
  if (target.empty() || target.front() != '/') return 0;  // Beast only hands over origin-form targets
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
