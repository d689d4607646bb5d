#pragma once
// The engine's HTTP endpoints (SPEC section 8) on an HttpServer: GET /metrics (Prometheus
// text), GET /healthz (the process answers), GET /readyz (200 when tasks are assigned,
// restored and caught up; 503 with the reason otherwise), answered on the server's I/O
// thread so that they answer whatever else the server is doing; and the Customer 360 API
// and page (services/api/customer_api.h) over the engine's state, on its workers.
// Handlers only call the engine's thread-safe accessors. `engine` must outlive the
// server's Stop().

#include "services/engine/engine.h"
#include "services/http/http_server.h"

namespace c360 {

// The server's options from the engine's config (http.*), counting every answer in
// http_requests_total.
HttpServerOptions EngineHttpOptions(const Engine& engine);

// The probes and /metrics only: what an --admin-http listener serves.
void AddProbeRoutes(HttpServer& server, const Engine& engine);
// The probes, /metrics, the API and the page.
void AddEngineRoutes(HttpServer& server, const Engine& engine, const Clock& clock,
                     const std::string& group);

}  // namespace c360
