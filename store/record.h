// Record: one value in the keyspace, and its encoding in the journal.
//
// A Record is immutable: the keyspace hands out counted pointers to const records, so a
// reader can keep sending one without any lock while the committer replaces it with a new
// record. The store does not interpret `type`, `value` or `meta`; the service gives them
// meaning (a plain Redis string, a device record with its metadata, ...).
//
// Memory: a record is one allocation, its header followed by the bytes of `meta` and
// `value`, counted by an intrusive reference count. A 160-byte value takes one 192-byte
// heap block, where a struct of two std::strings behind a std::shared_ptr took two blocks
// and 304 bytes; with a million keys that difference is most of what separated devstate's
// memory from redis-server's (docs/BENCHMARKS.md).
#pragma once

#include <atomic>
#include <boost/smart_ptr/intrusive_ptr.hpp>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "store/fields.h"
#include "store/status.h"

namespace devstate {

class Record;
using RecordPtr = boost::intrusive_ptr<const Record>;

class Record {
 public:
  // What a record is made of; the views need to live only for the call to Make.
  struct Parts {
    uint8_t type = 0;          // the service's tag for how to read `value` and `meta`
    int64_t expire_at_ms = 0;  // Unix epoch milliseconds; 0 means it never expires
    std::string_view value{};  // what a plain read returns
    std::string_view meta{};   // opaque metadata kept beside the value
    // A composite value's fields (a Redis hash), journaled one entry per field (fields.h);
    // null for a value journaled whole. Shared between versions of a record that differ
    // only in their header (an EXPIRE); never changed once the record is published.
    std::shared_ptr<const FieldMap> fields{};
  };

  // The largest value or meta a record holds (the 32-bit sizes of its header); the RESP
  // and HTTP limits stay far below it.
  static constexpr size_t kMaxBytes = UINT32_MAX;

  static RecordPtr Make(const Parts& parts);

  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  uint8_t type() const { return static_cast<uint8_t>(packed_.load(kRelaxed) & kTypeMask); }
  int64_t expire_at_ms() const { return expire_at_ms_; }
  std::string_view value() const { return {bytes() + meta_size_, value_size_}; }
  std::string_view meta() const { return {bytes(), meta_size_}; }
  const std::shared_ptr<const FieldMap>& fields() const {
    return has_fields() ? *std::launder(reinterpret_cast<const FieldsPtr*>(this + 1)) : kNoFields;
  }
  Parts parts() const { return {type(), expire_at_ms_, value(), meta(), fields()}; }

  bool ExpiredAt(int64_t now_ms) const { return expire_at_ms_ != 0 && expire_at_ms_ <= now_ms; }

  // A copy of this record with another expiry time, or other fields.
  RecordPtr WithExpiry(int64_t expire_at_ms) const;
  RecordPtr WithFields(std::shared_ptr<const FieldMap> fields) const;

  // When a client last read or wrote it (Redis's LRU clock: OBJECT IDLETIME), in seconds
  // modulo 2^24, as Redis keeps it. A record is made "now"; Touch moves it to now (a
  // relaxed store, only when the second changed), SetIdle back by `seconds`. Not part of
  // the value: it is neither journaled nor replicated, and a restart makes it "now".
  void Touch() const;
  void SetIdle(int64_t seconds) const;
  int64_t IdleSeconds() const;

  // The references to this record. Only meaningful to a thread that knows every holder
  // (a commit group's own staged record: KeyView::GetForEdit).
  uint32_t use_count() const { return refs_.load(std::memory_order_relaxed); }

  // The bytes of this record's heap block.
  size_t AllocatedSize() const { return BlockSize(has_fields(), meta_size_, value_size_); }

 private:
  using FieldsPtr = std::shared_ptr<const FieldMap>;
  static const FieldsPtr kNoFields;

  static constexpr auto kRelaxed = std::memory_order_relaxed;
  static constexpr uint32_t kTypeMask = 0x7f;
  static constexpr uint32_t kHasFieldsBit = 0x80;
  static constexpr int kClockShift = 8;  // the access clock's 24 bits above type and flag
  static uint32_t Clock();               // Unix seconds modulo 2^24
  bool has_fields() const { return (packed_.load(kRelaxed) & kHasFieldsBit) != 0; }
  void SetClock(uint32_t clock) const;

  static size_t BlockSize(bool has_fields, size_t meta_size, size_t value_size) {
    return sizeof(Record) + (has_fields ? sizeof(FieldsPtr) : 0) + meta_size + value_size;
  }

  explicit Record(const Parts& parts);
  ~Record();

  // After the header: the fields pointer (only when there are fields), meta, value.
  const char* bytes() const {
    return reinterpret_cast<const char*>(this + 1) + (has_fields() ? sizeof(FieldsPtr) : 0);
  }
  char* bytes() { return const_cast<char*>(std::as_const(*this).bytes()); }

  friend void intrusive_ptr_add_ref(const Record* r) {
    r->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  friend void intrusive_ptr_release(const Record* r) {
    if (r->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) Destroy(r);
  }
  static void Destroy(const Record* r);

  // 24 bytes: a value of 160 bytes fits a 192-byte heap chunk with its header.
  mutable std::atomic<uint32_t> refs_{0};
  uint32_t value_size_;
  uint32_t meta_size_;
  // The type (7 bits), whether fields follow (1 bit), and the access clock (24 bits): one
  // word, so the clock costs no room. Only the clock ever changes.
  mutable std::atomic<uint32_t> packed_;
  int64_t expire_at_ms_;
  // Followed by a FieldsPtr when has_fields(), then meta_size_ bytes of meta, then
  // value_size_ bytes of value.
};
static_assert(sizeof(Record) == 24 && alignof(Record) == 8);

// The bytes the keyspace holds for `key` and `record` (its node, the record and what it
// owns), an estimate from the structures' sizes: MEMORY USAGE.
size_t RecordMemory(std::string_view key, const Record& record);

// Journal encoding: [format][type][varint expire_at_ms][varint meta size][meta][value].
// Format 1 is a whole record; format 2 a composite record's header (format 3 when its
// fields are scored: FieldMap::Scored), whose fields are journaled apart (DecodeRecord gives it an
// empty FieldMap, which `fields` receives, to fill before the record is published).
std::string EncodeRecord(const Record& record);
Status DecodeRecord(std::string_view data, RecordPtr* record,
                    std::shared_ptr<FieldMap>* fields = nullptr);

}  // namespace devstate
