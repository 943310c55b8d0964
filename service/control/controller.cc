#include "service/control/controller.h"

#include <absl/time/time.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "store/thread_name.h"

namespace devstate::control {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

int64_t CeilSeconds(milliseconds ms) { return (ms.count() + 999) / 1000; }

bool Contains(const std::vector<std::string>& v, const std::string& id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

std::string Short(const std::string& id) { return id.substr(0, 8); }

}  // namespace

Clock::time_point FenceDeadline(Clock::time_point sent, int64_t ttl_s, milliseconds margin) {
  // etcd restarts the lease's clock when it handles the renewal, after `sent`: the lease
  // cannot lapse before sent + ttl. The margin covers clock-rate differences and the
  // answers already on their way when the fence closes.
  return sent + std::chrono::seconds(ttl_s) - margin;
}

Controller::Controller(Store* store, Roles* roles, ControllerOptions options)
    : store_(store),
      roles_(roles),
      options_(std::move(options)),
      keys_(options_.shard),
      tick_(std::clamp(options_.lease / 6, milliseconds(100), milliseconds(1000))),
      margin_(std::max(options_.lease / 8, milliseconds(250))),
      etcd_([this] {
        EtcdOptions o = options_.etcd;
        // A call may not take a good part of the lease.
        o.timeout = std::min(o.timeout, options_.lease / 4);
        return o;
      }()) {
  absl::MutexLock lock(&mu_);
  view_.enabled = true;
}

Controller::~Controller() { Stop(); }

void Controller::Start() {
  store_->hub()->lease().Enable();
  thread_ = std::thread([this] {
    SetThreadName("ds-control");
    Run();
  });
  watch_thread_ = std::thread([this] {
    SetThreadName("ds-watch");
    RunWatch();
  });
}

void Controller::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    wake_.Signal();
  }
  if (thread_.joinable()) thread_.join();
  if (watch_thread_.joinable()) watch_thread_.join();
  // Nothing more is acknowledged here; then the lease (and the leader key under it) goes, so
  // a member of the synchronous set takes over without waiting for the lease to lapse.
  store_->hub()->lease().Close();
  if (lease_id_ != 0) {
    Status s = etcd_.Revoke(lease_id_);
    if (s.ok()) {
      spdlog::info("control: revoked this node's lease; the shard elects without it");
    } else {
      spdlog::warn("control: could not revoke this node's lease ({}); it lapses by itself",
                   s.ToString());
    }
    lease_id_ = 0;
  }
}

void Controller::Poke() {
  absl::MutexLock lock(&mu_);
  poked_ = true;
  wake_.Signal();
}

void Controller::SetError(const Status& s) {
  absl::MutexLock lock(&mu_);
  if (s.ok()) {
    view_.etcd_error.clear();
  } else if (view_.etcd_error != s.message()) {
    spdlog::warn("control: {}", s.message());
    view_.etcd_error = s.message();
  }
  view_.endpoint = etcd_.endpoint();
}

void Controller::Run() {
  for (;;) {
    const auto start = Clock::now();
    Tick();
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    if (took > options_.lease / 4) {
      spdlog::warn("control: a tick took {} ms (lease {} ms): etcd or this host is slow",
                   took.count(), options_.lease.count());
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (!poked_) wake_.WaitWithTimeout(&mu_, absl::FromChrono(tick_));
    poked_ = false;
    if (stopping_) return;
  }
}

void Controller::RunWatch() {
  milliseconds backoff(100);
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    // From now: every tick reads the whole shard, so a change missed while the watch was
    // down is seen anyway (and a watch never starts from a compacted revision).
    EtcdClient watcher(options_.etcd);
    Status s = watcher.Watch(
        keys_.prefix, 0,
        [this](const std::vector<WatchEvent>& events, int64_t) {
          if (!events.empty()) Poke();
        },
        [this] {
          absl::MutexLock lock(&mu_);
          return stopping_;
        });
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    // The control thread's ticks go on meanwhile: the watch only makes them prompt.
    wake_.WaitWithTimeout(&mu_, absl::FromChrono(backoff));
    backoff = std::min(backoff * 2, milliseconds(2000));
    if (s.ok()) backoff = milliseconds(100);
  }
}

bool Controller::RenewLease() {
  const auto sent = Clock::now();
  int64_t ttl = 0;
  Status s;
  if (lease_id_ != 0) {
    s = etcd_.KeepAlive(lease_id_, &ttl);
    if (s.code() == Status::Code::kNotFound) {
      spdlog::warn("control: this node's lease {:x} lapsed in etcd", lease_id_);
      lease_id_ = 0;
      registered_.clear();
    }
  }
  if (lease_id_ == 0) {
    s = etcd_.Grant(CeilSeconds(options_.lease), &lease_id_, &ttl);
    if (!s.ok()) lease_id_ = 0;
  }
  SetError(s);
  if (s.ok() && options_.on_renewal)
    options_.on_renewal(std::chrono::duration<double>(Clock::now() - sent).count());
  absl::MutexLock lock(&mu_);
  if (!s.ok()) {
    ++view_.lease_failures;
    return false;
  }
  ++view_.lease_renewals;
  lease_deadline_ = FenceDeadline(sent, ttl, margin_);
  spdlog::debug("control: lease {:x} renewed for {} s", lease_id_, ttl);
  view_.lease_id = lease_id_;
  return true;
}

void Controller::Tick() {
  const bool leased = RenewLease();
  std::vector<KeyValue> kvs;
  int64_t revision = 0;
  Status s = etcd_.RangePrefix(keys_.prefix, &kvs, &revision);
  SetError(s);
  if (!s.ok()) return;  // a primary's fence runs out by itself; replicas go on serving reads
  std::string warning;
  ShardState state = ParseShard(keys_, kvs, revision, &warning);
  if (!warning.empty()) spdlog::warn("control: {}", warning);
  {
    absl::MutexLock lock(&mu_);
    view_.leader_id = state.leader ? state.leader->node_id : std::string();
    view_.leader_announce = state.leader ? state.leader->announce : std::string();
    view_.leader_revision = state.leader_create_revision;
    view_.sync_members = state.sync ? state.sync->members : std::vector<std::string>();
    view_.nodes.clear();
    for (const NodeValue& n : state.nodes) view_.nodes.push_back({n.node_id, n.announce, n.role});
  }
  registered_stores_.clear();
  for (const NodeValue& n : state.nodes) registered_stores_[n.node_id] = n.store;
  if (leased) Decide(state);
}

void Controller::Decide(const ShardState& state) {
  const std::string& me = options_.node_id;
  const bool mine = state.leader && state.leader->node_id == me && state.leader_lease == lease_id_;
  if (mine) {
    if (!roles_->primary() || leader_revision_ != state.leader_create_revision) {
      // We took it, and the promotion did not finish (or a restart kept the lease): finish.
      leader_revision_ = state.leader_create_revision;
      TakeLead(state);
      return;
    }
    // The lease renewed this tick still carries our leader key: the fence opens further, and
    // what waited while it was closed is acknowledged now.
    store_->hub()->lease().ExtendTo(lease_deadline_);
    store_->hub()->Reevaluate();
    MaintainSyncSet(state);
    Register("primary");
    return;
  }
  if (roles_->primary() || leader_revision_ != 0) {
    StepDown(state.leader ? "node " + Short(state.leader->node_id) + " holds the leader key"
                          : "the leader key lapsed");
  }
  if (state.leader) {
    if (state.leader->node_id == me) {
      // Our key from before a restart, under a lease we no longer hold: it lapses by itself.
      Register("undecided");
      return;
    }
    std::string host;
    uint16_t resp = 0, http = 0;
    if (!SplitAnnounce(state.leader->announce, &host, &resp, &http)) {
      spdlog::error("control: the leader's address '{}' is unusable", state.leader->announce);
      return;
    }
    Status s = roles_->Follow(host, resp);
    if (!s.ok()) spdlog::error("control: cannot follow {}:{}: {}", host, resp, s.ToString());
    Register("replica");
    return;
  }
  Register(roles_->View().primary_port != 0 ? "replica" : "undecided");
  if (MayTakeLead(state, me, options_.store_id, store_->Epoch(), store_->LastSequence()))
    TakeLead(state);
}

void Controller::TakeLead(const ShardState& state) {
  const std::string& me = options_.node_id;
  const SyncValue sync = SyncAfterPromotion(state, me, options_.store_id);
  int64_t epoch_revision = state.leader_create_revision;
  if (!state.leader) {
    std::vector<Compare> compares;
    compares.push_back(Compare{keys_.leader, Compare::Target::kCreate, 0, {}});
    if (state.sync_mod_revision != 0) {
      compares.push_back(Compare{keys_.sync, Compare::Target::kMod, state.sync_mod_revision, {}});
    } else {
      compares.push_back(Compare{keys_.sync, Compare::Target::kCreate, 0, {}});
    }
    const std::vector<TxnOp> success = {
        TxnOp::Put(keys_.leader, EncodeLeader(LeaderValue{me, options_.announce}), lease_id_),
        TxnOp::Put(keys_.sync, EncodeSync(sync))};
    TxnResult result;
    Status s = etcd_.Txn(compares, success, {}, &result);
    SetError(s);
    if (!s.ok() || !result.succeeded) return;  // another node was first, or etcd is away
    epoch_revision = result.revision;
    leader_revision_ = result.revision;
    sync_mod_revision_ = result.revision;
  } else {
    sync_mod_revision_ = state.sync_mod_revision;
  }
  members_ =
      state.leader ? (state.sync ? state.sync->members : std::vector<std::string>()) : sync.members;
  stores_ = state.leader ? (state.sync ? state.sync->stores : std::map<std::string, std::string>())
                         : sync.stores;
  pending_.clear();
  unhealthy_since_.clear();
  // The set first: the new epoch's first group already waits for its members. Then the fence
  // opens, until the lease renewed before the transaction could lapse.
  ApplySyncToHub();
  store_->hub()->lease().ExtendTo(lease_deadline_);
  uint64_t epoch = 0;
  Status s = roles_->PromoteTo(static_cast<uint64_t>(epoch_revision), &epoch);
  if (!s.ok()) {
    spdlog::error("control: won the leader key but could not become primary: {}", s.ToString());
    StepDown("promotion failed");
    return;
  }
  spdlog::info(
      "control: this node leads shard '{}' (leader key revision {}, epoch {}); synchronous "
      "set: {} member(s)",
      options_.shard, epoch_revision, epoch, members_.size());
  {
    absl::MutexLock lock(&mu_);
    ++view_.promotions;
  }
  Register("primary");
}

void Controller::StepDown(const std::string& why) {
  store_->hub()->lease().Close();
  leader_revision_ = 0;
  members_.clear();
  pending_.clear();
  unhealthy_since_.clear();
  if (roles_->primary()) {
    spdlog::warn("control: this node stops being primary: {}", why);
    roles_->StepDown("this node is no longer the shard's primary (" + why + ")");
    absl::MutexLock lock(&mu_);
    ++view_.step_downs;
  }
}

void Controller::ApplySyncToHub() {
  std::vector<std::string> wait_for = members_;
  for (const auto& [id, p] : pending_) wait_for.push_back(id);
  store_->hub()->SetSynchronousSet(std::move(wait_for), members_.size());
  absl::MutexLock lock(&mu_);
  view_.sync_pending.clear();
  for (const auto& [id, p] : pending_) view_.sync_pending.push_back(id);
}

bool Controller::CasSync(const std::vector<std::string>& members, int64_t* mod_revision) {
  const std::vector<Compare> compares = {
      Compare{keys_.sync, Compare::Target::kMod, *mod_revision, {}},
      Compare{keys_.leader, Compare::Target::kCreate, leader_revision_, {}}};
  TxnResult result;
  const SyncValue value{options_.node_id, members, StoresOf(members)};
  Status s = etcd_.Txn(compares, {TxnOp::Put(keys_.sync, EncodeSync(value))}, {}, &result);
  SetError(s);
  if (!s.ok() || !result.succeeded) return false;
  *mod_revision = result.revision;
  stores_ = value.stores;
  absl::MutexLock lock(&mu_);
  ++view_.sync_changes;
  view_.sync_members = members;
  return true;
}

std::map<std::string, std::string> Controller::StoresOf(
    const std::vector<std::string>& members) const {
  std::map<std::string, std::string> out;
  out[options_.node_id] = options_.store_id;
  for (const std::string& m : members) {
    auto had = stores_.find(m);
    if (had != stores_.end()) {
      out[m] = had->second;
      continue;
    }
    auto registered = registered_stores_.find(m);
    out[m] = registered != registered_stores_.end() ? registered->second : std::string();
  }
  return out;
}

void Controller::MaintainSyncSet(const ShardState& state) {
  if (!state.sync || state.sync->leader != options_.node_id) {
    spdlog::error("control: the synchronous set names another leader; stepping down");
    StepDown("the synchronous set names another leader");
    return;
  }
  members_ = state.sync->members;
  stores_ = state.sync->stores;
  sync_mod_revision_ = state.sync_mod_revision;
  auto* hub = store_->hub();
  const auto now = Clock::now();
  const milliseconds grace = std::max(options_.lease / 2, milliseconds(500));
  const uint64_t sent = store_->LastSequence();
  std::map<std::string, replication::ReplicaState> live;
  for (const auto& r : hub->Replicas()) {
    if (r.phase != replication::FeedPhase::kLive) continue;
    auto [it, fresh] = live.emplace(r.node_id, r);
    if (!fresh && r.acked_seq > it->second.acked_seq) it->second = r;
  }

  // Members gone, or holding writes back: out of etcd first, then no longer waited for.
  std::vector<std::string> keep;
  for (const std::string& m : members_) {
    auto it = live.find(m);
    const bool healthy =
        it != live.end() && (it->second.acked_seq >= sent || now - it->second.last_ack < grace);
    if (healthy) {
      unhealthy_since_.erase(m);
      keep.push_back(m);
      continue;
    }
    auto [since, fresh] = unhealthy_since_.emplace(m, now);
    if (now - since->second < grace) keep.push_back(m);
  }
  if (keep.size() != members_.size()) {
    int64_t revision = sync_mod_revision_;
    if (CasSync(keep, &revision)) {
      for (const std::string& m : members_) {
        if (!Contains(keep, m)) {
          spdlog::warn("control: replica {} left the synchronous set (gone or not acknowledging)",
                       Short(m));
          unhealthy_since_.erase(m);
        }
      }
      members_ = keep;
      sync_mod_revision_ = revision;
      ApplySyncToHub();
    }
  }

  // Pending additions: dropped if they went away; added to etcd once they hold everything
  // acknowledged before they were first waited for.
  bool changed = false;
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto r = live.find(it->first);
    if (r == live.end() || Contains(members_, it->first)) {
      it = pending_.erase(it);
      changed = true;
      continue;
    }
    if (r->second.acked_seq >= it->second.target) {
      std::vector<std::string> grown = members_;
      grown.push_back(it->first);
      int64_t revision = sync_mod_revision_;
      if (CasSync(grown, &revision)) {
        spdlog::info("control: replica {} joined the synchronous set ({} member(s))",
                     Short(it->first), grown.size());
        members_ = std::move(grown);
        sync_mod_revision_ = revision;
        it = pending_.erase(it);
        changed = true;
        continue;
      }
    }
    ++it;
  }
  // New caught-up replicas: waited for from now on; their target is everything written up
  // to now (read after the hub waits for them, so no group acknowledged without them is
  // beyond it).
  std::vector<std::string> fresh;
  for (const auto& [id, r] : live) {
    if (Contains(members_, id) || pending_.count(id) != 0) continue;
    if (r.acked_seq < sent && now - r.last_ack > grace) continue;  // not keeping up
    auto registered = registered_stores_.find(id);
    if (registered == registered_stores_.end() || registered->second.empty()) continue;
    pending_[id] = Pending{};
    fresh.push_back(id);
    changed = true;
  }
  if (changed) ApplySyncToHub();
  if (!fresh.empty()) {
    const uint64_t target = store_->LastSequence();
    for (const std::string& id : fresh) pending_[id].target = target;
  }
}

void Controller::Register(const std::string& role) {
  NodeValue v;
  v.node_id = options_.node_id;
  v.announce = options_.announce;
  v.role = role;
  v.store = options_.store_id;
  // The position as of the role's start: re-registering on every write would make every
  // node's watch fire on every tick.
  if (registered_.empty() || registered_.find("\"role\":\"" + role + "\"") == std::string::npos) {
    v.epoch = store_->Epoch();
    v.seq = store_->LastSequence();
    const std::string value = EncodeNode(v);
    Status s = etcd_.Put(keys_.Node(options_.node_id), value, lease_id_);
    SetError(s);
    if (s.ok()) registered_ = value;
  }
}

ControlView Controller::View() const {
  absl::MutexLock lock(&mu_);
  ControlView v = view_;
  v.lease_remaining_ms = 0;
  if (roles_->primary()) {
    const auto deadline = store_->hub()->lease().deadline();
    const auto now = Clock::now();
    if (deadline > now)
      v.lease_remaining_ms = std::chrono::duration_cast<milliseconds>(deadline - now).count();
  }
  return v;
}

}  // namespace devstate::control
