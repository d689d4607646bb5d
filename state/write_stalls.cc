#include "state/write_stalls.h"

namespace c360 {

void WriteStalls::Change(Condition to, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (condition_ != Condition::kNormal) total_ += now - since_;
  condition_ = to;
  since_ = now;
}

WriteStalls::Condition WriteStalls::condition() const {
  std::lock_guard lock(mu_);
  return condition_;
}

double WriteStalls::Seconds(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  Clock::duration total = total_;
  if (condition_ != Condition::kNormal) total += now - since_;
  return std::chrono::duration<double>(total).count();
}

}  // namespace c360
