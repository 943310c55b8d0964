// Bits and subsequences of strings, as Redis 7.0 defines them: SETBIT GETBIT BITCOUNT
// BITPOS BITOP BITFIELD BITFIELD_RO LCS.
//
// SETBIT is a read-modify-write inside the commit group like APPEND (it grows the string
// with zero bytes, up to limits.max_bulk_bytes, Redis's proto-max-bulk-len); a device
// record refuses it. LCS runs Redis's dynamic program over the two strings, with its
// transient table bounded by the same limit.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>
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

// A [start, end] range of BITCOUNT or BITPOS, in bits: Redis's index rules (negative from
// the end, clamped), over bytes or, with BIT, over bits. False when the range is empty.
struct BitRange {
  uint64_t first = 0, last = 0;  // bit indexes, inclusive
};
bool ClampBits(int64_t start, int64_t end, bool bit_unit, uint64_t bytes, BitRange* out) {
  const auto total = static_cast<int64_t>(bit_unit ? bytes * 8 : bytes);
  if (start < 0) start += total;
  if (end < 0) end += total;
  start = std::max<int64_t>(start, 0);
  end = std::max<int64_t>(end, 0);
  end = std::min(end, total - 1);
  if (start > end) return false;
  out->first = bit_unit ? static_cast<uint64_t>(start) : static_cast<uint64_t>(start) * 8;
  out->last = bit_unit ? static_cast<uint64_t>(end) : static_cast<uint64_t>(end) * 8 + 7;
  return true;
}

// BYTE or BIT, the unit of a range.
bool ParseBitUnit(Call& call, size_t at, bool* bit_unit) {
  *bit_unit = false;
  if (at >= call.args.size()) return true;
  if (EqualsNoCase(call.args[at], "bit")) {
    *bit_unit = true;
  } else if (!EqualsNoCase(call.args[at], "byte")) {
    call.reply.Error(kSyntaxError);
    return false;
  }
  return true;
}

// The set bits of `s` in [first, last].
int64_t CountBits(std::string_view s, const BitRange& r) {
  int64_t n = 0;
  uint64_t i = r.first;
  for (; i <= r.last && (i & 7) != 0; ++i) n += BitAt(s, i);
  for (; i + 7 <= r.last; i += 8) n += __builtin_popcount(static_cast<uint8_t>(s[i >> 3]));
  for (; i <= r.last; ++i) n += BitAt(s, i);
  return n;
}

// BITCOUNT key [start end [BYTE|BIT]]. As in Redis, an absent key answers 0 and a key of
// another type WRONGTYPE before the range is read.
void CmdBitcount(Call& call) {
  RecordPtr r = Live(call, call.args[1]);
  if (!r) return call.reply.Integer(0);
  if (!IsString(*r)) return call.reply.Error(kWrongTypeError);
  const std::string_view s = r->value();
  const size_t argc = call.args.size();
  BitRange range{0, s.size() * 8 - 1};
  if (argc == 4 || argc == 5) {
    int64_t start = 0, end = 0;
    if (!ParseInt64(call.args[2], &start) || !ParseInt64(call.args[3], &end))
      return call.reply.Error(kNotIntegerError);
    if (start < 0 && end < 0 && start > end) return call.reply.Integer(0);
    bool bit_unit = false;
    if (!ParseBitUnit(call, 4, &bit_unit)) return;
    if (!ClampBits(start, end, bit_unit, s.size(), &range)) return call.reply.Integer(0);
  } else if (argc != 2) {
    return call.reply.Error(kSyntaxError);
  }
  call.reply.Integer(s.empty() ? 0 : CountBits(s, range));
}

// BITPOS key bit [start [end [BYTE|BIT]]]: the first bit set to `bit` in the range, -1
// when there is none. Past a string's end every bit is 0: looking for a 0 without an end
// finds the first bit after the string, as Redis answers.
void CmdBitpos(Call& call) {
  int64_t bit = 0;
  if (!ParseInt64(call.args[2], &bit)) return call.reply.Error(kNotIntegerError);
  if (bit != 0 && bit != 1) return call.reply.Error("ERR The bit argument must be 1 or 0.");
  RecordPtr r = Live(call, call.args[1]);
  if (!r) return call.reply.Integer(bit ? -1 : 0);
  if (!IsString(*r)) return call.reply.Error(kWrongTypeError);
  const std::string_view s = r->value();
  const size_t argc = call.args.size();
  bool end_given = false;
  BitRange range;
  bool any = !s.empty();
  if (any) range = {0, s.size() * 8 - 1};
  if (argc >= 4 && argc <= 6) {
    int64_t start = 0, end = -1;
    if (!ParseInt64(call.args[3], &start)) return call.reply.Error(kNotIntegerError);
    bool bit_unit = false;
    if (!ParseBitUnit(call, 5, &bit_unit)) return;
    if (argc >= 5) {
      if (!ParseInt64(call.args[4], &end)) return call.reply.Error(kNotIntegerError);
      end_given = true;
    }
    any = ClampBits(start, end, bit_unit, s.size(), &range);
  } else if (argc != 3) {
    return call.reply.Error(kSyntaxError);
  }
  if (!any) return call.reply.Integer(-1);
  for (uint64_t i = range.first; i <= range.last; ++i) {
    // Whole bytes that cannot hold the bit are skipped a byte at a time.
    if ((i & 7) == 0 && i + 7 <= range.last &&
        static_cast<uint8_t>(s[i >> 3]) == (bit ? 0x00 : 0xff)) {
      i += 7;
      continue;
    }
    if (BitAt(s, i) == bit) return call.reply.Integer(static_cast<int64_t>(i));
  }
  if (bit == 1 || end_given) return call.reply.Integer(-1);
  call.reply.Integer(static_cast<int64_t>(((range.last >> 3) + 1) * 8));
}

// BITOP AND|OR|XOR|NOT destkey key [key ...]: one txn, the sources read and the
// destination written at one instant. An absent source is an empty string; shorter ones
// are padded with zero bytes; an empty result deletes the destination. The length of the
// result is the answer.
void CmdBitop(Call& call) {
  enum class Op { kAnd, kOr, kXor, kNot };
  Op op;
  const std::string& name = call.args[1];
  if (EqualsNoCase(name, "and")) {
    op = Op::kAnd;
  } else if (EqualsNoCase(name, "or")) {
    op = Op::kOr;
  } else if (EqualsNoCase(name, "xor")) {
    op = Op::kXor;
  } else if (EqualsNoCase(name, "not")) {
    op = Op::kNot;
  } else {
    return call.reply.Error(kSyntaxError);
  }
  if (op == Op::kNot && call.args.size() != 4)
    return call.reply.Error("ERR BITOP NOT must be called with a single source key.");
  struct Outcome {
    std::string error;
    int64_t length = 0;
  };
  auto out = std::make_shared<Outcome>();
  std::vector<std::string> sources(call.args.begin() + 3, call.args.end());
  const size_t weight = sources.size() + 1;
  Mutation m = Mutation::Txn(
      [op, destination = call.args[2], sources = std::move(sources), out](KeyView& view) {
        std::vector<RecordPtr> records;
        size_t longest = 0;
        for (const std::string& key : sources) {
          RecordPtr r = view.Get(key);
          if (r && !IsString(*r)) {
            out->error = std::string(kWrongTypeError);
            return;
          }
          if (r) longest = std::max(longest, r->value().size());
          records.push_back(std::move(r));
        }
        out->length = static_cast<int64_t>(longest);
        if (longest == 0) return view.Delete(destination);
        std::string result(longest, '\0');
        for (size_t i = 0; i < longest; ++i) {
          auto byte = [&](size_t k) -> uint8_t {
            const RecordPtr& r = records[k];
            return r && i < r->value().size() ? static_cast<uint8_t>(r->value()[i]) : 0;
          };
          uint8_t v = byte(0);
          for (size_t k = 1; k < records.size(); ++k) {
            if (op == Op::kAnd) v &= byte(k);
            if (op == Op::kOr) v |= byte(k);
            if (op == Op::kXor) v ^= byte(k);
          }
          if (op == Op::kNot) v = static_cast<uint8_t>(~v);
          result[i] = static_cast<char>(v);
        }
        view.Put(destination, StringRecord(result, 0));
      },
      weight);
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    w.Integer(out->length);
  });
}

// ---- BITFIELD: integers of 1 to 64 bits at any bit offset (Redis's bitfield type).

struct BitfieldOp {
  enum class Code { kGet, kSet, kIncrby } code = Code::kGet;
  enum class Overflow { kWrap, kSat, kFail } overflow = Overflow::kWrap;
  bool sign = false;
  int bits = 0;
  uint64_t offset = 0;
  int64_t value = 0;  // SET's value, INCRBY's increment
};

// Parses BITFIELD's operations from args[2] on; false (and the error replied) if bad.
bool ParseBitfield(Call& call, std::vector<BitfieldOp>* ops, uint64_t* highest_write,
                   bool* writes) {
  auto overflow = BitfieldOp::Overflow::kWrap;
  *writes = false;
  *highest_write = 0;
  const size_t argc = call.args.size();
  for (size_t j = 2; j < argc; ++j) {
    const size_t left = argc - j - 1;
    BitfieldOp op;
    const std::string& sub = call.args[j];
    if (EqualsNoCase(sub, "get") && left >= 2) {
      op.code = BitfieldOp::Code::kGet;
    } else if (EqualsNoCase(sub, "set") && left >= 3) {
      op.code = BitfieldOp::Code::kSet;
    } else if (EqualsNoCase(sub, "incrby") && left >= 3) {
      op.code = BitfieldOp::Code::kIncrby;
    } else if (EqualsNoCase(sub, "overflow") && left >= 1) {
      const std::string& how = call.args[++j];
      if (EqualsNoCase(how, "wrap")) {
        overflow = BitfieldOp::Overflow::kWrap;
      } else if (EqualsNoCase(how, "sat")) {
        overflow = BitfieldOp::Overflow::kSat;
      } else if (EqualsNoCase(how, "fail")) {
        overflow = BitfieldOp::Overflow::kFail;
      } else {
        call.reply.Error("ERR Invalid OVERFLOW type specified");
        return false;
      }
      continue;
    } else {
      call.reply.Error(kSyntaxError);
      return false;
    }
    // The type: i1..i64 or u1..u63.
    const std::string& type = call.args[j + 1];
    int64_t bits = 0;
    if (type.empty() || (type[0] != 'i' && type[0] != 'u') ||
        !ParseInt64(std::string_view(type).substr(1), &bits) || bits < 1 ||
        bits > (type[0] == 'i' ? 64 : 63)) {
      call.reply.Error(
          "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not "
          "supported but i64 is.");
      return false;
    }
    op.sign = type[0] == 'i';
    op.bits = static_cast<int>(bits);
    // The offset: bits, or with '#' a multiple of the type's width.
    std::string_view at = call.args[j + 2];
    const bool scaled = !at.empty() && at[0] == '#';
    int64_t offset = 0;
    const uint64_t max = call.server.limits.parser.max_bulk_bytes;
    if (!ParseInt64(scaled ? at.substr(1) : at, &offset) ||
        (scaled && __builtin_mul_overflow(offset, bits, &offset)) || offset < 0 ||
        (static_cast<uint64_t>(offset) >> 3) >= max) {
      call.reply.Error("ERR bit offset is not an integer or out of range");
      return false;
    }
    op.offset = static_cast<uint64_t>(offset);
    if (op.code != BitfieldOp::Code::kGet) {
      *writes = true;
      *highest_write = std::max(*highest_write, op.offset + static_cast<uint64_t>(bits) - 1);
      if (!ParseInt64(call.args[j + 3], &op.value)) {
        call.reply.Error(kNotIntegerError);
        return false;
      }
    }
    op.overflow = overflow;
    ops->push_back(op);
    j += op.code == BitfieldOp::Code::kGet ? 2 : 3;
  }
  return true;
}

uint64_t GetBits(std::string_view s, uint64_t offset, int bits) {
  uint64_t v = 0;
  for (int i = 0; i < bits; ++i) v = (v << 1) | static_cast<uint64_t>(BitAt(s, offset + i));
  return v;
}

int64_t GetSigned(std::string_view s, uint64_t offset, int bits) {
  uint64_t v = GetBits(s, offset, bits);
  if (bits < 64 && (v & (uint64_t{1} << (bits - 1)))) v |= ~uint64_t{0} << bits;
  return static_cast<int64_t>(v);
}

void SetBits(std::string* s, uint64_t offset, int bits, uint64_t v) {
  for (int i = 0; i < bits; ++i) {
    const uint64_t at = offset + static_cast<uint64_t>(i);
    const auto mask = static_cast<uint8_t>(1u << (7 - (at & 7)));
    auto& byte = reinterpret_cast<uint8_t&>((*s)[at >> 3]);
    if ((v >> (bits - 1 - i)) & 1) {
      byte |= mask;
    } else {
      byte &= static_cast<uint8_t>(~mask);
    }
  }
}

// Redis's checkUnsignedBitfieldOverflow / checkSignedBitfieldOverflow: whether value +
// incr leaves the type's range, and then what WRAP or SAT makes of it in *limit.
bool UnsignedOverflow(uint64_t value, int64_t incr, int bits, BitfieldOp::Overflow how,
                      uint64_t* limit) {
  const uint64_t max = (uint64_t{1} << bits) - 1;  // bits <= 63
  const auto maxincr = static_cast<int64_t>(max - value);
  const int64_t minincr = -static_cast<int64_t>(value);
  const bool over = value > max || (incr > 0 && incr > maxincr);
  const bool under = !over && incr < 0 && incr < minincr;
  if (!over && !under) return false;
  if (how == BitfieldOp::Overflow::kWrap) {
    *limit = (value + static_cast<uint64_t>(incr)) & max;
  } else if (how == BitfieldOp::Overflow::kSat) {
    *limit = over ? max : 0;
  }
  return true;
}

bool SignedOverflow(int64_t value, int64_t incr, int bits, BitfieldOp::Overflow how,
                    int64_t* limit) {
  const int64_t max = bits == 64 ? INT64_MAX : (int64_t{1} << (bits - 1)) - 1;
  const int64_t min = -max - 1;
  const auto maxincr =
      static_cast<int64_t>(static_cast<uint64_t>(max) - static_cast<uint64_t>(value));
  const auto minincr =
      static_cast<int64_t>(static_cast<uint64_t>(min) - static_cast<uint64_t>(value));
  const bool over =
      value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr);
  const bool under = !over && (value < min || (bits != 64 && incr < minincr) ||
                               (value < 0 && incr < 0 && incr < minincr));
  if (!over && !under) return false;
  if (how == BitfieldOp::Overflow::kWrap) {
    uint64_t c = static_cast<uint64_t>(value) + static_cast<uint64_t>(incr);
    if (bits < 64) {
      const uint64_t mask = ~uint64_t{0} << bits;
      c = (c & (uint64_t{1} << (bits - 1))) ? (c | mask) : (c & ~mask);
    }
    *limit = static_cast<int64_t>(c);
  } else if (how == BitfieldOp::Overflow::kSat) {
    *limit = over ? max : min;
  }
  return true;
}

// Runs `op` on `s`: its reply (nullopt: FAIL on overflow, nothing written), and whether
// it changed a bit.
std::optional<int64_t> RunBitfieldOp(const BitfieldOp& op, std::string* s, bool* changed) {
  if (op.code == BitfieldOp::Code::kGet) {
    return op.sign ? GetSigned(*s, op.offset, op.bits)
                   : static_cast<int64_t>(GetBits(*s, op.offset, op.bits));
  }
  const bool incr = op.code == BitfieldOp::Code::kIncrby;
  uint64_t written = 0, before = 0;
  int64_t reply = 0;
  if (op.sign) {
    const int64_t old = GetSigned(*s, op.offset, op.bits);
    int64_t wrapped = 0;
    const bool overflow = incr ? SignedOverflow(old, op.value, op.bits, op.overflow, &wrapped)
                               : SignedOverflow(op.value, 0, op.bits, op.overflow, &wrapped);
    if (overflow && op.overflow == BitfieldOp::Overflow::kFail) return std::nullopt;
    const int64_t value = overflow ? wrapped
                                   : (incr ? static_cast<int64_t>(static_cast<uint64_t>(old) +
                                                                  static_cast<uint64_t>(op.value))
                                           : op.value);
    reply = incr ? value : old;
    written = static_cast<uint64_t>(value);
    before = static_cast<uint64_t>(old);
  } else {
    const uint64_t old = GetBits(*s, op.offset, op.bits);
    uint64_t wrapped = 0;
    const bool overflow =
        incr ? UnsignedOverflow(old, op.value, op.bits, op.overflow, &wrapped)
             : UnsignedOverflow(static_cast<uint64_t>(op.value), 0, op.bits, op.overflow, &wrapped);
    if (overflow && op.overflow == BitfieldOp::Overflow::kFail) return std::nullopt;
    const uint64_t value =
        overflow ? wrapped
                 : (incr ? old + static_cast<uint64_t>(op.value) : static_cast<uint64_t>(op.value));
    reply = static_cast<int64_t>(incr ? value : old);
    written = value;
    before = old;
  }
  const uint64_t mask = op.bits == 64 ? ~uint64_t{0} : (uint64_t{1} << op.bits) - 1;
  *changed = *changed || ((written ^ before) & mask) != 0;
  SetBits(s, op.offset, op.bits, written);
  return reply;
}

void ReplyBitfield(ReplyWriter& w, const std::vector<std::optional<int64_t>>& replies) {
  w.Array(replies.size());
  for (const auto& r : replies) {
    if (r) {
      w.Integer(*r);
    } else {
      w.Null();
    }
  }
}

// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
// [OVERFLOW WRAP|SAT|FAIL] ...: a read-modify-write in the commit group, as SETBIT. As in
// Redis, a write grows the string (zero bytes) to its farthest bit first, even when
// OVERFLOW FAIL then writes nothing.
void CmdBitfield(Call& call) {
  std::vector<BitfieldOp> ops;
  uint64_t highest = 0;
  bool writes = false;
  if (!ParseBitfield(call, &ops, &highest, &writes)) return;
  struct Outcome {
    std::string error;
    std::vector<std::optional<int64_t>> replies;
  };
  auto out = std::make_shared<Outcome>();
  Mutation m = Mutation::Apply(call.args[1], [key = call.args[1], ops = std::move(ops), highest,
                                              writes, out](const RecordPtr& current) {
    out->replies.clear();
    if (current && !IsString(*current)) {
      out->error = std::string(kWrongTypeError);
      return Change::None();
    }
    if (writes) {
      out->error = StringEditError(current, key);
      if (!out->error.empty()) return Change::None();
    }
    std::string value(current ? current->value() : std::string_view());
    const size_t needed = writes ? static_cast<size_t>(highest >> 3) + 1 : 0;
    const bool grown = value.size() < needed;  // needed is 0 for GETs alone
    if (grown) value.resize(needed, '\0');
    bool changed = false;
    // A GET past the end reads zeros (BitAt); it never grows the string.
    for (const BitfieldOp& op : ops) out->replies.push_back(RunBitfieldOp(op, &value, &changed));
    if (!changed && !grown) return Change::None();
    return Change::Put(StringRecord(value, current ? current->expire_at_ms() : 0, kRawStringMeta));
  });
  Commit(call, {std::move(m)}, [out](ReplyWriter& w) {
    if (!out->error.empty()) return w.Error(out->error);
    ReplyBitfield(w, out->replies);
  });
}

// BITFIELD_RO key [GET type offset] ...: a read.
void CmdBitfieldRo(Call& call) {
  std::vector<BitfieldOp> ops;
  uint64_t highest = 0;
  bool writes = false;
  if (!ParseBitfield(call, &ops, &highest, &writes)) return;
  if (writes) return call.reply.Error("ERR BITFIELD_RO only supports the GET subcommand");
  RecordPtr r = Live(call, call.args[1]);
  if (r && !IsString(*r)) return call.reply.Error(kWrongTypeError);
  std::string value(r ? r->value() : std::string_view());
  std::vector<std::optional<int64_t>> replies;
  bool changed = false;
  for (const BitfieldOp& op : ops) replies.push_back(RunBitfieldOp(op, &value, &changed));
  ReplyBitfield(call.reply, replies);
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
                          {"bitcount",
                           -2,
                           kReadonly,
                           1,
                           1,
                           1,
                           {"read", "bitmap", "slow"},
                           CmdBitcount,
                           "Count set bits in a string"},
                          {"bitpos",
                           -3,
                           kReadonly,
                           1,
                           1,
                           1,
                           {"read", "bitmap", "slow"},
                           CmdBitpos,
                           "Find first bit set or clear in a string"},
                          {"bitop",
                           -4,
                           kWrite | kDenyOom,
                           2,
                           -1,
                           1,
                           {"write", "bitmap", "slow"},
                           CmdBitop,
                           "Perform bitwise operations between strings"},
                          {"bitfield",
                           -2,
                           kWrite | kDenyOom,
                           1,
                           1,
                           1,
                           {"write", "bitmap", "slow"},
                           CmdBitfield,
                           "Perform arbitrary bitfield integer operations on strings"},
                          {"bitfield_ro",
                           -2,
                           kReadonly | kFast,
                           1,
                           1,
                           1,
                           {"read", "bitmap", "fast"},
                           CmdBitfieldRo,
                           "Perform arbitrary bitfield integer operations on strings. Read-only "
                           "variant of BITFIELD"},
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
