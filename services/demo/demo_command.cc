#include "services/demo/demo_command.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "c360/v1/alert.pb.h"
#include "common/shutdown.h"
#include "scoring/churn_model.h"
#include "scoring/config.h"
#include "services/broker/embedded_broker.h"
#include "services/engine/engine.h"
#include "services/engine/engine_command.h"
#include "services/engine/engine_http.h"
#include "services/generator/gen_command.h"

namespace c360 {
namespace {

// One readable line per alert: time, customer, rule, state, severity, message.
std::string AlertLine(const v1::AlertEvent& a) {
  const std::string when = FormatRfc3339(ToMs(a.stream_time())).substr(0, 16);
  char head[160];
  std::snprintf(head, sizeof head, "%s  %-10s  %-18s  %-8s  %-8s  ", when.c_str(),
                a.customer_id().c_str(), v1::AlertEvent::Rule_Name(a.rule()).c_str(),
                v1::AlertEvent::State_Name(a.state()).c_str(),
                v1::AlertEvent::Severity_Name(a.severity()).c_str());
  return head + a.message();
}

}  // namespace

CLI::App* AddDemoCommand(CLI::App& app, DemoOptions* o) {
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Run everything on this machine: embedded broker, generator (simulated history "
      "fast, then live) and engine; prints each alert; Ctrl-C stops");
  cmd->add_option("--customers", o->customers, "Simulated customers")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  cmd->add_option("--days", o->days, "Days of history to replay")
      ->check(CLI::Range(1, 365))
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("--partitions", o->partitions, "Partitions per topic")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--http", o->http, "HTTP listen address")
      ->check(CheckListenAddress)
      ->capture_default_str();
  cmd->add_option("--config", o->config_path,
                  "Engine config (YAML): scores, rules, scoring.churn_model, ... (docs/config.md)");
  return cmd;
}

int RunDemo(const DemoOptions& options) {
  Config config;
  try {
    if (!options.config_path.empty()) config = LoadConfig(options.config_path);
  } catch (const ConfigError& e) {
    std::cerr << "c360 demo: " << e.what() << std::endl;
    return 2;
  }
  for (InputTopic t : kAllInputTopics) {
    if (config.topics.Input(t) != TopicNames{}.Input(t)) {
      std::cerr << "c360 demo: config key topics." << TopicNames{}.Input(t).substr(5)
                << ": the demo uses the default topic names" << std::endl;
      return 2;
    }
  }
  BrokerOptions broker_options;
  broker_options.partitions = options.partitions;
  std::unique_ptr<EmbeddedBroker> broker;
  try {
    broker = EmbeddedBroker::Start(broker_options);
  } catch (const KafkaError& e) {
    std::cerr << "c360 demo: " << e.what() << std::endl;
    return 1;
  }
  char state_template[] = "/tmp/c360-demo-XXXXXX";
  if (mkdtemp(state_template) == nullptr) {
    std::cerr << "c360 demo: cannot create a state directory in /tmp" << std::endl;
    return 1;
  }
  const std::filesystem::path state_dir = state_template;
  std::mutex print_mu;
  const auto say = [&](const std::string& line) {
    std::lock_guard lock(print_mu);
    std::cout << line << std::endl;
  };
  say("demo: embedded broker at " + broker->bootstrap() + " (" +
      std::to_string(options.partitions) + " partitions per topic), state in " +
      state_dir.string());
  say("demo: replaying " + std::to_string(options.days) + " days of history for " +
      std::to_string(options.customers) + " customers, then live; Ctrl-C stops");

  if (config.churn_model) {
    say("demo: churn risk from the model " + config.churn_model->name() + " (" +
        std::to_string(config.churn_model->trees()) + " trees)");
  }
  if (config.shadow_churn_model) {
    say("demo: shadow churn model " + config.shadow_churn_model->name() +
        " (shadow_risk on snapshots, c360_shadow_* metrics)");
  }
  EngineSettings settings;
  settings.config = config;
  settings.brokers = broker->bootstrap();
  settings.group = "c360-demo";
  settings.state_dir = state_dir.string();
  settings.wall_clock = true;
  auto engine_owner = std::make_unique<Engine>(settings, SystemClock::Instance());
  Engine& engine = *engine_owner;
  HttpServer http(EngineHttpOptions(engine));
  AddEngineRoutes(http, engine, SystemClock::Instance(), settings.group);
  try {
    http.Start(options.http);
  } catch (const HttpError& e) {
    std::cerr << "c360 demo: " << e.what() << std::endl;
    return 1;
  }
  say("demo: the Customer 360 page is http://" + options.http +
      "/ (also /metrics, /healthz, /readyz)");
  engine.OnDelivered([&](const state::v1::OutboxEntry& entry) {
    if (entry.topic() != settings.config.topics.alerts) return;
    v1::AlertEvent alert;
    if (alert.ParseFromString(entry.value())) say(AlertLine(alert));
  });
  std::thread engine_thread;
  int rc = 0;
  // The engine starts once the history is in the broker, so that it replays history
  // before its stream time follows the wall clock.
  gen::GenOptions gen;
  gen.brokers = broker->bootstrap();
  gen.customers = options.customers;
  gen.days = options.days;
  gen.seed = options.seed;
  gen.live = true;
  gen.on_history_done = [&] {
    say("demo: history is in the broker; the engine replays it, then follows live events");
    try {
      engine.Start();
    } catch (const EngineError& e) {
      std::cerr << "c360 demo: " << e.what() << std::endl;
      rc = 1;
      shutdown::Request();
      return;
    }
    engine_thread = std::thread([&] {
      try {
        engine.Run([] { return shutdown::Requested(); });
      } catch (const EngineError& e) {
        std::cerr << "c360 demo: " << e.what() << std::endl;
        rc = 1;
        shutdown::Request();
      }
    });
  };
  std::ostringstream gen_summary;
  const int gen_rc = gen::RunGen(gen, gen_summary, [] { return shutdown::Requested(); });
  if (engine_thread.joinable()) engine_thread.join();
  http.Stop();
  engine_owner.reset();  // before the broker it talks to
  say(gen_summary.str() + "demo: stopped");
  broker.reset();
  std::error_code ignored;
  std::filesystem::remove_all(state_dir, ignored);
  return rc != 0 ? rc : gen_rc;
}

}  // namespace c360
