#pragma once
// `c360 notify` (SPEC section 11, docs/notify.md): reads c360.alerts in its own consumer
// group and delivers each alert to every route that matches it (route_worker.h). An
// alert's offset is committed only once every matching route has delivered it or put it
// on c360.notify.deadletter (and the broker confirmed that): at least once, across
// kill -9 included; receivers deduplicate on X-C360-Delivery. Serves /metrics and /healthz
// on --http.

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace c360 {

struct NotifyOptions {
  std::string brokers;
  std::string config_path;
  std::string http = "127.0.0.1:9464";
};

CLI::App* AddNotifyCommand(CLI::App& app, NotifyOptions* options);
int RunNotify(const NotifyOptions& options, const std::function<bool()>& stop);

}  // namespace c360
