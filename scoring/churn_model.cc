#include "scoring/churn_model.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace c360 {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

template <typename T>
double Or(const std::optional<T>& v) {
  return v ? static_cast<double>(*v) : kMissing;
}

using Json = nlohmann::json;

[[noreturn]] void Refuse(const std::string& name, const std::string& why) {
  throw ModelError(name + ": " + why);
}

// A member of an object, or a refusal naming where it was expected.
const Json& At(const Json& object, const char* key, const std::string& name, const char* where) {
  if (!object.is_object() || !object.contains(key)) {
    Refuse(name, std::string("not an XGBoost JSON model (no ") + where + key + ")");
  }
  return object.at(key);
}

// XGBoost writes its parameters as strings ("5E-1"); tolerate numbers too.
double Number(const Json& value, const std::string& name, const char* what) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    size_t used = 0;
    try {
      const double out = std::stod(text, &used);
      if (used == text.size()) return out;
    } catch (const std::exception&) {
    }
  }
  Refuse(name, std::string("expected a number for ") + what);
}

}  // namespace

void ComputeFeatures(const CoreKpis& k, const Scores& s, Features* out) {
  Features& f = *out;
  size_t i = 0;
  f[i++] = static_cast<double>(k.usage_r30d);
  f[i++] = static_cast<double>(k.usage_prior_r30d);
  f[i++] = k.usage_change_pct;
  f[i++] = k.usage_drop_pct;
  f[i++] = Or(k.days_since_last_usage);
  f[i++] = k.tickets_created_r30d;
  f[i++] = k.open_tickets;
  f[i++] = k.open_p1;
  f[i++] = k.open_p2;
  f[i++] = k.sla_breach_rate_pct_r30d;
  f[i++] = Or(k.avg_response_hours_r30d);
  f[i++] = Or(k.avg_resolution_hours_r30d);
  f[i++] = Or(k.csat_avg_r90d);
  f[i++] = Or(k.nps_latest);
  f[i++] = k.overdue_invoices;
  f[i++] = static_cast<double>(k.overdue_amount_cents);
  f[i++] = k.days_overdue;
  f[i++] = k.disputed_invoices;
  f[i++] = k.credit_hold ? 1.0 : 0.0;
  f[i++] = k.campaigns_sent_r90d;
  f[i++] = Or(k.response_rate_r90d);
  f[i++] = Or(k.last_interaction_days);
  f[i++] = Or(k.days_to_renewal);
  f[i++] = Or(k.days_since_contract_start);
  f[i++] = k.active_users_r30d;
  f[i++] = k.active_users_prior_r30d;
  f[i++] = k.active_users_change_pct;
  f[i++] = Or(k.stickiness_pct_r30d);
  f[i++] = k.modules_used_r30d;
  f[i++] = Or(k.health_change_7d);
  for (int c = 0; c < 4; ++c) f[i++] = s.components[c] / 100.0;
  f[i++] = s.health;
}

std::shared_ptr<const ChurnModel> ChurnModel::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Refuse(path, "cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

std::shared_ptr<const ChurnModel> ChurnModel::Parse(std::string_view json,
                                                    const std::string& name) {
  const Json root = Json::parse(json, nullptr, false);
  if (root.is_discarded()) Refuse(name, "not JSON (an XGBoost model saved as .json)");
  const Json& learner = At(root, "learner", name, "");

  // The features, by name and order, and their version.
  std::vector<std::string> names;
  if (learner.contains("feature_names") && learner["feature_names"].is_array()) {
    for (const Json& n : learner["feature_names"]) {
      names.push_back(n.is_string() ? n.get<std::string>() : "?");
    }
  }
  std::string version = "(none)";
  if (learner.contains("attributes") && learner["attributes"].contains("c360_feature_set")) {
    version = learner["attributes"]["c360_feature_set"].get<std::string>();
  }
  bool same = names.size() == kFeatureCount;
  for (size_t i = 0; same && i < kFeatureCount; ++i) same = names[i] == kFeatureNames[i];
  if (version != kFeatureSetVersion || !same) {
    std::string why = "its features (" + version + ", " + std::to_string(names.size()) +
                      " named) are not this engine's (" + std::string(kFeatureSetVersion) + ", " +
                      std::to_string(kFeatureCount) + ")";
    if (!same) {
      size_t first = 0;
      while (first < names.size() && first < kFeatureCount &&
             names[first] == kFeatureNames[first]) {
        ++first;
      }
      if (names.empty()) {
        why += "; the model names no features";
      } else if (first < names.size() && first < kFeatureCount) {
        why += "; feature " + std::to_string(first) + " is " + names[first] + ", expected " +
               std::string(kFeatureNames[first]);
      } else {
        why += "; the lists differ in length";
      }
    }
    Refuse(name, why + " (train it on `c360 features` output, docs/churn-model.md)");
  }
  if (learner.contains("feature_types") && learner["feature_types"].is_array()) {
    for (const Json& t : learner["feature_types"]) {
      if (!t.is_string() || (t != "q" && t != "float" && t != "int")) {
        Refuse(name, "categorical features are not supported");
      }
    }
  }

  const Json& objective =
      At(At(learner, "objective", name, "learner."), "name", name, "learner.objective.");
  if (objective != "binary:logistic" && objective != "reg:logistic") {
    Refuse(name, "objective " + objective.dump() + " is not binary:logistic");
  }
  const Json& params = At(learner, "learner_model_param", name, "learner.");
  if (params.contains("num_class") && Number(params["num_class"], name, "num_class") > 1) {
    Refuse(name, "a multi-class model cannot give a churn probability");
  }
  const double base_score =
      Number(At(params, "base_score", name, "learner_model_param."), name, "base_score");
  if (!(base_score > 0 && base_score < 1)) Refuse(name, "base_score must be within (0, 1)");

  const Json& booster = At(learner, "gradient_booster", name, "learner.");
  if (At(booster, "name", name, "gradient_booster.") != "gbtree") {
    Refuse(name, "only gbtree boosters are supported, not " + booster["name"].dump());
  }
  const Json& trees =
      At(At(booster, "model", name, "gradient_booster."), "trees", name, "gradient_booster.model.");
  if (!trees.is_array() || trees.empty()) Refuse(name, "the model has no trees");

  auto model = std::make_shared<ChurnModel>();
  model->name_ = name;
  // XGBoost 1.7 turns base_score into a margin in float: -log(1/p - 1).
  const float p = static_cast<float>(base_score);
  model->base_margin_ = -std::log(1.0f / p - 1.0f);
  for (const Json& tree : trees) {
    const Json& left = At(tree, "left_children", name, "tree.");
    const Json& right = At(tree, "right_children", name, "tree.");
    const Json& cond = At(tree, "split_conditions", name, "tree.");
    const Json& index = At(tree, "split_indices", name, "tree.");
    const Json& deflt = At(tree, "default_left", name, "tree.");
    const size_t n = left.size();
    if (n == 0 || right.size() != n || cond.size() != n || index.size() != n || deflt.size() != n) {
      Refuse(name, "a tree's node arrays differ in length");
    }
    if (tree.contains("split_type")) {
      for (const Json& t : tree["split_type"]) {
        if (t != 0) Refuse(name, "categorical splits are not supported");
      }
    }
    const auto offset = static_cast<int32_t>(model->nodes_.size());
    model->roots_.push_back(offset);
    for (size_t i = 0; i < n; ++i) {
      const int64_t l = left[i].get<int64_t>();
      const int64_t r = right[i].get<int64_t>();
      Node node{};
      node.value = static_cast<float>(cond[i].get<double>());
      if (l == -1) {
        node.left = node.right = -1;
      } else {
        const int64_t f = index[i].get<int64_t>();
        if (l <= 0 || r <= 0 || l >= static_cast<int64_t>(n) || r >= static_cast<int64_t>(n) ||
            f < 0 || f >= static_cast<int64_t>(kFeatureCount)) {
          Refuse(name, "a tree refers to a node or feature that does not exist");
        }
        node.left = offset + static_cast<int32_t>(l);
        node.right = offset + static_cast<int32_t>(r);
        const bool goes_left = deflt[i].is_boolean() ? deflt[i].get<bool>() : deflt[i] != 0;
        node.feature = static_cast<uint32_t>(f) | (goes_left ? kDefaultLeft : 0u);
      }
      model->nodes_.push_back(node);
    }
    // Children come after their parent in XGBoost's arrays; with that checked, every walk
    // ends at a leaf.
    for (size_t i = 0; i < n; ++i) {
      const Node& node = model->nodes_[offset + i];
      if (node.left != -1 && (node.left <= offset + static_cast<int32_t>(i) ||
                              node.right <= offset + static_cast<int32_t>(i))) {
        Refuse(name, "a tree's child comes before its parent");
      }
    }
  }
  return model;
}

float ChurnModel::Probability(const Features& features) const {
  std::array<float, kFeatureCount> f;
  for (size_t i = 0; i < kFeatureCount; ++i) f[i] = static_cast<float>(features[i]);
  float margin = base_margin_;
  const Node* nodes = nodes_.data();
  for (const int32_t root : roots_) {
    const Node* node = nodes + root;
    while (node->left != -1) {
      const float v = f[node->feature & ~kDefaultLeft];
      const bool left = std::isnan(v) ? (node->feature & kDefaultLeft) != 0 : v < node->value;
      node = nodes + (left ? node->left : node->right);
    }
    margin += node->value;
  }
  return 1.0f / (1.0f + std::exp(-margin));
}

int32_t ChurnModel::Risk(const Features& features) const {
  return static_cast<int32_t>(std::floor(100.0 * static_cast<double>(Probability(features)) + 0.5));
}

void ApplyChurnModels(const Config& config, const CoreKpis& kpis, Scores* scores) {
  if (config.shadow_formula) scores->shadow_risk = scores->risk;
  if (!config.churn_model && !config.shadow_churn_model) return;
  Features features;
  ComputeFeatures(kpis, *scores, &features);
  if (config.churn_model) {
    scores->risk = config.churn_model->Risk(features);
    scores->risk_level = RiskLevelOf(scores->risk, config);
  }
  if (config.shadow_churn_model) scores->shadow_risk = config.shadow_churn_model->Risk(features);
}

}  // namespace c360
