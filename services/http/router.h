#pragma once
// Routing of c360's HTTP requests, apart from sockets (SPEC section 8): a request's method,
// target and headers are untrusted bytes; Route() decides, without running a handler,
// whether they are answered with an error (bad escapes or UTF-8, a foreign Host, a
// missing token, an unknown path or method) or by which route. Handlers see only decoded,
// valid UTF-8 paths and parameters. Errors are JSON {"error", "detail"} that never echo
// bytes a client sent unless they were valid UTF-8, and never carry an exception's text.
//
// Routes are added before serving; afterwards a Router is read-only and thread-safe.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace c360 {

struct HttpRequest {
  std::string method;  // GET or HEAD (a handler answers both alike)
  std::string path;    // percent-decoded, valid UTF-8
  // matches[0] is the path; then each {placeholder} of the route's pattern, decoded.
  std::vector<std::string> matches;
  // Query parameters, decoded ('+' is a space), valid UTF-8, in request order.
  std::vector<std::pair<std::string, std::string>> query;

  // The first value of `name`, "" when absent.
  std::string param(std::string_view name) const;
  bool has_param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Beyond Content-Type and Content-Length (Allow, WWW-Authenticate, Retry-After).
  std::vector<std::pair<std::string, std::string>> headers;
};

// {"error": error, "detail": detail} with `status`. Bytes that are not UTF-8 are replaced.
HttpResponse JsonError(int status, const std::string& error, const std::string& detail);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points
// past U+10FFFF).
bool IsValidUtf8(std::string_view text);

// What is known of a request before routing.
struct RawRequest {
  std::string_view method;
  std::string_view target;                        // as sent: origin form "/path?query"
  std::optional<std::string_view> host;           // the Host header, if any
  std::optional<std::string_view> authorization;  // the Authorization header, if any
  bool http10 = false;                            // HTTP/1.0 may omit Host
};

class Router {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // kCheap routes (probes, metrics) are answered on the server's I/O thread, so that they
  // answer while every worker is busy; kWork routes run on the worker pool.
  enum class Cost { kCheap, kWork };

  // `pattern` is a path whose segments are literals or {name} placeholders, which match
  // one non-empty segment: "/api/v1/customers/{id}/alerts". One trailing slash in a
  // request path is ignored.
  void Get(const std::string& pattern, Handler handler, Cost cost = Cost::kWork);

  // Requests must name one of these hosts (any port), case-insensitive; empty: any Host.
  // The server sets it when bound to a loopback address (DNS rebinding).
  void RequireHost(std::vector<std::string> hosts) { allowed_hosts_ = std::move(hosts); }
  // Non-empty: every path under /api/ needs "Authorization: Bearer <token>".
  void RequireToken(std::string token) { token_ = std::move(token); }

  struct Routed {
    std::string route = "other";           // the matched pattern: a metric label
    std::optional<HttpResponse> response;  // set: answer it, no handler runs
    const Handler* handler = nullptr;
    Cost cost = Cost::kWork;
    bool head = false;  // a HEAD request: the answer goes without its body
    HttpRequest request;
  };
  Routed Route(const RawRequest& raw) const;
  // Runs the routed handler; an exception is logged and answered 500 without its text.
  static HttpResponse Run(const Routed& routed);
  // Route() then Run() on the calling thread (tests, fuzzing).
  HttpResponse Handle(const RawRequest& raw, std::string* route = nullptr) const;

 private:
  struct Entry {
    std::string pattern;
    std::vector<std::string> segments;  // "{...}" for a placeholder
    Handler handler;
    Cost cost;
  };
  bool HostAllowed(std::optional<std::string_view> host, bool http10) const;
  bool Authorized(std::optional<std::string_view> authorization) const;

  std::vector<Entry> routes_;
  std::vector<std::string> allowed_hosts_;
  std::string token_;
};

}  // namespace c360
