#include "service/device_record.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "service/rfc3339.h"
#include "store/coding.h"
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
  EXPECT_EQ(stored->type(), kDeviceRecordType);
  EXPECT_EQ(stored->value(), RenderState(r));
  RecordPtr decoded_bytes;
  ASSERT_TRUE(DecodeRecord(EncodeRecord(*stored), &decoded_bytes).ok());
  DeviceRecord back;
  ASSERT_TRUE(FromRecord(*decoded_bytes, &back).ok());
  EXPECT_EQ(back, r);
  RecordPtr plain = Record::Make({.value = "hello"});
  EXPECT_EQ(FromRecord(*plain, &back).code(), Status::Code::kWrongType);
  Record::Parts damaged = stored->parts();
  damaged.meta.remove_suffix(3);
  EXPECT_EQ(FromRecord(*Record::Make(damaged), &back).code(), Status::Code::kCorruption);
}

// The metadata keeps only what the state lacks (field times, tombstones, version): names
// without escapes and every live value are read back from the state.
TEST(DeviceRecordTest, MetadataDoesNotRepeatTheState) {
  DeviceRecord r;
  Merge(Ev(1'764'000'000'000, {{"status", "\"active\""},
                               {"temperature", "6.4"},
                               {"humidity", "41"},
                               {"battery", "87"},
                               {"firmware", "\"2.4.1-rc7\""},
                               {"site", "\"warehouse-7\""},
                               {"zone", "\"cold-A\""}}),
        1'764'000'000'250, &r);
  RecordPtr stored = ToRecord(r);
  // 1 + 7 (lastSeen) + 1 (version) + 2 (updatedAt) + 1 (count), and 4 bytes a field:
  // 40 bytes, where version 1 repeated the id, every name, value and absolute time (177).
  EXPECT_LE(stored->meta().size(), 12u + 7 * 4);
  DeviceRecord back;
  ASSERT_TRUE(FromRecord(*stored, &back).ok());
  EXPECT_EQ(back, r);
}

// Every shape a field can take round-trips: names that need escapes, an empty name,
// tombstones beside live fields, values holding the state's own punctuation, field times
// before lastSeenAt, and an updatedAt before lastSeenAt (a device clock ahead of ours).
TEST(DeviceRecordTest, EveryFieldShapeRoundTrips) {
  DeviceRecord r;
  Merge(Ev(5000, {{"q\"uote", "[1]"},
                  {"", "0"},
                  {"new\nline", R"({"lastSeenAt":"x","a":[",\":"]})"},
                  {"\x01", "true"},
                  {"gone", "1"},
                  {"caf\xc3\xa9", "\"\\u00e9\""},
                  {"lastSeenAt2", "\"2026\""}}),
        1000, &r);
  Merge(Ev(9000, {{"gone", "null"}, {"later", "2"}}), 800, &r);
  ASSERT_TRUE(r.fields.at("gone").tombstone());
  RecordPtr stored = ToRecord(r);
  DeviceRecord back;
  ASSERT_TRUE(FromRecord(*stored, &back).ok());
  EXPECT_EQ(back, r);
  RecordPtr decoded;
  ASSERT_TRUE(DecodeRecord(EncodeRecord(*stored), &decoded).ok());
  ASSERT_TRUE(FromRecord(*decoded, &back).ok());
  EXPECT_EQ(back, r);
}

// A record journaled before metadata version 2 (which repeated the id, every value and
// every absolute time) is still read.
TEST(DeviceRecordTest, VersionOneMetadataIsStillRead) {
  auto time_bits = [](int64_t ms) { return static_cast<uint64_t>(ms - kMinTimeMs); };
  std::string meta;
  PutLengthPrefixed(&meta, "d1");
  PutVarint64(&meta, time_bits(9000));  // lastSeen
  PutVarint64(&meta, 4);                // version
  PutVarint64(&meta, time_bits(1234));  // updatedAt
  PutVarint64(&meta, 2);
  PutLengthPrefixed(&meta, "a");
  PutVarint64(&meta, time_bits(9000));
  PutLengthPrefixed(&meta, "");  // a tombstone
  PutLengthPrefixed(&meta, "b");
  PutVarint64(&meta, time_bits(-5));
  PutLengthPrefixed(&meta, "[1]");
  const std::string state = R"({"deviceId":"d1","b":[1],"lastSeenAt":"1970-01-01T00:00:09.000Z"})";
  RecordPtr old = Record::Make({.type = kDeviceRecordType, .value = state, .meta = meta});
  DeviceRecord back;
  ASSERT_TRUE(FromRecord(*old, &back).ok());
  EXPECT_EQ(back.device_id, "d1");
  EXPECT_EQ(back.version, 4u);
  EXPECT_EQ(back.last_seen_ms, 9000);
  EXPECT_EQ(back.updated_at_ms, 1234);
  EXPECT_EQ(back.fields.at("a"), (FieldState{"", 9000}));
  EXPECT_EQ(back.fields.at("b"), (FieldState{"[1]", -5}));
  EXPECT_EQ(DeviceVersion(*old), 4u);
  EXPECT_EQ(RenderState(back), state);
  // Merging into it writes version 2, which reads back the same.
  Merge(Ev(10000, {{"c", "3"}}), 2000, &back);
  RecordPtr now = ToRecord(back);
  EXPECT_EQ(now->meta()[0], '\0');
  DeviceRecord again;
  ASSERT_TRUE(FromRecord(*now, &again).ok());
  EXPECT_EQ(again, back);
  EXPECT_EQ(DeviceVersion(*now), 5u);
}

// Damage to either half (a meta cut short, a state that no longer matches its meta) is
// Corruption, never a crash or a wrong field; every cut of the meta is tried.
TEST(DeviceRecordTest, MetadataThatDisagreesWithItsStateIsCorruption) {
  DeviceRecord r;
  Merge(Ev(5000, {{"a", "\"x\""}, {"q\"uote", "[1]"}, {"t", "null"}}), 0, &r);
  Merge(Ev(6000, {{"t", "null"}, {"z", "{}"}}), 0, &r);
  RecordPtr stored = ToRecord(r);
  DeviceRecord back;
  const std::string_view meta = stored->meta();
  for (size_t cut = 1; cut < meta.size(); ++cut) {
    Record::Parts p = stored->parts();
    p.meta = meta.substr(0, cut);
    EXPECT_EQ(FromRecord(*Record::Make(p), &back).code(), Status::Code::kCorruption) << cut;
  }
  for (std::string state : {std::string(R"({"deviceId":"d1","a":"y","lastSeenAt":"x"})"),
                            std::string(R"({"deviceId":"d1"})"), std::string("{}"),
                            std::string(stored->value()).substr(0, 30)}) {
    Record::Parts p = stored->parts();
    p.value = state;
    EXPECT_EQ(FromRecord(*Record::Make(p), &back).code(), Status::Code::kCorruption) << state;
  }
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
  EXPECT_EQ(store->Get("device:d1:latest")->value(),
            R"({"deviceId":"d1","a":1,"lastSeenAt":"1970-01-01T00:00:01.000Z"})");

  // A plain string under the key (a RESP SET) is not merged over.
  RecordPtr plain = Record::Make({.value = "{}"});
  std::vector<Mutation> set;
  set.push_back(Mutation::Put("device:d1:latest", plain));
  ASSERT_TRUE(store->WriteAndWait(std::move(set)).ok());
  IngestResult conflict = ingest(Ev(2000, {{"a", "2"}}));
  EXPECT_EQ(conflict.status.code(), Status::Code::kWrongType);
  EXPECT_EQ(store->Get("device:d1:latest")->value(), "{}");
}

}  // namespace
}  // namespace devstate
