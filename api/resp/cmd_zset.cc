// Sorted sets, as Redis 7.0 defines them: ZADD (NX XX GT LT CH INCR) ZINCRBY ZREM ZCARD
// ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT ZRANGE (BYSCORE BYLEX REV LIMIT
// WITHSCORES) ZRANGEBYSCORE ZREVRANGEBYSCORE ZREVRANGE ZRANGEBYLEX ZREVRANGEBYLEX ZPOPMIN
// ZPOPMAX ZMPOP ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZRANDMEMBER ZSCAN
// ZRANGESTORE ZUNION ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD (sets count
// as sorted sets of score 1, as in Redis), and the blocking pops BZPOPMIN BZPOPMAX BZMPOP
// (api/resp/block.h).
//
// A sorted set is a composite record whose fields are scored (store/fields.h): member ->
// score, journaled one member per change (ZADD of one member journals that member), kept
// in memory a second time in (score, name) order with counts, so ZRANK and a range from
// a rank cost O(log n) plus what they return. Within one commit group later writes reuse
// the group's copy, as a hash's do. Encoding: "listpack" while the set is within
// zset-max-listpack-entries and no member was longer than zset-max-listpack-value, then
// "skiplist" for good (kept in `meta`), as Redis converts it. A set left empty is deleted.
#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "api/resp/block.h"
#include "api/resp/commands.h"
#include "api/resp/write.h"
#include "service/text.h"

namespace devstate::resp {
namespace {

constexpr std::string_view kNotFloatError = "ERR value is not a valid float";
constexpr std::string_view kNanError = "ERR resulting score is not a number (NaN)";

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

  // Sets `member`'s score; `exists` says whether it is a member already (the caller has
  // looked it up), which decides the encoding the score is kept in.
  void Put(std::string_view member, double score, bool exists) {
    if (member.size() > max_value_) meta_ = kSkiplistMeta;
    const size_t size = fields_->size() + (exists ? 0 : 1);
    std::string value =
        FieldMap::ScoreValue(KeptScore(score, meta_ != kSkiplistMeta && size <= max_entries_));
    fields_->Set(member, value);
    ops_.push_back({std::string(member), std::move(value), false});
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

// Lex ranges assume, as Redis's do, that the members are in name order along the set's
// order (true when every score is equal): a bound's position is found by a binary search
// over ranks comparing names only, as Redis's skiplist descent compares them.
RankSpan LexSpan(const FieldMap& m, const LexBound& min, const LexBound& max) {
  RankSpan s;
  if (m.empty()) return s;
  auto at_rank = [&](size_t rank) {
    Scored found;
    m.WalkRanks(rank, false, [&](std::string_view n, double score) {
      found = {std::string(n), score};
      return false;
    });
    return found;
  };
  const Scored first = at_rank(0);
  const Scored last = m.size() == 1 ? first : at_rank(m.size() - 1);
  // When every score is equal (the use ZRANGEBYLEX is defined for), the set is in name
  // order and a bound's rank is one descent of the order tree; otherwise a binary search
  // over ranks compares names only, as Redis's skiplist walk does.
  const bool tied = first.score == last.score;
  // The first rank whose member is past `name` (or at it, unless `after`).
  auto first_from = [&](const std::string& name, bool after) {
    if (tied) return m.RankBefore(first.score, after ? name + '\0' : name);
    size_t lo = 0, hi = m.size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      const std::string at = at_rank(mid).member;
      if (after ? at > name : at >= name) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  };
  auto position = [&](const LexBound& b, bool is_min) -> size_t {
    switch (b.kind) {
      case LexBound::Kind::kMin:
        return 0;
      case LexBound::Kind::kMax:
        return m.size();
      case LexBound::Kind::kInclusive:
        return first_from(b.name, !is_min);
      case LexBound::Kind::kExclusive:
        return first_from(b.name, is_min);
    }
    return 0;
  };
  const size_t begin = position(min, true);
  const size_t end = position(max, false);
  // zslIsInLexRange: nothing when the last member is below min or the first above max.
  if (end == 0 || begin == m.size()) return s;
  auto below_min = [&](const std::string& name) {
    return min.kind == LexBound::Kind::kMax ||
           (min.kind == LexBound::Kind::kInclusive && name < min.name) ||
           (min.kind == LexBound::Kind::kExclusive && name <= min.name);
  };
  auto above_max = [&](const std::string& name) {
    return max.kind == LexBound::Kind::kMin ||
           (max.kind == LexBound::Kind::kInclusive && name > max.name) ||
           (max.kind == LexBound::Kind::kExclusive && name >= max.name);
  };
  if (below_min(last.member) || above_max(first.member)) return s;
  s.begin = begin;
  s.end = end;
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

enum class RangeKind { kRank, kScore, kLex };

// A ZRANGE-style query (ZRANGE, its older forms, ZRANGESTORE), as zrangeGenericCommand
// reads one: its bounds, then BYSCORE/BYLEX/REV (for ZRANGE itself: `chosen` is false),
// LIMIT and WITHSCORES (not for a store).
struct RangeQuery {
  RangeKind kind = RangeKind::kRank;
  bool reverse = false;
  bool with_scores = false;
  int64_t offset = 0, limit = -1;
  int64_t start = 0, stop = 0;  // kRank
  ScoreRange scores;            // kScore
  LexBound min, max;            // kLex

  std::vector<Scored> Run(const FieldMap& m) const {
    switch (kind) {
      case RangeKind::kRank: {
        // ZREVRANGE's ranks count from the end.
        RankSpan span = RankArgs(start, stop, m.size());
        if (reverse && span.size() != 0) span = {m.size() - span.end, m.size() - span.begin};
        return Take(m, span, reverse);
      }
      case RangeKind::kScore:
        return Take(m, ScoreSpan(m, scores), reverse, offset, limit);
      case RangeKind::kLex:
        return Take(m, LexSpan(m, min, max), reverse, offset, limit);
    }
    return {};
  }
};

// Reads the bounds at args[bounds] and args[bounds + 1] and the options after them; false
// when they are refused (the error is replied).
bool ParseRangeQuery(Call& call, size_t bounds, bool chosen, bool store, RangeQuery* q) {
  bool limited = false;
  for (size_t i = bounds + 2; i < call.args.size(); ++i) {
    const std::string opt = Lower(call.args[i]);
    const size_t left = call.args.size() - i - 1;
    if (!store && opt == "withscores") {
      q->with_scores = true;
    } else if (opt == "limit" && left >= 2) {
      if (!ParseInt64(call.args[i + 1], &q->offset) || !ParseInt64(call.args[i + 2], &q->limit)) {
        call.reply.Error(kNotIntegerError);
        return false;
      }
      limited = true;
      i += 2;
    } else if (!chosen && opt == "rev") {
      q->reverse = true;
    } else if (!chosen && q->kind == RangeKind::kRank && opt == "bylex") {
      q->kind = RangeKind::kLex;
    } else if (!chosen && q->kind == RangeKind::kRank && opt == "byscore") {
      q->kind = RangeKind::kScore;
    } else {
      call.reply.Error(kSyntaxError);
      return false;
    }
  }
  if (limited && q->limit != -1 && q->kind == RangeKind::kRank) {
    call.reply.Error(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    return false;
  }
  if (q->with_scores && q->kind == RangeKind::kLex) {
    call.reply.Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    return false;
  }
  // Reversed score and lex ranges are given max first.
  const bool swapped = q->reverse && q->kind != RangeKind::kRank;
  const std::string& lo = call.args[bounds + (swapped ? 1 : 0)];
  const std::string& hi = call.args[bounds + (swapped ? 0 : 1)];
  switch (q->kind) {
    case RangeKind::kRank:
      if (!ParseInt64(lo, &q->start) || !ParseInt64(hi, &q->stop)) {
        call.reply.Error(kNotIntegerError);
        return false;
      }
      break;
    case RangeKind::kScore:
      if (!ParseScoreRange(lo, hi, &q->scores)) {
        call.reply.Error("ERR min or max is not a float");
        return false;
      }
      break;
    case RangeKind::kLex:
      if (!ParseLexBound(lo, &q->min) || !ParseLexBound(hi, &q->max)) {
        call.reply.Error("ERR min or max not valid string range item");
        return false;
      }
      break;
  }
  return true;
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
      z.Put(member, updated, true);
      if (a.ch) ++out.integer;
    }
    return;
  }
  if (a.xx) return;
  z.Put(member, score, false);
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
void Zremrange(Call& call, RangeKind kind) {
  RangeQuery q;
  q.kind = kind;
  if (!ParseRangeQuery(call, 2, /*chosen=*/true, /*store=*/true, &q)) return;
  EditZset(
      call,
      [q = std::move(q)](ZsetEdit& z, Outcome& out) {
        for (const Scored& s : q.Run(z.members())) out.integer += z.Remove(s.member) ? 1 : 0;
      },
      [](ReplyWriter& w, const Outcome& out) { w.Integer(out.integer); });
}

void CmdZremrangebyrank(Call& call) { Zremrange(call, RangeKind::kRank); }
void CmdZremrangebyscore(Call& call) { Zremrange(call, RangeKind::kScore); }
void CmdZremrangebylex(Call& call) { Zremrange(call, RangeKind::kLex); }

// --- Reads --------------------------------------------------------------------------------

void CmdZcard(Call& call) {
  RecordPtr r;
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &r)) return;
  call.reply.Integer(r ? static_cast<int64_t>(r->fields()->size()) : 0);
}

void CmdZscore(Call& call) {
  RecordPtr r;
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &r)) return;
  const std::optional<double> score = r ? ScoreOf(*r->fields(), call.args[2]) : std::nullopt;
  if (!score) return call.reply.Null();
  call.reply.Double(*score);
}

void CmdZmscore(Call& call) {
  RecordPtr r;
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &r)) return;
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
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &r)) return;
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
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &r)) return;
  call.reply.Integer(r ? static_cast<int64_t>(ScoreSpan(*r->fields(), range).size()) : 0);
}

void CmdZlexcount(Call& call) {
  LexBound min, max;
  if (!ParseLexBound(call.args[2], &min) || !ParseLexBound(call.args[3], &max))
    return call.reply.Error("ERR min or max not valid string range item");
  RecordPtr r;
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &r)) return;
  call.reply.Integer(r ? static_cast<int64_t>(LexSpan(*r->fields(), min, max).size()) : 0);
}

// ZRANGE and its older forms: `kind` and `reverse` fixed by the older commands (`chosen`).
void Zrange(Call& call, RangeKind kind, bool reverse, bool chosen) {
  RangeQuery q;
  q.kind = kind;
  q.reverse = reverse;
  if (!ParseRangeQuery(call, 2, chosen, /*store=*/false, &q)) return;
  RecordPtr r;
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &r)) return;
  if (!r) return call.reply.Array(0);
  ReplyScored(call.reply, q.Run(*r->fields()), q.with_scores);
}

void CmdZrange(Call& call) { Zrange(call, RangeKind::kRank, false, false); }
void CmdZrevrange(Call& call) { Zrange(call, RangeKind::kRank, true, true); }
void CmdZrangebyscore(Call& call) { Zrange(call, RangeKind::kScore, false, true); }
void CmdZrevrangebyscore(Call& call) { Zrange(call, RangeKind::kScore, true, true); }
void CmdZrangebylex(Call& call) { Zrange(call, RangeKind::kLex, false, true); }
void CmdZrevrangebylex(Call& call) { Zrange(call, RangeKind::kLex, true, true); }

// ZRANDMEMBER key [count [WITHSCORES]], with HRANDFIELD's rules for the count.
void CmdZrandmember(Call& call) {
  RandomCount rc;
  if (!ParseRandomCount(call, "withscores", &rc)) return;
  RecordPtr r;
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &r)) return;
  if (!r) return rc.given ? call.reply.Array(0) : call.reply.Null();
  if (rc.count == 0) return call.reply.Array(0);
  const std::vector<Scored> all = Take(*r->fields(), {0, r->fields()->size()}, false);
  std::vector<size_t> picked;
  if (!RandomPicks(call, all.size(), rc.count, &picked)) return;
  if (!rc.given) return call.reply.Bulk(all[picked[0]].member);
  std::vector<Scored> items;
  items.reserve(picked.size());
  for (size_t i : picked) items.push_back(all[i]);
  ReplyScored(call.reply, items, rc.with);
}

// ZSCAN key cursor [MATCH pattern] [COUNT count]: a listpack-encoded set is returned
// whole, in score order; a larger one by the members' hash order (fields.h's cursor).
void CmdZscan(Call& call) {
  ScanArgs scan;
  if (!ParseScanArgs(call, 2, /*with_type=*/false, &scan)) return;
  RecordPtr r;
  if (!ReadTyped(call, call.args[1], kZsetRecordType, &r)) return;
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

// --- Commands over several keys (ZUNION ZINTER ZDIFF, their STORE forms, ZINTERCARD) ---

enum class SetAlgebra { kUnion, kInter, kDiff };
enum class Aggregate { kSum, kMin, kMax };

// One input: a sorted set, or a set (each member scored 1), or nothing (a missing key).
struct Source {
  RecordPtr record;
  double weight = 1;
  size_t size() const { return record ? record->fields()->size() : 0; }
  bool zset() const { return record && record->type() == kZsetRecordType; }
  template <typename Fn>
  void ForEach(Fn fn) const {
    if (!record) return;
    const bool scored = zset();
    record->fields()->ForEach([&](std::string_view m, std::string_view v) {
      fn(m, scored ? FieldMap::ScoreOf(v) : 1.0);
    });
  }
  std::optional<double> Find(std::string_view member) const {
    if (!record) return std::nullopt;
    const auto v = record->fields()->Find(member);
    if (!v) return std::nullopt;
    return zset() ? FieldMap::ScoreOf(*v) : 1.0;
  }
};

// zunionInterAggregate: a sum that meets +inf and -inf is 0.
void AggregateInto(double* target, double value, Aggregate how) {
  switch (how) {
    case Aggregate::kSum:
      *target += value;
      if (std::isnan(*target)) *target = 0;
      break;
    case Aggregate::kMin:
      *target = value < *target ? value : *target;
      break;
    case Aggregate::kMax:
      *target = value > *target ? value : *target;
      break;
  }
}

struct AlgebraArgs {
  SetAlgebra op = SetAlgebra::kUnion;
  std::vector<std::string> keys;
  std::vector<double> weights;  // one per key
  Aggregate aggregate = Aggregate::kSum;
  bool with_scores = false;
  bool card_only = false;     // ZINTERCARD
  int64_t limit = 0;          // ZINTERCARD's LIMIT (0: none)
  std::string options_error;  // replied after the keys' types are checked, as in Redis
};

// numkeys and the keys after args[at], then the options; false when refused (replied).
bool ParseAlgebra(Call& call, size_t at, bool store, AlgebraArgs* a) {
  int64_t numkeys = 0;
  if (!ParseInt64(call.args[at], &numkeys)) {
    call.reply.Error(kNotIntegerError);
    return false;
  }
  if (numkeys < 1) {
    call.reply.Error(
        fmt::format("ERR at least 1 input key is needed for '{}' command", call.spec->name));
    return false;
  }
  if (static_cast<uint64_t>(numkeys) > call.args.size() - at - 1) {
    call.reply.Error(kSyntaxError);
    return false;
  }
  const auto n = static_cast<size_t>(numkeys);
  a->keys.assign(call.args.begin() + static_cast<ptrdiff_t>(at + 1),
                 call.args.begin() + static_cast<ptrdiff_t>(at + 1 + n));
  a->weights.assign(n, 1.0);
  const bool diff = a->op == SetAlgebra::kDiff;
  for (size_t j = at + 1 + n; j < call.args.size() && a->options_error.empty();) {
    const size_t remaining = call.args.size() - j;
    const std::string opt = Lower(call.args[j]);
    if (!diff && !a->card_only && remaining >= n + 1 && opt == "weights") {
      for (size_t i = 0; i < n; ++i) {
        if (!ParseDouble(call.args[j + 1 + i], &a->weights[i])) {
          a->options_error = "ERR weight value is not a float";
          break;
        }
      }
      j += n + 1;
    } else if (!diff && !a->card_only && remaining >= 2 && opt == "aggregate") {
      const std::string how = Lower(call.args[j + 1]);
      if (how == "sum")
        a->aggregate = Aggregate::kSum;
      else if (how == "min")
        a->aggregate = Aggregate::kMin;
      else if (how == "max")
        a->aggregate = Aggregate::kMax;
      else
        a->options_error = kSyntaxError;
      j += 2;
    } else if (!store && !a->card_only && opt == "withscores") {
      a->with_scores = true;
      j += 1;
    } else if (a->card_only && remaining >= 2 && opt == "limit") {
      if (!ParseInt64(call.args[j + 1], &a->limit) || a->limit < 0)
        a->options_error = "ERR LIMIT can't be negative";
      j += 2;
    } else {
      a->options_error = kSyntaxError;
    }
  }
  return true;
}

// The inputs through `get`; false with *error set when one is neither a set nor a sorted
// set, or (then) the options were refused.
template <typename Get>
bool ReadSources(const AlgebraArgs& a, Get get, std::vector<Source>* sources, std::string* error) {
  for (size_t i = 0; i < a.keys.size(); ++i) {
    RecordPtr r = get(a.keys[i]);
    if (r && r->type() != kZsetRecordType && r->type() != kSetRecordType) {
      *error = kWrongTypeError;
      return false;
    }
    sources->push_back({std::move(r), a.weights[i]});
  }
  if (!a.options_error.empty()) {
    *error = a.options_error;
    return false;
  }
  return true;
}

bool ScoreThenMember(const Scored& x, const Scored& y) {
  if (x.score != y.score) return x.score < y.score;
  return x.member < y.member;
}

// The result of the operation in (score, member) order, or with `card_only` just counted.
std::vector<Scored> Compute(const AlgebraArgs& a, std::vector<Source> src, size_t* count) {
  std::vector<Scored> out;
  if (a.op != SetAlgebra::kDiff) {
    // As Redis: from the smallest input up (the order a sum adds in).
    std::stable_sort(src.begin(), src.end(),
                     [](const Source& x, const Source& y) { return x.size() < y.size(); });
  }
  switch (a.op) {
    case SetAlgebra::kInter:
      if (src[0].size() == 0) break;
      src[0].ForEach([&](std::string_view m, double s) {
        if (a.card_only && a.limit > 0 && *count >= static_cast<size_t>(a.limit)) return;
        double score = src[0].weight * s;
        if (std::isnan(score)) score = 0;
        for (size_t j = 1; j < src.size(); ++j) {
          const std::optional<double> v = src[j].Find(m);
          if (!v) return;
          AggregateInto(&score, *v * src[j].weight, a.aggregate);
        }
        ++*count;
        if (!a.card_only) out.push_back({std::string(m), score});
      });
      break;
    case SetAlgebra::kUnion: {
      absl::flat_hash_map<std::string, double> acc;
      for (const Source& s : src) {
        s.ForEach([&](std::string_view m, double v) {
          double score = s.weight * v;
          if (std::isnan(score)) score = 0;
          auto [it, added] = acc.try_emplace(std::string(m), score);
          if (!added) AggregateInto(&it->second, score, a.aggregate);
        });
      }
      out.reserve(acc.size());
      for (auto& [m, score] : acc) out.push_back({m, score});
      break;
    }
    case SetAlgebra::kDiff:
      src[0].ForEach([&](std::string_view m, double score) {
        for (size_t j = 1; j < src.size(); ++j) {
          if (src[j].Find(m)) return;
        }
        out.push_back({std::string(m), score});
      });
      break;
  }
  std::sort(out.begin(), out.end(), ScoreThenMember);
  if (!a.card_only) *count = out.size();
  return out;
}

// ZUNION ZINTER ZDIFF numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]
void Algebra(Call& call, SetAlgebra op) {
  AlgebraArgs a;
  a.op = op;
  if (!ParseAlgebra(call, 1, false, &a)) return;
  std::vector<Source> sources;
  std::string error;
  if (!ReadSources(
          a, [&](const std::string& key) { return Live(call, key); }, &sources, &error))
    return call.reply.Error(error);
  size_t count = 0;
  ReplyScored(call.reply, Compute(a, std::move(sources), &count), a.with_scores);
}

void CmdZunion(Call& call) { Algebra(call, SetAlgebra::kUnion); }
void CmdZinter(Call& call) { Algebra(call, SetAlgebra::kInter); }
void CmdZdiff(Call& call) { Algebra(call, SetAlgebra::kDiff); }

void CmdZintercard(Call& call) {
  AlgebraArgs a;
  a.op = SetAlgebra::kInter;
  a.card_only = true;
  if (!ParseAlgebra(call, 1, false, &a)) return;
  std::vector<Source> sources;
  std::string error;
  if (!ReadSources(
          a, [&](const std::string& key) { return Live(call, key); }, &sources, &error))
    return call.reply.Error(error);
  size_t count = 0;
  Compute(a, std::move(sources), &count);
  call.reply.Integer(static_cast<int64_t>(count));
}

// Writes `result` to `destination` inside a txn (deleting it when empty); the reply's
// count in *out.
void StoreResult(KeyView& view, const std::string& destination, const std::vector<Scored>& result,
                 size_t entries, size_t value, Outcome* out) {
  out->integer = static_cast<int64_t>(result.size());
  auto at = [&](size_t i) {
    return std::pair<std::string_view, double>(result[i].member, result[i].score);
  };
  if (RecordPtr z = MakeZset(result.size(), at, entries, value)) {
    view.Put(destination, std::move(z));
  } else {
    view.Delete(destination);
  }
}

// ZUNIONSTORE ZINTERSTORE ZDIFFSTORE destination numkeys key [key ...] [options]: one
// txn, so the inputs are read and the destination written at one instant.
void AlgebraStore(Call& call, SetAlgebra op) {
  AlgebraArgs a;
  a.op = op;
  if (!ParseAlgebra(call, 2, true, &a)) return;
  auto out = std::make_shared<Outcome>();
  const size_t entries = call.server.zset_max_listpack_entries.load();
  const size_t value = call.server.zset_max_listpack_value.load();
  const size_t weight = a.keys.size() + 1;
  Mutation m = Mutation::Txn(
      [a = std::move(a), destination = call.args[1], out, entries, value](KeyView& view) {
        std::vector<Source> sources;
        if (!ReadSources(
                a, [&](const std::string& key) { return view.Get(key); }, &sources, &out->error)) {
          return;
        }
        size_t count = 0;
        StoreResult(view, destination, Compute(a, std::move(sources), &count), entries, value,
                    out.get());
      },
      weight);
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Integer(out->integer);
  });
}

void CmdZunionstore(Call& call) { AlgebraStore(call, SetAlgebra::kUnion); }
void CmdZinterstore(Call& call) { AlgebraStore(call, SetAlgebra::kInter); }
void CmdZdiffstore(Call& call) { AlgebraStore(call, SetAlgebra::kDiff); }

// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]: ZRANGE's
// range, written to dst in one txn.
void CmdZrangestore(Call& call) {
  RangeQuery q;
  if (!ParseRangeQuery(call, 3, /*chosen=*/false, /*store=*/true, &q)) return;
  auto out = std::make_shared<Outcome>();
  const size_t entries = call.server.zset_max_listpack_entries.load();
  const size_t value = call.server.zset_max_listpack_value.load();
  Mutation m = Mutation::Txn(
      [q = std::move(q), destination = call.args[1], source = call.args[2], out, entries,
       value](KeyView& view) {
        const RecordPtr r = view.Get(source);
        if (r && r->type() != kZsetRecordType) {
          out->error = kWrongTypeError;
          return;
        }
        StoreResult(view, destination, r ? q.Run(*r->fields()) : std::vector<Scored>{}, entries,
                    value, out.get());
      },
      2);
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Integer(out->integer);
  });
}

// What a pop over several keys took (ZMPOP, BZPOPMIN, BZMPOP).
struct ZsetTaken {
  std::string key;  // the sorted set it came from
  std::vector<Scored> popped;
  std::string error;
};

// Pops up to `count` members from the first of `keys` holding a sorted set: false when
// none does. A key of another type is an error, or, once `woken` (a blocking command),
// skipped.
bool TakeFromZsets(KeyView& view, const std::vector<std::string>& keys, bool max, int64_t count,
                   bool woken, size_t entries, size_t value, ZsetTaken* out) {
  out->popped.clear();
  for (const std::string& key : keys) {
    const RecordPtr r = view.Get(key);
    if (!r) continue;
    if (r->type() != kZsetRecordType) {
      if (woken) continue;
      out->error = kWrongTypeError;
      return true;
    }
    ZsetEdit z(r, false, entries, value);
    out->popped = Take(z.members(), {0, z.members().size()}, max, 0, count);
    for (const Scored& s : out->popped) z.Remove(s.member);
    ApplyChange(view, key, z.Finish());
    out->key = key;
    return true;
  }
  return false;
}

// [key, [[member, score] ...]]: ZMPOP's and BZMPOP's reply.
void ReplyKeyAndPairs(ReplyWriter& w, const ZsetTaken& t) {
  if (!t.error.empty()) return w.Error(t.error);
  w.Array(2);
  w.Bulk(t.key);
  w.Array(t.popped.size());
  for (const Scored& s : t.popped) {
    w.Array(2);
    w.Bulk(s.member);
    w.Double(s.score);
  }
}

// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: pops from the first key holding a
// sorted set; [key, [[member, score] ...]], or a null array when every key is empty.
void CmdZmpop(Call& call) {
  std::vector<std::string> keys;
  bool min = false;
  int64_t count = 0;
  if (!ParseMultiPop(call, 1, "min", "max", &keys, &min, &count)) return;
  const bool max = !min;
  auto out = std::make_shared<ZsetTaken>();
  const size_t entries = call.server.zset_max_listpack_entries.load();
  const size_t value = call.server.zset_max_listpack_value.load();
  const size_t weight = keys.size();
  Mutation m = Mutation::Txn(
      [=, keys = std::move(keys)](KeyView& view) {
        TakeFromZsets(view, keys, max, count, false, entries, value, out.get());
      },
      weight);
  Commit(
      call, {std::move(m)},
      [out](ReplyWriter& w) {
        if (out->error.empty() && out->popped.empty()) return w.NullArray();
        ReplyKeyAndPairs(w, *out);
      },
      max ? "zpopmax" : "zpopmin");
}

// A sorted-set pop that waits: BZMPOP (`mpop`: [key, [[member, score] ...]]) or
// BZPOPMIN/BZPOPMAX ([key, member, score]).
void BlockingZpop(Call& call, Blocking b, bool max, int64_t count, bool mpop) {
  auto out = std::make_shared<ZsetTaken>();
  b.take = [keys = b.keys, max, count, out, entries = call.server.zset_max_listpack_entries.load(),
            value = call.server.zset_max_listpack_value.load()](KeyView& view, bool woken) {
    return TakeFromZsets(view, keys, max, count, woken, entries, value, out.get());
  };
  b.reply = [out, mpop](ReplyWriter& w) {
    if (mpop || !out->error.empty()) return ReplyKeyAndPairs(w, *out);
    w.Array(3);
    w.Bulk(out->key);
    w.Bulk(out->popped.front().member);
    w.Double(out->popped.front().score);
  };
  b.timed_out = [](ReplyWriter& w) { w.NullArray(); };
  b.events = max ? "zpopmax" : "zpopmin";
  Block(call, std::move(b));
}

// BZPOPMIN BZPOPMAX key [key ...] timeout.
void Bzpop(Call& call, bool max) {
  Blocking b;
  if (!ParseBlockTimeout(call, call.args.back(), &b.timeout_ms)) return;
  b.keys.assign(call.args.begin() + 1, call.args.end() - 1);
  BlockingZpop(call, std::move(b), max, 1, false);
}

void CmdBzpopmin(Call& call) { Bzpop(call, false); }
void CmdBzpopmax(Call& call) { Bzpop(call, true); }

// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count].
void CmdBzmpop(Call& call) {
  Blocking b;
  if (!ParseBlockTimeout(call, call.args[1], &b.timeout_ms)) return;
  bool min = false;
  int64_t count = 0;
  if (!ParseMultiPop(call, 2, "min", "max", &b.keys, &min, &count)) return;
  BlockingZpop(call, std::move(b), !min, count, true);
}

}  // namespace

// Flags, key positions and categories follow Redis 7.0's own table.
void AddZsetCommands(std::vector<CommandSpec>* t) {
  const std::vector<std::string_view> write_fast = {"write", "sortedset", "fast"};
  const std::vector<std::string_view> write_slow = {"write", "sortedset", "slow"};
  const std::vector<std::string_view> read_fast = {"read", "sortedset", "fast"};
  const std::vector<std::string_view> read_slow = {"read", "sortedset", "slow"};
  const std::vector<std::string_view> blocking = {"write", "sortedset", "fast", "blocking"};
  const std::vector<std::string_view> blocking_slow = {"write", "sortedset", "slow", "blocking"};
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
          {"zrangestore", -5, w, 1, 2, 1, write_slow, CmdZrangestore,
           "Store a range of members from sorted set into another key"},
          // Keys after a count (numkeys_at): Redis's movablekeys.
          {"zunion",
           -3,
           kReadonly,
           0,
           0,
           0,
           read_slow,
           CmdZunion,
           "Add multiple sorted sets",
           {},
           1},
          {"zinter",
           -3,
           kReadonly,
           0,
           0,
           0,
           read_slow,
           CmdZinter,
           "Intersect multiple sorted sets",
           {},
           1},
          {"zdiff",
           -3,
           kReadonly,
           0,
           0,
           0,
           read_slow,
           CmdZdiff,
           "Subtract multiple sorted sets",
           {},
           1},
          {"zintercard",
           -3,
           kReadonly,
           0,
           0,
           0,
           read_slow,
           CmdZintercard,
           "Intersect multiple sorted sets and return the cardinality of the result",
           {},
           1},
          {"zunionstore",
           -4,
           w,
           1,
           1,
           1,
           write_slow,
           CmdZunionstore,
           "Add multiple sorted sets and store the resulting sorted set in a new key",
           {},
           2},
          {"zinterstore",
           -4,
           w,
           1,
           1,
           1,
           write_slow,
           CmdZinterstore,
           "Intersect multiple sorted sets and store the resulting sorted set in a new key",
           {},
           2},
          {"zdiffstore",
           -4,
           w,
           1,
           1,
           1,
           write_slow,
           CmdZdiffstore,
           "Subtract multiple sorted sets and store the resulting sorted set in a new key",
           {},
           2},
          {"bzpopmin", -3, kWrite | kNoScript | kBlocking | kFast, 1, -2, 1, blocking, CmdBzpopmin,
           "Remove and return the member with the lowest score from one of the sorted sets, or "
           "block until one is available"},
          {"bzpopmax", -3, kWrite | kNoScript | kBlocking | kFast, 1, -2, 1, blocking, CmdBzpopmax,
           "Remove and return the member with the highest score from one of the sorted sets, or "
           "block until one is available"},
          {"bzmpop",
           -5,
           kWrite | kBlocking,
           0,
           0,
           0,
           blocking_slow,
           CmdBzmpop,
           "Remove and return members with scores in a sorted set or block until one is "
           "available",
           {},
           2},
          {"zmpop",
           -4,
           kWrite,
           0,
           0,
           0,
           write_slow,
           CmdZmpop,
           "Remove and return members with scores in a sorted set",
           {},
           1},
      });
}

}  // namespace devstate::resp
