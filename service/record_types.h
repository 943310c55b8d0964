// The tags in Record::type: how the service reads a record's `value` and `meta`. They are
// written to the journal, so a tag's number never changes. Every layer that looks at a
// record's type includes this header; none keeps a copy of a number.
#pragma once

#include <cstdint>
#include <string_view>

namespace devstate {

inline constexpr uint8_t kStringRecordType = 0;  // a Redis string: value = the bytes
inline constexpr uint8_t kDeviceRecordType = 2;  // a device record (device_record.h)
// A Redis hash: Record::fields holds its fields, journaled one by one (store/fields.h);
// `meta` "hashtable" once Redis would have converted it from a listpack.
inline constexpr uint8_t kHashRecordType = 3;
// A JSON document (JSON.SET): value = its compact text (service/json_document.h).
inline constexpr uint8_t kJsonRecordType = 4;
// A Redis list: Record::fields holds its elements under dense ids, `meta` the first one's
// (service/list_value.h).
inline constexpr uint8_t kListRecordType = 5;
// A Redis set: Record::fields holds its members (with empty values); `meta` "hashtable"
// once Redis would have converted it from an intset.
inline constexpr uint8_t kSetRecordType = 6;
// A Redis sorted set: Record::fields holds its members, scored (FieldMap::Scored); `meta`
// "skiplist" once Redis would have converted it from a listpack.
inline constexpr uint8_t kZsetRecordType = 7;
// A Redis stream: Record::fields holds its entries, groups, consumers and pending entries,
// scored rows (service/stream_value.h).
inline constexpr uint8_t kStreamRecordType = 8;

// What Redis's TYPE answers for a record of `type`: a device record reads as a string.
// (A device record also answers the JSON.* reads, on its state.)
inline std::string_view RedisTypeName(uint8_t type) {
  switch (type) {
    case kStringRecordType:
    case kDeviceRecordType:
      return "string";
    case kHashRecordType:
      return "hash";
    case kListRecordType:
      return "list";
    case kSetRecordType:
      return "set";
    case kZsetRecordType:
      return "zset";
    case kStreamRecordType:
      return "stream";
    case kJsonRecordType:
      return "ReJSON-RL";  // RedisJSON's module type name
  }
  return "none";
}

}  // namespace devstate
