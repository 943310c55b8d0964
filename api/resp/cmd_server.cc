// Connection, server and cluster commands. devstate presents itself as a Redis Cluster
// whose one shard owns all 16384 slots (as MemoryDB does), so cluster clients work as is.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>

#include "api/resp/commands.h"
#include "service/config.h"
#include "service/version.h"

namespace devstate::resp {
namespace {

constexpr std::string_view kRedisVersion = "7.0.15";  // the Redis this speaks like
constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

void ClientLine(const ClientState& c, int64_t now_ms, std::string* out) {
  fmt::format_to(
      std::back_inserter(*out),
      "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 "
      "multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 "
      "events=r cmd={} user=default redir=-1 resp={}\n",
      c.id, c.addr, c.laddr, c.name, (now_ms - c.created_ms) / 1000,
      (now_ms - c.last_active_ms.load()) / 1000, c.last_command.empty() ? "NULL" : c.last_command,
      c.protocol);
}

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
  if (c.flags & kLoading) flags.push_back("loading");
  if (c.flags & kStale) flags.push_back("stale");
  if (c.flags & kFast) flags.push_back("fast");
  if (c.flags & kNoAuth) flags.push_back("no_auth");
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
    out += fmt::format("connected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n", n,
                       s.max_clients.load());
  }
  if (want("memory", true)) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    section("Memory");
    out += fmt::format(
        "used_memory:{}\r\nused_memory_rss:{}\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n",
        usage.ru_maxrss * 1024, usage.ru_maxrss * 1024);
  }
  if (want("persistence", true)) {
    section("Persistence");
    out += fmt::format(
        "loading:0\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_last_write_status:{}\r\n"
        "journal:rocksdb\r\njournal_sync:always\r\njournal_position:{}\r\nrdb_changes_since_last_"
        "save:0\r\n",
        call.service().WriteStatus().ok() ? "ok" : "err", call.service().JournalPosition());
  }
  if (want("stats", true)) {
    section("Stats");
    out += fmt::format(
        "total_connections_received:{}\r\ntotal_commands_processed:{}\r\nrejected_connections:{}"
        "\r\n"
        "keyspace_hits:{}\r\nkeyspace_misses:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\n",
        s.total_connections.load(), s.total_commands.load(), s.rejected_connections.load(),
        s.keyspace_hits.load(), s.keyspace_misses.load(), call.service().ExpiredKeys());
  }
  if (want("replication", true)) {
    section("Replication");
    out += fmt::format(
        "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}"
        "\r\n"
        "master_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:{}\r\n",
        s.run_id, call.service().JournalPosition());
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
      {"maxmemory", "0"},
      {"maxmemory-policy", "noeviction"},
      {"cluster-enabled", "yes"},
      {"min-replicas-to-write", "0"},
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
// config key it overrides.
struct RuntimeSetting {
  std::string_view name;
  std::string_view config_key;
  void (*apply)(ServerState& server, int64_t value);
};

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
};

// CONFIG SET name value [name value ...], all or nothing as in Redis 7: the run-time
// settings above take new values; every other setting CONFIG GET shows is fixed by
// devstate's design or its config file, and accepts only the value it has (tools that
// "set" appendfsync always or save "" on connect keep working).
void ConfigSet(Call& call) {
  const auto params = ConfigParams(call);
  std::vector<std::pair<const RuntimeSetting*, int64_t>> changes;  // applied once every pair passed
  std::vector<std::string> seen;
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
    const auto setting = std::find_if(std::begin(kRuntimeSettings), std::end(kRuntimeSettings),
                                      [&](const RuntimeSetting& s) { return s.name == name; });
    if (setting != std::end(kRuntimeSettings)) {
      const ConfigKey* key = FindConfigKey(setting->config_key);
      int64_t v = 0;
      if (!ParseMemory(value, &v)) return failed("argument couldn't be parsed into an integer");
      if (v < key->min || v > key->max) {
        return failed(
            fmt::format("argument must be between {} and {} inclusive", key->min, key->max));
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
  call.reply.Ok();
}

}  // namespace

void CmdPing(Call& call) {
  if (call.args.size() > 2) return call.reply.Error(WrongArity("ping"));
  if (call.args.size() == 2) return call.reply.Bulk(call.args[1]);
  call.reply.Simple("PONG");
}

void CmdEcho(Call& call) { call.reply.Bulk(call.args[1]); }

void CmdQuit(Call& call) {
  call.reply.Ok();
  call.close_after = true;
}

void CmdReset(Call& call) {
  if (call.server.acl != nullptr) {  // back to the default user, as Redis does
    call.client.user = call.server.acl->DefaultUser();
    call.client.username = "default";
  }
  call.client.protocol = 2;
  call.client.name.clear();
  call.client.readonly = false;
  call.reply = ReplyWriter(call.reply.out(), 2);
  call.reply.Simple("RESET");
}

void CmdSelect(Call& call) {
  int64_t db = 0;
  if (!ParseInt64(call.args[1], &db))
    return call.reply.Error("ERR value is not an integer or out of range");
  if (db != 0) return call.reply.Error("ERR SELECT is not allowed in cluster mode");
  call.reply.Ok();
}

void CmdHello(Call& call) {
  int protocol = call.client.protocol;
  size_t i = 1;
  if (call.args.size() > 1) {
    int64_t v = 0;
    if (!ParseInt64(call.args[1], &v)) {
      return call.reply.Error("ERR Protocol version is not an integer or out of range");
    }
    if (v != 2 && v != 3) return call.reply.Error("NOPROTO unsupported protocol version");
    protocol = static_cast<int>(v);
    i = 2;
  }
  std::string name = call.client.name;
  bool rename = false;
  for (; i < call.args.size(); ++i) {
    const std::string opt = Lower(call.args[i]);
    if (opt == "auth" && i + 2 < call.args.size()) {
      if (!Authenticate(call.client, call.server, call.args[i + 1], call.args[i + 2], "HELLO")) {
        return call.reply.Error(kWrongPass);
      }
      i += 2;
    } else if (opt == "setname" && i + 1 < call.args.size()) {
      name = call.args[++i];
      rename = true;
    } else {
      return call.reply.Error(fmt::format("ERR Syntax error in HELLO option '{}'", call.args[i]));
    }
  }
  if (call.server.acl != nullptr && !call.client.user) {
    return call.reply.Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "<proto> AUTH "
        "<user> <pass> option can be used to authenticate the client and select the RESP protocol "
        "version at "
        "the same time");
  }
  call.client.protocol = protocol;
  if (rename) call.client.name = name;
  ReplyWriter& w = call.reply = ReplyWriter(call.reply.out(), protocol);
  w.Map(7);
  w.Bulk("server");
  w.Bulk("redis");
  w.Bulk("version");
  w.Bulk(kRedisVersion);
  w.Bulk("proto");
  w.Integer(protocol);
  w.Bulk("id");
  w.Integer(static_cast<int64_t>(call.client.id));
  w.Bulk("mode");
  w.Bulk("cluster");
  w.Bulk("role");
  w.Bulk("master");
  w.Bulk("modules");
  w.Array(0);
}

void CmdAuth(Call& call) {
  if (call.args.size() > 3) return call.reply.Error("ERR syntax error");
  const bool named = call.args.size() == 3;
  if (!named && call.server.acl != nullptr && !call.server.acl->auth_required()) {
    return call.reply.Error(
        "ERR AUTH <password> called without any password configured for the default user. Are you "
        "sure "
        "your configuration is correct?");
  }
  const std::string_view user =
      named ? std::string_view(call.args[1]) : std::string_view("default");
  if (!Authenticate(call.client, call.server, user, call.args.back(), "AUTH")) {
    return call.reply.Error(kWrongPass);
  }
  call.reply.Ok();
}

void CmdAcl(Call& call) {
  const std::string sub = Lower(call.args[1]);
  const size_t n = call.args.size();
  ReplyWriter& w = call.reply;
  acl::Acl* acl = call.server.acl;
  if (acl == nullptr) return w.Error("ERR ACL is not configured on this server");
  if (sub == "whoami" && n == 2) {
    return w.Bulk(call.client.username);
  }
  if (sub == "users" && n == 2) {
    const auto users = acl->Users();
    w.Array(users.size());
    for (const auto& u : users) w.Bulk(u->name);
    return;
  }
  if (sub == "list" && n == 2) {
    const auto users = acl->Users();
    w.Array(users.size());
    for (const auto& u : users) w.Bulk(u->Describe());
    return;
  }
  if (sub == "cat" && n <= 3) {
    if (n == 2) {
      const auto& all = acl::Categories();
      w.Array(all.size());
      for (std::string_view c : all) w.Bulk(c);
      return;
    }
    const std::string category = Lower(call.args[2]);
    const auto& all = acl::Categories();
    if (std::find(all.begin(), all.end(), category) == all.end()) {
      return w.Error(fmt::format("ERR Unknown category '{}'", call.args[2]));
    }
    std::vector<std::string_view> names;
    for (const CommandSpec& c : CommandTable()) {
      if (std::find(c.categories.begin(), c.categories.end(), category) != c.categories.end())
        names.push_back(c.name);
      for (const CommandSpec& sc : c.subcommands) {
        if (std::find(sc.categories.begin(), sc.categories.end(), category) !=
            sc.categories.end()) {
          names.push_back(sc.name);
        }
      }
    }
    w.Array(names.size());
    for (std::string_view name : names) w.Bulk(name);
    return;
  }
  if (sub == "load" && n == 2) {
    const Status s = acl->Reload();
    if (!s.ok()) return w.Error("ERR " + s.message());
    spdlog::info("resp: ACL reloaded by client {} ({})", call.client.id, call.client.addr);
    return w.Ok();
  }
  if (sub == "log" && n <= 3) {
    size_t count = 10;
    if (n == 3) {
      if (EqualsNoCase(call.args[2], "reset")) {
        acl->ResetLog();
        return w.Ok();
      }
      int64_t v = 0;
      if (!ParseInt64(call.args[2], &v) || v < 0)
        return w.Error("ERR value is out of range, must be positive");
      count = static_cast<size_t>(v);
    }
    const int64_t now = call.service().NowMs();
    const auto entries = acl->LogEntries(count);
    w.Array(entries.size());
    for (const acl::LogEntry& e : entries) {
      w.Map(10);
      w.Bulk("count");
      w.Integer(static_cast<int64_t>(e.count));
      w.Bulk("reason");
      w.Bulk(e.reason);
      w.Bulk("context");
      w.Bulk(e.context);
      w.Bulk("object");
      w.Bulk(e.object);
      w.Bulk("username");
      w.Bulk(e.username);
      w.Bulk("age-seconds");
      w.Double(static_cast<double>(now - e.created_ms) / 1000.0);
      w.Bulk("client-info");
      w.Bulk(e.client_info);
      w.Bulk("entry-id");
      w.Integer(static_cast<int64_t>(e.entry_id));
      w.Bulk("timestamp-created");
      w.Integer(e.created_ms);
      w.Bulk("timestamp-last-updated");
      w.Integer(e.updated_ms);
    }
    return;
  }
  if (sub == "help" && n == 2) {
    static const std::vector<std::string_view> lines = {
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username."};
    w.Array(lines.size());
    for (std::string_view line : lines) w.Simple(line);
    return;
  }
  if (sub == "setuser" || sub == "deluser" || sub == "save" || sub == "genpass" ||
      sub == "getuser" || sub == "dryrun") {
    return w.Error(
        fmt::format("ERR ACL {} is not supported: users live in the ACL file (acl.file); edit it "
                    "and run ACL LOAD",
                    Lower(call.args[1])));
  }
  w.Error(fmt::format("ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
                      call.args[1]));
}

void CmdInfo(Call& call) {
  std::vector<std::string> wanted;
  for (size_t i = 1; i < call.args.size(); ++i) wanted.push_back(Lower(call.args[i]));
  call.reply.Verbatim(InfoText(call, wanted));
}

void CmdClient(Call& call) {
  const std::string sub = Lower(call.args[1]);
  const size_t n = call.args.size();
  const int64_t now = call.service().NowMs();
  if (sub == "id" && n == 2) return call.reply.Integer(static_cast<int64_t>(call.client.id));
  if (sub == "getname" && n == 2) {
    if (call.client.name.empty()) return call.reply.Null();
    return call.reply.Bulk(call.client.name);
  }
  if (sub == "setname" && n == 3) {
    for (char c : call.args[2]) {
      if (c < '!' || c > '~') {
        return call.reply.Error(
            "ERR Client names cannot contain spaces, newlines or special characters.");
      }
    }
    call.client.name = call.args[2];
    return call.reply.Ok();
  }
  if (sub == "info" && n == 2) {
    std::string line;
    ClientLine(call.client, now, &line);
    return call.reply.Verbatim(line);
  }
  if (sub == "list") {
    std::string text;
    std::lock_guard lock(call.server.clients_mu);
    for (const auto& [id, c] : call.server.clients) ClientLine(*c, now, &text);
    return call.reply.Verbatim(text);
  }
  if (sub == "kill" && n >= 3) {
    std::string by_addr;
    int64_t by_id = -1;
    bool old_form = n == 3;
    if (old_form) {
      by_addr = call.args[2];
    } else {
      for (size_t i = 2; i + 1 < n; i += 2) {
        const std::string f = Lower(call.args[i]);
        if (f == "id") {
          if (!ParseInt64(call.args[i + 1], &by_id))
            return call.reply.Error("ERR client-id should be greater than 0");
        } else if (f == "addr") {
          by_addr = call.args[i + 1];
        } else if (f == "skipme" || f == "laddr" || f == "type" || f == "user") {
          // accepted, not used for filtering beyond id/addr
        } else {
          return call.reply.Error("ERR syntax error");
        }
      }
      if ((n - 2) % 2 != 0) return call.reply.Error("ERR syntax error");
    }
    int64_t killed = 0;
    std::lock_guard lock(call.server.clients_mu);
    for (const auto& [id, c] : call.server.clients) {
      if ((by_id >= 0 && static_cast<int64_t>(id) == by_id) ||
          (!by_addr.empty() && c->addr == by_addr)) {
        if (c->close) c->close();
        ++killed;
      }
    }
    if (old_form) {
      if (killed == 0) return call.reply.Error("ERR No such client");
      return call.reply.Ok();
    }
    return call.reply.Integer(killed);
  }
  call.reply.Error(
      fmt::format("ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                  call.args[1]));
}

void CmdConfig(Call& call) {
  const std::string sub = Lower(call.args[1]);
  if (sub == "get" && call.args.size() >= 3) {
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
    return;
  }
  if (sub == "set" && call.args.size() >= 4 && call.args.size() % 2 == 0) return ConfigSet(call);
  if (sub == "resetstat" && call.args.size() == 2) {
    call.server.total_commands = 0;
    call.server.keyspace_hits = 0;
    call.server.keyspace_misses = 0;
    call.server.rejected_connections = 0;
    return call.reply.Ok();
  }
  call.reply.Error(
      fmt::format("ERR unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
                  call.args[1]));
}

void CmdTime(Call& call) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  call.reply.Array(2);
  call.reply.Bulk(std::to_string(us / 1000000));
  call.reply.Bulk(std::to_string(us % 1000000));
}

void CmdCommand(Call& call) {
  const auto& table = CommandTable();
  if (call.args.size() == 1) {
    call.reply.Array(table.size());
    for (const CommandSpec& c : table) WriteSpec(call.reply, c);
    return;
  }
  const std::string sub = Lower(call.args[1]);
  if (sub == "count" && call.args.size() == 2)
    return call.reply.Integer(static_cast<int64_t>(table.size()));
  if (sub == "list") {
    call.reply.Array(table.size());
    for (const CommandSpec& c : table) call.reply.Bulk(c.name);
    return;
  }
  if (sub == "info") {
    if (call.args.size() == 2) {
      call.reply.Array(table.size());
      for (const CommandSpec& c : table) WriteSpec(call.reply, c);
      return;
    }
    call.reply.Array(call.args.size() - 2);
    for (size_t i = 2; i < call.args.size(); ++i) {
      const CommandSpec* c = FindCommand(call.args[i]);
      if (c) {
        WriteSpec(call.reply, *c);
      } else {
        call.reply.NullArray();
      }
    }
    return;
  }
  if (sub == "docs") {
    std::vector<const CommandSpec*> wanted;
    if (call.args.size() == 2) {
      for (const CommandSpec& c : table) wanted.push_back(&c);
    } else {
      for (size_t i = 2; i < call.args.size(); ++i) {
        if (const CommandSpec* c = FindCommand(call.args[i])) wanted.push_back(c);
      }
    }
    call.reply.Map(wanted.size());
    for (const CommandSpec* c : wanted) WriteDocs(call.reply, *c);
    return;
  }
  if (sub == "getkeys" && call.args.size() >= 3) {
    const CommandSpec* c = FindCommand(call.args[2]);
    if (c == nullptr) return call.reply.Error("ERR Invalid command specified");
    const int n = static_cast<int>(call.args.size()) - 2;
    if ((c->arity > 0 && n != c->arity) || (c->arity < 0 && n < -c->arity)) {
      return call.reply.Error("ERR Invalid number of arguments specified for command");
    }
    if (c->first_key == 0) return call.reply.Error("ERR The command has no key arguments");
    std::vector<std::string_view> keys;
    ForEachKeyIndex(*c, n, [&](int k) {
      keys.push_back(call.args[2 + k]);
      return true;
    });
    call.reply.Array(keys.size());
    for (auto k : keys) call.reply.Bulk(k);
    return;
  }
  call.reply.Error(
      fmt::format("ERR unknown subcommand or wrong number of arguments for '{}'. Try COMMAND HELP.",
                  call.args[1]));
}

void CmdCluster(Call& call) {
  const std::string sub = Lower(call.args[1]);
  ServerState& s = call.server;
  ReplyWriter& w = call.reply;
  const size_t n = call.args.size();
  if (sub == "slots" && n == 2) {
    w.Array(1);
    w.Array(3);
    w.Integer(0);
    w.Integer(16383);
    w.Array(3);
    w.Bulk(s.announce_host);
    w.Integer(s.port);
    w.Bulk(s.node_id);
    return;
  }
  if (sub == "shards" && n == 2) {
    w.Array(1);
    w.Map(2);
    w.Bulk("slots");
    w.Array(2);
    w.Integer(0);
    w.Integer(16383);
    w.Bulk("nodes");
    w.Array(1);
    w.Map(7);
    w.Bulk("id");
    w.Bulk(s.node_id);
    w.Bulk("port");
    w.Integer(s.port);
    w.Bulk("ip");
    w.Bulk(s.announce_host);
    w.Bulk("endpoint");
    w.Bulk(s.announce_host);
    w.Bulk("role");
    w.Bulk("master");
    w.Bulk("replication-offset");
    w.Integer(static_cast<int64_t>(call.service().JournalPosition()));
    w.Bulk("health");
    w.Bulk("online");
    return;
  }
  if (sub == "info" && n == 2) {
    return w.Verbatim(
        "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\ncluster_"
        "slots_pfail:0\r\n"
        "cluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:"
        "1\r\n"
        "cluster_my_epoch:1\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:"
        "0\r\n"
        "total_cluster_links_buffer_limit_exceeded:0\r\n");
  }
  if (sub == "myid" && n == 2) return w.Bulk(s.node_id);
  if (sub == "nodes" && n == 2) {
    return w.Verbatim(fmt::format("{} {}:{}@{} myself,master - 0 0 1 connected 0-16383\n",
                                  s.node_id, s.announce_host, s.port, s.port + 10000));
  }
  if (sub == "keyslot" && n == 3) return w.Integer(KeySlot(call.args[2]));
  if (sub == "countkeysinslot" && n == 3) {
    int64_t slot = 0;
    if (!ParseInt64(call.args[2], &slot) || slot < 0 || slot > 16383)
      return w.Error("ERR Invalid slot");
    const int64_t now = call.service().NowMs();
    int64_t count = 0;
    uint64_t cursor = 0;
    do {
      cursor = call.service().Scan(cursor, 4096, [&](const std::string& key, const RecordPtr& r) {
        if (!r->ExpiredAt(now) && KeySlot(key) == slot) ++count;
      });
    } while (cursor != 0);
    return w.Integer(count);
  }
  w.Error(
      fmt::format("ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
                  call.args[1]));
}

void CmdReadonly(Call& call) {
  call.client.readonly = true;
  call.reply.Ok();
}

void CmdReadwrite(Call& call) {
  call.client.readonly = false;
  call.reply.Ok();
}

}  // namespace devstate::resp
