#pragma once
// One job at a time on a thread of its own, for a single submitting thread: the engine's
// state write (services/engine/commit_writer.h) and its Kafka transaction
// (services/engine/engine_publish.cc) run while the processing thread applies the next
// records. Submit() hands a job over, finished() asks without blocking, Wait() takes it
// back: what the job wrote is visible to the submitting thread once Wait() returns, and an
// exception the job threw is thrown again there.

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace c360 {

class BackgroundJob {
 public:
  BackgroundJob();
  ~BackgroundJob();  // runs a job submitted and not yet run, then ends the thread
  BackgroundJob(const BackgroundJob&) = delete;
  BackgroundJob& operator=(const BackgroundJob&) = delete;

  // Starts `job`. The one before must have been waited for (std::logic_error otherwise).
  void Submit(std::function<void()> job);
  // A job was submitted and not yet waited for.
  bool pending() const;
  // The submitted job has run: Wait() will not block.
  bool finished() const;
  // Waits for the submitted job (returns at once if none) and throws what it threw.
  void Wait();

 private:
  void Loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;  // submitted, not yet run
  bool submitted_ = false;     // a job was submitted and not yet waited for
  bool done_ = false;          // ... and it has run
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace c360
