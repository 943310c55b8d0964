// A DeviceService in memory for tests of the protocol layers: commits at once with the
// real merge, and can be told to refuse writes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "service/device_record.h"
#include "service/device_service.h"

namespace devstate::testing {

class FakeService : public DeviceService {
 public:
  void Ingest(std::vector<Event> events, devstate::Ingest::Done done) override {
    ++commits;
    if (!refuse.ok()) return done(refuse, {});
    std::vector<IngestResult> results;
    for (Event& e : events) {
      auto result = std::make_shared<IngestResult>();
      Mutation m = MergeMutation(std::move(e), result, [] { return int64_t{42}; });
      auto it = records.find(m.key);
      Change c = m.apply(it == records.end() ? nullptr : it->second);
      if (c.kind == Change::Kind::kPut) records[m.key] = c.record;
      results.push_back(*result);
    }
    done(Status::OK(), std::move(results));
  }
  void CountRejected(uint64_t n) override { rejected += n; }
  RecordPtr Get(std::string_view key) const override {
    auto it = records.find(std::string(key));
    return it == records.end() ? nullptr : it->second;
  }
  Status WriteStatus() const override { return refuse; }
  MqttState mqtt_state() const override { return mqtt; }
  std::vector<DeadLetter> DeadLetters(size_t limit) const override {
    std::vector<DeadLetter> out(letters.rbegin(), letters.rend());
    if (out.size() > limit) out.resize(limit);
    return out;
  }
  uint64_t DeadLetterTotal() const override { return letters.size(); }
  int64_t NowMs() const override { return 1000; }
  void Write(std::vector<Mutation>, CommitCallback done) override { done(Status::OK(), 1); }
  size_t KeyCount() const override { return records.size(); }
  uint64_t Scan(uint64_t cursor, size_t count, const Keyspace::ScanFn& fn) const override {
    uint64_t i = 0;
    for (const auto& [key, record] : records) {
      if (i++ < cursor) continue;
      fn(key, record);
      if (--count == 0) return i < records.size() ? i : 0;
    }
    return 0;
  }
  uint64_t JournalPosition() const override { return 0; }
  uint64_t ChangesWritten() const override { return 0; }
  uint64_t ExpiredKeys() const override { return 0; }
  size_t KeysWithExpiry() const override { return 0; }
  Metrics& metrics() override { return metrics_; }
  std::string MetricsText() const override { return "devstate_test 1\n"; }
  Metrics metrics_;

  std::map<std::string, RecordPtr> records;
  Status refuse;
  MqttState mqtt = MqttState::kDisabled;
  std::vector<DeadLetter> letters;
  uint64_t rejected = 0;
  int commits = 0;
};

}  // namespace devstate::testing
