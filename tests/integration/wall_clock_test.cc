// --clock wall with an injected clock, in process: the engine, the embedded broker and a
// producer share this test's ManualClock-driven timeline (SPEC section 2).
//  - Replaying history fires no SLA timer early: T follows the wall clock only once the
//    task has caught up with all its partitions, after the responses have been read.
//  - After catching up, a deadline that passes in a quiet period fires without any new
//    event, when the wall clock (minus timer_grace) moves past it.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "c360/v1/alert.pb.h"
#include "c360/v1/ticket.pb.h"
#include "c360/v1/usage.pb.h"
#include "common/kafka.h"
#include "services/broker/embedded_broker.h"
#include "services/engine/engine.h"

namespace c360 {
namespace {

class WallClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BrokerOptions options;
    options.partitions = 1;
    broker_ = EmbeddedBroker::Start(options);
    producer_ = MakeClient(
        RD_KAFKA_PRODUCER,
        {{"bootstrap.servers", broker_->bootstrap()}, {"linger.ms", "1"}, {"log_level", "3"}});
    dir_ =
        std::filesystem::temp_directory_path() / ("c360-wall-clock-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    stop_ = true;
    if (engine_thread_.joinable()) engine_thread_.join();
    engine_.reset();
    producer_.reset();
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Produce(const std::string& topic, const std::string& key, const google::protobuf::Message& m,
               TimeMs t) {
    const std::string value = m.SerializeAsString();
    ASSERT_EQ(rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(t),
                                RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void Flush() { ASSERT_EQ(rd_kafka_flush(producer_.get(), 10'000), RD_KAFKA_RESP_ERR_NO_ERROR); }

  void Ticket(const std::string& customer, const std::string& id, const std::string& ticket,
              v1::TicketEvent::Kind kind, TimeMs t) {
    v1::TicketEvent e;
    e.set_event_id(id);
    e.set_customer_id(customer);
    e.set_ticket_id(ticket);
    e.set_kind(kind);
    e.set_priority(v1::TicketEvent::P1);
    *e.mutable_event_time() = ToTimestamp(t);
    Produce("c360.tickets", customer, e, t);
  }

  void StartEngine() {
    EngineSettings settings;
    settings.brokers = broker_->bootstrap();
    settings.state_dir = dir_.string();
    settings.wall_clock = true;
    settings.config.kafka["session.timeout.ms"] = "6000";
    engine_ = std::make_unique<Engine>(settings, clock_);
    engine_->OnDelivered([this](const state::v1::OutboxEntry& entry) {
      if (entry.topic() != "c360.alerts") return;
      v1::AlertEvent alert;
      ASSERT_TRUE(alert.ParseFromString(entry.value()));
      std::lock_guard lock(mu_);
      alerts_.push_back(alert);
    });
    engine_->Start();
    engine_thread_ = std::thread([this] { engine_->Run([this] { return stop_.load(); }); });
  }

  // Polls until `done` holds or 60 s pass (wall time).
  template <typename Done>
  bool WaitFor(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Every output of what the engine has applied is delivered (and seen by OnDelivered):
  // only then does "no alert" mean none was produced, not one still on its way.
  bool Settled() { return engine_->stats().outbox_pending == 0; }
  std::vector<v1::AlertEvent> Alerts() {
    std::lock_guard lock(mu_);
    return alerts_;
  }

  const TimeMs now_ = *ParseDate("2026-11-02") + 12 * kMsPerHour;
  ManualClock clock_{now_};
  std::unique_ptr<EmbeddedBroker> broker_;
  KafkaHandle producer_;
  std::filesystem::path dir_;
  std::unique_ptr<Engine> engine_;
  std::thread engine_thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<v1::AlertEvent> alerts_;
};

TEST_F(WallClockTest, HistoryFiresNoTimerEarlyAndQuietDeadlinesFire) {
  // 60 days of history: every day a P1 ticket answered after 30 min and resolved after
  // 2 h (both within SLA), and usage that keeps the clock customer busy.
  for (int day = 60; day >= 1; --day) {
    const TimeMs t = now_ - day * kMsPerDay;
    const std::string ticket = "T-" + std::to_string(day);
    Ticket("hist", "c" + ticket, ticket, v1::TicketEvent::CREATED, t);
    Ticket("hist", "r" + ticket, ticket, v1::TicketEvent::FIRST_RESPONSE, t + kMsPerHour / 2);
    Ticket("hist", "s" + ticket, ticket, v1::TicketEvent::RESOLVED, t + 2 * kMsPerHour);
    v1::UsageEvent u;
    u.set_customer_id("hist");
    *u.mutable_event_time() = ToTimestamp(t + 3 * kMsPerHour);
    Produce("c360.usage", "hist", u, t + 3 * kMsPerHour);
  }
  Flush();
  StartEngine();
  // Caught up: the engine's stream time follows the wall clock; the latest history event
  // is a day old, so T = now - 60 s shows the move happened.
  ASSERT_TRUE(WaitFor([&] {
    return engine_->stats().applied == 240 && engine_->stats().max_stream_time == now_ - 60'000 &&
           Settled();
  }));
  ASSERT_GT(engine_->stats().snapshots, 0);  // the history's outputs were delivered
  EXPECT_TRUE(Alerts().empty()) << Alerts().front().DebugString();

  // A new P1 ticket 10 minutes ago, not answered: response due in 50 minutes.
  Ticket("quiet", "q1", "T-Q", v1::TicketEvent::CREATED, now_ - 10 * 60'000);
  Flush();
  ASSERT_TRUE(WaitFor([&] { return engine_->stats().applied == 241 && Settled(); }));
  EXPECT_TRUE(Alerts().empty());

  // No more events. The wall clock moves 40 minutes: T = now + 40 min - 60 s, before the
  // deadline: nothing. Then 30 more: the deadline (now + 50 min) passes in silence.
  clock_.Advance(40 * 60'000);
  ASSERT_TRUE(WaitFor([&] {
    return engine_->stats().max_stream_time == now_ + 40 * 60'000 - 60'000 && Settled();
  }));
  EXPECT_TRUE(Alerts().empty());
  clock_.Advance(30 * 60'000);
  ASSERT_TRUE(WaitFor([&] { return !Alerts().empty(); }));
  const auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule(), v1::AlertEvent::SLA_BREACH);
  EXPECT_EQ(alerts[0].customer_id(), "quiet");
  EXPECT_EQ(alerts[0].sla_kind(), v1::AlertEvent::RESPONSE);
  EXPECT_EQ(ToMs(alerts[0].event_time()), now_ + 50 * 60'000);  // the deadline
  EXPECT_EQ(alerts[0].severity(), v1::AlertEvent::CRITICAL);
  EXPECT_EQ(engine_->stats().applied, 241);  // no event caused it
  ASSERT_TRUE(WaitFor([&] { return engine_->stats().timers_fired_by_kind[0] == 1; }));
  EXPECT_EQ(engine_->stats().timers_fired_by_kind[1], 0);
  EXPECT_EQ(engine_->stats().timers_pending, 1);  // the resolution deadline is still ahead
  EXPECT_EQ(engine_->stats().stream_time_by_task.size(), 1u);
}

}  // namespace
}  // namespace c360
