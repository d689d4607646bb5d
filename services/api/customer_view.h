#pragma once
// The Customer 360 read model (SPEC section 8): JSON views of one customer's stored state
// at its task's stream time T — the view, its alerts, its timeline and the next best
// actions — and the row that lists and the summary are made of. Pure: no RocksDB, no HTTP
// (api_routes.cc reads a snapshot and calls these). Thread-safe: no shared state.
//
// Scores are recomputed at T from the stored state with the engine's own functions
// (kpis.h, scores.h), so the view equals what a re-score at T would publish. Numbers are
// JSON numbers; non-integer KPIs have 2 decimals (csat_avg_r90d and response_rate_r90d 3).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "c360/v1/health.pb.h"
#include "common/proto_json.h"  // Rounded
#include "scoring/config.h"
#include "scoring/customer_state.h"
#include "scoring/kpis.h"
#include "scoring/scores.h"
#include "state/state.pb.h"

namespace c360::api {

struct ViewContext {
  const Config& config;
  uint16_t task = 0;
  TimeMs stream_time = kNoTime;  // the task's T; kNoTime before its first event
  TimeMs now = 0;                // wall clock, for staleness
};

// KPIs and scores of one customer at T (at the wall clock when the task has no T yet).
struct Evaluation {
  TimeMs at = 0;
  CoreKpis kpis;
  Scores scores;
  v1::Kpis kpi_fields;  // every KPI by its SPEC name, lists included
};
Evaluation Evaluate(CustomerState& state, const ViewContext& ctx);

// GET /api/v1/customers/{id}.
nlohmann::json CustomerView(const CustomerState& state, const Evaluation& eval,
                            const std::vector<state::v1::JournalEntry>& journal,
                            const ViewContext& ctx);
// GET /api/v1/customers/{id}/alerts: firing first, then the history, newest first.
nlohmann::json AlertsView(const CustomerState& state, const Evaluation& eval,
                          const std::vector<state::v1::JournalEntry>& journal,
                          const ViewContext& ctx);
// GET /api/v1/customers/{id}/timeline: daily scores and what changed them.
nlohmann::json TimelineView(const CustomerState& state, const Evaluation& eval,
                            const std::vector<state::v1::JournalEntry>& journal,
                            const ViewContext& ctx);
// GET /api/v1/customers/{id}/recommendations: next best actions, most urgent first.
nlohmann::json RecommendationsView(const CustomerState& state, const Evaluation& eval,
                                   const std::vector<state::v1::JournalEntry>& journal,
                                   const ViewContext& ctx);

// Every KPI of SPEC section 3 under its name; absent ones are null.
nlohmann::json KpisJson(const v1::Kpis& kpis);
// The profile as JSON (times as RFC 3339, enums by name), or null.
nlohmann::json ProfileJson(const CustomerState& state, const Config& config);

// A customer as the list shows it: its last published scores (the engine's latest
// re-score) and profile, from its list row (state.proto; rollups.h ApiRow).
struct CustomerRow {
  std::string customer_id;
  std::string name;
  v1::CustomerProfile::Segment segment = v1::CustomerProfile::SEGMENT_UNSPECIFIED;
  int64_t annual_revenue_cents = 0;
  bool has_profile = false;
  bool scored = false;  // false until its first re-score (no stream time yet)
  int32_t health = 0;
  int32_t risk = 0;
  v1::HealthSnapshot::Status status = v1::HealthSnapshot::STATUS_UNSPECIFIED;
  v1::HealthSnapshot::RiskLevel risk_level = v1::HealthSnapshot::RISK_LEVEL_UNSPECIFIED;
  bool vip = false;
  uint16_t task = 0;
  v1::Lifecycle::Stage lifecycle = v1::Lifecycle::STAGE_UNSPECIFIED;
  std::optional<int32_t> health_change_7d;  // the list's trend arrow
  std::string owner;
  std::string industry;
  std::string region;
};
nlohmann::json RowJson(const CustomerRow& row);

}  // namespace c360::api
