#pragma once
// `c360 features` (SPEC section 10): replays the input topics from their beginning with the
// event clock into a temporary state in memory (every task at once, each customer about
// 1 KB), publishing nothing, and writes a CSV of labelled feature vectors for training a
// churn model (docs/churn-model.md):
//
//   customer_id,day,label,formula_risk,<kFeatureNames...>
//
// one row per customer at the end of every N-th day (days since 1970-01-01 divisible by
// N), labelled 1 when its profile's churned_on falls within the next H days and 0 when it
// is still a customer H days later. Rows whose outcome the input cannot tell yet, and rows
// of customers already churned that day, are left out. Numbers are printed with %.17g, so
// they read back exactly; an absent KPI is an empty field. The same input gives the same
// file, byte for byte: tasks in partition order, rows by day, then customer_id.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace c360 {

struct FeaturesOptions {
  std::string brokers;
  std::string out;
  std::string config_path;  // topics, kafka.* and scoring keys, as the engine's
  int every_days = 7;
  int horizon_days = 90;
};

CLI::App* AddFeaturesCommand(CLI::App& app, FeaturesOptions* options);
// Returns the exit code; prints a summary line (rows, labels) to `out`.
int RunFeatures(const FeaturesOptions& options, std::ostream& out,
                const std::function<bool()>& stop);

}  // namespace c360
