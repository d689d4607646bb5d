#include "scoring/scores.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/decimal.h"

namespace c360 {
namespace {

constexpr int64_t kFull = 10'000;  // 100 points in hundredths

// Clamps num/den to [0, 100] points and rounds half up to hundredths.
int32_t ClampRound(int64_t num, int64_t den) {
  if (num <= 0) return 0;
  if (num >= kFull * den) return static_cast<int32_t>(kFull);
  return static_cast<int32_t>(RoundHalfUp(num, den));
}

int32_t UsageComponent(const CoreKpis& k, const Config& c) {
  const int64_t silent_days =
      k.days_since_last_usage ? std::max(0, *k.days_since_last_usage - c.usage_silent_grace_days)
                              : 0;
  const int64_t penalty = silent_days * Hundredths(c.usage_points_per_silent_day);
  if (k.usage_r30d == 0 && k.usage_prior_r30d == 0) {
    return ClampRound((k.ever_used ? 0 : Hundredths(c.usage_never_used)) - penalty, 1);
  }
  if (k.usage_prior_r30d == 0) return ClampRound(kFull - penalty, 1);
  const int64_t den = k.usage_prior_r30d;
  const int64_t ratio_num = std::min(kFull * k.usage_r30d, kFull * den);  // 100 x min(1, c/p)
  return ClampRound(ratio_num - penalty * den, den);
}

int32_t SupportComponent(const CoreKpis& k, const Config& c) {
  const int64_t extra_tickets = std::max(0, k.tickets_created_r30d - c.support_free_tickets);
  const int64_t whole = kFull - Hundredths(c.support_open_p1_points) * k.open_p1 -
                        Hundredths(c.support_open_p2_points) * k.open_p2 -
                        Hundredths(c.support_points_per_extra_ticket) * extra_tickets;
  if (k.tickets_created_r30d == 0) return ClampRound(whole, 1);
  // breach_rate x points = breached / created x points.
  const int64_t den = k.tickets_created_r30d;
  return ClampRound(whole * den - Hundredths(c.support_breach_rate_points) * k.sla_breached_r30d,
                    den);
}

int32_t FinancialComponent(const CoreKpis& k, const Config& c) {
  const int64_t overdue = std::min(k.days_overdue, c.financial_max_overdue_points);
  return ClampRound(kFull - 100 * overdue -
                        Hundredths(c.financial_disputed_points) * k.disputed_invoices -
                        (k.credit_hold ? Hundredths(c.financial_credit_hold_points) : 0),
                    1);
}

int32_t EngagementComponent(const CoreKpis& k, const Config& c) {
  // The mean of the signals present, as one exact fraction num/den in hundredths.
  int64_t num = 0;
  int64_t den = 1;
  int signals = 0;
  const auto add = [&](int64_t n, int64_t d) {  // num/den += n/d
    num = num * d + n * den;
    den *= d;
    ++signals;
  };
  if (k.nps_latest) add(int64_t{1000} * *k.nps_latest, 1);  // nps x 10
  if (k.ratings_r90d > 0) add(2500 * (k.csat_sum_r90d - k.ratings_r90d), k.ratings_r90d);
  if (k.campaigns_sent_r90d >= c.engagement_min_campaigns_sent) {
    // min(100, 200 x min(1, engaged / sent))
    if (2 * k.campaigns_engaged_r90d >= k.campaigns_sent_r90d) {
      add(kFull, 1);
    } else {
      add(20'000 * int64_t{k.campaigns_engaged_r90d}, k.campaigns_sent_r90d);
    }
  }
  if (signals == 0) return ClampRound(Hundredths(c.engagement_none_present), 1);
  return ClampRound(num, den * signals);
}

std::string Percent(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", value);
  return buf;
}

std::string Plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void Join(std::string* text, const std::string& part) {
  if (!text->empty()) *text += "; ";
  *text += part;
}

}  // namespace

int64_t RoundHalfUp(int64_t num, int64_t den) {
  // floor((2 num + den) / (2 den)), with floor division for negative numerators.
  const int64_t n = 2 * num + den;
  const int64_t d = 2 * den;
  return n >= 0 ? n / d : -((-n + d - 1) / d);
}

v1::HealthSnapshot::Status StatusOf(int32_t health, const Config& c) {
  if (health >= c.status_healthy) return v1::HealthSnapshot::HEALTHY;
  if (health >= c.status_watch) return v1::HealthSnapshot::WATCH;
  if (health >= c.status_at_risk) return v1::HealthSnapshot::AT_RISK;
  return v1::HealthSnapshot::CRITICAL;
}

v1::HealthSnapshot::RiskLevel RiskLevelOf(int32_t risk, const Config& c) {
  if (risk >= c.risk_high) return v1::HealthSnapshot::HIGH;
  if (risk >= c.risk_medium) return v1::HealthSnapshot::MEDIUM;
  return v1::HealthSnapshot::LOW;
}

Scores ComputeScores(const CoreKpis& k, const Config& c) {
  Scores s;
  s.components = {UsageComponent(k, c), SupportComponent(k, c), FinancialComponent(k, c),
                  EngagementComponent(k, c)};
  const std::array<int64_t, 4> weights = {c.weight_usage, c.weight_support, c.weight_financial,
                                          c.weight_engagement};
  int64_t weighted = 0;
  for (int i = 0; i < 4; ++i) weighted += weights[i] * s.components[i];
  s.health = static_cast<int32_t>((weighted + 5000) / 10000);
  s.status = StatusOf(s.health, c);

  const double breach_rate = k.sla_breach_rate_pct_r30d / 100.0;
  double z = c.risk_intercept + c.risk_usage_drop * k.usage_drop_pct / 100.0 +
             c.risk_breach_rate * breach_rate +
             c.risk_overdue * std::min(1.0, static_cast<double>(k.days_overdue) /
                                                static_cast<double>(c.risk_overdue_days)) +
             c.risk_engagement * (1.0 - s.components[kEngagement] / 10000.0) +
             (k.credit_hold ? c.risk_credit_hold : 0.0) +
             c.risk_open_p1 * std::min(k.open_p1, c.risk_open_p1_cap);
  if (k.days_to_renewal && *k.days_to_renewal <= c.renewal_window_days) z += c.risk_renewal;
  s.risk = static_cast<int32_t>(std::floor(100.0 / (1.0 + std::exp(-z)) + 0.5));
  s.risk_level = RiskLevelOf(s.risk, c);

  for (int i = 0; i < 4; ++i) {
    const int64_t deficit = weights[i] * (kFull - s.components[i]);  // 1e-4 points
    if (deficit > 0) s.drivers.push_back({static_cast<Component>(i), deficit});
  }
  std::stable_sort(s.drivers.begin(), s.drivers.end(),
                   [](const auto& a, const auto& b) { return a.deficit_e4 > b.deficit_e4; });

  if (k.churned) {
    s.lifecycle = v1::Lifecycle::CHURNED;
  } else if (k.days_since_contract_start && *k.days_since_contract_start < c.onboarding_days) {
    s.lifecycle = v1::Lifecycle::ONBOARDING;
  } else if (k.days_to_renewal && *k.days_to_renewal <= c.renewal_window_days) {
    s.lifecycle = v1::Lifecycle::RENEWAL;
  } else if (s.health < c.status_watch) {
    s.lifecycle = v1::Lifecycle::AT_RISK;
  } else if (k.usage_change_pct > c.growth_usage_change_pct) {
    s.lifecycle = v1::Lifecycle::GROWTH;
  } else {
    s.lifecycle = v1::Lifecycle::MATURE;
  }
  return s;
}

std::string DriverText(Component component, const CoreKpis& k) {
  std::string text;
  switch (component) {
    case kUsage:
      if (!k.ever_used) {
        Join(&text, "no product usage yet");
      } else if (k.usage_r30d == 0 && k.usage_prior_r30d == 0) {
        Join(&text, "no usage in the last 60 days");
      } else if (k.usage_drop_pct > 0) {
        Join(&text, "usage down " + Percent(k.usage_drop_pct) + " vs prior 30 days");
      }
      if (k.days_since_last_usage && *k.days_since_last_usage > 7) {
        Join(&text, "no usage for " + Plural(*k.days_since_last_usage, "day", "days"));
      }
      break;
    case kSupport:
      if (k.sla_breached_r30d > 0) {
        Join(&text, std::to_string(k.sla_breached_r30d) + " of " +
                        Plural(k.tickets_created_r30d, "ticket", "tickets") + " breached SLA");
      }
      if (k.open_p1 > 0) Join(&text, Plural(k.open_p1, "open P1 ticket", "open P1 tickets"));
      if (k.open_p2 > 0) Join(&text, Plural(k.open_p2, "open P2 ticket", "open P2 tickets"));
      if (k.tickets_created_r30d > 5) {
        Join(&text, std::to_string(k.tickets_created_r30d) + " tickets in 30 days");
      }
      break;
    case kFinancial:
      if (k.overdue_invoices > 0) {
        Join(&text, "invoice " + k.most_overdue_invoice + " is " +
                        Plural(k.days_overdue, "day", "days") + " overdue");
        if (k.overdue_invoices > 1) {
          Join(&text, std::to_string(k.overdue_invoices) + " invoices overdue");
        }
      }
      if (k.disputed_invoices > 0) {
        Join(&text, Plural(k.disputed_invoices, "disputed invoice", "disputed invoices"));
      }
      if (k.credit_hold) Join(&text, "on credit hold");
      break;
    case kEngagement:
      if (k.nps_latest) Join(&text, "latest NPS " + std::to_string(*k.nps_latest));
      if (k.csat_avg_r90d) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "CSAT %.1f over 90 days", *k.csat_avg_r90d);
        Join(&text, buf);
      }
      if (k.campaigns_sent_r90d > 0) {
        Join(&text, "engaged with " + std::to_string(k.campaigns_engaged_r90d) + " of " +
                        Plural(k.campaigns_sent_r90d, "campaign", "campaigns"));
      }
      if (text.empty()) Join(&text, "no engagement signals");
      break;
  }
  if (text.empty()) text = std::string(kComponentNames[component]) + " below full marks";
  return text;
}

void FillDrivers(const Scores& scores, const CoreKpis& kpis,
                 google::protobuf::RepeatedPtrField<v1::Driver>* out) {
  out->Clear();
  for (const Scores::Driver& d : scores.drivers) {
    v1::Driver* driver = out->Add();
    driver->set_component(kComponentNames[d.component]);
    driver->set_deficit(static_cast<double>(d.deficit_e4) / 10000.0);
    driver->set_text(DriverText(d.component, kpis));
  }
}

}  // namespace c360
