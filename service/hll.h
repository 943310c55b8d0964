// HyperLogLog as Redis 7.0 keeps it (PFADD, PFCOUNT, PFMERGE): a plain string value that
// holds a 16-byte header ("HYLL", the encoding, three zero bytes, the cached cardinality,
// little endian, its top bit set while stale) and then the registers, 16384 of 6 bits:
//
//   dense:  12288 bytes, register i in bits 6i..6i+5 from each byte's least significant
//           bit on;
//   sparse: opcodes over runs of registers: ZERO 00xxxxxx (1-64 zeros), XZERO 01xxxxxx
//           yyyyyyyy (1-16384 zeros), VAL 1vvvvvxx (1-4 registers of value 1-32).
//
// An element's register and count come from MurmurHash64A (seed 0xadc83b19): the low 14
// bits pick the register, the run of zeros above them plus one is the count. The
// estimate is Ertl's ("New cardinality estimation algorithms for HyperLogLog sketches").
//
// The bytes are Redis's to the bit, and the sparse form changes as Redis changes it (an
// opcode split in place, then neighbouring VALs merged), so GET, DUMP and RESTORE, and a
// client that reads the string, see what redis-server would hold, and a value moved
// between the two keeps counting. Written here because no packaged library keeps Redis's
// layout.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace devstate::hll {

inline constexpr size_t kHeaderBytes = 16;
inline constexpr int kRegisters = 1 << 14;
inline constexpr size_t kDenseBytes = kHeaderBytes + (kRegisters * 6 + 7) / 8;  // 12304
inline constexpr size_t kDefaultSparseMaxBytes = 3000;  // hll-sparse-max-bytes
inline constexpr std::string_view kInvalidError = "INVALIDOBJ Corrupted HLL object detected";
inline constexpr std::string_view kNotHllError =
    "WRONGTYPE Key is not a valid HyperLogLog string value.";

enum class Encoding : uint8_t { kDense = 0, kSparse = 1 };

// One byte per register: what PFCOUNT of several keys and PFMERGE take the maximum into.
using Registers = std::array<uint8_t, kRegisters>;

uint64_t MurmurHash64A(std::string_view data, uint64_t seed);

// An empty HyperLogLog (sparse: one XZERO over every register), as PFADD creates it.
std::string Make();

// Whether `value` has a HyperLogLog's header: the magic, a known encoding, and, dense, the
// exact length. A sparse body may still be corrupt: the operations below say so.
bool Valid(std::string_view value);
Encoding EncodingOf(std::string_view hll);

// Adds an element: 1 when a register grew, 0 when none did, -1 when the sparse body is
// corrupt (then *hll may be partly changed: drop it). A sparse HLL turns dense when a count
// exceeds 32 or its body would pass `sparse_max_bytes`. Does not touch the cache.
int Add(std::string* hll, std::string_view element, size_t sparse_max_bytes);
// Raises register `index` to `count` if lower: as Add, for PFMERGE.
int Set(std::string* hll, int index, uint8_t count, size_t sparse_max_bytes);

// Sparse to dense; the header (magic, cache) is kept. False when the body is corrupt.
bool ToDense(std::string* hll);

// Raises each of *max to the HLL's register where that is higher; false when corrupt.
bool MergeInto(std::string_view hll, Registers* max);

// The estimate over the registers; false when the sparse body is corrupt.
bool Count(std::string_view hll, uint64_t* cardinality);
uint64_t Count(const Registers& registers);

// The cached cardinality, when valid.
bool Cached(std::string_view hll, uint64_t* cardinality);
void SetCache(std::string* hll, uint64_t cardinality);
void InvalidateCache(std::string* hll);

// PFDEBUG DECODE: the sparse opcodes as "z:N", "Z:N", "v:V,N", space-separated.
std::string DecodeSparse(std::string_view hll);
// PFDEBUG GETREG of a dense HLL: register `index`.
uint8_t DenseRegister(std::string_view hll, int index);

// PFSELFTEST: Redis's checks of the dense registers and of the estimate's error (sparse
// and dense agreeing) up to 10^7 elements. Empty when they pass, else the failure.
std::string SelfTest(size_t sparse_max_bytes);

}  // namespace devstate::hll
