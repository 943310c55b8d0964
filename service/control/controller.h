// Controller: this node's part in the shard's control plane (DESIGN.md §5; the safety
// argument is docs/FAILOVER.md). It keeps a lease in etcd, registers the node under it, and
// decides the node's role from the shard's keys (shard_state.h):
//   - the primary holds the leader key under its lease and renews the lease; after each
//     renewal it opens the hub's lease fence until a deadline that falls before the lease
//     could lapse in etcd, so a primary cut off from etcd stops admitting, acknowledging and
//     serving by itself, whatever this thread is doing;
//   - the primary keeps the synchronous set: a caught-up replica is first waited for, then
//     added by compare-and-swap once it holds everything acknowledged so far; a member that
//     is gone or stalled is removed by compare-and-swap before the hub stops waiting for it;
//   - when the leader key lapses, a node that may take it (MayTakeLead) does so in one
//     transaction that checks the synchronous set it read; its epoch is at least the new
//     key's revision;
//   - every other node follows the node the leader key names; a primary that finds another
//     leader, or none, steps down at once.
// A tick runs every lease/6 and at once when the watch on the shard's keys reports a change.
//
// Thread safety: Start and Stop from one thread; View from any. The controller's threads
// make blocking etcd calls; none runs on an event loop.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "service/control/etcd_client.h"
#include "service/control/shard_state.h"
#include "service/replication/roles.h"
#include "store/store.h"

namespace devstate::control {

struct ControllerOptions {
  EtcdOptions etcd;
  std::string shard;
  std::string node_id;
  std::string announce;  // host:resp_port:http_port
  std::string store_id;  // this node's store (store.dir/STORE_ID): membership is granted to it
  std::chrono::milliseconds lease{4000};
  // Each successful lease renewal's latency (metrics); called on the control thread.
  std::function<void(double seconds)> on_renewal;
};

class Controller {
 public:
  Controller(Store* store, Roles* roles, ControllerOptions options);
  ~Controller();  // Stop
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the control and watch threads (the node has started undecided).
  void Start();
  // A primary closes its fence and revokes its lease, so a replica takes over at once;
  // then the threads end. Idempotent.
  void Stop();

  ControlView View() const;

 private:
  struct Pending {
    uint64_t target = 0;  // the position it must hold before it joins the set in etcd
  };

  void Run();
  void RunWatch();
  void Tick();
  bool RenewLease();  // false: no usable lease now
  void Decide(const ShardState& state);
  void TakeLead(const ShardState& state);
  void MaintainSyncSet(const ShardState& state);
  // Writes `members` as the synchronous set if it is still at `mod_revision`, and this node
  // still holds the leader key. True on success (then *mod_revision is the new one).
  bool CasSync(const std::vector<std::string>& members, int64_t* mod_revision);
  // The store each of `members` is granted membership on: as the set had it, else as the
  // node registered it (empty if it did not).
  std::map<std::string, std::string> StoresOf(const std::vector<std::string>& members) const;
  void ApplySyncToHub();
  void Register(const std::string& role);
  void StepDown(const std::string& why);
  void Poke();
  void SetError(const Status& s);

  Store* const store_;
  Roles* const roles_;
  const ControllerOptions options_;
  const ShardKeys keys_;
  const std::chrono::milliseconds tick_;
  const std::chrono::milliseconds margin_;  // the fence closes this long before the lease can lapse

  // Control thread only.
  EtcdClient etcd_;
  int64_t lease_id_ = 0;
  std::chrono::steady_clock::time_point lease_deadline_{};
  int64_t leader_revision_ = 0;                // our leader key's create revision while we lead
  std::vector<std::string> members_;           // the synchronous set in etcd, while we lead
  std::map<std::string, std::string> stores_;  // its stores (SyncValue::stores)
  std::map<std::string, std::string> registered_stores_;  // node -> store, as registered
  int64_t sync_mod_revision_ = 0;
  std::map<std::string, Pending> pending_;
  std::map<std::string, std::chrono::steady_clock::time_point> unhealthy_since_;
  std::string registered_;  // the node value last written

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  ControlView view_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;
  std::thread watch_thread_;
};

// The hub's fence deadline after a renewal sent at `sent` that granted `ttl_s`.
std::chrono::steady_clock::time_point FenceDeadline(std::chrono::steady_clock::time_point sent,
                                                    int64_t ttl_s,
                                                    std::chrono::milliseconds margin);

}  // namespace devstate::control
