// Strings beyond GET and SET, as Redis 7.0 defines them: INCR INCRBY DECR DECRBY
// INCRBYFLOAT APPEND STRLEN GETRANGE SETRANGE GETDEL GETEX GETSET SETEX PSETEX MSETNX.
// A read-modify-write is one `apply` in the commit pipeline, so concurrent writers never
// lose each other's updates; what it decided is answered once the group is committed.
// INCR, APPEND and SETRANGE keep the key's expiry time; GETSET, SETEX and MSETNX set a new
// value without one, as Redis's setKey does. A device record reads as a string (its state
// JSON), but is changed only by events: APPEND and SETRANGE on one are refused.
#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/text.h"

namespace devstate::resp {
namespace {

// What an `apply` decided, for the reply.
struct Outcome {
  std::string error;
  int64_t integer = 0;
  RecordPtr old;
  std::string bulk;
  bool null = false;
};

void ReplyInteger(Call& call, Mutation m, const std::shared_ptr<Outcome>& out) {
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Integer(out->integer);
  });
}

// GETDEL, GETSET, GETEX: the old value, or null.
void ReplyOld(Call& call, Mutation m, const std::shared_ptr<Outcome>& out) {
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    if (!out->old) return w.Null();
    w.Bulk(out->old->value());
  });
}

void IncrBy(Call& call, int64_t incr) {
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Apply(call.args[1], [incr, out](const RecordPtr& current) {
    int64_t value = 0;
    if (current) {
      if (!IsString(*current)) {
        out->error = kWrongTypeError;
        return Change::None();
      }
      if (!ParseInt64(current->value(), &value)) {
        out->error = kNotIntegerError;
        return Change::None();
      }
    }
    if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
        (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
      out->error = "ERR increment or decrement would overflow";
      return Change::None();
    }
    out->integer = value + incr;
    return Change::Put(
        StringRecord(std::to_string(out->integer), current ? current->expire_at_ms() : 0));
  });
  ReplyInteger(call, std::move(m), out);
}

void CmdIncr(Call& call) { IncrBy(call, 1); }
void CmdDecr(Call& call) { IncrBy(call, -1); }

void CmdIncrby(Call& call) {
  int64_t incr = 0;
  if (!ParseInt64(call.args[2], &incr)) return call.reply.Error(kNotIntegerError);
  IncrBy(call, incr);
}

void CmdDecrby(Call& call) {
  int64_t incr = 0;
  if (!ParseInt64(call.args[2], &incr)) return call.reply.Error(kNotIntegerError);
  if (incr == INT64_MIN) return call.reply.Error("ERR decrement would overflow");
  IncrBy(call, -incr);
}

void CmdIncrbyfloat(Call& call) {
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Apply(call.args[1], [by = call.args[2], out](const RecordPtr& current) {
    long double value = 0, incr = 0;
    if (current && !IsString(*current)) {
      out->error = kWrongTypeError;
      return Change::None();
    }
    if ((current && !ParseLongDouble(current->value(), &value)) || !ParseLongDouble(by, &incr)) {
      out->error = "ERR value is not a valid float";
      return Change::None();
    }
    value += incr;
    if (std::isnan(value) || std::isinf(value)) {
      out->error = "ERR increment would produce NaN or Infinity";
      return Change::None();
    }
    out->bulk = FormatLongDouble(value);
    return Change::Put(StringRecord(out->bulk, current ? current->expire_at_ms() : 0));
  });
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Bulk(out->bulk);
  });
}

constexpr std::string_view kTooLong =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

void CmdAppend(Call& call) {
  auto out = std::make_shared<Outcome>();
  const size_t max = call.server.limits.parser.max_bulk_bytes;
  Mutation m = Mutation::Apply(call.args[1], [key = call.args[1], tail = std::move(call.args[2]),
                                              max, out](const RecordPtr& current) mutable {
    if (!current) {
      out->integer = static_cast<int64_t>(tail.size());
      return Change::Put(StringRecord(tail, 0));
    }
    out->error = StringEditError(current, key);
    if (!out->error.empty()) return Change::None();
    if (current->value().size() + tail.size() > max) {
      out->error = kTooLong;
      return Change::None();
    }
    out->integer = static_cast<int64_t>(current->value().size() + tail.size());
    return Change::Put(StringRecord(std::string(current->value()).append(tail),
                                    current->expire_at_ms(), kRawStringMeta));
  });
  ReplyInteger(call, std::move(m), out);
}

void CmdStrlen(Call& call) {
  RecordPtr r = Live(call, call.args[1]);
  if (!r) return call.reply.Integer(0);
  if (!IsString(*r)) return call.reply.Error(kWrongTypeError);
  call.reply.Integer(static_cast<int64_t>(r->value().size()));
}

// GETRANGE key start end, with Redis's index rules (negative from the end, clamped).
void CmdGetrange(Call& call) {
  int64_t start = 0, end = 0;
  if (!ParseInt64(call.args[2], &start) || !ParseInt64(call.args[3], &end))
    return call.reply.Error(kNotIntegerError);
  RecordPtr r = Live(call, call.args[1]);
  if (!r) return call.reply.Bulk("");
  if (!IsString(*r)) return call.reply.Error(kWrongTypeError);
  const auto len = static_cast<int64_t>(r->value().size());
  if (start < 0 && end < 0 && start > end) return call.reply.Bulk("");
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return call.reply.Bulk("");
  call.reply.Bulk(std::string_view(r->value())
                      .substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1)));
}

void CmdSetrange(Call& call) {
  int64_t offset = 0;
  if (!ParseInt64(call.args[2], &offset)) return call.reply.Error(kNotIntegerError);
  if (offset < 0) return call.reply.Error("ERR offset is out of range");
  auto out = std::make_shared<Outcome>();
  const size_t max = call.server.limits.parser.max_bulk_bytes;
  Mutation m = Mutation::Apply(call.args[1], [key = call.args[1], part = std::move(call.args[3]),
                                              offset, max, out](const RecordPtr& current) {
    out->error = StringEditError(current, key);
    if (!out->error.empty()) return Change::None();
    const size_t old = current ? current->value().size() : 0;
    if (part.empty()) {  // nothing to write: the length as it is, and no key created
      out->integer = static_cast<int64_t>(old);
      return Change::None();
    }
    if (static_cast<uint64_t>(offset) + part.size() > max) {
      out->error = kTooLong;
      return Change::None();
    }
    std::string value = current ? std::string(current->value()) : std::string();
    const size_t at = static_cast<size_t>(offset);
    if (value.size() < at + part.size()) value.resize(at + part.size(), '\0');
    value.replace(at, part.size(), part);
    out->integer = static_cast<int64_t>(value.size());
    return Change::Put(StringRecord(value, current ? current->expire_at_ms() : 0, kRawStringMeta));
  });
  ReplyInteger(call, std::move(m), out);
}

void CmdGetdel(Call& call) {
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Apply(call.args[1], [out](const RecordPtr& current) {
    if (!current) return Change::None();
    if (!IsString(*current)) {
      out->error = kWrongTypeError;
      return Change::None();
    }
    out->old = current;
    return Change::Delete();
  });
  ReplyOld(call, std::move(m), out);
}

void CmdGetset(Call& call) {
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Apply(
      call.args[1], [value = std::move(call.args[2]), out](const RecordPtr& current) mutable {
        if (current && !IsString(*current)) {
          out->error = kWrongTypeError;
          return Change::None();
        }
        out->old = current;
        return Change::Put(StringRecord(value, 0));
      });
  ReplyOld(call, std::move(m), out);
}

// SETEX key seconds value, PSETEX key milliseconds value.
void SetWithExpiry(Call& call, bool seconds) {
  std::string error;
  const int64_t at =
      ExpireAt(call.args[2], seconds, false, Now(call), seconds ? "setex" : "psetex", &error);
  if (!error.empty()) return call.reply.Error(error);
  Commit(call, {Mutation::Put(std::move(call.args[1]), StringRecord(call.args[3], at))},
         [](ReplyWriter& w) { w.Ok(); });
}

void CmdSetex(Call& call) { SetWithExpiry(call, true); }
void CmdPsetex(Call& call) { SetWithExpiry(call, false); }

// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]: options as Redis 7.0's
// parseExtendedStringArgumentsOrReply takes them for GET; then, as getexCommand: a missing
// key answers null, another type WRONGTYPE, and only then is the time checked.
void CmdGetex(Call& call) {
  enum class Kind { kNone, kEx, kPx, kExat, kPxat, kPersist } kind = Kind::kNone;
  std::string_view expire;
  for (size_t j = 2; j < call.args.size(); ++j) {
    const std::string opt = Lower(call.args[j]);
    const bool next = j + 1 < call.args.size();
    auto take = [&](Kind k) {
      if (kind != Kind::kNone && kind != k) return false;
      if (k == Kind::kPersist) {
        kind = k;
        return true;
      }
      if (!next) return false;
      kind = k;
      expire = call.args[++j];
      return true;
    };
    bool ok = false;
    if (opt == "ex") {
      ok = take(Kind::kEx);
    } else if (opt == "px") {
      ok = take(Kind::kPx);
    } else if (opt == "exat") {
      ok = take(Kind::kExat);
    } else if (opt == "pxat") {
      ok = take(Kind::kPxat);
    } else if (opt == "persist") {
      ok = take(Kind::kPersist);
    }
    if (!ok) return call.reply.Error(kSyntaxError);
  }
  if (kind == Kind::kNone) {  // a GET that is allowed to be written as a write
    RecordPtr r = Live(call, call.args[1]);
    if (!r) return call.reply.Null();
    if (!IsString(*r)) return call.reply.Error(kWrongTypeError);
    return call.reply.Bulk(r->value());
  }
  const int64_t now = Now(call);
  std::string time_error;
  int64_t at = 0;
  if (kind != Kind::kPersist) {
    at = ExpireAt(expire, kind == Kind::kEx || kind == Kind::kExat,
                  kind == Kind::kExat || kind == Kind::kPxat, now, "getex", &time_error);
  }
  auto out = std::make_shared<Outcome>();
  Mutation m =
      Mutation::Apply(call.args[1], [kind, at, now, time_error, out](const RecordPtr& current) {
        if (!current) return Change::None();
        if (!IsString(*current)) {
          out->error = kWrongTypeError;
          return Change::None();
        }
        if (!time_error.empty()) {
          out->error = time_error;
          return Change::None();
        }
        out->old = current;
        if (kind == Kind::kPersist) {
          if (current->expire_at_ms() == 0) return Change::None();
          return Change::Put(current->WithExpiry(0));
        }
        if (at <= now) return Change::Delete();  // an absolute time already past
        return Change::Put(current->WithExpiry(at));
      });
  ReplyOld(call, std::move(m), out);
}

// MSETNX: every key set, without an expiry, only if none of them exists; one txn.
void CmdMsetnx(Call& call) {
  if (call.args.size() % 2 != 1) return call.reply.Error(WrongArity("msetnx"));
  const size_t pairs = call.args.size() / 2;
  auto set = std::make_shared<bool>(false);
  Mutation m = Mutation::Txn(
      [args = std::move(call.args), set](KeyView& view) mutable {
        for (size_t i = 1; i + 1 < args.size(); i += 2) {
          if (view.Get(args[i])) return;
        }
        for (size_t i = 1; i + 1 < args.size(); i += 2) {
          view.Put(args[i], StringRecord(args[i + 1], 0));
        }
        *set = true;
      },
      pairs);
  Commit(call, {std::move(m)}, [set](ReplyWriter& w) { w.Integer(*set ? 1 : 0); });
}

}  // namespace

// Flags, key positions and categories as in Redis 7.0's command table.
void AddStringOpCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> fast_write = {"write", "string", "fast"};
  const std::vector<std::string_view> slow_write = {"write", "string", "slow"};
  const std::vector<std::string_view> read = {"read", "string", "fast"};
  const std::vector<std::string_view> slow_read = {"read", "string", "slow"};
  const uint32_t w = kWrite | kDenyOom | kFast;
  t->insert(t->end(),
            {
                {"incr", 2, w, 1, 1, 1, fast_write, CmdIncr,
                 "Increment the integer value of a key by one"},
                {"decr", 2, w, 1, 1, 1, fast_write, CmdDecr,
                 "Decrement the integer value of a key by one"},
                {"incrby", 3, w, 1, 1, 1, fast_write, CmdIncrby,
                 "Increment the integer value of a key by the given amount"},
                {"decrby", 3, w, 1, 1, 1, fast_write, CmdDecrby,
                 "Decrement the integer value of a key by the given number"},
                {"incrbyfloat", 3, w, 1, 1, 1, fast_write, CmdIncrbyfloat,
                 "Increment the float value of a key by the given amount"},
                {"append", 3, w, 1, 1, 1, fast_write, CmdAppend, "Append a value to a key"},
                {"strlen", 2, kReadonly | kFast, 1, 1, 1, read, CmdStrlen,
                 "Get the length of the value stored in a key"},
                {"getrange", 4, kReadonly, 1, 1, 1, slow_read, CmdGetrange,
                 "Get a substring of the string stored at a key"},
                {"setrange", 4, kWrite | kDenyOom, 1, 1, 1, slow_write, CmdSetrange,
                 "Overwrite part of a string at key starting at the specified offset"},
                {"getdel", 2, kWrite | kFast, 1, 1, 1, fast_write, CmdGetdel,
                 "Get the value of a key and delete the key"},
                {"getex", -2, kWrite | kFast, 1, 1, 1, fast_write, CmdGetex,
                 "Get the value of a key and optionally set its expiration"},
                {"getset", 3, w, 1, 1, 1, fast_write, CmdGetset,
                 "Set the string value of a key and return its old value"},
                {"setex", 4, kWrite | kDenyOom, 1, 1, 1, slow_write, CmdSetex,
                 "Set the value and expiration of a key"},
                {"psetex", 4, kWrite | kDenyOom, 1, 1, 1, slow_write, CmdPsetex,
                 "Set the value and expiration in milliseconds of a key"},
                {"msetnx", -3, kWrite | kDenyOom, 1, -1, 2, slow_write, CmdMsetnx,
                 "Set multiple keys to multiple values, only if none of the keys exist"},
            });
}

}  // namespace devstate::resp
