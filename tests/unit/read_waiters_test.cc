// Blocking reads' seam (store/read_waiters.h): a reader waits beside the keyspace and is
// woken after each publish of one of its keys, whoever publishes it.
#include "store/read_waiters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/keyspace.h"
#include "tests/unit/test_records.h"

namespace devstate {
namespace {

TEST(ReadWaitersTest, AChangeWakesTheReadersOfItsKeyOldestFirstUntilRemoved) {
  ReadWaiters w;
  std::vector<std::string> woke;
  const uint64_t a = w.Add({"k", "x"}, [&] { woke.push_back("a"); });
  const uint64_t b = w.Add({"k"}, [&] { woke.push_back("b"); });
  EXPECT_NE(a, 0u);
  EXPECT_EQ(w.size(), 2u);
  w.Changed("k");
  EXPECT_EQ(woke, (std::vector<std::string>{"a", "b"}));
  w.Changed("x");
  w.Changed("other");
  EXPECT_EQ(woke, (std::vector<std::string>{"a", "b", "a"}));
  EXPECT_TRUE(w.Remove(a));
  EXPECT_FALSE(w.Remove(a));
  w.Changed("k");
  w.Changed("x");
  EXPECT_EQ(woke, (std::vector<std::string>{"a", "b", "a", "b"}));
  w.ChangedAll();
  EXPECT_EQ(woke.back(), "b");
  EXPECT_TRUE(w.Remove(b));
  EXPECT_TRUE(w.empty());
}

TEST(ReadWaitersTest, AKeyNamedTwiceWakesOnceAndAWakeMayRemoveItself) {
  ReadWaiters w;
  int woke = 0;
  uint64_t id = 0;
  // Removing itself from inside its wake must not deadlock on the registry's lock.
  id = w.Add({"k", "k"}, [&] {
    ++woke;
    EXPECT_TRUE(w.Remove(id));
  });
  w.Changed("k");
  w.Changed("k");
  EXPECT_EQ(woke, 1);
  EXPECT_TRUE(w.empty());
}

TEST(ReadWaitersTest, TheKeyspaceWakesAfterPutEraseClearAndLoadOnceVisible) {
  Keyspace ks;
  std::vector<std::string> seen;  // what each wake read: the change is visible then
  const uint64_t id = ks.read_waiters().Add({"k"}, [&] {
    RecordPtr r = ks.Get("k");
    seen.push_back(r ? std::string(r->value()) : "(none)");
  });
  ks.Put("other", Value("x"));
  EXPECT_TRUE(seen.empty());
  ks.Put("k", Value("1"));
  ks.Put("k", Value("2"));
  EXPECT_TRUE(ks.Erase("k"));
  EXPECT_FALSE(ks.Erase("k"));  // nothing changed: no wake
  ks.Put("k", Value("3"));
  ks.Clear();
  ks.Load("k", Value("4"));
  ks.FinishLoad();
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "(none)", "3", "(none)", "4"}));
  EXPECT_TRUE(ks.read_waiters().Remove(id));
}

TEST(ReadWaitersTest, WakesRaceRemovesWithoutLosingOrCrashing) {
  ReadWaiters w;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> wakes{0};
  std::thread publisher([&] {
    while (!stop.load()) w.Changed("k");
  });
  for (int i = 0; i < 20000; ++i) {
    const uint64_t id = w.Add({"k"}, [&] { wakes.fetch_add(1); });
    EXPECT_TRUE(w.Remove(id));
  }
  stop = true;
  publisher.join();
  EXPECT_TRUE(w.empty());
  const uint64_t before = wakes.load();
  w.Changed("k");
  EXPECT_EQ(wakes.load(), before);  // every reader removed: nobody is woken
}

}  // namespace
}  // namespace devstate

namespace devstate {
namespace {

// The keyspace's one observer (client-side caching's invalidations): told of each change
// once visible, of every key on Clear, and of a publisher's end of group; never again once
// SetObserver(nullptr) returned.
class Recorder final : public KeyObserver {
 public:
  explicit Recorder(const Keyspace& ks) : ks_(ks) {}
  void Changed(std::string_view key) override {
    RecordPtr r = ks_.Get(key);
    told.push_back(std::string(key) + "=" + (r ? std::string(r->value()) : "-"));
  }
  void ChangedAll() override { told.push_back("*"); }
  void Published() override { told.push_back("|"); }
  std::vector<std::string> told;

 private:
  const Keyspace& ks_;
};

TEST(KeyObserverTest, ToldOfEachVisibleChangeWhileActiveAndNeverAfterRemoval) {
  Keyspace ks;
  Recorder rec(ks);
  ks.SetObserver(&rec);
  ks.Put("a", Value("1"));  // not active yet: skipped
  rec.active = true;
  ks.Put("a", Value("2"));
  EXPECT_TRUE(ks.Erase("a"));
  ks.Published();
  ks.Put("b", Value("3"));
  ks.Clear();
  ks.SetObserver(nullptr);
  ks.Put("c", Value("4"));
  ks.Published();
  EXPECT_EQ(rec.told, (std::vector<std::string>{"a=2", "a=-", "|", "b=3", "*"}));
}

}  // namespace
}  // namespace devstate
