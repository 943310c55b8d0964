#include "api/resp/session.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <span>

namespace devstate::resp {

namespace {
// The session whose command is running on this thread: a reply that arrives during that
// command's own dispatch (a write refused at once) is taken in directly, not posted.
thread_local const Session* running_session = nullptr;

// The row a command runs as, for its kind and CLIENT LIST's cmd=.
const CommandSpec* RunsAs(const CommandSpec* spec, const std::vector<std::string>& args) {
  if (spec == nullptr || spec->subcommands.empty() || args.size() < 2) return spec;
  const CommandSpec* sub = FindSubcommand(*spec, args[1]);
  return sub != nullptr ? sub : spec;
}
}  // namespace

void ReadySessions::Add(std::shared_ptr<Session> session) {
  {
    absl::MutexLock lock(&mu_);
    sessions_.push_back(std::move(session));
    if (posted_) return;
    posted_ = true;
  }
  post_([self = shared_from_this()] { self->Drain(); });
}

void ReadySessions::Clear() {
  std::vector<std::shared_ptr<Session>> sessions;
  absl::MutexLock lock(&mu_);
  sessions.swap(sessions_);
}

void ReadySessions::Drain() {
  std::vector<std::shared_ptr<Session>> sessions;
  {
    absl::MutexLock lock(&mu_);
    sessions.swap(sessions_);
    posted_ = false;
  }
  for (std::shared_ptr<Session>& session : sessions) {
    if (!session->io_) continue;  // handed over (PSYNC): nothing is owed to it
    Transport& io = *session->io_;
    io.Dispatch([session = std::move(session)] { session->TakeCompleted(); });
  }
}

Session::Session(std::unique_ptr<Transport> io, std::shared_ptr<ServerState> server,
                 std::shared_ptr<ReadySessions> ready_sessions)
    : io_(std::move(io)),
      timer_(io_->NewTimer()),
      server_(std::move(server)),
      ready_sessions_(std::move(ready_sessions)),
      parser_(server_->limits.parser),
      client_(std::make_shared<ClientState>()) {
  server_->service->metrics().resp_connections.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() {
  server_->pubsub.UnsubscribeAll(client_.get());  // before the ClientState can go
  server_->tracking.Disable(*client_);
  server_->service->metrics().resp_connections.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lock(server_->clients_mu);
  server_->clients.erase(client_->id);
}

void Session::Run(bool over_capacity) {
  client_->id = server_->next_client_id.fetch_add(1);
  client_->created_ms = server_->service->NowMs();
  client_->last_active_ms = client_->created_ms;
  client_->addr = io_->RemoteAddress();
  client_->laddr = io_->LocalAddress();
  std::weak_ptr<Session> weak = shared_from_this();
  client_->close = [weak, post = io_->Poster()] {
    post([weak] {
      if (auto self = weak.lock()) self->Close();
    });
  };
  client_->push = [weak](const std::string& frame) {
    if (auto self = weak.lock()) self->Push(frame);
  };
  client_->rearm_idle = [weak, post = io_->Poster()] {
    post([weak] {
      if (auto self = weak.lock()) self->ArmIdle();
    });
  };
  if (!over_capacity) {
    std::lock_guard lock(server_->clients_mu);
    server_->clients.emplace(client_->id, client_);
  }
  if (server_->acl != nullptr) {
    client_->user = server_->acl->DefaultUser();
    client_->username = "default";
    client_->acl_generation = server_->acl->generation();
  }
  io_->Dispatch([self = shared_from_this(), over_capacity] {
    if (!self->io_->tls()) return self->Start(over_capacity);
    // A TLS client has this long to finish its handshake.
    self->timer_->Start(kHandshakeTimeout, [self] {
      if (!self->handshaken_) self->Close();
    });
    self->io_->Handshake([self, over_capacity](std::string_view error) {
      self->handshaken_ = true;
      self->timer_->Cancel();
      if (!error.empty()) {
        spdlog::debug("resp: TLS handshake with {} failed: {}", self->client_->addr, error);
        self->server_->service->metrics().tls_handshake_failures.fetch_add(
            1, std::memory_order_relaxed);
        return self->Close();
      }
      self->Start(over_capacity);
    });
  });
}

void Session::Start(bool over_capacity) {
  if (over_capacity) {
    server_->rejected_connections.fetch_add(1, std::memory_order_relaxed);
    return Fatal("ERR max number of clients reached");
  }
  ArmIdle();
  ReadNext();
}

std::string_view Session::Unparsed() const {
  return {static_cast<const char*>(in_.data().data()), in_.size()};
}

void Session::ReadNext() {
  while (!reading_ && !closing_ && order_.size() < limits().max_pipeline) {
    // Back-pressure: while this client's replies wait for it to read, run nothing more of
    // its (the write's completion resumes it). A client that does not read stalls itself,
    // holding at most this much plus one reply, instead of making the loop build replies
    // up to the output limit.
    if (ready_.size() + out_.size() > kOutputPause) break;
    if (parsed_next_ == parsed_count_ && !ParseAhead()) return;
    Parsed& command = parsed_[parsed_next_++];
    OnCommand(command.spec, command.args);
    // Reused strings keep their capacity, but not a large value's, nor a huge command's
    // vector: 32 reused entries must not pin the biggest commands a client ever sent.
    if (command.args.capacity() > kKeptArgs) {
      std::vector<std::string>().swap(command.args);
    } else {
      for (std::string& arg : command.args) {
        if (arg.capacity() > kKeptArgBytes) std::string().swap(arg);
      }
    }
    if (ready_.size() > limits().max_output_buffer) {
      spdlog::warn("resp: closing client {} ({}): {} reply bytes over the output buffer limit",
                   client_->id, client_->addr, ready_.size());
      return Close();
    }
  }
  WriteNext();
}

// Parses the commands waiting in in_ (up to kParseAhead) into parsed_, then tells the
// store which keys the reads among them will look up, so their memory misses overlap.
// False when there is none to run: a protocol error (answered, closing) or an incomplete
// command (reading more).
bool Session::ParseAhead() {
  parsed_next_ = parsed_count_ = 0;
  auto r = RequestParser::Result::kCommand;
  while (parsed_count_ < kParseAhead) {
    if (parsed_.size() == parsed_count_) parsed_.emplace_back();
    Parsed& command = parsed_[parsed_count_];
    size_t used = 0;
    r = parser_.Next(Unparsed(), &used, &command.args);
    in_.consume(used);
    if (r != RequestParser::Result::kCommand) break;
    command.spec = FindCommand(command.args[0]);
    ++parsed_count_;
  }
  PublishBufferSizes();
  if (parsed_count_ > 0) {
    PrefetchReads();
    return true;  // an error or a partial command after these is met again next time
  }
  if (r == RequestParser::Result::kError) {
    Fatal("ERR " + parser_.error());
    return false;
  }
  // The query buffer is what the client sent ahead: the bytes not parsed yet and the
  // arguments of the command in progress, which the parser holds.
  if (const size_t limit = server_->max_query_buffer.load(std::memory_order_relaxed);
      in_.size() + parser_.pending_bytes() > limit) {
    spdlog::warn("resp: closing client {} ({}): query buffer over {} bytes", client_->id,
                 client_->addr, limit);
    Close();
    return false;
  }
  WriteNext();  // everything parsed so far is answered or pending: send what is ready
  ReadMore();
  return false;
}

void Session::PrefetchReads() {
  std::array<std::string_view, Keyspace::kPrefetchMax> keys;
  size_t n = 0;
  for (size_t c = 0; c < parsed_count_ && n < keys.size(); ++c) {
    const CommandSpec* spec = parsed_[c].spec;
    const std::vector<std::string>& args = parsed_[c].args;
    if (spec == nullptr || !(spec->flags & kReadonly)) continue;
    ForEachKeyIndex(*spec, args, [&](int i) {
      keys[n++] = args[i];
      return n < keys.size();
    });
  }
  // One key has no misses to overlap.
  if (n > 1) server_->service->Prefetch(std::span(keys.data(), n));
}

void Session::ReadMore() {
  reading_ = true;
  const auto space = in_.prepare(kReadSize);
  io_->ReadSome(static_cast<char*>(space.data()), space.size(),
                [self = shared_from_this()](bool ok, size_t n) {
                  self->in_.commit(n);
                  self->reading_ = false;
                  if (!ok) return self->Close();
                  self->client_->last_active_ms = self->server_->service->NowMs();
                  self->ReadNext();
                });
}

void Session::OnCommand(const CommandSpec* spec, std::vector<std::string>& args) {
  const CommandSpec* runs_as = RunsAs(spec, args);
  // EXEC and MIGRATE (kBarrier), and a blocking command (BLPOP ...), which run nothing
  // after them until answered, as Redis blocks the client; queued inside MULTI, neither.
  const bool barrier = runs_as != nullptr &&
                       ((runs_as->flags & kBarrier) || MayBlock(*runs_as, args)) &&
                       (runs_as->name == "exec" || !client_->in_multi);
  const bool write = runs_as != nullptr && (runs_as->flags & kWrite) && !client_->in_multi;
  const auto kind = barrier ? ReplyOrder::Kind::kBarrier
                    : write ? ReplyOrder::Kind::kWrite
                            : ReplyOrder::Kind::kRead;
  if (order_.empty() && kind != ReplyOrder::Kind::kBarrier) return Execute(nullptr, spec, args);
  const bool may_run = order_.MayRun(kind);
  std::shared_ptr<Slot> slot = order_.Add(kind);
  if (may_run) return Execute(std::move(slot), spec, args);
  slot->waiting = true;
  slot->args = std::move(args);
  slot->spec = spec;
  args.clear();
}

// Runs one command. With no slot (nothing ahead of it), an immediate reply goes straight to
// ready_; a command that defers its reply gets a slot at that moment.
void Session::Execute(std::shared_ptr<Slot> slot, const CommandSpec* spec,
                      std::vector<std::string>& argv) {
  const CommandSpec* runs_as = RunsAs(spec, argv);
  client_->last_command.assign(runs_as ? runs_as->name : std::string_view("NULL"));
  server_->service->metrics().resp_commands.fetch_add(1, std::memory_order_relaxed);
  bool deferred = false;
  const size_t ready_before = ready_.size();
  // CLIENT REPLY OFF or SKIP: this command's reply is dropped (SKIP: this one only).
  using Mode = ClientState::ReplyMode;
  const bool silent = client_->reply_mode != Mode::kOn;
  if (client_->reply_mode == Mode::kSkip) client_->reply_mode = Mode::kOn;
  Call call{argv,
            *client_,
            *server_,
            ReplyWriter(slot ? &slot->reply : &ready_, client_->protocol, &server_->error_replies),
            {}};
  call.batch = &writes_;
  call.block_timer = [this](std::chrono::milliseconds delay, Task fire) {
    if (!block_timer_) block_timer_ = io_->NewTimer();
    block_timer_->Start(delay, std::move(fire));
  };
  call.defer = [this, &slot, &deferred, silent]() -> Responder {
    deferred = true;
    if (!slot) slot = order_.Add(ReplyOrder::Kind::kWrite);
    return [self = shared_from_this(), slot = slot, silent](std::string reply) {
      if (silent) reply.clear();
      if (running_session == self.get()) {  // answered inline (a write refused at once)
        slot->reply = std::move(reply);
        slot->ready = true;
        return;
      }
      self->Complete(slot, std::move(reply));
    };
  };
  // SLOWLOG: the handler's own time (Dispatch's; a refused or queued command has none, and
  // EXEC is not logged, as in Redis). A write's handler may move its arguments into its
  // mutations, so a write's arguments are kept first; a read's are read after.
  SlowLog& slowlog = server_->slowlog;
  const bool timed = slowlog.slower_than_us.load(std::memory_order_relaxed) >= 0 &&
                     runs_as != nullptr && runs_as->name != "exec";
  std::vector<std::string> kept;
  if (timed && (runs_as->flags & kWrite) && !client_->in_multi) kept = SlowLog::Kept(argv);
  // A command that may wait is logged when it is answered (api/resp/block.h), with its
  // handler's time: what it waited is not its running time, as in Redis.
  std::shared_ptr<std::atomic<int64_t>> waited_micros;
  if (timed && MayBlock(*runs_as, argv) && !client_->in_multi) {
    waited_micros = std::make_shared<std::atomic<int64_t>>(0);
    call.log_when_answered = [server = server_, micros = waited_micros,
                              args = Redacted(runs_as->name, SlowLog::Kept(argv)),
                              addr = client_->addr, name = client_->name]() mutable {
      const int64_t us = micros->load();
      if (!server->slowlog.Slow(us)) return;
      server->slowlog.Add(server->service->NowMs() / 1000, us, std::move(args), std::move(addr),
                          std::move(name));
    };
  }
  running_session = this;
  Dispatch(call, spec);
  running_session = nullptr;
  if (waited_micros) {
    waited_micros->store(std::max<int64_t>(call.handler_micros, 0));
    // Answered without waiting (an argument refused): logged now, if it ran at all.
    if (call.log_when_answered && call.handler_micros >= 0) call.log_when_answered();
  } else if (timed && call.handler_micros >= 0) {
    const int64_t micros = call.handler_micros;
    if (slowlog.Slow(micros)) {
      slowlog.Add(server_->service->NowMs() / 1000, micros,
                  Redacted(runs_as->name, kept.empty() ? SlowLog::Kept(argv) : std::move(kept)),
                  client_->addr, client_->name);
    }
  }
  if ((silent || call.silent) && !call.speaks && !deferred && !call.pushed) {
    if (slot) {
      slot->reply.clear();
    } else {
      ready_.resize(ready_before);
    }
  }
  if (call.reply_delay.count() > 0 && !deferred) {
    // A reply that must wait (a throttled authentication) waits in its slot, holding back
    // what follows it as any unanswered command does.
    if (!slot) {
      slot = order_.Add(ReplyOrder::Kind::kRead);
      slot->reply = ready_.substr(ready_before);
      ready_.resize(ready_before);
    }
    std::shared_ptr<Timer> timer = io_->NewTimer();
    timer->Start(call.reply_delay, [self = shared_from_this(), slot] {
      slot->ready = true;
      slot->hold.reset();
      self->Continue();
    });
    slot->hold = std::move(timer);
    deferred = true;
  }
  if (slot && !deferred) slot->ready = true;
  if (call.take_over) {
    take_over_ = std::move(call.take_over);
    closing_ = true;  // nothing after PSYNC is a command
  }
  if (call.close_after) {
    closing_ = true;
    if (slot) {
      slot->close_after = true;
    } else {
      close_after_ready_ = true;
    }
  }
  if (slot && slot->ready) FlushReady();
}

// From the thread that completes a commit (the committer, this loop at the end of a turn,
// or the replication gate's thread): hands a reply to the session. Replies of one commit
// group (often many per connection when it pipelines writes) are taken in together.
void Session::Complete(const std::shared_ptr<Slot>& slot, std::string reply) {
  {
    absl::MutexLock lock(&completed_mu_);
    completed_.emplace_back(slot, std::move(reply));
    if (completion_posted_) return;
    completion_posted_ = true;
  }
  ready_sessions_->Add(shared_from_this());
}

void Session::Push(const std::string& frame) {
  {
    absl::MutexLock lock(&completed_mu_);
    if (push_overflow_) return;
    if (pushed_.size() + frame.size() + client_->output_buffer.load(std::memory_order_relaxed) >
        limits().max_pubsub_output) {
      push_overflow_ = true;  // cut off (TakeCompleted closes), never buffered without bound
      pushed_.clear();
      pushed_starts_.clear();
    } else {
      pushed_starts_.push_back(pushed_.size());
      pushed_ += frame;
    }
    if (completion_posted_) return;
    completion_posted_ = true;
  }
  ready_sessions_->Add(shared_from_this());
}

// On the session's executor: takes in the replies Complete queued, and the pub/sub messages
// Push queued (after the replies ready before them).
void Session::TakeCompleted() {
  std::vector<std::pair<std::shared_ptr<Slot>, std::string>> done;
  std::string pushed;
  std::vector<size_t> starts;
  bool overflow = false;
  {
    absl::MutexLock lock(&completed_mu_);
    done.swap(completed_);
    pushed.swap(pushed_);
    starts.swap(pushed_starts_);
    overflow = push_overflow_;
    completion_posted_ = false;
  }
  if (overflow) {
    spdlog::warn(
        "resp: closing subscriber {} ({}): unread pub/sub messages over "
        "limits.max_pubsub_output_bytes",
        client_->id, client_->addr);
    return Close();
  }
  for (auto& [slot, reply] : done) {
    slot->reply = std::move(reply);
    slot->ready = true;
  }
  if (!pushed.empty() && !closed_) {
    FlushReady();
    AsPushes(&pushed, starts, client_->protocol);
    ready_ += pushed;
  }
  Continue();
}

// Moves the replies at the front of the pipeline that are ready into ready_.
void Session::FlushReady() {
  if (!close_after_ready_ && order_.TakeReady(&ready_)) close_after_ready_ = true;
}

// A reply arrived: run what was waiting for it, then write what is ready.
void Session::Continue() {
  while (std::shared_ptr<Slot> slot = order_.NextRunnable()) {
    std::vector<std::string> args = std::move(slot->args);
    const CommandSpec* spec = slot->spec;
    Execute(std::move(slot), spec, args);
  }
  WriteNext();
  ReadNext();
}

// Commits the writes gathered from the commands parsed so far, as one store write.
void Session::SubmitWrites() {
  if (writes_.empty()) return;
  PendingWrites batch = std::move(writes_);
  writes_ = PendingWrites();
  // Committed at the end of this event-loop turn (Server's loop), with every other
  // connection's writes of the turn.
  server_->service->QueueWrite(
      std::move(batch.mutations),
      [finishers = std::move(batch.finishers), client = client_](const Status& s, uint64_t seq) {
        // Before the replies: a WAIT this connection sends after them counts from here.
        if (s.ok() && seq > client->last_write_seq.load(std::memory_order_relaxed))
          client->last_write_seq.store(seq, std::memory_order_relaxed);
        for (const auto& finish : finishers) finish(s);
      });
}

void Session::WriteNext() {
  SubmitWrites();
  FlushReady();
  PublishBufferSizes();
  if (take_over_ && !writing_ && !closed_ && ready_.empty() && order_.empty()) return HandOver();
  if (writing_ || closed_ || ready_.empty()) return;
  if (ready_.size() > limits().max_output_buffer) {
    spdlog::warn("resp: closing client {} ({}): {} reply bytes over the output buffer limit",
                 client_->id, client_->addr, ready_.size());
    return Close();
  }
  out_.swap(ready_);
  ready_.clear();
  const bool last = close_after_ready_;
  writing_ = true;
  io_->Write(out_.data(), out_.size(), [self = shared_from_this(), last](bool ok, size_t) {
    self->writing_ = false;
    self->out_.clear();
    if (!ok || last) return self->Close();
    self->WriteNext();
    self->ReadNext();
  });
}

// A protocol error or refusal: answer it (after the replies still owed), then close.
void Session::Fatal(std::string_view message) {
  closing_ = true;
  std::shared_ptr<Slot> slot = order_.Add(ReplyOrder::Kind::kRead);
  ReplyWriter(&slot->reply, client_->protocol, &server_->error_replies).Error(message);
  slot->ready = true;
  slot->close_after = true;
  WriteNext();
}

// Closes the connection once it has been idle for the server's idle timeout (with no
// command still running), else waits until it could be. CONFIG SET may change the timeout
// meanwhile: each firing reads it again, and 0 disarms.
void Session::ArmIdle() {
  if (closed_) return;
  const int64_t timeout = server_->idle_timeout_ms.load(std::memory_order_relaxed);
  if (timeout <= 0) return timer_->Cancel();
  const int64_t idle_for = server_->service->NowMs() - client_->last_active_ms.load();
  if (client_->subscribed()) return timer_->Cancel();  // as Redis: subscribers never time out
  if (idle_for >= timeout && order_.empty()) return Close();
  const auto wait = std::chrono::milliseconds(std::max<int64_t>(1, timeout - idle_for));
  timer_->Start(wait, [self = shared_from_this()] { self->ArmIdle(); });
}

void Session::Close() {
  closing_ = true;
  SubmitWrites();  // commands already accepted still run, as in Redis
  if (closed_) return;
  closed_ = true;
  server_->pubsub.UnsubscribeAll(client_.get());
  server_->tracking.Disable(*client_);
  server_->monitors.Remove(client_.get());
  // A blocking command still waiting takes nothing more: nobody would hear of it.
  client_->Unblocked(ClientState::Unblock::kClosed);
  if (block_timer_) block_timer_->Cancel();
  if (io_) io_->Close();
  timer_->Cancel();
}

// PSYNC's reply is written: the connection becomes a replication stream. Commands the
// replica pipelined after PSYNC would be a protocol error: the stream owner ends the link
// on bytes that are not frames.
void Session::HandOver() {
  closed_ = true;
  timer_->Cancel();
  std::string received(Unparsed());
  auto take_over = std::move(take_over_);
  take_over(std::move(io_), std::move(received));
}

void Session::PublishBufferSizes() {
  ClientState& c = *client_;
  c.query_buffer.store(in_.size() + parser_.pending_bytes(), std::memory_order_relaxed);
  c.query_buffer_free.store(in_.capacity() - in_.size(), std::memory_order_relaxed);
  c.read_buffer.store(in_.capacity(), std::memory_order_relaxed);
  c.output_buffer.store(ready_.size() + out_.size(), std::memory_order_relaxed);
}

}  // namespace devstate::resp
