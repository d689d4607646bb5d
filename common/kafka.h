#pragma once
// Thin RAII over librdkafka's C API, shared by the broker, generator, tail and engine.
// Construction failures throw KafkaError (start-up time); nothing here throws once a
// handle exists.

#include <librdkafka/rdkafka.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace c360 {

class KafkaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct KafkaConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
struct KafkaMessageDeleter {
  void operator()(rd_kafka_message_t* msg) const { rd_kafka_message_destroy(msg); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaConfDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaMessageDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// A conf with every property set; throws KafkaError naming the first rejected property
// (and never its value).
KafkaConf MakeConf(const KafkaProperties& properties);
// Producer or consumer from properties; the handle owns the conf. Throws KafkaError.
KafkaHandle MakeClient(rd_kafka_type_t type, const KafkaProperties& properties);

// Value of the last header named `name`, if any.
std::optional<std::string_view> HeaderValue(const rd_kafka_message_t* msg, const char* name);

// Partition count of each topic, from the cluster's metadata (a missing topic maps to
// 0). Throws KafkaError if metadata cannot be fetched within timeout_ms.
std::vector<int> PartitionCounts(rd_kafka_t* rk, const std::vector<std::string>& topics,
                                 int timeout_ms);

// Creates `topic` with `partitions` partitions, the broker's default replication factor
// and `configs`, waiting for the broker's answer. A topic that exists already is not an
// error. Throws KafkaError naming the broker's reason otherwise.
void CreateTopic(rd_kafka_t* rk, const std::string& topic, int partitions,
                 const std::vector<std::pair<std::string, std::string>>& configs, int timeout_ms);

}  // namespace c360
