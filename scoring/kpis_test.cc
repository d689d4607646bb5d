#include "scoring/kpis.h"

#include <gtest/gtest.h>

#include "scoring/scores.h"
#include "scoring/test_events.h"

namespace c360 {
namespace {

using namespace c360::testing;

const Config kConfig;

class KpisTest : public ::testing::Test {
 protected:
  // Applies usage at day `d` while stream time is on day `today`.
  void UseOn(int d, int today, const std::string& module = "reports", int64_t quantity = 1) {
    state_.ApplyUsage(Usage(module, quantity), At(d), static_cast<int32_t>(DayOf(At(today))));
  }
  CoreKpis At_(int day, int hour = 12) {
    const TimeMs t = At(day, hour);
    MarkPassedDeadlines(state_, t - 1);
    return ComputeKpis(state_, t, t - 1);
  }
  CustomerState state_{"cust-1"};
};

TEST_F(KpisTest, UsageWindowsHaveExactBoundaries) {
  // T on day 100: R30D = days 71..100, prior = days 41..70.
  UseOn(100, 100, "reports", 5);
  UseOn(71, 100);         // first day of R30D
  UseOn(70, 100, "", 2);  // last day of prior; module none counts as "other"
  UseOn(41, 100);         // first day of prior
  UseOn(40, 100);         // outside both windows
  CoreKpis k = At_(100);
  EXPECT_EQ(k.usage_r30d, 6);
  EXPECT_EQ(k.usage_prior_r30d, 3);
  EXPECT_DOUBLE_EQ(k.usage_change_pct, 100.0);  // (6 - 3) / 3
  EXPECT_DOUBLE_EQ(k.usage_drop_pct, 0.0);
  EXPECT_EQ(*k.days_since_last_usage, 0);

  // One day later day 71 is still in R30D? No: R30D = 72..101, so day 71 moves to prior,
  // and day 41 falls out.
  k = At_(101);
  EXPECT_EQ(k.usage_r30d, 5);
  EXPECT_EQ(k.usage_prior_r30d, 3);  // 71 (1) + 70 (2)
  EXPECT_EQ(*k.days_since_last_usage, 1);
}

TEST_F(KpisTest, QuantityZeroCountsAsOneAndLateEventsLandOnTheirDay) {
  UseOn(50, 50, "api", 0);
  UseOn(50, 50, "api", 7);
  CoreKpis k = At_(50);  // caches the sums for day 50
  EXPECT_EQ(k.usage_r30d, 8);
  UseOn(10, 50, "api", 4);  // out of order, into the prior window (days 11..20? no: 10 < 21)
  UseOn(25, 50, "api", 3);  // prior window is days -9..20 for R30D 21..50: day 25 is in R30D
  k = At_(50);
  EXPECT_EQ(k.usage_r30d, 11);
  EXPECT_EQ(k.usage_prior_r30d, 4);
  EXPECT_EQ(*k.days_since_last_usage, 0);
}

TEST_F(KpisTest, TopModulesAndMonthlyUsage) {
  UseOn(60, 60, "reports", 3);
  UseOn(60, 60, "api", 3);
  UseOn(60, 60, "", 5);
  UseOn(59, 60, "billing", 1);
  UseOn(20, 60, "admin", 9);  // older than R30D: only in the monthly totals
  CoreKpis core = At_(60);
  v1::Kpis k;
  FillKpis(state_, core, &k);
  ASSERT_EQ(k.top_modules_r30d_size(), 4);
  EXPECT_EQ(k.top_modules_r30d(0).module(), "other");
  EXPECT_EQ(k.top_modules_r30d(1).module(), "api");  // ties by name: api < reports
  EXPECT_EQ(k.top_modules_r30d(2).module(), "reports");
  EXPECT_EQ(k.top_modules_r30d(3).module(), "billing");
  // Day 60 is 2026-04-30; day 20 is 2026-03-21. 12 months: 2025-05 .. 2026-04.
  ASSERT_EQ(k.monthly_usage_size(), 12);
  EXPECT_EQ(k.monthly_usage(0).month(), "2025-05");
  EXPECT_EQ(k.monthly_usage(11).month(), "2026-04");
  EXPECT_EQ(k.monthly_usage(11).events(), 12);
  EXPECT_EQ(k.monthly_usage(10).events(), 9);
  EXPECT_EQ(k.monthly_usage(9).events(), 0);
}

TEST_F(KpisTest, TicketLifecycleAndSla) {
  using K = v1::TicketEvent;
  // T-1: P2 created day 10 12:00, response due +4 h, answered after 5 h: response breach.
  state_.ApplyTicket(Ticket("e1", "T-1", K::CREATED, K::P2), At(10, 12), kConfig);
  state_.ApplyTicket(Ticket("e2", "T-1", K::FIRST_RESPONSE, K::P2), At(10, 17), kConfig);
  // T-2: P1 resolved with no earlier response after 30 min: that is its first response.
  state_.ApplyTicket(Ticket("e3", "T-2", K::CREATED, K::P1), At(11, 0), kConfig);
  state_.ApplyTicket(Ticket("e4", "T-2", K::RESOLVED, K::P1), At(11, 0) + kMsPerHour / 2, kConfig);
  // T-3: P1 still open.
  state_.ApplyTicket(Ticket("e5", "T-3", K::CREATED, K::P1), At(12, 0), kConfig);
  state_.ApplyTicket(Ticket("e6", "T-3", K::FIRST_RESPONSE, K::P1), At(12, 0) + 60'000, kConfig);
  // T-4: CLOSED without RESOLVED resolves it; then REOPENED opens it again.
  state_.ApplyTicket(Ticket("e7", "T-4", K::CREATED, K::P4), At(12, 1), kConfig);
  state_.ApplyTicket(Ticket("e8", "T-4", K::CLOSED, K::P4), At(12, 3), kConfig);
  // A redelivered event changes nothing.
  EXPECT_FALSE(state_.ApplyTicket(Ticket("e8", "T-4", K::CLOSED, K::P4), At(12, 3), kConfig));

  CoreKpis k = At_(12, 4);
  EXPECT_EQ(k.tickets_created_r30d, 4);
  EXPECT_EQ(k.tickets_by_priority_r30d[1], 2);
  EXPECT_EQ(k.tickets_by_priority_r30d[2], 1);
  EXPECT_EQ(k.tickets_by_priority_r30d[4], 1);
  EXPECT_EQ(k.open_tickets, 2);  // T-1 (never resolved) and T-3
  EXPECT_EQ(k.open_p1, 1);
  EXPECT_EQ(k.open_p2, 1);
  EXPECT_EQ(k.sla_breached_r30d, 1);
  EXPECT_DOUBLE_EQ(k.sla_breach_rate_pct_r30d, 25.0);
  EXPECT_EQ(k.responses_r30d, 4);
  // (5 h + 0.5 h + 1 min + 2 h) / 4 = 1.8770833 h
  EXPECT_NEAR(*k.avg_response_hours_r30d, (5 + 0.5 + 1.0 / 60 + 2) / 4, 1e-12);
  EXPECT_EQ(k.resolutions_r30d, 2);
  EXPECT_NEAR(*k.avg_resolution_hours_r30d, (0.5 + 2) / 2, 1e-12);

  state_.ApplyTicket(Ticket("e9", "T-4", K::REOPENED, K::P4), At(12, 5), kConfig);
  k = At_(12, 6);
  EXPECT_EQ(k.open_tickets, 3);
  EXPECT_EQ(k.resolutions_r30d, 1);

  // Silence: T-1's resolution was due 24 h after creation (day 11 12:00) and has passed,
  // but T-1 already breached its response: it counts once.
  EXPECT_TRUE(state_.tickets()[0].resolution_breached);
  EXPECT_EQ(At_(12, 7).sla_breached_r30d, 1);
  // T-3 (P1, created day 12 00:00) is due resolution at 08:00: strictly past at 08:00 + 1 ms.
  EXPECT_EQ(At_(12, 8).sla_breached_r30d, 1);
  const TimeMs after = At(12, 8) + 1;
  MarkPassedDeadlines(state_, after - 1);
  EXPECT_EQ(ComputeKpis(state_, after, after - 1).sla_breached_r30d, 2);
}

TEST_F(KpisTest, ExplicitDueTimesOverrideThePolicy) {
  using K = v1::TicketEvent;
  v1::TicketEvent created = Ticket("e1", "T-1", K::CREATED, K::P4);
  *created.mutable_response_due() = ToTimestamp(At(5, 13));
  state_.ApplyTicket(created, At(5, 12), kConfig);
  // Exactly at the deadline is on time.
  state_.ApplyTicket(Ticket("e2", "T-1", K::FIRST_RESPONSE, K::P4), At(5, 13), kConfig);
  EXPECT_EQ(At_(5, 14).sla_breached_r30d, 0);
  // One hour past an explicit deadline of one hour is a breach, although P4's policy
  // (hours) would allow it: the explicit due time decides.
  ASSERT_GT(kConfig.sla[4].response_hours, 2);
  v1::TicketEvent late = Ticket("e3", "T-2", K::CREATED, K::P4);
  *late.mutable_response_due() = ToTimestamp(At(5, 13));
  state_.ApplyTicket(late, At(5, 12), kConfig);
  state_.ApplyTicket(Ticket("e4", "T-2", K::FIRST_RESPONSE, K::P4), At(5, 14), kConfig);
  EXPECT_EQ(At_(5, 15).sla_breached_r30d, 1);
}

TEST_F(KpisTest, InvoicesOverduePartialPaymentsDisputesAndCreditHold) {
  using K = v1::InvoiceEvent;
  v1::InvoiceEvent issued = Invoice("e1", "INV-1", K::ISSUED);
  issued.set_amount_cents(10'000);
  *issued.mutable_due_date() = ToTimestamp(At(10, 0));
  state_.ApplyInvoice(issued, At(0));
  v1::InvoiceEvent part = Invoice("e2", "INV-1", K::PAID);
  part.set_paid_cents(4'000);
  state_.ApplyInvoice(part, At(5));

  EXPECT_EQ(At_(9).overdue_invoices, 0);
  CoreKpis k = At_(12);
  EXPECT_EQ(k.overdue_invoices, 1);
  EXPECT_EQ(k.overdue_amount_cents, 6'000);
  EXPECT_EQ(k.days_overdue, 2);
  EXPECT_EQ(k.most_overdue_invoice, "INV-1");

  state_.ApplyInvoice(Invoice("e3", "INV-1", K::DISPUTED), At(12));
  EXPECT_EQ(At_(12).disputed_invoices, 1);
  EXPECT_EQ(At_(12).overdue_invoices, 1);  // disputed ones included
  state_.ApplyInvoice(Invoice("e4", "INV-1", K::DISPUTE_RESOLVED), At(13));
  EXPECT_EQ(At_(13).disputed_invoices, 0);
  state_.ApplyInvoice(Invoice("e5", "INV-1", K::PAID), At(14));  // the rest
  EXPECT_EQ(At_(14).overdue_invoices, 0);

  v1::InvoiceEvent hold = Invoice("e6", "", K::CREDIT_HOLD_SET);
  v1::InvoiceEvent release = Invoice("e7", "", K::CREDIT_HOLD_RELEASED);
  state_.ApplyInvoice(release, At(20));
  state_.ApplyInvoice(hold, At(19));  // older than the release: the release stays latest
  EXPECT_FALSE(At_(20).credit_hold);
  state_.ApplyInvoice(hold, At(21));
  EXPECT_TRUE(At_(21).credit_hold);
}

TEST_F(KpisTest, CampaignsRatingsAndInteractions) {
  using K = v1::CampaignEvent;
  for (int c = 1; c <= 4; ++c) {
    state_.ApplyCampaign(Campaign("s" + std::to_string(c), "C" + std::to_string(c), K::SENT),
                         At(c));
  }
  state_.ApplyCampaign(Campaign("o1", "C1", K::OPENED), At(1, 15));
  state_.ApplyCampaign(Campaign("k1", "C1", K::CLICKED), At(1, 16));       // same campaign
  state_.ApplyCampaign(Campaign("u2", "C2", K::UNSUBSCRIBED), At(2, 15));  // not engagement
  v1::CampaignEvent survey = Campaign("r3", "C3", K::RESPONDED);
  survey.set_nps(6);
  survey.set_csat(2);
  state_.ApplyCampaign(survey, At(3, 15));
  v1::TicketEvent rated = Ticket("t2", "T-1", v1::TicketEvent::RESOLVED);
  rated.set_csat(5);
  state_.ApplyTicket(Ticket("t1", "T-1", v1::TicketEvent::CREATED), At(3, 16), kConfig);
  state_.ApplyTicket(rated, At(3, 17), kConfig);

  CoreKpis k = At_(10);
  EXPECT_EQ(k.campaigns_sent_r90d, 4);
  EXPECT_EQ(k.campaigns_engaged_r90d, 2);
  EXPECT_DOUBLE_EQ(*k.response_rate_r90d, 0.5);
  EXPECT_EQ(*k.nps_latest, 6);
  EXPECT_EQ(k.ratings_r90d, 2);
  EXPECT_DOUBLE_EQ(*k.csat_avg_r90d, 3.5);
  EXPECT_EQ(*k.last_interaction_days, 7);  // ticket created on day 3
  // R90D: on day 92 the day-1/2 campaigns and the day-3 ratings (92 - 89 = 3) remain.
  k = At_(92);
  EXPECT_EQ(k.campaigns_sent_r90d, 2);  // C3, C4
  EXPECT_EQ(k.ratings_r90d, 2);
  k = At_(93);
  EXPECT_EQ(k.ratings_r90d, 0);
  EXPECT_FALSE(k.csat_avg_r90d.has_value());
}

TEST_F(KpisTest, AbsentKpisStayAbsent) {
  const CoreKpis k = At_(0);
  EXPECT_FALSE(k.days_since_last_usage);
  EXPECT_FALSE(k.csat_avg_r90d);
  EXPECT_FALSE(k.nps_latest);
  EXPECT_FALSE(k.response_rate_r90d);
  EXPECT_FALSE(k.last_interaction_days);
  EXPECT_FALSE(k.days_to_renewal);
  EXPECT_FALSE(state_.exists());
  v1::CustomerProfile p;
  p.set_customer_id("cust-1");
  *p.mutable_contract_end() = ToTimestamp(At(40, 0));
  state_.ApplyProfile(p);
  EXPECT_TRUE(state_.exists());
  EXPECT_EQ(*At_(10, 23).days_to_renewal, 30);
  state_.RemoveProfile();
  EXPECT_FALSE(state_.exists());
}

// A usage event of `user` on day `d` while stream time is on day `today`.
class UsersTest : public KpisTest {
 protected:
  void UserOn(const std::string& user, int d, int today, const std::string& module = "reports",
              size_t limit = 10'000, bool* refused = nullptr) {
    v1::UsageEvent e = Usage(module);
    e.set_user_id(user);
    state_.ApplyUsage(e, At(d), static_cast<int32_t>(DayOf(At(today))), limit, refused);
  }
};

TEST_F(UsersTest, ActiveUsersCountDistinctUsersInEachWindowWithExactBoundaries) {
  // T on day 100: R30D = days 71..100, prior = days 41..70.
  UserOn("ann", 100, 100);
  UserOn("ann", 99, 100);  // the same user twice: one active user
  UserOn("bob", 71, 100);  // first day of R30D
  UserOn("cid", 70, 100);  // last day of prior
  UserOn("dee", 41, 100);  // first day of prior
  UserOn("eve", 40, 100);  // outside both
  UserOn("", 100, 100);    // no user: volume only
  UserOn("bob", 50, 100);  // bob is in both windows
  CoreKpis k = At_(100);
  EXPECT_EQ(k.active_users_r30d, 2);        // ann, bob
  EXPECT_EQ(k.active_users_prior_r30d, 3);  // cid, dee, bob
  EXPECT_NEAR(k.active_users_change_pct, -100.0 / 3, 1e-9);
  // Stickiness: day 100 ann, day 99 ann, day 71 bob = 3 user-days over 30 x 2 users: 5%.
  ASSERT_TRUE(k.stickiness_pct_r30d);
  EXPECT_DOUBLE_EQ(*k.stickiness_pct_r30d, 5.0);

  // A day later: day 71 slides into prior, day 41 falls out.
  k = At_(101);
  EXPECT_EQ(k.active_users_r30d, 1);               // ann
  EXPECT_EQ(k.active_users_prior_r30d, 2);         // bob (71, 50), cid (70); dee's day 41 left
  EXPECT_DOUBLE_EQ(*k.stickiness_pct_r30d, 6.67);  // 100 x 2 / 30 = 6.667
}

TEST_F(UsersTest, CachedCountsStayExactAsEventsArrive) {
  CoreKpis k = At_(60);  // caches the (empty) sums for day 60
  EXPECT_EQ(k.active_users_r30d, 0);
  EXPECT_FALSE(k.stickiness_pct_r30d);  // absent without active users
  UserOn("a", 60, 60);
  UserOn("a", 60, 60);  // same user, same day: nothing new
  UserOn("b", 45, 60);
  UserOn("a", 20, 60);  // a, late, into the prior window (days 1..30)
  UserOn("c", 10, 60);  // c, prior
  k = At_(60);
  EXPECT_EQ(k.active_users_r30d, 2);
  EXPECT_EQ(k.active_users_prior_r30d, 2);
  EXPECT_DOUBLE_EQ(*k.stickiness_pct_r30d, 3.33);  // 100 x 2 / 60 = 3.333
  // The same counts rebuilt from scratch, after a round trip through a fresh day.
  EXPECT_EQ(At_(61).active_users_r30d, 2);
  EXPECT_EQ(At_(60).active_users_prior_r30d, 2);
}

TEST_F(UsersTest, StickinessRoundsHalfUpToHundredths) {
  // 1 user on 2 of the 30 days: 100 x 2 / 30 = 6.667 -> 6.67.
  UserOn("a", 90, 90);
  UserOn("a", 80, 90);
  EXPECT_DOUBLE_EQ(*At_(90).stickiness_pct_r30d, 6.67);
  // 16 users, 21 user-days: 100 x 21 / (30 x 16) = 4.375 exactly, a half: 4.38.
  state_ = CustomerState("cust-1");
  for (int u = 0; u < 16; ++u) UserOn("u" + std::to_string(u), 90, 90);
  for (int u = 0; u < 5; ++u) UserOn("u" + std::to_string(u), 89, 90);
  EXPECT_DOUBLE_EQ(*At_(90).stickiness_pct_r30d, 4.38);
  // Every user every day: 100.
  state_ = CustomerState("cust-1");
  for (int d = 61; d <= 90; ++d) UserOn("a", d, 90);
  EXPECT_DOUBLE_EQ(*At_(90).stickiness_pct_r30d, 100.0);
}

TEST_F(UsersTest, UsersBeyondTheLimitAreNotCountedAndSaySo) {
  bool refused = false;
  UserOn("a", 10, 10, "reports", 2, &refused);
  UserOn("b", 10, 10, "reports", 2, &refused);
  EXPECT_FALSE(refused);
  UserOn("c", 10, 10, "reports", 2, &refused);
  EXPECT_TRUE(refused);
  refused = false;
  UserOn("a", 9, 10, "reports", 2, &refused);  // a known user is still counted
  EXPECT_FALSE(refused);
  EXPECT_EQ(state_.tracked_users(), 2u);
  const CoreKpis k = At_(10);
  EXPECT_EQ(k.active_users_r30d, 2);
  EXPECT_EQ(k.usage_r30d, 4);  // volume counts every event
  // Users inactive for 60 days are forgotten, which makes room again.
  UserOn("c", 75, 75, "reports", 2, &refused);
  EXPECT_FALSE(refused);
  EXPECT_EQ(state_.tracked_users(), 1u);
  EXPECT_EQ(At_(75).active_users_r30d, 1);
}

TEST_F(KpisTest, ModulesUsedCountsDistinctModulesOfR30D) {
  UseOn(60, 60, "reports");
  UseOn(60, 60, "api");
  UseOn(55, 60, "");       // other
  UseOn(31, 60, "admin");  // first day of R30D
  UseOn(30, 60, "billing");
  EXPECT_EQ(At_(60).modules_used_r30d, 4);
  EXPECT_EQ(At_(61).modules_used_r30d, 3);  // admin's day 31 left R30D
}

TEST_F(KpisTest, TenureAndChurned) {
  v1::CustomerProfile p;
  p.set_customer_id("cust-1");
  *p.mutable_contract_start() = ToTimestamp(At(10, 23));
  *p.mutable_churned_on() = ToTimestamp(At(50, 18));
  state_.ApplyProfile(p);
  CoreKpis k = At_(49, 23);
  EXPECT_EQ(*k.days_since_contract_start, 39);  // tenure_days, by UTC day
  EXPECT_FALSE(k.churned);
  k = At_(50, 0);  // churned_on's day, before its hour: CHURNED counts by day
  EXPECT_TRUE(k.churned);
  EXPECT_EQ(ComputeScores(k, kConfig).lifecycle, v1::Lifecycle::CHURNED);
  p.clear_churned_on();  // came back
  state_.ApplyProfile(p);
  EXPECT_FALSE(At_(60).churned);
}

TEST_F(KpisTest, HealthChange7dComparesWithTheLastRescoreOnOrBeforeDMinus7) {
  CoreKpis k = At_(20);
  AddHealthTrend(state_, 80, &k);
  EXPECT_FALSE(k.health_change_7d);  // no re-score 7 days back
  const auto day = [](int d) { return static_cast<int32_t>(DayOf(At(d))); };
  state_.RecordDaily(day(10), 90, 5, 1);
  state_.RecordDaily(day(12), 70, 5, 2);  // the last one on or before day 13
  state_.RecordDaily(day(12), 75, 5, 2);  // ... its last re-score of that day counts
  state_.RecordDaily(day(14), 40, 5, 4);  // after day 13: not yet 7 days back
  k = At_(20);
  AddHealthTrend(state_, 60, &k);
  EXPECT_EQ(*k.health_change_7d, -15);  // 60 - 75
  k = At_(21);
  AddHealthTrend(state_, 60, &k);
  EXPECT_EQ(*k.health_change_7d, 20);  // 60 - 40 (day 14 <= 21 - 7)
  // Old entries are dropped once a later one is 7 days back, so the state stays small.
  state_.RecordDaily(day(30), 50, 5, 3);
  k = At_(30);
  AddHealthTrend(state_, 50, &k);
  EXPECT_EQ(*k.health_change_7d, 10);  // 50 - 40: day 14 is still the latest <= 23
  // Across a month: day 31 is 2026-04-01; March's entries closed, the last one (day 30)
  // stays in force.
  state_.RecordDaily(day(31), 55, 5, 3);
  state_.RecordDaily(day(45), 30, 5, 4);
  k = At_(45);
  AddHealthTrend(state_, 30, &k);
  EXPECT_EQ(*k.health_change_7d, -25);  // 30 - 55 (day 31 <= 38)
  k = At_(37);
  AddHealthTrend(state_, 30, &k);
  EXPECT_EQ(*k.health_change_7d, -20);  // 30 - 50: day 30, from the closed month
  k = At_(36);
  AddHealthTrend(state_, 30, &k);
  EXPECT_EQ(*k.health_change_7d, -10);  // 30 - 40: day 14, not the closed month's last
}

}  // namespace
}  // namespace c360
