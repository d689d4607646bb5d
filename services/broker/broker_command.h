#pragma once
// `c360 broker`: runs the embedded broker until SIGINT/SIGTERM. Its first line on stdout
// is the bootstrap address.

#include <CLI/CLI.hpp>

#include "services/broker/embedded_broker.h"

namespace c360 {

CLI::App* AddBrokerCommand(CLI::App& app, BrokerOptions* options);
int RunBroker(const BrokerOptions& options);

}  // namespace c360
