// libFuzzer target: RESTORE's payload reader (service/dump_payload.h) reads Redis's binary
// encodings by hand (listpack, intset, quicklist, LZF lengths), so it must never crash,
// leak, hang or allocate without bound on any input. The input is a payload without its
// checksum, which is appended here, so the fuzzer reaches the object's own checks rather
// than stopping at the CRC. Whatever decodes must encode and decode back to itself.
#include <boost/crc.hpp>
#include <boost/endian/conversion.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "service/dump_payload.h"

namespace {

bool Same(const devstate::DumpValue& a, const devstate::DumpValue& b) {
  return a.kind == b.kind && a.string == b.string && a.items == b.items && a.scores == b.scores;
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
  return 0;
}
