// Bits and subsequences of strings, as Redis 7.0 defines them: SETBIT GETBIT LCS.
//
// SETBIT is a read-modify-write inside the commit group like APPEND (it grows the string
// with zero bytes, up to limits.max_bulk_bytes, Redis's proto-max-bulk-len); a device
// record refuses it. LCS runs Redis's dynamic program over the two strings, with its
// transient table bounded by the same limit.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "api/resp/commands.h"
#include "api/resp/write.h"

namespace devstate::resp {
namespace {

// A bit offset as Redis's getBitOffsetFromArgument reads it: its byte within `max`.
bool BitOffset(Call& call, std::string_view text, uint64_t* offset) {
  int64_t v = 0;
  const uint64_t max = call.server.limits.parser.max_bulk_bytes;
  if (!ParseInt64(text, &v) || v < 0 || (static_cast<uint64_t>(v) >> 3) >= max) {
    call.reply.Error("ERR bit offset is not an integer or out of range");
    return false;
  }
  *offset = static_cast<uint64_t>(v);
  return true;
}

int BitAt(std::string_view s, uint64_t offset) {
  const uint64_t byte = offset >> 3;
  if (byte >= s.size()) return 0;
  return (static_cast<uint8_t>(s[byte]) >> (7 - (offset & 7))) & 1;
}

// SETBIT key offset 0|1: the bit's old value.
void CmdSetbit(Call& call) {
  uint64_t offset = 0;
  if (!BitOffset(call, call.args[2], &offset)) return;
  int64_t on = 0;
  if (!ParseInt64(call.args[3], &on) || (on & ~int64_t{1}) != 0)
    return call.reply.Error("ERR bit is not an integer or out of range");
  struct Outcome {
    std::string error;
    int old = 0;
  };
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Apply(call.args[1], [key = call.args[1], offset, on,
                                              out](const RecordPtr& current) {
    out->error = StringEditError(current, key);
    if (!out->error.empty()) return Change::None();
    const std::string_view old = current ? std::string_view(current->value()) : std::string_view();
    out->old = BitAt(old, offset);
    const uint64_t byte = offset >> 3;
    const bool grows = !current || byte >= old.size();
    if (!grows && out->old == on) return Change::None();  // nothing changes: no write
    std::string value(old);
    if (value.size() <= byte) value.resize(byte + 1, '\0');
    const auto mask = static_cast<uint8_t>(1u << (7 - (offset & 7)));
    auto& b = reinterpret_cast<uint8_t&>(value[byte]);
    b = on != 0 ? (b | mask) : (b & ~mask);
    return Change::Put(StringRecord(value, current ? current->expire_at_ms() : 0, kRawStringMeta));
  });
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Integer(out->old);
  });
}

// GETBIT key offset
void CmdGetbit(Call& call) {
  uint64_t offset = 0;
  if (!BitOffset(call, call.args[2], &offset)) return;
  RecordPtr r = Live(call, call.args[1]);
  if (r && !IsString(*r)) return call.reply.Error(kWrongTypeError);
  call.reply.Integer(r ? BitAt(r->value(), offset) : 0);
}

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN], as Redis's lcsCommand: the
// table of LCS lengths of every pair of prefixes, then a walk back from its corner that
// collects the subsequence and, for IDX, its matching ranges from the end.
void CmdLcs(Call& call) {
  bool len_only = false, idx = false, with_match_len = false;
  int64_t min_match_len = 0;
  for (size_t i = 3; i < call.args.size(); ++i) {
    const std::string opt = Lower(call.args[i]);
    if (opt == "idx") {
      idx = true;
    } else if (opt == "len") {
      len_only = true;
    } else if (opt == "withmatchlen") {
      with_match_len = true;
    } else if (opt == "minmatchlen" && i + 1 < call.args.size()) {
      if (!ParseInt64(call.args[++i], &min_match_len)) return call.reply.Error(kNotIntegerError);
      min_match_len = std::max<int64_t>(min_match_len, 0);
    } else {
      return call.reply.Error(kSyntaxError);
    }
  }
  RecordPtr ra = Live(call, call.args[1]);
  RecordPtr rb = Live(call, call.args[2]);
  if ((ra && !IsString(*ra)) || (rb && !IsString(*rb)))
    return call.reply.Error("ERR The specified keys must contain string values");
  if (idx && len_only)
    return call.reply.Error("ERR If you want both the length and indexes, please just use IDX.");
  const std::string_view a = ra ? std::string_view(ra->value()) : std::string_view();
  const std::string_view b = rb ? std::string_view(rb->value()) : std::string_view();
  const uint64_t cells = (uint64_t{a.size()} + 1) * (uint64_t{b.size()} + 1);
  if (cells * sizeof(uint32_t) > call.server.limits.parser.max_bulk_bytes) {
    return call.reply.Error(
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  const size_t width = b.size() + 1;
  std::vector<uint32_t> dp(cells, 0);
  auto at = [&](size_t i, size_t j) -> uint32_t& { return dp[i * width + j]; };
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      at(i, j) = a[i - 1] == b[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
    }
  }
  const uint32_t total = at(a.size(), b.size());
  if (len_only) return call.reply.Integer(total);
  std::string lcs(total, '\0');
  struct Range {
    size_t a_start, a_end, b_start, b_end;
  };
  std::vector<Range> ranges;
  // The walk back: a match extends the current range while it stays contiguous; a step
  // that is not a match, or the start of either string, ends it.
  size_t i = a.size(), j = b.size(), k = total;
  bool open = false;
  Range r{};
  while (i > 0 && j > 0) {
    bool emit = false;
    if (a[i - 1] == b[j - 1]) {
      lcs[--k] = a[i - 1];
      if (!open) {
        r = {i - 1, i - 1, j - 1, j - 1};
        open = true;
      } else if (r.a_start == i && r.b_start == j) {
        --r.a_start;
        --r.b_start;
      } else {
        emit = true;
      }
      if (r.a_start == 0 || r.b_start == 0) emit = true;
      --i;
      --j;
    } else {
      if (at(i - 1, j) > at(i, j - 1)) {
        --i;
      } else {
        --j;
      }
      if (open) emit = true;
    }
    if (emit) {
      const size_t match_len = r.a_end - r.a_start + 1;
      if (min_match_len == 0 || match_len >= static_cast<uint64_t>(min_match_len))
        ranges.push_back(r);
      open = false;
    }
  }
  if (!idx) return call.reply.Bulk(lcs);
  call.reply.Map(2);
  call.reply.Bulk("matches");
  call.reply.Array(ranges.size());
  for (const Range& m : ranges) {
    call.reply.Array(with_match_len ? 3 : 2);
    call.reply.Array(2);
    call.reply.Integer(static_cast<int64_t>(m.a_start));
    call.reply.Integer(static_cast<int64_t>(m.a_end));
    call.reply.Array(2);
    call.reply.Integer(static_cast<int64_t>(m.b_start));
    call.reply.Integer(static_cast<int64_t>(m.b_end));
    if (with_match_len) call.reply.Integer(static_cast<int64_t>(m.a_end - m.a_start + 1));
  }
  call.reply.Bulk("len");
  call.reply.Integer(total);
}

}  // namespace

void AddStringBitCommands(std::vector<CommandSpec>* t) {
  t->insert(t->end(), {
                          {"setbit",
                           4,
                           kWrite | kDenyOom,
                           1,
                           1,
                           1,
                           {"write", "bitmap", "slow"},
                           CmdSetbit,
                           "Sets or clears the bit at offset in the string value stored at key"},
                          {"getbit",
                           3,
                           kReadonly | kFast,
                           1,
                           1,
                           1,
                           {"read", "bitmap", "fast"},
                           CmdGetbit,
                           "Returns the bit value at offset in the string value stored at key"},
                          {"lcs",
                           -3,
                           kReadonly,
                           1,
                           2,
                           1,
                           {"read", "string", "slow"},
                           CmdLcs,
                           "Find longest common substring"},
                      });
}

}  // namespace devstate::resp
