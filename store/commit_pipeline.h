// CommitPipeline: the single writer of the store (DESIGN.md §2 and §5).
//
// Writers Submit() mutations from any thread. One committer at a time takes everything
// queued (a group), applies each mutation in order against the current records, hands the
// group to the replication gate, writes it as one RocksDB WriteBatch with sync = true, and
// then lets the next group in. One fsync thus serves every write that queued while the
// previous one ran.
//
// Acknowledgement follows the gate. With a synchronous gate (no replicas required) a group
// is published to the keyspace and its writers answered right after its fsync. Otherwise
// the group waits, in order, for the gate's OnQuorum: its records sit in an overlay that
// later groups read and merge on (so writes keep their order) but readers of the keyspace
// never see, and the next group's fsync does not wait for it. A group that is not
// acknowledged within `ack_timeout` answers its writers NoReplicas (outcome unknown), stays
// invisible, and makes the pipeline refuse writes until the quorum catches up with it.
// Groups that change nothing are answered in the same order, so a stale or refused write
// is never answered before the state it read is acknowledged.
//
// Committers: the pipeline's own thread, or an event loop that Queue()s the writes of one
// turn and then calls CommitQueued(): when no group is being committed it commits them
// itself, as Redis does before it sleeps. That saves two thread wake-ups per group and
// keeps the CPU quiet while the fsync runs (docs/BENCHMARKS.md, "Commit pipeline").
// Either way one group is committed at a time, in queue order. Mutation functions, the
// journal and the gate's Send run on that committing thread; writers' callbacks run on the
// thread that completes their group (the committer, the inline event loop, or the gate's
// thread via OnQuorum).
//
// A failed journal write poisons the pipeline (leveldb's background error): the group's
// waiters, everything queued and every later write get an error, and nothing more is
// acknowledged. The exception is a full disk: the log append refuses the group before
// anything of it is written or sent to replicas, a known state, so the pipeline refuses
// writes with NoSpace only until RocksDB's Resume() succeeds (tried every kResumeEvery),
// then takes them again. A failed fsync stays fatal until restart. WriteStatus() says
// whether writes are accepted.
//
// Thread safety: every public method is safe from any thread. The journal, keyspace and
// gate must outlive the pipeline; only the pipeline writes to the keyspace.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "store/journal.h"
#include "store/keyspace.h"
#include "store/mutation.h"
#include "store/replication_gate.h"
#include "store/waiters.h"

namespace devstate {

struct PipelineOptions {
  // Upper bound on mutations per group (a write's mutations are never split), so one group
  // cannot delay the writes behind it without bound.
  size_t max_group_mutations = 0;
  // CommitQueued() commits on the calling thread only up to this many queued mutations;
  // more go to the committer thread, so the caller's next turn of CPU work overlaps their
  // fsync. 0: never inline.
  size_t max_inline_mutations = 0;
  // How long a group may wait for the gate's quorum before its writers get NoReplicas.
  std::chrono::milliseconds ack_timeout{0};
  // Wall clock in Unix epoch milliseconds, for expiry.
  std::function<int64_t()> now_ms;
  // Observer of each synced group (size in mutations, microseconds spent in the journal
  // commit), for metrics. Called on the committing thread.
  std::function<void(size_t mutations, int64_t commit_micros)> on_group;
  // Observer of each group that waited for the gate's quorum: microseconds from its
  // journal append to the quorum (the replicas' share of a write's latency). Called on the
  // thread that completes it.
  std::function<void(int64_t quorum_micros)> on_quorum;
  // Where the pipeline says that writes stopped or resumed (any thread).
  LogFn log;
  // Told, on the committing thread, once the group holding an epoch marker (BeginEpoch) is
  // appended to the journal and before it is sent to replicas: the epoch and the marker's
  // position.
  std::function<void(uint64_t epoch, uint64_t first_seq)> on_epoch;
};

struct PipelineStats {
  uint64_t writes = 0;          // submitted writes completed (any outcome)
  uint64_t mutations = 0;       // mutations applied
  uint64_t groups = 0;          // groups written to the journal
  uint64_t unacknowledged = 0;  // groups written, waiting for the gate's quorum
  uint64_t changes = 0;         // key changes written to the journal (puts, deletes, ranges)
};

class CommitPipeline final : public QuorumListener {
 public:
  CommitPipeline(Journal* journal, Keyspace* keyspace, ReplicationGate* gate,
                 PipelineOptions options);
  ~CommitPipeline() override;
  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;

  // Queues one atomic write (its mutations land in the same group) and calls `done` with
  // its outcome. An empty write completes (in order) with OK.
  void Submit(std::vector<Mutation> mutations, CommitCallback done);

  // Like Submit, but does not wake the committer thread: the caller promises to call
  // CommitQueued() soon (at the end of its event-loop turn). A busy committer still takes
  // the write with its next group.
  void Queue(std::vector<Mutation> mutations, CommitCallback done);

  // If no group is being committed and at most max_inline_mutations are queued, commits
  // them on the calling thread through their local fsync (and, with a synchronous gate,
  // completes their waiters there). Otherwise returns at once, having woken the committer
  // thread if it is idle. Never waits for replicas.
  void CommitQueued();

  // Queues the marker of a new epoch (epochs.h), ahead of every later write: the group that
  // carries it is the epoch's first. It is queued even when the replicas the gate requires
  // are not there (admission does not apply); `done` hears its outcome like any write's.
  void BeginEpoch(uint64_t epoch, CommitCallback done);

  // Commits everything already queued, then stops the committer. Later writes fail with
  // Status::Shutdown; groups still waiting for the quorum are answered with Shutdown
  // (their outcome is unknown to the writer). Idempotent.
  void Stop();

  // Writes are refused with `why` while it is not OK (a replica: they belong to the
  // primary), and accepted again once it is OK. Queued writes fail with `why`; groups
  // waiting for the quorum answer their writers with `why` and are published as they are
  // in the local journal, so memory equals the journal. Does not wait for a group being
  // committed: call it from a thread that is not committing.
  void SetRefusal(const Status& why);

  // Holds writes (FAILOVER): they queue, and nothing more is committed until Unpause, or
  // until SetRefusal fails them. Returns once the group being committed, if any, is in the
  // journal, so LastSequence() is final while paused.
  void Pause();
  void Unpause();

  // OK while writes are accepted; otherwise why they are refused.
  Status WriteStatus() const;

  PipelineStats stats() const;

  // QuorumListener: every group up to `seq` is held by the replicas the gate requires.
  void OnQuorum(uint64_t seq) override;

 private:
  // Hashes std::string and std::string_view alike, so that a lookup copies no key.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  struct Request {
    std::vector<Mutation> mutations;
    CommitCallback done;
    size_t weight = 0;   // the keys its mutations may touch (Mutation::weight)
    uint64_t epoch = 0;  // not 0: this request is the marker of that epoch (BeginEpoch)
  };
  // A group between its apply and its acknowledgement.
  struct Group {
    std::vector<Request> requests;
    // Its changes, key by key (null: deleted), to publish when acknowledged.
    std::unordered_map<std::string, RecordPtr, KeyHash, std::equal_to<>> staged;
    bool cleared = false;   // Clear() ran in it: publishing empties the keyspace first
    uint64_t last_seq = 0;  // 0: the group wrote nothing
    std::chrono::steady_clock::time_point deadline;
    std::chrono::steady_clock::time_point appended;
    bool answered = false;  // writers already told (a timeout); publish still to come
    uint64_t id = 0;
  };
  class View;

  void Enqueue(std::vector<Mutation> mutations, CommitCallback done, bool wake, uint64_t epoch = 0);
  void Run();
  // Moves the next group from queue_ into *group and marks it being committed.
  void TakeGroup(std::vector<Request>* group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Commits a group from TakeGroup (on whichever thread took it), then lets the next in.
  void CommitTaken(std::vector<Request>* group);
  void CommitGroup(std::vector<Request>* requests);
  // After a group's own writes: serves the waiters of the keys it wrote (store/waiters.h).
  void ServeWaiters(View& view, Group* group);
  // Writes are refused from now on: every waiter hears `why`.
  void AnswerWaiters(const Status& why);
  void Refuse(const Status& cause);
  void RefuseForSpace(const Status& cause);
  void TryResume();
  void Log(LogLevel level, const std::string& line) const;
  static constexpr std::chrono::milliseconds kResumeEvery{500};
  // The record a group being applied reads for `key` when it has not changed it itself:
  // the overlay's, else the keyspace's. Called by the committing thread.
  RecordPtr Committed(std::string_view key) const ABSL_LOCKS_EXCLUDED(publish_mu_);
  // Publishes and answers the acknowledged groups at the front of pending_.
  void CompleteAcknowledged() ABSL_LOCKS_EXCLUDED(complete_mu_, publish_mu_);
  void PublishToKeyspace(const Group& group);
  // Drops the group's records from the overlay (those a later group has not replaced).
  void Unoverlay(const Group& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(publish_mu_);
  bool AnyTimedOut() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(publish_mu_);
  // The earliest deadline of a pending group whose writers are not answered yet.
  std::optional<std::chrono::steady_clock::time_point> NextDeadline() const
      ABSL_LOCKS_EXCLUDED(publish_mu_);
  // Answers the writers of pending groups whose deadline passed.
  void ExpireDeadlines(std::chrono::steady_clock::time_point now)
      ABSL_LOCKS_EXCLUDED(complete_mu_, publish_mu_);

  Journal* const journal_;
  Keyspace* const keyspace_;
  ReplicationGate* const gate_;
  const PipelineOptions options_;

  mutable absl::Mutex mu_;
  absl::CondVar work_;  // signalled when queue_ gains work, a caller's group is done with
                        // more queued, a deadline is set, or stopping_ is set
  std::deque<Request> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_mutations_ ABSL_GUARDED_BY(mu_) = 0;  // their weight, in queue_
  bool committing_ ABSL_GUARDED_BY(mu_) = false;      // a group is being committed
  // The committer thread should take the queue: set by Submit, by CommitQueued handing a
  // large queue over, and after a group when more is queued. Queue() alone leaves it for
  // the caller's CommitQueued.
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;  // Pause: nothing is taken from queue_
  Status poisoned_ ABSL_GUARDED_BY(mu_);      // not OK once the journal failed
  Status refusal_ ABSL_GUARDED_BY(mu_);       // SetRefusal's reason
  Status no_space_ ABSL_GUARDED_BY(mu_);      // the disk filled: refused until Resume succeeds
  std::atomic<bool> refusing_{false};         // poisoned_, refusal_ or no_space_ is not OK

  // Groups written and not yet published, oldest first, and the overlay of their records
  // that later groups read. Taken after mu_ when both are needed.
  mutable absl::Mutex publish_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::deque<std::unique_ptr<Group>> pending_ ABSL_GUARDED_BY(publish_mu_);
  struct Overlaid {
    RecordPtr record;  // null: deleted
    uint64_t group = 0;
  };
  std::unordered_map<std::string, Overlaid, KeyHash, std::equal_to<>> overlay_
      ABSL_GUARDED_BY(publish_mu_);
  uint64_t overlay_cleared_by_ ABSL_GUARDED_BY(publish_mu_) = 0;  // a pending group cleared all
  uint64_t quorum_seq_ ABSL_GUARDED_BY(publish_mu_) = 0;  // highest seq the gate acknowledged
  uint64_t last_published_seq_ ABSL_GUARDED_BY(publish_mu_) = 0;
  uint64_t next_group_id_ ABSL_GUARDED_BY(publish_mu_) = 1;
  bool timed_out_ ABSL_GUARDED_BY(publish_mu_) = false;  // a pending group passed its deadline
  std::atomic<bool> quorum_lost_{false};                 // mirrors timed_out_ for WriteStatus
  std::atomic<size_t> pending_count_{0};  // pending_.size(), for the lock-free fast path
  // Completing groups runs on one thread at a time, so writers hear in order.
  absl::Mutex complete_mu_ ABSL_ACQUIRED_BEFORE(publish_mu_);

  Waiters waiters_;  // blocking commands waiting for a write (store/waiters.h)

  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> mutations_{0};
  std::atomic<uint64_t> groups_{0};
  std::atomic<uint64_t> changes_{0};

  std::thread committer_;  // last: started once everything above is constructed
};

}  // namespace devstate
