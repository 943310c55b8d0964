// DUMP and RESTORE payloads in Redis's own format, so that a value DUMPed from devstate
// RESTOREs into redis-server and back: an RDB object ([type][value]), then the RDB version
// (2 bytes, little-endian) and a CRC-64 of everything before it (8 bytes, little-endian;
// the Jones polynomial Redis uses, by Boost.CRC).
//
// Written: strings (RDB_TYPE_STRING), lists (RDB_TYPE_LIST), sets (RDB_TYPE_SET), hashes
// (RDB_TYPE_HASH), sorted sets (RDB_TYPE_ZSET_2: binary double scores), and streams
// (RDB_TYPE_STREAM_LISTPACKS_2: entries in listpacks of at most 100, with the consumer
// groups, their pending entries and consumers), under RDB version 10 (Redis 7.0). Each string
// in them is written as Redis writes it by default: a small integer as an integer, over 20
// bytes LZF-compressed when shorter, else raw. A set, hash or sorted set Redis would keep
// compact is written as its intset (RDB_TYPE_SET_INTSET) or listpack (RDB_TYPE_HASH_LISTPACK,
// RDB_TYPE_ZSET_LISTPACK). So the DUMP of a string, a stream, a listpack hash or sorted set
// or an intset is redis-server's, byte for byte.
// Read: those types, strings raw, integer-encoded or LZF-compressed (liblzf), and what
// redis-server 7.0 itself DUMPs: a small set as an intset (RDB_TYPE_SET_INTSET), a small hash
// or sorted set as a listpack (RDB_TYPE_HASH_LISTPACK, RDB_TYPE_ZSET_LISTPACK), a list as a
// quicklist of listpacks (RDB_TYPE_LIST_QUICKLIST_2). And what Redis 2.4-6.2 DUMPed, so that
// values move from those over DUMP/RESTORE: sorted sets with text scores (RDB_TYPE_ZSET), a
// zipmap hash (RDB_TYPE_HASH_ZIPMAP), a ziplist list, sorted set or hash
// (RDB_TYPE_LIST_ZIPLIST, _ZSET_ZIPLIST, _HASH_ZIPLIST), a quicklist of ziplists
// (RDB_TYPE_LIST_QUICKLIST), a stream without its 7.0 counters (RDB_TYPE_STREAM_LISTPACKS,
// which RESTORE derives as Redis 7.0 does); RDB versions up to 10. Every byte is checked (a
// listpack's back-lengths, a ziplist's previous-entry lengths and tail, an intset's order, a
// repeated member or field, an LZF length past what LZF can expand to, a stream's entry
// counts, id order, and pending entries without exactly one owner); anything malformed is
// refused as bad data, never half-restored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/stream_value.h"
#include "store/status.h"

namespace devstate {

// A stream's content as a payload carries it.
struct DumpStream {
  struct Entry {
    StreamId id;
    std::vector<std::string> fields;  // name, value, ...; at least one pair
    bool operator==(const Entry&) const = default;
  };
  struct Consumer {
    std::string name;
    int64_t seen = 0;  // Unix ms
    bool operator==(const Consumer&) const = default;
  };
  struct Group {
    std::string name;
    StreamId last_id;
    // -1: not known. None: the payload (Redis 5-6.2's) has no counter, and RESTORE
    // estimates it from last_id as Redis 7.0 does.
    std::optional<int64_t> entries_read;
    std::vector<StreamPending> pending;  // by id; each owned by one of `consumers`
    std::vector<Consumer> consumers;     // distinct names
    bool operator==(const Group&) const = default;
  };
  std::vector<Entry> entries;  // ascending ids, none above counters.last_id
  StreamCounters counters;
  std::vector<Group> groups;  // distinct names

  bool operator==(const DumpStream&) const = default;
};

struct DumpValue {
  enum class Kind : uint8_t { kString, kList, kSet, kHash, kZset, kStream };
  Kind kind = Kind::kString;
  std::string string;              // kString
  std::vector<std::string> items;  // kList: elements; kSet, kZset: members; kHash: name, value, ...
  std::vector<double> scores;      // kZset: items[i]'s score (never NaN; members distinct)
  DumpStream stream;               // kStream
  // kSet: write it as an intset (every member an integer); kHash: as a listpack, in the
  // items' order; kZset: as a listpack, in the items' order (ascending, as Redis keeps it).
  // What Redis writes for a value it keeps compact (OBJECT ENCODING intset, listpack), so
  // the bytes are its own.
  bool compact = false;
};

inline constexpr uint16_t kDumpRdbVersion = 10;

std::string EncodeDump(const DumpValue& value);
// InvalidArgument: the version or checksum is wrong; Corruption: the object is malformed
// or of a type or encoding not read here.
Status DecodeDump(std::string_view payload, DumpValue* value);

}  // namespace devstate
