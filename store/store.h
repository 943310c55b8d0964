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
#include "store/replication_gate.h"
#include "store/status.h"

namespace devstate {

struct StoreOptions {
  std::string dir;
  rocksdb::Env* env = nullptr;      // fault injection in tests; not owned
  ReplicationGate* gate = nullptr;  // not owned; null means a single node (NoReplicas)
  // See PipelineOptions.
  size_t max_group_mutations = 8192;
  size_t max_inline_mutations = 64;
  std::chrono::milliseconds ack_timeout{2000};
  std::function<int64_t()> now_ms;  // wall clock in epoch ms; defaults to the system clock
  std::function<void(size_t mutations, int64_t commit_micros)> on_group;
  LogFn log;  // RocksDB's own log lines (see JournalOptions)
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
  const Keyspace& keyspace() const { return keyspace_; }
  PipelineStats stats() const { return pipeline_->stats(); }
  CommitPipeline& pipeline() { return *pipeline_; }
  int64_t NowMs() const { return now_ms_(); }

  // Commits what is queued, stops the pipeline and closes the journal. Idempotent.
  void Close();

 private:
  Store() = default;
  Status Recover();

  std::function<int64_t()> now_ms_;
  NoReplicas no_replicas_;
  Keyspace keyspace_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<CommitPipeline> pipeline_;
  uint64_t closed_sequence_ = 0;
};

}  // namespace devstate
