#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "services/notify/notify_config.h"
#include "services/notify/route_worker.h"

namespace c360::notify {
namespace {

std::string ErrorOf(const std::string& yaml) {
  try {
    ParseNotifyConfig(yaml);
  } catch (const NotifyConfigError& e) {
    return e.what();
  }
  return "";
}

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("C360_TEST_SECRET", "s3cret-value", 1);
    setenv("C360_TEST_SLACK", "https://hooks.slack.example/T000/B000/XXXX", 1);
  }
};

TEST_F(NotifyTest, AConfigReadsRoutesWithTheirMatchAndPolicy) {
  const NotifyConfig c = ParseNotifyConfig(R"(
group: cs-notify
routes:
  - name: cs-webhook
    sink: webhook
    url: http://127.0.0.1:9/hook
    secret: ${env:C360_TEST_SECRET}
    match: {rules: [HEALTH_LOW, CHURN_RISK_HIGH], severities: CRITICAL, vip: true,
            min_annual_revenue_cents: 100}
    max_attempts: 3
    rate_per_second: 2.5
    burst: 4
  - name: slack
    sink: slack
    url: ${env:C360_TEST_SLACK}
)");
  EXPECT_EQ(c.group, "cs-notify");
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].secret, "s3cret-value");
  EXPECT_EQ(c.routes[0].max_attempts, 3);
  EXPECT_EQ(c.routes[0].rate_per_second, 2.5);
  EXPECT_EQ(c.routes[1].sink, Sink::kSlack);
  EXPECT_EQ(c.routes[1].url, "https://hooks.slack.example/T000/B000/XXXX");
  const Match& m = c.routes[0].match;
  v1::AlertEvent a;
  a.set_rule(v1::AlertEvent::HEALTH_LOW);
  a.set_severity(v1::AlertEvent::CRITICAL);
  a.set_vip(true);
  a.set_annual_revenue_cents(100);
  EXPECT_TRUE(m.Matches(a));
  a.set_annual_revenue_cents(99);
  EXPECT_FALSE(m.Matches(a));
  a.set_annual_revenue_cents(100);
  a.set_vip(false);
  EXPECT_FALSE(m.Matches(a));
  a.set_vip(true);
  a.set_rule(v1::AlertEvent::USAGE_DROP);
  EXPECT_FALSE(m.Matches(a));
  a.set_rule(v1::AlertEvent::CHURN_RISK_HIGH);
  a.set_severity(v1::AlertEvent::WARNING);
  EXPECT_FALSE(m.Matches(a));
  EXPECT_TRUE(c.routes[1].match.Matches(a));  // no match: every alert
}

TEST_F(NotifyTest, ConfigErrorsNameTheKeyAndNeverTheSecret) {
  const std::string hook = "routes:\n  - {name: a, sink: webhook, url: http://h/x, secret: ";
  EXPECT_EQ(ErrorOf(hook + "plain-text-secret}\n"),
            "config key routes[0].secret: a secret comes from the environment or a file: "
            "${env:NAME} or ${file:PATH}");
  EXPECT_EQ(ErrorOf("routes:\n  - {name: a, sink: webhook, url: http://h/x}\n"),
            "config key routes[0].secret: a webhook route signs what it sends: give it a secret");
  EXPECT_EQ(ErrorOf("routes:\n  - {name: s, sink: slack, url: 'https://hooks.slack.com/x'}\n"),
            "config key routes[0].url: a Slack webhook URL is a secret: ${env:NAME} or "
            "${file:PATH}");
  EXPECT_EQ(ErrorOf(hook + "'${env:C360_TEST_SECRET}', match: {rules: [HEALTH_LOWW]}}\n"),
            "config key routes[0].match.rules: 'HEALTH_LOWW' is not a rule (HEALTH_LOW, "
            "CHURN_RISK_HIGH, ...)");
  EXPECT_EQ(ErrorOf(hook + "'${env:C360_TEST_SECRET}', max_attempts: 0}\n"),
            "config key routes[0].max_attempts: 0 is outside 1..1000");
  EXPECT_EQ(ErrorOf(hook + "'${env:C360_TEST_SECRET}', colour: red}\n"),
            "config key routes[0].colour: unknown key (see docs/notify.md)");
  EXPECT_EQ(
      ErrorOf(hook + "'${env:NOT_SET_ANYWHERE_C360}'}\n").rfind("config key routes[0].secret: ", 0),
      0u);
  EXPECT_EQ(ErrorOf("routes: []\n"), "config key routes: expected a list of routes");
  EXPECT_EQ(ErrorOf("kafka: {enable.auto.commit: 'true'}\nroutes: []\n")
                .rfind("config key kafka.enable.auto.commit", 0),
            0u);
  const std::string twice = hook +
                            "'${env:C360_TEST_SECRET}'}\n  - {name: a, sink: webhook, "
                            "url: http://h/y, secret: '${env:C360_TEST_SECRET}'}\n";
  EXPECT_EQ(ErrorOf(twice), "config key routes[1].name: 'a' names another route too");
  for (const std::string& e : {ErrorOf(hook + "'${env:C360_TEST_SECRET}', max_attempts: x}\n")}) {
    EXPECT_EQ(e.find("s3cret-value"), std::string::npos);
  }
}

TEST_F(NotifyTest, TheSignatureIsHmacSha256OfTheBody) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  v1::AlertEvent a;
  a.set_alert_id("0123456789abcdef");
  a.set_state(v1::AlertEvent::FIRING);
  a.set_severity(v1::AlertEvent::CRITICAL);
  EXPECT_EQ(DeliveryKey(a), "0123456789abcdef:FIRING:CRITICAL");
}

TEST_F(NotifyTest, SlackGetsOneLineWithTheCustomerAndALink) {
  v1::AlertEvent a;
  a.set_severity(v1::AlertEvent::WARNING);
  a.set_state(v1::AlertEvent::FIRING);
  a.set_customer_id("cust-7");
  a.set_customer_name("Acme <Labs> & Co");
  a.set_message("Health 52 is below 60.\nCall them.");
  a.set_url("https://c360.example.com/app/#cust-7");
  const auto body = nlohmann::json::parse(SlackPayload(a));
  EXPECT_EQ(body["text"],
            "*WARNING* Acme &lt;Labs&gt; &amp; Co (cust-7): Health 52 is below 60. Call them. "
            "<https://c360.example.com/app/#cust-7|Open in c360>");
  a.set_state(v1::AlertEvent::RESOLVED);
  a.clear_url();
  EXPECT_EQ(nlohmann::json::parse(SlackPayload(a))["text"],
            "*WARNING* resolved: Acme &lt;Labs&gt; &amp; Co (cust-7): Health 52 is below 60. "
            "Call them.");
}

// A receiver on 127.0.0.1 answering from a script of statuses, recording what it got.
class Receiver {
 public:
  struct Got {
    std::string body;
    std::string delivery;
    std::string signature;
    std::chrono::steady_clock::time_point at;
  };
  explicit Receiver(std::vector<std::pair<int, std::string>> script) : script_(std::move(script)) {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      got_.push_back({req.body, req.get_header_value("X-C360-Delivery"),
                      req.get_header_value("X-C360-Signature"), std::chrono::steady_clock::now()});
      const size_t i = got_.size() - 1;
      const auto [status, retry_after] = i < script_.size() ? script_[i] : std::pair{200, ""};
      res.status = status;
      if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  std::vector<Got> got() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  httplib::Server server_;
  std::vector<std::pair<int, std::string>> script_;
  std::mutex mu_;
  std::vector<Got> got_;
  int port_ = 0;
  std::thread thread_;
};

// Runs jobs through a worker and waits for their outcomes.
struct Harness {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Outcome> outcomes;
  std::atomic<int> retries{0};
  std::unique_ptr<RouteWorker> worker;

  explicit Harness(Route route) {
    worker = std::make_unique<RouteWorker>(
        std::move(route),
        [this](const Job&, const Outcome& o) {
          std::lock_guard lock(mu);
          outcomes.push_back(o);
          cv.notify_all();
        },
        [this] { ++retries; });
  }
  std::vector<Outcome> Run(int alerts) {
    for (int i = 0; i < alerts; ++i) {
      auto p = std::make_shared<PreparedAlert>();
      p->alert.set_alert_id("a" + std::to_string(i));
      p->alert.set_state(v1::AlertEvent::FIRING);
      p->alert.set_severity(v1::AlertEvent::WARNING);
      p->json = "{\"alert_id\":\"a" + std::to_string(i) + "\"}";
      worker->Push(Job{static_cast<uint64_t>(i), p});
    }
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30),
                [&] { return outcomes.size() == static_cast<size_t>(alerts); });
    return outcomes;
  }
};

Route Webhook(const std::string& url) {
  Route r;
  r.name = "test";
  r.url = url;
  r.secret = "k";
  r.initial_backoff_ms = 20;
  r.max_backoff_ms = 40;
  return r;
}

TEST_F(NotifyTest, AWebhookIsRetriedUntilTheReceiverTakesItAndIsSigned) {
  Receiver receiver({{500, ""}, {503, ""}, {429, "1"}});
  Harness h(Webhook(receiver.url()));
  const auto outcomes = h.Run(1);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(outcomes[0].delivered);
  EXPECT_EQ(outcomes[0].attempts, 4);
  EXPECT_EQ(h.retries, 3);
  const auto got = receiver.got();
  ASSERT_EQ(got.size(), 4u);
  for (const auto& g : got) {
    EXPECT_EQ(g.delivery, "a0:FIRING:WARNING");
    EXPECT_EQ(g.signature, "sha256=" + HmacSha256Hex("k", g.body));
  }
  // Retry-After: 1 (second) outweighs the 20-40 ms backoff.
  EXPECT_GE(got[3].at - got[2].at, std::chrono::milliseconds(950));
}

TEST_F(NotifyTest, WhatRetryingCannotChangeFailsAtOnceAndTheRestAfterTheirAttempts) {
  Receiver refuses({{400, ""}});
  Harness once(Webhook(refuses.url()));
  auto outcomes = once.Run(1);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_FALSE(outcomes[0].delivered);
  EXPECT_EQ(outcomes[0].attempts, 1);
  EXPECT_EQ(outcomes[0].last_error, "HTTP 400 (not retried)");

  Route down = Webhook("http://127.0.0.1:9/hook");  // the discard port: nothing listens
  down.max_attempts = 3;
  Harness h(down);
  outcomes = h.Run(1);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_FALSE(outcomes[0].delivered);
  EXPECT_EQ(outcomes[0].attempts, 3);
  EXPECT_EQ(outcomes[0].last_error, "Connection");
}

TEST_F(NotifyTest, ARateLimitSpacesRequestsAndDropsNone) {
  Receiver receiver({});
  Route r = Webhook(receiver.url());
  r.rate_per_second = 20;
  r.burst = 1;
  Harness h(r);
  const auto outcomes = h.Run(6);
  ASSERT_EQ(outcomes.size(), 6u);
  for (const Outcome& o : outcomes) EXPECT_TRUE(o.delivered);
  const auto got = receiver.got();
  ASSERT_EQ(got.size(), 6u);
  // One token every 50 ms: the six requests span at least five intervals.
  EXPECT_GE(got.back().at - got.front().at, std::chrono::milliseconds(240));
}

}  // namespace
}  // namespace c360::notify
