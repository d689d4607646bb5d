#pragma once
// `c360 tail`: prints a topic as JSON lines, one message per line. Alerts by default;
// health snapshots, input topics and dead letters (with their headers) too.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <string>

#include "common/topics.h"

namespace c360 {

struct TailOptions {
  std::string brokers;
  std::string config_path;  // the engine's config: its kafka.* properties and topic names
  std::string topic;        // empty: topics.alerts
  bool from_beginning = false;
  int64_t count = 0;  // stop after N messages; 0: until stopped
  TopicNames topics;
  std::map<std::string, std::string> kafka;  // librdkafka properties over tail's defaults
};

CLI::App* AddTailCommand(CLI::App& app, TailOptions* options);
int RunTail(const TailOptions& options, std::ostream& out, const std::function<bool()>& stop);

}  // namespace c360
