#include "services/demo/demo_command.h"

#include <iostream>

#include "common/shutdown.h"
#include "services/broker/embedded_broker.h"
#include "services/engine/engine_command.h"
#include "services/generator/gen_command.h"

namespace c360 {

CLI::App* AddDemoCommand(CLI::App& app, DemoOptions* o) {
  CLI::App* cmd = app.add_subcommand(
      "demo", "Start the embedded broker and the generator: replay simulated history fast, "
              "then go live; Ctrl-C stops");
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
  return cmd;
}

int RunDemo(const DemoOptions& options) {
  BrokerOptions broker_options;
  broker_options.partitions = options.partitions;
  std::unique_ptr<EmbeddedBroker> broker;
  try {
    broker = EmbeddedBroker::Start(broker_options);
  } catch (const KafkaError& e) {
    std::cerr << "c360 demo: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "demo: embedded broker at " << broker->bootstrap() << " ("
            << options.partitions << " partitions per topic)" << std::endl;
  std::cout << "demo: replaying " << options.days << " days of history for "
            << options.customers << " customers, then producing live; Ctrl-C stops"
            << std::endl;
  std::cout << "demo: watch the events with: build/c360 tail --brokers " << broker->bootstrap()
            << " --topic c360.tickets" << std::endl;

  gen::GenOptions gen;
  gen.brokers = broker->bootstrap();
  gen.customers = options.customers;
  gen.days = options.days;
  gen.seed = options.seed;
  gen.live = true;
  const int rc = gen::RunGen(gen, std::cout, [] { return shutdown::Requested(); });
  broker.reset();
  std::cout << "demo: stopped" << std::endl;
  return rc;
}

}  // namespace c360
