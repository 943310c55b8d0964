#include "store/replication/hub.h"

#include <absl/time/time.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "store/replication/frames.h"
#include "store/thread_name.h"

namespace devstate::replication {
namespace {

constexpr size_t kCopyChunk = 1 << 20;

// The operation count in a WriteBatch's header (8 bytes of sequence, then 4 of count).
uint64_t BatchCount(std::string_view batch) {
  if (batch.size() < 12) return 0;
  uint32_t count = 0;
  for (int i = 0; i < 4; ++i)
    count |= static_cast<uint32_t>(static_cast<uint8_t>(batch[8 + i])) << (8 * i);
  return count;
}

}  // namespace

const char* FeedPhaseName(FeedPhase phase) {
  switch (phase) {
    case FeedPhase::kFullCopy:
      return "full_copy";
    case FeedPhase::kCatchUp:
      return "catch_up";
    case FeedPhase::kLive:
      return "online";
  }
  return "unknown";
}

// ---- Feed -------------------------------------------------------------------------------

Feed::Feed(ReplicationHub* hub, uint64_t id, ReplicaHello hello, bool full_copy)
    : hub_(hub), id_(id), hello_(std::move(hello)), full_copy_(full_copy) {
  state_.id = id_;
  state_.node_id = hello_.node_id;
  state_.address = hello_.address;
  state_.phase = full_copy ? FeedPhase::kFullCopy : FeedPhase::kCatchUp;
  state_.acked_seq = full_copy ? 0 : hello_.seq;
  state_.sent_seq = full_copy ? 0 : hello_.seq;
  state_.last_ack = std::chrono::steady_clock::now();
}

Feed::~Feed() {
  {
    absl::MutexLock lock(&mu_);
    wake_ = nullptr;  // the link is gone (it held this feed)
  }
  Close("the feed is gone");
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }
}

bool Feed::Take(std::string* out, size_t max) {
  absl::MutexLock lock(&mu_);
  if (closed_ && out_.empty()) return false;
  size_t taken = 0;
  while (!out_.empty() && (taken == 0 || out->size() < max)) {
    taken += out_.front().size();
    out->append(out_.front());
    out_bytes_ -= out_.front().size();
    out_.pop_front();
  }
  if (taken > 0) {
    room_.SignalAll();
  } else {
    want_wake_ = true;
  }
  return true;
}

void Feed::SetWakeup(std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  wake_ = std::move(wake);
}

void Feed::Wake() {
  std::function<void()> wake;
  {
    absl::MutexLock lock(&mu_);
    if (!want_wake_ || !wake_) return;
    want_wake_ = false;
    wake = wake_;
  }
  wake();
}

bool Feed::Emit(std::string frame) {
  const size_t limit = hub_->options_.feed_buffer_bytes;
  const size_t size = frame.size();
  {
    absl::MutexLock lock(&mu_);
    while (!closed_ && out_bytes_ > limit) room_.Wait(&mu_);
    if (closed_) return false;
    out_bytes_ += frame.size();
    state_.bytes_sent += frame.size();
    out_.push_back(std::move(frame));
  }
  hub_->bytes_streamed_.fetch_add(size, std::memory_order_relaxed);
  Wake();
  return true;
}

void Feed::Notify() {
  absl::MutexLock lock(&mu_);
  new_groups_ = true;
  more_.Signal();
}

void Feed::OnAck(uint64_t term, uint64_t seq) {
  ReplicationHub* hub = Hub();
  if (hub == nullptr) return;
  if (term > hub->epochs_->Current() && hub->options_.on_newer_epoch) {
    hub->options_.on_newer_epoch(term);
  }
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (seq > state_.acked_seq) state_.acked_seq = seq;
    state_.last_ack = std::chrono::steady_clock::now();
  }
  hub->Recompute();
}

ReplicationHub* Feed::Hub() const {
  absl::MutexLock lock(&mu_);
  return orphaned_ ? nullptr : hub_;
}

void Feed::Orphan() {
  absl::MutexLock lock(&mu_);
  orphaned_ = true;
}

void Feed::Close(const std::string& why) {
  bool live = false;
  ReplicationHub* hub = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    live = state_.phase == FeedPhase::kLive;
    hub = orphaned_ ? nullptr : hub_;
    room_.SignalAll();
    more_.SignalAll();
  }
  Wake();  // an idle link takes what is left, then hears of the end
  if (hub == nullptr) return;
  if (live) hub->live_.fetch_sub(1, std::memory_order_relaxed);
  hub->Log(LogLevel::kInfo,
           "replication: replica " + hello_.node_id + " (" + hello_.address + ") detached: " + why);
  hub->Remove(id_);
}

ReplicaState Feed::State() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

void Feed::SetPhase(FeedPhase phase) {
  FeedPhase old;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    old = state_.phase;
    state_.phase = phase;
  }
  if (old != FeedPhase::kLive && phase == FeedPhase::kLive) {
    hub_->live_.fetch_add(1, std::memory_order_relaxed);
    hub_->Log(LogLevel::kInfo,
              "replication: replica " + hello_.node_id + " (" + hello_.address + ") is live");
  } else if (old == FeedPhase::kLive && phase != FeedPhase::kLive) {
    hub_->live_.fetch_sub(1, std::memory_order_relaxed);
  }
}

bool Feed::Closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void Feed::Sent(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  state_.sent_seq = seq;
}

void Feed::Run() {
  SetThreadName("ds-feed");
  struct DoneOnReturn {
    std::atomic<bool>* done;
    ~DoneOnReturn() { done->store(true, std::memory_order_release); }
  } done_on_return{&done_};
  Journal* journal = hub_->journal_;
  uint64_t next = hello_.seq + 1;
  // Since when `next` has been appended but not handed over (see below); kNever otherwise.
  constexpr auto kNever = std::chrono::steady_clock::time_point::min();
  auto in_flight_since = kNever;
  if (full_copy_ && !CopyAll(&next)) return;
  for (;;) {
    if (Closed()) return;
    // Live: the groups the committer kept in the ring.
    std::vector<ReplicationHub::RingGroup> groups = hub_->FromRing(next);
    if (!groups.empty()) {
      in_flight_since = kNever;
      SetPhase(FeedPhase::kLive);
      for (const auto& g : groups) {
        std::string frame;
        AppendGroup(&frame, GroupFrame{g.epoch, g.first_seq, g.last_seq, *g.batch});
        if (!Emit(std::move(frame))) return;
        next = g.last_seq + 1;
        Sent(g.last_seq);
      }
      continue;
    }
    // Appended but not handed to the hub yet (the committer is between the journal's
    // append and Send): the ring is about to have it. Wait for it rather than flip to
    // catch-up, which would take this replica out of the live count, and writes admitted
    // meanwhile would be refused (NOREPLICAS). A committer descheduled on a busy machine
    // can take tens of ms to get there; only past kInFlightWait is the log read instead.
    constexpr auto kInFlightWait = std::chrono::seconds(1);
    if (next > hub_->last_sent_.load(std::memory_order_acquire) &&
        next <= journal->LastSequence()) {
      const auto now = std::chrono::steady_clock::now();
      if (in_flight_since == kNever) in_flight_since = now;
      if (now - in_flight_since < kInFlightWait) {
        absl::MutexLock lock(&mu_);
        if (!new_groups_ && !closed_) more_.WaitWithTimeout(&mu_, absl::Milliseconds(20));
        new_groups_ = false;
        continue;
      }
    }
    in_flight_since = kNever;
    // Behind: what the log holds from `next` on.
    if (next <= journal->LastSequence()) {
      hub_->Log(LogLevel::kDebug, "replication: replica " + hello_.node_id +
                                      " catches up from position " + std::to_string(next) +
                                      " (last handed over " +
                                      std::to_string(hub_->last_sent_.load()) + ", journal " +
                                      std::to_string(journal->LastSequence()) + ")");
      SetPhase(FeedPhase::kCatchUp);
      const uint64_t from = next;
      bool ended = false;
      Status s = journal->ReadSince(next, [&](uint64_t first, std::string_view batch) {
        const uint64_t last = first + BatchCount(batch) - 1;
        std::string frame;
        AppendGroup(&frame, GroupFrame{hub_->epochs_->EpochOf(first), first, last, batch});
        if (!Emit(std::move(frame))) {
          ended = true;
          return false;
        }
        next = last + 1;
        Sent(last);
        return true;
      });
      if (ended) return;
      if (s.ok() && next <= from) {
        // The log ends before what the journal says it holds: never spin on it.
        s = Status::NotFound("the log holds nothing from position " + std::to_string(from));
      }
      if (s.code() == Status::Code::kNotFound) {
        hub_->Log(LogLevel::kInfo, "replication: replica " + hello_.node_id +
                                       " is behind what the log keeps (" + s.message() +
                                       "): sending a full copy");
        if (!CopyAll(&next)) return;
      } else if (!s.ok()) {
        Close("reading the log: " + s.ToString());
        return;
      }
      continue;
    }
    // Nothing to send: the replica holds everything written (live), and waits with us for
    // the committer; a heartbeat when nothing comes.
    SetPhase(FeedPhase::kLive);
    bool idle = false;
    {
      absl::MutexLock lock(&mu_);
      if (!new_groups_ && !closed_) {
        idle = more_.WaitWithTimeout(&mu_, absl::FromChrono(hub_->options_.heartbeat));
      }
      new_groups_ = false;
    }
    if (idle) {
      std::string frame;
      AppendHeartbeat(&frame, hub_->epochs_->Current(), journal->LastSequence());
      if (!Emit(std::move(frame))) return;
    }
  }
}

bool Feed::CopyAll(uint64_t* next) {
  namespace fs = std::filesystem;
  SetPhase(FeedPhase::kFullCopy);
  const fs::path dir = fs::path(hub_->options_.staging_dir) / ("copy-" + std::to_string(id_));
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir.parent_path(), ec);
  uint64_t seq = 0;
  Status s = hub_->journal_->Checkpoint(dir.string(), &seq);
  if (!s.ok()) {
    Close("making a full copy: " + s.ToString());
    return false;
  }
  std::vector<std::pair<std::string, uint64_t>> files;
  uint64_t total = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    files.emplace_back(entry.path().filename().string(), entry.file_size());
    total += files.back().second;
  }
  hub_->Log(LogLevel::kInfo, "replication: full copy to " + hello_.node_id + ": " +
                                 std::to_string(files.size()) + " files, " +
                                 std::to_string(total >> 20) + " MiB, up to position " +
                                 std::to_string(seq));
  bool ok = true;
  std::string frame;
  AppendSnapBegin(&frame, seq, files.size(), total);
  ok = Emit(std::move(frame));
  std::string chunk(kCopyChunk, '\0');
  for (size_t i = 0; ok && i < files.size(); ++i) {
    frame.clear();
    AppendSnapFile(&frame, files[i].first, files[i].second);
    ok = Emit(std::move(frame));
    std::ifstream in(dir / files[i].first, std::ios::binary);
    uint64_t left = files[i].second;
    while (ok && left > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kCopyChunk));
      if (!in.read(chunk.data(), static_cast<std::streamsize>(n))) {
        Close("reading the full copy's " + files[i].first);
        ok = false;
        break;
      }
      frame.clear();
      AppendSnapData(&frame, std::string_view(chunk.data(), n));
      ok = Emit(std::move(frame));
      left -= n;
    }
  }
  if (ok) {
    frame.clear();
    AppendSnapEnd(&frame);
    ok = Emit(std::move(frame));
  }
  fs::remove_all(dir, ec);
  if (!ok) return false;
  hub_->full_copies_.fetch_add(1, std::memory_order_relaxed);
  *next = seq + 1;
  Sent(seq);
  return true;
}

// ---- ReplicationHub ---------------------------------------------------------------------

ReplicationHub::ReplicationHub(Journal* journal, EpochHistory* epochs, HubOptions options)
    : journal_(journal),
      epochs_(epochs),
      options_(std::move(options)),
      min_replicas_ack_(options_.min_replicas_ack) {
  // Copies left by a crash are of no use.
  std::error_code ec;
  if (!options_.staging_dir.empty()) std::filesystem::remove_all(options_.staging_dir, ec);
}

ReplicationHub::~ReplicationHub() { Shutdown(); }

void ReplicationHub::Shutdown() {
  DetachAll("the store is closing");
  std::vector<std::shared_ptr<Feed>> feeds;
  {
    absl::MutexLock lock(&mu_);
    feeds.swap(closing_);
    feeds.insert(feeds.end(), feeds_.begin(), feeds_.end());
    feeds_.clear();
  }
  // Every feed thread ends (its feed is closed) before the hub goes; the links may keep
  // their feeds a while longer, which then no longer reach the hub.
  for (auto& f : feeds) {
    if (f->thread_.joinable()) f->thread_.join();
    f->Orphan();
  }
}

bool ReplicationHub::Synchronous() const {
  // Under a lease every acknowledgement goes through Recompute, which checks the fence.
  if (min_replicas_ack() != 0 || lease_.enabled()) return false;
  absl::MutexLock lock(&mu_);
  return !sync_mode_ || wait_for_.empty();
}

bool ReplicationHub::synchronous_set_mode() const {
  absl::MutexLock lock(&mu_);
  return sync_mode_;
}

Status ReplicationHub::Admission() const {
  if (!lease_.Open()) {
    return Status::Fenced(
        "this primary could not renew its lease in etcd in time; writes wait for the control "
        "plane");
  }
  const size_t n = min_replicas_ack();
  {
    absl::MutexLock lock(&mu_);
    if (sync_mode_) {
      if (sync_members_ >= n) return Status::OK();
      return Status::NoReplicas(std::to_string(sync_members_) + " of the " + std::to_string(n) +
                                " replicas required (replication.min_replicas_ack) are in the "
                                "synchronous set");
    }
  }
  if (n == 0) return Status::OK();
  const size_t live = live_.load(std::memory_order_relaxed);
  if (live >= n) return Status::OK();
  return Status::NoReplicas(std::to_string(live) + " of the " + std::to_string(n) +
                            " replicas required (replication.min_replicas_ack) are online");
}

void ReplicationHub::Send(const GroupRef& group) {
  std::vector<std::shared_ptr<Feed>> feeds;
  bool nobody_to_wait_for = false;
  {
    absl::MutexLock lock(&mu_);
    // A synchronous set with no members: acknowledged as sent (the pipeline still answers
    // only after the local fsync).
    nobody_to_wait_for = sync_mode_ && wait_for_.empty();
    // Set with the ring under the lock: a feed that sees it finds the group in the ring.
    last_sent_.store(group.last_seq, std::memory_order_release);
    if (feeds_.empty()) {
      // Nobody streams live: a replica that attaches later reads the log.
      ring_.clear();
      ring_bytes_ = 0;
    } else {
      auto batch = std::make_shared<const std::string>(group.batch);
      ring_bytes_ += batch->size();
      ring_.push_back(
          RingGroup{epochs_->Current(), group.first_seq, group.last_seq, std::move(batch)});
      while (ring_.size() > 1 && ring_bytes_ > options_.ring_bytes) {
        ring_bytes_ -= ring_.front().batch->size();
        ring_.pop_front();
      }
      feeds = feeds_;
    }
  }
  for (auto& f : feeds) f->Notify();
  if (nobody_to_wait_for) Recompute();
}

void ReplicationHub::SetListener(QuorumListener* listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = listener;
}

Status ReplicationHub::Attach(const ReplicaHello& hello, std::string* reply,
                              std::shared_ptr<Feed>* feed) {
  const uint64_t epoch = epochs_->Current();
  if (hello.term > epoch) {
    if (options_.on_newer_epoch) options_.on_newer_epoch(hello.term);
    return Status::NotPrimary("STALEEPOCH this node's epoch " + std::to_string(epoch) +
                              " is older than epoch " + std::to_string(hello.term) +
                              " the replica has heard of");
  }
  const uint64_t last = journal_->LastSequence();
  // Continue only from a position this node's history holds as the same write: same epoch,
  // within that epoch's range here. Anything else (a tail an old primary journaled and never
  // had acknowledged, a node from another shard, a wiped one) gets a full copy.
  const bool full = hello.seq > last || !epochs_->Contains(hello.epoch, hello.seq, last);
  *reply = (full ? "FULLSYNC " : "CONTINUE ") + std::to_string(epoch);
  std::shared_ptr<Feed> f;
  {
    absl::MutexLock lock(&mu_);
    f = std::make_shared<Feed>(this, next_id_++, hello, full);
    feeds_.push_back(f);
  }
  // A replica that reconnects replaces its old feed.
  for (auto& old : Replaced(hello.node_id, f.get())) old->Close("it reconnected");
  Log(LogLevel::kInfo, "replication: replica " + hello.node_id + " (" + hello.address +
                           ") attached at position " + std::to_string(hello.seq) + " epoch " +
                           std::to_string(hello.epoch) + ": " + *reply);
  f->thread_ = std::thread([raw = f.get()] { raw->Run(); });
  *feed = std::move(f);
  return Status::OK();
}

std::vector<std::shared_ptr<Feed>> ReplicationHub::Replaced(const std::string& node_id,
                                                            const Feed* keep) {
  std::vector<std::shared_ptr<Feed>> old;
  absl::MutexLock lock(&mu_);
  for (auto& f : feeds_) {
    if (f.get() != keep && f->hello_.node_id == node_id) old.push_back(f);
  }
  return old;
}

void ReplicationHub::DetachAll(const std::string& why) {
  std::vector<std::shared_ptr<Feed>> feeds;
  {
    absl::MutexLock lock(&mu_);
    feeds = feeds_;
  }
  for (auto& f : feeds) f->Close(why);
}

void ReplicationHub::Remove(uint64_t id) {
  absl::MutexLock lock(&mu_);
  for (auto it = feeds_.begin(); it != feeds_.end(); ++it) {
    if ((*it)->id_ == id) {
      closing_.push_back(*it);  // joined by the hub, never by its own thread
      feeds_.erase(it);
      break;
    }
  }
  // Feeds whose threads are done can go now (joined here: a finished thread joins at once).
  for (auto it = closing_.begin(); it != closing_.end();) {
    if ((*it)->Done() && (*it)->thread_.get_id() != std::this_thread::get_id()) {
      if ((*it)->thread_.joinable()) (*it)->thread_.join();
      it = closing_.erase(it);
    } else {
      ++it;
    }
  }
}

bool ReplicationHub::Promote(const std::string& node_id, uint64_t epoch, uint64_t last_seq) {
  std::shared_ptr<Feed> target;
  {
    absl::MutexLock lock(&mu_);
    for (auto& f : feeds_) {
      if (f->hello_.node_id == node_id) target = f;
    }
  }
  if (!target) return false;
  std::string frame;
  AppendPromote(&frame, epoch, last_seq);
  return target->Emit(std::move(frame));
}

std::vector<ReplicaState> ReplicationHub::Replicas() const {
  std::vector<std::shared_ptr<Feed>> feeds;
  {
    absl::MutexLock lock(&mu_);
    feeds = feeds_;
  }
  std::vector<ReplicaState> out;
  for (auto& f : feeds) out.push_back(f->State());
  return out;
}

size_t ReplicationHub::CountAcked(uint64_t seq) const {
  size_t n = 0;
  for (const ReplicaState& r : Replicas()) n += r.acked_seq >= seq ? 1 : 0;
  return n;
}

void ReplicationHub::SetAckObserver(std::function<void()> observer) {
  absl::MutexLock lock(&mu_);
  ack_observer_ = std::move(observer);
}

void ReplicationHub::SetMinReplicasAck(size_t n) {
  min_replicas_ack_.store(n, std::memory_order_relaxed);
  Recompute();
}

void ReplicationHub::SetSynchronousSet(std::vector<std::string> wait_for, size_t members) {
  {
    absl::MutexLock lock(&mu_);
    sync_mode_ = true;
    wait_for_ = std::move(wait_for);
    sync_members_ = members;
  }
  Recompute();
}

HubStats ReplicationHub::stats() const {
  absl::MutexLock lock(&mu_);
  return HubStats{bytes_streamed_.load(std::memory_order_relaxed),
                  full_copies_.load(std::memory_order_relaxed), quorum_seq_};
}

std::vector<ReplicationHub::RingGroup> ReplicationHub::FromRing(uint64_t next) const {
  absl::MutexLock lock(&mu_);
  auto it = std::lower_bound(ring_.begin(), ring_.end(), next,
                             [](const RingGroup& g, uint64_t seq) { return g.last_seq < seq; });
  if (it == ring_.end() || it->first_seq != next) return {};
  return std::vector<RingGroup>(it, ring_.end());
}

// The quorum position: the N-th highest position the replicas acknowledged.
void ReplicationHub::Recompute() {
  std::vector<std::shared_ptr<Feed>> feeds;
  std::function<void()> observer;
  {
    absl::MutexLock lock(&mu_);
    feeds = feeds_;
    observer = ack_observer_;
  }
  std::vector<ReplicaState> states;
  for (auto& f : feeds) states.push_back(f->State());
  const size_t n = min_replicas_ack();
  uint64_t quorum = 0;
  bool sync_mode = false;
  std::vector<std::string> wait_for;
  {
    absl::MutexLock lock(&mu_);
    sync_mode = sync_mode_;
    wait_for = wait_for_;
  }
  if (sync_mode) {
    // Every member's position (its best feed, if it reattached); nobody to wait for: all
    // that was sent.
    quorum = last_sent_.load(std::memory_order_acquire);
    for (const std::string& member : wait_for) {
      uint64_t best = 0;
      for (const ReplicaState& r : states) {
        if (r.node_id == member) best = std::max(best, r.acked_seq);
      }
      quorum = std::min(quorum, best);
    }
  } else if (n > 0 && states.size() >= n) {
    std::vector<uint64_t> acked;
    for (const ReplicaState& r : states) acked.push_back(r.acked_seq);
    std::nth_element(acked.begin(), acked.begin() + static_cast<long>(n - 1), acked.end(),
                     std::greater<>());
    quorum = acked[n - 1];
  }
  bool grew = false;
  {
    absl::MutexLock lock(&mu_);
    // Past the lease's deadline nothing more is acknowledged: another node may be primary.
    if (quorum > quorum_seq_ && lease_.Open()) {
      quorum_seq_ = quorum;
      grew = true;
    }
  }
  if (grew) {
    absl::ReaderMutexLock lock(&listener_mu_);
    if (listener_ != nullptr) listener_->OnQuorum(quorum);
  }
  if (observer) observer();
}

void ReplicationHub::Log(LogLevel level, const std::string& line) const {
  if (options_.log) options_.log(level, line);
}

}  // namespace devstate::replication
