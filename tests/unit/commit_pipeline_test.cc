// The commit pipeline against a real RocksDB journal whose syncs the test can hold or fail.
#include "store/commit_pipeline.h"

#include <absl/synchronization/mutex.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "tests/unit/fault_fs.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_records.h"

namespace devstate {
namespace {

using testing::FaultEnv;
using testing::TempDir;

// Captures one write's outcome.
struct Outcome {
  std::promise<std::pair<Status, uint64_t>> promise;
  std::future<std::pair<Status, uint64_t>> future = promise.get_future();
  CommitCallback callback() {
    return [this](const Status& s, uint64_t seq) { promise.set_value({s, seq}); };
  }
  bool ready() { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
  std::pair<Status, uint64_t> get() {
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return future.get();
  }
};

// Captures one write's outcome and the thread that delivered it.
struct ThreadOutcome : Outcome {
  std::thread::id thread;
  CommitCallback callback() {
    return [this](const Status& s, uint64_t seq) {
      thread = std::this_thread::get_id();
      promise.set_value({s, seq});
    };
  }
};

class PipelineTest : public ::testing::Test {
 protected:
  void Open(ReplicationGate* gate = nullptr, size_t max_group_mutations = 8192) {
    StoreOptions options;
    options.dir = dir_.Sub("db");
    options.env = fault_.env.get();
    options.gate = gate;
    options.max_group_mutations = max_group_mutations;
    ASSERT_TRUE(Store::Open(options, &store_).ok());
  }
  std::vector<Mutation> Put(const std::string& k, const std::string& v) {
    std::vector<Mutation> m;
    m.push_back(Mutation::Put(k, Value(v)));
    return m;
  }

  TempDir dir_;
  FaultEnv fault_;
  std::unique_ptr<Store> store_;
};

TEST_F(PipelineTest, CompletesOnlyAfterSyncAndPublishesAfterSync) {
  Open();
  fault_.fs->HoldSyncs();
  Outcome out;
  store_->Write(Put("k", "v"), out.callback());
  ASSERT_TRUE(fault_.fs->WaitForBlockedSyncs(1));
  // The batch is written but not synced: no acknowledgement, nothing visible to readers.
  EXPECT_FALSE(out.ready());
  EXPECT_EQ(store_->Get("k"), nullptr);
  fault_.fs->ReleaseSyncs();
  auto [status, seq] = out.get();
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_GT(seq, 0u);
  ASSERT_NE(store_->Get("k"), nullptr);  // read-your-writes after the acknowledgement
  EXPECT_EQ(store_->Get("k")->value(), "v");
}

TEST_F(PipelineTest, WritesQueuedDuringASyncShareTheNextGroup) {
  Open();
  fault_.fs->HoldSyncs();
  Outcome first;
  store_->Write(Put("a", "1"), first.callback());
  ASSERT_TRUE(fault_.fs->WaitForBlockedSyncs(1));
  const int syncs_before = fault_.fs->syncs();
  std::vector<std::unique_ptr<Outcome>> queued;
  for (int i = 0; i < 50; ++i) {
    queued.push_back(std::make_unique<Outcome>());
    store_->Write(Put("b" + std::to_string(i), "x"), queued.back()->callback());
  }
  fault_.fs->ReleaseSyncs();
  auto [s1, seq1] = first.get();
  ASSERT_TRUE(s1.ok());
  uint64_t group_seq = 0;
  for (auto& o : queued) {
    auto [s, seq] = o->get();
    ASSERT_TRUE(s.ok());
    if (group_seq == 0) group_seq = seq;
    EXPECT_EQ(seq, group_seq) << "all 50 queued writes belong to one group";
  }
  EXPECT_GT(group_seq, seq1);
  EXPECT_EQ(fault_.fs->syncs() - syncs_before, 1 + 1) << "the first sync, then one for 50 writes";
  EXPECT_EQ(store_->stats().groups, 2u);
}

TEST_F(PipelineTest, AppliesMutationsInSubmissionOrder) {
  Open();
  // Each write appends its number to the key's current value, inside the pipeline.
  std::vector<std::unique_ptr<Outcome>> outs;
  for (int i = 0; i < 200; ++i) {
    std::vector<Mutation> m;
    m.push_back(Mutation{"list", [i](const RecordPtr& cur) {
                           std::string v = cur ? std::string(cur->value()) + "," : "";
                           return Change::Put(Value(v + std::to_string(i)));
                         }});
    outs.push_back(std::make_unique<Outcome>());
    store_->Write(std::move(m), outs.back()->callback());
  }
  uint64_t last_seq = 0;
  for (auto& o : outs) {
    auto [s, seq] = o->get();
    ASSERT_TRUE(s.ok());
    EXPECT_GE(seq, last_seq) << "completion order follows journal order";
    last_seq = seq;
  }
  std::string expected;
  for (int i = 0; i < 200; ++i) expected += (i ? "," : "") + std::to_string(i);
  EXPECT_EQ(store_->Get("list")->value(), expected);
}

TEST_F(PipelineTest, ConcurrentReadModifyWritesLoseNothing) {
  Open();
  constexpr int kThreads = 8, kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        std::vector<Mutation> m;
        m.push_back(Mutation{"counter", [](const RecordPtr& cur) {
                               long n = cur ? std::stol(std::string(cur->value())) : 0;
                               return Change::Put(Value(std::to_string(n + 1)));
                             }});
        ASSERT_TRUE(store_->WriteAndWait(std::move(m)).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_->Get("counter")->value(), std::to_string(kThreads * kPerThread));
  EXPECT_LT(store_->stats().groups, uint64_t{kThreads * kPerThread}) << "group commit happened";
}

TEST_F(PipelineTest, MultiKeyWriteIsOneAtomicGroup) {
  Open();
  std::vector<Mutation> m;
  m.push_back(Mutation::Put("x", Value("1")));
  m.push_back(Mutation::Put("y", Value("2")));
  m.push_back(Mutation::Delete("x"));
  uint64_t seq = 0;
  ASSERT_TRUE(store_->WriteAndWait(std::move(m), &seq).ok());
  EXPECT_EQ(store_->Get("x"), nullptr);
  EXPECT_EQ(store_->Get("y")->value(), "2");
  EXPECT_EQ(store_->LastSequence(), seq);
}

TEST_F(PipelineTest, WriteThatChangesNothingNeedsNoSync) {
  Open();
  ASSERT_TRUE(store_->WriteAndWait(Put("k", "v")).ok());
  const int syncs = fault_.fs->syncs();
  std::vector<Mutation> m;
  m.push_back(Mutation{"k", [](const RecordPtr&) { return Change::None(); }});
  m.push_back(Mutation::Delete("absent"));
  uint64_t seq = 0;
  ASSERT_TRUE(store_->WriteAndWait(std::move(m), &seq).ok());
  EXPECT_EQ(fault_.fs->syncs(), syncs);
  EXPECT_EQ(seq, store_->LastSequence());
}

TEST_F(PipelineTest, ExpiredRecordIsAbsentToApplyAndRemovedDurably) {
  Open();
  RecordPtr r = Value("old", store_->NowMs() - 1);
  std::vector<Mutation> m;
  m.push_back(Mutation::Put("e", r));
  ASSERT_TRUE(store_->WriteAndWait(std::move(m)).ok());
  EXPECT_EQ(store_->Get("e"), nullptr);  // expired: invisible to readers
  bool saw_null = false;
  std::vector<Mutation> probe;
  probe.push_back(Mutation{"e", [&](const RecordPtr& cur) {
                             saw_null = cur == nullptr;
                             return Change::None();
                           }});
  ASSERT_TRUE(store_->WriteAndWait(std::move(probe)).ok());
  EXPECT_TRUE(saw_null);
  EXPECT_EQ(store_->keyspace().Get("e"), nullptr) << "dropped from memory and journal";
}

TEST_F(PipelineTest, FailedSyncRefusesTheGroupAndEveryLaterWrite) {
  Open();
  ASSERT_TRUE(store_->WriteAndWait(Put("before", "1")).ok());
  fault_.fs->HoldSyncs();
  fault_.fs->FailSyncs(true);
  Outcome failing;
  store_->Write(Put("k", "v"), failing.callback());
  ASSERT_TRUE(fault_.fs->WaitForBlockedSyncs(1));
  Outcome queued;
  store_->Write(Put("q", "v"), queued.callback());
  fault_.fs->ReleaseSyncs();

  auto [s1, seq1] = failing.get();
  EXPECT_EQ(s1.code(), Status::Code::kIOError) << s1.ToString();
  EXPECT_EQ(seq1, 0u);
  auto [s2, seq2] = queued.get();
  EXPECT_FALSE(s2.ok()) << "a write queued behind the failure is not acknowledged";
  EXPECT_EQ(store_->WriteStatus().code(), Status::Code::kWriteRefused);
  EXPECT_NE(store_->WriteStatus().message().find("injected"), std::string::npos);

  // Even once the disk "recovers", the store does not acknowledge over an unknown state.
  fault_.fs->FailSyncs(false);
  Status later = store_->WriteAndWait(Put("later", "v"));
  EXPECT_EQ(later.code(), Status::Code::kWriteRefused);
  EXPECT_EQ(store_->Get("k"), nullptr);
  EXPECT_EQ(store_->Get("q"), nullptr);
  EXPECT_EQ(store_->Get("later"), nullptr);
  EXPECT_EQ(store_->Get("before")->value(), "1") << "reads keep working";
}

TEST_F(PipelineTest, AFullDiskRefusesWritesUntilSpaceReturnsThenResumes) {
  Open();
  ASSERT_TRUE(store_->WriteAndWait(Put("before", "1")).ok());
  fault_.fs->FailAppendsNoSpace(true);
  Status full = store_->WriteAndWait(Put("k", "v"));
  EXPECT_EQ(full.code(), Status::Code::kNoSpace) << full.ToString();
  EXPECT_EQ(store_->Get("k"), nullptr) << "nothing unacknowledged is visible";
  EXPECT_EQ(store_->WriteStatus().code(), Status::Code::kNoSpace);
  EXPECT_EQ(store_->WriteAndWait(Put("k2", "v")).code(), Status::Code::kNoSpace);
  EXPECT_EQ(store_->Get("before")->value(), "1") << "reads go on";
  // Space comes back: the pipeline resumes by itself, no restart.
  fault_.fs->FailAppendsNoSpace(false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!store_->WriteStatus().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(store_->WriteStatus().ok()) << store_->WriteStatus().ToString();
  ASSERT_TRUE(store_->WriteAndWait(Put("after", "2")).ok());
  // Recovery holds every acknowledged write and none of the refused ones.
  store_.reset();
  Open();
  EXPECT_EQ(store_->Get("before")->value(), "1");
  EXPECT_EQ(store_->Get("after")->value(), "2");
  EXPECT_EQ(store_->Get("k"), nullptr);
  EXPECT_EQ(store_->Get("k2"), nullptr);
}

// A gate that requires replicas: it records each group it is sent and acknowledges only
// when the test says so, from the test's thread.
class ManualGate : public ReplicationGate {
 public:
  bool Synchronous() const override { return false; }
  Status Admission() const override {
    absl::MutexLock lock(&mu);
    return admission;
  }
  void Send(const GroupRef& group) override {
    EXPECT_FALSE(group.batch.empty());
    absl::MutexLock lock(&mu);
    sent.push_back(group.last_seq);
  }
  void SetListener(QuorumListener* l) override { listener = l; }
  void Ack(uint64_t seq) { listener->OnQuorum(seq); }
  size_t Sent() const {
    absl::MutexLock lock(&mu);
    return sent.size();
  }
  uint64_t SentSeq(size_t i) const {
    absl::MutexLock lock(&mu);
    return sent.at(i);
  }

  mutable absl::Mutex mu;
  Status admission ABSL_GUARDED_BY(mu);
  std::vector<uint64_t> sent ABSL_GUARDED_BY(mu);
  QuorumListener* listener = nullptr;
};

// Waits (with a deadline) until `predicate` holds.
template <typename P>
bool Eventually(P predicate) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class GatePipelineTest : public PipelineTest {
 protected:
  void OpenWithGate(std::chrono::milliseconds ack_timeout = std::chrono::seconds(30)) {
    StoreOptions options;
    options.dir = dir_.Sub("db");
    options.env = fault_.env.get();
    options.gate = &gate_;
    options.ack_timeout = ack_timeout;
    ASSERT_TRUE(Store::Open(options, &store_).ok());
  }
  // The store must go before the gate it uses (the base's store_ outlives gate_).
  void TearDown() override { store_.reset(); }
  ManualGate gate_;
};

TEST_F(GatePipelineTest, AGroupIsAnsweredAndVisibleOnlyOnceTheGateAcknowledgesIt) {
  OpenWithGate();
  Outcome out;
  store_->Write(Put("k", "v"), out.callback());
  ASSERT_TRUE(Eventually([&] { return store_->stats().unacknowledged == 1; }));
  // Written and fsync'd locally, sent to the replicas, not acknowledged by them.
  EXPECT_EQ(gate_.Sent(), 1u);
  EXPECT_EQ(store_->LastSequence(), gate_.SentSeq(0));
  EXPECT_FALSE(out.ready());
  EXPECT_EQ(store_->Get("k"), nullptr) << "a write a failover could still erase is not visible";
  gate_.Ack(gate_.SentSeq(0));
  auto [status, seq] = out.get();
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(seq, gate_.SentSeq(0));
  EXPECT_EQ(store_->Get("k")->value(), "v");
  EXPECT_EQ(store_->stats().unacknowledged, 0u);
}

TEST_F(GatePipelineTest, AServedWaiterIsAnsweredOnlyOnceTheGateAcknowledgesItsGroup) {
  OpenWithGate();
  // A blocking pop waiting on "k" (store/waiters.h): it takes "k" when a write puts it.
  Outcome served;
  Waiter w;
  w.keys = {"k"};
  w.serve = [](KeyView& view) {
    if (!view.Get("k")) return Waiter::Result::kWaiting;
    view.Delete("k");
    return Waiter::Result::kServed;
  };
  w.done = served.callback();
  Outcome registered;
  std::vector<Mutation> wait;
  wait.push_back(Mutation::Txn([&w](KeyView& view) { view.Wait(std::move(w)); }));
  store_->Write(std::move(wait), registered.callback());
  EXPECT_TRUE(registered.get().first.ok());
  Outcome put;
  store_->Write(Put("k", "job"), put.callback());
  ASSERT_TRUE(Eventually([&] { return gate_.Sent() == 1; }));
  // The put and the take are one group: sent, fsync'd, not acknowledged by the replicas.
  EXPECT_FALSE(served.ready()) << "a take a failover could still undo is not answered";
  EXPECT_FALSE(put.ready());
  gate_.Ack(gate_.SentSeq(0));
  auto [status, seq] = served.get();
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(seq, gate_.SentSeq(0));
  EXPECT_TRUE(put.get().first.ok());
  EXPECT_EQ(store_->Get("k"), nullptr);
}

TEST_F(GatePipelineTest, TheNextGroupCommitsWhileThePreviousWaitsAndMergesOnIt) {
  OpenWithGate();
  Outcome first, second;
  store_->Write(Put("list", "a"), first.callback());
  ASSERT_TRUE(Eventually([&] { return gate_.Sent() == 1; }));
  // The second group reads the first's record although it is not acknowledged yet.
  std::vector<Mutation> append;
  append.push_back(Mutation::Apply("list", [](const RecordPtr& cur) {
    return Change::Put(Value((cur ? std::string(cur->value()) : std::string()) + "b"));
  }));
  store_->Write(std::move(append), second.callback());
  ASSERT_TRUE(Eventually([&] { return gate_.Sent() == 2; }))
      << "the second group's local write did not wait for the first group's replicas";
  // Sent before its fsync, counted as waiting after it.
  ASSERT_TRUE(Eventually([&] { return store_->stats().unacknowledged == 2; }));
  EXPECT_FALSE(first.ready());
  EXPECT_FALSE(second.ready());
  // One acknowledgement of the later position answers both, in order.
  gate_.Ack(gate_.SentSeq(1));
  EXPECT_TRUE(first.get().first.ok());
  EXPECT_TRUE(second.get().first.ok());
  EXPECT_EQ(store_->Get("list")->value(), "ab");
}

TEST_F(GatePipelineTest, AWriteThatChangesNothingWaitsForTheStateItRead) {
  OpenWithGate();
  Outcome put, nx;
  store_->Write(Put("k", "v"), put.callback());
  ASSERT_TRUE(Eventually([&] { return gate_.Sent() == 1; }));
  auto refused = std::make_shared<bool>(false);
  std::vector<Mutation> setnx;
  setnx.push_back(Mutation::Apply("k", [refused](const RecordPtr& cur) {
    *refused = cur != nullptr;
    return cur ? Change::None() : Change::Put(Value("w"));
  }));
  store_->Write(std::move(setnx), nx.callback());
  ASSERT_TRUE(Eventually([&] { return store_->stats().unacknowledged == 2; }));
  EXPECT_EQ(gate_.Sent(), 1u) << "a group that changes nothing is not sent";
  EXPECT_FALSE(nx.ready()) << "its answer rests on a write that is not acknowledged";
  gate_.Ack(gate_.SentSeq(0));
  EXPECT_TRUE(put.get().first.ok());
  EXPECT_TRUE(nx.get().first.ok());
  EXPECT_TRUE(*refused);
}

TEST_F(GatePipelineTest, ATimedOutGroupFailsItsWritersStaysInvisibleAndLaterPublishes) {
  OpenWithGate(std::chrono::milliseconds(50));
  Outcome out;
  store_->Write(Put("k", "v"), out.callback());
  auto [status, seq] = out.get();
  EXPECT_EQ(status.code(), Status::Code::kNoReplicas);
  EXPECT_EQ(store_->Get("k"), nullptr);
  // The node takes no writes until the replicas hold what it wrote.
  EXPECT_EQ(store_->WriteStatus().code(), Status::Code::kNoReplicas);
  EXPECT_EQ(store_->WriteAndWait(Put("later", "x")).code(), Status::Code::kNoReplicas);
  // The replicas catch up: the group becomes visible and writes are taken again.
  gate_.Ack(gate_.SentSeq(0));
  EXPECT_TRUE(Eventually([&] { return store_->Get("k") != nullptr; }));
  EXPECT_TRUE(store_->WriteStatus().ok());
  Outcome later;
  store_->Write(Put("later", "x"), later.callback());
  ASSERT_TRUE(Eventually([&] { return gate_.Sent() == 2; }));
  gate_.Ack(gate_.SentSeq(1));
  EXPECT_TRUE(later.get().first.ok());
}

TEST_F(GatePipelineTest, AGroupTheFullDiskRefusedIsNeverSentToTheReplicas) {
  OpenWithGate();
  fault_.fs->FailAppendsNoSpace(true);
  EXPECT_EQ(store_->WriteAndWait(Put("k", "v")).code(), Status::Code::kNoSpace);
  EXPECT_EQ(gate_.Sent(), 0u) << "a replica must never hold a group its primary does not";
  fault_.fs->FailAppendsNoSpace(false);
}

TEST_F(GatePipelineTest, AdmissionRefusesAWriteAtOnce) {
  OpenWithGate();
  {
    absl::MutexLock lock(&gate_.mu);
    gate_.admission = Status::NoReplicas("0 of 1 replicas connected");
  }
  EXPECT_EQ(store_->WriteAndWait(Put("k", "v")).code(), Status::Code::kNoReplicas);
  EXPECT_EQ(gate_.Sent(), 0u);
  EXPECT_EQ(store_->WriteStatus().code(), Status::Code::kNoReplicas);
}

TEST_F(GatePipelineTest, ARefusalAnswersWaitingWritersAndPublishesWhatTheJournalHolds) {
  OpenWithGate();
  Outcome out;
  store_->Write(Put("k", "v"), out.callback());
  ASSERT_TRUE(Eventually([&] { return store_->stats().unacknowledged == 1; }));
  store_->pipeline().SetRefusal(Status::NotPrimary("this node is now a replica"));
  EXPECT_EQ(out.get().first.code(), Status::Code::kNotPrimary);
  EXPECT_EQ(store_->Get("k")->value(), "v") << "memory follows the local journal";
  EXPECT_EQ(store_->WriteAndWait(Put("x", "y")).code(), Status::Code::kNotPrimary);
  store_->pipeline().SetRefusal(Status::OK());
  std::thread acker([&] {
    Eventually([&] { return gate_.Sent() == 2; });
    gate_.Ack(gate_.SentSeq(1));
  });
  EXPECT_TRUE(store_->WriteAndWait(Put("x", "y")).ok());
  acker.join();
}

TEST_F(PipelineTest, PauseHoldsWritesUntilUnpauseAndWaitsForTheGroupInFlight) {
  Open();
  fault_.fs->HoldSyncs();
  Outcome first;
  store_->Write(Put("a", "1"), first.callback());
  ASSERT_TRUE(fault_.fs->WaitForBlockedSyncs(1));
  // Pause returns only once the group being committed is in the journal.
  std::atomic<bool> paused{false};
  std::thread pauser([&] {
    store_->pipeline().Pause();
    paused = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(paused) << "a group is in flight";
  fault_.fs->ReleaseSyncs();
  pauser.join();
  EXPECT_TRUE(first.get().first.ok());
  const uint64_t position = store_->LastSequence();
  // Held: queued, neither committed nor refused, by either committer.
  Outcome held, queued;
  store_->Write(Put("b", "2"), held.callback());
  store_->Queue(Put("c", "3"), queued.callback());
  store_->CommitQueued();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(held.ready());
  EXPECT_FALSE(queued.ready());
  EXPECT_EQ(store_->LastSequence(), position);
  store_->pipeline().Unpause();
  EXPECT_TRUE(held.get().first.ok());
  EXPECT_TRUE(queued.get().first.ok());
  EXPECT_EQ(store_->Get("c")->value(), "3");
}

TEST_F(PipelineTest, ARefusalDuringAPauseFailsTheHeldWrites) {
  Open();
  store_->pipeline().Pause();
  Outcome held;
  store_->Write(Put("b", "2"), held.callback());
  store_->pipeline().SetRefusal(Status::NotPrimary("the primary moved"));
  store_->pipeline().Unpause();
  EXPECT_EQ(held.get().first.code(), Status::Code::kNotPrimary);
  EXPECT_EQ(store_->Get("b"), nullptr);
}

TEST_F(PipelineTest, ADiskThatFillsDuringAnInlineCommitStillResumes) {
  // The group is committed on this thread (CommitQueued) while the committer thread sleeps
  // with no deadline: it must still be woken to retry Resume once the group is refused.
  Open();
  fault_.fs->FailAppendsNoSpace(true);
  ThreadOutcome full;
  store_->Queue(Put("k", "v"), full.callback());
  store_->CommitQueued();
  ASSERT_TRUE(full.ready());
  EXPECT_EQ(full.get().first.code(), Status::Code::kNoSpace);
  fault_.fs->FailAppendsNoSpace(false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!store_->WriteStatus().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(store_->WriteStatus().ok()) << store_->WriteStatus().ToString();
  EXPECT_TRUE(store_->WriteAndWait(Put("after", "1")).ok());
}

TEST_F(PipelineTest, QueuedWritesCommitOnTheCallingThread) {
  Open();
  ThreadOutcome a, b;
  store_->Queue(Put("a", "1"), a.callback());
  store_->Queue(Put("b", "2"), b.callback());
  store_->CommitQueued();
  // Both were committed, in one group, before CommitQueued returned, and answered here.
  ASSERT_TRUE(a.ready());
  ASSERT_TRUE(b.ready());
  EXPECT_EQ(a.thread, std::this_thread::get_id());
  EXPECT_EQ(b.thread, std::this_thread::get_id());
  auto [sa, seq_a] = a.get();
  auto [sb, seq_b] = b.get();
  EXPECT_TRUE(sa.ok() && sb.ok());
  EXPECT_EQ(seq_a, seq_b);
  EXPECT_EQ(store_->stats().groups, 1u);
  EXPECT_EQ(store_->Get("b")->value(), "2");
  store_->CommitQueued();  // nothing queued: returns at once
  EXPECT_EQ(store_->stats().groups, 1u);
}

TEST_F(PipelineTest, CommitQueuedLeavesTheQueueToABusyCommitter) {
  Open();
  fault_.fs->HoldSyncs();
  ThreadOutcome first, queued;
  store_->Write(Put("k", "1"), first.callback());
  ASSERT_TRUE(fault_.fs->WaitForBlockedSyncs(1));  // the committer thread is mid-group
  store_->Queue(Put("k", "2"), queued.callback());
  store_->CommitQueued();  // would block on the held sync if it committed a second group
  EXPECT_FALSE(queued.ready());
  fault_.fs->ReleaseSyncs();
  auto [s1, seq1] = first.get();
  auto [s2, seq2] = queued.get();
  EXPECT_TRUE(s1.ok() && s2.ok());
  EXPECT_GT(seq2, seq1) << "the queued write commits after the running group";
  EXPECT_NE(queued.thread, std::this_thread::get_id());
  EXPECT_EQ(store_->Get("k")->value(), "2");
}

TEST_F(PipelineTest, CallerCommitsOneGroupAndWakesTheCommitterForTheRest) {
  Open(nullptr, /*max_group_mutations=*/1);
  ThreadOutcome a, b;
  store_->Queue(Put("a", "1"), a.callback());
  store_->Queue(Put("b", "2"), b.callback());
  store_->CommitQueued();
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a.thread, std::this_thread::get_id());
  // The second group is the committer thread's: it was woken, not left waiting for
  // another CommitQueued.
  auto [sb, seq_b] = b.get();
  EXPECT_TRUE(sb.ok());
  EXPECT_NE(b.thread, std::this_thread::get_id());
  EXPECT_GT(seq_b, a.get().second);
}

TEST_F(PipelineTest, ManyQueuedWritesGoToTheCommitterThread) {
  Open();
  const size_t n = StoreOptions().max_inline_mutations + 1;
  std::vector<std::unique_ptr<ThreadOutcome>> outs;
  for (size_t i = 0; i < n; ++i) {
    outs.push_back(std::make_unique<ThreadOutcome>());
    store_->Queue(Put("k" + std::to_string(i), "v"), outs.back()->callback());
  }
  store_->CommitQueued();  // too many to commit here: the committer thread is woken
  for (auto& o : outs) {
    EXPECT_TRUE(o->get().first.ok());
    EXPECT_NE(o->thread, std::this_thread::get_id());
  }
}

TEST_F(PipelineTest, QueuedWritesAreCommittedByClose) {
  Open();
  Outcome out;
  store_->Queue(Put("k", "v"), out.callback());
  store_->Close();  // no CommitQueued: the pipeline still commits what it holds
  EXPECT_TRUE(out.get().first.ok());
}

TEST_F(PipelineTest, CloseCommitsWhatIsQueuedThenRefuses) {
  Open();
  std::vector<std::unique_ptr<Outcome>> outs;
  for (int i = 0; i < 100; ++i) {
    outs.push_back(std::make_unique<Outcome>());
    store_->Write(Put("k" + std::to_string(i), "v"), outs.back()->callback());
  }
  store_->Close();
  for (auto& o : outs) EXPECT_TRUE(o->get().first.ok());
  EXPECT_EQ(store_->WriteAndWait(Put("late", "v")).code(), Status::Code::kShutdown);
}

}  // namespace
}  // namespace devstate
