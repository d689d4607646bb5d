#include "services/broker/broker_command.h"

#include <chrono>
#include <iostream>

#include "common/shutdown.h"

namespace c360 {

CLI::App* AddBrokerCommand(CLI::App& app, BrokerOptions* o) {
  CLI::App* cmd = app.add_subcommand(
      "broker", "Embedded Kafka-protocol broker (librdkafka mock cluster) on 127.0.0.1 for "
                "development and tests; prints its bootstrap address first. Keeps about "
                "5 MiB per partition.");
  cmd->add_option("--port", o->port, "Bootstrap port on 127.0.0.1 (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--partitions", o->partitions, "Partitions of every c360 topic")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  return cmd;
}

int RunBroker(const BrokerOptions& options) {
  std::unique_ptr<EmbeddedBroker> broker;
  try {
    broker = EmbeddedBroker::Start(options);
  } catch (const KafkaError& e) {
    std::cerr << "c360 broker: " << e.what() << std::endl;
    return 1;
  }
  std::cout << broker->bootstrap() << std::endl;
  std::cerr << "c360 broker: " << options.partitions << " partitions per topic; Ctrl-C stops"
            << std::endl;
  while (!shutdown::WaitFor(std::chrono::seconds(1))) {
  }
  broker.reset();
  std::cerr << "c360 broker: stopped" << std::endl;
  return 0;
}

}  // namespace c360
