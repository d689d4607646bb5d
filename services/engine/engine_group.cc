// Engine::Impl: the group as the changelog names it (SPEC 6.4, docs/scale.md): which
// engine owns each task, for queries on any engine; this engine's address and standbys
// (engine_impl.h). Called on the HTTP server's threads.
#include "services/engine/engine_impl.h"
#include "common/logfmt.h"

namespace c360 {

void Engine::Impl::SetAdvertisedHttp(const std::string& address) {
  std::lock_guard lock(advertised_mu_);
  settings_.advertised_http = address;
}

std::string Engine::Impl::advertised_http() const {
  std::lock_guard lock(advertised_mu_);
  return settings_.advertised_http;
}

std::vector<uint16_t> Engine::Impl::standbys() {
  std::lock_guard lock(standby_mu_);
  return {standby_wanted_.begin(), standby_wanted_.end()};
}

// Each task's owner is named by the last marker on its changelog partition: every batch's,
// and the empty batch a new owner writes when it is assigned the task (RestoreTask). A
// task without a marker of this group has no state anywhere yet. Read again once the
// cached answer is `max_age` old, one partition after the other, with a reader of its own.
std::map<uint16_t, std::string> Engine::Impl::Owners(std::chrono::milliseconds max_age) {
  std::lock_guard lock(owners_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (owners_consumer_ && now - owners_read_at_ < max_age) return owners_;
  if (!owners_consumer_) owners_consumer_ = MakeChangelogReader();
  std::map<uint16_t, std::string> owners;
  const int partitions = stats_.partitions;
  try {
    for (int p = 0; p < partitions; ++p) {
      const auto task = static_cast<uint16_t>(p);
      const auto [low, high] =
          ChangelogWatermarks(owners_consumer_.get(), config_.topics.changelog, task, 5000);
      const auto marker = LastChangelogMarker(owners_consumer_.get(), config_.topics.changelog,
                                              settings_.group, task, low, high, 5000);
      if (marker && !marker->owner().empty()) owners[task] = marker->owner();
    }
  } catch (const KafkaError& e) {
    // The last answer stands until the changelog can be read again.
    spdlog::warn("event=owners_unknown error={} action=keep_last", LogValue(e.what()));
    return owners_;
  }
  owners_ = std::move(owners);
  owners_read_at_ = std::chrono::steady_clock::now();
  return owners_;
}

}  // namespace c360
