#pragma once
// The engine's RocksDB state, per task (SPEC sections 2 and 6): customers, consumed
// offsets, stream time, timers and the outbox, under the key families of state/keys.h
// (docs/state.md). One column family, keys prefixed by family and task.
//
// Guarantee: a StateBatch is applied atomically by Commit() (one RocksDB WriteBatch, WAL
// on, no fsync per batch), so after a crash state, offsets, timers and outbox are all of
// the same batch. Reads and Commit() may run on different threads (RocksDB is
// thread-safe); StateBatch itself is not.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "scoring/customer_state.h"
#include "state/changelog.h"
#include "state/keys.h"
#include "state/state_dir.h"
#include "state/state.pb.h"
#include "state/write_stalls.h"

namespace c360 {

class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The state directory is not one this c360 may use as it is (another format, a directory
// that is not c360's, topics that no longer fit the stored tasks): a refusal at start-up,
// with what to do in the message, not a failure of the state. Nothing was written.
class StateDirectoryError : public StateError {
 public:
  using StateError::StateError;
};

// A list row a commit wrote (row set) or deleted, for the API's in-memory row index
// (services/api/row_index.h).
struct RowChange {
  uint16_t task = 0;
  std::string customer_id;
  std::optional<state::v1::CustomerRow> row;
};

class StateBatch {
 public:
  void PutCustomer(uint16_t task, const CustomerState& customer);
  void PutOffset(uint16_t task, uint8_t topic_id, int64_t next_offset);
  void PutTask(uint16_t task, const state::v1::Task& meta);
  // What the store knows of the task's changelog (store-wide family M: never in the
  // changelog itself).
  void PutChangelogChain(uint16_t task, const state::v1::ChangelogChain& chain);
  void PutOutbox(uint16_t task, uint64_t sequence, const state::v1::OutboxEntry& entry);
  void DeleteOutbox(uint16_t task, uint64_t sequence);
  void PutTimer(const state::TimerKey& timer);
  void DeleteTimer(const state::TimerKey& timer);
  void PutJournal(uint16_t task, std::string_view customer_id, uint64_t sequence,
                  const state::v1::JournalEntry& entry);
  void DeleteJournal(uint16_t task, std::string_view customer_id, uint64_t sequence);
  // A closed month of the customer's daily scores (CustomerState::TakeDailyFlush), or its
  // removal.
  void PutDaily(uint16_t task, std::string_view customer_id, int32_t month,
                const std::vector<DailyScore>& entries);
  void DeleteDaily(uint16_t task, std::string_view customer_id, int32_t month);
  // The customer's list row (its profile and last published scores), or its removal.
  // The customer's list row (state.proto CustomerRow) as of UTC day `day`, written unless
  // its bytes hash to *hash (then false); *hash becomes theirs. `out`, if given, gets the row.
  bool PutRow(uint16_t task, CustomerState& customer, int32_t day, uint32_t* hash = nullptr,
              state::v1::CustomerRow* out = nullptr);
  void DeleteRow(uint16_t task, std::string_view customer_id);

  // The batch's records of each task, in the batch's order (every key but the store-wide
  // family M): what a commit appends to each task's changelog partition (SPEC 6.4).
  std::map<uint16_t, std::vector<changelog::Record>> RecordsByTask() const;

  size_t count() const { return static_cast<size_t>(batch_.Count()); }
  // Empties the batch for reuse (its buffers stay allocated).
  void Clear() { batch_.Clear(); }
  size_t bytes() const { return batch_.GetDataSize(); }
  rocksdb::WriteBatch* raw() { return &batch_; }

 private:
  rocksdb::WriteBatch batch_;
  std::string scratch_;
  state::v1::CustomerRow row_scratch_;
  state::v1::DailyScores daily_scratch_;
};

class StateStore;

// A consistent read-only view of the state as of one commit (a RocksDB snapshot): what
// readers beside the processing thread use (the HTTP API), so that a customer, its
// journal and its task's stream time agree. Cheap to take; release it soon (it pins the
// versions it sees). Thread-safe; the store must outlive it.
class StateView {
 public:
  ~StateView();
  StateView(const StateView&) = delete;
  StateView& operator=(const StateView&) = delete;

  std::optional<state::v1::Task> LoadTask(uint16_t task) const;
  bool LoadCustomer(uint16_t task, std::string_view customer_id, CustomerState* out) const;
  // Every customer of the task in customer_id order, as stored bytes (CustomerCodec).
  void ForEachCustomer(
      uint16_t task,
      const std::function<void(std::string_view id, std::string_view value)>& fn) const;
  // Every customer's list row of the task, in customer_id order.
  void ForEachRow(
      uint16_t task,
      const std::function<void(std::string_view id, const state::v1::CustomerRow& row)>& fn) const;
  // Every stored record of the task, family by family in key order: the whole state a
  // changelog checkpoint carries (SPEC 6.4), as of this view's commit.
  void ForEachTaskRecord(
      uint16_t task,
      const std::function<void(std::string_view key, std::string_view value)>& fn) const;
  // The customer's journal entries, oldest first.
  std::vector<state::v1::JournalEntry> Journal(uint16_t task, std::string_view customer_id) const;
  // The entries of the customer's stored months of daily scores, ascending day (see
  // CustomerState::FoldDailyHistory).
  std::vector<DailyScore> DailyHistory(uint16_t task, std::string_view customer_id) const;

 private:
  friend class StateStore;
  StateView(const StateStore* store, const rocksdb::Snapshot* snapshot)
      : store_(store), snapshot_(snapshot) {}
  const StateStore* store_;
  const rocksdb::Snapshot* snapshot_;
};

class StateStore {
 public:
  // Opens the state directory, creating it if missing or empty; refuses (throws
  // StateDirectoryError, before RocksDB opens it) a directory that is not c360's or has
  // another format (state/state_dir.h). Throws StateError when it cannot be opened.
  // `tune` changes RocksDB's options before it opens (tests: stall triggers, filters).
  static std::unique_ptr<StateStore> Open(const std::string& dir,
                                          const std::function<void(rocksdb::Options&)>& tune = {});
  // Opens for reading only, beside a running engine (tools, tests). Throws StateError.
  static std::unique_ptr<StateStore> OpenReadOnly(const std::string& dir);
  // Every task with stored state.
  std::vector<uint16_t> Tasks() const;
  ~StateStore();
  // How Open() found the directory: created, marked already, or adopted.
  StateDirOrigin origin() const { return origin_; }

  // The input topics' partition count the state was built for (task p is partition p of
  // every input topic, SPEC section 2), if stored. Throws StateError on unreadable state.
  std::optional<int> LoadInputPartitions() const;
  // Stores it (written at once, outside any batch); the RocksDB status text on failure.
  [[nodiscard]] std::optional<std::string> SaveInputPartitions(int count);

  // Applies the batch atomically; returns the RocksDB status text on failure.
  [[nodiscard]] std::optional<std::string> Commit(StateBatch* batch);
  // Applies one batch restored from the task's changelog, atomically: a checkpoint
  // replaces every key of the task, a delta puts and deletes its records. Returns the
  // RocksDB status text on failure, or what is wrong with a record (not the task's).
  // The store's ChangelogChain of the task moves to the batch in the same write (its
  // confirmed position is kept).
  [[nodiscard]] std::optional<std::string> ApplyChangelog(uint16_t task,
                                                          const changelog::Batch& batch);
  // Deletes every key of the task and its ChangelogChain, atomically (a restore from
  // nothing). The RocksDB status text on failure.
  [[nodiscard]] std::optional<std::string> DropTask(uint16_t task);
  // The task's ChangelogChain (empty if none stored). Throws StateError.
  state::v1::ChangelogChain LoadChangelogChain(uint16_t task) const;
  // Writes it at once, outside any batch. The RocksDB status text on failure.
  [[nodiscard]] std::optional<std::string> SaveChangelogChain(
      uint16_t task, const state::v1::ChangelogChain& chain);

  std::optional<int64_t> LoadOffset(uint16_t task, uint8_t topic_id) const;
  std::optional<state::v1::Task> LoadTask(uint16_t task) const;
  // False if the customer has no stored state. Throws StateError on a failed read or a
  // stored value that does not decode, naming the customer (C360_FAIL_POINT=read:N makes
  // the N-th and later reads fail as an I/O error would).
  bool LoadCustomer(uint16_t task, std::string_view customer_id, CustomerState* out) const;
  void ForEachCustomer(
      uint16_t task,
      const std::function<void(const std::string& id, std::string_view value)>& fn) const;
  // Up to `limit` customer ids of the task greater than `after` ("" = from the first), in
  // order, without reading their values.
  std::vector<std::string> CustomerIdsAfter(uint16_t task, const std::string& after,
                                            size_t limit) const;
  void ForEachTimer(uint16_t task, const std::function<void(const state::TimerKey&)>& fn) const;
  void ForEachOutbox(
      uint16_t task,
      const std::function<void(uint64_t seq, const state::v1::OutboxEntry&)>& fn) const;

  // A snapshot view of the state as of the last commit.
  std::unique_ptr<StateView> View() const;

  // Figures for metrics. Live data: SST files' live data plus the memtables (state not
  // flushed yet is state too).
  uint64_t LiveDataBytes() const;
  uint64_t PendingCompactionBytes() const;
  uint64_t BlockCacheBytes() const;
  // Reads RocksDB's write condition now (state/write_stalls.h) and returns the stalls so
  // far. Called by one thread (the engine's metrics update).
  const WriteStalls& SampleWriteStalls();
  // The file system holding the state directory: bytes free to this process, and its size
  // (0 and 0 when it cannot be read).
  struct Disk {
    uint64_t free_bytes = 0;
    uint64_t capacity_bytes = 0;
  };
  Disk DiskSpace() const;

 private:
  friend class StateView;
  StateStore(std::unique_ptr<rocksdb::DB> db, StateDirOrigin origin, std::string dir)
      : db_(std::move(db)), origin_(origin), dir_(std::move(dir)) {}
  void ScanPrefix(const std::string& prefix,
                  const std::function<void(std::string_view key, std::string_view value)>& fn,
                  const rocksdb::Snapshot* snapshot = nullptr) const;
  std::optional<state::v1::Task> LoadTaskAt(uint16_t task, const rocksdb::Snapshot* snapshot) const;
  bool LoadCustomerAt(uint16_t task, std::string_view customer_id, CustomerState* out,
                      const rocksdb::Snapshot* snapshot) const;

  std::unique_ptr<rocksdb::DB> db_;
  StateDirOrigin origin_;
  std::string dir_;
  WriteStalls stalls_;
};

}  // namespace c360
