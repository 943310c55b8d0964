// CommitPipeline: the single writer of the store (DESIGN.md §2).
//
// Writers Submit() mutations from any thread. One committer thread takes everything queued
// (a group), applies each mutation in order against the current records, writes the whole
// group as one RocksDB WriteBatch with sync = true, waits for the replication gate, then
// publishes the new records to the keyspace and completes every waiter. One fsync thus
// serves every write that queued while the previous one ran.
//
// A failed journal write poisons the pipeline (leveldb's background error): the group's
// waiters, everything queued and every later write get an error, and nothing more is
// acknowledged. WriteStatus() says whether writes are accepted.
//
// Thread safety: Submit, WriteStatus and stats are safe from any thread. The journal,
// keyspace and gate must outlive the pipeline; only the pipeline writes to them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "store/journal.h"
#include "store/keyspace.h"
#include "store/mutation.h"
#include "store/replication_gate.h"

namespace devstate {

struct PipelineOptions {
  // Upper bound on mutations per group (a write's mutations are never split), so one group
  // cannot delay the writes behind it without bound.
  size_t max_group_mutations = 8192;
  // Wall clock in Unix epoch milliseconds, for expiry.
  std::function<int64_t()> now_ms;
  // Observer of each synced group (size in mutations, microseconds spent in the journal
  // commit), for metrics. Called on the committer thread.
  std::function<void(size_t mutations, int64_t commit_micros)> on_group;
};

struct PipelineStats {
  uint64_t writes = 0;     // submitted writes completed (any outcome)
  uint64_t mutations = 0;  // mutations applied
  uint64_t groups = 0;     // groups written to the journal
};

class CommitPipeline {
 public:
  CommitPipeline(Journal* journal, Keyspace* keyspace, ReplicationGate* gate,
                 PipelineOptions options);
  ~CommitPipeline();
  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;

  // Queues one atomic write (its mutations land in the same group) and calls `done` with
  // its outcome. An empty write completes at once with OK.
  void Submit(std::vector<Mutation> mutations, CommitCallback done);

  // Commits everything already queued, then stops the committer. Later writes fail with
  // Status::Shutdown. Idempotent.
  void Stop();

  // OK while writes are accepted; otherwise why they are refused.
  Status WriteStatus() const;

  PipelineStats stats() const;

 private:
  struct Request {
    std::vector<Mutation> mutations;
    CommitCallback done;
  };

  void Run();
  void CommitGroup(std::vector<Request>* group);
  void Refuse(const Status& cause);

  Journal* const journal_;
  Keyspace* const keyspace_;
  ReplicationGate* const gate_;
  const PipelineOptions options_;

  mutable std::mutex mu_;
  std::condition_variable work_;      // signalled when queue_ gains work or stopping_ is set
  std::deque<Request> queue_;         // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  Status refused_;                    // guarded by mu_; not OK once the journal failed
  std::atomic<bool> refusing_{false};  // mirrors !refused_.ok() for a lock-free check

  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> mutations_{0};
  std::atomic<uint64_t> groups_{0};

  std::thread committer_;  // last: started once everything above is constructed
};

}  // namespace devstate
