#include "store/commit_pipeline.h"

#include <absl/time/time.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <chrono>
#include <span>
#include <string_view>
#include <utility>

#include "store/clock.h"
#include "store/group_batch.h"
#include "store/replication/epochs.h"
#include "store/thread_name.h"

namespace devstate {

size_t Weight(const std::vector<Mutation>& mutations) {
  size_t weight = 0;
  for (const Mutation& m : mutations) weight += m.weight;
  return weight;
}

void ApplyChange(KeyView& view, std::string_view key, Change change) {
  switch (change.kind) {
    case Change::Kind::kNone:
      break;
    case Change::Kind::kPut:
      view.Put(key, std::move(change.record));
      break;
    case Change::Kind::kDelete:
      view.Delete(key);
      break;
    case Change::Kind::kPatch:
      view.Patch(key, std::move(change.record), change.ops);
      break;
  }
}

// Starts the keyspace lookups of a group's next mutations together, a window at a time,
// before they are applied one by one: on a keyspace larger than the caches each lookup is a
// chain of misses, and started together their misses overlap (Keyspace::Prefetch).
// Requests: a vector of CommitPipeline::Request.
template <typename Requests>
class PrefetchWindow {
 public:
  PrefetchWindow(const Keyspace* keyspace, const Requests& requests)
      : keyspace_(keyspace), requests_(requests) {}

  // Call before applying each mutation, in order.
  void Next() {
    if (left_ == 0) Fill();
    --left_;
  }

 private:
  static constexpr size_t kWindow = 16;

  // Prefetches the next kWindow mutations' keys, from the cursor on, and moves it past them.
  void Fill() {
    std::array<std::string_view, kWindow> keys;
    size_t n = 0;
    left_ = 0;
    while (left_ < kWindow && request_ < requests_.size()) {
      const std::vector<Mutation>& mutations = requests_[request_].mutations;
      if (mutation_ == mutations.size()) {
        ++request_;
        mutation_ = 0;
        continue;
      }
      const Mutation& m = mutations[mutation_++];
      if (!m.txn) keys[n++] = m.key;
      ++left_;
    }
    if (n > 1) keyspace_->Prefetch(std::span(keys.data(), n));
  }

  const Keyspace* keyspace_;
  const Requests& requests_;
  size_t request_ = 0, mutation_ = 0;  // the first mutation not yet in a window
  size_t left_ = 0;                    // mutations of the current window not yet applied
};

void ApplyTo(Mutation& m, KeyView& view) {
  if (m.txn) return m.txn(view);
  if (m.edit) {
    bool reusable = false;
    RecordPtr current = view.GetForEdit(m.key, &reusable);  // held until the change replaced it
    return ApplyChange(view, m.key, m.edit(current, reusable));
  }
  ApplyChange(view, m.key, m.apply(view.Get(m.key)));
}

// A group's view of the store while it is applied: its own changes, over the groups
// written and not yet published (the overlay), over the keyspace. Changes go to the
// group's batch and its staged records.
class CommitPipeline::View final : public KeyView {
 public:
  View(CommitPipeline* pipeline, Group* group, GroupBatch* batch, int64_t now)
      : pipeline_(pipeline), group_(group), batch_(batch), now_(now) {}

  RecordPtr Get(std::string_view key) override {
    RecordPtr current = Current(key);
    if (current && current->ExpiredAt(now_)) {
      // An expired record is gone for every reader; remove it durably with this group.
      Remove(key, *current);
      group_->staged.insert_or_assign(std::string(key), nullptr);
      current = nullptr;
    }
    Remember(key, current);
    return current;
  }

  RecordPtr GetForEdit(std::string_view key, bool* reusable) override {
    RecordPtr current = Get(key);
    // Staged by this group, so neither a reader nor a later group can hold it; its holders
    // are then the group's staging, last_ (Get remembered it) and `current`. Any other
    // (a txn's copy, a notification's log) makes it 4 or more.
    auto it = current ? group_->staged.find(key) : group_->staged.end();
    *reusable = it != group_->staged.end() && it->second == current && last_ == current &&
                current->use_count() == 3;
    return current;
  }

  void Put(std::string_view key, RecordPtr record) override {
    // A composite record replaced loses its fields' entries first.
    const RecordPtr old = Before(key);
    if (old && old->fields() && old->fields() == record->fields()) {
      // The same fields under a new header (EXPIRE, PERSIST): the header alone.
      batch_->Put(nullptr, key, EncodeRecord(*record));
      return Stage(key, std::move(record));
    }
    if (old && old->fields())
      batch_->DeleteRange(fields_, FieldRangeBegin(key), FieldRangeEnd(key));
    batch_->Put(nullptr, key, EncodeRecord(*record));
    if (record->fields()) {
      record->fields()->ForEach([&](std::string_view name, std::string_view value) {
        batch_->Put(fields_, FieldJournalKey(key, name), value);
      });
    }
    Stage(key, std::move(record));
  }

  void Patch(std::string_view key, RecordPtr record, std::span<const FieldOp> ops) override {
    const RecordPtr old = Before(key);
    if (!old || !old->fields() || !record->fields()) return Put(key, std::move(record));
    if (old->type() != record->type() || old->expire_at_ms() != record->expire_at_ms() ||
        old->value() != record->value() || old->meta() != record->meta()) {
      batch_->Put(nullptr, key, EncodeRecord(*record));
    }
    for (const FieldOp& op : ops) {
      if (op.erase) {
        batch_->Delete(fields_, FieldJournalKey(key, op.name));
      } else {
        batch_->Put(fields_, FieldJournalKey(key, op.name), op.value);
      }
    }
    Stage(key, std::move(record));
  }

  void Delete(std::string_view key) override {
    RecordPtr old = has_last_ && key == last_key_ ? last_ : Get(key);  // expiry applies
    if (!old) return;
    Remove(key, *old);
    Stage(key, nullptr);
  }

  void Clear() override {
    // One range delete covers every key the journal holds (the keyspace and the overlay
    // are in it) and those this group put before: O(1) in the journal, as FLUSHALL is one
    // entry in Redis's AOF. Fields' keys start with a 4-byte length, below 0xff.
    std::string last;
    bool any = pipeline_->journal_->LastKey(&last);
    for (const auto& [key, record] : group_->staged) {
      if (record && (!any || key > last)) {
        last = key;
        any = true;
      }
    }
    if (any) {
      batch_->DeleteRange(nullptr, std::string_view(), last + '\0');
      batch_->DeleteRange(fields_, std::string_view(), std::string_view("\xff", 1));
    }
    group_->staged.clear();
    group_->cleared = true;
    has_last_ = false;
    // Every key is removed: its waiters hear of it as of a DEL.
    if (!pipeline_->waiters_.empty()) {
      for (std::string& key : pipeline_->waiters_.Keys()) written_.push_back(std::move(key));
    }
    last_ = nullptr;
  }

  int64_t NowMs() const override { return now_; }

  uint64_t Wait(Waiter waiter) override { return pipeline_->waiters_.Add(std::move(waiter)); }
  bool Unwait(uint64_t id) override { return pipeline_->waiters_.Remove(id); }

  // The keys written since the last call, while any waiter waited (see ServeWaiters).
  std::vector<std::string> TakeWritten() { return std::exchange(written_, {}); }

 private:
  // The record under `key` before this change: the group's own, the overlay's or the
  // keyspace's; expired or not.
  RecordPtr Current(std::string_view key) const {
    if (auto it = group_->staged.find(key); it != group_->staged.end()) {
      return it->second;
    }
    if (group_->cleared) return nullptr;
    return pipeline_->Committed(key);
  }

  void Remove(std::string_view key, const Record& old) {
    batch_->Delete(nullptr, key);
    if (old.fields()) batch_->DeleteRange(fields_, FieldRangeBegin(key), FieldRangeEnd(key));
  }

  // The record a change to `key` replaces: the one its apply was just handed, if so.
  RecordPtr Before(std::string_view key) const {
    return has_last_ && key == last_key_ ? last_ : Current(key);
  }

  void Remember(std::string_view key, const RecordPtr& record) {
    has_last_ = true;
    last_key_.assign(key);
    last_ = record;
  }

  void Stage(std::string_view key, RecordPtr record) {
    if (!pipeline_->waiters_.empty()) written_.emplace_back(key);
    Remember(key, record);
    group_->staged.insert_or_assign(std::string(key), std::move(record));
  }

  CommitPipeline* const pipeline_;
  Group* const group_;
  GroupBatch* const batch_;
  rocksdb::ColumnFamilyHandle* const fields_ = pipeline_->journal_->fields();
  const int64_t now_;
  // The last key read or written and its record then (null: absent), so that a Put right
  // after its apply's Get (the common write) does not look the key up again. A copy of
  // the key, not a view: a txn may reuse its buffer for another key.
  bool has_last_ = false;
  std::string last_key_;
  RecordPtr last_;
  std::vector<std::string> written_;
};

CommitPipeline::CommitPipeline(Journal* journal, Keyspace* keyspace, ReplicationGate* gate,
                               PipelineOptions options)
    : journal_(journal), keyspace_(keyspace), gate_(gate), options_([&] {
        if (!options.now_ms) options.now_ms = SystemNowMs;
        if (options.max_group_mutations == 0) options.max_group_mutations = 1;
        return std::move(options);
      }()) {
  gate_->SetListener(this);
  committer_ = std::thread([this] {
    SetThreadName("ds-committer");
    Run();
  });
}

CommitPipeline::~CommitPipeline() {
  Stop();
  gate_->SetListener(nullptr);
}

void CommitPipeline::Submit(std::vector<Mutation> mutations, CommitCallback done) {
  Enqueue(std::move(mutations), std::move(done), /*wake=*/true);
}

void CommitPipeline::Queue(std::vector<Mutation> mutations, CommitCallback done) {
  Enqueue(std::move(mutations), std::move(done), /*wake=*/false);
}

void CommitPipeline::BeginEpoch(uint64_t epoch, CommitCallback done) {
  Enqueue({}, std::move(done), /*wake=*/true, epoch);
}

void CommitPipeline::Enqueue(std::vector<Mutation> mutations, CommitCallback done, bool wake,
                             uint64_t epoch) {
  // An epoch's marker is queued whether or not the replicas are there: it is the epoch's
  // first group, and waits for them like any other once it is written.
  Status rejected = epoch != 0 ? Status::OK() : WriteStatus();
  if (rejected.ok()) {
    absl::MutexLock lock(&mu_);
    if (!poisoned_.ok() || !refusal_.ok() || !no_space_.ok()) {
      rejected = !poisoned_.ok() ? poisoned_ : !refusal_.ok() ? refusal_ : no_space_;
    } else if (stopping_) {
      rejected = Status::Shutdown("the store is shutting down");
    } else {
      const size_t weight = std::max<size_t>(Weight(mutations), 1);
      queued_mutations_ += weight;
      queue_.push_back(Request{std::move(mutations), std::move(done), weight, epoch});
      if (wake) {
        wake_ = true;
        if (!committing_) work_.Signal();  // a running committer looks again when done
      }
      return;
    }
  }
  writes_.fetch_add(1, std::memory_order_relaxed);
  done(rejected, 0);
}

void CommitPipeline::CommitQueued() {
  std::vector<Request> group;
  {
    absl::MutexLock lock(&mu_);
    if (committing_ || paused_ || queue_.empty()) return;
    if (queued_mutations_ > options_.max_inline_mutations) {
      wake_ = true;
      work_.Signal();
      return;
    }
    TakeGroup(&group);
  }
  CommitTaken(&group);
}

void CommitPipeline::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !committer_.joinable()) return;
    stopping_ = true;
    work_.Signal();
  }
  if (committer_.joinable()) committer_.join();
  // Groups still waiting for their quorum get the ack timeout to receive it; then their
  // writers are told the store stopped (the outcome is unknown to them).
  {
    absl::MutexLock lock(&publish_mu_);
    publish_mu_.AwaitWithTimeout(
        absl::Condition(
            +[](std::deque<std::unique_ptr<Group>>* pending) { return pending->empty(); },
            &pending_),
        absl::FromChrono(options_.ack_timeout));
  }
  SetRefusal(Status::Shutdown("the store is shutting down"));
}

void CommitPipeline::Pause() {
  absl::MutexLock lock(&mu_);
  paused_ = true;
  mu_.Await(absl::Condition(
      +[](bool* committing) { return !*committing; }, &committing_));
}

void CommitPipeline::Unpause() {
  absl::MutexLock lock(&mu_);
  if (!paused_) return;
  paused_ = false;
  if (!queue_.empty()) {
    wake_ = true;
    work_.Signal();
  }
}

Status CommitPipeline::WriteStatus() const {
  if (refusing_.load(std::memory_order_acquire)) {
    absl::MutexLock lock(&mu_);
    if (!poisoned_.ok()) return poisoned_;
    if (!refusal_.ok()) return refusal_;
    if (!no_space_.ok()) return no_space_;
  }
  if (quorum_lost_.load(std::memory_order_acquire)) {
    return Status::NoReplicas(
        "a write was not acknowledged by the replicas in time; writes resume once they hold it");
  }
  return gate_->Admission();
}

PipelineStats CommitPipeline::stats() const {
  return PipelineStats{
      writes_.load(std::memory_order_relaxed), mutations_.load(std::memory_order_relaxed),
      groups_.load(std::memory_order_relaxed), pending_count_.load(std::memory_order_relaxed),
      changes_.load(std::memory_order_relaxed)};
}

void CommitPipeline::Run() {
  std::vector<Request> group;
  for (;;) {
    bool expire = false;
    bool resume = false;
    {
      absl::MutexLock lock(&mu_);
      while (committing_ || ((queue_.empty() || !wake_ || paused_) && !stopping_)) {
        if (!no_space_.ok() && !committing_) {
          // Writes wait for disk space: try RocksDB's Resume now and then.
          if (!work_.WaitWithTimeout(&mu_, absl::FromChrono(kResumeEvery))) continue;
          resume = !no_space_.ok() && !stopping_;
          if (resume) break;
          continue;
        }
        const auto deadline = NextDeadline();
        if (!deadline) {
          work_.Wait(&mu_);
          continue;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= *deadline) {
          expire = true;
          break;
        }
        work_.WaitWithTimeout(&mu_, absl::FromChrono(*deadline - now));
      }
      if (!expire && !resume) {
        if (queue_.empty()) return;  // stopping, and everything queued is committed
        wake_ = false;
        TakeGroup(&group);
      }
    }
    if (resume) {
      TryResume();
      continue;
    }
    if (expire) {
      ExpireDeadlines(std::chrono::steady_clock::now());
      continue;
    }
    CommitTaken(&group);
    group.clear();
  }
}

std::optional<std::chrono::steady_clock::time_point> CommitPipeline::NextDeadline() const {
  absl::MutexLock lock(&publish_mu_);
  for (const auto& g : pending_) {
    if (!g->answered && g->last_seq != 0) return g->deadline;
  }
  return std::nullopt;
}

void CommitPipeline::TakeGroup(std::vector<Request>* group) {
  committing_ = true;
  size_t taken = 0;
  while (!queue_.empty() &&
         (group->empty() || taken + queue_.front().weight <= options_.max_group_mutations)) {
    taken += queue_.front().weight;
    group->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  queued_mutations_ -= taken;
}

void CommitPipeline::CommitTaken(std::vector<Request>* group) {
  const size_t writes = group->size();
  CommitGroup(group);
  writes_.fetch_add(writes, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  committing_ = false;
  // What queued meanwhile is the committer thread's to take, whoever committed this group:
  // a caller's CommitQueued may have returned early while this group ran.
  if (!queue_.empty()) wake_ = true;
  // A group that found the disk full leaves the committer thread to retry Resume: it may be
  // waiting without a deadline, having seen committing_ when RefuseForSpace signalled.
  if (wake_ || stopping_ || !no_space_.ok()) work_.Signal();
}

RecordPtr CommitPipeline::Committed(std::string_view key) const {
  // Only the committing thread adds pending groups, and it is the caller: when none is
  // pending, none can appear during this read.
  if (pending_count_.load(std::memory_order_acquire) > 0) {
    absl::MutexLock lock(&publish_mu_);
    if (auto it = overlay_.find(key); it != overlay_.end()) return it->second.record;
    if (overlay_cleared_by_ != 0) return nullptr;
    return keyspace_->Get(key);
  }
  return keyspace_->Get(key);
}

void CommitPipeline::CommitGroup(std::vector<Request>* requests) {
  auto group = std::make_unique<Group>();
  group->requests = std::move(*requests);
  if (refusing_.load(std::memory_order_acquire)) {
    const Status refused = WriteStatus();
    for (Request& r : group->requests) r.done(refused, 0);
    return;
  }

  rocksdb::WriteBatch batch;
  GroupBatch held(&batch);
  View view(this, group.get(), &held, options_.now_ms());
  size_t applied = 0;
  uint64_t epoch = 0, epoch_seq = 0;  // a marker in this group, and its position
  PrefetchWindow prefetch(keyspace_, group->requests);
  for (Request& request : group->requests) {
    if (request.epoch != 0) {
      // One writer: the marker's position is the next after the journal's last and the
      // operations this group holds before it.
      epoch = request.epoch;
      held.Flush();  // the writes before the marker stay before it
      epoch_seq = journal_->LastSequence() + 1 + batch.Count();
      batch.Put(journal_->meta(), EpochHistory::MarkerKey(epoch),
                EpochHistory::MarkerValue(epoch_seq));
    }
    for (Mutation& m : request.mutations) {
      prefetch.Next();
      ApplyTo(m, view);
      ++applied;
    }
  }
  if (!waiters_.empty()) ServeWaiters(view, group.get());
  held.Flush();
  mutations_.fetch_add(applied, std::memory_order_relaxed);

  if (batch.Count() > 0) {
    const auto start = std::chrono::steady_clock::now();
    uint64_t first = 0;
    Status s = journal_->Append(&batch, &first, &group->last_seq);
    if (s.ok() && epoch != 0 && options_.on_epoch) options_.on_epoch(epoch, epoch_seq);
    if (s.ok()) {
      // The replicas' copies start now, overlapping the local fsync; a group whose append
      // failed was never sent.
      gate_->Send(GroupRef{first, group->last_seq, batch.Data()});
      s = journal_->Sync();
      if (!s.ok()) s = Status::IOError("fsync: " + s.message());  // never "no space" here
    }
    if (!s.ok()) {
      if (s.code() == Status::Code::kNoSpace) {
        RefuseForSpace(s);
      } else {
        Refuse(s);
      }
      for (Request& r : group->requests) r.done(s, 0);
      return;
    }
    groups_.fetch_add(1, std::memory_order_relaxed);
    changes_.fetch_add(batch.Count() - (epoch != 0 ? 1 : 0), std::memory_order_relaxed);
    if (options_.on_group) {
      options_.on_group(applied, std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now() - start)
                                     .count());
    }
  }

  const bool synchronous = gate_->Synchronous();
  if (synchronous && pending_count_.load(std::memory_order_acquire) == 0) {
    // The single-node path: durable is acknowledged. Publish only now: readers never see
    // a write before it is in the journal.
    PublishToKeyspace(*group);
    const uint64_t seq = group->last_seq != 0 ? group->last_seq : journal_->LastSequence();
    for (Request& r : group->requests) r.done(Status::OK(), seq);
    keyspace_->Published();  // after the replies: a writer hears its answer first
    return;
  }
  {
    absl::MutexLock lock(&publish_mu_);
    group->id = next_group_id_++;
    group->appended = std::chrono::steady_clock::now();
    group->deadline = group->appended + options_.ack_timeout;
    for (const auto& [key, record] : group->staged) {
      overlay_.insert_or_assign(key, Overlaid{record, group->id});
    }
    if (group->cleared) overlay_cleared_by_ = group->id;
    if (synchronous && group->last_seq > quorum_seq_) quorum_seq_ = group->last_seq;
    pending_.push_back(std::move(group));
    pending_count_.fetch_add(1, std::memory_order_release);
  }
  {
    absl::MutexLock lock(&mu_);
    work_.Signal();  // the committer thread watches the new group's deadline
  }
  CompleteAcknowledged();
}

void CommitPipeline::ServeWaiters(View& view, Group* group) {
  // Keys the group wrote, then those its served waiters wrote (BLMOVE's destination), each
  // served in turn. A key written while its own waiters are served is not served again:
  // they all just had their turn. Each pass that writes serves (removes) a waiter, so this
  // ends.
  std::vector<std::string> ready = view.TakeWritten();
  std::vector<CommitCallback> served;
  for (size_t i = 0; i < ready.size() && !waiters_.empty(); ++i) {
    const std::string key = ready[i];
    waiters_.Serve(key, view, &served);
    for (std::string& written : view.TakeWritten()) {
      if (written != key) ready.push_back(std::move(written));
    }
  }
  for (CommitCallback& done : served) {
    group->requests.push_back(Request{{}, std::move(done), 0, 0});
  }
}

void CommitPipeline::AnswerWaiters(const Status& why) {
  for (CommitCallback& done : waiters_.TakeAll()) done(why, 0);
}

void CommitPipeline::OnQuorum(uint64_t seq) {
  {
    absl::MutexLock lock(&publish_mu_);
    if (seq <= quorum_seq_) return;
    quorum_seq_ = seq;
  }
  CompleteAcknowledged();
}

void CommitPipeline::PublishToKeyspace(const Group& group) {
  if (group.cleared) keyspace_->Clear();
  for (const auto& [key, record] : group.staged) {
    if (record) {
      keyspace_->Put(key, record);
    } else {
      keyspace_->Erase(key);
    }
  }
}

void CommitPipeline::Unoverlay(const Group& group) {
  for (const auto& [key, record] : group.staged) {
    auto it = overlay_.find(key);
    if (it != overlay_.end() && it->second.group == group.id) overlay_.erase(it);
  }
  if (overlay_cleared_by_ == group.id) overlay_cleared_by_ = 0;
}

void CommitPipeline::CompleteAcknowledged() {
  absl::MutexLock complete(&complete_mu_);
  for (;;) {
    std::unique_ptr<Group> group;
    uint64_t seq = 0;
    {
      absl::MutexLock lock(&publish_mu_);
      if (pending_.empty()) break;
      Group& front = *pending_.front();
      if (front.last_seq > quorum_seq_) break;
      // Keyspace first, then the overlay: a committer that misses the overlay finds the
      // keyspace already updated.
      PublishToKeyspace(front);
      Unoverlay(front);
      group = std::move(pending_.front());
      pending_.pop_front();
      pending_count_.fetch_sub(1, std::memory_order_release);
      if (group->last_seq != 0) last_published_seq_ = group->last_seq;
      seq = last_published_seq_;
      if (timed_out_ && !AnyTimedOut()) {
        timed_out_ = false;
        quorum_lost_.store(false, std::memory_order_release);
      }
    }
    if (options_.on_quorum && group->last_seq != 0 && !gate_->Synchronous()) {
      options_.on_quorum(std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - group->appended)
                             .count());
    }
    if (!group->answered) {
      for (Request& r : group->requests) r.done(Status::OK(), seq);
    }
    keyspace_->Published();  // after the replies: a writer hears its answer first
  }
}

bool CommitPipeline::AnyTimedOut() const {
  for (const auto& g : pending_) {
    if (g->answered) return true;
  }
  return false;
}

void CommitPipeline::ExpireDeadlines(std::chrono::steady_clock::time_point now) {
  absl::MutexLock complete(&complete_mu_);
  std::vector<Request*> expired;
  {
    absl::MutexLock lock(&publish_mu_);
    for (auto& g : pending_) {
      if (g->answered || g->deadline > now) continue;
      g->answered = true;
      for (Request& r : g->requests) expired.push_back(&r);
    }
    if (!expired.empty()) {
      timed_out_ = true;
      quorum_lost_.store(true, std::memory_order_release);
    }
  }
  // The groups stay pending (answered), so the requests stay put while complete_mu_ is held.
  const Status late = Status::NoReplicas(
      "not enough replicas acknowledged the write in time; it may still take effect");
  for (Request* r : expired) r->done(late, 0);
}

void CommitPipeline::SetRefusal(const Status& why) {
  std::deque<Request> queued;
  {
    absl::MutexLock lock(&mu_);
    refusal_ = why;
    refusing_.store(!poisoned_.ok() || !why.ok() || !no_space_.ok(), std::memory_order_release);
    if (!why.ok()) {
      queued.swap(queue_);
      queued_mutations_ = 0;
    }
  }
  for (Request& r : queued) r.done(why, 0);
  writes_.fetch_add(queued.size(), std::memory_order_relaxed);
  if (why.ok()) return;
  AnswerWaiters(why);  // a blocked client of a demoted primary hears why, as in Redis
  // Groups waiting for their quorum: memory follows the local journal, which holds them;
  // their writers hear `why`, since this node will not learn whether the quorum came.
  absl::MutexLock complete(&complete_mu_);
  std::deque<std::unique_ptr<Group>> pending;
  {
    absl::MutexLock lock(&publish_mu_);
    for (auto& g : pending_) PublishToKeyspace(*g);
    pending.swap(pending_);
    pending_count_.store(0, std::memory_order_release);
    overlay_.clear();
    overlay_cleared_by_ = 0;
    timed_out_ = false;
    quorum_lost_.store(false, std::memory_order_release);
  }
  for (auto& g : pending) {
    if (g->answered) continue;
    for (Request& r : g->requests) r.done(why, 0);
  }
}

void CommitPipeline::RefuseForSpace(const Status& cause) {
  const Status refused = Status::NoSpace(cause.message());
  std::deque<Request> queued;
  {
    absl::MutexLock lock(&mu_);
    if (no_space_.ok())
      Log(LogLevel::kError, "writes refused: the journal's disk is full (" + cause.message() +
                                "); they resume once it has room");
    no_space_ = refused;
    refusing_.store(true, std::memory_order_release);
    queued.swap(queue_);
    queued_mutations_ = 0;
    work_.Signal();  // the committer thread starts trying to resume
  }
  for (Request& r : queued) r.done(refused, 0);
  writes_.fetch_add(queued.size(), std::memory_order_relaxed);
}

void CommitPipeline::TryResume() {
  // Nothing of the failed group reached the journal (Append refused it), so the journal's
  // state is known: RocksDB flushes what it holds and takes writes again.
  const Status s = journal_->Resume();
  if (!s.ok()) {
    Log(LogLevel::kDebug, "store: resume not yet possible: " + s.ToString());
    return;
  }
  absl::MutexLock lock(&mu_);
  no_space_ = Status::OK();
  refusing_.store(!poisoned_.ok() || !refusal_.ok(), std::memory_order_release);
  Log(LogLevel::kInfo, "store: the journal's disk has room again, writes resumed");
}

void CommitPipeline::Log(LogLevel level, const std::string& line) const {
  if (options_.log) options_.log(level, line);
}

void CommitPipeline::Refuse(const Status& cause) {
  const Status refused =
      Status::WriteRefused("writes refused after a journal failure: " + cause.ToString());
  std::deque<Request> queued;
  {
    absl::MutexLock lock(&mu_);
    poisoned_ = refused;
    refusing_.store(true, std::memory_order_release);
    queued.swap(queue_);
    queued_mutations_ = 0;
  }
  for (Request& r : queued) r.done(refused, 0);
  writes_.fetch_add(queued.size(), std::memory_order_relaxed);
  AnswerWaiters(refused);
  // Nothing written before the failure is acknowledged after it: the journal's state is
  // unknown. Writers still waiting hear why.
  absl::MutexLock complete(&complete_mu_);
  std::deque<std::unique_ptr<Group>> pending;
  {
    absl::MutexLock lock(&publish_mu_);
    pending.swap(pending_);
    pending_count_.store(0, std::memory_order_release);
    overlay_.clear();
    overlay_cleared_by_ = 0;
  }
  for (auto& g : pending) {
    if (g->answered) continue;
    for (Request& r : g->requests) r.done(refused, 0);
  }
}

}  // namespace devstate
