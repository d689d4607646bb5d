// Engine::Impl: the Kafka clients: their properties, librdkafka's callbacks, the fenced producer's
// replacement (engine_impl.h).
#include "services/engine/engine_impl.h"
#include "common/logfmt.h"

namespace c360 {
namespace {

// librdkafka's syslog levels as spdlog's.
spdlog::level::level_enum LogLevelOf(int syslog_level) {
  if (syslog_level <= 3) return spdlog::level::err;
  if (syslog_level == 4) return spdlog::level::warn;
  if (syslog_level <= 6) return spdlog::level::info;
  return spdlog::level::debug;
}

}  // namespace

// exactly_once: the producer's transactional.id, stable across restarts of this engine
// (so that a restart's producer aborts what the crashed one left open) and distinct
// between engines: engine.transactional_id, else from the group and the engine's
// static member id, else from the group, the host name and the state directory.
std::string Engine::Impl::TransactionalId() const {
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
void Engine::Impl::CreateClients() {
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
      // A task is restored from its changelog inside the rebalance callback, which
      // librdkafka counts as time between polls: room for the longest restore.
      {"max.poll.interval.ms",
       std::to_string(std::max(300'000, config_.changelog_restore_timeout_ms + 60'000))},
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
    // The coordinator answers CONCURRENT_TRANSACTIONS to a transaction's offsets while it
    // still writes the last one's markers; librdkafka 2.0.2 retries that after
    // retry.backoff.ms (100 ms by default; Kafka's Java producer waits 20 ms there), which
    // at a transaction per batch put 100 ms and more into most outputs' latency
    // (docs/performance.md, "Live latency with exactly_once"). A kafka.* key overrides it.
    producer_props.emplace_back("retry.backoff.ms", "20");
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
    CreateRestoreConsumer();
  } catch (const KafkaError& e) {
    fence_queue_.reset();
    consumer_.reset();
    throw EngineError(e.what());
  }
}

// The producer, from the properties CreateClients chose. Throws KafkaError.
KafkaHandle Engine::Impl::MakeProducer() {
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
void Engine::Impl::ReplaceFencedProducer(const std::string& why) {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(fenced_at_, [&](auto t) { return now - t > std::chrono::minutes(1); });
  fenced_at_.push_back(now);
  if (fenced_at_.size() > 3) {
    throw EngineError("the Kafka producer was fenced " + std::to_string(fenced_at_.size()) +
                      " times in a minute (" + why +
                      "): another engine uses the transactional "
                      "id " +
                      transactional_id_ + " (engine.transactional_id, docs/config.md)");
  }
  spdlog::warn("event=producer_fenced transactional_id={} reason={} action=new_producer",
               LogValue(transactional_id_), LogValue(why));
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

// RecordOwner.
void Engine::Impl::Release(void* handle) {
  rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(handle));
}

void Engine::Impl::CopyHeaders(void* handle, state::v1::OutboxEntry* entry) {
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

// librdkafka reports errors it retries itself (broker down, timeouts): logged and
// counted. They do not decide readiness: an idle producer's connection closed by the
// broker reports "all brokers down" too (OnKafkaStats decides).
void Engine::Impl::OnKafkaError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<Impl*>(opaque);
  ++self->kafka_errors_;
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  spdlog::warn("event=kafka_error client={} error={} reason={} action=retry",
               rd_kafka_type(rk) == RD_KAFKA_CONSUMER ? "consumer" : "producer",
               rd_kafka_err2name(code), LogValue(reason));
}

// The consumer's statistics (every second): how many brokers its connections reach.
// Its connections are never idle (fetches, heartbeats), so none UP means the cluster is
// out of reach.
int Engine::Impl::OnKafkaStats(rd_kafka_t*, char* json, size_t json_len, void* opaque) {
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

void Engine::Impl::OnKafkaLog(const rd_kafka_t* rk, int level, const char* facility,
                              const char* buf) {
  spdlog::log(LogLevelOf(level), "event=rdkafka client={} facility={} message={}",
              LogValue(rd_kafka_name(rk)), LogValue(facility), LogValue(buf));
}

}  // namespace c360
