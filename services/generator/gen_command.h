#pragma once
// `c360 gen`: produces a Simulation's records into Kafka, keyed by customer_id with one
// partitioner for every topic (murmur2, Java's), so each customer sits in the same
// partition number of every input topic.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

#include "common/topics.h"

namespace c360::gen {

struct GenOptions {
  std::string brokers;
  std::string config_path;  // the engine's config: its kafka.* properties and topic names
  int customers = 100;
  double rate = 0;     // events/s; 0 = as fast as possible
  int64_t events = 0;  // stop after this many records (profiles included); 0 = no cap
  int days = 60;
  uint64_t seed = 1;
  std::string start;  // YYYY-MM-DD; empty = today (UTC) minus `days`
  std::string format = "protobuf";
  bool live = false;  // after the history, go on in real time until stopped
  TopicNames topics;
  std::map<std::string, std::string> kafka;  // librdkafka properties over gen's defaults
  std::function<void()> on_history_done;     // called once the history is delivered (demo)
};

CLI::App* AddGenCommand(CLI::App& app, GenOptions* options);

// Runs the generator; prints one summary line per topic to `out`. Returns the exit code.
// `stop` is polled between records (shutdown signal in the CLI, a flag in tests).
int RunGen(const GenOptions& options, std::ostream& out, const std::function<bool()>& stop);

}  // namespace c360::gen
