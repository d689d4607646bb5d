#include "services/engine/commit_writer.h"

#include <stdexcept>

namespace c360 {

CommitWriter::CommitWriter(StateStore* store) : store_(store), thread_([this] { Loop(); }) {}

CommitWriter::~CommitWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CommitWriter::Submit(StateBatch* batch) {
  {
    std::lock_guard lock(mu_);
    if (job_ != nullptr || done_) throw std::logic_error("CommitWriter: a write is still pending");
    job_ = batch;
  }
  cv_.notify_all();
}

bool CommitWriter::finished() const {
  std::lock_guard lock(mu_);
  return done_;
}

CommitWriter::Result CommitWriter::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_ || job_ == nullptr; });
  if (!done_) return {};  // nothing was submitted
  done_ = false;
  return std::move(result_);
}

void CommitWriter::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || (job_ != nullptr && !done_); });
    if (job_ == nullptr) return;  // stopping, nothing to write
    StateBatch* batch = job_;
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    Result result;
    try {
      result.error = store_->Commit(batch);
    } catch (const std::exception& e) {  // a crash point's failure, or RocksDB's
      result.error = e.what();
    }
    result.took = std::chrono::steady_clock::now() - started;
    lock.lock();
    result_ = std::move(result);
    job_ = nullptr;
    done_ = true;
    cv_.notify_all();
    if (stop_) return;
  }
}

}  // namespace c360
