#include "services/engine/engine_command.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

#include "common/kafka_properties.h"
#include "common/log_redaction.h"
#include "common/shutdown.h"
#include "services/engine/engine.h"
#include <unistd.h>

#include "services/engine/engine_http.h"
#include "common/logfmt.h"

namespace c360 {

std::string CheckListenAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return "expected HOST:PORT, e.g. 127.0.0.1:8080, not " + address;
  }
  const std::string port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return "port must be a number in 0..65535 in " + address;
  }
  return {};
}

CLI::App* AddEngineCommand(CLI::App& app, EngineOptions* o) {
  CLI::App* cmd = app.add_subcommand("engine", "Run the c360 streaming engine");
  cmd->add_option("--brokers", o->brokers, "Kafka bootstrap servers")->required();
  cmd->add_option("--config", o->config_path, "YAML config file (docs/config.md)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--state-dir", o->state_dir,
                  "State directory, c360's alone: created with mode 0700 if missing; a "
                  "non-empty directory c360 did not create is refused (default: "
                  "$XDG_STATE_HOME/c360/GROUP, else $HOME/.local/state/c360/GROUP)");
  cmd->add_option("--http", o->http, "HTTP listen address (binding beyond loopback is explicit)")
      ->check(CheckListenAddress)
      ->capture_default_str();
  cmd->add_option("--admin-http", o->admin_http,
                  "Also serve /healthz, /readyz and /metrics (only) on this HOST:PORT, apart "
                  "from the API's connections")
      ->check(CheckListenAddress);
  cmd->add_option("--clock", o->clock,
                  "wall: stream time follows the wall clock when caught "
                  "up; event: only events move it")
      ->check(CLI::IsMember({"wall", "event"}))
      ->capture_default_str();
  cmd->add_option("--group", o->group, "Kafka consumer group")->capture_default_str();
  cmd->add_option("--output-format", o->output_format, "Encoding of output topics")
      ->check(CLI::IsMember({"protobuf", "json"}))
      ->capture_default_str();
  return cmd;
}

std::string DefaultStateDir(const std::string& group, std::string* why_not) {
  if (group.empty() || group == "." || group == ".." || group.find('/') != std::string::npos) {
    *why_not = "the group \"" + group + "\" cannot name a directory: give --state-dir";
    return "";
  }
  // The XDG base directory specification: relative values are to be ignored.
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/c360/" + group;
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.local/state/c360/" + group;
  *why_not = "neither XDG_STATE_HOME nor HOME is an absolute path: give --state-dir";
  return "";
}

std::optional<EngineSettings> EngineSettingsFrom(const EngineOptions& options, int* exit_code) {
  EngineSettings settings;
  settings.brokers = options.brokers;
  settings.group = options.group;
  settings.state_dir = options.state_dir;
  if (settings.state_dir.empty()) {
    std::string why_not;
    settings.state_dir = DefaultStateDir(options.group, &why_not);
    if (settings.state_dir.empty()) {
      std::cerr << "c360 engine: no --state-dir given, and " << why_not << std::endl;
      *exit_code = 2;
      return std::nullopt;
    }
  }
  settings.wall_clock = options.clock == "wall";
  settings.format = options.output_format == "json" ? OutputFormat::kJson : OutputFormat::kProtobuf;
  try {
    if (!options.config_path.empty()) settings.config = LoadConfig(options.config_path);
  } catch (const ConfigError& e) {
    std::cerr << "c360 engine: " << e.what() << std::endl;
    *exit_code = 2;
    return std::nullopt;
  }
  return settings;
}

// Where the group's other engines reach this one (docs/scale.md): http.advertised_address
// if set, else the address --http bound, a wildcard host replaced by this host's name.
std::string AdvertisedAddress(const Config& config, const std::string& host, int port) {
  if (!config.http.advertised_address.empty()) return config.http.advertised_address;
  std::string name = host;
  if (name.empty() || name == "0.0.0.0" || name == "::" || name == "[::]") {
    char buf[256] = {};
    name = gethostname(buf, sizeof buf - 1) == 0 ? buf : "localhost";
  }
  if (name.find(':') != std::string::npos && name.front() != '[') name = "[" + name + "]";
  return name + ":" + std::to_string(port);
}

int RunEngine(const EngineOptions& options) {
  int exit_code = 0;
  std::optional<EngineSettings> settings = EngineSettingsFrom(options, &exit_code);
  if (!settings) return exit_code;
  // The config's secrets (Kafka's, the API token) never reach a log line (librdkafka's
  // included) or an error.
  const Redactor redactor(settings->config.kafka, {settings->config.http.auth_token});
  RedactLogs(redactor);
  // --log-level (or C360_LOG_LEVEL) over the config's log_level.
  spdlog::set_level(spdlog::level::from_str(options.log_level.empty() ? settings->config.log_level
                                                                      : options.log_level));
  Engine engine(std::move(*settings), SystemClock::Instance());
  // The Kafka clients before anything binds or opens: a property set librdkafka refuses
  // only when it builds a client is a config error too (exit 2).
  try {
    engine.CreateClients();
  } catch (const EngineError& e) {
    std::cerr << "c360 engine: " << redactor.Redact(e.what()) << std::endl;
    return 2;
  }
  // HTTP next: /healthz answers and /readyz says why not ready while the engine starts.
  HttpServer http(EngineHttpOptions(engine));
  AddEngineRoutes(http, engine, SystemClock::Instance(), options.group);
  HttpServerOptions admin_options = EngineHttpOptions(engine);
  // Probes and metrics only, all answered on its I/O thread, in plain HTTP (kubelets and
  // Prometheus inside the deployment; docs/api.md): no API, so no token either.
  admin_options.workers = 0;
  admin_options.tls_cert_file.clear();
  admin_options.tls_key_file.clear();
  HttpServer admin(std::move(admin_options));
  AddProbeRoutes(admin, engine);
  try {
    http.Start(options.http);
    if (!options.admin_http.empty()) admin.Start(options.admin_http);
  } catch (const HttpError& e) {
    std::cerr << "c360 engine: " << e.what() << std::endl;
    return 2;
  }
  engine.SetAdvertisedHttp(AdvertisedAddress(engine.config(), http.host(), http.port()));
  try {
    engine.Start();
    engine.Run([] { return shutdown::Requested(); });
  } catch (const EngineRefused& e) {
    spdlog::error("event=engine_refused error={}", LogValue(e.what()));
    std::cerr << "c360 engine: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {  // EngineError; anything else is one too
    spdlog::error("event=engine_failed error={}", LogValue(e.what()));
    std::cerr << "c360 engine: " << e.what() << std::endl;
    return 1;
  }
  http.Stop();
  return 0;
}

}  // namespace c360
