#include "service/dump_payload.h"

#include <gtest/gtest.h>

#include <cmath>

namespace devstate {
namespace {

// Redis's own DUMP of `SET k "hello world"` (redis-server 7.0.15): type 0, length 11,
// the bytes, RDB version 10, CRC-64/Jones.
const std::string kRedisHelloWorld("\x00\x0bhello world\x0a\x00\x0b\xfc\x49\xb9\xa6\xc7\xa0\x34",
                                   23);

TEST(DumpPayloadTest, AStringIsWhatRedisDumps) {
  DumpValue v;
  v.string = "hello world";
  EXPECT_EQ(EncodeDump(v), kRedisHelloWorld);
  DumpValue back;
  ASSERT_TRUE(DecodeDump(kRedisHelloWorld, &back).ok());
  EXPECT_EQ(back.kind, DumpValue::Kind::kString);
  EXPECT_EQ(back.string, "hello world");
}

TEST(DumpPayloadTest, ListsSetsAndHashesRoundTripWithLongLengths) {
  for (DumpValue::Kind kind :
       {DumpValue::Kind::kList, DumpValue::Kind::kSet, DumpValue::Kind::kHash}) {
    DumpValue v;
    v.kind = kind;
    v.items = {"a", std::string(100, 'b'),   std::string(20000, 'c'),
               "",  std::string(70000, 'd'), "e"};
    DumpValue back;
    ASSERT_TRUE(DecodeDump(EncodeDump(v), &back).ok());
    EXPECT_EQ(back.kind, kind);
    EXPECT_EQ(back.items, v.items);
  }
}

// Redis's own DUMP of a skiplist-encoded sorted set {a: 1.5, bb: -2} (redis-server
// 7.0.15, zset-max-listpack-entries 0): type 5 (ZSET_2), each member then its score as a
// little-endian binary double, highest score first.
const std::string kRedisZset(
    "\x05\x02\x01\x61\x00\x00\x00\x00\x00\x00\xf8\x3f\x02\x62\x62\x00\x00\x00\x00\x00\x00\x00"
    "\xc0\x0a\x00\xc5\x08\xc5\xda\xf3\x20\xe8\xe6",
    33);

TEST(DumpPayloadTest, ASortedSetIsWhatRedisDumpsAndNaNOrTwinsAreRefused) {
  DumpValue v;
  v.kind = DumpValue::Kind::kZset;
  v.items = {"a", "bb"};
  v.scores = {1.5, -2};
  EXPECT_EQ(EncodeDump(v), kRedisZset);
  DumpValue back;
  ASSERT_TRUE(DecodeDump(kRedisZset, &back).ok());
  EXPECT_EQ(back.kind, DumpValue::Kind::kZset);
  EXPECT_EQ(back.items, v.items);
  EXPECT_EQ(back.scores, v.scores);
  v.scores = {1.5, std::nan("")};
  EXPECT_EQ(DecodeDump(EncodeDump(v), &back).code(), Status::Code::kCorruption);
  v.items = {"a", "a"};
  v.scores = {1, 2};
  EXPECT_EQ(DecodeDump(EncodeDump(v), &back).code(), Status::Code::kCorruption);
}

TEST(DumpPayloadTest, DamageIsCaughtAndNothingIsHalfRead) {
  DumpValue v;
  v.kind = DumpValue::Kind::kList;
  v.items = {"x", "y"};
  const std::string good = EncodeDump(v);
  DumpValue out;
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x10;
    EXPECT_FALSE(DecodeDump(bad, &out).ok()) << "byte " << i;
  }
  EXPECT_FALSE(DecodeDump(good.substr(0, 9), &out).ok());
  EXPECT_EQ(DecodeDump("", &out).code(), Status::Code::kInvalidArgument);
  // A newer RDB version is refused, as Redis refuses it.
  std::string newer = good;
  newer[newer.size() - 10] = 11;
  EXPECT_EQ(DecodeDump(newer, &out).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace devstate
