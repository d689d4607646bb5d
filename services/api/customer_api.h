#pragma once
// The Customer 360 API and page on the engine's HTTP server (SPEC section 8):
//   GET /api/v1/customers/{id}[/alerts|/timeline|/recommendations]
//   GET /api/v1/customers?status=&segment=&risk=&sort=&limit=&cursor=&q=
//   GET /api/v1/summary
//   GET /  and  GET /assets/...   (the page, built into the binary)
// docs/api.md documents every field.
//
// Reads never block processing: each request takes a RocksDB snapshot of the last commit
// (StateView) on the server's threads and computes from it; the processing thread is not
// involved. An instance answers for the tasks it owns (Ownership) and names the others.
// Thread-safe: handlers share only the const config and the sources below.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "scoring/config.h"
#include "services/http/http_server.h"
#include "state/store.h"

namespace c360::api {

struct Ownership {
  std::vector<uint16_t> tasks;  // assigned to this instance
  int task_count = 0;           // in the group (the input topics' partition count)
  std::string group;
};

class CustomerApi {
 public:
  // `store` returns null until the state is open; `ownership` is read per request.
  CustomerApi(const Config& config, const Clock& clock, std::function<const StateStore*()> store,
              std::function<Ownership()> ownership);

  // Adds the routes (to an HttpServer's router, or a bare Router in the fuzzer); the
  // handlers share ownership of the API.
  static void Register(std::shared_ptr<const CustomerApi> api, Router& router);

  HttpResponse Customer(const std::string& id, const std::string& part) const;
  HttpResponse List(const HttpRequest& request) const;
  HttpResponse Summary() const;

 private:
  const Config& config_;
  const Clock& clock_;
  std::function<const StateStore*()> store_;
  std::function<Ownership()> ownership_;
};

}  // namespace c360::api
