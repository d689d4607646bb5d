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
#include <map>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "scoring/config.h"
#include "services/api/row_index.h"
#include "services/http/http_server.h"
#include "state/store.h"

namespace c360::api {

struct RowSet;

struct Ownership {
  std::vector<uint16_t> tasks;  // assigned to this instance
  int task_count = 0;           // in the group (the input topics' partition count)
  std::string group;
  // The group beyond this instance (docs/scale.md); unset: an instance on its own.
  std::string self;                // this instance's address, as the others reach it
  std::vector<uint16_t> standbys;  // tasks it keeps warm copies of
  std::function<std::map<uint16_t, std::string>()> owners;  // task -> its owner's address
};

// A GET of `target` (path and query) on another instance of the group: its response, or
// nullopt when it cannot be reached.
using PeerFetch = std::function<std::optional<HttpResponse>(const std::string& address,
                                                            const std::string& target)>;

// The task (input partition) a customer_id belongs to among `partitions`: the producers'
// murmur2 partitioner (docs/architecture.md).
uint16_t TaskOfCustomer(const std::string& customer_id, int partitions);

class CustomerApi {
 public:
  // `store` returns null until the state is open; `ownership` is read per request.
  // `index`: the engine's row index (row_index.h), which list, summary and portfolio read;
  // without one they read the rows from the state on each request.
  CustomerApi(const Config& config, const Clock& clock, std::function<const StateStore*()> store,
              std::function<Ownership()> ownership, PeerFetch fetch = nullptr,
              const RowIndex* index = nullptr);

  // Adds the routes (to an HttpServer's router, or a bare Router in the fuzzer); the
  // handlers share ownership of the API.
  static void Register(std::shared_ptr<const CustomerApi> api, Router& router);

  // `local`: this instance's tasks only (scope=local: what one instance asks another).
  HttpResponse Customer(const std::string& id, const std::string& part, bool local = false) const;
  HttpResponse List(const HttpRequest& request) const;
  HttpResponse Summary(const HttpRequest& request = {}) const;
  HttpResponse Portfolio(const HttpRequest& request = {}) const;
  // GET /api/v1/internal/rows?tasks=a,b: the rows and meta of those of the tasks this
  // instance owns (state.proto GroupRows), for another instance's list and summary.
  HttpResponse InternalRows(const HttpRequest& request) const;

 private:
  // answer(rows, coverage) over the rows of every task of the group (the others' fetched
  // from their owners unless scope=local), or an error response when some task's owner
  // cannot answer.
  HttpResponse WithRows(
      const HttpRequest& request,
      const std::function<HttpResponse(const RowSet&, const nlohmann::json& coverage)>& answer)
      const;

  const Config& config_;
  const Clock& clock_;
  std::function<const StateStore*()> store_;
  std::function<Ownership()> ownership_;
  PeerFetch fetch_;
  const RowIndex* index_;
};

}  // namespace c360::api
