#include "scoring/kpis.h"

#include <algorithm>
#include <limits>
#include <map>

namespace c360 {
namespace {

bool InDays(TimeMs t, int32_t from_day, int32_t to_day) {
  if (t == kNoTime) return false;
  const int64_t d = DayOf(t);
  return d >= from_day && d <= to_day;
}

}  // namespace

void MarkPassedDeadlines(CustomerState& state, TimeMs deadline_horizon) {
  bool changed = false;
  for (TicketState& t : state.mutable_tickets()) {
    if (t.first_response == kNoTime && t.response_due != kNoTime && !t.response_breached &&
        t.response_due <= deadline_horizon) {
      t.response_breached = true;
      changed = true;
    }
    if (t.first_resolved == kNoTime && t.resolution_due != kNoTime && !t.resolution_breached &&
        t.resolution_due <= deadline_horizon) {
      t.resolution_breached = true;
      changed = true;
    }
  }
  if (changed) state.EntitiesChanged();
}

void ComputeEntityKpis(CustomerState& state, int32_t day, TimeMs horizon, EntityKpis* out) {
  MarkPassedDeadlines(state, horizon);
  out->day = day;
  out->version = state.entity_version();
  CoreKpis& k = out->kpis;
  k = CoreKpis{};
  const int32_t r30_from = day - 29;
  const int32_t r90_from = day - 89;
  TimeMs next_deadline = std::numeric_limits<TimeMs>::max();
  const auto pending = [&](TimeMs deadline) {
    if (deadline != kNoTime && deadline > horizon)
      next_deadline = std::min(next_deadline, deadline);
  };

  int64_t response_ms = 0;
  int64_t resolution_ms = 0;
  for (const TicketState& t : state.tickets()) {
    if (t.first_response == kNoTime) pending(t.response_due);
    if (t.first_resolved == kNoTime) pending(t.resolution_due);
    if (t.open()) {
      ++k.open_tickets;
      if (t.priority == 1) ++k.open_p1;
      if (t.priority == 2) ++k.open_p2;
    }
    if (!InDays(t.created, r30_from, day)) continue;
    ++k.tickets_created_r30d;
    if (t.priority >= 1 && t.priority <= 4) ++k.tickets_by_priority_r30d[t.priority];
    if (t.response_breached || t.resolution_breached) ++k.sla_breached_r30d;
    if (t.first_response != kNoTime) {
      ++k.responses_r30d;
      response_ms += t.first_response - t.created;
    }
    if (t.resolved != kNoTime) {
      ++k.resolutions_r30d;
      resolution_ms += t.resolved - t.created;
    }
  }
  if (k.tickets_created_r30d > 0) {
    k.sla_breach_rate_pct_r30d = 100.0 * k.sla_breached_r30d / k.tickets_created_r30d;
  }
  if (k.responses_r30d > 0) {
    k.avg_response_hours_r30d =
        static_cast<double>(response_ms) / k.responses_r30d / static_cast<double>(kMsPerHour);
  }
  if (k.resolutions_r30d > 0) {
    k.avg_resolution_hours_r30d =
        static_cast<double>(resolution_ms) / k.resolutions_r30d / static_cast<double>(kMsPerHour);
  }

  for (const Rating& r : state.ratings()) {
    if (!InDays(r.time, r90_from, day)) continue;
    ++k.ratings_r90d;
    k.csat_sum_r90d += r.csat;
  }
  if (k.ratings_r90d > 0) {
    k.csat_avg_r90d = static_cast<double>(k.csat_sum_r90d) / k.ratings_r90d;
  }
  k.nps_latest = state.nps_latest();

  for (const InvoiceState& i : state.invoices()) {
    if (i.disputed) ++k.disputed_invoices;
    if (i.voided || i.due == kNoTime || i.balance() <= 0) continue;
    if (i.due > horizon) {
      pending(i.due);
      continue;
    }
    ++k.overdue_invoices;
    k.overdue_amount_cents += i.balance();
    const int32_t days = day - static_cast<int32_t>(DayOf(i.due));
    if (days > k.days_overdue || k.most_overdue_invoice.empty()) {
      k.days_overdue = std::max(k.days_overdue, days);
      k.most_overdue_invoice = i.id;
    }
  }
  k.credit_hold = state.credit_hold();

  for (const CampaignState& c : state.campaigns()) {
    if (c.sent_day != kNoDay && c.sent_day >= r90_from && c.sent_day <= day)
      ++k.campaigns_sent_r90d;
    if (c.engaged_day != kNoDay && c.engaged_day >= r90_from && c.engaged_day <= day) {
      ++k.campaigns_engaged_r90d;
    }
  }
  if (k.campaigns_sent_r90d > 0) {
    k.response_rate_r90d =
        std::min(1.0, static_cast<double>(k.campaigns_engaged_r90d) / k.campaigns_sent_r90d);
  }
  out->valid_until = next_deadline;
}

CoreKpis ComputeKpis(CustomerState& state, TimeMs stream_time, const EntityKpis& entities) {
  CoreKpis k = entities.kpis;
  k.stream_time = stream_time;
  const int32_t day = static_cast<int32_t>(DayOf(stream_time));
  k.day = day;

  k.usage_r30d = state.UsageR30(day);
  k.usage_prior_r30d = state.UsagePriorR30(day);
  if (k.usage_prior_r30d > 0) {
    k.usage_change_pct = static_cast<double>(k.usage_r30d - k.usage_prior_r30d) /
                         static_cast<double>(k.usage_prior_r30d) * 100.0;
  }
  k.usage_drop_pct = std::max(0.0, -k.usage_change_pct);
  k.active_users_r30d = state.ActiveUsersR30(day);
  k.active_users_prior_r30d = state.ActiveUsersPriorR30(day);
  if (k.active_users_prior_r30d > 0) {
    k.active_users_change_pct =
        static_cast<double>(k.active_users_r30d - k.active_users_prior_r30d) /
        static_cast<double>(k.active_users_prior_r30d) * 100.0;
  }
  if (k.active_users_r30d > 0) {
    // 100 x user-days / (30 x active users), rounded half up to hundredths exactly.
    const int64_t den = 30 * int64_t{k.active_users_r30d};
    const int64_t num = 10'000 * state.UserDaysR30(day);
    k.stickiness_pct_r30d = static_cast<double>((2 * num + den) / (2 * den)) / 100.0;
  }
  k.modules_used_r30d = state.ModulesUsedR30(day);
  k.ever_used = state.last_usage_day() != kNoDay;
  if (k.ever_used) k.days_since_last_usage = day - state.last_usage_day();

  if (state.last_interaction() != kNoTime) {
    k.last_interaction_days = day - static_cast<int32_t>(DayOf(state.last_interaction()));
  }
  if (const auto& p = state.profile()) {
    if (p->has_contract_end()) {
      k.days_to_renewal = static_cast<int32_t>(DayOf(ToMs(p->contract_end()))) - day;
    }
    if (p->has_contract_start()) {
      k.days_since_contract_start = day - static_cast<int32_t>(DayOf(ToMs(p->contract_start())));
    }
    k.churned = p->has_churned_on() && DayOf(ToMs(p->churned_on())) <= day;
  }
  return k;
}

void AddHealthTrend(const CustomerState& state, int32_t health, CoreKpis* kpis) {
  if (const auto before = state.HealthOnOrBefore(kpis->day - 7)) {
    kpis->health_change_7d = health - *before;
  }
}

CoreKpis ComputeKpis(CustomerState& state, TimeMs stream_time, TimeMs deadline_horizon) {
  EntityKpis entities;
  ComputeEntityKpis(state, static_cast<int32_t>(DayOf(stream_time)), deadline_horizon, &entities);
  return ComputeKpis(state, stream_time, entities);
}

void FillKpis(CustomerState& state, const CoreKpis& k, v1::Kpis* out) {
  out->set_usage_events_r30d(k.usage_r30d);
  out->set_usage_events_prior_r30d(k.usage_prior_r30d);
  out->set_usage_change_pct(k.usage_change_pct);
  out->set_usage_drop_pct(k.usage_drop_pct);
  if (k.days_since_last_usage) out->set_days_since_last_usage(*k.days_since_last_usage);

  auto modules = state.ModulesR30(k.day);
  std::sort(modules.begin(), modules.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (size_t i = 0; i < modules.size() && i < kTopModules; ++i) {
    auto* m = out->add_top_modules_r30d();
    m->set_module(modules[i].first);
    m->set_events(modules[i].second);
  }
  const int32_t month = MonthIndexOfDay(k.day);
  for (int32_t m = month - (kMonthlyUsageMonths - 1); m <= month; ++m) {
    auto* mu = out->add_monthly_usage();
    mu->set_month(MonthLabel(m));
    mu->set_events(state.UsageInMonth(m));
  }

  out->set_tickets_created_r30d(k.tickets_created_r30d);
  auto* by_priority = out->mutable_tickets_by_priority_r30d();
  by_priority->set_p1(k.tickets_by_priority_r30d[1]);
  by_priority->set_p2(k.tickets_by_priority_r30d[2]);
  by_priority->set_p3(k.tickets_by_priority_r30d[3]);
  by_priority->set_p4(k.tickets_by_priority_r30d[4]);
  out->set_open_tickets(k.open_tickets);
  out->set_open_p1(k.open_p1);
  out->set_open_p2(k.open_p2);
  out->set_sla_breached_r30d(k.sla_breached_r30d);
  out->set_sla_breach_rate_pct_r30d(k.sla_breach_rate_pct_r30d);
  if (k.avg_response_hours_r30d) out->set_avg_response_hours_r30d(*k.avg_response_hours_r30d);
  if (k.avg_resolution_hours_r30d) {
    out->set_avg_resolution_hours_r30d(*k.avg_resolution_hours_r30d);
  }

  // Recurring issues: categories (module when none) with >= 3 tickets created in R90D.
  std::map<std::string, int32_t> categories;
  for (const TicketState& t : state.tickets()) {
    if (t.created == kNoTime || DayOf(t.created) < k.day - 89 || DayOf(t.created) > k.day) continue;
    const std::string& name = t.category.empty() ? t.module : t.category;
    if (!name.empty()) ++categories[name];
  }
  std::vector<std::pair<std::string, int32_t>> recurring;
  for (const auto& [name, count] : categories) {
    if (count >= 3) recurring.emplace_back(name, count);
  }
  std::stable_sort(recurring.begin(), recurring.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [name, count] : recurring) {
    auto* r = out->add_recurring_issues();
    r->set_category(name);
    r->set_tickets(count);
  }

  if (k.csat_avg_r90d) out->set_csat_avg_r90d(*k.csat_avg_r90d);
  if (k.nps_latest) out->set_nps_latest(*k.nps_latest);
  out->set_overdue_invoices(k.overdue_invoices);
  out->set_overdue_amount_cents(k.overdue_amount_cents);
  out->set_days_overdue(k.days_overdue);
  out->set_disputed_invoices(k.disputed_invoices);
  out->set_credit_hold(k.credit_hold);
  out->set_campaigns_sent_r90d(k.campaigns_sent_r90d);
  out->set_campaigns_engaged_r90d(k.campaigns_engaged_r90d);
  if (k.response_rate_r90d) out->set_response_rate_r90d(*k.response_rate_r90d);
  if (k.last_interaction_days) out->set_last_interaction_days(*k.last_interaction_days);
  if (k.days_to_renewal) out->set_days_to_renewal(*k.days_to_renewal);
  if (k.days_since_contract_start) out->set_tenure_days(*k.days_since_contract_start);
  out->set_active_users_r30d(k.active_users_r30d);
  out->set_active_users_prior_r30d(k.active_users_prior_r30d);
  out->set_active_users_change_pct(k.active_users_change_pct);
  if (k.stickiness_pct_r30d) out->set_stickiness_pct_r30d(*k.stickiness_pct_r30d);
  out->set_modules_used_r30d(k.modules_used_r30d);
  if (k.health_change_7d) out->set_health_change_7d(*k.health_change_7d);
}

}  // namespace c360
