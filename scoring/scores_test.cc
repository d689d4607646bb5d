#include "scoring/scores.h"

#include <gtest/gtest.h>

#include "scoring/test_events.h"

namespace c360 {
namespace {

using namespace c360::testing;

const Config kConfig;

TEST(RoundHalfUpTest, HalvesGoUpAndNegativesFloor) {
  EXPECT_EQ(RoundHalfUp(5, 2), 3);    // 2.5 -> 3
  EXPECT_EQ(RoundHalfUp(7, 3), 2);    // 2.33 -> 2
  EXPECT_EQ(RoundHalfUp(-5, 2), -2);  // -2.5 -> -2 (half up)
  EXPECT_EQ(RoundHalfUp(-7, 3), -2);  // -2.33 -> -2
}

TEST(ScoresTest, SpecWorkedExample) {
  // No usage ever, no tickets, a credit hold, one survey with nps 4, no campaigns sent:
  // usage 50, support 100, financial 100 - 40 = 60, engagement 4 x 10 = 40.
  // health = floor((35*5000 + 25*10000 + 25*6000 + 15*4000 + 5000) / 10000) = 64, WATCH.
  // z = -3 + 2 x (1 - 0.40) + 1 = -0.8; 100 sigmoid(-0.8) = 31.0 -> 31, LOW.
  CoreKpis k;
  k.credit_hold = true;
  k.nps_latest = 4;
  const Scores s = ComputeScores(k, kConfig);
  EXPECT_EQ(s.components[kUsage], 5000);
  EXPECT_EQ(s.components[kSupport], 10000);
  EXPECT_EQ(s.components[kFinancial], 6000);
  EXPECT_EQ(s.components[kEngagement], 4000);
  EXPECT_EQ(s.health, 64);
  EXPECT_EQ(s.status, v1::HealthSnapshot::WATCH);
  EXPECT_EQ(s.risk, 31);
  EXPECT_EQ(s.risk_level, v1::HealthSnapshot::LOW);
  // Drivers: usage 0.35 x 50 = 17.5, financial 0.25 x 40 = 10, engagement 0.15 x 60 = 9.
  ASSERT_EQ(s.drivers.size(), 3u);
  EXPECT_EQ(s.drivers[0].component, kUsage);
  EXPECT_EQ(s.drivers[0].deficit_e4, 175000);
  EXPECT_EQ(s.drivers[1].component, kFinancial);
  EXPECT_EQ(s.drivers[1].deficit_e4, 100000);
  EXPECT_EQ(s.drivers[2].component, kEngagement);
  EXPECT_EQ(s.drivers[2].deficit_e4, 90000);
  EXPECT_EQ(DriverText(kFinancial, k), "on credit hold");
}

TEST(ScoresTest, UsageComponent) {
  CoreKpis k;
  k.ever_used = true;
  k.days_since_last_usage = 0;
  k.usage_prior_r30d = 3;
  k.usage_r30d = 2;  // 100 x 2/3 = 66.666.. -> 66.67
  EXPECT_EQ(ComputeScores(k, kConfig).components[kUsage], 6667);
  k.usage_r30d = 1;  // 33.333.. -> 33.33
  EXPECT_EQ(ComputeScores(k, kConfig).components[kUsage], 3333);
  k.usage_r30d = 9;  // above prior: min(1, 3) -> 100
  EXPECT_EQ(ComputeScores(k, kConfig).components[kUsage], 10000);
  k.usage_prior_r30d = 0;  // prior 0, cur > 0 -> 100
  EXPECT_EQ(ComputeScores(k, kConfig).components[kUsage], 10000);
  k.usage_r30d = 0;  // cur = prior = 0 with usage ever -> 0
  EXPECT_EQ(ComputeScores(k, kConfig).components[kUsage], 0);
  // 12 silent days: 100 x 8/8 - 3 x (12 - 7) = 85.
  k.usage_prior_r30d = 8;
  k.usage_r30d = 8;
  k.days_since_last_usage = 12;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kUsage], 8500);
  // 100 x 1/8 = 12.5, - 3 x 5 = -2.5, clamped to 0.
  k.usage_r30d = 1;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kUsage], 0);
}

TEST(ScoresTest, SupportComponent) {
  CoreKpis k;
  // 2 of 5 breached, 1 open P1: 100 - 50 x 0.4 - 15 = 65.
  k.tickets_created_r30d = 5;
  k.sla_breached_r30d = 2;
  k.open_p1 = 1;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kSupport], 6500);
  // 1 of 8 breached, 1 open P2: 100 - 6.25 - 8 - 3 x (8 - 5) = 76.75.
  k = CoreKpis{};
  k.tickets_created_r30d = 8;
  k.sla_breached_r30d = 1;
  k.open_p2 = 1;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kSupport], 7675);
  // 1 of 3 breached: 100 - 16.666.. = 83.333.. -> 83.33.
  k = CoreKpis{};
  k.tickets_created_r30d = 3;
  k.sla_breached_r30d = 1;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kSupport], 8333);
  // 7 open P1s: 100 - 105 clamps to 0.
  k.open_p1 = 7;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kSupport], 0);
}

TEST(ScoresTest, FinancialComponent) {
  CoreKpis k;
  k.days_overdue = 75;  // capped at 60
  k.disputed_invoices = 2;
  // 100 - 60 - 20 = 20.
  EXPECT_EQ(ComputeScores(k, kConfig).components[kFinancial], 2000);
  k.days_overdue = 12;
  k.disputed_invoices = 0;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kFinancial], 8800);
}

TEST(ScoresTest, EngagementComponentIsTheMeanOfSignalsPresent) {
  CoreKpis k;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kEngagement], 7000);  // none present: 70
  // nps 9 -> 90; csat 9/2 = 4.5 -> 87.5; 3 sent, 1 engaged -> 200/3 = 66.666..
  // mean = (90 + 87.5 + 66.666..) / 3 = 81.3888.. -> 81.39
  k.nps_latest = 9;
  k.ratings_r90d = 2;
  k.csat_sum_r90d = 9;
  k.campaigns_sent_r90d = 3;
  k.campaigns_engaged_r90d = 1;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kEngagement], 8139);
  // Only 2 sent: the response-rate signal is absent: (90 + 87.5) / 2 = 88.75.
  k.campaigns_sent_r90d = 2;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kEngagement], 8875);
  // 4 sent, 2 engaged: min(100, 200 x 0.5) = 100; (90 + 87.5 + 100) / 3 = 92.5.
  k.campaigns_sent_r90d = 4;
  k.campaigns_engaged_r90d = 2;
  EXPECT_EQ(ComputeScores(k, kConfig).components[kEngagement], 9250);
}

TEST(ScoresTest, HealthStatusRiskAndBands) {
  CoreKpis k;
  k.ever_used = true;
  k.days_since_last_usage = 0;
  k.usage_prior_r30d = 100;
  k.usage_r30d = 100;
  // Everything full except engagement 70: 35+25+25 + 0.15 x 70 = 95.5 -> 96 (half up).
  Scores s = ComputeScores(k, kConfig);
  EXPECT_EQ(s.health, 96);
  EXPECT_EQ(s.status, v1::HealthSnapshot::HEALTHY);
  // z = -3 + 2 x 0.3 = -2.4; 100 sigmoid = 8.317.. -> 8.
  EXPECT_EQ(s.risk, 8);
  // Usage down 60% (40 of 100): usage 40, z = -3 + 1.8 + 0.6 = -0.6 -> 35.43 -> 35.
  k.usage_r30d = 40;
  k.usage_drop_pct = 60;
  k.usage_change_pct = -60;
  s = ComputeScores(k, kConfig);
  EXPECT_EQ(s.components[kUsage], 4000);
  // 35 x 40 + 25 x 100 + 25 x 100 + 15 x 70 = 7450 -> (745000 + 5000) / 10000 = 75.
  EXPECT_EQ(s.health, 75);
  EXPECT_EQ(s.status, v1::HealthSnapshot::WATCH);
  EXPECT_EQ(s.risk, 35);
  EXPECT_EQ(DriverText(kUsage, k), "usage down 60% vs prior 30 days");
  EXPECT_EQ(StatusOf(59, kConfig), v1::HealthSnapshot::AT_RISK);
  EXPECT_EQ(StatusOf(40, kConfig), v1::HealthSnapshot::AT_RISK);
  EXPECT_EQ(StatusOf(39, kConfig), v1::HealthSnapshot::CRITICAL);
}

TEST(ScoresTest, RiskTermsAndLevels) {
  CoreKpis k;  // usage 50 (never used), engagement 70
  k.days_overdue = 30;
  k.open_p1 = 5;  // capped at 3
  k.days_to_renewal = 90;
  k.credit_hold = true;
  // z = -3 + 1.5 x 0.5 + 2 x 0.3 + 1 + 0.5 x 3 + 0.5 = 1.35; 100 sigmoid = 79.4 -> 79, HIGH.
  const Scores s = ComputeScores(k, kConfig);
  EXPECT_EQ(s.risk, 79);
  EXPECT_EQ(s.risk_level, v1::HealthSnapshot::HIGH);
  k.days_to_renewal = 91;  // outside the window: z = 0.85 -> 70.06 -> 70, still HIGH
  EXPECT_EQ(ComputeScores(k, kConfig).risk, 70);
  k.credit_hold = false;  // z = -0.15 -> 46.3 -> 46, MEDIUM
  EXPECT_EQ(ComputeScores(k, kConfig).risk, 46);
  EXPECT_EQ(ComputeScores(k, kConfig).risk_level, v1::HealthSnapshot::MEDIUM);
}

TEST(ScoresTest, LifecycleTakesTheFirstStageThatApplies) {
  CoreKpis k;
  k.ever_used = true;
  k.days_since_last_usage = 0;
  k.usage_prior_r30d = 100;
  k.usage_r30d = 120;
  k.usage_change_pct = 20;
  EXPECT_EQ(ComputeScores(k, kConfig).lifecycle, v1::Lifecycle::GROWTH);
  k.days_to_renewal = 30;
  EXPECT_EQ(ComputeScores(k, kConfig).lifecycle, v1::Lifecycle::RENEWAL);
  k.days_since_contract_start = 89;
  EXPECT_EQ(ComputeScores(k, kConfig).lifecycle, v1::Lifecycle::ONBOARDING);
  k = CoreKpis{};
  k.ever_used = true;
  k.days_since_last_usage = 40;  // usage 0: health = 25 + 25 + 10.5 -> 61 -> not AT_RISK
  EXPECT_EQ(ComputeScores(k, kConfig).lifecycle, v1::Lifecycle::MATURE);
  k.credit_hold = true;  // financial 60: health 51 -> AT_RISK
  EXPECT_EQ(ComputeScores(k, kConfig).health, 51);
  EXPECT_EQ(ComputeScores(k, kConfig).lifecycle, v1::Lifecycle::AT_RISK);
}

TEST(ScoresTest, ConfigurableWeightsChangeHealth) {
  Config c =
      ParseConfig("scores:\n  weights: {usage: 50, support: 20, financial: 20, engagement: 10}\n");
  CoreKpis k;  // usage 50, the rest full, engagement 70
  // 50 x 50 + 20 x 100 + 20 x 100 + 10 x 70 = 7200 -> 72.
  EXPECT_EQ(ComputeScores(k, c).health, 72);
}

}  // namespace
}  // namespace c360
