#include "services/engine/changelog_reader.h"

#include <chrono>
#include <map>
#include <functional>
#include <string_view>
#include <thread>

#include "common/kafka.h"

namespace c360 {
namespace {

// Unassigns the consumer however the reading ends.
struct Assignment {
  rd_kafka_t* consumer;
  ~Assignment() { rd_kafka_assign(consumer, nullptr); }
};

struct Read {
  std::string_view key;
  std::optional<std::string_view> value;  // nullopt: a tombstone
  std::optional<std::string_view> batch_header;
  int64_t offset;
};

bool OfGroup(const rd_kafka_message_t* msg, const std::string& group) {
  const std::optional<std::string_view> g = HeaderValue(msg, kGroupHeader);
  return g && *g == group;
}

// Calls fn for each record of [from, to) of the partition, in order, until it returns
// false. Reading also ends at the partition's end as the consumer sees it (its partition
// EOF): under read_committed that is the last stable offset, before the aborted records
// and transaction markers that `to`, the high watermark, counts, and before a
// transaction still open. Returns the offset reading stopped at. Throws KafkaError.
int64_t ReadRange(rd_kafka_t* consumer, const std::string& topic, const std::string& group,
                  uint16_t task, int64_t from, int64_t to,
                  std::chrono::steady_clock::time_point deadline,
                  const std::function<bool(const Read&)>& fn) {
  if (from >= to) return from;
  const std::string where = topic + " partition " + std::to_string(task);
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), task)->offset = from;
  rd_kafka_resp_err_t err = rd_kafka_assign(consumer, list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw KafkaError("cannot read " + where + ": " + rd_kafka_err2str(err));
  }
  Assignment assigned{consumer};
  int64_t next = from;
  while (next < to) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw KafkaError("reading " + where + " did not reach offset " + std::to_string(to) +
                       " in time (at " + std::to_string(next) + ")");
    }
    KafkaMessage msg(rd_kafka_consumer_poll(consumer, 100));
    if (!msg) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::max(next, msg->offset);
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw KafkaError("reading " + where + ": " + rd_kafka_message_errstr(msg.get()));
    }
    if (msg->offset < next) continue;  // a fetch from before the assignment settled
    next = msg->offset + 1;
    if (!OfGroup(msg.get(), group)) continue;
    Read r;
    r.offset = msg->offset;
    if (msg->payload != nullptr) {
      r.value = std::string_view(static_cast<const char*>(msg->payload), msg->len);
    }
    if (msg->key != nullptr) {
      r.key = std::string_view(static_cast<const char*>(msg->key), msg->key_len);
    }
    r.batch_header = HeaderValue(msg.get(), changelog::kBatchHeader);
    if (!fn(r)) return next;
  }
  return next;
}

}  // namespace

std::pair<int64_t, int64_t> ChangelogWatermarks(rd_kafka_t* consumer, const std::string& topic,
                                                uint16_t task, int timeout_ms) {
  // A partition just created, or whose leader moves, answers NOT_LEADER or
  // LEADER_NOT_AVAILABLE for a moment: asked again until the time is up.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int64_t low = 0;
    int64_t high = 0;
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(consumer, topic.c_str(), task, &low, &high, timeout_ms);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {low, high};
    const bool transient = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                           err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                           err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (!transient || std::chrono::steady_clock::now() >= deadline) {
      throw KafkaError("cannot read the ends of " + topic + " partition " + std::to_string(task) +
                       ": " + rd_kafka_err2str(err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

ChangelogRestore RestoreFromChangelog(rd_kafka_t* consumer, const std::string& topic,
                                      const std::string& group, uint16_t task, int64_t from_offset,
                                      int64_t high, changelog::BatchId local,
                                      const std::set<changelog::BatchId>& excluded,
                                      StateStore* store, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string where = topic + " partition " + std::to_string(task);
  changelog::Restorer restorer(task, local, excluded);
  ChangelogRestore result;
  result.applied = local;
  const std::string marker_key = changelog::MarkerKey(task);
  std::map<changelog::BatchId, int64_t> marker_offsets;  // of the batches read
  result.resume_offset = from_offset;
  const auto apply_ready = [&] {
    for (changelog::Batch& batch : restorer.TakeReady()) {
      if (auto error = store->ApplyChangelog(task, batch)) {
        throw StateError("cannot apply batch " + std::to_string(batch.id.epoch) + "." +
                         std::to_string(batch.id.sequence) + " of " + where + ": " + *error);
      }
      result.applied = batch.id;
      result.marker = std::move(batch.marker);
      ++result.batches_applied;
      if (auto it = marker_offsets.find(batch.id); it != marker_offsets.end()) {
        result.resume_offset = std::max(result.resume_offset, it->second + 1);
      }
    }
  };
  const int64_t end =
      ReadRange(consumer, topic, group, task, from_offset, high, deadline, [&](const Read& r) {
        ++result.records_read;
        if (auto error = restorer.Add(r.key, r.value, r.batch_header)) {
          throw StateError(where + " offset " + std::to_string(r.offset) + ": " + *error);
        }
        if (r.key == marker_key) {  // Add checked its header
          const changelog::BatchHeader h = *changelog::DecodeBatchHeader(*r.batch_header);
          result.max_epoch = std::max(result.max_epoch, h.id.epoch);
          marker_offsets[h.id] = r.offset;
          if (h.id == local) {
            result.local_seen = true;
            if (result.batches_applied == 0) result.resume_offset = r.offset + 1;
          }
        }
        apply_ready();
        return !restorer.conflict();
      });
  if (!restorer.conflict()) {
    restorer.Finish();
    apply_ready();
  }
  result.next_offset = std::max(end, from_offset);
  result.conflict = restorer.conflict();
  result.superseded = restorer.superseded();
  result.gap = restorer.gap();
  return result;
}

std::optional<state::v1::ChangelogMarker> LastChangelogMarker(rd_kafka_t* consumer,
                                                              const std::string& topic,
                                                              const std::string& group,
                                                              uint16_t task, int64_t low,
                                                              int64_t high, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string marker_key = changelog::MarkerKey(task);
  int64_t window = 64;
  int64_t end = high;
  while (end > low) {
    const int64_t from = std::max(low, end - window);
    std::optional<state::v1::ChangelogMarker> best;
    ReadRange(consumer, topic, group, task, from, end, deadline, [&](const Read& r) {
      state::v1::ChangelogMarker m;
      if (r.key == marker_key && r.value &&
          m.ParseFromArray(r.value->data(), static_cast<int>(r.value->size())) &&
          (!best || std::make_pair(m.epoch(), m.sequence()) >
                        std::make_pair(best->epoch(), best->sequence()))) {
        best = std::move(m);
      }
      return true;
    });
    if (best) return best;
    end = from;
    window *= 8;
  }
  return std::nullopt;
}

}  // namespace c360
