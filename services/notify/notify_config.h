#pragma once
// `c360 notify`'s configuration (SPEC section 11, docs/notify.md): its consumer group and
// topics, Kafka properties, and the routes: which alerts each takes (by rule, severity,
// state, segment, owner, vip, minimum annual revenue) and where it sends them (a signed
// webhook or a Slack incoming webhook), with its retry policy and rate limit.
//
// LoadNotifyConfig() throws NotifyConfigError naming the key at fault ("config key
// routes[1].url: ..."), never a secret's value. Secrets (a Slack webhook URL, a signing
// secret) must come from the environment or a file (${env:NAME}, ${file:PATH}).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "c360/v1/alert.pb.h"

namespace c360::notify {

class NotifyConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Match {
  std::set<int> rules;       // v1::AlertEvent::Rule values; empty: any
  std::set<int> severities;  // v1::AlertEvent::Severity
  std::set<int> states;      // v1::AlertEvent::State
  std::set<int> segments;    // v1::CustomerProfile::Segment
  std::set<std::string> owners;
  std::optional<bool> vip;
  int64_t min_annual_revenue_cents = 0;

  bool Matches(const v1::AlertEvent& alert) const;
};

enum class Sink { kWebhook, kSlack };

struct Route {
  std::string name;  // [a-z0-9_-]+: metric label, dead-letter header, log field
  Sink sink = Sink::kWebhook;
  std::string url;     // secret for slack; never logged
  std::string secret;  // webhook signing secret (HMAC-SHA256); never logged
  Match match;
  int max_attempts = 8;
  int max_retry_seconds = 600;   // from the first attempt: then dead-lettered
  int initial_backoff_ms = 500;  // doubled per attempt, with jitter
  int max_backoff_ms = 60'000;
  int timeout_ms = 10'000;     // connect + response
  double rate_per_second = 0;  // token bucket; 0: no limit
  int burst = 1;
};

struct NotifyConfig {
  std::string group = "c360-notify";
  std::string alerts_topic = "c360.alerts";
  std::string deadletter_topic = "c360.notify.deadletter";
  std::map<std::string, std::string> kafka;  // librdkafka properties (references resolved)
  std::vector<Route> routes;
  // Alerts read and not yet delivered or dead-lettered by every route; beyond it reading
  // pauses until some finish.
  int max_pending = 10'000;
  int commit_interval_ms = 1'000;
};

NotifyConfig LoadNotifyConfig(const std::string& path);
NotifyConfig ParseNotifyConfig(const std::string& yaml_text);

}  // namespace c360::notify
