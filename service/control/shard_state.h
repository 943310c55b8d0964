// The shard as etcd holds it (DESIGN.md §5, control plane), and the decisions that follow
// from it alone. Keys under /devstate/<shard>/:
//   leader        {"node_id","announce"}          under the primary's lease; its revision is
//                                                 the primary's epoch
//   sync          {"leader","members":[ids],"stores":{id:store}}   the synchronous set: no
//                                                 lease; changed only by compare-and-swap
//   nodes/<id>    {"node_id","announce","role","store","epoch","seq"}   under each node's
//                                                 lease
// "announce" is host:resp_port:http_port. Plain values and pure functions: the controller
// does the I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "service/control/etcd_client.h"

namespace devstate::control {

struct LeaderValue {
  std::string node_id;
  std::string announce;
};

struct SyncValue {
  std::string leader;
  std::vector<std::string> members;
  // The store each of them (leader included) held when it joined: a node whose disk was
  // wiped comes back with a new store under the same id, and holds nothing it acknowledged.
  std::map<std::string, std::string> stores;
};

struct NodeValue {
  std::string node_id;
  std::string announce;
  std::string role;   // "primary", "replica", "undecided"
  std::string store;  // the id of the store it runs on (store.dir/STORE_ID)
  uint64_t epoch = 0;
  uint64_t seq = 0;
};

std::string EncodeLeader(const LeaderValue& v);
std::string EncodeSync(const SyncValue& v);
std::string EncodeNode(const NodeValue& v);
bool DecodeLeader(std::string_view json, LeaderValue* v);
bool DecodeSync(std::string_view json, SyncValue* v);
bool DecodeNode(std::string_view json, NodeValue* v);

struct ShardKeys {
  explicit ShardKeys(const std::string& shard)
      : prefix("/devstate/" + shard + "/"),
        leader(prefix + "leader"),
        sync(prefix + "sync"),
        nodes(prefix + "nodes/") {}
  std::string Node(const std::string& id) const { return nodes + id; }
  std::string prefix, leader, sync, nodes;
};

struct ShardState {
  int64_t revision = 0;
  std::optional<LeaderValue> leader;
  int64_t leader_create_revision = 0;  // 0: no leader key
  int64_t leader_lease = 0;
  std::optional<SyncValue> sync;
  int64_t sync_mod_revision = 0;  // 0: no sync key
  std::vector<NodeValue> nodes;   // registered (live) nodes
};

// Reads the keys of one range over the shard's prefix; a value that does not decode is
// treated as absent (and reported in *warning).
ShardState ParseShard(const ShardKeys& keys, const std::vector<KeyValue>& kvs, int64_t revision,
                      std::string* warning);

// May node `me`, holding (`epoch`, `seq`), take the lapsed leader key? Only a node that holds
// every acknowledged write: a member of the synchronous set, or the primary that wrote it.
// Membership counts only on the store it was granted to (`store`: this node's store id).
// Before any primary existed (no sync key), the registered node holding the most (highest
// epoch, then position, then lowest id) goes first.
bool MayTakeLead(const ShardState& state, const std::string& me, const std::string& store,
                 uint64_t epoch, uint64_t seq);

// The synchronous set after `me` takes the lead: the old members but itself (each still
// holds every acknowledged write, so it stays eligible until this primary removes it).
SyncValue SyncAfterPromotion(const ShardState& state, const std::string& me,
                             const std::string& store);

}  // namespace devstate::control
