#include "store/record.h"

#include <gtest/gtest.h>

namespace devstate {
namespace {

TEST(RecordTest, RoundTrips) {
  Record r;
  r.type = 7;
  r.expire_at_ms = 1'700'000'000'123;
  r.meta = std::string("m\0eta", 5);
  r.value = "{\"a\":1}";
  Record back;
  ASSERT_TRUE(DecodeRecord(EncodeRecord(r), &back).ok());
  EXPECT_EQ(back.type, 7);
  EXPECT_EQ(back.expire_at_ms, r.expire_at_ms);
  EXPECT_EQ(back.meta, r.meta);
  EXPECT_EQ(back.value, r.value);
}

TEST(RecordTest, RejectsDamage) {
  Record r;
  r.meta = "0123456789";
  std::string enc = EncodeRecord(r);
  Record back;
  EXPECT_EQ(DecodeRecord("", &back).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeRecord(std::string("\x09\x00", 2), &back).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeRecord(enc.substr(0, 6), &back).code(), Status::Code::kCorruption);
}

TEST(RecordTest, Expiry) {
  Record r;
  EXPECT_FALSE(r.ExpiredAt(1));
  r.expire_at_ms = 100;
  EXPECT_FALSE(r.ExpiredAt(99));
  EXPECT_TRUE(r.ExpiredAt(100));
}

}  // namespace
}  // namespace devstate
