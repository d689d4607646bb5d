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

TEST(DailyScoresTest, Keeps366DaysAndTheValueInForceAtTheirStart) {
  CustomerState s("c1");
  s.RecordDaily(0, 50, 1, 2);
  s.RecordDaily(10, 60, 1, 2);
  s.RecordDaily(380, 70, 1, 2);  // keeps [15, 380]: day 10's value is in force at day 15
  EXPECT_EQ(s.daily_scores(), Daily({{10, 60, 1, 2}, {380, 70, 1, 2}}));
  s.RecordDaily(400, 80, 1, 1);  // keeps [35, 400]: day 10's entry still in force
  s.RecordDaily(800, 90, 1, 1);  // keeps [435, 800]: only day 400's value is in force
  EXPECT_EQ(s.daily_scores(), Daily({{400, 80, 1, 1}, {800, 90, 1, 1}}));
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
