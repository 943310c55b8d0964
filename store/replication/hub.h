// ReplicationHub: the primary's side of replication, and the store's ReplicationGate
// (DESIGN.md §5).
//
// Send() (the committer, after the group's log append and before its fsync) keeps each
// group in a ring of recent groups in memory and wakes the replicas' feeds. Each attached
// replica has a Feed: a thread that produces its frames, from the ring while the replica is
// live, from the journal's log while it is behind (Journal::ReadSince), or as a full copy
// (a checkpoint streamed file by file) when the log no longer reaches back to it or its
// history diverged (EpochHistory::Contains). Frames wait in the feed's bounded buffer until
// the replica's link takes them, so a slow replica slows only its own feed, never the
// committer, never an event loop.
//
// Acknowledgements arrive through Feed::OnAck (on the link's thread). The quorum position is
// the N-th highest position the replicas acknowledged (N = min_replicas_ack); when it
// grows, the hub tells the pipeline (QuorumListener::OnQuorum), which publishes and answers
// the groups up to it. With N = 0 the gate is synchronous: replicas are fed, nothing waits
// for them (Redis-style asynchronous replication). Admission refuses writes while fewer
// than N replicas are live (streaming from the ring).
//
// With a control plane (etcd), the controller names the synchronous set instead: a group
// is acknowledged once every member holds it, and writes are admitted only while the set
// etcd holds has at least N members (SetSynchronousSet). The lease fence (lease_fence.h)
// then bounds in time everything the hub admits and acknowledges.
//
// A replica that acknowledges with a term above this node's epoch has heard of a newer
// primary: the hub says so (on_newer_epoch) and the service steps down.
//
// Thread safety: every public method is safe from any thread. The journal and the epoch
// history must outlive the hub.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store/journal.h"
#include "store/replication/epochs.h"
#include "store/replication/lease_fence.h"
#include "store/replication_gate.h"

namespace devstate::replication {

struct HubOptions {
  size_t min_replicas_ack = 0;
  size_t ring_bytes = 64 << 20;         // recent groups kept in memory for live replicas
  size_t feed_buffer_bytes = 16 << 20;  // a replica's frames produced ahead of its socket
  std::string staging_dir;              // full copies are checkpointed here, one at a time
  std::chrono::milliseconds heartbeat{200};
  LogFn log;
  std::function<void(uint64_t term)> on_newer_epoch;
};

// What a replica says when it asks to follow (PSYNC).
struct ReplicaHello {
  std::string node_id;
  std::string address;  // host:port its clients use (RESP), for CLUSTER and INFO
  uint64_t epoch = 0;   // the epoch of its last position
  uint64_t seq = 0;     // its last position
  uint64_t term = 0;    // the highest epoch it has heard of
};

enum class FeedPhase { kFullCopy, kCatchUp, kLive };
const char* FeedPhaseName(FeedPhase phase);

struct ReplicaState {
  uint64_t id = 0;
  std::string node_id;
  std::string address;
  FeedPhase phase = FeedPhase::kCatchUp;
  uint64_t sent_seq = 0;   // the last position sent
  uint64_t acked_seq = 0;  // the last position it holds durably
  std::chrono::steady_clock::time_point last_ack;
  uint64_t bytes_sent = 0;
};

struct HubStats {
  uint64_t bytes_streamed = 0;
  uint64_t full_copies = 0;
  uint64_t quorum_seq = 0;
};

class ReplicationHub;

// One attached replica, as its link sees it.
class Feed {
 public:
  Feed(ReplicationHub* hub, uint64_t id, ReplicaHello hello, bool full_copy);
  ~Feed();
  Feed(const Feed&) = delete;
  Feed& operator=(const Feed&) = delete;

  // Moves frames ready to go (up to about `max` bytes) to the end of *out. False once the
  // feed has ended (Close, or a failure it logged) and every frame emitted before the end
  // is taken; the link then closes. So a frame emitted just before a close (FAILOVER's
  // PROMOTE, then the detach of every replica) still reaches the replica.
  bool Take(std::string* out, size_t max);
  // Called (from any thread, without locks held) when frames arrive for a link that found
  // none at its last Take.
  void SetWakeup(std::function<void()> wake);
  // The replica holds everything up to `seq` durably, and has heard of epochs up to `term`.
  void OnAck(uint64_t term, uint64_t seq);
  // Ends the feed (the link went away, or the hub detaches it), and wakes an idle link so
  // that it sends what is left and closes. Idempotent.
  void Close(const std::string& why);

  ReplicaState State() const;

 private:
  friend class ReplicationHub;
  void Run();
  bool CopyAll(uint64_t* next);  // a full copy; false if the feed ended meanwhile
  bool Emit(std::string frame);  // waits for room; false once closed
  void Wake();
  void Notify();  // new groups in the ring
  void SetPhase(FeedPhase phase);
  void Sent(uint64_t seq);
  bool Closed() const;
  bool Done() const { return done_.load(std::memory_order_acquire); }
  // The hub is going away (its threads joined): Close and OnAck leave it alone from now on.
  void Orphan();
  // The hub, unless orphaned.
  ReplicationHub* Hub() const;

  ReplicationHub* const hub_;
  const uint64_t id_;
  const ReplicaHello hello_;
  bool full_copy_;  // feed thread only, before it streams

  mutable absl::Mutex mu_;
  absl::CondVar room_;  // the link took frames, or the feed closed
  absl::CondVar more_;  // the ring has new groups, or the feed closed
  std::deque<std::string> out_ ABSL_GUARDED_BY(mu_);
  size_t out_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool want_wake_ ABSL_GUARDED_BY(mu_) = false;
  bool new_groups_ ABSL_GUARDED_BY(mu_) = false;
  bool orphaned_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
  ReplicaState state_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> done_{false};  // Run returned
  std::thread thread_;
};

class ReplicationHub final : public ReplicationGate {
 public:
  ReplicationHub(Journal* journal, EpochHistory* epochs, HubOptions options);
  ~ReplicationHub() override;

  // ReplicationGate.
  bool Synchronous() const override;
  Status Admission() const override;
  void Send(const GroupRef& group) override;
  void SetListener(QuorumListener* listener) override;

  // A replica asks to follow from its last position: *reply is what PSYNC answers
  // ("CONTINUE <epoch>" or "FULLSYNC <epoch>"), *feed what its link streams. Refused
  // (STALEEPOCH) when the replica has heard of a newer epoch than this node's: this node is
  // no longer the primary.
  Status Attach(const ReplicaHello& hello, std::string* reply, std::shared_ptr<Feed>* feed);
  // Closes every feed (this node stops being the primary).
  void DetachAll(const std::string& why);
  // Closes every feed and waits for their threads: nothing uses the journal afterwards.
  // Idempotent; the destructor does it too.
  void Shutdown();
  // Asks the replica `node_id` to become primary in `epoch` once it holds `last_seq`
  // (FAILOVER); false if it is not attached.
  bool Promote(const std::string& node_id, uint64_t epoch, uint64_t last_seq);

  std::vector<ReplicaState> Replicas() const;
  size_t CountAcked(uint64_t seq) const;  // WAIT
  // Called (any thread) after every acknowledgement: WAIT re-checks its count.
  void SetAckObserver(std::function<void()> observer);
  void SetMinReplicasAck(size_t n);
  // Control plane: every group waits for each replica in `wait_for` (node ids: the set in
  // etcd plus those being added), and writes are admitted only while `members` (the set in
  // etcd) is at least min_replicas_ack. Re-evaluates the quorum.
  void SetSynchronousSet(std::vector<std::string> wait_for, size_t members);
  bool synchronous_set_mode() const;
  // The lease fence (off until the controller enables it).
  LeaseFence& lease() { return lease_; }
  // Re-evaluates the quorum (after the fence opens again).
  void Reevaluate() { Recompute(); }
  size_t min_replicas_ack() const { return min_replicas_ack_.load(std::memory_order_relaxed); }
  HubStats stats() const;

 private:
  friend class Feed;
  struct RingGroup {
    uint64_t epoch = 0;
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    std::shared_ptr<const std::string> batch;
  };

  // The ring's groups from `next` on (empty if the ring does not hold `next`).
  std::vector<RingGroup> FromRing(uint64_t next) const ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(uint64_t id);
  // The attached feeds of `node_id` other than `keep`.
  std::vector<std::shared_ptr<Feed>> Replaced(const std::string& node_id, const Feed* keep);
  void Recompute();
  void Log(LogLevel level, const std::string& line) const;

  Journal* const journal_;
  EpochHistory* const epochs_;
  const HubOptions options_;
  std::atomic<size_t> min_replicas_ack_;

  mutable absl::Mutex mu_;
  std::deque<RingGroup> ring_ ABSL_GUARDED_BY(mu_);
  size_t ring_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<Feed>> feeds_ ABSL_GUARDED_BY(mu_);
  // Closed feeds whose threads may still run: the hub joins them, never their own thread.
  std::vector<std::shared_ptr<Feed>> closing_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t quorum_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void()> ack_observer_ ABSL_GUARDED_BY(mu_);
  bool sync_mode_ ABSL_GUARDED_BY(mu_) = false;  // SetSynchronousSet was called
  std::vector<std::string> wait_for_ ABSL_GUARDED_BY(mu_);
  size_t sync_members_ ABSL_GUARDED_BY(mu_) = 0;
  LeaseFence lease_;
  // Held (shared) while the pipeline is told of the quorum, so SetListener(nullptr) waits
  // for a call in progress.
  absl::Mutex listener_mu_;
  QuorumListener* listener_ ABSL_GUARDED_BY(listener_mu_) = nullptr;
  std::atomic<size_t> live_{0};         // feeds in FeedPhase::kLive
  std::atomic<uint64_t> last_sent_{0};  // the last position Send handed to the hub
  std::atomic<uint64_t> bytes_streamed_{0};
  std::atomic<uint64_t> full_copies_{0};
};

}  // namespace devstate::replication
