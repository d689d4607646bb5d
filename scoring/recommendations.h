#pragma once
// Next best actions for one customer (GET /api/v1/customers/{id}/recommendations, SPEC
// section 9): derived from its state, KPIs and scores at T, most urgent first. The API
// only renders them; what to recommend, and why, is scoring's, beside the rules whose
// alerts several of them answer.

#include <string>
#include <vector>

#include "c360/v1/health.pb.h"
#include "scoring/config.h"
#include "scoring/customer_state.h"
#include "scoring/kpis.h"
#include "scoring/scores.h"

namespace c360 {

struct Recommendation {
  enum Priority { kHigh = 0, kMedium = 1, kLow = 2 };
  Priority priority = kMedium;
  std::string action;       // what to do, for a person
  std::string entity_type;  // ticket, invoice, contract, customer, module, category
  std::string entity_id;
  std::string reason;    // the figures behind it
  std::string source;    // "alert:RULE" or "driver:component"
  std::string playbook;  // the alert rule's configured action, if any
};

// `fields` is FillKpis' output for the same KPIs (top modules, recurring issues); `at` is
// T. Stable: equal priorities keep the order of the sections (support, finance, renewal,
// usage, satisfaction, engagement).
std::vector<Recommendation> Recommend(const CustomerState& state, const CoreKpis& kpis,
                                      const Scores& scores, const v1::Kpis& fields, TimeMs at,
                                      const Config& config);

const char* PriorityLabel(Recommendation::Priority priority);  // high, medium, low

}  // namespace c360
