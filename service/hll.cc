#include "service/hll.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace devstate::hll {
namespace {

constexpr int kP = 14;                 // register index bits
constexpr int kQ = 64 - kP;            // bits whose run of zeros is counted
constexpr uint8_t kRegisterMax = 63;   // 6 bits
constexpr int kSparseValMax = 32;      // the highest count a VAL opcode holds
constexpr int kSparseValMaxLen = 4;    // registers per VAL opcode
constexpr int kSparseZeroMaxLen = 64;  // registers per ZERO opcode
constexpr int kSparseXZeroMaxLen = 16384;
constexpr double kAlphaInf = 0.721347520444481703680;  // 0.5 / ln(2)

// ---- the sparse opcodes -------------------------------------------------------------

bool IsZero(uint8_t op) { return (op & 0xc0) == 0; }
bool IsXZero(uint8_t op) { return (op & 0xc0) == 0x40; }
bool IsVal(uint8_t op) { return (op & 0x80) != 0; }
int ZeroLen(uint8_t op) { return (op & 0x3f) + 1; }
int XZeroLen(uint8_t op, uint8_t next) { return (((op & 0x3f) << 8) | next) + 1; }
int ValValue(uint8_t op) { return ((op >> 2) & 0x1f) + 1; }
int ValLen(uint8_t op) { return (op & 0x3) + 1; }
uint8_t ValOp(int value, int len) {
  return static_cast<uint8_t>(((value - 1) << 2 | (len - 1)) | 0x80);
}
// A run of zeros as its shortest opcode (ZERO up to 64, else XZERO), appended.
void AppendZeros(std::string* out, int len) {
  if (len > kSparseZeroMaxLen) {
    out->push_back(static_cast<char>(((len - 1) >> 8) | 0x40));
    out->push_back(static_cast<char>((len - 1) & 0xff));
  } else {
    out->push_back(static_cast<char>(len - 1));
  }
}

uint8_t* Bytes(std::string* s) { return reinterpret_cast<uint8_t*>(s->data()); }
const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Walks a sparse body: fn(first register, run length, value) for each opcode, value 0 for
// zeros. False when an opcode is cut short, or the runs do not cover exactly every register.
template <typename Fn>
bool ForEachRun(std::string_view hll, Fn fn) {
  const uint8_t* b = Bytes(hll);
  size_t p = kHeaderBytes;
  int index = 0;
  while (p < hll.size()) {
    const uint8_t op = b[p];
    int len = 0, value = 0;
    if (IsZero(op)) {
      len = ZeroLen(op);
      p += 1;
    } else if (IsXZero(op)) {
      if (p + 1 >= hll.size()) return false;
      len = XZeroLen(op, b[p + 1]);
      p += 2;
    } else {
      len = ValLen(op);
      value = ValValue(op);
      p += 1;
    }
    if (index + len > kRegisters) return false;
    fn(index, len, value);
    index += len;
  }
  return index == kRegisters;
}

// ---- the dense registers ------------------------------------------------------------
// Register i starts at bit 6i, counted from each byte's least significant bit. Redis reads
// and writes the byte after the last register (its strings end in a NUL); these touch the
// second byte only when the register spans it.

uint8_t GetRegister(const uint8_t* regs, int index) {
  const size_t byte = static_cast<size_t>(index) * 6 / 8;
  const unsigned fb = (static_cast<unsigned>(index) * 6) & 7;
  unsigned v = regs[byte] >> fb;
  if (fb > 2) v |= static_cast<unsigned>(regs[byte + 1]) << (8 - fb);
  return static_cast<uint8_t>(v & kRegisterMax);
}

void SetRegister(uint8_t* regs, int index, uint8_t value) {
  const size_t byte = static_cast<size_t>(index) * 6 / 8;
  const unsigned fb = (static_cast<unsigned>(index) * 6) & 7;
  regs[byte] = static_cast<uint8_t>((regs[byte] & ~(kRegisterMax << fb)) | (value << fb));
  if (fb > 2) {
    const unsigned fb8 = 8 - fb;
    regs[byte + 1] =
        static_cast<uint8_t>((regs[byte + 1] & ~(kRegisterMax >> fb8)) | (value >> fb8));
  }
}

int DenseSet(std::string* hll, int index, uint8_t count) {
  uint8_t* regs = Bytes(hll) + kHeaderBytes;
  if (count <= GetRegister(regs, index)) return 0;
  SetRegister(regs, index, count);
  return 1;
}

// The register an element lands in and its count (the run of zeros above the index bits,
// plus one: at most kQ + 1).
int PatternLength(std::string_view element, int* index) {
  uint64_t hash = MurmurHash64A(element, 0xadc83b19ULL);
  *index = static_cast<int>(hash & (kRegisters - 1));
  hash >>= kP;
  hash |= uint64_t{1} << kQ;
  int count = 1;
  for (uint64_t bit = 1; (hash & bit) == 0; bit <<= 1) ++count;
  return count;
}

// Raises register `index` of a sparse HLL as Redis's hllSparseSet does, byte for byte: the
// opcode covering it is split in place, then up to five opcodes from the one before it are
// scanned for neighbouring VALs of one value to merge.
int SparseSet(std::string* hll, int index, uint8_t count, size_t sparse_max_bytes) {
  auto promote = [&] {
    if (!ToDense(hll)) return -1;
    return DenseSet(hll, index, count);
  };
  if (count > kSparseValMax) return promote();

  // Step 1: the opcode covering `index`, and the one before it.
  const uint8_t* b = Bytes(*hll);
  size_t p = kHeaderBytes, end = hll->size();
  size_t prev = std::string::npos;
  int first = 0, span = 0;
  while (p < end) {
    size_t oplen = 1;
    if (IsZero(b[p])) {
      span = ZeroLen(b[p]);
    } else if (IsVal(b[p])) {
      span = ValLen(b[p]);
    } else {
      if (p + 1 >= end) return -1;
      span = XZeroLen(b[p], b[p + 1]);
      oplen = 2;
    }
    if (index <= first + span - 1) break;
    prev = p;
    p += oplen;
    first += span;
  }
  if (span == 0 || p >= end) return -1;

  const uint8_t op = b[p];
  const bool is_zero = IsZero(op), is_xzero = IsXZero(op), is_val = IsVal(op);
  const int runlen = is_zero ? ZeroLen(op) : is_xzero ? XZeroLen(op, b[p + 1]) : ValLen(op);

  bool updated = false;
  if (is_val) {
    if (ValValue(op) >= count) return 0;  // already that high: nothing changes
    if (runlen == 1) {
      Bytes(hll)[p] = ValOp(count, 1);
      updated = true;
    }
  }
  if (!updated && is_zero && runlen == 1) {
    Bytes(hll)[p] = ValOp(count, 1);
    updated = true;
  }
  if (!updated) {
    // Step 2: the opcode split around `index` (at most XZERO VAL XZERO: 5 bytes).
    std::string seq;
    const int last = first + span - 1;
    if (is_zero || is_xzero) {
      if (index != first) AppendZeros(&seq, index - first);
      seq.push_back(static_cast<char>(ValOp(count, 1)));
      if (index != last) AppendZeros(&seq, last - index);
    } else {
      const int value = ValValue(op);
      if (index != first) seq.push_back(static_cast<char>(ValOp(value, index - first)));
      seq.push_back(static_cast<char>(ValOp(count, 1)));
      if (index != last) seq.push_back(static_cast<char>(ValOp(value, last - index)));
    }
    // Step 3: in place of the old opcode, unless that outgrows the sparse form.
    const size_t oldlen = is_xzero ? 2 : 1;
    if (seq.size() > oldlen && hll->size() + (seq.size() - oldlen) > sparse_max_bytes) {
      return promote();
    }
    hll->replace(p, oldlen, seq);
  }

  // Step 4: merge neighbouring VALs of one value, from the opcode before on.
  uint8_t* w = Bytes(hll);
  end = hll->size();
  p = prev != std::string::npos ? prev : kHeaderBytes;
  int scanlen = 5;
  while (p < end && scanlen--) {
    if (IsXZero(w[p])) {
      p += 2;
      continue;
    }
    if (IsZero(w[p])) {
      p += 1;
      continue;
    }
    if (p + 1 < end && IsVal(w[p + 1])) {
      const int v1 = ValValue(w[p]), v2 = ValValue(w[p + 1]);
      const int len = ValLen(w[p]) + ValLen(w[p + 1]);
      if (v1 == v2 && len <= kSparseValMaxLen) {
        w[p + 1] = ValOp(v1, len);
        hll->erase(p, 1);
        w = Bytes(hll);
        --end;
        continue;  // the merged opcode may merge with the next one too
      }
    }
    p += 1;
  }
  return 1;
}

// Ertl's sigma and tau (arXiv:1702.01284), as Redis computes them.
double Sigma(double x) {
  if (x == 1.) return std::numeric_limits<double>::infinity();
  double z_prime;
  double y = 1;
  double z = x;
  do {
    x *= x;
    z_prime = z;
    z += x * y;
    y += y;
  } while (z_prime != z);
  return z;
}

double Tau(double x) {
  if (x == 0. || x == 1.) return 0.;
  double z_prime;
  double y = 1.0;
  double z = 1 - x;
  do {
    x = std::sqrt(x);
    z_prime = z;
    y *= 0.5;
    z -= std::pow(1 - x, 2) * y;
  } while (z_prime != z);
  return z / 3;
}

uint64_t Estimate(const std::array<int, 64>& histogram) {
  const double m = kRegisters;
  double z = m * Tau((m - histogram[kQ + 1]) / m);
  for (int j = kQ; j >= 1; --j) {
    z += histogram[static_cast<size_t>(j)];
    z *= 0.5;
  }
  z += m * Sigma(histogram[0] / m);
  return static_cast<uint64_t>(std::llroundl(kAlphaInf * m * m / z));
}

}  // namespace

uint64_t MurmurHash64A(std::string_view data, uint64_t seed) {
  constexpr uint64_t m = 0xc6a4a7935bd1e995ULL;
  constexpr int r = 47;
  const auto len = static_cast<int>(data.size());
  // Redis passes the length as an int and the seed as an unsigned int.
  uint64_t h = (seed & 0xffffffffULL) ^ (static_cast<uint64_t>(static_cast<int64_t>(len)) * m);
  const uint8_t* p = Bytes(data);
  const uint8_t* end = p + (len - (len & 7));
  for (; p != end; p += 8) {
    uint64_t k = 0;
    for (int i = 7; i >= 0; --i) k = (k << 8) | p[i];  // little endian, as Redis reads it
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  // The last 1-7 bytes, little endian (Redis's fall-through switch).
  const int tail = len & 7;
  for (int i = tail - 1; i >= 0; --i) h ^= static_cast<uint64_t>(p[i]) << (8 * i);
  if (tail != 0) h *= m;
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return h;
}

std::string Make() {
  std::string hll(kHeaderBytes, '\0');
  std::memcpy(hll.data(), "HYLL", 4);
  hll[4] = static_cast<char>(Encoding::kSparse);
  for (int left = kRegisters; left > 0; left -= kSparseXZeroMaxLen) {
    AppendZeros(&hll, std::min(left, kSparseXZeroMaxLen));
  }
  return hll;
}

bool Valid(std::string_view value) {
  if (value.size() < kHeaderBytes || value.substr(0, 4) != "HYLL") return false;
  const auto encoding = static_cast<uint8_t>(value[4]);
  if (encoding > static_cast<uint8_t>(Encoding::kSparse)) return false;
  return encoding != static_cast<uint8_t>(Encoding::kDense) || value.size() == kDenseBytes;
}

Encoding EncodingOf(std::string_view hll) { return static_cast<Encoding>(hll[4]); }

int Set(std::string* hll, int index, uint8_t count, size_t sparse_max_bytes) {
  if (EncodingOf(*hll) == Encoding::kDense) return DenseSet(hll, index, count);
  return SparseSet(hll, index, count, sparse_max_bytes);
}

int Add(std::string* hll, std::string_view element, size_t sparse_max_bytes) {
  int index = 0;
  const int count = PatternLength(element, &index);
  return Set(hll, index, static_cast<uint8_t>(count), sparse_max_bytes);
}

bool ToDense(std::string* hll) {
  if (EncodingOf(*hll) == Encoding::kDense) return true;
  std::string dense(kDenseBytes, '\0');
  std::memcpy(dense.data(), hll->data(), kHeaderBytes);
  dense[4] = static_cast<char>(Encoding::kDense);
  uint8_t* regs = Bytes(&dense) + kHeaderBytes;
  const bool ok = ForEachRun(*hll, [&](int first, int len, int value) {
    if (value == 0) return;
    for (int i = first; i < first + len; ++i) SetRegister(regs, i, static_cast<uint8_t>(value));
  });
  if (!ok) return false;
  *hll = std::move(dense);
  return true;
}

bool MergeInto(std::string_view hll, Registers* max) {
  if (EncodingOf(hll) == Encoding::kDense) {
    const uint8_t* regs = Bytes(hll) + kHeaderBytes;
    for (int i = 0; i < kRegisters; ++i) {
      auto& m = (*max)[static_cast<size_t>(i)];
      m = std::max(m, GetRegister(regs, i));
    }
    return true;
  }
  return ForEachRun(hll, [&](int first, int len, int value) {
    for (int i = first; i < first + len; ++i) {
      auto& m = (*max)[static_cast<size_t>(i)];
      m = std::max(m, static_cast<uint8_t>(value));
    }
  });
}

bool Count(std::string_view hll, uint64_t* cardinality) {
  std::array<int, 64> histogram{};
  if (EncodingOf(hll) == Encoding::kDense) {
    const uint8_t* regs = Bytes(hll) + kHeaderBytes;
    for (int i = 0; i < kRegisters; ++i) ++histogram[GetRegister(regs, i)];
  } else if (!ForEachRun(hll, [&](int, int len, int value) {
               histogram[static_cast<size_t>(value)] += len;
             })) {
    return false;
  }
  *cardinality = Estimate(histogram);
  return true;
}

uint64_t Count(const Registers& registers) {
  std::array<int, 64> histogram{};
  for (uint8_t r : registers) ++histogram[r & 63];
  return Estimate(histogram);
}

bool Cached(std::string_view hll, uint64_t* cardinality) {
  const uint8_t* card = Bytes(hll) + 8;
  if ((card[7] & 0x80) != 0) return false;
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | card[i];
  *cardinality = v;
  return true;
}

void SetCache(std::string* hll, uint64_t cardinality) {
  uint8_t* card = Bytes(hll) + 8;
  for (int i = 0; i < 8; ++i) card[i] = static_cast<uint8_t>(cardinality >> (8 * i));
}

void InvalidateCache(std::string* hll) { Bytes(hll)[15] |= 0x80; }

std::string DecodeSparse(std::string_view hll) {
  std::string out;
  const uint8_t* b = Bytes(hll);
  for (size_t p = kHeaderBytes; p < hll.size();) {
    if (!out.empty()) out.push_back(' ');
    if (IsZero(b[p])) {
      out += fmt::format("z:{}", ZeroLen(b[p]));
      p += 1;
    } else if (IsXZero(b[p])) {
      out += fmt::format("Z:{}", XZeroLen(b[p], p + 1 < hll.size() ? b[p + 1] : 0));
      p += 2;
    } else {
      out += fmt::format("v:{},{}", ValValue(b[p]), ValLen(b[p]));
      p += 1;
    }
  }
  return out;
}

uint8_t DenseRegister(std::string_view hll, int index) {
  return GetRegister(Bytes(hll) + kHeaderBytes, index);
}

std::string SelfTest(size_t sparse_max_bytes) {
  std::mt19937_64 rng{std::random_device{}()};
  // Test 1: every register keeps its value, and setting one leaves its neighbours alone.
  std::string dense(kDenseBytes, '\0');
  uint8_t* regs = Bytes(&dense) + kHeaderBytes;
  Registers expected{};
  for (int cycle = 0; cycle < 1000; ++cycle) {
    for (int i = 0; i < kRegisters; ++i) {
      expected[static_cast<size_t>(i)] = static_cast<uint8_t>(rng() & kRegisterMax);
      SetRegister(regs, i, expected[static_cast<size_t>(i)]);
    }
    for (int i = 0; i < kRegisters; ++i) {
      const uint8_t got = GetRegister(regs, i);
      if (got != expected[static_cast<size_t>(i)]) {
        return fmt::format("TESTFAILED Register {} should be {} but is {}", i,
                           expected[static_cast<size_t>(i)], got);
      }
    }
  }
  // Test 2: the estimate's error, dense and sparse side by side.
  std::fill(dense.begin() + kHeaderBytes, dense.end(), '\0');
  dense[4] = static_cast<char>(Encoding::kDense);
  std::memcpy(dense.data(), "HYLL", 4);
  std::string sparse = Make();
  const double relerr = 1.04 / std::sqrt(static_cast<double>(kRegisters));
  const uint64_t seed = rng();
  int64_t checkpoint = 1;
  for (uint64_t j = 1; j <= 10000000; ++j) {
    const uint64_t ele = j ^ seed;
    char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(ele >> (8 * i));
    const std::string_view element(bytes, sizeof bytes);
    Add(&dense, element, sparse_max_bytes);
    if (Add(&sparse, element, sparse_max_bytes) < 0) return "TESTFAILED sparse encoding corrupt";
    if (static_cast<int64_t>(j) != checkpoint) continue;
    if (j < sparse_max_bytes / 2 && EncodingOf(sparse) != Encoding::kSparse) {
      return "TESTFAILED sparse encoding not used";
    }
    uint64_t dense_count = 0, sparse_count = 0;
    if (!Count(dense, &dense_count) || !Count(sparse, &sparse_count) ||
        dense_count != sparse_count) {
      return "TESTFAILED dense/sparse disagree";
    }
    auto maxerr = static_cast<uint64_t>(std::ceil(relerr * 6 * static_cast<double>(checkpoint)));
    if (j == 10) maxerr = 1;  // collisions make a larger error likely at 10 (Redis's note)
    const uint64_t abserr =
        static_cast<uint64_t>(std::llabs(checkpoint - static_cast<int64_t>(dense_count)));
    if (abserr > maxerr) {
      return fmt::format("TESTFAILED Too big error. card:{} abserr:{}", checkpoint, abserr);
    }
    checkpoint *= 10;
  }
  return {};
}

}  // namespace devstate::hll
