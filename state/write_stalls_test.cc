#include "state/write_stalls.h"

#include <gtest/gtest.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <unistd.h>

#include "state/store.h"

namespace c360 {
namespace {

using Condition = WriteStalls::Condition;
using std::chrono::milliseconds;

TEST(WriteStallsTest, CountsTimeInDelayedAndStoppedOnly) {
  WriteStalls stalls;
  const WriteStalls::Clock::time_point t0{};
  EXPECT_EQ(stalls.Seconds(t0 + milliseconds(500)), 0.0);
  stalls.Change(Condition::kDelayed, t0 + milliseconds(1000));
  EXPECT_EQ(stalls.condition(), Condition::kDelayed);
  // A stall under way counts up to now.
  EXPECT_DOUBLE_EQ(stalls.Seconds(t0 + milliseconds(1250)), 0.25);
  stalls.Change(Condition::kStopped, t0 + milliseconds(1500));
  stalls.Change(Condition::kNormal, t0 + milliseconds(2000));
  EXPECT_EQ(stalls.condition(), Condition::kNormal);
  EXPECT_DOUBLE_EQ(stalls.Seconds(t0 + milliseconds(9000)), 1.0);
  stalls.Change(Condition::kDelayed, t0 + milliseconds(10'000));
  stalls.Change(Condition::kNormal, t0 + milliseconds(10'100));
  EXPECT_DOUBLE_EQ(stalls.Seconds(t0 + milliseconds(20'000)), 1.1);
}

// Compactions wait until the test lets them start: compaction falls behind on purpose.
class CompactionGate : public rocksdb::EventListener {
 public:
  void OnCompactionBegin(rocksdb::DB*, const rocksdb::CompactionJobInfo&) override {
    std::unique_lock lock(mu_);
    opened_.wait(lock, [&] { return open_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    opened_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable opened_;
  bool open_ = false;
};

bool WaitFor(StateStore& store, Condition condition) {
  const auto deadline = WriteStalls::Clock::now() + std::chrono::seconds(60);
  while (store.SampleWriteStalls().condition() != condition) {
    if (WriteStalls::Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// The real store: with compaction held back, the second L0 file makes RocksDB delay writes
// (level0_slowdown_writes_trigger 2); once compaction runs, writes are normal again, and
// the time in between was counted.
TEST(WriteStallsTest, StoreSeesRocksDbDelayWritesAndRecover) {
  const std::string dir = ::testing::TempDir() + "/write_stalls_test." + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  auto gate = std::make_shared<CompactionGate>();
  std::unique_ptr<StateStore> store = StateStore::Open(dir, [&](rocksdb::Options& options) {
    options.write_buffer_size = 64 << 10;
    options.level0_file_num_compaction_trigger = 2;
    options.level0_slowdown_writes_trigger = 2;
    options.level0_stop_writes_trigger = 1000;
    options.listeners.push_back(gate);
  });
  EXPECT_EQ(store->SampleWriteStalls().condition(), Condition::kNormal);
  EXPECT_EQ(store->SampleWriteStalls().Seconds(WriteStalls::Clock::now()), 0.0);

  // Each commit of 100 KB fills a 64 KB memtable: the next one flushes it to L0. Commits go
  // on until RocksDB delays writes (two memtables flushed together make one file, so the
  // number of commits that takes depends on the flushes' timing). While compaction is held
  // back, the L0 files stay and so does the delay.
  state::v1::OutboxEntry entry;
  entry.set_topic("c360.health");
  entry.set_value(std::string(100 << 10, 'x'));
  const auto deadline = WriteStalls::Clock::now() + std::chrono::seconds(60);
  while (store->SampleWriteStalls().condition() != Condition::kDelayed) {
    ASSERT_LT(WriteStalls::Clock::now(), deadline) << "RocksDB never delayed writes";
    StateBatch batch;
    batch.PutOutbox(0, 1, entry);
    ASSERT_EQ(store->Commit(&batch), std::nullopt);
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(store->SampleWriteStalls().condition(), Condition::kDelayed);
  const double while_stalled = store->SampleWriteStalls().Seconds(WriteStalls::Clock::now());

  gate->Open();
  ASSERT_TRUE(WaitFor(*store, Condition::kNormal));
  const double stalled = store->SampleWriteStalls().Seconds(WriteStalls::Clock::now());
  EXPECT_GE(stalled, while_stalled);
  EXPECT_GT(stalled, 0.0);
  // Counted once: no time is added after the stall ended.
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(store->SampleWriteStalls().Seconds(WriteStalls::Clock::now()), stalled);
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace c360
