// How every command family reads and writes keys (private to api/resp).
//
// Live() reads a key as the command sees it: from memory, or through the transaction's
// view inside an EXEC. Commit() hands a command's mutations to the commit pipeline and
// answers once they are committed (acknowledged by the journal and the replicas the gate
// requires): `answer(writer)` writes the reply then, from the thread that completes the
// commit. Inside an EXEC the mutations apply to the transaction's view at once and the
// reply is written immediately; the EXEC's own commit answers for all of them.
// Keyspace notifications of a write are sent once it is committed, never before.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "api/resp/command_table.h"
#include "api/resp/notify.h"
#include "service/record_types.h"
#include "service/text.h"
#include "store/coding.h"

namespace devstate::resp {

// A plain Redis string record. `meta` "raw" marks a string edited in place (APPEND,
// SETRANGE), which Redis keeps in its raw encoding whatever its length (OBJECT ENCODING).
inline constexpr std::string_view kRawStringMeta = "raw";
inline RecordPtr StringRecord(std::string_view value, int64_t expire_at_ms,
                              std::string_view meta = {}) {
  return Record::Make(
      {.type = kStringRecordType, .expire_at_ms = expire_at_ms, .value = value, .meta = meta});
}

// A hash's `meta` once Redis would have converted it from a listpack, for good.
inline constexpr std::string_view kHashtableMeta = "hashtable";
// Whether Redis would keep `hash` as a listpack (OBJECT ENCODING; HSCAN returns it whole).
inline bool IsListpackHash(const Record& hash, const ServerState& server) {
  return hash.meta() != kHashtableMeta && hash.fields()->size() <= server.hash_max_listpack_entries;
}

// A listpack hash answers in insertion order, as Redis's listpack does (HGETALL HKEYS HVALS
// HSCAN HRANDFIELD DUMP): its `meta` holds its names in that order, after kHashOrderTag,
// each length-prefixed. A header is journaled only when its meta changes, so this costs a
// journal write when a field is added or removed (never for a new value), and the order
// survives a restart and reaches the replicas. A "hashtable" hash has no order to keep
// (Redis's dict has its own) and is visited in FieldMap order. A listpack hash whose names
// pass kMaxHashOrderBytes (only with hash-max-listpack-* raised far past their defaults)
// drops its order for good: empty meta, FieldMap order. So does a hash written before
// devstate kept the order.
inline constexpr char kHashOrderTag = '\x01';
inline constexpr size_t kMaxHashOrderBytes = 64 * 1024;
inline bool HasHashOrder(std::string_view meta) {
  return !meta.empty() && meta[0] == kHashOrderTag;
}
// Adds `name` last to `meta`'s order (drops the order past kMaxHashOrderBytes).
inline void AppendHashOrder(std::string* meta, std::string_view name) {
  if (!HasHashOrder(*meta)) return;
  if (meta->size() + name.size() + 10 > kMaxHashOrderBytes) return meta->clear();
  PutLengthPrefixed(meta, name);
}
inline void EraseHashOrder(std::string* meta, std::string_view name) {
  if (!HasHashOrder(*meta)) return;
  std::string_view rest(*meta);
  rest.remove_prefix(1);
  std::string_view n;
  for (size_t at = 1; GetLengthPrefixed(&rest, &n); at = meta->size() - rest.size()) {
    if (n == name) return void(meta->erase(at, meta->size() - rest.size() - at));
  }
}
// Visits a hash's fields: a listpack's in insertion order, another's in FieldMap order.
inline void ForEachHashField(const Record& hash, const FieldMap::FieldFn& fn) {
  std::string_view order = hash.meta();
  if (!HasHashOrder(order)) return hash.fields()->ForEach(fn);
  order.remove_prefix(1);
  std::string_view name;
  while (GetLengthPrefixed(&order, &name)) {
    if (const auto value = hash.fields()->Find(name)) fn(name, *value);
  }
}

// Whether Redis would keep `set` as an intset (OBJECT ENCODING; SSCAN returns it whole; its
// members are answered in numeric order): `meta` is "hashtable" once a member was not an
// integer or the set outgrew set-max-intset-entries (`max_entries`).
inline bool IsIntset(const Record& set, size_t max_entries) {
  return set.meta() != kHashtableMeta && set.fields()->size() <= max_entries;
}

// Whether Redis would keep `zset` as a listpack (OBJECT ENCODING; ZSCAN returns it whole):
// `meta` is "skiplist" once a member was longer than zset-max-listpack-value or the set
// outgrew zset-max-listpack-entries.
inline constexpr std::string_view kSkiplistMeta = "skiplist";
inline bool IsListpackZset(const Record& zset, const ServerState& server) {
  return zset.meta() != kSkiplistMeta && zset.fields()->size() <= server.zset_max_listpack_entries;
}
// A score as a sorted set's encoding keeps it: a listpack stores scores as text, which
// reads -0 back as 0; a skiplist keeps -0.
inline double KeptScore(double score, bool listpack) {
  return listpack && score == 0 ? 0.0 : score;
}
// A sorted-set record of `size` members, `at(i)` giving the i-th as (member, score),
// encoded as Redis's zsetTypeCreate chooses for that many members that long (the *STORE
// results, RESTORE); null when there are none.
template <typename At>
RecordPtr MakeZset(size_t size, At at, size_t max_entries, size_t max_value,
                   int64_t expire_at_ms = 0) {
  if (size == 0) return nullptr;
  size_t longest = 0;
  for (size_t i = 0; i < size; ++i) longest = std::max(longest, at(i).first.size());
  const bool listpack = size <= max_entries && longest <= max_value;
  auto fields = std::make_shared<FieldMap>(FieldMap::Scored());
  for (size_t i = 0; i < size; ++i) {
    const auto [member, score] = at(i);
    fields->Set(member, FieldMap::ScoreValue(KeptScore(score, listpack)));
  }
  return Record::Make({.type = kZsetRecordType,
                       .expire_at_ms = expire_at_ms,
                       .meta = listpack ? std::string_view() : kSkiplistMeta,
                       .fields = std::move(fields)});
}

// The clock a command reads: the transaction's inside an EXEC, else the service's.
inline int64_t Now(Call& call) { return call.view ? call.view->NowMs() : call.service().NowMs(); }

inline constexpr std::string_view kWrongTypeError =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
// What Redis's string commands accept: a plain string, or a device record (its state).
inline bool IsString(const Record& r) { return RedisTypeName(r.type()) == "string"; }

// A write command on a device record: its state changes only by the events it merges.
inline std::string DeviceRecordError(std::string_view key) {
  return fmt::format("ERR '{}' is a device record: send it an event (HTTP or MQTT) to change it",
                     key);
}
// Why an in-place string edit (APPEND SETRANGE SETBIT) may not change `current`, or empty
// when it may (absent, or a plain string): another type, or a device record.
inline std::string StringEditError(const RecordPtr& current, std::string_view key) {
  if (current && !IsString(*current)) return std::string(kWrongTypeError);
  if (current && current->type() == kDeviceRecordType) return DeviceRecordError(key);
  return {};
}
// The arguments after the key, moved out (the key stays: the commit's routing reads it).
inline std::vector<std::string> TakeArgsAfterKey(Call& call) {
  return {std::make_move_iterator(call.args.begin() + 2), std::make_move_iterator(call.args.end())};
}

inline constexpr std::string_view kSyntaxError = "ERR syntax error";

// HRANDFIELD's and SRANDMEMBER's picks among `size` (> 0) elements, as Redis 7.0 makes
// them: a positive count picks distinct ones (at most all), a negative one |count| that
// may repeat, at most as many as a request may carry arguments (limits.max_multibulk), so
// a reply is never built without bound. False when refused (the error is replied).
inline bool RandomPicks(Call& call, size_t size, int64_t count, std::vector<size_t>* picked) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  if (count < 0) {
    const auto n = static_cast<uint64_t>(-count);
    if (n > call.server.limits.parser.max_multibulk) {
      call.reply.Error(fmt::format("ERR count is larger than devstate answers ({})",
                                   call.server.limits.parser.max_multibulk));
      return false;
    }
    std::uniform_int_distribution<size_t> pick(0, size - 1);
    for (uint64_t i = 0; i < n; ++i) picked->push_back(pick(rng));
  } else if (static_cast<uint64_t>(count) >= size) {
    for (size_t i = 0; i < size; ++i) picked->push_back(i);
  } else {
    // Distinct: a partial shuffle.
    std::vector<size_t> order(size);
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
      std::uniform_int_distribution<size_t> pick(i, order.size() - 1);
      std::swap(order[i], order[pick(rng)]);
      picked->push_back(order[i]);
    }
  }
  return true;
}

inline constexpr std::string_view kNotIntegerError = "ERR value is not an integer or out of range";

// HRANDFIELD's, SRANDMEMBER's and ZRANDMEMBER's `key [count [<with>]]`, checked in Redis
// 7.0's order: the count (never INT64_MIN), then the optional word (`with`, e.g.
// "withvalues"; empty for SRANDMEMBER, which takes none), then, with the word, a count
// within +-INT64_MAX/2. False when refused (the error is replied).
struct RandomCount {
  bool given = false;  // a count was passed: the reply is an array
  int64_t count = 1;
  bool with = false;  // the word was passed
};
inline bool ParseRandomCount(Call& call, std::string_view with, RandomCount* out) {
  const size_t max_args = with.empty() ? 3 : 4;
  if (with.empty() && call.args.size() > max_args) {
    call.reply.Error(kSyntaxError);
    return false;
  }
  if (call.args.size() < 3) return true;
  out->given = true;
  if (!ParseInt64(call.args[2], &out->count)) {
    call.reply.Error(kNotIntegerError);
    return false;
  }
  if (out->count == INT64_MIN) {
    call.reply.Error(
        "ERR value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807");
    return false;
  }
  if (call.args.size() > max_args || (call.args.size() == 4 && Lower(call.args[3]) != with)) {
    call.reply.Error(kSyntaxError);
    return false;
  }
  out->with = call.args.size() == 4;
  if (out->with && (out->count < -INT64_MAX / 2 || out->count > INT64_MAX / 2)) {
    call.reply.Error("ERR value is out of range");
    return false;
  }
  return true;
}

// SCAN's and HSCAN's arguments from the cursor on: MATCH, COUNT and (SCAN only) TYPE.
struct ScanArgs {
  uint64_t cursor = 0;
  bool match = false;  // MATCH with a pattern other than "*"
  std::string pattern;
  size_t count = 10;  // at most 100,000 a call
  bool typed = false;
  std::string type;  // lower case
};

// Reads call.args[at] (the cursor) and the options after it, as Redis's scanGenericCommand;
// false when they are invalid (the error is replied).
inline bool ParseScanArgs(Call& call, size_t at, bool with_type, ScanArgs* out) {
  if (!ParseCursor(call.args[at], &out->cursor)) {
    call.reply.Error("ERR invalid cursor");
    return false;
  }
  for (size_t i = at + 1; i < call.args.size(); i += 2) {
    const std::string opt = Lower(call.args[i]);
    int64_t count = 0;
    if (i + 1 >= call.args.size()) {
      call.reply.Error(kSyntaxError);
      return false;
    }
    if (opt == "count") {
      if (!ParseInt64(call.args[i + 1], &count)) {
        call.reply.Error(kNotIntegerError);
        return false;
      }
      if (count < 1) {
        call.reply.Error(kSyntaxError);
        return false;
      }
      out->count = static_cast<size_t>(std::min<int64_t>(count, 100000));
    } else if (opt == "match") {
      out->pattern = call.args[i + 1];
      out->match = out->pattern != "*";
    } else if (opt == "type" && with_type) {
      out->type = Lower(call.args[i + 1]);
      out->typed = true;
    } else {
      call.reply.Error(kSyntaxError);
      return false;
    }
  }
  return true;
}

// An expiry argument as Redis's getExpireMillisecondsOrReply reads it: a positive number
// (seconds or milliseconds), relative to now unless `absolute`. Empty `error` when valid.
inline int64_t ExpireAt(std::string_view text, bool seconds, bool absolute, int64_t now,
                        std::string_view command, std::string* error) {
  int64_t v = 0;
  if (!ParseInt64(text, &v)) {
    *error = kNotIntegerError;
    return 0;
  }
  const std::string invalid = fmt::format("ERR invalid expire time in '{}' command", command);
  if (v <= 0 || (seconds && v > INT64_MAX / 1000)) {
    *error = invalid;
    return 0;
  }
  if (seconds) v *= 1000;
  if (!absolute) {
    if (v > INT64_MAX - now) {
      *error = invalid;
      return 0;
    }
    v += now;
  }
  return v;
}

// Peek reads a key without marking it used: the reads Redis makes without touching (TYPE,
// TTL and its kin, EXISTS, OBJECT, MEMORY USAGE). Live also marks it used now (OBJECT
// IDLETIME).
inline RecordPtr Peek(Call& call, std::string_view key) {
  RecordPtr r = call.view != nullptr ? call.view->Get(key) : call.service().Get(key);
  (r ? call.server.keyspace_hits : call.server.keyspace_misses)
      .fetch_add(1, std::memory_order_relaxed);
  return r;
}
inline RecordPtr Live(Call& call, std::string_view key) {
  RecordPtr r = Peek(call, key);
  if (r) r->Touch();
  return r;
}

// The record at `key` as a read of a `type` command sees it (null when absent): false,
// and WRONGTYPE replied, when the key holds another type.
inline bool ReadTyped(Call& call, std::string_view key, uint8_t type, RecordPtr* r) {
  *r = Live(call, key);
  if (*r && (*r)->type() != type) {
    call.reply.Error(kWrongTypeError);
    return false;
  }
  return true;
}

// -MOVED to the primary for a key's slot when the primary is known, else -READONLY.
inline std::string NotPrimaryError(DeviceService& service, int slot, const Status& s) {
  if (slot >= 0) {
    const RoleView role = service.Role();
    if (!role.primary && role.primary_port != 0)
      return "MOVED " + std::to_string(slot) + " " + role.primary_host + ":" +
             std::to_string(role.primary_port);
  }
  return StoreError(s);
}

// What LMPOP, ZMPOP and their blocking forms take from args[at] on: numkeys key [key ...]
// A|B [COUNT count], where A|B is LEFT|RIGHT or MIN|MAX; *first says A was given. False
// (and the error replied) when the arguments are not that.
inline bool ParseMultiPop(Call& call, size_t at, std::string_view a, std::string_view b,
                          std::vector<std::string>* keys, bool* first, int64_t* count) {
  int64_t numkeys = 0;
  if (!ParseInt64(call.args[at], &numkeys) || numkeys < 1) {
    call.reply.Error("ERR numkeys should be greater than 0");
    return false;
  }
  if (static_cast<uint64_t>(numkeys) >= call.args.size() - at - 1) {
    call.reply.Error(kSyntaxError);
    return false;
  }
  const size_t where_at = at + 1 + static_cast<size_t>(numkeys);
  *first = EqualsNoCase(call.args[where_at], a);
  if (!*first && !EqualsNoCase(call.args[where_at], b)) {
    call.reply.Error(kSyntaxError);
    return false;
  }
  *count = -1;
  for (size_t j = where_at + 1; j < call.args.size(); ++j) {
    if (*count == -1 && j + 1 < call.args.size() && EqualsNoCase(call.args[j], "count")) {
      ++j;
      if (!ParseInt64(call.args[j], count) || *count < 1) {
        call.reply.Error("ERR count should be greater than 0");
        return false;
      }
    } else {
      call.reply.Error(kSyntaxError);
      return false;
    }
  }
  if (*count == -1) *count = 1;
  keys->assign(call.args.begin() + static_cast<ptrdiff_t>(at + 1),
               call.args.begin() + static_cast<ptrdiff_t>(where_at));
  return true;
}

// A write's failure as the client hears it: -MOVED for a primary that stepped down when
// the key's `slot` (-1: none) has a known primary, else the store's error.
inline void WriteFailure(ReplyWriter& w, DeviceService& service, int slot, const Status& s) {
  w.Error(s.code() == Status::Code::kNotPrimary ? NotPrimaryError(service, slot, s)
                                                : StoreError(s));
}

// The members of a set record in the order SMEMBERS answers them (cmd_set.cc): numeric
// for what Redis keeps as an intset.
std::vector<std::string_view> SetMembers(const Record& set, size_t max_intset);

// The slot of the command's first key, -1 when it has none.
inline int FirstKeySlot(const Call& call) {
  int slot = -1;
  if (call.spec != nullptr) {
    ForEachKeyIndex(*call.spec, call.args, [&](int i) {
      slot = KeySlot(call.args[static_cast<size_t>(i)]);
      return false;
    });
  }
  return slot;
}

// Keyspace notifications (notify.h): only while they are on, `mutations` are recorded
// (their changes, in the log returned) for the events `command`'s row of notify.cc raises.
inline std::shared_ptr<ChangeLog> TrackEvents(Notifier& notifier, std::string_view command,
                                              std::vector<Mutation>* mutations) {
  if ((notifier.flags() & (Notifier::kKeyspace | Notifier::kKeyevent)) == 0 ||
      !RaisesEvents(command)) {
    return nullptr;
  }
  auto log = std::make_shared<ChangeLog>();
  log->track_new = (notifier.flags() & Notifier::kNew) != 0;
  for (Mutation& m : *mutations) m = Recorded(std::move(m), log);
  return log;
}

// `events`: the row of notify.cc's table whose events the write raises, when not the
// command's own name (LMOVE's depend on its arguments).
template <typename Answer>
void Commit(Call& call, std::vector<Mutation> mutations, Answer answer,
            std::string_view events = {}) {
  const std::string_view command = !events.empty()        ? events
                                   : call.spec != nullptr ? call.spec->name
                                                          : std::string_view();
  std::shared_ptr<ChangeLog> log = TrackEvents(call.service().notifier(), command, &mutations);
  if (call.view != nullptr) {
    for (Mutation& m : mutations) ApplyTo(m, *call.view);
    if (log && call.exec_events != nullptr) EventsOf(command, log->changes, call.exec_events);
    return answer(call.reply);
  }
  // A write refused because this node stopped being primary while it waited (FAILOVER) is
  // sent after the primary, as Dispatch sends the writes that arrive after.
  const int slot = FirstKeySlot(call);
  CommandStats* stats = call.spec != nullptr ? call.spec->stats.get() : nullptr;
  auto finish = [respond = call.defer(), protocol = call.protocol(),
                 errors = &call.server.error_replies, service = &call.service(), slot,
                 answer = std::move(answer), log = std::move(log), command,
                 stats](const Status& s) mutable {
    std::string out;
    ReplyWriter w(&out, protocol, errors);
    if (!s.ok()) {
      WriteFailure(w, *service, slot, s);
      if (stats != nullptr) stats->failed.fetch_add(1, std::memory_order_relaxed);
    } else {
      answer(w);
      if (w.errors_written() > 0 && stats != nullptr) {
        stats->failed.fetch_add(1, std::memory_order_relaxed);
      }
      if (log) {
        std::vector<KeyEvent> events;
        EventsOf(command, log->changes, &events);
        Send(service->notifier(), events);
      }
    }
    respond(std::move(out));
  };
  if (call.batch != nullptr) {
    for (Mutation& m : mutations) call.batch->mutations.push_back(std::move(m));
    call.batch->finishers.push_back(std::move(finish));
    return;
  }
  call.service().Write(std::move(mutations), [finish = std::move(finish)](
                                                 const Status& s, uint64_t) mutable { finish(s); });
}

// A reply that a command decides off its connection's thread, after work that may not
// run on an event loop (MIGRATE's round trip to its target). Made where the command runs,
// it takes the reply's place in the connection's order; then Answer or Commit, once, from
// any thread.
class LateReply {
 public:
  explicit LateReply(Call& call)
      : respond_(call.defer()),
        protocol_(call.protocol()),
        errors_(&call.server.error_replies),
        service_(&call.service()),
        slot_(FirstKeySlot(call)) {}

  using AnswerFn = std::function<void(ReplyWriter&)>;

  void Answer(const AnswerFn& answer) const {
    std::string out;
    ReplyWriter w(&out, protocol_, errors_);
    answer(w);
    respond_(std::move(out));
  }

  // Commits `mutations` as Commit does (`events`: the row of notify.cc they raise), then
  // answers with `answer`, or with the write's failure.
  void Commit(std::vector<Mutation> mutations, AnswerFn answer, std::string_view events) const {
    std::shared_ptr<ChangeLog> log = TrackEvents(service_->notifier(), events, &mutations);
    service_->Write(std::move(mutations),
                    [self = *this, answer = std::move(answer), log = std::move(log), events](
                        const Status& s, uint64_t) {
                      self.Answer([&](ReplyWriter& w) {
                        if (!s.ok()) return WriteFailure(w, *self.service_, self.slot_, s);
                        answer(w);
                        if (!log) return;
                        std::vector<KeyEvent> raised;
                        EventsOf(events, log->changes, &raised);
                        Send(self.service_->notifier(), raised);
                      });
                    });
  }

 private:
  Responder respond_;
  int protocol_;
  ErrorReplies* errors_;
  DeviceService* service_;
  int slot_;
};

}  // namespace devstate::resp
