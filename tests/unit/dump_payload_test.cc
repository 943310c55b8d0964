#include "service/dump_payload.h"

#include <gtest/gtest.h>

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
