#include "services/notify/route_worker.h"
#include "common/logfmt.h"

#include <httplib.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace c360::notify {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Retry-After: delay-seconds or an HTTP-date.
std::optional<milliseconds> ParseRetryAfter(const std::string& value) {
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return milliseconds(int64_t{999'999'999} * 1000);
    return milliseconds(std::stoll(value) * 1000);
  }
  std::tm tm{};
  if (strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
  const auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  const auto now = std::chrono::system_clock::now();
  return at > now ? std::chrono::duration_cast<milliseconds>(at - now) : milliseconds(0);
}

bool Retryable(int status) {
  return status < 0 || status == 408 || status == 425 || status == 429 || status >= 500;
}

}  // namespace

std::string DeliveryKey(const v1::AlertEvent& a) {
  return a.alert_id() + ":" + v1::AlertEvent::State_Name(a.state()) + ":" +
         v1::AlertEvent::Severity_Name(a.severity());
}

std::string HmacSha256Hex(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &size);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

std::string SlackPayload(const v1::AlertEvent& a) {
  // Slack's mrkdwn: &, < and > are escaped; a link is <url|text>.
  const auto escape = [](const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '&') {
        out += "&amp;";
      } else if (c == '<') {
        out += "&lt;";
      } else if (c == '>') {
        out += "&gt;";
      } else if (c == '\n' || c == '\r') {
        out += ' ';
      } else {
        out += c;
      }
    }
    return out;
  };
  std::string line = "*" + v1::AlertEvent::Severity_Name(a.severity()) + "* ";
  if (a.state() == v1::AlertEvent::RESOLVED) line += "resolved: ";
  line += escape(a.customer_name().empty() ? a.customer_id() : a.customer_name());
  if (!a.customer_name().empty()) line += " (" + escape(a.customer_id()) + ")";
  line += ": " + escape(a.message());
  if (!a.url().empty()) line += " <" + escape(a.url()) + "|Open in c360>";
  return nlohmann::json{{"text", line}, {"unfurl_links", false}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct RouteWorker::Client {
  httplib::Client http;
  explicit Client(const std::string& origin) : http(origin) {}
};

RouteWorker::RouteWorker(Route route, Done done, std::function<void()> on_retry)
    : route_(std::move(route)),
      done_(std::move(done)),
      on_retry_(std::move(on_retry)),
      tokens_(route_.burst),
      refilled_(Clock::now()),
      jitter_state_(std::hash<std::string>{}(route_.name) | 1) {
  const size_t scheme = route_.url.find("://");
  const size_t slash = route_.url.find('/', scheme + 3);
  origin_ = route_.url.substr(0, slash);
  path_ = slash == std::string::npos ? "/" : route_.url.substr(slash);
  client_ = std::make_unique<Client>(origin_);
  client_->http.set_keep_alive(true);
  client_->http.set_tcp_nodelay(true);  // headers and body go in two writes: no 40 ms wait
  const int ms = route_.timeout_ms;
  client_->http.set_connection_timeout(ms / 1000, (ms % 1000) * 1000);
  client_->http.set_read_timeout(ms / 1000, (ms % 1000) * 1000);
  client_->http.set_write_timeout(ms / 1000, (ms % 1000) * 1000);
  thread_ = std::thread([this] { Run(); });
}

RouteWorker::~RouteWorker() { Stop(); }

void RouteWorker::Push(Job job) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_all();
}

size_t RouteWorker::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void RouteWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool RouteWorker::SleepUntil(Clock::time_point until) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, until, [&] { return stopping_; });
  return !stopping_;
}

void RouteWorker::TakeToken() {
  if (route_.rate_per_second <= 0) return;
  while (true) {
    const auto now = Clock::now();
    tokens_ = std::min<double>(
        route_.burst,
        tokens_ + route_.rate_per_second * std::chrono::duration<double>(now - refilled_).count());
    refilled_ = now;
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return;
    }
    const auto wait = std::chrono::duration<double>((1 - tokens_) / route_.rate_per_second);
    if (!SleepUntil(now + std::chrono::duration_cast<Clock::duration>(wait))) return;
  }
}

int RouteWorker::Send(const PreparedAlert& p, std::string* error,
                      std::optional<milliseconds>* retry_after) {
  httplib::Headers headers = {{"User-Agent", "c360-notify"}};
  std::string body;
  if (route_.sink == Sink::kWebhook) {
    body = p.json;
    headers.emplace("X-C360-Alert-Id", p.alert.alert_id());
    headers.emplace("X-C360-Delivery", DeliveryKey(p.alert));
    headers.emplace("X-C360-Signature", "sha256=" + HmacSha256Hex(route_.secret, body));
  } else {
    body = SlackPayload(p.alert);
  }
  httplib::Result r = client_->http.Post(path_, headers, body, "application/json");
  if (!r) {
    *error = httplib::to_string(r.error());  // "Connection", "Read", ...: never the URL
    return -1;
  }
  if (r->status >= 200 && r->status < 300) return 0;
  *error = "HTTP " + std::to_string(r->status);
  if (r->has_header("Retry-After"))
    *retry_after = ParseRetryAfter(r->get_header_value("Retry-After"));
  return r->status;
}

Outcome RouteWorker::Deliver(const PreparedAlert& p) {
  Outcome out;
  const auto first = Clock::now();
  const auto give_up_at = first + std::chrono::seconds(route_.max_retry_seconds);
  while (true) {
    TakeToken();
    {
      std::lock_guard lock(mu_);
      if (stopping_) return out;
    }
    std::optional<milliseconds> retry_after;
    ++out.attempts;
    const int status = Send(p, &out.last_error, &retry_after);
    if (status == 0) {
      out.delivered = true;
      return out;
    }
    if (!Retryable(status) || out.attempts >= route_.max_attempts) {
      if (!Retryable(status)) out.last_error += " (not retried)";
      return out;
    }
    // Exponential backoff with jitter: a uniform wait in [d/2, d], d doubling per attempt.
    const int64_t d =
        std::min<int64_t>(route_.max_backoff_ms,
                          int64_t{route_.initial_backoff_ms} << std::min(out.attempts - 1, 30));
    jitter_state_ ^= jitter_state_ << 13;
    jitter_state_ ^= jitter_state_ >> 7;
    jitter_state_ ^= jitter_state_ << 17;
    milliseconds wait(d / 2 +
                      static_cast<int64_t>(jitter_state_ % static_cast<uint64_t>(d / 2 + 1)));
    if (retry_after && *retry_after > wait) wait = *retry_after;
    const auto next = Clock::now() + wait;
    if (next > give_up_at) {
      out.last_error += " (gave up after " + std::to_string(route_.max_retry_seconds) + " s)";
      return out;
    }
    spdlog::debug("event=notify_retry route={} alert_id={} attempt={} error={} wait_ms={}",
                  LogValue(route_.name), LogValue(p.alert.alert_id()), out.attempts,
                  LogValue(out.last_error), wait.count());
    on_retry_();
    if (!SleepUntil(next)) return out;
  }
}

void RouteWorker::Run() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    const Outcome outcome = Deliver(*job.alert);
    {
      std::lock_guard lock(mu_);
      if (stopping_ && !outcome.delivered) return;  // undone: read again after a restart
    }
    if (!outcome.delivered) {
      spdlog::warn("event=notify_failed route={} alert_id={} attempts={} error={}",
                   LogValue(route_.name), LogValue(job.alert->alert.alert_id()), outcome.attempts,
                   LogValue(outcome.last_error));
    }
    done_(job, outcome);
  }
}

}  // namespace c360::notify
