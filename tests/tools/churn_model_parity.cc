// churn_model_parity MODEL.json FEATURES.csv PREDICTIONS.csv
//
// The parity oracle of SPEC section 10 (tests/integration/churn_model_test.py): for every
// row of PREDICTIONS.csv (customer_id, day, probability: what Python's XGBoost predicted,
// written by scripts/train-churn-model --predictions) takes the row's features from
// FEATURES.csv (`c360 features` output) and compares c360's evaluator (ChurnModel) with
// Python's probability and with libxgboost's C API (XGBoosterPredictFromDense) on the
// same model. Prints one JSON line: rows, the largest differences, and how many were
// bit-identical; exits 1 if a difference exceeds 1e-6 or a row is missing.

#include <xgboost/c_api.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "scoring/churn_model.h"

namespace {

// RFC 4180 fields of one line (no line breaks inside quotes: customer ids here have none).
std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

[[noreturn]] void Fail(const std::string& why) {
  std::cerr << "churn_model_parity: " << why << std::endl;
  std::exit(2);
}

void Check(int rc, const char* what) {
  if (rc != 0) Fail(std::string(what) + ": " + XGBGetLastError());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) Fail("usage: churn_model_parity MODEL.json FEATURES.csv PREDICTIONS.csv");
  const auto model = c360::ChurnModel::Load(argv[1]);

  // Features by (customer_id, day).
  std::map<std::pair<std::string, std::string>, c360::Features> features;
  {
    std::ifstream in(argv[2]);
    std::string line;
    std::getline(in, line);
    const std::vector<std::string> header = Fields(line);
    if (header.size() != 4 + c360::kFeatureCount) Fail("FEATURES.csv: unexpected header");
    while (std::getline(in, line)) {
      const std::vector<std::string> f = Fields(line);
      c360::Features row;
      for (size_t i = 0; i < c360::kFeatureCount; ++i) {
        const std::string& v = f.at(4 + i);
        row[i] = v.empty() ? std::nan("") : std::stod(v);
      }
      features[{f[0], f[1]}] = row;
    }
  }
  std::vector<c360::Features> rows;
  std::vector<double> python;
  {
    std::ifstream in(argv[3]);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      const std::vector<std::string> f = Fields(line);
      const auto found = features.find({f.at(0), f.at(1)});
      if (found == features.end()) Fail("no features for " + f[0] + " " + f[1]);
      rows.push_back(found->second);
      python.push_back(std::stod(f.at(2)));
    }
  }
  if (rows.empty()) Fail("PREDICTIONS.csv has no rows");

  // libxgboost's C API on the same rows, one call for all of them.
  BoosterHandle booster = nullptr;
  Check(XGBoosterCreate(nullptr, 0, &booster), "XGBoosterCreate");
  Check(XGBoosterLoadModel(booster, argv[1]), "XGBoosterLoadModel");
  std::vector<double> dense;
  dense.reserve(rows.size() * c360::kFeatureCount);
  for (const c360::Features& row : rows) dense.insert(dense.end(), row.begin(), row.end());
  std::ostringstream array;
  array << R"({"data": [)" << reinterpret_cast<uintptr_t>(dense.data()) << R"(, true], "shape": [)"
        << rows.size() << ", " << c360::kFeatureCount << R"(], "typestr": "<f8", "version": 3})";
  const char* config = R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0,)"
                       R"( "strict_shape": false, "missing": NaN, "cache_id": 0})";
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* capi = nullptr;
  Check(XGBoosterPredictFromDense(booster, array.str().c_str(), config, nullptr, &shape, &dims,
                                  &capi),
        "XGBoosterPredictFromDense");

  double max_python = 0, max_capi = 0;
  int64_t same_python = 0, same_capi = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const float ours = model->Probability(rows[i]);
    const double dp = std::fabs(static_cast<double>(ours) - python[i]);
    const double dc = std::fabs(static_cast<double>(ours) - static_cast<double>(capi[i]));
    max_python = std::max(max_python, dp);
    max_capi = std::max(max_capi, dc);
    same_python += ours == static_cast<float>(python[i]);  // 9 digits: a float exactly
    same_capi += ours == capi[i];
  }
  XGBoosterFree(booster);
  const nlohmann::json report = {{"rows", rows.size()},
                                 {"trees", model->trees()},
                                 {"max_abs_diff_python", max_python},
                                 {"max_abs_diff_capi", max_capi},
                                 {"identical_python", same_python},
                                 {"identical_capi", same_capi}};
  std::cout << report.dump() << std::endl;
  return max_python <= 1e-6 && max_capi <= 1e-6 ? 0 : 1;
}
