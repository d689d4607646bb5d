#include "common/kafka_properties.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log_redaction.h"

namespace c360 {
namespace {

TEST(KafkaPropertiesTest, RefusesWhatC360SetsItselfByName) {
  for (const char* name :
       {"enable.auto.commit", "enable.auto.offset.store", "enable.idempotence", "group.id",
        "isolation.level", "transactional.id", "partition.assignment.strategy",
        "enable.partition.eof", "auto.offset.reset", "auto.commit.enable", "offset.store.method",
        "topic.auto.offset.reset", "topic.auto.commit.enable"}) {
    SCOPED_TRACE(name);
    const auto why = RefusedKafkaProperty(name);
    ASSERT_TRUE(why.has_value());
    EXPECT_NE(why->find("c360 sets this property itself"), std::string::npos);
    EXPECT_EQ(why->find('\n'), std::string::npos);
  }
  EXPECT_NE(RefusedKafkaProperty("group.id")->find("use --group"), std::string::npos);
  for (const char* name : {"group.instance.id", "session.timeout.ms", "sasl.password",
                           "topic.metadata.refresh.interval.ms", "auto.commit.interval.ms"}) {
    EXPECT_FALSE(RefusedKafkaProperty(name).has_value()) << name;
  }
}

TEST(KafkaPropertiesTest, LibrdkafkaRejectionsLeaveTheValueOut) {
  EXPECT_FALSE(RejectedKafkaProperty("sasl.password", "hunter2-secret").has_value());
  EXPECT_FALSE(RejectedKafkaProperty("session.timeout.ms", "6000").has_value());
  EXPECT_EQ(RejectedKafkaProperty("sasl.pasword", "hunter2-secret"),
            "No such configuration property: \"sasl.pasword\"");
  // librdkafka quotes the value ...
  EXPECT_EQ(RejectedKafkaProperty("security.protocol", "hunter2-secret"),
            "Invalid value \"[redacted]\" for configuration property \"security.protocol\"");
  // ... or the one bad element of a list ...
  EXPECT_EQ(RejectedKafkaProperty("debug", "broker,hunter2"),
            "Invalid value \"[redacted]\" for configuration property \"debug\"");
  // ... or appends it, or prints the number it parsed, ending with a newline.
  EXPECT_EQ(RejectedKafkaProperty("partitioner", "hunter2"),
            "Invalid value for configuration property \"partitioner\": [redacted]");
  EXPECT_EQ(RejectedKafkaProperty("linger.ms", "-5"),
            "Configuration property \"queue.buffering.max.ms\" value [redacted] is outside "
            "allowed range 0..900000");
  EXPECT_EQ(RejectedKafkaProperty("linger.ms", "9999999"),
            "Configuration property \"queue.buffering.max.ms\" value [redacted] is outside "
            "allowed range 0..900000");  // printed as 1e+07
  EXPECT_EQ(RejectedKafkaProperty("batch.num.messages", "0"),
            "Configuration property \"batch.num.messages\" value [redacted] is outside "
            "allowed range 1..1000000");
  EXPECT_EQ(RejectedKafkaProperty("session.timeout.ms", "soon"),
            "Invalid value for configuration property \"session.timeout.ms\"");
}

TEST(KafkaPropertiesTest, WithoutValueReplacesWholeWordsOnly) {
  EXPECT_EQ(WithoutValue("value x for \"max.x\": x", "x"),
            "value [redacted] for \"max.[redacted]\": [redacted]");
  EXPECT_EQ(WithoutValue("dlopen() failed: hunter2.so: no such file", "hunter2"),
            "dlopen() failed: [redacted].so: no such file");
  EXPECT_EQ(WithoutValue("configuration", "on"), "configuration");
  EXPECT_EQ(WithoutValue("two\nlines\n", ""), "two lines");
}

TEST(KafkaPropertiesTest, SecretsAreKnownByName) {
  for (const char* name : {"sasl.password", "ssl.key.password", "ssl.keystore.password",
                           "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config",
                           "sasl.oauthbearer.extensions", "ssl.key.pem", "ssl_key"}) {
    EXPECT_TRUE(IsSecretKafkaProperty(name)) << name;
  }
  for (const char* name :
       {"sasl.username", "ssl.certificate.pem", "ssl.ca.location", "ssl.key.location",
        "sasl.oauthbearer.method", "enable.sasl.oauthbearer.unsecure.jwt", "security.protocol"}) {
    EXPECT_FALSE(IsSecretKafkaProperty(name)) << name;
  }
}

TEST(KafkaPropertiesTest, ReferencesReadTheEnvironmentAndFiles) {
  ::setenv("C360_KAFKA_PROPERTIES_TEST", "from-env", 1);
  std::string value = "${env:C360_KAFKA_PROPERTIES_TEST}";
  EXPECT_EQ(ResolveKafkaReference(&value), std::nullopt);
  EXPECT_EQ(value, "from-env");

  ::unsetenv("C360_KAFKA_PROPERTIES_UNSET");
  value = "${env:C360_KAFKA_PROPERTIES_UNSET}";
  EXPECT_EQ(ResolveKafkaReference(&value),
            "environment variable C360_KAFKA_PROPERTIES_UNSET is not set");

  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "kafka_properties_test";
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "password").string();
  std::ofstream(file) << "from-file\n";
  value = "${file:" + file + "}";
  EXPECT_EQ(ResolveKafkaReference(&value), std::nullopt);
  EXPECT_EQ(value, "from-file");  // one trailing newline stripped
  std::ofstream(file) << "pem line 1\npem line 2\n\n";
  value = "${file:" + file + "}";
  EXPECT_EQ(ResolveKafkaReference(&value), std::nullopt);
  EXPECT_EQ(value, "pem line 1\npem line 2\n");  // only one

  value = "${file:" + (dir / "missing").string() + "}";
  EXPECT_EQ(ResolveKafkaReference(&value),
            "cannot read ${file:" + (dir / "missing").string() + "}: No such file or directory");
  value = "${file:" + dir.string() + "}";
  EXPECT_EQ(ResolveKafkaReference(&value),
            "cannot read ${file:" + dir.string() + "}: not a regular file");
  value = "${vault:kafka/password}";
  EXPECT_EQ(ResolveKafkaReference(&value),
            "a value written ${...} must be ${env:NAME} or ${file:/path}");
  for (const char* literal : {"plain", "${not closed", "$notareference}", "a${env:X}"}) {
    value = literal;
    EXPECT_EQ(ResolveKafkaReference(&value), std::nullopt);
    EXPECT_EQ(value, literal);
  }
  std::filesystem::remove_all(dir);
}

TEST(KafkaPropertiesTest, RedactorReplacesEverySecretValue) {
  const Redactor redactor({{"sasl.username", "c360"},
                           {"sasl.password", "hunter2"},
                           {"sasl.oauthbearer.client.secret", "hunter2-and-more"},
                           {"ssl.key.pem", "-----BEGIN KEY-----\nAbCdEf0123\n-----END KEY-----"},
                           {"ssl.key.password", ""}});
  EXPECT_EQ(redactor.Redact("user c360 password hunter2 secret hunter2-and-more"),
            "user c360 password [redacted] secret [redacted]");
  EXPECT_EQ(redactor.Redact("bad key line AbCdEf0123"), "bad key line [redacted]");
  EXPECT_EQ(redactor.Redact("nothing here"), "nothing here");
  EXPECT_TRUE(Redactor(std::map<std::string, std::string>{{"sasl.username", "c360"}}).empty());
  // Secrets beyond Kafka's (the API token).
  EXPECT_EQ(Redactor(std::map<std::string, std::string>{}, {"api-token-0123456789"})
                .Redact("Authorization: Bearer api-token-0123456789"),
            "Authorization: Bearer [redacted]");
}

// What the engine's OnKafkaLog writes for a librdkafka line that carries a secret (as SASL
// and OIDC errors can), through the log's one redaction point.
TEST(KafkaPropertiesTest, LogLinesAreRedactedBeforeTheyAreWritten) {
  std::ostringstream out;
  auto logger = std::make_shared<spdlog::logger>(
      "redaction_test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  logger->set_pattern("level=%l %v");
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  RedactLogs(Redactor(std::map<std::string, std::string>{{"sasl.password", "hunter2-secret"},
                                                         {"sasl.username", "c360"}}));
  spdlog::set_pattern("%v");  // reaches the sink behind the redaction
  spdlog::log(spdlog::level::err, "event=rdkafka client={} facility={} message=\"{}\"",
              "rdkafka#consumer-1", "SASL",
              "sasl1:9093/1: SASL authentication error: Authentication failed for user c360 "
              "with password hunter2-secret (after 5ms in state AUTH_REQ)");
  spdlog::warn("event=kafka_error client=producer error=_AUTHENTICATION reason=\"{}\"",
               "hunter2-secret rejected");
  spdlog::set_default_logger(previous);
  EXPECT_EQ(out.str(),
            "event=rdkafka client=rdkafka#consumer-1 facility=SASL message=\"sasl1:9093/1: SASL "
            "authentication error: Authentication failed for user c360 with password "
            "[redacted] (after 5ms in state AUTH_REQ)\"\n"
            "event=kafka_error client=producer error=_AUTHENTICATION reason=\"[redacted] "
            "rejected\"\n");
}

}  // namespace
}  // namespace c360
