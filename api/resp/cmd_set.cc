// Sets, as Redis 7.0 defines them: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS
// SRANDMEMBER SPOP SMOVE SINTER SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE
// SSCAN.
//
// A set is a composite record (store/fields.h) whose fields are its members, with empty
// values: SADD of one member journals that member, never the set; within one commit group
// later writes reuse the group's copy (Mutation::Edit), as a hash's do. Encoding: "intset"
// while every member is an integer and there are at most set-max-intset-entries
// (resp.set_max_intset_entries), then "hashtable" for good (kept in `meta`). An intset's members
// are answered in numeric order, as Redis's sorted intset answers them; a hashtable's in
// the map's own order. A set left empty is deleted, as in Redis.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/text.h"

namespace devstate::resp {
namespace {

bool IsInteger(std::string_view member) {
  int64_t n = 0;
  return ParseInt64(member, &n);
}

// Puts members in numeric order when they would make an intset, as Redis answers one.
template <typename String>
void IntsetOrder(std::vector<String>* members, size_t max_intset) {
  if (members->size() > max_intset ||
      !std::all_of(members->begin(), members->end(), [](const String& m) { return IsInteger(m); }))
    return;
  std::sort(members->begin(), members->end(), [](const String& a, const String& b) {
    int64_t x = 0, y = 0;
    ParseInt64(a, &x);
    ParseInt64(b, &y);
    return x < y;
  });
}

// The set a read sees: false (and the reply) when the key holds another type.
bool ReadSet(Call& call, const std::string& key, RecordPtr* r) {
  *r = Live(call, key);
  if (*r && (*r)->type() != kSetRecordType) {
    call.reply.Error(kWrongTypeError);
    return false;
  }
  return true;
}

// A set as one write changes it: a copy of its members (or the group's own: EditFn), the
// members changed, named for the journal.
class SetEdit {
 public:
  SetEdit(const RecordPtr& current, bool reusable, size_t max_intset)
      : fields_(FieldsForEdit(current, reusable)), max_intset_(max_intset) {
    if (current) {
      expire_at_ms_ = current->expire_at_ms();
      meta_ = current->meta();
    }
  }

  const FieldMap& members() const { return *fields_; }
  size_t max_intset() const { return max_intset_; }

  // True when the member is new.
  bool Add(std::string_view member) {
    if (!fields_->Set(member, {})) return false;
    if (!IsInteger(member)) meta_ = kHashtableMeta;
    ops_.push_back({std::string(member), {}, false});
    return true;
  }
  bool Remove(std::string_view member) {
    if (!fields_->Erase(member)) return false;
    ops_.push_back({std::string(member), {}, true});
    return true;
  }

  bool changed() const { return !ops_.empty(); }

  Change Finish() {
    if (ops_.empty()) return Change::None();
    if (fields_->empty()) return Change::Delete();
    if (fields_->size() > max_intset_) meta_ = kHashtableMeta;
    RecordPtr record = Record::Make({.type = kSetRecordType,
                                     .expire_at_ms = expire_at_ms_,
                                     .meta = meta_,
                                     .fields = std::move(fields_)});
    return Change::Patch(std::move(record), std::move(ops_));
  }

 private:
  int64_t expire_at_ms_ = 0;
  std::string meta_;
  std::shared_ptr<FieldMap> fields_;
  size_t max_intset_;
  std::vector<FieldOp> ops_;
};

// A new set record holding `members` (SINTERSTORE and kin), or null when there are none.
RecordPtr MakeSet(const std::vector<std::string>& members, size_t max_intset) {
  if (members.empty()) return nullptr;
  auto fields = std::make_shared<FieldMap>();
  bool integers = true;
  for (const std::string& m : members) {
    fields->Set(m, {});
    integers = integers && IsInteger(m);
  }
  const bool intset = integers && fields->size() <= max_intset;
  return Record::Make({.type = kSetRecordType,
                       .meta = intset ? std::string_view() : kHashtableMeta,
                       .fields = std::move(fields)});
}

struct Outcome {
  std::string error;
  int64_t integer = 0;
  std::vector<std::string> members;
};

// Runs `edit` on the key's set inside the commit group; replies with the outcome.
template <typename Edit, typename Reply>
void EditSet(Call& call, Edit edit, Reply reply) {
  auto out = std::make_shared<Outcome>();
  const size_t max_intset = call.server.set_max_intset_entries.load();
  Mutation m = Mutation::Edit(call.args[1], [edit = std::move(edit), out, max_intset](
                                                const RecordPtr& current, bool reusable) mutable {
    if (current && current->type() != kSetRecordType) {
      out->error = kWrongTypeError;
      return Change::None();
    }
    SetEdit set(current, reusable, max_intset);
    edit(set, *out);
    return set.Finish();
  });
  Commit(call, {std::move(m)}, [out, reply = std::move(reply)](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    reply(w, *out);
  });
}

void ReplyInteger(ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); }

void CmdSadd(Call& call) {
  EditSet(
      call,
      [members = TakeArgsAfterKey(call)](SetEdit& set, Outcome& out) {
        for (const std::string& m : members) out.integer += set.Add(m) ? 1 : 0;
      },
      ReplyInteger);
}

void CmdSrem(Call& call) {
  EditSet(
      call,
      [members = TakeArgsAfterKey(call)](SetEdit& set, Outcome& out) {
        for (const std::string& m : members) out.integer += set.Remove(m) ? 1 : 0;
      },
      ReplyInteger);
}

// SPOP key [count]: one random member as a bulk string, or with a count a set of up to
// count members.
void CmdSpop(Call& call) {
  if (call.args.size() > 3) return call.reply.Error(kSyntaxError);
  const bool with_count = call.args.size() == 3;
  int64_t count = 1;
  if (with_count && (!ParseInt64(call.args[2], &count) || count < 0))
    return call.reply.Error("ERR value is out of range, must be positive");
  EditSet(
      call,
      [count](SetEdit& set, Outcome& out) {
        thread_local std::mt19937_64 rng{std::random_device{}()};
        std::vector<std::string_view> all;
        set.members().ForEach([&](std::string_view m, std::string_view) { all.push_back(m); });
        const size_t n = std::min(all.size(), static_cast<size_t>(count));
        for (size_t i = 0; i < n; ++i) {
          std::uniform_int_distribution<size_t> pick(i, all.size() - 1);
          std::swap(all[i], all[pick(rng)]);
          out.members.emplace_back(all[i]);
        }
        // The whole set is answered in its own order, as Redis (its union path) does.
        if (n == all.size()) IntsetOrder(&out.members, set.max_intset());
        for (const std::string& m : out.members) set.Remove(m);
      },
      [with_count](ReplyWriter& w, const Outcome& out) {
        if (!with_count) return out.members.empty() ? w.Null() : w.Bulk(out.members.front());
        w.Set(out.members.size());
        for (const std::string& m : out.members) w.Bulk(m);
      });
}

void CmdScard(Call& call) {
  RecordPtr r;
  if (!ReadSet(call, call.args[1], &r)) return;
  call.reply.Integer(r ? static_cast<int64_t>(r->fields()->size()) : 0);
}

void CmdSismember(Call& call) {
  RecordPtr r;
  if (!ReadSet(call, call.args[1], &r)) return;
  call.reply.Integer(r && r->fields()->Find(call.args[2]) ? 1 : 0);
}

void CmdSmismember(Call& call) {
  RecordPtr r;
  if (!ReadSet(call, call.args[1], &r)) return;
  call.reply.Array(call.args.size() - 2);
  for (size_t i = 2; i < call.args.size(); ++i)
    call.reply.Integer(r && r->fields()->Find(call.args[i]) ? 1 : 0);
}

// SRANDMEMBER key [count], with HRANDFIELD's rules for the count.
void CmdSrandmember(Call& call) {
  RandomCount rc;
  if (!ParseRandomCount(call, "", &rc)) return;
  RecordPtr r;
  if (!ReadSet(call, call.args[1], &r)) return;
  if (!r) return rc.given ? call.reply.Array(0) : call.reply.Null();
  if (rc.count == 0) return call.reply.Array(0);
  const std::vector<std::string_view> all =
      SetMembers(*r, call.server.set_max_intset_entries.load());
  std::vector<size_t> picked;
  if (!RandomPicks(call, all.size(), rc.count, &picked)) return;
  if (!rc.given) return call.reply.Bulk(all[picked[0]]);
  call.reply.Array(picked.size());
  for (size_t i : picked) call.reply.Bulk(all[i]);
}

// SSCAN key cursor [MATCH pattern] [COUNT count]: as HSCAN; an intset is returned whole.
void CmdSscan(Call& call) {
  ScanArgs scan;
  if (!ParseScanArgs(call, 2, /*with_type=*/false, &scan)) return;
  RecordPtr r;
  if (!ReadSet(call, call.args[1], &r)) return;
  std::vector<std::string_view> found;
  uint64_t next = 0;
  if (r) {
    auto take = [&](std::string_view m) {
      if (!scan.match || GlobMatch(scan.pattern, m)) found.push_back(m);
    };
    const size_t max_intset = call.server.set_max_intset_entries.load();
    if (IsIntset(*r, max_intset)) {
      for (std::string_view m : SetMembers(*r, max_intset)) take(m);
    } else {
      next = r->fields()->Scan(scan.cursor, scan.count,
                               [&](std::string_view m, std::string_view) { take(m); });
    }
  }
  call.reply.Array(2);
  call.reply.Bulk(std::to_string(next));
  call.reply.Array(found.size());
  for (std::string_view m : found) call.reply.Bulk(m);
}

enum class SetOp { kInter, kUnion, kDiff };

// The result of `op` over the sets under `keys`, read through `get`, in the order Redis
// answers it when it is an intset; false with *error set when a key holds another type
// (checked for every key first, as Redis 7.0). A missing key is an empty set.
template <typename Get>
bool Combine(SetOp op, const std::vector<std::string>& keys, Get get, size_t max_intset,
             std::vector<std::string>* out, std::string* error) {
  std::vector<RecordPtr> sets;
  for (const std::string& key : keys) {
    RecordPtr r = get(key);
    if (r && r->type() != kSetRecordType) {
      *error = kWrongTypeError;
      return false;
    }
    sets.push_back(std::move(r));
  }
  if (op == SetOp::kUnion) {
    std::map<std::string_view, bool> seen;  // ordered: one answer whatever the keys' order
    for (const RecordPtr& s : sets) {
      if (s) s->fields()->ForEach([&](std::string_view m, std::string_view) { seen[m] = true; });
    }
    for (const auto& [m, _] : seen) out->emplace_back(m);
  } else if (sets.front() &&
             (op == SetOp::kDiff ||
              std::all_of(sets.begin(), sets.end(), [](const RecordPtr& s) { return s; }))) {
    for (std::string_view m : SetMembers(*sets.front(), max_intset)) {
      bool keep = true;
      for (size_t i = 1; i < sets.size() && keep; ++i) {
        const bool in = sets[i] && sets[i]->fields()->Find(m);
        keep = op == SetOp::kInter ? in : !in;
      }
      if (keep) out->emplace_back(m);
    }
  }
  IntsetOrder(out, max_intset);
  return true;
}

std::vector<std::string> KeysFrom(const Call& call, size_t at) {
  return {call.args.begin() + static_cast<ptrdiff_t>(at), call.args.end()};
}

// SINTER SUNION SDIFF (and SMEMBERS: SINTER of one key).
void ReplyCombined(Call& call, SetOp op) {
  std::vector<std::string> result;
  std::string error;
  if (!Combine(
          op, KeysFrom(call, 1), [&](const std::string& key) { return Live(call, key); },
          call.server.set_max_intset_entries.load(), &result, &error)) {
    return call.reply.Error(error);
  }
  call.reply.Set(result.size());
  for (const std::string& m : result) call.reply.Bulk(m);
}

// SINTERCARD numkeys key [key ...] [LIMIT limit]: the size of the intersection, counting
// stopped at the limit (0: none).
void CmdSintercard(Call& call) {
  int64_t numkeys = 0;
  if (!ParseInt64(call.args[1], &numkeys) || numkeys < 1)
    return call.reply.Error("ERR numkeys should be greater than 0");
  if (static_cast<uint64_t>(numkeys) > call.args.size() - 2)
    return call.reply.Error("ERR Number of keys can't be greater than number of args");
  const auto end = 2 + static_cast<size_t>(numkeys);
  int64_t limit = 0;
  for (size_t j = end; j < call.args.size(); ++j) {
    if (Lower(call.args[j]) == "limit" && j + 1 < call.args.size()) {
      ++j;
      if (!ParseInt64(call.args[j], &limit) || limit < 0)
        return call.reply.Error("ERR LIMIT can't be negative");
    } else {
      return call.reply.Error(kSyntaxError);
    }
  }
  std::vector<RecordPtr> sets;
  for (size_t i = 2; i < end; ++i) {
    RecordPtr r = Live(call, call.args[i]);
    if (r && r->type() != kSetRecordType) return call.reply.Error(kWrongTypeError);
    sets.push_back(std::move(r));
  }
  if (!std::all_of(sets.begin(), sets.end(), [](const RecordPtr& s) { return s; }))
    return call.reply.Integer(0);
  std::sort(sets.begin(), sets.end(), [](const RecordPtr& a, const RecordPtr& b) {
    return a->fields()->size() < b->fields()->size();
  });
  int64_t count = 0;
  sets.front()->fields()->ForEach([&](std::string_view m, std::string_view) {
    if (limit > 0 && count >= limit) return;
    for (size_t i = 1; i < sets.size(); ++i) {
      if (!sets[i]->fields()->Find(m)) return;
    }
    ++count;
  });
  call.reply.Integer(count);
}

void CmdSmembers(Call& call) { ReplyCombined(call, SetOp::kInter); }
void CmdSinter(Call& call) { ReplyCombined(call, SetOp::kInter); }
void CmdSunion(Call& call) { ReplyCombined(call, SetOp::kUnion); }
void CmdSdiff(Call& call) { ReplyCombined(call, SetOp::kDiff); }

// SINTERSTORE SUNIONSTORE SDIFFSTORE destination key [key ...]: one txn, so the sources
// are read and the destination written at one instant. An empty result deletes the
// destination.
void Store(Call& call, SetOp op) {
  auto out = std::make_shared<Outcome>();
  const size_t max_intset = call.server.set_max_intset_entries.load();
  Mutation m = Mutation::Txn(
      [op, destination = call.args[1], keys = KeysFrom(call, 2), out, max_intset](KeyView& view) {
        std::vector<std::string> result;
        if (!Combine(
                op, keys, [&](const std::string& key) { return view.Get(key); }, max_intset,
                &result, &out->error)) {
          return;
        }
        out->integer = static_cast<int64_t>(result.size());
        if (RecordPtr set = MakeSet(result, max_intset)) {
          view.Put(destination, std::move(set));
        } else {
          view.Delete(destination);
        }
      },
      call.args.size() - 1);
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Integer(out->integer);
  });
}

void CmdSinterstore(Call& call) { Store(call, SetOp::kInter); }
void CmdSunionstore(Call& call) { Store(call, SetOp::kUnion); }
void CmdSdiffstore(Call& call) { Store(call, SetOp::kDiff); }

// SMOVE source destination member: 1 when the member left the source.
void CmdSmove(Call& call) {
  auto out = std::make_shared<Outcome>();
  const size_t max_intset = call.server.set_max_intset_entries.load();
  Mutation m = Mutation::Txn(
      [from = call.args[1], to = call.args[2], member = call.args[3], out,
       max_intset](KeyView& view) {
        const RecordPtr source = view.Get(from);
        const RecordPtr destination = view.Get(to);
        if (!source) return;
        if (source->type() != kSetRecordType ||
            (destination && destination->type() != kSetRecordType)) {
          out->error = kWrongTypeError;
          return;
        }
        if (from == to) {
          out->integer = source->fields()->Find(member) ? 1 : 0;
          return;
        }
        SetEdit src(source, false, max_intset);
        if (!src.Remove(member)) return;
        out->integer = 1;
        ApplyChange(view, from, src.Finish());
        SetEdit dst(destination, false, max_intset);
        dst.Add(member);
        ApplyChange(view, to, dst.Finish());
      },
      2);
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Integer(out->integer);
  });
}

}  // namespace

// Flags, key positions and categories follow Redis 7.0's own table.
// The members of `set` in the order Redis answers them (see the header).
std::vector<std::string_view> SetMembers(const Record& set, size_t max_intset) {
  std::vector<std::string_view> members;
  members.reserve(set.fields()->size());
  set.fields()->ForEach([&](std::string_view m, std::string_view) { members.push_back(m); });
  if (IsIntset(set, max_intset)) IntsetOrder(&members, max_intset);
  return members;
}

void AddSetCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> write_fast = {"write", "set", "fast"};
  const std::vector<std::string_view> write_slow = {"write", "set", "slow"};
  const std::vector<std::string_view> read_fast = {"read", "set", "fast"};
  const std::vector<std::string_view> read_slow = {"read", "set", "slow"};
  const uint32_t w = kWrite | kDenyOom;
  t->insert(
      t->end(),
      {
          {"sadd", -3, w | kFast, 1, 1, 1, write_fast, CmdSadd, "Add one or more members to a set"},
          {"srem", -3, kWrite | kFast, 1, 1, 1, write_fast, CmdSrem,
           "Remove one or more members from a set"},
          {"spop", -2, kWrite | kFast, 1, 1, 1, write_fast, CmdSpop,
           "Remove and return one or multiple random members from a set"},
          {"smove", 4, kWrite | kFast, 1, 2, 1, write_fast, CmdSmove,
           "Move a member from one set to another"},
          {"scard", 2, kReadonly | kFast, 1, 1, 1, read_fast, CmdScard,
           "Get the number of members in a set"},
          {"sismember", 3, kReadonly | kFast, 1, 1, 1, read_fast, CmdSismember,
           "Determine if a given value is a member of a set"},
          {"smismember", -3, kReadonly | kFast, 1, 1, 1, read_fast, CmdSmismember,
           "Returns the membership associated with the given elements for a set"},
          {"smembers", 2, kReadonly, 1, 1, 1, read_slow, CmdSmembers,
           "Get all the members in a set"},
          {"srandmember", -2, kReadonly, 1, 1, 1, read_slow, CmdSrandmember,
           "Get one or multiple random members from a set"},
          {"sscan", -3, kReadonly, 1, 1, 1, read_slow, CmdSscan,
           "Incrementally iterate Set elements"},
          {"sinter", -2, kReadonly, 1, -1, 1, read_slow, CmdSinter, "Intersect multiple sets"},
          {"sunion", -2, kReadonly, 1, -1, 1, read_slow, CmdSunion, "Add multiple sets"},
          {"sdiff", -2, kReadonly, 1, -1, 1, read_slow, CmdSdiff, "Subtract multiple sets"},
          {"sintercard",
           -3,
           kReadonly,
           0,
           0,
           0,
           read_slow,
           CmdSintercard,
           "Intersect multiple sets and return the cardinality of the result",
           {},
           1},
          {"sinterstore", -3, w, 1, -1, 1, write_slow, CmdSinterstore,
           "Intersect multiple sets and store the resulting set in a key"},
          {"sunionstore", -3, w, 1, -1, 1, write_slow, CmdSunionstore,
           "Add multiple sets and store the resulting set in a key"},
          {"sdiffstore", -3, w, 1, -1, 1, write_slow, CmdSdiffstore,
           "Subtract multiple sets and store the resulting set in a key"},
      });
}

}  // namespace devstate::resp
