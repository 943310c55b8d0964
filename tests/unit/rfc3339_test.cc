#include "service/rfc3339.h"

#include <gtest/gtest.h>

namespace devstate {
namespace {

TEST(Rfc3339Test, ParsesOffsetsAndFractions) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2026-11-22T08:00:00Z"), 1795334400000);
  EXPECT_EQ(ParseRfc3339("2026-11-22T10:00:00+02:00"), 1795334400000);
  EXPECT_EQ(ParseRfc3339("2026-11-22T03:30:00-04:30"), 1795334400000);
  EXPECT_EQ(ParseRfc3339("2026-11-22t08:00:00.5z"), 1795334400500);
  EXPECT_EQ(ParseRfc3339("2026-11-22T08:00:00.123456789Z"), 1795334400123);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59.999Z"), -1);
}

TEST(Rfc3339Test, RejectsWhatIsNotRfc3339) {
  for (const char* bad :
       {"", "2026-11-22", "2026-11-22T08:00:00", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-11-22T24:00:00Z", "2026-11-22T08:00:00.Z", "2026-11-22T08:00:00+2:00",
        "2026-11-22T08:00:00Zjunk", "x026-11-22T08:00:00Z", "2026-11-22T08:60:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(Rfc3339Test, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1795334400123), "2026-11-22T08:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999Z");
  for (int64_t ms :
       {int64_t{0}, int64_t{951782400000}, kMinTimeMs, kMaxTimeMs, int64_t{1795334400500}}) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(ms)), ms);
  }
}

}  // namespace
}  // namespace devstate
