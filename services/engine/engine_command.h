#pragma once
// `c360 engine`: the service's command line (SPEC section 7). Flags are parsed and
// validated here, before anything starts; the processing itself is built in
// services/engine/ (see docs/architecture.md for what exists so far).

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "services/engine/engine.h"

namespace c360 {

struct EngineOptions {
  std::string brokers;
  std::string config_path;
  std::string state_dir;  // empty: DefaultStateDir(group)
  std::string http = "127.0.0.1:8080";
  std::string admin_http;  // empty: the probes and metrics are served on `http` only
  std::string clock = "wall";
  std::string group = "c360";
  std::string output_format = "protobuf";
  std::string log_level;  // --log-level (C360_LOG_LEVEL); empty: the config's log_level
};

CLI::App* AddEngineCommand(CLI::App& app, EngineOptions* options);
int RunEngine(const EngineOptions& options);

// Settings from validated flags and the config file; on a config error prints one line,
// sets *exit_code to 2 and returns nullopt.
std::optional<EngineSettings> EngineSettingsFrom(const EngineOptions& options, int* exit_code);

// Where the engine keeps its state when --state-dir is not given: $XDG_STATE_HOME/c360/GROUP,
// else $HOME/.local/state/c360/GROUP (the XDG base directory specification's place for
// state), never the working directory, which may be a source tree. "" and *why_not when
// neither variable is an absolute path or the group cannot name a directory.
std::string DefaultStateDir(const std::string& group, std::string* why_not);

// "HOST:PORT" with a port in 0..65535: empty string if valid, else why not (CLI11 style).
std::string CheckListenAddress(const std::string& address);

}  // namespace c360
