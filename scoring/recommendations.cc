#include "scoring/recommendations.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/decimal.h"
#include "common/time.h"

namespace c360 {
namespace {

using v1::AlertEvent;
using v1::HealthSnapshot;

// "1,234.56" for 123456 cents.
std::string Money(int64_t cents) {
  const int64_t abs = cents < 0 ? -cents : cents;
  std::string whole = std::to_string(abs / 100);
  for (int i = static_cast<int>(whole.size()) - 3; i > 0; i -= 3)
    whole.insert(static_cast<size_t>(i), ",");
  std::string frac = std::to_string(abs % 100);
  if (frac.size() < 2) frac.insert(0, "0");
  return (cents < 0 ? "-" : "") + whole + "." + frac;
}

// Whole hours from `from` to `to`, after rounding to the hundredth the API shows.
int64_t WholeHours(TimeMs from, TimeMs to) {
  return static_cast<int64_t>(std::round(static_cast<double>(to - from) / kMsPerHour * 100) / 100);
}

std::string PriorityName(int priority) {
  return priority >= 1 && priority <= 4 ? "P" + std::to_string(priority) : "";
}

bool Overdue(const InvoiceState& i, TimeMs horizon) {
  return !i.voided && i.due != kNoTime && i.due <= horizon && i.balance() > 0;
}

class Recommender {
 public:
  explicit Recommender(const Config& config) : config_(config) {}

  void Add(Recommendation::Priority priority, std::string action, std::string entity_type,
           std::string entity_id, std::string reason, std::string source) {
    // An alert's rule may carry a playbook (config: the rule's recommended action).
    std::string playbook;
    AlertEvent::Rule rule;
    if (source.rfind("alert:", 0) == 0 && AlertEvent::Rule_Parse(source.substr(6), &rule)) {
      playbook = config_.rule(rule).action;
    }
    items_.push_back(Recommendation{priority, std::move(action), std::move(entity_type),
                                    std::move(entity_id), std::move(reason), std::move(source),
                                    std::move(playbook)});
  }
  std::vector<Recommendation> Take() {
    std::stable_sort(
        items_.begin(), items_.end(),
        [](const Recommendation& a, const Recommendation& b) { return a.priority < b.priority; });
    return std::move(items_);
  }
  bool empty() const { return items_.empty(); }

 private:
  const Config& config_;
  std::vector<Recommendation> items_;
};

}  // namespace

const char* PriorityLabel(Recommendation::Priority priority) {
  static constexpr const char* kLabels[] = {"high", "medium", "low"};
  return kLabels[priority];
}

std::vector<Recommendation> Recommend(const CustomerState& s, const CoreKpis& k,
                                      const Scores& scores, const v1::Kpis& fields, TimeMs at,
                                      const Config& config) {
  using P = Recommendation::Priority;
  Recommender r(config);

  // Support: open tickets that breached their SLA or are P1/P2, most urgent first.
  std::vector<const TicketState*> open;
  for (const TicketState& t : s.tickets()) {
    if (t.open() &&
        (t.response_breached || t.resolution_breached || t.priority == 1 || t.priority == 2)) {
      open.push_back(&t);
    }
  }
  std::sort(open.begin(), open.end(), [](const TicketState* a, const TicketState* b) {
    const bool ab = a->response_breached || a->resolution_breached;
    const bool bb = b->response_breached || b->resolution_breached;
    if (ab != bb) return ab;
    if (a->priority != b->priority) return a->priority < b->priority;
    return a->created < b->created;
  });
  for (size_t i = 0; i < open.size() && i < static_cast<size_t>(config.recommend_max_tickets);
       ++i) {
    const TicketState& t = *open[i];
    const bool breached = t.response_breached || t.resolution_breached;
    std::string reason = PriorityName(t.priority) + " ticket open " +
                         std::to_string(WholeHours(t.created, at)) + " h";
    if (t.response_breached) reason += ", response SLA breached";
    if (t.resolution_breached) reason += ", resolution SLA breached";
    if (!breached) reason += ", within SLA so far";
    r.Add(breached || t.priority == 1 ? P::kHigh : P::kMedium,
          "Escalate ticket " + t.id + " to the support lead", "ticket", t.id, reason,
          breached ? "alert:SLA_BREACH" : "driver:support");
  }
  // Finance.
  for (const InvoiceState& i : s.invoices()) {
    if (Overdue(i, at - 1)) {
      const int32_t days = k.day - static_cast<int32_t>(DayOf(i.due));
      r.Add(days > config.recommend_overdue_urgent_days ||
                    i.balance() >= config.recommend_overdue_urgent_cents
                ? P::kHigh
                : P::kMedium,
            "Call billing about invoice " + i.id, "invoice", i.id,
            Money(i.balance()) + " unpaid, " + std::to_string(days) + " days overdue",
            "alert:INVOICE_OVERDUE");
    } else if (i.disputed) {
      r.Add(P::kMedium, "Resolve the dispute on invoice " + i.id, "invoice", i.id,
            "invoice of " + Money(i.amount_cents) + " is disputed", "driver:financial");
    }
  }
  if (k.credit_hold) {
    r.Add(P::kHigh, "Review the credit hold with finance", "customer", s.customer_id(),
          "the account is on credit hold", "driver:financial");
  }
  // Renewal.
  if (k.days_to_renewal && *k.days_to_renewal <= config.renewal_window_days) {
    const std::string end = FormatDate(ToMs(s.profile()->contract_end()));
    const bool risky = scores.risk_level != HealthSnapshot::LOW;
    if (*k.days_to_renewal < 0) {
      r.Add(P::kHigh, "Confirm the renewal: the contract has ended", "contract", end,
            "contract ended on " + end + ", " + std::to_string(-*k.days_to_renewal) + " days ago",
            "alert:RENEWAL_DUE");
    } else {
      r.Add(risky ? P::kHigh : P::kMedium, "Start the renewal conversation", "contract", end,
            "contract ends on " + end + ", in " + std::to_string(*k.days_to_renewal) +
                " days; churn risk " + std::to_string(scores.risk) + "% (" +
                HealthSnapshot::RiskLevel_Name(scores.risk_level) + ")",
            "alert:RENEWAL_DUE");
    }
  }
  // Usage.
  if (k.days_since_last_usage && *k.days_since_last_usage > config.usage_silent_grace_days) {
    r.Add(*k.days_since_last_usage > config.recommend_silent_urgent_days ? P::kHigh : P::kMedium,
          "Re-engage the account's users", "customer", s.customer_id(),
          "no product usage for " + std::to_string(*k.days_since_last_usage) + " days",
          "driver:usage");
  } else if (k.usage_prior_r30d >= config.rule(AlertEvent::USAGE_DROP).min_sample &&
             k.usage_drop_pct >= config.rule(AlertEvent::USAGE_DROP).fire) {
    std::string module;
    if (fields.top_modules_r30d_size() > 0) module = fields.top_modules_r30d(0).module();
    r.Add(k.usage_drop_pct >= config.recommend_usage_drop_urgent_pct ? P::kHigh : P::kMedium,
          "Book an adoption review with the main users", "module", module,
          "usage down " + std::to_string(static_cast<int>(std::lround(k.usage_drop_pct))) +
              "% vs prior 30 days (" + std::to_string(k.usage_prior_r30d) + " -> " +
              std::to_string(k.usage_r30d) + " events)",
          "alert:USAGE_DROP");
  }
  // Satisfaction and responsiveness.
  if (fields.recurring_issues_size() > 0) {  // the largest one
    const v1::Kpis::RecurringIssue& issue = fields.recurring_issues(0);
    r.Add(P::kMedium,
          "Fix the recurring issue \"" + issue.category() + "\" with product and support",
          "category", issue.category(),
          std::to_string(issue.tickets()) + " tickets about it in 90 days", "driver:support");
  }
  if (k.csat_avg_r90d && k.ratings_r90d >= config.rule(AlertEvent::CSAT_LOW).min_sample &&
      *k.csat_avg_r90d < config.rule(AlertEvent::CSAT_LOW).fire) {
    r.Add(P::kMedium, "Follow up on low satisfaction", "customer", s.customer_id(),
          "CSAT " + Fixed(*k.csat_avg_r90d, 2) + " over " + std::to_string(k.ratings_r90d) +
              " ratings in 90 days",
          "alert:CSAT_LOW");
  }
  if (k.avg_response_hours_r30d &&
      k.responses_r30d >= config.rule(AlertEvent::RESPONSE_TIME_HIGH).min_sample &&
      *k.avg_response_hours_r30d > config.rule(AlertEvent::RESPONSE_TIME_HIGH).fire) {
    r.Add(P::kMedium, "Review support responsiveness for this account", "customer", s.customer_id(),
          "first responses took " +
              std::to_string(static_cast<int>(std::lround(*k.avg_response_hours_r30d))) +
              " h on average over 30 days",
          "alert:RESPONSE_TIME_HIGH");
  }
  if (k.nps_latest && *k.nps_latest <= config.recommend_nps_detractor_max) {
    r.Add(P::kMedium, "Call the detractor back", "customer", s.customer_id(),
          "latest NPS answer is " + std::to_string(*k.nps_latest), "driver:engagement");
  }
  if (k.response_rate_r90d && k.campaigns_sent_r90d >= config.engagement_min_campaigns_sent &&
      *k.response_rate_r90d < config.recommend_outreach_response_rate) {
    r.Add(P::kLow, "Refresh the outreach: campaigns go unanswered", "customer", s.customer_id(),
          std::to_string(k.campaigns_engaged_r90d) + " of " +
              std::to_string(k.campaigns_sent_r90d) + " campaigns engaged in 90 days",
          "driver:engagement");
  }
  // An account in trouble with no specific cause above still needs a plan.
  if (r.empty() && scores.status != HealthSnapshot::HEALTHY &&
      scores.status != HealthSnapshot::STATUS_UNSPECIFIED && !scores.drivers.empty()) {
    r.Add(scores.status == HealthSnapshot::WATCH ? P::kLow : P::kHigh,
          "Open a success plan with the account team", "customer", s.customer_id(),
          "health " + std::to_string(scores.health) + " (" +
              HealthSnapshot::Status_Name(scores.status) +
              "): " + DriverText(scores.drivers.front().component, k),
          "driver:" + std::string(kComponentNames[scores.drivers.front().component]));
  }
  return r.Take();
}

}  // namespace c360
