#pragma once
// RocksDB's write stalls, for the metrics: when compaction falls behind, RocksDB first slows
// writes down (delayed) and then stops them (stopped), and the engine's commits wait.
// WriteStalls keeps the current condition and the time spent in a stall so far, from the
// conditions the store reads at each metrics update (StateStore::SampleWriteStalls): a
// stall shorter than the update interval may go unseen, and one seen is counted to within
// an interval. (RocksDB's OnStallConditionsChanged notifications can arrive out of order,
// leaving a stall that ended looking current; its STALL_MICROS ticker needs statistics on
// every write.)
//
// Thread-safe.

#include <chrono>
#include <mutex>

namespace c360 {

class WriteStalls {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Condition { kNormal = 0, kDelayed = 1, kStopped = 2 };

  void Change(Condition to, Clock::time_point now);
  Condition condition() const;
  // Seconds in a stall (delayed or stopped) since the store opened, one under way included.
  double Seconds(Clock::time_point now) const;

 private:
  mutable std::mutex mu_;
  Condition condition_ = Condition::kNormal;
  Clock::time_point since_{};
  Clock::duration total_{};
};

}  // namespace c360
