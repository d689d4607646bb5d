#include "services/engine/changelog_reader.h"

#include <chrono>
#include <string_view>

#include "common/kafka.h"

namespace c360 {
namespace {

// Unassigns the consumer however the restore ends.
struct Assignment {
  rd_kafka_t* consumer;
  ~Assignment() { rd_kafka_assign(consumer, nullptr); }
};

}  // namespace

ChangelogRestore RestoreFromChangelog(rd_kafka_t* consumer, const std::string& topic, uint16_t task,
                                      int64_t from_offset, changelog::BatchId local,
                                      const std::set<changelog::BatchId>& excluded,
                                      StateStore* store, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string where = topic + " partition " + std::to_string(task);
  int64_t low = 0;
  int64_t high = 0;
  rd_kafka_resp_err_t err =
      rd_kafka_query_watermark_offsets(consumer, topic.c_str(), task, &low, &high, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError("cannot read the end of " + where + ": " + rd_kafka_err2str(err));
  }
  changelog::Restorer restorer(task, local, excluded);
  ChangelogRestore result;
  result.applied = local;
  const auto apply_ready = [&] {
    for (changelog::Batch& batch : restorer.TakeReady()) {
      if (auto error = store->ApplyChangelog(task, batch)) {
        throw StateError("cannot apply batch " + std::to_string(batch.id.epoch) + "." +
                         std::to_string(batch.id.sequence) + " of " + where + ": " + *error);
      }
      result.applied = batch.id;
      result.marker = std::move(batch.marker);
      ++result.batches_applied;
    }
  };
  int64_t next = std::max(from_offset, low);
  if (next < high) {
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), task)->offset = next;
    err = rd_kafka_assign(consumer, list.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw KafkaError("cannot read " + where + ": " + rd_kafka_err2str(err));
    }
    Assignment assigned{consumer};
    while (next < high && !restorer.conflict()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        throw KafkaError("restoring from " + where + " did not reach offset " +
                         std::to_string(high) + " within " + std::to_string(timeout_ms) +
                         " ms (at " + std::to_string(next) + ")");
      }
      KafkaMessage msg(rd_kafka_consumer_poll(consumer, 100));
      if (!msg) continue;
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw KafkaError("reading " + where + ": " + rd_kafka_message_errstr(msg.get()));
      }
      next = msg->offset + 1;
      ++result.records_read;
      std::optional<std::string_view> value;
      if (msg->payload != nullptr) {
        value = std::string_view(static_cast<const char*>(msg->payload), msg->len);
      }
      const std::string_view key =
          msg->key != nullptr ? std::string_view(static_cast<const char*>(msg->key), msg->key_len)
                              : std::string_view();
      if (auto error = restorer.Add(key, value, HeaderValue(msg.get(), changelog::kBatchHeader))) {
        throw StateError(where + " offset " + std::to_string(msg->offset) + ": " + *error);
      }
      apply_ready();
    }
  }
  if (!restorer.conflict()) {
    restorer.Finish();
    apply_ready();
  }
  result.next_offset = next;
  result.conflict = restorer.conflict();
  result.superseded = restorer.superseded();
  result.gap = restorer.gap();
  return result;
}

}  // namespace c360
