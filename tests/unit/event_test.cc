#include "service/event.h"

#include <gtest/gtest.h>

namespace devstate {
namespace {

class EventTest : public ::testing::Test {
 protected:
  Status Parse(std::string_view json, std::string_view path_id = "dev-1") {
    return parser_.Parse(json, path_id, /*receive_ms=*/777, &event_);
  }
  std::string Reason(std::string_view json, std::string_view path_id = "dev-1") {
    Status s = Parse(json, path_id);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << json;
    return s.message();
  }
  EventParser parser_;
  Event event_;
};

TEST_F(EventTest, ParsesFieldsAndTime) {
  ASSERT_TRUE(
      Parse(
          R"({"status":"active","temperature":6.4,"gps":{"lat":1,"lon":2},"tags":[1, 2],"gone":null,"ts":1700000000000})")
          .ok());
  EXPECT_EQ(event_.device_id, "dev-1");
  EXPECT_EQ(event_.time_ms, 1700000000000);
  EXPECT_TRUE(event_.time_from_device);
  ASSERT_EQ(event_.fields.size(), 5u);
  EXPECT_EQ(event_.fields[0].name, "status");
  EXPECT_EQ(event_.fields[0].json, "\"active\"");
  EXPECT_EQ(event_.fields[1].json, "6.4");
  EXPECT_EQ(event_.fields[2].json, R"({"lat":1,"lon":2})");
  EXPECT_EQ(event_.fields[3].json, "[1,2]");
  EXPECT_TRUE(event_.fields[4].is_null());
}

TEST_F(EventTest, TimeFromLastSeenAtOrReceiveTime) {
  ASSERT_TRUE(Parse(R"({"a":1,"lastSeenAt":"2026-11-22T10:00:00+02:00"})").ok());
  EXPECT_EQ(event_.time_ms, 1795334400000);
  ASSERT_TRUE(Parse(R"({"a":1})").ok());
  EXPECT_EQ(event_.time_ms, 777);
  EXPECT_FALSE(event_.time_from_device);
  ASSERT_TRUE(Parse(R"({"ts":5,"lastSeenAt":"2026-11-22T10:00:00Z"})").ok());
  EXPECT_EQ(event_.time_ms, 5) << "ts wins over lastSeenAt";
}

TEST_F(EventTest, DeviceIdFromBodyOrPath) {
  ASSERT_TRUE(Parse(R"({"deviceId":"abc.1:x_y-z","a":1})", "").ok());
  EXPECT_EQ(event_.device_id, "abc.1:x_y-z");
  ASSERT_TRUE(Parse(R"({"deviceId":"dev-1","a":1})").ok());
  EXPECT_NE(Reason(R"({"deviceId":"other","a":1})").find("does not match"), std::string::npos);
  EXPECT_NE(Reason(R"({"a":1})", "").find("no device id"), std::string::npos);
  EXPECT_NE(Reason(R"({"deviceId":"bad id"})", "").find("deviceId"), std::string::npos);
  EXPECT_NE(Reason(R"({"a":1})", "bad/id").find("device id"), std::string::npos);
  EXPECT_NE(Reason(R"({"a":1})", std::string(129, 'x')).find("device id"), std::string::npos);
  EXPECT_TRUE(Parse(R"({"a":1})", std::string(128, 'x')).ok());
}

TEST_F(EventTest, RejectsBadInputWithAReason) {
  EXPECT_NE(Reason("[1,2]").find("must be a JSON object"), std::string::npos);
  EXPECT_NE(Reason("\"x\"").find("must be a JSON object"), std::string::npos);
  EXPECT_NE(Reason("{\"a\":").find("not valid JSON"), std::string::npos);
  EXPECT_NE(Reason("").find("not valid JSON"), std::string::npos);
  EXPECT_NE(Reason("{\"a\":\"\xff\xfe\"}").find("UTF-8"), std::string::npos);
  EXPECT_NE(Reason(R"({"a":1,"a":2})").find("twice"), std::string::npos);
  EXPECT_NE(Reason(R"({"ts":"yesterday"})").find("ts must be"), std::string::npos);
  EXPECT_NE(Reason(R"({"ts":-5})").find("ts must be"), std::string::npos);
  EXPECT_NE(Reason(R"({"lastSeenAt":"2026-11-22"})").find("RFC 3339"), std::string::npos);
}

TEST_F(EventTest, ReservedKeysAppearOnceLikeStateFields) {
  EXPECT_EQ(Reason(R"({"a":1,"a":2})"), "field 'a' appears twice");
  EXPECT_EQ(Reason(R"({"deviceId":"dev-1","deviceId":"dev-1","a":1})"),
            "field 'deviceId' appears twice");
  EXPECT_EQ(Reason(R"({"ts":1,"a":1,"ts":2})"), "field 'ts' appears twice");
  EXPECT_EQ(Reason(R"({"lastSeenAt":"2026-11-22T08:00:00Z","lastSeenAt":"2026-11-22T09:00:00Z"})"),
            "field 'lastSeenAt' appears twice");
  EXPECT_TRUE(Parse(R"({"ts":1,"lastSeenAt":"2026-11-22T08:00:00Z","a":1})").ok());
}

TEST_F(EventTest, EnforcesSizeDepthAndFieldLimits) {
  std::string big = R"({"a":")" + std::string(64 * 1024, 'x') + R"("})";
  EXPECT_NE(Reason(big).find("more than the limit of 65536"), std::string::npos);

  auto nested = [](int depth) {  // the event object is level 1
    std::string s = "{\"a\":";
    for (int i = 1; i < depth; ++i) s += "[";
    s += "1";
    for (int i = 1; i < depth; ++i) s += "]";
    return s + "}";
  };
  EXPECT_TRUE(Parse(nested(16)).ok());
  EXPECT_NE(Reason(nested(17)).find("deeper than 16"), std::string::npos);
  EXPECT_NE(Reason(nested(5000)).find("deeper than 16"), std::string::npos);

  std::string many = "{";
  for (int i = 0; i < 257; ++i) many += (i ? "," : "") + ("\"f" + std::to_string(i) + "\":1");
  many += "}";
  EXPECT_NE(Reason(many).find("more than 256 fields"), std::string::npos);
}

TEST_F(EventTest, ParserIsReusableAfterErrors) {
  EXPECT_FALSE(Parse("{bad").ok());
  ASSERT_TRUE(Parse(R"({"x":true})").ok());
  EXPECT_EQ(event_.fields[0].json, "true");
}

class BatchTest : public ::testing::Test {
 protected:
  Status Parse(std::string_view body, size_t max_events = 100) {
    return parser_.ParseBatch(body, /*receive_ms=*/5, max_events, &items_);
  }
  EventParser parser_{EventLimits{.max_bytes = 64, .max_depth = 3, .max_fields = 4}};
  std::vector<BatchItem> items_;
};

TEST_F(BatchTest, ArrayGivesOneItemPerElementWithItsOwnStatus) {
  ASSERT_TRUE(
      Parse(R"( [{"deviceId":"a","x":1}, 7, {"x":2}, {"deviceId":"b","ts":9,"y":[1]}] )").ok());
  ASSERT_EQ(items_.size(), 4u);
  EXPECT_TRUE(items_[0].status.ok());
  EXPECT_EQ(items_[0].event.device_id, "a");
  EXPECT_EQ(items_[0].event.time_ms, 5);
  EXPECT_EQ(items_[1].status.message(), "event must be a JSON object");
  EXPECT_NE(items_[2].status.message().find("no device id"), std::string::npos);
  EXPECT_TRUE(items_[3].status.ok());
  EXPECT_EQ(items_[3].event.time_ms, 9);
}

TEST_F(BatchTest, NdjsonSkipsBlankLinesAndJudgesEachLine) {
  ASSERT_TRUE(Parse("{\"deviceId\":\"a\",\"x\":1}\r\n\n  \n{oops\n{\"deviceId\":\"c\"}").ok());
  ASSERT_EQ(items_.size(), 3u);
  EXPECT_TRUE(items_[0].status.ok());
  EXPECT_FALSE(items_[1].status.ok());
  EXPECT_TRUE(items_[2].status.ok());
  EXPECT_EQ(items_[2].event.device_id, "c");
}

TEST_F(BatchTest, PerEventLimitsApplyInsideABatch) {
  const std::string big =
      R"([{"deviceId":"a","x":")" + std::string(80, 'z') + R"("},{"deviceId":"b","n":{"o":1}}])";
  ASSERT_TRUE(Parse(big).ok());
  EXPECT_NE(items_[0].status.message().find("more than the limit of 64"), std::string::npos);
  EXPECT_TRUE(items_[1].status.ok());
  // Too deep fails the whole array: the depth bound is the parser's.
  EXPECT_FALSE(Parse(R"([{"deviceId":"a","n":{"o":{"p":{"q":1}}}}])").ok());
}

TEST_F(BatchTest, WholeBatchErrors) {
  EXPECT_EQ(Parse("").message(), "batch is empty");
  EXPECT_EQ(Parse(" \n ").message(), "batch is empty");
  EXPECT_EQ(Parse("[]").message(), "batch is empty");
  EXPECT_NE(Parse("[1,").message().find("not valid JSON"), std::string::npos);
  EXPECT_EQ(Parse(R"([{"deviceId":"a"},{"deviceId":"b"},{"deviceId":"c"}])", 2).message(),
            "batch has more than 2 events");
  EXPECT_EQ(Parse("{\"deviceId\":\"a\"}\n{\"deviceId\":\"b\"}\n{\"deviceId\":\"c\"}", 2).message(),
            "batch has more than 2 events");
}

}  // namespace
}  // namespace devstate
