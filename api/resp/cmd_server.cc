// Server commands: INFO, CONFIG GET SET RESETSTAT HELP, TIME.
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "api/resp/commands.h"
#include "service/config.h"
#include "service/version.h"

namespace devstate::resp {
namespace {

constexpr std::string_view kRedisVersion = "7.0.15";  // the Redis this speaks like

// INFO replication with Redis 7.0's fields (offsets are journal positions: a replica's
// slave_repl_offset is its last fsync'd one), then devstate's own: the epoch, the highest
// epoch heard of, and how many replicas must hold a write.
std::string ReplicationInfo(Call& call) {
  const RoleView v = call.service().Role();
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  std::string out;
  auto line = [&out](std::string_view key, const auto& value) {
    fmt::format_to(std::back_inserter(out), "{}:{}\r\n", key, value);
  };
  line("role", v.primary ? "master" : "slave");
  if (!v.primary) {
    line("master_host", v.primary_host);
    line("master_port", v.primary_port);
    line("master_link_status", v.link.up ? "up" : "down");
    line("master_last_io_seconds_ago",
         v.link.last_io_ms == 0 ? int64_t{-1} : (now - v.link.last_io_ms) / 1000);
    line("master_sync_in_progress", v.link.copying ? 1 : 0);
    line("slave_read_repl_offset", v.last_seq);
    line("slave_repl_offset", v.last_seq);
    if (v.link.copying) {
      line("master_sync_total_bytes", v.link.copy_total);
      line("master_sync_read_bytes", v.link.copy_bytes);
      line("master_sync_left_bytes",
           v.link.copy_total > v.link.copy_bytes ? v.link.copy_total - v.link.copy_bytes : 0);
      line("master_sync_perc",
           fmt::format("{:.2f}", v.link.copy_total == 0
                                     ? 0.0
                                     : 100.0 * static_cast<double>(v.link.copy_bytes) /
                                           static_cast<double>(v.link.copy_total)));
    }
    if (!v.link.up && !v.link.error.empty()) line("master_link_down_reason", v.link.error);
    line("slave_priority", 100);
    line("slave_read_only", 1);
    line("replica_announced", 1);
    line("master_node_id", v.primary_node_id);
    line("master_position", v.link.primary_seq);
    line("full_copies_received", v.link.full_copies);
  }
  line("connected_slaves", v.replicas.size());
  const auto steady_now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < v.replicas.size(); ++i) {
    const auto& r = v.replicas[i];
    std::string host;
    uint16_t resp = 0, http = 0;
    SplitAnnounce(r.address, &host, &resp, &http);
    const char* state = r.phase == replication::FeedPhase::kFullCopy ? "send_bulk" : "online";
    const int64_t lag =
        std::chrono::duration_cast<std::chrono::seconds>(steady_now - r.last_ack).count();
    fmt::format_to(
        std::back_inserter(out),
        "slave{}:ip={},port={},state={},offset={},lag={},phase={},node_id={},lag_seq={}\r\n", i,
        host, resp, state, r.acked_seq, lag, replication::FeedPhaseName(r.phase), r.node_id,
        v.last_seq > r.acked_seq ? v.last_seq - r.acked_seq : 0);
  }
  line("master_failover_state", v.failover_state);
  line("master_replid", v.primary ? v.node_id : v.primary_node_id);
  line("master_replid2", "0000000000000000000000000000000000000000");
  line("master_repl_offset", v.primary ? v.last_seq : v.link.primary_seq);
  line("second_repl_offset", -1);
  line("repl_backlog_active", 1);
  line("epoch", v.epoch);
  line("term", v.term);
  line("min_replicas_ack", v.min_replicas_ack);
  line("bytes_streamed", v.hub.bytes_streamed);
  line("full_copies_sent", v.hub.full_copies);
  const ControlView& c = v.control;
  line("control_plane", c.enabled ? "etcd" : "none");
  if (c.enabled) {
    auto join = [](const std::vector<std::string>& ids) {
      std::string list;
      for (const std::string& id : ids) list += (list.empty() ? "" : ",") + id;
      return list;
    };
    line("etcd_endpoint", c.endpoint);
    line("etcd_error", c.etcd_error);
    line("leader_node_id", c.leader_id);
    line("leader_revision", c.leader_revision);
    line("lease_id", fmt::format("{:x}", c.lease_id));
    line("lease_remaining_ms", c.lease_remaining_ms);
    line("sync_set", join(c.sync_members));
    line("sync_set_pending", join(c.sync_pending));
    line("shard_nodes", c.nodes.size());
    line("promotions", c.promotions);
    line("step_downs", c.step_downs);
    line("lease_renewals", c.lease_renewals);
    line("lease_failures", c.lease_failures);
    line("sync_set_changes", c.sync_changes);
  }
  return out;
}

// Calls fn(row) for each command row of the table and each of its subcommands' rows.
template <typename Fn>
void ForEachRow(Fn fn) {
  for (const CommandSpec& c : CommandTable()) {
    fn(c);
    for (const CommandSpec& sub : c.subcommands) fn(sub);
  }
}

std::string InfoText(Call& call, const std::vector<std::string>& wanted) {
  auto want = [&](std::string_view section, bool in_default) {
    if (wanted.empty()) return in_default;
    for (const std::string& w : wanted) {
      if (w == section || w == "all" || w == "everything" || (w == "default" && in_default))
        return true;
    }
    return false;
  };
  ServerState& s = call.server;
  const int64_t now = call.service().NowMs();
  std::string out;
  auto section = [&](std::string_view name) {
    if (!out.empty()) out += "\r\n";
    out += fmt::format("# {}\r\n", name);
  };
  if (want("server", true)) {
    section("Server");
    out += fmt::format(
        "redis_version:{}\r\ndevstate_version:{}\r\nredis_mode:cluster\r\nos:Linux\r\narch_bits:"
        "64\r\n"
        "multiplexing_api:epoll\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{"
        "}\r\n"
        "uptime_in_days:{}\r\nexecutable:devstate\r\n",
        kRedisVersion, kVersion, getpid(), s.run_id, s.port, (now - s.started_ms) / 1000,
        (now - s.started_ms) / 86400000);
  }
  if (want("clients", true)) {
    size_t n;
    {
      std::lock_guard lock(s.clients_mu);
      n = s.clients.size();
    }
    section("Clients");
    out += fmt::format(
        "connected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\n", n,
        s.max_clients.load(), s.blocked_clients.load(), s.tracking.counts().clients);
  }
  if (want("memory", true)) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    section("Memory");
    out += fmt::format(
        "used_memory:{}\r\nused_memory_rss:{}\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n"
        "mem_allocator:libc\r\n",
        usage.ru_maxrss * 1024, usage.ru_maxrss * 1024);
  }
  if (want("persistence", true)) {
    section("Persistence");
    out += fmt::format(
        "loading:{}\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_last_write_status:{}\r\n"
        "journal:rocksdb\r\njournal_sync:always\r\njournal_position:{}\r\nrdb_changes_since_last_"
        "save:{}\r\n",
        call.service().Loading() ? 1 : 0, call.service().WriteStatus().ok() ? "ok" : "err",
        call.service().JournalPosition(),
        call.service().ChangesWritten() - call.server.changes_at_save.load());
  }
  if (want("stats", true)) {
    section("Stats");
    const Tracking::Counts tracked = s.tracking.counts();
    out += fmt::format(
        "total_connections_received:{}\r\ntotal_commands_processed:{}\r\nrejected_connections:{}"
        "\r\n"
        "keyspace_hits:{}\r\nkeyspace_misses:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\n"
        "migrate_cached_sockets:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\n"
        "tracking_total_prefixes:{}\r\ntotal_error_replies:{}\r\n",
        s.total_connections.load(), s.total_commands.load(), s.rejected_connections.load(),
        s.keyspace_hits.load(), s.keyspace_misses.load(), call.service().ExpiredKeys(),
        s.MigrateCachedSockets(), tracked.keys, tracked.items, tracked.prefixes,
        s.error_replies.total());
  }
  if (want("replication", true)) {
    section("Replication");
    out += ReplicationInfo(call);
  }
  if (want("cpu", true)) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    section("CPU");
    out += fmt::format("used_cpu_sys:{}.{:06}\r\nused_cpu_user:{}.{:06}\r\n", usage.ru_stime.tv_sec,
                       usage.ru_stime.tv_usec, usage.ru_utime.tv_sec, usage.ru_utime.tv_usec);
  }
  if (want("cluster", true)) {
    section("Cluster");
    out += "cluster_enabled:1\r\n";
  }
  if (want("commandstats", false)) {
    // Redis's order is its command table's hash order; devstate's is its table's.
    section("Commandstats");
    auto row = [&](const CommandSpec& c) {
      const CommandStats& st = *c.stats;
      const uint64_t calls = st.calls.load(), rejected = st.rejected.load(),
                     failed = st.failed.load(), usec = st.usec.load();
      if (calls == 0 && rejected == 0 && failed == 0) return;
      out += fmt::format(
          "cmdstat_{}:calls={},usec={},usec_per_call={:.2f},rejected_calls={},failed_calls={}\r\n",
          c.name, calls, usec, calls == 0 ? 0.0 : static_cast<double>(usec) / calls, rejected,
          failed);
    };
    ForEachRow(row);
  }
  if (want("errorstats", true)) {
    section("Errorstats");
    for (const auto& [prefix, count] : s.error_replies.ByPrefix())
      out += fmt::format("errorstat_{}:count={}\r\n", prefix, count);
  }
  if (want("keyspace", true)) {
    section("Keyspace");
    const size_t keys = call.service().KeyCount();
    if (keys > 0) {
      out += fmt::format("db0:keys={},expires={},avg_ttl=0\r\n", keys,
                         call.service().KeysWithExpiry());
    }
  }
  return out;
}

// The CONFIG parameters tools ask for, read-only: devstate's real settings under Redis names.
std::vector<std::pair<std::string, std::string>> ConfigParams(Call& call) {
  const ServerLimits& l = call.server.limits;
  return {
      {"appendonly", "yes"},
      {"appendfsync", "always"},
      {"save", ""},
      {"databases", "1"},
      {"port", std::to_string(call.server.port)},
      {"bind", call.server.announce_host},
      {"maxclients", std::to_string(call.server.max_clients.load())},
      {"timeout", std::to_string(call.server.idle_timeout_ms.load() / 1000)},
      {"proto-max-bulk-len", std::to_string(l.parser.max_bulk_bytes)},
      {"client-query-buffer-limit", std::to_string(call.server.max_query_buffer.load())},
      {"hash-max-listpack-entries", std::to_string(call.server.hash_max_listpack_entries.load())},
      {"hash-max-listpack-value", std::to_string(call.server.hash_max_listpack_value.load())},
      {"hash-max-ziplist-entries", std::to_string(call.server.hash_max_listpack_entries.load())},
      {"hash-max-ziplist-value", std::to_string(call.server.hash_max_listpack_value.load())},
      {"zset-max-listpack-entries", std::to_string(call.server.zset_max_listpack_entries.load())},
      {"zset-max-listpack-value", std::to_string(call.server.zset_max_listpack_value.load())},
      {"zset-max-ziplist-entries", std::to_string(call.server.zset_max_listpack_entries.load())},
      {"zset-max-ziplist-value", std::to_string(call.server.zset_max_listpack_value.load())},
      {"set-max-intset-entries", std::to_string(call.server.set_max_intset_entries.load())},
      {"list-max-listpack-size", std::to_string(call.server.list_max_listpack_size.load())},
      {"list-max-ziplist-size", std::to_string(call.server.list_max_listpack_size.load())},
      {"list-compress-depth", std::to_string(call.server.list_compress_depth.load())},
      {"stream-node-max-entries", std::to_string(call.server.stream_node_max_entries.load())},
      {"stream-node-max-bytes", std::to_string(call.server.stream_node_max_bytes.load())},
      {"hll-sparse-max-bytes", std::to_string(call.server.hll_sparse_max_bytes.load())},
      {"tracking-table-max-keys", std::to_string(call.server.tracking.max_keys())},
      {"slowlog-log-slower-than", std::to_string(call.server.slowlog.slower_than_us.load())},
      {"slowlog-max-len", std::to_string(call.server.slowlog.max_len.load())},
      {"maxmemory", "0"},
      {"maxmemory-policy", "noeviction"},
      {"cluster-enabled", "yes"},
      {"min-replicas-to-write", std::to_string(call.service().Role().min_replicas_ack)},
      {"notify-keyspace-events", Notifier::Format(call.service().notifier().flags())},
  };
}

// A Redis integer or memory argument: digits with an optional unit k, kb, m, mb, g or gb
// (k = 1000, kb = 1024, ...), case-insensitive, as Redis's memtoll.
bool ParseMemory(std::string_view text, int64_t* v) {
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"kb", int64_t{1} << 10}, {"mb", int64_t{1} << 20}, {"gb", int64_t{1} << 30}, {"k", 1000},
      {"m", 1000 * 1000},       {"g", 1000 * 1000 * 1000}};
  const std::string lower = Lower(text);
  for (const auto& [unit, scale] : kUnits) {
    if (lower.size() > unit.size() && lower.ends_with(unit)) {
      int64_t n = 0;
      if (!ParseInt64(std::string_view(lower).substr(0, lower.size() - unit.size()), &n) ||
          __builtin_mul_overflow(n, scale, v)) {
        return false;
      }
      return true;
    }
  }
  return ParseInt64(lower, v);
}

// The settings CONFIG SET changes while the server runs, each within the bounds of the
// config key it overrides, or, with none, within [min, max].
struct RuntimeSetting {
  std::string_view name;
  std::string_view config_key;
  void (*apply)(ServerState& server, int64_t value);
  int64_t min = 0, max = 0;
};

void SetHashMaxEntries(ServerState& server, int64_t v) {
  server.hash_max_listpack_entries = static_cast<size_t>(v);
}
void SetHashMaxValue(ServerState& server, int64_t v) {
  server.hash_max_listpack_value = static_cast<size_t>(v);
}

void SetZsetMaxEntries(ServerState& server, int64_t v) {
  server.zset_max_listpack_entries = static_cast<size_t>(v);
}
void SetZsetMaxValue(ServerState& server, int64_t v) {
  server.zset_max_listpack_value = static_cast<size_t>(v);
}

void SetListMaxSize(ServerState& server, int64_t v) { server.list_max_listpack_size = v; }

constexpr RuntimeSetting kRuntimeSettings[] = {
    {"maxclients", "resp.max_clients",
     [](ServerState& server, int64_t v) { server.max_clients = static_cast<size_t>(v); }},
    {"timeout", "resp.idle_timeout_s",
     [](ServerState& server, int64_t v) {
       server.idle_timeout_ms = v * 1000;
       std::lock_guard lock(server.clients_mu);  // existing connections too, as in Redis
       for (const auto& [id, client] : server.clients) {
         if (client->rearm_idle) client->rearm_idle();
       }
     }},
    {"client-query-buffer-limit", "limits.max_query_buffer_bytes",
     [](ServerState& server, int64_t v) { server.max_query_buffer = static_cast<size_t>(v); }},
    // Redis 7.0 takes each of these under two names.
    {"hash-max-listpack-entries", "resp.hash_max_listpack_entries", SetHashMaxEntries},
    {"hash-max-ziplist-entries", "resp.hash_max_listpack_entries", SetHashMaxEntries},
    {"hash-max-listpack-value", "resp.hash_max_listpack_value", SetHashMaxValue},
    {"hash-max-ziplist-value", "resp.hash_max_listpack_value", SetHashMaxValue},
    {"zset-max-listpack-entries", "resp.zset_max_listpack_entries", SetZsetMaxEntries},
    {"zset-max-ziplist-entries", "resp.zset_max_listpack_entries", SetZsetMaxEntries},
    {"zset-max-listpack-value", "resp.zset_max_listpack_value", SetZsetMaxValue},
    {"zset-max-ziplist-value", "resp.zset_max_listpack_value", SetZsetMaxValue},
    {"set-max-intset-entries", "resp.set_max_intset_entries",
     [](ServerState& server, int64_t v) {
       server.set_max_intset_entries = static_cast<size_t>(v);
     }},
    // Redis 7.0's quicklist node size and compression. devstate keeps a list one element
    // per entry whatever they say, and Redis 7.0 reports OBJECT ENCODING quicklist for
    // every list either way, so nothing observable depends on them: they are kept and
    // reported for the clients and tools that set them, within Redis's bounds.
    {"list-max-listpack-size", "", SetListMaxSize, INT32_MIN, INT32_MAX},
    {"list-max-ziplist-size", "", SetListMaxSize, INT32_MIN, INT32_MAX},
    {"slowlog-log-slower-than", "resp.slowlog_log_slower_than_us",
     [](ServerState& server, int64_t v) { server.slowlog.slower_than_us = v; }},
    {"slowlog-max-len", "resp.slowlog_max_len",
     [](ServerState& server, int64_t v) { server.slowlog.max_len = v; }},
    {"list-compress-depth", "",
     [](ServerState& server, int64_t v) { server.list_compress_depth = v; }, 0, INT32_MAX},
    // A stream node's entries: what a trim with `~` removes whole multiples of.
    {"stream-node-max-entries", "",
     [](ServerState& server, int64_t v) { server.stream_node_max_entries = v; }, 0, INT64_MAX},
    {"stream-node-max-bytes", "",
     [](ServerState& server, int64_t v) { server.stream_node_max_bytes = v; }, 0, INT64_MAX},
    // A sparse HyperLogLog's largest size before it turns dense.
    {"hll-sparse-max-bytes", "",
     [](ServerState& server, int64_t v) { server.hll_sparse_max_bytes = v; }, 0, INT64_MAX},
    // CLIENT TRACKING's remembered keys (0: unbounded); lowering it evicts at once.
    {"tracking-table-max-keys", "",
     [](ServerState& server, int64_t v) { server.tracking.SetMaxKeys(static_cast<uint64_t>(v)); },
     0, INT64_MAX},
};

// CONFIG SET name value [name value ...], all or nothing as in Redis 7: the run-time
// settings above take new values; every other setting CONFIG GET shows is fixed by
// devstate's design or its config file, and accepts only the value it has (tools that
// "set" appendfsync always or save "" on connect keep working).
void ConfigSet(Call& call) {
  const auto params = ConfigParams(call);
  std::vector<std::pair<const RuntimeSetting*, int64_t>> changes;  // applied once every pair passed
  std::vector<std::string> seen;
  std::optional<uint32_t> notify;  // notify-keyspace-events' new flags
  for (size_t i = 2; i + 1 < call.args.size(); i += 2) {
    const std::string name = Lower(call.args[i]);
    const std::string& value = call.args[i + 1];
    auto failed = [&](std::string_view why) {
      call.reply.Error(fmt::format("ERR CONFIG SET failed (possibly related to argument '{}') - {}",
                                   call.args[i], why));
    };
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      return failed("duplicate parameter");
    seen.push_back(name);
    if (name == "notify-keyspace-events") {
      uint32_t flags = 0;
      if (!Notifier::Parse(value, &flags))
        return failed("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
      notify = flags;
      continue;
    }
    const auto setting = std::find_if(std::begin(kRuntimeSettings), std::end(kRuntimeSettings),
                                      [&](const RuntimeSetting& s) { return s.name == name; });
    if (setting != std::end(kRuntimeSettings)) {
      const ConfigKey* key =
          setting->config_key.empty() ? nullptr : FindConfigKey(setting->config_key);
      const int64_t min = key != nullptr ? key->min : setting->min;
      const int64_t max = key != nullptr ? key->max : setting->max;
      int64_t v = 0;
      if (!ParseMemory(value, &v)) return failed("argument couldn't be parsed into an integer");
      if (v < min || v > max) {
        return failed(fmt::format("argument must be between {} and {} inclusive", min, max));
      }
      changes.emplace_back(setting, v);
      continue;
    }
    auto fixed =
        std::find_if(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
    if (fixed == params.end()) {
      return call.reply.Error(fmt::format(
          "ERR Unknown option or number of arguments for CONFIG SET - '{}'", call.args[i]));
    }
    if (Lower(value) != Lower(fixed->second)) {
      return failed(
          fmt::format("devstate does not change it at run time (it is '{}')", fixed->second));
    }
  }
  for (const auto& [setting, v] : changes) setting->apply(call.server, v);
  if (notify) call.service().notifier().SetFlags(*notify);
  call.reply.Ok();
}

void CmdInfo(Call& call) {
  std::vector<std::string> wanted;
  for (size_t i = 1; i < call.args.size(); ++i) wanted.push_back(Lower(call.args[i]));
  call.reply.Verbatim(InfoText(call, wanted));
}

void CmdConfigGet(Call& call) {
  const auto params = ConfigParams(call);
  std::vector<const std::pair<std::string, std::string>*> hits;
  for (const auto& p : params) {
    for (size_t i = 2; i < call.args.size(); ++i) {
      if (GlobMatch(call.args[i], p.first, true)) {
        hits.push_back(&p);
        break;
      }
    }
  }
  call.reply.Map(hits.size());
  for (const auto* p : hits) {
    call.reply.Bulk(p->first);
    call.reply.Bulk(p->second);
  }
}

void CmdConfigSet(Call& call) {
  if (call.args.size() % 2 != 0) return call.reply.Error(WrongArity("config|set"));
  ConfigSet(call);
}

// SLOWLOG GET [count]: the newest `count` entries (10; -1 all), each [id, unix time,
// microseconds, [args], client address, client name].
void CmdSlowlogGet(Call& call) {
  int64_t count = 10;
  if (call.args.size() > 3) {
    return call.reply.Error(fmt::format(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
        call.args[1]));
  }
  if (call.args.size() == 3 && (!ParseInt64(call.args[2], &count) || count < -1)) {
    return call.reply.Error("ERR count should be greater than or equal to -1");
  }
  const std::vector<SlowLog::Entry> entries = call.server.slowlog.Newest(count);
  call.reply.Array(entries.size());
  for (const SlowLog::Entry& e : entries) {
    call.reply.Array(6);
    call.reply.Integer(static_cast<int64_t>(e.id));
    call.reply.Integer(e.unix_seconds);
    call.reply.Integer(e.micros);
    call.reply.Array(e.args.size());
    for (const std::string& a : e.args) call.reply.Bulk(a);
    call.reply.Bulk(e.peer);
    call.reply.Bulk(e.name);
  }
}

void CmdSlowlogLen(Call& call) {
  call.reply.Integer(static_cast<int64_t>(call.server.slowlog.size()));
}

void CmdSlowlogReset(Call& call) {
  call.server.slowlog.Reset();
  call.reply.Ok();
}

void CmdConfigResetstat(Call& call) {
  call.server.total_commands = 0;
  call.server.keyspace_hits = 0;
  call.server.keyspace_misses = 0;
  call.server.rejected_connections = 0;
  call.server.error_replies.Reset();
  auto reset = [](const CommandSpec& c) {
    c.stats->calls = 0;
    c.stats->usec = 0;
    c.stats->rejected = 0;
    c.stats->failed = 0;
  };
  ForEachRow(reset);
  call.reply.Ok();
}

void CmdTime(Call& call) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  call.reply.Array(2);
  call.reply.Bulk(std::to_string(us / 1000000));
  call.reply.Bulk(std::to_string(us % 1000000));
}

// SAVE and BGSAVE: every acknowledged write is already in the fsync'd journal, so there is
// nothing more to save; they answer as Redis does when a save succeeds, and count the
// changes since (INFO's rdb_changes_since_last_save) from now, as a save does.
void MarkSaved(Call& call) { call.server.changes_at_save = call.service().ChangesWritten(); }
void CmdSave(Call& call) {
  MarkSaved(call);
  call.reply.Ok();
}
void CmdBgsave(Call& call) {
  if (call.args.size() > 2 || (call.args.size() == 2 && !EqualsNoCase(call.args[1], "schedule")))
    return call.reply.Error("ERR syntax error");
  MarkSaved(call);
  call.reply.Simple("Background saving started");
}
// LASTSAVE: now, for the same reason.
void CmdLastsave(Call& call) { call.reply.Integer(call.service().NowMs() / 1000); }

// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stops the process as SIGTERM does (the
// journal needs no save; the options are accepted). As in Redis, a shutdown that starts
// sends no reply: the connection closes.
void CmdShutdown(Call& call) {
  bool abort = false;
  for (size_t i = 1; i < call.args.size(); ++i) {
    const std::string option = Lower(call.args[i]);
    if (option == "abort") {
      abort = true;
    } else if (option != "nosave" && option != "save" && option != "now" && option != "force") {
      return call.reply.Error("ERR syntax error");
    }
  }
  if (abort) {
    if (call.args.size() > 2) return call.reply.Error("ERR syntax error");
    return call.reply.Error("ERR No shutdown in progress.");
  }
  spdlog::warn("resp: SHUTDOWN from client {} ({})", call.client.id, call.client.addr);
  ::kill(::getpid(), SIGTERM);  // main waits for it with sigwait and stops in order
}

}  // namespace

void AddServerCommands(std::vector<CommandSpec>* t) {
  const uint32_t any = kStale | kLoading;
  const std::vector<std::string_view> admin = {"admin", "slow", "dangerous"};
  t->insert(
      t->end(),
      {
          {"info",
           -1,
           any,
           0,
           0,
           0,
           {"slow", "dangerous"},
           CmdInfo,
           "Get information and statistics about the server"},
          {"time", 1, kFast | any, 0, 0, 0, {"fast"}, CmdTime, "Return the current server time"},
          {"save", 1, kAdmin | kNoScript | kNoMulti, 0, 0, 0, admin, CmdSave,
           "Synchronously save the dataset to disk"},
          {"bgsave", -1, kAdmin | kNoScript, 0, 0, 0, admin, CmdBgsave,
           "Asynchronously save the dataset to disk"},
          {"lastsave",
           1,
           kLoading | kStale | kFast,
           0,
           0,
           0,
           {"fast", "dangerous"},
           CmdLastsave,
           "Get the UNIX time stamp of the last successful save to disk"},
          {"shutdown", -1, kAdmin | kNoScript | kLoading | kStale | kNoMulti, 0, 0, 0, admin,
           CmdShutdown, "Synchronously save the dataset to disk and then shut down the server"},
          {"slowlog",
           -2,
           kAdmin | kLoading | kStale,
           0,
           0,
           0,
           {"slow"},
           nullptr,
           "A container for slow log commands",
           {
               {"slowlog|get", -2, kAdmin | kLoading | kStale, 0, 0, 0, admin, CmdSlowlogGet,
                "Get the slow log's entries"},
               {"slowlog|len", 2, kAdmin | kLoading | kStale, 0, 0, 0, admin, CmdSlowlogLen,
                "Get the slow log's length"},
               {"slowlog|reset", 2, kAdmin | kLoading | kStale, 0, 0, 0, admin, CmdSlowlogReset,
                "Clear all entries from the slow log"},
               {"slowlog|help",
                2,
                kLoading | kStale,
                0,
                0,
                0,
                {"slow"},
                ContainerHelp,
                "Show helpful text about the different subcommands"},
           }},
          {"config",
           -2,
           kAdmin | any,
           0,
           0,
           0,
           {"slow"},
           nullptr,
           "A container for server configuration commands",
           {
               {"config|get", -3, kAdmin | any, 0, 0, 0, admin, CmdConfigGet,
                "Get the values of configuration parameters"},
               {"config|set", -4, kAdmin | any, 0, 0, 0, admin, CmdConfigSet,
                "Set configuration parameters"},
               {"config|resetstat", 2, kAdmin | any, 0, 0, 0, admin, CmdConfigResetstat,
                "Reset the stats returned by INFO"},
               {"config|help", 2, any, 0, 0, 0, {"slow"}, ContainerHelp, "Show helpful text"},
           }},
      });
}

}  // namespace devstate::resp
