#pragma once
// The alert rules of SPEC section 5, evaluated at every re-score. Pure: episode state lives
// in the CustomerState; alerts come out as AlertEvent values.
//
// Every rule starts "not firing"; an episode opens on the first evaluation that meets its
// condition (FIRING) and closes on the first that meets its resolve condition (RESOLVED,
// same alert_id, the episode's highest severity). Without its minimum sample a rule
// neither fires nor resolves. alert_id is deterministic (AlertId below).

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "c360/v1/alert.pb.h"
#include "scoring/config.h"
#include "scoring/customer_state.h"
#include "scoring/kpis.h"
#include "scoring/scores.h"

namespace c360 {

// What caused this evaluation: the record applied (or, for a timer, its deadline).
struct AlertCause {
  TimeMs event_time = 0;
  std::string_view source_topic;
  int32_t source_partition = -1;
  int64_t source_offset = -1;
};

struct RuleContext {
  const Config& config;
  TimeMs stream_time;
  TimeMs deadline_horizon;  // see ComputeKpis
  TimeMs emitted_at;        // wall clock
  AlertCause cause;
  // False when neither tickets nor invoices can have changed since the last evaluation
  // (no ticket or invoice event, no timer): their per-entity rules are skipped.
  bool entities_changed = true;
};

// Appends the alerts this evaluation raises to *out (in rule order, entities in state
// order) and advances the episode state.
void EvaluateRules(CustomerState& state, const CoreKpis& kpis, const Scores& scores,
                   const RuleContext& ctx, std::vector<v1::AlertEvent>* out);

// The alerts firing now, counted by rule: open episodes of the customer-level rules, and
// SLA_BREACH and INVOICE_OVERDUE per ticket (while open) and invoice (until resolved), as
// the Customer 360 view lists them (docs/api.md).
std::array<int32_t, kRuleCount> FiringCounts(const CustomerState& state);

// First 16 lower-case hex digits of SHA-256(customer_id + "|" + rule + "|" + key).
std::string AlertId(std::string_view customer_id, v1::AlertEvent::Rule rule, std::string_view key);

}  // namespace c360
