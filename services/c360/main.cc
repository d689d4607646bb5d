// The one c360 binary: `c360 <command> [flags]`. Flags are validated before anything
// starts; a bad one gets one line on stderr naming it and exit code 2. Every flag can also
// come from the environment (containers): --state-dir from C360_STATE_DIR, and so on; a
// flag given on the command line wins.

#include <CLI/CLI.hpp>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <iostream>
#include <string>
#include <vector>

#include "common/logfmt.h"
#include "common/shutdown.h"
#include "common/version.h"
#include "services/broker/broker_command.h"
#include "services/demo/demo_command.h"
#include "services/engine/engine_command.h"
#include "services/features/features_command.h"
#include "services/notify/notify_command.h"
#include "services/generator/gen_command.h"
#include "services/tail/tail_command.h"

#ifdef C360_JEMALLOC
// jemalloc's options, read when it starts (an operator's MALLOC_CONF adds to them): freed
// pages go back to the system after a second instead of ten, by a thread of jemalloc's own,
// so that memory a catch-up's batch used does not stay in the process's RSS
// (docs/performance.md, "RSS").
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's.
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

namespace {

constexpr int kUsageError = 2;

// C360_STATE_DIR for --state-dir: each command's flags from the environment.
void FlagsFromEnvironment(CLI::App& app) {
  for (CLI::App* command : app.get_subcommands([](CLI::App*) { return true; })) {
    for (CLI::Option* option : command->get_options()) {
      const std::vector<std::string>& names = option->get_lnames();
      if (names.empty() || names[0] == "help") continue;
      std::string env = "C360_" + names[0];
      for (char& c : env) c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
      option->envname(env);
    }
  }
}

// libprotobuf's own log lines, in the logfmt log. A failed parse ("... when parsing a
// protocol buffer", e.g. invalid UTF-8) is already a dead letter with that reason, so it
// is debug detail; anything else keeps its weight.
void ProtobufLog(google::protobuf::LogLevel level, const char* file, int line,
                 const std::string& message) {
  spdlog::level::level_enum as = spdlog::level::warn;
  if (level == google::protobuf::LOGLEVEL_INFO) as = spdlog::level::info;
  if (level == google::protobuf::LOGLEVEL_FATAL) as = spdlog::level::critical;
  if (level != google::protobuf::LOGLEVEL_FATAL &&
      message.find("parsing a protocol buffer") != std::string::npos) {
    as = spdlog::level::debug;
  }
  spdlog::log(as, "event=protobuf_log source={}:{} message={}", file, line,
              c360::LogValue(message));
}

}  // namespace

int main(int argc, char** argv) {
  c360::shutdown::Install();
  // Logs go to stderr: stdout is for what a command prints (addresses, alerts, summaries).
  // One line per event of note, logfmt: ts=... level=... event=... key=value ...
  spdlog::set_default_logger(spdlog::stderr_logger_mt("c360"));
  spdlog::set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  google::protobuf::SetLogHandler(&ProtobufLog);

  CLI::App app{"c360: streaming customer health (Kafka in, scores and alerts out)", "c360"};
  app.set_version_flag("--version", "c360 " + std::string(c360::kVersion));
  app.require_subcommand(1, 1);
  // Options of c360 itself may follow the command: c360 engine --log-level debug ...
  app.fallthrough();
  std::string log_level;
  app.add_option("--log-level", log_level,
                 "Least severe log line written: trace, debug, info, warn, error, critical or "
                 "off (default info, or the engine config's log_level)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->envname("C360_LOG_LEVEL");

  c360::BrokerOptions broker;
  c360::gen::GenOptions gen;
  c360::TailOptions tail;
  c360::EngineOptions engine;
  c360::DemoOptions demo;
  c360::FeaturesOptions features;
  c360::NotifyOptions notify;
  CLI::App* demo_cmd = c360::AddDemoCommand(app, &demo);
  CLI::App* broker_cmd = c360::AddBrokerCommand(app, &broker);
  CLI::App* engine_cmd = c360::AddEngineCommand(app, &engine);
  CLI::App* gen_cmd = c360::gen::AddGenCommand(app, &gen);
  CLI::App* tail_cmd = c360::AddTailCommand(app, &tail);
  CLI::App* features_cmd = c360::AddFeaturesCommand(app, &features);
  CLI::App* notify_cmd = c360::AddNotifyCommand(app, &notify);
  FlagsFromEnvironment(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 checks required flags before unexpected ones; a user is better served by
    // hearing about the flag they mistyped, so name that first.
    std::string command = "c360";
    std::vector<std::string> unexpected = app.remaining();
    for (const CLI::App* sub : app.get_subcommands()) {
      command += " " + sub->get_name();
      for (const std::string& arg : sub->remaining()) unexpected.push_back(arg);
    }
    std::string message = e.what();
    if (!unexpected.empty()) {
      message = "unexpected argument";
      for (const std::string& arg : unexpected) message += " " + arg;
    }
    std::cerr << command << ": " << message << " (see " << command << " --help)" << std::endl;
    return kUsageError;
  }

  if (!log_level.empty()) spdlog::set_level(spdlog::level::from_str(log_level));
  engine.log_level = log_level;

  const auto stop = [] { return c360::shutdown::Requested(); };
  try {
    if (broker_cmd->parsed()) return c360::RunBroker(broker);
    if (gen_cmd->parsed()) return c360::gen::RunGen(gen, std::cout, stop);
    if (tail_cmd->parsed()) return c360::RunTail(tail, std::cout, stop);
    if (engine_cmd->parsed()) return c360::RunEngine(engine);
    if (demo_cmd->parsed()) return c360::RunDemo(demo);
    if (features_cmd->parsed()) return c360::RunFeatures(features, std::cout, stop);
    if (notify_cmd->parsed()) return c360::RunNotify(notify, stop);
  } catch (const c360::KafkaError& e) {
    std::cerr << "c360: " << e.what() << std::endl;
    return 1;
  }
  return kUsageError;
}
