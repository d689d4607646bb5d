#include "services/engine/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "c360/v1/health.pb.h"
#include "common/version.h"

namespace c360 {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

template <typename Builder>
auto& Define(Builder builder, const std::string& name, const std::string& help,
             prometheus::Registry& registry) {
  return builder.Name("c360_" + name).Help(help).Register(registry);
}

}  // namespace

// Every metric the engine exports. SPEC section 9 names first, then the engine's own.
EngineMetrics::EngineMetrics(const TopicNames& topics)
    : topics_(topics),
      registry_(std::make_shared<prometheus::Registry>()),
      consumed_family_(Define(BuildCounter(), "events_consumed_total",
                              "Records consumed from an input topic, dead-lettered ones included",
                              *registry_)),
      deadlettered_family_(Define(BuildCounter(), "events_deadlettered_total",
                                  "Records sent to the dead-letter topic, by source topic and "
                                  "reason (SPEC 6.1)",
                                  *registry_)),
      alerts_family_(Define(BuildCounter(), "alerts_emitted_total",
                            "Alerts delivered to the alerts topic", *registry_)),
      delivered_family_(Define(BuildCounter(), "outbox_delivered_total",
                               "Outbox entries whose delivery the broker confirmed, by topic",
                               *registry_)),
      timers_fired_family_(Define(BuildCounter(), "timers_fired_total",
                                  "Deadline timers fired, by kind", *registry_)),
      lag_family_(Define(BuildGauge(), "consumer_lag",
                         "Records of an assigned input partition not yet applied (0 when "
                         "caught up)",
                         *registry_)),
      customers_family_(Define(BuildGauge(), "customers",
                               "Customers of the assigned tasks by current status", *registry_)),
      segment_family_(Define(BuildGauge(), "customers_by_segment",
                             "Customers of the assigned tasks by segment (NONE: no profile or no "
                             "segment) and status, CHURNED customers left out",
                             *registry_)),
      revenue_at_risk_family_(Define(BuildGauge(), "revenue_at_risk_cents",
                                     "Annual revenue of the AT_RISK and CRITICAL customers of the "
                                     "assigned tasks by segment, CHURNED customers left out",
                                     *registry_)),
      stream_time_family_(Define(BuildGauge(), "stream_time_seconds",
                                 "Stream time T of an assigned task, Unix seconds (0 before its "
                                 "first event)",
                                 *registry_)),
      http_family_(Define(BuildCounter(), "http_requests_total",
                          "HTTP requests answered, by route pattern (other: none matched) and "
                          "status code",
                          *registry_)),
      applied_(Define(BuildCounter(), "events_applied_total",
                      "Valid records applied to customer state", *registry_)
                   .Add({})),
      snapshots_(Define(BuildCounter(), "snapshots_emitted_total",
                        "Health snapshots written to the outbox", *registry_)
                     .Add({})),
      day_rescores_(Define(BuildCounter(), "day_change_rescores_total",
                           "Customers re-scored because stream time crossed midnight UTC",
                           *registry_)
                        .Add({})),
      cache_hits_(Define(BuildCounter(), "customer_cache_hits_total",
                         "Customer state found in the in-memory cache", *registry_)
                      .Add({})),
      cache_misses_(Define(BuildCounter(), "customer_cache_misses_total",
                           "Customer state read from RocksDB (or new)", *registry_)
                        .Add({})),
      users_over_limit_(Define(BuildCounter(), "users_over_limit_total",
                               "Usage events whose user was not counted: the customer already "
                               "had limits.users_per_customer distinct users",
                               *registry_)
                            .Add({})),
      ready_(Define(BuildGauge(), "ready",
                    "1 when every assigned task has caught up with its partitions (GET "
                    "/readyz answers 200), else 0",
                    *registry_)
                 .Add({})),
      shadow_disagreements_(Define(BuildCounter(), "shadow_level_disagreements_total",
                                   "Re-scores where the shadow model's risk level differs from "
                                   "the live risk level (scoring.shadow_churn_model)",
                                   *registry_)
                                .Add({})),
      shadow_diff_(Define(BuildHistogram(), "shadow_risk_abs_diff",
                          "|shadow risk - live risk| in risk points at each re-score with a "
                          "shadow model (scoring.shadow_churn_model)",
                          *registry_)
                       .Add({}, ShadowDiffBounds())),
      kafka_errors_(Define(BuildCounter(), "kafka_errors_total",
                           "Errors librdkafka reported (it retries them itself)", *registry_)
                        .Add({})),
      fence_rejections_(Define(BuildCounter(), "output_fence_rejections_total",
                               "Output fences (offset commits in this member's group "
                               "generation) the coordinator refused: outputs held back",
                               *registry_)
                            .Add({})),
      outbox_pending_(Define(BuildGauge(), "outbox_pending",
                             "Outbox entries not yet confirmed by the broker (awaiting their "
                             "fence, published, or to be retried)",
                             *registry_)
                          .Add({})),
      timers_pending_(Define(BuildGauge(), "timers_pending",
                             "Deadline timers waiting in the assigned tasks", *registry_)
                          .Add({})),
      cached_customers_(
          Define(BuildGauge(), "customer_cache_customers", "Customers held in memory", *registry_)
              .Add({})),
      tasks_(Define(BuildGauge(), "tasks_assigned", "Tasks assigned to this engine", *registry_)
                 .Add({})),
      live_bytes_(Define(BuildGauge(), "rocksdb_live_data_bytes",
                         "State held by RocksDB: live data in SST files plus memtables", *registry_)
                      .Add({})),
      pending_compaction_bytes_(Define(BuildGauge(), "rocksdb_pending_compaction_bytes",
                                       "Bytes RocksDB estimates compaction has to rewrite",
                                       *registry_)
                                    .Add({})),
      block_cache_bytes_(Define(BuildGauge(), "rocksdb_block_cache_usage_bytes",
                                "Memory used by RocksDB's block cache", *registry_)
                             .Add({})),
      processing_seconds_(Define(BuildHistogram(), "event_processing_seconds",
                                 "Time to decode, apply, re-score and evaluate rules for one "
                                 "record",
                                 *registry_)
                              .Add({}, ProcessingTimeBounds())),
      commit_seconds_(Define(BuildHistogram(), "state_commit_seconds",
                             "Time to write one batch's WriteBatch to RocksDB", *registry_)
                          .Add({}, CommitTimeBounds())),
      fence_seconds_(Define(BuildHistogram(), "output_fence_seconds",
                            "Round trip of one output fence (an offset commit in this "
                            "member's group generation), accepted or refused",
                            *registry_)
                         .Add({}, FenceTimeBounds())),
      write_stall_(Define(BuildGauge(), "rocksdb_write_stall",
                          "RocksDB's write condition: 0 normal, 1 writes delayed, 2 writes "
                          "stopped (compaction is behind; commits wait)",
                          *registry_)
                       .Add({})),
      write_stall_seconds_(Define(BuildCounter(), "rocksdb_write_stall_seconds_total",
                                  "Time RocksDB delayed or stopped writes", *registry_)
                               .Add({})),
      disk_free_bytes_(Define(BuildGauge(), "state_disk_free_bytes",
                              "Bytes free to the engine on the file system of its state "
                              "directory",
                              *registry_)
                           .Add({})),
      disk_capacity_bytes_(Define(BuildGauge(), "state_disk_capacity_bytes",
                                  "Size of the file system of the state directory", *registry_)
                               .Add({})),
      restore_seconds_(
          Define(BuildHistogram(), "changelog_restore_seconds",
                 "Time to restore one assigned task's state from its changelog "
                 "partition (from nothing, or the tail after the local state)",
                 *registry_)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10,
                                                               30, 60, 120, 300})),
      rebalances_(Define(BuildCounter(), "rebalances_total",
                         "Assignments and revocations of the engine's tasks by the group",
                         *registry_)
                      .Add({})),
      standby_lag_family_(Define(BuildGauge(), "standby_lag_records",
                                 "Changelog records a standby task was behind its owner when "
                                 "last synced",
                                 *registry_)),
      event_to_alert_seconds_(Define(BuildHistogram(), "event_to_alert_seconds",
                                     "From the causing record's Kafka timestamp (or the "
                                     "deadline of a timer) to the alert's delivery report",
                                     *registry_)
                                  .Add({}, EventToAlertBounds())) {
  Define(BuildGauge(), "build_info", "Always 1; the version of this c360 in its label", *registry_)
      .Add({{"version", std::string(kVersion)}})
      .Set(1);
  // Known label values get their series at once, at 0, so that rate() and increase() see
  // the first event and dashboards list every topic, reason and status.
  for (InputTopic topic : kAllInputTopics) {
    const int t = static_cast<int>(topic);
    const std::string& name = topics_.Input(topic);
    consumed_[t] = &consumed_family_.Add({{"topic", name}});
    for (int r = 0; r < kDeadLetterReasonCount; ++r) {
      deadlettered_[t][r] = &deadlettered_family_.Add(
          {{"topic", name},
           {"reason", std::string(ReasonLabel(static_cast<DeadLetterReason>(r)))}});
    }
  }
  for (int rule = 1; rule < v1::AlertEvent::Rule_ARRAYSIZE; ++rule) {
    for (int severity = 1; severity < v1::AlertEvent::Severity_ARRAYSIZE; ++severity) {
      for (int state = 1; state < v1::AlertEvent::State_ARRAYSIZE; ++state) {
        alerts_[rule][severity][state] = &alerts_family_.Add(
            {{"rule", v1::AlertEvent::Rule_Name(static_cast<v1::AlertEvent::Rule>(rule))},
             {"severity",
              v1::AlertEvent::Severity_Name(static_cast<v1::AlertEvent::Severity>(severity))},
             {"state", v1::AlertEvent::State_Name(static_cast<v1::AlertEvent::State>(state))}});
      }
    }
  }
  for (const std::string& topic : {topics_.alerts, topics_.health, topics_.deadletter}) {
    delivered_[topic] = &delivered_family_.Add({{"topic", topic}});
  }
  const char* kTimerKinds[kTimerKindCount] = {"response", "resolution", "invoice_due"};
  for (int k = 0; k < kTimerKindCount; ++k) {
    timers_fired_[k] = &timers_fired_family_.Add({{"kind", kTimerKinds[k]}});
  }
  customers_[0] = nullptr;
  for (int s = 1; s < kStatusCount; ++s) {
    customers_[s] = &customers_family_.Add(
        {{"status", v1::HealthSnapshot::Status_Name(static_cast<v1::HealthSnapshot::Status>(s))}});
  }
  for (int g = 0; g < 5; ++g) {
    const std::string segment =
        g == 0 ? "NONE"
               : v1::CustomerProfile::Segment_Name(static_cast<v1::CustomerProfile::Segment>(g));
    revenue_at_risk_[g] = &revenue_at_risk_family_.Add({{"segment", segment}});
    for (int s = 1; s < kStatusCount; ++s) {
      by_segment_[g][s] = &segment_family_.Add(
          {{"segment", segment},
           {"status",
            v1::HealthSnapshot::Status_Name(static_cast<v1::HealthSnapshot::Status>(s))}});
    }
  }
}

void EngineMetrics::Advance(prometheus::Counter& counter, double total) {
  const double now = counter.Value();
  if (total > now) counter.Increment(total - now);
}

void EngineMetrics::Update(const EngineStats& stats) {
  for (int t = 0; t < kInputTopicCount; ++t) {
    Advance(*consumed_[t], static_cast<double>(stats.consumed_by_topic[t]));
    for (int r = 0; r < kDeadLetterReasonCount; ++r) {
      Advance(*deadlettered_[t][r], static_cast<double>(stats.deadlettered_by[t][r]));
    }
  }
  for (int k = 0; k < kTimerKindCount; ++k) {
    Advance(*timers_fired_[k], static_cast<double>(stats.timers_fired_by_kind[k]));
  }
  Advance(applied_, static_cast<double>(stats.applied));
  Advance(snapshots_, static_cast<double>(stats.snapshots));
  Advance(day_rescores_, static_cast<double>(stats.rescored_on_day_change));
  Advance(cache_hits_, static_cast<double>(stats.cache_hits));
  Advance(cache_misses_, static_cast<double>(stats.cache_misses));
  Advance(users_over_limit_, static_cast<double>(stats.users_over_limit));
  Advance(shadow_disagreements_, static_cast<double>(stats.shadow_level_disagreements));
  ready_.Set(stats.ready ? 1 : 0);
  Advance(kafka_errors_, static_cast<double>(stats.kafka_errors));
  Advance(fence_rejections_, static_cast<double>(stats.fence_rejections));

  for (int s = 1; s < kStatusCount; ++s) {
    customers_[s]->Set(static_cast<double>(stats.customers_by_status[s]));
  }
  for (int g = 0; g < 5; ++g) {
    for (int s = 1; s < kStatusCount; ++s) {
      by_segment_[g][s]->Set(static_cast<double>(stats.customers_by_segment[g][s]));
    }
    revenue_at_risk_[g]->Set(static_cast<double>(stats.revenue_at_risk_by_segment[g]));
  }
  outbox_pending_.Set(static_cast<double>(stats.outbox_pending));
  timers_pending_.Set(static_cast<double>(stats.timers_pending));
  cached_customers_.Set(static_cast<double>(stats.cached_customers));
  tasks_.Set(stats.tasks);
  live_bytes_.Set(static_cast<double>(stats.state_live_bytes));
  pending_compaction_bytes_.Set(static_cast<double>(stats.state_pending_compaction_bytes));
  block_cache_bytes_.Set(static_cast<double>(stats.state_block_cache_bytes));
  write_stall_.Set(stats.state_write_stall);
  Advance(write_stall_seconds_, stats.state_write_stall_seconds);
  disk_free_bytes_.Set(static_cast<double>(stats.state_disk_free_bytes));
  disk_capacity_bytes_.Set(static_cast<double>(stats.state_disk_capacity_bytes));

  // Series of tasks and partitions this engine no longer owns go away.
  for (auto it = stream_time_.begin(); it != stream_time_.end();) {
    if (stats.stream_time_by_task.count(it->first) == 0) {
      stream_time_family_.Remove(it->second);
      it = stream_time_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [task, time] : stats.stream_time_by_task) {
    auto [it, added] = stream_time_.try_emplace(task, nullptr);
    if (added) it->second = &stream_time_family_.Add({{"task", std::to_string(task)}});
    it->second->Set(static_cast<double>(time) / 1000.0);
  }
  for (auto it = lag_.begin(); it != lag_.end();) {
    const auto found = stats.lag.find(it->first);
    if (found == stats.lag.end() || found->second < 0) {
      lag_family_.Remove(it->second);
      it = lag_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [partition, lag] : stats.lag) {
    if (lag < 0) continue;  // not known yet
    auto [it, added] = lag_.try_emplace(partition, nullptr);
    if (added) {
      it->second = &lag_family_.Add(
          {{"topic", partition.first}, {"partition", std::to_string(partition.second)}});
    }
    it->second->Set(static_cast<double>(lag));
  }
}

void EngineMetrics::AddProcessingTimes(BucketCounts& times) {
  if (times.count() == 0) return;
  processing_seconds_.ObserveMultiple(times.counts(), times.sum());
  times.Clear();
}

void EngineMetrics::AddShadowDiffs(BucketCounts& diffs) {
  if (diffs.count() == 0) return;
  shadow_diff_.ObserveMultiple(diffs.counts(), diffs.sum());
  diffs.Clear();
}

void EngineMetrics::ObserveCommit(double seconds) { commit_seconds_.Observe(seconds); }

void EngineMetrics::ObserveFence(double seconds) { fence_seconds_.Observe(seconds); }
void EngineMetrics::ObserveRestore(double seconds) { restore_seconds_.Observe(seconds); }
void EngineMetrics::CountRebalance() { rebalances_.Increment(); }

void EngineMetrics::SetStandbys(const std::set<uint16_t>& tasks) {
  std::lock_guard lock(standby_mu_);
  for (auto it = standby_lag_.begin(); it != standby_lag_.end();) {
    if (tasks.count(it->first) == 0) {
      standby_lag_family_.Remove(it->second);
      it = standby_lag_.erase(it);
    } else {
      ++it;
    }
  }
  for (uint16_t t : tasks) {
    if (standby_lag_.count(t) == 0) {
      standby_lag_[t] = &standby_lag_family_.Add({{"task", std::to_string(t)}});
    }
  }
}

void EngineMetrics::SetStandbyLag(uint16_t task, int64_t records) {
  std::lock_guard lock(standby_mu_);
  if (auto it = standby_lag_.find(task); it != standby_lag_.end()) {
    it->second->Set(static_cast<double>(records));
  }
}

void EngineMetrics::CountHttpRequest(const std::string& route, int status) {
  std::lock_guard lock(http_mu_);
  auto [it, added] = http_.try_emplace({route, status}, nullptr);
  if (added) it->second = &http_family_.Add({{"route", route}, {"code", std::to_string(status)}});
  it->second->Increment();
}

void EngineMetrics::Delivered(const state::v1::OutboxEntry& entry, TimeMs now_ms) {
  auto [it, added] = delivered_.try_emplace(entry.topic(), nullptr);
  if (added) it->second = &delivered_family_.Add({{"topic", entry.topic()}});
  it->second->Increment();
  if (entry.topic() != topics_.alerts) return;
  const int rule = entry.alert_rule(), severity = entry.alert_severity(),
            state = entry.alert_state();
  if (rule > 0 && rule < v1::AlertEvent::Rule_ARRAYSIZE && severity > 0 &&
      severity < v1::AlertEvent::Severity_ARRAYSIZE && state > 0 &&
      state < v1::AlertEvent::State_ARRAYSIZE) {
    alerts_[rule][severity][state]->Increment();
  }
  if (entry.source_timestamp_ms() > 0) {
    const double latency = static_cast<double>(now_ms - entry.source_timestamp_ms()) / 1000.0;
    event_to_alert_seconds_.Observe(std::max(0.0, latency));
  }
}

std::string EngineMetrics::Render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace c360
