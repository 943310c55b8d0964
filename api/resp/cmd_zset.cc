// Sorted sets, as Redis 7.0 defines them: ZADD (NX XX GT LT CH INCR) ZINCRBY ZREM ZCARD
// ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT ZRANGE (BYSCORE BYLEX REV LIMIT
// WITHSCORES) ZRANGEBYSCORE ZREVRANGEBYSCORE ZREVRANGE ZRANGEBYLEX ZREVRANGEBYLEX ZPOPMIN
// ZPOPMAX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZRANDMEMBER ZSCAN. Not offered:
// the blocking pops, ZMPOP, ZRANGESTORE and the ZUNION/ZINTER/ZDIFF family.
//
// A sorted set is a composite record whose fields are scored (store/fields.h): member ->
// score, journaled one member per change (ZADD of one member journals that member), kept
// in memory a second time in (score, name) order with counts, so ZRANK and a range from
// a rank cost O(log n) plus what they return. Within one commit group later writes reuse
// the group's copy, as a hash's do. Encoding: "listpack" while the set is within
// zset-max-listpack-entries and no member was longer than zset-max-listpack-value, then
// "skiplist" for good (kept in `meta`), as Redis converts it. A set left empty is deleted.
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>

#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/text.h"

namespace devstate::resp {
namespace {

constexpr std::string_view kSkiplistMeta = "skiplist";
constexpr std::string_view kNotFloatError = "ERR value is not a valid float";
constexpr std::string_view kNanError = "ERR resulting score is not a number (NaN)";

bool ReadZset(Call& call, const std::string& key, RecordPtr* r) {
  *r = Live(call, key);
  if (*r && (*r)->type() != kZsetRecordType) {
    call.reply.Error(kWrongTypeError);
    return false;
  }
  return true;
}

std::optional<double> ScoreOf(const FieldMap& members, std::string_view member) {
  const auto value = members.Find(member);
  if (!value) return std::nullopt;
  return FieldMap::ScoreOf(*value);
}

// A sorted set as one write changes it: its members (a copy, or the group's own: EditFn),
// changed, each change named for the journal.
class ZsetEdit {
 public:
  ZsetEdit(const RecordPtr& current, bool reusable, size_t max_entries, size_t max_value)
      : fields_(current ? FieldsForEdit(current, reusable)
                        : std::make_shared<FieldMap>(FieldMap::Scored())),
        max_entries_(max_entries),
        max_value_(max_value) {
    if (current) {
      expire_at_ms_ = current->expire_at_ms();
      meta_ = current->meta();
    }
  }

  const FieldMap& members() const { return *fields_; }
  std::optional<double> Score(std::string_view member) const { return ScoreOf(*fields_, member); }

  // True when the member is new.
  bool Put(std::string_view member, double score) {
    if (member.size() > max_value_) meta_ = kSkiplistMeta;
    // A listpack keeps a score as text that reads back -0 as 0 (a skiplist keeps -0).
    const size_t size = fields_->size() + (fields_->Find(member) ? 0 : 1);
    if (score == 0 && meta_ != kSkiplistMeta && size <= max_entries_) score = 0;
    std::string value = FieldMap::ScoreValue(score);
    const bool added = fields_->Set(member, value);
    ops_.push_back({std::string(member), std::move(value), false});
    return added;
  }
  bool Remove(std::string_view member) {
    if (!fields_->Erase(member)) return false;
    ops_.push_back({std::string(member), {}, true});
    return true;
  }

  Change Finish() {
    if (ops_.empty()) return Change::None();
    if (fields_->empty()) return Change::Delete();
    if (fields_->size() > max_entries_) meta_ = kSkiplistMeta;
    RecordPtr record = Record::Make({.type = kZsetRecordType,
                                     .expire_at_ms = expire_at_ms_,
                                     .meta = meta_,
                                     .fields = std::move(fields_)});
    return Change::Patch(std::move(record), std::move(ops_));
  }

 private:
  int64_t expire_at_ms_ = 0;
  std::string meta_;
  std::shared_ptr<FieldMap> fields_;
  size_t max_entries_;
  size_t max_value_;
  std::vector<FieldOp> ops_;
};

struct Scored {
  std::string member;
  double score = 0;
};

struct Outcome {
  std::string error;
  int64_t integer = 0;
  std::optional<double> score;  // ZADD INCR / ZINCRBY: null when nothing was done
  std::vector<Scored> popped;
};

// Runs `edit` on the key's sorted set inside the commit group; replies with the outcome.
// An edit decides (and fails) before it changes anything.
template <typename Edit, typename Reply>
void EditZset(Call& call, Edit edit, Reply reply, std::string_view events = {}) {
  auto out = std::make_shared<Outcome>();
  const size_t entries = call.server.zset_max_listpack_entries.load();
  const size_t value = call.server.zset_max_listpack_value.load();
  Mutation m = Mutation::Edit(call.args[1], [edit = std::move(edit), out, entries, value](
                                                const RecordPtr& current, bool reusable) mutable {
    if (current && current->type() != kZsetRecordType) {
      out->error = kWrongTypeError;
      return Change::None();
    }
    ZsetEdit z(current, reusable, entries, value);
    edit(z, *out);
    return z.Finish();
  });
  Commit(
      call, {std::move(m)},
      [out, reply = std::move(reply)](ReplyWriter& w) {
        if (!out->error.empty()) return w.Error(out->error);
        reply(w, *out);
      },
      events);
}

// --- Ranges -------------------------------------------------------------------------------

// A score bound: "(" makes it exclusive; "inf", "+inf", "-inf" as strtod reads them.
bool ParseScoreBound(std::string_view text, double* value, bool* exclusive) {
  *exclusive = !text.empty() && text[0] == '(';
  if (*exclusive) text.remove_prefix(1);
  // Redis reads bounds with strtod: unlike a score argument, an empty one is refused too.
  return ParseDouble(text, value);
}

struct ScoreRange {
  double min = 0, max = 0;
  bool min_exclusive = false, max_exclusive = false;
};

bool ParseScoreRange(std::string_view min, std::string_view max, ScoreRange* range) {
  return ParseScoreBound(min, &range->min, &range->min_exclusive) &&
         ParseScoreBound(max, &range->max, &range->max_exclusive);
}

// A lex bound: "-" and "+" (the ends), "[x" inclusive, "(x" exclusive.
struct LexBound {
  enum class Kind { kMin, kMax, kInclusive, kExclusive } kind = Kind::kMin;
  std::string name;
};

bool ParseLexBound(std::string_view text, LexBound* bound) {
  if (text == "-") {
    bound->kind = LexBound::Kind::kMin;
  } else if (text == "+") {
    bound->kind = LexBound::Kind::kMax;
  } else if (!text.empty() && (text[0] == '[' || text[0] == '(')) {
    bound->kind = text[0] == '[' ? LexBound::Kind::kInclusive : LexBound::Kind::kExclusive;
    bound->name = std::string(text.substr(1));
  } else {
    return false;
  }
  return true;
}

// Ranks [begin, end) of a sorted set, in forward order.
struct RankSpan {
  size_t begin = 0, end = 0;
  size_t size() const { return end > begin ? end - begin : 0; }
};

RankSpan ScoreSpan(const FieldMap& m, const ScoreRange& r) {
  RankSpan s;
  s.begin = r.min_exclusive ? m.RankThrough(r.min) : m.RankBefore(r.min, {});
  s.end = r.max_exclusive ? m.RankBefore(r.max, {}) : m.RankThrough(r.max);
  return s;
}

// Lex ranges assume, as Redis's do, that every member has the same score: the positions
// are taken among the members of the first member's score.
RankSpan LexSpan(const FieldMap& m, const LexBound& min, const LexBound& max) {
  RankSpan s;
  if (m.empty()) return s;
  double score = 0;
  m.WalkRanks(0, false, [&](std::string_view, double sc) {
    score = sc;
    return false;
  });
  auto position = [&](const LexBound& b, bool is_min) -> size_t {
    switch (b.kind) {
      case LexBound::Kind::kMin:
        return 0;
      case LexBound::Kind::kMax:
        return m.size();
      case LexBound::Kind::kInclusive:
        return is_min ? m.RankBefore(score, b.name) : m.RankBefore(score, b.name + '\0');
      case LexBound::Kind::kExclusive:
        return is_min ? m.RankBefore(score, b.name + '\0') : m.RankBefore(score, b.name);
    }
    return 0;
  };
  s.begin = position(min, true);
  s.end = position(max, false);
  return s;
}

// Redis's rank arguments: negative from the end, clamped; empty when start > stop.
RankSpan RankArgs(int64_t start, int64_t stop, size_t size) {
  const auto n = static_cast<int64_t>(size);
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0) start = 0;
  if (start > stop || start >= n) return {};
  if (stop >= n) stop = n - 1;
  return {static_cast<size_t>(start), static_cast<size_t>(stop) + 1};
}

// The members in `span`, from its first (reverse: its last), after skipping `offset`, at
// most `limit` of them (negative: all).
std::vector<Scored> Take(const FieldMap& m, RankSpan span, bool reverse, int64_t offset = 0,
                         int64_t limit = -1) {
  std::vector<Scored> out;
  if (offset < 0 || span.size() == 0 || static_cast<uint64_t>(offset) >= span.size()) return out;
  size_t n = span.size() - static_cast<size_t>(offset);
  if (limit >= 0) n = std::min(n, static_cast<size_t>(limit));
  if (n == 0) return out;
  out.reserve(n);
  const size_t from = reverse ? span.end - 1 - static_cast<size_t>(offset)
                              : span.begin + static_cast<size_t>(offset);
  m.WalkRanks(from, reverse, [&](std::string_view member, double score) {
    out.push_back({std::string(member), score});
    return out.size() < n;
  });
  return out;
}

// Members with or without their scores: RESP2 flat, RESP3 pairs (as Redis 7.0's ZRANGE).
void ReplyScored(ReplyWriter& w, const std::vector<Scored>& items, bool with_scores) {
  const bool pairs = with_scores && w.protocol() == 3;
  w.Array(with_scores && !pairs ? items.size() * 2 : items.size());
  for (const Scored& s : items) {
    if (pairs) w.Array(2);
    w.Bulk(s.member);
    if (with_scores) w.Double(s.score);
  }
}

// --- Writes -------------------------------------------------------------------------------

struct ZaddArgs {
  bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
  std::vector<std::pair<double, std::string>> pairs;
};

// ZADD's flags and pairs, checked in Redis's order; false when refused (replied).
bool ParseZadd(Call& call, bool incr, ZaddArgs* a) {
  a->incr = incr;
  size_t i = 2;
  for (; i < call.args.size(); ++i) {
    const std::string opt = Lower(call.args[i]);
    if (opt == "nx")
      a->nx = true;
    else if (opt == "xx")
      a->xx = true;
    else if (opt == "gt")
      a->gt = true;
    else if (opt == "lt")
      a->lt = true;
    else if (opt == "ch")
      a->ch = true;
    else if (opt == "incr")
      a->incr = true;
    else
      break;
  }
  const size_t rest = call.args.size() - i;
  if (rest == 0 || rest % 2 != 0) {
    call.reply.Error(kSyntaxError);
    return false;
  }
  if (a->nx && a->xx) {
    call.reply.Error("ERR XX and NX options at the same time are not compatible");
    return false;
  }
  if ((a->gt && a->nx) || (a->lt && a->nx) || (a->gt && a->lt)) {
    call.reply.Error("ERR GT, LT, and/or NX options at the same time are not compatible");
    return false;
  }
  if (a->incr && rest > 2) {
    call.reply.Error("ERR INCR option supports a single increment-element pair");
    return false;
  }
  for (; i < call.args.size(); i += 2) {
    double score = 0;
    if (!ParseDouble(call.args[i], &score)) {
      call.reply.Error(kNotFloatError);
      return false;
    }
    a->pairs.emplace_back(score, std::move(call.args[i + 1]));
  }
  return true;
}

// zsetAdd's rules for one pair: what it does, the reply's counts, the new score.
void Add(ZsetEdit& z, const ZaddArgs& a, double score, const std::string& member, Outcome& out) {
  const std::optional<double> current = z.Score(member);
  if (current) {
    if (a.nx) return;
    double updated = score;
    if (a.incr) {
      updated = *current + score;
      if (std::isnan(updated)) {
        out.error = kNanError;
        return;
      }
    }
    if ((a.gt && updated <= *current) || (a.lt && updated >= *current)) return;
    out.score = updated;
    if (updated != *current) {
      z.Put(member, updated);
      if (a.ch) ++out.integer;
    }
    return;
  }
  if (a.xx) return;
  z.Put(member, score);
  out.score = score;
  ++out.integer;
}

void Zadd(Call& call, bool incr_command) {
  ZaddArgs a;
  if (!ParseZadd(call, incr_command, &a)) return;
  const bool incr = a.incr;
  EditZset(
      call,
      [a = std::move(a)](ZsetEdit& z, Outcome& out) {
        for (const auto& [score, member] : a.pairs) {
          Add(z, a, score, member, out);
          if (!out.error.empty()) return;
        }
      },
      [incr](ReplyWriter& w, const Outcome& out) {
        if (!incr) return w.Integer(out.integer);
        if (!out.score) return w.Null();
        w.Double(*out.score);
      },
      incr ? "zincrby" : "zadd");
}

void CmdZadd(Call& call) { Zadd(call, false); }

// ZINCRBY key increment member: ZADD INCR with its own arity.
void CmdZincrby(Call& call) {
  double by = 0;
  if (!ParseDouble(call.args[2], &by)) return call.reply.Error(kNotFloatError);
  ZaddArgs a;
  a.incr = true;
  a.pairs.emplace_back(by, std::move(call.args[3]));
  EditZset(
      call,
      [a = std::move(a)](ZsetEdit& z, Outcome& out) {
        Add(z, a, a.pairs[0].first, a.pairs[0].second, out);
      },
      [](ReplyWriter& w, const Outcome& out) { w.Double(out.score.value_or(0)); });
}

void CmdZrem(Call& call) {
  EditZset(
      call,
      [members = TakeArgsAfterKey(call)](ZsetEdit& z, Outcome& out) {
        for (const std::string& m : members) out.integer += z.Remove(m) ? 1 : 0;
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

// ZPOPMIN / ZPOPMAX key [count]: without a count one pair, flat; with one, RESP3 pairs.
void Zpop(Call& call, bool max) {
  if (call.args.size() > 3) return call.reply.Error(kSyntaxError);
  const bool with_count = call.args.size() == 3;
  int64_t count = 1;
  if (with_count) {
    if (!ParseInt64(call.args[2], &count)) return call.reply.Error(kNotIntegerError);
    if (count < 0) return call.reply.Error("ERR value is out of range, must be positive");
  }
  EditZset(
      call,
      [count, max](ZsetEdit& z, Outcome& out) {
        const FieldMap& m = z.members();
        out.popped = Take(m, {0, m.size()}, max, 0, count);
        for (const Scored& s : out.popped) z.Remove(s.member);
      },
      [with_count](ReplyWriter& w, const Outcome& out) {
        const bool pairs = with_count && w.protocol() == 3;
        w.Array(pairs ? out.popped.size() : out.popped.size() * 2);
        for (const Scored& s : out.popped) {
          if (pairs) w.Array(2);
          w.Bulk(s.member);
          w.Double(s.score);
        }
      });
}

void CmdZpopmin(Call& call) { Zpop(call, false); }
void CmdZpopmax(Call& call) { Zpop(call, true); }

// ZREMRANGEBYRANK / BYSCORE / BYLEX key a b: the members in the range removed, counted.
enum class RangeKind { kRank, kScore, kLex };

void Zremrange(Call& call, RangeKind kind) {
  int64_t start = 0, stop = 0;
  ScoreRange scores;
  LexBound min, max;
  switch (kind) {
    case RangeKind::kRank:
      if (!ParseInt64(call.args[2], &start) || !ParseInt64(call.args[3], &stop))
        return call.reply.Error(kNotIntegerError);
      break;
    case RangeKind::kScore:
      if (!ParseScoreRange(call.args[2], call.args[3], &scores))
        return call.reply.Error("ERR min or max is not a float");
      break;
    case RangeKind::kLex:
      if (!ParseLexBound(call.args[2], &min) || !ParseLexBound(call.args[3], &max))
        return call.reply.Error("ERR min or max not valid string range item");
      break;
  }
  EditZset(
      call,
      [=](ZsetEdit& z, Outcome& out) {
        const FieldMap& m = z.members();
        const RankSpan span = kind == RangeKind::kRank    ? RankArgs(start, stop, m.size())
                              : kind == RangeKind::kScore ? ScoreSpan(m, scores)
                                                          : LexSpan(m, min, max);
        for (const Scored& s : Take(m, span, false)) out.integer += z.Remove(s.member) ? 1 : 0;
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

void CmdZremrangebyrank(Call& call) { Zremrange(call, RangeKind::kRank); }
void CmdZremrangebyscore(Call& call) { Zremrange(call, RangeKind::kScore); }
void CmdZremrangebylex(Call& call) { Zremrange(call, RangeKind::kLex); }

// --- Reads --------------------------------------------------------------------------------

void CmdZcard(Call& call) {
  RecordPtr r;
  if (!ReadZset(call, call.args[1], &r)) return;
  call.reply.Integer(r ? static_cast<int64_t>(r->fields()->size()) : 0);
}

void CmdZscore(Call& call) {
  RecordPtr r;
  if (!ReadZset(call, call.args[1], &r)) return;
  const std::optional<double> score = r ? ScoreOf(*r->fields(), call.args[2]) : std::nullopt;
  if (!score) return call.reply.Null();
  call.reply.Double(*score);
}

void CmdZmscore(Call& call) {
  RecordPtr r;
  if (!ReadZset(call, call.args[1], &r)) return;
  call.reply.Array(call.args.size() - 2);
  for (size_t i = 2; i < call.args.size(); ++i) {
    const std::optional<double> score = r ? ScoreOf(*r->fields(), call.args[i]) : std::nullopt;
    if (score) {
      call.reply.Double(*score);
    } else {
      call.reply.Null();
    }
  }
}

void Zrank(Call& call, bool reverse) {
  RecordPtr r;
  if (!ReadZset(call, call.args[1], &r)) return;
  const std::optional<double> score = r ? ScoreOf(*r->fields(), call.args[2]) : std::nullopt;
  if (!score) return call.reply.Null();
  const size_t rank = r->fields()->RankBefore(*score, call.args[2]);
  call.reply.Integer(static_cast<int64_t>(reverse ? r->fields()->size() - 1 - rank : rank));
}

void CmdZrank(Call& call) { Zrank(call, false); }
void CmdZrevrank(Call& call) { Zrank(call, true); }

void CmdZcount(Call& call) {
  ScoreRange range;
  if (!ParseScoreRange(call.args[2], call.args[3], &range))
    return call.reply.Error("ERR min or max is not a float");
  RecordPtr r;
  if (!ReadZset(call, call.args[1], &r)) return;
  call.reply.Integer(r ? static_cast<int64_t>(ScoreSpan(*r->fields(), range).size()) : 0);
}

void CmdZlexcount(Call& call) {
  LexBound min, max;
  if (!ParseLexBound(call.args[2], &min) || !ParseLexBound(call.args[3], &max))
    return call.reply.Error("ERR min or max not valid string range item");
  RecordPtr r;
  if (!ReadZset(call, call.args[1], &r)) return;
  call.reply.Integer(r ? static_cast<int64_t>(LexSpan(*r->fields(), min, max).size()) : 0);
}

// ZRANGE and its older forms, as zrangeGenericCommand: `kind` and `reverse` fixed by the
// older commands, chosen by BYSCORE/BYLEX/REV for ZRANGE itself (`chosen`).
void Zrange(Call& call, RangeKind kind, bool reverse, bool chosen) {
  bool with_scores = false, limited = false;
  int64_t offset = 0, limit = -1;
  for (size_t i = 4; i < call.args.size(); ++i) {
    const std::string opt = Lower(call.args[i]);
    const size_t left = call.args.size() - i - 1;
    if (opt == "withscores") {
      with_scores = true;
    } else if (opt == "limit" && left >= 2) {
      if (!ParseInt64(call.args[i + 1], &offset) || !ParseInt64(call.args[i + 2], &limit))
        return call.reply.Error(kNotIntegerError);
      limited = true;
      i += 2;
    } else if (!chosen && opt == "rev") {
      reverse = true;
    } else if (!chosen && kind == RangeKind::kRank && opt == "bylex") {
      kind = RangeKind::kLex;
    } else if (!chosen && kind == RangeKind::kRank && opt == "byscore") {
      kind = RangeKind::kScore;
    } else {
      return call.reply.Error(kSyntaxError);
    }
  }
  if (limited && limit != -1 && kind == RangeKind::kRank) {
    return call.reply.Error(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
  }
  if (with_scores && kind == RangeKind::kLex)
    return call.reply.Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  // Reversed score and lex ranges are given max first.
  const bool swapped = reverse && kind != RangeKind::kRank;
  const std::string& lo = call.args[swapped ? 3 : 2];
  const std::string& hi = call.args[swapped ? 2 : 3];
  int64_t start = 0, stop = 0;
  ScoreRange scores;
  LexBound min, max;
  switch (kind) {
    case RangeKind::kRank:
      if (!ParseInt64(lo, &start) || !ParseInt64(hi, &stop))
        return call.reply.Error(kNotIntegerError);
      break;
    case RangeKind::kScore:
      if (!ParseScoreRange(lo, hi, &scores))
        return call.reply.Error("ERR min or max is not a float");
      break;
    case RangeKind::kLex:
      if (!ParseLexBound(lo, &min) || !ParseLexBound(hi, &max))
        return call.reply.Error("ERR min or max not valid string range item");
      break;
  }
  RecordPtr r;
  if (!ReadZset(call, call.args[1], &r)) return;
  if (!r) return call.reply.Array(0);
  const FieldMap& m = *r->fields();
  std::vector<Scored> items;
  switch (kind) {
    case RangeKind::kRank: {
      // ZREVRANGE's ranks count from the end.
      RankSpan span = RankArgs(start, stop, m.size());
      if (reverse && span.size() != 0) span = {m.size() - span.end, m.size() - span.begin};
      items = Take(m, span, reverse);
      break;
    }
    case RangeKind::kScore:
      items = Take(m, ScoreSpan(m, scores), reverse, offset, limit);
      break;
    case RangeKind::kLex:
      items = Take(m, LexSpan(m, min, max), reverse, offset, limit);
      break;
  }
  ReplyScored(call.reply, items, with_scores);
}

void CmdZrange(Call& call) { Zrange(call, RangeKind::kRank, false, false); }
void CmdZrevrange(Call& call) { Zrange(call, RangeKind::kRank, true, true); }
void CmdZrangebyscore(Call& call) { Zrange(call, RangeKind::kScore, false, true); }
void CmdZrevrangebyscore(Call& call) { Zrange(call, RangeKind::kScore, true, true); }
void CmdZrangebylex(Call& call) { Zrange(call, RangeKind::kLex, false, true); }
void CmdZrevrangebylex(Call& call) { Zrange(call, RangeKind::kLex, true, true); }

// ZRANDMEMBER key [count [WITHSCORES]], with HRANDFIELD's rules for the count.
void CmdZrandmember(Call& call) {
  int64_t count = 1;
  const bool with_count = call.args.size() >= 3;
  bool with_scores = false;
  if (with_count) {
    if (!ParseInt64(call.args[2], &count)) return call.reply.Error(kNotIntegerError);
    if (count == INT64_MIN) {
      return call.reply.Error(
          "ERR value is out of range, value must between -9223372036854775807 and "
          "9223372036854775807");
    }
    if (call.args.size() > 4 || (call.args.size() == 4 && Lower(call.args[3]) != "withscores"))
      return call.reply.Error(kSyntaxError);
    with_scores = call.args.size() == 4;
    if (with_scores && (count < -INT64_MAX / 2 || count > INT64_MAX / 2))
      return call.reply.Error("ERR value is out of range");
  }
  RecordPtr r;
  if (!ReadZset(call, call.args[1], &r)) return;
  if (!r) return with_count ? call.reply.Array(0) : call.reply.Null();
  if (count == 0) return call.reply.Array(0);
  const std::vector<Scored> all = Take(*r->fields(), {0, r->fields()->size()}, false);
  std::vector<size_t> picked;
  if (!RandomPicks(call, all.size(), count, &picked)) return;
  if (!with_count) return call.reply.Bulk(all[picked[0]].member);
  std::vector<Scored> items;
  items.reserve(picked.size());
  for (size_t i : picked) items.push_back(all[i]);
  ReplyScored(call.reply, items, with_scores);
}

// ZSCAN key cursor [MATCH pattern] [COUNT count]: a listpack-encoded set is returned
// whole, in score order; a larger one by the members' hash order (fields.h's cursor).
void CmdZscan(Call& call) {
  ScanArgs scan;
  if (!ParseScanArgs(call, 2, /*with_type=*/false, &scan)) return;
  RecordPtr r;
  if (!ReadZset(call, call.args[1], &r)) return;
  std::vector<Scored> found;
  uint64_t next = 0;
  if (r) {
    auto take = [&](std::string_view m, double score) {
      if (!scan.match || GlobMatch(scan.pattern, m)) found.push_back({std::string(m), score});
    };
    if (IsListpackZset(*r, call.server)) {
      for (const Scored& s : Take(*r->fields(), {0, r->fields()->size()}, false))
        take(s.member, s.score);
    } else {
      next = r->fields()->Scan(
          scan.cursor, scan.count,
          [&](std::string_view m, std::string_view v) { take(m, FieldMap::ScoreOf(v)); });
    }
  }
  call.reply.Array(2);
  call.reply.Bulk(std::to_string(next));
  call.reply.Array(found.size() * 2);
  for (const Scored& s : found) {
    call.reply.Bulk(s.member);
    call.reply.Bulk(FormatDouble(s.score));
  }
}

}  // namespace

// Flags, key positions and categories follow Redis 7.0's own table.
void AddZsetCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> write_fast = {"write", "sortedset", "fast"};
  const std::vector<std::string_view> write_slow = {"write", "sortedset", "slow"};
  const std::vector<std::string_view> read_fast = {"read", "sortedset", "fast"};
  const std::vector<std::string_view> read_slow = {"read", "sortedset", "slow"};
  const uint32_t w = kWrite | kDenyOom;
  t->insert(
      t->end(),
      {
          {"zadd", -4, w | kFast, 1, 1, 1, write_fast, CmdZadd,
           "Add one or more members to a sorted set, or update its score if it already exists"},
          {"zincrby", 4, w | kFast, 1, 1, 1, write_fast, CmdZincrby,
           "Increment the score of a member in a sorted set"},
          {"zrem", -3, kWrite | kFast, 1, 1, 1, write_fast, CmdZrem,
           "Remove one or more members from a sorted set"},
          {"zpopmin", -2, kWrite | kFast, 1, 1, 1, write_fast, CmdZpopmin,
           "Remove and return members with the lowest scores in a sorted set"},
          {"zpopmax", -2, kWrite | kFast, 1, 1, 1, write_fast, CmdZpopmax,
           "Remove and return members with the highest scores in a sorted set"},
          {"zremrangebyrank", 4, kWrite, 1, 1, 1, write_slow, CmdZremrangebyrank,
           "Remove all members in a sorted set within the given indexes"},
          {"zremrangebyscore", 4, kWrite, 1, 1, 1, write_slow, CmdZremrangebyscore,
           "Remove all members in a sorted set within the given scores"},
          {"zremrangebylex", 4, kWrite, 1, 1, 1, write_slow, CmdZremrangebylex,
           "Remove all members in a sorted set between the given lexicographical range"},
          {"zcard", 2, kReadonly | kFast, 1, 1, 1, read_fast, CmdZcard,
           "Get the number of members in a sorted set"},
          {"zscore", 3, kReadonly | kFast, 1, 1, 1, read_fast, CmdZscore,
           "Get the score associated with the given member in a sorted set"},
          {"zmscore", -3, kReadonly | kFast, 1, 1, 1, read_fast, CmdZmscore,
           "Get the score associated with the given members in a sorted set"},
          {"zrank", 3, kReadonly | kFast, 1, 1, 1, read_fast, CmdZrank,
           "Determine the index of a member in a sorted set"},
          {"zrevrank", 3, kReadonly | kFast, 1, 1, 1, read_fast, CmdZrevrank,
           "Determine the index of a member in a sorted set, with scores ordered from high to low"},
          {"zcount", 4, kReadonly | kFast, 1, 1, 1, read_fast, CmdZcount,
           "Count the members in a sorted set with scores within the given values"},
          {"zlexcount", 4, kReadonly | kFast, 1, 1, 1, read_fast, CmdZlexcount,
           "Count the number of members in a sorted set between a given lexicographical range"},
          {"zrange", -4, kReadonly, 1, 1, 1, read_slow, CmdZrange,
           "Return a range of members in a sorted set"},
          {"zrevrange", -4, kReadonly, 1, 1, 1, read_slow, CmdZrevrange,
           "Return a range of members in a sorted set, by index, with scores ordered from high to "
           "low"},
          {"zrangebyscore", -4, kReadonly, 1, 1, 1, read_slow, CmdZrangebyscore,
           "Return a range of members in a sorted set, by score"},
          {"zrevrangebyscore", -4, kReadonly, 1, 1, 1, read_slow, CmdZrevrangebyscore,
           "Return a range of members in a sorted set, by score, with scores ordered from high "
           "to low"},
          {"zrangebylex", -4, kReadonly, 1, 1, 1, read_slow, CmdZrangebylex,
           "Return a range of members in a sorted set, by lexicographical range"},
          {"zrevrangebylex", -4, kReadonly, 1, 1, 1, read_slow, CmdZrevrangebylex,
           "Return a range of members in a sorted set, by lexicographical range, ordered from "
           "higher to lower strings."},
          {"zrandmember", -2, kReadonly, 1, 1, 1, read_slow, CmdZrandmember,
           "Get one or multiple random elements from a sorted set"},
          {"zscan", -3, kReadonly, 1, 1, 1, read_slow, CmdZscan,
           "Incrementally iterate sorted sets elements and associated scores"},
      });
}

}  // namespace devstate::resp
