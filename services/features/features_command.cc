#include "services/features/features_command.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/time.h"
#include "scoring/churn_model.h"
#include "scoring/config.h"
#include "services/engine/kafka_record.h"
#include "services/engine/task.h"
#include "common/logfmt.h"

namespace c360 {
namespace {

constexpr int kPollMs = 100;
// Without a record or an end of partition for this long, the broker is taken as gone.
constexpr auto kSilenceLimit = std::chrono::seconds(30);

// The task's records stay librdkafka's messages until the task has applied them.
class MessageOwner final : public RecordOwner {
 public:
  void Release(void* handle) override {
    rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(handle));
  }
  // Dead letters are not published: nothing to copy.
  void CopyHeaders(void*, state::v1::OutboxEntry*) override {}
};

// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
void AppendField(std::string* line, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    line->append(text);
    return;
  }
  line->push_back('"');
  for (char c : text) {
    if (c == '"') line->push_back('"');
    line->push_back(c);
  }
  line->push_back('"');
}

// %.17g reads back as the same double; NaN (an absent KPI) is an empty field.
void AppendNumber(std::string* line, double v) {
  if (std::isnan(v)) return;
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  line->append(buf, static_cast<size_t>(n));
}

// One customer at the end of one day; its label waits for the end of the input.
struct PendingRow {
  int32_t day;
  int32_t churned_day;  // kNoDay: no churned_on in its profile
  std::string text;     // ",formula_risk,features..." (after the label)
  std::string id;
};

std::optional<InputTopic> TopicOf(const TopicNames& topics, const char* name) {
  for (InputTopic t : kAllInputTopics) {
    if (topics.Input(t) == name) return t;
  }
  return std::nullopt;
}

struct Totals {
  int64_t rows = 0;
  int64_t positive = 0;
  int64_t unknown = 0;  // outcome not known yet: left out
  int64_t churned = 0;  // already churned that day: left out
  int64_t records = 0;
  int64_t customers = 0;
};

}  // namespace

CLI::App* AddFeaturesCommand(CLI::App& app, FeaturesOptions* o) {
  CLI::App* cmd = app.add_subcommand(
      "features",
      "Write labelled feature vectors for training a churn model (docs/churn-model.md)");
  cmd->add_option("--brokers", o->brokers, "Kafka bootstrap servers")->required();
  cmd->add_option("--out", o->out, "CSV file to write")->required();
  cmd->add_option("--config", o->config_path,
                  "YAML config: topics, kafka.* properties and scores, as the engine's");
  cmd->add_option("--every-days", o->every_days, "A row per customer every N days")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  cmd->add_option("--horizon-days", o->horizon_days,
                  "Label 1 when the customer churns within this many days")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  return cmd;
}

int RunFeatures(const FeaturesOptions& options, std::ostream& out,
                const std::function<bool()>& stop) {
  Config config;
  try {
    if (!options.config_path.empty()) config = LoadConfig(options.config_path);
  } catch (const ConfigError& e) {
    std::cerr << "c360 features: " << e.what() << std::endl;
    return 2;
  }
  const std::string partial = options.out + ".partial";
  std::ofstream rows_file(partial, std::ios::binary | std::ios::trunc);
  if (!rows_file) {
    std::cerr << "c360 features: --out " << options.out << ": cannot be written" << std::endl;
    return 2;
  }

  KafkaHandle consumer;
  std::vector<int> counts;
  try {
    KafkaProperties properties(config.kafka.begin(), config.kafka.end());
    properties.insert(properties.end(), {{"bootstrap.servers", options.brokers},
                                         {"group.id", "c360-features"},
                                         {"enable.auto.commit", "false"},
                                         {"enable.partition.eof", "true"},
                                         {"queued.min.messages", "10000000"},
                                         {"queued.max.messages.kbytes", "1048576"},
                                         {"log_level", "3"}});
    consumer = MakeClient(RD_KAFKA_CONSUMER, properties);
    std::vector<std::string> names;
    for (InputTopic t : kAllInputTopics) names.push_back(config.topics.Input(t));
    counts = PartitionCounts(consumer.get(), names, 10'000);
  } catch (const KafkaError& e) {
    std::cerr << "c360 features: " << e.what() << std::endl;
    return 1;
  }
  int tasks = 0;
  for (int c : counts) tasks = std::max(tasks, c);
  if (tasks == 0) {
    std::cerr << "c360 features: none of the input topics exists on " << options.brokers
              << std::endl;
    return 1;
  }

  // Phase 1: every task replayed from the beginning of its partitions, all at once (their
  // customers in memory), each row kept until the input ends; then the rows go to the
  // partial file, task after task, with the customer's churn day.
  Totals totals;
  MessageOwner owner;
  struct Replay {
    std::unique_ptr<Task> task;
    std::vector<PendingRow> rows;
    bool at_end[kInputTopicCount] = {};
  };
  std::vector<Replay> replays(static_cast<size_t>(tasks));
  PartitionList assignment(rd_kafka_topic_partition_list_new(tasks * kInputTopicCount));
  int open = 0;
  for (int p = 0; p < tasks; ++p) {
    Replay& replay = replays[static_cast<size_t>(p)];
    replay.task = std::make_unique<Task>(static_cast<uint16_t>(p), config, SystemClock::Instance(),
                                         OutputFormat::kProtobuf, &owner);
    Task& task = *replay.task;
    task.set_day_end_hook([&task, &replay, &totals, &options](int32_t day) {
      if (day % options.every_days != 0) return;
      const TimeMs end = StartOfDay(day + 1) - 1;
      task.ScoreEachAt(end, [&](const CustomerState& s, const CoreKpis& kpis, const Scores& sc) {
        if (kpis.churned) {
          ++totals.churned;
          return;
        }
        Features features;
        ComputeFeatures(kpis, sc, &features);
        PendingRow row{day, kNoDay, ",", s.customer_id()};
        AppendNumber(&row.text, sc.risk);
        for (double f : features) {
          row.text.push_back(',');
          AppendNumber(&row.text, f);
        }
        replay.rows.push_back(std::move(row));
      });
    });
    for (InputTopic t : kAllInputTopics) {
      if (counts[static_cast<int>(t)] > p) {
        rd_kafka_topic_partition_list_add(assignment.get(), config.topics.Input(t).c_str(), p)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
        ++open;
      } else {
        task.MarkAtEnd(t);
      }
    }
  }
  rd_kafka_assign(consumer.get(), assignment.get());
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer.get());
  auto heard = std::chrono::steady_clock::now();
  while (open > 0 && !stop()) {
    rd_kafka_message_t* msg = rd_kafka_consume_queue(queue, kPollMs);
    if (msg == nullptr) {
      if (std::chrono::steady_clock::now() - heard > kSilenceLimit) {
        std::cerr << "c360 features: no data from " << options.brokers << " for "
                  << kSilenceLimit.count() << " s; giving up" << std::endl;
        rd_kafka_queue_destroy(queue);
        std::filesystem::remove(partial);
        return 1;
      }
      continue;
    }
    heard = std::chrono::steady_clock::now();
    const std::optional<InputTopic> topic =
        msg->rkt ? TopicOf(config.topics, rd_kafka_topic_name(msg->rkt)) : std::nullopt;
    if (!topic || msg->partition < 0 || msg->partition >= tasks) {
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn("event=kafka_error message={}", LogValue(rd_kafka_message_errstr(msg)));
      }
      rd_kafka_message_destroy(msg);
      continue;
    }
    Replay& replay = replays[static_cast<size_t>(msg->partition)];
    Task& task = *replay.task;
    bool& at_end = replay.at_end[static_cast<int>(*topic)];
    if (at_end) {
      rd_kafka_message_destroy(msg);  // written after the replay reached the end: not read
      continue;
    }
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(msg);
      at_end = true;
      task.MarkAtEnd(*topic);
      --open;
    } else if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("event=kafka_error message={}", LogValue(rd_kafka_message_errstr(msg)));
      rd_kafka_message_destroy(msg);
      continue;
    } else {
      task.Buffer(RecordOf(msg, *topic));
      ++totals.records;
    }
    while (task.Process(100'000) > 0) {
    }
    if (task.uncommitted_outputs() > 100'000) {  // nothing is published: let them go
      StateBatch discard;
      std::vector<PublishItem> publish;
      task.Drain(&discard, &publish);
    }
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_assign(consumer.get(), nullptr);
  int32_t last_day = kNoDay;
  for (Replay& replay : replays) {
    Task& task = *replay.task;
    while (task.Process(100'000) > 0) {
    }
    if (task.stream_time() != kNoTime) {
      last_day = std::max(last_day, static_cast<int32_t>(DayOf(task.stream_time())));
    }
    totals.customers += static_cast<int64_t>(task.customer_count());
    for (PendingRow& row : replay.rows) {
      const CustomerState* s = task.customer(row.id);
      if (s != nullptr && s->profile() && s->profile()->has_churned_on()) {
        row.churned_day = static_cast<int32_t>(DayOf(ToMs(s->profile()->churned_on())));
      }
      // Its day and churn day, the sizes of its id field and of the whole, then the id field
      // (CSV-quoted) and ",formula_risk,features...".
      std::string text;
      AppendField(&text, row.id);
      const uint32_t id_size = static_cast<uint32_t>(text.size());
      text += row.text;
      const int32_t head[2] = {row.day, row.churned_day};
      const uint32_t sizes[2] = {id_size, static_cast<uint32_t>(text.size())};
      rows_file.write(reinterpret_cast<const char*>(head), sizeof head);
      rows_file.write(reinterpret_cast<const char*>(sizes), sizeof sizes);
      rows_file.write(text.data(), static_cast<std::streamsize>(text.size()));
    }
    replay = Replay{};  // its customers leave memory
  }
  rd_kafka_consumer_close(consumer.get());
  rows_file.close();
  if (stop()) {
    std::filesystem::remove(partial);
    return 1;
  }

  // Phase 2: labels, now that the input's last day is known.
  std::ifstream in(partial, std::ios::binary);
  const std::string temp = options.out + ".tmp";
  std::ofstream csv(temp, std::ios::binary | std::ios::trunc);
  std::string header = "customer_id,day,label,formula_risk";
  for (std::string_view name : kFeatureNames) header += "," + std::string(name);
  csv << header << '\n';
  int32_t head[2];
  uint32_t sizes[2];
  std::string text;
  while (in.read(reinterpret_cast<char*>(head), sizeof head) &&
         in.read(reinterpret_cast<char*>(sizes), sizeof sizes)) {
    text.resize(sizes[1]);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    const int32_t day = head[0];
    const int32_t churned_day = head[1];
    int label;
    if (churned_day != kNoDay && churned_day > day && churned_day <= day + options.horizon_days) {
      label = 1;
    } else if ((churned_day != kNoDay && churned_day > day + options.horizon_days) ||
               (last_day != kNoDay && day + options.horizon_days < last_day)) {
      label = 0;  // still a customer horizon_days later: its churn day or the input says so
    } else {
      ++totals.unknown;
      continue;
    }
    ++totals.rows;
    totals.positive += label;
    const std::string_view view(text);
    csv << view.substr(0, sizes[0]) << ',' << FormatDate(StartOfDay(day)) << ',' << label
        << view.substr(sizes[0]) << '\n';
  }
  csv.close();
  std::filesystem::remove(partial);
  std::filesystem::rename(temp, options.out);
  out << "c360 features: " << totals.rows << " rows (" << totals.positive << " labelled 1, "
      << totals.rows - totals.positive << " labelled 0) of " << totals.customers
      << " customers from " << totals.records << " records to " << options.out << "; left out "
      << totals.unknown << " rows whose outcome is not known yet and " << totals.churned
      << " of customers already churned" << std::endl;
  return 0;
}

}  // namespace c360
