#include "common/kafka_properties.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace c360 {
namespace {

struct Refusal {
  std::string_view name;
  std::string_view why;
};

// The properties c360 sets itself (SPEC section 7 lists the first six). Each reason says
// what depends on the value, and what to use instead where there is something.
constexpr std::array kRefused = {
    Refusal{"enable.auto.commit",
            "c360 sets this property itself: offsets live in RocksDB with the state "
            "(SPEC section 6.2), never committed behind its back"},
    Refusal{"auto.commit.enable",
            "c360 sets this property itself (the legacy name of enable.auto.commit): offsets "
            "live in RocksDB with the state (SPEC section 6.2)"},
    Refusal{"enable.auto.offset.store",
            "c360 sets this property itself: offsets live in RocksDB with the state "
            "(SPEC section 6.2)"},
    Refusal{"offset.store.method",
            "c360 sets this property itself: offsets live in RocksDB, and the output fence "
            "commits them to the group coordinator (docs/reliability.md)"},
    Refusal{"enable.idempotence",
            "c360 sets this property itself: outputs are published by an idempotent producer "
            "(SPEC section 6.3)"},
    Refusal{"transactional.id",
            "c360 sets this property itself: outputs are published by an idempotent, "
            "non-transactional producer (SPEC section 6.3)"},
    Refusal{"isolation.level",
            "c360 sets this property itself: the engine reads committed records only "
            "(read_committed), so an aborted upstream transaction is never counted"},
    Refusal{"group.id", "c360 sets this property itself; use --group to name the consumer group"},
    Refusal{"partition.assignment.strategy",
            "c360 sets this property itself: range keeps partition p of every co-partitioned "
            "input topic on one member, a task (docs/decisions.md)"},
    Refusal{"enable.partition.eof",
            "c360 sets this property itself: the event-time merge needs end-of-partition "
            "events to know a partition is at its end"},
    Refusal{"auto.offset.reset",
            "c360 sets this property itself: offsets live in RocksDB, and a partition without "
            "one is read from its beginning (latest would skip unconsumed events)"},
};

// A secret file is a password, a token or a PEM key: a megabyte is far beyond any.
constexpr off_t kMaxSecretFileBytes = 1 << 20;

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Replaces each occurrence of `word` in *text that no word character touches on either side.
void ReplaceWord(std::string* text, std::string_view word) {
  if (word.empty()) return;
  size_t at = 0;
  while ((at = text->find(word, at)) != std::string::npos) {
    const size_t end = at + word.size();
    const bool bounded =
        (at == 0 || !IsWordChar((*text)[at - 1]) || !IsWordChar(word.front())) &&
        (end == text->size() || !IsWordChar((*text)[end]) || !IsWordChar(word.back()));
    if (!bounded) {
      ++at;
      continue;
    }
    text->replace(at, word.size(), Redactor::kMark);
    at += Redactor::kMark.size();
  }
}

std::optional<std::string> ReadSecretFile(const std::string& path, std::string* out) {
  const std::string cannot = "cannot read ${file:" + path + "}: ";
  struct File {
    int fd;
    ~File() {
      if (fd >= 0) ::close(fd);
    }
  } file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  const int fd = file.fd;
  if (fd < 0) return cannot + std::strerror(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return cannot + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return cannot + "not a regular file";
  if (st.st_size > kMaxSecretFileBytes) return cannot + "larger than 1 MiB";
  std::string contents(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::read(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return cannot + std::strerror(errno);
    if (n == 0) break;  // shrank meanwhile
    done += static_cast<size_t>(n);
  }
  contents.resize(done);
  if (contents.ends_with('\n')) contents.pop_back();
  if (contents.ends_with('\r')) contents.pop_back();
  *out = std::move(contents);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> RefusedKafkaProperty(std::string_view name) {
  // librdkafka takes a topic-level property with the `topic.` prefix too.
  const std::string_view bare = name.starts_with("topic.") ? name.substr(6) : name;
  for (const Refusal& r : kRefused) {
    if (name == r.name || bare == r.name) return std::string(r.why);
  }
  return std::nullopt;
}

std::optional<std::string> ResolveKafkaReference(std::string* value) {
  const std::string_view v = *value;
  if (!v.starts_with("${") || !v.ends_with('}')) return std::nullopt;
  const std::string_view inner = v.substr(2, v.size() - 3);
  if (inner.starts_with("env:") && inner.size() > 4) {
    const std::string name(inner.substr(4));
    const char* found = std::getenv(name.c_str());
    if (found == nullptr) return "environment variable " + name + " is not set";
    *value = found;
    return std::nullopt;
  }
  if (inner.starts_with("file:") && inner.size() > 5) {
    std::string contents;
    if (auto why = ReadSecretFile(std::string(inner.substr(5)), &contents)) return why;
    *value = std::move(contents);
    return std::nullopt;
  }
  return "a value written ${...} must be ${env:NAME} or ${file:/path}";
}

std::optional<std::string> RejectedKafkaProperty(const std::string& name,
                                                 const std::string& value) {
  const std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)> scratch(
      rd_kafka_conf_new(), &rd_kafka_conf_destroy);
  char err[512] = "";
  if (rd_kafka_conf_set(scratch.get(), name.c_str(), value.c_str(), err, sizeof err) ==
      RD_KAFKA_CONF_OK) {
    return std::nullopt;
  }
  return WithoutValue(err, value);
}

std::string WithoutValue(std::string_view text, std::string_view value) {
  std::string out(text);
  // The whole value first, then its parts, longest first: one containing another goes whole.
  std::vector<std::string_view> parts = {value};
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || value[i] == ',' || value[i] == ' ' || value[i] == '\t' ||
        value[i] == '\n' || value[i] == '\r') {
      if (i > start) parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  // A number is printed as librdkafka parsed it: 9999999 as "1e+07" (%g), 007 as "7".
  std::vector<std::string> renderings;
  const std::string number(value);
  char* end = nullptr;
  const double parsed = number.empty() ? 0 : std::strtod(number.c_str(), &end);
  if (!number.empty() && end == number.c_str() + number.size() && std::isfinite(parsed)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", parsed);
    renderings.emplace_back(buf);
    if (std::fabs(parsed) < 9e18) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(parsed));
      renderings.emplace_back(buf);
    }
  }
  for (const std::string& r : renderings) parts.push_back(r);
  std::stable_sort(parts.begin(), parts.end(),
                   [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
  for (std::string_view part : parts) ReplaceWord(&out, part);
  // One line: librdkafka ends some messages with a newline.
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool IsSecretKafkaProperty(std::string_view name) {
  return name.find("password") != std::string_view::npos ||
         name.find("secret") != std::string_view::npos ||
         (name.starts_with("sasl.oauthbearer.") && name != "sasl.oauthbearer.method") ||
         name == "ssl.key.pem" || name == "ssl_key";
}

Redactor::Redactor(const std::map<std::string, std::string>& kafka_properties,
                   const std::vector<std::string>& other_secrets) {
  std::vector<std::string> values = other_secrets;
  for (const auto& [name, value] : kafka_properties) {
    if (IsSecretKafkaProperty(name)) values.push_back(value);
  }
  for (const std::string& value : values) {
    if (value.empty()) continue;
    secrets_.push_back(value);
    if (value.find('\n') == std::string::npos) continue;
    size_t start = 0;
    while (start <= value.size()) {
      size_t end = value.find('\n', start);
      if (end == std::string::npos) end = value.size();
      std::string line = value.substr(start, end - start);
      if (line.ends_with('\r')) line.pop_back();
      if (!line.empty()) secrets_.push_back(std::move(line));
      start = end + 1;
    }
  }
  std::sort(secrets_.begin(), secrets_.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
}

std::string Redactor::Redact(std::string_view text) const {
  if (secrets_.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t at = 0;
  while (at < text.size()) {
    const auto secret = std::find_if(secrets_.begin(), secrets_.end(), [&](const std::string& s) {
      return text.substr(at).starts_with(s);
    });
    if (secret != secrets_.end()) {
      out += kMark;
      at += secret->size();
    } else {
      out += text[at++];
    }
  }
  return out;
}

}  // namespace c360
