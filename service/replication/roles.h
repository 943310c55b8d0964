// Roles: the part this node plays in its shard, and the switches between parts (DESIGN.md
// §5). A primary takes writes, feeds its replicas (the store's ReplicationHub) and runs the
// primary's work (MQTT ingest, the expiry sweeper); a replica follows a primary through a
// ReplicaClient and refuses writes. Without etcd the operator sets roles:
//   replication.replicaof / REPLICAOF host port   follow a primary;
//   REPLICAOF NO ONE                              become primary, in a new epoch;
//   FAILOVER [TO host port] [TIMEOUT ms] [FORCE]  hand the primary's part to a replica
//                                                 once it holds everything, then follow it.
//
// Every change runs on the role thread, one at a time, so none runs on an event loop and
// none waits for another: Change() queues it and calls `done` on the role thread when the
// node plays its new part (for FAILOVER, once the failover has started, as Redis answers).
// The role thread also watches a failover in progress and the clients blocked in WAIT,
// woken by every replica acknowledgement.
//
// With a control plane (service/control/), the controller decides instead, calling
// BeginUndecided, PromoteTo, StepDown and Follow from its own thread; they take the same
// lock as the role thread's changes, so changes still happen one at a time.
//
// A primary that starts (Begin with no replicaof) starts a new epoch: a group it journaled
// before a crash and never sent is then not in any epoch a replica could continue from,
// so a replica holding a group it lost is found to diverge and copied in full.
//
// Thread safety: every public method is safe from any thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "service/replication/replica_client.h"
#include "service/replication/role_view.h"
#include "store/store.h"

namespace devstate {

struct RolesOptions {
  std::string node_id;
  std::string announce_host = "127.0.0.1";
  std::string user;  // replication.user and its password, for a replica's AUTH
  std::string password;
  std::shared_ptr<boost::asio::ssl::context> tls;  // replication.tls
  std::chrono::milliseconds link_timeout{5000};    // silence that ends a replica's link
  // Roles belong to a control plane (etcd): REPLICAOF and FAILOVER are refused, and a
  // primary's hand-over request (FAILOVER) is ignored.
  bool controlled = false;
  // The primary's work, started when this node becomes primary and stopped before it
  // follows another (MQTT ingest, the expiry sweeper). Called on the role thread.
  std::function<void()> start_primary_work;
  std::function<void()> stop_primary_work;
};

class Roles {
 public:
  Roles(Store* store, RolesOptions options);
  ~Roles();  // Stop
  Roles(const Roles&) = delete;
  Roles& operator=(const Roles&) = delete;

  // The ports this node's listeners got.
  void SetPorts(uint16_t resp_port, uint16_t http_port);
  // The first role, before clients are served: follow `replicaof` ("host:port"), or be
  // primary (in a new epoch) when it is empty.
  Status Begin(const std::string& replicaof);
  // The control plane's changes (blocking; never call them from an event loop).
  // The first role under a control plane: neither primary nor following anyone; writes are
  // refused with `why` until the controller decides.
  void BeginUndecided(const std::string& why);
  // Becomes primary in an epoch of at least `at_least_epoch` (*epoch: the one taken). A
  // node that is primary already keeps its epoch.
  Status PromoteTo(uint64_t at_least_epoch, uint64_t* epoch);
  // Stops being primary (writes refused with `why`) without following anyone yet.
  void StepDown(const std::string& why);
  // Follows host:port, unless it already does.
  Status Follow(const std::string& host, uint16_t port);
  // Queues a change; `done` hears its outcome on the role thread.
  void Change(RoleChange change, std::function<void(Status)> done);
  // A replica told this node's hub that it has heard of a newer epoch: another node is
  // primary. Refuse writes at once; the operator (or the control plane) says whom to follow.
  void NewerEpochSeen(uint64_t term);
  // Ends the replica link, a failover in progress, the waiters and the role thread.
  void Stop();

  bool primary() const { return primary_flag_.load(std::memory_order_acquire); }
  RoleView View() const;

  // WAIT: calls done(count) once `replicas` replicas acknowledged `seq`, or at `timeout`
  // (0: never) with the count then. `done` runs on the role thread or the caller's.
  void WaitForReplicas(uint64_t seq, size_t replicas, std::chrono::milliseconds timeout,
                       std::function<void(size_t count)> done);

 private:
  struct Waiter {
    uint64_t seq;
    size_t replicas;
    std::chrono::steady_clock::time_point deadline;  // max(): none
    std::function<void(size_t)> done;
  };
  // A FAILOVER in progress: writes are paused until the target holds `seq`.
  struct Failover {
    std::string node_id;
    std::string address;  // host:resp_port:http_port
    uint64_t seq = 0;
    std::chrono::steady_clock::time_point deadline;  // max(): none
    bool force = false;
  };

  Status Apply(const RoleChange& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(switch_mu_);
  Status FollowLocked(const std::string& host, uint16_t port)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(switch_mu_);
  Status PromoteLocked(uint64_t at_least_epoch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(switch_mu_);
  void StepDownLocked(const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(switch_mu_);
  Status StartFailover(const RoleChange& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(switch_mu_);
  void AdvanceFailover() ABSL_EXCLUSIVE_LOCKS_REQUIRED(switch_mu_);
  void EndFailover(const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(switch_mu_);
  void StopClientLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(switch_mu_);
  void SetPrimaryWork(bool run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(switch_mu_);
  void RunWorker();
  void Post(std::function<void()> task);
  void Poke();
  void CheckWaiters(bool stopping);

  Store* const store_;
  const RolesOptions options_;

  absl::Mutex switch_mu_;  // one change at a time
  std::unique_ptr<ReplicaClient> client_ ABSL_GUARDED_BY(switch_mu_);
  std::optional<Failover> failover_ ABSL_GUARDED_BY(switch_mu_);
  bool work_running_ ABSL_GUARDED_BY(switch_mu_) = false;

  std::atomic<bool> primary_flag_{true};
  mutable absl::Mutex mu_;  // what View reads
  std::string primary_host_ ABSL_GUARDED_BY(mu_);
  uint16_t primary_port_ ABSL_GUARDED_BY(mu_) = 0;
  uint16_t resp_port_ ABSL_GUARDED_BY(mu_) = 0;
  uint16_t http_port_ ABSL_GUARDED_BY(mu_) = 0;
  std::string failover_state_ ABSL_GUARDED_BY(mu_) = "no-failover";
  ReplicaClient* link_ ABSL_GUARDED_BY(mu_) = nullptr;  // client_, for View

  absl::Mutex worker_mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(worker_mu_);
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(worker_mu_);
  bool poked_ ABSL_GUARDED_BY(worker_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(worker_mu_) = false;
  std::thread worker_;
};

}  // namespace devstate
