// libFuzzer target: RESTORE's payload reader (service/dump_payload.h) reads Redis's binary
// encodings by hand (listpack, ziplist, zipmap, intset, quicklist, stream listpacks and
// consumer groups, LZF lengths), so it must never crash,
// leak, hang or allocate without bound on any input. The input is a payload without its
// checksum, which is appended here, so the fuzzer reaches the object's own checks rather
// than stopping at the CRC. Whatever decodes must encode and decode back to itself.
#include <algorithm>
#include <boost/crc.hpp>
#include <boost/endian/conversion.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "service/dump_payload.h"

namespace {

bool Same(const devstate::DumpStream& a, const devstate::DumpStream& b) {
  if (a.entries.size() != b.entries.size() || a.groups.size() != b.groups.size() ||
      a.counters.last_id != b.counters.last_id ||
      a.counters.max_deleted != b.counters.max_deleted ||
      a.counters.entries_added != b.counters.entries_added) {
    return false;
  }
  for (size_t i = 0; i < a.entries.size(); ++i) {
    if (a.entries[i].id != b.entries[i].id || a.entries[i].fields != b.entries[i].fields)
      return false;
  }
  for (size_t i = 0; i < a.groups.size(); ++i) {
    const auto &x = a.groups[i], &y = b.groups[i];
    // A Redis 6 payload's group has no read counter; written again, it says -1.
    if (x.name != y.name || x.last_id != y.last_id ||
        x.entries_read.value_or(-1) != y.entries_read || x.pending.size() != y.pending.size() ||
        x.consumers.size() != y.consumers.size()) {
      return false;
    }
    for (size_t p = 0; p < x.pending.size(); ++p) {
      if (x.pending[p].id != y.pending[p].id || x.pending[p].consumer != y.pending[p].consumer ||
          x.pending[p].delivery_time != y.pending[p].delivery_time ||
          x.pending[p].delivery_count != y.pending[p].delivery_count) {
        return false;
      }
    }
    for (size_t c = 0; c < x.consumers.size(); ++c) {
      if (x.consumers[c].name != y.consumers[c].name || x.consumers[c].seen != y.consumers[c].seen)
        return false;
    }
  }
  return true;
}

bool Same(const devstate::DumpValue& a, const devstate::DumpValue& b) {
  return a.kind == b.kind && a.string == b.string && a.items == b.items && a.scores == b.scores &&
         Same(a.stream, b.stream);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string payload(reinterpret_cast<const char*>(data), size);
  boost::crc_optimal<64, 0xad93d23594c935a9ULL, 0, 0, true, true> crc;
  crc.process_bytes(payload.data(), payload.size());
  const uint64_t sum = boost::endian::native_to_little(crc.checksum());
  payload.append(reinterpret_cast<const char*>(&sum), sizeof sum);
  devstate::DumpValue value;
  if (!devstate::DecodeDump(payload, &value).ok()) return 0;
  devstate::DumpValue back;
  if (!devstate::DecodeDump(devstate::EncodeDump(value), &back).ok() || !Same(value, back))
    std::abort();
  // Written compact (a hash or sorted set as a listpack, a set of integers as an intset),
  // the same fields or members in the same order with the same scores (-0 reads back as
  // 0, which compares equal), the same members of a set (an intset sorts them).
  if (value.kind == devstate::DumpValue::Kind::kHash ||
      value.kind == devstate::DumpValue::Kind::kSet ||
      value.kind == devstate::DumpValue::Kind::kZset) {
    devstate::DumpValue compact = value;
    compact.compact = true;
    if (!devstate::DecodeDump(devstate::EncodeDump(compact), &back).ok()) std::abort();
    std::vector<std::string> want = value.items, got = back.items;
    if (value.kind == devstate::DumpValue::Kind::kSet) {
      std::sort(want.begin(), want.end());
      std::sort(got.begin(), got.end());
    }
    if (want != got || back.scores != value.scores) std::abort();
  }
  return 0;
}
