#pragma once
// One route of `c360 notify` (docs/notify.md): its own thread, queue, rate limit and
// keep-alive HTTP connection, so that a slow or failing receiver holds back only its own
// route. Each alert is sent until the receiver accepts it (2xx), with exponential backoff
// and jitter between attempts and Retry-After honoured, up to the route's max_attempts and
// max_retry_seconds; then, or at once for an answer retrying cannot change (4xx other than
// 408, 425 and 429), it is handed back as failed, for the dead-letter topic.
//
// The URL and the secret never reach a log line or an error text.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "c360/v1/alert.pb.h"
#include "services/notify/notify_config.h"

namespace c360::notify {

// An alert as every route sends it, prepared once.
struct PreparedAlert {
  v1::AlertEvent alert;
  std::string json;          // the alert as JSON (proto field names): a webhook's body
  std::string raw;           // the record's value as read (for the dead-letter topic)
  std::string key;           // the record's key
  std::string content_type;  // the record's content-type header, if any
  int64_t emitted_at_ms = 0;
};

struct Job {
  uint64_t pending_id = 0;  // the tracker's id of the alert (notify_command.cc)
  std::shared_ptr<const PreparedAlert> alert;
};

// What happened to a job. `attempts`: requests sent.
struct Outcome {
  bool delivered = false;
  int attempts = 0;
  std::string last_error;  // when not delivered: "HTTP 503", "Connection", ...
};

// X-C360-Delivery: alert_id:state:severity, the receiver's idempotency key.
std::string DeliveryKey(const v1::AlertEvent& alert);
// Lowercase hex of HMAC-SHA256(secret, body).
std::string HmacSha256Hex(const std::string& secret, const std::string& body);
// The Slack incoming-webhook body: {"text": one line: severity, customer, message, link}.
std::string SlackPayload(const v1::AlertEvent& alert);

class RouteWorker {
 public:
  using Done = std::function<void(const Job&, const Outcome&)>;
  // `on_retry`: called for every failed attempt that will be retried (a metric).
  RouteWorker(Route route, Done done, std::function<void()> on_retry);
  ~RouteWorker();
  RouteWorker(const RouteWorker&) = delete;
  RouteWorker& operator=(const RouteWorker&) = delete;

  void Push(Job job);
  size_t queued() const;
  const Route& route() const { return route_; }
  // Finishes the attempt in progress, then stops; queued jobs are left undone.
  void Stop();

 private:
  void Run();
  // One request. Returns 0 on success, else the HTTP status (or -1: no answer) with
  // *error and *retry_after set.
  int Send(const PreparedAlert& alert, std::string* error,
           std::optional<std::chrono::milliseconds>* retry_after);
  Outcome Deliver(const PreparedAlert& alert);
  // Waits until `until` or Stop(); false if stopped.
  bool SleepUntil(std::chrono::steady_clock::time_point until);
  void TakeToken();

  const Route route_;
  const Done done_;
  const std::function<void()> on_retry_;
  std::string origin_;  // scheme://host[:port]
  std::string path_;    // /path?query
  struct Client;
  std::unique_ptr<Client> client_;
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_;
  uint64_t jitter_state_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace c360::notify
