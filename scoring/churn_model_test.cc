#include "scoring/churn_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "scoring/config.h"

namespace c360 {
namespace {

using Json = nlohmann::json;

size_t Index(std::string_view name) {
  for (size_t i = 0; i < kFeatureCount; ++i) {
    if (kFeatureNames[i] == name) return i;
  }
  ADD_FAILURE() << name;
  return 0;
}

// An XGBoost 1.7 JSON model of `trees` (each the five node arrays), as save_model writes it.
Json Model(const Json& trees, const std::string& base_score = "5E-1") {
  Json names = Json::array();
  for (std::string_view n : kFeatureNames) names.push_back(std::string(n));
  Json out = {{"learner",
               {{"attributes", {{"c360_feature_set", std::string(kFeatureSetVersion)}}},
                {"feature_names", names},
                {"feature_types", Json::array()},
                {"learner_model_param", {{"base_score", base_score}, {"num_class", "0"}}},
                {"objective", {{"name", "binary:logistic"}}},
                {"gradient_booster", {{"name", "gbtree"}, {"model", {{"trees", trees}}}}}}},
              {"version", {1, 7, 4}}};
  return out;
}

// One split on `feature` at `cond`: left leaf `l`, right leaf `r`, missing goes left or not.
Json Stump(size_t feature, double cond, double l, double r, bool missing_left) {
  return {{"left_children", {1, -1, -1}},
          {"right_children", {2, -1, -1}},
          {"split_conditions", {cond, l, r}},
          {"split_indices", {feature, 0, 0}},
          {"default_left", {missing_left ? 1 : 0, 0, 0}},
          {"split_type", {0, 0, 0}}};
}

std::string Refusal(const Json& model) {
  try {
    ChurnModel::Parse(model.dump(), "m.json");
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

Features Zeros() {
  Features f;
  f.fill(0);
  return f;
}

float Sigmoid(float margin) { return 1.0f / (1.0f + std::exp(-margin)); }

TEST(ChurnModelTest, SplitsGoLeftBelowTheConditionAndMissingValuesTheDefaultWay) {
  const size_t usage = Index("usage_r30d");
  const size_t nps = Index("nps_latest");
  const auto model = ChurnModel::Parse(
      Model(Json::array({Stump(usage, 10, -1.0, 0.5, false), Stump(nps, 7, 0.25, -0.75, true)}))
          .dump(),
      "m.json");
  ASSERT_EQ(model->trees(), 2u);
  Features f = Zeros();
  f[usage] = 9.5;  // left
  f[nps] = 7;      // equal: right
  EXPECT_FLOAT_EQ(model->Probability(f), Sigmoid(-1.0f + -0.75f));
  f[usage] = 10;                                      // equal: right
  f[nps] = std::numeric_limits<double>::quiet_NaN();  // missing: left here
  EXPECT_FLOAT_EQ(model->Probability(f), Sigmoid(0.5f + 0.25f));
  f[usage] = std::numeric_limits<double>::quiet_NaN();  // missing: right here
  EXPECT_FLOAT_EQ(model->Probability(f), Sigmoid(0.5f + 0.25f));
  // Compared in float, as XGBoost does: 10 - 1e-9 is 10 as a float, so not below 10.
  f[usage] = 10 - 1e-9;
  EXPECT_FLOAT_EQ(model->Probability(f), Sigmoid(0.5f + 0.25f));
  // Risk: round half up of 100 x p.
  EXPECT_EQ(model->Risk(f), static_cast<int32_t>(std::floor(100.0 * Sigmoid(0.75f) + 0.5)));
  EXPECT_EQ(model->Risk(f), 68);
}

TEST(ChurnModelTest, TheBaseScoreIsAMargin) {
  // base_score 0.2 is the margin -log(1/0.2 - 1) = -log 4.
  const auto model = ChurnModel::Parse(
      Model(Json::array({Stump(0, 1, 0.0, 0.0, false)}), "2E-1").dump(), "m.json");
  EXPECT_NEAR(model->Probability(Zeros()), 0.2, 1e-7);
}

TEST(ChurnModelTest, DeeperTreesWalkToTheirLeaves) {
  // Node 0 splits health < 60; node 1 (left) splits days_overdue < 30; leaves 2.0 / 1.0;
  // node 2 (right) is a leaf -2.0.
  const size_t health = Index("health");
  const size_t overdue = Index("days_overdue");
  const Json tree = {{"left_children", {1, 3, -1, -1, -1}},
                     {"right_children", {2, 4, -1, -1, -1}},
                     {"split_conditions", {60, 30, -2.0, 1.0, 2.0}},
                     {"split_indices", {health, overdue, 0, 0, 0}},
                     {"default_left", {0, 0, 0, 0, 0}},
                     {"split_type", {0, 0, 0, 0, 0}}};
  const auto model = ChurnModel::Parse(Model(Json::array({tree})).dump(), "m.json");
  Features f = Zeros();
  f[health] = 80;
  EXPECT_FLOAT_EQ(model->Probability(f), Sigmoid(-2.0f));
  f[health] = 50;
  f[overdue] = 10;
  EXPECT_FLOAT_EQ(model->Probability(f), Sigmoid(1.0f));
  f[overdue] = 45;
  EXPECT_FLOAT_EQ(model->Probability(f), Sigmoid(2.0f));
}

TEST(ChurnModelTest, AModelForOtherFeaturesIsRefusedInOneLine) {
  Json wrong_name = Model(Json::array({Stump(0, 1, 0, 0, false)}));
  wrong_name["learner"]["feature_names"][3] = "usage_drop";
  EXPECT_EQ(Refusal(wrong_name),
            "m.json: its features (c360-churn-features/1, 35 named) are not this engine's "
            "(c360-churn-features/1, 35); feature 3 is usage_drop, expected usage_drop_pct "
            "(train it on `c360 features` output, docs/churn-model.md)");
  Json fewer = Model(Json::array({Stump(0, 1, 0, 0, false)}));
  fewer["learner"]["feature_names"].erase(34);
  EXPECT_NE(Refusal(fewer).find("34 named"), std::string::npos);
  Json other_version = Model(Json::array({Stump(0, 1, 0, 0, false)}));
  other_version["learner"]["attributes"]["c360_feature_set"] = "c360-churn-features/0";
  EXPECT_NE(Refusal(other_version).find("(c360-churn-features/0, 35 named)"), std::string::npos);
  Json unnamed = Model(Json::array({Stump(0, 1, 0, 0, false)}));
  unnamed["learner"].erase("feature_names");
  EXPECT_NE(Refusal(unnamed).find("names no features"), std::string::npos);
  for (const std::string& refusal : {Refusal(wrong_name), Refusal(fewer), Refusal(other_version)}) {
    EXPECT_EQ(refusal.find('\n'), std::string::npos);
  }
}

TEST(ChurnModelTest, WhatTheEvaluatorCannotComputeIsRefused) {
  Json regression = Model(Json::array({Stump(0, 1, 0, 0, false)}));
  regression["learner"]["objective"]["name"] = "reg:squarederror";
  EXPECT_NE(Refusal(regression).find("is not binary:logistic"), std::string::npos);
  Json categorical = Model(Json::array({Stump(0, 1, 0, 0, false)}));
  categorical["learner"]["gradient_booster"]["model"]["trees"][0]["split_type"][0] = 1;
  EXPECT_NE(Refusal(categorical).find("categorical"), std::string::npos);
  Json dart = Model(Json::array({Stump(0, 1, 0, 0, false)}));
  dart["learner"]["gradient_booster"]["name"] = "dart";
  EXPECT_NE(Refusal(dart).find("only gbtree"), std::string::npos);
  Json loop = Model(Json::array({Stump(0, 1, 0, 0, false)}));
  loop["learner"]["gradient_booster"]["model"]["trees"][0]["left_children"][0] = 0;
  EXPECT_NE(Refusal(loop).find("does not exist"), std::string::npos);
  Json bad_feature = Model(Json::array({Stump(kFeatureCount, 1, 0, 0, false)}));
  EXPECT_NE(Refusal(bad_feature).find("does not exist"), std::string::npos);
  EXPECT_NE(Refusal(Json::parse("{}")).find("not an XGBoost JSON model"), std::string::npos);
  EXPECT_EQ(Refusal(Model(Json::array({Stump(0, 1, 0, 0, false)}))), "");
  try {
    ChurnModel::Load("/nonexistent/model.json");
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/model.json: cannot be read");
  }
}

TEST(ChurnModelTest, TheConfigLoadsModelsAndNamesTheKeyOfARefusal) {
  const Config formula = ParseConfig("scoring:\n  churn_model: formula\n");
  EXPECT_EQ(formula.churn_model, nullptr);
  try {
    ParseConfig("scoring:\n  shadow_churn_model: /nonexistent/m.json\n");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "config key scoring.shadow_churn_model: /nonexistent/m.json: cannot be read");
  }
}

TEST(ChurnModelTest, TheLiveModelReplacesTheRiskAndTheShadowSitsBeside) {
  Config config;
  const size_t health = Index("health");
  // p = sigmoid(2) = 0.8808 below health 60, sigmoid(-2) = 0.1192 above: risk 88 / 12.
  config.churn_model =
      ChurnModel::Parse(Model(Json::array({Stump(health, 60, 2, -2, false)})).dump(), "a");
  config.shadow_churn_model =
      ChurnModel::Parse(Model(Json::array({Stump(health, 60, 0.1, -0.1, false)})).dump(), "b");
  CoreKpis kpis;
  Scores scores;
  scores.health = 50;
  scores.risk = 31;
  ApplyChurnModels(config, kpis, &scores);
  EXPECT_EQ(scores.risk, 88);
  EXPECT_EQ(scores.risk_level, v1::HealthSnapshot::HIGH);
  EXPECT_EQ(scores.shadow_risk, 52);  // sigmoid(0.1) = 0.525
  scores.health = 90;
  ApplyChurnModels(config, kpis, &scores);
  EXPECT_EQ(scores.risk, 12);
  EXPECT_EQ(scores.risk_level, v1::HealthSnapshot::LOW);
  EXPECT_EQ(scores.shadow_risk, 48);
  // Without models the formula's scores stand.
  Scores formula;
  formula.risk = 31;
  ApplyChurnModels(Config{}, kpis, &formula);
  EXPECT_EQ(formula.risk, 31);
  EXPECT_EQ(formula.shadow_risk, -1);
  // The formula as the shadow of a live model.
  Config switched = ParseConfig("scoring:\n  shadow_churn_model: formula\n");
  switched.churn_model = config.churn_model;
  EXPECT_TRUE(switched.shadow_formula);
  EXPECT_EQ(ParseConfig("scoring:\n  shadow_churn_model: none\n").shadow_formula, false);
  Scores both;
  both.health = 50;
  both.risk = 31;
  ApplyChurnModels(switched, kpis, &both);
  EXPECT_EQ(both.risk, 88);
  EXPECT_EQ(both.shadow_risk, 31);
}

TEST(ChurnModelTest, FeaturesAreTheKpisAndScoresByName) {
  CoreKpis k;
  k.usage_r30d = 120;
  k.days_overdue = 45;
  k.credit_hold = true;
  k.nps_latest = 4;
  k.days_to_renewal = 30;
  k.health_change_7d = -12;
  Scores s;
  s.components = {5000, 10000, 6000, 4000};
  s.health = 64;
  Features f;
  ComputeFeatures(k, s, &f);
  EXPECT_EQ(f[Index("usage_r30d")], 120);
  EXPECT_EQ(f[Index("days_overdue")], 45);
  EXPECT_EQ(f[Index("credit_hold")], 1);
  EXPECT_EQ(f[Index("nps_latest")], 4);
  EXPECT_EQ(f[Index("days_to_renewal")], 30);
  EXPECT_EQ(f[Index("health_change_7d")], -12);
  EXPECT_EQ(f[Index("usage_score")], 50);
  EXPECT_EQ(f[Index("financial_score")], 60);
  EXPECT_EQ(f[Index("engagement_score")], 40);
  EXPECT_EQ(f[Index("health")], 64);
  EXPECT_TRUE(std::isnan(f[Index("csat_avg_r90d")]));  // absent: missing
  EXPECT_TRUE(std::isnan(f[Index("tenure_days")]));
  EXPECT_TRUE(std::isnan(f[Index("days_since_last_usage")]));
}

}  // namespace
}  // namespace c360
