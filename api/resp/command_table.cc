#include "api/resp/command_table.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "api/resp/commands.h"

namespace devstate::resp {

bool ParseInt64(std::string_view text, int64_t* v) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *v);
  return ec == std::errc() && end == text.data() + text.size();
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

namespace {

// The rows. Flags, key positions and categories follow Redis 7.0's own table, so cluster
// clients route by them exactly as they would against Redis.
std::vector<CommandSpec> BuildTable() {
  const std::vector<std::string_view> kReadString = {"read", "string", "fast"};
  const std::vector<std::string_view> kWriteString = {"write", "string", "slow"};
  const std::vector<std::string_view> kKeyspaceRead = {"keyspace", "read", "fast"};
  const std::vector<std::string_view> kKeyspaceWrite = {"keyspace", "write", "fast"};
  const std::vector<std::string_view> kConnection = {"fast", "connection"};
  const std::vector<std::string_view> kAdminCategories = {"admin", "slow", "dangerous"};
  std::vector<CommandSpec> t = {
      {"get", 2, kReadonly | kFast, 1, 1, 1, kReadString, CmdGet, "Get the value of a key"},
      {"mget", -2, kReadonly | kFast, 1, -1, 1, kReadString, CmdMget,
       "Get the values of all the given keys"},
      {"set", -3, kWrite | kDenyOom, 1, 1, 1, kWriteString, CmdSet,
       "Set the string value of a key (EX PX EXAT PXAT NX XX GET KEEPTTL)"},
      {"setnx",
       3,
       kWrite | kDenyOom | kFast,
       1,
       1,
       1,
       {"write", "string", "fast"},
       CmdSetnx,
       "Set the value of a key, only if the key does not exist"},
      {"mset", -3, kWrite | kDenyOom, 1, -1, 2, kWriteString, CmdMset,
       "Set multiple keys to multiple values"},
      {"del", -2, kWrite, 1, -1, 1, {"keyspace", "write", "slow"}, CmdDel, "Delete a key"},
      {"unlink", -2, kWrite | kFast, 1, -1, 1, kKeyspaceWrite, CmdDel, "Delete a key"},
      {"exists", -2, kReadonly | kFast, 1, -1, 1, kKeyspaceRead, CmdExists,
       "Determine if a key exists"},
      {"type", 2, kReadonly | kFast, 1, 1, 1, kKeyspaceRead, CmdType,
       "Determine the type stored at key"},
      {"keys",
       2,
       kReadonly,
       0,
       0,
       0,
       {"keyspace", "read", "slow", "dangerous"},
       CmdKeys,
       "Find all keys matching the given pattern"},
      {"scan",
       -2,
       kReadonly,
       0,
       0,
       0,
       {"keyspace", "read", "slow"},
       CmdScan,
       "Incrementally iterate the keys space"},
      {"dbsize", 1, kReadonly | kFast, 0, 0, 0, kKeyspaceRead, CmdDbsize,
       "Return the number of keys in the selected database"},
      {"ttl", 2, kReadonly | kFast, 1, 1, 1, kKeyspaceRead, CmdTtl,
       "Get the time to live for a key in seconds"},
      {"pttl", 2, kReadonly | kFast, 1, 1, 1, kKeyspaceRead, CmdPttl,
       "Get the time to live for a key in milliseconds"},
      {"expire", -3, kWrite | kFast, 1, 1, 1, kKeyspaceWrite, CmdExpire,
       "Set a key's time to live in seconds (NX XX GT LT)"},
      {"pexpire", -3, kWrite | kFast, 1, 1, 1, kKeyspaceWrite, CmdPexpire,
       "Set a key's time to live in milliseconds (NX XX GT LT)"},
      {"persist", 2, kWrite | kFast, 1, 1, 1, kKeyspaceWrite, CmdPersist,
       "Remove the expiration from a key"},
      {"ping", -1, kFast | kStale | kLoading, 0, 0, 0, kConnection, CmdPing, "Ping the server"},
      {"echo", 2, kFast | kStale | kLoading, 0, 0, 0, kConnection, CmdEcho,
       "Echo the given string"},
      {"quit", -1, kFast | kStale | kLoading | kNoAuth, 0, 0, 0, kConnection, CmdQuit,
       "Close the connection"},
      {"reset", 1, kFast | kStale | kLoading | kNoAuth, 0, 0, 0, kConnection, CmdReset,
       "Reset the connection"},
      {"select", 2, kFast | kStale | kLoading, 0, 0, 0, kConnection, CmdSelect,
       "Change the selected database (only 0 exists)"},
      {"hello", -1, kFast | kStale | kLoading | kNoAuth, 0, 0, 0, kConnection, CmdHello,
       "Handshake with Redis (protocol 2 or 3)"},
      {"auth", -2, kFast | kStale | kLoading | kNoAuth, 0, 0, 0, kConnection, CmdAuth,
       "Authenticate to the server"},
      {"info",
       -1,
       kStale | kLoading,
       0,
       0,
       0,
       {"slow", "dangerous"},
       CmdInfo,
       "Get information and statistics about the server"},
      {"client",
       -2,
       kStale | kLoading,
       0,
       0,
       0,
       {"slow"},
       CmdClient,
       "A container for client connection commands",
       {{"client|id",
         2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow", "connection"},
         nullptr,
         "Returns the client ID"},
        {"client|setname",
         3,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow", "connection"},
         nullptr,
         "Set the connection name"},
        {"client|getname",
         2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow", "connection"},
         nullptr,
         "Get the connection name"},
        {"client|list", -2, kAdmin | kStale | kLoading, 0, 0, 0, kAdminCategories, nullptr,
         "List client connections"},
        {"client|info",
         2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow", "connection"},
         nullptr,
         "Returns information about the current client connection"},
        {"client|kill", -3, kAdmin | kStale | kLoading, 0, 0, 0, kAdminCategories, nullptr,
         "Kill the connection of a client"}}},
      {"config",
       -2,
       kAdmin | kStale | kLoading,
       0,
       0,
       0,
       {"slow"},
       CmdConfig,
       "A container for server configuration commands",
       {{"config|get", -3, kAdmin | kStale | kLoading, 0, 0, 0, kAdminCategories, nullptr,
         "Get the values of configuration parameters"},
        {"config|set", -4, kAdmin | kStale | kLoading, 0, 0, 0, kAdminCategories, nullptr,
         "Set configuration parameters"},
        {"config|resetstat", 2, kAdmin | kStale | kLoading, 0, 0, 0, kAdminCategories, nullptr,
         "Reset the stats returned by INFO"}}},
      {"acl",
       -2,
       kStale | kLoading,
       0,
       0,
       0,
       {"slow"},
       CmdAcl,
       "A container for Access List Control commands",
       {{"acl|cat",
         -2,
         kNoScript | kLoading | kStale,
         0,
         0,
         0,
         {"slow"},
         nullptr,
         "List the ACL categories or the commands inside a category"},
        {"acl|help",
         2,
         kLoading | kStale,
         0,
         0,
         0,
         {"slow"},
         nullptr,
         "Show helpful text about the different subcommands"},
        {"acl|list", 2, kAdmin | kNoScript | kLoading | kStale, 0, 0, 0, kAdminCategories, nullptr,
         "List the current ACL rules in ACL config file format"},
        {"acl|load", 2, kAdmin | kNoScript | kLoading | kStale, 0, 0, 0, kAdminCategories, nullptr,
         "Reload the ACLs from the configured ACL file"},
        {"acl|log", -2, kAdmin | kNoScript | kLoading | kStale, 0, 0, 0, kAdminCategories, nullptr,
         "List latest events denied because of ACLs in place"},
        {"acl|users", 2, kAdmin | kNoScript | kLoading | kStale, 0, 0, 0, kAdminCategories, nullptr,
         "List the username of all the configured ACL rules"},
        {"acl|whoami",
         2,
         kNoScript | kLoading | kStale,
         0,
         0,
         0,
         {"slow"},
         nullptr,
         "Return the name of the user associated to the current connection"}}},
      {"time",
       1,
       kFast | kStale | kLoading,
       0,
       0,
       0,
       {"fast"},
       CmdTime,
       "Return the current server time"},
      {"command",
       -1,
       kStale | kLoading,
       0,
       0,
       0,
       {"slow", "connection"},
       CmdCommand,
       "Get array of Redis command details",
       {{"command|count",
         2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow", "connection"},
         nullptr,
         "Get total number of Redis commands"},
        {"command|info",
         -2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow", "connection"},
         nullptr,
         "Get array of specific Redis command details"},
        {"command|docs",
         -2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow", "connection"},
         nullptr,
         "Get array of specific Redis command documentation"},
        {"command|getkeys",
         -3,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow", "connection"},
         nullptr,
         "Extract keys given a full Redis command"},
        {"command|list",
         -2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow", "connection"},
         nullptr,
         "Get an array of command names"}}},
      {"cluster",
       -2,
       0,
       0,
       0,
       0,
       {"slow"},
       CmdCluster,
       "A container for cluster commands",
       {{"cluster|slots",
         2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow"},
         nullptr,
         "Get array of cluster slot to node mappings"},
        {"cluster|shards",
         2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow"},
         nullptr,
         "Get array of cluster shards"},
        {"cluster|info",
         2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow"},
         nullptr,
         "Provides info about the cluster state"},
        {"cluster|myid", 2, kStale | kLoading, 0, 0, 0, {"slow"}, nullptr, "Return the node id"},
        {"cluster|nodes",
         2,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow"},
         nullptr,
         "Get cluster config for the node"},
        {"cluster|keyslot",
         3,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow"},
         nullptr,
         "Returns the hash slot of the key"},
        {"cluster|countkeysinslot",
         3,
         kStale | kLoading,
         0,
         0,
         0,
         {"slow"},
         nullptr,
         "Return the number of local keys in the slot"}}},
      {"multi",
       1,
       kNoScript | kLoading | kStale | kFast,
       0,
       0,
       0,
       {"fast", "transaction"},
       nullptr,
       "Mark the start of a transaction block"},
      {"exec",
       1,
       kNoScript | kLoading | kStale,
       0,
       0,
       0,
       {"slow", "transaction"},
       nullptr,
       "Execute all commands issued after MULTI, in order"},
      {"discard",
       1,
       kNoScript | kLoading | kStale | kFast,
       0,
       0,
       0,
       {"fast", "transaction"},
       nullptr,
       "Discard all commands issued after MULTI"},
      {"readonly", 1, kFast | kLoading | kStale, 0, 0, 0, kConnection, CmdReadonly,
       "Enables read queries for a connection to a cluster replica node"},
      {"readwrite", 1, kFast | kLoading | kStale, 0, 0, 0, kConnection, CmdReadwrite,
       "Disables read queries for a connection to a cluster replica node"},
  };
  std::sort(t.begin(), t.end(),
            [](const CommandSpec& a, const CommandSpec& b) { return a.name < b.name; });
  return t;
}

}  // namespace

const std::vector<CommandSpec>& CommandTable() {
  static const std::vector<CommandSpec> table = BuildTable();
  return table;
}

const CommandSpec* FindCommand(std::string_view name) {
  char buffer[32];
  if (name.size() > sizeof buffer) return nullptr;
  for (size_t i = 0; i < name.size(); ++i) {
    buffer[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  }
  const std::string_view lower(buffer, name.size());
  const auto& table = CommandTable();
  auto it = std::lower_bound(table.begin(), table.end(), lower,
                             [](const CommandSpec& c, std::string_view n) { return c.name < n; });
  return it != table.end() && it->name == lower ? &*it : nullptr;
}

std::string WrongArity(std::string_view command) {
  return fmt::format("ERR wrong number of arguments for '{}' command", Lower(command));
}

std::string UnknownCommand(const std::vector<std::string>& args) {
  std::string out =
      fmt::format("ERR unknown command '{}', with args beginning with: ", args[0].substr(0, 128));
  for (size_t i = 1; i < args.size() && out.size() < 256; ++i) {
    out += fmt::format("'{}' ", args[i].substr(0, 128));
  }
  return out;
}

std::string StoreError(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNoReplicas:
      return "NOREPLICAS Not enough good replicas to write.";
    case Status::Code::kWriteRefused:
      return "MISCONF devstate refuses writes after a journal failure: " + s.message();
    case Status::Code::kShutdown:
      return "ERR the server is shutting down";
    default:
      return "ERR " + s.message();
  }
}

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

}  // namespace

std::string AccessError(ClientState& client, ServerState& server, const CommandSpec& command,
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
    if (command.flags & kNoAuth) return {};
    return "NOAUTH Authentication required.";
  }
  const CommandSpec* spec = &command;
  if (!command.subcommands.empty() && args.size() > 1) {
    const std::string full = fmt::format("{}|{}", command.name, Lower(args[1]));
    for (const CommandSpec& sub : command.subcommands) {
      if (sub.name == full) spec = &sub;
    }
  }
  const acl::User& user = *client.user;
  if (!user.AllowsCommand(spec->name, spec->categories)) {
    std::string name(spec->name);
    std::replace(name.begin(), name.end(), '|', ' ');
    LogDenied(client, server, "command", context, std::string(spec->name));
    return fmt::format("NOPERM User {} has no permissions to run the '{}' command", user.name,
                       name);
  }
  const bool write = spec->flags & kWrite;
  std::string denied;
  ForEachKeyIndex(*spec, static_cast<int>(args.size()), [&](int i) {
    if (user.AllowsKey(args[i], write)) return true;
    LogDenied(client, server, "key", context, args[i]);
    denied = "NOPERM No permissions to access a key";
    return false;
  });
  return denied;
}

bool Authenticate(ClientState& client, ServerState& server, std::string_view name,
                  std::string_view password, std::string_view object) {
  if (server.acl == nullptr) return name == "default";
  auto user = server.acl->Authenticate(name, password);
  if (user) {
    client.user = std::move(user);
    client.username = std::string(name);
    client.acl_generation = server.acl->generation();
    return true;
  }
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
  return false;
}

void Dispatch(Call& call) { Dispatch(call, FindCommand(call.args[0])); }

void Dispatch(Call& call, const CommandSpec* spec) {
  if (spec == nullptr) return call.reply.Error(UnknownCommand(call.args));
  const int n = static_cast<int>(call.args.size());
  if ((spec->arity > 0 && n != spec->arity) || (spec->arity < 0 && n < -spec->arity)) {
    return call.reply.Error(WrongArity(spec->name));
  }
  if (call.server.acl != nullptr) {
    const std::string denied = AccessError(call.client, call.server, *spec, call.args);
    if (!denied.empty()) return call.reply.Error(denied);
  }
  call.server.total_commands.fetch_add(1, std::memory_order_relaxed);
  if (spec->handler == nullptr) {  // MULTI/EXEC/DISCARD belong to the connection, not here
    return call.reply.Error(fmt::format("ERR {} is not allowed here", Lower(spec->name)));
  }
  spec->handler(call);
}

uint16_t KeySlot(std::string_view key) {
  // A {hash tag} with something inside it decides the slot, as in Redis Cluster.
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  uint16_t crc = 0;  // CRC16-CCITT (XModem), as Redis Cluster
  for (char ch : key) {
    crc ^= static_cast<uint16_t>(static_cast<uint8_t>(ch)) << 8;
    for (int i = 0; i < 8; ++i)
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
  }
  return crc & 16383;
}

}  // namespace devstate::resp
