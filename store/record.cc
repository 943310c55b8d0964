#include "store/record.h"

#include "store/coding.h"

namespace devstate {
namespace {

constexpr uint8_t kFormat = 1;
constexpr uint8_t kCompositeFormat = 2;

}  // namespace

namespace {

// A string's heap block beyond the object itself (none within the small-string buffer).
size_t Heap(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

}  // namespace

size_t RecordMemory(std::string_view key, const Record& record) {
  // The key's node (hash, record pointer, size, key bytes), its slot and scan-order entry,
  // then the record in its shared block.
  size_t n = 3 * sizeof(uint64_t) + key.size() + 16 + 16 + 16 + sizeof(Record);
  n += Heap(record.value) + Heap(record.meta);
  if (record.fields) {
    n += sizeof(FieldMap);
    record.fields->ForEach([&](const std::string& name, const std::string& value) {
      // The leaf's entry (hash, pointer), then the field's shared block (control, strings).
      n += sizeof(uint64_t) + 16 + 16 + 2 * sizeof(std::string) + Heap(name) + Heap(value);
    });
  }
  return n;
}

std::string EncodeRecord(const Record& record) {
  std::string out;
  out.reserve(2 + 10 + 5 + record.meta.size() + record.value.size());
  out.push_back(static_cast<char>(record.fields ? kCompositeFormat : kFormat));
  out.push_back(static_cast<char>(record.type));
  PutVarint64(&out, static_cast<uint64_t>(record.expire_at_ms));
  PutVarint64(&out, record.meta.size());
  out.append(record.meta);
  out.append(record.value);
  return out;
}

Status DecodeRecord(std::string_view data, Record* record) {
  const auto format = data.empty() ? 0 : static_cast<uint8_t>(data[0]);
  if (data.size() < 2 || (format != kFormat && format != kCompositeFormat)) {
    return Status::Corruption("record has an unknown format");
  }
  record->fields = format == kCompositeFormat ? std::make_shared<FieldMap>() : nullptr;
  record->type = static_cast<uint8_t>(data[1]);
  data.remove_prefix(2);
  uint64_t expire_at = 0;
  uint64_t meta_size = 0;
  if (!GetVarint64(&data, &expire_at) || !GetVarint64(&data, &meta_size) ||
      meta_size > data.size()) {
    return Status::Corruption("record header is truncated");
  }
  record->expire_at_ms = static_cast<int64_t>(expire_at);
  record->meta.assign(data.substr(0, meta_size));
  record->value.assign(data.substr(meta_size));
  return Status::OK();
}

}  // namespace devstate
