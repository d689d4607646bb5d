#include "scoring/recommendations.h"

#include <gtest/gtest.h>

#include "scoring/test_events.h"

namespace c360 {
namespace {

using namespace c360::testing;
using R = Recommendation;

class RecommendationsTest : public ::testing::Test {
 protected:
  std::vector<R> At(TimeMs t) {
    const CoreKpis k = ComputeKpis(state_, t, t - 1);
    const Scores scores = ComputeScores(k, config_);
    FillKpis(state_, k, &fields_);
    return Recommend(state_, k, scores, fields_, t, config_);
  }
  void TicketEvent(const std::string& id, v1::TicketEvent::Kind kind,
                   v1::TicketEvent::Priority priority, TimeMs t) {
    v1::TicketEvent e = Ticket("e" + std::to_string(++n_), id, kind, priority);
    e.set_customer_id("cust-1");
    state_.ApplyTicket(e, t, config_);
  }

  Config config_;
  CustomerState state_{"cust-1"};
  v1::Kpis fields_;
  int n_ = 0;
};

TEST_F(RecommendationsTest, HighBeforeMediumWithTheAlertRulesPlaybook) {
  config_.rules[v1::AlertEvent::INVOICE_OVERDUE].action = "Send the dunning letter";
  TicketEvent("T-2", v1::TicketEvent::CREATED, v1::TicketEvent::P2, c360::testing::At(10, 9));
  v1::InvoiceEvent inv = Invoice("i1", "INV-1", v1::InvoiceEvent::ISSUED);
  inv.set_customer_id("cust-1");
  inv.set_amount_cents(123'456);
  *inv.mutable_due_date() = ToTimestamp(c360::testing::At(1, 0));
  state_.ApplyInvoice(inv, c360::testing::At(0));
  TicketEvent("T-1", v1::TicketEvent::CREATED, v1::TicketEvent::P1, c360::testing::At(10, 10));

  const std::vector<R> recs = At(c360::testing::At(10, 12));
  ASSERT_EQ(recs.size(), 3u);
  // The P1 ticket past its 1 h response SLA (high), then the P2 ticket still within its
  // SLA (medium), then the invoice 9 days overdue (medium: under 30 days and 100,000.00):
  // among equals the support section comes first.
  EXPECT_EQ(recs[0].entity_id, "T-1");
  EXPECT_EQ(recs[0].priority, R::kHigh);
  EXPECT_EQ(recs[0].reason, "P1 ticket open 2 h, response SLA breached");
  EXPECT_EQ(recs[0].source, "alert:SLA_BREACH");
  EXPECT_EQ(recs[0].playbook, config_.rule(v1::AlertEvent::SLA_BREACH).action);
  EXPECT_EQ(recs[1].entity_id, "T-2");
  EXPECT_EQ(recs[1].priority, R::kMedium);
  EXPECT_EQ(recs[1].reason, "P2 ticket open 3 h, within SLA so far");
  EXPECT_EQ(recs[2].action, "Call billing about invoice INV-1");
  EXPECT_EQ(recs[2].reason, "1,234.56 unpaid, 9 days overdue");
  EXPECT_EQ(recs[2].source, "alert:INVOICE_OVERDUE");
  EXPECT_EQ(recs[2].playbook, "Send the dunning letter");
  EXPECT_EQ(recs[1].playbook, "");  // a driver has no playbook
  EXPECT_STREQ(PriorityLabel(recs[2].priority), "medium");
}

TEST_F(RecommendationsTest, UrgencyThresholdsComeFromTheConfig) {
  v1::InvoiceEvent inv = Invoice("i1", "INV-1", v1::InvoiceEvent::ISSUED);
  inv.set_customer_id("cust-1");
  inv.set_amount_cents(50'000);
  *inv.mutable_due_date() = ToTimestamp(c360::testing::At(1, 0));
  state_.ApplyInvoice(inv, c360::testing::At(0));
  ASSERT_FALSE(At(c360::testing::At(10, 12)).empty());
  EXPECT_EQ(At(c360::testing::At(10, 12))[0].priority, R::kMedium);  // 9 days, 500.00
  config_.recommend_overdue_urgent_days = 5;
  EXPECT_EQ(At(c360::testing::At(10, 12))[0].priority, R::kHigh);
  config_.recommend_overdue_urgent_days = 30;
  config_.recommend_overdue_urgent_cents = 50'000;
  EXPECT_EQ(At(c360::testing::At(10, 12))[0].priority, R::kHigh);
}

TEST_F(RecommendationsTest, NothingForAHealthyQuietCustomer) {
  v1::UsageEvent u = Usage();
  u.set_customer_id("cust-1");
  state_.ApplyUsage(u, c360::testing::At(5), 5);
  EXPECT_TRUE(At(c360::testing::At(5, 13)).empty());
}

}  // namespace
}  // namespace c360
