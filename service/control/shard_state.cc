#include "service/control/shard_state.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <tuple>

#include "service/json.h"

namespace devstate::control {

namespace {

bool Field(simdjson::dom::element doc, std::string_view name, std::string* out) {
  std::string_view s;
  if (doc[name].get_string().get(s)) return false;
  *out = std::string(s);
  return true;
}

uint64_t Number(simdjson::dom::element doc, std::string_view name) {
  uint64_t v = 0;
  return doc[name].get_uint64().get(v) ? 0 : v;
}

}  // namespace

std::string EncodeLeader(const LeaderValue& v) {
  return fmt::format(R"({{"node_id":{},"announce":{}}})", JsonString(v.node_id),
                     JsonString(v.announce));
}

std::string EncodeSync(const SyncValue& v) {
  std::string members, stores;
  for (const std::string& m : v.members) {
    if (!members.empty()) members += ',';
    members += JsonString(m);
  }
  for (const auto& [id, store] : v.stores) {
    if (!stores.empty()) stores += ',';
    stores += JsonString(id) + ":" + JsonString(store);
  }
  return fmt::format(R"({{"leader":{},"members":[{}],"stores":{{{}}}}})", JsonString(v.leader),
                     members, stores);
}

std::string EncodeNode(const NodeValue& v) {
  return fmt::format(R"({{"node_id":{},"announce":{},"role":{},"store":{},"epoch":{},"seq":{}}})",
                     JsonString(v.node_id), JsonString(v.announce), JsonString(v.role),
                     JsonString(v.store), v.epoch, v.seq);
}

bool DecodeLeader(std::string_view json, LeaderValue* v) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc)) return false;
  return Field(doc, "node_id", &v->node_id) && Field(doc, "announce", &v->announce);
}

bool DecodeSync(std::string_view json, SyncValue* v) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc)) return false;
  if (!Field(doc, "leader", &v->leader)) return false;
  simdjson::dom::array members;
  if (doc["members"].get_array().get(members)) return false;
  v->members.clear();
  for (simdjson::dom::element m : members) {
    std::string_view id;
    if (m.get_string().get(id)) return false;
    v->members.emplace_back(id);
  }
  v->stores.clear();
  simdjson::dom::object stores;
  if (doc["stores"].get_object().get(stores)) return false;
  for (auto [id, store] : stores) {
    std::string_view token;
    if (store.get_string().get(token)) return false;
    v->stores.emplace(std::string(id), std::string(token));
  }
  return true;
}

bool DecodeNode(std::string_view json, NodeValue* v) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc)) return false;
  if (!Field(doc, "node_id", &v->node_id) || !Field(doc, "announce", &v->announce)) return false;
  Field(doc, "role", &v->role);
  Field(doc, "store", &v->store);
  v->epoch = Number(doc, "epoch");
  v->seq = Number(doc, "seq");
  return true;
}

ShardState ParseShard(const ShardKeys& keys, const std::vector<KeyValue>& kvs, int64_t revision,
                      std::string* warning) {
  ShardState state;
  state.revision = revision;
  for (const KeyValue& kv : kvs) {
    if (kv.key == keys.leader) {
      LeaderValue v;
      if (!DecodeLeader(kv.value, &v)) {
        *warning = "the leader key does not decode";
        continue;
      }
      state.leader = std::move(v);
      state.leader_create_revision = kv.create_revision;
      state.leader_lease = kv.lease;
    } else if (kv.key == keys.sync) {
      SyncValue v;
      // Present but unreadable: keep its revision, so nobody takes the lead from it.
      state.sync_mod_revision = kv.mod_revision;
      if (!DecodeSync(kv.value, &v)) {
        *warning = "the sync key does not decode";
        state.sync = SyncValue{};
        continue;
      }
      state.sync = std::move(v);
    } else if (kv.key.compare(0, keys.nodes.size(), keys.nodes) == 0) {
      NodeValue v;
      if (DecodeNode(kv.value, &v)) state.nodes.push_back(std::move(v));
    }
  }
  return state;
}

bool MayTakeLead(const ShardState& state, const std::string& me, const std::string& store,
                 uint64_t epoch, uint64_t seq) {
  if (state.leader) return false;
  if (state.sync) {
    const auto& m = state.sync->members;
    const bool named = state.sync->leader == me || std::find(m.begin(), m.end(), me) != m.end();
    auto granted = state.sync->stores.find(me);
    return named && granted != state.sync->stores.end() && granted->second == store;
  }
  // No primary ever: the node with the most data, so a fresh node never copies an empty
  // store over one that has data.
  for (const NodeValue& n : state.nodes) {
    if (n.node_id == me) continue;
    if (std::make_tuple(n.epoch, n.seq) > std::make_tuple(epoch, seq)) return false;
    if (std::make_tuple(n.epoch, n.seq) == std::make_tuple(epoch, seq) && n.node_id < me)
      return false;
  }
  return true;
}

SyncValue SyncAfterPromotion(const ShardState& state, const std::string& me,
                             const std::string& store) {
  SyncValue v;
  v.leader = me;
  v.stores[me] = store;
  if (state.sync) {
    for (const std::string& m : state.sync->members) {
      if (m == me) continue;
      v.members.push_back(m);
      auto it = state.sync->stores.find(m);
      if (it != state.sync->stores.end()) v.stores[m] = it->second;
    }
  }
  return v;
}

}  // namespace devstate::control
