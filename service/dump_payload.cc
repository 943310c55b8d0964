#include "service/dump_payload.h"

#include <boost/crc.hpp>
#include <boost/endian/conversion.hpp>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>

#include "service/text.h"

extern "C" {
#include <lzf.h>  // liblzf, the LZF Redis compresses strings with
}

namespace devstate {
namespace {

constexpr uint8_t kRdbString = 0, kRdbList = 1, kRdbSet = 2, kRdbHash = 4, kRdbZset2 = 5;
// Redis 7.0's compact encodings, read only.
constexpr uint8_t kRdbSetIntset = 11, kRdbHashListpack = 16, kRdbZsetListpack = 17,
                  kRdbListQuicklist2 = 18;
constexpr uint64_t kQuicklistPlain = 1, kQuicklistPacked = 2;
// An LZF stream cannot expand more than this (a 3-byte back-reference copies at most 264
// bytes), so a larger declared length is a damaged payload, not a size to allocate.
constexpr uint64_t kMaxLzfRatio = 100;

// CRC-64/Jones as Redis computes it (crc64.c): reflected, no initial value or final xor.
uint64_t Crc64(std::string_view bytes) {
  boost::crc_optimal<64, 0xad93d23594c935a9ULL, 0, 0, true, true> crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

void PutLength(std::string* out, uint64_t n) {
  if (n < (1u << 6)) {
    out->push_back(static_cast<char>(n));
  } else if (n < (1u << 14)) {
    out->push_back(static_cast<char>(0x40 | (n >> 8)));
    out->push_back(static_cast<char>(n & 0xff));
  } else if (n <= UINT32_MAX) {
    out->push_back(static_cast<char>(0x80));
    const uint32_t be = boost::endian::native_to_big(static_cast<uint32_t>(n));
    out->append(reinterpret_cast<const char*>(&be), sizeof be);
  } else {
    out->push_back(static_cast<char>(0x81));
    const uint64_t be = boost::endian::native_to_big(n);
    out->append(reinterpret_cast<const char*>(&be), sizeof be);
  }
}

void PutString(std::string* out, std::string_view s) {
  PutLength(out, s.size());
  out->append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return in_.empty(); }

  bool Byte(uint8_t* b) {
    if (in_.empty()) return false;
    *b = static_cast<uint8_t>(in_.front());
    in_.remove_prefix(1);
    return true;
  }
  template <typename T>
  bool BigEndian(T* v) {
    if (in_.size() < sizeof(T)) return false;
    std::memcpy(v, in_.data(), sizeof(T));
    *v = boost::endian::big_to_native(*v);
    in_.remove_prefix(sizeof(T));
    return true;
  }
  template <typename T>
  bool LittleEndian(T* v) {
    if (in_.size() < sizeof(T)) return false;
    std::memcpy(v, in_.data(), sizeof(T));
    *v = boost::endian::little_to_native(*v);
    in_.remove_prefix(sizeof(T));
    return true;
  }

  // A length; *special is set (and *n holds the 6-bit code) for an encoded string.
  bool Length(uint64_t* n, bool* special) {
    uint8_t b = 0;
    if (!Byte(&b)) return false;
    *special = false;
    switch (b >> 6) {
      case 0:
        *n = b & 0x3f;
        return true;
      case 1: {
        uint8_t low = 0;
        if (!Byte(&low)) return false;
        *n = (static_cast<uint64_t>(b & 0x3f) << 8) | low;
        return true;
      }
      case 2:
        if (b == 0x80) {
          uint32_t v = 0;
          if (!BigEndian(&v)) return false;
          *n = v;
          return true;
        }
        if (b == 0x81) return BigEndian(n);
        return false;
      default:
        *special = true;
        *n = b & 0x3f;
        return true;
    }
  }

  bool String(std::string* out) {
    uint64_t n = 0;
    bool special = false;
    if (!Length(&n, &special)) return false;
    if (special) {
      // Integers saved as strings: 8, 16 or 32 bits, little-endian; 3 is LZF.
      if (n == 3) return Compressed(out);
      int64_t v = 0;
      if (n == 0) {
        uint8_t x = 0;
        if (!Byte(&x)) return false;
        v = static_cast<int8_t>(x);
      } else if (n == 1) {
        uint16_t x = 0;
        if (!LittleEndian(&x)) return false;
        v = static_cast<int16_t>(x);
      } else if (n == 2) {
        uint32_t x = 0;
        if (!LittleEndian(&x)) return false;
        v = static_cast<int32_t>(x);
      } else {
        return false;
      }
      *out = std::to_string(v);
      return true;
    }
    if (n > in_.size()) return false;
    out->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }

  // RDB_ENC_LZF: the compressed and the plain length, then the compressed bytes.
  bool Compressed(std::string* out) {
    uint64_t compressed = 0, plain = 0;
    bool special = false;
    if (!Length(&compressed, &special) || special || !Length(&plain, &special) || special ||
        compressed > in_.size() || plain == 0 || plain > compressed * kMaxLzfRatio ||
        plain > UINT32_MAX) {
      return false;
    }
    out->resize(plain);
    const unsigned got = lzf_decompress(in_.data(), static_cast<unsigned>(compressed), out->data(),
                                        static_cast<unsigned>(plain));
    in_.remove_prefix(compressed);
    return got == plain;
  }

  bool Count(uint64_t* n) {
    bool special = false;
    // Each counted item takes at least one byte: a larger count is a damaged payload,
    // not a reason to reserve memory.
    return Length(n, &special) && !special && *n <= in_.size();
  }

 private:
  std::string_view in_;
};

// Redis's listpack (listpack.c): [total bytes, u32][count, u16][entries][0xff], each entry
// its encoding and data, then that entry's length written backwards in 1 to 5 bytes.
// Appends the entries to *out, integers as their decimal text (what Redis's lpGet gives).
// False when anything is malformed, the back-lengths included.
bool ListpackEntries(std::string_view lp, std::vector<std::string>* out) {
  uint32_t total = 0;
  if (lp.size() < 7) return false;
  std::memcpy(&total, lp.data(), 4);
  if (boost::endian::little_to_native(total) != lp.size() || lp.back() != '\xff') return false;
  std::string_view rest = lp.substr(6, lp.size() - 7);
  auto byte = [&](size_t i) { return static_cast<uint8_t>(rest[i]); };
  auto little = [&](size_t at, size_t bytes) {  // unsigned, `bytes` little-endian
    uint64_t v = 0;
    for (size_t i = bytes; i-- > 0;) v = (v << 8) | byte(at + i);
    return v;
  };
  auto sign = [](uint64_t v, int bits) {  // two's complement in `bits`
    if (bits == 64) return static_cast<int64_t>(v);
    const uint64_t top = uint64_t{1} << (bits - 1);
    return static_cast<int64_t>(v ^ top) - static_cast<int64_t>(top);
  };
  while (!rest.empty()) {
    const uint8_t b = byte(0);
    size_t head = 1, data = 0;  // encoding bytes, then string bytes
    std::optional<int64_t> integer;
    if ((b & 0x80) == 0) {
      integer = b & 0x7f;
    } else if ((b & 0xc0) == 0x80) {
      data = b & 0x3f;
    } else if ((b & 0xe0) == 0xc0 && rest.size() >= 2) {
      head = 2;
      integer = sign((uint64_t{b & 0x1fu} << 8) | byte(1), 13);
    } else if ((b & 0xf0) == 0xe0 && rest.size() >= 2) {
      head = 2;
      data = (size_t{b & 0x0fu} << 8) | byte(1);
    } else if (b == 0xf0 && rest.size() >= 5) {
      head = 5;
      data = little(1, 4);
    } else if (b >= 0xf1 && b <= 0xf4) {
      const size_t bytes = b == 0xf1 ? 2 : b == 0xf2 ? 3 : b == 0xf3 ? 4 : 8;
      if (rest.size() < 1 + bytes) return false;
      head = 1 + bytes;
      integer = sign(little(1, bytes), static_cast<int>(bytes * 8));
    } else {
      return false;  // 0xf5-0xfe are unused; 0xff ends the list, which `rest` excludes
    }
    const uint64_t length = head + data;
    // lpEncodeBacklen: 7 bits a byte, the first byte without the continuation bit.
    const size_t back = length <= 127        ? 1
                        : length < 16383     ? 2
                        : length < 2097151   ? 3
                        : length < 268435455 ? 4
                                             : 5;
    if (rest.size() < length + back) return false;
    for (size_t i = 0; i < back; ++i) {
      const uint64_t group = (length >> (7 * (back - 1 - i))) & 0x7f;
      if (byte(length + i) != (i == 0 ? group : (group | 0x80))) return false;
    }
    out->push_back(integer ? std::to_string(*integer) : std::string(rest.substr(head, data)));
    rest.remove_prefix(length + back);
  }
  return true;
}

// Redis's intset (intset.c): [encoding: 2, 4 or 8, u32][count, u32][count integers of that
// many bytes, ascending], little-endian. Appends them as decimal text; false when malformed.
bool IntsetMembers(std::string_view is, std::vector<std::string>* out) {
  uint32_t width = 0, count = 0;
  if (is.size() < 8) return false;
  std::memcpy(&width, is.data(), 4);
  std::memcpy(&count, is.data() + 4, 4);
  width = boost::endian::little_to_native(width);
  count = boost::endian::little_to_native(count);
  if ((width != 2 && width != 4 && width != 8) || count == 0 ||
      is.size() != 8 + uint64_t{count} * width) {
    return false;
  }
  int64_t last = 0;
  for (uint32_t i = 0; i < count; ++i) {
    int64_t v = 0;
    const char* at = is.data() + 8 + size_t{i} * width;
    if (width == 2) {
      int16_t x = 0;
      std::memcpy(&x, at, 2);
      v = boost::endian::little_to_native(x);
    } else if (width == 4) {
      int32_t x = 0;
      std::memcpy(&x, at, 4);
      v = boost::endian::little_to_native(x);
    } else {
      std::memcpy(&v, at, 8);
      v = boost::endian::little_to_native(v);
    }
    if (i > 0 && v <= last) return false;  // ascending, no repeats
    last = v;
    out->push_back(std::to_string(v));
  }
  return true;
}

// Whether an item repeats, looking at every `step`-th from the first (a hash's names):
// Redis's loader refuses a payload where one does.
bool Repeats(const std::vector<std::string>& items, size_t step) {
  std::set<std::string_view> seen;
  for (size_t i = 0; i < items.size(); i += step) {
    if (!seen.insert(items[i]).second) return true;
  }
  return false;
}

}  // namespace

std::string EncodeDump(const DumpValue& value) {
  std::string out;
  switch (value.kind) {
    case DumpValue::Kind::kString:
      out.push_back(static_cast<char>(kRdbString));
      PutString(&out, value.string);
      break;
    case DumpValue::Kind::kList:
    case DumpValue::Kind::kSet:
      out.push_back(static_cast<char>(value.kind == DumpValue::Kind::kList ? kRdbList : kRdbSet));
      PutLength(&out, value.items.size());
      for (const std::string& s : value.items) PutString(&out, s);
      break;
    case DumpValue::Kind::kZset:
      out.push_back(static_cast<char>(kRdbZset2));
      PutLength(&out, value.items.size());
      for (size_t i = 0; i < value.items.size(); ++i) {
        PutString(&out, value.items[i]);
        uint64_t bits = 0;
        std::memcpy(&bits, &value.scores[i], sizeof bits);
        bits = boost::endian::native_to_little(bits);
        out.append(reinterpret_cast<const char*>(&bits), sizeof bits);
      }
      break;
    case DumpValue::Kind::kHash:
      out.push_back(static_cast<char>(kRdbHash));
      PutLength(&out, value.items.size() / 2);
      for (const std::string& s : value.items) PutString(&out, s);
      break;
  }
  const uint16_t version = boost::endian::native_to_little(kDumpRdbVersion);
  out.append(reinterpret_cast<const char*>(&version), sizeof version);
  const uint64_t crc = boost::endian::native_to_little(Crc64(out));
  out.append(reinterpret_cast<const char*>(&crc), sizeof crc);
  return out;
}

Status DecodeDump(std::string_view payload, DumpValue* value) {
  if (payload.size() < 10)
    return Status::InvalidArgument("DUMP payload version or checksum are wrong");
  const std::string_view body = payload.substr(0, payload.size() - 10);
  Reader footer(payload.substr(payload.size() - 10));
  uint16_t version = 0;
  uint64_t crc = 0;
  footer.LittleEndian(&version);
  footer.LittleEndian(&crc);
  if (version > kDumpRdbVersion || crc != Crc64(payload.substr(0, payload.size() - 8)))
    return Status::InvalidArgument("DUMP payload version or checksum are wrong");
  Reader in(body);
  uint8_t type = 0;
  const Status bad = Status::Corruption("Bad data format");
  if (!in.Byte(&type)) return bad;
  *value = DumpValue{};
  uint64_t n = 0;
  switch (type) {
    case kRdbString:
      value->kind = DumpValue::Kind::kString;
      if (!in.String(&value->string)) return bad;
      break;
    case kRdbList:
    case kRdbSet:
    case kRdbHash: {
      value->kind = type == kRdbList  ? DumpValue::Kind::kList
                    : type == kRdbSet ? DumpValue::Kind::kSet
                                      : DumpValue::Kind::kHash;
      if (!in.Count(&n) || n == 0) return bad;  // Redis never saves an empty one
      const uint64_t strings = type == kRdbHash ? 2 * n : n;
      for (uint64_t i = 0; i < strings; ++i) {
        std::string s;
        if (!in.String(&s)) return bad;
        value->items.push_back(std::move(s));
      }
      // "Duplicate set members / hash fields detected", as Redis's loader says.
      if (type != kRdbList && Repeats(value->items, type == kRdbHash ? 2 : 1)) return bad;
      break;
    }
    case kRdbZset2: {
      value->kind = DumpValue::Kind::kZset;
      if (!in.Count(&n) || n == 0) return bad;
      for (uint64_t i = 0; i < n; ++i) {
        std::string member;
        uint64_t bits = 0;
        double score = 0;
        if (!in.String(&member) || !in.LittleEndian(&bits)) return bad;
        std::memcpy(&score, &bits, sizeof score);
        if (std::isnan(score)) return bad;  // as Redis's loader: "Zset with NAN score"
        value->items.push_back(std::move(member));
        value->scores.push_back(score);
      }
      if (Repeats(value->items, 1)) return bad;  // "Duplicate zset fields detected"
      break;
    }
    case kRdbSetIntset: {
      value->kind = DumpValue::Kind::kSet;
      std::string blob;
      if (!in.String(&blob) || !IntsetMembers(blob, &value->items)) return bad;
      break;
    }
    case kRdbHashListpack:
    case kRdbZsetListpack: {
      const bool hash = type == kRdbHashListpack;
      value->kind = hash ? DumpValue::Kind::kHash : DumpValue::Kind::kZset;
      std::string blob;
      std::vector<std::string> entries;
      if (!in.String(&blob) || !ListpackEntries(blob, &entries) || entries.empty() ||
          entries.size() % 2 != 0) {
        return bad;
      }
      if (hash) {
        value->items = std::move(entries);
      } else {
        for (size_t i = 0; i < entries.size(); i += 2) {
          double score = 0;
          if (!ParseDouble(entries[i + 1], &score)) return bad;
          value->items.push_back(std::move(entries[i]));
          value->scores.push_back(score);
        }
      }
      if (Repeats(value->items, hash ? 2 : 1)) return bad;
      break;
    }
    case kRdbListQuicklist2: {
      value->kind = DumpValue::Kind::kList;
      if (!in.Count(&n) || n == 0) return bad;
      for (uint64_t i = 0; i < n; ++i) {
        uint64_t container = 0;
        bool special = false;
        std::string blob;
        if (!in.Length(&container, &special) || special || !in.String(&blob)) return bad;
        if (container == kQuicklistPlain) {
          value->items.push_back(std::move(blob));
        } else if (container != kQuicklistPacked) {
          return bad;
        } else {
          const size_t before = value->items.size();
          if (!ListpackEntries(blob, &value->items) || value->items.size() == before) return bad;
        }
      }
      break;
    }
    default:
      return bad;
  }
  return in.done() ? Status::OK() : bad;
}

}  // namespace devstate
