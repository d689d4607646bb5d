// bare_relay BROKERS [--transactional] [--batch-ms N] [--health-per-record F] [--set K=V]...
//            [--consumer-set K=V]...
// The baseline of bench/latency.py: a librdkafka consumer and producer with the engine's
// settings (services/engine/engine.cc, CreateClients) and nothing between them — no
// decoding, no state, no batch window, no output fence. It joins group "c360-bare-relay",
// reads the five input topics from the beginning, and for every record it reads:
//   - counts (record's Kafka timestamp -> the moment it left rd_kafka_consume_batch_queue)
//     as the consume latency;
//   - relays each c360.invoices record to c360.alerts at once, as the engine's alerts do in
//     the bench (each invoice record there fires or resolves one alert), and counts
//     (record's Kafka timestamp -> the output's delivery report) as the relay latency: the
//     same span as c360_event_to_alert_seconds;
//   - sends a copy to c360.health for --health-per-record of the records (spread evenly),
//     so the broker carries the engine's output traffic too (latency.py measures it).
// --transactional: outputs and the consumed offsets in one Kafka transaction every
// --batch-ms (10, the engine's engine.batch_max_ms; the window opens with the first record
// consumed after the previous commit, as the engine's batch does), like the engine's
// exactly_once: the window's outputs are held, then begin, produce, send the offsets,
// commit (blocking, as the engine's). The relay latency then ends when the transaction has
// committed.
// --set K=V: a librdkafka property for both clients (the engine config's kafka: section);
// --consumer-set K=V: for the consumer only (a consumer property, without the producer's
// warning about it).
//
// Prints "ready" once partitions are assigned. Commands on stdin: "reset" starts the
// measured window (counters cleared), "window" prints the line below for the time since the
// last reset or window and clears the counters (per-minute figures), "report" prints one
// JSON line and exits:
// {"consumed": N, "seconds": S, "outputs": {...}, "transactions": T, "aborted": A,
//  "consume_ms": {"ms": count, ...}, "relay_ms": {"ms": count, ...},
//  "transaction_ms": {"ms": count, ...}} (transaction_ms: each transaction, begin to commit).
// Latencies are whole milliseconds of the wall clock, as the engine's histogram sees them.

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/kafka.h"
#include "common/topics.h"

namespace {

using namespace c360;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Stats {
  long consumed = 0;
  std::map<std::string, long> outputs;
  long transactions = 0;
  long aborted = 0;
  std::map<int64_t, long> consume_ms;
  std::map<int64_t, long> relay_ms;
  std::map<int64_t, long> transaction_ms;  // each transaction, begin to commit
  int64_t since_ms = WallMs();
};

Stats stats;
bool assigned = false;

void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions, void*) {
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    rd_kafka_assign(rk, partitions);
    if (partitions->cnt > 0 && !assigned) {
      assigned = true;
      std::printf("ready\n");
      std::fflush(stdout);
    }
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  const auto source_ms = reinterpret_cast<intptr_t>(msg->_private);
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "bare_relay: delivery failed: %s\n", rd_kafka_err2str(msg->err));
    return;
  }
  ++stats.outputs[rd_kafka_topic_name(msg->rkt)];
  if (source_ms > 0) ++stats.relay_ms[WallMs() - source_ms];
}

std::string Histogram(const std::map<int64_t, long>& h) {
  std::string out = "{";
  for (const auto& [ms, count] : h) {
    if (out.size() > 1) out += ",";
    out += "\"" + std::to_string(ms) + "\":" + std::to_string(count);
  }
  return out + "}";
}

void Report() {
  std::string outputs = "{";
  for (const auto& [topic, count] : stats.outputs) {
    if (outputs.size() > 1) outputs += ",";
    outputs += "\"" + topic + "\":" + std::to_string(count);
  }
  outputs += "}";
  std::printf(
      "{\"consumed\": %ld, \"seconds\": %.3f, \"outputs\": %s, \"transactions\": %ld, "
      "\"aborted\": %ld, \"consume_ms\": %s, \"relay_ms\": %s, \"transaction_ms\": %s}\n",
      stats.consumed, (WallMs() - stats.since_ms) / 1000.0, outputs.c_str(), stats.transactions,
      stats.aborted, Histogram(stats.consume_ms).c_str(), Histogram(stats.relay_ms).c_str(),
      Histogram(stats.transaction_ms).c_str());
  std::fflush(stdout);
}

// "reset", "window", "report" or "" from stdin without blocking; "eof" when stdin closed.
std::string Command() {
  static std::string buffer;
  pollfd fd{0, POLLIN, 0};
  if (poll(&fd, 1, 0) > 0) {
    char chunk[256];
    const ssize_t n = read(0, chunk, sizeof chunk);
    if (n <= 0) return "eof";
    buffer.append(chunk, static_cast<size_t>(n));
  }
  const size_t end = buffer.find('\n');
  if (end == std::string::npos) return "";
  std::string line = buffer.substr(0, end);
  buffer.erase(0, end + 1);
  return line;
}

bool Check(rd_kafka_error_t* error, const char* what) {
  if (error == nullptr) return true;
  std::fprintf(stderr, "bare_relay: %s: %s\n", what, rd_kafka_error_string(error));
  rd_kafka_error_destroy(error);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: bare_relay BROKERS [--transactional] [--batch-ms N] "
                 "[--health-per-record F] [--set K=V]... [--consumer-set K=V]...\n");
    return 2;
  }
  bool transactional = false;
  int batch_ms = 10;
  double health_per_record = 0;
  KafkaProperties extra, consumer_extra;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--transactional") {
      transactional = true;
    } else if (arg == "--batch-ms" && i + 1 < argc) {
      batch_ms = std::stoi(argv[++i]);
    } else if (arg == "--health-per-record" && i + 1 < argc) {
      health_per_record = std::stod(argv[++i]);
    } else if ((arg == "--set" || arg == "--consumer-set") && i + 1 < argc) {
      const std::string kv = argv[++i];
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "bare_relay: %s wants KEY=VALUE: %s\n", arg.c_str(), kv.c_str());
        return 2;
      }
      (arg == "--set" ? extra : consumer_extra).emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else {
      std::fprintf(stderr, "bare_relay: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  const std::string brokers = argv[1];
  // The engine's consumer and producer properties (engine.cc, CreateClients).
  KafkaProperties consumer_props = {
      {"bootstrap.servers", brokers},
      {"group.id", "c360-bare-relay"},
      {"partition.assignment.strategy", "range"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", "earliest"},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "3000"},
      {"queued.min.messages", "1000000"},
      {"queued.max.messages.kbytes", "1048576"},
      {"fetch.wait.max.ms", "100"},
      {"isolation.level", "read_committed"},
      {"log_level", "4"},
  };
  KafkaProperties producer_props = {
      {"bootstrap.servers", brokers},
      {"enable.idempotence", "true"},
      {"linger.ms", "1"},
      {"partitioner", "murmur2_random"},
      {"compression.codec", "lz4"},
      {"message.max.bytes", "104857600"},
      {"queue.buffering.max.messages", "1000000"},
      {"queue.buffering.max.kbytes", "2097151"},
      {"log_level", "4"},
  };
  if (transactional) {
    producer_props.emplace_back("transactional.id", "c360-bare-relay");
    producer_props.emplace_back("transaction.timeout.ms", "10000");
  }
  for (const auto& kv : extra) {
    consumer_props.push_back(kv);
    producer_props.push_back(kv);
  }
  for (const auto& kv : consumer_extra) consumer_props.push_back(kv);
  KafkaHandle consumer, producer;
  try {
    KafkaConf conf = MakeConf(consumer_props);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &OnRebalance);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
    if (rk == nullptr) throw KafkaError(err);
    conf.release();
    consumer.reset(rk);
    conf = MakeConf(producer_props);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &OnDelivery);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
    if (rk == nullptr) throw KafkaError(err);
    conf.release();
    producer.reset(rk);
  } catch (const KafkaError& e) {
    std::fprintf(stderr, "bare_relay: %s\n", e.what());
    return 1;
  }
  rd_kafka_poll_set_consumer(consumer.get());
  if (transactional && !Check(rd_kafka_init_transactions(producer.get(), 30'000), "init")) return 1;

  const TopicNames names;
  PartitionList topics(rd_kafka_topic_partition_list_new(5));
  for (InputTopic t : kAllInputTopics) {
    rd_kafka_topic_partition_list_add(topics.get(), names.Input(t).c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (rd_kafka_subscribe(consumer.get(), topics.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "bare_relay: subscribe failed\n");
    return 1;
  }
  rd_kafka_topic_t* alerts = rd_kafka_topic_new(producer.get(), names.alerts.c_str(), nullptr);
  rd_kafka_topic_t* health = rd_kafka_topic_new(producer.get(), names.health.c_str(), nullptr);
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer.get());

  std::vector<rd_kafka_message_t*> batch(10'000);
  std::map<std::pair<std::string, int32_t>, int64_t> next_offsets;  // of the open transaction
  std::vector<int64_t> transaction_sources;  // source timestamps of its alerts
  bool in_transaction = false;
  int64_t transaction_start = 0;  // its window's opening: its first record
  double health_due = 0;

  auto produce = [&](rd_kafka_topic_t* topic, const void* value, size_t value_len, const void* key,
                     size_t key_len, intptr_t source) {
    while (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                            const_cast<void*>(value), value_len, key, key_len,
                            reinterpret_cast<void*>(source)) != 0) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::fprintf(stderr, "bare_relay: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
        return;
      }
      rd_kafka_poll(producer.get(), 10);
    }
  };
  // The transaction's outputs, held until the window closes (the engine's shape: a batch's
  // outputs wait for its commit, then begin, produce, offsets and commit in one go).
  struct Pending {
    rd_kafka_topic_t* topic;
    std::string key, value;
  };
  std::vector<Pending> pending;
  auto commit_transaction = [&]() {
    const int64_t commit_began = WallMs();
    if (!Check(rd_kafka_begin_transaction(producer.get()), "begin")) std::exit(1);
    for (const Pending& out : pending) {
      produce(out.topic, out.value.data(), out.value.size(), out.key.data(), out.key.size(), 0);
    }
    pending.clear();
    PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size())));
    for (const auto& [tp, offset] : next_offsets) {
      rd_kafka_topic_partition_list_add(offsets.get(), tp.first.c_str(), tp.second)->offset =
          offset;
    }
    rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer.get());
    bool ok = Check(rd_kafka_send_offsets_to_transaction(producer.get(), offsets.get(), group, -1),
                    "send offsets");
    rd_kafka_consumer_group_metadata_destroy(group);
    ok = ok && Check(rd_kafka_commit_transaction(producer.get(), -1), "commit");
    const int64_t now = WallMs();
    ++stats.transaction_ms[now - commit_began];
    if (ok) {
      ++stats.transactions;
      for (int64_t source : transaction_sources) ++stats.relay_ms[now - source];
    } else {
      ++stats.aborted;
      Check(rd_kafka_abort_transaction(producer.get(), -1), "abort");
    }
    transaction_sources.clear();
    next_offsets.clear();
    in_transaction = false;
  };

  while (true) {
    const std::string command = Command();
    if (command == "eof") break;
    if (command == "reset") {
      stats = Stats();
    } else if (command == "window") {  // the figures since the last reset or window, and go on
      Report();
      stats = Stats();
    } else if (command == "report") {
      if (in_transaction) commit_transaction();
      rd_kafka_flush(producer.get(), 10'000);
      Report();
      break;
    }
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 1, batch.data(), batch.size());
    const int64_t now = WallMs();
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* msg = batch[i];
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++stats.consumed;
        rd_kafka_timestamp_type_t type;
        const int64_t source = rd_kafka_message_timestamp(msg, &type);
        ++stats.consume_ms[now - source];
        if (transactional && !in_transaction) {
          in_transaction = true;
          transaction_start = now;
        }
        const char* topic = rd_kafka_topic_name(msg->rkt);
        auto relay = [&](rd_kafka_topic_t* to, intptr_t source_ms) {
          if (transactional) {
            pending.push_back({to, std::string(static_cast<const char*>(msg->key), msg->key_len),
                               std::string(static_cast<const char*>(msg->payload), msg->len)});
          } else {
            produce(to, msg->payload, msg->len, msg->key, msg->key_len, source_ms);
          }
        };
        if (names.invoices == topic) {
          relay(alerts, static_cast<intptr_t>(source));
          if (transactional) transaction_sources.push_back(source);
        }
        health_due += health_per_record;
        if (health_due >= 1) {
          health_due -= 1;
          relay(health, 0);
        }
        if (transactional) next_offsets[{topic, msg->partition}] = msg->offset + 1;
      }
      rd_kafka_message_destroy(msg);
    }
    rd_kafka_poll(producer.get(), 0);
    if (in_transaction && WallMs() - transaction_start >= batch_ms) commit_transaction();
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_topic_destroy(alerts);
  rd_kafka_topic_destroy(health);
  rd_kafka_consumer_close(consumer.get());
  return 0;
}
