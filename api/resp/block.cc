#include "api/resp/block.h"

#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>

#include "api/resp/write.h"
#include "store/read_waiters.h"

namespace devstate::resp {
namespace {

constexpr std::string_view kUnblockedError = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
// A timeout beyond a century waits for ever: no timer is armed for it.
constexpr int64_t kLongestTimerMs = int64_t{100} * 365 * 24 * 3600 * 1000;

// What a wait needs to answer its command, from any thread: the deferred reply, the
// command's INFO commandstats row, SLOWLOG's entry, and whether the client counts as
// blocked meanwhile (INFO blocked_clients, CLIENT LIST's 'b'). Each kind of wait below
// makes sure it sends once.
class WaitAnswer {
 public:
  explicit WaitAnswer(Call& call)
      : respond_(call.defer()),
        protocol_(call.protocol()),
        server_(&call.server),
        client_(&call.client),
        stats_(call.spec != nullptr ? call.spec->stats.get() : nullptr),
        log_when_answered_(std::exchange(call.log_when_answered, nullptr)) {}

  ClientState& client() const { return *client_; }

  void CountBlocked() {
    server_->blocked_clients.fetch_add(1);
    client_->blocked.store(true);
    counted_.store(true);
  }

  template <typename Write>
  void Send(Write write) {
    if (counted_.exchange(false)) {
      server_->blocked_clients.fetch_sub(1);
      client_->blocked.store(false);
    }
    std::string out;
    ReplyWriter w(&out, protocol_, &server_->error_replies);
    write(w);
    if (w.errors_written() > 0 && stats_ != nullptr) {
      stats_->failed.fetch_add(1, std::memory_order_relaxed);
    }
    respond_(std::move(out));
    if (log_when_answered_) log_when_answered_();
  }

 private:
  Responder respond_;
  const int protocol_;
  ServerState* const server_;
  // Alive while this is: respond_ holds the connection, which holds its client state.
  ClientState* const client_;
  CommandStats* const stats_;                // the command's row's, or null
  std::function<void()> log_when_answered_;  // Call::log_when_answered
  std::atomic<bool> counted_{false};         // in server_->blocked_clients
};

// CLIENT UNBLOCK and a closing connection end `wait` (its Cancel) while it lives.
template <typename Wait>
void CancelOnUnblock(Call& call, std::weak_ptr<Wait> wait) {
  std::lock_guard lock(call.client.blocked_mu);
  call.client.unblock = [wait = std::move(wait)](ClientState::Unblock how) {
    auto self = wait.lock();
    return self && self->Cancel(how);
  };
}

// The timeout ends `wait` as a timeout (none is armed for 0, "for ever", or beyond a
// century).
template <typename Wait>
void CancelAtTimeout(Call& call, int64_t timeout_ms, std::weak_ptr<Wait> wait) {
  if (timeout_ms <= 0 || timeout_ms > kLongestTimerMs) return;
  call.block_timer(std::chrono::milliseconds(timeout_ms), [wait = std::move(wait)] {
    if (auto self = wait.lock()) self->Cancel(ClientState::Unblock::kTimeout);
  });
}

// One blocking command, from its try to its reply. Its fields are written on the
// committing thread (Try, the waiter's serve, the cancel) and read once the pipeline
// answers, which orders them; the flags any thread reads are atomic.
class Blocked : public std::enable_shared_from_this<Blocked> {
 public:
  Blocked(Call& call, Blocking b)
      : b_(std::move(b)), answer_(call), service_(&call.service()), slot_(FirstKeySlot(call)) {
    // take_ runs b_.take, noting what it changes while keyspace notifications are on.
    take_ = Mutation::Txn([this](KeyView& view) { took_ = b_.take(view, woken_); });
    const uint32_t flags = service_->notifier().flags();
    if ((flags & (Notifier::kKeyspace | Notifier::kKeyevent)) != 0 && RaisesEvents(b_.events)) {
      log_ = std::make_shared<ChangeLog>();
      log_->track_new = (flags & Notifier::kNew) != 0;
      take_ = Recorded(std::move(take_), log_);
    }
  }

  void Start(Call& call) {
    CancelOnUnblock(call, weak_from_this());
    if (call.batch != nullptr) {
      // With the connection's other writes of this turn: committed at the turn's end with
      // every other connection's (a producer's push among them), in one group.
      call.batch->mutations.push_back(Try());
      call.batch->finishers.push_back(
          [self = shared_from_this()](const Status& s) { self->Tried(s); });
    } else {
      std::vector<Mutation> m;
      m.push_back(Try());
      service_->Write(std::move(m),
                      [self = shared_from_this()](const Status& s, uint64_t) { self->Tried(s); });
    }
    CancelAtTimeout(call, b_.timeout_ms, weak_from_this());
  }

 private:
  enum class Tries : uint8_t { kTook, kWaiting, kGaveUp };

  // The first try, in its own group: takes, or registers the waiter in that same group.
  Mutation Try() {
    const size_t weight = std::max<size_t>(b_.keys.size(), 1);
    return Mutation::Txn(
        [self = shared_from_this()](KeyView& view) {
          self->woken_ = false;
          ApplyTo(self->take_, view);
          if (self->took_) {
            self->tried_ = Tries::kTook;
            return;
          }
          if (self->closed_.load()) {
            self->tried_ = Tries::kGaveUp;
            return;
          }
          Waiter w;
          w.keys = self->b_.keys;
          w.serve = [weak = std::weak_ptr<Blocked>(self)](KeyView& v) {
            auto s = weak.lock();
            if (!s || s->answered_.load() || s->closed_.load()) return Waiter::Result::kGone;
            s->woken_ = true;
            ApplyTo(s->take_, v);
            return s->took_ ? Waiter::Result::kServed : Waiter::Result::kWaiting;
          };
          w.done = [self](const Status& s, uint64_t seq) {
            if (!s.ok()) return self->FinishFailure(s);
            // A WAIT this connection sends next counts from the group that served it.
            std::atomic<uint64_t>& last = self->answer_.client().last_write_seq;
            if (seq > last.load(std::memory_order_relaxed))
              last.store(seq, std::memory_order_relaxed);
            self->FinishTaken();
          };
          self->id_ = view.Wait(std::move(w));
          self->tried_ = Tries::kWaiting;
          self->answer_.CountBlocked();
        },
        weight);
  }

  void Tried(const Status& s) {
    if (!s.ok()) return FinishFailure(s);
    switch (tried_) {
      case Tries::kTook:
        return FinishTaken();
      case Tries::kGaveUp:
        Finish([this](ReplyWriter& w) { b_.timed_out(w); });
        return;
      case Tries::kWaiting:
        return;  // the waiter's done, or a cancel, answers
    }
  }

 public:
  // Queues the cancel, in commit order after the try. False when already answered.
  bool Cancel(ClientState::Unblock how) {
    if (answered_.load()) return false;
    if (how == ClientState::Unblock::kClosed) closed_.store(true);
    std::vector<Mutation> m;
    m.push_back(Mutation::Txn([self = shared_from_this()](KeyView& view) {
      self->cancelled_ = self->id_ != 0 && view.Unwait(self->id_);
    }));
    service_->Write(std::move(m), [self = shared_from_this(), how](const Status& s, uint64_t) {
      if (!s.ok()) return self->FinishFailure(s);
      if (!self->cancelled_) return;  // served first: its reply comes with its group
      if (how == ClientState::Unblock::kError) {
        self->Finish([](ReplyWriter& w) { w.Error(kUnblockedError); });
      } else {
        self->Finish([self](ReplyWriter& w) { self->b_.timed_out(w); });
      }
    });
    return true;
  }

 private:
  void FinishTaken() {
    if (!Finish([this](ReplyWriter& w) { b_.reply(w); })) return;
    if (log_) {
      std::vector<KeyEvent> events;
      EventsOf(b_.events, log_->changes, &events);
      Send(service_->notifier(), events);
    }
  }

  void FinishFailure(const Status& s) {
    Finish([this, &s](ReplyWriter& w) { WriteFailure(w, *service_, slot_, s); });
  }

  // Answers once; false when already answered.
  template <typename Write>
  bool Finish(Write write) {
    if (answered_.exchange(true)) return false;
    answer_.Send(std::move(write));
    return true;
  }

  Blocking b_;
  WaitAnswer answer_;
  DeviceService* const service_;
  const int slot_;
  std::shared_ptr<ChangeLog> log_;
  Mutation take_;
  // Committing thread only (ordered for the callbacks by the pipeline's answer).
  bool woken_ = false;
  bool took_ = false;
  Tries tried_ = Tries::kGaveUp;
  uint64_t id_ = 0;  // the waiter's, once registered
  bool cancelled_ = false;
  // Any thread.
  std::atomic<bool> answered_{false};
  std::atomic<bool> closed_{false};  // the connection closed: take nothing more
};

// One blocking read waiting on the keyspace (BlockRead). mu_ orders its reads, its wakes,
// its cancel and its reply; the registry calls wakes outside its own lock, so a wake may
// Remove its reader.
class ReadBlocked : public std::enable_shared_from_this<ReadBlocked> {
 public:
  ReadBlocked(Call& call, ReadBlocking b, ReadWaiters* waiters)
      : b_(std::move(b)), waiters_(waiters), answer_(call) {}

  void Start(Call& call) {
    CancelOnUnblock(call, weak_from_this());
    {
      absl::MutexLock lock(&mu_);
      // Registered first: whatever is published after the read below wakes it. The
      // registry keeps this alive until the answer removes it.
      id_ = waiters_->Add(b_.keys, [self = shared_from_this()] { self->Woken(); });
      if (b_.read(false)) return FinishLocked([this](ReplyWriter& w) { b_.reply(w); });
      answer_.CountBlocked();
    }
    CancelAtTimeout(call, b_.timeout_ms, weak_from_this());
  }

  // False when already answered.
  bool Cancel(ClientState::Unblock how) {
    absl::MutexLock lock(&mu_);
    if (answered_) return false;
    if (how == ClientState::Unblock::kError) {
      FinishLocked([](ReplyWriter& w) { w.Error(kUnblockedError); });
    } else {
      FinishLocked([this](ReplyWriter& w) { b_.timed_out(w); });  // closed: nobody reads it
    }
    return true;
  }

 private:
  void Woken() {
    absl::MutexLock lock(&mu_);
    if (answered_) return;
    if (b_.read(true)) FinishLocked([this](ReplyWriter& w) { b_.reply(w); });
  }

  template <typename Write>
  void FinishLocked(Write write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    answered_ = true;
    waiters_->Remove(id_);
    answer_.Send(std::move(write));
  }

  ReadBlocking b_;
  ReadWaiters* const waiters_;
  WaitAnswer answer_;
  absl::Mutex mu_;
  uint64_t id_ ABSL_GUARDED_BY(mu_) = 0;
  bool answered_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

bool BlockRead(Call& call, ReadBlocking b) {
  ReadWaiters* waiters = call.service().read_waiters();
  if (waiters == nullptr || call.view != nullptr || !call.block_timer) return false;
  auto blocked = std::make_shared<ReadBlocked>(call, std::move(b), waiters);
  blocked->Start(call);
  return true;
}

void Block(Call& call, Blocking b) {
  if (call.view != nullptr || !call.block_timer) {
    // Inside an EXEC: one try, and null when there is nothing to take.
    auto took = std::make_shared<bool>(false);
    const size_t weight = std::max<size_t>(b.keys.size(), 1);
    const std::string_view events = b.events;
    Mutation m = Mutation::Txn(
        [take = std::move(b.take), took](KeyView& view) { *took = take(view, false); }, weight);
    Commit(
        call, {std::move(m)},
        [took, reply = std::move(b.reply),
         nothing = b.nothing_in_exec ? std::move(b.nothing_in_exec) : std::move(b.timed_out)](
            ReplyWriter& w) { *took ? reply(w) : nothing(w); },
        events);
    return;
  }
  auto blocked = std::make_shared<Blocked>(call, std::move(b));
  blocked->Start(call);
}

bool ParseBlockTimeout(Call& call, std::string_view text, int64_t* ms) {
  long double seconds = 0;
  if (!ParseLongDouble(text, &seconds) || std::isinf(seconds)) {
    call.reply.Error("ERR timeout is not a float or out of range");
    return false;
  }
  const long double scaled = std::ceil(seconds * 1000.0L);
  if (scaled < 0) {
    call.reply.Error("ERR timeout is negative");
    return false;
  }
  // As Redis 7.2 (7.0 overflows its deadline instead): the deadline must be a time.
  const auto limit =
      static_cast<long double>(std::numeric_limits<int64_t>::max() - call.service().NowMs());
  if (scaled >= limit) {
    call.reply.Error("ERR timeout is out of range");
    return false;
  }
  *ms = static_cast<int64_t>(scaled);
  return true;
}

}  // namespace devstate::resp
