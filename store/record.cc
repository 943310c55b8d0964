#include "store/record.h"

namespace devstate {
namespace {

constexpr uint8_t kFormat = 1;

void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint64(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string EncodeRecord(const Record& record) {
  std::string out;
  out.reserve(2 + 10 + 5 + record.meta.size() + record.value.size());
  out.push_back(static_cast<char>(kFormat));
  out.push_back(static_cast<char>(record.type));
  PutVarint64(&out, static_cast<uint64_t>(record.expire_at_ms));
  PutVarint64(&out, record.meta.size());
  out.append(record.meta);
  out.append(record.value);
  return out;
}

Status DecodeRecord(std::string_view data, Record* record) {
  if (data.size() < 2 || static_cast<uint8_t>(data[0]) != kFormat) {
    return Status::Corruption("record has an unknown format");
  }
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
