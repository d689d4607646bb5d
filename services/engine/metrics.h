#pragma once
// The engine's Prometheus metrics (SPEC section 9, prefix c360_): the one registry, and the
// one place every metric is defined (metrics.cc; docs/deploy.md lists them).
//
// Thread safety: the update methods are called by the engine's processing thread only;
// Render() may be called from any thread at any time (HTTP scrapes), as prometheus-cpp's
// metrics are thread-safe. Counters follow EngineStats' totals by delta, so they never go
// back, whatever tasks come and go.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "c360/v1/alert.pb.h"
#include "common/bucket_counts.h"
#include "common/topics.h"
#include "services/engine/stats.h"
#include "state/state.pb.h"

namespace c360 {

class EngineMetrics {
 public:
  explicit EngineMetrics(const TopicNames& topics);
  EngineMetrics(const EngineMetrics&) = delete;
  EngineMetrics& operator=(const EngineMetrics&) = delete;

  // Counters move up to `stats`' totals; gauges take its current values; series of tasks
  // and partitions no longer in `stats` are removed.
  void Update(const EngineStats& stats);
  // Adds the per-record processing times and clears `times`.
  void AddProcessingTimes(BucketCounts& times);
  // Adds |shadow risk - live risk| of the re-scores since the last call and clears `diffs`.
  void AddShadowDiffs(BucketCounts& diffs);
  void ObserveCommit(double seconds);
  // An output fence's round trip: from the asynchronous commit to the coordinator's answer
  // (accepted or refused), or a synchronous one at a revocation.
  void ObserveFence(double seconds);
  // A task's restore from its changelog (SPEC 6.4), from its assignment to its state being
  // the changelog's.
  void ObserveRestore(double seconds);
  void CountRebalance();
  // standby_lag_records{task}: the standby tasks now (series of others removed), and how
  // many changelog records one was behind when last synced. Thread-safe.
  void SetStandbys(const std::set<uint16_t>& tasks);
  void SetStandbyLag(uint16_t task, int64_t records);
  // A confirmed delivery of an outbox entry at wall time `now_ms`: alerts count by rule,
  // severity and state, and their latency from the causing record's Kafka timestamp.
  void Delivered(const state::v1::OutboxEntry& entry, TimeMs now_ms);

  // One answered HTTP request: route pattern ("other" when none matched) and status.
  // Thread-safe (the HTTP server's threads).
  void CountHttpRequest(const std::string& route, int status);

  // The Prometheus text exposition of every metric. Thread-safe.
  std::string Render() const;

 private:
  using Labels = std::map<std::string, std::string>;
  static void Advance(prometheus::Counter& counter, double total);

  const TopicNames topics_;
  std::shared_ptr<prometheus::Registry> registry_;
  // Families (owned by the registry).
  prometheus::Family<prometheus::Counter>& consumed_family_;
  prometheus::Family<prometheus::Counter>& deadlettered_family_;
  prometheus::Family<prometheus::Counter>& alerts_family_;
  prometheus::Family<prometheus::Counter>& delivered_family_;
  prometheus::Family<prometheus::Counter>& timers_fired_family_;
  prometheus::Family<prometheus::Gauge>& lag_family_;
  prometheus::Family<prometheus::Gauge>& customers_family_;
  prometheus::Family<prometheus::Gauge>& segment_family_;
  prometheus::Family<prometheus::Gauge>& revenue_at_risk_family_;
  prometheus::Family<prometheus::Gauge>& stream_time_family_;
  prometheus::Family<prometheus::Counter>& http_family_;
  // Series.
  prometheus::Counter* consumed_[kInputTopicCount];
  prometheus::Counter* deadlettered_[kInputTopicCount][kDeadLetterReasonCount];
  // By v1::AlertEvent rule, severity and state (enum values; 0, unspecified, stays null).
  prometheus::Counter* alerts_[v1::AlertEvent::Rule_ARRAYSIZE][v1::AlertEvent::Severity_ARRAYSIZE]
                              [v1::AlertEvent::State_ARRAYSIZE] = {};
  prometheus::Counter* timers_fired_[kTimerKindCount];
  prometheus::Gauge* customers_[kStatusCount];
  prometheus::Gauge* by_segment_[5][kStatusCount] = {};
  prometheus::Gauge* revenue_at_risk_[5] = {};
  std::map<std::string, prometheus::Counter*> delivered_;  // by topic
  std::map<int, prometheus::Gauge*> stream_time_;          // by task
  std::map<std::pair<std::string, int32_t>, prometheus::Gauge*> lag_;
  std::mutex http_mu_;  // guards http_ (HTTP threads)
  std::map<std::pair<std::string, int>, prometheus::Counter*> http_;
  prometheus::Counter& applied_;
  prometheus::Counter& snapshots_;
  prometheus::Counter& day_rescores_;
  prometheus::Counter& cache_hits_;
  prometheus::Counter& cache_misses_;
  prometheus::Counter& users_over_limit_;
  prometheus::Gauge& ready_;
  prometheus::Counter& shadow_disagreements_;
  prometheus::Histogram& shadow_diff_;
  prometheus::Counter& kafka_errors_;
  prometheus::Counter& fence_rejections_;
  prometheus::Gauge& outbox_pending_;
  prometheus::Gauge& timers_pending_;
  prometheus::Gauge& cached_customers_;
  prometheus::Gauge& tasks_;
  prometheus::Gauge& live_bytes_;
  prometheus::Gauge& pending_compaction_bytes_;
  prometheus::Gauge& block_cache_bytes_;
  prometheus::Histogram& processing_seconds_;
  prometheus::Histogram& commit_seconds_;
  prometheus::Histogram& fence_seconds_;
  prometheus::Gauge& write_stall_;
  prometheus::Counter& write_stall_seconds_;
  prometheus::Gauge& disk_free_bytes_;
  prometheus::Gauge& disk_capacity_bytes_;
  prometheus::Histogram& restore_seconds_;
  prometheus::Counter& rebalances_;
  prometheus::Family<prometheus::Gauge>& standby_lag_family_;
  std::mutex standby_mu_;
  std::map<uint16_t, prometheus::Gauge*> standby_lag_;
  prometheus::Histogram& event_to_alert_seconds_;
};

}  // namespace c360
