#include "store/commit_pipeline.h"

#include <rocksdb/write_batch.h>

#include <chrono>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "store/clock.h"
#include "store/thread_name.h"

namespace devstate {
CommitPipeline::CommitPipeline(Journal* journal, Keyspace* keyspace, ReplicationGate* gate,
                               PipelineOptions options)
    : journal_(journal), keyspace_(keyspace), gate_(gate), options_([&] {
        if (!options.now_ms) options.now_ms = SystemNowMs;
        if (options.max_group_mutations == 0) options.max_group_mutations = 1;
        return std::move(options);
      }()) {
  committer_ = std::thread([this] {
    SetThreadName("ds-committer");
    Run();
  });
}

CommitPipeline::~CommitPipeline() { Stop(); }

void CommitPipeline::Submit(std::vector<Mutation> mutations, CommitCallback done) {
  Enqueue(std::move(mutations), std::move(done), /*wake=*/true);
}

void CommitPipeline::Queue(std::vector<Mutation> mutations, CommitCallback done) {
  Enqueue(std::move(mutations), std::move(done), /*wake=*/false);
}

void CommitPipeline::Enqueue(std::vector<Mutation> mutations, CommitCallback done, bool wake) {
  Status rejected;
  {
    std::lock_guard lock(mu_);
    if (!refused_.ok()) {
      rejected = refused_;
    } else if (stopping_) {
      rejected = Status::Shutdown("the store is shutting down");
    } else {
      queued_mutations_ += mutations.size();
      queue_.push_back(Request{std::move(mutations), std::move(done)});
      if (wake && !committing_) work_.notify_one();  // a running committer looks again when done
      return;
    }
  }
  writes_.fetch_add(1, std::memory_order_relaxed);
  done(rejected, 0);
}

void CommitPipeline::CommitQueued() {
  std::vector<Request> group;
  {
    std::lock_guard lock(mu_);
    if (committing_ || queue_.empty()) return;
    if (queued_mutations_ > options_.max_inline_mutations) {
      work_.notify_one();
      return;
    }
    TakeGroup(&group);
  }
  CommitTaken(&group);
}

void CommitPipeline::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    work_.notify_one();
  }
  if (committer_.joinable()) committer_.join();
}

Status CommitPipeline::WriteStatus() const {
  if (!refusing_.load(std::memory_order_acquire)) return Status::OK();
  std::lock_guard lock(mu_);
  return refused_;
}

PipelineStats CommitPipeline::stats() const {
  return PipelineStats{writes_.load(std::memory_order_relaxed),
                       mutations_.load(std::memory_order_relaxed),
                       groups_.load(std::memory_order_relaxed)};
}

void CommitPipeline::Run() {
  std::vector<Request> group;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_.wait(lock, [this] { return (!queue_.empty() || stopping_) && !committing_; });
      if (queue_.empty()) return;  // stopping, and everything queued is committed
      TakeGroup(&group);
    }
    CommitTaken(&group);
    group.clear();
  }
}

void CommitPipeline::TakeGroup(std::vector<Request>* group) {
  committing_ = true;
  size_t taken = 0;
  while (!queue_.empty() && (group->empty() || taken + queue_.front().mutations.size() <=
                                                   options_.max_group_mutations)) {
    taken += queue_.front().mutations.size();
    group->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  queued_mutations_ -= taken;
}

void CommitPipeline::CommitTaken(std::vector<Request>* group) {
  CommitGroup(group);
  writes_.fetch_add(group->size(), std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  committing_ = false;
  // The committer thread may be waiting out a caller's group; it is not woken otherwise.
  if (!queue_.empty() || stopping_) work_.notify_one();
}

void CommitPipeline::CommitGroup(std::vector<Request>* group) {
  if (refusing_.load(std::memory_order_acquire)) {
    Status refused = WriteStatus();
    for (Request& r : *group) r.done(refused, 0);
    return;
  }

  const int64_t now = options_.now_ms();
  rocksdb::WriteBatch batch;
  // The group's view of each key it touches: the committed record overlaid with the
  // group's earlier changes (null: deleted). Keys point into the group's mutations.
  std::unordered_map<std::string_view, RecordPtr> staged;
  size_t applied = 0;
  for (Request& request : *group) {
    for (Mutation& m : request.mutations) {
      RecordPtr current;
      auto it = staged.find(m.key);
      if (it != staged.end()) {
        current = it->second;
      } else {
        current = keyspace_->Get(m.key);
        if (current && current->ExpiredAt(now)) {
          // An expired record is gone for every reader; remove it durably with this group.
          batch.Delete(m.key);
          current = nullptr;
          staged.emplace(m.key, nullptr);
        }
      }
      Change change = m.apply(current);
      ++applied;
      switch (change.kind) {
        case Change::Kind::kNone:
          break;
        case Change::Kind::kPut:
          batch.Put(m.key, EncodeRecord(*change.record));
          staged[m.key] = std::move(change.record);
          break;
        case Change::Kind::kDelete:
          if (current) {
            batch.Delete(m.key);
            staged[m.key] = nullptr;
          }
          break;
      }
    }
  }
  mutations_.fetch_add(applied, std::memory_order_relaxed);

  if (batch.Count() == 0) {
    // Nothing changed: every outcome rests on state that is already committed.
    const uint64_t seq = journal_->LastSequence();
    for (Request& r : *group) r.done(Status::OK(), seq);
    return;
  }

  const auto start = std::chrono::steady_clock::now();
  uint64_t seq = 0;
  Status s = journal_->Commit(&batch, &seq);
  if (!s.ok()) {
    Refuse(s);
    for (Request& r : *group) r.done(s, 0);
    return;
  }
  groups_.fetch_add(1, std::memory_order_relaxed);
  if (options_.on_group) {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    options_.on_group(applied, micros);
  }

  const Status quorum = gate_->AwaitQuorum(seq, batch.Data());

  // Publish only now: readers never see a write before it is in the journal.
  for (auto& [key, record] : staged) {
    if (record) {
      keyspace_->Put(key, std::move(record));
    } else {
      keyspace_->Erase(key);
    }
  }
  for (Request& r : *group) r.done(quorum, seq);
}

void CommitPipeline::Refuse(const Status& cause) {
  std::deque<Request> queued;
  Status refused =
      Status::WriteRefused("writes refused after a journal failure: " + cause.ToString());
  {
    std::lock_guard lock(mu_);
    refused_ = refused;
    refusing_.store(true, std::memory_order_release);
    queued.swap(queue_);
    queued_mutations_ = 0;
  }
  for (Request& r : queued) r.done(refused, 0);
  writes_.fetch_add(queued.size(), std::memory_order_relaxed);
}

}  // namespace devstate
