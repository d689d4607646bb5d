#include "common/time.h"

#include <gtest/gtest.h>

namespace c360 {
namespace {

TEST(TimeTest, DayOfFloorsTowardsMinusInfinity) {
  EXPECT_EQ(DayOf(0), 0);
  EXPECT_EQ(DayOf(kMsPerDay - 1), 0);
  EXPECT_EQ(DayOf(kMsPerDay), 1);
  EXPECT_EQ(DayOf(-1), -1);
  EXPECT_EQ(DayOf(-kMsPerDay), -1);
  EXPECT_EQ(DayOf(-kMsPerDay - 1), -2);
}

TEST(TimeTest, ParsesAndFormatsDates) {
  // 2026-11-23 is day 20780: 56 years x 365 = 20440, + 14 leap days (1972..2024), + 326
  // days into 2026 (Jan 1 is day 0 of the year).
  const auto t = ParseDate("2026-11-23");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(DayOf(*t), 20780);
  EXPECT_EQ(FormatDate(*t), "2026-11-23");
  EXPECT_EQ(FormatMonth(*t), "2026-11");
  EXPECT_EQ(FormatRfc3339(*t + 13 * kMsPerHour + 29 * 60'000 + 21'005), "2026-11-23T13:29:21.005Z");
}

TEST(TimeTest, RejectsDatesThatDoNotExist) {
  EXPECT_FALSE(ParseDate("2026-02-29").has_value());
  EXPECT_TRUE(ParseDate("2024-02-29").has_value());
  EXPECT_FALSE(ParseDate("2026-13-01").has_value());
  EXPECT_FALSE(ParseDate("2026-1-01").has_value());
  EXPECT_FALSE(ParseDate("yesterday").has_value());
}

TEST(TimeTest, TimestampRoundTripKeepsMillisecondsBeforeEpoch) {
  for (TimeMs t : {TimeMs{0}, TimeMs{1}, TimeMs{-1}, TimeMs{-1500}, TimeMs{1'795'000'123'456}}) {
    EXPECT_EQ(ToMs(ToTimestamp(t)), t) << t;
  }
  EXPECT_EQ(ToTimestamp(-1500).seconds(), -2);
  EXPECT_EQ(ToTimestamp(-1500).nanos(), 500'000'000);
}

}  // namespace
}  // namespace c360
