#include "common/background_job.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace c360 {
namespace {

// Polls `done` for up to 10 s.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(BackgroundJobTest, RunsEachJobOnItsOwnThreadOneAtATime) {
  BackgroundJob job;
  job.Wait();  // nothing submitted: returns at once
  EXPECT_FALSE(job.pending());
  EXPECT_FALSE(job.finished());
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> release{false};
  std::thread::id ran_on;
  int value = 0;
  job.Submit([&] {
    while (!release) std::this_thread::yield();
    ran_on = std::this_thread::get_id();
    value = 42;  // visible to the caller once Wait() returns
  });
  EXPECT_TRUE(job.pending());
  EXPECT_FALSE(job.finished());  // held until released
  EXPECT_THROW(job.Submit([] {}), std::logic_error);
  release = true;
  ASSERT_TRUE(Eventually([&] { return job.finished(); }));
  job.Wait();
  EXPECT_EQ(value, 42);
  EXPECT_NE(ran_on, caller);
  EXPECT_FALSE(job.pending());
  EXPECT_FALSE(job.finished());
  job.Submit([&] { value = 7; });  // the next one, after the wait
  job.Wait();
  EXPECT_EQ(value, 7);
}

TEST(BackgroundJobTest, WaitThrowsWhatTheJobThrewOnce) {
  BackgroundJob job;
  job.Submit([] { throw std::runtime_error("broker gone"); });
  try {
    job.Wait();
    ADD_FAILURE() << "Wait() did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "broker gone");
  }
  EXPECT_NO_THROW(job.Wait());
  job.Submit([] {});
  EXPECT_NO_THROW(job.Wait());
}

TEST(BackgroundJobTest, DestructionRunsASubmittedJobFirst) {
  std::atomic<int> ran{0};
  {
    BackgroundJob job;
    job.Submit([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ++ran;
    });
  }
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace c360
