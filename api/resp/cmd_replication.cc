// Replication commands (DESIGN.md §5): PSYNC (a devstate replica's request to follow),
// REPLICAOF / SLAVEOF, FAILOVER, ROLE, WAIT, WAITAOF, and DEBUG DIGEST (what tests compare
// nodes by). Role changes run on the service's role thread; their replies are deferred, so
// no event loop waits for a replica link, a promotion or an MQTT session.
#include <fmt/format.h>
#include <openssl/sha.h>

#include <array>

#include "api/resp/commands.h"
#include "api/resp/replica_link.h"
#include "store/coding.h"

namespace devstate::resp {
namespace {

std::string ErrorLine(const Status& s) {
  std::string text = s.message();
  for (char& c : text) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  if (s.code() == Status::Code::kNotPrimary) return "-READONLY " + text + "\r\n";
  return "-ERR " + text + "\r\n";
}

bool ParseU64(std::string_view text, uint64_t* out) {
  int64_t v = 0;
  if (!ParseInt64(text, &v) || v < 0) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

// PSYNC devstate <node id> <epoch> <seq> <term> <announce>
void CmdPsync(Call& call) {
  const auto& a = call.args;
  if (call.client.in_multi || call.view != nullptr)
    return call.reply.Error("ERR Command not allowed inside a transaction");
  if (a.size() != 7 || a[1] != "devstate") {
    return call.reply.Error(
        "ERR devstate replicates only to devstate replicas (PSYNC devstate <node id> <epoch> "
        "<seq> <term> <announce>); Redis replicas cannot follow it");
  }
  replication::ReplicaHello hello;
  hello.node_id = a[2];
  hello.address = a[6];
  if (!ParseU64(a[3], &hello.epoch) || !ParseU64(a[4], &hello.seq) ||
      !ParseU64(a[5], &hello.term) || hello.node_id.empty() || hello.node_id.size() > 64) {
    return call.reply.Error("ERR PSYNC: malformed position");
  }
  std::string reply;
  std::shared_ptr<replication::Feed> feed;
  const Status s = call.service().AttachReplica(hello, &reply, &feed);
  if (!s.ok()) {
    if (s.code() != Status::Code::kNotPrimary) return call.reply.Error("ERR " + s.message());
    // A replica names its primary, so a replica of this node follows a failover there.
    const RoleView role = call.service().Role();
    if (!role.primary && role.primary_port != 0)
      return call.reply.Error(
          fmt::format("NOTPRIMARY {}:{}", role.primary_host, role.primary_port));
    return call.reply.Error("READONLY " + s.message());
  }
  call.reply.Simple(reply);
  call.take_over = [feed](std::unique_ptr<Transport> io, std::string received) {
    ReplicaLink::Start(std::move(io), feed, std::move(received));
  };
}

// REPLICAOF host port | NO ONE (and SLAVEOF): answered once the node plays its new part.
void CmdReplicaof(Call& call) {
  RoleChange change;
  if (EqualsNoCase(call.args[1], "no") && EqualsNoCase(call.args[2], "one")) {
    change.kind = RoleChange::Kind::kPromote;
  } else {
    int64_t port = 0;
    if (!ParseInt64(call.args[2], &port))
      return call.reply.Error("ERR value is not an integer or out of range");
    if (port <= 0 || port > 65535) return call.reply.Error("ERR Invalid master port");
    change.kind = RoleChange::Kind::kFollow;
    change.host = call.args[1];
    change.port = static_cast<uint16_t>(port);
  }
  Responder respond = call.defer();
  call.service().ChangeRole(std::move(change),
                            [respond, errors = &call.server.error_replies](const Status& s) {
                              if (s.ok()) return respond("+OK\r\n");
                              std::string line = ErrorLine(s);
                              errors->Count(std::string_view(line).substr(1, line.size() - 3));
                              respond(std::move(line));
                            });
}

// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms], parsed as Redis 7.0 parses it. The
// reply comes once the failover has started (writes paused); it proceeds on its own, and
// INFO's master_failover_state shows where it is.
void CmdFailover(Call& call) {
  const auto& a = call.args;
  RoleChange change;
  change.kind = RoleChange::Kind::kFailover;
  if (a.size() == 2 && EqualsNoCase(a[1], "abort")) {
    change.kind = RoleChange::Kind::kAbortFailover;
  } else {
    int64_t timeout = 0;
    bool to = false;
    for (size_t j = 1; j < a.size(); ++j) {
      if (EqualsNoCase(a[j], "timeout") && j + 1 < a.size() && timeout == 0) {
        if (!ParseInt64(a[j + 1], &timeout))
          return call.reply.Error("ERR value is not an integer or out of range");
        if (timeout <= 0) return call.reply.Error("ERR FAILOVER timeout must be greater than 0");
        ++j;
      } else if (EqualsNoCase(a[j], "to") && j + 2 < a.size() && !to) {
        int64_t port = 0;
        if (!ParseInt64(a[j + 2], &port))
          return call.reply.Error("ERR value is not an integer or out of range");
        if (port <= 0 || port > 65535)
          return call.reply.Error("ERR FAILOVER target HOST and PORT is not a replica.");
        change.host = a[j + 1];
        change.port = static_cast<uint16_t>(port);
        to = true;
        j += 2;
      } else if (EqualsNoCase(a[j], "force") && !change.force) {
        change.force = true;
      } else {
        return call.reply.Error("ERR syntax error");
      }
    }
    if (change.force && (timeout == 0 || !to)) {
      return call.reply.Error(
          "ERR FAILOVER with force option requires both a timeout and target HOST and IP.");
    }
    change.timeout = std::chrono::milliseconds(timeout);
  }
  Responder respond = call.defer();
  call.service().ChangeRole(std::move(change),
                            [respond, errors = &call.server.error_replies](const Status& s) {
                              if (s.ok()) return respond("+OK\r\n");
                              std::string line = ErrorLine(s);
                              errors->Count(std::string_view(line).substr(1, line.size() - 3));
                              respond(std::move(line));
                            });
}

// ROLE, as Redis answers it: a primary's position and replicas, or a replica's primary and
// link state.
void CmdRole(Call& call) {
  const RoleView v = call.service().Role();
  ReplyWriter& w = call.reply;
  if (v.primary) {
    w.Array(3);
    w.Bulk("master");
    w.Integer(static_cast<int64_t>(v.last_seq));
    w.Array(v.replicas.size());
    for (const auto& r : v.replicas) {
      std::string host;
      uint16_t resp = 0, http = 0;
      SplitAnnounce(r.address, &host, &resp, &http);
      w.Array(3);
      w.Bulk(host);
      w.Bulk(std::to_string(resp));
      w.Bulk(std::to_string(r.acked_seq));
    }
    return;
  }
  w.Array(5);
  w.Bulk("slave");
  w.Bulk(v.primary_host);
  w.Integer(v.primary_port);
  w.Bulk(v.link.copying ? "sync" : v.link.up ? "connected" : "connecting");
  w.Integer(static_cast<int64_t>(v.last_seq));
}

const char* kWaitOnReplica =
    "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if "
    "a replica is configured to be writable (which is not the default) writes to replicas are "
    "just local and are not propagated.";

// Counts of replicas holding this connection's last write, now (inside EXEC: never blocks).
size_t AckedNow(Call& call) {
  const uint64_t seq = call.client.last_write_seq.load(std::memory_order_relaxed);
  size_t n = 0;
  for (const auto& r : call.service().Role().replicas) n += r.acked_seq >= seq ? 1 : 0;
  return n;
}

bool ParseWaitArgs(Call& call, size_t at, int64_t* replicas, int64_t* timeout) {
  if (!ParseInt64(call.args[at], replicas) || !ParseInt64(call.args[at + 1], timeout)) {
    call.reply.Error("ERR value is not an integer or out of range");
    return false;
  }
  if (*timeout < 0) {
    call.reply.Error("ERR timeout is negative");
    return false;
  }
  return true;
}

// WAIT numreplicas timeout: the number of replicas holding every write this connection
// was answered for, once it reaches numreplicas or at the timeout (0: none).
void CmdWait(Call& call) {
  if (!call.service().IsPrimary()) return call.reply.Error(kWaitOnReplica);
  int64_t replicas = 0, timeout = 0;
  if (!ParseWaitArgs(call, 1, &replicas, &timeout)) return;
  if (call.view != nullptr) return call.reply.Integer(static_cast<int64_t>(AckedNow(call)));
  const uint64_t seq = call.client.last_write_seq.load(std::memory_order_relaxed);
  Responder respond = call.defer();
  call.service().WaitForReplicas(
      seq, static_cast<size_t>(std::max<int64_t>(0, replicas)), std::chrono::milliseconds(timeout),
      [respond](size_t count) { respond(fmt::format(":{}\r\n", count)); });
}

// WAITAOF numlocal numreplicas timeout (Redis 7.2): every acknowledged write is already
// fsync'd here, so the local count is 1; the replicas' count is WAIT's.
void CmdWaitaof(Call& call) {
  if (!call.service().IsPrimary()) {
    return call.reply.Error("ERR WAITAOF cannot be used with replica instances.");
  }
  int64_t local = 0;
  if (!ParseInt64(call.args[1], &local))
    return call.reply.Error("ERR value is not an integer or out of range");
  int64_t replicas = 0, timeout = 0;
  if (!ParseWaitArgs(call, 2, &replicas, &timeout)) return;
  if (call.view != nullptr) {
    call.reply.Array(2);
    call.reply.Integer(1);
    return call.reply.Integer(static_cast<int64_t>(AckedNow(call)));
  }
  const uint64_t seq = call.client.last_write_seq.load(std::memory_order_relaxed);
  Responder respond = call.defer();
  call.service().WaitForReplicas(
      seq, static_cast<size_t>(std::max<int64_t>(0, replicas)), std::chrono::milliseconds(timeout),
      [respond](size_t count) { respond(fmt::format("*2\r\n:1\r\n:{}\r\n", count)); });
}

// DEBUG DIGEST: 40 hex characters that are equal on two nodes exactly when they hold the
// same live keys with the same values and expiries (an XOR of per-key SHA-1s, so the order
// keys are visited in does not matter). All zeros for an empty keyspace, as in Redis.
void CmdDebugDigest(Call& call) {
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  const int64_t now = call.service().NowMs();
  uint64_t cursor = 0;
  std::string buffer;
  do {
    cursor = call.service().Scan(cursor, 4096, [&](const std::string& key, const RecordPtr& r) {
      if (r->ExpiredAt(now)) return;
      buffer.assign(key);
      buffer.push_back('\0');
      buffer += EncodeRecord(*r);
      if (r->fields()) {
        r->fields()->ForEach([&](std::string_view name, std::string_view value) {
          PutLengthPrefixed(&buffer, name);
          PutLengthPrefixed(&buffer, value);
        });
      }
      unsigned char one[SHA_DIGEST_LENGTH];
      SHA1(reinterpret_cast<const unsigned char*>(buffer.data()), buffer.size(), one);
      for (size_t i = 0; i < digest.size(); ++i) digest[i] ^= one[i];
    });
  } while (cursor != 0);
  std::string hex;
  for (unsigned char b : digest) fmt::format_to(std::back_inserter(hex), "{:02x}", b);
  call.reply.Simple(hex);
}

}  // namespace

void AddReplicationCommands(std::vector<CommandSpec>* t) {
  const uint32_t any = kStale | kLoading;
  const std::vector<std::string_view> admin = {"admin", "slow", "dangerous"};
  t->insert(t->end(),
            {
                {"psync", -3, kAdmin | kNoScript | kNoQueue | any, 0, 0, 0, admin, CmdPsync,
                 "An internal command used in replication"},
                {"replicaof", 3, kAdmin | kNoScript | kStale, 0, 0, 0, admin, CmdReplicaof,
                 "Make the server a replica of another instance, or promote it as master"},
                {"slaveof", 3, kAdmin | kNoScript | kStale, 0, 0, 0, admin, CmdReplicaof,
                 "Make the server a replica of another instance, or promote it as master"},
                {"failover", -1, kAdmin | kNoScript | kStale, 0, 0, 0, admin, CmdFailover,
                 "Start a coordinated failover between this server and one of its replicas"},
                {"role",
                 1,
                 kNoScript | kFast | any,
                 0,
                 0,
                 0,
                 {"admin", "fast", "dangerous"},
                 CmdRole,
                 "Return the role of the instance in the context of replication"},
                {"wait",
                 3,
                 kNoScript,
                 0,
                 0,
                 0,
                 {"slow", "connection"},
                 CmdWait,
                 "Wait for the synchronous replication of all the write commands sent in the "
                 "context of the current connection"},
                {"waitaof",
                 4,
                 kNoScript,
                 0,
                 0,
                 0,
                 {"slow", "connection"},
                 CmdWaitaof,
                 "Wait for all write commands sent by the client to be fsynced to the journal "
                 "locally and on replicas"},
                {"debug",
                 -2,
                 kAdmin | kNoScript | any,
                 0,
                 0,
                 0,
                 admin,
                 nullptr,
                 "A container for debugging commands",
                 {
                     {"debug|digest", 2, kAdmin | kNoScript | any, 0, 0, 0, admin, CmdDebugDigest,
                      "Digest of the whole keyspace, to compare nodes"},
                     {"debug|help", 2, any, 0, 0, 0, {"slow"}, ContainerHelp, "Show helpful text"},
                 }},
            });
}

}  // namespace devstate::resp
