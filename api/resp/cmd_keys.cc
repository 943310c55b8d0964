// Strings and the keyspace: GET MGET SET SETNX MSET DEL UNLINK EXISTS TYPE KEYS SCAN DBSIZE
// TTL PTTL EXPIRE PEXPIRE PERSIST. Reads come from memory; writes are mutations through the
// commit pipeline, answered after the fsync.
#include <fmt/format.h>

#include <charconv>
#include <memory>

#include "api/resp/commands.h"

namespace devstate::resp {
namespace {

constexpr uint8_t kStringType = 0;  // service/device_record.h kStringRecordType

RecordPtr Live(Call& call, std::string_view key) {
  RecordPtr r = call.service().Get(key);
  (r ? call.server.keyspace_hits : call.server.keyspace_misses)
      .fetch_add(1, std::memory_order_relaxed);
  return r;
}

// Submits `mutations`; when committed, `answer(writer)` writes the reply.
template <typename Answer>
void Commit(Call& call, std::vector<Mutation> mutations, Answer answer) {
  auto finish = [respond = call.defer(), protocol = call.protocol(),
                 answer = std::move(answer)](const Status& s) {
    std::string out;
    ReplyWriter w(&out, protocol);
    if (!s.ok()) {
      w.Error(StoreError(s));
    } else {
      answer(w);
    }
    respond(std::move(out));
  };
  if (call.batch != nullptr) {
    for (Mutation& m : mutations) call.batch->mutations.push_back(std::move(m));
    call.batch->finishers.push_back(std::move(finish));
    return;
  }
  call.service().Write(std::move(mutations),
                       [finish = std::move(finish)](const Status& s, uint64_t) { finish(s); });
}

RecordPtr StringRecord(std::string value, int64_t expire_at_ms) {
  auto r = std::make_shared<Record>();
  r->type = kStringType;
  r->value = std::move(value);
  r->expire_at_ms = expire_at_ms;
  return r;
}

RecordPtr WithExpiry(const Record& current, int64_t expire_at_ms) {
  auto r = std::make_shared<Record>(current);
  r->expire_at_ms = expire_at_ms;
  return r;
}

const char* kSyntax = "ERR syntax error";
const char* kNotInteger = "ERR value is not an integer or out of range";

void Ttl(Call& call, bool millis) {
  RecordPtr r = Live(call, call.args[1]);
  if (!r) return call.reply.Integer(-2);
  if (r->expire_at_ms == 0) return call.reply.Integer(-1);
  const int64_t left = std::max<int64_t>(0, r->expire_at_ms - call.service().NowMs());
  call.reply.Integer(millis ? left : (left + 500) / 1000);
}

void Expire(Call& call, bool millis) {
  int64_t amount = 0;
  if (!ParseInt64(call.args[2], &amount)) return call.reply.Error(kNotInteger);
  enum { kAlways, kNx, kXx, kGt, kLt } when = kAlways;
  for (size_t i = 3; i < call.args.size(); ++i) {
    const std::string opt = Lower(call.args[i]);
    auto set = [&](auto w) {
      if (when != kAlways && when != w) return false;
      when = w;
      return true;
    };
    bool ok = opt == "nx"   ? set(kNx)
              : opt == "xx" ? set(kXx)
              : opt == "gt" ? set(kGt)
              : opt == "lt" ? set(kLt)
                            : false;
    if (!ok) {
      if (opt == "nx" || opt == "xx" || opt == "gt" || opt == "lt") {
        return call.reply.Error(
            "ERR NX and XX, GT or LT options at the same time are not compatible");
      }
      return call.reply.Error(fmt::format("ERR Unsupported option {}", call.args[i]));
    }
  }
  const int64_t now = call.service().NowMs();
  const int64_t ms = millis ? amount : amount * 1000;
  if ((!millis && (amount > INT64_MAX / 1000 || amount < INT64_MIN / 1000)) ||
      (ms > 0 && now > INT64_MAX - ms)) {
    return call.reply.Error(
        fmt::format("ERR invalid expire time in '{}' command", millis ? "pexpire" : "expire"));
  }
  const int64_t at = now + ms;
  auto changed = std::make_shared<bool>(false);
  Mutation m{call.args[1], [at, now, when, changed](const RecordPtr& current) {
               if (!current) return Change::None();
               const int64_t ttl_now = current->expire_at_ms;  // 0: persistent (infinite)
               if ((when == kNx && ttl_now != 0) || (when == kXx && ttl_now == 0) ||
                   (when == kGt && (ttl_now == 0 || at <= ttl_now)) ||
                   (when == kLt && ttl_now != 0 && at >= ttl_now)) {
                 return Change::None();
               }
               *changed = true;
               if (at <= now) return Change::Delete();  // a time in the past deletes the key
               return Change::Put(WithExpiry(*current, at));
             }};
  Commit(call, {std::move(m)}, [changed](ReplyWriter& w) { w.Integer(*changed ? 1 : 0); });
}

}  // namespace

void CmdGet(Call& call) {
  RecordPtr r = Live(call, call.args[1]);
  if (!r) return call.reply.Null();
  call.reply.Bulk(r->value);
}

void CmdMget(Call& call) {
  call.reply.Array(call.args.size() - 1);
  for (size_t i = 1; i < call.args.size(); ++i) {
    RecordPtr r = Live(call, call.args[i]);
    if (r) {
      call.reply.Bulk(r->value);
    } else {
      call.reply.Null();
    }
  }
}

void CmdSet(Call& call) {
  bool nx = false, xx = false, get = false, keepttl = false;
  int64_t expire_at = 0;
  bool have_expire = false;
  const int64_t now = call.service().NowMs();
  for (size_t i = 3; i < call.args.size(); ++i) {
    const std::string opt = Lower(call.args[i]);
    if (opt == "nx" && !xx) {
      nx = true;
    } else if (opt == "xx" && !nx) {
      xx = true;
    } else if (opt == "get") {
      get = true;
    } else if (opt == "keepttl" && !have_expire) {
      keepttl = true;
    } else if ((opt == "ex" || opt == "px" || opt == "exat" || opt == "pxat") && !have_expire &&
               !keepttl && i + 1 < call.args.size()) {
      int64_t v = 0;
      if (!ParseInt64(call.args[++i], &v)) return call.reply.Error(kNotInteger);
      if (v <= 0) return call.reply.Error("ERR invalid expire time in 'set' command");
      const bool seconds = opt == "ex" || opt == "exat";
      if (seconds && v > INT64_MAX / 1000)
        return call.reply.Error("ERR invalid expire time in 'set' command");
      const int64_t ms = seconds ? v * 1000 : v;
      const bool relative = opt == "ex" || opt == "px";
      if (relative && ms > INT64_MAX - now)
        return call.reply.Error("ERR invalid expire time in 'set' command");
      expire_at = relative ? now + ms : ms;
      have_expire = true;
    } else {
      return call.reply.Error(kSyntax);
    }
  }
  if (!nx && !xx && !get && !keepttl) {
    // The common SET: the record is built here and simply replaces whatever is there.
    if (have_expire && expire_at <= now) {
      return Commit(call, {Mutation::Delete(std::move(call.args[1]))},
                    [](ReplyWriter& w) { w.Ok(); });
    }
    return Commit(
        call,
        {Mutation::Put(std::move(call.args[1]), StringRecord(std::move(call.args[2]), expire_at))},
        [](ReplyWriter& w) { w.Ok(); });
  }
  struct Outcome {
    bool set = false;
    RecordPtr old;
  };
  auto outcome = std::make_shared<Outcome>();
  // The pipeline calls apply exactly once, so the value can move into the record.
  Mutation m{call.args[1], [value = std::move(call.args[2]), nx, xx, keepttl, expire_at, outcome,
                            now, get](const RecordPtr& current) mutable {
               if (get) outcome->old = current;
               if ((nx && current) || (xx && !current)) return Change::None();
               outcome->set = true;
               const int64_t at = keepttl && current ? current->expire_at_ms : expire_at;
               if (at != 0 && at <= now) return current ? Change::Delete() : Change::None();
               return Change::Put(StringRecord(std::move(value), at));
             }};
  Commit(call, {std::move(m)}, [outcome, get](ReplyWriter& w) {
    if (get) {
      if (outcome->old) {
        w.Bulk(outcome->old->value);
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
  Mutation m{call.args[1],
             [value = std::move(call.args[2]), set](const RecordPtr& current) mutable {
               if (current) return Change::None();
               *set = true;
               return Change::Put(StringRecord(std::move(value), 0));
             }};
  Commit(call, {std::move(m)}, [set](ReplyWriter& w) { w.Integer(*set ? 1 : 0); });
}

void CmdMset(Call& call) {
  if (call.args.size() % 2 != 1) return call.reply.Error(WrongArity("mset"));
  std::vector<Mutation> mutations;
  mutations.reserve(call.args.size() / 2);
  for (size_t i = 1; i + 1 < call.args.size(); i += 2) {
    mutations.push_back(
        Mutation::Put(std::move(call.args[i]), StringRecord(std::move(call.args[i + 1]), 0)));
  }
  Commit(call, std::move(mutations), [](ReplyWriter& w) { w.Ok(); });
}

void CmdDel(Call& call) {
  auto removed = std::make_shared<int64_t>(0);
  std::vector<Mutation> mutations;
  for (size_t i = 1; i < call.args.size(); ++i) {
    mutations.push_back(Mutation{std::move(call.args[i]), [removed](const RecordPtr& current) {
                                   if (!current) return Change::None();
                                   ++*removed;
                                   return Change::Delete();
                                 }});
  }
  Commit(call, std::move(mutations), [removed](ReplyWriter& w) { w.Integer(*removed); });
}

void CmdExists(Call& call) {
  int64_t n = 0;
  for (size_t i = 1; i < call.args.size(); ++i) n += Live(call, call.args[i]) ? 1 : 0;
  call.reply.Integer(n);
}

void CmdType(Call& call) { call.reply.Simple(Live(call, call.args[1]) ? "string" : "none"); }

void CmdKeys(Call& call) {
  const std::string& pattern = call.args[1];
  const int64_t now = call.service().NowMs();
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
  uint64_t cursor = 0;
  {
    auto [end, ec] =
        std::from_chars(call.args[1].data(), call.args[1].data() + call.args[1].size(), cursor);
    if (ec != std::errc() || end != call.args[1].data() + call.args[1].size()) {
      return call.reply.Error("ERR invalid cursor");
    }
  }
  std::string pattern;
  bool match = false;
  int64_t count = 10;
  std::string type;
  for (size_t i = 2; i < call.args.size(); ++i) {
    const std::string opt = Lower(call.args[i]);
    if (i + 1 >= call.args.size()) return call.reply.Error(kSyntax);
    if (opt == "match") {
      pattern = call.args[++i];
      match = pattern != "*";
    } else if (opt == "count") {
      if (!ParseInt64(call.args[++i], &count)) return call.reply.Error(kNotInteger);
      if (count < 1) return call.reply.Error(kSyntax);
    } else if (opt == "type") {
      type = Lower(call.args[++i]);
    } else {
      return call.reply.Error(kSyntax);
    }
  }
  const int64_t now = call.service().NowMs();
  std::vector<std::string> keys;
  const uint64_t next =
      call.service().Scan(cursor, static_cast<size_t>(std::min<int64_t>(count, 100000)),
                          [&](const std::string& key, const RecordPtr& r) {
                            if (r->ExpiredAt(now)) return;
                            if (match && !GlobMatch(pattern, key)) return;
                            if (!type.empty() && type != "string") return;
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
void CmdExpire(Call& call) { Expire(call, false); }
void CmdPexpire(Call& call) { Expire(call, true); }

void CmdPersist(Call& call) {
  auto changed = std::make_shared<bool>(false);
  Mutation m{call.args[1], [changed](const RecordPtr& current) {
               if (!current || current->expire_at_ms == 0) return Change::None();
               *changed = true;
               return Change::Put(WithExpiry(*current, 0));
             }};
  Commit(call, {std::move(m)}, [changed](ReplyWriter& w) { w.Integer(*changed ? 1 : 0); });
}

}  // namespace devstate::resp
