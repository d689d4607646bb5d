#pragma once
// The KPIs of SPEC section 3 for one customer at a task's stream time T. Pure.
//
// CoreKpis holds the numbers that scores and rules read, computed on every re-score in
// O(entities) with no allocation; FillKpis() adds the lists (top modules, monthly usage,
// recurring issues) for the outputs that show them.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "c360/v1/health.pb.h"
#include "scoring/config.h"
#include "scoring/customer_state.h"

namespace c360 {

// top_modules_r30d lists this many modules (SPEC section 3).
inline constexpr size_t kTopModules = 5;

struct CoreKpis {
  TimeMs stream_time = 0;
  int32_t day = 0;  // day(T)

  int64_t usage_r30d = 0;
  int64_t usage_prior_r30d = 0;
  double usage_change_pct = 0;
  double usage_drop_pct = 0;
  bool ever_used = false;
  std::optional<int32_t> days_since_last_usage;

  int32_t tickets_created_r30d = 0;
  std::array<int32_t, kPrioritySlots> tickets_by_priority_r30d{};  // [1..4]
  int32_t open_tickets = 0;
  int32_t open_p1 = 0;
  int32_t open_p2 = 0;
  int32_t sla_breached_r30d = 0;
  double sla_breach_rate_pct_r30d = 0;
  int32_t responses_r30d = 0;  // tickets created in R30D with a first response
  std::optional<double> avg_response_hours_r30d;
  int32_t resolutions_r30d = 0;
  std::optional<double> avg_resolution_hours_r30d;

  int32_t ratings_r90d = 0;
  int64_t csat_sum_r90d = 0;
  std::optional<double> csat_avg_r90d;
  std::optional<int32_t> nps_latest;

  int32_t overdue_invoices = 0;
  int64_t overdue_amount_cents = 0;
  int32_t days_overdue = 0;
  std::string most_overdue_invoice;  // for the driver sentence
  int32_t disputed_invoices = 0;
  bool credit_hold = false;

  int32_t campaigns_sent_r90d = 0;
  int32_t campaigns_engaged_r90d = 0;
  std::optional<double> response_rate_r90d;

  std::optional<int32_t> last_interaction_days;
  std::optional<int32_t> days_to_renewal;
  std::optional<int32_t> days_since_contract_start;  // tenure_days
  bool churned = false;                              // churned_on set and day(churned_on) <= day(T)

  int32_t active_users_r30d = 0;
  int32_t active_users_prior_r30d = 0;
  double active_users_change_pct = 0;
  std::optional<double> stickiness_pct_r30d;  // rounded half up to 2 decimals
  int32_t modules_used_r30d = 0;
  // Set by AddHealthTrend once the health is known.
  std::optional<int32_t> health_change_7d;
};

// The KPIs that depend on tickets, invoices, campaigns and ratings. They change only when
// those change (CustomerState::entity_version), on a new day, or when the deadline horizon
// reaches the next pending deadline, so a task caches them per customer and a usage event
// does not walk the customer's tickets and invoices.
struct EntityKpis {
  CoreKpis kpis;  // only the entity fields are set
  int32_t day = kNoDay;
  uint64_t version = ~uint64_t{0};
  TimeMs valid_until = kNoTime;  // the cache holds for horizons below this

  bool Valid(const CustomerState& state, int32_t d, TimeMs horizon) const {
    return version == state.entity_version() && day == d && horizon < valid_until;
  }
};
// Marks passed deadlines (below) and computes the entity KPIs at `horizon`.
void ComputeEntityKpis(CustomerState& state, int32_t day, TimeMs horizon, EntityKpis* out);
// All KPIs from the usage and profile parts plus cached entity KPIs.
CoreKpis ComputeKpis(CustomerState& state, TimeMs stream_time, const EntityKpis& entities);

// Marks the SLA breaches by silence: a ticket whose response (resolution) deadline is
// <= deadline_horizon with no response (resolution) yet has breached, for good.
void MarkPassedDeadlines(CustomerState& state, TimeMs deadline_horizon);

// `deadline_horizon`: a deadline (invoice due date) has passed when it is <= this. A
// re-score at T uses T - 1 (strictly past); a timer firing at its deadline uses T.
CoreKpis ComputeKpis(CustomerState& state, TimeMs stream_time, TimeMs deadline_horizon);

// health_change_7d: `health` (this re-score's) minus that of the customer's last re-score on
// a day <= day(T) - 7, when there is one. Call before RecordDaily records this re-score.
void AddHealthTrend(const CustomerState& state, int32_t health, CoreKpis* kpis);

// Every KPI under its SPEC name, lists included.
void FillKpis(CustomerState& state, const CoreKpis& core, v1::Kpis* out);

// "YYYY-MM" of the 12 months ending with T's month, oldest first.
inline constexpr int kMonthlyUsageMonths = 12;

}  // namespace c360
