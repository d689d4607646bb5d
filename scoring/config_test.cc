#include "scoring/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
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

TEST(ConfigTest, ProcessingThreads) {
  EXPECT_EQ(ParseConfig("").threads, 1);
  EXPECT_EQ(ParseConfig("engine: {threads: 4}").threads, 4);
  EXPECT_EQ(ErrorOf("engine: {threads: 0}"), "config key engine.threads: 0 is outside 1..256");
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
  EXPECT_EQ(ErrorOf("recommendations: {nps_detractor_max: 11}"),
            "config key recommendations.nps_detractor_max: 11 is outside -1..10");
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

TEST(ConfigTest, KafkaPropertiesC360SetsItselfAreRefusedByName) {
  for (const char* name :
       {"enable.auto.commit", "enable.auto.offset.store", "enable.idempotence", "group.id",
        "isolation.level", "transactional.id", "partition.assignment.strategy",
        "enable.partition.eof", "auto.offset.reset", "topic.auto.offset.reset"}) {
    SCOPED_TRACE(name);
    const std::string error = ErrorOf(std::string("kafka:\n  ") + name + ": hunter2-secret\n");
    EXPECT_TRUE(error.starts_with(std::string("config key kafka.") + name +
                                  ": c360 sets this property itself"))
        << error;
    EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
  }
  EXPECT_EQ(ErrorOf("kafka: {group.id: x}"),
            "config key kafka.group.id: c360 sets this property itself; use --group to name "
            "the consumer group");
  EXPECT_EQ(ErrorOf("kafka: {enable.idempotence: false}"),
            "config key kafka.enable.idempotence: c360 sets this property itself: outputs are "
            "published by an idempotent producer (SPEC section 6.3)");
  // Nested spellings reach the same property.
  EXPECT_NE(ErrorOf("kafka: {enable: {auto: {commit: true}}}").find("kafka.enable.auto.commit"),
            std::string::npos);
}

TEST(ConfigTest, KafkaPropertiesAreCheckedByLibrdkafkaWithoutTheirValue) {
  EXPECT_EQ(ErrorOf("kafka: {sasl.pasword: hunter2-secret}"),
            "config key kafka.sasl.pasword: No such configuration property: \"sasl.pasword\"");
  EXPECT_EQ(ErrorOf("kafka: {security.protocol: hunter2-secret}"),
            "config key kafka.security.protocol: Invalid value \"[redacted]\" for configuration "
            "property \"security.protocol\"");
  EXPECT_EQ(ErrorOf("kafka: {session.timeout.ms: hunter2}"),
            "config key kafka.session.timeout.ms: Invalid value for configuration property "
            "\"session.timeout.ms\"");
  EXPECT_EQ(ErrorOf("kafka: {linger.ms: 9999999}"),
            "config key kafka.linger.ms: Configuration property \"queue.buffering.max.ms\" "
            "value [redacted] is outside allowed range 0..900000");
  EXPECT_EQ(ErrorOf("kafka: {sasl.password: [hunter2-secret]}"),
            "config key kafka.sasl.password: a librdkafka property needs a scalar value");
  // Accepted as written; what librdkafka checks only when it builds a client (files,
  // conflicting settings) is Engine::CreateClients' to report.
  const Config c = ParseConfig(
      "kafka: {sasl.password: hunter2-secret, group.instance.id: engine-1, linger.ms: 5}");
  EXPECT_EQ(c.kafka.at("sasl.password"), "hunter2-secret");
  EXPECT_EQ(c.kafka.at("group.instance.id"), "engine-1");
}

TEST(ConfigTest, KafkaSecretsComeFromTheEnvironmentOrAFile) {
  ::setenv("C360_CONFIG_TEST_SECRET", "from-env", 1);
  const std::string file = ::testing::TempDir() + "/config_test_password";
  std::ofstream(file) << "from-file\n";
  const Config c = ParseConfig(
      "kafka:\n  sasl.password: ${env:C360_CONFIG_TEST_SECRET}\n"
      "  ssl.key.password: ${file:" +
      file + "}\n");
  EXPECT_EQ(c.kafka.at("sasl.password"), "from-env");
  EXPECT_EQ(c.kafka.at("ssl.key.password"), "from-file");
  std::remove(file.c_str());

  ::unsetenv("C360_CONFIG_TEST_UNSET");
  EXPECT_EQ(ErrorOf("kafka: {sasl.password: '${env:C360_CONFIG_TEST_UNSET}'}"),
            "config key kafka.sasl.password: environment variable C360_CONFIG_TEST_UNSET is not "
            "set");
  EXPECT_EQ(ErrorOf("kafka: {sasl.password: '${file:/nonexistent/password}'}"),
            "config key kafka.sasl.password: cannot read ${file:/nonexistent/password}: No such "
            "file or directory");
  // A value read from the environment is checked, and never shown, like one written out.
  ::setenv("C360_CONFIG_TEST_SECRET", "hunter2-secret", 1);
  EXPECT_EQ(ErrorOf("kafka: {security.protocol: '${env:C360_CONFIG_TEST_SECRET}'}"),
            "config key kafka.security.protocol: Invalid value \"[redacted]\" for configuration "
            "property \"security.protocol\"");
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
