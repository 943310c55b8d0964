// Blocking commands' seam (store/waiters.h): a write that found nothing waits in the commit
// pipeline and is served, in commit order, by the group that writes its key.
#include "store/waiters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_records.h"

namespace devstate {
namespace {

using testing::TempDir;

// A queue held in one key as "a,b,c": a taker pops the first item, a producer appends.
std::string PopFirst(KeyView& view, const std::string& key) {
  const RecordPtr r = view.Get(key);
  if (!r) return {};
  const std::string items(r->value());
  const size_t comma = items.find(',');
  if (comma == std::string::npos) {
    view.Delete(key);
    return items;
  }
  view.Put(key, Value(items.substr(comma + 1)));
  return items.substr(0, comma);
}

Mutation Append(const std::string& key, const std::string& item) {
  return Mutation::Apply(key, [item](const RecordPtr& current) {
    return Change::Put(Value(current ? std::string(current->value()) + "," + item : item));
  });
}

// One blocking pop: tries in its group; finding nothing, waits there. `taken` and `done`
// report what it took and the outcome of the group that answered it.
struct Taker : std::enable_shared_from_this<Taker> {
  std::vector<std::string> keys;
  std::string taken;
  uint64_t id = 0;  // its waiter, once registered
  std::atomic<bool> gone{false};
  std::promise<std::pair<Status, uint64_t>> answered;
  std::future<std::pair<Status, uint64_t>> answer = answered.get_future();

  bool Take(KeyView& view) {
    for (const std::string& key : keys) {
      taken = PopFirst(view, key);
      if (!taken.empty()) return true;
    }
    return false;
  }
  CommitCallback Done() {
    return [self = shared_from_this()](const Status& s, uint64_t seq) {
      self->answered.set_value({s, seq});
    };
  }
  Mutation TryOrWait() {
    return Mutation::Txn([self = shared_from_this()](KeyView& view) {
      if (self->Take(view)) return;
      Waiter w;
      w.keys = self->keys;
      w.serve = [weak = std::weak_ptr<Taker>(self)](KeyView& v) {
        auto t = weak.lock();
        if (!t || t->gone) return Waiter::Result::kGone;
        return t->Take(v) ? Waiter::Result::kServed : Waiter::Result::kWaiting;
      };
      w.done = self->Done();
      self->id = view.Wait(std::move(w));
    });
  }
  bool ready() { return answer.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
};

std::shared_ptr<Taker> MakeTaker(std::vector<std::string> keys) {
  auto t = std::make_shared<Taker>();
  t->keys = std::move(keys);
  return t;
}

class WaitersTest : public ::testing::Test {
 protected:
  void Open() {
    StoreOptions options;
    options.dir = dir_.Sub("db");
    ASSERT_TRUE(Store::Open(options, &store_).ok());
  }
  Status Write(Mutation m, uint64_t* seq = nullptr) {
    std::vector<Mutation> ms;
    ms.push_back(std::move(m));
    return store_->WriteAndWait(std::move(ms), seq);
  }
  // Registers `t` (the key must hold nothing for it).
  void Block(const std::shared_ptr<Taker>& t) {
    ASSERT_TRUE(Write(t->TryOrWait()).ok());
    ASSERT_NE(t->id, 0u) << "it found something and did not wait";
  }
  bool Unwait(uint64_t id) {
    bool removed = false;
    EXPECT_TRUE(Write(Mutation::Txn([&](KeyView& v) { removed = v.Unwait(id); })).ok());
    return removed;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST(WaitersUnitTest, OldestFirstAndRemovedOnce) {
  Waiters w;
  std::vector<int> order;
  auto waiter = [&](int n) {
    Waiter x;
    x.keys = {"k", "k"};
    x.serve = [&order, n](KeyView&) {
      order.push_back(n);
      return Waiter::Result::kWaiting;
    };
    return x;
  };
  const uint64_t a = w.Add(waiter(1));
  const uint64_t b = w.Add(waiter(2));
  EXPECT_EQ(w.size(), 2u);
  EXPECT_TRUE(w.Remove(a));
  EXPECT_FALSE(w.Remove(a));
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.TakeAll().size(), 1u);
  EXPECT_TRUE(w.empty());
  EXPECT_FALSE(w.Remove(b));
}

TEST_F(WaitersTest, TheGroupThatWritesTheKeyServesTheWaiterAndAnswersItWithItsOwnOutcome) {
  Open();
  auto t = MakeTaker({"q"});
  Block(t);
  EXPECT_FALSE(t->ready());
  uint64_t seq = 0;
  ASSERT_TRUE(Write(Append("q", "job1"), &seq).ok());
  auto [status, served_seq] = t->answer.get();
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(served_seq, seq) << "served and acknowledged with the producer's group";
  EXPECT_EQ(t->taken, "job1");
  EXPECT_EQ(store_->Get("q"), nullptr);
  // The take was journaled with that group: the item does not come back after a restart.
  store_.reset();
  Open();
  EXPECT_EQ(store_->Get("q"), nullptr);
}

TEST_F(WaitersTest, WaitersAreServedOldestFirstWhileTheKeyHoldsSomething) {
  Open();
  std::vector<std::shared_ptr<Taker>> takers;
  for (int i = 0; i < 3; ++i) {
    takers.push_back(MakeTaker({"q"}));
    Block(takers.back());
  }
  ASSERT_TRUE(Write(Append("q", "a")).ok());
  takers[0]->answer.wait();
  EXPECT_EQ(takers[0]->taken, "a");
  EXPECT_FALSE(takers[1]->ready());
  EXPECT_FALSE(takers[2]->ready());
  // Two items in one write: the next two, in order.
  ASSERT_TRUE(Write(Mutation::Put("q", Value("b,c"))).ok());
  takers[1]->answer.wait();
  takers[2]->answer.wait();
  EXPECT_EQ(takers[1]->taken, "b");
  EXPECT_EQ(takers[2]->taken, "c");
}

TEST_F(WaitersTest, AWaiterOnSeveralKeysIsServedByAnyOfThemOnce) {
  Open();
  auto t = MakeTaker({"q1", "q2"});
  Block(t);
  ASSERT_TRUE(Write(Append("q2", "x")).ok());
  t->answer.wait();
  EXPECT_EQ(t->taken, "x");
  ASSERT_TRUE(Write(Append("q1", "y")).ok());
  ASSERT_NE(store_->Get("q1"), nullptr) << "a served waiter takes nothing more";
}

TEST_F(WaitersTest, UnwaitRemovesAWaitingTakerAndReportsAServedOne) {
  Open();
  auto cancelled = MakeTaker({"q"});
  Block(cancelled);
  EXPECT_TRUE(Unwait(cancelled->id));
  ASSERT_TRUE(Write(Append("q", "kept")).ok());
  EXPECT_FALSE(cancelled->ready()) << "a removed waiter is never served";
  ASSERT_NE(store_->Get("q"), nullptr);
  EXPECT_EQ(store_->Get("q")->value(), "kept");

  ASSERT_TRUE(Write(Mutation::Delete("q")).ok());
  auto served = MakeTaker({"q"});
  Block(served);
  ASSERT_TRUE(Write(Append("q", "z")).ok());
  served->answer.wait();
  EXPECT_FALSE(Unwait(served->id)) << "served first: the cancel finds nothing to remove";
}

TEST_F(WaitersTest, AWaiterRegisteredEarlierInTheSameGroupIsServedByItsLaterWrite) {
  Open();
  auto t = MakeTaker({"q"});
  std::vector<Mutation> group;
  group.push_back(t->TryOrWait());
  group.push_back(Append("q", "same-group"));
  uint64_t seq = 0;
  ASSERT_TRUE(store_->WriteAndWait(std::move(group), &seq).ok());
  auto [status, served_seq] = t->answer.get();
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(served_seq, seq);
  EXPECT_EQ(t->taken, "same-group");
}

TEST_F(WaitersTest, WhatAServedWaiterWritesServesThatKeysWaiters) {
  Open();
  // `mover` takes from "a" and appends to "b" (BLMOVE a b); `taker` waits on "b".
  auto taker = MakeTaker({"b"});
  Block(taker);
  std::promise<Status> moved;
  Waiter mover;
  mover.keys = {"a"};
  mover.serve = [](KeyView& v) {
    const std::string item = PopFirst(v, "a");
    if (item.empty()) return Waiter::Result::kWaiting;
    ApplyChange(v, "b", Change::Put(Value(item)));
    return Waiter::Result::kServed;
  };
  mover.done = [&moved](const Status& s, uint64_t) { moved.set_value(s); };
  ASSERT_TRUE(Write(Mutation::Txn([&](KeyView& v) { v.Wait(std::move(mover)); })).ok());
  ASSERT_TRUE(Write(Append("a", "chained")).ok());
  EXPECT_TRUE(moved.get_future().get().ok());
  taker->answer.wait();
  EXPECT_EQ(taker->taken, "chained");
  EXPECT_EQ(store_->Get("a"), nullptr);
  EXPECT_EQ(store_->Get("b"), nullptr);
}

TEST_F(WaitersTest, AGoneWaiterIsDroppedAndTakesNothing) {
  Open();
  auto gone = MakeTaker({"q"});
  auto next = MakeTaker({"q"});
  Block(gone);
  Block(next);
  gone->gone = true;  // its client disconnected
  ASSERT_TRUE(Write(Append("q", "item")).ok());
  next->answer.wait();
  EXPECT_EQ(next->taken, "item");
  EXPECT_FALSE(gone->ready());
  EXPECT_FALSE(Unwait(gone->id)) << "dropped when its turn came";
}

TEST_F(WaitersTest, ANodeThatStopsTakingWritesAnswersEveryWaiterWithWhy) {
  Open();
  auto t = MakeTaker({"q"});
  Block(t);
  store_->BecomeReplica(Status::NotPrimary("following 127.0.0.1:7000"));
  auto [status, seq] = t->answer.get();
  EXPECT_EQ(status.code(), Status::Code::kNotPrimary);
  EXPECT_EQ(seq, 0u);
}

// The lost wake-up a blocking pop must never have: a producer's write that lands between a
// taker's failed try and its registration. Trying and registering happen in one group, so
// every item is taken exactly once, by a taker that waited or one that found it.
TEST_F(WaitersTest, ConcurrentTakersAndProducersLoseAndDuplicateNothing) {
  Open();
  constexpr int kItems = 400;
  std::vector<std::shared_ptr<Taker>> takers;
  for (int i = 0; i < kItems; ++i) takers.push_back(MakeTaker({"q"}));
  std::thread consumer([&] {
    for (auto& t : takers) {
      std::vector<Mutation> m;
      m.push_back(t->TryOrWait());
      store_->Write(std::move(m), [t](const Status& s, uint64_t seq) {
        // Took at once: answered here. Waiting: answered by the group that serves it.
        if (s.ok() && t->id == 0) t->answered.set_value({s, seq});
        if (!s.ok()) t->answered.set_value({s, seq});
      });
    }
  });
  std::thread producer([&] {
    for (int i = 0; i < kItems; ++i) {
      std::vector<Mutation> m;
      m.push_back(Append("q", "i" + std::to_string(i)));
      store_->Write(std::move(m), [](const Status&, uint64_t) {});
    }
  });
  consumer.join();
  producer.join();
  std::set<std::string> seen;
  for (auto& t : takers) {
    ASSERT_EQ(t->answer.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_TRUE(t->answer.get().first.ok());
    EXPECT_TRUE(seen.insert(t->taken).second) << "taken twice: " << t->taken;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kItems));
  EXPECT_EQ(store_->Get("q"), nullptr);
}

}  // namespace
}  // namespace devstate
