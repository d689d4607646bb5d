#include "common/kafka.h"

#include <cstring>

#include "common/kafka_properties.h"

namespace c360 {

KafkaConf MakeConf(const KafkaProperties& properties) {
  KafkaConf conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      // Never the value: it may be a secret (librdkafka's text may quote it too).
      throw KafkaError("kafka property " + key + ": " + WithoutValue(err, value));
    }
  }
  return conf;
}

KafkaHandle MakeClient(rd_kafka_type_t type, const KafkaProperties& properties) {
  KafkaConf conf = MakeConf(properties);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) throw KafkaError(std::string("cannot create kafka client: ") + err);
  conf.release();  // rd_kafka_new took ownership
  return KafkaHandle(rk);
}

std::optional<std::string_view> HeaderValue(const rd_kafka_message_t* msg, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  if (value == nullptr) return std::string_view();
  return std::string_view(static_cast<const char*>(value), size);
}

std::vector<int> PartitionCounts(rd_kafka_t* rk, const std::vector<std::string>& topics,
                                 int timeout_ms) {
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &metadata, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError(std::string("cannot read cluster metadata: ") + rd_kafka_err2str(err));
  }
  std::vector<int> counts(topics.size(), 0);
  for (int t = 0; t < metadata->topic_cnt; ++t) {
    const rd_kafka_metadata_topic_t& topic = metadata->topics[t];
    if (topic.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    for (size_t i = 0; i < topics.size(); ++i) {
      if (topics[i] == topic.topic) counts[i] = topic.partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  return counts;
}

void CreateTopic(rd_kafka_t* rk, const std::string& topic, int partitions,
                 const std::vector<std::pair<std::string, std::string>>& configs, int timeout_ms) {
  char err[512] = {};
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, err, sizeof err);
  if (nt == nullptr) throw KafkaError("cannot create topic " + topic + ": " + err);
  for (const auto& [name, value] : configs) {
    rd_kafka_NewTopic_set_config(nt, name.c_str(), value.c_str());
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, err, sizeof err);
  rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, err, sizeof err);
  rd_kafka_CreateTopics(rk, &nt, 1, options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, timeout_ms + 5000);
  std::string error;
  if (event == nullptr) {
    error = "no answer from the broker";
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = rd_kafka_event_error_string(event);
  } else if (const rd_kafka_CreateTopics_result_t* result =
                 rd_kafka_event_CreateTopics_result(event)) {
    size_t count = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &count);
    for (size_t i = 0; i < count; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* why = rd_kafka_topic_result_error_string(topics[i]);
        error = why != nullptr ? why : rd_kafka_err2str(e);
      }
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(queue);
  if (!error.empty()) throw KafkaError("cannot create topic " + topic + ": " + error);
}

}  // namespace c360
