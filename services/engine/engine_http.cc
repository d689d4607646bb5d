#include "services/engine/engine_http.h"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>

#include "services/api/customer_api.h"
#include "common/logfmt.h"

namespace c360 {
namespace {

// Raises the soft limit on open files towards the hard one (RocksDB keeps its files open,
// and every HTTP connection is a descriptor) and returns it: HTTP connections are then
// capped at a quarter of it, so that a flood of connections can never take the
// descriptors the state needs.
rlim_t OpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  const rlim_t wanted =
      limit.rlim_max == RLIM_INFINITY ? 65536 : std::min<rlim_t>(limit.rlim_max, 65536);
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = wanted;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

// How long the group's view of task owners is trusted before the changelog is read again.
constexpr auto kOwnersMaxAge = std::chrono::seconds(2);

// A GET on another engine of the group (docs/scale.md): over HTTPS when this engine serves
// HTTPS (the peer's certificate checked against this engine's own, the group's), with the
// API token when one is set.
api::PeerFetch PeerFetcher(const Engine& engine) {
  return [&engine](const std::string& address,
                   const std::string& target) -> std::optional<HttpResponse> {
    const Config::Http& http = engine.config().http;
    const bool tls = !http.tls_cert_file.empty();
    httplib::Client client((tls ? "https://" : "http://") + address);
    if (tls) client.set_ca_cert_path(http.tls_cert_file.c_str());
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(30, 0);
    httplib::Headers headers;
    if (!http.auth_token.empty()) headers.emplace("Authorization", "Bearer " + http.auth_token);
    httplib::Result r = client.Get(target.c_str(), headers);
    if (!r) {
      spdlog::warn("event=peer_unreachable peer={} error={}", LogValue(address),
                   LogValue(httplib::to_string(r.error())));
      return std::nullopt;
    }
    HttpResponse out{r->status, r->get_header_value("Content-Type"), r->body, {}};
    if (r->has_header("Retry-After")) {
      out.headers.emplace_back("Retry-After", r->get_header_value("Retry-After"));
    }
    return out;
  };
}

}  // namespace

HttpServerOptions EngineHttpOptions(const Engine& engine) {
  HttpServerOptions options;
  static const rlim_t open_files = OpenFileLimit();
  options.max_connections = std::min<size_t>(options.max_connections, open_files / 4);
  const Config::Http& http = engine.config().http;
  options.allowed_hosts = http.allowed_hosts;
  options.auth_token = http.auth_token;
  options.tls_cert_file = http.tls_cert_file;
  options.tls_key_file = http.tls_key_file;
  options.on_response = [&engine](const std::string& route, int status) {
    engine.CountHttpRequest(route, status);
  };
  return options;
}

void AddProbeRoutes(HttpServer& server, const Engine& engine) {
  constexpr auto kCheap = Router::Cost::kCheap;
  server.Get(
      "/metrics",
      [&engine](const HttpRequest&) {
        return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                            engine.RenderMetrics()};
      },
      kCheap);
  server.Get(
      "/healthz",
      [](const HttpRequest&) {
        return HttpResponse{200, "application/json",
                            R"({"status":"ok"})"
                            "\n"};
      },
      kCheap);
  server.Get(
      "/readyz",
      [&engine](const HttpRequest&) {
        const Readiness r = engine.readiness();
        const EngineStats s = engine.stats();
        nlohmann::json tasks = nlohmann::json::array();
        for (const auto& [task, time] : s.stream_time_by_task) tasks.push_back(task);
        const nlohmann::json body = {{"ready", r.ready}, {"reason", r.reason}, {"tasks", tasks}};
        return HttpResponse{r.ready ? 200 : 503, "application/json", body.dump() + "\n"};
      },
      kCheap);
}

void AddEngineRoutes(HttpServer& server, const Engine& engine, const Clock& clock,
                     const std::string& group) {
  auto ownership = [&engine, group] {
    const EngineStats s = engine.stats();
    api::Ownership own;
    for (const auto& [task, time] : s.stream_time_by_task)
      own.tasks.push_back(static_cast<uint16_t>(task));
    own.task_count = s.partitions;
    own.group = group;
    own.self = engine.advertised_http();
    own.standbys = engine.standbys();
    own.owners = [&engine] { return engine.Owners(kOwnersMaxAge); };
    return own;
  };
  api::CustomerApi::Register(std::make_shared<const api::CustomerApi>(
                                 engine.config(), clock, [&engine] { return engine.state(); },
                                 ownership, PeerFetcher(engine), engine.row_index()),
                             server.router());
  AddProbeRoutes(server, engine);
}

}  // namespace c360
