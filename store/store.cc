#include "store/store.h"

#include <absl/cleanup/cleanup.h>
#include <absl/container/flat_hash_map.h>
#include <malloc.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <future>
#include <utility>

#include "store/clock.h"

namespace devstate {

Status Store::Open(const StoreOptions& options, std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> store(new Store());
  store->now_ms_ = options.now_ms ? options.now_ms : SystemNowMs;
  JournalOptions journal;
  journal.dir = options.dir;
  journal.log = options.log;
  journal.env = options.env;
  journal.wal_retention_s = options.wal_retention_s;
  journal.wal_retention_mb = options.wal_retention_mb;
  journal.write_buffer_mb = options.write_buffer_mb;
  store->dir_ = options.dir;
  Status s = Journal::Open(journal, &store->journal_);
  if (!s.ok()) return s;
  s = store->Recover();
  if (!s.ok()) return s;
  uint64_t term = 0;
  s = LoadTerm(options.dir, &term);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&store->term_mu_);
    store->term_ = term;
  }

  PipelineOptions popts;
  popts.max_group_mutations = options.max_group_mutations;
  popts.max_inline_mutations = options.max_inline_mutations;
  popts.ack_timeout = options.ack_timeout;
  popts.now_ms = store->now_ms_;
  popts.on_group = options.on_group;
  popts.on_quorum = options.on_quorum;
  popts.log = options.log;
  EpochHistory* epochs = &store->epochs_;
  popts.on_epoch = [epochs](uint64_t epoch, uint64_t first_seq) {
    epochs->Add(EpochHistory::Entry{epoch, first_seq});
  };
  ReplicationGate* gate = options.gate;
  if (gate == nullptr) {
    replication::HubOptions hub;
    hub.min_replicas_ack = options.min_replicas_ack;
    hub.staging_dir = store->StagingDir() + "/send";
    hub.log = options.log;
    hub.on_newer_epoch = options.on_newer_epoch;
    store->hub_ = std::make_unique<replication::ReplicationHub>(store->journal_.get(),
                                                                &store->epochs_, std::move(hub));
    gate = store->hub_.get();
  }
  store->pipeline_ = std::make_unique<CommitPipeline>(store->journal_.get(), &store->keyspace_,
                                                      gate, std::move(popts));
  *out = std::move(store);
  return Status::OK();
}

Status Store::Recover() {
  // Composite records are put once their fields are loaded (records are immutable once in
  // the keyspace); their fields come from the "fields" family, in key order.
  absl::flat_hash_map<std::string, std::pair<RecordPtr, std::shared_ptr<FieldMap>>> composite;
  // Whatever was loaded is in scan order when this returns, failed or not.
  absl::Cleanup order_loaded = [this] { keyspace_.FinishLoad(); };
  Status s = journal_->Load([&](std::string_view key, std::string_view value) {
    RecordPtr record;
    std::shared_ptr<FieldMap> fields;
    Status d = DecodeRecord(value, &record, &fields);
    if (!d.ok()) return Status::Corruption("key '" + std::string(key) + "': " + d.message());
    if (fields) {
      composite.emplace(key, std::make_pair(std::move(record), std::move(fields)));
      return Status::OK();
    }
    keyspace_.Load(key, std::move(record));
    return Status::OK();
  });
  if (!s.ok()) return s;
  s = journal_->LoadFields([&](std::string_view journal_key, std::string_view value) {
    std::string_view key, name;
    if (!ParseFieldJournalKey(journal_key, &key, &name)) {
      return Status::Corruption("a field's journal key is malformed");
    }
    auto it = composite.find(std::string(key));
    // A field without its record cannot be written (a record's deletion removes its
    // fields in the same group); one left by a torn range delete is ignored.
    if (it != composite.end()) it->second.second->Set(name, std::string(value));
    return Status::OK();
  });
  if (!s.ok()) return s;
  for (auto& [key, entry] : composite) {
    if (!entry.second->empty()) keyspace_.Load(key, std::move(entry.first));
  }
  return journal_->LoadMeta([&](std::string_view key, std::string_view value) {
    EpochHistory::Entry entry;
    if (EpochHistory::ParseMarker(key, value, &entry)) epochs_.Add(entry);
    return Status::OK();
  });
}

Store::~Store() { Close(); }

void Store::Close() {
  // The pipeline object stays, stopped, so a late Write gets Status::Shutdown.
  if (pipeline_) pipeline_->Stop();
  if (hub_) hub_->Shutdown();  // its feeds read the journal
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

namespace devstate {

std::string Store::StagingDir() const { return dir_ + "/replication"; }

uint64_t Store::Term() const {
  absl::MutexLock lock(&term_mu_);
  return std::max(term_, epochs_.Current());
}

Status Store::RaiseTerm(uint64_t term) {
  absl::MutexLock lock(&term_mu_);
  if (term <= term_) return Status::OK();
  Status s = SaveTerm(dir_, term);
  if (s.ok()) term_ = term;
  return s;
}

Status Store::BecomePrimary(uint64_t* epoch) {
  const uint64_t next = Term() + 1;
  // The term first: even a crash before the marker is journaled never hands this epoch
  // out twice.
  Status s = RaiseTerm(next);
  if (!s.ok()) return s;
  pipeline_->SetRefusal(Status::OK());
  // Queued ahead of every write of the new epoch; not waited for, since with replicas
  // required its acknowledgement needs them, and they may attach only once this node
  // serves. A marker the journal refuses poisons the pipeline like any write.
  pipeline_->BeginEpoch(next, [](const Status&, uint64_t) {});
  *epoch = next;
  return Status::OK();
}

void Store::BecomeReplica(const Status& why) {
  pipeline_->SetRefusal(why);
  if (hub_) hub_->DetachAll("this node follows another primary now");
}

namespace {

// A received group's operations, checked and decoded: records to put (null: delete), key
// ranges to delete, epoch markers. Anything else, or a record that does not decode, makes
// the group malformed.
class GroupDecoder final : public rocksdb::WriteBatch::Handler {
 public:
  using Op = Store::Replicated::Op;
  static constexpr uint32_t kMetaFamily = 1;
  static constexpr uint32_t kFieldsFamily = 2;

  std::vector<Store::Replicated> changes;
  std::vector<EpochHistory::Entry> epochs;

  rocksdb::Status PutCF(uint32_t family, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    if (family == kMetaFamily) {
      EpochHistory::Entry e;
      if (EpochHistory::ParseMarker(key.ToStringView(), value.ToStringView(), &e)) {
        epochs.push_back(e);
      }
      return rocksdb::Status::OK();
    }
    if (family == kFieldsFamily) return Field(key, value.ToString(), false);
    if (family != 0) return rocksdb::Status::Corruption("unknown column family");
    RecordPtr record;
    Status d = DecodeRecord(value.ToStringView(), &record);
    if (!d.ok()) return rocksdb::Status::Corruption(d.message());
    Add(Op::kPut, key.ToString()).record = std::move(record);
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t family, const rocksdb::Slice& key) override {
    if (family == 0) Add(Op::kDelete, key.ToString());
    if (family == kFieldsFamily) return Field(key, {}, true);
    return family <= kFieldsFamily ? rocksdb::Status::OK()
                                   : rocksdb::Status::Corruption("unknown column family");
  }
  rocksdb::Status SingleDeleteCF(uint32_t family, const rocksdb::Slice& key) override {
    return DeleteCF(family, key);
  }
  rocksdb::Status DeleteRangeCF(uint32_t family, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    if (family == 0) {
      Add(Op::kRange, begin.ToString()).end = end.ToString();
      return rocksdb::Status::OK();
    }
    if (family != kFieldsFamily) return rocksdb::Status::Corruption("unknown column family");
    // One key's fields (its record replaced or deleted), or all of them (FLUSHALL, whose
    // range delete of the records removes the records too).
    if (begin.empty()) return rocksdb::Status::OK();
    std::string_view k, name;
    if (!ParseFieldJournalKey(begin.ToStringView(), &k, &name) || !name.empty() ||
        end.ToStringView() != FieldRangeEnd(k)) {
      return rocksdb::Status::Corruption("a range of fields that is not one key's");
    }
    Add(Op::kClearFields, std::string(k));
    return rocksdb::Status::OK();
  }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::Corruption("merge operations are not devstate's");
  }
  void LogData(const rocksdb::Slice&) override {}

 private:
  Store::Replicated& Add(Op op, std::string key) {
    Store::Replicated& c = changes.emplace_back();
    c.op = op;
    c.key = std::move(key);
    return c;
  }

  rocksdb::Status Field(const rocksdb::Slice& journal_key, std::string value, bool erase) {
    std::string_view key, name;
    if (!ParseFieldJournalKey(journal_key.ToStringView(), &key, &name)) {
      return rocksdb::Status::Corruption("a field's journal key is malformed");
    }
    Store::Replicated& c = Add(erase ? Op::kDeleteField : Op::kPutField, std::string(key));
    c.name = name;
    c.value = std::move(value);
    return rocksdb::Status::OK();
  }
};

}  // namespace

Status Store::ApplyGroups(const std::vector<replication::GroupFrame>& groups) {
  struct Decoded {
    GroupDecoder decoder;
  };
  std::vector<Decoded> decoded(groups.size());
  // Check everything before writing anything: a malformed group is never half applied.
  uint64_t expect = journal_->LastSequence() + 1;
  for (size_t i = 0; i < groups.size(); ++i) {
    const replication::GroupFrame& g = groups[i];
    if (g.first_seq != expect) {
      return Status::Corruption("a group at position " + std::to_string(g.first_seq) +
                                " does not follow " + std::to_string(expect - 1));
    }
    if (g.batch.size() < 12) return Status::Corruption("a group's batch is truncated");
    rocksdb::WriteBatch batch{std::string(g.batch)};
    if (batch.Count() != g.last_seq - g.first_seq + 1) {
      return Status::Corruption("a group's operations do not match its positions");
    }
    rocksdb::Status s = batch.Iterate(&decoded[i].decoder);
    if (!s.ok()) return Status::Corruption("a malformed group: " + s.ToString());
    expect = g.last_seq + 1;
  }
  for (const replication::GroupFrame& g : groups) {
    rocksdb::WriteBatch batch{std::string(g.batch)};
    uint64_t first = 0, last = 0;
    Status s = journal_->Append(&batch, &first, &last);
    if (!s.ok()) return s;
    if (first != g.first_seq || last != g.last_seq) {
      return Status::IOError("the journal placed a group at " + std::to_string(first) +
                             " instead of " + std::to_string(g.first_seq));
    }
  }
  Status s = journal_->Sync();
  if (!s.ok()) return Status::IOError("fsync: " + s.message());
  std::vector<std::pair<std::string, RecordPtr>> puts;
  for (Decoded& d : decoded) {
    for (const EpochHistory::Entry& e : d.decoder.epochs) epochs_.Add(e);
    PublishReplicated(std::move(d.decoder.changes), applied_puts_ ? &puts : nullptr);
  }
  if (applied_puts_ && !puts.empty()) applied_puts_(puts);
  return Status::OK();
}

void Store::PublishReplicated(std::vector<Replicated> changes,
                              std::vector<std::pair<std::string, RecordPtr>>* puts) {
  // Composite records changed field by field: each is copied once, changed in place by
  // the group's operations in order, then published with the rest.
  struct Building {
    RecordPtr record;                  // null: the key is deleted
    std::shared_ptr<FieldMap> fields;  // what `record` holds, changed before it is published
  };
  absl::flat_hash_map<std::string, Building> building;
  auto current = [&](const std::string& key) -> RecordPtr {
    if (auto it = building.find(key); it != building.end()) return it->second.record;
    return keyspace_.Get(key);
  };
  // The key's record as a mutable composite (copied from the current one), or null.
  auto composite = [&](const std::string& key) -> Building* {
    auto it = building.find(key);
    if (it == building.end()) {
      RecordPtr now = keyspace_.Get(key);
      if (!now || !now->fields()) return nullptr;
      auto fields = std::make_shared<FieldMap>(*now->fields());
      it = building.emplace(key, Building{now->WithFields(fields), fields}).first;
    }
    return it->second.fields ? &it->second : nullptr;
  };
  auto publish = [&] {
    for (auto& [key, b] : building) {
      if (b.record && !(b.fields && b.fields->empty())) {
        keyspace_.Put(key, std::move(b.record));
      } else {
        keyspace_.Erase(key);
      }
    }
    building.clear();
  };
  for (Replicated& c : changes) {
    switch (c.op) {
      case Replicated::Op::kPut:
        if (c.record->fields()) {
          // A composite header: the fields stay unless the key held none.
          RecordPtr now = current(c.key);
          const FieldMap& kind = *c.record->fields();
          auto fields = now && now->fields() && now->fields()->scored() == kind.scored()
                            ? std::make_shared<FieldMap>(*now->fields())
                            : std::make_shared<FieldMap>(kind.EmptyLike());
          building.insert_or_assign(c.key, Building{c.record->WithFields(fields), fields});
        } else if (building.contains(c.key)) {
          building[c.key] = Building{std::move(c.record), nullptr};
        } else {
          if (puts != nullptr) puts->emplace_back(c.key, c.record);
          keyspace_.Put(c.key, std::move(c.record));
        }
        break;
      case Replicated::Op::kDelete:
        if (building.contains(c.key)) {
          building[c.key] = Building{};
        } else {
          keyspace_.Erase(c.key);
        }
        break;
      case Replicated::Op::kPutField:
        if (Building* b = composite(c.key)) b->fields->Set(c.name, std::move(c.value));
        break;
      case Replicated::Op::kDeleteField:
        if (Building* b = composite(c.key)) b->fields->Erase(c.name);
        break;
      case Replicated::Op::kClearFields:
        if (Building* b = composite(c.key)) b->fields->Clear();
        break;
      case Replicated::Op::kRange: {
        // A range delete (FLUSHALL): every key in [key, end).
        publish();
        std::vector<std::string> doomed;
        uint64_t cursor = 0;
        do {
          cursor = keyspace_.Scan(cursor, 4096, [&](const std::string& k, const RecordPtr&) {
            if (k >= c.key && k < c.end) doomed.push_back(k);
          });
        } while (cursor != 0);
        for (const std::string& k : doomed) keyspace_.Erase(k);
        break;
      }
    }
  }
  publish();
  keyspace_.Published();
}

Status Store::InstallCopy(const std::string& dir) {
  loading_.store(true, std::memory_order_release);
  Status s = journal_->Replace(dir);
  keyspace_.Clear();
  epochs_.Clear();
  if (s.ok()) s = Recover();
  loading_.store(false, std::memory_order_release);
  keyspace_.Published();
  return s;
}

}  // namespace devstate
