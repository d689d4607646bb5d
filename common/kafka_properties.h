#pragma once
// What a config file may say to librdkafka (its `kafka.*` keys, docs/config.md), and how the
// secrets among those properties stay out of logs and error messages.
//
// Every reason returned here is one line for a person that never contains a property's
// value: a mistyped `sasl.pasword: hunter2` must not print hunter2. The functions are pure
// (ResolveKafkaReference reads the environment or a file); a Redactor is immutable once
// built, so any thread may use it.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c360 {

// Why a config file may not set `name` (c360 sets it itself to keep SPEC section 6, or
// relies on its value), or nullopt. Also matches librdkafka's `topic.` prefix and legacy
// alias of those properties.
std::optional<std::string> RefusedKafkaProperty(std::string_view name);

// A value `${env:NAME}` or `${file:/path}` is replaced by the environment variable's value
// or the file's contents (one trailing newline stripped); any other value is left alone.
// Returns why it cannot be (naming the variable or the path), or nullopt.
std::optional<std::string> ResolveKafkaReference(std::string* value);

// librdkafka's reason for refusing name=value on a fresh conf, without the value; nullopt
// if librdkafka takes it. (Whether a client can be built from a whole set is only known
// when it is built: see Engine::CreateClients.)
std::optional<std::string> RejectedKafkaProperty(const std::string& name, const std::string& value);

// `text`, a message librdkafka wrote about `value`, on one line and with the value (and each
// comma- or space-separated part of it, as librdkafka quotes the one bad element of a list)
// replaced by [redacted] wherever it stands as a word.
std::string WithoutValue(std::string_view text, std::string_view value);

// Whether a property's value is a secret: names containing `password` or `secret`, the
// `sasl.oauthbearer.*` properties (but `sasl.oauthbearer.method`, default or oidc), and key
// material (`ssl.key.pem`, `ssl_key`). Certificates, usernames and paths are not secrets.
bool IsSecretKafkaProperty(std::string_view name);

// Replaces every secret value of a config's Kafka properties by [redacted] in a text (a log
// line, an error message). One instance, built from the config at start-up, sits in front
// of the log (RedactLogs) and of the engine's fatal error lines.
class Redactor {
 public:
  static constexpr std::string_view kMark = "[redacted]";

  Redactor() = default;
  // The secrets among `kafka_properties`, and `other_secrets` (http.auth_token).
  explicit Redactor(const std::map<std::string, std::string>& kafka_properties,
                    const std::vector<std::string>& other_secrets = {});

  std::string Redact(std::string_view text) const;
  bool empty() const { return secrets_.empty(); }

 private:
  // Each secret value and, for a multi-line one (a PEM key), each of its lines; longest
  // first, so that a secret containing another is replaced whole.
  std::vector<std::string> secrets_;
};

}  // namespace c360
