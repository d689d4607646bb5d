#include "services/engine/task.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <list>

#include "c360/v1/alert.pb.h"
#include "scoring/test_events.h"
#include "services/engine/fake_record_owner.h"

namespace c360 {
namespace {

using namespace c360::testing;

class TaskTest : public ::testing::Test {
 protected:
  TaskTest() : clock_(At(200)), task_(0, config_, clock_, OutputFormat::kProtobuf, &owner_) {}

  void Feed(InputTopic topic, const std::string& key, const google::protobuf::Message& m,
            TimeMs kafka_ts, std::vector<std::pair<std::string, std::string>> headers = {}) {
    void* handle = owner_.Hold({key, m.SerializeAsString(), std::move(headers)});
    auto* held = static_cast<FakeOwner::Held*>(handle);
    TaskRecord r;
    r.input.topic = topic;
    r.input.key = held->key;
    r.input.value = held->value;
    r.input.kafka_timestamp_ms = kafka_ts;
    r.partition = 0;
    r.offset = next_offset_[static_cast<int>(topic)]++;
    r.handle = handle;
    task_.Buffer(r);
  }
  void EndAll() {
    for (InputTopic topic : kAllInputTopics) task_.MarkAtEnd(topic);
  }
  std::vector<state::v1::OutboxEntry> Outputs(const std::string& topic) {
    StateBatch batch;
    std::vector<PublishItem> publish;
    task_.Drain(&batch, &publish);
    std::vector<state::v1::OutboxEntry> out;
    for (auto& item : publish) {
      if (item.entry.topic() == topic) out.push_back(item.entry);
    }
    return out;
  }
  static v1::UsageEvent UsageAt(const std::string& customer, TimeMs t) {
    v1::UsageEvent e = Usage();
    e.set_customer_id(customer);
    *e.mutable_event_time() = ToTimestamp(t);
    return e;
  }

  Config config_;
  ManualClock clock_;
  FakeOwner owner_;
  Task task_;
  int64_t next_offset_[kInputTopicCount] = {};
};

TEST_F(TaskTest, WaitsForEveryPartitionThenMergesByEventTimeAndRank) {
  // Profiles first: nothing applies until the customers partition reached its end.
  Feed(InputTopic::kUsage, "c1", UsageAt("c1", At(1, 10)), At(1, 10));
  EXPECT_EQ(task_.Process(100), 0);
  task_.MarkAtEnd(InputTopic::kCustomers);
  // Tickets, invoices, campaigns have neither data nor end yet: the merge waits.
  EXPECT_EQ(task_.Process(100), 0);
  task_.MarkAtEnd(InputTopic::kCampaigns);
  task_.MarkAtEnd(InputTopic::kInvoices);
  EXPECT_EQ(task_.Process(100), 0);
  // An invoice at the same instant as the usage record goes first (rank: invoices first).
  v1::InvoiceEvent hold = Invoice("e1", "", v1::InvoiceEvent::CREDIT_HOLD_SET);
  hold.set_customer_id("c1");
  *hold.mutable_event_time() = ToTimestamp(At(1, 10));
  Feed(InputTopic::kInvoices, "c1", hold, At(1, 10));
  task_.MarkAtEnd(InputTopic::kTickets);
  EXPECT_EQ(task_.Process(1), 1);
  // New data arrived in invoices after its end: until the next end-of-partition the merge
  // cannot know the partition is drained, so the usage record waits.
  EXPECT_EQ(task_.Process(100), 0);
  task_.MarkAtEnd(InputTopic::kInvoices);
  ASSERT_NE(task_.customer("c1"), nullptr);
  EXPECT_TRUE(task_.customer("c1")->credit_hold());
  EXPECT_EQ(task_.customer("c1")->last_usage_day(), kNoDay);  // usage not applied yet
  EXPECT_EQ(task_.Process(100), 1);
  EXPECT_EQ(task_.stream_time(), At(1, 10));
  EXPECT_FALSE(task_.CaughtUp());  // usage had data after its last end-of-partition
  task_.MarkAtEnd(InputTopic::kUsage);
  EXPECT_TRUE(task_.CaughtUp());
  EXPECT_EQ(owner_.live, 0);  // every applied record was released
}

// max_task_idle_ms: each drained partition is waited for from when the task first has
// records to apply without it, not from when it emptied, and an idle task starts afresh,
// so that a quiet period does not use the wait up before a burst arrives.
TEST_F(TaskTest, IdleWaitCountsFromTheFirstRecordThatMustWait) {
  config_.max_task_idle_ms = 2000;
  EndAll();
  clock_.Advance(60'000);  // a minute with every partition drained
  Feed(InputTopic::kUsage, "c1", UsageAt("c1", At(1, 12)), At(1, 12));
  EXPECT_EQ(task_.Process(100), 0);  // tickets, invoices, campaigns: waited for from now
  clock_.Advance(1500);
  EXPECT_EQ(task_.Process(100), 0);
  // The burst's ticket, older than the usage record, arrives within the wait.
  v1::TicketEvent t = Ticket("t1", "T-1", v1::TicketEvent::CREATED);
  t.set_customer_id("c1");
  *t.mutable_event_time() = ToTimestamp(At(1, 11));
  Feed(InputTopic::kTickets, "c1", t, At(1, 11));
  task_.MarkAtEnd(InputTopic::kTickets);
  EXPECT_EQ(task_.Process(100), 0);  // invoices and campaigns: 500 ms to go
  clock_.Advance(500);
  EXPECT_EQ(task_.Process(1), 1);
  EXPECT_EQ(task_.stream_time(), At(1, 11));  // the ticket first, in event-time order
  // Tickets drained again, with usage to apply: a new wait for tickets alone (the quiet
  // invoices and campaigns were waited for already and have had no data since).
  EXPECT_EQ(task_.Process(100), 0);
  clock_.Advance(1999);
  EXPECT_EQ(task_.Process(100), 0);
  clock_.Advance(1);
  EXPECT_EQ(task_.Process(100), 1);
  EXPECT_EQ(task_.stream_time(), At(1, 12));
  // Everything applied, the task is idle: the next burst waits afresh for every drained
  // partition, once; its later records go on without waiting again.
  clock_.Advance(60'000);
  Feed(InputTopic::kUsage, "c1", UsageAt("c1", At(1, 13)), At(1, 13));
  Feed(InputTopic::kUsage, "c1", UsageAt("c1", At(1, 14)), At(1, 14));
  task_.MarkAtEnd(InputTopic::kUsage);
  EXPECT_EQ(task_.Process(100), 0);
  clock_.Advance(1999);
  EXPECT_EQ(task_.Process(100), 0);
  clock_.Advance(1);
  EXPECT_EQ(task_.Process(1), 1);
  EXPECT_EQ(task_.Process(100), 1);
  EXPECT_EQ(task_.stream_time(), At(1, 14));
  EXPECT_TRUE(task_.CaughtUp());
  EXPECT_EQ(owner_.live, 0);
}

TEST_F(TaskTest, DeadLettersKeepKeyValueHeadersAndNeverMoveStreamTime) {
  EndAll();
  Feed(InputTopic::kUsage, "c1", UsageAt("c1", At(5)), At(5));
  Feed(InputTopic::kUsage, "other", UsageAt("c1", At(9)), At(9), {{"trace", "t-1"}});
  Feed(InputTopic::kUsage, "c1", UsageAt("c1", At(-100)), At(-100));  // too late by then
  EndAll();
  task_.Process(100);
  EXPECT_EQ(task_.stream_time(), At(5));
  const auto letters = Outputs(config_.topics.deadletter);
  ASSERT_EQ(letters.size(), 2u);
  std::map<std::string, std::string> h;
  for (const auto& header : letters[0].headers()) h[header.name()] = header.value();
  EXPECT_EQ(letters[0].key(), "other");
  EXPECT_EQ(letters[0].value(), UsageAt("c1", At(9)).SerializeAsString());
  EXPECT_EQ(h["trace"], "t-1");
  EXPECT_EQ(h["c360-reason"], "key_mismatch");
  EXPECT_EQ(h["c360-source-topic"], "c360.usage");
  EXPECT_EQ(h["c360-source-partition"], "0");
  EXPECT_EQ(h["c360-source-offset"], "1");
  EXPECT_FALSE(h["c360-detail"].empty());
  for (const auto& header : letters[1].headers()) h[header.name()] = header.value();
  EXPECT_EQ(h["c360-reason"], "too_late");
  const auto& usage_letters = task_.counters().deadlettered[static_cast<int>(InputTopic::kUsage)];
  EXPECT_EQ(usage_letters[static_cast<int>(DeadLetterReason::kTooLate)], 1);
}

TEST_F(TaskTest, OpenEntitiesBeyondTheLimitAreInvalidValueAndOpenOnesStillTakeEvents) {
  config_.open_entities_per_customer = 3;
  using K = v1::TicketEvent;
  using I = v1::InvoiceEvent;
  int hour = 0;
  const auto ticket = [&](const std::string& event_id, const std::string& id, K::Kind kind) {
    v1::TicketEvent e = Ticket(event_id, id, kind);
    *e.mutable_event_time() = ToTimestamp(At(1, ++hour));
    Feed(InputTopic::kTickets, "cust-1", e, At(1, hour));
  };
  const auto invoice = [&](const std::string& event_id, const std::string& id, I::Kind kind) {
    v1::InvoiceEvent e = Invoice(event_id, id, kind);
    e.set_amount_cents(100);
    *e.mutable_event_time() = ToTimestamp(At(1, ++hour));
    Feed(InputTopic::kInvoices, "cust-1", e, At(1, hour));
  };
  const auto run = [&] {
    EndAll();
    task_.Process(1000);
  };
  EndAll();
  ticket("t1", "T-1", K::CREATED);
  ticket("t2", "T-2", K::CREATED);
  ticket("t3", "T-3", K::FIRST_RESPONSE);  // open before its CREATED arrives
  run();
  ticket("t4", "T-4", K::CREATED);         // 1st dead letter: a 4th open ticket
  ticket("t5", "T-4", K::RESOLVED);        // a ticket born resolved opens nothing
  ticket("t1", "T-1", K::CREATED);         // a redelivery changes nothing
  ticket("t6", "T-1", K::FIRST_RESPONSE);  // an open ticket still takes its events
  ticket("t7", "T-1", K::RESOLVED);        // 2 open now
  run();
  const TimeMs before = task_.stream_time();
  ticket("t8", "T-1", K::REOPENED);  // 3 open again
  ticket("t9", "T-5", K::CREATED);   // 2nd dead letter
  run();
  EXPECT_EQ(task_.customer("cust-1")->unresolved_tickets(), 3u);
  EXPECT_EQ(task_.stream_time(), At(1, hour - 1));  // the dead letter did not move it
  EXPECT_GT(task_.stream_time(), before);

  invoice("i1", "INV-1", I::ISSUED);
  invoice("i2", "INV-2", I::ISSUED);
  invoice("i3", "INV-3", I::VOIDED);    // unsettled until issued
  invoice("i4", "INV-4", I::ISSUED);    // 3rd dead letter
  invoice("i5", "INV-1", I::PAID);      // settled: 2 unsettled
  invoice("i6", "INV-4", I::ISSUED);    // room again
  invoice("i7", "INV-1", I::DISPUTED);  // 4th dead letter: would unsettle INV-1
  invoice("i8", "INV-2", I::PAID);      // an unsettled invoice still takes its events
  invoice("i9", "", I::CREDIT_HOLD_SET);
  run();
  const CustomerState& c = *task_.customer("cust-1");
  EXPECT_EQ(c.unsettled_invoices(), 2u);  // INV-3 (voided, never issued), INV-4
  EXPECT_TRUE(c.credit_hold());
  EXPECT_EQ(c.invoices().size(), 4u);
  EXPECT_EQ(c.tickets().size(), 4u);  // T-1..T-4; T-5 never entered

  std::vector<std::string> details;
  for (const auto& letter : Outputs(config_.topics.deadletter)) {
    std::map<std::string, std::string> h;
    for (const auto& header : letter.headers()) h[header.name()] = header.value();
    EXPECT_EQ(h["c360-reason"], "invalid_value");
    details.push_back(h["c360-detail"]);
  }
  EXPECT_EQ(
      details,
      (std::vector<std::string>{
          "customer cust-1 has 3 open tickets, limits.open_entities_per_customer is 3: ticket "
          "T-4 would open one more",
          "customer cust-1 has 3 open tickets, limits.open_entities_per_customer is 3: ticket "
          "T-5 would open one more",
          "customer cust-1 has 3 unsettled invoices, limits.open_entities_per_customer is 3: "
          "invoice INV-4 would add one more",
          "customer cust-1 has 3 unsettled invoices, limits.open_entities_per_customer is 3: "
          "invoice INV-1 would add one more"}));
  EXPECT_EQ(owner_.live, 0);
}

TEST_F(TaskTest, TimersFireInDeadlineOrderAtTheDeadline) {
  EndAll();
  using K = v1::TicketEvent;
  v1::TicketEvent p1 = Ticket("e1", "T-1", K::CREATED, K::P1);  // response due 09:00 + 1 h
  p1.set_customer_id("c2");
  *p1.mutable_event_time() = ToTimestamp(At(1, 9));
  v1::TicketEvent p2 = Ticket("e2", "T-2", K::CREATED, K::P2);  // response due 08:00 + 4 h
  p2.set_customer_id("c1");
  *p2.mutable_event_time() = ToTimestamp(At(1, 8));
  Feed(InputTopic::kTickets, "c1", p2, At(1, 8));
  Feed(InputTopic::kTickets, "c2", p1, At(1, 9));
  EndAll();
  task_.Process(100);
  EXPECT_EQ(task_.timer_count(), 4u);  // two responses, two resolutions
  Outputs(config_.topics.alerts);
  // Another customer's record at 13:00 moves T past 10:00 and 12:00.
  Feed(InputTopic::kUsage, "c3", UsageAt("c3", At(1, 13)), At(1, 13));
  EndAll();
  task_.Process(100);
  const auto alerts = Outputs(config_.topics.alerts);
  ASSERT_EQ(alerts.size(), 2u);
  v1::AlertEvent first, second;
  ASSERT_TRUE(first.ParseFromString(alerts[0].value()));
  ASSERT_TRUE(second.ParseFromString(alerts[1].value()));
  EXPECT_EQ(first.entity_id(), "T-1");
  EXPECT_EQ(ToMs(first.stream_time()), At(1, 10));
  EXPECT_EQ(ToMs(first.event_time()), At(1, 10));
  EXPECT_EQ(first.severity(), v1::AlertEvent::CRITICAL);
  EXPECT_EQ(second.entity_id(), "T-2");
  EXPECT_EQ(ToMs(second.stream_time()), At(1, 12));
  EXPECT_EQ(task_.timer_count(), 2u);
  EXPECT_EQ(task_.counters().timers_fired, 2);
}

TEST_F(TaskTest, DayChangeRescoresSilentCustomers) {
  EndAll();
  Feed(InputTopic::kUsage, "silent", UsageAt("silent", At(1, 9)), At(1, 9));
  Feed(InputTopic::kUsage, "clock", UsageAt("clock", At(1, 10)), At(1, 10));
  EndAll();
  task_.Process(100);
  Outputs(config_.topics.health);
  // Twelve days later only "clock" has events; "silent" is re-scored on the day change:
  // usage 100 - 3 x (12 - 7) = 85 -> health (35 x 85 + 25 x 100 x 2 + 15 x 70) = 90.25 -> 90.
  Feed(InputTopic::kUsage, "clock", UsageAt("clock", At(13, 10)), At(13, 10));
  EndAll();
  task_.Process(100);
  // "clock" had its day-change re-score before its record; "silent" waits for the sweep.
  EXPECT_EQ(task_.counters().rescored_on_day_change, 1);
  EXPECT_TRUE(task_.sweep_pending());
  EXPECT_EQ(task_.SweepStep(100), 1u);
  EXPECT_FALSE(task_.sweep_pending());
  EXPECT_EQ(task_.counters().rescored_on_day_change, 2);
  bool saw_silent = false;
  for (const auto& entry : Outputs(config_.topics.health)) {
    v1::HealthSnapshot s;
    ASSERT_TRUE(s.ParseFromString(entry.value()));
    if (s.customer_id() != "silent") continue;
    saw_silent = true;
    EXPECT_EQ(s.health(), 90);
    EXPECT_EQ(s.kpis().days_since_last_usage(), 12);
  }
  EXPECT_TRUE(saw_silent);
}

TEST_F(TaskTest, StateSurvivesDrainAndRestore) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("c360-task-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  EndAll();
  using K = v1::TicketEvent;
  v1::TicketEvent created = Ticket("e1", "T-1", K::CREATED, K::P3);
  created.set_customer_id("c1");
  *created.mutable_event_time() = ToTimestamp(At(1, 9));
  Feed(InputTopic::kTickets, "c1", created, At(1, 9));
  Feed(InputTopic::kUsage, "c1", UsageAt("c1", At(1, 10)), At(1, 10));
  EndAll();
  task_.Process(100);
  {
    auto store = StateStore::Open(dir.string());
    StateBatch batch;
    std::vector<PublishItem> publish;
    task_.Drain(&batch, &publish);
    ASSERT_FALSE(store->Commit(&batch).has_value());
  }
  auto store = StateStore::Open(dir.string());
  Task restored(0, config_, clock_, OutputFormat::kProtobuf, &owner_);
  restored.Restore(*store);
  EXPECT_EQ(restored.stream_time(), At(1, 10));
  EXPECT_EQ(restored.timer_count(), 2u);
  EXPECT_EQ(*restored.resume_offset(InputTopic::kTickets), 1);
  EXPECT_EQ(*restored.resume_offset(InputTopic::kUsage), 1);
  EXPECT_FALSE(restored.resume_offset(InputTopic::kInvoices).has_value());
  // Outbox entries not yet confirmed come back for publishing.
  EXPECT_FALSE(restored.TakeRestoredOutbox().empty());
  // Customers are read when first needed.
  EXPECT_EQ(restored.customer("c1"), nullptr);
  for (InputTopic topic : kAllInputTopics) restored.MarkAtEnd(topic);
  void* handle = owner_.Hold({"c1", UsageAt("c1", At(1, 11)).SerializeAsString(), {}});
  TaskRecord r;
  r.input.topic = InputTopic::kUsage;
  r.input.key = static_cast<FakeOwner::Held*>(handle)->key;
  r.input.value = static_cast<FakeOwner::Held*>(handle)->value;
  r.input.kafka_timestamp_ms = At(1, 11);
  r.offset = 1;
  r.handle = handle;
  restored.Buffer(r);
  restored.MarkAtEnd(InputTopic::kUsage);
  EXPECT_EQ(restored.Process(10), 1);
  ASSERT_NE(restored.customer("c1"), nullptr);
  EXPECT_EQ(restored.customer("c1")->tickets().size(), 1u);
  EXPECT_EQ(restored.counters().cache_misses, 1);
  CustomerState copy = *restored.customer("c1");
  EXPECT_EQ(copy.UsageR30(static_cast<int32_t>(DayOf(At(1)))), 2);
  // Its timers were re-derived, not duplicated.
  EXPECT_EQ(restored.timer_count(), 2u);
  store.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(TaskTest, EvictedCustomersComeBackFromTheStoreWhole) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("c360-evict-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store = StateStore::Open(dir.string());
  task_.Restore(*store);
  EndAll();
  for (int day = 1; day <= 3; ++day) {
    for (const char* id : {"a", "b", "c"})
      Feed(InputTopic::kUsage, id, UsageAt(id, At(day, 9)), At(day, 9));
  }
  EndAll();
  task_.Process(100);
  StateBatch batch;
  std::vector<PublishItem> publish;
  task_.Drain(&batch, &publish);
  ASSERT_FALSE(store->Commit(&batch).has_value());
  task_.Evict(1);
  EXPECT_EQ(task_.customer_count(), 1u);
  // A day change re-scores every customer, evicted ones included; then "a" goes on.
  Feed(InputTopic::kUsage, "a", UsageAt("a", At(4, 9)), At(4, 9));
  EndAll();
  task_.Process(100);
  // Days 2 and 3 were swept whole when the next day came; day 4's sweep has re-scored
  // "a" (its record came) and finishes with the two evicted customers.
  EXPECT_EQ(task_.counters().rescored_on_day_change, 3 + 3 + 1);
  StateBatch batch2;
  std::vector<PublishItem> publish2;
  task_.Drain(&batch2, &publish2);
  ASSERT_FALSE(store->Commit(&batch2).has_value());
  EXPECT_EQ(task_.SweepStep(1), 1u);  // one slice of one customer
  EXPECT_TRUE(task_.sweep_pending());
  EXPECT_EQ(task_.SweepStep(100), 2u);  // the last one, then the stored ones are done
  EXPECT_FALSE(task_.sweep_pending());
  EXPECT_EQ(task_.counters().rescored_on_day_change, 3 + 3 + 3);
  ASSERT_NE(task_.customer("a"), nullptr);
  CustomerState a = *task_.customer("a");
  EXPECT_EQ(a.UsageR30(static_cast<int32_t>(DayOf(At(4)))), 4);
  EXPECT_GT(task_.counters().cache_misses, 3);
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace c360
