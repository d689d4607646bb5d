#pragma once
// Writes a processing batch's StateBatch on a thread of its own, so that the processing
// thread applies the next records while RocksDB writes the WAL and the memtable
// (docs/architecture.md, "The commit"). One write at a time: Submit() requires the last
// one to be finished (Wait()); the batch is one RocksDB WriteBatch as before, so a commit
// stays atomic (SPEC 6.2).
//
// Thread-safe for one submitting thread (the processing thread).

#include <chrono>
#include <optional>
#include <string>

#include "common/background_job.h"
#include "state/store.h"

namespace c360 {

class CommitWriter {
 public:
  explicit CommitWriter(StateStore* store) : store_(store) {}
  ~CommitWriter() = default;  // waits for a write in progress
  CommitWriter(const CommitWriter&) = delete;
  CommitWriter& operator=(const CommitWriter&) = delete;

  // Starts writing `batch`, which must stay untouched until Wait() returns.
  void Submit(StateBatch* batch);
  // A submitted write has finished (Wait() will not block).
  bool finished() const;
  // Waits for the submitted write: the RocksDB status text on failure, and how long the
  // write took.
  struct Result {
    std::optional<std::string> error;
    std::chrono::steady_clock::duration took{};
  };
  Result Wait();

 private:
  StateStore* const store_;
  Result result_;      // the submitted write's, once it finished
  BackgroundJob job_;  // last: destroyed (the write finished) first
};

}  // namespace c360
