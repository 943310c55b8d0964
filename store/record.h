// Record: one value in the keyspace, and its encoding in the journal.
//
// A Record is immutable once published: the keyspace hands out shared pointers to const
// records, so a reader can keep sending one without any lock while the committer replaces
// it with a new record. The store does not interpret `type`, `value` or `meta`; the service
// gives them meaning (a plain Redis string, a device record with its metadata, ...).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "store/fields.h"
#include "store/status.h"

namespace devstate {

struct Record {
  uint8_t type = 0;          // the service's tag for how to read `value` and `meta`
  int64_t expire_at_ms = 0;  // Unix epoch milliseconds; 0 means it never expires
  std::string value;         // what a plain read returns
  std::string meta;          // opaque metadata kept beside the value
  // A composite value's fields (a Redis hash), journaled one entry per field (fields.h);
  // null for a value journaled whole. Shared between versions of a record that differ only
  // in their header (an EXPIRE), never changed once published.
  std::shared_ptr<const FieldMap> fields;

  bool ExpiredAt(int64_t now_ms) const { return expire_at_ms != 0 && expire_at_ms <= now_ms; }
};

using RecordPtr = std::shared_ptr<const Record>;

// The bytes the keyspace holds for `key` and `record` (its node, the record and what it
// owns), an estimate from the structures' sizes: MEMORY USAGE.
size_t RecordMemory(std::string_view key, const Record& record);

// Journal encoding: [format][type][varint expire_at_ms][varint meta size][meta][value].
// Format 1 is a whole record; format 2 a composite record's header, whose fields are
// journaled apart (DecodeRecord gives it an empty FieldMap to fill).
std::string EncodeRecord(const Record& record);
Status DecodeRecord(std::string_view data, Record* record);

}  // namespace devstate
