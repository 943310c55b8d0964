// Store: the durable keyspace, as the rest of devstate sees it.
//
// Reads come from memory (Keyspace) and never touch the journal. Writes go through the one
// CommitPipeline and complete only after their group is synced to the journal (and
// acknowledged by the replication gate). At Open the keyspace is rebuilt from the journal,
// so it holds exactly what was acknowledged before a crash (and possibly writes whose
// acknowledgement was lost with the crash). Open writes nothing: expired records are loaded
// (reads skip them) and the primary's expiry sweeper removes them through the pipeline, so
// a replica's journal never gains a write of its own.
//
// The defaults below are the config table's defaults too (service/config.cc reads them).
//
// Thread safety: every method is safe from any thread. Close (or the destructor) must not
// race with writes that expect to succeed: they fail with Status::Shutdown after it.
#pragma once

#include <absl/synchronization/mutex.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/commit_pipeline.h"
#include "store/journal.h"
#include "store/keyspace.h"
#include "store/mutation.h"
#include "store/replication/epochs.h"
#include "store/replication/frames.h"
#include "store/replication/hub.h"
#include "store/replication_gate.h"
#include "store/status.h"

namespace devstate {

struct StoreOptions {
  std::string dir;
  rocksdb::Env* env = nullptr;  // fault injection in tests; not owned
  // Not owned; null: the store's own ReplicationHub is the gate (replicas may attach).
  // Tests pass their own gate.
  ReplicationGate* gate = nullptr;
  // Replicas that must hold a group before its writers are answered (DESIGN.md §5).
  size_t min_replicas_ack = 0;
  // Told (any thread) when a replica has heard of a newer epoch than this node's.
  std::function<void(uint64_t term)> on_newer_epoch;
  // See PipelineOptions.
  size_t max_group_mutations = 8192;
  size_t max_inline_mutations = 64;
  std::chrono::milliseconds ack_timeout{2000};
  std::function<int64_t()> now_ms;  // wall clock in epoch ms; defaults to the system clock
  std::function<void(size_t mutations, int64_t commit_micros)> on_group;
  std::function<void(int64_t quorum_micros)> on_quorum;
  LogFn log;  // RocksDB's own log lines (see JournalOptions)
  // How long, and how much of, the log is kept for replicas that fell behind.
  uint64_t wal_retention_s = 3600;
  uint64_t wal_retention_mb = 256;
  uint64_t write_buffer_mb = JournalOptions{}.write_buffer_mb;  // see JournalOptions
};

class Store {
 public:
  static Status Open(const StoreOptions& options, std::unique_ptr<Store>* store);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The live (present, unexpired) record under `key`, or null.
  RecordPtr Get(std::string_view key) const;

  // See Keyspace::Prefetch.
  void Prefetch(std::span<const std::string_view> keys) const { keyspace_.Prefetch(keys); }

  // Submits one atomic write; see CommitPipeline::Submit and CommitCallback.
  void Write(std::vector<Mutation> mutations, CommitCallback done);
  // An event loop's writes; see CommitPipeline::Queue and CommitQueued.
  void Queue(std::vector<Mutation> mutations, CommitCallback done) {
    pipeline_->Queue(std::move(mutations), std::move(done));
  }
  void CommitQueued() { pipeline_->CommitQueued(); }

  // Write and wait for the outcome. *seq (optional) receives the group's journal position.
  Status WriteAndWait(std::vector<Mutation> mutations, uint64_t* seq = nullptr);

  Status WriteStatus() const { return pipeline_->WriteStatus(); }
  uint64_t LastSequence() const;
  // See Journal::BackgroundJobs; 0 once closed.
  uint64_t BackgroundJobs() const { return journal_ ? journal_->BackgroundJobs() : 0; }
  // See Journal::MemtableBytes; 0 once closed.
  uint64_t MemtableBytes() const { return journal_ ? journal_->MemtableBytes() : 0; }
  const Keyspace& keyspace() const { return keyspace_; }
  PipelineStats stats() const { return pipeline_->stats(); }
  CommitPipeline& pipeline() { return *pipeline_; }
  int64_t NowMs() const { return now_ms_(); }

  // Commits what is queued, stops the pipeline and closes the journal. Idempotent.
  void Close();

  // ---- Replication (DESIGN.md §5) ----

  // Starts a new epoch, above every epoch this node has heard of, and takes writes: this
  // node is the primary. The epoch's marker is queued ahead of every later write (its
  // group is the epoch's first); the call does not wait for it. *epoch is the new epoch.
  Status BecomePrimary(uint64_t* epoch);
  // Refuses writes with `why` (a NotPrimary status naming the primary) and detaches this
  // node's own replicas: this node follows a primary.
  void BecomeReplica(const Status& why);

  uint64_t Epoch() const { return epochs_.Current(); }
  // The highest epoch heard of: this node's own, or a peer's (RaiseTerm); kept durably.
  uint64_t Term() const;
  Status RaiseTerm(uint64_t term);
  EpochHistory& epochs() { return epochs_; }
  // The store's own gate, where replicas attach; null when the options named another.
  replication::ReplicationHub* hub() { return hub_.get(); }

  // A replica's writes: groups received from the primary, in order, each starting right
  // after the journal's last position. They are appended, synced once, then published;
  // epoch markers among them extend the history. Corruption: a group does not follow or is
  // malformed (nothing of it is applied: drop the link and resync). Any other failure is
  // the journal's: the replica must stop acknowledging.
  Status ApplyGroups(const std::vector<replication::GroupFrame>& groups);
  // Told, on the applier's thread once a received group is published (visible to reads),
  // of each record it put whole, in order; composite records changed field by field are
  // not told. The service turns the device records among them into device change events
  // (a replica's SSE streams and device channels). Set before the node replicates.
  using AppliedPuts = std::function<void(const std::vector<std::pair<std::string, RecordPtr>>&)>;
  void OnAppliedPuts(AppliedPuts fn) { applied_puts_ = std::move(fn); }
  // Replaces everything with a full copy from the primary (a checkpoint in `dir`) and
  // reloads the keyspace and the history from it; reads answer "loading" meanwhile.
  Status InstallCopy(const std::string& dir);
  bool loading() const { return loading_.load(std::memory_order_acquire); }
  // Where full copies are staged (sent or received): a directory beside the journal's files.
  std::string StagingDir() const;

  // One operation of a received group, decoded: a record put or deleted, the keys in
  // [key, end) deleted (FLUSHALL), or a composite record's field set, removed, or all of
  // its fields removed (the record replaced or deleted).
  struct Replicated {
    enum class Op : uint8_t { kPut, kDelete, kRange, kPutField, kDeleteField, kClearFields };
    Op op = Op::kPut;
    std::string key;
    RecordPtr record;   // kPut
    std::string end;    // kRange
    std::string name;   // kPutField, kDeleteField
    std::string value;  // kPutField
  };

 private:
  Store() = default;
  Status Recover();
  // Publishes one received group; appends the records it put whole to *puts.
  void PublishReplicated(std::vector<Replicated> changes,
                         std::vector<std::pair<std::string, RecordPtr>>* puts);

  std::string dir_;
  std::function<int64_t()> now_ms_;
  Keyspace keyspace_;
  EpochHistory epochs_;
  mutable absl::Mutex term_mu_;
  uint64_t term_ ABSL_GUARDED_BY(term_mu_) = 0;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<replication::ReplicationHub> hub_;
  std::unique_ptr<CommitPipeline> pipeline_;
  std::atomic<bool> loading_{false};
  AppliedPuts applied_puts_;
  uint64_t closed_sequence_ = 0;
};

}  // namespace devstate
