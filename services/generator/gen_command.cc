#include "services/generator/gen_command.h"

#include <google/protobuf/util/json_util.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ostream>
#include <thread>

#include "common/clock.h"
#include "common/kafka.h"
#include "scoring/config.h"
#include "services/generator/simulation.h"

namespace c360::gen {
namespace {

struct TopicTally {
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> failed{0};
  int64_t bytes = 0;
};

struct Tally {
  std::array<TopicTally, kAllInputTopics.size()> topics;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* tally = static_cast<Tally*>(opaque);
  const auto topic = static_cast<size_t>(reinterpret_cast<uintptr_t>(msg->_private));
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    tally->topics[topic].delivered.fetch_add(1, std::memory_order_relaxed);
  } else {
    tally->topics[topic].failed.fetch_add(1, std::memory_order_relaxed);
  }
}

class Producer {
 public:
  Producer(const GenOptions& options, Tally* tally) : options_(options) {
    KafkaProperties properties = {
        {"bootstrap.servers", options.brokers},
        // Java's partitioner, so Kafka Streams and Java producers agree on the partition.
        {"partitioner", "murmur2_random"},
        // Batches: the mock broker answers a fetch with one producer batch per partition.
        {"linger.ms", "20"},
        {"batch.num.messages", "10000"},
        {"batch.size", "1000000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"compression.codec", "lz4"},
        {"enable.idempotence", "true"},
        {"message.timeout.ms", "60000"},
    };
    // The config's (TLS, SASL, tuning) after gen's own, so that they win.
    properties.insert(properties.end(), options.kafka.begin(), options.kafka.end());
    KafkaConf conf = MakeConf(properties);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), OnDelivery);
    rd_kafka_conf_set_opaque(conf.get(), tally);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
    if (rk == nullptr) throw KafkaError(std::string("cannot create producer: ") + err);
    conf.release();
    rk_.reset(rk);
    json_options_.preserve_proto_field_names = true;
  }

  // Serialises and enqueues one record, waiting while librdkafka's queue is full.
  // Returns its size in bytes.
  size_t Produce(const GeneratedRecord& record) {
    buffer_.clear();
    const bool json = options_.format == "json";
    if (json) {
      (void)google::protobuf::util::MessageToJsonString(record.AsMessage(), &buffer_,
                                                        json_options_);
    } else {
      record.AsMessage().SerializeToString(&buffer_);
    }
    const std::string& topic = options_.topics.Input(record.topic);
    const char* content_type = json ? "application/json" : "application/x-protobuf";
    while (true) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_KEY(record.customer_id.data(), record.customer_id.size()),
          RD_KAFKA_V_VALUE(buffer_.data(), buffer_.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(record.time),
          RD_KAFKA_V_HEADER("content-type", content_type, -1),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(record.topic))),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        throw KafkaError("produce to " + topic + ": " + rd_kafka_err2str(err));
      }
      rd_kafka_poll(rk_.get(), 10);
    }
    rd_kafka_poll(rk_.get(), 0);
    return buffer_.size();
  }

  bool Flush(int timeout_ms) {
    return rd_kafka_flush(rk_.get(), timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
  }

 private:
  const GenOptions& options_;
  KafkaHandle rk_;
  std::string buffer_;
  google::protobuf::util::JsonPrintOptions json_options_;
};

// Paces production to `rate` records/s (no pacing when rate is 0).
class Pacer {
 public:
  explicit Pacer(double rate) : rate_(rate), start_(std::chrono::steady_clock::now()) {}
  void Wait(int64_t sent) const {
    if (rate_ <= 0) return;
    const auto due = start_ + std::chrono::duration<double>(sent / rate_);
    std::this_thread::sleep_until(
        std::chrono::time_point_cast<std::chrono::steady_clock::duration>(due));
  }

 private:
  double rate_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

CLI::App* AddGenCommand(CLI::App& app, GenOptions* o) {
  CLI::App* cmd = app.add_subcommand(
      "gen",
      "Produce realistic synthetic customers and events (personas: healthy, declining, "
      "support-heavy, late payer, disengaged, churning)");
  cmd->add_option("--brokers", o->brokers, "Kafka bootstrap servers, e.g. 127.0.0.1:9092")
      ->required();
  cmd->add_option("--config", o->config_path,
                  "The engine's config file: its kafka.* properties (TLS, SASL) and topics.* "
                  "names")
      ->check(CLI::ExistingFile);
  cmd->add_option("--customers", o->customers, "Number of customers")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  cmd->add_option("--rate", o->rate, "Events per second (0: as fast as possible)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--events", o->events, "Stop after N records, profiles included (0: no cap)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000'000}))
      ->capture_default_str();
  cmd->add_option("--days", o->days, "Days of history to simulate")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed; the same seed and start give the same records")
      ->capture_default_str();
  cmd->add_option("--start", o->start, "First simulated day, YYYY-MM-DD (default: today - days)")
      ->check([](const std::string& s) {
        return ParseDate(s) ? std::string() : "not a date in the form YYYY-MM-DD: " + s;
      });
  cmd->add_option("--format", o->format, "Value encoding")
      ->check(CLI::IsMember({"protobuf", "json"}))
      ->capture_default_str();
  cmd->add_flag("--live", o->live,
                "After the history, go on producing in real time until stopped (Ctrl-C)");
  return cmd;
}

int RunGen(const GenOptions& given, std::ostream& out, const std::function<bool()>& stop) {
  GenOptions options = given;
  if (!LoadClientConfig("gen", options.config_path, &options.kafka, &options.topics)) return 2;
  const TimeMs now = SystemClock::Instance().NowMs();
  SimulationOptions sim;
  sim.customers = options.customers;
  sim.history_days = options.days;
  sim.seed = options.seed;
  sim.start_ms =
      options.start.empty() ? StartOfDay(DayOf(now) - options.days) : *ParseDate(options.start);
  Simulation simulation(sim);
  Tally tally;
  Producer producer(options, &tally);
  const Pacer pacer(options.rate);
  const auto started = std::chrono::steady_clock::now();

  int64_t sent = 0;
  const auto cap_reached = [&] { return options.events > 0 && sent >= options.events; };
  auto send = [&](const GeneratedRecord& record) {
    pacer.Wait(sent);
    tally.topics[static_cast<size_t>(record.topic)].bytes +=
        static_cast<int64_t>(producer.Produce(record));
    ++sent;
  };

  for (const GeneratedRecord& profile : simulation.Profiles()) {
    if (cap_reached() || stop()) break;
    send(profile);
  }
  std::vector<GeneratedRecord> day;
  while (!cap_reached() && !stop()) {
    if (simulation.days_simulated() == options.days) {
      if (!options.live) break;
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      producer.Flush(60'000);
      out << "history: " << sent << " records over " << options.days << " days in " << elapsed
          << " s; now live (Ctrl-C stops)" << std::endl;
      if (options.on_history_done) options.on_history_done();
    }
    simulation.NextDay(&day);
    for (const GeneratedRecord& record : day) {
      if (cap_reached() || stop()) break;
      if (options.live) {
        // Live: never ahead of the wall clock; wait for each record's time to come.
        while (record.time > SystemClock::Instance().NowMs() && !stop()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(
              std::min<TimeMs>(200, record.time - SystemClock::Instance().NowMs())));
        }
        if (stop()) break;
      }
      send(record);
    }
  }
  const bool flushed = producer.Flush(60'000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  int64_t delivered = 0;
  int64_t failed = 0;
  for (InputTopic topic : kAllInputTopics) {
    const TopicTally& t = tally.topics[static_cast<size_t>(topic)];
    out << "topic=" << options.topics.Input(topic) << " records=" << t.delivered
        << " bytes=" << t.bytes << " failed=" << t.failed << "\n";
    delivered += t.delivered;
    failed += t.failed;
  }
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.0f", seconds > 0 ? delivered / seconds : 0.0);
  out << "total records=" << delivered << " failed=" << failed << " seconds=" << seconds
      << " rate=" << rate << "/s customers=" << options.customers << " seed=" << options.seed
      << " start=" << FormatDate(sim.start_ms) << std::endl;
  return (failed == 0 && flushed && delivered == sent) ? 0 : 1;
}

}  // namespace c360::gen
