// Whole keys: RENAME RENAMENX COPY TOUCH RANDOMKEY OBJECT, as Redis 7.0 answers them. A
// rename or copy is one txn in the commit pipeline: both keys change in one group, and no
// other write interleaves. The record moves as it is, with its type and expiry time (a
// device record stays a device record under its new name).
#include <fmt/format.h>

#include <memory>
#include <random>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/text.h"

namespace devstate::resp {
namespace {

void Rename(Call& call, bool nx) {
  struct Outcome {
    std::string error;
    bool renamed = false;
  };
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Txn(
      [from = call.args[1], to = call.args[2], nx, out](KeyView& view) {
        RecordPtr r = view.Get(from);
        if (!r) {
          out->error = "ERR no such key";
          return;
        }
        if (from == to) {
          out->renamed = !nx;
          return;
        }
        if (view.Get(to)) {
          if (nx) return;
          view.Delete(to);
        }
        view.Put(to, r);
        view.Delete(from);
        out->renamed = true;
      },
      2);
  Commit(call, {std::move(m)}, [out, nx](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    if (nx) return w.Integer(out->renamed ? 1 : 0);
    w.Ok();
  });
}

void CmdRename(Call& call) { Rename(call, false); }
void CmdRenamenx(Call& call) { Rename(call, true); }

// COPY source destination [DB destination-db] [REPLACE]. devstate has one database, as a
// Redis Cluster node does.
void CmdCopy(Call& call) {
  bool replace = false;
  int64_t db = 0;
  for (size_t j = 3; j < call.args.size(); ++j) {
    if (EqualsNoCase(call.args[j], "replace")) {
      replace = true;
    } else if (EqualsNoCase(call.args[j], "db") && j + 1 < call.args.size()) {
      if (!ParseInt64(call.args[j + 1], &db) || db < INT32_MIN || db > INT32_MAX)
        return call.reply.Error(kNotIntegerError);
      if (db < 0 || db >= 16) return call.reply.Error("ERR DB index is out of range");
      ++j;
    } else {
      return call.reply.Error(kSyntaxError);
    }
  }
  if (db != 0) {
    return call.reply.Error("ERR Copying to another database is not allowed in cluster mode");
  }
  if (call.args[1] == call.args[2]) {
    return call.reply.Error("ERR source and destination objects are the same");
  }
  auto copied = std::make_shared<bool>(false);
  Mutation m = Mutation::Txn(
      [from = call.args[1], to = call.args[2], replace, copied](KeyView& view) {
        RecordPtr r = view.Get(from);
        if (!r || (!replace && view.Get(to))) return;
        view.Put(to, r);  // records are immutable: both keys may share it
        *copied = true;
      },
      2);
  Commit(call, {std::move(m)}, [copied](ReplyWriter& w) { w.Integer(*copied ? 1 : 0); });
}

void CmdTouch(Call& call) {
  int64_t n = 0;
  for (size_t i = 1; i < call.args.size(); ++i) n += Live(call, call.args[i]) ? 1 : 0;
  call.reply.Integer(n);
}

// A key from a random place in the keyspace (its hash order from a random cursor), as
// Redis's dbRandomKey picks a random bucket; null when there are none.
void CmdRandomkey(Call& call) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const int64_t now = Now(call);
  std::string found;
  auto take = [&](const std::string& key, const RecordPtr& r) {
    if (found.empty() && !r->ExpiredAt(now)) found = key;
  };
  uint64_t cursor = call.service().Scan(rng(), 16, take);
  // From the start if the random place was at the end, until one live key is found.
  for (bool wrapped = false; found.empty();) {
    if (cursor == 0) {
      if (wrapped) break;
      wrapped = true;
    }
    cursor = call.service().Scan(cursor, 16, take);
  }
  if (found.empty()) return call.reply.Null();
  call.reply.Bulk(found);
}

// OBJECT ENCODING: what Redis would use for the value: "raw" for a string edited in place
// (APPEND, SETRANGE) and for a JSON document, else "int" for a value that reads as an integer (20
// characters at most), "embstr" up to 44 bytes, else "raw"; a hash is "listpack" or "hashtable",
// a list "quicklist", a set "intset" or "hashtable", a sorted set "listpack" or "skiplist",
// a stream "stream".
void CmdObjectEncoding(Call& call) {
  RecordPtr r = Peek(call, call.args[2]);
  if (!r) return call.reply.Null();
  if (r->type() == kHashRecordType) {
    return call.reply.Bulk(IsListpackHash(*r, call.server) ? "listpack" : "hashtable");
  }
  if (r->type() == kStringRecordType && r->meta() == kRawStringMeta) return call.reply.Bulk("raw");
  if (r->type() == kJsonRecordType) return call.reply.Bulk("raw");  // as Redis for a module type
  if (r->type() == kListRecordType) return call.reply.Bulk("quicklist");  // Redis 7.0's only one
  if (r->type() == kSetRecordType)
    return call.reply.Bulk(IsIntset(*r, call.server.set_max_intset_entries.load()) ? "intset"
                                                                                   : "hashtable");
  if (r->type() == kZsetRecordType)
    return call.reply.Bulk(IsListpackZset(*r, call.server) ? "listpack" : "skiplist");
  if (r->type() == kStreamRecordType) return call.reply.Bulk("stream");
  int64_t n = 0;
  if (r->value().size() <= 20 && ParseInt64(r->value(), &n)) return call.reply.Bulk("int");
  call.reply.Bulk(r->value().size() <= 44 ? "embstr" : "raw");
}

// MEMORY USAGE key [SAMPLES n]: the bytes the key takes in memory (RecordMemory), every
// field counted (SAMPLES is accepted and not needed).
void CmdMemoryUsage(Call& call) {
  for (size_t i = 3; i < call.args.size(); i += 2) {
    int64_t samples = 0;
    if (Lower(call.args[i]) != "samples" || i + 1 >= call.args.size())
      return call.reply.Error(kSyntaxError);
    if (!ParseInt64(call.args[i + 1], &samples) || samples < 0)
      return call.reply.Error(kNotIntegerError);
  }
  RecordPtr r = Peek(call, call.args[2]);
  if (!r) return call.reply.Null();
  call.reply.Integer(static_cast<int64_t>(RecordMemory(call.args[2], *r)));
}

void CmdObjectFreq(Call& call) {
  if (!Peek(call, call.args[2])) return call.reply.Null();
  call.reply.Error(
      "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
      "that when switching between policies at runtime LRU and LFU data will take some time "
      "to adjust.");
}

// The seconds since a client last read or wrote the key (Record::IdleSeconds).
void CmdObjectIdletime(Call& call) {
  RecordPtr r = Peek(call, call.args[2]);
  if (!r) return call.reply.Null();
  call.reply.Integer(r->IdleSeconds());
}

// Redis shares the integers 0-9999 between keys (a refcount of INT_MAX); every other value
// has one owner.
void CmdObjectRefcount(Call& call) {
  RecordPtr r = Peek(call, call.args[2]);
  if (!r) return call.reply.Null();
  int64_t n = 0;
  const bool shared = r->value().size() <= 20 && ParseInt64(r->value(), &n) && n >= 0 && n < 10000;
  call.reply.Integer(shared ? 2147483647 : 1);
}

}  // namespace

void AddKeyspaceCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> slow_write = {"keyspace", "write", "slow"};
  const std::vector<std::string_view> fast_write = {"keyspace", "write", "fast"};
  const std::vector<std::string_view> slow_read = {"keyspace", "read", "slow"};
  const std::vector<std::string_view> fast_read = {"keyspace", "read", "fast"};
  t->insert(t->end(),
            {
                {"rename", 3, kWrite, 1, 2, 1, slow_write, CmdRename, "Rename a key"},
                {"renamenx", 3, kWrite | kFast, 1, 2, 1, fast_write, CmdRenamenx,
                 "Rename a key, only if the new key does not exist"},
                {"copy", -3, kWrite | kDenyOom, 1, 2, 1, slow_write, CmdCopy, "Copy a key"},
                {"touch", -2, kReadonly | kFast, 1, -1, 1, fast_read, CmdTouch,
                 "Alters the last access time of a key(s). Returns the number of existing keys "
                 "specified."},
                {"randomkey", 1, kReadonly, 0, 0, 0, slow_read, CmdRandomkey,
                 "Return a random key from the keyspace"},
                {"object",
                 -2,
                 0,
                 0,
                 0,
                 0,
                 {"slow"},
                 nullptr,
                 "A container for object introspection commands",
                 {
                     {"object|encoding", 3, kReadonly, 2, 2, 1, slow_read, CmdObjectEncoding,
                      "Inspect the internal encoding of a Redis object"},
                     {"object|freq", 3, kReadonly, 2, 2, 1, slow_read, CmdObjectFreq,
                      "Get the logarithmic access frequency counter of a Redis object"},
                     {"object|idletime", 3, kReadonly, 2, 2, 1, slow_read, CmdObjectIdletime,
                      "Get the time since a Redis object was last accessed"},
                     {"object|refcount", 3, kReadonly, 2, 2, 1, slow_read, CmdObjectRefcount,
                      "Get the number of references to the value of the key"},
                     {"object|help",
                      2,
                      0,
                      0,
                      0,
                      0,
                      {"slow"},
                      ContainerHelp,
                      "Show helpful text about the different subcommands"},
                 }},
                {"memory",
                 -2,
                 0,
                 0,
                 0,
                 0,
                 {"slow"},
                 nullptr,
                 "A container for memory diagnostics commands",
                 {
                     {"memory|usage", -3, kReadonly, 2, 2, 1, slow_read, CmdMemoryUsage,
                      "Estimate the memory usage of a key"},
                     {"memory|help",
                      2,
                      0,
                      0,
                      0,
                      0,
                      {"slow"},
                      ContainerHelp,
                      "Show helpful text about the different subcommands"},
                 }},
            });
}

}  // namespace devstate::resp
