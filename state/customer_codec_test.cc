#include "state/customer_codec.h"

#include <gtest/gtest.h>

namespace c360 {
namespace {

std::vector<DailyScore> Daily(std::initializer_list<DailyScore> scores) { return scores; }

TEST(DailyScoresTest, KeepsTheLastValueOfEachDayAndOnlyChanges) {
  CustomerState s("c1");
  s.RecordDaily(100, 80, 10, 1);
  s.RecordDaily(100, 75, 12, 2);  // later the same day: the day's value is the last one
  EXPECT_EQ(s.daily_scores(), Daily({{100, 75, 12, 2}}));
  s.RecordDaily(101, 75, 12, 2);  // unchanged: carried forward, no entry
  s.RecordDaily(103, 70, 15, 2);
  EXPECT_EQ(s.daily_scores(), Daily({{100, 75, 12, 2}, {103, 70, 15, 2}}));
  s.RecordDaily(103, 75, 12, 2);  // back to the day before's value: the entry goes
  EXPECT_EQ(s.daily_scores(), Daily({{100, 75, 12, 2}}));
  s.RecordDaily(99, 60, 30, 3);   // a timer's deadline behind T counts for the last day
  EXPECT_EQ(s.daily_scores(), Daily({{100, 60, 30, 3}}));
}

using Months = std::vector<int32_t>;

TEST(DailyScoresTest, ClosedMonthsAreStoredOnceAndKeep366DaysAndTheValueInForceAtTheirStart) {
  const int32_t jan70 = MonthIndexOfDay(0), jan71 = MonthIndexOfDay(380),
                feb71 = MonthIndexOfDay(400), mar72 = MonthIndexOfDay(800);
  ASSERT_EQ(jan71, jan70 + 12);
  CustomerState s("c1");
  s.RecordDaily(0, 50, 1, 2);
  s.RecordDaily(10, 60, 1, 2);
  EXPECT_FALSE(s.daily_flush_pending());
  s.RecordDaily(380, 70, 1, 2);  // a later month: January 1970 closes
  EXPECT_EQ(s.daily_scores(), Daily({{380, 70, 1, 2}}));
  ASSERT_TRUE(s.daily_flush_pending());
  CustomerState::DailyFlush flush = s.TakeDailyFlush();
  ASSERT_EQ(flush.put.size(), 1u);
  EXPECT_EQ(flush.put[0].first, jan70);
  EXPECT_EQ(flush.put[0].second, Daily({{0, 50, 1, 2}, {10, 60, 1, 2}}));
  EXPECT_EQ(flush.drop, Months{});  // [15, 380]: day 10's value is in force at day 15
  EXPECT_EQ(s.daily_months(), Months{jan70});
  EXPECT_FALSE(s.daily_flush_pending());

  s.RecordDaily(400, 80, 1, 1);
  s.RecordDaily(800, 90, 1, 1);  // keeps [435, 800]: only day 400's value is in force
  EXPECT_EQ(s.daily_scores(), Daily({{800, 90, 1, 1}}));
  flush = s.TakeDailyFlush();
  ASSERT_EQ(flush.put.size(), 1u);  // January 1971 closed and out of range at once
  EXPECT_EQ(flush.put[0].first, feb71);
  EXPECT_EQ(flush.put[0].second, Daily({{400, 80, 1, 1}}));
  EXPECT_EQ(flush.drop, (Months{jan70, jan71}));
  EXPECT_EQ(s.daily_months(), Months{feb71});
  EXPECT_EQ(MonthIndexOfDay(s.daily_scores().back().day), mar72);

  // A customer created again starts a new timeline: its stored months go.
  s.ClearDailyScores();
  s.RecordDaily(900, 40, 60, 3);
  flush = s.TakeDailyFlush();
  EXPECT_TRUE(flush.put.empty());
  EXPECT_EQ(flush.drop, Months{feb71});
  EXPECT_EQ(s.daily_months(), Months{});
  EXPECT_EQ(s.daily_scores(), Daily({{900, 40, 60, 3}}));
}

TEST(DailyScoresTest, AFormatOneTimelineClosesItsEarlierMonthsWhenDecoded) {
  state::v1::Customer value;  // as format 1 wrote it: the whole timeline in the value
  value.set_version(1);
  value.set_customer_id("c1");
  for (int32_t day : {0, 40, 70, 75}) {
    value.add_daily_scores(CustomerCodec::PackDaily({day, 60, 10, 2}));
  }
  CustomerState s;
  ASSERT_TRUE(CustomerCodec::Decode(value.SerializeAsString(), &s));
  EXPECT_EQ(s.daily_scores(), Daily({{70, 60, 10, 2}, {75, 60, 10, 2}}));  // March 1970
  ASSERT_TRUE(s.daily_flush_pending());
  const CustomerState::DailyFlush flush = s.TakeDailyFlush();
  ASSERT_EQ(flush.put.size(), 2u);
  EXPECT_EQ(flush.put[0].second, Daily({{0, 60, 10, 2}}));
  EXPECT_EQ(flush.put[1].second, Daily({{40, 60, 10, 2}}));
  EXPECT_EQ(s.daily_months(), (Months{MonthIndexOfDay(0), MonthIndexOfDay(40)}));
  // Encoded, the value lists its stored months and keeps the open one's entries only.
  state::v1::Customer scratch;
  std::string bytes;
  CustomerCodec::Encode(s, &scratch, &bytes);
  CustomerState back;
  ASSERT_TRUE(CustomerCodec::Decode(bytes, &back));
  EXPECT_FALSE(back.daily_flush_pending());
  EXPECT_EQ(back.daily_months(), s.daily_months());
  EXPECT_EQ(back.daily_scores(), s.daily_scores());
}

TEST(CustomerCodecTest, RoundTripsDailyScoresAndTheJournalSequence) {
  CustomerState s("c1");
  s.RecordDaily(20'000, 96, 8, 1);
  s.RecordDaily(20'001, 52, 75, 3);
  s.RecordDaily(-3, 1, 2, 4);  // before 1970 still counts for the last day
  for (int i = 0; i < 7; ++i) s.TakeJournalSequence();
  state::v1::Customer scratch;
  std::string bytes;
  CustomerCodec::Encode(s, &scratch, &bytes);
  CustomerState back;
  ASSERT_TRUE(CustomerCodec::Decode(bytes, &back));
  EXPECT_EQ(back.daily_scores(), Daily({{20'000, 96, 8, 1}, {20'001, 1, 2, 4}}));
  EXPECT_EQ(back.journal_next(), 7u);
}

}  // namespace
}  // namespace c360
