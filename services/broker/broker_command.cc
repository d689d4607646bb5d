#include "services/broker/broker_command.h"

#include <chrono>
#include <iostream>
#include <string>
#include <mutex>
#include <thread>

#include "common/shutdown.h"

namespace c360 {

CLI::App* AddBrokerCommand(CLI::App& app, BrokerOptions* o) {
  CLI::App* cmd = app.add_subcommand(
      "broker",
      "Embedded Kafka-protocol broker (librdkafka mock cluster) on 127.0.0.1 for "
      "development and tests; prints its bootstrap address first. Keeps about "
      "5 MiB per partition.");
  cmd->add_option("--port", o->port, "Bootstrap port on 127.0.0.1 (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--partitions", o->partitions, "Partitions of every c360 topic")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_flag("--faults", o->faults,
                "Read fault-injection commands from stdin, one per line (tests): down ID, "
                "up ID, rtt ID MS, errors API_KEY COUNT ERROR_CODE; answers 'ok' or "
                "'error: ...' on stdout");
  return cmd;
}

int RunBroker(const BrokerOptions& options) {
  // Static: the detached fault reader below may outlive this function.
  static std::unique_ptr<EmbeddedBroker> broker;
  try {
    broker = EmbeddedBroker::Start(options);
  } catch (const KafkaError& e) {
    std::cerr << "c360 broker: " << e.what() << std::endl;
    return 1;
  }
  std::cout << broker->bootstrap() << std::endl;
  std::cerr << "c360 broker: " << options.partitions << " partitions per topic; Ctrl-C stops"
            << std::endl;
  // The fault reader stays blocked on stdin at exit, so it is detached; the mutex keeps a
  // command from running while the broker goes away.
  static std::mutex mu;
  if (options.faults) {
    std::thread([] {
      std::string line;
      while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        std::lock_guard lock(mu);
        if (!broker) return;
        const std::string error = broker->ApplyFault(line);
        std::cout << (error.empty() ? "ok " + line : "error: " + error) << std::endl;
      }
    }).detach();
  }
  while (!shutdown::WaitFor(std::chrono::seconds(1))) {
  }
  {
    std::lock_guard lock(mu);
    broker.reset();
  }
  std::cerr << "c360 broker: stopped" << std::endl;
  return 0;
}

}  // namespace c360
