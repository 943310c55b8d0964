#include "service/dump_payload.h"

#include <boost/crc.hpp>
#include <boost/endian/conversion.hpp>
#include <cmath>
#include <cstring>
#include <set>

namespace devstate {
namespace {

constexpr uint8_t kRdbString = 0, kRdbList = 1, kRdbSet = 2, kRdbHash = 4, kRdbZset2 = 5;

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
      // Integers saved as strings: 8, 16 or 32 bits, little-endian. 3 is LZF: not read.
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

  bool Count(uint64_t* n) {
    bool special = false;
    // Each counted item takes at least one byte: a larger count is a damaged payload,
    // not a reason to reserve memory.
    return Length(n, &special) && !special && *n <= in_.size();
  }

 private:
  std::string_view in_;
};

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
      break;
    }
    case kRdbZset2: {
      value->kind = DumpValue::Kind::kZset;
      if (!in.Count(&n) || n == 0) return bad;
      std::set<std::string_view> seen;
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
      for (const std::string& m : value->items) {
        if (!seen.insert(m).second) return bad;  // "Duplicate zset fields detected"
      }
      break;
    }
    default:
      return bad;
  }
  return in.done() ? Status::OK() : bad;
}

}  // namespace devstate
