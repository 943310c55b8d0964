// Strings: GET MGET SET SETNX MSET. Reads come from memory; writes are mutations through
// the commit pipeline, answered once committed. A device record reads as a string (its
// state JSON), as TYPE says.
#include <fmt/format.h>

#include <memory>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/record_types.h"

namespace devstate::resp {
namespace {

void CmdGet(Call& call) {
  RecordPtr r = Live(call, call.args[1]);
  if (!r) return call.reply.Null();
  if (!IsString(*r)) return call.reply.Error(kWrongTypeError);
  call.reply.Bulk(r->value());
}

void CmdMget(Call& call) {
  call.reply.Array(call.args.size() - 1);
  for (size_t i = 1; i < call.args.size(); ++i) {
    RecordPtr r = Live(call, call.args[i]);
    if (r && RedisTypeName(r->type()) == "string") {
      call.reply.Bulk(r->value());
    } else {
      call.reply.Null();
    }
  }
}

// SET's options, parsed as Redis 7.0's parseExtendedStringArgumentsOrReply does: NX/XX
// exclude each other, an expiry excludes KEEPTTL and the other expiry kinds but may repeat
// (the last wins), and its number is read only once every option is known.
struct SetOptions {
  bool nx = false, xx = false, get = false, keepttl = false;
  enum class Unit { kNone, kEx, kPx, kExat, kPxat } unit = Unit::kNone;
  std::string_view expire;
};

bool ParseSetOptions(const std::vector<std::string>& args, SetOptions* o) {
  using Unit = SetOptions::Unit;
  for (size_t j = 3; j < args.size(); ++j) {
    const std::string opt = Lower(args[j]);
    const bool has_next = j + 1 < args.size();
    auto expiry = [&](Unit unit) {
      if (o->keepttl || !has_next || (o->unit != Unit::kNone && o->unit != unit)) return false;
      o->unit = unit;
      o->expire = args[++j];
      return true;
    };
    bool ok = false;
    if (opt == "nx") {
      ok = !o->xx && (o->nx = true);
    } else if (opt == "xx") {
      ok = !o->nx && (o->xx = true);
    } else if (opt == "get") {
      ok = o->get = true;
    } else if (opt == "keepttl") {
      ok = o->unit == Unit::kNone && (o->keepttl = true);
    } else if (opt == "ex") {
      ok = expiry(Unit::kEx);
    } else if (opt == "px") {
      ok = expiry(Unit::kPx);
    } else if (opt == "exat") {
      ok = expiry(Unit::kExat);
    } else if (opt == "pxat") {
      ok = expiry(Unit::kPxat);
    }
    if (!ok) return false;
  }
  return true;
}

// The absolute expiry time SET's options ask for (0: none), or false with the reply.
bool SetExpiry(Call& call, const SetOptions& o, int64_t now, int64_t* at) {
  using Unit = SetOptions::Unit;
  *at = 0;
  if (o.unit == Unit::kNone) return true;
  std::string error;
  *at = ExpireAt(o.expire, o.unit == Unit::kEx || o.unit == Unit::kExat,
                 o.unit == Unit::kExat || o.unit == Unit::kPxat, now, "set", &error);
  if (error.empty()) return true;
  call.reply.Error(error);
  return false;
}

void CmdSet(Call& call) {
  SetOptions o;
  if (!ParseSetOptions(call.args, &o)) return call.reply.Error(kSyntaxError);
  const int64_t now = call.view ? call.view->NowMs() : call.service().NowMs();
  int64_t expire_at = 0;
  if (!SetExpiry(call, o, now, &expire_at)) return;
  if (!o.nx && !o.xx && !o.get && !o.keepttl) {
    // The common SET: the record is built here and simply replaces whatever is there.
    if (expire_at != 0 && expire_at <= now) {
      return Commit(call, {Mutation::Delete(std::move(call.args[1]))},
                    [](ReplyWriter& w) { w.Ok(); });
    }
    return Commit(call,
                  {Mutation::Put(std::move(call.args[1]), StringRecord(call.args[2], expire_at))},
                  [](ReplyWriter& w) { w.Ok(); });
  }
  struct Outcome {
    bool set = false;
    bool wrong_type = false;
    RecordPtr old;
  };
  auto outcome = std::make_shared<Outcome>();
  // The pipeline calls apply exactly once, so the value can move into the record.
  Mutation m = Mutation::Apply(call.args[1], [value = std::move(call.args[2]), o, expire_at,
                                              outcome, now](const RecordPtr& current) mutable {
    if (o.get && current) {
      if (RedisTypeName(current->type()) != "string") {
        outcome->wrong_type = true;
        return Change::None();
      }
      outcome->old = current;
    }
    if ((o.nx && current) || (o.xx && !current)) return Change::None();
    outcome->set = true;
    const int64_t at = o.keepttl && current ? current->expire_at_ms() : expire_at;
    if (at != 0 && at <= now) return current ? Change::Delete() : Change::None();
    return Change::Put(StringRecord(value, at));
  });
  Commit(call, {std::move(m)}, [outcome, get = o.get](ReplyWriter& w) {
    if (outcome->wrong_type) {
      w.Error(kWrongTypeError);
    } else if (get) {
      if (outcome->old) {
        w.Bulk(outcome->old->value());
      } else {
        w.Null();
      }
    } else if (outcome->set) {
      w.Ok();
    } else {
      w.Null();
    }
  });
}

void CmdSetnx(Call& call) {
  auto set = std::make_shared<bool>(false);
  Mutation m = Mutation::Apply(
      call.args[1], [value = std::move(call.args[2]), set](const RecordPtr& current) mutable {
        if (current) return Change::None();
        *set = true;
        return Change::Put(StringRecord(value, 0));
      });
  Commit(call, {std::move(m)}, [set](ReplyWriter& w) { w.Integer(*set ? 1 : 0); });
}

// One txn over the argument vector, moved as a whole: a command of a million arguments
// costs the connection's thread nothing per key; the records are built on the thread that
// commits the group.
void CmdMset(Call& call) {
  if (call.args.size() % 2 != 1) return call.reply.Error(WrongArity("mset"));
  const size_t pairs = call.args.size() / 2;
  Mutation m = Mutation::Txn(
      [args = std::move(call.args)](KeyView& view) mutable {
        for (size_t i = 1; i + 1 < args.size(); i += 2) {
          view.Put(args[i], StringRecord(args[i + 1], 0));
        }
      },
      pairs);
  Commit(call, {std::move(m)}, [](ReplyWriter& w) { w.Ok(); });
}

}  // namespace

// Flags, key positions and categories follow Redis 7.0's own table, so cluster clients
// route by them exactly as they would against Redis.
void AddStringCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> read = {"read", "string", "fast"};
  const std::vector<std::string_view> write = {"write", "string", "slow"};
  t->insert(t->end(),
            {
                {"get", 2, kReadonly | kFast, 1, 1, 1, read, CmdGet, "Get the value of a key"},
                {"mget", -2, kReadonly | kFast, 1, -1, 1, read, CmdMget,
                 "Get the values of all the given keys"},
                {"set", -3, kWrite | kDenyOom, 1, 1, 1, write, CmdSet,
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
                {"mset", -3, kWrite | kDenyOom, 1, -1, 2, write, CmdMset,
                 "Set multiple keys to multiple values"},
            });
}

}  // namespace devstate::resp
