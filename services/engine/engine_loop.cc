// Engine::Impl: the processing loop: consume, route, apply over the processing threads, batch
// (engine_impl.h).
#include "services/engine/engine_impl.h"
#include "services/engine/kafka_record.h"
#include "common/logfmt.h"

namespace c360 {
namespace {

constexpr int kConsumeBatch = 10'000;
// Customers re-scored per task between two batches while a day change sweeps.
constexpr size_t kSweepSlice = 5'000;
// Messages published but not yet confirmed, beyond which processing waits for the
// producer (back-pressure instead of unbounded memory).
constexpr size_t kMaxInFlight = 500'000;
// Stats, metrics and readiness are published at every commit and at least this often.
constexpr auto kRefreshInterval = std::chrono::milliseconds(250);

}  // namespace

void Engine::Impl::Run(const std::function<bool()>& stop) {
  try {
    Consume(stop);
    Shutdown();
  } catch (const EngineError&) {
    state_failed_ = true;
    throw;
  } catch (const std::exception& e) {
    // A failed or corrupt read (StateError) or anything unforeseen, in the middle of a
    // batch: what the batch changed in memory is dropped, neither committed nor
    // published, and the state on disk stays the last good commit for a restart.
    state_failed_ = true;
    throw EngineError(e.what());
  } catch (...) {
    state_failed_ = true;
    throw EngineError("an exception of unknown type on the processing thread");
  }
}

// The processing loop: consume, apply, commit, fence and publish until stop().
void Engine::Impl::Consume(const std::function<bool()>& stop) {
  std::vector<rd_kafka_message_t*> messages(kConsumeBatch);
  // Owned here, also when Run leaves by an exception (a failed commit).
  const std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> queue_owner(
      rd_kafka_queue_get_consumer(consumer_.get()), &rd_kafka_queue_destroy);
  rd_kafka_queue_t* queue = queue_owner.get();
  auto batch_started = std::chrono::steady_clock::now();
  auto refreshed = batch_started;
  int batch_records = 0;
  bool full = false;  // the last call handed over a whole array: more is waiting
  while (!stop()) {
    // How long to wait for records, and for how many (rd_kafka_consume_batch_queue
    // returns when it has them all or the time is up):
    // - nothing applied or buffered: up to 100 ms for the first record, which opens the
    //   batch's window;
    // - a backlog (the last call filled the array): no wait;
    // - live traffic: until the batch is due, batch_max_ms after it opened, collecting
    //   what arrives meanwhile (no spinning between records);
    // - records buffered that no task could apply (each waits for a partition whose data
    //   the broker has not handed over yet) and nothing applied since the last commit: as
    //   when idle, until the first record (or partition end) arrives, or for 1 ms while a
    //   task's max_task_idle_ms wait runs. Waiting 0 there spun the loop at full speed for
    //   as long as a slow broker took to answer, starving the broker of the cores it shares.
    // While a fence's answer or a transaction's end is due, at most 1 ms, so that
    // outputs do not wait for the next record.
    bool buffered = false;
    bool idle_wait = false;
    for (const auto& [id, task] : tasks_) {
      buffered = buffered || task->HasBuffered();
      idle_wait = idle_wait || task->IdleWaitPending();
    }
    const bool idle = batch_records == 0 && !buffered;
    const bool blocked = batch_records == 0 && buffered && !full;
    size_t want = messages.size();
    int wait_ms = 0;
    if (idle || blocked) {
      want = 1;
      wait_ms = blocked && idle_wait ? 1 : 100;
    } else if (!full) {
      const auto due = batch_started + std::chrono::milliseconds(config_.batch_max_ms);
      wait_ms = static_cast<int>(std::clamp<int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(due -
                                                                std::chrono::steady_clock::now())
              .count(),
          0, 100));
    }
    // The same while a commit is being written: its outputs wait for it.
    if (!fences_.empty() || writing_.active || transacting_.active) {
      wait_ms = std::min(wait_ms, 1);
    }
    // Delivery reports are served between two waits: in slices of 2 ms while outputs
    // are in flight, so that their outbox entries and metrics follow within 2 ms.
    if (in_flight_ > 0) wait_ms = std::min(wait_ms, 2);
    const ssize_t n = rd_kafka_consume_batch_queue(queue, wait_ms, messages.data(), want);
    full = n == static_cast<ssize_t>(messages.size());
    if (idle && n > 0) batch_started = std::chrono::steady_clock::now();
    for (ssize_t i = 0; i < n; ++i) {
      try {
        Route(messages[i]);
      } catch (...) {
        // A profile is applied as it is routed, and may fail to read its customer: the
        // messages not routed yet are released here (the consumer waits for every
        // message at its destruction) before the failure goes up.
        for (ssize_t j = i + 1; j < n; ++j) rd_kafka_message_destroy(messages[j]);
        throw;
      }
    }
    // A failure inside a librdkafka callback (restoring a task at assignment, committing
    // at revocation) is raised here, on the processing thread.
    if (!fatal_.empty()) throw EngineError(fatal_);
    batch_records += ProcessTasks();
    // A batch ends after batch_max_records records, or after batch_max_ms once the
    // consumer has nothing more to hand over (live traffic: alerts leave within
    // batch_max_ms). While catching up on a backlog a batch may run to
    // batch_catchup_ms, so that each customer's state is written once for many of its
    // events (the state write, not the event, is the unit of cost).
    const auto now = std::chrono::steady_clock::now();
    const auto age = now - batch_started;
    const auto max_age = std::chrono::milliseconds(config_.batch_max_ms);
    const bool drained = !full;
    if (batch_records >= config_.batch_max_records ||
        age >= std::chrono::milliseconds(config_.batch_catchup_ms) ||
        (age >= max_age && drained && (batch_records > 0 || !delivered_.empty()))) {
      SubmitCommit();  // written while the next records are applied
      batch_records = 0;
      batch_started = now;
      // Nothing to write (no task changed: every customer is in the store already): a
      // sweep restored with its task goes on now, or it would wait for a record.
      if (!writing_.active) sweep_due_ = true;
    }
    FinishCommit(/*wait=*/false);  // its outputs go once it is written
    if (sweep_due_ && !writing_.active) {
      // A day-change re-score in progress advances by a slice after each commit (every
      // customer is in the store then), so a day boundary never stalls processing for
      // long; its outputs leave with the next batch.
      sweep_due_ = false;
      batch_records += SweepTasks();
    }
    if (transactions_) {
      FinishTransaction(/*wait=*/false);
      if (now >= fence_retry_at_) StartTransaction();
    } else {
      ServeFences();
      if (!held_.empty() && fences_.empty() && now >= fence_retry_at_) IssueFence();
    }
    rd_kafka_poll(producer_.get(), 0);
    RetryFailed();
    while (in_flight_ > kMaxInFlight && !stop()) rd_kafka_poll(producer_.get(), 10);
    if (now - refreshed >= kRefreshInterval) {
      PublishStats();
      // A quiet task's checkpoint is renewed too (changelog.checkpoint_interval_ms), so
      // that the changelog's retention never removes the base of its restore.
      if (!writing_.active) MaybeCheckpoint();
      refreshed = now;
    }
  }
}

// One turn's work for every task, spread over the processing threads (engine.threads):
// each task applies what it has buffered and, on the wall clock, fires its due timers.
// Tasks share nothing (SPEC section 2); what they add up to is summed here. Returns the
// records and timers applied.
int Engine::Impl::ProcessTasks() {
  task_list_.clear();
  for (auto& [id, task] : tasks_) task_list_.push_back(task.get());
  task_applied_.assign(task_list_.size(), 0);
  const bool wall = settings_.wall_clock;
  const TimeMs wall_time = wall ? clock_.NowMs() - config_.timer_grace_ms : kNoTime;
  pool_->ForEach(task_list_.size(), [&](size_t i) {
    Task& task = *task_list_[i];
    int applied = task.Process(config_.batch_max_records);
    if (wall && task.CaughtUp() && task.stream_time() != kNoTime) {
      // Timers fired by the clock count like records: their alerts leave with the
      // next batch, within batch_max_ms.
      const int64_t fired = task.counters().timers_fired;
      task.AdvanceTime(wall_time);
      applied += static_cast<int>(task.counters().timers_fired - fired);
    }
    task_applied_[i] = applied;
  });
  int applied = 0;
  for (int n : task_applied_) applied += n;
  return applied;
}

// The next slice of every day-change re-score in progress, over the processing threads.
// Returns the customers visited.
int Engine::Impl::SweepTasks() {
  task_list_.clear();
  for (auto& [id, task] : tasks_) {
    if (task->sweep_pending()) task_list_.push_back(task.get());
  }
  task_applied_.assign(task_list_.size(), 0);
  pool_->ForEach(task_list_.size(), [&](size_t i) {
    task_applied_[i] = static_cast<int>(task_list_[i]->SweepStep(kSweepSlice));
  });
  int visited = 0;
  for (int n : task_applied_) visited += n;
  return visited;
}

void Engine::Impl::Route(rd_kafka_message_t* msg) {
  const auto topic =
      msg->rkt ? config_.topics.InputByName(rd_kafka_topic_name(msg->rkt)) : std::nullopt;
  auto task = tasks_.find(msg->partition);
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (topic && task != tasks_.end()) task->second->MarkAtEnd(*topic);
    rd_kafka_message_destroy(msg);
    return;
  }
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++kafka_errors_;
    spdlog::warn("event=consumer_error topic={} partition={} error={}",
                 LogValue(msg->rkt ? rd_kafka_topic_name(msg->rkt) : ""), msg->partition,
                 LogValue(rd_kafka_message_errstr(msg)));
    rd_kafka_message_destroy(msg);
    return;
  }
  if (!topic || task == tasks_.end()) {
    rd_kafka_message_destroy(msg);  // not ours (any more)
    return;
  }
  ++stats_.consumed;
  ++stats_.consumed_by_topic[static_cast<int>(*topic)];
  task->second->Buffer(RecordOf(msg, *topic));
}

}  // namespace c360
