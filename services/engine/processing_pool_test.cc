#include "services/engine/processing_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace c360 {
namespace {

TEST(ProcessingPoolTest, EveryIndexRunsOnceInEveryRound) {
  for (int threads : {1, 2, 4}) {
    ProcessingPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (size_t count : {0, 1, 2, 3, 64, 1000}) {
      for (int round = 0; round < 50; ++round) {
        std::vector<std::atomic<int>> calls(count);
        pool.ForEach(count, [&](size_t i) { calls[i].fetch_add(1); });
        for (size_t i = 0; i < count; ++i) {
          ASSERT_EQ(calls[i].load(), 1)
              << "threads " << threads << " count " << count << " i " << i;
        }
      }
    }
  }
}

// With two threads, two calls run at the same time: each waits (up to 10 s) until both have
// started, which a pool running them one after the other never lets happen.
TEST(ProcessingPoolTest, TwoThreadsRunTwoCallsAtOnce) {
  ProcessingPool pool(2);
  std::atomic<int> started{0};
  std::atomic<int> met{0};
  std::mutex mu;
  std::set<std::thread::id> ids;
  pool.ForEach(2, [&](size_t) {
    {
      std::lock_guard lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    started.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (started.load() < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    if (started.load() == 2) met.fetch_add(1);
  });
  EXPECT_EQ(met.load(), 2);
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 1u);  // the caller is one of them
}

TEST(ProcessingPoolTest, OneThreadRunsOnTheCallerInOrder) {
  ProcessingPool pool(1);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<size_t> order;
  pool.ForEach(5, [&](size_t i) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

TEST(ProcessingPoolTest, AFailureIsRethrownOnTheCallerAndThePoolGoesOn) {
  ProcessingPool pool(2);
  EXPECT_THROW(pool.ForEach(100,
                            [](size_t i) {
                              if (i == 7) throw std::runtime_error("task 7 failed");
                            }),
               std::runtime_error);
  try {
    pool.ForEach(10, [](size_t i) {
      if (i == 3) throw std::runtime_error("task 3 failed");
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "task 3 failed");
  }
  std::atomic<int> calls{0};
  pool.ForEach(10, [&](size_t) { calls.fetch_add(1); });
  EXPECT_EQ(calls.load(), 10);
}

}  // namespace
}  // namespace c360
