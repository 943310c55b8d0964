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

// What Redis keeps compact, written compact: the same bytes as its DUMPs above.
TEST(DumpPayloadTest, ACompactHashIntSetOrSortedSetIsWhatRedisDumps) {
  DumpValue hash;
  hash.kind = DumpValue::Kind::kHash;
  hash.compact = true;
  hash.items = {"b", "-4000", "a", "1000000", "c", "x"};
  EXPECT_EQ(
      EncodeDump(hash),
      FromHex("101b1b0000000600816202d06002816102f240420f04816302817802ff0a00425286d5fc806f56"));
  DumpValue set;
  set.kind = DumpValue::Kind::kSet;
  set.compact = true;
  set.items = {"3", "1099511627776", "-1"};  // any order: an intset is ascending
  EXPECT_EQ(EncodeDump(set),
            FromHex("0bc31520040800000003200300ffa000400be00000020100000a00a8aea5f8"
                    "94d189b5"));
  // A member that is not an integer: the plain form.
  set.items.push_back("m");
  EXPECT_EQ(EncodeDump(set)[0], '\x02');
  // ZADD z -0 m 2.5 n 10 o -5000 p: ascending, integer scores as integers, 2.5 as text.
  DumpValue zset;
  zset.kind = DumpValue::Kind::kZset;
  zset.compact = true;
  zset.items = {"p", "m", "n", "o"};
  zset.scores = {-5000, -0.0, 2.5, 10};
  EXPECT_EQ(EncodeDump(zset), FromHex("1120200000000800817002f178ec03816d020001816e0283322e3504816f"
                                      "020a01ff0a00721e4af3274b4aab"));
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

DumpStream::Entry E(uint64_t ms, uint64_t seq, std::vector<std::string> fields) {
  return {StreamId{ms, seq}, std::move(fields)};
}

// A stream that takes several listpacks: 250 entries, most with the first entry's field
// names (stored once per listpack) and some with their own, one value past the 4096 bytes
// that start a new listpack, ids whose seq is below the listpack's first (negative
// differences), integers at each listpack width; two groups, pending entries owned by two
// consumers, a consumer owning none, a read counter not known (-1).
DumpStream BigStream() {
  DumpStream s;
  for (uint64_t i = 0; i < 250; ++i) {
    const uint64_t ms = 1700000000000 + i, seq = i % 4 == 0 ? 9 : i % 4;
    if (i % 5 == 4) {
      s.entries.push_back(E(ms, seq, {"other", std::to_string(-int64_t(i) * 100000), "n", ""}));
    } else {
      s.entries.push_back(
          E(ms, seq,
            {"temp", std::to_string(i), "status", i == 120 ? std::string(5000, 's') : "ok"}));
    }
  }
  s.counters = {StreamId{1800000000000, 3}, StreamId{1700000000001, 0}, 260};
  DumpStream::Group g1{
      "readers", s.entries[9].id, 10, {}, {{"alice", 1700000000500}, {"bob", -1}, {"idle", 5}}};
  for (size_t i = 0; i < 10; ++i)
    g1.pending.push_back(
        {s.entries[i].id, i % 3 ? "alice" : "bob", 1700000000100 + int64_t(i), i + 1});
  DumpStream::Group g2{"", StreamId{}, -1, {}, {}};
  s.groups = {g1, g2};
  return s;
}

TEST(DumpPayloadTest, AStreamRoundTripsWithItsGroupsAcrossListpacks) {
  DumpValue v;
  v.kind = DumpValue::Kind::kStream;
  v.stream = BigStream();
  const std::string payload = EncodeDump(v);
  EXPECT_EQ(payload[0], '\x13') << "RDB_TYPE_STREAM_LISTPACKS_2";
  DumpValue back;
  ASSERT_TRUE(DecodeDump(payload, &back).ok());
  EXPECT_EQ(back.kind, DumpValue::Kind::kStream);
  EXPECT_TRUE(back.stream == v.stream);
  // An empty stream (XGROUP CREATE MKSTREAM) has no listpack and still its counters.
  v.stream.entries.clear();
  v.stream.groups.resize(1);
  v.stream.groups[0].pending.clear();
  ASSERT_TRUE(DecodeDump(EncodeDump(v), &back).ok());
  EXPECT_TRUE(back.stream == v.stream);
}

// redis-server 7.0.15's own DUMP of
//   XADD s 1-1 a 1 b hello; XADD s 1-2 a 2 b x; XADD s 2-0 c 3; XDEL s 1-2
//   XGROUP CREATE s g 0; XREADGROUP GROUP g alice COUNT 1 STREAMS s >
// one listpack holding a deleted entry (its tombstone) and one with fields of its own.
const char kRedisStream[] =
    "130110000000000000000100000000000000014043430000001900020101010201816102816202000102010001"
    "000101018568656c6c6f0605010301000101010201817802050100010101dfff02010181630203010601ff0202"
    "000101010203010167010181ffffffffffffffff0100000000000000010000000000000001e3c0c032a2010000"
    "010105616c696365e3c0c032a201000001000000000000000100000000000000010a00f6c973ba40be2e51";

TEST(DumpPayloadTest, AStreamIsReadAsRedisDumpsIt) {
  DumpValue v;
  ASSERT_TRUE(DecodeDump(FromHex(kRedisStream), &v).ok());
  ASSERT_EQ(v.kind, DumpValue::Kind::kStream);
  const DumpStream& s = v.stream;
  ASSERT_EQ(s.entries.size(), 2u) << "the tombstone of 1-2 is not an entry";
  EXPECT_EQ(s.entries[0].id, (StreamId{1, 1}));
  EXPECT_EQ(s.entries[0].fields, (std::vector<std::string>{"a", "1", "b", "hello"}));
  EXPECT_EQ(s.entries[1].id, (StreamId{2, 0}));
  EXPECT_EQ(s.entries[1].fields, (std::vector<std::string>{"c", "3"}));
  EXPECT_EQ(s.counters.last_id, (StreamId{2, 0}));
  EXPECT_EQ(s.counters.max_deleted, (StreamId{1, 2}));
  EXPECT_EQ(s.counters.entries_added, 3u);
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(s.groups[0].name, "g");
  EXPECT_EQ(s.groups[0].last_id, (StreamId{1, 1}));
  EXPECT_EQ(s.groups[0].entries_read, -1);
  ASSERT_EQ(s.groups[0].pending.size(), 1u);
  EXPECT_EQ(s.groups[0].pending[0].id, (StreamId{1, 1}));
  EXPECT_EQ(s.groups[0].pending[0].consumer, "alice");
  EXPECT_EQ(s.groups[0].pending[0].delivery_count, 1u);
  EXPECT_EQ(s.groups[0].pending[0].delivery_time, 1796147822819);
  ASSERT_EQ(s.groups[0].consumers.size(), 1u);
  EXPECT_EQ(s.groups[0].consumers[0].seen, 1796147822819);
}

std::string WithFooter(std::string body) {
  body += std::string("\x0a\x00", 2);
  boost::crc_optimal<64, 0xad93d23594c935a9ULL, 0, 0, true, true> crc;
  crc.process_bytes(body.data(), body.size());
  const uint64_t sum = boost::endian::native_to_little(crc.checksum());
  body.append(reinterpret_cast<const char*>(&sum), 8);
  return body;
}

TEST(DumpPayloadTest, ARedis6StreamGetsItsCountersAsRedis7MigratesOne) {
  // One entry 5-1 {f: v}, last id 9-0; group "g" at 5-1 with 5-1 pending for "c".
  DumpValue v;
  v.kind = DumpValue::Kind::kStream;
  v.stream.entries = {E(5, 1, {"f", "v"})};
  v.stream.counters = {StreamId{9, 0}, StreamId{}, 1};
  std::string body = EncodeDump(v);
  body.resize(body.size() - 10);
  // Redis 7.0's tail: length 1, last 9-0, first 5-1, deleted 0-0, added 1, no groups.
  ASSERT_EQ(body.substr(body.size() - 9), std::string("\x01\x09\x00\x05\x01\x00\x00\x01\x00", 9));
  body.resize(body.size() - 9);
  body[0] = '\x0f';
  body += std::string("\x01\x09\x00", 3);       // length, last id
  body += std::string("\x01\x01g\x05\x01", 5);  // one group "g", last delivered 5-1
  body += std::string("\x01", 1) + StreamId{5, 1}.Encode() + std::string(8, '\x07') + "\x02";
  body +=
      std::string("\x01\x01", 2) + "c" + std::string(8, '\x00') + "\x01" + StreamId{5, 1}.Encode();
  DumpValue back;
  ASSERT_TRUE(DecodeDump(WithFooter(body), &back).ok());
  const DumpStream& s = back.stream;
  ASSERT_EQ(s.entries.size(), 1u);
  EXPECT_EQ(s.counters.last_id, (StreamId{9, 0}));
  EXPECT_EQ(s.counters.max_deleted, StreamId{});
  EXPECT_EQ(s.counters.entries_added, 1u) << "the length, as Redis 7.0 sets it";
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_FALSE(s.groups[0].entries_read.has_value()) << "estimated when restored";
  ASSERT_EQ(s.groups[0].pending.size(), 1u);
  EXPECT_EQ(s.groups[0].pending[0].consumer, "c");
  EXPECT_EQ(s.groups[0].pending[0].delivery_count, 2u);
}

TEST(DumpPayloadTest, AStreamThatDisagreesWithItselfIsRefused) {
  DumpValue v;
  v.kind = DumpValue::Kind::kStream;
  v.stream.entries = {E(5, 1, {"f", "v"}), E(6, 0, {"f", "w"})};
  v.stream.counters = {StreamId{9, 0}, StreamId{}, 2};
  DumpStream::Group g{"g", StreamId{6, 0}, 2, {{StreamId{5, 1}, "c", 10, 1}}, {{"c", 10}}};
  v.stream.groups = {g};
  DumpValue back;
  ASSERT_TRUE(DecodeDump(EncodeDump(v), &back).ok());
  auto refused = [&](DumpValue bad, const char* why) {
    EXPECT_EQ(DecodeDump(EncodeDump(bad), &back).code(), Status::Code::kCorruption) << why;
  };
  DumpValue bad = v;
  bad.stream.counters.last_id = StreamId{5, 9};
  refused(bad, "the last id below the last entry's");
  bad = v;
  std::swap(bad.stream.entries[0], bad.stream.entries[1]);
  refused(bad, "entries out of order");
  bad = v;
  bad.stream.entries[1].id = bad.stream.entries[0].id;
  refused(bad, "an id twice");
  bad = v;
  bad.stream.groups.push_back(g);
  refused(bad, "a group twice");
  bad = v;
  bad.stream.groups[0].consumers.push_back({"c", 1});
  refused(bad, "a consumer twice");
  bad = v;
  bad.stream.groups[0].consumers[0].name = "d";  // "c" owns 5-1, and no "c" is saved
  refused(bad, "a pending entry without an owner");
  bad = v;
  bad.stream.entries[0].fields.clear();
  refused(bad, "an entry without fields");
  // The length counts live entries: change the saved length byte.
  const std::string good = EncodeDump(v);
  const size_t length_at = good.find(std::string("\x02\x09\x00\x05\x01", 5));
  ASSERT_NE(length_at, std::string::npos);
  EXPECT_FALSE(DecodeDump(Tampered(good, length_at, '\x03'), &back).ok()) << "length 3";
  // Any byte changed (checksum made right) is refused or read as another sound stream:
  // never a crash, never a read past the payload (ASan's build runs this too).
  const std::string big = [] {
    DumpValue b;
    b.kind = DumpValue::Kind::kStream;
    b.stream = BigStream();
    b.stream.entries.resize(120);
    return EncodeDump(b);
  }();
  for (size_t at = 0; at + 10 < big.size(); at += 7) {
    for (char to : {'\x00', '\x01', '\x7f', '\x80', '\xff'}) {
      const Status s = DecodeDump(Tampered(big, at, to), &back);
      EXPECT_TRUE(s.ok() || s.code() == Status::Code::kCorruption) << at;
    }
  }
}

// Payloads in Redis 2.4-6.2's encodings (RDB version 9), each of which redis-server 7.0.15
// RESTOREs with sanitize-dump-payload yes to the values checked here:
//   a ziplist hash {f: v, n: 7, neg: -70000, big: 2^40} (integers of 4 widths);
//   a quicklist of two ziplists [a, 300] and [70 x's, -1];
//   a zipmap hash {name: value, e: ""} with 2 free bytes after each value;
//   a sorted set with text scores {a: "1.5", b: +inf (254)}.
constexpr const char* kRedis6Hash =
    "0d2f2f00000024000000080000016603017603016e03f802036e656705f090eefe050362696705e00000000000"
    "010000ff0900b4420852b63bd1f5";
constexpr const char* kRedis6Quicklist =
    "0e0212120000000d000000020000016103c02c01ff405757000000530000000200004046787878787878787878"
    "787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
    "7878787878787878787878787878787849feffff09006255955702df6de2";
constexpr const char* kRedis6Zipmap =
    "091602046e616d65050276616c75650000016500020000ff0900c1a62ae20785bb56";
constexpr const char* kRedis6Zset = "0302016103312e350162fe0900d51f56a3b0536b5b";

TEST(DumpPayloadTest, WhatRedis6DumpedIsRead) {
  DumpValue v;
  ASSERT_TRUE(DecodeDump(FromHex(kRedis6Hash), &v).ok());
  EXPECT_EQ(v.kind, DumpValue::Kind::kHash);
  EXPECT_EQ(v.items, (std::vector<std::string>{"f", "v", "n", "7", "neg", "-70000", "big",
                                               "1099511627776"}));
  ASSERT_TRUE(DecodeDump(FromHex(kRedis6Quicklist), &v).ok());
  EXPECT_EQ(v.kind, DumpValue::Kind::kList);
  EXPECT_EQ(v.items, (std::vector<std::string>{"a", "300", std::string(70, 'x'), "-1"}));
  ASSERT_TRUE(DecodeDump(FromHex(kRedis6Zipmap), &v).ok());
  EXPECT_EQ(v.kind, DumpValue::Kind::kHash);
  EXPECT_EQ(v.items, (std::vector<std::string>{"name", "value", "e", ""}));
  ASSERT_TRUE(DecodeDump(FromHex(kRedis6Zset), &v).ok());
  EXPECT_EQ(v.kind, DumpValue::Kind::kZset);
  EXPECT_EQ(v.items, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(v.scores, (std::vector<double>{1.5, HUGE_VAL}));
}

TEST(DumpPayloadTest, ADamagedZiplistOrZipmapIsRefusedWhole) {
  const std::string hash = FromHex(kRedis6Hash);
  DumpValue v;
  // The ziplist starts at byte 2: total (4), tail (4), count (2), then the entries, the
  // first "f" (prevlen 0, length 1, 'f'), the second "v" (prevlen 3).
  for (const auto& [at, to] : std::vector<std::pair<size_t, char>>{
           {2, '\x2e'},   // a total length that is not the blob's
           {6, '\x25'},   // a tail that is not the last entry's offset
           {10, '\x07'},  // a count that is not the entries'
           {15, '\x02'},  // a previous-entry length that is not the previous entry's
           {16, '\x3f'},  // a string running past the end
           {12, '\x05'},  // the first entry's previous-entry length, which must be 0
           {13, '\x05'},  // the first entry's length (1) made 5: every offset after it shifts
           {14, 'n'},     // a repeated field ("n" twice)
       }) {
    EXPECT_FALSE(DecodeDump(Tampered(hash, at, to), &v).ok()) << at;
  }
  const std::string zipmap = FromHex(kRedis6Zipmap);
  EXPECT_FALSE(DecodeDump(Tampered(zipmap, 2, '\x03'), &v).ok()) << "count 3 of 2 pairs";
  EXPECT_TRUE(DecodeDump(Tampered(zipmap, 2, '\xfe'), &v).ok()) << "254: count them";
  EXPECT_FALSE(DecodeDump(Tampered(zipmap, 20, '\x09'), &v).ok()) << "free space past the end";
  const std::string zset = FromHex(kRedis6Zset);
  EXPECT_FALSE(DecodeDump(Tampered(zset, 10, '\xfd'), &v).ok()) << "a NaN score";
  EXPECT_FALSE(DecodeDump(Tampered(zset, 6, 'x'), &v).ok()) << "\"1x5\" is not a number";
  // Any byte changed (checksum made right): refused or read, never a crash or a read past
  // the payload (ASan's build runs this too).
  for (const std::string& good : {hash, FromHex(kRedis6Quicklist), zipmap, zset}) {
    for (size_t at = 0; at + 10 < good.size(); ++at) {
      for (char to : {'\x00', '\x01', '\x3f', '\x40', '\x80', '\xfe', '\xff'}) {
        const Status st = DecodeDump(Tampered(good, at, to), &v);
        EXPECT_TRUE(st.ok() || st.code() == Status::Code::kCorruption) << at;
      }
    }
  }
}

}  // namespace
}  // namespace devstate
