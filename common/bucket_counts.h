#pragma once
// Observations counted per histogram bucket by one thread, without atomics, and handed
// over in bulk (prometheus::Histogram::ObserveMultiple). The per-event path uses this
// instead of a Histogram::Observe per event: one array increment instead of atomic
// adds. Not thread-safe; the owner drains it on its own thread.

#include <algorithm>
#include <cstdint>
#include <vector>

namespace c360 {

class BucketCounts {
 public:
  // `bounds`: the buckets' upper bounds, ascending (Prometheus's "le"); one more bucket
  // counts what is above the last bound.
  explicit BucketCounts(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0.0) {}

  void Observe(double value) {
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    counts_[static_cast<size_t>(it - bounds_.begin())] += 1;
    sum_ += value;
    ++count_;
  }

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket (not cumulative), the last one above every bound.
  const std::vector<double>& counts() const { return counts_; }
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }
  void Clear() {
    std::fill(counts_.begin(), counts_.end(), 0.0);
    sum_ = 0;
    count_ = 0;
  }

 private:
  std::vector<double> bounds_;
  std::vector<double> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

}  // namespace c360
