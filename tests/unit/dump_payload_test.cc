#include "service/dump_payload.h"

#include <gtest/gtest.h>

#include <boost/crc.hpp>
#include <boost/endian/conversion.hpp>
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

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// `payload` with one byte changed and its checksum made right again: what only the
// object's own checks can catch.
std::string Tampered(std::string payload, size_t at, char to) {
  payload[at] = to;
  boost::crc_optimal<64, 0xad93d23594c935a9ULL, 0, 0, true, true> crc;
  crc.process_bytes(payload.data(), payload.size() - 8);
  const uint64_t sum = boost::endian::native_to_little(crc.checksum());
  payload.replace(payload.size() - 8, 8, reinterpret_cast<const char*>(&sum), 8);
  return payload;
}

// redis-server 7.0.15's own DUMPs of values it keeps compact:
//   HSET h b -4000 a 1000000 c x          (a listpack: 13- and 24-bit integers, a string)
//   ZADD z -0 m 2.5 n 10 o -5000 p       (a listpack: scores as integers and as text)
//   SADD s 3 -1 1099511627776            (an intset of 8-byte integers, LZF-compressed)
//   RPUSH l q -5000 70000                (a quicklist of one listpack)
//   SET j abcabc...abc (120 bytes)        (LZF-compressed)
TEST(DumpPayloadTest, RedisCompactEncodingsAreReadInRedisOrder) {
  DumpValue v;
  ASSERT_TRUE(DecodeDump(FromHex("101b1b0000000600816202d06002816102f240420f04816302817802ff0a00"
                                 "425286d5fc806f56"),
                         &v)
                  .ok());
  EXPECT_EQ(v.kind, DumpValue::Kind::kHash);
  EXPECT_EQ(v.items, (std::vector<std::string>{"b", "-4000", "a", "1000000", "c", "x"}));
  ASSERT_TRUE(DecodeDump(FromHex("1120200000000800817002f178ec03816d020001816e0283322e3504816f02"
                                 "0a01ff0a00721e4af3274b4aab"),
                         &v)
                  .ok());
  EXPECT_EQ(v.kind, DumpValue::Kind::kZset);
  EXPECT_EQ(v.items, (std::vector<std::string>{"p", "m", "n", "o"}));
  EXPECT_EQ(v.scores, (std::vector<double>{-5000, 0, 2.5, 10}));
  ASSERT_TRUE(DecodeDump(FromHex("0bc31520040800000003200300ffa000400be00000020100000a00a8aea5f8"
                                 "94d189b5"),
                         &v)
                  .ok());
  EXPECT_EQ(v.kind, DumpValue::Kind::kSet);
  EXPECT_EQ(v.items, (std::vector<std::string>{"-1", "3", "1099511627776"}));
  ASSERT_TRUE(DecodeDump(FromHex("12010213130000000300817102f178ec03f270110104ff0a00409f6ee3a757"
                                 "93c7"),
                         &v)
                  .ok());
  EXPECT_EQ(v.kind, DumpValue::Kind::kList);
  EXPECT_EQ(v.items, (std::vector<std::string>{"q", "-5000", "70000"}));
  ASSERT_TRUE(DecodeDump(FromHex("00c30b40780361626361e069020162630a00c494a1702ae23e06"), &v).ok());
  EXPECT_EQ(v.kind, DumpValue::Kind::kString);
  std::string abc;
  for (int i = 0; i < 40; ++i) abc += "abc";
  EXPECT_EQ(v.string, abc);
}

TEST(DumpPayloadTest, ADamagedCompactEncodingIsRefusedWhole) {
  const std::string hash =
      FromHex("101b1b0000000600816202d06002816102f240420f04816302817802ff0a00425286d5fc806f56");
  DumpValue v;
  ASSERT_TRUE(DecodeDump(hash, &v).ok());
  // Byte 2 starts the listpack (its total length), 8 its first entry; the last entry's
  // back-length is the byte before the 0xff.
  const size_t end = hash.size() - 11;
  ASSERT_EQ(hash[end], '\xff');
  for (const auto& [at, to] : std::vector<std::pair<size_t, char>>{
           {2, '\x1c'},        // a total length that is not the blob's
           {end - 1, '\x03'},  // a back-length that is not its entry's
           {8, '\xf7'},        // an encoding listpack does not have
           {end, '\x00'},      // no end marker
           {9, 'a'},           // a repeated field ("a" twice)
       }) {
    EXPECT_FALSE(DecodeDump(Tampered(hash, at, to), &v).ok()) << at;
  }
  // An intset out of order, a list node of an unknown container, an LZF length past what
  // LZF can expand to.
  // An intset of 2-byte integers -1, 3, 28, then the same with 3 first.
  const std::string ordered =
      FromHex("0b0e0200000003000000ffff03001c000a00") + std::string(8, '\0');
  ASSERT_TRUE(DecodeDump(Tampered(ordered, 0, '\x0b'), &v).ok());
  EXPECT_EQ(v.items, (std::vector<std::string>{"-1", "3", "28"}));
  const std::string unordered =
      FromHex("0b0e02000000030000000300ffff1c000a00") + std::string(8, '\0');
  EXPECT_FALSE(DecodeDump(Tampered(unordered, 0, '\x0b'), &v).ok());
  const std::string list =
      FromHex("12010213130000000300817102f178ec03f270110104ff0a00409f6ee3a75793c7");
  EXPECT_FALSE(DecodeDump(Tampered(list, 2, '\x03'), &v).ok());
  const std::string lzf = FromHex("00c30b40780361626361e069020162630a00c494a1702ae23e06");
  EXPECT_FALSE(DecodeDump(Tampered(lzf, 3, '\x7f'), &v).ok()) << "plain length 0x3f78";
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
