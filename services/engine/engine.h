#pragma once
// The c360 engine: one Kafka consumer for every input topic, the tasks it is assigned,
// one RocksDB store, and the publisher of the outbox (SPEC sections 2 and 6).
//
// The caller of Run consumes, commits and publishes; the tasks' records are applied on it
// and on engine.threads - 1 more threads (tasks share nothing); a commit writer thread
// writes each batch, and librdkafka runs its own threads. Each commit is one RocksDB WriteBatch
// holding the batch's customer states, offsets, stream times, timers and outbox entries; outbox
// entries are published after their commit by an idempotent producer and deleted in a
// later commit once their delivery is confirmed.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/time.h"
#include "scoring/config.h"
#include "services/engine/output.h"
#include "services/engine/stats.h"
#include "state/state.pb.h"
#include "state/store.h"

namespace c360 {
namespace api {
class RowIndex;
}  // namespace api

// A failure: the engine stops (`c360 engine` exits 1); the state on disk is its last good
// commit, from which a restart resumes.
class EngineError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A refusal at start-up: the state directory or the topics are not ones this engine may
// run on as they are (a directory that is not c360's, another state format, input topics
// whose partition count differs from the one the state was built for). Nothing was
// written; the message says what to do. `c360 engine` exits 2, as for a bad flag.
class EngineRefused : public EngineError {
 public:
  using EngineError::EngineError;
};

struct EngineSettings {
  std::string brokers;
  std::string group = "c360";
  std::string state_dir;  // required (c360 engine's default: docs/config.md)
  OutputFormat format = OutputFormat::kProtobuf;
  bool wall_clock = true;  // --clock wall: T follows the wall clock once caught up
  // Where other engines of the group reach this one's HTTP API (named in the changelog's
  // markers, docs/scale.md); empty: not served.
  std::string advertised_http;
  Config config;
};

// What GET /readyz answers (SPEC section 8): ready once tasks are assigned, restored and
// caught up with their partitions; otherwise why not, for a person.
struct Readiness {
  bool ready = false;
  std::string reason;
};

class Engine {
 public:
  Engine(EngineSettings settings, const Clock& clock);
  ~Engine();

  // Builds the Kafka consumer and producer from c360's properties and the config's,
  // touching neither the state nor the group. Throws EngineError with librdkafka's reason
  // when it refuses the set (a missing ssl.ca.location file, conflicting settings): a
  // config error, which `c360 engine` reports before it binds its port or opens its state.
  void CreateClients();
  // Opens the state (building the clients first if CreateClients was not called) and checks
  // the cluster: every topic exists and the input topics are co-partitioned. Throws
  // EngineError with one line naming what is wrong (EngineRefused for a state directory or
  // topics it may not run on).
  void Start();
  // Consumes until stop() returns true, then commits, flushes the outbox and leaves the
  // group. Every exception on the processing thread (a failed state write or read, a
  // stored value that does not decode, anything unforeseen) leaves as one EngineError,
  // after which nothing more is written or published: the last commit stays consistent.
  void Run(const std::function<bool()>& stop);

  // Called on the processing thread for every delivered output message.
  void OnDelivered(std::function<void(const state::v1::OutboxEntry&)> callback);
  // Counts as of the last commit (or refresh, at least every 250 ms while running).
  // Thread-safe: any thread may call these while Run runs.
  EngineStats stats() const;
  Readiness readiness() const;
  // The engine's metrics in Prometheus text format (GET /metrics).
  std::string RenderMetrics() const;
  // Counts an answered HTTP request in http_requests_total. Thread-safe.
  void CountHttpRequest(const std::string& route, int status) const;
  // The state store for readers (the HTTP API: take a StateView of it); null until Start()
  // has opened it. It lives as long as the engine.
  const StateStore* state() const;
  const Config& config() const;
  // The owned tasks' list rows in memory (services/api/row_index.h), for the API.
  const api::RowIndex* row_index() const;

  // The group (SPEC 6.4, docs/scale.md). Thread-safe.
  // Where other engines reach this one's HTTP API: --http as bound (call after binding).
  void SetAdvertisedHttp(const std::string& address);
  std::string advertised_http() const;
  // The tasks this engine keeps standby copies of.
  std::vector<uint16_t> standbys() const;
  // The owning engine's address of every task that has one, as its changelog's last
  // marker names it (read at most every `max_age`, cached in between).
  std::map<uint16_t, std::string> Owners(std::chrono::milliseconds max_age) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c360
