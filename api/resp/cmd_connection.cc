// Connection commands: PING ECHO QUIT RESET SELECT HELLO AUTH CLIENT READONLY READWRITE.
#include <fmt/format.h>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/version.h"

namespace devstate::resp {
namespace {

constexpr std::string_view kRedisVersion = "7.0.15";  // the Redis this speaks like
constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";
constexpr std::string_view kBadName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

// Redis's validateClientName: printable ASCII without spaces.
bool ValidClientName(std::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

// One line of CLIENT LIST / CLIENT INFO, with the fields and order of Redis 7.0.15.
std::string ClientLine(const ClientState& c, int64_t now_ms) {
  std::string flags;
  if (c.in_multi) flags += 'x';
  if (c.blocked.load(std::memory_order_relaxed)) flags += 'b';
  if (c.readonly) flags += 'r';
  if (flags.empty()) flags = "N";
  const size_t qbuf = c.query_buffer.load(std::memory_order_relaxed);
  const size_t qbuf_free = c.query_buffer_free.load(std::memory_order_relaxed);
  const size_t rbs = c.read_buffer.load(std::memory_order_relaxed);
  const size_t omem = c.output_buffer.load(std::memory_order_relaxed);
  const int64_t multi =
      c.in_multi ? static_cast<int64_t>(c.multi_commands.load(std::memory_order_relaxed)) : -1;
  return fmt::format(
      "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 "
      "multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl=0 oll=0 omem={} "
      "tot-mem={} events={} cmd={} user={} redir=-1 resp={}\n",
      c.id, c.addr, c.laddr, c.name, (now_ms - c.created_ms) / 1000,
      (now_ms - c.last_active_ms.load()) / 1000, flags, multi, qbuf, qbuf_free, rbs, rbs, omem,
      rbs + omem + sizeof(ClientState), omem > 0 ? "rw" : "r",
      c.last_command.empty() ? "NULL" : c.last_command, c.username.empty() ? "default" : c.username,
      c.protocol);
}

void CmdPing(Call& call) {
  if (call.args.size() > 2) return call.reply.Error(WrongArity("ping"));
  if (call.protocol() == 2 && call.client.subscribed()) {
    // A subscribed RESP2 connection gets ["pong", message] (pubsub.c).
    call.reply.Array(2);
    call.reply.Bulk("pong");
    return call.reply.Bulk(call.args.size() == 2 ? std::string_view(call.args[1]) : "");
  }
  if (call.args.size() == 2) return call.reply.Bulk(call.args[1]);
  call.reply.Simple("PONG");
}

void CmdEcho(Call& call) { call.reply.Bulk(call.args[1]); }

void CmdQuit(Call& call) {
  call.reply.Ok();
  call.close_after = true;
}

// RESET: the connection as new: default user, RESP2, no name, no READONLY, and any
// transaction discarded.
void CmdReset(Call& call) {
  ClientState& c = call.client;
  if (call.server.acl != nullptr) {
    c.user = call.server.acl->DefaultUser();
    c.username = "default";
  }
  c.protocol = 2;
  c.name.clear();
  c.readonly = false;
  c.EndTransaction();
  call.server.pubsub.UnsubscribeAll(&c);
  call.server.tracking.Disable(c);  // and CLIENT TRACKING
  c.caching = -1;
  call.server.monitors.Remove(&c);  // RESET ends MONITOR, as in Redis
  call.reply = ReplyWriter(call.reply.out(), 2, call.reply.error_counter());
  call.reply.Simple("RESET");
}

// MONITOR: from now on this connection also receives every command the server runs
// (api/resp/monitor.h), until RESET or it closes.
void CmdMonitor(Call& call) {
  call.server.monitors.Add(&call.client);
  call.reply.Ok();
}

void CmdSelect(Call& call) {
  int64_t db = 0;
  if (!ParseInt64(call.args[1], &db)) {
    return call.reply.Error("ERR value is not an integer or out of range");
  }
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
    if (v < 2 || v > 3) return call.reply.Error("NOPROTO unsupported protocol version");
    protocol = static_cast<int>(v);
    i = 2;
  }
  for (; i < call.args.size(); ++i) {
    const size_t more = call.args.size() - 1 - i;
    if (EqualsNoCase(call.args[i], "auth") && more >= 2) {
      if (!Authenticate(call, call.args[i + 1], call.args[i + 2], "HELLO")) {
        return call.reply.Error(kWrongPass);
      }
      i += 2;
    } else if (EqualsNoCase(call.args[i], "setname") && more >= 1) {
      if (!ValidClientName(call.args[i + 1])) return call.reply.Error(kBadName);
      call.client.name = call.args[++i];
    } else {
      return call.reply.Error(fmt::format("ERR Syntax error in HELLO option '{}'", call.args[i]));
    }
  }
  if (call.server.acl != nullptr && !call.client.user) {
    return call.reply.Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
        "protocol version at the same time");
  }
  call.client.protocol = protocol;
  ReplyWriter& w = call.reply = ReplyWriter(call.reply.out(), protocol, call.reply.error_counter());
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
  w.Bulk(call.service().Role().primary ? "master" : "replica");
  w.Bulk("modules");
  w.Array(0);
}

void CmdAuth(Call& call) {
  if (call.args.size() > 3) return call.reply.Error("ERR syntax error");
  const bool named = call.args.size() == 3;
  if (!named && call.server.acl != nullptr && !call.server.acl->auth_required()) {
    return call.reply.Error(
        "ERR AUTH <password> called without any password configured for the default user. Are "
        "you sure your configuration is correct?");
  }
  const std::string_view user = named ? std::string_view(call.args[1]) : "default";
  if (!Authenticate(call, user, call.args.back(), "AUTH")) {
    return call.reply.Error(kWrongPass);
  }
  call.reply.Ok();
}

void CmdClientId(Call& call) { call.reply.Integer(static_cast<int64_t>(call.client.id)); }

void CmdClientGetname(Call& call) {
  if (call.client.name.empty()) return call.reply.Null();
  call.reply.Bulk(call.client.name);
}

// CLIENT REPLY ON|OFF|SKIP: whether this connection's replies are sent (pushes always are).
void CmdClientReply(Call& call) {
  using Mode = ClientState::ReplyMode;
  const std::string mode = Lower(call.args[2]);
  if (mode == "on") {
    call.client.reply_mode = Mode::kOn;
    call.speaks = true;  // answered +OK even after OFF, as in Redis
    return call.reply.Ok();
  }
  if (mode != "off" && mode != "skip") return call.reply.Error("ERR syntax error");
  if (call.client.reply_mode != Mode::kOff)
    call.client.reply_mode = mode == "off" ? Mode::kOff : Mode::kSkip;
  call.silent = true;
}

void CmdClientSetname(Call& call) {
  if (!ValidClientName(call.args[2])) return call.reply.Error(kBadName);
  call.client.name = call.args[2];
  call.reply.Ok();
}

void CmdClientInfo(Call& call) {
  call.reply.Verbatim(ClientLine(call.client, call.service().NowMs()));
}

void CmdClientList(Call& call) {
  const int64_t now = call.service().NowMs();
  std::string text;
  std::lock_guard lock(call.server.clients_mu);
  for (const auto& [id, c] : call.server.clients) text += ClientLine(*c, now);
  call.reply.Verbatim(text);
}

void CmdClientKill(Call& call) {
  const size_t n = call.args.size();
  std::string by_addr;
  int64_t by_id = -1;
  const bool old_form = n == 3;
  if (old_form) {
    by_addr = call.args[2];
  } else {
    if ((n - 2) % 2 != 0) return call.reply.Error("ERR syntax error");
    for (size_t i = 2; i + 1 < n; i += 2) {
      const std::string f = Lower(call.args[i]);
      if (f == "id") {
        if (!ParseInt64(call.args[i + 1], &by_id) || by_id <= 0) {
          return call.reply.Error("ERR client-id should be greater than 0");
        }
      } else if (f == "addr") {
        by_addr = call.args[i + 1];
      } else if (f != "skipme" && f != "laddr" && f != "type" && f != "user") {
        return call.reply.Error("ERR syntax error");
      }
    }
  }
  int64_t killed = 0;
  {
    std::lock_guard lock(call.server.clients_mu);
    for (const auto& [id, c] : call.server.clients) {
      if ((by_id >= 0 && static_cast<int64_t>(id) == by_id) ||
          (!by_addr.empty() && c->addr == by_addr)) {
        if (c->close) c->close();
        ++killed;
      }
    }
  }
  if (old_form) {
    if (killed == 0) return call.reply.Error("ERR No such client");
    return call.reply.Ok();
  }
  call.reply.Integer(killed);
}

// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: ends another connection's blocking command
// (api/resp/block.h) as if it timed out, or with -UNBLOCKED. 1 if it was waiting.
void CmdClientUnblock(Call& call) {
  int64_t id = 0;
  if (!ParseInt64(call.args[2], &id)) return call.reply.Error(kNotIntegerError);
  auto how = ClientState::Unblock::kTimeout;
  if (call.args.size() == 4) {
    if (EqualsNoCase(call.args[3], "error")) {
      how = ClientState::Unblock::kError;
    } else if (!EqualsNoCase(call.args[3], "timeout")) {
      return call.reply.Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    }
  } else if (call.args.size() > 4) {
    return call.reply.Error(kSyntaxError);
  }
  std::shared_ptr<ClientState> target;
  {
    std::lock_guard lock(call.server.clients_mu);
    auto it = call.server.clients.find(static_cast<uint64_t>(id));
    if (it != call.server.clients.end()) target = it->second;
  }
  call.reply.Integer(target && target->Unblocked(how) ? 1 : 0);
}

// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
// (api/resp/tracking.h).
void CmdClientTracking(Call& call) {
  const std::vector<std::string>& a = call.args;
  Tracking::Options o;
  for (size_t i = 3; i < a.size(); ++i) {
    const bool more = i + 1 < a.size();
    if (EqualsNoCase(a[i], "redirect") && more) {
      int64_t id = 0;
      if (!ParseInt64(a[++i], &id)) return call.reply.Error(kNotIntegerError);
      if (o.redirect != 0) {
        return call.reply.Error("ERR A client can only redirect to a single other client");
      }
      o.redirect = static_cast<uint64_t>(id);
    } else if (EqualsNoCase(a[i], "bcast")) {
      o.bcast = true;
    } else if (EqualsNoCase(a[i], "optin")) {
      o.optin = true;
    } else if (EqualsNoCase(a[i], "optout")) {
      o.optout = true;
    } else if (EqualsNoCase(a[i], "noloop")) {
      return call.reply.Error(
          "ERR NOLOOP is not supported: devstate cannot tell which client wrote a key, and "
          "skipping another client's change would leave a stale copy cached");
    } else if (EqualsNoCase(a[i], "prefix") && more) {
      o.prefixes.push_back(a[++i]);
    } else {
      return call.reply.Error(kSyntaxError);
    }
  }
  if (EqualsNoCase(a[2], "on")) {
    const std::string error = call.server.tracking.Enable(call.client, o);
    if (!error.empty()) return call.reply.Error(error);
  } else if (EqualsNoCase(a[2], "off")) {
    call.server.tracking.Disable(call.client);
  } else {
    return call.reply.Error(kSyntaxError);
  }
  call.reply.Ok();
}

// CLIENT CACHING YES|NO: whether the next command's reads are tracked (OPTIN / OPTOUT).
void CmdClientCaching(Call& call) {
  const ClientState::TrackingMode& t = call.client.tracking;
  if (!t.on || (!t.optin && !t.optout)) {
    return call.reply.Error(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
        "OPTIN or OPTOUT mode enabled");
  }
  if (EqualsNoCase(call.args[2], "yes")) {
    if (!t.optin) {
      return call.reply.Error(
          "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
    }
    call.client.caching = 1;
  } else if (EqualsNoCase(call.args[2], "no")) {
    if (!t.optout) {
      return call.reply.Error(
          "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
    }
    call.client.caching = 0;
  } else {
    return call.reply.Error(kSyntaxError);
  }
  call.reply.Ok();
}

// CLIENT GETREDIR: -1 when not tracking, 0 when not redirecting, else the target's id.
void CmdClientGetredir(Call& call) {
  const ClientState::TrackingMode& t = call.client.tracking;
  call.reply.Integer(!t.on ? -1 : static_cast<int64_t>(t.redirect));
}

// CLIENT TRACKINGINFO: flags, redirect, prefixes, as Redis 7.0 answers.
void CmdClientTrackinginfo(Call& call) {
  const ClientState::TrackingMode& t = call.client.tracking;
  std::vector<std::string_view> flags;
  if (!t.on) {
    flags.push_back("off");
  } else {
    flags.push_back("on");
    if (t.bcast) flags.push_back("bcast");
    if (t.optin) {
      flags.push_back("optin");
      if (call.client.caching == 1) flags.push_back("caching-yes");
    }
    if (t.optout) {
      flags.push_back("optout");
      if (call.client.caching == 0) flags.push_back("caching-no");
    }
    if (t.broken_redirect) flags.push_back("broken_redirect");
  }
  ReplyWriter& w = call.reply;
  w.Map(3);
  w.Bulk("flags");
  w.Set(flags.size());
  for (std::string_view f : flags) w.Bulk(f);
  w.Bulk("redirect");
  w.Integer(!t.on ? -1 : static_cast<int64_t>(t.redirect));
  w.Bulk("prefixes");
  w.Array(t.prefixes.size());  // BCAST without a prefix shows "", as in Redis
  for (const std::string& p : t.prefixes) w.Bulk(p);
}

void CmdReadonly(Call& call) {
  call.client.readonly = true;
  call.reply.Ok();
}

void CmdReadwrite(Call& call) {
  call.client.readonly = false;
  call.reply.Ok();
}

// ASKING: a cluster client's word that the next command follows an -ASK redirect. This
// node serves every slot and never answers -ASK, so there is nothing to remember.
void CmdAsking(Call& call) { call.reply.Ok(); }

}  // namespace

void AddConnectionCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> conn = {"fast", "connection"};
  const std::vector<std::string_view> slow_conn = {"slow", "connection"};
  const std::vector<std::string_view> admin = {"admin", "slow", "dangerous", "connection"};
  const uint32_t any = kStale | kLoading;
  t->insert(
      t->end(),
      {
          {"ping", -1, kFast | any, 0, 0, 0, conn, CmdPing, "Ping the server"},
          {"echo", 2, kFast | any, 0, 0, 0, conn, CmdEcho, "Echo the given string"},
          {"quit", -1, kFast | any | kNoAuth | kNoQueue, 0, 0, 0, conn, CmdQuit,
           "Close the connection"},
          {"reset", 1, kFast | any | kNoAuth | kNoQueue, 0, 0, 0, conn, CmdReset,
           "Reset the connection"},
          {"monitor", 1, kAdmin | kNoScript | kLoading | kStale | kNoMulti, 0, 0, 0,
           std::vector<std::string_view>{"admin", "slow", "dangerous"}, CmdMonitor,
           "Listen for all requests received by the server in real time"},
          {"select", 2, kFast | any, 0, 0, 0, conn, CmdSelect,
           "Change the selected database (only 0 exists)"},
          {"hello", -1, kFast | any | kNoAuth, 0, 0, 0, conn, CmdHello,
           "Handshake with Redis (protocol 2 or 3)"},
          {"auth", -2, kFast | any | kNoAuth, 0, 0, 0, conn, CmdAuth, "Authenticate to the server"},
          {"readonly", 1, kFast | any, 0, 0, 0, conn, CmdReadonly,
           "Enables read queries for a connection to a cluster replica node"},
          {"readwrite", 1, kFast | any, 0, 0, 0, conn, CmdReadwrite,
           "Disables read queries for a connection to a cluster replica node"},
          {"asking",
           1,
           kFast,
           0,
           0,
           0,
           {"fast", "connection"},
           CmdAsking,
           "Sent by cluster clients after an -ASK redirect"},
          {"client",
           -2,
           any,
           0,
           0,
           0,
           {"slow"},
           nullptr,
           "A container for client connection commands",
           {
               {"client|id", 2, any, 0, 0, 0, slow_conn, CmdClientId, "Returns the client ID"},
               {"client|reply", 3, any, 0, 0, 0, slow_conn, CmdClientReply,
                "Instruct the server whether to reply to commands"},
               {"client|setname", 3, any, 0, 0, 0, slow_conn, CmdClientSetname,
                "Set the current connection name"},
               {"client|getname", 2, any, 0, 0, 0, slow_conn, CmdClientGetname,
                "Get the current connection name"},
               {"client|list", -2, kAdmin | any, 0, 0, 0, admin, CmdClientList,
                "Get the list of client connections"},
               {"client|info", 2, any, 0, 0, 0, slow_conn, CmdClientInfo,
                "Returns information about the current client connection"},
               {"client|kill", -3, kAdmin | any, 0, 0, 0, admin, CmdClientKill,
                "Kill the connection of a client"},
               {"client|unblock", -3, kAdmin | kNoScript | kLoading | kStale, 0, 0, 0, admin,
                CmdClientUnblock,
                "Unblock a client blocked in a blocking command from a different "
                "connection"},
               {"client|tracking", -3, any, 0, 0, 0, slow_conn, CmdClientTracking,
                "Enable or disable server assisted client side caching support"},
               {"client|caching", 3, any, 0, 0, 0, slow_conn, CmdClientCaching,
                "Instruct the server about tracking or not keys in the next request"},
               {"client|getredir", 2, any, 0, 0, 0, slow_conn, CmdClientGetredir,
                "Get tracking notifications redirection client ID if any"},
               {"client|trackinginfo", 2, any, 0, 0, 0, slow_conn, CmdClientTrackinginfo,
                "Return information about server assisted client side caching for the "
                "current connection"},
               {"client|help", 2, any, 0, 0, 0, slow_conn, ContainerHelp, "Show helpful text"},
           }},
      });
}

}  // namespace devstate::resp
