// Engine::Impl: standbys (engine.standby_replicas, SPEC 6.4, docs/scale.md): warm copies
// of tasks this engine does not own, kept by syncing their changelog partitions into the
// local store, so that when one of them is assigned here its restore reads a tail only
// (engine_impl.h).
//
// Which tasks: librdkafka 2.0.2 lets a member see only its own assignment, and the
// `range` assignor c360 uses gives each member a contiguous range of tasks. When a member
// leaves, the assignor splits its range between the members on either side of it. So an
// engine keeps the `replicas` ranges on each side of its own, each as long as its own
// (wrapping around): with members of equal ranges, every task then has a warm copy on
// both engines that may take it over (one engine when there are two).
#include "services/engine/engine_impl.h"
#include "common/logfmt.h"

namespace c360 {
namespace {

constexpr auto kStandbyInterval = std::chrono::milliseconds(500);

}  // namespace

std::set<uint16_t> Engine::Impl::StandbyTasks(const std::set<uint16_t>& owned, int partitions,
                                              int replicas) {
  std::set<uint16_t> out;
  if (owned.empty() || replicas <= 0 || partitions <= 0) return out;
  // The ends of the owned range, wrapping: the owned task whose successor (predecessor)
  // is not owned.
  const auto next = [&](int t, int step) {
    return static_cast<uint16_t>(((t + step) % partitions + partitions) % partitions);
  };
  uint16_t last = *owned.rbegin();
  uint16_t first = *owned.begin();
  for (uint16_t t : owned) {
    if (owned.count(next(t, 1)) == 0) last = t;
    if (owned.count(next(t, -1)) == 0) first = t;
  }
  const int span = replicas * static_cast<int>(owned.size());
  for (int k = 1; k <= span; ++k) {
    for (uint16_t t : {next(last, k), next(first, -k)}) {
      if (owned.count(t) == 0) out.insert(t);
    }
  }
  return out;
}

void Engine::Impl::StartStandbys() {
  if (config_.standby_replicas <= 0) return;
  standby_consumer_ = MakeChangelogReader();
  standby_thread_ = std::thread([this] { StandbyLoop(); });
}

void Engine::Impl::StopStandbys() {
  if (!standby_thread_.joinable()) return;
  {
    std::lock_guard lock(standby_mu_);
    standby_stop_ = true;
  }
  standby_cv_.notify_all();
  standby_thread_.join();
}

void Engine::Impl::SetStandbys(const std::set<uint16_t>& owned,
                               const std::set<uint16_t>& standbys) {
  if (!standby_thread_.joinable()) return;
  std::unique_lock lock(standby_mu_);
  for (uint16_t t : owned) standby_wanted_.erase(t);
  // A task being synced as a standby is the owner's only once that sync is done.
  standby_cv_.wait(lock, [&] {
    return standby_busy_ < 0 || owned.count(static_cast<uint16_t>(standby_busy_)) == 0;
  });
  for (uint16_t t : standbys) {
    if (owned.count(t) == 0) standby_wanted_.insert(t);
  }
  std::string names;
  for (uint16_t t : standby_wanted_) names += (names.empty() ? "" : ",") + std::to_string(t);
  spdlog::info("event=standbys tasks={}", names);
  metrics_.SetStandbys(standby_wanted_);
  standby_cv_.notify_all();
}

// The standby thread: syncs every wanted task in turn, then waits a little.
void Engine::Impl::StandbyLoop() {
  std::unique_lock lock(standby_mu_);
  while (!standby_stop_) {
    const std::set<uint16_t> wanted = standby_wanted_;
    for (uint16_t task : wanted) {
      if (standby_stop_) break;
      if (standby_wanted_.count(task) == 0) continue;  // assigned here meanwhile
      standby_busy_ = task;
      lock.unlock();
      try {
        const TaskSync sync = SyncTask(task, standby_consumer_.get());
        if (auto error = store_->SaveChangelogChain(task, sync.chain)) throw StateError(*error);
        // How far behind the owner the copy was when this sync began.
        metrics_.SetStandbyLag(task, std::max<int64_t>(0, sync.high - sync.from));
        if (sync.restored) {
          spdlog::debug("event=standby_synced task={} from={} records_read={} batches_applied={}",
                        task, LogValue(sync.how), sync.read.records_read,
                        sync.read.batches_applied);
        }
      } catch (const std::exception& e) {
        spdlog::warn("event=standby_sync_failed task={} error={} action=retry", task,
                     LogValue(e.what()));
      }
      lock.lock();
      standby_busy_ = -1;
      standby_cv_.notify_all();
    }
    standby_cv_.wait_for(lock, kStandbyInterval);
  }
}

}  // namespace c360
