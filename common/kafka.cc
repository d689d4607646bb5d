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

}  // namespace c360
