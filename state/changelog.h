#pragma once
// A task's changelog (SPEC 6.4): how its records are named, and how a restore decides
// which of them to apply. Pure: no Kafka, no RocksDB; not thread-safe.
//
// Partition p of the changelog topic carries task p's commits, each a batch: the state
// records the commit wrote (key: the RocksDB key, value: its bytes, or a tombstone for a
// delete), then a commit marker (key MarkerKey(p), value ChangelogMarker). Every record
// names its batch in the `c360-batch` header: (epoch, sequence) and whether the batch is
// a checkpoint (the task's whole state) or a delta. A marker names the batch it follows
// (prev), so that the valid history is a chain of batches.
//
// Why a chain and not simply "every batch with its marker, in partition order": without
// transactions, a writer that lost the task (a zombie: frozen past its session, then
// resumed) may still have records in its producer's queue, and they may land after the
// new owner's. The new owner writes in a higher epoch and its first batch names the batch
// it restored as prev. The Restorer applies:
//   - a batch only once its marker has arrived and every record it announces with it;
//   - only batches that continue the chain from what is applied (prev == applied);
//   - of two batches that continue the same one, the one of the higher epoch: a delta is
//     applied once a later marker confirms it (names it as prev) and no sibling of a
//     higher epoch is known; the last batch of the partition at Finish();
//   - checkpoints only as the base of a restore from nothing.
// A batch applied before a higher-epoch sibling turned up (a zombie's batch that landed
// before the owner's first marker, itself confirmed by a second zombie batch) is a
// conflict: the restore starts again with the superseded batches excluded.

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "state/state.pb.h"

namespace c360::changelog {

struct BatchId {
  uint64_t epoch = 0;
  uint64_t sequence = 0;
  auto operator<=>(const BatchId&) const = default;
  bool none() const { return epoch == 0 && sequence == 0; }
};

inline constexpr char kBatchHeader[] = "c360-batch";

// The `c360-batch` header's value: epoch and sequence as big-endian u64, then 0 for a
// delta, 1 for a checkpoint.
std::string EncodeBatchHeader(BatchId id, bool checkpoint);
struct BatchHeader {
  BatchId id;
  bool checkpoint = false;
};
std::optional<BatchHeader> DecodeBatchHeader(std::string_view value);

std::string MarkerKey(uint16_t task);

// One state record of a batch: a put, or a delete when value is empty.
struct Record {
  std::string key;
  std::optional<std::string> value;
};

// A batch the restore applies, whole, in this order.
struct Batch {
  BatchId id;
  state::v1::ChangelogMarker marker;
  bool checkpoint = false;  // replace the task's state with these records
  std::vector<Record> records;
};

// One message for the changelog topic (partition = the task).
struct Message {
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
  std::string batch_header;          // the c360-batch header's value
};
// A batch as the writer sends it: its records, then its marker. `marker` comes with what
// the caller knows (offsets, stream time, owner); its batch fields are set here.
std::vector<Message> BatchMessages(uint16_t task, BatchId id, BatchId prev, bool checkpoint,
                                   std::vector<Record> records, state::v1::ChangelogMarker marker);

class Restorer {
 public:
  // `applied`: the batch the local state of the task ends with (none: no local state, a
  // restore from a checkpoint). `excluded`: batches a conflict superseded (see above).
  Restorer(uint16_t task, BatchId applied, std::set<BatchId> excluded = {});

  // The next record of the task's changelog partition, in offset order (value nullopt: a
  // tombstone; batch: its c360-batch header). Returns an error, and changes nothing, for
  // a record that is not the task's changelog (another task's key, no or a bad header, a
  // marker that does not parse).
  std::optional<std::string> Add(std::string_view key, std::optional<std::string_view> value,
                                 std::optional<std::string_view> batch_header);
  // The end of the partition as read (caught up): the last batch of the chain is applied
  // too, unconfirmed.
  void Finish();

  // Batches to apply, oldest first, moved out.
  std::vector<Batch> TakeReady();
  BatchId applied() const { return applied_; }
  // A batch already applied was superseded by a higher-epoch sibling: restore again from
  // the start, excluding superseded().
  bool conflict() const { return conflict_; }
  const std::set<BatchId>& superseded() const { return superseded_; }
  // Finish() found batches, but none that continues what is applied: the changelog does
  // not hold the successor of the local state (its retention dropped it) and the task
  // must be restored from a checkpoint instead.
  bool gap() const { return gap_; }

 private:
  struct Pending {
    Batch batch;
    bool has_marker = false;
    bool broken = false;     // fewer or more records than its marker announces
    bool confirmed = false;  // a later marker names it as prev
  };
  BatchId PrevOf(const Pending& p) const {
    return {p.batch.marker.prev_epoch(), p.batch.marker.prev_sequence()};
  }
  bool Applicable(const Pending& p) const;
  void Apply(std::map<BatchId, Pending>::iterator it, bool checkpoint);
  void Advance(bool finishing);

  const uint16_t task_;
  BatchId applied_;
  std::set<BatchId> excluded_;
  std::map<BatchId, Pending> pending_;      // deltas by id
  std::map<BatchId, Pending> checkpoints_;  // by the id whose state they hold
  // The highest epoch of a marker naming each batch as prev.
  std::map<BatchId, uint64_t> child_epoch_;
  std::set<BatchId> confirmed_;         // named as prev by a marker
  std::vector<BatchId> applied_chain_;  // applied by this restore, in order
  std::vector<Batch> ready_;
  bool base_applied_ = false;  // a checkpoint or a delta has been applied
  bool conflict_ = false;
  bool gap_ = false;
  std::set<BatchId> superseded_;
};

}  // namespace c360::changelog
