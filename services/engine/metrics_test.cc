#include "services/engine/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "c360/v1/alert.pb.h"

namespace c360 {
namespace {

// Samples of the text exposition: "name{labels}" -> value.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

class MetricsTest : public ::testing::Test {
 protected:
  TopicNames topics_;
  EngineMetrics metrics_{topics_};
  double Sample(const std::string& series) {
    const auto samples = Samples(metrics_.Render());
    const auto it = samples.find(series);
    if (it == samples.end()) {
      ADD_FAILURE() << "no sample " << series;
      return -1;
    }
    return it->second;
  }
  bool Has(const std::string& series) { return Samples(metrics_.Render()).count(series) > 0; }
};

TEST_F(MetricsTest, EverySpecMetricIsExported) {
  EngineStats s;  // per task and partition series exist once something is assigned
  s.stream_time_by_task = {{0, 0}};
  s.lag = {{{"c360.usage", 0}, 0}};
  metrics_.Update(s);
  const std::string text = metrics_.Render();
  for (const char* name : {"events_consumed_total",
                           "events_deadlettered_total",
                           "alerts_emitted_total",
                           "event_processing_seconds",
                           "event_to_alert_seconds",
                           "consumer_lag",
                           "customers",
                           "stream_time_seconds",
                           "outbox_pending",
                           "state_commit_seconds",
                           "rocksdb_live_data_bytes",
                           "rocksdb_pending_compaction_bytes",
                           "shadow_risk_abs_diff",
                           "build_info",
                           "shadow_level_disagreements_total",
                           "ready",
                           "output_fence_seconds",
                           "rocksdb_write_stall",
                           "rocksdb_write_stall_seconds_total",
                           "state_disk_free_bytes",
                           "state_disk_capacity_bytes"}) {
    EXPECT_NE(text.find(std::string("# TYPE c360_") + name + " "), std::string::npos) << name;
  }
}

TEST_F(MetricsTest, KnownLabelsStartAtZero) {
  EXPECT_EQ(Sample(R"(c360_events_consumed_total{topic="c360.usage"})"), 0);
  EXPECT_EQ(Sample(R"(c360_events_deadlettered_total{reason="too_late",topic="c360.tickets"})"), 0);
  EXPECT_EQ(Sample(R"(c360_customers{status="AT_RISK"})"), 0);
  EXPECT_EQ(
      Sample(R"(c360_alerts_emitted_total{rule="SLA_BREACH",severity="CRITICAL",state="FIRING"})"),
      0);
  EXPECT_FALSE(Has(R"(c360_customers{status="STATUS_UNSPECIFIED"})"));
}

TEST_F(MetricsTest, CountersFollowTotalsAndNeverGoBack) {
  EngineStats s;
  s.consumed_by_topic[static_cast<int>(InputTopic::kUsage)] = 7;
  s.deadlettered_by[static_cast<int>(InputTopic::kInvoices)]
                   [static_cast<int>(DeadLetterReason::kMalformed)] = 2;
  s.customers_by_status[3] = 4;
  s.outbox_pending = 9;
  metrics_.Update(s);
  EXPECT_EQ(Sample(R"(c360_events_consumed_total{topic="c360.usage"})"), 7);
  EXPECT_EQ(Sample(R"(c360_events_deadlettered_total{reason="malformed",topic="c360.invoices"})"),
            2);
  EXPECT_EQ(Sample(R"(c360_customers{status="AT_RISK"})"), 4);
  EXPECT_EQ(Sample("c360_outbox_pending"), 9);

  s.consumed_by_topic[static_cast<int>(InputTopic::kUsage)] = 3;  // lower: ignored
  s.customers_by_status[3] = 1;                                   // a gauge follows
  metrics_.Update(s);
  EXPECT_EQ(Sample(R"(c360_events_consumed_total{topic="c360.usage"})"), 7);
  EXPECT_EQ(Sample(R"(c360_customers{status="AT_RISK"})"), 1);
}

TEST_F(MetricsTest, SeriesOfDroppedTasksAndPartitionsGoAway) {
  EngineStats s;
  s.stream_time_by_task = {{0, 1'700'000'000'500}, {3, 0}};
  s.lag = {{{"c360.usage", 0}, 12}, {{"c360.usage", 3}, 0}, {{"c360.tickets", 3}, -1}};
  metrics_.Update(s);
  EXPECT_DOUBLE_EQ(Sample(R"(c360_stream_time_seconds{task="0"})"), 1'700'000'000.5);
  EXPECT_EQ(Sample(R"(c360_consumer_lag{partition="0",topic="c360.usage"})"), 12);
  EXPECT_EQ(Sample(R"(c360_consumer_lag{partition="3",topic="c360.usage"})"), 0);
  EXPECT_FALSE(Has(R"(c360_consumer_lag{partition="3",topic="c360.tickets"})"));  // unknown

  s.stream_time_by_task.erase(0);
  s.lag.erase({"c360.usage", 0});
  metrics_.Update(s);
  EXPECT_FALSE(Has(R"(c360_stream_time_seconds{task="0"})"));
  EXPECT_FALSE(Has(R"(c360_consumer_lag{partition="0",topic="c360.usage"})"));
  EXPECT_TRUE(Has(R"(c360_stream_time_seconds{task="3"})"));
}

TEST_F(MetricsTest, DeliveredAlertsCountByLabelsWithTheirLatency) {
  state::v1::OutboxEntry alert;
  alert.set_topic(topics_.alerts);
  alert.set_alert_rule(v1::AlertEvent::USAGE_DROP);
  alert.set_alert_severity(v1::AlertEvent::WARNING);
  alert.set_alert_state(v1::AlertEvent::RESOLVED);
  alert.set_source_timestamp_ms(1'000'000);
  metrics_.Delivered(alert, 1'000'040);  // 40 ms later
  state::v1::OutboxEntry snapshot;
  snapshot.set_topic(topics_.health);
  snapshot.set_source_timestamp_ms(1'000'000);
  metrics_.Delivered(snapshot, 1'900'000);  // not an alert: no latency sample

  EXPECT_EQ(
      Sample(R"(c360_alerts_emitted_total{rule="USAGE_DROP",severity="WARNING",state="RESOLVED"})"),
      1);
  EXPECT_EQ(Sample(R"(c360_outbox_delivered_total{topic="c360.health"})"), 1);
  EXPECT_EQ(Sample("c360_event_to_alert_seconds_count"), 1);
  EXPECT_NEAR(Sample("c360_event_to_alert_seconds_sum"), 0.04, 1e-9);
  EXPECT_EQ(Sample(R"(c360_event_to_alert_seconds_bucket{le="0.025"})"), 0);
  EXPECT_EQ(Sample(R"(c360_event_to_alert_seconds_bucket{le="0.05"})"), 1);
}

TEST_F(MetricsTest, ProcessingTimesArriveInBulkAndTheBufferEmpties) {
  BucketCounts times(ProcessingTimeBounds());
  times.Observe(2e-6);
  times.Observe(2e-6);
  times.Observe(0.5);  // above every bound
  metrics_.AddProcessingTimes(times);
  EXPECT_EQ(times.count(), 0u);
  EXPECT_EQ(Sample("c360_event_processing_seconds_count"), 3);
  EXPECT_EQ(Sample(R"(c360_event_processing_seconds_bucket{le="1e-06"})"), 0);
  EXPECT_EQ(Sample(R"(c360_event_processing_seconds_bucket{le="2.5e-06"})"), 2);
  EXPECT_EQ(Sample(R"(c360_event_processing_seconds_bucket{le="0.1"})"), 2);
  EXPECT_EQ(Sample(R"(c360_event_processing_seconds_bucket{le="+Inf"})"), 3);
}

TEST_F(MetricsTest, BuildInfoAndReadiness) {
  EXPECT_EQ(Sample(R"(c360_build_info{version="0.1.0"})"), 1);
  EXPECT_EQ(Sample("c360_ready"), 0);
  EngineStats s;
  s.ready = true;
  metrics_.Update(s);
  EXPECT_EQ(Sample("c360_ready"), 1);
  s.ready = false;
  metrics_.Update(s);
  EXPECT_EQ(Sample("c360_ready"), 0);
}

TEST_F(MetricsTest, ShadowDifferencesAndDisagreementsAreCounted) {
  BucketCounts diffs(ShadowDiffBounds());
  diffs.Observe(0);
  diffs.Observe(3);
  diffs.Observe(40);
  metrics_.AddShadowDiffs(diffs);
  EXPECT_EQ(diffs.count(), 0u);
  EXPECT_EQ(Sample("c360_shadow_risk_abs_diff_count"), 3);
  EXPECT_EQ(Sample("c360_shadow_risk_abs_diff_sum"), 43);
  EXPECT_EQ(Sample(R"(c360_shadow_risk_abs_diff_bucket{le="0"})"), 1);
  EXPECT_EQ(Sample(R"(c360_shadow_risk_abs_diff_bucket{le="5"})"), 2);
  EXPECT_EQ(Sample(R"(c360_shadow_risk_abs_diff_bucket{le="50"})"), 3);
  EngineStats s;
  s.shadow_level_disagreements = 2;
  metrics_.Update(s);
  EXPECT_EQ(Sample("c360_shadow_level_disagreements_total"), 2);
}

}  // namespace
}  // namespace c360
