#pragma once
// `c360 demo`: the whole system on one machine: the embedded broker and the generator
// replaying simulated history fast, then live until Ctrl-C.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace c360 {

struct DemoOptions {
  int customers = 200;
  int days = 60;
  uint64_t seed = 1;
  int partitions = 4;
  std::string http = "127.0.0.1:8080";
  // The engine's config (scores, rules, scoring.churn_model, ...); the demo keeps the
  // default topic names.
  std::string config_path;
};

CLI::App* AddDemoCommand(CLI::App& app, DemoOptions* options);
int RunDemo(const DemoOptions& options);

}  // namespace c360
