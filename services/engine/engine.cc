#include "services/engine/engine.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/crash_point.h"
#include "common/kafka.h"
#include "services/engine/commit_writer.h"
#include "services/engine/processing_pool.h"
#include "services/engine/metrics.h"
#include "services/engine/task.h"
#include "services/engine/transaction.h"
#include "state/store.h"

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
// After the group coordinator rejected an output fence, the held outputs are fenced again
// after this long (or at the next rebalance, which decides their fate).
constexpr auto kFenceRetry = std::chrono::seconds(1);
// The commit metadata of the offsets this engine commits in its transactions:
// "c360-txn <transactional.id> <outbox sequence>" (DecideRestoredOutboxes reads it back).
constexpr std::string_view kTransactionMark = "c360-txn";

// librdkafka's syslog levels as spdlog's.
spdlog::level::level_enum LogLevelOf(int syslog_level) {
  if (syslog_level <= 3) return spdlog::level::err;
  if (syslog_level == 4) return spdlog::level::warn;
  if (syslog_level <= 6) return spdlog::level::info;
  return spdlog::level::debug;
}

struct InFlight {
  uint16_t task;
  uint64_t sequence;
  state::v1::OutboxEntry entry;
};

// Committed outputs waiting for the group coordinator to accept an offset commit in this
// member's generation (the fence; docs/reliability.md).
struct Fence {
  uint64_t id;
  std::vector<PublishItem> items;
  bool answered = false;
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

}  // namespace

class Engine::Impl final : public RecordOwner {
 public:
  Impl(EngineSettings settings, const Clock& clock)
      : settings_(std::move(settings)),
        config_(settings_.config),
        clock_(clock),
        metrics_(config_.topics) {
    pool_ = std::make_unique<ProcessingPool>(config_.threads);
    readiness_.reason = "starting: opening the state and checking the topics";
  }

  ~Impl() override {
    tasks_.clear();  // releases buffered messages before the consumer goes
    fence_queue_.reset();
    consumer_.reset();
    if (producer_) {
      // Outputs still with the producer (after a state failure nothing is flushed) are
      // dropped: they stay in the outbox for the next run. Their delivery reports free
      // what the engine holds for them.
      rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      for (int i = 0; i < 100 && in_flight_ > 0; ++i) rd_kafka_poll(producer_.get(), 10);
    }
    for (InFlight* flight : failed_) delete flight;
    for (InFlight* flight : transaction_flights_) delete flight;
    producer_.reset();
  }

  void Start() {
    try {
      store_ = StateStore::Open(settings_.state_dir);
      writer_ = std::make_unique<CommitWriter>(store_.get());
    } catch (const StateDirectoryError& e) {
      throw EngineRefused(e.what());
    } catch (const StateError& e) {
      throw EngineError(e.what());
    }
    if (store_->origin() == StateDirOrigin::kCreated) {
      spdlog::info("event=state_created state_dir={} format={}", settings_.state_dir, kStateFormat);
    } else if (store_->origin() == StateDirOrigin::kAdopted) {
      spdlog::warn("event=state_adopted state_dir={} format={} reason=\"c360 state without a "
                   "format marker (written before it existed): marked now\"",
                   settings_.state_dir, kStateFormat);
    } else if (store_->origin() == StateDirOrigin::kUpgraded) {
      spdlog::warn("event=state_upgraded state_dir={} format={} reason=\"state of an older c360: "
                   "marked with this format now; customers move to it as they are loaded\"",
                   settings_.state_dir, kStateFormat);
    }
    if (!producer_) CreateClients();
    CheckTopics();
    if (config_.exactly_once) {
      transactions_ = std::make_unique<OutputTransactions>(producer_.get(), consumer_.get(),
                                                           config_.transaction_timeout_ms);
      try {
        transactions_->Init();
      } catch (const KafkaError& e) {
        throw EngineError(e.what());
      }
    }
    PartitionList subscription(rd_kafka_topic_partition_list_new(5));
    for (InputTopic input : kAllInputTopics) {
      const std::string& topic = config_.topics.Input(input);
      rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
    }
    const rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), subscription.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw EngineError(std::string("cannot subscribe: ") + rd_kafka_err2str(err));
    }
    started_ = true;
    store_view_.store(store_.get(), std::memory_order_release);
    PublishStats();
    spdlog::info("event=engine_started brokers={} group={} state_dir={} clock={} output={} "
                 "batch_max_records={} batch_max_ms={} batch_catchup_ms={} "
                 "max_task_idle_ms={} timer_grace_ms={} retention_days={} "
                 "cache_max_customers={} threads={} kafka_overrides={} processing_guarantee={} "
                 "transactional_id={}",
                 settings_.brokers, settings_.group, settings_.state_dir,
                 settings_.wall_clock ? "wall" : "event",
                 settings_.format == OutputFormat::kJson ? "json" : "protobuf",
                 config_.batch_max_records, config_.batch_max_ms, config_.batch_catchup_ms,
                 config_.max_task_idle_ms, config_.timer_grace_ms, config_.retention_days,
                 config_.cache_max_customers, config_.threads, config_.kafka.size(),
                 config_.exactly_once ? "exactly_once" : "at_least_once",
                 config_.exactly_once ? TransactionalId() : "none");
  }

  // exactly_once: the producer's transactional.id, stable across restarts of this engine
  // (so that a restart's producer aborts what the crashed one left open) and distinct
  // between engines: engine.transactional_id, else from the group and the engine's
  // static member id, else from the group, the host name and the state directory.
  std::string TransactionalId() const {
    if (!config_.transactional_id.empty()) return config_.transactional_id;
    const std::string base = "c360-" + settings_.group + "-";
    if (auto it = config_.kafka.find("group.instance.id"); it != config_.kafka.end()) {
      return base + it->second;
    }
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::error_code ignored;
    const std::string dir = std::filesystem::absolute(settings_.state_dir, ignored).string();
    return base + host + "-" + std::to_string(std::hash<std::string>{}(dir) % 1'000'000'007);
  }

  // The consumer and the producer, from c360's properties with the config's over them. They
  // touch neither the state nor the group (the consumer joins at Start's subscribe), so
  // `c360 engine` builds them first: what librdkafka refuses only when it builds a client
  // (a missing ssl.ca.location file, acks other than all with idempotence) stops it before
  // its port is bound or its state opened.
  void CreateClients() {
    KafkaProperties consumer_props = {
        {"bootstrap.servers", settings_.brokers},
        {"group.id", settings_.group},
        // Range keeps partition p of every co-partitioned topic on one member: a task.
        {"partition.assignment.strategy", "range"},
        // Offsets live in RocksDB with the state (SPEC 6.2), not in the group.
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "3000"},
        // librdkafka 2.0.2 pauses fetching for up to 1 s whenever its queue holds
        // queued.min.messages; a large queue keeps fetches flowing.
        {"queued.min.messages", "1000000"},
        {"queued.max.messages.kbytes", "1048576"},
        {"fetch.wait.max.ms", "100"},
        {"log_level", "4"},
        // Broker states for /readyz (OnKafkaStats).
        {"statistics.interval.ms", "1000"},
    };
    KafkaProperties producer_props = {
        {"bootstrap.servers", settings_.brokers},
        {"enable.idempotence", "true"},
        {"linger.ms", "1"},
        {"partitioner", "murmur2_random"},
        {"compression.codec", "lz4"},
        {"message.max.bytes", "104857600"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "2097151"},
        {"log_level", "4"},
    };
    // Only committed transactions' records: inputs written transactionally, and offsets
    // committed in a transaction only once it commits (StableCommittedOffsets).
    consumer_props.emplace_back("isolation.level", "read_committed");
    if (config_.exactly_once) {
      transactional_id_ = TransactionalId();
      producer_props.emplace_back("transactional.id", transactional_id_);
      producer_props.emplace_back("transaction.timeout.ms",
                                  std::to_string(config_.transaction_timeout_ms));
    }
    for (const auto& [key, value] : config_.kafka) {
      consumer_props.emplace_back(key, value);
      producer_props.emplace_back(key, value);
    }
    try {
      KafkaConf consumer_conf = MakeConf(consumer_props);
      rd_kafka_conf_set_rebalance_cb(consumer_conf.get(), &Impl::OnRebalance);
      rd_kafka_conf_set_error_cb(consumer_conf.get(), &Impl::OnKafkaError);
      rd_kafka_conf_set_stats_cb(consumer_conf.get(), &Impl::OnKafkaStats);
      rd_kafka_conf_set_log_cb(consumer_conf.get(), &Impl::OnKafkaLog);
      rd_kafka_conf_set_opaque(consumer_conf.get(), this);
      char err[512];
      rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, consumer_conf.get(), err, sizeof err);
      if (rk == nullptr) throw KafkaError(std::string("cannot create the Kafka consumer: ") + err);
      consumer_conf.release();
      consumer_.reset(rk);
      rd_kafka_poll_set_consumer(rk);
      fence_queue_.reset(rd_kafka_queue_new(rk));

      producer_props_ = std::move(producer_props);
      producer_ = MakeProducer();
    } catch (const KafkaError& e) {
      fence_queue_.reset();
      consumer_.reset();
      throw EngineError(e.what());
    }
  }

  // The producer, from the properties CreateClients chose. Throws KafkaError.
  KafkaHandle MakeProducer() {
    KafkaConf producer_conf = MakeConf(producer_props_);
    rd_kafka_conf_set_dr_msg_cb(producer_conf.get(), &Impl::OnDelivery);
    rd_kafka_conf_set_error_cb(producer_conf.get(), &Impl::OnKafkaError);
    rd_kafka_conf_set_log_cb(producer_conf.get(), &Impl::OnKafkaLog);
    rd_kafka_conf_set_opaque(producer_conf.get(), this);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, producer_conf.get(), err, sizeof err);
    if (rk == nullptr) throw KafkaError(std::string("cannot create the Kafka producer: ") + err);
    producer_conf.release();
    return KafkaHandle(rk);
  }

  // exactly_once: the producer was fenced: the coordinator aborted its open transaction
  // (this process stalled past the transaction timeout, as a zombie does) or another
  // process took its transactional id. A fenced producer is dead in librdkafka; a new one
  // takes the id back (init_transactions) and the outputs wait to be sent again, in order:
  // a member the group still owns publishes them in its next transaction, a zombie's is
  // refused and its tasks' next owner decides. A producer fenced over and over is another
  // engine with the same id: that one line, exit 1.
  void ReplaceFencedProducer(const std::string& why) {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(fenced_at_, [&](auto t) { return now - t > std::chrono::minutes(1); });
    fenced_at_.push_back(now);
    if (fenced_at_.size() > 3) {
      throw EngineError("the Kafka producer was fenced " + std::to_string(fenced_at_.size()) +
                        " times in a minute (" + why + "): another engine uses the transactional "
                        "id " + transactional_id_ + " (engine.transactional_id, docs/config.md)");
    }
    spdlog::warn("event=producer_fenced transactional_id={} reason=\"{}\" action=new_producer",
                 transactional_id_, why);
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 500 && in_flight_ > 0; ++i) rd_kafka_poll(producer_.get(), 10);
    in_flight_ = 0;  // what the dead producer never reported, it never will
    transactions_.reset();
    producer_.reset();
    producer_ = MakeProducer();
    transactions_ = std::make_unique<OutputTransactions>(producer_.get(), consumer_.get(),
                                                         config_.transaction_timeout_ms);
    transactions_->Init();
  }

  void Run(const std::function<bool()>& stop) {
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
  void Consume(const std::function<bool()>& stop) {
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
      //   what arrives meanwhile (no spinning between records).
      // While a fence's answer is due (well under 1 ms on loopback), at most 1 ms, so that
      // outputs do not wait for the next record.
      bool buffered = false;
      for (const auto& [id, task] : tasks_) buffered = buffered || task->HasBuffered();
      const bool idle = batch_records == 0 && !buffered;
      size_t want = messages.size();
      int wait_ms = 0;
      if (idle) {
        want = 1;
        wait_ms = 100;
      } else if (!full) {
        const auto due = batch_started + std::chrono::milliseconds(config_.batch_max_ms);
        wait_ms = static_cast<int>(std::clamp<int64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(
                due - std::chrono::steady_clock::now()).count(), 0, 100));
      }
      // The same while a commit is being written: its outputs wait for it.
      if (!fences_.empty() || writing_.active) wait_ms = std::min(wait_ms, 1);
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
      // exactly_once waits for the write here, as before the commit was pipelined, until
      // overlapping it is measured again (docs/decisions.md).
      FinishCommit(/*wait=*/transactions_ != nullptr);
      if (sweep_due_ && !writing_.active) {
        // A day-change re-score in progress advances by a slice after each commit (every
        // customer is in the store then), so a day boundary never stalls processing for
        // long; its outputs leave with the next batch.
        sweep_due_ = false;
        batch_records += SweepTasks();
      }
      if (transactions_) {
        if (!held_.empty() && now >= fence_retry_at_) Transact();
      } else {
        ServeFences();
        if (!held_.empty() && fences_.empty() && now >= fence_retry_at_) IssueFence();
      }
      rd_kafka_poll(producer_.get(), 0);
      RetryFailed();
      while (in_flight_ > kMaxInFlight && !stop()) rd_kafka_poll(producer_.get(), 10);
      if (now - refreshed >= kRefreshInterval) {
        PublishStats();
        refreshed = now;
      }
    }
  }

  // One turn's work for every task, spread over the processing threads (engine.threads):
  // each task applies what it has buffered and, on the wall clock, fires its due timers.
  // Tasks share nothing (SPEC section 2); what they add up to is summed here. Returns the
  // records and timers applied.
  int ProcessTasks() {
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
  int SweepTasks() {
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

  void OnDelivered(std::function<void(const state::v1::OutboxEntry&)> callback) {
    on_delivered_ = std::move(callback);
  }

  // Thread-safe: the copies published at the last commit or refresh.
  const StateStore* state() const { return store_view_.load(std::memory_order_acquire); }
  EngineStats stats() const {
    std::lock_guard lock(stats_mu_);
    return published_stats_;
  }
  const Config& config() const { return config_; }
  Readiness readiness() const {
    std::lock_guard lock(stats_mu_);
    return readiness_;
  }
  std::string RenderMetrics() const { return metrics_.Render(); }
  void CountHttpRequest(const std::string& route, int status) {
    metrics_.CountHttpRequest(route, status);
  }

  // Processing thread only.
  EngineStats CurrentStats() const {
    EngineStats s = stats_;
    s.tasks = static_cast<int>(tasks_.size());
    size_t fenced = held_.size();
    for (const Fence& f : fences_) fenced += f.items.size();
    s.outbox_pending = static_cast<int64_t>(in_flight_ + failed_.size() + fenced +
                                            writing_.publish.size());
    s.fence_rejections = fence_rejections_;
    s.kafka_errors = kafka_errors_.load(std::memory_order_relaxed);
    for (const auto& [id, task] : tasks_) {
      s.outbox_pending += static_cast<int64_t>(task->uncommitted_outputs());
      AddCounters(task->counters(), &s);
      if (task->stream_time() != kNoTime) {
        s.max_stream_time = std::max(s.max_stream_time, task->stream_time());
      }
      s.stream_time_by_task[id] = task->stream_time() == kNoTime ? 0 : task->stream_time();
      s.timers_pending += static_cast<int64_t>(task->timer_count());
      s.cached_customers += static_cast<int64_t>(task->customer_count());
      for (int k = 0; k < kStatusCount; ++k) s.customers_by_status[k] += task->status_counts()[k];
      for (InputTopic topic : kAllInputTopics) {
        const std::string& name = config_.topics.Input(topic);
        int64_t low = RD_KAFKA_OFFSET_INVALID, high = RD_KAFKA_OFFSET_INVALID;
        rd_kafka_get_watermark_offsets(consumer_.get(), name.c_str(), id, &low, &high);
        int64_t lag = -1;
        if (high >= 0) {
          const auto next = task->resume_offset(topic);
          lag = std::max<int64_t>(0, high - (next ? *next : std::max<int64_t>(low, 0)));
        }
        s.lag[{name, id}] = lag;
      }
    }
    if (store_) {
      s.state_live_bytes = store_->LiveDataBytes();
      s.state_pending_compaction_bytes = store_->PendingCompactionBytes();
      s.state_block_cache_bytes = store_->BlockCacheBytes();
    }
    return s;
  }

  // Ready once every assigned task has caught up with its partitions once since it was
  // assigned (restoring happens inside the assignment), and the brokers are reachable.
  Readiness CurrentReadiness() {
    if (!started_) return {false, "starting: opening the state and checking the topics"};
    if (brokers_up_ == 0) {
      return {false, "no broker reachable: the consumer's connections to the cluster are down"};
    }
    if (tasks_.empty()) {
      return {false, "no tasks assigned: waiting for the group " + settings_.group +
                         " to assign partitions"};
    }
    std::string behind;
    for (auto& [id, task] : tasks_) {
      if (!task->CaughtUpOnce()) behind += (behind.empty() ? "" : ",") + std::to_string(id);
    }
    if (!behind.empty()) return {false, "catching up: tasks " + behind + " have not reached the end of their partitions"};
    return {true, "caught up"};
  }

  // The one place a task's counters are added to the engine's totals.
  static void AddCounters(const TaskCounters& c, EngineStats* s) {
    s->applied += c.applied;
    s->snapshots += c.snapshots;
    s->rescored_on_day_change += c.rescored_on_day_change;
    s->cache_hits += c.cache_hits;
    s->cache_misses += c.cache_misses;
    for (int k = 0; k < kTimerKindCount; ++k) s->timers_fired_by_kind[k] += c.timers_fired_by_kind[k];
    for (int t = 0; t < kInputTopicCount; ++t) {
      for (int r = 0; r < kDeadLetterReasonCount; ++r) {
        s->deadlettered_by[t][r] += c.deadlettered[t][r];
        s->deadlettered += c.deadlettered[t][r];
      }
    }
  }

  // Keeps a dropped task's counts in the totals.
  void Retire(const TaskCounters& counters) { AddCounters(counters, &stats_); }

  // RecordOwner.
  void Release(void* handle) override {
    rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(handle));
  }
  void CopyHeaders(void* handle, state::v1::OutboxEntry* entry) override {
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(static_cast<rd_kafka_message_t*>(handle), &headers) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return;
    }
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      auto* h = entry->add_headers();
      h->set_name(name);
      if (value != nullptr) h->set_value(static_cast<const char*>(value), size);
    }
  }

 private:
  void CheckTopics() {
    const auto names = config_.topics.All();
    const std::vector<std::string> all(names.begin(), names.end());
    std::vector<int> counts;
    try {
      counts = PartitionCounts(consumer_.get(), all, 10'000);
    } catch (const KafkaError& e) {
      throw EngineError(std::string(e.what()) + " (is a broker at " + settings_.brokers + "?)");
    }
    std::string missing;
    for (size_t i = 0; i < all.size(); ++i) {
      if (counts[i] == 0) missing += (missing.empty() ? "" : ", ") + all[i];
    }
    if (!missing.empty()) throw EngineError("topics do not exist: " + missing);
    std::string mismatch;
    for (int i = 1; i < kInputTopicCount; ++i) {
      if (counts[i] != counts[0]) {
        mismatch = "input topics are not co-partitioned: ";
        for (int j = 0; j < kInputTopicCount; ++j) {
          mismatch += all[j] + " has " + std::to_string(counts[j]) + (j + 1 < kInputTopicCount ? ", " : "");
        }
      }
    }
    if (!mismatch.empty()) throw EngineError(mismatch + " partitions");
    stats_.partitions = counts[0];
    CheckStoredPartitions(counts[0]);
  }

  // Task p is partition p of every input topic, so the state holds each customer under
  // the task its partition number gave; with another partition count customers hash to
  // other partitions and their state would sit in the wrong tasks. The count is stored on
  // the first start and checked on every later one.
  void CheckStoredPartitions(int partitions) {
    const std::string how =
        "; c360 keeps a customer's state in the task of its partition, so the stored state "
        "does not fit: recreate the input topics with the stored count, or point --state-dir "
        "at a new directory and replay the topics";
    std::optional<int> stored;
    try {
      stored = store_->LoadInputPartitions();
      if (!stored) {
        // State from before the count was stored: its tasks tell a lower bound.
        const std::vector<uint16_t> tasks = store_->Tasks();
        const auto highest = std::max_element(tasks.begin(), tasks.end());
        if (highest != tasks.end() && *highest >= partitions) {
          throw EngineRefused("state directory " + settings_.state_dir + " holds task " +
                              std::to_string(*highest) + ", but the input topics have " +
                              std::to_string(partitions) + " partitions" + how);
        }
      }
    } catch (const StateError& e) {
      throw EngineError(e.what());
    }
    if (stored && *stored != partitions) {
      throw EngineRefused("state directory " + settings_.state_dir + " was built for input topics with " +
                          std::to_string(*stored) + " partitions, but they now have " +
                          std::to_string(partitions) + how);
    }
    if (!stored) {
      if (auto error = store_->SaveInputPartitions(partitions)) {
        throw EngineError("cannot store the partition count: " + *error);
      }
    }
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    // No exception may cross librdkafka's C frames: a failure is kept for Run to raise.
    try {
      // The commit being written belongs to the tasks as they were: finished first (its
      // outputs wait with the others for the fence or transaction that follows).
      self->FinishCommit(/*wait=*/true, /*publish_now=*/false);
      if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        self->Assign(partitions);
        rd_kafka_assign(rk, partitions);
        return;
      }
      self->Revoke(rk);
    } catch (const std::exception& e) {
      if (self->fatal_.empty()) self->fatal_ = e.what();
      self->state_failed_ = true;
      self->tasks_.clear();
    }
    rd_kafka_assign(rk, nullptr);
  }

  void Assign(rd_kafka_topic_partition_list_t* partitions) {
    std::vector<Task*> restored;
    for (int i = 0; i < partitions->cnt; ++i) {
      const int32_t p = partitions->elems[i].partition;
      const auto topic = config_.topics.InputByName(partitions->elems[i].topic);
      if (!topic) continue;
      auto it = tasks_.find(p);
      if (it == tasks_.end()) {
        auto task = std::make_unique<Task>(static_cast<uint16_t>(p), config_, clock_,
                                           settings_.format, this);
        task->Restore(*store_);
        restored.push_back(task.get());
        it = tasks_.emplace(p, std::move(task)).first;
      }
      const auto offset = it->second->resume_offset(*topic);
      partitions->elems[i].offset = offset ? *offset : RD_KAFKA_OFFSET_BEGINNING;
    }
    if (transactions_ && !restored.empty()) {
      DecideRestoredOutboxes(restored);
    } else {
      // Fenced like any batch's outputs, by the next loop of Run.
      for (Task* task : restored) {
        for (PublishItem& item : task->TakeRestoredOutbox()) held_.push_back(std::move(item));
      }
    }
    std::string names;
    for (const auto& [id, task] : tasks_) names += (names.empty() ? "" : ",") + std::to_string(id);
    spdlog::info("event=assigned tasks={} partitions={}", names, partitions->cnt);
    PublishStats();
  }

  // exactly_once: which of a restored task's outbox entries a committed transaction has
  // published, from the group's committed offsets of the task. Each transaction commits
  // them with the metadata "c360-txn <transactional.id> <sequence>" (TransactionOffsets):
  // - written by this engine's transactional id: the entries up to that sequence are
  //   published (deleted with the next commit), the later ones go out in a new transaction;
  // - otherwise (another member's offsets, a fresh group, the fence's): all go out, at
  //   least once. Offsets ahead of the stored ones mean another member processed the task
  //   beyond this copy of its state (a zombie's, regaining its task): its outbox still
  //   goes out, because the state records it as published (a customer's last snapshot),
  //   and the task resumes from its stored offsets, so that what follows on the topics
  //   is this state's. (Moving a task's state with it is the changelog's job.)
  // The offsets are read stable: while another member's transaction holds them (a zombie
  // between its offset commit and its commit), this waits for it to end, at most the
  // transaction timeout, so that this engine's outputs come after it.
  void DecideRestoredOutboxes(const std::vector<Task*>& restored) {
    PartitionList committed(rd_kafka_topic_partition_list_new(static_cast<int>(restored.size()) * kInputTopicCount));
    for (const Task* task : restored) {
      for (InputTopic topic : kAllInputTopics) {
        rd_kafka_topic_partition_list_add(committed.get(), config_.topics.Input(topic).c_str(), task->id());
      }
    }
    StableCommittedOffsets(consumer_.get(), committed.get(), config_.transaction_timeout_ms + 10'000);
    const std::string ours = std::string(kTransactionMark) + " " + transactional_id_ + " ";
    for (Task* task : restored) {
      TaskProgress& progress = progress_[task->id()];
      bool ahead = false;
      std::optional<uint64_t> published;
      for (int i = 0; i < committed->cnt; ++i) {
        const rd_kafka_topic_partition_t& e = committed->elems[i];
        if (e.partition != task->id()) continue;
        const InputTopic topic = *config_.topics.InputByName(e.topic);
        const int64_t stored = task->resume_offset(topic).value_or(-1);
        progress.offsets[static_cast<int>(topic)] = stored;
        if (e.offset >= 0 && e.offset > stored) ahead = true;
        const std::string_view meta(static_cast<const char*>(e.metadata), e.metadata ? e.metadata_size : 0);
        if (meta.starts_with(ours)) {
          uint64_t sequence = 0;
          const std::string_view digits = meta.substr(ours.size());
          if (std::from_chars(digits.data(), digits.data() + digits.size(), sequence).ec == std::errc()) {
            published = std::max(published.value_or(0), sequence);
          }
        }
      }
      progress.published_sequence = published.value_or(0);
      std::vector<PublishItem> outbox = task->TakeRestoredOutbox();
      size_t resent = 0;
      for (PublishItem& item : outbox) {
        if (published && item.sequence <= *published) {
          delivered_.emplace_back(item.task, item.sequence);
        } else {
          held_.push_back(std::move(item));
          ++resent;
        }
      }
      if (!published && ahead) {
        spdlog::warn("event=stale_task_state task={} outbox={} action=publish_outbox_and_replay",
                     task->id(), outbox.size());
      } else if (!outbox.empty()) {
        spdlog::info("event=outbox_restored task={} published={} to_publish={}", task->id(),
                     outbox.size() - resent, resent);
      }
    }
  }

  // `rk` is the consumer: while ~Impl destroys it, consumer_ is already null.
  void Revoke(rd_kafka_t* rk) {
    if (rd_kafka_assignment_lost(rk)) {
      // Expelled (a session timeout: a zombie): the tasks may already be processed by
      // another member, so what this process did since its last commit is dropped, not
      // committed, and committed outputs that no fence has passed yet are not published:
      // they stay in the RocksDB outbox, with the state at that commit, from which this
      // process resumes if the tasks come back.
      // Outputs the producer has not sent yet are purged too (their delivery reports say
      // so; they stay in the outbox): after a network partition, the consumer knows it
      // was expelled (its session timed out locally) before the producer can send them.
      const size_t unfenced = DropUnfenced();
      const size_t queued = rd_kafka_outq_len(producer_.get());
      rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE);
      if (transactions_) {
        try {
          transactions_->AbortOpen();
        } catch (const TransactionFenced& e) {
          ReplaceFencedProducer(e.what());  // expelled and fenced: a new producer for later
        }
      }
      spdlog::warn("event=assignment_lost tasks={} action=drop_uncommitted "
                   "unfenced_outputs={} producer_queue={}", tasks_.size(), unfenced, queued);
    } else if (!state_failed_) {
      // Still a member of the current generation: commit, fence what waits, publish it,
      // and wait for the broker so that the outbox is clean for the next owner. (After a
      // state failure this process writes and publishes nothing more: a restart does.)
      Commit();
      if (transactions_) {
        Transact();  // what waits, in this generation's last transaction
        const size_t refused = DropUnfenced();  // refused: it stays in the outbox
        if (refused > 0) spdlog::warn("event=revoked_outputs_held outputs={}", refused);
      } else {
        FenceNow(rk);
        rd_kafka_flush(producer_.get(), 5000);
      }
      Commit();  // deletes what the flush or the transaction confirmed
    }
    std::string names;
    for (const auto& [id, task] : tasks_) names += (names.empty() ? "" : ",") + std::to_string(id);
    spdlog::info("event=revoked tasks={} unconfirmed_outputs={}", names, in_flight_);
    for (const auto& [id, task] : tasks_) Retire(task->counters());
    tasks_.clear();
    progress_.clear();
    transacted_progress_ = -1;
    PublishStats();
  }

  void Route(rd_kafka_message_t* msg) {
    const auto topic = msg->rkt ? config_.topics.InputByName(rd_kafka_topic_name(msg->rkt))
                                : std::nullopt;
    auto task = tasks_.find(msg->partition);
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (topic && task != tasks_.end()) task->second->MarkAtEnd(*topic);
      rd_kafka_message_destroy(msg);
      return;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++kafka_errors_;
      spdlog::warn("event=consumer_error topic={} partition={} error=\"{}\"",
                   msg->rkt ? rd_kafka_topic_name(msg->rkt) : "", msg->partition,
                   rd_kafka_message_errstr(msg));
      rd_kafka_message_destroy(msg);
      return;
    }
    if (!topic || task == tasks_.end()) {
      rd_kafka_message_destroy(msg);  // not ours (any more)
      return;
    }
    ++stats_.consumed;
    ++stats_.consumed_by_topic[static_cast<int>(*topic)];
    TaskRecord record;
    record.input.topic = *topic;
    if (msg->key != nullptr) {
      record.input.key = std::string_view(static_cast<const char*>(msg->key), msg->key_len);
    }
    if (msg->payload != nullptr) {
      record.input.value = std::string_view(static_cast<const char*>(msg->payload), msg->len);
    }
    record.input.content_type = HeaderValue(msg, "content-type");
    record.input.kafka_timestamp_ms = rd_kafka_message_timestamp(msg, nullptr);
    record.partition = msg->partition;
    record.offset = msg->offset;
    record.handle = msg;
    task->second->Buffer(record);
  }

  // A commit, written before it returns (rebalances, shutdown).
  void Commit() {
    SubmitCommit();
    FinishCommit(/*wait=*/true);
  }

  // Starts a commit (SPEC 6.2): every task's changes since the last one, drained into one
  // StateBatch, written by the commit writer while the processing thread goes on with the
  // next records. What depends on the write — publishing the batch's outputs, the
  // exactly_once offsets, trimming the cache, a day sweep's next slice — waits for it in
  // FinishCommit. One commit at a time: a commit still being written is finished first.
  void SubmitCommit() {
    FinishCommit(/*wait=*/true);
    // After a failed write the state is left as its last good commit: nothing more is
    // written (or published) by this process; a restart resumes from that commit.
    if (state_failed_) return;
    next_batch_ ^= 1;
    StateBatch& batch = batches_[next_batch_];  // reused: its buffers stay allocated
    batch.Clear();
    std::vector<PublishItem> publish;
    for (auto& [id, task] : tasks_) task->Drain(&batch, &publish);
    for (const auto& [task, sequence] : delivered_) batch.DeleteOutbox(task, sequence);
    delivered_.clear();
    if (batch.count() == 0) return;
    CrashPoint("before-commit");
    writing_.publish = std::move(publish);
    writing_.offsets.clear();
    if (transactions_) {  // as stored by this commit; the tasks' run ahead meanwhile
      for (const auto& [id, task] : tasks_) {
        auto& offsets = writing_.offsets[id];
        for (InputTopic topic : kAllInputTopics) {
          offsets[static_cast<int>(topic)] = task->resume_offset(topic).value_or(-1);
        }
      }
    }
    writing_.active = true;
    writer_->Submit(&batch);
  }

  // Completes the commit being written, once it is (at once if `wait`): its outputs are
  // held for the fence (or the transaction), which is issued now if `publish`. Returns true
  // if a commit completed.
  bool FinishCommit(bool wait, bool publish_now = true) {
    if (!writing_.active || (!wait && !writer_->finished())) return false;
    const CommitWriter::Result written = writer_->Wait();
    writing_.active = false;
    sweep_due_ = true;  // the loop's next turn advances a sweep in progress
    if (written.error) {
      state_failed_ = true;
      throw EngineError("state commit failed: " + *written.error);
    }
    for (auto& [id, offsets] : writing_.offsets) {
      if (tasks_.count(id) > 0) progress_[id].offsets = offsets;
    }
    metrics_.ObserveCommit(std::chrono::duration<double>(written.took).count());
    ++stats_.commits;
    for (auto& [id, task] : tasks_) metrics_.AddProcessingTimes(task->processing_times());
    std::vector<PublishItem> publish = std::move(writing_.publish);
    writing_.publish.clear();
    PublishStats();
    if (!publish.empty()) CrashPoint("after-commit");
    for (PublishItem& item : publish) held_.push_back(std::move(item));
    if (publish_now && std::chrono::steady_clock::now() >= fence_retry_at_) {
      if (transactions_) {
        Transact();
      } else if (!held_.empty()) {
        IssueFence();
      }
    }
    // Committed customers are clean: trim each task to its share of the cache.
    if (!tasks_.empty()) {
      const size_t share = static_cast<size_t>(config_.cache_max_customers) / tasks_.size() + 1;
      for (auto& [id, task] : tasks_) task->Evict(share);
    }
    return true;
  }

  // Processing thread: refreshes the metrics and what stats() and readiness() return.
  void PublishStats() {
    EngineStats s = CurrentStats();
    Readiness r = CurrentReadiness();
    metrics_.Update(s);
    std::lock_guard lock(stats_mu_);
    if (r.ready != readiness_.ready) {
      spdlog::info("event=readiness ready={} reason=\"{}\"", r.ready, r.reason);
    }
    published_stats_ = std::move(s);
    readiness_ = std::move(r);
  }

  // The fence (docs/reliability.md): a batch's outputs are published only after the group
  // coordinator has accepted an offset commit from this member in its current generation,
  // made after the batch was written. A member that was expelled while it was frozen or
  // cut off (a zombie) is refused (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION) and publishes
  // nothing stale over the newer outputs of the task's new owner. The commit carries the
  // offsets stored in RocksDB with the state (which stay the ones c360 resumes from), so
  // the group's committed offsets also show its progress to Kafka's tools.
  PartitionList FenceOffsets() const {
    PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(tasks_.size()) * kInputTopicCount));
    for (const auto& [id, task] : tasks_) {
      for (InputTopic topic : kAllInputTopics) {
        if (const auto next = task->resume_offset(topic)) {
          rd_kafka_topic_partition_list_add(offsets.get(), config_.topics.Input(topic).c_str(), id)
              ->offset = *next;
        }
      }
    }
    return offsets;
  }

  // exactly_once: the offsets of every task as of its last RocksDB commit (not the ones
  // in memory, which run ahead while a batch fills), each with the commit metadata
  // "c360-txn <transactional.id> <sequence>", the task's highest outbox sequence that a
  // committed transaction (this one, if it commits) has published.
  PartitionList TransactionOffsets(const std::map<int32_t, uint64_t>& published) const {
    PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(progress_.size()) * kInputTopicCount));
    for (const auto& [id, progress] : progress_) {
      const std::string mark = std::string(kTransactionMark) + " " + transactional_id_ + " " +
                               std::to_string(published.at(id));
      for (InputTopic topic : kAllInputTopics) {
        const int64_t next = progress.offsets[static_cast<int>(topic)];
        if (next < 0) continue;
        rd_kafka_topic_partition_t* e =
            rd_kafka_topic_partition_list_add(offsets.get(), config_.topics.Input(topic).c_str(), id);
        e->offset = next;
        e->metadata = std::malloc(mark.size());  // the list frees it
        std::memcpy(e->metadata, mark.data(), mark.size());
        e->metadata_size = mark.size();
      }
    }
    return offsets;
  }

  // The sum of every task's stored offsets: it grows whenever any of them moves.
  int64_t OffsetsSum() const {
    int64_t sum = 0;
    for (const auto& [id, progress] : progress_) {
      for (int64_t next : progress.offsets) sum += std::max<int64_t>(next, 0);
    }
    return sum;
  }

  // exactly_once: the outputs waiting (held_) and every task's stored offsets in one
  // transaction (transaction.h), after their batch is in RocksDB; skipped when neither
  // moved. Aborted (a refused offset commit: a zombie; a failed delivery, a timeout), the
  // outputs are held, as after a refused fence: tried again a second later, or decided by
  // the rebalance under way.
  void Transact() {
    const int64_t progress = OffsetsSum();
    if (held_.empty() && progress == transacted_progress_) return;
    std::map<int32_t, uint64_t> published;
    for (const auto& [id, p] : progress_) published[id] = p.published_sequence;
    for (const PublishItem& item : held_) {
      if (auto it = published.find(item.task); it != published.end()) {
        it->second = std::max(it->second, item.sequence);
      }
    }
    PartitionList offsets = TransactionOffsets(published);
    std::vector<PublishItem> items = std::move(held_);
    held_.clear();
    std::optional<std::string> aborted;
    bool fenced = false;
    try {
      aborted = transactions_->Run(
          [&] {
            transaction_produce_failed_ = false;
            for (PublishItem& item : items) {
              Publish(std::move(item));
              CrashPoint("publishing");
            }
            return !transaction_produce_failed_;
          },
          offsets.get());
    } catch (const TransactionFenced& e) {
      aborted = e.what();
      fenced = true;
    }
    // Every delivery report of the transaction (commit flushes; abort purges) before its
    // outputs are decided: a late one must not be taken for the next transaction's.
    if (fenced) ReplaceFencedProducer(*aborted);
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(2 * config_.transaction_timeout_ms);
    while (in_flight_ > 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        throw EngineError("delivery reports of a transaction's outputs missing after " +
                          std::to_string(2 * config_.transaction_timeout_ms) + " ms");
      }
      rd_kafka_poll(producer_.get(), 10);
    }
    std::vector<InFlight*> flights;  // in the order they were handed over
    flights.swap(transaction_flights_);
    if (!aborted) {
      transacted_progress_ = progress;
      for (auto& [id, p] : progress_) p.published_sequence = published[id];
      for (InFlight* flight : flights) Confirm(flight);
      return;
    }
    for (InFlight* flight : flights) {
      held_.push_back(PublishItem{flight->task, flight->sequence, std::move(flight->entry)});
      delete flight;
    }
    ++fence_rejections_;
    fence_retry_at_ = std::chrono::steady_clock::now() + kFenceRetry;
    spdlog::warn("event=transaction_aborted error=\"{}\" held_outputs={} action=hold", *aborted,
                 held_.size());
  }

  // Asks the coordinator, asynchronously, to accept a commit; its answer (ServeFences)
  // publishes or holds everything held now.
  void IssueFence() {
    PartitionList offsets = FenceOffsets();
    if (offsets->cnt == 0) {
      // Nothing consumed yet in any task, so no output either; never held in practice.
      PublishAll(&held_);
      return;
    }
    const uint64_t id = next_fence_id_++;
    const rd_kafka_resp_err_t err = rd_kafka_commit_queue(
        consumer_.get(), offsets.get(), fence_queue_.get(), nullptr,
        reinterpret_cast<void*>(static_cast<uintptr_t>(id)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      RejectFences(err);
      return;
    }
    fences_.push_back(Fence{id, std::move(held_)});
    held_.clear();
  }

  // The coordinator's answers: publishes the fences that passed, in order.
  void ServeFences() {
    while (rd_kafka_event_t* event = rd_kafka_queue_poll(fence_queue_.get(), 0)) {
      if (rd_kafka_event_type(event) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
        const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(rd_kafka_event_opaque(event)));
        rd_kafka_resp_err_t err = rd_kafka_event_error(event);
        if (const auto* offsets = rd_kafka_event_topic_partition_list(event)) {
          for (int i = 0; i < offsets->cnt && err == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
            err = offsets->elems[i].err;
          }
        }
        // A fence not found was dropped by a rebalance; its answer no longer matters.
        for (Fence& fence : fences_) {
          if (fence.id == id) {
            fence.answered = true;
            fence.error = err;
          }
        }
      }
      rd_kafka_event_destroy(event);
    }
    while (!fences_.empty() && fences_.front().answered) {
      if (fences_.front().error != RD_KAFKA_RESP_ERR_NO_ERROR) {
        RejectFences(fences_.front().error);
        return;
      }
      PublishAll(&fences_.front().items);
      fences_.pop_front();
    }
  }

  // A refused (or failed) fence: its outputs and every later one's wait, in order, for a
  // retry or for the rebalance that is likely under way.
  void RejectFences(rd_kafka_resp_err_t err) {
    held_ = TakeUnpublished();
    ++fence_rejections_;
    fence_retry_at_ = std::chrono::steady_clock::now() + kFenceRetry;
    spdlog::warn("event=output_fence_rejected error={} held_outputs={} action=hold",
                 rd_kafka_err2name(err), held_.size());
  }

  // At a revocation, inside the rebalance callback (still in the old generation): one
  // synchronous fence for everything waiting; refused, it all stays in the outbox.
  void FenceNow(rd_kafka_t* rk) {
    std::vector<PublishItem> waiting = TakeUnpublished();
    if (waiting.empty()) return;
    PartitionList offsets = FenceOffsets();
    const rd_kafka_resp_err_t err =
        offsets->cnt == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_commit(rk, offsets.get(), 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++fence_rejections_;
      spdlog::warn("event=output_fence_rejected error={} held_outputs={} action=keep_in_outbox",
                   rd_kafka_err2name(err), waiting.size());
      return;
    }
    PublishAll(&waiting);
  }

  // Forgets the outputs no fence has passed (they stay in the RocksDB outbox).
  size_t DropUnfenced() { return TakeUnpublished().size(); }

  // Every committed output not yet handed to the producer, oldest first: those in fences
  // (in order), then the held ones.
  std::vector<PublishItem> TakeUnpublished() {
    std::vector<PublishItem> items;
    for (Fence& fence : fences_) {
      for (PublishItem& item : fence.items) items.push_back(std::move(item));
    }
    for (PublishItem& item : held_) items.push_back(std::move(item));
    fences_.clear();
    held_.clear();
    return items;
  }

  void PublishAll(std::vector<PublishItem>* items) {
    for (PublishItem& item : *items) {
      Publish(std::move(item));
      CrashPoint("publishing");
    }
    items->clear();
  }

  void Publish(PublishItem item) {
    auto* flight = new InFlight{item.task, item.sequence, std::move(item.entry)};
    // exactly_once: the open transaction owns its outputs, in order, whatever their
    // delivery reports say (Transact decides them once the transaction has ended).
    if (transactions_) transaction_flights_.push_back(flight);
    const state::v1::OutboxEntry& e = flight->entry;
    rd_kafka_headers_t* headers = rd_kafka_headers_new(static_cast<size_t>(e.headers_size()));
    for (const auto& h : e.headers()) {
      rd_kafka_header_add(headers, h.name().data(), static_cast<ssize_t>(h.name().size()),
                          h.value().data(), static_cast<ssize_t>(h.value().size()));
    }
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(e.topic().c_str()),
        RD_KAFKA_V_KEY(e.has_key() ? e.key().data() : nullptr, e.has_key() ? e.key().size() : 0),
        RD_KAFKA_V_VALUE(e.has_value() ? const_cast<char*>(e.value().data()) : nullptr,
                         e.has_value() ? e.value().size() : 0),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(flight), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(headers);
      if (transactions_) {
        transaction_produce_failed_ = true;  // the transaction aborts
      } else {
        failed_.push_back(flight);  // retried from the main loop
      }
      return;
    }
    ++in_flight_;
  }

  void RetryFailed() {
    if (failed_.empty()) return;
    std::vector<InFlight*> retry;
    retry.swap(failed_);
    for (InFlight* flight : retry) {
      PublishItem item{flight->task, flight->sequence, std::move(flight->entry)};
      delete flight;
      Publish(std::move(item));
    }
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    auto* flight = static_cast<InFlight*>(msg->_private);
    --self->in_flight_;
    const bool purged =
        msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
    if (self->transactions_) {
      // Its transaction decides (Transact): delivered is not visible until it commits.
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR && !purged) {
        ++self->kafka_errors_;
        spdlog::warn("event=publish_failed topic={} error=\"{}\" action=abort_transaction",
                     flight->entry.topic(), rd_kafka_err2str(msg->err));
      }
      return;
    }
    if (purged) {
      delete flight;  // not sent (assignment lost, or the engine is going): it stays in the outbox
      return;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++self->kafka_errors_;
      spdlog::warn("event=publish_failed topic={} error=\"{}\" action=retry",
                   flight->entry.topic(), rd_kafka_err2str(msg->err));
      self->failed_.push_back(flight);
      return;
    }
    self->Confirm(flight);
  }

  // An output the broker confirmed (exactly_once: in a committed transaction): counted, and
  // its outbox entry deleted with the next commit.
  void Confirm(InFlight* flight) {
    CrashPoint("after-delivery");
    metrics_.Delivered(flight->entry, clock_.NowMs());
    if (flight->entry.topic() == config_.topics.alerts) ++stats_.alerts_published;
    if (on_delivered_) on_delivered_(flight->entry);
    delivered_.emplace_back(flight->task, flight->sequence);
    delete flight;
  }

  // librdkafka reports errors it retries itself (broker down, timeouts): logged and
  // counted. They do not decide readiness: an idle producer's connection closed by the
  // broker reports "all brokers down" too (OnKafkaStats decides).
  static void OnKafkaError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    ++self->kafka_errors_;
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    spdlog::warn("event=kafka_error client={} error={} reason=\"{}\" action=retry",
                 rd_kafka_type(rk) == RD_KAFKA_CONSUMER ? "consumer" : "producer",
                 rd_kafka_err2name(code), reason);
  }

  // The consumer's statistics (every second): how many brokers its connections reach.
  // Its connections are never idle (fetches, heartbeats), so none UP means the cluster is
  // out of reach.
  static int OnKafkaStats(rd_kafka_t*, char* json, size_t json_len, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    const auto stats = nlohmann::json::parse(json, json + json_len, nullptr, false);
    if (stats.is_discarded() || !stats.contains("brokers")) return 0;
    int up = 0;
    for (const auto& [name, broker] : stats["brokers"].items()) {
      if (broker.value("nodeid", -1) >= 0 && broker.value("state", "") == "UP") ++up;
    }
    self->brokers_up_ = up;
    return 0;  // librdkafka frees the JSON
  }

  static void OnKafkaLog(const rd_kafka_t* rk, int level, const char* facility, const char* buf) {
    spdlog::log(LogLevelOf(level), "event=rdkafka client={} facility={} message=\"{}\"",
                rd_kafka_name(rk), facility, buf);
  }

  void Shutdown() {
    Commit();
    for (int i = 0; i < 100 && (in_flight_ > 0 || !fences_.empty()); ++i) {
      rd_kafka_poll(producer_.get(), 100);
      ServeFences();
    }
    Commit();
    rd_kafka_consumer_close(consumer_.get());  // revokes, which commits and drops the tasks
    for (const auto& [id, task] : tasks_) Retire(task->counters());
    tasks_.clear();
    PublishStats();
    const EngineStats final_stats = CurrentStats();
    spdlog::info("event=engine_stopped consumed={} applied={} deadlettered={} commits={} "
                 "alerts={} snapshots={} day_change_rescores={} cache_hits={} "
                 "cache_misses={} unconfirmed_outputs={}",
                 final_stats.consumed, final_stats.applied, final_stats.deadlettered,
                 final_stats.commits, final_stats.alerts_published, final_stats.snapshots,
                 final_stats.rescored_on_day_change, final_stats.cache_hits,
                 final_stats.cache_misses, in_flight_);
  }

  EngineSettings settings_;
  const Config& config_;
  const Clock& clock_;
  std::unique_ptr<StateStore> store_;
  std::atomic<const StateStore*> store_view_{nullptr};  // store_ for readers, once started
  bool state_failed_ = false;  // a state write failed: write and publish nothing more
  std::string fatal_;    // an error raised in a librdkafka callback, for Run to throw
  // Two batches, so that one is drained while the other is written.
  StateBatch batches_[2];
  int next_batch_ = 0;
  // Set when the state is open; declared after store_ and batches_, so destroyed before
  // them (finishing a write in progress).
  std::unique_ptr<CommitWriter> writer_;
  struct Writing {  // the commit the writer is writing
    bool active = false;
    std::vector<PublishItem> publish;  // its outputs, published once it is written
    std::map<int32_t, std::array<int64_t, kInputTopicCount>> offsets;  // exactly_once
  } writing_;
  bool sweep_due_ = false;  // a commit completed (or had nothing to write) since the last sweep slice
  KafkaHandle consumer_;
  KafkaHandle producer_;
  std::map<int32_t, std::unique_ptr<Task>> tasks_;
  std::unique_ptr<ProcessingPool> pool_;  // engine.threads
  std::vector<Task*> task_list_;     // ProcessTasks' turn: the tasks, and what each applied
  std::vector<int> task_applied_;
  std::vector<std::pair<uint16_t, uint64_t>> delivered_;
  std::vector<InFlight*> failed_;
  // exactly_once (transaction.h): null otherwise.
  std::unique_ptr<OutputTransactions> transactions_;
  std::vector<InFlight*> transaction_flights_;  // the open transaction's outputs (owned)
  bool transaction_produce_failed_ = false;
  int64_t transacted_progress_ = -1;            // OffsetsSum() at the last commit
  std::string transactional_id_;
  KafkaProperties producer_props_;
  std::vector<std::chrono::steady_clock::time_point> fenced_at_;  // the last minute's fences
  struct TaskProgress {
    std::array<int64_t, kInputTopicCount> offsets{};  // as stored; -1: none
    uint64_t published_sequence = 0;  // highest outbox sequence a committed transaction sent
  };
  std::map<int32_t, TaskProgress> progress_;  // exactly_once: the assigned tasks'
  size_t in_flight_ = 0;
  // Committed outputs not yet published: waiting for a fence, or in one (IssueFence).
  std::vector<PublishItem> held_;
  std::deque<Fence> fences_;
  uint64_t next_fence_id_ = 1;
  int64_t fence_rejections_ = 0;
  std::chrono::steady_clock::time_point fence_retry_at_;
  std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> fence_queue_{
      nullptr, &rd_kafka_queue_destroy};
  std::function<void(const state::v1::OutboxEntry&)> on_delivered_;
  EngineStats stats_;
  EngineMetrics metrics_;
  bool started_ = false;
  // Set from librdkafka's callbacks, read on the processing thread. brokers_up_: -1
  // until the first statistics arrive.
  std::atomic<int> brokers_up_{-1};
  std::atomic<int64_t> kafka_errors_{0};
  mutable std::mutex stats_mu_;  // guards the two below
  EngineStats published_stats_;
  Readiness readiness_;
};

Engine::Engine(EngineSettings settings, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(settings), clock)) {}
Engine::~Engine() = default;
void Engine::CreateClients() { impl_->CreateClients(); }
void Engine::Start() { impl_->Start(); }
void Engine::Run(const std::function<bool()>& stop) { impl_->Run(stop); }
void Engine::OnDelivered(std::function<void(const state::v1::OutboxEntry&)> callback) {
  impl_->OnDelivered(std::move(callback));
}
EngineStats Engine::stats() const { return impl_->stats(); }
Readiness Engine::readiness() const { return impl_->readiness(); }
std::string Engine::RenderMetrics() const { return impl_->RenderMetrics(); }
void Engine::CountHttpRequest(const std::string& route, int status) const {
  impl_->CountHttpRequest(route, status);
}
const StateStore* Engine::state() const { return impl_->state(); }
const Config& Engine::config() const { return impl_->config(); }

}  // namespace c360
