#pragma once
// The pluggable churn model of SPEC section 10: the feature vector a re-score produces, and
// c360's own evaluator of XGBoost's JSON trees (docs/churn-model.md).
//
// A model is loaded once (ChurnModel::Load) into flat node arrays; Probability() walks them
// with no allocation and reproduces XGBoost 1.7's arithmetic: features as float, a split
// goes left when the value is below its condition (missing values: the node's default
// direction), leaves summed in float onto the base margin in tree order, then the float
// sigmoid. Risk = round half up of 100 x probability.

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "scoring/kpis.h"
#include "scoring/scores.h"

namespace c360 {

// The features and their version. A model names both; an engine refuses a model whose
// names, order or version differ from these. Add a feature: bump the version.
inline constexpr std::string_view kFeatureSetVersion = "c360-churn-features/1";
inline constexpr std::array<std::string_view, 35> kFeatureNames = {
    "usage_r30d",
    "usage_prior_r30d",
    "usage_change_pct",
    "usage_drop_pct",
    "days_since_last_usage",
    "tickets_created_r30d",
    "open_tickets",
    "open_p1",
    "open_p2",
    "sla_breach_rate_pct_r30d",
    "avg_response_hours_r30d",
    "avg_resolution_hours_r30d",
    "csat_avg_r90d",
    "nps_latest",
    "overdue_invoices",
    "overdue_amount_cents",
    "days_overdue",
    "disputed_invoices",
    "credit_hold",
    "campaigns_sent_r90d",
    "response_rate_r90d",
    "last_interaction_days",
    "days_to_renewal",
    "tenure_days",
    "active_users_r30d",
    "active_users_prior_r30d",
    "active_users_change_pct",
    "stickiness_pct_r30d",
    "modules_used_r30d",
    "health_change_7d",
    "usage_score",
    "support_score",
    "financial_score",
    "engagement_score",
    "health",
};
inline constexpr size_t kFeatureCount = kFeatureNames.size();

// One customer's features at a re-score; NaN where a KPI is absent (XGBoost's missing).
using Features = std::array<double, kFeatureCount>;

// From the KPIs (health_change_7d included: after AddHealthTrend) and the formula's scores.
void ComputeFeatures(const CoreKpis& kpis, const Scores& scores, Features* out);

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ChurnModel {
 public:
  // Reads an XGBoost JSON model (binary:logistic, gbtree, numerical splits) whose features
  // are kFeatureNames under kFeatureSetVersion. Throws ModelError with one line saying what
  // does not match.
  static std::shared_ptr<const ChurnModel> Load(const std::string& path);
  // The same from the file's text; `name` is what errors call it.
  static std::shared_ptr<const ChurnModel> Parse(std::string_view json, const std::string& name);

  // The model's probability of churn for one feature vector, as XGBoost computes it.
  float Probability(const Features& features) const;
  // round half up of 100 x Probability().
  int32_t Risk(const Features& features) const;

  size_t trees() const { return roots_.size(); }
  size_t nodes() const { return nodes_.size(); }
  const std::string& name() const { return name_; }

 private:
  // 16 bytes; a leaf has left == -1 and its value in `value`.
  struct Node {
    float value;       // split condition, or the leaf value
    uint32_t feature;  // split feature index; the top bit: missing values go left
    int32_t left;      // node index in nodes_, or -1 for a leaf
    int32_t right;
  };
  static constexpr uint32_t kDefaultLeft = 0x8000'0000u;

  std::string name_;
  float base_margin_ = 0;
  std::vector<Node> nodes_;     // every tree's nodes, tree after tree
  std::vector<int32_t> roots_;  // each tree's first node
};

// The live model's risk (SPEC section 10) in place of the formula's, and the shadow
// model's (or the formula's, Config::shadow_formula) beside it as Scores::shadow_risk;
// without models the formula's scores stand.
void ApplyChurnModels(const Config& config, const CoreKpis& kpis, Scores* scores);

}  // namespace c360
