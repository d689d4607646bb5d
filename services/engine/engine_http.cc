#include "services/engine/engine_http.h"

#include <nlohmann/json.hpp>

namespace c360 {

void AddEngineRoutes(HttpServer& server, const Engine& engine) {
  server.Get("/metrics", [&engine](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", engine.RenderMetrics()};
  });
  server.Get("/healthz", [](const HttpRequest&) {
    return HttpResponse{200, "application/json", R"({"status":"ok"})" "\n"};
  });
  server.Get("/readyz", [&engine](const HttpRequest&) {
    const Readiness r = engine.readiness();
    const EngineStats s = engine.stats();
    nlohmann::json tasks = nlohmann::json::array();
    for (const auto& [task, time] : s.stream_time_by_task) tasks.push_back(task);
    const nlohmann::json body = {{"ready", r.ready}, {"reason", r.reason}, {"tasks", tasks}};
    return HttpResponse{r.ready ? 200 : 503, "application/json", body.dump() + "\n"};
  });
}

}  // namespace c360
