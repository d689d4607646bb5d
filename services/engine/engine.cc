// The engine (engine.h); Engine::Impl: construction, start and stop, stats and readiness
// (engine_impl.h).
#include "services/engine/engine_impl.h"
#include "common/logfmt.h"

namespace c360 {

Engine::Impl::Impl(EngineSettings settings, const Clock& clock)
    : settings_(std::move(settings)),
      config_(settings_.config),
      clock_(clock),
      metrics_(config_.topics) {
  pool_ = std::make_unique<ProcessingPool>(config_.threads);
  readiness_.reason = "starting: opening the state and checking the topics";
}

Engine::Impl::~Impl() {
  StopStandbys();
  try {
    transaction_job_.Wait();  // a transaction under way uses the producer
  } catch (const std::exception& e) {
    spdlog::warn("event=transaction_failed error={} action=stop", LogValue(e.what()));
  }
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
  producer_.reset();
}

void Engine::Impl::Start() {
  try {
    store_ = StateStore::Open(settings_.state_dir);
    writer_ = std::make_unique<CommitWriter>(store_.get());
  } catch (const StateDirectoryError& e) {
    throw EngineRefused(e.what());
  } catch (const StateError& e) {
    throw EngineError(e.what());
  }
  if (store_->origin() == StateDirOrigin::kCreated) {
    spdlog::info("event=state_created state_dir={} format={}", LogValue(settings_.state_dir),
                 kStateFormat);
  } else if (store_->origin() == StateDirOrigin::kAdopted) {
    spdlog::warn(
        "event=state_adopted state_dir={} format={} reason=\"c360 state without a "
        "format marker (written before it existed): marked now\"",
        LogValue(settings_.state_dir), kStateFormat);
  } else if (store_->origin() == StateDirOrigin::kUpgraded) {
    spdlog::warn(
        "event=state_upgraded state_dir={} format={} reason=\"state of an older c360: "
        "marked with this format now; customers move to it as they are loaded\"",
        LogValue(settings_.state_dir), kStateFormat);
  }
  if (!producer_) CreateClients();
  CheckTopics();
  try {
    StartStandbys();
  } catch (const KafkaError& e) {
    throw EngineError(e.what());
  }
  if (config_.exactly_once) {
    transactions_ = std::make_unique<OutputTransactions>(producer_.get(), consumer_.get(),
                                                         config_.transaction_timeout_ms);
    try {
      transactions_->Init();
    } catch (const KafkaError& e) {
      throw EngineError(e.what());
    }
  }
  PartitionList subscription(rd_kafka_topic_partition_list_new(kInputTopicCount));
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
  spdlog::info(
      "event=engine_started brokers={} group={} state_dir={} clock={} output={} "
      "batch_max_records={} batch_max_ms={} batch_catchup_ms={} "
      "max_task_idle_ms={} timer_grace_ms={} retention_days={} "
      "cache_max_customers={} threads={} kafka_overrides={} processing_guarantee={} "
      "transactional_id={}",
      LogValue(settings_.brokers), LogValue(settings_.group), LogValue(settings_.state_dir),
      settings_.wall_clock ? "wall" : "event",
      settings_.format == OutputFormat::kJson ? "json" : "protobuf", config_.batch_max_records,
      config_.batch_max_ms, config_.batch_catchup_ms, config_.max_task_idle_ms,
      config_.timer_grace_ms, config_.retention_days, config_.cache_max_customers, config_.threads,
      config_.kafka.size(), config_.exactly_once ? "exactly_once" : "at_least_once",
      LogValue(config_.exactly_once ? TransactionalId() : "none"));
}

void Engine::Impl::OnDelivered(std::function<void(const state::v1::OutboxEntry&)> callback) {
  on_delivered_ = std::move(callback);
}

EngineStats Engine::Impl::stats() const {
  std::lock_guard lock(stats_mu_);
  return published_stats_;
}

Readiness Engine::Impl::readiness() const {
  std::lock_guard lock(stats_mu_);
  return readiness_;
}

void Engine::Impl::CountHttpRequest(const std::string& route, int status) {
  metrics_.CountHttpRequest(route, status);
}

// Processing thread only.
EngineStats Engine::Impl::CurrentStats() const {
  EngineStats s = stats_;
  s.tasks = static_cast<int>(tasks_.size());
  size_t fenced = held_.size();
  for (const Fence& f : fences_) fenced += f.items.size();
  // exactly_once: what the producer holds belongs to the transaction under way.
  const size_t in_flight = transactions_ ? transacting_.outputs : in_flight_.load();
  s.outbox_pending =
      static_cast<int64_t>(in_flight + failed_.size() + fenced + writing_.publish.size());
  s.fence_rejections = fence_rejections_;
  s.kafka_errors = kafka_errors_.load(std::memory_order_relaxed);
  const api::SegmentCounts segments = row_index_.segment_counts();
  for (int g = 0; g < 5; ++g) {
    for (int k = 0; k < kStatusCount && k < 5; ++k)
      s.customers_by_segment[g][k] = segments.customers[g][k];
    s.revenue_at_risk_by_segment[g] = segments.revenue_at_risk[g];
  }
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
    const WriteStalls& stalls = store_->SampleWriteStalls();
    s.state_write_stall = static_cast<int>(stalls.condition());
    s.state_write_stall_seconds = stalls.Seconds(WriteStalls::Clock::now());
    const StateStore::Disk disk = store_->DiskSpace();
    s.state_disk_free_bytes = disk.free_bytes;
    s.state_disk_capacity_bytes = disk.capacity_bytes;
  }
  return s;
}

// Ready once every assigned task has caught up with its partitions once since it was
// assigned (restoring happens inside the assignment), and the brokers are reachable.
Readiness Engine::Impl::CurrentReadiness() {
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
  if (!behind.empty())
    return {false,
            "catching up: tasks " + behind + " have not reached the end of their partitions"};
  return {true, "caught up"};
}

// The one place a task's counters are added to the engine's totals.
void Engine::Impl::AddCounters(const TaskCounters& c, EngineStats* s) {
  s->applied += c.applied;
  s->snapshots += c.snapshots;
  s->rescored_on_day_change += c.rescored_on_day_change;
  s->cache_hits += c.cache_hits;
  s->cache_misses += c.cache_misses;
  s->users_over_limit += c.users_over_limit;
  s->shadow_level_disagreements += c.shadow_level_disagreements;
  for (int k = 0; k < kTimerKindCount; ++k) s->timers_fired_by_kind[k] += c.timers_fired_by_kind[k];
  for (int t = 0; t < kInputTopicCount; ++t) {
    for (int r = 0; r < kDeadLetterReasonCount; ++r) {
      s->deadlettered_by[t][r] += c.deadlettered[t][r];
      s->deadlettered += c.deadlettered[t][r];
    }
  }
}

// Processing thread: refreshes the metrics and what stats() and readiness() return.
void Engine::Impl::PublishStats() {
  EngineStats s = CurrentStats();
  Readiness r = CurrentReadiness();
  s.ready = r.ready;
  metrics_.Update(s);
  std::lock_guard lock(stats_mu_);
  if (r.ready != readiness_.ready) {
    spdlog::info("event=readiness ready={} reason={}", r.ready, LogValue(r.reason));
  }
  published_stats_ = std::move(s);
  readiness_ = std::move(r);
}

void Engine::Impl::Shutdown() {
  StopStandbys();
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
  spdlog::info(
      "event=engine_stopped consumed={} applied={} deadlettered={} commits={} "
      "alerts={} snapshots={} day_change_rescores={} cache_hits={} "
      "cache_misses={} unconfirmed_outputs={}",
      final_stats.consumed, final_stats.applied, final_stats.deadlettered, final_stats.commits,
      final_stats.alerts_published, final_stats.snapshots, final_stats.rescored_on_day_change,
      final_stats.cache_hits, final_stats.cache_misses, in_flight_.load());
}

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
const api::RowIndex* Engine::row_index() const { return impl_->row_index(); }
void Engine::SetAdvertisedHttp(const std::string& address) { impl_->SetAdvertisedHttp(address); }
std::string Engine::advertised_http() const { return impl_->advertised_http(); }
std::vector<uint16_t> Engine::standbys() const { return impl_->standbys(); }
std::map<uint16_t, std::string> Engine::Owners(std::chrono::milliseconds max_age) const {
  return impl_->Owners(max_age);
}
const Config& Engine::config() const { return impl_->config(); }

}  // namespace c360
