#include "scoring/rules.h"

#include <gtest/gtest.h>

#include "scoring/test_events.h"

namespace c360 {
namespace {

using namespace c360::testing;
using A = v1::AlertEvent;

const Config kConfig;

class RulesTest : public ::testing::Test {
 protected:
  // Evaluates the rules on given KPIs and scores (scores from the KPIs unless forced).
  std::vector<A> Eval(const CoreKpis& k, std::optional<int> health = {},
                      std::optional<int> risk = {}) {
    Scores s = ComputeScores(k, kConfig);
    if (health) {
      s.health = *health;
      s.status = StatusOf(*health, kConfig);
    }
    if (risk) {
      s.risk = *risk;
      s.risk_level = *risk >= 70   ? v1::HealthSnapshot::HIGH
                     : *risk >= 40 ? v1::HealthSnapshot::MEDIUM
                                   : v1::HealthSnapshot::LOW;
    }
    const RuleContext ctx{kConfig, k.stream_time, k.stream_time - 1, 1'700'000'000'000,
                          AlertCause{k.stream_time, "c360.usage", 2, 41}};
    std::vector<A> out;
    EvaluateRules(state_, k, s, ctx, &out);
    return out;
  }
  static std::vector<A> OfRule(const std::vector<A>& alerts, A::Rule rule) {
    std::vector<A> out;
    for (const A& a : alerts) {
      if (a.rule() == rule) out.push_back(a);
    }
    return out;
  }
  void MakeVip() {
    v1::CustomerProfile p;
    p.set_customer_id("cust-1");
    p.set_name("Acme");
    p.set_annual_revenue_cents(100'000'000);
    state_.ApplyProfile(p);
  }

  CustomerState state_{"cust-1"};
  CoreKpis k_;
};

TEST(AlertIdTest, IsSha256PrefixOfCustomerRuleKey) {
  // python3 -c "import hashlib; print(hashlib.sha256(b'cust-1|HEALTH_LOW|1').hexdigest()[:16])"
  EXPECT_EQ(AlertId("cust-1", A::HEALTH_LOW, "1"), "c9d49453eb85366c");
  EXPECT_EQ(AlertId("cust-1", A::SLA_BREACH, "T-9/response"), "7326d74b110620a0");
  EXPECT_EQ(AlertId("acme", A::RENEWAL_DUE, "2027-03-01"), "9ffc702be8899759");
}

TEST_F(RulesTest, HealthLowHasHysteresisAndEscalatesOnce) {
  EXPECT_TRUE(OfRule(Eval(k_, 60), A::HEALTH_LOW).empty());  // 60 is not below 60
  auto fired = OfRule(Eval(k_, 59), A::HEALTH_LOW);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].state(), A::FIRING);
  EXPECT_EQ(fired[0].severity(), A::WARNING);
  EXPECT_EQ(fired[0].episode(), 1);
  EXPECT_EQ(fired[0].alert_id(), AlertId("cust-1", A::HEALTH_LOW, "1"));
  EXPECT_EQ(fired[0].health(), 59);
  EXPECT_EQ(fired[0].source_offset(), 41);
  EXPECT_FALSE(fired[0].recommended_action().empty());
  EXPECT_TRUE(OfRule(Eval(k_, 64), A::HEALTH_LOW).empty());  // between: nothing, no flapping
  EXPECT_TRUE(OfRule(Eval(k_, 55), A::HEALTH_LOW).empty());
  auto escalated = OfRule(Eval(k_, 39), A::HEALTH_LOW);
  ASSERT_EQ(escalated.size(), 1u);
  EXPECT_EQ(escalated[0].state(), A::FIRING);
  EXPECT_EQ(escalated[0].severity(), A::CRITICAL);
  EXPECT_EQ(escalated[0].alert_id(), fired[0].alert_id());
  EXPECT_TRUE(OfRule(Eval(k_, 30), A::HEALTH_LOW).empty());  // escalates only once
  auto resolved = OfRule(Eval(k_, 65), A::HEALTH_LOW);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state(), A::RESOLVED);
  EXPECT_EQ(resolved[0].severity(), A::CRITICAL);  // the episode's highest
  EXPECT_EQ(resolved[0].alert_id(), fired[0].alert_id());
  auto second = OfRule(Eval(k_, 35), A::HEALTH_LOW);  // below 40 from the start
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].severity(), A::CRITICAL);
  EXPECT_EQ(second[0].episode(), 2);
  EXPECT_EQ(second[0].alert_id(), AlertId("cust-1", A::HEALTH_LOW, "2"));
}

TEST_F(RulesTest, VipEpisodesAreRaisedOneStep) {
  MakeVip();
  auto fired = OfRule(Eval(k_, 59), A::HEALTH_LOW);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_TRUE(fired[0].vip());
  EXPECT_EQ(fired[0].severity(), A::CRITICAL);  // WARNING raised: CRITICAL from the start
  EXPECT_EQ(fired[0].customer_name(), "Acme");
  EXPECT_TRUE(OfRule(Eval(k_, 39), A::HEALTH_LOW).empty());  // nothing left to escalate
}

TEST_F(RulesTest, ChurnRiskHigh) {
  EXPECT_TRUE(OfRule(Eval(k_, {}, 69), A::CHURN_RISK_HIGH).empty());
  ASSERT_EQ(OfRule(Eval(k_, {}, 70), A::CHURN_RISK_HIGH).size(), 1u);
  EXPECT_TRUE(OfRule(Eval(k_, {}, 60), A::CHURN_RISK_HIGH).empty());
  auto resolved = OfRule(Eval(k_, {}, 59), A::CHURN_RISK_HIGH);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state(), A::RESOLVED);
}

TEST_F(RulesTest, UsageDropIsExactAndNeedsPriorOfTen) {
  k_.ever_used = true;
  k_.usage_prior_r30d = 9;
  k_.usage_r30d = 0;  // 100% drop, but prior < 10: neither fires nor resolves
  EXPECT_TRUE(OfRule(Eval(k_), A::USAGE_DROP).empty());
  k_.usage_prior_r30d = 10;
  k_.usage_r30d = 8;  // 20%: nothing
  EXPECT_TRUE(OfRule(Eval(k_), A::USAGE_DROP).empty());
  k_.usage_r30d = 7;  // exactly 30%: 100 x 3 >= 30 x 10
  k_.usage_drop_pct = 30;
  auto fired = OfRule(Eval(k_), A::USAGE_DROP);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_DOUBLE_EQ(fired[0].observed_value(), 30);
  EXPECT_DOUBLE_EQ(fired[0].threshold(), 30);
  k_.usage_r30d = 8;  // 20%: not < 20, stays firing
  EXPECT_TRUE(OfRule(Eval(k_), A::USAGE_DROP).empty());
  k_.usage_prior_r30d = 9;  // below the sample: cannot resolve even at 0%
  k_.usage_r30d = 9;
  EXPECT_TRUE(OfRule(Eval(k_), A::USAGE_DROP).empty());
  k_.usage_prior_r30d = 100;
  k_.usage_r30d = 81;  // 19%
  auto resolved = OfRule(Eval(k_), A::USAGE_DROP);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state(), A::RESOLVED);
}

TEST_F(RulesTest, CsatLowNeedsThreeRatings) {
  k_.ratings_r90d = 2;
  k_.csat_sum_r90d = 2;
  EXPECT_TRUE(OfRule(Eval(k_), A::CSAT_LOW).empty());
  k_.ratings_r90d = 3;
  k_.csat_sum_r90d = 12;  // 4.0: not below 4.0
  EXPECT_TRUE(OfRule(Eval(k_), A::CSAT_LOW).empty());
  k_.csat_sum_r90d = 11;  // 3.67
  k_.csat_avg_r90d = 11.0 / 3;
  ASSERT_EQ(OfRule(Eval(k_), A::CSAT_LOW).size(), 1u);
  k_.ratings_r90d = 5;
  k_.csat_sum_r90d = 20;  // 4.0: not yet 4.2
  EXPECT_TRUE(OfRule(Eval(k_), A::CSAT_LOW).empty());
  k_.csat_sum_r90d = 21;  // 4.2
  auto resolved = OfRule(Eval(k_), A::CSAT_LOW);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state(), A::RESOLVED);
}

TEST_F(RulesTest, ResponseTimeHigh) {
  k_.responses_r30d = 3;
  k_.avg_response_hours_r30d = 6.0;  // not above 6
  EXPECT_TRUE(OfRule(Eval(k_), A::RESPONSE_TIME_HIGH).empty());
  k_.avg_response_hours_r30d = 6.5;
  ASSERT_EQ(OfRule(Eval(k_), A::RESPONSE_TIME_HIGH).size(), 1u);
  k_.avg_response_hours_r30d = 5.5;
  EXPECT_TRUE(OfRule(Eval(k_), A::RESPONSE_TIME_HIGH).empty());
  k_.avg_response_hours_r30d = 5.0;
  ASSERT_EQ(OfRule(Eval(k_), A::RESPONSE_TIME_HIGH).size(), 1u);
}

TEST_F(RulesTest, SlaBreachOncePerTicketAndKindWithSeverityByPriority) {
  using K = v1::TicketEvent;
  state_.ApplyTicket(Ticket("e1", "T-9", K::CREATED, K::P1), At(1, 0), kConfig);
  state_.ApplyTicket(Ticket("e2", "T-9", K::FIRST_RESPONSE, K::P1), At(1, 2), kConfig);  // 2h > 1h
  state_.ApplyTicket(Ticket("e3", "T-8", K::CREATED, K::P3), At(1, 0), kConfig);
  k_.stream_time = At(1, 2);
  auto alerts = OfRule(Eval(k_), A::SLA_BREACH);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].severity(), A::CRITICAL);
  EXPECT_EQ(alerts[0].entity_id(), "T-9");
  EXPECT_EQ(alerts[0].sla_kind(), A::RESPONSE);
  EXPECT_EQ(alerts[0].alert_id(), "7326d74b110620a0");
  EXPECT_DOUBLE_EQ(alerts[0].observed_value(), 2.0);
  EXPECT_DOUBLE_EQ(alerts[0].threshold(), 1.0);
  EXPECT_TRUE(OfRule(Eval(k_), A::SLA_BREACH).empty());  // once

  // At 08:00 both 8-hour deadlines pass in silence: T-9's resolution (P1) and T-8's
  // response (P3).
  MarkPassedDeadlines(state_, At(1, 8));
  k_.stream_time = At(1, 8);
  alerts = OfRule(Eval(k_), A::SLA_BREACH);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].entity_id(), "T-9");
  EXPECT_EQ(alerts[0].sla_kind(), A::RESOLUTION);
  EXPECT_EQ(alerts[0].severity(), A::CRITICAL);
  EXPECT_EQ(alerts[1].entity_id(), "T-8");
  EXPECT_EQ(alerts[1].sla_kind(), A::RESPONSE);
  EXPECT_EQ(alerts[1].severity(), A::INFO);
  EXPECT_DOUBLE_EQ(alerts[1].observed_value(), 8.0);
}

TEST_F(RulesTest, InvoiceOverdueFiresOnceAndResolvesWhenPaid) {
  using K = v1::InvoiceEvent;
  v1::InvoiceEvent issued = Invoice("e1", "INV-3", K::ISSUED);
  issued.set_amount_cents(12'000'000);  // >= 100,000 USD: CRITICAL
  *issued.mutable_due_date() = ToTimestamp(At(10, 0));
  state_.ApplyInvoice(issued, At(0));
  k_.stream_time = At(10, 0);  // at the deadline: not yet past
  EXPECT_TRUE(OfRule(Eval(k_), A::INVOICE_OVERDUE).empty());
  k_.stream_time = At(10, 0) + 1;
  auto fired = OfRule(Eval(k_), A::INVOICE_OVERDUE);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].severity(), A::CRITICAL);
  EXPECT_EQ(fired[0].alert_id(), AlertId("cust-1", A::INVOICE_OVERDUE, "INV-3"));
  EXPECT_TRUE(OfRule(Eval(k_), A::INVOICE_OVERDUE).empty());
  state_.ApplyInvoice(Invoice("e2", "INV-3", K::PAID), At(11));
  auto resolved = OfRule(Eval(k_), A::INVOICE_OVERDUE);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state(), A::RESOLVED);
  EXPECT_EQ(resolved[0].alert_id(), fired[0].alert_id());
}

TEST_F(RulesTest, RenewalDueOncePerContractEnd) {
  v1::CustomerProfile p;
  p.set_customer_id("cust-1");
  *p.mutable_contract_end() = ToTimestamp(*ParseDate("2027-03-01"));
  state_.ApplyProfile(p);
  k_.days_to_renewal = 91;
  EXPECT_TRUE(OfRule(Eval(k_, {}, 10), A::RENEWAL_DUE).empty());
  k_.days_to_renewal = 90;
  auto fired = OfRule(Eval(k_, {}, 10), A::RENEWAL_DUE);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].severity(), A::INFO);
  EXPECT_EQ(fired[0].entity_id(), "2027-03-01");
  EXPECT_EQ(fired[0].alert_id(), AlertId("cust-1", A::RENEWAL_DUE, "2027-03-01"));
  k_.days_to_renewal = 60;
  EXPECT_TRUE(OfRule(Eval(k_, {}, 50), A::RENEWAL_DUE).empty());  // once per contract_end
  // The contract is extended: the old alert resolves; the new end is 400 days out.
  *p.mutable_contract_end() = ToTimestamp(*ParseDate("2028-03-01"));
  state_.ApplyProfile(p);
  k_.days_to_renewal = 400;
  auto changed = OfRule(Eval(k_, {}, 50), A::RENEWAL_DUE);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state(), A::RESOLVED);
  EXPECT_EQ(changed[0].alert_id(), fired[0].alert_id());
  k_.days_to_renewal = 80;  // later, the new end comes due, with risk not LOW: WARNING
  auto next = OfRule(Eval(k_, {}, 50), A::RENEWAL_DUE);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].severity(), A::WARNING);
  EXPECT_EQ(next[0].entity_id(), "2028-03-01");
}

TEST_F(RulesTest, DisabledRulesStaySilent) {
  Config c = ParseConfig("rules:\n  HEALTH_LOW:\n    enabled: false\n");
  Scores s = ComputeScores(k_, c);
  s.health = 10;
  std::vector<A> out;
  EvaluateRules(state_, k_, s, RuleContext{c, 0, -1, 0, {}}, &out);
  EXPECT_TRUE(OfRule(out, A::HEALTH_LOW).empty());
}

TEST_F(RulesTest, HealthDropFiresAtMinus15AndResolvesAboveMinus10) {
  EXPECT_TRUE(OfRule(Eval(k_), A::HEALTH_DROP).empty());  // no trend yet: neither
  k_.health_change_7d = -14;
  EXPECT_TRUE(OfRule(Eval(k_), A::HEALTH_DROP).empty());
  k_.health_change_7d = -15;
  auto fired = OfRule(Eval(k_), A::HEALTH_DROP);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].state(), A::FIRING);
  EXPECT_EQ(fired[0].severity(), A::WARNING);
  EXPECT_EQ(fired[0].observed_value(), -15);
  EXPECT_EQ(fired[0].threshold(), -15);
  EXPECT_EQ(fired[0].alert_id(), AlertId("cust-1", A::HEALTH_DROP, "1"));
  k_.health_change_7d = -10;  // not above -10: still firing
  EXPECT_TRUE(OfRule(Eval(k_), A::HEALTH_DROP).empty());
  k_.health_change_7d.reset();  // no trend: no resolution either
  EXPECT_TRUE(OfRule(Eval(k_), A::HEALTH_DROP).empty());
  k_.health_change_7d = -9;
  auto resolved = OfRule(Eval(k_), A::HEALTH_DROP);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state(), A::RESOLVED);
  EXPECT_EQ(resolved[0].alert_id(), fired[0].alert_id());
  k_.health_change_7d = -30;
  EXPECT_EQ(OfRule(Eval(k_), A::HEALTH_DROP)[0].alert_id(), AlertId("cust-1", A::HEALTH_DROP, "2"));
}

TEST_F(RulesTest, ActiveUsersDropComparesExactlyInIntegersWithAMinimumPrior) {
  k_.active_users_prior_r30d = 4;  // below the minimum of 5: neither fires nor resolves
  k_.active_users_r30d = 0;
  EXPECT_TRUE(OfRule(Eval(k_), A::ACTIVE_USERS_DROP).empty());
  k_.active_users_prior_r30d = 7;  // 10 x 5 = 50 > 49 = 7 x 7: a 28.6% drop, not yet
  k_.active_users_r30d = 5;
  k_.active_users_change_pct = -200.0 / 7;
  EXPECT_TRUE(OfRule(Eval(k_), A::ACTIVE_USERS_DROP).empty());
  k_.active_users_prior_r30d = 10;  // 10 x 7 = 70 <= 70: exactly -30%
  k_.active_users_r30d = 7;
  k_.active_users_change_pct = -30;
  auto fired = OfRule(Eval(k_), A::ACTIVE_USERS_DROP);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].state(), A::FIRING);
  EXPECT_EQ(fired[0].observed_value(), 30);
  k_.active_users_r30d = 8;  // 5 x 8 = 40, not above 40 = 4 x 10: still firing
  k_.active_users_change_pct = -20;
  EXPECT_TRUE(OfRule(Eval(k_), A::ACTIVE_USERS_DROP).empty());
  k_.active_users_prior_r30d = 4;  // under the minimum: no resolution
  k_.active_users_r30d = 9;
  EXPECT_TRUE(OfRule(Eval(k_), A::ACTIVE_USERS_DROP).empty());
  k_.active_users_prior_r30d = 10;  // 5 x 9 = 45 > 40: resolved
  k_.active_users_change_pct = -10;
  auto resolved = OfRule(Eval(k_), A::ACTIVE_USERS_DROP);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state(), A::RESOLVED);
  EXPECT_EQ(resolved[0].alert_id(), fired[0].alert_id());
}

TEST_F(RulesTest, CreditHoldAndNpsDetractor) {
  k_.credit_hold = true;
  k_.nps_latest = 7;  // a passive: no episode
  auto alerts = Eval(k_);
  ASSERT_EQ(OfRule(alerts, A::CREDIT_HOLD).size(), 1u);
  EXPECT_EQ(OfRule(alerts, A::CREDIT_HOLD)[0].state(), A::FIRING);
  EXPECT_TRUE(OfRule(alerts, A::NPS_DETRACTOR).empty());
  EXPECT_TRUE(OfRule(Eval(k_), A::CREDIT_HOLD).empty());  // no repeat while held
  k_.nps_latest = 6;
  auto detractor = OfRule(Eval(k_), A::NPS_DETRACTOR);
  ASSERT_EQ(detractor.size(), 1u);
  EXPECT_EQ(detractor[0].state(), A::FIRING);
  EXPECT_EQ(detractor[0].observed_value(), 6);
  k_.credit_hold = false;
  k_.nps_latest = 7;
  alerts = Eval(k_);
  ASSERT_EQ(OfRule(alerts, A::CREDIT_HOLD).size(), 1u);
  EXPECT_EQ(OfRule(alerts, A::CREDIT_HOLD)[0].state(), A::RESOLVED);
  ASSERT_EQ(OfRule(alerts, A::NPS_DETRACTOR).size(), 1u);
  EXPECT_EQ(OfRule(alerts, A::NPS_DETRACTOR)[0].state(), A::RESOLVED);
  EXPECT_EQ(OfRule(alerts, A::NPS_DETRACTOR)[0].alert_id(), detractor[0].alert_id());
}

TEST_F(RulesTest, AChurnedCustomerHasNoHealthEpisodesButItsObligationsGoOn) {
  v1::CustomerProfile p;
  p.set_customer_id("cust-1");
  *p.mutable_contract_end() = ToTimestamp(At(130, 0));
  *p.mutable_churned_on() = ToTimestamp(At(100, 9));
  state_.ApplyProfile(p);
  k_.stream_time = At(99);
  k_.nps_latest = 3;
  k_.credit_hold = true;
  auto before = Eval(k_, 50);
  ASSERT_EQ(OfRule(before, A::HEALTH_LOW).size(), 1u);
  ASSERT_EQ(OfRule(before, A::NPS_DETRACTOR).size(), 1u);
  ASSERT_EQ(OfRule(before, A::CREDIT_HOLD).size(), 1u);

  // Churned: the open health episodes resolve with their own ids, none opens, the credit
  // hold's goes on, and a renewal date coming within 90 days is not used.
  k_.churned = true;
  k_.stream_time = At(100);
  k_.days_to_renewal = 30;
  auto churned = Eval(k_, 30);
  ASSERT_EQ(OfRule(churned, A::HEALTH_LOW).size(), 1u);
  EXPECT_EQ(OfRule(churned, A::HEALTH_LOW)[0].state(), A::RESOLVED);
  EXPECT_EQ(OfRule(churned, A::HEALTH_LOW)[0].alert_id(),
            OfRule(before, A::HEALTH_LOW)[0].alert_id());
  EXPECT_EQ(OfRule(churned, A::HEALTH_LOW)[0].lifecycle_stage(), v1::Lifecycle::CHURNED);
  ASSERT_EQ(OfRule(churned, A::NPS_DETRACTOR).size(), 1u);
  EXPECT_EQ(OfRule(churned, A::NPS_DETRACTOR)[0].state(), A::RESOLVED);
  EXPECT_TRUE(OfRule(churned, A::CREDIT_HOLD).empty());
  EXPECT_TRUE(OfRule(churned, A::RENEWAL_DUE).empty());
  EXPECT_EQ(churned.size(), 2u);
  EXPECT_TRUE(Eval(k_, 20).empty());  // still churned: nothing opens
  k_.credit_hold = false;
  auto released = Eval(k_, 20);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].rule(), A::CREDIT_HOLD);
  EXPECT_EQ(released[0].state(), A::RESOLVED);

  // Back from churn: the renewal date fires now, and health episodes open again.
  k_.churned = false;
  auto back = Eval(k_, 30);
  ASSERT_EQ(OfRule(back, A::RENEWAL_DUE).size(), 1u);
  EXPECT_EQ(OfRule(back, A::RENEWAL_DUE)[0].state(), A::FIRING);
  ASSERT_EQ(OfRule(back, A::HEALTH_LOW).size(), 1u);
  EXPECT_EQ(OfRule(back, A::HEALTH_LOW)[0].alert_id(), AlertId("cust-1", A::HEALTH_LOW, "2"));
  EXPECT_EQ(OfRule(back, A::HEALTH_LOW)[0].severity(), A::CRITICAL);
}

TEST_F(RulesTest, AFiringRenewalResolvesWhenTheCustomerChurnsAndItsDateStaysUsed) {
  v1::CustomerProfile p;
  p.set_customer_id("cust-1");
  *p.mutable_contract_end() = ToTimestamp(At(130, 0));
  state_.ApplyProfile(p);
  k_.days_to_renewal = 60;
  auto fired = OfRule(Eval(k_), A::RENEWAL_DUE);
  ASSERT_EQ(fired.size(), 1u);
  k_.churned = true;
  auto resolved = OfRule(Eval(k_), A::RENEWAL_DUE);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].state(), A::RESOLVED);
  EXPECT_EQ(resolved[0].alert_id(), fired[0].alert_id());
  EXPECT_EQ(resolved[0].entity_id(), fired[0].entity_id());
  k_.churned = false;  // the same date does not fire twice
  EXPECT_TRUE(OfRule(Eval(k_), A::RENEWAL_DUE).empty());
}

TEST_F(RulesTest, AlertsCarryTheRoutingContext) {
  EXPECT_EQ(OfRule(Eval(k_, 50), A::HEALTH_LOW)[0].segment(),
            v1::CustomerProfile::SEGMENT_UNSPECIFIED);  // no profile: zero values
  v1::CustomerProfile p;
  p.set_customer_id("cust-1");
  p.set_segment(v1::CustomerProfile::ENTERPRISE);
  p.set_industry("retail");
  p.set_region("EMEA");
  p.set_owner("Ana Ruiz");
  p.set_annual_revenue_cents(12'345);
  state_.ApplyProfile(p);
  Config config;
  config.public_url = "https://c360.example.com";
  const Scores s = ComputeScores(k_, config);
  const RuleContext ctx{config, k_.stream_time, k_.stream_time - 1, 0, AlertCause{}};
  k_.nps_latest = 2;
  std::vector<A> out;
  EvaluateRules(state_, k_, s, ctx, &out);
  const auto nps = OfRule(out, A::NPS_DETRACTOR);
  ASSERT_EQ(nps.size(), 1u);
  EXPECT_EQ(nps[0].segment(), v1::CustomerProfile::ENTERPRISE);
  EXPECT_EQ(nps[0].industry(), "retail");
  EXPECT_EQ(nps[0].region(), "EMEA");
  EXPECT_EQ(nps[0].owner(), "Ana Ruiz");
  EXPECT_EQ(nps[0].annual_revenue_cents(), 12'345);
  EXPECT_EQ(nps[0].lifecycle_stage(), s.lifecycle);
  EXPECT_EQ(nps[0].url(), "https://c360.example.com/#cust-1");
}

}  // namespace
}  // namespace c360
