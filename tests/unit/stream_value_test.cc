#include "service/stream_value.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "service/record_types.h"

namespace devstate {
namespace {

// What the journal holds after `change`: the previous record's rows with the change's ops
// replayed on a fresh scored map (as recovery and a replica rebuild a stream).
RecordPtr Replayed(const RecordPtr& before, const Change& change) {
  if (change.kind == Change::Kind::kNone) return before;
  auto rows = std::make_shared<FieldMap>(FieldMap::Scored());
  if (before)
    before->fields()->ForEach([&](std::string_view n, std::string_view v) { rows->Set(n, v); });
  for (const FieldOp& op : change.ops) {
    if (op.erase) {
      rows->Erase(op.name);
    } else {
      rows->Set(op.name, op.value);
    }
  }
  Record::Parts parts = change.record->parts();
  parts.fields = rows;
  return Record::Make(parts);
}

std::vector<StreamId> Ids(const StreamView& v, StreamId start = {}, StreamId end = StreamId::Max(),
                          bool reverse = false) {
  std::vector<StreamId> out;
  v.RangeIds(start, end, reverse, [&](StreamId id) {
    out.push_back(id);
    return true;
  });
  return out;
}

std::vector<std::string> Fields(std::vector<std::string> fv) { return fv; }

TEST(StreamIdTest, ParsesAsRedisDoes) {
  StreamId id;
  bool seq_given = true;
  ASSERT_TRUE(ParseStreamId("5-3", 0, true, &id));
  EXPECT_EQ(id, (StreamId{5, 3}));
  ASSERT_TRUE(ParseStreamId("5", 7, true, &id));
  EXPECT_EQ(id, (StreamId{5, 7}));
  ASSERT_TRUE(ParseStreamId("-", 0, false, &id));
  EXPECT_EQ(id, StreamId{});
  ASSERT_TRUE(ParseStreamId("+", 0, false, &id));
  EXPECT_EQ(id, StreamId::Max());
  EXPECT_FALSE(ParseStreamId("+", 0, true, &id));
  ASSERT_TRUE(ParseStreamId("9-*", 0, true, &id, &seq_given));
  EXPECT_FALSE(seq_given);
  EXPECT_EQ(id.ms, 9u);
  EXPECT_FALSE(ParseStreamId("9-*", 0, true, &id));  // only where XADD allows it
  ASSERT_TRUE(ParseStreamId("18446744073709551615-18446744073709551615", 0, true, &id));
  EXPECT_EQ(id, StreamId::Max());
  for (const char* bad : {"", "x", "-1", "1-", "1-x", "+1", "18446744073709551616", "1-2-3", " 1"})
    EXPECT_FALSE(ParseStreamId(bad, 0, true, &id)) << bad;
  EXPECT_EQ((StreamId{12, 0}).ToString(), "12-0");
}

TEST(StreamIdTest, IncrAndDecrWrapAtTheEnds) {
  StreamId id{1, UINT64_MAX};
  EXPECT_TRUE(id.Incr());
  EXPECT_EQ(id, (StreamId{2, 0}));
  EXPECT_TRUE(id.Decr());
  EXPECT_EQ(id, (StreamId{1, UINT64_MAX}));
  StreamId max = StreamId::Max();
  EXPECT_FALSE(max.Incr());
  StreamId zero;
  EXPECT_FALSE(zero.Decr());
  EXPECT_EQ(zero, StreamId::Max());
}

// Entries are kept in id order however their ms round to doubles (the rows' scores):
// past 2^53 neighbouring ms share a double.
TEST(StreamValueTest, EntriesStayInIdOrderPastDoublePrecision) {
  StreamEdit s(nullptr, false);
  std::vector<StreamId> ids;
  const uint64_t big = (uint64_t{1} << 60) + 1;
  for (uint64_t ms : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 53, (uint64_t{1} << 53) + 1, big,
                      big + 1, big + 2, UINT64_MAX - 1, UINT64_MAX}) {
    for (uint64_t seq : {uint64_t{0}, uint64_t{1}, UINT64_MAX}) ids.push_back({ms, seq});
  }
  std::mt19937 rng(7);
  std::vector<StreamId> shuffled = ids;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (StreamId id : shuffled) s.AddEntry(id, Fields({"k", id.ToString()}));
  EXPECT_EQ(s.length(), ids.size());
  EXPECT_EQ(Ids(s), ids);
  std::vector<StreamId> reversed(ids.rbegin(), ids.rend());
  EXPECT_EQ(Ids(s, {}, StreamId::Max(), true), reversed);
  // Bounds are inclusive, in both directions.
  EXPECT_EQ(Ids(s, {big, 1}, {big + 1, 0}),
            (std::vector<StreamId>{{big, 1}, {big, UINT64_MAX}, {big + 1, 0}}));
  EXPECT_EQ(Ids(s, {big, 1}, {big + 1, 0}, true),
            (std::vector<StreamId>{{big + 1, 0}, {big, UINT64_MAX}, {big, 1}}));
  EXPECT_EQ(s.FirstId(), ids.front());
  EXPECT_EQ(s.LastEntryId(), ids.back());
  const auto fields = s.Entry({big, 1});
  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(*fields, (StreamFields{"k", StreamId{big, 1}.ToString()}));
}

TEST(StreamValueTest, EntryFieldsRoundTripWithAnyBytes) {
  StreamEdit s(nullptr, false);
  const std::vector<std::string> fv = {std::string("a\0b", 3), "", std::string(5000, 'x'), "\xff"};
  s.AddEntry({1, 0}, fv);
  const auto got = s.Entry({1, 0});
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), fv.size());
  for (size_t i = 0; i < fv.size(); ++i) EXPECT_EQ((*got)[i], fv[i]);
  EXPECT_FALSE(s.Entry({2, 0}).has_value());
}

// Groups whose names are prefixes of each other, or hold NUL bytes, keep their rows apart.
TEST(StreamValueTest, GroupsConsumersAndPendingRowsStayApart) {
  StreamEdit s(nullptr, false);
  for (uint64_t i = 1; i <= 10; ++i) s.AddEntry({i, 0}, Fields({"n", std::to_string(i)}));
  const std::vector<std::string> groups = {"a", std::string("a\0", 2), "ab", std::string("a\0b", 3),
                                           ""};
  for (const std::string& g : groups) s.PutGroup({g, {}, -1});
  EXPECT_EQ(s.GroupCount(), groups.size());
  // Each group: consumers c0..c(k), entry i pending for c(i % k).
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const std::string& g = groups[gi];
    const size_t k = gi + 1;
    for (size_t c = 0; c < k; ++c)
      s.PutConsumer(g, "c" + std::to_string(c), 100 + static_cast<int64_t>(c));
    for (uint64_t i = 1; i <= 10; ++i)
      s.PutPending(g, {{i, 0}, "c" + std::to_string(i % k), 1000, gi + 1});
  }
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const std::string& g = groups[gi];
    const size_t k = gi + 1;
    EXPECT_EQ(s.ConsumerCount(g), k) << gi;
    EXPECT_EQ(s.PendingCount(g), 10u) << gi;
    size_t owned = 0;
    for (size_t c = 0; c < k; ++c) owned += s.ConsumerPendingCount(g, "c" + std::to_string(c));
    EXPECT_EQ(owned, 10u) << gi;
    const auto p = s.Pending(g, {3, 0});
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->consumer, "c" + std::to_string(3 % k));
    EXPECT_EQ(p->delivery_count, gi + 1);
  }
  std::vector<std::string> names;
  s.Groups([&](const StreamGroup& g) { names.push_back(g.name); });
  std::vector<std::string> sorted = groups;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(names, sorted);  // by name, bytewise, as Redis's rax

  // Ownership moves with one write; the old owner's list loses the entry.
  s.PutPending("ab", {{4, 0}, "c0", 2000, 9});
  EXPECT_EQ(s.Pending("ab", {4, 0})->consumer, "c0");
  std::vector<StreamId> c0;
  s.ConsumerPendingFrom("ab", "c0", {}, [&](StreamId id) {
    c0.push_back(id);
    return true;
  });
  EXPECT_NE(std::find(c0.begin(), c0.end(), StreamId{4, 0}), c0.end());
  EXPECT_EQ(s.ConsumerPendingCount("ab", "c1") + s.ConsumerPendingCount("ab", "c2") +
                s.ConsumerPendingCount("ab", "c0"),
            10u);

  // Deleting a consumer drops its pending entries from the group, nothing else.
  const size_t had = s.ConsumerPendingCount("a", "c0");
  EXPECT_EQ(s.DeleteConsumer("a", "c0"), had);
  EXPECT_EQ(s.PendingCount("a"), 10u - had);
  EXPECT_FALSE(s.ConsumerSeen("a", "c0").has_value());
  EXPECT_EQ(s.PendingCount(std::string("a\0", 2)), 10u);

  // Destroying a group removes its rows only.
  EXPECT_TRUE(s.DestroyGroup("a"));
  EXPECT_FALSE(s.DestroyGroup("a"));
  EXPECT_EQ(s.GroupCount(), groups.size() - 1);
  EXPECT_EQ(s.PendingCount("a"), 0u);
  EXPECT_EQ(s.ConsumerCount("a"), 0u);
  for (const std::string& g : {std::string("a\0", 2), std::string("ab"), std::string("a\0b", 3)}) {
    EXPECT_EQ(s.PendingCount(g), 10u);
  }
  EXPECT_EQ(s.length(), 10u);
}

// What a write journals rebuilds the same stream: the rows its ops name, replayed on the
// stream before it, equal the stream after it.
TEST(StreamValueTest, TheJournaledRowsRebuildTheStream) {
  std::mt19937 rng(11);
  RecordPtr journaled;
  RecordPtr live;
  uint64_t next = 1;
  for (int round = 0; round < 300; ++round) {
    StreamEdit s(live, false);
    const int op = static_cast<int>(rng() % 6);
    if (op <= 1 || s.length() == 0) {
      const StreamId id{next++, rng() % 3};
      s.AddEntry(id, Fields({"v", std::to_string(round)}));
      s.counters().last_id = id;
      ++s.counters().entries_added;
    } else if (op == 2) {
      const StreamId first = s.FirstId();
      s.DeleteEntry(first);
      s.counters().max_deleted = first;
    } else if (op == 3) {
      s.PutGroup({"g" + std::to_string(rng() % 3), s.LastEntryId(), round});
    } else if (op == 4) {
      const std::string g = "g" + std::to_string(rng() % 3);
      if (s.Group(g)) s.PutPending(g, {s.LastEntryId(), "c" + std::to_string(rng() % 4), round, 1});
    } else {
      const std::string g = "g" + std::to_string(rng() % 3);
      if (rng() % 2 == 0) {
        s.DeleteConsumer(g, "c" + std::to_string(rng() % 4));
      } else {
        s.DestroyGroup(g);
      }
    }
    Change c = s.Finish();
    journaled = Replayed(journaled, c);
    if (c.kind != Change::Kind::kNone) live = c.record;
    ASSERT_EQ(journaled->fields()->size(), live->fields()->size()) << round;
    std::map<std::string, std::string> a;
    std::map<std::string, std::string> b;
    journaled->fields()->ForEach([&](std::string_view n, std::string_view v) { a.emplace(n, v); });
    live->fields()->ForEach([&](std::string_view n, std::string_view v) { b.emplace(n, v); });
    ASSERT_EQ(a, b) << round;
    const StreamView jv(*journaled);
    const StreamView lv(*live);
    EXPECT_EQ(Ids(jv), Ids(lv));
    EXPECT_EQ(jv.counters().entries_added, lv.counters().entries_added);
  }
}

// A new stream has its counters' row, so a stream of no entries is a record with fields.
TEST(StreamValueTest, ANewStreamHasRowsEvenWithoutEntries) {
  StreamEdit s(nullptr, false);
  s.PutGroup({"g", {}, -1});
  s.DestroyGroup("g");
  Change c = s.Finish();
  ASSERT_EQ(c.kind, Change::Kind::kPatch);
  EXPECT_EQ(c.record->type(), kStreamRecordType);
  EXPECT_FALSE(c.record->fields()->empty());
  EXPECT_EQ(StreamView(*c.record).length(), 0u);
  // An edit that changes nothing journals nothing.
  StreamEdit again(c.record, false);
  EXPECT_EQ(again.Finish().kind, Change::Kind::kNone);
}

// Redis's lag arithmetic (streamReplyWithCGLag), on the cases its tests name.
TEST(StreamValueTest, LagIsKnownUnlessADeletionFragmentsWhatIsAhead) {
  StreamEdit s(nullptr, false);
  for (uint64_t i = 1; i <= 5; ++i) {
    s.AddEntry({i, 0}, Fields({"f", "v"}));
    s.counters().last_id = {i, 0};
    ++s.counters().entries_added;
  }
  EXPECT_EQ(s.Lag({"g", {}, -1}), 5);                 // before the first entry: all of them
  EXPECT_EQ(s.Lag({"g", {2, 0}, 2}), 3);              // a valid counter
  EXPECT_EQ(s.Lag({"g", {5, 0}, -1}), 0);             // at the last id
  EXPECT_EQ(s.Lag({"g", {3, 0}, -1}), std::nullopt);  // in the middle, no counter
  EXPECT_EQ(s.EntriesReadAt({1, 0}), 1);              // the first entry
  s.DeleteEntry({4, 0});
  s.counters().max_deleted = {4, 0};
  EXPECT_EQ(s.Lag({"g", {2, 0}, 2}), std::nullopt);  // a tombstone ahead
  EXPECT_EQ(s.Lag({"g", {5, 0}, 4}), 1);             // past it, the counter holds
  EXPECT_EQ(s.EntriesReadAt({1, 0}), -1);            // a tombstone after the first entry
}

}  // namespace
}  // namespace devstate
