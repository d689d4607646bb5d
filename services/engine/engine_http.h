#pragma once
// The engine's operational endpoints (SPEC section 8) on an HttpServer: GET /metrics
// (Prometheus text), GET /healthz (the process answers), GET /readyz (200 when tasks are
// assigned, restored and caught up; 503 with the reason otherwise). Handlers only call the
// engine's thread-safe accessors. `engine` must outlive the server's Stop(). Also the
// Customer 360 API and page (services/api/customer_api.h) over the engine's state.

#include "services/engine/engine.h"
#include "services/http/http_server.h"

namespace c360 {

void AddEngineRoutes(HttpServer& server, const Engine& engine, const Clock& clock,
                     const std::string& group);

}  // namespace c360
