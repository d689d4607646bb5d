// day_boundary_bench [customers]: the cost of a UTC day boundary for one task holding N
// customers (default 1,000,000), with the real RocksDB store in a temporary directory.
// Prints: time to load N customers (one usage event each) and commit them; how long the
// record that crosses midnight takes to apply (the stall processing sees); the sweep that
// re-scores every customer, slice by slice (5,000 per slice, as the engine does between
// batches): slices, longest slice, total; and RSS before and after.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <list>
#include <string>

#include "scoring/test_events.h"
#include "services/engine/task.h"

namespace {

using namespace c360;
using namespace c360::testing;
using Steady = std::chrono::steady_clock;

class Owner : public RecordOwner {
 public:
  void Release(void*) override {}
  void CopyHeaders(void*, state::v1::OutboxEntry*) override {}
};

long RssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  }
  return -1;
}

double Seconds(Steady::time_point from) {
  return std::chrono::duration<double>(Steady::now() - from).count();
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::stol(argv[1]) : 1'000'000;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const auto dir = std::filesystem::temp_directory_path() / "c360-day-boundary-bench";
  std::filesystem::remove_all(dir);
  Config config;
  config.cache_max_customers = n;
  ManualClock clock(At(400));
  Owner owner;
  auto store = StateStore::Open(dir.string());
  Task task(0, config, clock, OutputFormat::kProtobuf, &owner);
  task.Restore(*store);
  for (InputTopic topic : kAllInputTopics) task.MarkAtEnd(topic);

  std::list<std::string> values;
  int64_t offset = 0;
  auto feed = [&](const std::string& id, TimeMs t) {
    v1::UsageEvent u = Usage("reports", 2);
    u.set_customer_id(id);
    *u.mutable_event_time() = ToTimestamp(t);
    values.push_back(u.SerializeAsString());
    values.push_back(id);
    TaskRecord r;
    r.input.topic = InputTopic::kUsage;
    r.input.key = values.back();
    r.input.value = *std::prev(values.end(), 2);
    r.input.kafka_timestamp_ms = t;
    r.offset = offset++;
    task.Buffer(r);
  };
  auto commit = [&] {
    StateBatch batch;
    std::vector<PublishItem> publish;
    task.Drain(&batch, &publish);
    if (auto error = store->Commit(&batch)) {
      std::fprintf(stderr, "commit failed: %s\n", error->c_str());
      std::exit(1);
    }
    values.clear();
  };

  const long rss_before = RssMb();
  auto start = Steady::now();
  char id[32];
  for (long i = 0; i < n; ++i) {
    std::snprintf(id, sizeof id, "cust-%08ld", i);
    // Spread over day 10, in time order.
    feed(id, At(10, 0) + i * (kMsPerDay - 1) / n);
    if ((i + 1) % 100'000 == 0 || i + 1 == n) {
      task.MarkAtEnd(InputTopic::kUsage);
      task.Process(1 << 30);
      commit();
    }
  }
  std::printf(
      "loaded %ld customers (one usage event each) and committed: %.2f s, RSS %ld -> %ld MiB\n", n,
      Seconds(start), rss_before, RssMb());

  // The record that crosses midnight.
  feed("cust-00000000", At(11, 0) + 1);
  task.MarkAtEnd(InputTopic::kUsage);
  start = Steady::now();
  task.Process(1 << 30);
  const double crossing = Seconds(start);
  commit();

  long slices = 0;
  double longest = 0;
  size_t visited = 0;
  start = Steady::now();
  while (task.sweep_pending()) {
    const auto slice_start = Steady::now();
    visited += task.SweepStep(5'000);
    longest = std::max(longest, Seconds(slice_start));
    ++slices;
    commit();
  }
  const double total = Seconds(start);
  std::printf(
      "day boundary: the crossing record applied in %.3f ms; sweep re-scored %zu "
      "customers (%lld counted) in %ld slices of 5,000, longest slice %.3f s, "
      "total %.2f s (commits included); RSS %ld MiB\n",
      crossing * 1000, visited, static_cast<long long>(task.counters().rescored_on_day_change),
      slices, longest, total, RssMb());
  store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
