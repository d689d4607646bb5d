#include "scoring/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <iostream>
#include <functional>
#include <vector>

#include "common/config_values.h"
#include "common/kafka_properties.h"
#include "common/log_redaction.h"
#include "scoring/churn_model.h"

namespace c360 {
namespace {

using v1::AlertEvent;

struct Key {
  std::string path;
  std::function<void(Config&, const std::string& path, const std::string& value)> set;
};

[[noreturn]] void Bad(const std::string& path, const std::string& why) {
  throw ConfigError("config key " + path + ": " + why);
}

int64_t ParseInt(const std::string& path, const std::string& v, int64_t lo, int64_t hi) {
  int64_t out = 0;
  if (auto why = ParseInteger(v, lo, hi, &out)) Bad(path, *why);
  return out;
}

double ParseDouble(const std::string& path, const std::string& v, double lo, double hi) {
  double out = 0;
  if (auto why = ParseNumber(v, lo, hi, &out)) Bad(path, *why);
  return out;
}

template <typename T>
Key Int(std::string path, T Config::*field, int64_t lo, int64_t hi) {
  return {std::move(path), [field, lo, hi](Config& c, const std::string& p, const std::string& v) {
            c.*field = static_cast<T>(ParseInt(p, v, lo, hi));
          }};
}

Key Double(std::string path, double Config::*field, double lo, double hi) {
  return {std::move(path), [field, lo, hi](Config& c, const std::string& p, const std::string& v) {
            c.*field = ParseDouble(p, v, lo, hi);
          }};
}

Key Text(std::string path, std::string TopicNames::*field) {
  return {std::move(path), [field](Config& c, const std::string& p, const std::string& v) {
            if (v.empty()) Bad(p, "a topic name cannot be empty");
            c.topics.*field = v;
          }};
}

std::vector<Key> Keys() {
  std::vector<Key> keys = {
      Text("topics.usage", &TopicNames::usage),
      Text("topics.tickets", &TopicNames::tickets),
      Text("topics.invoices", &TopicNames::invoices),
      Text("topics.campaigns", &TopicNames::campaigns),
      Text("topics.customers", &TopicNames::customers),
      Text("topics.alerts", &TopicNames::alerts),
      Text("topics.health", &TopicNames::health),
      Text("topics.deadletter", &TopicNames::deadletter),
      Text("topics.changelog", &TopicNames::changelog),
      Int("engine.batch_max_records", &Config::batch_max_records, 1, 10'000'000),
      Int("engine.batch_max_ms", &Config::batch_max_ms, 1, 60'000),
      Int("engine.batch_catchup_ms", &Config::batch_catchup_ms, 1, 600'000),
      Int("engine.max_task_idle_ms", &Config::max_task_idle_ms, 0, 3'600'000),
      Int("engine.timer_grace_ms", &Config::timer_grace_ms, 0, 86'400'000),
      Int("engine.retention_days", &Config::retention_days, 60, 3650),
      Int("engine.cache_max_customers", &Config::cache_max_customers, 1, int64_t{1} << 40),
      Int("engine.threads", &Config::threads, 1, 256),
      {"engine.processing_guarantee",
       [](Config& c, const std::string& p, const std::string& v) {
         if (v != "at_least_once" && v != "exactly_once") {
           Bad(p, "expected at_least_once or exactly_once, not " + v);
         }
         c.exactly_once = v == "exactly_once";
       }},
      {"engine.transactional_id",
       [](Config& c, const std::string& p, const std::string& v) {
         if (v.empty() || v.size() > 200) Bad(p, "expected 1 to 200 characters");
         c.transactional_id = v;
       }},
      Int("engine.transaction_timeout_ms", &Config::transaction_timeout_ms, 1000, 900'000),
      Int("engine.vip_revenue_cents", &Config::vip_revenue_cents, 0, INT64_MAX),
      Int("engine.standby_replicas", &Config::standby_replicas, 0, 16),
      Int("changelog.checkpoint_pct", &Config::changelog_checkpoint_pct, 10, 10'000),
      Int("changelog.checkpoint_min_bytes", &Config::changelog_checkpoint_min_bytes, 0,
          int64_t{1} << 40),
      Int("changelog.checkpoint_interval_ms", &Config::changelog_checkpoint_interval_ms, 1000,
          int64_t{365} * 86'400'000),
      Int("changelog.retention_ms", &Config::changelog_retention_ms, -1, int64_t{1} << 50),
      Int("changelog.restore_timeout_ms", &Config::changelog_restore_timeout_ms, 1000, 86'400'000),
      Int("limits.open_entities_per_customer", &Config::open_entities_per_customer, 1, 1'000'000),
      Int("limits.users_per_customer", &Config::users_per_customer, 0, 1'000'000),
      Double("portfolio.health_target", &Config::portfolio_health_target, 0, 100),
      {"public_url",
       [](Config& c, const std::string& p, const std::string& v) {
         if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
           Bad(p, "expected an http:// or https:// URL, not '" + v + "'");
         }
         if (v.find_first_of(" \t\r\n#?") != std::string::npos) {
           Bad(p, "a URL without spaces, '#' or '?', as the page's base");
         }
         c.public_url = v;
         while (!c.public_url.empty() && c.public_url.back() == '/') c.public_url.pop_back();
       }},
      {"http.auth_token",
       [](Config& c, const std::string& p, const std::string& v) {
         std::string token = v;  // or ${env:NAME} / ${file:/path}, as Kafka's secrets
         if (auto why = ResolveKafkaReference(&token)) Bad(p, *why);
         if (token.size() < 16) Bad(p, "a token needs at least 16 characters");
         if (token.find_first_of(" \t\r\n") != std::string::npos)
           Bad(p, "a token cannot hold spaces");
         c.http.auth_token = token;
       }},
      {"http.tls_cert_file",
       [](Config& c, const std::string&, const std::string& v) { c.http.tls_cert_file = v; }},
      {"http.advertised_address",
       [](Config& c, const std::string& p, const std::string& v) {
         if (v.find(':') == std::string::npos || v.find('/') != std::string::npos) {
           Bad(p, "expected HOST:PORT, not '" + v + "'");
         }
         c.http.advertised_address = v;
       }},
      {"http.tls_key_file",
       [](Config& c, const std::string&, const std::string& v) { c.http.tls_key_file = v; }},
      {"log.level",
       [](Config& c, const std::string& p, const std::string& v) {
         if (v != "trace" && v != "debug" && v != "info" && v != "warn" && v != "error" &&
             v != "off") {
           Bad(p, "expected trace, debug, info, warn, error or off, not " + v);
         }
         c.log_level = v;
       }},
      Double("sla.target_pct", &Config::sla_target_pct, 0, 100),
      Int("scores.weights.usage", &Config::weight_usage, 0, 100),
      Int("scores.weights.support", &Config::weight_support, 0, 100),
      Int("scores.weights.financial", &Config::weight_financial, 0, 100),
      Int("scores.weights.engagement", &Config::weight_engagement, 0, 100),
      Double("scores.usage.never_used", &Config::usage_never_used, 0, 100),
      Int("scores.usage.silent_grace_days", &Config::usage_silent_grace_days, 0, 365),
      Double("scores.usage.points_per_silent_day", &Config::usage_points_per_silent_day, 0, 100),
      Double("scores.support.breach_rate_points", &Config::support_breach_rate_points, 0, 100),
      Double("scores.support.open_p1_points", &Config::support_open_p1_points, 0, 100),
      Double("scores.support.open_p2_points", &Config::support_open_p2_points, 0, 100),
      Int("scores.support.free_tickets", &Config::support_free_tickets, 0, 100'000),
      Double("scores.support.points_per_extra_ticket", &Config::support_points_per_extra_ticket, 0,
             100),
      Int("scores.financial.max_overdue_points", &Config::financial_max_overdue_points, 0, 100),
      Double("scores.financial.disputed_points", &Config::financial_disputed_points, 0, 100),
      Double("scores.financial.credit_hold_points", &Config::financial_credit_hold_points, 0, 100),
      Double("scores.engagement.none_present", &Config::engagement_none_present, 0, 100),
      Int("scores.engagement.min_campaigns_sent", &Config::engagement_min_campaigns_sent, 1,
          100'000),
      Int("scores.status.healthy", &Config::status_healthy, 0, 100),
      Int("scores.status.watch", &Config::status_watch, 0, 100),
      Int("scores.status.at_risk", &Config::status_at_risk, 0, 100),
      Int("scores.risk.high", &Config::risk_high, 0, 100),
      Int("scores.risk.medium", &Config::risk_medium, 0, 100),
      Double("scores.risk.intercept", &Config::risk_intercept, -100, 100),
      Double("scores.risk.usage_drop", &Config::risk_usage_drop, -100, 100),
      Double("scores.risk.breach_rate", &Config::risk_breach_rate, -100, 100),
      Double("scores.risk.overdue", &Config::risk_overdue, -100, 100),
      Int("scores.risk.overdue_days", &Config::risk_overdue_days, 1, 3650),
      Double("scores.risk.engagement", &Config::risk_engagement, -100, 100),
      Double("scores.risk.credit_hold", &Config::risk_credit_hold, -100, 100),
      Double("scores.risk.open_p1", &Config::risk_open_p1, -100, 100),
      Int("scores.risk.open_p1_cap", &Config::risk_open_p1_cap, 0, 1000),
      Double("scores.risk.renewal", &Config::risk_renewal, -100, 100),
      Int("scores.renewal_window_days", &Config::renewal_window_days, 0, 3650),
      Int("recommendations.max_tickets", &Config::recommend_max_tickets, 0, 100),
      Int("recommendations.overdue_urgent_days", &Config::recommend_overdue_urgent_days, 0, 3650),
      Int("recommendations.overdue_urgent_cents", &Config::recommend_overdue_urgent_cents, 0,
          INT64_MAX),
      Int("recommendations.silent_urgent_days", &Config::recommend_silent_urgent_days, 0, 3650),
      Double("recommendations.usage_drop_urgent_pct", &Config::recommend_usage_drop_urgent_pct, 0,
             100),
      Int("recommendations.nps_detractor_max", &Config::recommend_nps_detractor_max, -1, 10),
      Double("recommendations.outreach_response_rate", &Config::recommend_outreach_response_rate, 0,
             1),
      Int("scores.lifecycle.onboarding_days", &Config::onboarding_days, 0, 3650),
      Double("scores.lifecycle.growth_usage_change_pct", &Config::growth_usage_change_pct, -100,
             1e6),
  };
  for (int p = 1; p <= 4; ++p) {
    const std::string base = "sla.P" + std::to_string(p);
    keys.push_back(
        {base + ".response_hours", [p](Config& c, const std::string& k, const std::string& v) {
           c.sla[p].response_hours = static_cast<int>(ParseInt(k, v, 0, 100'000));
         }});
    keys.push_back(
        {base + ".resolution_hours", [p](Config& c, const std::string& k, const std::string& v) {
           c.sla[p].resolution_hours = static_cast<int>(ParseInt(k, v, 0, 100'000));
         }});
  }
  for (int r = 1; r < kRuleCount; ++r) {
    const std::string base = "rules." + AlertEvent::Rule_Name(static_cast<AlertEvent::Rule>(r));
    keys.push_back({base + ".enabled", [r](Config& c, const std::string& k, const std::string& v) {
                      if (v != "true" && v != "false")
                        Bad(k, "expected true or false, got '" + v + "'");
                      c.rules[r].enabled = v == "true";
                    }});
    keys.push_back({base + ".fire", [r](Config& c, const std::string& k, const std::string& v) {
                      c.rules[r].fire = ParseDouble(k, v, -1e9, 1e9);
                    }});
    keys.push_back({base + ".resolve", [r](Config& c, const std::string& k, const std::string& v) {
                      c.rules[r].resolve = ParseDouble(k, v, -1e9, 1e9);
                    }});
    keys.push_back(
        {base + ".min_sample", [r](Config& c, const std::string& k, const std::string& v) {
           c.rules[r].min_sample = static_cast<int>(ParseInt(k, v, 0, 1'000'000));
         }});
    keys.push_back({base + ".severity", [r](Config& c, const std::string& k, const std::string& v) {
                      AlertEvent::Severity s;
                      if (!AlertEvent::Severity_Parse(v, &s) ||
                          s == AlertEvent::SEVERITY_UNSPECIFIED) {
                        Bad(k, "expected INFO, WARNING or CRITICAL, got '" + v + "'");
                      }
                      c.rules[r].severity = s;
                    }});
    keys.push_back({base + ".action", [r](Config& c, const std::string&, const std::string& v) {
                      c.rules[r].action = v;
                    }});
    if (r == AlertEvent::HEALTH_LOW) {
      keys.push_back(
          {base + ".escalate", [r](Config& c, const std::string& k, const std::string& v) {
             c.rules[r].escalate = ParseDouble(k, v, -1e9, 1e9);
           }});
    }
  }
  return keys;
}

void Flatten(const YAML::Node& node, const std::string& path,
             std::vector<std::pair<std::string, const YAML::Node>>* out) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      Flatten(entry.second, path.empty() ? key : path + "." + key, out);
    }
  } else {
    out->emplace_back(path, node);
  }
}

// A `kafka.*` key's value, checked by librdkafka now rather than when the engine builds its
// clients; its errors never carry the value, which may be a secret (docs/config.md).
std::string KafkaProperty(const std::string& path, const YAML::Node& node) {
  const std::string name = path.substr(6);
  if (auto why = RefusedKafkaProperty(name)) Bad(path, *why);
  if (!node.IsScalar()) Bad(path, "a librdkafka property needs a scalar value");
  std::string value = node.as<std::string>();
  if (auto why = ResolveKafkaReference(&value)) Bad(path, *why);
  if (auto why = RejectedKafkaProperty(name, value)) Bad(path, *why);
  return value;
}

void Validate(const Config& c) {
  const Config::Http& http = c.http;
  if (http.tls_cert_file.empty() != http.tls_key_file.empty()) {
    throw ConfigError(
        http.tls_key_file.empty()
            ? "config key http.tls_key_file: HTTPS needs it beside http.tls_cert_file"
            : "config key http.tls_cert_file: HTTPS needs it beside http.tls_key_file");
  }
  for (const auto& [key, path] : {std::pair{"http.tls_cert_file", http.tls_cert_file},
                                  std::pair{"http.tls_key_file", http.tls_key_file}}) {
    if (!path.empty() && std::ifstream(path).fail()) {
      throw ConfigError(std::string("config key ") + key + ": cannot read " + path);
    }
  }
  const int weights = c.weight_usage + c.weight_support + c.weight_financial + c.weight_engagement;
  if (weights != 100) {
    throw ConfigError("config key scores.weights: the four weights must sum to 100, not " +
                      std::to_string(weights));
  }
  if (!(c.status_healthy > c.status_watch && c.status_watch > c.status_at_risk)) {
    throw ConfigError("config key scores.status: need healthy > watch > at_risk");
  }
  if (!(c.risk_high > c.risk_medium)) {
    throw ConfigError("config key scores.risk: need high > medium");
  }
}

// scoring.churn_model / scoring.shadow_churn_model: "formula" (null) or a model file,
// relative to `base_dir` (the config file's directory) unless absolute.
std::shared_ptr<const ChurnModel> LoadModel(const std::string& path, const std::string& value,
                                            const std::string& base_dir) {
  if (value == "formula") return nullptr;
  if (value.empty()) Bad(path, "expected formula or the path of an XGBoost JSON model");
  std::string file = value;
  if (file.front() != '/' && !base_dir.empty()) file = base_dir + "/" + file;
  try {
    return ChurnModel::Load(file);
  } catch (const ModelError& e) {
    Bad(path, e.what());
  }
}

Config Parse(const YAML::Node& root, const std::string& base_dir) {
  Config config;
  if (!root || root.IsNull()) return config;
  if (!root.IsMap()) throw ConfigError("config: the top level must be a mapping of keys");
  std::vector<std::pair<std::string, const YAML::Node>> entries;
  Flatten(root, "", &entries);
  const std::vector<Key> keys = Keys();
  for (const auto& [path, node] : entries) {
    if (path.starts_with("kafka.")) {
      config.kafka[path.substr(6)] = KafkaProperty(path, node);
      continue;
    }
    if (path == "http.allowed_hosts") {
      // A list of host names, or one.
      std::vector<YAML::Node> hosts;
      if (node.IsScalar()) hosts.push_back(node);
      if (node.IsSequence()) {
        for (const auto& host : node) hosts.push_back(host);
      }
      if (hosts.empty() && !node.IsNull()) Bad(path, "expected a list of host names");
      for (const YAML::Node& host : hosts) {
        if (!host.IsScalar() || host.as<std::string>().empty() ||
            host.as<std::string>().find_first_of(" /:@") != std::string::npos) {
          Bad(path, "expected host names without port or scheme, e.g. [c360.example.com]");
        }
        config.http.allowed_hosts.push_back(host.as<std::string>());
      }
      continue;
    }
    if (path == "scoring.churn_model" || path == "scoring.shadow_churn_model") {
      if (!node.IsScalar()) Bad(path, "expected formula or the path of an XGBoost JSON model");
      const std::string value = node.as<std::string>();
      if (path == "scoring.churn_model") {
        config.churn_model = LoadModel(path, value, base_dir);
      } else if (value != "none") {
        config.shadow_churn_model = LoadModel(path, value, base_dir);
        config.shadow_formula = value == "formula";
      }
      continue;
    }
    const Key* key = nullptr;
    for (const Key& k : keys) {
      if (k.path == path) key = &k;
    }
    if (key == nullptr)
      throw ConfigError("config key " + path + ": unknown key (see docs/config.md)");
    if (!node.IsScalar()) Bad(path, "expected a single value");
    key->set(config, path, node.as<std::string>());
  }
  Validate(config);
  return config;
}

}  // namespace

std::array<RuleConfig, kRuleCount> Config::DefaultRules() {
  std::array<RuleConfig, kRuleCount> r;
  r[AlertEvent::HEALTH_LOW] = {true,
                               60,
                               65,
                               40,
                               0,
                               AlertEvent::WARNING,
                               "Open a success plan: review the drivers with the account team "
                               "and schedule a check-in call."};
  r[AlertEvent::CHURN_RISK_HIGH] = {true,
                                    70,
                                    60,
                                    0,
                                    0,
                                    AlertEvent::WARNING,
                                    "Escalate to the account owner for an executive sponsor call."};
  r[AlertEvent::USAGE_DROP] = {true,
                               30,
                               20,
                               0,
                               10,
                               AlertEvent::WARNING,
                               "Reach out to the main users: offer training on the modules "
                               "whose use fell."};
  r[AlertEvent::SLA_BREACH] = {true,
                               0,
                               0,
                               0,
                               0,
                               AlertEvent::INFO,
                               "Escalate the ticket to the support lead and update the customer."};
  r[AlertEvent::INVOICE_OVERDUE] = {true,
                                    0,
                                    0,
                                    0,
                                    0,
                                    AlertEvent::WARNING,
                                    "Call billing: agree a payment date for the overdue invoice."};
  r[AlertEvent::CSAT_LOW] = {true,
                             4.0,
                             4.2,
                             0,
                             3,
                             AlertEvent::WARNING,
                             "Review the low-rated tickets with the support lead and follow up."};
  r[AlertEvent::RESPONSE_TIME_HIGH] = {true,
                                       6,
                                       5,
                                       0,
                                       3,
                                       AlertEvent::WARNING,
                                       "Rebalance the support queue: this customer waits too long "
                                       "for first responses."};
  r[AlertEvent::RENEWAL_DUE] = {true,
                                90,
                                0,
                                0,
                                0,
                                AlertEvent::INFO,
                                "Start the renewal conversation with the decision maker."};
  // health_change_7d <= -15 fires, > -10 resolves.
  r[AlertEvent::HEALTH_DROP] = {true,
                                -15,
                                -10,
                                0,
                                0,
                                AlertEvent::WARNING,
                                "Find what changed this week: review the drivers and the "
                                "timeline with the account team."};
  // Active users down >= 30% fires, down < 20% resolves, with >= 5 prior active users.
  r[AlertEvent::ACTIVE_USERS_DROP] = {true,
                                      30,
                                      20,
                                      0,
                                      5,
                                      AlertEvent::WARNING,
                                      "Ask the champion why users stopped logging in; offer "
                                      "onboarding to the new ones."};
  r[AlertEvent::CREDIT_HOLD] = {true,
                                1,
                                0,
                                0,
                                0,
                                AlertEvent::WARNING,
                                "Agree a payment plan with billing before service is affected."};
  // nps_latest <= 6 fires, >= 7 resolves.
  r[AlertEvent::NPS_DETRACTOR] = {true,
                                  6,
                                  7,
                                  0,
                                  0,
                                  AlertEvent::WARNING,
                                  "Call the respondent back within a week and close the loop."};
  return r;
}

Config LoadConfig(const std::string& path) {
  try {
    const size_t slash = path.rfind('/');
    return Parse(YAML::LoadFile(path), slash == std::string::npos ? "" : path.substr(0, slash));
  } catch (const YAML::BadFile&) {
    throw ConfigError("config file " + path + ": cannot be read");
  } catch (const YAML::Exception& e) {
    throw ConfigError("config file " + path + ": " + e.what());
  }
}

Config ParseConfig(const std::string& yaml_text) {
  try {
    return Parse(YAML::Load(yaml_text), "");
  } catch (const YAML::Exception& e) {
    throw ConfigError(std::string("config: ") + e.what());
  }
}

bool LoadClientConfig(const std::string& command, const std::string& path,
                      std::map<std::string, std::string>* kafka, TopicNames* topics) {
  if (path.empty()) return true;
  try {
    Config config = LoadConfig(path);
    RedactLogs(Redactor(config.kafka));
    *kafka = std::move(config.kafka);
    *topics = config.topics;
    return true;
  } catch (const ConfigError& e) {
    std::cerr << "c360 " << command << ": " << e.what() << std::endl;
    return false;
  }
}

}  // namespace c360
