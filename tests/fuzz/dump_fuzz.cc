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

// `s` as it reads back once written again: a Redis 6 group without a read counter says -1.
devstate::DumpStream Rewritten(devstate::DumpStream s) {
  for (auto& g : s.groups) g.entries_read = g.entries_read.value_or(-1);
  return s;
}

bool Same(const devstate::DumpValue& a, const devstate::DumpValue& b) {
  return a.kind == b.kind && a.string == b.string && a.items == b.items && a.scores == b.scores &&
         Rewritten(a.stream) == b.stream;
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
