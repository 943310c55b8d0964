// Composite records (fields.h): a change journals only the fields it names, recovery and a
// replica rebuild the same record, and HSCAN-style cursors return every field once.
#include "store/fields.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "store/replication/frames.h"
#include "store/store.h"
#include "tests/unit/temp_dir.h"

namespace devstate {
namespace {

using Fields = std::map<std::string, std::string>;

Fields AsMap(const FieldMap& m) {
  Fields out;
  m.ForEach([&](std::string_view n, std::string_view v) { out[std::string(n)] = v; });
  return out;
}

TEST(FieldMapTest, SetFindErase) {
  FieldMap m;
  EXPECT_TRUE(m.Set("a", "1"));
  EXPECT_FALSE(m.Set("a", "2")) << "an existing field is replaced, not added";
  EXPECT_TRUE(m.Set("", "empty name"));
  ASSERT_TRUE(m.Find("a"));
  EXPECT_EQ(*m.Find("a"), "2");
  EXPECT_FALSE(m.Find("b"));
  EXPECT_TRUE(m.Erase("a"));
  EXPECT_FALSE(m.Erase("a"));
  EXPECT_EQ(m.size(), 1u);
}

// Random sets and erases on a map and on copies taken along the way (as a writer copies
// the published hash): each copy keeps exactly what it held. `max_value` sizes the values:
// small ones fill leaves by count, large ones by bytes (kLeafBytes), and a value above
// kLeafBytes makes a leaf of one field.
void CheckAgainstAModel(size_t max_value, int writes, int names) {
  std::mt19937 rng(5);
  FieldMap m;
  Fields model;
  std::vector<std::pair<FieldMap, Fields>> snapshots;
  for (int i = 0; i < writes; ++i) {
    const std::string name = "f" + std::to_string(rng() % names);
    if (rng() % 3 == 0) {
      EXPECT_EQ(m.Erase(name), model.erase(name) == 1) << name;
    } else {
      std::string value = "v" + std::to_string(i);
      value.resize(rng() % (max_value + 1), static_cast<char>('a' + i % 26));
      EXPECT_EQ(m.Set(name, value), !model.contains(name)) << name;
      model[name] = value;
    }
    if (i % (writes / 8) == 0) snapshots.emplace_back(m, model);
  }
  EXPECT_EQ(m.size(), model.size());
  EXPECT_EQ(AsMap(m), model);
  for (const auto& [name, value] : model) ASSERT_EQ(*m.Find(name), value);
  for (auto& [copy, expected] : snapshots) {
    EXPECT_EQ(copy.size(), expected.size());
    EXPECT_EQ(AsMap(copy), expected);
  }
  // Emptied, a map holds nothing.
  for (const auto& [name, value] : model) m.Erase(name);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(AsMap(m), Fields{});
  EXPECT_EQ(m.AllocatedSize(), 0u);
}

TEST(FieldMapTest, MatchesAModelAndCopiesNeverSeeEachOthersChanges) {
  CheckAgainstAModel(/*max_value=*/8, /*writes=*/20000, /*names=*/3000);
}

TEST(FieldMapTest, LargeValuesSplitLeavesByBytes) {
  CheckAgainstAModel(/*max_value=*/FieldMap::kLeafBytes * 2, /*writes=*/4000, /*names=*/600);
}

TEST(FieldMapTest, AScanReturnsEveryFieldPresentThroughoutExactlyOnce) {
  FieldMap m;
  for (int i = 0; i < 1000; ++i) m.Set("f" + std::to_string(i), "v");
  std::map<std::string, int> seen;
  uint64_t cursor = 0;
  int round = 0;
  do {
    cursor =
        m.Scan(cursor, 10, [&](std::string_view n, std::string_view) { ++seen[std::string(n)]; });
    // Churn between calls: new fields come and go, as another client's HSET/HDEL would.
    m.Set("new" + std::to_string(round), "v");
    if (round > 0) m.Erase("new" + std::to_string(round - 1));
    ++round;
  } while (cursor != 0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen["f" + std::to_string(i)], 1) << i;
  EXPECT_GT(round, 50) << "a count of 10 takes many calls";
}

// A scored map's order (score, name), as Redis's skiplist orders a sorted set: -0 is 0.
struct ScoreOrder {
  bool operator()(const std::pair<double, std::string>& a,
                  const std::pair<double, std::string>& b) const {
    if (a.first != b.first) return a.first < b.first;
    return a.second < b.second;
  }
};
using Sorted = std::set<std::pair<double, std::string>, ScoreOrder>;

std::vector<std::pair<double, std::string>> Walked(const FieldMap& m, size_t from, bool reverse,
                                                   size_t limit) {
  std::vector<std::pair<double, std::string>> out;
  m.WalkRanks(from, reverse, [&](std::string_view name, double score) {
    out.emplace_back(score, name);
    return out.size() < limit;
  });
  return out;
}

// Random adds, rescorings and removals with many ties (and -0, 0, +-inf) against a sorted
// model: ranks, walks both ways from any rank, and copies taken along the way.
TEST(FieldMapTest, AScoredMapRanksAndWalksInScoreThenNameOrder) {
  std::mt19937 rng(11);
  const std::vector<double> common = {-INFINITY, -2.5, -0.0, 0.0, 1, 3, INFINITY};
  FieldMap m = FieldMap::Scored();
  std::map<std::string, double> scores;
  std::vector<std::pair<FieldMap, Sorted>> snapshots;
  auto model = [&] {
    Sorted out;
    for (const auto& [n, sc] : scores) out.emplace(sc, n);
    return out;
  };
  for (int i = 0; i < 12000; ++i) {
    const std::string name = "m" + std::to_string(rng() % 2000);
    if (rng() % 4 == 0) {
      EXPECT_EQ(m.Erase(name), scores.erase(name) == 1);
    } else {
      const double score = rng() % 3 == 0 ? common[rng() % common.size()]
                                          : static_cast<double>(rng() % 100000) / 7.0 - 5000;
      EXPECT_EQ(m.Set(name, FieldMap::ScoreValue(score)), !scores.contains(name));
      scores[name] = score;
    }
    if (i % 1500 == 0) snapshots.emplace_back(m, model());
  }
  const Sorted sorted = model();
  const std::vector<std::pair<double, std::string>> all(sorted.begin(), sorted.end());
  ASSERT_EQ(m.size(), all.size());
  EXPECT_EQ(Walked(m, 0, false, all.size() + 1), all);
  std::vector<std::pair<double, std::string>> backwards(all.rbegin(), all.rend());
  EXPECT_EQ(Walked(m, all.size() - 1, true, all.size() + 1), backwards);
  for (int probe = 0; probe < 300; ++probe) {
    const size_t from = rng() % all.size();
    const size_t limit = 1 + rng() % 40;
    std::vector<std::pair<double, std::string>> fwd, rev;
    for (size_t r = from; r < all.size() && fwd.size() < limit; ++r) fwd.push_back(all[r]);
    for (size_t r = from + 1; r-- > 0 && rev.size() < limit;) rev.push_back(all[r]);
    ASSERT_EQ(Walked(m, from, false, limit), fwd) << from;
    ASSERT_EQ(Walked(m, from, true, limit), rev) << from;
    // Ranks: of a member, of a score's start, and through a score.
    const auto& [score, name] = all[from];
    ASSERT_EQ(m.RankBefore(score, name), from);
    const size_t below = std::lower_bound(all.begin(), all.end(),
                                          std::make_pair(score, std::string()), ScoreOrder()) -
                         all.begin();
    ASSERT_EQ(m.RankBefore(score, ""), below);
    const size_t through = std::upper_bound(all.begin(), all.end(), score,
                                            [](double s, const auto& e) { return s < e.first; }) -
                           all.begin();
    ASSERT_EQ(m.RankThrough(score), through);
    ASSERT_EQ(m.RankBefore(score, name + '\0'), from + 1);
  }
  EXPECT_EQ(m.RankThrough(INFINITY), all.size());
  EXPECT_EQ(m.RankBefore(-INFINITY, ""), 0u);
  // -0 keeps its sign as a value, and orders as 0.
  FieldMap z = FieldMap::Scored();
  z.Set("b", FieldMap::ScoreValue(-0.0));
  z.Set("a", FieldMap::ScoreValue(0.0));
  EXPECT_TRUE(std::signbit(FieldMap::ScoreOf(*z.Find("b"))));
  EXPECT_EQ(Walked(z, 0, false, 3),
            (std::vector<std::pair<double, std::string>>{{0.0, "a"}, {-0.0, "b"}}));
  for (auto& [copy, expected] : snapshots) {
    const std::vector<std::pair<double, std::string>> want(expected.begin(), expected.end());
    EXPECT_EQ(Walked(copy, 0, false, want.size() + 1), want);
  }
  for (const auto& [n, sc] : scores) m.Erase(n);
  EXPECT_EQ(m.AllocatedSize(), 0u) << "the order tree empties with the map";
}

// Members sharing one score split by name below the score's levels, so no leaf (what a
// write copies) outgrows kLeafMax however many tie; order and ranks stay (score, name) in
// bytewise name order: a name before its extensions, bytes above 0x7f after ASCII.
// A scored value may carry a payload after its score (a stream's rows): the score orders
// it, the payload comes back whole from Find, and a new payload under the same score
// leaves its place alone.
TEST(FieldMapTest, AScoredValueCarriesAPayloadAfterItsScore) {
  FieldMap m = FieldMap::Scored();
  const std::string big(10000, 'p');
  m.Set("b", FieldMap::ScoreValue(2) + "two");
  m.Set("a", FieldMap::ScoreValue(3) + big);
  m.Set("c", FieldMap::ScoreValue(1));
  EXPECT_EQ(*m.Find("a"), FieldMap::ScoreValue(3) + big);
  EXPECT_EQ(FieldMap::ScoreOf(*m.Find("b")), 2);
  EXPECT_EQ(FieldMap::ScoreOf("abc"), 0);  // shorter than a score
  std::vector<std::pair<std::string, double>> order;
  m.WalkRanks(0, false, [&](std::string_view name, double score) {
    order.emplace_back(name, score);
    return true;
  });
  EXPECT_EQ(order, (std::vector<std::pair<std::string, double>>{{"c", 1}, {"b", 2}, {"a", 3}}));
  m.Set("b", FieldMap::ScoreValue(2) + "changed");
  EXPECT_EQ(*m.Find("b"), FieldMap::ScoreValue(2) + "changed");
  EXPECT_EQ(m.RankBefore(2, "b"), 1u);
  EXPECT_EQ(m.RankThrough(2), 2u);
  m.Set("b", FieldMap::ScoreValue(5) + "moved");
  EXPECT_EQ(m.RankBefore(5, "b"), 2u);
  EXPECT_EQ(m.size(), 3u);
}

TEST(FieldMapTest, EqualScoresSplitByNameAndKeepBytewiseOrder) {
  std::mt19937 rng(5);
  FieldMap m = FieldMap::Scored();
  std::map<std::string, double> scores;
  auto name_of = [&](uint32_t i) {
    switch (i % 4) {
      case 0:
        return "user:" + std::to_string(i);  // long shared prefix
      case 1:
        return std::string(1 + i % 7, static_cast<char>('a' + i % 3));  // prefixes of one another
      case 2:
        return std::string("\xff\x80") + std::to_string(i);  // high bytes
      default:
        return std::to_string(i);
    }
  };
  FieldMap snapshot = FieldMap::Scored();
  Sorted snapshot_model;
  for (int i = 0; i < 30000; ++i) {
    const std::string name = i == 0 ? std::string() : name_of(rng() % 12000);
    if (rng() % 5 == 0) {
      EXPECT_EQ(m.Erase(name), scores.erase(name) == 1);
    } else {
      const double score = rng() % 10 == 0 ? 1.0 : 0.0;  // nearly all tie
      EXPECT_EQ(m.Set(name, FieldMap::ScoreValue(score)), !scores.contains(name));
      scores[name] = score;
    }
    if (i == 15000) {
      snapshot = m;
      for (const auto& [n, sc] : scores) snapshot_model.emplace(sc, n);
    }
  }
  Sorted sorted;
  for (const auto& [n, sc] : scores) sorted.emplace(sc, n);
  const std::vector<std::pair<double, std::string>> all(sorted.begin(), sorted.end());
  ASSERT_GT(all.size(), 5000u);
  EXPECT_LE(m.MaxLeafFields(), FieldMap::kLeafMax) << "ties must not pile up in one leaf";
  EXPECT_EQ(Walked(m, 0, false, all.size() + 1), all);
  for (int probe = 0; probe < 500; ++probe) {
    const size_t from = rng() % all.size();
    const auto& [score, name] = all[from];
    ASSERT_EQ(m.RankBefore(score, name), from) << name;
    ASSERT_EQ(m.RankBefore(score, name + '\0'), from + 1) << name;
    ASSERT_EQ(Walked(m, from, true, 3).front(), all[from]);
  }
  EXPECT_EQ(m.RankThrough(0.0),
            static_cast<size_t>(
                std::count_if(all.begin(), all.end(), [](const auto& e) { return e.first == 0; })));
  EXPECT_EQ(m.RankBefore(1.0, ""), m.RankThrough(0.0));
  const std::vector<std::pair<double, std::string>> want(snapshot_model.begin(),
                                                         snapshot_model.end());
  EXPECT_EQ(Walked(snapshot, 0, false, want.size() + 1), want) << "a copy keeps its order";
  for (const auto& [n, sc] : scores) ASSERT_TRUE(m.Erase(n));
  EXPECT_EQ(m.AllocatedSize(), 0u);
}

TEST(FieldMapTest, JournalKeysSeparateKeyFromName) {
  std::string_view key, name;
  const std::string journal_key = FieldJournalKey("ab", "c");  // the views point into it
  ASSERT_TRUE(ParseFieldJournalKey(journal_key, &key, &name));
  EXPECT_EQ(key, "ab");
  EXPECT_EQ(name, "c");
  EXPECT_NE(FieldJournalKey("ab", "c"), FieldJournalKey("a", "bc"));
  const std::string k = FieldJournalKey("ab", "anything");
  EXPECT_TRUE(k >= FieldRangeBegin("ab") && k < FieldRangeEnd("ab"));
  EXPECT_FALSE(FieldJournalKey("abc", "") < FieldRangeEnd("ab") &&
               FieldJournalKey("abc", "") >= FieldRangeBegin("ab"))
      << "another key's fields are outside the range";
  EXPECT_FALSE(ParseFieldJournalKey(std::string("\0\0\0\x09"
                                                "ab",
                                                6),
                                    &key, &name));
}

// A gate that keeps every group the pipeline sends, for a second store to apply.
class CapturingGate final : public ReplicationGate {
 public:
  struct Group {
    uint64_t first, last;
    std::string batch;
  };
  bool Synchronous() const override { return true; }
  Status Admission() const override { return Status::OK(); }
  void Send(const GroupRef& g) override {
    groups.push_back({g.first_seq, g.last_seq, std::string(g.batch)});
  }
  void SetListener(QuorumListener*) override {}
  std::vector<Group> groups;
};

RecordPtr Hash(const Fields& fields, int64_t expire_at_ms = 0) {
  auto m = std::make_shared<FieldMap>();
  for (const auto& [n, v] : fields) m->Set(n, v);
  return Record::Make({.type = 3, .expire_at_ms = expire_at_ms, .fields = std::move(m)});
}

// HSET-like: the current hash with `set` applied (and `erase` removed), as a patch.
Mutation PatchOf(const std::string& key, Fields set, std::vector<std::string> erase = {},
                 int64_t expire_at_ms = -1) {
  return Mutation::Apply(key, [=](const RecordPtr& current) {
    auto m = current && current->fields() ? std::make_shared<FieldMap>(*current->fields())
                                          : std::make_shared<FieldMap>();
    int64_t expiry = current ? current->expire_at_ms() : 0;
    if (expire_at_ms >= 0) expiry = expire_at_ms;
    std::vector<FieldOp> ops;
    for (const auto& [n, v] : set) {
      m->Set(n, v);
      ops.push_back({n, v, false});
    }
    for (const std::string& n : erase) {
      if (m->Erase(n)) ops.push_back({n, {}, true});
    }
    if (m->empty()) return Change::Delete();
    return Change::Patch(Record::Make({.type = 3, .expire_at_ms = expiry, .fields = std::move(m)}),
                         std::move(ops));
  });
}

class CompositeStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open(const std::string& name, ReplicationGate* gate = nullptr) {
    StoreOptions options;
    options.dir = dir_.path() + "/" + name;
    options.gate = gate;
    std::unique_ptr<Store> store;
    Status s = Store::Open(options, &store);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return store;
  }
  static Status Write(Store* store, Mutation m) {
    std::vector<Mutation> ms;
    ms.push_back(std::move(m));
    return store->WriteAndWait(std::move(ms));
  }
  static Fields FieldsOf(const Store& store, const std::string& key) {
    RecordPtr r = store.Get(key);
    if (!r) return {{"<absent>", ""}};
    if (!r->fields()) return {{"<not composite>", std::string(r->value())}};
    return AsMap(*r->fields());
  }

  testing::TempDir dir_;
};

TEST_F(CompositeStoreTest, ChangingOneFieldOfALargeHashJournalsOneEntry) {
  auto store = Open("s");
  Fields big;
  for (int i = 0; i < 100000; ++i) big["f" + std::to_string(i)] = "v";
  ASSERT_TRUE(Write(store.get(), Mutation::Put("h", Hash(big))).ok());
  const uint64_t before = store->LastSequence();
  EXPECT_GE(before, 100001u) << "a whole hash is its header and every field";
  ASSERT_TRUE(Write(store.get(), PatchOf("h", {{"f7", "changed"}})).ok());
  EXPECT_EQ(store->LastSequence() - before, 1u) << "one field, one journal entry";
  ASSERT_TRUE(Write(store.get(), PatchOf("h", {}, {"f8"})).ok());
  EXPECT_EQ(store->LastSequence() - before, 2u);
  ASSERT_TRUE(Write(store.get(), PatchOf("h", {}, {}, /*expire_at_ms=*/4102444800000)).ok());
  EXPECT_EQ(store->LastSequence() - before, 3u) << "an expiry change is the header alone";
  RecordPtr r = store->Get("h");
  ASSERT_TRUE(r && r->fields());
  EXPECT_EQ(r->fields()->size(), 99999u);
  EXPECT_EQ(*r->fields()->Find("f7"), "changed");
}

// HSET as the RESP layer writes it (Mutation::Edit): when the group says the hash is its
// own, the map is changed in place instead of copied. Notes each call's `reusable`.
Mutation EditOf(const std::string& key, Fields set, std::vector<bool>* reusable_seen) {
  return Mutation::Edit(key, [=](const RecordPtr& current, bool reusable) {
    reusable_seen->push_back(reusable);
    std::shared_ptr<FieldMap> m;
    if (current && reusable && current->fields().use_count() == 1) {
      m = std::const_pointer_cast<FieldMap>(current->fields());
    } else {
      m = current ? std::make_shared<FieldMap>(*current->fields()) : std::make_shared<FieldMap>();
    }
    std::vector<FieldOp> ops;
    for (const auto& [n, v] : set) {
      m->Set(n, v);
      ops.push_back({n, v, false});
    }
    return Change::Patch(Record::Make({.type = 3, .fields = std::move(m)}), std::move(ops));
  });
}

TEST_F(CompositeStoreTest, AGroupsLaterWritesToAHashReuseOnlyItsOwnCopy) {
  CapturingGate gate;
  auto store = Open("p", &gate);
  Fields big;
  for (int i = 0; i < 1000; ++i) big["f" + std::to_string(i)] = "v";
  ASSERT_TRUE(Write(store.get(), Mutation::Put("h", Hash(big))).ok());
  const RecordPtr published = store->Get("h");  // a reader's, held through the writes
  std::vector<bool> seen;
  RecordPtr held;  // a txn's copy of the group's record
  std::vector<Mutation> group;
  group.push_back(EditOf("h", {{"f1", "a"}}, &seen));  // the published hash: copied
  group.push_back(EditOf("h", {{"f2", "b"}}, &seen));  // the group's own: reused
  group.push_back(EditOf("h", {{"new", "c"}}, &seen));
  group.push_back(Mutation::Txn([&](KeyView& view) { held = view.Get("h"); }));
  group.push_back(EditOf("h", {{"f3", "d"}}, &seen));  // held elsewhere: copied
  group.push_back(Mutation::Put("s", Record::Make({.value = "x"})));
  group.push_back(EditOf("h", {{"f4", "e"}}, &seen));  // its own again
  ASSERT_TRUE(store->WriteAndWait(std::move(group)).ok());
  EXPECT_EQ(seen, (std::vector<bool>{false, true, true, false, true}));

  Fields expected = big;
  for (const auto& [n, v] :
       Fields{{"f1", "a"}, {"f2", "b"}, {"new", "c"}, {"f3", "d"}, {"f4", "e"}})
    expected[n] = v;
  EXPECT_EQ(FieldsOf(*store, "h"), expected);
  EXPECT_EQ(AsMap(*published->fields()), big) << "the reader's version never changed";
  Fields at_txn = big;
  for (const auto& [n, v] : Fields{{"f1", "a"}, {"f2", "b"}, {"new", "c"}}) at_txn[n] = v;
  EXPECT_EQ(AsMap(*held->fields()), at_txn) << "nor the txn's copy";

  // The journal got every field: a restart and a replica rebuild the same hash.
  store.reset();
  auto recovered = Open("p");
  EXPECT_EQ(FieldsOf(*recovered, "h"), expected);
  auto replica = Open("r");
  std::vector<replication::GroupFrame> frames;
  for (const auto& g : gate.groups) frames.push_back({0, g.first, g.last, g.batch});
  ASSERT_TRUE(replica->ApplyGroups(frames).ok());
  EXPECT_EQ(FieldsOf(*replica, "h"), expected);
}

TEST_F(CompositeStoreTest, RecoveryAndAReplicaRebuildTheSameRecords) {
  CapturingGate gate;
  {
    auto store = Open("p", &gate);
    ASSERT_TRUE(Write(store.get(), PatchOf("h", {{"a", "1"}, {"b", "2"}})).ok());
    ASSERT_TRUE(Write(store.get(), PatchOf("h", {{"c", "3"}}, {"a"})).ok());
    // A hash replaced by a string, then made a hash again: no old field comes back.
    ASSERT_TRUE(Write(store.get(), PatchOf("g", {{"old", "x"}})).ok());
    RecordPtr s = Record::Make({.value = "plain"});
    ASSERT_TRUE(Write(store.get(), Mutation::Put("g", s)).ok());
    ASSERT_TRUE(Write(store.get(), PatchOf("g", {{"new", "y"}})).ok());
    // A hash deleted, and one emptied (which deletes it).
    ASSERT_TRUE(Write(store.get(), PatchOf("d", {{"x", "1"}})).ok());
    ASSERT_TRUE(Write(store.get(), Mutation::Delete("d")).ok());
    ASSERT_TRUE(Write(store.get(), PatchOf("e", {{"x", "1"}})).ok());
    ASSERT_TRUE(Write(store.get(), PatchOf("e", {}, {"x"})).ok());
    // A whole hash put over another (RENAME onto an existing hash).
    ASSERT_TRUE(Write(store.get(), PatchOf("r", {{"stale", "1"}})).ok());
    ASSERT_TRUE(Write(store.get(), Mutation::Put("r", Hash({{"fresh", "2"}}))).ok());
    // Several changes to one key in one transaction.
    ASSERT_TRUE(Write(store.get(), Mutation::Txn([](KeyView& view) {
                        auto m1 = PatchOf("t", {{"a", "1"}});
                        ApplyTo(m1, view);
                        auto m2 = PatchOf("t", {{"b", "2"}}, {"a"});
                        ApplyTo(m2, view);
                      }))
                    .ok());
    EXPECT_EQ(FieldsOf(*store, "h"), (Fields{{"b", "2"}, {"c", "3"}}));
  }
  auto recovered = Open("p");
  auto replica = Open("r");
  std::vector<replication::GroupFrame> frames;
  for (const auto& g : gate.groups) frames.push_back({0, g.first, g.last, g.batch});
  Status s = replica->ApplyGroups(frames);
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (Store* store : {recovered.get(), replica.get()}) {
    SCOPED_TRACE(store == replica.get() ? "replica" : "recovered");
    EXPECT_EQ(FieldsOf(*store, "h"), (Fields{{"b", "2"}, {"c", "3"}}));
    EXPECT_EQ(FieldsOf(*store, "g"), (Fields{{"new", "y"}}));
    EXPECT_EQ(store->Get("d"), nullptr);
    EXPECT_EQ(store->Get("e"), nullptr);
    EXPECT_EQ(FieldsOf(*store, "r"), (Fields{{"fresh", "2"}}));
    EXPECT_EQ(FieldsOf(*store, "t"), (Fields{{"b", "2"}}));
    EXPECT_EQ(store->keyspace().Size(), 4u);
  }
}

// A sorted set's record (scored fields) comes back scored, in score order, from recovery
// and on a replica.
TEST_F(CompositeStoreTest, ScoredRecordsComeBackScoredFromRecoveryAndOnAReplica) {
  CapturingGate gate;
  auto scored = [](std::vector<std::pair<std::string, double>> set) {
    return Mutation::Apply("z", [set](const RecordPtr& current) {
      auto m = current ? std::make_shared<FieldMap>(*current->fields())
                       : std::make_shared<FieldMap>(FieldMap::Scored());
      std::vector<FieldOp> ops;
      for (const auto& [n, sc] : set) {
        m->Set(n, FieldMap::ScoreValue(sc));
        ops.push_back({n, FieldMap::ScoreValue(sc), false});
      }
      return Change::Patch(Record::Make({.type = 7, .fields = std::move(m)}), std::move(ops));
    });
  };
  {
    auto store = Open("p", &gate);
    ASSERT_TRUE(Write(store.get(), scored({{"c", 3}, {"a", 1}, {"b", 2}})).ok());
    ASSERT_TRUE(Write(store.get(), scored({{"a", 9}})).ok());
  }
  auto recovered = Open("p");
  auto replica = Open("r");
  std::vector<replication::GroupFrame> frames;
  for (const auto& g : gate.groups) frames.push_back({0, g.first, g.last, g.batch});
  ASSERT_TRUE(replica->ApplyGroups(frames).ok());
  for (Store* store : {recovered.get(), replica.get()}) {
    RecordPtr r = store->Get("z");
    ASSERT_TRUE(r && r->fields() && r->fields()->scored());
    EXPECT_EQ(Walked(*r->fields(), 0, false, 10),
              (std::vector<std::pair<double, std::string>>{{2, "b"}, {3, "c"}, {9, "a"}}));
  }
}

TEST_F(CompositeStoreTest, FlushallRemovesEveryFieldDurably) {
  auto store = Open("s");
  ASSERT_TRUE(Write(store.get(), PatchOf("h", {{"a", "1"}})).ok());
  ASSERT_TRUE(Write(store.get(), Mutation::Txn([](KeyView& v) { v.Clear(); })).ok());
  ASSERT_TRUE(Write(store.get(), PatchOf("h", {{"b", "2"}})).ok());
  store.reset();
  auto again = Open("s");
  EXPECT_EQ(FieldsOf(*again, "h"), (Fields{{"b", "2"}}));
}

}  // namespace
}  // namespace devstate
