#pragma once
// The HTTP server of c360 (SPEC section 8), on Boost.Beast: one I/O thread serves every
// connection asynchronously, so a slow or hostile client costs a socket and a timer, never
// a thread. Each request's head and body must arrive within `request_timeout` (a client
// sending one byte every few seconds is cut off), heads are capped at `max_header_bytes`
// (431), bodies at `max_body_bytes` (413, read no further), connections at
// `max_connections`. Routing and every check on the request's bytes are the Router's
// (router.h). Cheap routes (probes, metrics) are answered on the I/O thread itself; the
// others run on a small worker pool with a bounded queue (503 when it is full), so a burst
// of expensive API requests never delays /healthz, /readyz or /metrics.
//
// Routes are added before Start(); handlers run on the server's threads, so a handler may
// only touch what is safe to read while the engine processes. Stop() (or the destructor)
// closes every connection and joins the threads.

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "services/http/router.h"

namespace c360 {

class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HttpServerOptions {
  size_t max_header_bytes = 16 << 10;  // request line and headers
  size_t max_body_bytes = 64 << 10;
  // For a request's head and body to arrive, counted from the connection or the previous
  // response; also how long an idle keep-alive connection stays open.
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds write_timeout{30'000};
  size_t max_connections = 1024;  // more are closed at once (the probes' own stay possible
                                  // on an --admin-http listener)
  int workers = 4;                // threads for kWork routes; 0: everything on the I/O thread
  size_t max_queued = 256;        // kWork requests waiting for a worker, beyond which 503
  // On a loopback address, requests must name it (or localhost, or one of these) in Host.
  std::vector<std::string> allowed_hosts;
  std::string auth_token;     // non-empty: /api/ needs "Authorization: Bearer <token>"
  std::string tls_cert_file;  // both set: HTTPS (PEM certificate chain and private key)
  std::string tls_key_file;
  // Called on the I/O thread once per answered request: the route's pattern ("other" when
  // none matched) and the status.
  std::function<void(const std::string& route, int status)> on_response;
};

class HttpServer {
 public:
  using Handler = Router::Handler;

  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `pattern`: see Router::Get.
  void Get(const std::string& pattern, Handler handler, Router::Cost cost = Router::Cost::kWork);
  // The routes, to add to before Start().
  Router& router();
  // Binds HOST:PORT (port 0: any free port), loads the TLS files if set, and serves on a
  // background thread. Throws HttpError naming the address or file when it cannot.
  void Start(const std::string& address);
  void Stop();
  int port() const;
  const std::string& host() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c360
