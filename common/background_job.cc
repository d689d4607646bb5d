#include "common/background_job.h"

#include <stdexcept>
#include <utility>

namespace c360 {

BackgroundJob::BackgroundJob() : thread_([this] { Loop(); }) {}

BackgroundJob::~BackgroundJob() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void BackgroundJob::Submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (submitted_) throw std::logic_error("BackgroundJob: the last job was not waited for");
    job_ = std::move(job);
    submitted_ = true;
    done_ = false;
  }
  cv_.notify_all();
}

bool BackgroundJob::pending() const {
  std::lock_guard lock(mu_);
  return submitted_;
}

bool BackgroundJob::finished() const {
  std::lock_guard lock(mu_);
  return submitted_ && done_;
}

void BackgroundJob::Wait() {
  std::unique_lock lock(mu_);
  if (!submitted_) return;
  cv_.wait(lock, [this] { return done_; });
  submitted_ = false;
  if (std::exception_ptr error = std::exchange(error_, nullptr)) std::rethrow_exception(error);
}

void BackgroundJob::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || (submitted_ && !done_); });
    if (!submitted_ || done_) return;  // stopping, nothing to run
    std::function<void()> job = std::move(job_);
    job_ = nullptr;
    lock.unlock();
    std::exception_ptr error;
    try {
      job();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    error_ = error;
    done_ = true;
    cv_.notify_all();
    if (stop_) return;
  }
}

}  // namespace c360
