// HyperLogLog in Redis's layout (service/hll.h): sparse and dense agree, the sparse form
// turns dense where Redis turns it, corrupt values are refused without reading or writing
// past them, and Redis's own self test passes. Byte-for-byte equality with redis-server is
// checked in tests/integration/redis_compat_test.py (test_hyperloglog).
#include "service/hll.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace devstate::hll {
namespace {

TEST(HllTest, AnEmptyValueIsSparseCountsZeroAndIsRedisBytes) {
  const std::string h = Make();
  // "HYLL", sparse, no cache bits, then XZERO:16384 (0x7f 0xff).
  EXPECT_EQ(h, std::string("HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff", 18));
  EXPECT_TRUE(Valid(h));
  uint64_t card = 99;
  ASSERT_TRUE(Count(h, &card));
  EXPECT_EQ(card, 0u);
}

TEST(HllTest, SparseAndDenseAgreeElementForElement) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string sparse = Make(), dense = Make();
    ASSERT_TRUE(ToDense(&dense));
    const int n = static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      const std::string e = std::to_string(rng());
      const int a = Add(&sparse, e, kDefaultSparseMaxBytes);
      const int b = Add(&dense, e, kDefaultSparseMaxBytes);
      ASSERT_GE(a, 0);
      ASSERT_EQ(a, b) << "both grow a register, or neither";
    }
    uint64_t cs = 0, cd = 0;
    ASSERT_TRUE(Count(sparse, &cs));
    ASSERT_TRUE(Count(dense, &cd));
    EXPECT_EQ(cs, cd);
    Registers from_sparse{}, from_dense{};
    ASSERT_TRUE(MergeInto(sparse, &from_sparse));
    ASSERT_TRUE(MergeInto(dense, &from_dense));
    EXPECT_EQ(from_sparse, from_dense);
    EXPECT_EQ(Count(from_sparse), cd);
    std::string converted = sparse;
    ASSERT_TRUE(ToDense(&converted));
    if (EncodingOf(sparse) == Encoding::kSparse) {
      EXPECT_EQ(converted.substr(kHeaderBytes), dense.substr(kHeaderBytes));
    }
  }
}

TEST(HllTest, TheSparseFormTurnsDensePastItsLimitOrACountAbove32) {
  std::string h = Make();
  int i = 0;
  while (EncodingOf(h) == Encoding::kSparse) {
    ASSERT_GE(Add(&h, "e" + std::to_string(i++), 200), 0);
    if (EncodingOf(h) == Encoding::kSparse) {
      ASSERT_LE(h.size(), 200u);
    }
  }
  EXPECT_EQ(h.size(), kDenseBytes);
  EXPECT_GT(i, 10);
  // A count of 33 has no sparse opcode: the value turns dense whatever its size.
  std::string small = Make();
  EXPECT_EQ(Set(&small, 5, 33, kDefaultSparseMaxBytes), 1);
  EXPECT_EQ(EncodingOf(small), Encoding::kDense);
  EXPECT_EQ(DenseRegister(small, 5), 33);
  EXPECT_EQ(Set(&small, 5, 20, kDefaultSparseMaxBytes), 0) << "a register never shrinks";
}

TEST(HllTest, TheLastRegisterIsKeptWithinTheValue) {
  std::string h = Make();
  ASSERT_TRUE(ToDense(&h));
  EXPECT_EQ(Set(&h, kRegisters - 1, 63, 0), 1);
  EXPECT_EQ(Set(&h, kRegisters - 2, 62, 0), 1);
  EXPECT_EQ(h.size(), kDenseBytes);
  EXPECT_EQ(DenseRegister(h, kRegisters - 1), 63);
  EXPECT_EQ(DenseRegister(h, kRegisters - 2), 62);
  EXPECT_EQ(DenseRegister(h, kRegisters - 3), 0);
}

TEST(HllTest, TheCacheIsLittleEndianWithItsTopBitMarkingItStale) {
  std::string h = Make();
  uint64_t card = 0;
  EXPECT_TRUE(Cached(h, &card));  // a new value's cache says 0, which is right
  InvalidateCache(&h);
  EXPECT_FALSE(Cached(h, &card));
  EXPECT_EQ(static_cast<uint8_t>(h[15]), 0x80);
  SetCache(&h, 0x0102);
  ASSERT_TRUE(Cached(h, &card));
  EXPECT_EQ(card, 0x0102u);
  EXPECT_EQ(h[8], 0x02);
  EXPECT_EQ(h[9], 0x01);
}

TEST(HllTest, CorruptValuesAreRefusedAndNeverReadPast) {
  EXPECT_FALSE(Valid("HYLL"));
  EXPECT_FALSE(Valid(std::string("HYLX\x01", 5) + std::string(11, '\0')));
  EXPECT_FALSE(Valid(std::string("HYLL\x02", 5) + std::string(11, '\0')));
  std::string dense = Make();
  ASSERT_TRUE(ToDense(&dense));
  EXPECT_FALSE(Valid(dense + "x")) << "a dense value has one length";
  // A sparse body that covers too few or too many registers, or ends inside an XZERO.
  std::string h = Make();
  h += "hello";
  uint64_t card = 0;
  EXPECT_FALSE(Count(h, &card));
  Registers regs{};
  EXPECT_FALSE(MergeInto(h, &regs));
  EXPECT_FALSE(ToDense(&h));
  std::string cut = Make();
  cut.pop_back();
  EXPECT_FALSE(Count(cut, &card));
  EXPECT_LT(Set(&cut, kRegisters - 1, 3, kDefaultSparseMaxBytes), 0);
  // Random corruption of real values (Redis's fuzz test): any outcome but a bad access.
  std::mt19937_64 rng(3);
  for (int round = 0; round < 300; ++round) {
    std::string v = Make();
    const int n = static_cast<int>(rng() % 3000);
    for (int i = 0; i < n; ++i) Add(&v, std::to_string(rng()), kDefaultSparseMaxBytes);
    for (int i = 0; i < 5; ++i) {
      v[rng() % v.size()] = static_cast<char>(rng());
      if (rng() % 2) break;
    }
    if (!Valid(v)) continue;
    (void)Count(v, &card);
    Registers r{};
    (void)MergeInto(v, &r);
    std::string copy = v;
    (void)Add(&copy, "x", kDefaultSparseMaxBytes);
    copy = v;
    (void)ToDense(&copy);
  }
}

TEST(HllTest, RedisSelfTestPasses) { EXPECT_EQ(SelfTest(kDefaultSparseMaxBytes), ""); }

}  // namespace
}  // namespace devstate::hll
