#pragma once
// Restoring a task's state from its changelog partition (SPEC 6.4, state/changelog.h):
// read with a consumer outside the group, handed to a Restorer, and each whole batch it
// releases applied to the state store as it comes. Not thread-safe; the consumer and the
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
  int64_t records_read = 0;
  int64_t batches_applied = 0;
  // What the Restorer found (see there): the caller restores again from a checkpoint.
  bool conflict = false;
  std::set<changelog::BatchId> superseded;
  bool gap = false;
};

// Reads partition `task` of `topic` from `from_offset` (or the oldest offset the broker
// still has) to the partition's end as of the call, starting from the local state's
// `local` batch; `consumer` is assigned that partition alone while this runs. Throws
// KafkaError when Kafka fails or the end is not reached within timeout_ms, StateError when
// a record is not the task's changelog or the store fails. Stops early at a conflict.
ChangelogRestore RestoreFromChangelog(rd_kafka_t* consumer, const std::string& topic, uint16_t task,
                                      int64_t from_offset, changelog::BatchId local,
                                      const std::set<changelog::BatchId>& excluded,
                                      StateStore* store, int timeout_ms);

}  // namespace c360
