// DUMP and RESTORE, in Redis's payload format (service/dump_payload.h): a string, list, set,
// hash, sorted set or stream DUMPed here RESTOREs into redis-server 7.0 and back. A device record
// dumps as the string it reads as (its state); a JSON document (RedisJSON's module type) is
// refused. RESTORE builds the record as the type's own writes would (encodings included) and puts
// it in one commit, with its expiry.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <memory>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/dump_payload.h"
#include "service/list_value.h"
#include "service/stream_value.h"
#include "service/text.h"

namespace devstate::resp {
namespace {

bool IsInteger(std::string_view s) {
  int64_t n = 0;
  return ParseInt64(s, &n);
}

void StreamToDump(const StreamView& s, DumpStream* out) {
  s.Range(StreamId{}, StreamId::Max(), false, [&](StreamId id, const StreamFields& fields) {
    out->entries.push_back({id, std::vector<std::string>(fields.begin(), fields.end())});
    return true;
  });
  out->counters = s.counters();
  s.Groups([&](const StreamGroup& g) {
    DumpStream::Group group{g.name, g.last_id, g.entries_read, {}, {}};
    s.PendingFrom(g.name, StreamId{}, [&](const StreamPending& p) {
      group.pending.push_back(p);
      return true;
    });
    s.Consumers(g.name, [&](std::string_view name, int64_t seen) {
      group.consumers.push_back({std::string(name), seen});
    });
    out->groups.push_back(std::move(group));
  });
}

// The stream RESTORE makes of `in`, as XADD, XGROUP and XREADGROUP would have left it.
RecordPtr StreamFromDump(const DumpStream& in, int64_t expire_at_ms) {
  StreamEdit s(nullptr, false);
  for (const DumpStream::Entry& e : in.entries) s.AddEntry(e.id, e.fields);
  s.counters() = in.counters;
  for (const DumpStream::Group& g : in.groups) {
    // A Redis 5-6.2 payload has no read counter: estimated from the entries, as Redis 7.0
    // migrates one (streamEstimateDistanceFromFirstEverEntry).
    s.PutGroup({g.name, g.last_id, g.entries_read ? *g.entries_read : s.EntriesReadAt(g.last_id)});
    for (const DumpStream::Consumer& c : g.consumers) s.PutConsumer(g.name, c.name, c.seen);
    for (const StreamPending& p : g.pending) s.PutPending(g.name, p);
  }
  return s.Finish().record->WithExpiry(expire_at_ms);
}

// The value of `r` as a DUMP carries it; false (and *error) for a type it cannot carry.
bool ToDump(const Record& r, const ServerState& server, DumpValue* out, std::string* error) {
  switch (r.type()) {
    case kStringRecordType:
    case kDeviceRecordType:
      out->kind = DumpValue::Kind::kString;
      out->string = r.value();
      return true;
    case kListRecordType: {
      out->kind = DumpValue::Kind::kList;
      const ListView list(r);
      for (size_t i = 0; i < list.size(); ++i) out->items.emplace_back(list.At(i));
      return true;
    }
    case kZsetRecordType:
      // As Redis saves it: a listpack in ascending order, a skiplist from the highest score
      // down.
      out->kind = DumpValue::Kind::kZset;
      out->compact = IsListpackZset(r, server);
      if (!r.fields()->empty()) {
        const bool down = !out->compact;
        r.fields()->WalkRanks(down ? r.fields()->size() - 1 : 0, down,
                              [&](std::string_view m, double score) {
                                out->items.emplace_back(m);
                                out->scores.push_back(score);
                                return true;
                              });
      }
      return true;
    case kSetRecordType:
    case kHashRecordType:
      out->kind = r.type() == kSetRecordType ? DumpValue::Kind::kSet : DumpValue::Kind::kHash;
      out->compact = r.type() == kSetRecordType ? IsIntset(r, server.set_max_intset_entries.load())
                                                : IsListpackHash(r, server);
      ForEachHashField(r, [&](std::string_view name, std::string_view value) {
        out->items.emplace_back(name);
        if (out->kind == DumpValue::Kind::kHash) out->items.emplace_back(value);
      });
      return true;
    case kStreamRecordType:
      out->kind = DumpValue::Kind::kStream;
      StreamToDump(StreamView(r), &out->stream);
      return true;
  }
  *error = "ERR DUMP of a JSON document (RedisJSON's module type) is not supported";
  return false;
}

// The record RESTORE makes of `v`, as the type's own writes would have made it.
RecordPtr FromDump(const DumpValue& v, int64_t expire_at_ms, const ServerState& server) {
  if (v.kind == DumpValue::Kind::kString) return StringRecord(v.string, expire_at_ms);
  if (v.kind == DumpValue::Kind::kStream) return StreamFromDump(v.stream, expire_at_ms);
  if (v.kind == DumpValue::Kind::kList) {
    ListEdit list(nullptr, false);
    for (const std::string& e : v.items) list.PushBack(e);
    return list.Finish().record->WithExpiry(expire_at_ms);
  }
  if (v.kind == DumpValue::Kind::kZset) {
    auto at = [&](size_t i) {
      return std::pair<std::string_view, double>(v.items[i], v.scores[i]);
    };
    return MakeZset(v.items.size(), at, server.zset_max_listpack_entries.load(),
                    server.zset_max_listpack_value.load(), expire_at_ms);
  }
  auto fields = std::make_shared<FieldMap>();
  std::string meta;
  if (v.kind == DumpValue::Kind::kSet) {
    bool integers = true;
    for (const std::string& m : v.items) {
      fields->Set(m, {});
      integers = integers && IsInteger(m);
    }
    if (!integers || fields->size() > server.set_max_intset_entries.load()) meta = kHashtableMeta;
  } else {
    const size_t max_value = server.hash_max_listpack_value.load();
    meta.assign(1, kHashOrderTag);  // the dump's order, as a listpack (HashEdit's rules)
    for (size_t i = 0; i + 1 < v.items.size(); i += 2) {
      if (fields->Set(v.items[i], v.items[i + 1])) AppendHashOrder(&meta, v.items[i]);
      if (v.items[i].size() > max_value || v.items[i + 1].size() > max_value) meta = kHashtableMeta;
    }
    if (fields->size() > server.hash_max_listpack_entries.load()) meta = kHashtableMeta;
  }
  return Record::Make({.type = v.kind == DumpValue::Kind::kSet ? kSetRecordType : kHashRecordType,
                       .expire_at_ms = expire_at_ms,
                       .meta = meta,
                       .fields = std::move(fields)});
}

void CmdDump(Call& call) {
  RecordPtr r = Live(call, call.args[1]);
  if (!r) return call.reply.Null();
  DumpValue value;
  std::string error;
  if (!ToDump(*r, call.server, &value, &error)) return call.reply.Error(error);
  call.reply.Bulk(EncodeDump(value));
}

// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency],
// checked in Redis 7.0's order. IDLETIME sets the key's access clock (OBJECT IDLETIME); FREQ
// is accepted and not kept (devstate keeps no LFU counter).
void CmdRestore(Call& call) {
  bool replace = false, absttl = false, freq = false;
  int64_t idle_seconds = -1;  // IDLETIME's, when given
  for (size_t j = 4; j < call.args.size(); ++j) {
    const bool more = j + 1 < call.args.size();
    int64_t v = 0;
    if (EqualsNoCase(call.args[j], "replace")) {
      replace = true;
    } else if (EqualsNoCase(call.args[j], "absttl")) {
      absttl = true;
    } else if (EqualsNoCase(call.args[j], "idletime") && more && !freq) {
      if (!ParseInt64(call.args[++j], &v)) return call.reply.Error(kNotIntegerError);
      if (v < 0) return call.reply.Error("ERR Invalid IDLETIME value, must be >= 0");
      idle_seconds = v;
    } else if (EqualsNoCase(call.args[j], "freq") && more && idle_seconds < 0) {
      if (!ParseInt64(call.args[++j], &v)) return call.reply.Error(kNotIntegerError);
      if (v < 0 || v > 255)
        return call.reply.Error("ERR Invalid FREQ value, must be >= 0 and <= 255");
      freq = true;
    } else {
      return call.reply.Error(kSyntaxError);
    }
  }
  int64_t ttl = 0;
  const bool ttl_ok = ParseInt64(call.args[2], &ttl);
  DumpValue value;
  const Status decoded = DecodeDump(call.args[3], &value);
  struct Outcome {
    std::string error;
  };
  auto out = std::make_shared<Outcome>();
  const ServerState* server = &call.server;
  Mutation m = Mutation::Txn([key = call.args[1], replace, absttl, ttl, ttl_ok, decoded,
                              value = std::move(value), out, server, idle_seconds](KeyView& view) {
    // Redis's order: the key must be free, then the TTL valid, then the payload sound.
    const bool exists = view.Get(key) != nullptr;
    if (!replace && exists) {
      out->error = "BUSYKEY Target key name already exists.";
    } else if (!ttl_ok) {
      out->error = kNotIntegerError;
    } else if (ttl < 0) {
      out->error = "ERR Invalid TTL value, must be >= 0";
    } else if (!decoded.ok()) {
      out->error = "ERR " + decoded.message();
    }
    if (!out->error.empty()) return;
    const int64_t now = view.NowMs();
    const int64_t expire_at = ttl == 0 ? 0 : absttl ? ttl : now + ttl;
    if (expire_at != 0 && expire_at <= now) {
      view.Delete(key);  // already expired: only the key it replaces goes
      return;
    }
    RecordPtr restored = FromDump(value, expire_at, *server);
    if (idle_seconds >= 0) restored->SetIdle(idle_seconds);
    view.Put(key, std::move(restored));
  });
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Ok();
  });
}

// A command as a client sends it: an array of bulk strings.
std::string Encoded(std::initializer_list<std::string_view> args) {
  std::string out = fmt::format("*{}\r\n", args.size());
  for (std::string_view a : args)
    fmt::format_to(std::back_inserter(out), "${}\r\n{}\r\n", a.size(), a);
  return out;
}

// MIGRATE's keys: args[3], or what follows KEYS (Redis's migrateGetKeys).
void MigrateKeys(const std::vector<std::string>& args, std::vector<int>* out) {
  for (size_t j = 6; j < args.size(); ++j) {
    if (EqualsNoCase(args[j], "keys")) {
      for (size_t k = j + 1; k < args.size(); ++k) out->push_back(static_cast<int>(k));
      return;
    }
  }
  if (args.size() > 3) out->push_back(3);
}

// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
// [AUTH2 username password] [KEYS key [key ...]], parsed and answered as Redis 7.0 does.
// The values are read here and DUMPed; the round trip to the target runs on the server's
// MigrateClient, off this thread; then the keys the target acknowledged are deleted here
// (unless COPY) in one commit, before the reply. Nothing after a MIGRATE on its connection
// runs until it is answered (kBarrier). A key another client wrote meanwhile keeps its new
// value: only the record that was sent is deleted. Inside MULTI it is refused: the EXEC's
// commit cannot wait on the network.
void CmdMigrate(Call& call) {
  const auto& a = call.args;
  bool copy = false, replace = false;
  std::string username, password;
  bool keys_option = false;
  for (size_t j = 6; j < a.size() && !keys_option; ++j) {
    const size_t more = a.size() - 1 - j;
    if (EqualsNoCase(a[j], "copy")) {
      copy = true;
    } else if (EqualsNoCase(a[j], "replace")) {
      replace = true;
    } else if (EqualsNoCase(a[j], "auth") && more >= 1) {
      password = a[++j];
    } else if (EqualsNoCase(a[j], "auth2") && more >= 2) {
      username = a[++j];
      password = a[++j];
    } else if (EqualsNoCase(a[j], "keys")) {
      if (!a[3].empty()) {
        return call.reply.Error(
            "ERR When using MIGRATE KEYS option, the key argument must be set to the empty "
            "string");
      }
      keys_option = true;
    } else {
      return call.reply.Error(kSyntaxError);
    }
  }
  int64_t timeout = 0, db = 0;
  if (!ParseInt64(a[5], &timeout) || !ParseInt64(a[4], &db))
    return call.reply.Error(kNotIntegerError);
  if (timeout <= 0) timeout = 1000;
  if (call.view != nullptr) return call.reply.Error("ERR MIGRATE is not supported inside MULTI");

  std::vector<int> indexes;
  MigrateKeys(a, &indexes);
  MigrateClient::Request request{a[1], a[2], std::chrono::milliseconds(timeout), {}, db, {}};
  if (!password.empty() || !username.empty()) {
    request.auth =
        username.empty() ? Encoded({"AUTH", password}) : Encoded({"AUTH", username, password});
  }
  std::vector<std::string> keys;
  std::vector<RecordPtr> sent;
  const int64_t now = Now(call);
  for (int i : indexes) {
    const std::string& key = a[static_cast<size_t>(i)];
    RecordPtr r = Live(call, key);
    if (!r) continue;
    DumpValue value;
    std::string error;
    if (!ToDump(*r, call.server, &value, &error)) return call.reply.Error(error);
    const int64_t ttl = r->expire_at_ms() == 0 ? 0 : std::max<int64_t>(1, r->expire_at_ms() - now);
    request.restores.push_back(
        replace
            ? Encoded({"RESTORE-ASKING", key, std::to_string(ttl), EncodeDump(value), "REPLACE"})
            : Encoded({"RESTORE-ASKING", key, std::to_string(ttl), EncodeDump(value)}));
    keys.push_back(key);
    sent.push_back(std::move(r));
  }
  // Nothing to send, which is not an error: the keys may have just expired.
  if (keys.empty()) return call.reply.Simple("NOKEY");
  LateReply late(call);
  call.server.Migrator().Send(
      std::move(request),
      [late, copy, keys = std::move(keys), sent = std::move(sent)](MigrateClient::Outcome outcome) {
        auto answer = [error = outcome.error](ReplyWriter& w) {
          if (error.empty()) return w.Ok();
          w.Error(error);
        };
        std::vector<Mutation> deletes;
        for (size_t i = 0; i < keys.size() && !copy; ++i) {
          if (!outcome.acked[i]) continue;
          deletes.push_back(Mutation::Apply(keys[i], [was = sent[i]](const RecordPtr& current) {
            return current == was ? Change::Delete() : Change::None();
          }));
        }
        if (deletes.empty()) return late.Answer(answer);
        late.Commit(std::move(deletes), std::move(answer), "del");
      });
}

}  // namespace

// Flags, key positions and categories follow Redis 7.0's own table.
void AddDumpCommands(std::vector<CommandSpec>* t) {
  t->insert(
      t->end(),
      {
          {"dump",
           2,
           kReadonly,
           1,
           1,
           1,
           {"keyspace", "read", "slow"},
           CmdDump,
           "Return a serialized version of the value stored at the specified key."},
          {"restore",
           -4,
           kWrite | kDenyOom,
           1,
           1,
           1,
           {"keyspace", "write", "slow", "dangerous"},
           CmdRestore,
           "Create a key using the provided serialized value, previously obtained using DUMP."},
          {"migrate",
           -6,
           kWrite | kBarrier,
           0,
           0,
           0,
           {"keyspace", "write", "slow", "dangerous"},
           CmdMigrate,
           "Atomically transfer a key from a Redis instance to another one.",
           {},
           0,
           MigrateKeys},
          // What MIGRATE sends a cluster node (redis-cli --cluster import, reshard): RESTORE.
          {"restore-asking",
           -4,
           kWrite | kDenyOom | kAsking,
           1,
           1,
           1,
           {"keyspace", "write", "slow", "dangerous"},
           CmdRestore,
           "An internal command for migrating keys in a cluster"},
      });
}

}  // namespace devstate::resp
