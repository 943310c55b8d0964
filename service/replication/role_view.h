// What the protocol servers see of this node's role in its shard (DESIGN.md §5), and the
// role changes they may ask for. Plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "store/replication/hub.h"

namespace devstate {

// A replica's link to its primary, as INFO replication and ROLE show it.
struct LinkState {
  bool up = false;         // streaming
  std::string error;       // why the last connection ended or was refused
  int64_t last_io_ms = 0;  // steady clock, ms
  bool copying = false;    // a full copy is arriving
  uint64_t copy_bytes = 0;
  uint64_t copy_total = 0;
  uint64_t primary_seq = 0;  // the primary's last position, as last heard
  std::string primary_node_id;
  std::string primary_announce;  // host:resp_port:http_port
  uint64_t full_copies = 0;
};

// A node as the control plane lists it.
struct ShardNode {
  std::string node_id;
  std::string announce;  // host:resp_port:http_port
  std::string role;
};

// The control plane (etcd), as this node sees it; enabled false without replication.etcd.
struct ControlView {
  bool enabled = false;
  std::string endpoint;    // the etcd endpoint used last
  std::string etcd_error;  // the last failed call, empty once one succeeds
  std::string leader_id;   // the leader key's node, empty: none
  std::string leader_announce;
  int64_t leader_revision = 0;
  std::vector<std::string> sync_members;  // the synchronous set in etcd
  std::vector<std::string> sync_pending;  // being added (waited for, not yet in etcd)
  int64_t lease_id = 0;
  int64_t lease_remaining_ms = 0;  // until the primary's fence closes; 0: closed or replica
  std::vector<ShardNode> nodes;    // registered nodes
  uint64_t promotions = 0;
  uint64_t step_downs = 0;
  uint64_t lease_renewals = 0;
  uint64_t lease_failures = 0;
  uint64_t sync_changes = 0;
};

// This node and its shard.
struct RoleView {
  bool primary = true;
  std::string node_id;
  std::string host;  // this node's announce address
  uint16_t resp_port = 0;
  uint16_t http_port = 0;
  uint64_t epoch = 0;
  uint64_t term = 0;
  uint64_t last_seq = 0;  // the journal's last position (fsync'd)
  // A replica: its primary, and the link to it. primary_port 0: none known.
  std::string primary_host;
  uint16_t primary_port = 0;
  uint16_t primary_http_port = 0;
  std::string primary_node_id;
  LinkState link;
  // A primary: its replicas, and how many must hold a write before it is answered.
  std::vector<replication::ReplicaState> replicas;
  size_t min_replicas_ack = 0;
  std::string failover_state = "no-failover";
  replication::HubStats hub;
  ControlView control;
};

// A role change an operator asks for (REPLICAOF, FAILOVER).
struct RoleChange {
  enum class Kind {
    kFollow,         // REPLICAOF host port
    kPromote,        // REPLICAOF NO ONE
    kFailover,       // FAILOVER [TO host port] [TIMEOUT ms] [FORCE]
    kAbortFailover,  // FAILOVER ABORT
  };
  Kind kind = Kind::kFollow;
  std::string host;  // kFollow, kFailover's target (empty: the replica holding the most)
  uint16_t port = 0;
  std::chrono::milliseconds timeout{0};  // kFailover: 0 waits for the target without end
  bool force = false;
};

// Splits "host:port" (or "[v6]:port"); false if it is not one.
bool SplitHostPort(const std::string& text, std::string* host, uint16_t* port);
// "host:resp_port:http_port" (a node's announce); false if it is not one.
bool SplitAnnounce(const std::string& text, std::string* host, uint16_t* resp_port,
                   uint16_t* http_port);

}  // namespace devstate
