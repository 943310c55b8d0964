#include "store/keyspace.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/test_records.h"

namespace devstate {
namespace {

TEST(KeyspaceTest, PutGetErase) {
  Keyspace ks;
  EXPECT_EQ(ks.Get("a"), nullptr);
  ks.Put("a", Value("1"));
  ks.Put("b", Value("2"));
  ASSERT_NE(ks.Get("a"), nullptr);
  EXPECT_EQ(ks.Get("a")->value(), "1");
  EXPECT_EQ(ks.Size(), 2u);
  ks.Put("a", Value("3"));
  EXPECT_EQ(ks.Get("a")->value(), "3");
  EXPECT_EQ(ks.Size(), 2u);
  EXPECT_TRUE(ks.Erase("a"));
  EXPECT_FALSE(ks.Erase("a"));
  EXPECT_EQ(ks.Get("a"), nullptr);
  EXPECT_EQ(ks.Size(), 1u);
}

TEST(KeyspaceTest, KeysOfEveryLength) {
  // Empty, short (inside std::string's own buffer), long and binary keys behave the same
  // for reads, erasure and scans.
  Keyspace ks;
  std::vector<std::string> keys = {"",
                                   std::string(1, '\0'),
                                   std::string(39, 'k'),
                                   std::string(40, 'k'),
                                   std::string(41, 'k'),
                                   std::string(1000, 'x'),
                                   std::string("a\0b", 3)};
  for (size_t i = 0; i < keys.size(); ++i) ks.Put(keys[i], Value(std::to_string(i)));
  EXPECT_EQ(ks.Size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_NE(ks.Get(keys[i]), nullptr) << keys[i].size();
    EXPECT_EQ(ks.Get(keys[i])->value(), std::to_string(i));
  }
  EXPECT_EQ(ks.Get(std::string(42, 'k')), nullptr);
  std::multiset<std::string> scanned;
  uint64_t cursor = 0;
  do {
    cursor = ks.Scan(cursor, 3, [&](const std::string& k, const RecordPtr&) { scanned.insert(k); });
  } while (cursor != 0);
  EXPECT_EQ(scanned, std::multiset<std::string>(keys.begin(), keys.end()));
  for (const std::string& k : keys) EXPECT_TRUE(ks.Erase(k)) << k.size();
  EXPECT_EQ(ks.Size(), 0u);
}

TEST(KeyspaceTest, ReaderKeepsReplacedValue) {
  Keyspace ks;
  ks.Put("k", Value("old"));
  RecordPtr held = ks.Get("k");
  ks.Put("k", Value("new"));
  ks.Erase("k");
  EXPECT_EQ(held->value(), "old");  // a reader's record stays valid and unchanged
}

TEST(KeyspaceTest, ScanVisitsEveryKeyOnce) {
  Keyspace ks;
  for (int i = 0; i < 5000; ++i) ks.Put("key:" + std::to_string(i), Value("v"));
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  do {
    cursor = ks.Scan(cursor, 37, [&](const std::string& k, const RecordPtr&) { seen.insert(k); });
    ++calls;
  } while (cursor != 0);
  EXPECT_EQ(seen.size(), 5000u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 5000u);
  EXPECT_GT(calls, 5000 / 37 / 2);
}

TEST(KeyspaceTest, ScanOfEmptyKeyspaceEndsAtOnce) {
  Keyspace ks;
  int visited = 0;
  EXPECT_EQ(ks.Scan(0, 10, [&](const std::string&, const RecordPtr&) { ++visited; }), 0u);
  EXPECT_EQ(visited, 0);
}

TEST(KeyspaceTest, ScanReturnsStableKeysDespiteConcurrentChurn) {
  // Keys present for the whole scan must all be returned, while others come and go.
  Keyspace ks;
  for (int i = 0; i < 3000; ++i) ks.Put("stable:" + std::to_string(i), Value("v"));
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    for (int i = 0; !stop; ++i) {
      ks.Put("churn:" + std::to_string(i % 4000), Value("x"));
      ks.Erase("churn:" + std::to_string((i + 2000) % 4000));
    }
  });
  std::set<std::string> seen;
  uint64_t cursor = 0;
  do {
    cursor = ks.Scan(cursor, 10, [&](const std::string& k, const RecordPtr&) {
      if (k.rfind("stable:", 0) == 0) {
        EXPECT_TRUE(seen.insert(k).second) << "returned twice: " << k;
      }
    });
  } while (cursor != 0);
  stop = true;
  churn.join();
  EXPECT_EQ(seen.size(), 3000u);
}

TEST(KeyspaceTest, ConcurrentReadersSeeWholeValues) {
  Keyspace ks;
  ks.Put("k", Value(std::string(64, 'a')));
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  std::atomic<long> reads{0};
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        RecordPtr r = ks.Get("k");
        ASSERT_NE(r, nullptr);
        ASSERT_EQ(r->value().size(), 64u);
        ASSERT_EQ(r->value(), std::string(64, r->value()[0]));  // never a torn value
        ++reads;
      }
    });
  }
  // Replace the value at least 20000 times, and until the readers have overlapped with
  // the writer for a while (on a loaded machine they may start late).
  for (int i = 0; i < 20000 || reads.load() < 20000; ++i) {
    ks.Put("k", Value(std::string(64, static_cast<char>('a' + i % 26))));
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
}

TEST(KeyspaceTest, PrefetchChangesNothing) {
  Keyspace ks;
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i) keys.push_back("pf:" + std::to_string(i));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  ks.Prefetch(views);  // an empty keyspace
  for (int i = 0; i < 100; i += 2) ks.Put(keys[i], Value(keys[i]));
  ks.Prefetch(views);  // present and absent keys, more than kPrefetchMax of them
  ks.Prefetch({});
  EXPECT_EQ(ks.Size(), 50u);
  for (int i = 0; i < 100; ++i) {
    RecordPtr r = ks.Get(keys[i]);
    ASSERT_EQ(r != nullptr, i % 2 == 0) << keys[i];
    if (r) {
      EXPECT_EQ(r->value(), keys[i]);
    }
  }
}

TEST(KeyspaceTest, PrefetchWhileWritersResizeAndErase) {
  // Prefetch follows pointers into the tables; a writer growing, shrinking and freeing
  // nodes at the same time must never leave it reading freed memory (ASan watches).
  Keyspace ks;
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; ++i) keys.push_back("churn:" + std::to_string(i));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int round = 0; !stop; ++round) {
      for (const auto& k : keys)
        ks.Put(k, Value(std::string(40, static_cast<char>('a' + round % 26))));
      for (const auto& k : keys) ks.Erase(k);
    }
  });
  std::vector<std::string_view> views;
  for (int n = 0; n < 20000; ++n) {
    views.clear();
    for (int j = 0; j < 16; ++j) views.push_back(keys[(n * 16 + j) % keys.size()]);
    ks.Prefetch(views);
    if (RecordPtr r = ks.Get(views[0])) {
      EXPECT_EQ(r->value().size(), 40u);
    }
  }
  stop = true;
  writer.join();
}

TEST(KeyspaceTest, CountsKeysWithExpiry) {
  Keyspace ks;
  auto with = [](int64_t at) { return Record::Make({.expire_at_ms = at}); };
  ks.Put("a", with(0));
  ks.Put("b", with(100));
  ks.Put("c", with(200));
  EXPECT_EQ(ks.WithExpiry(), 2u);
  ks.Put("a", with(300));  // gains an expiry
  ks.Put("b", with(0));    // loses it (PERSIST)
  ks.Put("c", with(400));  // keeps one
  EXPECT_EQ(ks.WithExpiry(), 2u);
  EXPECT_TRUE(ks.Erase("a"));
  EXPECT_TRUE(ks.Erase("b"));
  EXPECT_EQ(ks.WithExpiry(), 1u);
  EXPECT_EQ(ks.Size(), 1u);
}

}  // namespace
}  // namespace devstate

namespace devstate {
namespace {

std::vector<std::string> ScanAll(const Keyspace& ks) {
  std::vector<std::string> seen;
  uint64_t cursor = 0;
  do {
    cursor =
        ks.Scan(cursor, 50, [&](const std::string& k, const RecordPtr&) { seen.push_back(k); });
  } while (cursor != 0);
  return seen;
}

// Recovery's bulk load: keys are readable at once, join the scan order at FinishLoad in
// the same (hash) order Put gives, and keys put, replaced or erased meanwhile come out
// right.
TEST(KeyspaceTest, LoadThenFinishLoadOrdersEveryKeyAsPutWould) {
  Keyspace loaded;
  Keyspace put;
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "k" + std::to_string(i);
    loaded.Load(key, Value(key, i % 3 == 0 ? 100 : 0));
    put.Put(key, Value(key, i % 3 == 0 ? 100 : 0));
  }
  EXPECT_EQ(loaded.Size(), 5000u);
  EXPECT_EQ(loaded.Get("k42")->value(), "k42");  // readable before FinishLoad
  loaded.Put("late", Value("late"));             // an ordinary Put meanwhile
  put.Put("late", Value("late"));
  loaded.Load("k7", Value("again"));  // a key loaded twice keeps its last record
  put.Put("k7", Value("again"));
  EXPECT_TRUE(loaded.Erase("k8"));  // erased before it was ever ordered
  EXPECT_TRUE(put.Erase("k8"));
  loaded.FinishLoad();
  const std::vector<std::string> order = ScanAll(loaded);
  EXPECT_EQ(order, ScanAll(put));
  EXPECT_EQ(order.size(), 5000u);
  EXPECT_EQ(std::set<std::string>(order.begin(), order.end()).size(), order.size());
  EXPECT_EQ(loaded.Get("k7")->value(), "again");
  EXPECT_EQ(loaded.WithExpiry(), put.WithExpiry());
  // A second load on top of ordered keys rebuilds the order with both.
  loaded.Load("more", Value("m"));
  put.Put("more", Value("m"));
  loaded.FinishLoad();
  EXPECT_EQ(ScanAll(loaded), ScanAll(put));
  loaded.Clear();
  EXPECT_EQ(loaded.WithExpiry(), 0u);
  EXPECT_EQ(loaded.Size(), 0u);
}

// Clearing while keys are loaded and not yet ordered (a failed full copy) counts their
// expiry times too.
TEST(KeyspaceTest, ClearDuringALoadForgetsEveryKey) {
  Keyspace ks;
  for (int i = 0; i < 100; ++i) ks.Load("k" + std::to_string(i), Value("v", 100));
  EXPECT_EQ(ks.WithExpiry(), 100u);
  ks.Clear();
  EXPECT_EQ(ks.WithExpiry(), 0u);
  EXPECT_EQ(ks.Size(), 0u);
  ks.FinishLoad();
  EXPECT_TRUE(ScanAll(ks).empty());
}

}  // namespace
}  // namespace devstate
