#include "services/engine/processing_pool.h"

#include <atomic>

namespace c360 {

ProcessingPool::ProcessingPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

ProcessingPool::~ProcessingPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  start_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ProcessingPool::ForEach(size_t count, const std::function<void(size_t)>& job) {
  if (workers_.empty() || count <= 1) {
    for (size_t i = 0; i < count; ++i) job(i);
    return;
  }
  {
    std::lock_guard lock(mu_);
    job_ = &job;
    count_ = count;
    next_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    error_ = nullptr;
    busy_ = workers_.size();
    ++generation_;
  }
  start_.notify_all();
  RunJobs();
  std::unique_lock lock(mu_);
  done_.wait(lock, [this] { return busy_ == 0; });
  job_ = nullptr;
  if (error_) {
    std::exception_ptr error = std::move(error_);
    error_ = nullptr;
    std::rethrow_exception(error);
  }
}

void ProcessingPool::Work() {
  uint64_t seen = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    lock.unlock();
    RunJobs();
    lock.lock();
    if (--busy_ == 0) done_.notify_one();
  }
}

void ProcessingPool::RunJobs() {
  for (;;) {
    const size_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= count_) return;
    if (failed_.load(std::memory_order_relaxed)) continue;
    try {
      (*job_)(i);
    } catch (...) {
      std::lock_guard lock(mu_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
}

}  // namespace c360
