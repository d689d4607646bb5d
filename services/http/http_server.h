#pragma once
// The HTTP server of c360 (SPEC section 8), on cpp-httplib and its thread pool.
//
// Routes are registered before Start(); handlers then run on the server's threads, so a
// handler may only touch what is safe to read while the engine processes (the engine's
// thread-safe accessors). Unknown paths and methods get a JSON error. Stop() (or the
// destructor) waits for requests in progress.

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace c360 {

class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HttpRequest {
  std::string path;
  // Path parameters matched by the route ("/api/v1/customers/(.+)" -> matches[1]).
  std::vector<std::string> matches;
  std::function<std::string(const std::string& name)> param;  // "" when absent
  std::function<bool(const std::string& name)> has_param;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// {"error": error, "detail": detail} with `status`.
HttpResponse JsonError(int status, const std::string& error, const std::string& detail);

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `pattern` is a regular expression over the whole path.
  void Get(const std::string& pattern, Handler handler);
  // Binds HOST:PORT (port 0: any free port) and serves on a background thread. Throws
  // HttpError naming the address when it cannot bind.
  void Start(const std::string& address);
  void Stop();
  // The bound port (after Start).
  int port() const { return port_; }
  const std::string& host() const { return host_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};
  std::string host_;
  int port_ = 0;
};

}  // namespace c360
