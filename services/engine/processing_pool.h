#pragma once
// The engine's processing threads (engine.threads): the caller of ForEach and threads - 1
// workers. Tasks share nothing (SPEC section 2), so a loop turn hands each task to one
// thread, which applies its records; the turn ends when every task is done. With one
// thread every call runs on the caller, as before there were several.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace c360 {

class ProcessingPool {
 public:
  // threads >= 1: the caller counts as one.
  explicit ProcessingPool(int threads);
  ~ProcessingPool();
  ProcessingPool(const ProcessingPool&) = delete;
  ProcessingPool& operator=(const ProcessingPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls job(i) once for every i in [0, count), spread over the threads (each takes the
  // next index as it becomes free), and returns when every call has returned. If a call
  // throws, the calls not yet started are skipped and the first exception is rethrown here.
  void ForEach(size_t count, const std::function<void(size_t)>& job);

 private:
  void Work();
  void RunJobs();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_;
  std::condition_variable done_;
  // Guarded by mu_, except next_ (taken by each thread) and failed_.
  uint64_t generation_ = 0;
  bool stopping_ = false;
  size_t busy_ = 0;
  const std::function<void(size_t)>* job_ = nullptr;
  size_t count_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

}  // namespace c360
