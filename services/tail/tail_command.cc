#include "services/tail/tail_command.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "c360/v1/alert.pb.h"
#include "c360/v1/campaign.pb.h"
#include "c360/v1/customer.pb.h"
#include "c360/v1/health.pb.h"
#include "c360/v1/invoice.pb.h"
#include "c360/v1/ticket.pb.h"
#include "c360/v1/usage.pb.h"
#include "common/kafka.h"
#include "scoring/config.h"

namespace c360 {
namespace {

// Standard base64 with padding, on one line (OpenSSL's EVP_EncodeBlock).
std::string Base64(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // + the NUL OpenSSL writes
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// The schema of a topic's values, or nullptr (dead letters and unknown topics).
std::unique_ptr<google::protobuf::Message> SchemaOf(const TopicNames& t, const std::string& topic) {
  if (topic == t.alerts) return std::make_unique<v1::AlertEvent>();
  if (topic == t.health) return std::make_unique<v1::HealthSnapshot>();
  if (topic == t.usage) return std::make_unique<v1::UsageEvent>();
  if (topic == t.tickets) return std::make_unique<v1::TicketEvent>();
  if (topic == t.invoices) return std::make_unique<v1::InvoiceEvent>();
  if (topic == t.campaigns) return std::make_unique<v1::CampaignEvent>();
  if (topic == t.customers) return std::make_unique<v1::CustomerProfile>();
  return nullptr;
}

// One JSON line for a message: the value as JSON when the schema reads it, else an object
// with key, headers and the value in base64 (dead letters keep their original bytes).
std::string Render(const rd_kafka_message_t* msg, google::protobuf::Message* schema) {
  const std::string_view value(static_cast<const char*>(msg->payload), msg->len);
  const auto content_type = HeaderValue(msg, "content-type");
  const bool json_value = content_type && content_type->starts_with("application/json");
  if (schema != nullptr && msg->payload != nullptr) {
    if (json_value) {
      const nlohmann::json parsed = nlohmann::json::parse(value, nullptr, false);
      if (!parsed.is_discarded()) return parsed.dump();
    } else if (schema->ParseFromArray(msg->payload, static_cast<int>(msg->len))) {
      std::string out;
      google::protobuf::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      options.always_print_primitive_fields = true;
      if (google::protobuf::util::MessageToJsonString(*schema, &out, options).ok()) return out;
    }
  }
  nlohmann::json line;
  line["partition"] = msg->partition;
  line["offset"] = msg->offset;
  line["key"] = msg->key
                    ? nlohmann::json(std::string(static_cast<const char*>(msg->key), msg->key_len))
                    : nlohmann::json(nullptr);
  nlohmann::json headers = nlohmann::json::object();
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* hv = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &hv, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      headers[name] = hv ? nlohmann::json(std::string(static_cast<const char*>(hv), size))
                         : nlohmann::json(nullptr);
    }
  }
  line["headers"] = headers;
  line["value_base64"] = msg->payload ? nlohmann::json(Base64(value)) : nlohmann::json(nullptr);
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

CLI::App* AddTailCommand(CLI::App& app, TailOptions* o) {
  CLI::App* cmd = app.add_subcommand("tail", "Print alerts (or another c360 topic) as JSON lines");
  cmd->add_option("--brokers", o->brokers, "Kafka bootstrap servers")->required();
  cmd->add_option("--config", o->config_path,
                  "The engine's config file: its kafka.* properties (TLS, SASL) and topics.* "
                  "names (a --topic given is used as it is)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--topic", o->topic,
                  "Topic to print (default: the alerts topic, c360.alerts unless --config "
                  "renames it)");
  cmd->add_flag("--from-beginning", o->from_beginning,
                "Start at the oldest message (default: only new ones)");
  cmd->add_option("--count", o->count, "Stop after N messages (0: until Ctrl-C)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000'000}))
      ->capture_default_str();
  return cmd;
}

int RunTail(const TailOptions& given, std::ostream& out, const std::function<bool()>& stop) {
  TailOptions options = given;
  if (!LoadClientConfig("tail", options.config_path, &options.kafka, &options.topics)) return 2;
  if (options.topic.empty()) options.topic = options.topics.alerts;
  KafkaHandle consumer;
  int partitions = 0;
  try {
    KafkaProperties properties = {{"bootstrap.servers", options.brokers},
                                  {"group.id", "c360-tail"},
                                  {"enable.auto.commit", "false"},
                                  {"log_level", "3"}};
    // The config's (TLS, SASL, tuning) after tail's own.
    properties.insert(properties.end(), options.kafka.begin(), options.kafka.end());
    consumer = MakeClient(RD_KAFKA_CONSUMER, properties);
    partitions = PartitionCounts(consumer.get(), {options.topic}, 10'000)[0];
  } catch (const KafkaError& e) {
    std::cerr << "c360 tail: " << e.what() << std::endl;
    return 1;
  }
  if (partitions == 0) {
    std::cerr << "c360 tail: topic " << options.topic << " does not exist" << std::endl;
    return 1;
  }
  // Assigned, not subscribed: tail reads every partition and commits nothing.
  PartitionList assignment(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment.get(), options.topic.c_str(), p)->offset =
        options.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
  }
  rd_kafka_assign(consumer.get(), assignment.get());
  std::unique_ptr<google::protobuf::Message> schema = SchemaOf(options.topics, options.topic);

  int64_t printed = 0;
  while (!stop() && (options.count == 0 || printed < options.count)) {
    KafkaMessage msg(rd_kafka_consumer_poll(consumer.get(), 200));
    if (!msg) continue;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::cerr << "c360 tail: " << rd_kafka_message_errstr(msg.get()) << std::endl;
      }
      continue;
    }
    out << Render(msg.get(), schema.get()) << '\n' << std::flush;
    ++printed;
  }
  rd_kafka_consumer_close(consumer.get());
  return 0;
}

}  // namespace c360
