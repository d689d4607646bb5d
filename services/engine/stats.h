#pragma once
// The engine's figures as of its last commit or refresh: what EngineMetrics exports, what
// the demo and tests read. A plain value, copied between threads under the engine's lock.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/time.h"
#include "services/engine/decode/decoder.h"

namespace c360 {

inline constexpr int kTimerKindCount = 3;  // response, resolution, invoice due
inline constexpr int kStatusCount = 5;     // v1::HealthSnapshot::Status, UNSPECIFIED too

struct EngineStats {
  // Monotonic totals since the process started (dropped tasks' counts stay in).
  int64_t consumed = 0;
  int64_t consumed_by_topic[kInputTopicCount] = {};  // by InputTopic
  int64_t applied = 0;
  int64_t deadlettered = 0;
  int64_t deadlettered_by[kInputTopicCount][kDeadLetterReasonCount] = {};
  int64_t alerts_published = 0;
  int64_t snapshots = 0;
  int64_t rescored_on_day_change = 0;
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
  int64_t users_over_limit = 0;
  int64_t shadow_level_disagreements = 0;
  bool ready = false;  // Engine::readiness(): every assigned task caught up once
  int64_t commits = 0;
  int64_t timers_fired_by_kind[kTimerKindCount] = {};
  int64_t kafka_errors = 0;
  int64_t fence_rejections = 0;  // output fences the group coordinator refused

  // Current values, for the assigned tasks.
  int tasks = 0;
  int partitions = 0;          // of each input topic: the number of tasks in the group
  int64_t outbox_pending = 0;  // not yet confirmed: in the open batch, awaiting a fence or
                               // transaction, published, or to retry
  int64_t timers_pending = 0;
  int64_t cached_customers = 0;
  int64_t customers_by_status[kStatusCount] = {};
  // By segment (CustomerProfile.Segment, 0: none) and status, CHURNED customers left out
  // (api::RowIndex): customers_by_segment and revenue_at_risk_cents.
  int64_t customers_by_segment[5][kStatusCount] = {};
  int64_t revenue_at_risk_by_segment[5] = {};
  TimeMs max_stream_time = 0;  // the latest stream time of the assigned tasks
  // Per assigned task: stream time (ms; 0 before its first event).
  std::map<int, TimeMs> stream_time_by_task;
  // Per assigned input partition (topic name, partition): records not yet applied; -1
  // while the broker's high watermark is not known yet.
  std::map<std::pair<std::string, int32_t>, int64_t> lag;
  // RocksDB.
  uint64_t state_live_bytes = 0;
  uint64_t state_pending_compaction_bytes = 0;
  uint64_t state_block_cache_bytes = 0;
  int state_write_stall = 0;  // 0 none, 1 writes delayed, 2 writes stopped
  double state_write_stall_seconds = 0;
  // The file system of the state directory.
  uint64_t state_disk_free_bytes = 0;
  uint64_t state_disk_capacity_bytes = 0;
};

// Histogram buckets (upper bounds, seconds). A record usually takes 1-3 us here
// (docs/performance.md); a cache miss reads RocksDB (tens of us), a day change more.
// |shadow risk - live risk| in risk points (SPEC section 10).
inline std::vector<double> ShadowDiffBounds() { return {0, 1, 2, 5, 10, 20, 30, 50, 75, 100}; }

inline std::vector<double> ProcessingTimeBounds() {
  return {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1};
}
// A commit writes one WriteBatch: about a millisecond, up to seconds for a large catch-up
// batch.
inline std::vector<double> CommitTimeBounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}
// An output fence is one offset commit to the group coordinator: a round trip to the
// broker, a few milliseconds on a healthy cluster.
inline std::vector<double> FenceTimeBounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}
// From a record's Kafka timestamp to its alert's delivery: tens of milliseconds live,
// minutes when catching up (a replay of history lands above the last bucket).
inline std::vector<double> EventToAlertBounds() {
  // Fine below 100 ms, where the live target (p99 <= 50 ms) is judged.
  return {0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1,
          0.25,   0.5,   1,      2.5,  5,     10,   30,    60,   120,  300,  600};
}

}  // namespace c360
