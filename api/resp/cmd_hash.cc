// Hashes, as Redis 7.0 defines them: HSET HMSET HSETNX HGET HMGET HGETALL HDEL HEXISTS
// HLEN HKEYS HVALS HSTRLEN HINCRBY HINCRBYFLOAT HSCAN HRANDFIELD.
//
// A hash is a composite record (store/fields.h): a write copies the fields it was handed
// (O(1): the copy shares its nodes, and a change copies one path of O(log n) nodes),
// changes the copy and gives the pipeline a patch naming the fields it changed, so the
// journal (and each replica) receives only those fields, never the whole hash. Within one
// commit group, a write to a hash the group already changed reuses that write's copy
// (Mutation::Edit). A hash left with no field is deleted, as in
// Redis. Encoding: "listpack" while the hash is within hash-max-listpack-entries/value,
// then "hashtable" for good (kept in `meta`), which OBJECT ENCODING reports and HSCAN
// follows (a listpack hash is returned in one call).
#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/text.h"

namespace devstate::resp {
namespace {

// The hash a read sees: false (and the reply) when the key holds another type.
bool ReadHash(Call& call, RecordPtr* r) {
  *r = Live(call, call.args[1]);
  if (*r && (*r)->type() != kHashRecordType) {
    call.reply.Error(kWrongTypeError);
    return false;
  }
  return true;
}

// A hash as one write changes it: its fields (a copy, or the current record's own map when
// the group may reuse it: EditFn), the changes named for the journal.
class HashEdit {
 public:
  HashEdit(const RecordPtr& current, bool reusable, size_t max_entries, size_t max_value)
      : max_entries_(max_entries),
        max_value_(max_value),
        fields_(FieldsForEdit(current, reusable)) {
    if (current) {
      expire_at_ms_ = current->expire_at_ms();
      meta_ = current->meta();
    } else {
      meta_.assign(1, kHashOrderTag);  // a new hash is a listpack, in insertion order
    }
  }

  const FieldMap& fields() const { return *fields_; }

  // True when the field is new.
  bool Set(std::string_view name, std::string value) {
    if (name.size() > max_value_ || value.size() > max_value_) meta_ = kHashtableMeta;
    ops_.push_back({std::string(name), std::move(value), false});
    const bool added = fields_->Set(name, ops_.back().value);
    if (added) AppendHashOrder(&meta_, name);
    return added;
  }
  bool Erase(std::string_view name) {
    if (!fields_->Erase(name)) return false;
    ops_.push_back({std::string(name), {}, true});
    EraseHashOrder(&meta_, name);
    return true;
  }

  bool changed() const { return !ops_.empty(); }

  Change Finish() {
    if (ops_.empty()) return Change::None();
    if (fields_->empty()) return Change::Delete();
    if (fields_->size() > max_entries_) meta_ = kHashtableMeta;
    RecordPtr record = Record::Make({.type = kHashRecordType,
                                     .expire_at_ms = expire_at_ms_,
                                     .meta = meta_,
                                     .fields = std::move(fields_)});
    return Change::Patch(std::move(record), std::move(ops_));
  }

 private:
  const size_t max_entries_;
  const size_t max_value_;
  int64_t expire_at_ms_ = 0;
  std::string meta_;
  std::shared_ptr<FieldMap> fields_;
  std::vector<FieldOp> ops_;
};

// What an `apply` decided, for the reply.
struct Outcome {
  std::string error;
  int64_t integer = 0;
  std::string bulk;
};

// Runs `edit` on the key's hash inside the commit group; replies with the outcome.
template <typename Edit, typename Reply>
void EditHash(Call& call, Edit edit, Reply reply) {
  auto out = std::make_shared<Outcome>();
  const size_t entries = call.server.hash_max_listpack_entries.load();
  const size_t value = call.server.hash_max_listpack_value.load();
  Mutation m = Mutation::Edit(call.args[1], [edit = std::move(edit), out, entries, value](
                                                const RecordPtr& current, bool reusable) mutable {
    if (current && current->type() != kHashRecordType) {
      out->error = kWrongTypeError;
      return Change::None();
    }
    HashEdit h(current, reusable, entries, value);
    // An edit decides before it changes anything. Were one to fail after a change, the
    // change is still committed: a reused map, changed and then dropped, would differ from
    // the journal.
    if (!edit(h, *out) && !h.changed()) return Change::None();
    return h.Finish();
  });
  Commit(call, {std::move(m)}, [out, reply = std::move(reply)](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    reply(w, *out);
  });
}

void ReplyInteger(ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); }

void HsetPairs(Call& call, bool ok_reply) {
  if (call.args.size() % 2 != 0) return call.reply.Error(WrongArity(Lower(call.args[0])));
  EditHash(
      call,
      [args = TakeArgsAfterKey(call)](HashEdit& h, Outcome& out) mutable {
        for (size_t i = 0; i + 1 < args.size(); i += 2) {
          if (h.Set(args[i], std::move(args[i + 1]))) ++out.integer;
        }
        return true;
      },
      [ok_reply](ReplyWriter& w, const Outcome& out) {
        if (ok_reply) return w.Ok();
        w.Integer(out.integer);
      });
}

void CmdHset(Call& call) { HsetPairs(call, false); }
void CmdHmset(Call& call) { HsetPairs(call, true); }

void CmdHsetnx(Call& call) {
  EditHash(
      call,
      [name = std::move(call.args[2]), value = std::move(call.args[3])](HashEdit& h,
                                                                        Outcome& out) mutable {
        if (h.fields().Find(name)) return false;
        h.Set(name, std::move(value));
        out.integer = 1;
        return true;
      },
      ReplyInteger);
}

void CmdHdel(Call& call) {
  EditHash(
      call,
      [names = TakeArgsAfterKey(call)](HashEdit& h, Outcome& out) {
        for (const std::string& name : names) out.integer += h.Erase(name) ? 1 : 0;
        return true;
      },
      ReplyInteger);
}

void CmdHincrby(Call& call) {
  int64_t incr = 0;
  if (!ParseInt64(call.args[3], &incr)) return call.reply.Error(kNotIntegerError);
  EditHash(
      call,
      [name = std::move(call.args[2]), incr](HashEdit& h, Outcome& out) {
        int64_t value = 0;
        if (std::optional<std::string_view> old = h.fields().Find(name)) {
          if (!ParseInt64(*old, &value)) {
            out.error = "ERR hash value is not an integer";
            return false;
          }
        }
        if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
            (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
          out.error = "ERR increment or decrement would overflow";
          return false;
        }
        out.integer = value + incr;
        h.Set(name, std::to_string(out.integer));
        return true;
      },
      ReplyInteger);
}

void CmdHincrbyfloat(Call& call) {
  long double incr = 0;
  if (!ParseLongDouble(call.args[3], &incr))
    return call.reply.Error("ERR value is not a valid float");
  if (std::isnan(incr) || std::isinf(incr)) return call.reply.Error("ERR value is NaN or Infinity");
  EditHash(
      call,
      [name = std::move(call.args[2]), incr](HashEdit& h, Outcome& out) {
        long double value = 0;
        if (std::optional<std::string_view> old = h.fields().Find(name)) {
          if (!ParseLongDouble(*old, &value)) {
            out.error = "ERR hash value is not a float";
            return false;
          }
        }
        value += incr;
        if (std::isnan(value) || std::isinf(value)) {
          out.error = "ERR increment would produce NaN or Infinity";
          return false;
        }
        out.bulk = FormatLongDouble(value);
        h.Set(name, out.bulk);
        return true;
      },
      [](ReplyWriter& w, const Outcome& out) { w.Bulk(out.bulk); });
}

void CmdHget(Call& call) {
  RecordPtr r;
  if (!ReadHash(call, &r)) return;
  std::optional<std::string_view> v = r ? r->fields()->Find(call.args[2]) : std::nullopt;
  if (!v) return call.reply.Null();
  call.reply.Bulk(*v);
}

void CmdHmget(Call& call) {
  RecordPtr r;
  if (!ReadHash(call, &r)) return;
  call.reply.Array(call.args.size() - 2);
  for (size_t i = 2; i < call.args.size(); ++i) {
    std::optional<std::string_view> v = r ? r->fields()->Find(call.args[i]) : std::nullopt;
    if (v) {
      call.reply.Bulk(*v);
    } else {
      call.reply.Null();
    }
  }
}

void CmdHexists(Call& call) {
  RecordPtr r;
  if (!ReadHash(call, &r)) return;
  call.reply.Integer(r && r->fields()->Find(call.args[2]) ? 1 : 0);
}

void CmdHlen(Call& call) {
  RecordPtr r;
  if (!ReadHash(call, &r)) return;
  call.reply.Integer(r ? static_cast<int64_t>(r->fields()->size()) : 0);
}

void CmdHstrlen(Call& call) {
  RecordPtr r;
  if (!ReadHash(call, &r)) return;
  std::optional<std::string_view> v = r ? r->fields()->Find(call.args[2]) : std::nullopt;
  call.reply.Integer(v ? static_cast<int64_t>(v->size()) : 0);
}

// HGETALL HKEYS HVALS.
void ReplyAll(Call& call, bool names, bool values) {
  RecordPtr r;
  if (!ReadHash(call, &r)) return;
  const size_t n = r ? r->fields()->size() : 0;
  if (names && values) {
    call.reply.Map(n);
  } else {
    call.reply.Array(n);
  }
  if (!r) return;
  ForEachHashField(*r, [&](std::string_view name, std::string_view value) {
    if (names) call.reply.Bulk(name);
    if (values) call.reply.Bulk(value);
  });
}

void CmdHgetall(Call& call) { ReplyAll(call, true, true); }
void CmdHkeys(Call& call) { ReplyAll(call, true, false); }
void CmdHvals(Call& call) { ReplyAll(call, false, true); }

// HSCAN key cursor [MATCH pattern] [COUNT count]: a cursor is a position in the hash's
// order (FieldMap::Scan); a listpack-sized hash is returned whole with cursor 0, as Redis.
void CmdHscan(Call& call) {
  ScanArgs scan;
  if (!ParseScanArgs(call, 2, /*with_type=*/false, &scan)) return;
  RecordPtr r;
  if (!ReadHash(call, &r)) return;
  std::vector<std::pair<std::string_view, std::string_view>> found;  // into r's fields
  uint64_t next = 0;
  if (r) {
    auto take = [&](std::string_view name, std::string_view value) {
      if (!scan.match || GlobMatch(scan.pattern, name)) found.emplace_back(name, value);
    };
    if (IsListpackHash(*r, call.server)) {
      ForEachHashField(*r, take);
    } else {
      next = r->fields()->Scan(scan.cursor, scan.count, take);
    }
  }
  call.reply.Array(2);
  call.reply.Bulk(std::to_string(next));
  call.reply.Array(found.size() * 2);
  for (const auto& [name, value] : found) {
    call.reply.Bulk(name);
    call.reply.Bulk(value);
  }
}

// HRANDFIELD key [count [WITHVALUES]], with Redis 7.0's rules: a positive count returns
// distinct fields (at most the hash), a negative one |count| fields that may repeat.
void CmdHrandfield(Call& call) {
  RandomCount rc;
  if (!ParseRandomCount(call, "withvalues", &rc)) return;
  RecordPtr r;
  if (!ReadHash(call, &r)) return;
  if (!r) return rc.given ? call.reply.Array(0) : call.reply.Null();
  if (rc.count == 0) return call.reply.Array(0);
  std::vector<std::pair<std::string_view, std::string_view>> all;  // into r's fields
  all.reserve(r->fields()->size());
  ForEachHashField(*r, [&](std::string_view n, std::string_view v) { all.emplace_back(n, v); });
  std::vector<size_t> picked;
  if (!RandomPicks(call, all.size(), rc.count, &picked)) return;
  if (!rc.given) return call.reply.Bulk(all[picked[0]].first);
  const bool pairs = rc.with && call.protocol() == 3;
  call.reply.Array(rc.with && !pairs ? picked.size() * 2 : picked.size());
  for (size_t i : picked) {
    if (pairs) call.reply.Array(2);
    call.reply.Bulk(all[i].first);
    if (rc.with) call.reply.Bulk(all[i].second);
  }
}

}  // namespace

// Flags, key positions and categories follow Redis 7.0's own table.
void AddHashCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> read_fast = {"read", "hash", "fast"};
  const std::vector<std::string_view> read_slow = {"read", "hash", "slow"};
  const std::vector<std::string_view> write_fast = {"write", "hash", "fast"};
  const uint32_t w = kWrite | kDenyOom | kFast;
  const uint32_t r = kReadonly | kFast;
  t->insert(
      t->end(),
      {
          {"hset", -4, w, 1, 1, 1, write_fast, CmdHset, "Set the string value of a hash field"},
          {"hmset", -4, w, 1, 1, 1, write_fast, CmdHmset,
           "Set multiple hash fields to multiple values"},
          {"hsetnx", 4, w, 1, 1, 1, write_fast, CmdHsetnx,
           "Set the value of a hash field, only if the field does not exist"},
          {"hdel", -3, kWrite | kFast, 1, 1, 1, write_fast, CmdHdel,
           "Delete one or more hash fields"},
          {"hincrby", 4, w, 1, 1, 1, write_fast, CmdHincrby,
           "Increment the integer value of a hash field by the given number"},
          {"hincrbyfloat", 4, w, 1, 1, 1, write_fast, CmdHincrbyfloat,
           "Increment the float value of a hash field by the given amount"},
          {"hget", 3, r, 1, 1, 1, read_fast, CmdHget, "Get the value of a hash field"},
          {"hmget", -3, r, 1, 1, 1, read_fast, CmdHmget,
           "Get the values of all the given hash fields"},
          {"hexists", 3, r, 1, 1, 1, read_fast, CmdHexists, "Determine if a hash field exists"},
          {"hlen", 2, r, 1, 1, 1, read_fast, CmdHlen, "Get the number of fields in a hash"},
          {"hstrlen", 3, r, 1, 1, 1, read_fast, CmdHstrlen,
           "Get the length of the value of a hash field"},
          {"hgetall", 2, kReadonly, 1, 1, 1, read_slow, CmdHgetall,
           "Get all the fields and values in a hash"},
          {"hkeys", 2, kReadonly, 1, 1, 1, read_slow, CmdHkeys, "Get all the fields in a hash"},
          {"hvals", 2, kReadonly, 1, 1, 1, read_slow, CmdHvals, "Get all the values in a hash"},
          {"hscan", -3, kReadonly, 1, 1, 1, read_slow, CmdHscan,
           "Incrementally iterate hash fields and associated values"},
          {"hrandfield", -2, kReadonly, 1, 1, 1, read_slow, CmdHrandfield,
           "Get one or multiple random fields from a hash"},
      });
}

}  // namespace devstate::resp
