#include "services/notify/notify_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "common/config_values.h"
#include "common/kafka_properties.h"

namespace c360::notify {
namespace {

[[noreturn]] void Bad(const std::string& key, const std::string& why) {
  throw NotifyConfigError("config key " + key + ": " + why);
}

std::string Scalar(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) Bad(key, "expected a single value");
  return node.as<std::string>();
}

int64_t Int(const YAML::Node& node, const std::string& key, int64_t lo, int64_t hi) {
  int64_t out = 0;
  if (auto why = ParseInteger(Scalar(node, key), lo, hi, &out)) Bad(key, *why);
  return out;
}

double Number(const YAML::Node& node, const std::string& key, double lo, double hi) {
  double out = 0;
  if (auto why = ParseNumber(Scalar(node, key), lo, hi, &out)) Bad(key, *why);
  return out;
}

// A secret: only as ${env:NAME} or ${file:PATH}, resolved now; never echoed.
std::string Secret(const YAML::Node& node, const std::string& key) {
  std::string value = Scalar(node, key);
  if (!value.starts_with("${")) {
    Bad(key, "a secret comes from the environment or a file: ${env:NAME} or ${file:PATH}");
  }
  if (auto why = ResolveKafkaReference(&value)) Bad(key, *why);
  if (value.empty()) Bad(key, "is empty");
  return value;
}

std::vector<std::string> List(const YAML::Node& node, const std::string& key) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.as<std::string>());
  } else if (node.IsSequence()) {
    for (const auto& item : node) out.push_back(Scalar(item, key));
  } else {
    Bad(key, "expected a value or a list");
  }
  return out;
}

template <typename Parse>
std::set<int> Enums(const YAML::Node& node, const std::string& key, Parse parse,
                    const std::string& what) {
  std::set<int> out;
  for (const std::string& name : List(node, key)) {
    const int v = parse(name);
    if (v <= 0) Bad(key, "'" + name + "' is not " + what);
    out.insert(v);
  }
  return out;
}

Match ParseMatch(const YAML::Node& node, const std::string& base) {
  Match m;
  if (!node.IsMap()) Bad(base, "expected a mapping (rules, severities, states, ...)");
  for (const auto& entry : node) {
    const std::string name = entry.first.as<std::string>();
    const std::string key = base + "." + name;
    const YAML::Node& v = entry.second;
    if (name == "rules") {
      m.rules = Enums(
          v, key,
          [](const std::string& s) {
            v1::AlertEvent::Rule r;
            return v1::AlertEvent::Rule_Parse(s, &r) ? static_cast<int>(r) : 0;
          },
          "a rule (HEALTH_LOW, CHURN_RISK_HIGH, ...)");
    } else if (name == "severities") {
      m.severities = Enums(
          v, key,
          [](const std::string& s) {
            v1::AlertEvent::Severity r;
            return v1::AlertEvent::Severity_Parse(s, &r) ? static_cast<int>(r) : 0;
          },
          "INFO, WARNING or CRITICAL");
    } else if (name == "states") {
      m.states = Enums(
          v, key,
          [](const std::string& s) {
            v1::AlertEvent::State r;
            return v1::AlertEvent::State_Parse(s, &r) ? static_cast<int>(r) : 0;
          },
          "FIRING or RESOLVED");
    } else if (name == "segments") {
      m.segments = Enums(
          v, key,
          [](const std::string& s) {
            v1::CustomerProfile::Segment r;
            return v1::CustomerProfile::Segment_Parse(s, &r) ? static_cast<int>(r) : 0;
          },
          "a segment (SMB, MID_MARKET, ENTERPRISE, GOVERNMENT)");
    } else if (name == "owners") {
      for (const std::string& owner : List(v, key)) m.owners.insert(owner);
    } else if (name == "vip") {
      const std::string b = Scalar(v, key);
      if (b != "true" && b != "false") Bad(key, "expected true or false, got '" + b + "'");
      m.vip = b == "true";
    } else if (name == "min_annual_revenue_cents") {
      m.min_annual_revenue_cents = Int(v, key, 0, INT64_MAX);
    } else {
      Bad(key,
          "unknown key (rules, severities, states, segments, owners, vip, "
          "min_annual_revenue_cents)");
    }
  }
  return m;
}

Route ParseRoute(const YAML::Node& node, const std::string& base) {
  if (!node.IsMap()) Bad(base, "expected a mapping (name, sink, url, ...)");
  Route r;
  bool has_url = false;
  for (const auto& entry : node) {
    const std::string name = entry.first.as<std::string>();
    const std::string key = base + "." + name;
    const YAML::Node& v = entry.second;
    if (name == "name") {
      r.name = Scalar(v, key);
      if (r.name.empty() || r.name.size() > 64 ||
          !std::all_of(r.name.begin(), r.name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
          })) {
        Bad(key, "1 to 64 of a-z, 0-9, - and _");
      }
    } else if (name == "sink") {
      const std::string s = Scalar(v, key);
      if (s != "webhook" && s != "slack") Bad(key, "expected webhook or slack, not '" + s + "'");
      r.sink = s == "slack" ? Sink::kSlack : Sink::kWebhook;
    } else if (name == "url") {
      // A webhook's address may be written out; a reference keeps it out of the file.
      std::string url = Scalar(v, key);
      if (url.starts_with("${")) {
        if (auto why = ResolveKafkaReference(&url)) Bad(key, *why);
      }
      if (!url.starts_with("http://") && !url.starts_with("https://")) {
        Bad(key, "expected an http:// or https:// URL");
      }
      r.url = url;
      has_url = true;
    } else if (name == "secret") {
      r.secret = Secret(v, key);
    } else if (name == "match") {
      r.match = ParseMatch(v, key);
    } else if (name == "max_attempts") {
      r.max_attempts = static_cast<int>(Int(v, key, 1, 1000));
    } else if (name == "max_retry_seconds") {
      r.max_retry_seconds = static_cast<int>(Int(v, key, 0, 7 * 86'400));
    } else if (name == "initial_backoff_ms") {
      r.initial_backoff_ms = static_cast<int>(Int(v, key, 1, 3'600'000));
    } else if (name == "max_backoff_ms") {
      r.max_backoff_ms = static_cast<int>(Int(v, key, 1, 3'600'000));
    } else if (name == "timeout_ms") {
      r.timeout_ms = static_cast<int>(Int(v, key, 10, 600'000));
    } else if (name == "rate_per_second") {
      r.rate_per_second = Number(v, key, 0, 1e6);
    } else if (name == "burst") {
      r.burst = static_cast<int>(Int(v, key, 1, 1'000'000));
    } else {
      Bad(key, "unknown key (see docs/notify.md)");
    }
  }
  if (r.name.empty()) Bad(base + ".name", "every route needs a name");
  if (!has_url) Bad(base + ".url", "every route needs one");
  if (r.sink == Sink::kWebhook && r.secret.empty()) {
    Bad(base + ".secret", "a webhook route signs what it sends: give it a secret");
  }
  if (r.sink == Sink::kSlack && !node["url"].as<std::string>().starts_with("${")) {
    Bad(base + ".url", "a Slack webhook URL is a secret: ${env:NAME} or ${file:PATH}");
  }
  if (r.max_backoff_ms < r.initial_backoff_ms) {
    Bad(base + ".max_backoff_ms", "below initial_backoff_ms");
  }
  return r;
}

NotifyConfig Parse(const YAML::Node& root) {
  NotifyConfig c;
  if (!root || !root.IsMap()) throw NotifyConfigError("config: expected a mapping of keys");
  for (const auto& entry : root) {
    const std::string name = entry.first.as<std::string>();
    const YAML::Node& v = entry.second;
    if (name == "group") {
      c.group = Scalar(v, name);
      if (c.group.empty()) Bad(name, "cannot be empty");
    } else if (name == "topics") {
      if (!v.IsMap()) Bad(name, "expected alerts and notify_deadletter");
      for (const auto& t : v) {
        const std::string key = "topics." + t.first.as<std::string>();
        std::string topic = Scalar(t.second, key);
        if (topic.empty()) Bad(key, "a topic name cannot be empty");
        if (t.first.as<std::string>() == "alerts") {
          c.alerts_topic = topic;
        } else if (t.first.as<std::string>() == "notify_deadletter") {
          c.deadletter_topic = topic;
        } else {
          Bad(key, "unknown key (alerts, notify_deadletter)");
        }
      }
    } else if (name == "kafka") {
      if (!v.IsMap()) Bad(name, "expected librdkafka properties");
      for (const auto& p : v) {
        const std::string prop = p.first.as<std::string>();
        const std::string key = "kafka." + prop;
        if (auto why = RefusedKafkaProperty(prop)) Bad(key, *why);
        std::string value = Scalar(p.second, key);
        if (auto why = ResolveKafkaReference(&value)) Bad(key, *why);
        if (auto why = RejectedKafkaProperty(prop, value)) Bad(key, *why);
        c.kafka[prop] = value;
      }
    } else if (name == "routes") {
      if (!v.IsSequence() || v.size() == 0) Bad(name, "expected a list of routes");
      for (size_t i = 0; i < v.size(); ++i) {
        c.routes.push_back(ParseRoute(v[i], "routes[" + std::to_string(i) + "]"));
        for (size_t j = 0; j + 1 < c.routes.size(); ++j) {
          if (c.routes[j].name == c.routes.back().name) {
            Bad("routes[" + std::to_string(i) + "].name",
                "'" + c.routes.back().name + "' names another route too");
          }
        }
      }
    } else if (name == "max_pending") {
      c.max_pending = static_cast<int>(Int(v, name, 1, 10'000'000));
    } else if (name == "commit_interval_ms") {
      c.commit_interval_ms = static_cast<int>(Int(v, name, 10, 600'000));
    } else {
      Bad(name, "unknown key (see docs/notify.md)");
    }
  }
  if (c.routes.empty()) Bad("routes", "at least one route is needed");
  return c;
}

}  // namespace

bool Match::Matches(const v1::AlertEvent& a) const {
  if (!rules.empty() && !rules.count(a.rule())) return false;
  if (!severities.empty() && !severities.count(a.severity())) return false;
  if (!states.empty() && !states.count(a.state())) return false;
  if (!segments.empty() && !segments.count(a.segment())) return false;
  if (!owners.empty() && !owners.count(a.owner())) return false;
  if (vip && *vip != a.vip()) return false;
  return a.annual_revenue_cents() >= min_annual_revenue_cents;
}

NotifyConfig LoadNotifyConfig(const std::string& path) {
  try {
    return Parse(YAML::LoadFile(path));
  } catch (const YAML::BadFile&) {
    throw NotifyConfigError("config file " + path + ": cannot be read");
  } catch (const YAML::Exception& e) {
    throw NotifyConfigError("config file " + path + ": " + e.what());
  }
}

NotifyConfig ParseNotifyConfig(const std::string& yaml_text) {
  try {
    return Parse(YAML::Load(yaml_text));
  } catch (const YAML::Exception& e) {
    throw NotifyConfigError(std::string("config: ") + e.what());
  }
}

}  // namespace c360::notify
