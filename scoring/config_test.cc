#include "scoring/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace c360 {
namespace {

std::string ErrorOf(const std::string& yaml) {
  try {
    ParseConfig(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigTest, DefaultsAreTheSpec) {
  const Config c = ParseConfig("");
  EXPECT_EQ(c.weight_usage + c.weight_support + c.weight_financial + c.weight_engagement, 100);
  EXPECT_EQ(c.weight_usage, 35);
  EXPECT_EQ(c.sla[1].response_hours, 1);
  EXPECT_EQ(c.sla[4].resolution_hours, 168);
  EXPECT_EQ(c.rule(v1::AlertEvent::HEALTH_LOW).fire, 60);
  EXPECT_EQ(c.rule(v1::AlertEvent::HEALTH_LOW).resolve, 65);
  EXPECT_EQ(c.rule(v1::AlertEvent::USAGE_DROP).min_sample, 10);
  EXPECT_EQ(c.vip_revenue_cents, 100'000'000);
  EXPECT_EQ(c.timer_grace_ms, 60'000);
  EXPECT_EQ(c.retention_days, 90);
  EXPECT_EQ(c.topics.alerts, "c360.alerts");
}

TEST(ConfigTest, LimitsOpenEntitiesPerCustomer) {
  EXPECT_EQ(ParseConfig("").open_entities_per_customer, 10'000);
  EXPECT_EQ(ParseConfig("limits: {open_entities_per_customer: 20}").open_entities_per_customer, 20);
  EXPECT_EQ(ErrorOf("limits: {open_entities_per_customer: 0}"),
            "config key limits.open_entities_per_customer: 0 is outside 1..1000000");
}

TEST(ConfigTest, ReadsNestedKeysRulesAndKafkaProperties) {
  const Config c = ParseConfig(R"(
topics: {alerts: cs.alerts}
engine: {batch_max_records: 1000, retention_days: 120}
log: {level: debug}
sla: {P2: {response_hours: 2}}
rules:
  CSAT_LOW: {fire: 3.5, resolve: 3.9, severity: CRITICAL, action: "Call them."}
  RENEWAL_DUE: {enabled: false}
kafka:
  security.protocol: SASL_SSL
  sasl.mechanism: PLAIN
)");
  EXPECT_EQ(c.topics.alerts, "cs.alerts");
  EXPECT_EQ(c.batch_max_records, 1000);
  EXPECT_EQ(c.retention_days, 120);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.sla[2].response_hours, 2);
  EXPECT_EQ(c.sla[2].resolution_hours, 24);
  EXPECT_EQ(c.rule(v1::AlertEvent::CSAT_LOW).fire, 3.5);
  EXPECT_EQ(c.rule(v1::AlertEvent::CSAT_LOW).severity, v1::AlertEvent::CRITICAL);
  EXPECT_EQ(c.rule(v1::AlertEvent::CSAT_LOW).action, "Call them.");
  EXPECT_FALSE(c.rule(v1::AlertEvent::RENEWAL_DUE).enabled);
  EXPECT_EQ(c.kafka.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c.kafka.at("sasl.mechanism"), "PLAIN");
}

TEST(ConfigTest, ErrorsNameTheKey) {
  EXPECT_EQ(ErrorOf("engine: {batch_max_recrods: 5}"),
            "config key engine.batch_max_recrods: unknown key (see docs/config.md)");
  EXPECT_EQ(ErrorOf("engine: {batch_max_ms: soon}"),
            "config key engine.batch_max_ms: expected an integer, got 'soon'");
  EXPECT_EQ(ErrorOf("engine: {retention_days: 30}"),
            "config key engine.retention_days: 30 is outside 60..3650");
  EXPECT_EQ(ErrorOf("rules: {HEALTH_LOW: {severity: LOUD}}"),
            "config key rules.HEALTH_LOW.severity: expected INFO, WARNING or CRITICAL, got 'LOUD'");
  EXPECT_EQ(ErrorOf("rules: {HEALTH_LOW: {enabled: yes}}"),
            "config key rules.HEALTH_LOW.enabled: expected true or false, got 'yes'");
  EXPECT_EQ(ErrorOf("scores: {weights: {usage: 40}}"),
            "config key scores.weights: the four weights must sum to 100, not 105");
  EXPECT_EQ(ErrorOf("log: {level: loud}"),
            "config key log.level: expected trace, debug, info, warn, error or off, not loud");
  EXPECT_EQ(ErrorOf("- a list"), "config: the top level must be a mapping of keys");
  EXPECT_NE(ErrorOf("engine: [unclosed").find("config:"), std::string::npos);
}

TEST(ConfigTest, MissingFileIsNamed) {
  try {
    LoadConfig("/nonexistent/c360.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "config file /nonexistent/c360.yaml: cannot be read");
  }
}

}  // namespace
}  // namespace c360
