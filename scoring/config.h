#pragma once
// Every tunable of c360 in one place, with SPEC's defaults, and the one loader that reads
// them from YAML (`c360 engine --config FILE`). docs/config.md lists every key.
//
// LoadConfig() throws ConfigError naming the key at fault (an unknown key, a value of the
// wrong type or out of range, a Kafka property librdkafka rejects or c360 sets itself, an
// unset variable or unreadable file behind a secret reference); it is called once at
// start-up. A `kafka.*` error never contains the value. A Config is a plain value:
// copy it, read it from any thread.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "c360/v1/alert.pb.h"
#include "common/topics.h"

namespace c360 {

class ChurnModel;

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kRuleCount = 13;  // AlertEvent::Rule values, UNSPECIFIED included

struct RuleConfig {
  bool enabled = true;
  double fire = 0;      // threshold that opens an episode
  double resolve = 0;   // threshold that closes it (hysteresis)
  double escalate = 0;  // HEALTH_LOW: below this the episode is CRITICAL
  int min_sample = 0;   // prior usage / ratings / responses needed to fire or resolve
  v1::AlertEvent::Severity severity = v1::AlertEvent::WARNING;
  std::string action;  // recommended action text
};

// Ticket priorities P1..P4, indexed by number (index 0 unused).
inline constexpr size_t kPrioritySlots = 5;

struct SlaPolicy {
  int response_hours = 0;
  int resolution_hours = 0;
};

struct Config {
  TopicNames topics;
  // librdkafka properties (`kafka.*`): each accepted by librdkafka, none of those c360 sets
  // itself, ${env:...} and ${file:...} references resolved. May hold secrets: log a value
  // only through a Redactor (common/kafka_properties.h).
  std::map<std::string, std::string> kafka;

  // Engine.
  int batch_max_records = 1'000'000;
  int batch_max_ms = 10;  // the live batch window: alerts leave within it (docs/performance.md)
  int batch_catchup_ms =
      3000;  // each customer written once per 3 s of backlog (docs/performance.md)
  int max_task_idle_ms = 0;
  int timer_grace_ms = 60'000;
  int retention_days = 90;
  int64_t cache_max_customers = 1'000'000;  // per engine, over all its tasks
  // Processing threads: the engine's tasks are spread over them at each turn of its loop.
  int threads = 1;
  // at_least_once: outputs pass the offset-commit fence (any broker); exactly_once: each
  // batch's outputs and offsets in one Kafka transaction (a broker with transactions).
  bool exactly_once = false;
  std::string transactional_id;  // exactly_once: "" derives one (docs/config.md)
  int transaction_timeout_ms = 10'000;
  int64_t vip_revenue_cents = 100'000'000;
  // The changelog (SPEC 6.4, docs/scale.md): a task writes a checkpoint (its whole state)
  // once the deltas written since its last one reach changelog_checkpoint_pct of that
  // checkpoint's size and changelog_checkpoint_min_bytes, or once the last is
  // changelog_checkpoint_interval_ms old; a restore reads from the latest checkpoint.
  // Warm copies of other engines' tasks kept by this engine (docs/scale.md).
  int standby_replicas = 0;
  int changelog_checkpoint_pct = 100;
  int64_t changelog_checkpoint_min_bytes = 1 << 20;
  int64_t changelog_checkpoint_interval_ms = 86'400'000;
  int64_t changelog_retention_ms = 7 * 86'400'000LL;  // when the engine creates the topic
  int changelog_restore_timeout_ms = 600'000;
  // Input bounds (SPEC 6.1): an event that would give a customer more open (unresolved)
  // tickets than this, or as many unsettled invoices, is an invalid_value dead letter.
  int open_entities_per_customer = 10'000;
  // Distinct users tracked per customer (SPEC 6.1): beyond it new users are not counted
  // (active_users_*, stickiness), and c360_users_over_limit_total says so.
  int users_per_customer = 10'000;
  // The base of each customer's page link in alerts and snapshots (`url`: public_url +
  // "/#" + customer_id percent-encoded); "" leaves `url` empty. Stored without a trailing /.
  std::string public_url;
  // The portfolio's target average health (the page draws it; SPEC section 8).
  double portfolio_health_target = 75;
  // Log level: trace, debug, info, warn, error or off.
  std::string log_level = "info";

  // The HTTP server (SPEC section 8; docs/api.md "Security").
  struct Http {
    // Besides the bound loopback address and localhost: names requests may give in Host.
    std::vector<std::string> allowed_hosts;
    std::string auth_token;  // non-empty: /api/ needs "Authorization: Bearer <token>"
    // Where the group's other engines reach this one's API (docs/scale.md); "": --http.
    std::string advertised_address;
    std::string tls_cert_file;
    std::string tls_key_file;
  } http;

  // SLA policy by priority P1..P4 (index 0 unused).
  std::array<SlaPolicy, kPrioritySlots> sla = {{{0, 0}, {1, 8}, {4, 24}, {8, 72}, {24, 168}}};
  // Share of tickets meant to meet their SLA: the target line of the Customer 360 view.
  double sla_target_pct = 95;

  // Score weights, integer percentages summing to 100.
  int weight_usage = 35;
  int weight_support = 25;
  int weight_financial = 25;
  int weight_engagement = 15;

  // Component points.
  double usage_never_used = 50;
  int usage_silent_grace_days = 7;
  double usage_points_per_silent_day = 3;
  double support_breach_rate_points = 50;
  double support_open_p1_points = 15;
  double support_open_p2_points = 8;
  int support_free_tickets = 5;
  double support_points_per_extra_ticket = 3;
  int financial_max_overdue_points = 60;
  double financial_disputed_points = 10;
  double financial_credit_hold_points = 40;
  double engagement_none_present = 70;
  int engagement_min_campaigns_sent = 3;

  // Status and risk bands.
  int status_healthy = 80;
  int status_watch = 60;
  int status_at_risk = 40;
  int risk_high = 70;
  int risk_medium = 40;

  // Churn-risk model: z = intercept + sum of terms (SPEC section 4).
  double risk_intercept = -3;
  double risk_usage_drop = 3;
  double risk_breach_rate = 2;
  double risk_overdue = 1.5;
  int risk_overdue_days = 60;
  double risk_engagement = 2;
  double risk_credit_hold = 1;
  double risk_open_p1 = 0.5;
  int risk_open_p1_cap = 3;
  double risk_renewal = 0.5;
  int renewal_window_days = 90;

  // SPEC section 10: a trained model in place of the formula's risk (null: the formula),
  // and one scored beside it for comparison (null: none, or the formula: shadow_formula).
  // scoring.churn_model and
  // scoring.shadow_churn_model name the files; a relative path is read from the config
  // file's directory.
  std::shared_ptr<const ChurnModel> churn_model;
  std::shared_ptr<const ChurnModel> shadow_churn_model;
  // scoring.shadow_churn_model: formula: the formula's risk is the shadow (after switching
  // the live risk to a model, to keep comparing with the formula).
  bool shadow_formula = false;

  // Lifecycle.
  int onboarding_days = 90;
  double growth_usage_change_pct = 10;

  // Recommendations (scoring/recommendations.h): when an action is urgent (high).
  int recommend_max_tickets = 5;                        // tickets listed at most
  int recommend_overdue_urgent_days = 30;               // an invoice overdue longer
  int64_t recommend_overdue_urgent_cents = 10'000'000;  // or with at least this balance
  int recommend_silent_urgent_days = 14;                // no usage for longer
  double recommend_usage_drop_urgent_pct = 50;          // usage down at least this much
  int recommend_nps_detractor_max = 6;                  // latest NPS at most this: call back
  double recommend_outreach_response_rate = 0.2;        // campaigns engaged below this share

  std::array<RuleConfig, kRuleCount> rules = DefaultRules();

  const RuleConfig& rule(v1::AlertEvent::Rule r) const { return rules[r]; }
  static std::array<RuleConfig, kRuleCount> DefaultRules();
};

// Reads a YAML file over the defaults. Throws ConfigError("config key X: ...").
Config LoadConfig(const std::string& path);
// The same from YAML text (tests).
Config ParseConfig(const std::string& yaml_text);

// For the commands that read the engine's config file for its Kafka properties and topic
// names only (`c360 gen` and `c360 tail --config`, SPEC section 7): sets `kafka` and
// `topics` from the config at `path` (nothing when `path` is empty) and keeps its secrets
// out of the log from then on. On an error: one line "c360 <command>: config key ...: ..."
// on stderr, and false.
bool LoadClientConfig(const std::string& command, const std::string& path,
                      std::map<std::string, std::string>* kafka, TopicNames* topics);

}  // namespace c360
