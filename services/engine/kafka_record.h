#pragma once
// A consumed librdkafka message as a task's record (task.h): views into the message, which
// stays alive until the task releases it (the RecordOwner destroys it). For the engine's
// loop and `c360 features`, which feed tasks from Kafka.

#include <librdkafka/rdkafka.h>

#include "common/kafka.h"
#include "services/engine/task.h"

namespace c360 {

inline TaskRecord RecordOf(rd_kafka_message_t* msg, InputTopic topic) {
  TaskRecord record;
  record.input.topic = topic;
  if (msg->key != nullptr) {
    record.input.key = std::string_view(static_cast<const char*>(msg->key), msg->key_len);
  }
  if (msg->payload != nullptr) {
    record.input.value = std::string_view(static_cast<const char*>(msg->payload), msg->len);
  }
  record.input.content_type = HeaderValue(msg, "content-type");
  record.input.kafka_timestamp_ms = rd_kafka_message_timestamp(msg, nullptr);
  record.partition = msg->partition;
  record.offset = msg->offset;
  record.handle = msg;
  return record;
}

}  // namespace c360
