// DUMP and RESTORE payloads in Redis's own format, so that a value DUMPed from devstate
// RESTOREs into redis-server and back: an RDB object ([type][value]), then the RDB version
// (2 bytes, little-endian) and a CRC-64 of everything before it (8 bytes, little-endian;
// the Jones polynomial Redis uses, by Boost.CRC).
//
// Written: strings (RDB_TYPE_STRING), lists (RDB_TYPE_LIST), sets (RDB_TYPE_SET), hashes
// (RDB_TYPE_HASH) and sorted sets (RDB_TYPE_ZSET_2: binary double scores), every string raw, under
// RDB version 10 (Redis 7.0). Read: those types, strings raw, integer-encoded or LZF-compressed
// (liblzf), and what redis-server 7.0 itself DUMPs: a small set as an intset
// (RDB_TYPE_SET_INTSET), a small hash or sorted set as a listpack (RDB_TYPE_HASH_LISTPACK,
// RDB_TYPE_ZSET_LISTPACK), a list as a quicklist of listpacks (RDB_TYPE_LIST_QUICKLIST_2), from
// RDB versions up to 10. Every byte is checked (a listpack's back-lengths, an intset's order,
// a repeated member or field, an LZF length past what LZF can expand to); anything malformed,
// and the older ziplist and zipmap encodings, are refused as bad data, never half-restored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace devstate {

struct DumpValue {
  enum class Kind : uint8_t { kString, kList, kSet, kHash, kZset };
  Kind kind = Kind::kString;
  std::string string;              // kString
  std::vector<std::string> items;  // kList: elements; kSet, kZset: members; kHash: name, value, ...
  std::vector<double> scores;      // kZset: items[i]'s score (never NaN; members distinct)
};

inline constexpr uint16_t kDumpRdbVersion = 10;

std::string EncodeDump(const DumpValue& value);
// InvalidArgument: the version or checksum is wrong; Corruption: the object is malformed
// or of a type or encoding not read here.
Status DecodeDump(std::string_view payload, DumpValue* value);

}  // namespace devstate
