// The keyspace: DEL UNLINK EXISTS TYPE KEYS SCAN DBSIZE TTL PTTL EXPIRE PEXPIRE EXPIREAT
// PEXPIREAT EXPIRETIME PEXPIRETIME PERSIST FLUSHDB FLUSHALL. Reads come from memory; writes are
// mutations through the commit pipeline, answered once committed, so an expiry time or a flush
// survives a restart.
#include <fmt/format.h>

#include <memory>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/record_types.h"

namespace devstate::resp {
namespace {

void Ttl(Call& call, bool millis) {
  RecordPtr r = Peek(call, call.args[1]);
  if (!r) return call.reply.Integer(-2);
  if (r->expire_at_ms() == 0) return call.reply.Integer(-1);
  const int64_t left = std::max<int64_t>(0, r->expire_at_ms() - Now(call));
  call.reply.Integer(millis ? left : (left + 500) / 1000);
}

// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT as Redis 7.0's expireGenericCommand: options
// first (NX excludes the others, GT excludes LT, XX combines with GT or LT), then the
// number, then the key. A time already past deletes the key.
void Expire(Call& call, bool millis, bool absolute) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 3; i < call.args.size(); ++i) {
    const std::string opt = Lower(call.args[i]);
    if (opt == "nx") {
      nx = true;
    } else if (opt == "xx") {
      xx = true;
    } else if (opt == "gt") {
      gt = true;
    } else if (opt == "lt") {
      lt = true;
    } else {
      return call.reply.Error(fmt::format("ERR Unsupported option {}", call.args[i]));
    }
  }
  if (nx && (xx || gt || lt)) {
    return call.reply.Error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) {
    return call.reply.Error("ERR GT and LT options at the same time are not compatible");
  }
  int64_t when = 0;
  if (!ParseInt64(call.args[2], &when)) return call.reply.Error(kNotIntegerError);
  const std::string invalid =
      fmt::format("ERR invalid expire time in '{}' command", Lower(call.args[0]));
  if (!millis) {
    if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) return call.reply.Error(invalid);
    when *= 1000;
  }
  const int64_t now = Now(call);
  const int64_t base = absolute ? 0 : now;
  if (when > INT64_MAX - base) return call.reply.Error(invalid);
  const int64_t at = when + base;
  auto changed = std::make_shared<bool>(false);
  Mutation m = Mutation::Apply(call.args[1], [=](const RecordPtr& current) {
    if (!current) return Change::None();
    const int64_t ttl = current->expire_at_ms();  // 0: none (an infinite TTL)
    if ((nx && ttl != 0) || (xx && ttl == 0) || (gt && (ttl == 0 || at <= ttl)) ||
        (lt && ttl != 0 && at >= ttl)) {
      return Change::None();
    }
    *changed = true;
    if (at <= now) return Change::Delete();  // a time in the past deletes the key
    return Change::Put(current->WithExpiry(at));
  });
  Commit(call, {std::move(m)}, [changed](ReplyWriter& w) { w.Integer(*changed ? 1 : 0); });
}

// One txn over the argument vector, moved as a whole (see CmdMset).
void CmdDel(Call& call) {
  auto removed = std::make_shared<int64_t>(0);
  const size_t keys = call.args.size() - 1;
  Mutation m = Mutation::Txn(
      [args = std::move(call.args), removed](KeyView& view) {
        for (size_t i = 1; i < args.size(); ++i) {
          if (!view.Get(args[i])) continue;
          view.Delete(args[i]);
          ++*removed;
        }
      },
      keys);
  Commit(call, {std::move(m)}, [removed](ReplyWriter& w) { w.Integer(*removed); });
}

void CmdExists(Call& call) {
  int64_t n = 0;
  for (size_t i = 1; i < call.args.size(); ++i) n += Peek(call, call.args[i]) ? 1 : 0;
  call.reply.Integer(n);
}

void CmdType(Call& call) {
  RecordPtr r = Peek(call, call.args[1]);
  call.reply.Simple(r ? RedisTypeName(r->type()) : "none");
}

void CmdKeys(Call& call) {
  const std::string& pattern = call.args[1];
  const int64_t now = Now(call);
  std::vector<std::string> keys;
  uint64_t cursor = 0;
  do {
    cursor = call.service().Scan(cursor, 1024, [&](const std::string& key, const RecordPtr& r) {
      if (!r->ExpiredAt(now) && GlobMatch(pattern, key)) keys.push_back(key);
    });
  } while (cursor != 0);
  call.reply.Array(keys.size());
  for (const std::string& k : keys) call.reply.Bulk(k);
}

void CmdScan(Call& call) {
  ScanArgs scan;
  if (!ParseScanArgs(call, 1, /*with_type=*/true, &scan)) return;
  const int64_t now = Now(call);
  std::vector<std::string> keys;
  const uint64_t next =
      call.service().Scan(scan.cursor, scan.count, [&](const std::string& key, const RecordPtr& r) {
        if (r->ExpiredAt(now)) return;
        if (scan.match && !GlobMatch(scan.pattern, key)) return;
        if (scan.typed && !EqualsNoCase(scan.type, RedisTypeName(r->type()))) return;
        keys.push_back(key);
      });
  call.reply.Array(2);
  call.reply.Bulk(std::to_string(next));
  call.reply.Array(keys.size());
  for (const std::string& k : keys) call.reply.Bulk(k);
}

void CmdDbsize(Call& call) { call.reply.Integer(static_cast<int64_t>(call.service().KeyCount())); }
void CmdTtl(Call& call) { Ttl(call, false); }
void CmdPttl(Call& call) { Ttl(call, true); }
void CmdExpire(Call& call) { Expire(call, false, false); }
void CmdPexpire(Call& call) { Expire(call, true, false); }
void CmdExpireat(Call& call) { Expire(call, false, true); }
void CmdPexpireat(Call& call) { Expire(call, true, true); }

// EXPIRETIME and PEXPIRETIME: the absolute expiry time (-1 none, -2 no key).
void ExpireTime(Call& call, bool millis) {
  RecordPtr r = Peek(call, call.args[1]);
  if (!r) return call.reply.Integer(-2);
  if (r->expire_at_ms() == 0) return call.reply.Integer(-1);
  call.reply.Integer(millis ? r->expire_at_ms() : (r->expire_at_ms() + 500) / 1000);
}
void CmdExpiretime(Call& call) { ExpireTime(call, false); }
void CmdPexpiretime(Call& call) { ExpireTime(call, true); }

void CmdPersist(Call& call) {
  auto changed = std::make_shared<bool>(false);
  Mutation m = Mutation::Apply(call.args[1], [changed](const RecordPtr& current) {
    if (!current || current->expire_at_ms() == 0) return Change::None();
    *changed = true;
    return Change::Put(current->WithExpiry(0));
  });
  Commit(call, {std::move(m)}, [changed](ReplyWriter& w) { w.Integer(*changed ? 1 : 0); });
}

// FLUSHDB and FLUSHALL [ASYNC|SYNC]: one range delete in the journal, through the commit
// pipeline like any write, so nothing comes back after a restart and replicas drop the
// same keys. There is one database, so both do the same.
void CmdFlush(Call& call) {
  if (call.args.size() > 2) return call.reply.Error(kSyntaxError);
  if (call.args.size() == 2 && !EqualsNoCase(call.args[1], "async") &&
      !EqualsNoCase(call.args[1], "sync")) {
    return call.reply.Error(kSyntaxError);
  }
  Commit(call, {Mutation::Txn([](KeyView& view) { view.Clear(); })},
         [](ReplyWriter& w) { w.Ok(); });
}

}  // namespace

void AddKeyCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> read = {"keyspace", "read", "fast"};
  const std::vector<std::string_view> write = {"keyspace", "write", "fast"};
  const std::vector<std::string_view> flush = {"keyspace", "write", "slow", "dangerous"};
  t->insert(
      t->end(),
      {
          {"del", -2, kWrite, 1, -1, 1, {"keyspace", "write", "slow"}, CmdDel, "Delete a key"},
          {"unlink", -2, kWrite | kFast, 1, -1, 1, write, CmdDel, "Delete a key"},
          {"exists", -2, kReadonly | kFast, 1, -1, 1, read, CmdExists, "Determine if a key exists"},
          {"type", 2, kReadonly | kFast, 1, 1, 1, read, CmdType,
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
          {"dbsize", 1, kReadonly | kFast, 0, 0, 0, read, CmdDbsize,
           "Return the number of keys in the selected database"},
          {"ttl", 2, kReadonly | kFast, 1, 1, 1, read, CmdTtl,
           "Get the time to live for a key in seconds"},
          {"pttl", 2, kReadonly | kFast, 1, 1, 1, read, CmdPttl,
           "Get the time to live for a key in milliseconds"},
          {"expire", -3, kWrite | kFast, 1, 1, 1, write, CmdExpire,
           "Set a key's time to live in seconds (NX XX GT LT)"},
          {"pexpire", -3, kWrite | kFast, 1, 1, 1, write, CmdPexpire,
           "Set a key's time to live in milliseconds (NX XX GT LT)"},
          {"expireat", -3, kWrite | kFast, 1, 1, 1, write, CmdExpireat,
           "Set the expiration for a key as a UNIX timestamp (NX XX GT LT)"},
          {"pexpireat", -3, kWrite | kFast, 1, 1, 1, write, CmdPexpireat,
           "Set the expiration for a key as a UNIX timestamp in milliseconds (NX XX GT LT)"},
          {"expiretime", 2, kReadonly | kFast, 1, 1, 1, read, CmdExpiretime,
           "Get the expiration Unix timestamp for a key"},
          {"pexpiretime", 2, kReadonly | kFast, 1, 1, 1, read, CmdPexpiretime,
           "Get the expiration Unix timestamp for a key in milliseconds"},
          {"persist", 2, kWrite | kFast, 1, 1, 1, write, CmdPersist,
           "Remove the expiration from a key"},
          {"flushdb", -1, kWrite, 0, 0, 0, flush, CmdFlush,
           "Remove all keys from the current database"},
          {"flushall", -1, kWrite, 0, 0, 0, flush, CmdFlush, "Remove all keys from all databases"},
      });
}

}  // namespace devstate::resp
