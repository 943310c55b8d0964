// Replication at the store level, without sockets: a primary Store and replica Stores in one
// process, joined by a LocalLink that moves frames from the primary's feed into the
// replica's Applier and acknowledgements back. Epochs, frames, catch-up from the log, full
// copies, the quorum gate and the divergent tail.
#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "store/journal.h"
#include "store/replication/applier.h"
#include "store/replication/epochs.h"
#include "store/replication/frames.h"
#include "store/replication/hub.h"
#include "store/store.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_records.h"

namespace devstate {
namespace {

using replication::Feed;
using replication::FrameReader;
using testing::TempDir;

template <typename P>
bool Eventually(P predicate, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// The replica's side of a connection, in a thread: frames from the feed into the applier,
// acknowledgements back. Paused, it takes nothing (as a replica cut off).
class LocalLink {
 public:
  LocalLink(Store* replica, std::shared_ptr<Feed> feed)
      : applier_(replica), feed_(std::move(feed)) {
    applier_.on_promote = [this](uint64_t epoch) { promoted_epoch_.store(epoch); };
    feed_->SetWakeup([this] {
      std::lock_guard lock(mu_);
      woken_ = true;
      cv_.notify_all();
    });
    thread_ = std::thread([this] { Run(); });
  }
  ~LocalLink() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    thread_.join();
    feed_->Close("the test ends the link");
  }
  void Pause(bool paused) {
    std::lock_guard lock(mu_);
    paused_ = paused;
    cv_.notify_all();
  }
  Status error() {
    std::lock_guard lock(mu_);
    return error_;
  }
  replication::Applier& applier() { return applier_; }
  // The epoch of a promotion (FAILOVER) this replica was asked to take; 0 if none.
  uint64_t promoted_epoch() const { return promoted_epoch_.load(); }
  bool ended() const { return ended_.load(); }

 private:
  void Run() {
    struct EndedOnReturn {
      std::atomic<bool>* ended;
      ~EndedOnReturn() { ended->store(true); }
    } ended_on_return{&ended_};
    std::string in, acks;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(20), [&] { return stop_ || woken_; });
        woken_ = false;
        if (stop_) return;
        if (paused_) continue;
      }
      if (!feed_->Take(&in, 1 << 20)) return;
      Status s = applier_.Consume(&in, &acks);
      FrameReader reader;
      replication::Frame frame;
      size_t used = 0;
      std::string_view rest = acks;
      while (reader.Next(rest, &frame, &used) == FrameReader::Result::kFrame) {
        uint64_t term = 0, seq = 0;
        if (replication::ParseTwo(frame.payload, &term, &seq)) feed_->OnAck(term, seq);
        rest.remove_prefix(used);
      }
      acks.clear();
      if (!s.ok()) {
        std::lock_guard lock(mu_);
        error_ = s;
        return;
      }
    }
  }

  replication::Applier applier_;
  std::shared_ptr<Feed> feed_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, paused_ = false, woken_ = false;
  std::atomic<uint64_t> promoted_epoch_{0};
  std::atomic<bool> ended_{false};
  Status error_;
  std::thread thread_;
};

std::map<std::string, std::string> Contents(const Store& store) {
  std::map<std::string, std::string> out;
  uint64_t cursor = 0;
  do {
    cursor = store.keyspace().Scan(
        cursor, 1024, [&](const std::string& k, const RecordPtr& r) { out[k] = r->value(); });
  } while (cursor != 0);
  return out;
}

class ReplicationTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open(const std::string& name, size_t min_replicas_ack = 0,
                              uint64_t retention_mb = 256) {
    StoreOptions o;
    o.dir = dir_.Sub(name);
    o.min_replicas_ack = min_replicas_ack;
    o.ack_timeout = std::chrono::milliseconds(300);
    o.wal_retention_mb = retention_mb;
    o.wal_retention_s = retention_mb == 0 ? 0 : 3600;
    std::unique_ptr<Store> store;
    EXPECT_TRUE(Store::Open(o, &store).ok());
    return store;
  }
  static void Primary(Store* s) {
    uint64_t epoch = 0;
    ASSERT_TRUE(s->BecomePrimary(&epoch).ok());
  }
  static Status Put(Store* s, const std::string& k, const std::string& v) {
    std::vector<Mutation> m;
    m.push_back(Mutation::Put(k, Value(v)));
    return s->WriteAndWait(std::move(m));
  }
  // The replica asks the primary to follow, as PSYNC does.
  static std::unique_ptr<LocalLink> Follow(Store* primary, Store* replica, std::string* reply,
                                           const std::string& node = "replica") {
    replica->BecomeReplica(Status::NotPrimary("a replica"));
    replication::ReplicaHello hello;
    hello.node_id = node;
    hello.seq = replica->LastSequence();
    hello.epoch = replica->epochs().EpochOf(hello.seq);
    hello.term = replica->Term();
    std::shared_ptr<Feed> feed;
    EXPECT_TRUE(primary->hub()->Attach(hello, reply, &feed).ok());
    return std::make_unique<LocalLink>(replica, feed);
  }
  // The replica acknowledged everything the primary holds (it acknowledges after it
  // published what it applied).
  static bool CaughtUp(Store* primary, Store* replica) {
    if (replica->LastSequence() != primary->LastSequence()) return false;
    for (const auto& r : primary->hub()->Replicas()) {
      if (r.acked_seq >= primary->LastSequence()) return true;
    }
    return false;
  }

  TempDir dir_;
};

// The committer hands a group to the hub just after the journal's append; a busy machine
// can deschedule it in between for tens of milliseconds. A live feed that sees the group
// in the journal but not yet in the ring waits for it (up to a second) instead of turning
// to catch-up, which would take the replica out of the live count and refuse writes that
// need it (NOREPLICAS) meanwhile. Before, it waited 20 ms.
TEST(ReplicationHubTest, ALiveFeedWaitsForAGroupAppendedButNotYetHandedOver) {
  TempDir dir;
  std::unique_ptr<Journal> journal;
  JournalOptions options;
  options.dir = dir.Sub("primary");
  ASSERT_TRUE(Journal::Open(options, &journal).ok());
  uint64_t first = 0, last = 0;
  rocksdb::WriteBatch start;
  start.Put("a", "1");
  ASSERT_TRUE(journal->Append(&start, &first, &last).ok());
  EpochHistory epochs;
  epochs.Add({1, first});
  // A turn to catch-up can be brief (the log read, then live again): the hub's log says it.
  std::atomic<int> catch_ups{0};
  replication::HubOptions hub_options;
  hub_options.log = [&](LogLevel, std::string_view line) {
    if (line.find("catches up") != std::string::npos) ++catch_ups;
  };
  replication::ReplicationHub hub(journal.get(), &epochs, hub_options);
  replication::ReplicaHello hello{"r", "127.0.0.1:1", 1, last, 1};
  std::string reply;
  std::shared_ptr<Feed> feed;
  ASSERT_TRUE(hub.Attach(hello, &reply, &feed).ok());
  ASSERT_EQ(reply, "CONTINUE 1");
  auto phase = [&] { return hub.Replicas().at(0).phase; };
  ASSERT_TRUE(Eventually([&] { return phase() == replication::FeedPhase::kLive; }));

  rocksdb::WriteBatch group;
  group.Put("b", "2");
  ASSERT_TRUE(journal->Append(&group, &first, &last).ok());
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(phase(), replication::FeedPhase::kLive);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(catch_ups.load(), 0) << "turned to catch-up while the group was in flight";
  hub.Send(GroupRef{first, last, group.Data()});
  // The group goes out from the ring, live.
  std::string out;
  ASSERT_TRUE(Eventually([&] {
    std::string more;
    feed->Take(&more, 1 << 20);
    out += more;
    return hub.Replicas().at(0).sent_seq == last;
  }));
  EXPECT_EQ(phase(), replication::FeedPhase::kLive);
  EXPECT_NE(out.find("b"), std::string::npos);
  feed->Close("the test ends");
  hub.Shutdown();
}

TEST(EpochHistoryTest, MarkersRoundTripAndRangesDecideContainment) {
  EpochHistory::Entry e;
  ASSERT_TRUE(
      EpochHistory::ParseMarker(EpochHistory::MarkerKey(7), EpochHistory::MarkerValue(42), &e));
  EXPECT_EQ(e, (EpochHistory::Entry{7, 42}));
  EXPECT_FALSE(EpochHistory::ParseMarker("other", "", &e));
  EpochHistory h;
  h.Add({1, 1});
  h.Add({3, 50});
  h.Add({2, 60});  // lower than the last: ignored
  EXPECT_EQ(h.Current(), 3u);
  EXPECT_EQ(h.EpochOf(49), 1u);
  EXPECT_EQ(h.EpochOf(50), 3u);
  EXPECT_TRUE(h.Contains(1, 49, 80));
  EXPECT_FALSE(h.Contains(1, 50, 80)) << "position 50 belongs to epoch 3 here";
  EXPECT_TRUE(h.Contains(3, 80, 80));
  EXPECT_FALSE(h.Contains(3, 81, 80)) << "beyond this node's last position";
  EXPECT_FALSE(h.Contains(2, 10, 80)) << "an epoch this history never had";
  EXPECT_TRUE(h.Contains(0, 0, 80)) << "an empty journal is on every history";
  EXPECT_FALSE(h.Contains(0, 5, 80)) << "data from before any epoch is on none";
}

TEST(FramesTest, EncodeDecodeAndRefuseMalformed) {
  std::string out;
  replication::AppendGroup(&out, {5, 10, 12, "batchbytes"});
  replication::AppendAck(&out, 5, 12);
  FrameReader reader;
  replication::Frame f;
  size_t used = 0;
  for (size_t n = 0; n < out.size(); ++n) {
    FrameReader partial;
    const auto r = partial.Next(std::string_view(out).substr(0, n), &f, &used);
    EXPECT_TRUE(r == FrameReader::Result::kIncomplete || n >= used) << n;
  }
  ASSERT_EQ(reader.Next(out, &f, &used), FrameReader::Result::kFrame);
  replication::GroupFrame g;
  ASSERT_TRUE(replication::ParseGroup(f.payload, &g));
  EXPECT_EQ(g.epoch, 5u);
  EXPECT_EQ(g.first_seq, 10u);
  EXPECT_EQ(g.last_seq, 12u);
  EXPECT_EQ(g.batch, "batchbytes");
  EXPECT_EQ(reader.Next(std::string_view(out).substr(used), &f, &used),
            FrameReader::Result::kFrame);
  EXPECT_EQ(reader.Next("\x63xxxx", &f, &used), FrameReader::Result::kError);
  std::string name;
  uint64_t size = 0;
  std::string file;
  replication::AppendSnapFile(&file, "../../etc/passwd", 1);
  ASSERT_EQ(reader.Next(file, &f, &used), FrameReader::Result::kFrame);
  EXPECT_FALSE(replication::ParseSnapFile(f.payload, &name, &size)) << "no climbing out";
}

TEST_F(ReplicationTest, AReplicaFollowsFromEmptyAndHoldsTheSameHistory) {
  auto primary = Open("p");
  Primary(primary.get());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Put(primary.get(), "k" + std::to_string(i), "v").ok());
  auto replica = Open("r");
  std::string reply;
  auto link = Follow(primary.get(), replica.get(), &reply);
  EXPECT_EQ(reply.rfind("CONTINUE ", 0), 0u) << reply;
  ASSERT_TRUE(Eventually([&] { return CaughtUp(primary.get(), replica.get()); }))
      << replica->LastSequence() << " of " << primary->LastSequence() << ": "
      << link->error().ToString();
  for (int i = 100; i < 200; ++i)
    ASSERT_TRUE(Put(primary.get(), "k" + std::to_string(i), "w").ok());
  ASSERT_TRUE(Eventually([&] { return CaughtUp(primary.get(), replica.get()); }))
      << replica->LastSequence() << " of " << primary->LastSequence() << ": "
      << link->error().ToString() << " sent "
      << (primary->hub()->Replicas().empty() ? 0 : primary->hub()->Replicas()[0].sent_seq);
  EXPECT_EQ(Contents(*replica), Contents(*primary));
  EXPECT_EQ(replica->epochs().Entries(), primary->epochs().Entries());
  EXPECT_EQ(replica->Term(), primary->Epoch());
  EXPECT_EQ(replica->WriteStatus().code(), Status::Code::kNotPrimary);
  EXPECT_TRUE(link->error().ok()) << link->error().ToString();
}

TEST_F(ReplicationTest, WithOneRequiredReplicaAWriteWaitsForItAndFailsWithoutIt) {
  auto primary = Open("p", /*min_replicas_ack=*/1);
  Primary(primary.get());
  EXPECT_EQ(Put(primary.get(), "early", "v").code(), Status::Code::kNoReplicas)
      << "no replica is online: refused at once";
  auto replica = Open("r");
  std::string reply;
  auto link = Follow(primary.get(), replica.get(), &reply);
  ASSERT_TRUE(Eventually([&] { return primary->WriteStatus().ok(); })) << "the replica is online";
  ASSERT_TRUE(Put(primary.get(), "k", "v").ok());
  EXPECT_EQ(replica->Get("k")->value(), "v") << "acknowledged means the replica holds it";
  // The replica stops taking frames (cut off): the write is not acknowledged, not visible.
  link->Pause(true);
  EXPECT_EQ(Put(primary.get(), "k2", "v2").code(), Status::Code::kNoReplicas);
  EXPECT_EQ(primary->Get("k2"), nullptr);
  EXPECT_EQ(primary->WriteStatus().code(), Status::Code::kNoReplicas);
  // It comes back: it catches up, the waiting group is published, writes resume.
  link->Pause(false);
  ASSERT_TRUE(Eventually([&] { return primary->Get("k2") != nullptr; }));
  ASSERT_TRUE(Eventually([&] { return primary->WriteStatus().ok(); }));
  ASSERT_TRUE(Put(primary.get(), "k3", "v3").ok());
  EXPECT_EQ(replica->Get("k3")->value(), "v3");
}

// The control plane's gate: every member of the synchronous set, not the N-th best.
TEST_F(ReplicationTest, UnderASynchronousSetAWriteWaitsForEveryMember) {
  auto primary = Open("p", /*min_replicas_ack=*/1);
  auto* hub = primary->hub();
  hub->SetSynchronousSet({}, 0);
  Primary(primary.get());
  EXPECT_EQ(Put(primary.get(), "early", "v").code(), Status::Code::kNoReplicas)
      << "an empty set is below min_replicas_ack: refused at once";
  auto r1 = Open("r1"), r2 = Open("r2");
  std::string reply;
  auto link1 = Follow(primary.get(), r1.get(), &reply, "r1");
  auto link2 = Follow(primary.get(), r2.get(), &reply, "r2");
  hub->SetSynchronousSet({"r1", "r2"}, 2);
  // Both stream live before the first write (slow builds take a while to attach them).
  ASSERT_TRUE(Eventually([&] {
    size_t live = 0;
    for (const auto& r : hub->Replicas()) live += r.phase == replication::FeedPhase::kLive;
    return live == 2;
  }));
  ASSERT_TRUE(Eventually([&] { return Put(primary.get(), "k", "v").ok(); }));
  EXPECT_EQ(r1->Get("k")->value(), "v");
  EXPECT_EQ(r2->Get("k")->value(), "v") << "acknowledged means every member holds it";
  // One member stops: with N = 1 the old gate would answer; the set waits for it.
  link2->Pause(true);
  EXPECT_EQ(Put(primary.get(), "k2", "v2").code(), Status::Code::kNoReplicas);
  EXPECT_EQ(primary->Get("k2"), nullptr) << "not acknowledged, not visible";
  // The controller takes it out of the set (after etcd says so): the write completes.
  hub->SetSynchronousSet({"r1"}, 1);
  ASSERT_TRUE(Eventually([&] { return primary->Get("k2") != nullptr; }));
  ASSERT_TRUE(Eventually([&] { return primary->WriteStatus().ok(); }));
  EXPECT_TRUE(Put(primary.get(), "k3", "v3").ok());
  link2->Pause(false);
}

TEST_F(ReplicationTest, AnEmptySynchronousSetWithNoneRequiredAcknowledgesWhenDurable) {
  auto primary = Open("p");
  primary->hub()->SetSynchronousSet({}, 0);
  primary->hub()->lease().Enable();
  primary->hub()->lease().ExtendTo(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  Primary(primary.get());
  EXPECT_TRUE(Put(primary.get(), "k", "v").ok());
  EXPECT_EQ(primary->Get("k")->value(), "v");
}

// Past the lease's deadline nothing is admitted or acknowledged, even what replicas hold;
// once the lease is renewed, what waited is answered.
TEST_F(ReplicationTest, PastTheLeaseDeadlineNothingIsAdmittedOrAcknowledged) {
  auto primary = Open("p", /*min_replicas_ack=*/1);
  auto* hub = primary->hub();
  auto& lease = hub->lease();
  lease.Enable();
  EXPECT_FALSE(lease.Open()) << "enabled, it is closed until the first renewal";
  lease.ExtendTo(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  hub->SetSynchronousSet({"r"}, 1);
  Primary(primary.get());
  auto replica = Open("r");
  std::string reply;
  auto link = Follow(primary.get(), replica.get(), &reply, "r");
  // The replica counts once the hub has it online (before, a write is refused at once).
  ASSERT_TRUE(Eventually([&] { return primary->WriteStatus().ok(); }));
  ASSERT_TRUE(Put(primary.get(), "k", "v").ok());
  // The replica is cut off; the group waits for it; the lease runs out meanwhile.
  link->Pause(true);
  const uint64_t before = primary->LastSequence();
  Status late;
  std::thread writer([&] { late = Put(primary.get(), "k2", "v2"); });
  ASSERT_TRUE(Eventually([&] { return primary->LastSequence() > before; })) << "k2 is journaled";
  lease.Close();
  link->Pause(false);  // the replica now holds k2 and acknowledges it
  ASSERT_TRUE(Eventually([&] { return replica->Get("k2") != nullptr; }));
  writer.join();
  EXPECT_EQ(late.code(), Status::Code::kNoReplicas) << "no acknowledgement past the deadline";
  EXPECT_EQ(primary->Get("k2"), nullptr) << "nor visibility";
  EXPECT_FALSE(Put(primary.get(), "k3", "v3").ok());
  EXPECT_EQ(hub->Admission().code(), Status::Code::kFenced);
  // Renewed: what the replica holds is acknowledged and published, writes are admitted.
  lease.ExtendTo(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  hub->Reevaluate();
  ASSERT_TRUE(Eventually([&] { return primary->Get("k2") != nullptr; }));
  ASSERT_TRUE(Eventually([&] { return primary->WriteStatus().ok(); }));
  EXPECT_TRUE(Put(primary.get(), "k3", "v3").ok());
}

TEST_F(ReplicationTest, AReplicaPastTheLogsRetentionGetsAFullCopy) {
  auto primary = Open("p", 0, /*retention_mb=*/0);
  Primary(primary.get());
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(Put(primary.get(), "k" + std::to_string(i), "v").ok());
  // A first replica's full copy flushes the memtable: the log before it is gone.
  auto first = Open("r1");
  std::string reply;
  {
    auto link = Follow(primary.get(), first.get(), &reply, "r1");
    ASSERT_TRUE(Eventually([&] { return CaughtUp(primary.get(), first.get()); }));
  }
  auto replica = Open("r2");
  ASSERT_TRUE(Put(replica.get(), "local", "x").ok());  // a history of its own: diverged
  auto link = Follow(primary.get(), replica.get(), &reply, "r2");
  EXPECT_EQ(reply.rfind("FULLSYNC ", 0), 0u) << reply;
  ASSERT_TRUE(Eventually([&] { return CaughtUp(primary.get(), replica.get()); }));
  EXPECT_EQ(Contents(*replica), Contents(*primary));
  EXPECT_EQ(replica->Get("local"), nullptr) << "divergent data is dropped, never merged";
  EXPECT_EQ(replica->epochs().Entries(), primary->epochs().Entries());
  ASSERT_TRUE(Put(primary.get(), "after", "copy").ok());
  ASSERT_TRUE(Eventually([&] { return replica->Get("after") != nullptr; }));
  // The copy survives a restart of the replica.
  link.reset();
  replica.reset();
  replica = Open("r2");
  EXPECT_EQ(replica->Get("after")->value(), "copy");
}

// RocksDB reports a checkpoint's position as it was before its flush; writes committed
// during the flush are in the copy too. The copy must announce what it holds.
TEST_F(ReplicationTest, AFullCopyTakenWhileWritesGoOnAnnouncesWhatItHolds) {
  auto primary = Open("p", 0, /*retention_mb=*/0);
  Primary(primary.get());
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<Mutation> m;
    for (int i = 0; i < 1000; ++i) {
      m.push_back(
          Mutation::Put("k" + std::to_string(batch * 1000 + i), Value(std::string(100, 'x'))));
    }
    ASSERT_TRUE(primary->WriteAndWait(std::move(m)).ok());
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      (void)Put(primary.get(), "w" + std::to_string(i), "v");
      std::this_thread::sleep_for(std::chrono::microseconds(500));  // room for the copy
    }
  });
  for (int round = 0; round < 3; ++round) {
    auto replica = Open("r" + std::to_string(round));
    ASSERT_TRUE(Put(replica.get(), "local", "x").ok());  // diverged: a full copy
    std::string reply;
    auto link = Follow(primary.get(), replica.get(), &reply, "r" + std::to_string(round));
    ASSERT_TRUE(Eventually([&] { return replica->Get("local") == nullptr || !link->error().ok(); },
                           std::chrono::seconds(60)))
        << link->error().ToString();
    const uint64_t after = primary->LastSequence();
    ASSERT_TRUE(Eventually([&] { return replica->LastSequence() >= after || !link->error().ok(); },
                           std::chrono::seconds(60)));
    EXPECT_TRUE(link->error().ok()) << link->error().ToString();
  }
  stop = true;
  writer.join();
}

TEST_F(ReplicationTest, AnUnacknowledgedTailOfADeposedPrimaryIsDroppedEverywhere) {
  auto a = Open("a", /*min_replicas_ack=*/1);
  Primary(a.get());
  auto b = Open("b");
  std::string reply;
  auto link = Follow(a.get(), b.get(), &reply, "b");
  ASSERT_TRUE(Eventually([&] { return a->WriteStatus().ok(); }));
  ASSERT_TRUE(Put(a.get(), "acked", "1").ok());
  // b is cut off; a journals a group nobody acknowledges, then "fails".
  link->Pause(true);
  EXPECT_EQ(Put(a.get(), "tail", "lost").code(), Status::Code::kNoReplicas);
  link.reset();
  // b is promoted: a new epoch, above a's.
  Primary(b.get());
  EXPECT_GT(b->Term(), a->Epoch());
  ASSERT_TRUE(Put(b.get(), "new", "2").ok());  // behind the new epoch's marker
  EXPECT_GT(b->Epoch(), a->Epoch());
  // a rejoins as b's replica: its last position is not on b's history, so a full copy.
  link = Follow(b.get(), a.get(), &reply, "a");
  EXPECT_EQ(reply.rfind("FULLSYNC ", 0), 0u) << reply;
  ASSERT_TRUE(Eventually([&] { return CaughtUp(b.get(), a.get()); }));
  EXPECT_EQ(a->Get("tail"), nullptr) << "the tail a journaled and never acknowledged is gone";
  EXPECT_EQ(a->Get("acked")->value(), "1");
  EXPECT_EQ(a->Get("new")->value(), "2");
  EXPECT_EQ(Contents(*a), Contents(*b));
}

// FAILOVER emits PROMOTE to its target and at once detaches every replica (the old primary
// follows the new one). The frame was queued before the detach: it must still go out, or
// the target never takes over and the shard has no primary.
TEST_F(ReplicationTest, APromotionEmittedJustBeforeTheDetachStillReachesTheTarget) {
  auto a = Open("a");
  Primary(a.get());
  auto b = Open("b");
  std::string reply;
  auto link = Follow(a.get(), b.get(), &reply, "b");
  ASSERT_TRUE(Put(a.get(), "k", "v").ok());
  ASSERT_TRUE(Eventually([&] { return CaughtUp(a.get(), b.get()); }));
  link->Pause(true);  // the link is slow: the frame is still queued at the detach
  const uint64_t epoch = a->Term() + 1;
  ASSERT_TRUE(a->hub()->Promote("b", epoch, a->LastSequence()));
  a->BecomeReplica(Status::NotPrimary("a follows b"));
  EXPECT_TRUE(a->hub()->Replicas().empty());
  link->Pause(false);
  ASSERT_TRUE(Eventually([&] { return link->promoted_epoch() == epoch; }))
      << "the promotion was dropped with the feed";
  EXPECT_TRUE(Eventually([&] { return link->ended(); })) << "the link never heard of the end";
  EXPECT_TRUE(link->error().ok()) << link->error().ToString();
}

TEST_F(ReplicationTest, AStreamFromALowerEpochIsRefused) {
  auto a = Open("a");
  Primary(a.get());
  auto b = Open("b");
  ASSERT_TRUE(b->RaiseTerm(a->Epoch() + 5).ok());  // b heard of a newer primary
  replication::ReplicaHello hello;
  hello.node_id = "b";
  hello.term = b->Term();
  std::string reply;
  std::shared_ptr<Feed> feed;
  Status s = a->hub()->Attach(hello, &reply, &feed);
  EXPECT_EQ(s.code(), Status::Code::kNotPrimary);
  EXPECT_NE(s.message().find("STALEEPOCH"), std::string::npos);
  // And a replica refuses groups below its term even if a stale primary sends them.
  replication::Applier applier(b.get());
  std::string in, acks;
  replication::AppendGroup(&in, {a->Epoch(), 1, 1, std::string(12, '\0')});
  EXPECT_EQ(applier.Consume(&in, &acks).code(), Status::Code::kCorruption);
  EXPECT_EQ(b->LastSequence(), 0u);
}

TEST_F(ReplicationTest, AMalformedOrOutOfOrderGroupIsNeverApplied) {
  auto a = Open("a");
  Primary(a.get());
  ASSERT_TRUE(Put(a.get(), "k", "v").ok());
  auto b = Open("b");
  replication::Applier applier(b.get());
  std::string in, acks;
  // Out of order: starts past the journal's end.
  replication::AppendGroup(&in, {1, 5, 5, std::string(12, '\0')});
  EXPECT_EQ(applier.Consume(&in, &acks).code(), Status::Code::kCorruption);
  // Malformed batch bytes at the right position.
  replication::Applier again(b.get());
  in.clear();
  std::string bad(12, '\0');
  bad[8] = 1;  // one operation announced, none present
  replication::AppendGroup(&in, {1, 1, 1, bad});
  EXPECT_EQ(again.Consume(&in, &acks).code(), Status::Code::kCorruption);
  EXPECT_EQ(b->LastSequence(), 0u);
  EXPECT_TRUE(acks.empty());
}

}  // namespace
}  // namespace devstate
