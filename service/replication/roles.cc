#include "service/replication/roles.h"

#include <absl/time/time.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "store/thread_name.h"

namespace devstate {

namespace {

bool ParsePort(std::string_view text, uint16_t* port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
    return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

// "host:port" of a replica's announce ("host:resp_port:http_port").
std::string RespAddress(const std::string& announce) {
  std::string host;
  uint16_t resp = 0, http = 0;
  if (!SplitAnnounce(announce, &host, &resp, &http)) return announce;
  return fmt::format("{}:{}", host, resp);
}

}  // namespace

bool SplitHostPort(const std::string& text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string h = text.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (!ParsePort(std::string_view(text).substr(colon + 1), port)) return false;
  *host = std::move(h);
  return true;
}

bool SplitAnnounce(const std::string& text, std::string* host, uint16_t* resp_port,
                   uint16_t* http_port) {
  const size_t last = text.rfind(':');
  if (last == std::string::npos || last == 0) return false;
  if (!ParsePort(std::string_view(text).substr(last + 1), http_port)) return false;
  return SplitHostPort(text.substr(0, last), host, resp_port);
}

Roles::Roles(Store* store, RolesOptions options) : store_(store), options_(std::move(options)) {
  if (auto* hub = store_->hub()) hub->SetAckObserver([this] { Poke(); });
  worker_ = std::thread([this] {
    SetThreadName("ds-roles");
    RunWorker();
  });
}

Roles::~Roles() { Stop(); }

void Roles::SetPorts(uint16_t resp_port, uint16_t http_port) {
  absl::MutexLock lock(&mu_);
  resp_port_ = resp_port;
  http_port_ = http_port;
}

Status Roles::Begin(const std::string& replicaof) {
  absl::MutexLock lock(&switch_mu_);
  if (replicaof.empty()) return PromoteLocked(0);
  std::string host;
  uint16_t port = 0;
  if (!SplitHostPort(replicaof, &host, &port))
    return Status::InvalidArgument("replication.replicaof must be host:port, not '" + replicaof +
                                   "'");
  return FollowLocked(host, port);
}

void Roles::BeginUndecided(const std::string& why) {
  absl::MutexLock lock(&switch_mu_);
  StepDownLocked(why);
}

Status Roles::PromoteTo(uint64_t at_least_epoch, uint64_t* epoch) {
  absl::MutexLock lock(&switch_mu_);
  if (!primary()) {
    Status s = PromoteLocked(at_least_epoch);
    if (!s.ok()) return s;
  }
  *epoch = store_->Term();  // the new epoch's marker may still be on its way to the journal
  return Status::OK();
}

void Roles::StepDown(const std::string& why) {
  absl::MutexLock lock(&switch_mu_);
  if (!primary() && !client_) return;
  StepDownLocked(why);
}

void Roles::StepDownLocked(const std::string& why) {
  if (failover_) EndFailover("the control plane steps this node down");
  SetPrimaryWork(false);
  store_->BecomeReplica(Status::NotPrimary(why));
  primary_flag_.store(false, std::memory_order_release);
  StopClientLocked();
  absl::MutexLock view(&mu_);
  primary_host_.clear();
  primary_port_ = 0;
}

Status Roles::Follow(const std::string& host, uint16_t port) {
  absl::MutexLock lock(&switch_mu_);
  {
    absl::MutexLock view(&mu_);
    if (!primary() && primary_host_ == host && primary_port_ == port) return Status::OK();
  }
  return FollowLocked(host, port);
}

void Roles::Change(RoleChange change, std::function<void(Status)> done) {
  Post([this, change = std::move(change), done = std::move(done)] {
    Status s;
    {
      absl::MutexLock lock(&switch_mu_);
      s = Apply(change);
    }
    done(s);
  });
}

Status Roles::Apply(const RoleChange& change) {
  if (options_.controlled) {
    return Status::InvalidArgument(
        "roles in this shard are decided by etcd (replication.etcd): stop the primary, or "
        "take it out of service, to move the primary");
  }
  switch (change.kind) {
    case RoleChange::Kind::kFollow: {
      bool same = false;
      {
        absl::MutexLock view(&mu_);
        same = !primary() && primary_host_ == change.host && primary_port_ == change.port;
      }
      if (same) return Status::OK();  // Redis: "Already connected to specified master"
      return FollowLocked(change.host, change.port);
    }
    case RoleChange::Kind::kPromote:
      if (failover_) EndFailover("REPLICAOF NO ONE");
      if (primary()) return Status::OK();  // Redis: already a master, nothing to do
      return PromoteLocked(0);
    case RoleChange::Kind::kFailover:
      return StartFailover(change);
    case RoleChange::Kind::kAbortFailover:
      if (!failover_) return Status::InvalidArgument("No failover in progress.");
      EndFailover("FAILOVER ABORT");
      return Status::OK();
  }
  return Status::InvalidArgument("unknown role change");
}

void Roles::NewerEpochSeen(uint64_t term) {
  Post([this, term] {
    absl::MutexLock lock(&switch_mu_);
    if (term <= store_->Epoch()) return;
    (void)store_->RaiseTerm(term);
    if (!primary()) return;
    spdlog::error(
        "replication: a replica has heard of epoch {}, newer than this primary's {}: another "
        "node is primary, so this one stops taking writes (REPLICAOF host port to follow it)",
        term, store_->Epoch());
    if (failover_) EndFailover("a newer epoch exists");
    SetPrimaryWork(false);
    store_->BecomeReplica(Status::NotPrimary(
        fmt::format("a newer primary exists (epoch {}); this node no longer takes writes", term)));
    primary_flag_.store(false, std::memory_order_release);
    absl::MutexLock view(&mu_);
    primary_host_.clear();
    primary_port_ = 0;
  });
}

Status Roles::PromoteLocked(uint64_t at_least_epoch) {
  StopClientLocked();
  if (at_least_epoch > 0 && store_->Term() + 1 < at_least_epoch) {
    Status s = store_->RaiseTerm(at_least_epoch - 1);
    if (!s.ok()) return s;
  }
  uint64_t epoch = 0;
  Status s = store_->BecomePrimary(&epoch);
  if (!s.ok()) return s;
  primary_flag_.store(true, std::memory_order_release);
  {
    absl::MutexLock view(&mu_);
    primary_host_.clear();
    primary_port_ = 0;
  }
  spdlog::info("replication: this node is the primary, in epoch {} from position {}", epoch,
               store_->LastSequence() + 1);
  SetPrimaryWork(true);
  return Status::OK();
}

Status Roles::FollowLocked(const std::string& host, uint16_t port) {
  if (failover_) EndFailover("REPLICAOF");
  // The primary's work stops first: no MQTT session of this node outlives its being primary.
  SetPrimaryWork(false);
  store_->BecomeReplica(Status::NotPrimary(
      fmt::format("this node is a replica of {}:{}; writes belong to the primary", host, port)));
  primary_flag_.store(false, std::memory_order_release);
  StopClientLocked();
  uint16_t resp_port = 0, http_port = 0;
  {
    absl::MutexLock view(&mu_);
    primary_host_ = host;
    primary_port_ = port;
    resp_port = resp_port_;
    http_port = http_port_;
  }
  ReplicaClientOptions o;
  o.host = host;
  o.port = port;
  o.user = options_.user;
  o.password = options_.password;
  o.tls = options_.tls;
  o.node_id = options_.node_id;
  o.announce = fmt::format("{}:{}:{}", options_.announce_host, resp_port, http_port);
  o.timeout = options_.link_timeout;
  client_ = std::make_unique<ReplicaClient>(
      store_, std::move(o),
      [this](uint64_t epoch) {
        // On the client's thread: the switch runs on the role thread, which stops the client.
        if (options_.controlled) return;  // only etcd promotes
        spdlog::info("replication: the primary hands over (FAILOVER): taking epoch {}", epoch);
        Post([this, epoch] {
          absl::MutexLock lock(&switch_mu_);
          if (!primary()) (void)PromoteLocked(epoch);
        });
      },
      [this, from_host = host, from_port = port](const std::string& to_host, uint16_t to_port) {
        // The node this one follows is a replica now, of `to`: follow `to`, unless that is this
        // node itself or the link was switched meanwhile.
        Post([this, from_host, from_port, to_host, to_port] {
          absl::MutexLock lock(&switch_mu_);
          {
            absl::MutexLock view(&mu_);
            if (primary() || primary_host_ != from_host || primary_port_ != from_port) return;
            if (to_host == options_.announce_host && to_port == resp_port_) return;
          }
          spdlog::info("replication: {}:{} is no longer primary; following {}:{}", from_host,
                       from_port, to_host, to_port);
          (void)FollowLocked(to_host, to_port);
        });
      });
  client_->Start();
  {
    absl::MutexLock view(&mu_);
    link_ = client_.get();
  }
  spdlog::info("replication: this node follows {}:{}", host, port);
  return Status::OK();
}

void Roles::StopClientLocked() {
  {
    absl::MutexLock view(&mu_);
    link_ = nullptr;
  }
  if (client_) client_->Stop();
  client_.reset();
}

void Roles::SetPrimaryWork(bool run) {
  if (run == work_running_) return;
  work_running_ = run;
  if (run && options_.start_primary_work) options_.start_primary_work();
  if (!run && options_.stop_primary_work) options_.stop_primary_work();
}

Status Roles::StartFailover(const RoleChange& change) {
  if (!primary()) return Status::InvalidArgument("FAILOVER is not valid when server is a replica.");
  if (failover_) return Status::InvalidArgument("FAILOVER already in progress.");
  replication::ReplicationHub* hub = store_->hub();
  std::vector<replication::ReplicaState> replicas;
  if (hub != nullptr) replicas = hub->Replicas();
  if (replicas.empty()) return Status::InvalidArgument("FAILOVER requires connected replicas.");
  const replication::ReplicaState* target = nullptr;
  if (!change.host.empty()) {
    const std::string wanted = fmt::format("{}:{}", change.host, change.port);
    for (const auto& r : replicas) {
      if (RespAddress(r.address) == wanted) target = &r;
    }
    if (target == nullptr)
      return Status::InvalidArgument("FAILOVER target HOST and PORT is not a replica.");
    if (target->phase != replication::FeedPhase::kLive)
      return Status::InvalidArgument("FAILOVER target replica is not online.");
  } else {
    for (const auto& r : replicas) {
      if (r.phase != replication::FeedPhase::kLive) continue;
      if (target == nullptr || r.acked_seq > target->acked_seq) target = &r;
    }
    if (target == nullptr) return Status::InvalidArgument("FAILOVER requires connected replicas.");
  }
  // Writes wait (they are not refused) until the target holds everything; then they are
  // refused with the new primary's address, or resume if the failover is abandoned.
  store_->pipeline().Pause();
  Failover f;
  f.node_id = target->node_id;
  f.address = target->address;
  f.seq = store_->LastSequence();
  f.force = change.force;
  f.deadline = change.timeout.count() > 0 ? std::chrono::steady_clock::now() + change.timeout
                                          : std::chrono::steady_clock::time_point::max();
  spdlog::info("replication: FAILOVER to {} ({}): writes paused until it holds position {}",
               RespAddress(f.address), f.node_id, f.seq);
  failover_ = std::move(f);
  {
    absl::MutexLock view(&mu_);
    failover_state_ = "waiting-for-sync";
  }
  Poke();
  return Status::OK();
}

void Roles::AdvanceFailover() {
  if (!failover_) return;
  Failover& f = *failover_;
  replication::ReplicationHub* hub = store_->hub();
  uint64_t acked = 0;
  bool attached = false;
  for (const auto& r : hub->Replicas()) {
    if (r.node_id == f.node_id) {
      attached = true;
      acked = std::max(acked, r.acked_seq);
    }
  }
  const bool late = std::chrono::steady_clock::now() >= f.deadline;
  if (acked < f.seq && !(late && f.force && attached)) {
    if (late)
      EndFailover(fmt::format("the target held position {} of {} at the timeout", acked, f.seq));
    return;
  }
  // FORCE promotes a target that lacks the end: what it lacks is lost (the operator asked).
  const uint64_t upto = std::min(acked, f.seq);
  const uint64_t epoch = store_->Term() + 1;
  {
    absl::MutexLock view(&mu_);
    failover_state_ = "failover-in-progress";
  }
  if (!hub->Promote(f.node_id, epoch, upto)) {
    EndFailover("the target detached");
    return;
  }
  std::string host;
  uint16_t resp = 0, http = 0;
  if (!SplitAnnounce(f.address, &host, &resp, &http)) {
    EndFailover("the target's address is unusable: " + f.address);
    return;
  }
  spdlog::info(
      "replication: FAILOVER: {} holds position {}; it takes epoch {}, this node follows it",
      RespAddress(f.address), upto, epoch);
  failover_.reset();
  // Writes held by the pause are refused (with the new primary's address) before they are
  // let go.
  (void)FollowLocked(host, resp);
  store_->pipeline().Unpause();
  absl::MutexLock view(&mu_);
  failover_state_ = "no-failover";
}

void Roles::EndFailover(const std::string& why) {
  if (!failover_) return;
  spdlog::warn("replication: FAILOVER abandoned ({}); writes resume on this primary", why);
  failover_.reset();
  store_->pipeline().Unpause();
  absl::MutexLock view(&mu_);
  failover_state_ = "no-failover";
}

void Roles::WaitForReplicas(uint64_t seq, size_t replicas, std::chrono::milliseconds timeout,
                            std::function<void(size_t)> done) {
  replication::ReplicationHub* hub = store_->hub();
  const size_t count = hub != nullptr ? hub->CountAcked(seq) : 0;
  if (count >= replicas || hub == nullptr) return done(count);
  Waiter w{seq, replicas,
           timeout.count() > 0 ? std::chrono::steady_clock::now() + timeout
                               : std::chrono::steady_clock::time_point::max(),
           std::move(done)};
  absl::MutexLock lock(&worker_mu_);
  if (stopping_) return w.done(count);
  waiters_.push_back(std::move(w));
  poked_ = true;
}

void Roles::CheckWaiters(bool stopping) {
  replication::ReplicationHub* hub = store_->hub();
  std::vector<std::pair<std::function<void(size_t)>, size_t>> ready;
  {
    absl::MutexLock lock(&worker_mu_);
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < waiters_.size();) {
      Waiter& w = waiters_[i];
      const size_t count = hub != nullptr ? hub->CountAcked(w.seq) : 0;
      if (count >= w.replicas || now >= w.deadline || stopping) {
        ready.emplace_back(std::move(w.done), count);
        waiters_[i] = std::move(waiters_.back());
        waiters_.pop_back();
      } else {
        ++i;
      }
    }
  }
  for (auto& [done, count] : ready) done(count);
}

void Roles::Post(std::function<void()> task) {
  absl::MutexLock lock(&worker_mu_);
  if (stopping_) return;
  tasks_.push_back(std::move(task));
}

void Roles::Poke() {
  absl::MutexLock lock(&worker_mu_);
  poked_ = true;
}

void Roles::RunWorker() {
  // Waiters and a failover are checked at least this often (their deadlines), and at once
  // after every acknowledgement.
  constexpr absl::Duration kTick = absl::Milliseconds(20);
  for (;;) {
    std::deque<std::function<void()>> tasks;
    bool stopping = false;
    {
      absl::MutexLock lock(&worker_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(worker_mu_) {
        return !tasks_.empty() || poked_ || stopping_;
      };
      worker_mu_.AwaitWithTimeout(absl::Condition(&ready), kTick);
      tasks.swap(tasks_);
      poked_ = false;
      stopping = stopping_;
    }
    for (auto& task : tasks) task();
    CheckWaiters(stopping);
    if (stopping) return;
    absl::MutexLock lock(&switch_mu_);
    AdvanceFailover();
  }
}

void Roles::Stop() {
  {
    absl::MutexLock lock(&worker_mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();
  absl::MutexLock lock(&switch_mu_);
  if (failover_) EndFailover("shutdown");
  StopClientLocked();
  SetPrimaryWork(false);
}

RoleView Roles::View() const {
  RoleView v;
  v.primary = primary();
  v.node_id = options_.node_id;
  v.host = options_.announce_host;
  v.epoch = store_->Epoch();
  v.term = store_->Term();
  v.last_seq = store_->LastSequence();
  if (auto* hub = store_->hub()) {
    v.min_replicas_ack = hub->min_replicas_ack();
    v.hub = hub->stats();
    if (v.primary) v.replicas = hub->Replicas();
  }
  absl::MutexLock lock(&mu_);
  v.resp_port = resp_port_;
  v.http_port = http_port_;
  v.failover_state = failover_state_;
  if (!v.primary) {
    v.primary_host = primary_host_;
    v.primary_port = primary_port_;
    if (link_ != nullptr) {
      v.link = link_->state();
      v.primary_node_id = v.link.primary_node_id;
      std::string host;
      uint16_t resp = 0, http = 0;
      if (SplitAnnounce(v.link.primary_announce, &host, &resp, &http)) v.primary_http_port = http;
    }
  }
  return v;
}

}  // namespace devstate
