#include "store/record.h"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

#include "store/coding.h"

namespace devstate {
namespace {

constexpr uint8_t kFormat = 1;
constexpr uint8_t kCompositeFormat = 2;
constexpr uint8_t kScoredFormat = 3;  // composite, its fields scored (FieldMap::Scored)

}  // namespace

const Record::FieldsPtr Record::kNoFields;

Record::Record(const Parts& parts)
    : value_size_(static_cast<uint32_t>(parts.value.size())),
      meta_size_(static_cast<uint32_t>(parts.meta.size())),
      packed_(parts.type | (parts.fields != nullptr ? kHasFieldsBit : 0) |
              (Clock() << kClockShift)),
      expire_at_ms_(parts.expire_at_ms) {
  if (has_fields()) new (this + 1) FieldsPtr(parts.fields);
  if (!parts.meta.empty()) std::memcpy(bytes(), parts.meta.data(), parts.meta.size());
  if (!parts.value.empty()) {
    std::memcpy(bytes() + meta_size_, parts.value.data(), parts.value.size());
  }
}

Record::~Record() {
  if (has_fields()) std::launder(reinterpret_cast<FieldsPtr*>(this + 1))->~FieldsPtr();
}

RecordPtr Record::Make(const Parts& parts) {
  if (parts.value.size() > kMaxBytes || parts.meta.size() > kMaxBytes) {
    throw std::length_error("a record's value or meta exceeds 4 GiB");
  }
  if ((parts.type & ~kTypeMask) != 0) throw std::invalid_argument("a record's type is 0-127");
  void* memory =
      ::operator new(BlockSize(parts.fields != nullptr, parts.meta.size(), parts.value.size()));
  return RecordPtr(new (memory) Record(parts));
}

constexpr uint32_t kClockMax = (1u << 24) - 1;

uint32_t Record::Clock() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME_COARSE, &now);  // a few ns; its ~4 ms steps are plenty here
  return static_cast<uint32_t>(now.tv_sec) & kClockMax;
}

void Record::SetClock(uint32_t clock) const {
  const uint32_t old = packed_.load(kRelaxed);
  const uint32_t want = (old & (kTypeMask | kHasFieldsBit)) | (clock << kClockShift);
  if (want != old) packed_.store(want, kRelaxed);  // racing touches all write "about now"
}

void Record::Touch() const { SetClock(Clock()); }

void Record::SetIdle(int64_t seconds) const {
  const auto back = static_cast<uint32_t>(std::min<int64_t>(seconds, kClockMax));
  SetClock((Clock() - back) & kClockMax);
}

int64_t Record::IdleSeconds() const {
  // Redis's estimateObjectIdleTime: the clock wraps every 194 days.
  const uint32_t now = Clock();
  const uint32_t at = packed_.load(kRelaxed) >> kClockShift;
  return now >= at ? now - at : now + (kClockMax - at);
}

void Record::Destroy(const Record* r) {
  r->~Record();
  ::operator delete(const_cast<Record*>(r));
}

RecordPtr Record::WithExpiry(int64_t expire_at_ms) const {
  Parts p = parts();
  p.expire_at_ms = expire_at_ms;
  return Make(p);
}

RecordPtr Record::WithFields(std::shared_ptr<const FieldMap> fields) const {
  Parts p = parts();
  p.fields = std::move(fields);
  return Make(p);
}

size_t RecordMemory(std::string_view key, const Record& record) {
  // The key's node (record pointer, size, key bytes), its slot and scan-order entry, then
  // the record's block.
  size_t n = 2 * sizeof(uint64_t) + key.size() + 16 + 16 + record.AllocatedSize();
  if (record.fields()) {
    n += sizeof(FieldMap) + record.fields()->AllocatedSize();
  }
  return n;
}

std::string EncodeRecord(const Record& record) {
  std::string out;
  const std::string_view meta = record.meta();
  const std::string_view value = record.value();
  out.reserve(2 + 10 + 5 + meta.size() + value.size());
  const auto& fields = record.fields();
  out.push_back(static_cast<char>(!fields            ? kFormat
                                  : fields->scored() ? kScoredFormat
                                                     : kCompositeFormat));
  out.push_back(static_cast<char>(record.type()));
  PutVarint64(&out, static_cast<uint64_t>(record.expire_at_ms()));
  PutVarint64(&out, meta.size());
  out.append(meta);
  out.append(value);
  return out;
}

Status DecodeRecord(std::string_view data, RecordPtr* record, std::shared_ptr<FieldMap>* fields) {
  const auto format = data.empty() ? 0 : static_cast<uint8_t>(data[0]);
  if (data.size() < 2 ||
      (format != kFormat && format != kCompositeFormat && format != kScoredFormat)) {
    return Status::Corruption("record has an unknown format");
  }
  Record::Parts parts;
  parts.type = static_cast<uint8_t>(data[1]);
  if (parts.type > 127) return Status::Corruption("record has an unknown type");
  data.remove_prefix(2);
  uint64_t expire_at = 0;
  uint64_t meta_size = 0;
  if (!GetVarint64(&data, &expire_at) || !GetVarint64(&data, &meta_size) ||
      meta_size > data.size()) {
    return Status::Corruption("record header is truncated");
  }
  if (data.size() > Record::kMaxBytes) return Status::Corruption("record is too large");
  std::shared_ptr<FieldMap> map;
  if (format == kCompositeFormat) map = std::make_shared<FieldMap>();
  if (format == kScoredFormat) map = std::make_shared<FieldMap>(FieldMap::Scored());
  parts.expire_at_ms = static_cast<int64_t>(expire_at);
  parts.meta = data.substr(0, meta_size);
  parts.value = data.substr(meta_size);
  parts.fields = map;
  *record = Record::Make(parts);
  if (fields != nullptr) *fields = std::move(map);
  return Status::OK();
}

}  // namespace devstate
