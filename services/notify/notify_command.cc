#include "services/notify/notify_command.h"

#include <google/protobuf/util/json_util.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "common/kafka.h"
#include "common/proto_json.h"
#include "common/time.h"
#include "services/engine/engine_command.h"
#include "services/http/http_server.h"
#include "services/notify/notify_config.h"
#include "services/notify/route_worker.h"
#include "common/logfmt.h"

namespace c360 {
namespace {

using notify::Job;
using notify::NotifyConfig;
using notify::Outcome;
using notify::PreparedAlert;
using notify::RouteWorker;
using SteadyClock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Which alerts are done: per partition, the offsets read and not yet delivered or
// dead-lettered by every matching route. The committable offset of a partition is its
// lowest open offset, or the next one to read when none is open. Thread-safe: routes
// finish alerts on their own threads.
class Tracker {
 public:
  // A new alert at `offset` that `routes` routes must finish; returns its id.
  uint64_t Add(int32_t partition, int64_t offset, int routes) {
    std::lock_guard lock(mu_);
    Partition& p = partitions_[partition];
    p.next = std::max(p.next, offset + 1);
    const uint64_t id = next_id_++;
    if (routes == 0) return id;
    p.open[offset] = id;
    pending_[id] = {partition, p.generation, offset, routes};
    return id;
  }
  void Finish(uint64_t id) {
    std::lock_guard lock(mu_);
    const auto it = pending_.find(id);
    if (it == pending_.end()) return;
    if (--it->second.remaining > 0) return;
    const Pending done = it->second;
    pending_.erase(it);
    const auto p = partitions_.find(done.partition);
    if (p != partitions_.end() && p->second.generation == done.generation) {
      p->second.open.erase(done.offset);
    }
  }
  size_t pending() const {
    std::lock_guard lock(mu_);
    return pending_.size();
  }
  // (partition, offset to commit) for each partition whose committable offset moved.
  std::vector<std::pair<int32_t, int64_t>> Committable() {
    std::lock_guard lock(mu_);
    std::vector<std::pair<int32_t, int64_t>> out;
    for (auto& [partition, p] : partitions_) {
      if (p.next < 0) continue;
      const int64_t offset = p.open.empty() ? p.next : p.open.begin()->first;
      if (offset > p.committed) out.emplace_back(partition, offset);
    }
    return out;
  }
  void Committed(int32_t partition, int64_t offset) {
    std::lock_guard lock(mu_);
    auto it = partitions_.find(partition);
    if (it != partitions_.end()) it->second.committed = std::max(it->second.committed, offset);
  }
  // The partition went to another member: what its alerts still do here is not counted.
  void Forget(int32_t partition) {
    std::lock_guard lock(mu_);
    auto it = partitions_.find(partition);
    if (it == partitions_.end()) return;
    for (const auto& [offset, id] : it->second.open) pending_.erase(id);
    partitions_.erase(it);
  }
  void Assigned(int32_t partition) {
    std::lock_guard lock(mu_);
    partitions_[partition].generation = ++generation_;
  }

 private:
  struct Partition {
    int64_t next = -1;       // highest offset read + 1
    int64_t committed = -1;  // last offset committed
    std::map<int64_t, uint64_t> open;
    uint64_t generation = 0;
  };
  struct Pending {
    int32_t partition;
    uint64_t generation;
    int64_t offset;
    int remaining;
  };
  mutable std::mutex mu_;
  std::map<int32_t, Partition> partitions_;
  std::unordered_map<uint64_t, Pending> pending_;
  uint64_t next_id_ = 1;
  uint64_t generation_ = 0;
};

// notifications_total{route,outcome}, notification_latency_seconds, notify_pending.
struct Metrics {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& outcomes =
      prometheus::BuildCounter()
          .Name("c360_notifications_total")
          .Help("Alerts delivered, attempts retried and alerts dead-lettered, by route")
          .Register(*registry);
  prometheus::Histogram& latency =
      prometheus::BuildHistogram()
          .Name("c360_notification_latency_seconds")
          .Help("From the alert's emitted_at to the receiver's 2xx")
          .Register(*registry)
          .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                           1, 2.5, 5, 10, 30, 60, 300});
  prometheus::Gauge& pending = prometheus::BuildGauge()
                                   .Name("c360_notify_pending")
                                   .Help(
                                       "Alerts read and not yet delivered or dead-lettered by "
                                       "every matching route")
                                   .Register(*registry)
                                   .Add({});
  prometheus::Counter& read = prometheus::BuildCounter()
                                  .Name("c360_notify_alerts_read_total")
                                  .Help("Alerts read from the alerts topic")
                                  .Register(*registry)
                                  .Add({});
  struct PerRoute {
    prometheus::Counter* delivered;
    prometheus::Counter* retried;
    prometheus::Counter* deadlettered;
  };
  std::map<std::string, PerRoute> routes;

  void AddRoute(const std::string& name) {
    routes[name] = {&outcomes.Add({{"route", name}, {"outcome", "delivered"}}),
                    &outcomes.Add({{"route", name}, {"outcome", "retried"}}),
                    &outcomes.Add({{"route", name}, {"outcome", "deadlettered"}})};
  }
  std::string Render() const {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry->Collect());
    return out.str();
  }
};

// A dead letter waiting for the broker's confirmation (the producer's opaque).
struct Undeliverable {
  uint64_t pending_id;
  std::string route;
  std::shared_ptr<const PreparedAlert> alert;
  std::string error;
  int attempts;
};

struct Shared {
  Tracker tracker;
  Metrics metrics;
  rd_kafka_t* producer = nullptr;
  std::string deadletter_topic;
  std::mutex produce_mu;
};

void ProduceDeadLetter(Shared& shared, std::unique_ptr<Undeliverable> letter) {
  const PreparedAlert& a = *letter->alert;
  rd_kafka_headers_t* headers = rd_kafka_headers_new(6);
  const auto add = [&](const char* name, const std::string& value) {
    rd_kafka_header_add(headers, name, -1, value.data(), static_cast<ssize_t>(value.size()));
  };
  add("c360-notify-route", letter->route);
  add("c360-notify-error", letter->error);
  add("c360-notify-attempts", std::to_string(letter->attempts));
  add("c360-notify-alert-id", a.alert.alert_id());
  add("c360-notify-delivery", notify::DeliveryKey(a.alert));
  if (!a.content_type.empty()) add("content-type", a.content_type);
  Undeliverable* opaque = letter.release();
  std::lock_guard lock(shared.produce_mu);
  const rd_kafka_resp_err_t err =
      rd_kafka_producev(shared.producer, RD_KAFKA_V_TOPIC(shared.deadletter_topic.c_str()),
                        RD_KAFKA_V_KEY(a.key.data(), a.key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(a.raw.data()), a.raw.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
                        RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not queued (the queue is full): the alert stays undone and is read again after a
    // restart; say so loudly.
    rd_kafka_headers_destroy(headers);
    spdlog::error("event=notify_deadletter_failed route={} alert_id={} error={}",
                  LogValue(opaque->route), LogValue(a.alert.alert_id()),
                  LogValue(rd_kafka_err2str(err)));
    delete opaque;
  }
}

// The dead-letter producer's delivery reports (on the thread that polls it).
void OnDeadLetterReport(rd_kafka_t*, const rd_kafka_message_t* msg, void* app) {
  auto& shared = *static_cast<Shared*>(app);
  std::unique_ptr<Undeliverable> letter(static_cast<Undeliverable*>(msg->_private));
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("event=notify_deadletter_retry route={} alert_id={} error={}",
                 LogValue(letter->route), LogValue(letter->alert->alert.alert_id()),
                 LogValue(rd_kafka_err2str(msg->err)));
    ProduceDeadLetter(shared, std::move(letter));  // until the broker takes it
    return;
  }
  shared.metrics.routes.at(letter->route).deadlettered->Increment();
  shared.tracker.Finish(letter->pending_id);
}

std::shared_ptr<PreparedAlert> Prepare(const rd_kafka_message_t* msg) {
  auto p = std::make_shared<PreparedAlert>();
  if (msg->payload != nullptr) p->raw.assign(static_cast<const char*>(msg->payload), msg->len);
  if (msg->key != nullptr) p->key.assign(static_cast<const char*>(msg->key), msg->key_len);
  if (const auto ct = HeaderValue(msg, "content-type")) p->content_type = std::string(*ct);
  bool ok;
  if (p->content_type.starts_with("application/json")) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    ok = google::protobuf::util::JsonStringToMessage(p->raw, &p->alert, options).ok();
  } else {
    ok = p->alert.ParseFromString(p->raw);
  }
  if (!ok || p->alert.alert_id().empty()) return nullptr;
  p->json = ProtoToJson(p->alert, kTopicJson)
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  p->emitted_at_ms =
      p->alert.emitted_at().seconds() * 1000 + p->alert.emitted_at().nanos() / 1'000'000;
  return p;
}

struct RebalanceContext {
  Tracker* tracker;
  std::function<void(bool sync)> commit;
};

void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto& ctx = *static_cast<RebalanceContext*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < partitions->cnt; ++i) ctx.tracker->Assigned(partitions->elems[i].partition);
    rd_kafka_assign(rk, partitions);
    spdlog::info("event=notify_assigned partitions={}", partitions->cnt);
  } else {
    ctx.commit(true);  // what is done so far, before another member takes over
    for (int i = 0; i < partitions->cnt; ++i) ctx.tracker->Forget(partitions->elems[i].partition);
    rd_kafka_assign(rk, nullptr);
    spdlog::info("event=notify_revoked partitions={}", partitions->cnt);
  }
}

}  // namespace

CLI::App* AddNotifyCommand(CLI::App& app, NotifyOptions* o) {
  CLI::App* cmd = app.add_subcommand(
      "notify", "Deliver alerts to webhooks and Slack, at least once (docs/notify.md)");
  cmd->add_option("--brokers", o->brokers, "Kafka bootstrap servers")->required();
  cmd->add_option("--config", o->config_path, "YAML: routes, Kafka properties (docs/notify.md)")
      ->required();
  cmd->add_option("--http", o->http, "Address for /metrics and /healthz")
      ->check(CheckListenAddress)
      ->capture_default_str();
  return cmd;
}

int RunNotify(const NotifyOptions& options, const std::function<bool()>& stop) {
  NotifyConfig config;
  try {
    config = notify::LoadNotifyConfig(options.config_path);
  } catch (const notify::NotifyConfigError& e) {
    std::cerr << "c360 notify: " << e.what() << std::endl;
    return 2;
  }

  Shared shared;
  shared.deadletter_topic = config.deadletter_topic;
  for (const notify::Route& r : config.routes) shared.metrics.AddRoute(r.name);
  shared.metrics.AddRoute("-");  // records that are not alerts, dead-lettered unread
  HttpServer http;
  http.Get(
      "/metrics",
      [&shared](const HttpRequest&) {
        return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                            shared.metrics.Render()};
      },
      Router::Cost::kCheap);
  http.Get(
      "/healthz",
      [](const HttpRequest&) {
        return HttpResponse{200, "application/json", "{\"status\":\"ok\"}\n"};
      },
      Router::Cost::kCheap);
  try {
    http.Start(options.http);
  } catch (const HttpError& e) {
    std::cerr << "c360 notify: " << e.what() << std::endl;
    return 1;
  }
  spdlog::info("event=http_listening address={}:{}", LogValue(http.host()), http.port());

  KafkaHandle consumer;
  KafkaHandle producer;
  RebalanceContext rebalance{&shared.tracker, nullptr};
  try {
    KafkaProperties common(config.kafka.begin(), config.kafka.end());
    common.emplace_back("bootstrap.servers", options.brokers);
    common.emplace_back("log_level", "4");
    KafkaProperties p = common;
    p.insert(p.end(), {{"enable.idempotence", "true"}, {"linger.ms", "5"}});
    KafkaConf pconf = MakeConf(p);
    rd_kafka_conf_set_dr_msg_cb(pconf.get(), OnDeadLetterReport);
    rd_kafka_conf_set_opaque(pconf.get(), &shared);
    char err[512];
    producer.reset(rd_kafka_new(RD_KAFKA_PRODUCER, pconf.release(), err, sizeof err));
    if (!producer) throw KafkaError(err);
    shared.producer = producer.get();

    KafkaProperties c = common;
    c.insert(c.end(), {{"group.id", config.group},
                       {"enable.auto.commit", "false"},
                       {"enable.auto.offset.store", "false"},
                       {"auto.offset.reset", "earliest"}});
    // Defaults the config's kafka.* may change: as the engine's, a fetch waits at most
    // 100 ms for new alerts (the embedded broker always waits that long), and a large queue
    // keeps librdkafka 2.0.2 fetching.
    for (const auto& [name, value] : KafkaProperties{{"session.timeout.ms", "10000"},
                                                     {"heartbeat.interval.ms", "3000"},
                                                     {"fetch.wait.max.ms", "100"},
                                                     {"queued.min.messages", "1000000"}}) {
      if (!config.kafka.count(name)) c.emplace_back(name, value);
    }
    KafkaConf cconf = MakeConf(c);
    rd_kafka_conf_set_rebalance_cb(cconf.get(), OnRebalance);
    rd_kafka_conf_set_opaque(cconf.get(), &rebalance);
    consumer.reset(rd_kafka_new(RD_KAFKA_CONSUMER, cconf.release(), err, sizeof err));
    if (!consumer) throw KafkaError(err);
    rd_kafka_poll_set_consumer(consumer.get());
  } catch (const KafkaError& e) {
    std::cerr << "c360 notify: " << e.what() << std::endl;
    return 1;
  }

  rebalance.commit = [&](bool sync) {
    const auto offsets = shared.tracker.Committable();
    if (offsets.empty()) return;
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& [partition, offset] : offsets) {
      rd_kafka_topic_partition_list_add(list.get(), config.alerts_topic.c_str(), partition)
          ->offset = offset;
    }
    const rd_kafka_resp_err_t e = rd_kafka_commit(consumer.get(), list.get(), sync ? 0 : 1);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || !sync) {
      for (const auto& [partition, offset] : offsets) shared.tracker.Committed(partition, offset);
    } else {
      spdlog::warn("event=notify_commit_failed error={}", LogValue(rd_kafka_err2str(e)));
    }
  };

  std::vector<std::unique_ptr<RouteWorker>> workers;
  for (const notify::Route& route : config.routes) {
    const std::string name = route.name;
    workers.push_back(std::make_unique<RouteWorker>(
        route,
        [&shared, name](const Job& job, const Outcome& outcome) {
          if (outcome.delivered) {
            shared.metrics.routes.at(name).delivered->Increment();
            shared.metrics.latency.Observe(static_cast<double>(NowMs() - job.alert->emitted_at_ms) /
                                           1000.0);
            shared.tracker.Finish(job.pending_id);
          } else {
            ProduceDeadLetter(shared, std::make_unique<Undeliverable>(
                                          Undeliverable{job.pending_id, name, job.alert,
                                                        outcome.last_error, outcome.attempts}));
          }
        },
        [&shared, name] { shared.metrics.routes.at(name).retried->Increment(); }));
  }

  // The alerts topic must exist; the dead-letter topic is created like it when missing.
  try {
    const std::vector<int> counts =
        PartitionCounts(consumer.get(), {config.alerts_topic, config.deadletter_topic}, 10'000);
    if (counts[0] == 0) {
      std::cerr << "c360 notify: topic " << config.alerts_topic << " does not exist" << std::endl;
      return 1;
    }
    if (counts[1] == 0) {
      CreateTopic(producer.get(), config.deadletter_topic, counts[0], {}, 10'000);
      spdlog::info("event=topic_created topic={} partitions={}", LogValue(config.deadletter_topic),
                   counts[0]);
    }
  } catch (const KafkaError& e) {
    std::cerr << "c360 notify: " << e.what() << std::endl;
    return 1;
  }
  PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), config.alerts_topic.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  if (const rd_kafka_resp_err_t e = rd_kafka_subscribe(consumer.get(), topics.get())) {
    std::cerr << "c360 notify: subscribe: " << rd_kafka_err2str(e) << std::endl;
    return 1;
  }
  spdlog::info("event=notify_started group={} topic={} routes={}", LogValue(config.group),
               LogValue(config.alerts_topic), config.routes.size());

  auto last_commit = SteadyClock::now();
  bool paused = false;
  while (!stop()) {
    rd_kafka_poll(producer.get(), 0);
    const size_t pending = shared.tracker.pending();
    shared.metrics.pending.Set(static_cast<double>(pending));
    // Reading waits while too much is in flight (the group still sees this member alive).
    if ((pending >= static_cast<size_t>(config.max_pending)) != paused) {
      rd_kafka_topic_partition_list_t* assigned = nullptr;
      if (rd_kafka_assignment(consumer.get(), &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        paused ? rd_kafka_resume_partitions(consumer.get(), assigned)
               : rd_kafka_pause_partitions(consumer.get(), assigned);
        rd_kafka_topic_partition_list_destroy(assigned);
        paused = !paused;
      }
    }
    if (SteadyClock::now() - last_commit >= std::chrono::milliseconds(config.commit_interval_ms)) {
      rebalance.commit(false);
      last_commit = SteadyClock::now();
    }
    KafkaMessage msg(rd_kafka_consumer_poll(consumer.get(), 50));
    if (!msg) continue;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("event=kafka_error message={}", LogValue(rd_kafka_message_errstr(msg.get())));
      }
      continue;
    }
    shared.metrics.read.Increment();
    const std::shared_ptr<PreparedAlert> alert = Prepare(msg.get());
    if (alert == nullptr) {
      // Not an alert: nothing to deliver; kept on the dead-letter topic, not lost.
      const uint64_t id = shared.tracker.Add(msg->partition, msg->offset, 1);
      auto unreadable = std::make_shared<PreparedAlert>();
      if (msg->payload) unreadable->raw.assign(static_cast<const char*>(msg->payload), msg->len);
      if (msg->key) unreadable->key.assign(static_cast<const char*>(msg->key), msg->key_len);
      spdlog::warn("event=notify_unreadable partition={} offset={}", msg->partition, msg->offset);
      ProduceDeadLetter(shared, std::make_unique<Undeliverable>(
                                    Undeliverable{id, "-", unreadable, "not an AlertEvent", 0}));
      continue;
    }
    std::vector<RouteWorker*> matching;
    for (auto& w : workers) {
      if (w->route().match.Matches(alert->alert)) matching.push_back(w.get());
    }
    const uint64_t id =
        shared.tracker.Add(msg->partition, msg->offset, static_cast<int>(matching.size()));
    for (RouteWorker* w : matching) w->Push(Job{id, alert});
  }

  spdlog::info("event=notify_stopping pending={}", shared.tracker.pending());
  for (auto& w : workers) w->Stop();
  rd_kafka_flush(producer.get(), 10'000);
  rebalance.commit(true);
  rd_kafka_consumer_close(consumer.get());
  http.Stop();
  return 0;
}

}  // namespace c360
