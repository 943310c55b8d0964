#include "store/store.h"

#include <future>
#include <utility>

#include "store/clock.h"

namespace devstate {

Status Store::Open(const StoreOptions& options, std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store());
  store->now_ms_ = options.now_ms ? options.now_ms : SystemNowMs;
  Status s = Journal::Open(JournalOptions{options.dir, options.log, options.env}, &store->journal_);
  if (!s.ok()) return s;
  s = store->Recover();
  if (!s.ok()) return s;

  PipelineOptions popts;
  popts.max_group_mutations = options.max_group_mutations;
  popts.max_inline_mutations = options.max_inline_mutations;
  popts.ack_timeout = options.ack_timeout;
  popts.now_ms = store->now_ms_;
  popts.on_group = options.on_group;
  popts.log = options.log;
  ReplicationGate* gate = options.gate != nullptr ? options.gate : &store->no_replicas_;
  store->pipeline_ = std::make_unique<CommitPipeline>(store->journal_.get(), &store->keyspace_,
                                                      gate, std::move(popts));
  *out = std::move(store);
  return Status::OK();
}

Status Store::Recover() {
  return journal_->Load([&](std::string_view key, std::string_view value) {
    auto record = std::make_shared<Record>();
    Status d = DecodeRecord(value, record.get());
    if (!d.ok()) return Status::Corruption("key '" + std::string(key) + "': " + d.message());
    keyspace_.Put(key, std::move(record));
    return Status::OK();
  });
}

Store::~Store() { Close(); }

void Store::Close() {
  // The pipeline object stays, stopped, so a late Write gets Status::Shutdown.
  if (pipeline_) pipeline_->Stop();
  if (journal_) {
    closed_sequence_ = journal_->LastSequence();
    journal_.reset();
  }
}

uint64_t Store::LastSequence() const {
  return journal_ ? journal_->LastSequence() : closed_sequence_;
}

RecordPtr Store::Get(std::string_view key) const {
  RecordPtr record = keyspace_.Get(key);
  if (record && record->ExpiredAt(now_ms_())) return nullptr;
  return record;
}

void Store::Write(std::vector<Mutation> mutations, CommitCallback done) {
  pipeline_->Submit(std::move(mutations), std::move(done));
}

Status Store::WriteAndWait(std::vector<Mutation> mutations, uint64_t* seq) {
  std::promise<std::pair<Status, uint64_t>> promise;
  auto future = promise.get_future();
  Write(std::move(mutations), [&promise](const Status& s, uint64_t n) {
    promise.set_value({s, n});
  });
  auto [status, n] = future.get();
  if (seq != nullptr) *seq = n;
  return status;
}

}  // namespace devstate
