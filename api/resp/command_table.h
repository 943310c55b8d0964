// The RESP command table: one row per command and per subcommand ("client|setname"), the
// single source of truth for dispatch, arity, key positions (for cluster clients), ACL
// categories and `COMMAND` output. Each family of commands keeps its rows next to its
// handlers (cmd_*.cc) and adds them to the table at start.
//
// A handler gets a Call: the parsed arguments, the client's state, the server's shared
// state, and a ReplyWriter for an immediate reply. A write command hands its mutations to
// Commit() (write.h), which answers later, from the thread that completes the commit;
// the connection keeps replies in request order either way.
//
// Thread safety: the table is built once and read-only after; Dispatch runs on the
// connection's thread, or on the committing thread for the commands of an EXEC.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/acl.h"
#include "api/glob.h"
#include "api/resp/migrate_client.h"
#include "api/resp/monitor.h"
#include "api/resp/protocol.h"
#include "api/resp/pubsub.h"
#include "api/resp/slowlog.h"
#include "api/resp/tracking.h"
#include "api/resp/transport.h"
#include "service/device_service.h"
#include "service/text.h"

namespace devstate::resp {

enum CommandFlag : uint32_t {
  kWrite = 1 << 0,
  kReadonly = 1 << 1,
  kFast = 1 << 2,
  kAdmin = 1 << 3,
  kNoScript = 1 << 4,
  kLoading = 1 << 5,
  kStale = 1 << 6,
  kNoAuth = 1 << 7,
  kDenyOom = 1 << 8,
  kNoQueue = 1 << 9,    // runs at once inside MULTI instead of being queued (Redis queues all
                        // but MULTI EXEC DISCARD WATCH QUIT RESET)
  kNoMulti = 1 << 10,   // refused inside MULTI, which it then aborts (SAVE, SHUTDOWN)
  kBlocking = 1 << 11,  // may wait for another client's write (BLPOP): api/resp/block.h
  kAsking = 1 << 12,    // served for a slot being imported, after ASKING (RESTORE-ASKING)
  kBarrier = 1 << 13,   // nothing after it on its connection runs until it is answered
                        // (EXEC, MIGRATE), as if the server ran it alone; not in COMMAND INFO
};

// What a connection knows about itself (CLIENT INFO/LIST, HELLO, RESET). Fields are
// written on the connection's thread (or the committing thread, for an EXEC's commands,
// while the connection waits for its reply); CLIENT LIST reads the atomics from others.
struct ClientState {
  uint64_t id = 0;
  std::string name;
  std::string addr;              // peer ip:port
  std::string laddr;             // local ip:port
  std::atomic<int> protocol{2};  // read by a tracking client's publisher (api/resp/tracking.h)
  int64_t created_ms = 0;
  std::atomic<int64_t> last_active_ms{0};
  std::string last_command;
  bool readonly = false;  // READONLY: a replica serves this connection's reads
  // CLIENT REPLY: replies are sent (on), dropped (off), or dropped for the next command.
  enum class ReplyMode { kOn, kOff, kSkip } reply_mode = ReplyMode::kOn;
  bool cluster_aware = false;  // asked for the cluster's layout (CLUSTER SLOTS ...)
  // The journal position of this connection's last acknowledged write (WAIT).
  std::atomic<uint64_t> last_write_seq{0};
  std::function<void()> close;       // closes this connection from any thread (CLIENT KILL)
  std::function<void()> rearm_idle;  // from any thread: re-read the idle timeout (CONFIG SET)
  // MULTI ... EXEC: the queued commands, and whether one was refused while queueing.
  bool in_multi = false;
  bool multi_failed = false;
  std::vector<std::vector<std::string>> queued;
  // WATCH: each key with the record it held then (null: absent). Records are immutable, so
  // any write to the key since leaves another pointer (or none) there, and EXEC aborts.
  std::vector<std::pair<std::string, RecordPtr>> watched;
  // While a blocking command of this connection waits (api/resp/block.h): ends the wait,
  // from any thread, as a timeout (a null reply), with -UNBLOCKED, or because the
  // connection closed. Returns false when nothing waits. Set on the connection's thread.
  enum class Unblock { kTimeout, kError, kClosed };
  std::mutex blocked_mu;
  std::function<bool(Unblock how)> unblock;  // guarded by blocked_mu
  std::atomic<bool> blocked{false};          // waiting now (CLIENT LIST's flag 'b')
  bool Unblocked(Unblock how) {
    std::function<bool(Unblock)> f;
    {
      std::lock_guard lock(blocked_mu);
      f = unblock;
    }
    return f && f(how);
  }
  // Who this connection is: nullptr until it authenticates (or the default user when that
  // needs no password). Re-resolved by name when the ACL is reloaded.
  std::shared_ptr<const acl::User> user;
  std::string username;
  uint64_t acl_generation = 0;
  uint64_t auth_failures = 0;  // failed AUTH/HELLO AUTH; each pauses this connection
  // Buffers, as CLIENT LIST reports them (qbuf, qbuf-free, rbs, omem): kept current by the
  // connection, read by others.
  std::atomic<size_t> query_buffer{0};       // received, not parsed yet
  std::atomic<size_t> query_buffer_free{0};  // room left in the read buffer
  std::atomic<size_t> read_buffer{0};        // the read buffer's capacity
  std::atomic<size_t> output_buffer{0};      // replies not yet written to the socket
  std::atomic<size_t> multi_commands{0};     // queued in MULTI (-1 when not in one)
  // Pub/sub: what this connection listens to (changed on its own thread, under the
  // registry's lock), and how a publisher on any thread hands it a frame (set by the
  // connection before its first command, never changed after).
  std::set<std::string> channels, patterns, shard_channels;
  std::atomic<bool> pubsub_mode{false};  // subscribed to anything (set under PubSub's lock)
  std::function<void(const std::string& frame)> push;
  // CLIENT TRACKING's mode (api/resp/tracking.h): written under the tracking registry's
  // lock, read there from publishing threads.
  struct TrackingMode {
    bool on = false, bcast = false, optin = false, optout = false;
    bool broken_redirect = false;  // the redirect target went away (told once)
    uint64_t redirect = 0;
    std::vector<std::string> prefixes;
  };
  TrackingMode tracking;
  // CLIENT CACHING for the next command: 1 yes, 0 no, -1 not given (this connection only).
  int caching = -1;
  bool subscribed() const {
    return !channels.empty() || !patterns.empty() || !shard_channels.empty();
  }

  // The end of a transaction (EXEC, DISCARD, a refused EXEC, RESET): its queue and its
  // WATCHed keys go.
  void EndTransaction() {
    in_multi = false;
    multi_failed = false;
    queued.clear();
    multi_commands = 0;
    watched.clear();
  }
};

// The limits a server starts with. max_clients, idle_timeout_ms and max_query_buffer are
// then read from ServerState's atomics, which CONFIG SET may change while it runs.
struct ServerLimits {
  ParserLimits parser;
  size_t max_query_buffer = 0;   // unparsed bytes one client may send ahead
  size_t max_output_buffer = 0;  // reply bytes one client may leave unread
  size_t max_clients = 0;
  int64_t idle_timeout_ms = 0;           // 0: never
  size_t max_pipeline = 0;               // commands in flight per connection
  size_t max_pubsub_output = 0;          // unread pub/sub bytes before a subscriber is cut off
  size_t hash_max_listpack_entries = 0;  // what OBJECT ENCODING reports for a hash
  size_t hash_max_listpack_value = 0;
  size_t zset_max_listpack_entries = 0;  // what OBJECT ENCODING reports for a sorted set
  size_t zset_max_listpack_value = 0;
  size_t set_max_intset_entries = 0;       // what OBJECT ENCODING reports for a set of integers
  int64_t slowlog_slower_than_us = 10000;  // SLOWLOG: below 0 logs nothing
  int64_t slowlog_max_len = 128;
};

// State shared by every connection of one RESP server. Thread-safe.
struct ServerState {
  DeviceService* service = nullptr;
  acl::Acl* acl = nullptr;  // users and permissions; never null in a running server
  ServerLimits limits;
  // The limits CONFIG SET changes at run time: set from `limits` at start, read at each use.
  std::atomic<size_t> max_clients{0};
  std::atomic<int64_t> idle_timeout_ms{0};  // 0: never
  std::atomic<size_t> max_query_buffer{0};
  std::atomic<size_t> hash_max_listpack_entries{0};
  std::atomic<size_t> hash_max_listpack_value{0};
  std::atomic<size_t> zset_max_listpack_entries{0};
  std::atomic<size_t> zset_max_listpack_value{0};
  std::atomic<size_t> set_max_intset_entries{0};
  // The entries of a Redis stream node: a trim with `~` removes whole nodes' worth of
  // entries (cmd_stream.cc). stream-node-max-bytes is kept for CONFIG GET only.
  std::atomic<int64_t> stream_node_max_entries{100};
  std::atomic<int64_t> stream_node_max_bytes{4096};
  // ChangesWritten() at the last SAVE or BGSAVE: INFO's rdb_changes_since_last_save counts
  // the journal's key changes after it, as Redis counts its dirty keys.
  std::atomic<uint64_t> changes_at_save{0};
  // The largest sparse HyperLogLog (header included) before it turns dense (cmd_hll.cc).
  std::atomic<int64_t> hll_sparse_max_bytes{3000};
  // Kept for CONFIG GET only: nothing devstate does depends on them (cmd_server.cc).
  std::atomic<int64_t> list_max_listpack_size{-2};
  std::atomic<int64_t> list_compress_depth{0};
  std::string run_id;   // 40 hex characters, new at every start
  std::string node_id;  // the cluster node id (40 hex characters)
  std::string announce_host = "127.0.0.1";
  // A replica serves reads only to READONLY connections (else also to connections that
  // never asked for the cluster's layout): replication.replica_reads.
  bool replica_reads_need_readonly = false;
  uint16_t port = 0;
  int64_t started_ms = 0;
  std::atomic<uint64_t> next_client_id{1};
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> rejected_connections{0};
  std::atomic<uint64_t> accept_errors{0};  // accepts that failed (out of descriptors, memory)
  std::atomic<uint64_t> total_commands{0};
  ErrorReplies error_replies;  // INFO's total_error_replies and errorstats
  std::atomic<uint64_t> keyspace_hits{0};
  std::atomic<uint64_t> keyspace_misses{0};
  std::atomic<int64_t> blocked_clients{0};  // waiting in a blocking command (INFO)

  mutable std::mutex clients_mu;  // guards clients
  std::map<uint64_t, std::shared_ptr<ClientState>> clients;
  PubSub pubsub;            // channels and their subscribers
  Tracking tracking{this};  // CLIENT TRACKING; the service's key observer while serving
  SlowLog slowlog;
  Monitors monitors;  // MONITOR

  // MIGRATE's connections and thread, made at the first MIGRATE.
  MigrateClient& Migrator() {
    std::lock_guard lock(migrate_mu_);
    if (!migrate_) migrate_ = std::make_unique<MigrateClient>();
    return *migrate_;
  }
  size_t MigrateCachedSockets() const {
    std::lock_guard lock(migrate_mu_);
    return migrate_ ? migrate_->cached() : 0;
  }

 private:
  mutable std::mutex migrate_mu_;
  std::unique_ptr<MigrateClient> migrate_;
};

using Responder = std::function<void(std::string reply)>;

// The writes of a connection's pipelined commands, gathered while one read's worth of
// commands is parsed and then committed as ONE store write (atomic, one pipeline request)
// instead of one request per command. Each command still gets its own reply.
struct PendingWrites {
  std::vector<Mutation> mutations;
  std::vector<std::function<void(const Status&)>> finishers;  // one per command, in order
  bool empty() const { return finishers.empty(); }
};

// A keyspace notification a write raised, sent once it is committed (notify.cc).
struct KeyEvent {
  uint32_t cls;  // Notifier::Class
  std::string_view event;
  std::string key;
};

struct CommandSpec;

struct Call {
  std::vector<std::string>& args;
  ClientState& client;
  ServerState& server;
  ReplyWriter reply;                 // an immediate reply goes here
  std::function<Responder()> defer;  // or take this, and answer later
  bool close_after = false;          // QUIT: close once this reply is written
  PendingWrites* batch = nullptr;    // if set, writes join it instead of committing alone
  // Inside an EXEC: the transaction's view of the store. Reads and writes go through it
  // and are answered at once; the EXEC's commit answers for all of them, and sends the
  // keyspace events its commands raised (kept here meanwhile).
  KeyView* view = nullptr;
  std::vector<KeyEvent>* exec_events = nullptr;
  const CommandSpec* spec = nullptr;  // the command running (set by Dispatch)
  bool silent = false;  // CLIENT REPLY OFF/SKIP: this command's own reply is dropped too
  bool pushed = false;  // the reply is pub/sub confirmations, which CLIENT REPLY never drops
  bool speaks = false;  // CLIENT REPLY ON: its own +OK is sent though replies were off
  int64_t handler_micros = -1;  // set by Dispatch once the handler ran (-1: refused, queued)
  // Set by PSYNC: once its reply (and every earlier one) is written, the connection is
  // handed to this, with the bytes received after the command, and is no longer RESP.
  std::function<void(std::unique_ptr<Transport> io, std::string received)> take_over{};
  // Set by a handler whose reply must wait (a throttled authentication): the connection
  // holds the reply, and what follows it, this long.
  std::chrono::milliseconds reply_delay{0};
  // Starts the connection's one timer for a blocking command (api/resp/block.h): `fire`
  // runs on the connection's thread after `delay`, unless the connection closes first.
  // Null where nothing may block (inside an EXEC).
  std::function<void(std::chrono::milliseconds delay, Task fire)> block_timer{};
  // Set by the connection for a command that may wait (MayBlock): SLOWLOG logs it once it
  // is answered, as Redis logs a blocked command when it is unblocked. Block calls it then.
  std::function<void()> log_when_answered{};
  DeviceService& service() { return *server.service; }
  int protocol() const { return client.protocol; }
};

using Handler = void (*)(Call& call);

// INFO commandstats for one command row: calls run, their handlers' microseconds (a
// write's hand-off, not its commit), calls refused before running (arity, ACL, CROSSSLOT,
// ...), and calls that answered an error.
struct CommandStats {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> usec{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> failed{0};
};

struct CommandSpec {
  std::string_view name;  // lower case; "client|setname" for a subcommand
  int arity;              // >0 exactly that many arguments (with the name), <0 at least -arity
  uint32_t flags;
  int first_key, last_key, step;             // last_key -1: to the end
  std::vector<std::string_view> categories;  // ACL categories, without '@'
  Handler handler;                           // null for a container ("client")
  std::string_view summary;
  std::vector<CommandSpec> subcommands = {};
  // When > 0, args[numkeys_at] counts the keys that follow it (ZUNION, SINTERCARD, LMPOP:
  // Redis's "movablekeys"), besides any at first_key..last_key.
  int numkeys_at = 0;
  // Adds the indexes of keys that options name (SORT's STORE destination, what follows
  // XREAD's STREAMS), found by walking the arguments (Redis's getkeys procedures).
  void (*option_keys)(const std::vector<std::string>& args, std::vector<int>* out) = nullptr;
  // With kBlocking: whether these arguments may wait (XREAD waits only with BLOCK). Null:
  // always.
  bool (*blocks_if)(const std::vector<std::string>& args) = nullptr;
  // Shared by the copies of this row the table makes.
  std::shared_ptr<CommandStats> stats = std::make_shared<CommandStats>();
};

// Whether a command names keys (at fixed positions or after a count).
inline bool HasKeys(const CommandSpec& spec) {
  return spec.first_key > 0 || spec.numkeys_at > 0 || spec.option_keys != nullptr;
}

// Whether the command, with these arguments, may wait for another client's write.
inline bool MayBlock(const CommandSpec& spec, const std::vector<std::string>& args) {
  return (spec.flags & kBlocking) != 0 && (spec.blocks_if == nullptr || spec.blocks_if(args));
}

// The number of keys args[spec.numkeys_at] announces, or 0 when it is not a count that
// the arguments hold (the command itself then refuses it).
inline int CountedKeys(const CommandSpec& spec, const std::vector<std::string>& args) {
  const auto at = static_cast<size_t>(spec.numkeys_at);
  if (spec.numkeys_at <= 0 || at >= args.size()) return 0;
  int64_t n = 0;
  const std::string& text = args[at];
  if (text.empty() || text.size() > 10) return 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return 0;
    n = n * 10 + (ch - '0');
  }
  if (n > static_cast<int64_t>(args.size() - at - 1)) return 0;
  return static_cast<int>(n);
}

// Calls visit(i) for the argument index of each key of `args` (the command's name
// included), as spec's key positions say, until visit returns false.
template <typename Visit>
void ForEachKeyIndex(const CommandSpec& spec, const std::vector<std::string>& args, Visit visit) {
  const int argc = static_cast<int>(args.size());
  if (spec.first_key > 0) {
    const int last = spec.last_key < 0 ? argc + spec.last_key : std::min(spec.last_key, argc - 1);
    for (int i = spec.first_key; i <= last; i += std::max(1, spec.step)) {
      if (!visit(i)) return;
    }
  }
  const int counted = CountedKeys(spec, args);
  for (int i = 0; i < counted; ++i) {
    if (!visit(spec.numkeys_at + 1 + i)) return;
  }
  if (spec.option_keys != nullptr) {
    std::vector<int> found;
    spec.option_keys(args, &found);
    for (int i : found) {
      if (!visit(i)) return;
    }
  }
}

const std::vector<CommandSpec>& CommandTable();
const CommandSpec* FindCommand(std::string_view name);  // case-insensitive, top level
// The subcommand row `sub` of the container `spec` (case-insensitive), or null.
const CommandSpec* FindSubcommand(const CommandSpec& spec, std::string_view sub);
// The row a command runs as: its subcommand's for a container named with one, else its
// own (null for an unknown command).
const CommandSpec* ResolveCommand(const std::vector<std::string>& args);

// Runs a command as Redis's processCommand does, answering through `call`: unknown
// command or subcommand, arity, authentication and ACL, cluster checks (CROSSSLOT), then
// inside MULTI queueing, else the handler. `spec` is FindCommand(args[0]) when the
// caller has it already.
void Dispatch(Call& call);
void Dispatch(Call& call, const CommandSpec* spec);

// Authentication and ACL for one command: empty if `client` may run it, else the error
// (NOAUTH, NOPERM), which is also logged to ACL LOG. `spec` is the row the command runs
// as (its subcommand's, when it has one).
std::string AccessError(ClientState& client, ServerState& server, const CommandSpec& spec,
                        const std::vector<std::string>& args,
                        std::string_view context = "toplevel");

// Makes the caller's client the user `name` if `password` is right; false (and the failure
// counted, logged and recorded in ACL LOG) if not. Sets call.reply_delay as the failure
// budget says (acl::AuthThrottle): a failure's answer waits, and every answer to an
// address that spent its budget.
bool Authenticate(Call& call, std::string_view name, std::string_view password,
                  std::string_view object);

// Errors worded as Redis 7.0 words them.
std::string WrongArity(std::string_view command);  // command: "get" or "client|setname"
std::string UnknownCommand(const std::vector<std::string>& args);
std::string UnknownSubcommand(std::string_view container, std::string_view sub);
std::string StoreError(const Status& s);

// The cluster hash slot of a key (CRC16 of the key or its {hash tag}, mod 16384).
uint16_t KeySlot(std::string_view key);

using api::GlobMatch;  // KEYS, SCAN MATCH, CONFIG GET

}  // namespace devstate::resp
