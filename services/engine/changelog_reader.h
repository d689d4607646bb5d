#pragma once
// Reading a task's changelog partition (SPEC 6.4, state/changelog.h): restoring its state
// (each whole batch a Restorer releases applied to the state store as it comes), and
// finding the partition's latest commit marker. The consumer is assigned the one
// partition while a call runs, outside any group. Not thread-safe; the consumer and the
// store are the caller's.

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "state/changelog.h"
#include "state/store.h"

namespace c360 {

struct ChangelogRestore {
  changelog::BatchId applied;                        // the batch the task's state now ends with
  std::optional<state::v1::ChangelogMarker> marker;  // that batch's marker, if one was applied
  int64_t next_offset = 0;                           // where reading stopped
  // Where the next read of the partition starts, not to miss a batch that was incomplete
  // when this one ended: after the marker of the batch the state now ends with (applied,
  // or the local batch if its marker was read), else from_offset.
  int64_t resume_offset = 0;
  int64_t records_read = 0;
  int64_t batches_applied = 0;
  uint64_t max_epoch = 0;   // the highest epoch of a marker read
  bool local_seen = false;  // the marker of the `local` batch was read
  // What the Restorer found (see there): the caller restores again from a checkpoint.
  bool conflict = false;
  std::set<changelog::BatchId> superseded;
  bool gap = false;
};

// The header naming the consumer group (the application) whose engines wrote a changelog
// record: several groups may share the topic, and each reads only its own records.
inline constexpr char kGroupHeader[] = "c360-group";

// Reads partition `task` of `topic` from `from_offset` (or the oldest offset the broker
// still has) to `high`, the partition's end as the caller saw it, starting from the local
// state's `local` batch; records of groups other than `group` are skipped. Throws KafkaError when
// Kafka fails or `high` is not reached within timeout_ms, StateError when a record is not the
// task's changelog or the store fails. Stops early at a conflict.
ChangelogRestore RestoreFromChangelog(rd_kafka_t* consumer, const std::string& topic,
                                      const std::string& group, uint16_t task, int64_t from_offset,
                                      int64_t high, changelog::BatchId local,
                                      const std::set<changelog::BatchId>& excluded,
                                      StateStore* store, int timeout_ms);

// The partition's oldest and next offsets. Throws KafkaError.
std::pair<int64_t, int64_t> ChangelogWatermarks(rd_kafka_t* consumer, const std::string& topic,
                                                uint16_t task, int timeout_ms);

// Of the markers near the end of [low, high), the one of the highest (epoch, sequence):
// read backwards in growing windows until one is found. Throws KafkaError.
std::optional<state::v1::ChangelogMarker> LastChangelogMarker(rd_kafka_t* consumer,
                                                              const std::string& topic,
                                                              const std::string& group,
                                                              uint16_t task, int64_t low,
                                                              int64_t high, int timeout_ms);

}  // namespace c360
