#include "service/dump_payload.h"

#include <algorithm>
#include <boost/crc.hpp>
#include <boost/endian/conversion.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "service/text.h"

extern "C" {
#include <lzf.h>  // liblzf, the LZF Redis compresses strings with
}

namespace devstate {
namespace {

constexpr uint8_t kRdbString = 0, kRdbList = 1, kRdbSet = 2, kRdbHash = 4, kRdbZset2 = 5;
// Redis 2.4-6.2's encodings, read only: sorted sets with text scores, a zipmap hash, a
// ziplist list, sorted set or hash, a quicklist of ziplists.
constexpr uint8_t kRdbZset = 3, kRdbHashZipmap = 9, kRdbListZiplist = 10, kRdbZsetZiplist = 12,
                  kRdbHashZiplist = 13, kRdbListQuicklist = 14;
// Redis 7.0's compact encodings, read only.
constexpr uint8_t kRdbSetIntset = 11, kRdbHashListpack = 16, kRdbZsetListpack = 17,
                  kRdbListQuicklist2 = 18;
// Streams: Redis 7.0's (written and read) and Redis 5-6.2's, without the stream's and the
// groups' counters (read).
constexpr uint8_t kRdbStreamListpacks = 15, kRdbStreamListpacks2 = 19;
// A stream's listpack (t_stream.c): a master entry (valid count, deleted count, the field
// names, 0), then per entry its flags, id as differences from the node's key, [field count,
// names,] values, and its own element count. These are the flags.
constexpr int64_t kStreamItemDeleted = 1, kStreamItemSameFields = 2;
// Where Redis's defaults (stream-node-max-entries, stream-node-max-bytes) start a new node.
constexpr size_t kStreamNodeEntries = 100, kStreamNodeBytes = 4096;
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

// A string as rdbSaveRawString writes it with rdbcompression on (Redis's default): an
// integer of at most 32 bits in its text's canonical form as that integer (8, 16 or 32 bits,
// little-endian), a string over 20 bytes LZF-compressed when that saves more than 4 bytes,
// anything else raw.
void PutString(std::string* out, std::string_view s) {
  int64_t v = 0;
  if (s.size() <= 11 && ParseInt64(s, &v) && v >= INT32_MIN && v <= INT32_MAX) {
    const int bytes = v >= INT8_MIN && v <= INT8_MAX ? 1 : v >= INT16_MIN && v <= INT16_MAX ? 2 : 4;
    out->push_back(static_cast<char>(0xc0 | (bytes == 1 ? 0 : bytes == 2 ? 1 : 2)));
    for (int i = 0; i < bytes; ++i)
      out->push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
    return;
  }
  if (s.size() > 20 && s.size() <= UINT32_MAX) {
    std::string packed(s.size() - 4, '\0');
    const unsigned n = lzf_compress(s.data(), static_cast<unsigned>(s.size()), packed.data(),
                                    static_cast<unsigned>(packed.size()));
    if (n > 0) {
      out->push_back(static_cast<char>(0xc3));
      PutLength(out, n);
      PutLength(out, s.size());
      out->append(packed, 0, n);
      return;
    }
  }
  PutLength(out, s.size());
  out->append(s);
}

// A listpack element's length as written after it (lpEncodeBacklen): 7 bits a byte, most
// significant first, every byte but the first with the continuation bit.
std::string Backlen(uint64_t length) {
  const size_t bytes = length <= 127        ? 1
                       : length < 16383     ? 2
                       : length < 2097151   ? 3
                       : length < 268435455 ? 4
                                            : 5;
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    const uint64_t group = (length >> (7 * (bytes - 1 - i))) & 0x7f;
    out.push_back(static_cast<char>(i == 0 ? group : (group | 0x80)));
  }
  return out;
}

// rdbSaveMillisecondTime: 8 bytes, little-endian.
void PutMilliseconds(std::string* out, int64_t ms) {
  const int64_t le = boost::endian::native_to_little(ms);
  out->append(reinterpret_cast<const char*>(&le), sizeof le);
}

// Builds a listpack (the format ListpackEntries below reads), each integer in its smallest
// encoding.
class ListpackWriter {
 public:
  void Integer(int64_t v) {
    char buf[9];
    size_t n = 0;
    auto little = [&](uint8_t tag, size_t bytes) {
      buf[n++] = static_cast<char>(tag);
      for (size_t i = 0; i < bytes; ++i)
        buf[n++] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
    };
    if (v >= 0 && v <= 127) {
      buf[n++] = static_cast<char>(v);
    } else if (v >= -4096 && v <= 4095) {
      const uint16_t u = static_cast<uint16_t>(v) & 0x1fff;
      buf[n++] = static_cast<char>(0xc0 | (u >> 8));
      buf[n++] = static_cast<char>(u & 0xff);
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
      little(0xf1, 2);
    } else if (v >= -(int64_t{1} << 23) && v < (int64_t{1} << 23)) {
      little(0xf2, 3);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      little(0xf3, 4);
    } else {
      little(0xf4, 8);
    }
    Element(std::string_view(buf, n), {});
  }

  // As lpAppend: a string that is an integer's canonical text is stored as that integer.
  void String(std::string_view s) {
    if (int64_t v = 0; s.size() <= 20 && ParseInt64(s, &v)) return Integer(v);
    char head[5];
    size_t n = 0;
    if (s.size() < 64) {
      head[n++] = static_cast<char>(0x80 | s.size());
    } else if (s.size() < 4096) {
      head[n++] = static_cast<char>(0xe0 | (s.size() >> 8));
      head[n++] = static_cast<char>(s.size() & 0xff);
    } else {
      head[n++] = static_cast<char>(0xf0);
      for (size_t i = 0; i < 4; ++i) head[n++] = static_cast<char>(s.size() >> (8 * i));
    }
    Element(std::string_view(head, n), s);
  }

  size_t bytes() const { return body_.size() + 7; }

  std::string Finish() const {
    std::string out(6, '\0');
    const uint32_t total = boost::endian::native_to_little(static_cast<uint32_t>(bytes()));
    const uint16_t count = boost::endian::native_to_little(
        static_cast<uint16_t>(std::min<size_t>(count_, UINT16_MAX)));  // 65535: "count it"
    std::memcpy(out.data(), &total, 4);
    std::memcpy(out.data() + 4, &count, 2);
    out.append(body_);
    out.push_back('\xff');
    return out;
  }

 private:
  // An element: its encoding, its data, then their length backwards (lpEncodeBacklen).
  void Element(std::string_view head, std::string_view data) {
    body_.append(head);
    body_.append(data);
    body_.append(Backlen(head.size() + data.size()));
    ++count_;
  }

  std::string body_;
  size_t count_ = 0;
};

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

  bool Raw(size_t n, std::string_view* out) {
    if (in_.size() < n) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool Id(StreamId* id) {  // 16 raw bytes, as a stream's rax keys them
    std::string_view raw;
    if (!Raw(16, &raw)) return false;
    *id = StreamId::Decode(raw);
    return true;
  }
  bool Milliseconds(int64_t* ms) { return LittleEndian(ms); }
  // A score as RDB_TYPE_ZSET_2 saves it: 8 bytes, little-endian.
  bool BinaryDouble(double* v) {
    uint64_t bits = 0;
    if (!LittleEndian(&bits)) return false;
    std::memcpy(v, &bits, sizeof *v);
    return true;
  }
  // As RDB_TYPE_ZSET saved it (rdbSaveDoubleValue): a length byte, 253 NaN, 254 +inf,
  // 255 -inf, else that many bytes of text.
  bool TextDouble(double* v) {
    uint8_t n = 0;
    if (!Byte(&n)) return false;
    if (n >= 253) {
      *v = n == 253 ? std::nan("") : n == 254 ? HUGE_VAL : -HUGE_VAL;
      return true;
    }
    std::string_view text;
    return Raw(n, &text) && ParseDouble(text, v);
  }
  bool Plain(uint64_t* n) {  // a length that is a number, not a string's
    bool special = false;
    return Length(n, &special) && !special;
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
    const std::string back = Backlen(length);
    if (rest.size() < length + back.size() || rest.substr(length, back.size()) != back)
      return false;
    out->push_back(integer ? std::to_string(*integer) : std::string(rest.substr(head, data)));
    rest.remove_prefix(length + back.size());
  }
  return true;
}

// Redis 2.6-6.2's ziplist (ziplist.c): [total bytes, u32][offset of the last entry, u32]
// [count, u16, 65535: count them][entries][0xff], each entry the previous one's length (1
// byte, or 0xfe and 4 bytes), its encoding and data. Appends the entries to *out, integers
// as decimal text; false when anything is malformed (ziplistValidateIntegrity, deep).
bool ZiplistEntries(std::string_view zl, std::vector<std::string>* out) {
  auto u = [&](size_t at, size_t bytes, bool big) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) {
      const uint64_t b = static_cast<uint8_t>(zl[at + i]);
      v |= big ? b << (8 * (bytes - 1 - i)) : b << (8 * i);
    }
    return v;
  };
  if (zl.size() < 11 || u(0, 4, false) != zl.size() || zl.back() != '\xff') return false;
  const uint64_t tail = u(4, 4, false), count = u(8, 2, false);
  const size_t end = zl.size() - 1;
  size_t at = 10, prev = 0, last = 10, entries = 0;
  while (at < end) {
    size_t prevlen = static_cast<uint8_t>(zl[at]), head = 1;
    if (prevlen == 0xfe) {
      if (end - at < 5) return false;
      prevlen = u(at + 1, 4, false);
      head = 5;
    } else if (prevlen == 0xff) {
      return false;
    }
    if (prevlen != prev || at + head >= end) return false;
    const uint8_t b = static_cast<uint8_t>(zl[at + head]);
    size_t enc = 1, data = 0;
    std::optional<int64_t> integer;
    auto sign = [](uint64_t v, int bits) {
      const uint64_t top = uint64_t{1} << (bits - 1);
      return static_cast<int64_t>(v ^ top) - static_cast<int64_t>(top);
    };
    const size_t room = end - (at + head);  // bytes left for the encoding and data
    if ((b & 0xc0) == 0x00) {
      data = b & 0x3f;
    } else if ((b & 0xc0) == 0x40) {
      if (room < 2) return false;
      enc = 2;
      data = (size_t{b & 0x3fu} << 8) | static_cast<uint8_t>(zl[at + head + 1]);
    } else if ((b & 0xc0) == 0x80) {
      if (room < 5) return false;
      enc = 5;
      data = u(at + head + 1, 4, true);
    } else {
      const size_t bytes = b == 0xfe   ? 1
                           : b == 0xc0 ? 2
                           : b == 0xf0 ? 3
                           : b == 0xd0 ? 4
                           : b == 0xe0 ? 8
                                       : 0;
      if (bytes == 0) {
        if (b < 0xf1 || b > 0xfd) return false;
        integer = (b & 0x0f) - 1;  // 0 to 12, in the encoding itself
      } else {
        if (room < 1 + bytes) return false;
        integer = bytes == 8 ? static_cast<int64_t>(u(at + head + 1, 8, false))
                             : sign(u(at + head + 1, bytes, false), static_cast<int>(bytes * 8));
        enc = 1 + bytes;
      }
    }
    if (room < enc + data) return false;
    out->push_back(integer ? std::to_string(*integer)
                           : std::string(zl.substr(at + head + enc, data)));
    last = at;
    prev = head + enc + data;
    at += prev;
    ++entries;
  }
  return at == end && tail == last && (count == UINT16_MAX || count == entries);
}

// Redis 2.4's zipmap (zipmap.c): [count, 1 byte, 254: count them], then per pair the name's
// length, the name, the value's length, a byte of free space after it, the value and that
// space, each length 1 byte (below 254) or 254 and 4 bytes; 0xff ends it. Appends names and
// values in turn; false when anything is malformed (zipmapValidateIntegrity).
bool ZipmapEntries(std::string_view zm, std::vector<std::string>* out) {
  if (zm.size() < 2 || zm.back() != '\xff') return false;
  const uint8_t count = static_cast<uint8_t>(zm[0]);
  std::string_view rest = zm.substr(1, zm.size() - 2);
  auto length = [&](uint64_t* n) {
    if (rest.empty()) return false;
    *n = static_cast<uint8_t>(rest[0]);
    if (*n < 254) {
      rest.remove_prefix(1);
      return true;
    }
    if (*n == 255 || rest.size() < 5) return false;
    uint32_t v = 0;
    std::memcpy(&v, rest.data() + 1, 4);
    *n = boost::endian::little_to_native(v);
    rest.remove_prefix(5);
    return true;
  };
  size_t pairs = 0;
  while (!rest.empty()) {
    uint64_t name = 0, value = 0;
    if (!length(&name) || rest.size() < name) return false;
    out->emplace_back(rest.substr(0, name));
    rest.remove_prefix(name);
    if (!length(&value) || rest.empty()) return false;
    const uint8_t free = static_cast<uint8_t>(rest[0]);
    rest.remove_prefix(1);
    if (rest.size() < value + free) return false;
    out->emplace_back(rest.substr(0, value));
    rest.remove_prefix(value + free);
    ++pairs;
  }
  return count == 254 || count == pairs;
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

// A sorted set's listpack as Redis 7.0 builds it (zzlInsertAt), members in the order given
// (ascending), each score an integer when it is one exactly (double2ll), else its "%.17g"
// text, "inf" or "-inf" (d2string).
std::string ZsetListpack(const DumpValue& value) {
  ListpackWriter lp;
  for (size_t i = 0; i < value.items.size(); ++i) {
    lp.String(value.items[i]);
    const double score = value.scores[i];
    constexpr double kLimit = static_cast<double>(INT64_MAX / 2);
    if (score >= -kLimit && score <= kLimit &&
        static_cast<double>(static_cast<int64_t>(score)) == score) {
      lp.Integer(static_cast<int64_t>(score));
    } else if (std::isinf(score)) {
      lp.String(score < 0 ? "-inf" : "inf");
    } else {
      char text[32];
      const int n = std::snprintf(text, sizeof text, "%.17g", score);
      lp.String(std::string_view(text, static_cast<size_t>(n)));
    }
  }
  return lp.Finish();
}

// The intset (the format IntsetMembers reads) of `members`, ascending, each in the
// narrowest of 2, 4 or 8 bytes that holds them all; false when one is not an integer.
bool Intset(const std::vector<std::string>& members, std::string* out) {
  std::vector<int64_t> values;
  for (const std::string& m : members) {
    int64_t v = 0;
    if (!ParseInt64(m, &v)) return false;
    values.push_back(v);
  }
  std::sort(values.begin(), values.end());
  uint32_t width = 2;
  for (int64_t v : values) {
    if (v < INT32_MIN || v > INT32_MAX) {
      width = 8;
    } else if ((v < INT16_MIN || v > INT16_MAX) && width < 4) {
      width = 4;
    }
  }
  auto put32 = [&](uint32_t x) {
    const uint32_t le = boost::endian::native_to_little(x);
    out->append(reinterpret_cast<const char*>(&le), 4);
  };
  put32(width);
  put32(static_cast<uint32_t>(values.size()));
  for (int64_t v : values) {
    for (uint32_t i = 0; i < width; ++i)
      out->push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
  }
  return true;
}

// A stream as Redis 7.0 saves it (rdbSaveObject, OBJ_STREAM): its listpacks, each keyed
// by its first entry's id, with no deleted entries; the counters; each group with its
// pending entries, then its consumers with the ids each owns.
void PutStream(std::string* out, const DumpStream& s) {
  std::vector<std::pair<StreamId, std::string>> nodes;
  for (size_t i = 0; i < s.entries.size();) {
    const StreamId master = s.entries[i].id;
    const std::vector<std::string>& master_fields = s.entries[i].fields;
    const size_t names = master_fields.size() / 2;
    ListpackWriter lp;
    size_t end = i;
    // The entries this node takes: up to kStreamNodeEntries, and past kStreamNodeBytes
    // only its first (the size counted is the values', near enough for a limit Redis
    // itself applies approximately).
    size_t bytes = 0;
    while (end < s.entries.size() && end - i < kStreamNodeEntries &&
           (end == i || bytes < kStreamNodeBytes)) {
      for (const std::string& f : s.entries[end].fields) bytes += f.size() + 2;
      ++end;
    }
    lp.Integer(static_cast<int64_t>(end - i));
    lp.Integer(0);
    lp.Integer(static_cast<int64_t>(names));
    for (size_t f = 0; f < master_fields.size(); f += 2) lp.String(master_fields[f]);
    lp.Integer(0);
    for (size_t e = i; e < end; ++e) {
      const DumpStream::Entry& entry = s.entries[e];
      bool same = entry.fields.size() == master_fields.size();
      for (size_t f = 0; same && f < master_fields.size(); f += 2)
        same = entry.fields[f] == master_fields[f];
      lp.Integer(same ? kStreamItemSameFields : 0);
      lp.Integer(static_cast<int64_t>(entry.id.ms - master.ms));
      lp.Integer(static_cast<int64_t>(entry.id.seq - master.seq));
      const int64_t pairs = static_cast<int64_t>(entry.fields.size() / 2);
      if (same) {
        for (size_t f = 1; f < entry.fields.size(); f += 2) lp.String(entry.fields[f]);
        lp.Integer(pairs + 3);
      } else {
        lp.Integer(pairs);
        for (const std::string& f : entry.fields) lp.String(f);
        lp.Integer(2 * pairs + 4);
      }
    }
    nodes.emplace_back(master, lp.Finish());
    i = end;
  }
  PutLength(out, nodes.size());
  for (const auto& [master, lp] : nodes) {
    PutString(out, master.Encode());
    PutString(out, lp);
  }
  const StreamId first = s.entries.empty() ? StreamId{} : s.entries.front().id;
  for (uint64_t n : {uint64_t{s.entries.size()}, s.counters.last_id.ms, s.counters.last_id.seq,
                     first.ms, first.seq, s.counters.max_deleted.ms, s.counters.max_deleted.seq,
                     s.counters.entries_added}) {
    PutLength(out, n);
  }
  PutLength(out, s.groups.size());
  for (const DumpStream::Group& g : s.groups) {
    PutString(out, g.name);
    PutLength(out, g.last_id.ms);
    PutLength(out, g.last_id.seq);
    PutLength(out, static_cast<uint64_t>(g.entries_read.value_or(-1)));
    PutLength(out, g.pending.size());
    std::map<std::string_view, std::vector<StreamId>> owned;
    for (const StreamPending& p : g.pending) {
      out->append(p.id.Encode());
      PutMilliseconds(out, p.delivery_time);
      PutLength(out, p.delivery_count);
      owned[p.consumer].push_back(p.id);
    }
    PutLength(out, g.consumers.size());
    for (const DumpStream::Consumer& c : g.consumers) {
      PutString(out, c.name);
      PutMilliseconds(out, c.seen);
      const std::vector<StreamId>& ids = owned[c.name];
      PutLength(out, ids.size());
      for (const StreamId& id : ids) out->append(id.Encode());
    }
  }
}

// One listpack of a stream, keyed by `master`: appends its live entries. False when it is
// malformed (t_stream.c's streamValidateListpackIntegrity, deep) or has none.
bool StreamNode(StreamId master, std::string_view blob, std::vector<DumpStream::Entry>* out) {
  std::vector<std::string> lp;
  if (!ListpackEntries(blob, &lp)) return false;
  size_t at = 0;
  auto integer = [&](int64_t* v) { return at < lp.size() && ParseInt64(lp[at++], v); };
  auto count = [&](int64_t* v) { return integer(v) && *v >= 0 && *v <= int64_t(lp.size()); };
  int64_t valid = 0, deleted = 0, names = 0, zero = -1;
  if (!count(&valid) || !count(&deleted) || !count(&names) || lp.size() - at < size_t(names))
    return false;
  const size_t master_at = at;
  at += names;
  if (!integer(&zero) || zero != 0 || valid == 0) return false;
  int64_t live = 0;
  for (int64_t e = 0; e < valid + deleted; ++e) {
    int64_t flags = 0, ms = 0, seq = 0, pairs = names, elements = 0;
    if (!integer(&flags) || !integer(&ms) || !integer(&seq)) return false;
    const bool same = flags & kStreamItemSameFields;
    if (!same && !count(&pairs)) return false;
    if (pairs == 0 || lp.size() - at < size_t(same ? pairs : 2 * pairs)) return false;
    DumpStream::Entry entry{
        {master.ms + static_cast<uint64_t>(ms), master.seq + static_cast<uint64_t>(seq)}, {}};
    for (int64_t f = 0; f < pairs; ++f) {
      if (same) {
        entry.fields.push_back(lp[master_at + f]);
        entry.fields.push_back(std::move(lp[at++]));
      } else {
        entry.fields.push_back(std::move(lp[at++]));
        entry.fields.push_back(std::move(lp[at++]));
      }
    }
    if (!integer(&elements) || elements != (same ? pairs + 3 : 2 * pairs + 4)) return false;
    if (flags & kStreamItemDeleted) continue;
    ++live;
    out->push_back(std::move(entry));
  }
  return live == valid && at == lp.size();
}

// A stream as rdbLoadObject reads one; `v2`: Redis 7.0's, with the counters.
bool GetStream(Reader& in, bool v2, DumpStream* s) {
  uint64_t nodes = 0;
  if (!in.Count(&nodes)) return false;
  for (uint64_t i = 0; i < nodes; ++i) {
    std::string key, lp;
    if (!in.String(&key) || key.size() != 16 || !in.String(&lp)) return false;
    if (!StreamNode(StreamId::Decode(key), lp, &s->entries)) return false;
  }
  for (size_t i = 1; i < s->entries.size(); ++i) {
    if (!(s->entries[i - 1].id < s->entries[i].id)) return false;
  }
  uint64_t length = 0;
  StreamId first;
  if (!in.Plain(&length) || !in.Plain(&s->counters.last_id.ms) ||
      !in.Plain(&s->counters.last_id.seq)) {
    return false;
  }
  if (v2) {
    if (!in.Plain(&first.ms) || !in.Plain(&first.seq) || !in.Plain(&s->counters.max_deleted.ms) ||
        !in.Plain(&s->counters.max_deleted.seq) || !in.Plain(&s->counters.entries_added)) {
      return false;
    }
  } else {
    s->counters.entries_added = length;  // as Redis 7.0 migrates one
  }
  // The length counts the live entries, and the last id is at or past the last of them
  // (XADD's next id is above it).
  if (length != s->entries.size() ||
      (!s->entries.empty() && s->counters.last_id < s->entries.back().id)) {
    return false;
  }
  uint64_t groups = 0;
  if (!in.Count(&groups)) return false;
  std::set<std::string> group_names;
  for (uint64_t g = 0; g < groups; ++g) {
    DumpStream::Group group;
    if (!in.String(&group.name) || !group_names.insert(group.name).second ||
        !in.Plain(&group.last_id.ms) || !in.Plain(&group.last_id.seq)) {
      return false;
    }
    if (v2) {
      uint64_t read = 0;
      if (!in.Plain(&read)) return false;
      group.entries_read = static_cast<int64_t>(read);
    }
    uint64_t pending = 0;
    if (!in.Count(&pending)) return false;
    std::map<StreamId, size_t> at;  // a pending id's place in group.pending
    for (uint64_t p = 0; p < pending; ++p) {
      StreamPending nack;
      if (!in.Id(&nack.id) || !in.Milliseconds(&nack.delivery_time) ||
          !in.Plain(&nack.delivery_count) || !at.emplace(nack.id, group.pending.size()).second) {
        return false;
      }
      group.pending.push_back(std::move(nack));
    }
    uint64_t consumers = 0;
    if (!in.Count(&consumers)) return false;
    std::set<std::string> consumer_names;
    size_t owned = 0;
    for (uint64_t c = 0; c < consumers; ++c) {
      DumpStream::Consumer consumer;
      uint64_t ids = 0;
      if (!in.String(&consumer.name) || !consumer_names.insert(consumer.name).second ||
          !in.Milliseconds(&consumer.seen) || !in.Count(&ids)) {
        return false;
      }
      for (uint64_t k = 0; k < ids; ++k) {
        StreamId id;
        if (!in.Id(&id)) return false;
        auto it = at.find(id);
        // In the group's list, and owned once (Redis: "Consumer entry not found in group
        // global PEL", "Duplicated consumer PEL entry").
        if (it == at.end() || !group.pending[it->second].consumer.empty()) return false;
        group.pending[it->second].consumer = consumer.name;
        ++owned;
      }
      group.consumers.push_back(std::move(consumer));
    }
    // Redis, sanitizing: "Stream CG PEL entry without consumer".
    if (owned != group.pending.size()) return false;
    std::sort(group.pending.begin(), group.pending.end(),
              [](const StreamPending& a, const StreamPending& b) { return a.id < b.id; });
    s->groups.push_back(std::move(group));
  }
  return true;
}

// A packed hash's names and values, or a sorted set's members and scores, in turn: into
// *value, refusing an odd count, a score that is not a number and a repeated name.
bool TakePairs(std::vector<std::string> entries, bool hash, DumpValue* value) {
  value->kind = hash ? DumpValue::Kind::kHash : DumpValue::Kind::kZset;
  if (entries.empty() || entries.size() % 2 != 0) return false;
  if (hash) {
    value->items = std::move(entries);
  } else {
    for (size_t i = 0; i < entries.size(); i += 2) {
      double score = 0;
      if (!ParseDouble(entries[i + 1], &score)) return false;
      value->items.push_back(std::move(entries[i]));
      value->scores.push_back(score);
    }
  }
  return !Repeats(value->items, hash ? 2 : 1);
}

}  // namespace

std::string EncodeDump(const DumpValue& value) {
  std::string out;
  switch (value.kind) {
    case DumpValue::Kind::kString:
      out.push_back(static_cast<char>(kRdbString));
      PutString(&out, value.string);
      break;
    case DumpValue::Kind::kSet:
      if (std::string intset; value.compact && Intset(value.items, &intset)) {
        out.push_back(static_cast<char>(kRdbSetIntset));
        PutString(&out, intset);
        break;
      }
      [[fallthrough]];
    case DumpValue::Kind::kList:
      out.push_back(static_cast<char>(value.kind == DumpValue::Kind::kList ? kRdbList : kRdbSet));
      PutLength(&out, value.items.size());
      for (const std::string& s : value.items) PutString(&out, s);
      break;
    case DumpValue::Kind::kZset:
      if (value.compact) {
        out.push_back(static_cast<char>(kRdbZsetListpack));
        PutString(&out, ZsetListpack(value));
        break;
      }
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
      if (value.compact) {
        ListpackWriter lp;
        for (const std::string& item : value.items) lp.String(item);
        out.push_back(static_cast<char>(kRdbHashListpack));
        PutString(&out, lp.Finish());
        break;
      }
      out.push_back(static_cast<char>(kRdbHash));
      PutLength(&out, value.items.size() / 2);
      for (const std::string& s : value.items) PutString(&out, s);
      break;
    case DumpValue::Kind::kStream:
      out.push_back(static_cast<char>(kRdbStreamListpacks2));
      PutStream(&out, value.stream);
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
    case kRdbZset:
    case kRdbZset2: {
      value->kind = DumpValue::Kind::kZset;
      if (!in.Count(&n) || n == 0) return bad;
      for (uint64_t i = 0; i < n; ++i) {
        std::string member;
        double score = 0;
        if (!in.String(&member) ||
            !(type == kRdbZset2 ? in.BinaryDouble(&score) : in.TextDouble(&score))) {
          return bad;
        }
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
    case kRdbZsetListpack:
    case kRdbHashZiplist:
    case kRdbZsetZiplist:
    case kRdbHashZipmap: {
      std::string blob;
      std::vector<std::string> entries;
      if (!in.String(&blob)) return bad;
      const bool read = type == kRdbHashZipmap ? ZipmapEntries(blob, &entries)
                        : type == kRdbHashZiplist || type == kRdbZsetZiplist
                            ? ZiplistEntries(blob, &entries)
                            : ListpackEntries(blob, &entries);
      const bool hash =
          type == kRdbHashListpack || type == kRdbHashZiplist || type == kRdbHashZipmap;
      if (!read || !TakePairs(std::move(entries), hash, value)) return bad;
      break;
    }
    case kRdbListZiplist: {
      value->kind = DumpValue::Kind::kList;
      std::string blob;
      if (!in.String(&blob) || !ZiplistEntries(blob, &value->items) || value->items.empty())
        return bad;
      break;
    }
    case kRdbListQuicklist:
    case kRdbListQuicklist2: {
      // Nodes of listpacks (Redis 7.0) or ziplists (3.2-6.2); in Redis 7.0's, a node may
      // also be one plain element. An empty node is skipped, as Redis skips it; a list with
      // no element is refused.
      value->kind = DumpValue::Kind::kList;
      if (!in.Count(&n) || n == 0) return bad;
      for (uint64_t i = 0; i < n; ++i) {
        uint64_t container = kQuicklistPacked;
        std::string blob;
        if (type == kRdbListQuicklist2 && !in.Plain(&container)) return bad;
        if (!in.String(&blob) || blob.empty()) return bad;
        if (container == kQuicklistPlain) {
          value->items.push_back(std::move(blob));
        } else if (container != kQuicklistPacked) {
          return bad;
        } else if (!(type == kRdbListQuicklist ? ZiplistEntries(blob, &value->items)
                                               : ListpackEntries(blob, &value->items))) {
          return bad;
        }
      }
      if (value->items.empty()) return bad;
      break;
    }
    case kRdbStreamListpacks:
    case kRdbStreamListpacks2:
      value->kind = DumpValue::Kind::kStream;
      if (!GetStream(in, type == kRdbStreamListpacks2, &value->stream)) return bad;
      break;
    default:
      return bad;
  }
  return in.done() ? Status::OK() : bad;
}

}  // namespace devstate
