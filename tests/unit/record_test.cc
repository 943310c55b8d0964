#include "store/record.h"

#include <gtest/gtest.h>

namespace devstate {
namespace {

TEST(RecordTest, RoundTrips) {
  const std::string meta("m\0eta", 5);
  RecordPtr r = Record::Make(
      {.type = 7, .expire_at_ms = 1'700'000'000'123, .value = "{\"a\":1}", .meta = meta});
  RecordPtr back;
  ASSERT_TRUE(DecodeRecord(EncodeRecord(*r), &back).ok());
  EXPECT_EQ(back->type(), 7);
  EXPECT_EQ(back->expire_at_ms(), r->expire_at_ms());
  EXPECT_EQ(back->meta(), meta);
  EXPECT_EQ(back->value(), "{\"a\":1}");
  EXPECT_EQ(back->fields(), nullptr);
}

TEST(RecordTest, HoldsItsBytesInOneBlock) {
  const std::string value(160, 'v');
  RecordPtr r = Record::Make({.value = value, .meta = "mm"});
  EXPECT_EQ(r->AllocatedSize(), 24u + 162);            // malloc's 192-byte chunk
  EXPECT_EQ(r->meta().data() + 2, r->value().data());  // meta, then value, after the header
  EXPECT_EQ(reinterpret_cast<const char*>(r.get()) + sizeof(Record), r->meta().data());
  // With fields, their pointer comes between the header and the bytes.
  RecordPtr h = Record::Make({.value = "v", .meta = "m", .fields = std::make_shared<FieldMap>()});
  EXPECT_EQ(h->AllocatedSize(), 24u + sizeof(std::shared_ptr<const FieldMap>) + 2);
  EXPECT_EQ(h->meta(), "m");
  EXPECT_EQ(h->value(), "v");
  RecordPtr empty = Record::Make({});
  EXPECT_TRUE(empty->value().empty());
  EXPECT_TRUE(empty->meta().empty());
}

TEST(RecordTest, CopiesChangeOnlyWhatTheyName) {
  auto fields = std::make_shared<FieldMap>();
  fields->Set("f", "1");
  RecordPtr r = Record::Make({.type = 3, .expire_at_ms = 5, .meta = "m", .fields = fields});
  RecordPtr later = r->WithExpiry(9);
  EXPECT_EQ(later->expire_at_ms(), 9);
  EXPECT_EQ(later->type(), 3);
  EXPECT_EQ(later->meta(), "m");
  EXPECT_EQ(later->fields(), r->fields());  // shared, not copied
  EXPECT_EQ(r->expire_at_ms(), 5);          // the original is unchanged
  RecordPtr other = r->WithFields(nullptr);
  EXPECT_EQ(other->fields(), nullptr);
  EXPECT_EQ(other->expire_at_ms(), 5);
}

TEST(RecordTest, IsFreedWithItsLastReference) {
  auto fields = std::make_shared<FieldMap>();
  RecordPtr r = Record::Make({.fields = fields});
  RecordPtr copy = r;
  EXPECT_EQ(fields.use_count(), 2);
  r.reset();
  EXPECT_EQ(fields.use_count(), 2);  // `copy` still holds the record
  copy.reset();
  EXPECT_EQ(fields.use_count(), 1);  // the record, and its reference to the fields, are gone
}

TEST(RecordTest, DecodesACompositeHeaderWithFieldsToFill) {
  auto fields = std::make_shared<FieldMap>();
  fields->Set("f", "1");
  RecordPtr r = Record::Make({.type = 2, .fields = fields});
  RecordPtr back;
  std::shared_ptr<FieldMap> to_fill;
  ASSERT_TRUE(DecodeRecord(EncodeRecord(*r), &back, &to_fill).ok());
  ASSERT_NE(to_fill, nullptr);
  EXPECT_EQ(back->fields().get(), to_fill.get());
  EXPECT_TRUE(to_fill->empty());  // fields are journaled apart
}

TEST(RecordTest, RejectsDamage) {
  RecordPtr r = Record::Make({.meta = "0123456789"});
  std::string enc = EncodeRecord(*r);
  RecordPtr back;
  EXPECT_EQ(DecodeRecord("", &back).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeRecord(std::string("\x09\x00", 2), &back).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeRecord(enc.substr(0, 6), &back).code(), Status::Code::kCorruption);
}

TEST(RecordTest, Expiry) {
  EXPECT_FALSE(Record::Make({})->ExpiredAt(1));
  RecordPtr r = Record::Make({.expire_at_ms = 100});
  EXPECT_FALSE(r->ExpiredAt(99));
  EXPECT_TRUE(r->ExpiredAt(100));
}

}  // namespace
}  // namespace devstate
