// Dispatch: every command's way in, checked once, in the order of Redis 7.0's
// processCommand: the command (and subcommand) exists, its arity, authentication, ACL,
// cluster routing (CROSSSLOT), then MULTI queueing, then the handler. A command refused
// inside MULTI marks the transaction failed (EXECABORT), as Redis's flagTransaction does.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "api/resp/command_table.h"

namespace devstate::resp {
namespace {

std::string ClientInfoLine(const ClientState& c) {
  return fmt::format("id={} addr={} laddr={} name={} user={}", c.id, c.addr, c.laddr, c.name,
                     c.username);
}

void LogDenied(ClientState& client, ServerState& server, std::string reason,
               std::string_view context, std::string object) {
  acl::LogEntry entry;
  entry.reason = std::move(reason);
  entry.context = std::string(context);
  entry.object = std::move(object);
  entry.username = client.username;
  entry.client_info = ClientInfoLine(client);
  server.acl->Log(std::move(entry), server.service->NowMs());
}

bool ArityOk(const CommandSpec& spec, size_t argc) {
  const int n = static_cast<int>(argc);
  return !((spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity));
}

// Redis Cluster refuses a command whose keys live in different slots; devstate presents
// itself as a cluster, so an application tested on it must not break on a real one.
bool SameSlot(const CommandSpec& spec, const std::vector<std::string>& args) {
  int first = -1;
  bool same = true;
  ForEachKeyIndex(spec, args, [&](int i) {
    const int slot = KeySlot(args[i]);
    if (first < 0) first = slot;
    same = slot == first;
    return same;
  });
  return same;
}

// A RESP2 connection that subscribed speaks only pub/sub (Redis's processCommand).
bool AllowedWhileSubscribed(const CommandSpec& spec) {
  static constexpr std::string_view kAllowed[] = {"subscribe",   "ssubscribe",   "psubscribe",
                                                  "unsubscribe", "sunsubscribe", "punsubscribe",
                                                  "ping",        "quit",         "reset"};
  for (std::string_view name : kAllowed) {
    if (spec.name == name) return true;
  }
  return false;
}

// A refusal: inside MULTI it fails the transaction; an EXEC refused (its arity) discards
// it, answered as Redis's execCommandAbort.
void Reject(Call& call, const CommandSpec* spec, std::string_view error) {
  ClientState& c = call.client;
  if (spec != nullptr && spec->name == "exec") {
    c.EndTransaction();
    std::string_view why = error.substr(0, 4) == "ERR " ? error.substr(4) : error;
    return call.reply.Error(fmt::format("EXECABORT Transaction discarded because of: {}", why));
  }
  if (c.in_multi) c.multi_failed = true;
  if (spec != nullptr) spec->stats->rejected.fetch_add(1, std::memory_order_relaxed);
  call.reply.Error(error);
}

// On a replica: where a command goes instead of running here, or empty to run it. Writes
// belong to the primary: -MOVED to it for a command with keys (cluster clients follow it),
// -READONLY otherwise. Reads run here for READONLY connections and, unless
// replication.replica_reads says readonly, for connections that never asked for the
// cluster's layout (plain clients); a cluster client that did not send READONLY is sent to
// the primary, as Redis Cluster does.
std::string ReplicaRedirect(Call& call, const CommandSpec& spec) {
  const bool write = spec.flags & kWrite;
  if (!write) {
    if (!HasKeys(spec) || call.client.readonly) return {};
    if (!call.server.replica_reads_need_readonly && !call.client.cluster_aware) return {};
  }
  int first = -1;
  ForEachKeyIndex(spec, call.args, [&](int i) {
    first = i;
    return false;
  });
  if (first < 0) return write ? "READONLY You can't write against a read only replica." : "";
  const RoleView role = call.service().Role();
  if (role.primary_port == 0) return "READONLY You can't write against a read only replica.";
  const int slot = KeySlot(call.args[static_cast<size_t>(first)]);
  return fmt::format("MOVED {} {}:{}", slot, role.primary_host, role.primary_port);
}

}  // namespace

std::string AccessError(ClientState& client, ServerState& server, const CommandSpec& spec,
                        const std::vector<std::string>& args, std::string_view context) {
  if (server.acl == nullptr) return {};
  if (client.acl_generation != server.acl->generation()) {  // ACL LOAD: the user may have changed
    client.acl_generation = server.acl->generation();
    if (client.user) {
      client.user = server.acl->Find(client.username);
      if (client.user && !client.user->enabled) client.user = nullptr;
    }
  }
  if (!client.user) {
    if (spec.flags & kNoAuth) return {};
    return "NOAUTH Authentication required.";
  }
  const acl::User& user = *client.user;
  if (user.AllowsEverything()) return {};
  if (!user.AllowsCommand(spec.name, spec.categories)) {
    LogDenied(client, server, "command", context, std::string(spec.name));
    return fmt::format("NOPERM this user has no permissions to run the '{}' command", spec.name);
  }
  const bool write = spec.flags & kWrite;
  std::string denied;
  ForEachKeyIndex(spec, args, [&](int i) {
    if (user.AllowsKey(args[i], write)) return true;
    LogDenied(client, server, "key", context, args[i]);
    denied = "NOPERM this user has no permissions to access one of the keys used as arguments";
    return false;
  });
  return denied;
}

namespace {
// The address part of "ip:port" (IPv6 addresses have colons of their own).
std::string_view Address(std::string_view peer) {
  const size_t colon = peer.rfind(':');
  return colon == std::string_view::npos ? peer : peer.substr(0, colon);
}
}  // namespace

bool Authenticate(Call& call, std::string_view name, std::string_view password,
                  std::string_view object) {
  ClientState& client = call.client;
  ServerState& server = call.server;
  if (server.acl == nullptr) return name == "default";
  acl::AuthThrottle& throttle = server.acl->throttle();
  const auto now = acl::AuthThrottle::Clock::now();
  const std::string_view address = Address(client.addr);
  acl::AuthThrottle::Answer answer = throttle.BeforeCheck(address, now);
  auto user = server.acl->Authenticate(name, password);
  const bool authenticated = user != nullptr;
  if (authenticated) {
    client.user = std::move(user);
    client.username = std::string(name);
    client.acl_generation = server.acl->generation();
  } else {
    ++client.auth_failures;
    server.service->metrics().auth_failures.fetch_add(1, std::memory_order_relaxed);
    acl::LogEntry entry;
    entry.reason = "auth";
    entry.context = "toplevel";
    entry.object = std::string(object);
    entry.username = std::string(name);
    entry.client_info = ClientInfoLine(client);
    server.acl->Log(std::move(entry), server.service->NowMs());
    spdlog::warn("resp: failed authentication as '{}' from {} (client {})", name, client.addr,
                 client.id);
    const acl::AuthThrottle::Answer failed = throttle.Failed(address, name, now);
    if (!failed.started.empty()) {
      spdlog::warn("auth: failure budget spent by {}their answers are throttled", failed.started);
    }
    answer.wait = std::max(answer.wait, failed.wait);
    answer.throttled = answer.throttled || failed.throttled;
  }
  if (answer.throttled) {
    server.service->metrics().auth_throttled.fetch_add(1, std::memory_order_relaxed);
  }
  call.reply_delay = answer.wait;
  return authenticated;
}

void Dispatch(Call& call) { Dispatch(call, FindCommand(call.args[0])); }

void Dispatch(Call& call, const CommandSpec* spec) {
  const std::vector<std::string>& args = call.args;
  if (spec == nullptr) return Reject(call, nullptr, UnknownCommand(args));
  if (!spec->subcommands.empty() && args.size() >= 2) {
    const CommandSpec* sub = FindSubcommand(*spec, args[1]);
    if (sub == nullptr) return Reject(call, nullptr, UnknownSubcommand(spec->name, args[1]));
    spec = sub;
  }
  if (!ArityOk(*spec, args.size())) return Reject(call, spec, WrongArity(spec->name));
  const std::string denied = AccessError(call.client, call.server, *spec, args,
                                         call.client.in_multi || call.view ? "multi" : "toplevel");
  if (!denied.empty()) return Reject(call, spec, denied);
  if (HasKeys(*spec) &&
      (spec->numkeys_at > 0 || spec->option_keys != nullptr || spec->last_key != spec->first_key) &&
      !SameSlot(*spec, args)) {
    return Reject(call, spec, "CROSSSLOT Keys in request don't hash to the same slot");
  }
  if (call.client.protocol == 2 && call.client.subscribed() && !AllowedWhileSubscribed(*spec)) {
    return Reject(call, spec,
                  fmt::format("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                              "PING / QUIT / RESET are allowed in this context",
                              spec->name));
  }
  if (!(spec->flags & kLoading) && call.service().Loading()) {
    return Reject(call, spec, "LOADING Redis is loading the dataset in memory");
  }
  if (HasKeys(*spec) || (spec->flags & kWrite)) {
    // A primary past its lease's deadline: no stale read, no write (cluster clients retry).
    if (const Status serving = call.service().ServingStatus(); !serving.ok()) {
      return Reject(call, spec, StoreError(serving));
    }
  }
  if (!call.service().IsPrimary()) {
    const std::string redirect = ReplicaRedirect(call, *spec);
    if (!redirect.empty()) return Reject(call, spec, redirect);
  }
  call.server.total_commands.fetch_add(1, std::memory_order_relaxed);
  if (call.client.in_multi && (spec->flags & kNoMulti)) {
    return Reject(call, spec, "ERR Command not allowed inside a transaction");
  }
  if (call.client.in_multi && !(spec->flags & kNoQueue)) {
    call.client.queued.push_back(args);
    call.client.multi_commands = call.client.queued.size();
    return call.reply.Simple("QUEUED");
  }
  call.spec = spec;
  // MONITOR: the command once run, as Redis shows it (RESET not to the monitor it ends;
  // EXEC, after the commands it runs, by its own handler); a write before, as its handler
  // may move its arguments into its mutations.
  const bool monitored =
      call.server.monitors.any() && !(spec->flags & kAdmin) && spec->name != "exec";
  const bool fed_first = (spec->flags & kWrite) != 0;
  if (monitored && fed_first) call.server.monitors.Feed(call.client.addr, args);
  // CLIENT TRACKING: a read's keys are remembered before it reads them (tracking.h), so a
  // change published while it runs is still told.
  if (call.client.tracking.on && (spec->flags & kReadonly) && HasKeys(*spec)) {
    std::vector<std::string_view> keys;
    ForEachKeyIndex(*spec, args, [&](int i) {
      keys.push_back(args[static_cast<size_t>(i)]);
      return true;
    });
    call.server.tracking.Remember(call.client, keys);
  }
  const size_t errors_before = call.reply.errors_written();
  const auto started = std::chrono::steady_clock::now();
  spec->handler(call);
  // CLIENT CACHING counts for the next command, or the next transaction (as in Redis).
  if (call.client.caching != -1 && call.view == nullptr && spec->name != "client|caching" &&
      spec->name != "multi") {
    call.client.caching = -1;
  }
  call.handler_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
  CommandStats& stats = *spec->stats;
  stats.calls.fetch_add(1, std::memory_order_relaxed);
  stats.usec.fetch_add(static_cast<uint64_t>(call.handler_micros), std::memory_order_relaxed);
  // A deferred reply's error is counted where it is written (Commit, Block).
  if (call.reply.errors_written() > errors_before) {
    stats.failed.fetch_add(1, std::memory_order_relaxed);
  }
  if (monitored && !fed_first) call.server.monitors.Feed(call.client.addr, args);
}

}  // namespace devstate::resp
