#include "service/device_record.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "store/store.h"
#include "tests/unit/temp_dir.h"

namespace devstate {
namespace {

Event Ev(int64_t ts, std::vector<std::pair<std::string, std::string>> fields) {
  Event e;
  e.device_id = "d1";
  e.time_ms = ts;
  e.time_from_device = true;
  for (auto& [k, v] : fields) e.fields.push_back({k, v});
  return e;
}

TEST(DeviceRecordTest, PartialEventsMergeFieldByField) {
  DeviceRecord r;
  EXPECT_EQ(Merge(Ev(1000, {{"status", "\"active\""}, {"temperature", "6.4"}}), 50, &r),
            MergeOutcome::kChanged);
  EXPECT_EQ(Merge(Ev(2000, {{"temperature", "7.1"}}), 60, &r), MergeOutcome::kChanged);
  EXPECT_EQ(
      RenderState(r),
      R"({"deviceId":"d1","status":"active","temperature":7.1,"lastSeenAt":"1970-01-01T00:00:02.000Z"})");
  EXPECT_EQ(r.version, 2u);
  EXPECT_EQ(r.updated_at_ms, 60);
  EXPECT_EQ(r.fields["status"].time_ms, 1000);
  EXPECT_EQ(r.fields["temperature"].time_ms, 2000);
}

TEST(DeviceRecordTest, OlderEventDoesNotOverwriteNewerFields) {
  DeviceRecord r;
  Merge(Ev(2000, {{"temperature", "7.1"}}), 0, &r);
  EXPECT_EQ(Merge(Ev(1000, {{"temperature", "6.4"}, {"battery", "90"}}), 0, &r),
            MergeOutcome::kChanged);  // battery is new, temperature is older
  EXPECT_EQ(r.fields["temperature"].json, "7.1");
  EXPECT_EQ(r.fields["battery"].json, "90");
  EXPECT_EQ(r.last_seen_ms, 2000) << "lastSeenAt never goes back";
}

TEST(DeviceRecordTest, DuplicatesAndEqualTimesChangeNothing) {
  DeviceRecord r;
  Merge(Ev(1000, {{"a", "1"}}), 0, &r);
  const DeviceRecord before = r;
  EXPECT_EQ(Merge(Ev(1000, {{"a", "1"}}), 99, &r), MergeOutcome::kStale);
  EXPECT_EQ(Merge(Ev(1000, {{"a", "2"}}), 99, &r), MergeOutcome::kStale)
      << "equal time keeps the stored value";
  EXPECT_EQ(Merge(Ev(500, {{"a", "3"}}), 99, &r), MergeOutcome::kStale);
  EXPECT_EQ(r, before);
}

TEST(DeviceRecordTest, NullIsATombstoneThatOlderValuesCannotResurrect) {
  DeviceRecord r;
  Merge(Ev(1000, {{"a", "1"}, {"b", "2"}}), 0, &r);
  Merge(Ev(2000, {{"a", "null"}}), 0, &r);
  EXPECT_EQ(RenderState(r), R"({"deviceId":"d1","b":2,"lastSeenAt":"1970-01-01T00:00:02.000Z"})");
  EXPECT_EQ(Merge(Ev(1500, {{"a", "5"}}), 0, &r), MergeOutcome::kStale);
  EXPECT_TRUE(r.fields["a"].tombstone());
  Merge(Ev(3000, {{"a", "6"}}), 0, &r);
  EXPECT_EQ(r.fields["a"].json, "6") << "a newer value brings it back";
}

TEST(DeviceRecordTest, NestedObjectsAreReplacedWhole) {
  DeviceRecord r;
  Merge(Ev(1000, {{"gps", R"({"lat":1,"lon":2})"}}), 0, &r);
  Merge(Ev(2000, {{"gps", R"({"lat":3})"}}), 0, &r);
  EXPECT_EQ(r.fields["gps"].json, R"({"lat":3})");
}

TEST(DeviceRecordTest, RecordRoundTripsThroughTheStoreEncoding) {
  DeviceRecord r;
  Merge(Ev(-5000, {{"a", "\"x\""}, {"q\"uote", "[1]"}}), 1234, &r);
  Merge(Ev(7000, {{"a", "null"}}), 5678, &r);
  RecordPtr stored = ToRecord(r);
  EXPECT_EQ(stored->type, kDeviceRecordType);
  EXPECT_EQ(stored->value, RenderState(r));
  Record decoded_bytes;
  ASSERT_TRUE(DecodeRecord(EncodeRecord(*stored), &decoded_bytes).ok());
  DeviceRecord back;
  ASSERT_TRUE(FromRecord(decoded_bytes, &back).ok());
  EXPECT_EQ(back, r);
  Record plain;
  plain.value = "hello";
  EXPECT_EQ(FromRecord(plain, &back).code(), Status::Code::kWrongType);
  Record damaged = *stored;
  damaged.meta.resize(damaged.meta.size() - 3);
  EXPECT_EQ(FromRecord(damaged, &back).code(), Status::Code::kCorruption);
}

// Property: random events of one device, applied in any order and with any duplicates,
// converge on the same state, field times and lastSeenAt. (Event times are distinct: two
// different events with one time are settled by arrival order, as DESIGN.md §3 says.)
TEST(DeviceRecordTest, PropertyOrderAndDuplicatesDoNotMatter) {
  std::mt19937_64 rng(20261122);
  const std::vector<std::string> names = {"status", "temperature", "battery", "gps", "mode"};
  const std::vector<std::string> values = {"1",    "2.5",        "\"on\"", "\"off\"",
                                           "null", R"({"x":1})", "[true]"};
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<Event> events;
    std::vector<int64_t> times(1 + rng() % 12);
    for (size_t i = 0; i < times.size(); ++i)
      times[i] = static_cast<int64_t>(i * 1000 + rng() % 1000);
    for (int64_t t : times) {
      std::vector<std::pair<std::string, std::string>> fields;
      for (const auto& n : names) {
        if (rng() % 2) fields.push_back({n, values[rng() % values.size()]});
      }
      events.push_back(Ev(t, fields));
    }
    DeviceRecord reference;
    for (const Event& e : events) Merge(e, 0, &reference);
    for (int order = 0; order < 8; ++order) {
      std::vector<Event> shuffled = events;
      for (int d = rng() % 5; d > 0; --d) shuffled.push_back(events[rng() % events.size()]);
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      DeviceRecord r;
      for (const Event& e : shuffled) Merge(e, 0, &r);
      ASSERT_EQ(RenderState(r), RenderState(reference)) << "trial " << trial;
      ASSERT_EQ(r.last_seen_ms, reference.last_seen_ms);
      ASSERT_EQ(r.fields.size(), reference.fields.size());
      for (const auto& [name, f] : reference.fields) {
        ASSERT_EQ(r.fields[name].json, f.json);
        ASSERT_EQ(r.fields[name].time_ms, f.time_ms);
      }
    }
  }
}

TEST(DeviceRecordTest, MergeMutationRunsInThePipeline) {
  testing::TempDir dir;
  std::unique_ptr<Store> store;
  StoreOptions options;
  options.dir = dir.Sub("db");
  ASSERT_TRUE(Store::Open(options, &store).ok());
  auto now = [] { return int64_t{42}; };
  auto ingest = [&](Event e) {
    auto result = std::make_shared<IngestResult>();
    std::vector<Mutation> m;
    m.push_back(MergeMutation(std::move(e), result, now));
    EXPECT_TRUE(store->WriteAndWait(std::move(m)).ok());
    return *result;
  };
  IngestResult first = ingest(Ev(1000, {{"a", "1"}}));
  EXPECT_TRUE(first.status.ok());
  EXPECT_EQ(first.outcome, MergeOutcome::kChanged);
  EXPECT_EQ(first.version, 1u);
  IngestResult dup = ingest(Ev(1000, {{"a", "1"}}));
  EXPECT_EQ(dup.outcome, MergeOutcome::kStale);
  EXPECT_EQ(dup.version, 1u);
  EXPECT_EQ(store->Get("device:d1:latest")->value,
            R"({"deviceId":"d1","a":1,"lastSeenAt":"1970-01-01T00:00:01.000Z"})");

  // A plain string under the key (a RESP SET) is not merged over.
  auto plain = std::make_shared<Record>();
  plain->value = "{}";
  std::vector<Mutation> set;
  set.push_back(Mutation::Put("device:d1:latest", plain));
  ASSERT_TRUE(store->WriteAndWait(std::move(set)).ok());
  IngestResult conflict = ingest(Ev(2000, {{"a", "2"}}));
  EXPECT_EQ(conflict.status.code(), Status::Code::kWrongType);
  EXPECT_EQ(store->Get("device:d1:latest")->value, "{}");
}

}  // namespace
}  // namespace devstate
