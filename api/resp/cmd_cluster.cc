// Cluster and command introspection: CLUSTER SLOTS SHARDS INFO MYID NODES KEYSLOT
// COUNTKEYSINSLOT, COMMAND COUNT INFO DOCS GETKEYS LIST. devstate presents itself as a Redis
// Cluster whose one shard owns all 16384 slots (as MemoryDB does), so cluster clients work
// as they are; COMMAND is generated from the command table's rows.
#include <fmt/format.h>

#include "api/resp/commands.h"

namespace devstate::resp {
namespace {

void WriteSpec(ReplyWriter& w, const CommandSpec& c) {
  w.Array(10);
  w.Bulk(c.name);
  w.Integer(c.arity);
  std::vector<std::string_view> flags;
  if (c.flags & kWrite) flags.push_back("write");
  if (c.flags & kReadonly) flags.push_back("readonly");
  if (c.flags & kDenyOom) flags.push_back("denyoom");
  if (c.flags & kAdmin) flags.push_back("admin");
  if (c.flags & kNoScript) flags.push_back("noscript");
  if (c.flags & kBlocking) flags.push_back("blocking");
  if (c.flags & kNoMulti) flags.push_back("no_multi");
  if (c.flags & kLoading) flags.push_back("loading");
  if (c.flags & kStale) flags.push_back("stale");
  if (c.flags & kAsking) flags.push_back("asking");
  if (c.flags & kFast) flags.push_back("fast");
  if (c.flags & kNoAuth) flags.push_back("no_auth");
  if (c.numkeys_at > 0 || c.option_keys != nullptr) flags.push_back("movablekeys");
  w.Set(flags.size());
  for (auto f : flags) w.Simple(f);
  w.Integer(c.first_key);
  w.Integer(c.last_key);
  w.Integer(c.step);
  w.Set(c.categories.size());
  for (auto cat : c.categories) w.Simple(fmt::format("@{}", cat));
  w.Array(0);  // tips
  // Key specs: one range spec, as Redis derives from (first, last, step).
  if (c.first_key > 0) {
    w.Array(1);
    w.Map(3);
    w.Bulk("flags");
    w.Set(1);
    w.Simple((c.flags & kWrite) ? "RW" : "RO");
    w.Bulk("begin_search");
    w.Map(2);
    w.Bulk("type");
    w.Bulk("index");
    w.Bulk("spec");
    w.Map(1);
    w.Bulk("index");
    w.Integer(c.first_key);
    w.Bulk("find_keys");
    w.Map(2);
    w.Bulk("type");
    w.Bulk("range");
    w.Bulk("spec");
    w.Map(3);
    w.Bulk("lastkey");
    w.Integer(c.last_key < 0 ? c.last_key : c.last_key - c.first_key);
    w.Bulk("keystep");
    w.Integer(c.step);
    w.Bulk("limit");
    w.Integer(0);
  } else {
    w.Array(0);
  }
  w.Array(c.subcommands.size());
  for (const CommandSpec& sub : c.subcommands) WriteSpec(w, sub);
}
void WriteDocs(ReplyWriter& w, const CommandSpec& c) {
  w.Bulk(c.name);
  w.Map(c.subcommands.empty() ? 3 : 4);
  w.Bulk("summary");
  w.Bulk(c.summary);
  w.Bulk("since");
  w.Bulk("1.0.0");
  w.Bulk("group");
  w.Bulk(c.categories.empty() ? "generic" : c.categories.front());
  if (!c.subcommands.empty()) {
    w.Bulk("subcommands");
    w.Map(c.subcommands.size());
    for (const CommandSpec& sub : c.subcommands) WriteDocs(w, sub);
  }
}

// The shard as clients see it: the primary first, then its replicas. A replica knows its
// primary and itself (not its siblings).
struct ShardNode {
  std::string id;
  std::string host;
  uint16_t port = 0;
  bool primary = false;
  bool self = false;
  uint64_t offset = 0;
  bool online = true;
};

std::vector<ShardNode> Shard(Call& call) {
  const ServerState& s = call.server;
  const RoleView v = call.service().Role();
  std::vector<ShardNode> nodes;
  const std::string my_id = v.node_id.empty() ? s.node_id : v.node_id;
  ShardNode me{my_id, s.announce_host, s.port, v.primary, true, v.last_seq, true};
  if (v.control.enabled && !v.control.leader_id.empty()) {
    // Under etcd the shard is what etcd lists: its leader, then every registered replica.
    auto add = [&](const std::string& id, const std::string& announce, bool primary) {
      ShardNode n;
      n.id = id;
      uint16_t http = 0;
      if (!SplitAnnounce(announce, &n.host, &n.port, &http)) return;
      n.primary = primary;
      n.self = id == my_id;
      n.offset = n.self ? v.last_seq : 0;
      nodes.push_back(std::move(n));
    };
    add(v.control.leader_id, v.control.leader_announce, true);
    for (const devstate::ShardNode& n : v.control.nodes) {
      if (n.node_id != v.control.leader_id && n.role == "replica")
        add(n.node_id, n.announce, false);
    }
    if (!nodes.empty()) return nodes;
  }
  if (v.primary) {
    nodes.push_back(me);
    for (const auto& r : v.replicas) {
      ShardNode n;
      n.id = r.node_id;
      uint16_t http = 0;
      if (!SplitAnnounce(r.address, &n.host, &n.port, &http)) continue;
      n.offset = r.acked_seq;
      n.online = r.phase == replication::FeedPhase::kLive;
      nodes.push_back(std::move(n));
    }
    return nodes;
  }
  if (v.primary_port != 0) {
    ShardNode p;
    p.id = v.primary_node_id.empty() ? std::string(40, '0') : v.primary_node_id;
    p.host = v.primary_host;
    p.port = v.primary_port;
    p.primary = true;
    p.offset = v.link.primary_seq;
    p.online = v.link.up;
    nodes.push_back(std::move(p));
  }
  nodes.push_back(me);
  return nodes;
}

void CmdClusterSlots(Call& call) {
  call.client.cluster_aware = true;
  const std::vector<ShardNode> nodes = Shard(call);
  ReplyWriter& w = call.reply;
  w.Array(1);
  w.Array(2 + nodes.size());
  w.Integer(0);
  w.Integer(16383);
  for (const ShardNode& n : nodes) {
    w.Array(3);
    w.Bulk(n.host);
    w.Integer(n.port);
    w.Bulk(n.id);
  }
}

void CmdClusterShards(Call& call) {
  call.client.cluster_aware = true;
  const std::vector<ShardNode> nodes = Shard(call);
  ReplyWriter& w = call.reply;
  w.Array(1);
  w.Map(2);
  w.Bulk("slots");
  w.Array(2);
  w.Integer(0);
  w.Integer(16383);
  w.Bulk("nodes");
  w.Array(nodes.size());
  for (const ShardNode& n : nodes) {
    w.Map(7);
    w.Bulk("id");
    w.Bulk(n.id);
    w.Bulk("port");
    w.Integer(n.port);
    w.Bulk("ip");
    w.Bulk(n.host);
    w.Bulk("endpoint");
    w.Bulk(n.host);
    w.Bulk("role");
    w.Bulk(n.primary ? "master" : "replica");
    w.Bulk("replication-offset");
    w.Integer(static_cast<int64_t>(n.offset));
    w.Bulk("health");
    w.Bulk(n.online ? "online" : "loading");
  }
}

void CmdClusterInfo(Call& call) {
  const size_t nodes = Shard(call).size();
  call.reply.Verbatim(
      fmt::format("cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"
                  "cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:{}\r\n"
                  "cluster_size:1\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n"
                  "cluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n"
                  "total_cluster_links_buffer_limit_exceeded:0\r\n",
                  nodes, std::max<uint64_t>(1, call.service().Role().term),
                  std::max<uint64_t>(1, call.service().Role().epoch)));
}

void CmdClusterMyid(Call& call) {
  const RoleView v = call.service().Role();
  call.reply.Bulk(v.node_id.empty() ? call.server.node_id : v.node_id);
}

void CmdClusterNodes(Call& call) {
  call.client.cluster_aware = true;
  const std::vector<ShardNode> nodes = Shard(call);
  const std::string primary_id = !nodes.empty() && nodes.front().primary ? nodes.front().id : "-";
  std::string out;
  for (const ShardNode& n : nodes) {
    std::string flags = n.self ? "myself," : "";
    flags += n.primary ? "master" : "slave";
    fmt::format_to(std::back_inserter(out), "{} {}:{}@{} {} {} 0 0 1 connected{}\n", n.id, n.host,
                   n.port, n.port + 10000, flags, n.primary ? "-" : primary_id,
                   n.primary ? " 0-16383" : "");
  }
  call.reply.Verbatim(out);
}

void CmdClusterKeyslot(Call& call) { call.reply.Integer(KeySlot(call.args[2])); }

void CmdClusterCountkeysinslot(Call& call) {
  int64_t slot = 0;
  if (!ParseInt64(call.args[2], &slot) || slot < 0 || slot > 16383) {
    return call.reply.Error("ERR Invalid slot");
  }
  const int64_t now = call.service().NowMs();
  int64_t count = 0;
  uint64_t cursor = 0;
  do {
    cursor = call.service().Scan(cursor, 4096, [&](const std::string& key, const RecordPtr& r) {
      if (!r->ExpiredAt(now) && KeySlot(key) == slot) ++count;
    });
  } while (cursor != 0);
  call.reply.Integer(count);
}

void CmdCommand(Call& call) {
  const auto& table = CommandTable();
  call.reply.Array(table.size());
  for (const CommandSpec& c : table) WriteSpec(call.reply, c);
}

void CmdCommandCount(Call& call) {
  call.reply.Integer(static_cast<int64_t>(CommandTable().size()));
}

// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: every command
// and subcommand ("client|list") that passes the filter. devstate loads no modules.
void CmdCommandList(Call& call) {
  const auto& args = call.args;
  enum class Filter : uint8_t { kNone, kModule, kCategory, kPattern } filter = Filter::kNone;
  if (args.size() != 2) {
    if (args.size() != 5 || !EqualsNoCase(args[2], "filterby"))
      return call.reply.Error("ERR syntax error");
    if (EqualsNoCase(args[3], "module")) {
      filter = Filter::kModule;
    } else if (EqualsNoCase(args[3], "aclcat")) {
      filter = Filter::kCategory;
    } else if (EqualsNoCase(args[3], "pattern")) {
      filter = Filter::kPattern;
    } else {
      return call.reply.Error("ERR syntax error");
    }
  }
  auto passes = [&](const CommandSpec& c) {
    switch (filter) {
      case Filter::kNone:
        return true;
      case Filter::kModule:
        return false;
      case Filter::kCategory:
        return std::any_of(c.categories.begin(), c.categories.end(),
                           [&](std::string_view cat) { return EqualsNoCase(cat, args[4]); });
      case Filter::kPattern:
        return GlobMatch(args[4], c.name, /*nocase=*/true);
    }
    return false;
  };
  std::vector<std::string_view> names;
  for (const CommandSpec& c : CommandTable()) {
    if (passes(c)) names.push_back(c.name);
    for (const CommandSpec& sub : c.subcommands) {
      if (passes(sub)) names.push_back(sub.name);
    }
  }
  call.reply.Array(names.size());
  for (std::string_view name : names) call.reply.Bulk(name);
}

// The row a name in COMMAND INFO/DOCS means: "client" or "client|setname".
const CommandSpec* Named(std::string_view name) {
  const size_t bar = name.find('|');
  const CommandSpec* spec = FindCommand(name.substr(0, bar));
  if (spec == nullptr || bar == std::string_view::npos) return spec;
  return FindSubcommand(*spec, name.substr(bar + 1));
}

void CmdCommandInfo(Call& call) {
  if (call.args.size() == 2) return CmdCommand(call);
  call.reply.Array(call.args.size() - 2);
  for (size_t i = 2; i < call.args.size(); ++i) {
    if (const CommandSpec* c = Named(call.args[i])) {
      WriteSpec(call.reply, *c);
    } else {
      call.reply.NullArray();
    }
  }
}

void CmdCommandDocs(Call& call) {
  std::vector<const CommandSpec*> wanted;
  if (call.args.size() == 2) {
    for (const CommandSpec& c : CommandTable()) wanted.push_back(&c);
  } else {
    for (size_t i = 2; i < call.args.size(); ++i) {
      if (const CommandSpec* c = Named(call.args[i])) wanted.push_back(c);
    }
  }
  call.reply.Map(wanted.size());
  for (const CommandSpec* c : wanted) WriteDocs(call.reply, *c);
}

void CmdCommandGetkeys(Call& call) {
  const std::vector<std::string> command(call.args.begin() + 2, call.args.end());
  const CommandSpec* c = ResolveCommand(command);
  if (c == nullptr) return call.reply.Error("ERR Invalid command specified");
  const int n = static_cast<int>(command.size());
  if ((c->arity > 0 && n != c->arity) || (c->arity < 0 && n < -c->arity)) {
    return call.reply.Error("ERR Invalid number of arguments specified for command");
  }
  if (!HasKeys(*c)) return call.reply.Error("ERR The command has no key arguments");
  std::vector<std::string_view> keys;
  ForEachKeyIndex(*c, command, [&](int k) {
    keys.push_back(command[k]);
    return true;
  });
  call.reply.Array(keys.size());
  for (auto k : keys) call.reply.Bulk(k);
}

}  // namespace

void AddClusterCommands(std::vector<CommandSpec>* t) {
  const uint32_t any = kStale | kLoading;
  const std::vector<std::string_view> slow = {"slow"};
  const std::vector<std::string_view> conn = {"slow", "connection"};
  t->push_back({"cluster",
                -2,
                0,
                0,
                0,
                0,
                slow,
                nullptr,
                "A container for cluster commands",
                {
                    {"cluster|slots", 2, any, 0, 0, 0, slow, CmdClusterSlots,
                     "Get array of cluster slot to node mappings"},
                    {"cluster|shards", 2, any, 0, 0, 0, slow, CmdClusterShards,
                     "Get array of cluster shards"},
                    {"cluster|info", 2, any, 0, 0, 0, slow, CmdClusterInfo,
                     "Provides info about the cluster state"},
                    {"cluster|myid", 2, any, 0, 0, 0, slow, CmdClusterMyid, "Return the node id"},
                    {"cluster|nodes", 2, any, 0, 0, 0, slow, CmdClusterNodes,
                     "Get cluster config for the node"},
                    {"cluster|keyslot", 3, any, 0, 0, 0, slow, CmdClusterKeyslot,
                     "Returns the hash slot of the key"},
                    {"cluster|countkeysinslot", 3, any, 0, 0, 0, slow, CmdClusterCountkeysinslot,
                     "Return the number of local keys in the slot"},
                    {"cluster|help", 2, any, 0, 0, 0, slow, ContainerHelp, "Show helpful text"},
                }});
  t->push_back({"command",
                -1,
                any,
                0,
                0,
                0,
                conn,
                CmdCommand,
                "Get array of Redis command details",
                {
                    {"command|count", 2, any, 0, 0, 0, conn, CmdCommandCount,
                     "Get total number of Redis commands"},
                    {"command|info", -2, any, 0, 0, 0, conn, CmdCommandInfo,
                     "Get array of specific Redis command details"},
                    {"command|docs", -2, any, 0, 0, 0, conn, CmdCommandDocs,
                     "Get array of specific Redis command documentation"},
                    {"command|getkeys", -3, any, 0, 0, 0, conn, CmdCommandGetkeys,
                     "Extract keys given a full Redis command"},
                    {"command|list", -2, any, 0, 0, 0, conn, CmdCommandList,
                     "Get an array of command names"},
                    {"command|help", 2, any, 0, 0, 0, conn, ContainerHelp, "Show helpful text"},
                }});
}

}  // namespace devstate::resp
