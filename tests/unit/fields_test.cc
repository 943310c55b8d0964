// Composite records (fields.h): a change journals only the fields it names, recovery and a
// replica rebuild the same record, and HSCAN-style cursors return every field once.
#include "store/fields.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
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
  m.ForEach([&](const std::string& n, const std::string& v) { out[n] = v; });
  return out;
}

TEST(FieldMapTest, SetFindErase) {
  FieldMap m;
  EXPECT_TRUE(m.Set("a", "1"));
  EXPECT_FALSE(m.Set("a", "2")) << "an existing field is replaced, not added";
  EXPECT_TRUE(m.Set("", "empty name"));
  ASSERT_NE(m.Find("a"), nullptr);
  EXPECT_EQ(*m.Find("a"), "2");
  EXPECT_EQ(m.Find("b"), nullptr);
  EXPECT_TRUE(m.Erase("a"));
  EXPECT_FALSE(m.Erase("a"));
  EXPECT_EQ(m.size(), 1u);
}

TEST(FieldMapTest, MatchesAModelAndCopiesNeverSeeEachOthersChanges) {
  // Random sets and erases on a map and on copies taken along the way (as a writer copies
  // the published hash): each copy keeps exactly what it held.
  std::mt19937 rng(5);
  FieldMap m;
  Fields model;
  std::vector<std::pair<FieldMap, Fields>> snapshots;
  for (int i = 0; i < 20000; ++i) {
    const std::string name = "f" + std::to_string(rng() % 3000);
    if (rng() % 3 == 0) {
      EXPECT_EQ(m.Erase(name), model.erase(name) == 1) << name;
    } else {
      const std::string value = "v" + std::to_string(i);
      EXPECT_EQ(m.Set(name, value), !model.contains(name)) << name;
      model[name] = value;
    }
    if (i % 2500 == 0) snapshots.emplace_back(m, model);
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
}

TEST(FieldMapTest, AScanReturnsEveryFieldPresentThroughoutExactlyOnce) {
  FieldMap m;
  for (int i = 0; i < 1000; ++i) m.Set("f" + std::to_string(i), "v");
  std::map<std::string, int> seen;
  uint64_t cursor = 0;
  int round = 0;
  do {
    cursor = m.Scan(cursor, 10, [&](const std::string& n, const std::string&) { ++seen[n]; });
    // Churn between calls: new fields come and go, as another client's HSET/HDEL would.
    m.Set("new" + std::to_string(round), "v");
    if (round > 0) m.Erase("new" + std::to_string(round - 1));
    ++round;
  } while (cursor != 0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen["f" + std::to_string(i)], 1) << i;
  EXPECT_GT(round, 50) << "a count of 10 takes many calls";
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
