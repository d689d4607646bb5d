#pragma once
// One task (SPEC section 2): partition p of every input topic, the customers keyed to it,
// its stream time T and its timers. Records go in through Buffer(); Process() applies them
// in the SPEC's order; Drain() hands the resulting state changes and outbox entries to the
// commit. No Kafka here: records arrive as views owned by a RecordOwner. Stored state is
// read from the StateStore given to Restore(): the task's meta data and timers at once,
// customers when first needed (a bounded write-back cache; Evict() trims it after a
// commit, so only clean customers leave memory).
//
// The per-record path (Process -> ApplyHead -> Rescore) reads top to bottom in task.cc;
// the customer cache and the day sweep are in task_customers.cc, the timers in
// task_timers.cc, the outputs, dead letters, journal and the drain into a commit in
// task_outputs.cc. Not thread-safe: one thread at a time drives a task (the engine's
// processing threads take different tasks, engine.threads).

#include <cstdint>
#include <array>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/bucket_counts.h"
#include "common/clock.h"
#include "common/flat_table.h"
#include "scoring/config.h"
#include "scoring/customer_state.h"
#include "scoring/kpis.h"
#include "scoring/rules.h"
#include "scoring/scores.h"
#include "services/engine/decode/decoder.h"
#include "services/engine/output.h"
#include "services/engine/stats.h"
#include "state/keys.h"
#include "state/state.pb.h"
#include "state/store.h"

namespace c360 {

// Owner of the bytes behind a buffered record (the engine's librdkafka messages).
class RecordOwner {
 public:
  virtual ~RecordOwner() = default;
  virtual void Release(void* handle) = 0;
  // The record's headers, for its dead letter.
  virtual void CopyHeaders(void* handle, state::v1::OutboxEntry* entry) = 0;
};

struct TaskRecord {
  InputRecord input;  // views into the owner's message
  int32_t partition = 0;
  int64_t offset = 0;
  void* handle = nullptr;
};

// What a task's commit carries: the outbox entries it added, in order.
struct PublishItem {
  uint16_t task;
  uint64_t sequence;
  state::v1::OutboxEntry entry;
};

// Counters the engine exports as metrics.
struct TaskCounters {
  int64_t applied = 0;
  // By input topic (InputTopic's value) and reason.
  int64_t deadlettered[kInputTopicCount][kDeadLetterReasonCount] = {};
  int64_t alerts = 0;
  int64_t snapshots = 0;
  int64_t timers_fired = 0;
  int64_t timers_fired_by_kind[kTimerKindCount] = {};  // response, resolution, invoice due
  int64_t rescored_on_day_change = 0;
  int64_t cache_hits = 0;        // customer found in memory
  int64_t cache_misses = 0;      // customer read from RocksDB (or new)
  int64_t users_over_limit = 0;  // usage events whose new user was not counted (SPEC 6.1)
  // Re-scores where the shadow model's risk level differs from the live one (SPEC 10).
  int64_t shadow_level_disagreements = 0;
};

class Task {
 public:
  Task(uint16_t id, const Config& config, const Clock& clock, OutputFormat format,
       RecordOwner* owner);
  ~Task();

  // Loads the task's stored state: stream time, customers, timers, offsets. The
  // returned offsets (next to read, by topic) are where consumption resumes.
  void Restore(const StateStore& store);
  // Drops clean customers from memory, least recently used first, down to `keep`.
  void Evict(size_t keep);
  std::optional<int64_t> resume_offset(InputTopic topic) const {
    return partitions_[static_cast<int>(topic)].next_offset;
  }

  // A consumed record (profiles are applied at once, events are buffered for the merge).
  void Buffer(const TaskRecord& record);
  // The partition of `topic` has no more records now (librdkafka's partition EOF).
  void MarkAtEnd(InputTopic topic);

  // Applies buffered records in the SPEC's order until the merge must wait for data or
  // `budget` records have been applied. Returns how many were applied.
  int Process(int budget);
  // Moves stream time to `t` without a record (wall clock mode), firing timers.
  void AdvanceTime(TimeMs t);
  // Continues the day-change re-score in progress over up to `budget` customers, in
  // customer_id order (docs/time.md). Call it right after a commit, so that every customer
  // is in the store. Returns how many customers it visited.
  size_t SweepStep(size_t budget);
  bool sweep_pending() const { return sweep_pending_; }
  // True when every partition's buffer is empty and at its end.
  bool CaughtUp() const;
  // True when some partition holds records not applied yet.
  bool HasBuffered() const {
    for (const Partition& p : partitions_) {
      if (!p.records.empty()) return true;
    }
    return false;
  }
  // True while a max_task_idle_ms wait runs: records wait for a drained partition until a
  // deadline (the engine's loop then wakes at least every millisecond).
  bool IdleWaitPending() const {
    for (const Partition& p : partitions_) {
      if (p.idle_deadline != kNoTime) return true;
    }
    return false;
  }
  // True once CaughtUp() has been seen since the task was created (readiness).
  bool CaughtUpOnce() {
    if (!caught_up_once_ && CaughtUp()) caught_up_once_ = true;
    return caught_up_once_;
  }

  // Adds the changes since the last Drain() to *batch, the new outbox entries to *publish
  // and the list rows it writes or deletes to *rows; assigns outbox sequence numbers.
  void Drain(StateBatch* batch, std::vector<PublishItem>* publish,
             std::vector<RowChange>* rows = nullptr);
  // Outbox entries found in the store at Restore(), to publish again.
  std::vector<PublishItem> TakeRestoredOutbox() { return std::move(restored_outbox_); }
  // Outputs made since the last Drain(): not committed yet.
  size_t uncommitted_outputs() const { return outbox_.size(); }

  uint16_t id() const { return id_; }
  TimeMs stream_time() const { return stream_time_; }
  const TaskCounters& counters() const { return counters_; }
  // Seconds each applied record took (decode, apply, re-score, rules), since the owner
  // last cleared it.
  BucketCounts& processing_times() { return processing_times_; }
  // |shadow risk - live risk| of each re-score with a shadow model, since last cleared.
  BucketCounts& shadow_diffs() { return shadow_diffs_; }
  // The task's customers by current status, indexed by v1::HealthSnapshot::Status.
  const int64_t* status_counts() const { return status_counts_; }
  size_t customer_count() const { return customers_.size(); }
  size_t timer_count() const { return timers_.size(); }
  // Journal entries kept per customer (the oldest are deleted as new ones come).
  static constexpr uint64_t kJournalKept = 200;
  // Read-only view of one customer (tests, API).
  const CustomerState* customer(const std::string& id) const;

  // `c360 features` (SPEC section 10): called with each day that stream time is about to
  // leave (every day from the old stream time's to the one before the new), once that
  // day's re-score sweep is done and before the timers between the two times fire.
  void set_day_end_hook(std::function<void(int32_t day)> hook) { day_end_hook_ = std::move(hook); }
  // Each customer in memory (all of them, for a task given no store) that exists, in
  // customer_id order: its KPIs and the formula's scores at `at`, deadlines up to `at`
  // passed, as a re-score at `at` would compute them. Publishes and records nothing.
  void ScoreEachAt(
      TimeMs at,
      const std::function<void(const CustomerState&, const CoreKpis&, const Scores&)>& visit);

 private:
  // Timer kinds (Timer::kind).
  static constexpr uint8_t kResponseTimer = 0;
  static constexpr uint8_t kResolutionTimer = 1;
  static constexpr uint8_t kInvoiceTimer = 2;
  struct Timer {
    TimeMs deadline;
    std::string customer_id;
    std::string entity_id;
    uint8_t kind;  // 0 response, 1 resolution, 2 invoice due
    auto operator<=>(const Timer&) const = default;
  };
  struct TimerView {
    TimeMs deadline;
    const std::string* entity;
    uint8_t kind;
  };
  static constexpr uint32_t kRowAbsent = 0;
  static constexpr uint32_t kRowUnknown = 1;
  struct Entry {
    CustomerState state;
    // Cached (kpis.h) for a customer with tickets, invoices, campaigns or ratings; null
    // for the others, whose entity KPIs cost nothing to compute (entity_scratch_).
    std::unique_ptr<EntityKpis> entity_kpis;
    uint64_t last_used = 0;     // for eviction
    std::vector<Timer> timers;  // this customer's pending timers, sorted
    bool dirty = false;
    // Hash of its list row as last written (StateBatch::PutRow): kRowUnknown until the
    // first commit after loading, kRowAbsent once deleted.
    uint32_t row_hash = kRowUnknown;
  };
  // What a re-score is caused by, for the journal's "why did the score change".
  enum class CauseKind { kEvent, kTimer, kDayChange, kProfile };
  // A re-score's cause, handed down as one value: the record (or deadline, or day) its
  // outputs name, the Kafka timestamp their latency counts from, and what the journal says.
  struct Cause {
    AlertCause alert;
    TimeMs kafka_ts = -1;
    CauseKind kind = CauseKind::kEvent;
    InputTopic topic = InputTopic::kUsage;  // kEvent, kProfile: whose decoder holds it
    const Timer* timer = nullptr;           // kTimer
    bool tombstone = false;                 // kProfile
  };
  struct JournalItem {
    std::string customer_id;
    uint64_t sequence;
    state::v1::JournalEntry entry;
  };
  struct AlertHourCounts {
    int64_t hour = std::numeric_limits<int64_t>::min();
    std::array<int32_t, kRuleCount> by_rule{};
  };
  struct Partition {
    std::deque<TaskRecord> records;
    Decoder decoder;  // holds the decoded head
    bool head_decoded = false;
    DecodeResult head;
    bool at_end = false;
    TimeMs idle_deadline = kNoTime;  // max_task_idle_ms: how long it is waited for (IdleWaitOver)
    std::optional<int64_t> next_offset;  // next offset to read (stored / applied)
    bool offset_dirty = false;
  };

  Partition& partition(InputTopic topic) { return partitions_[static_cast<int>(topic)]; }
  void DecodeHead(Partition& p);
  bool IdleWaitOver();
  void ApplyHead(InputTopic topic);
  // The invalid_value dead letter of a ticket or invoice event that would take its
  // customer past limits.open_entities_per_customer (SPEC 6.1), if it would.
  std::optional<struct DeadLetter> CheckOpenEntities(InputTopic topic, const Decoder& decoded);
  void ApplyProfile(const TaskRecord& record);
  void Advance(TimeMs t, const Cause& cause);
  Entry& CustomerEntry(const std::string& customer_id);
  // sync_timers: the record may have changed the customer's deadlines (a ticket or invoice
  // event, a timer); other re-scores leave them as they are.
  void Rescore(Entry& entry, TimeMs at, TimeMs horizon, const Cause& cause, bool sync_timers);
  void MarkDirty(Entry& entry);
  // An output of a re-score; its latency counts from kafka_ts.
  state::v1::OutboxEntry NewOutput(const std::string& topic, const std::string& key,
                                   const google::protobuf::Message& value, TimeMs kafka_ts);
  void SyncTimers(Entry& entry);
  void WantedTimers(const Entry& entry);  // into timer_scratch_
  void DeadLetter(const TaskRecord& record, const struct DeadLetter& verdict);
  void AddOutbox(state::v1::OutboxEntry entry);
  // Journal entries of a re-score (status change, alerts), with the cause described.
  void Journal(CustomerState& s, state::v1::JournalEntry entry, const Cause& cause);
  std::string DescribeCause(const Cause& cause) const;
  void CountAlertHour(TimeMs at, v1::AlertEvent::Rule rule);
  void Consumed(InputTopic topic, const TaskRecord& record);

  // The customer's entry with its pending day-change re-score done: what every record,
  // timer and profile goes through.
  Entry& Touch(const std::string& customer_id);
  void DayRescore(Entry& entry);
  void FinishSweep() { SweepStep(static_cast<size_t>(-1)); }

  const uint16_t id_;
  const Config& config_;
  const Clock& clock_;
  const OutputFormat format_;
  RecordOwner* const owner_;

  const StateStore* store_ = nullptr;  // set by Restore(); null: nothing stored
  uint64_t use_clock_ = 0;
  TimeMs stream_time_ = kNoTime;
  bool task_dirty_ = false;
  // The day-change re-score in progress: every customer whose rescored_day is before
  // sweep_day_ is re-scored at sweep_time_, caused by sweep_cause_.
  bool sweep_pending_ = false;
  int32_t sweep_day_ = kNoDay;
  TimeMs sweep_time_ = kNoTime;
  std::string sweep_cursor_;
  std::string sweep_topic_;       // what sweep_cause_.alert.source_topic views
  Cause sweep_cause_;             // kDayChange: the record that moved the day
  bool profiles_loaded_ = false;  // the customers partition reached its end once
  Partition partitions_[kInputTopicCount];
  struct IdOf {
    const std::string& operator()(const Entry& e) const { return e.state.customer_id(); }
  };
  FlatTable<Entry, IdOf> customers_;  // the cached customers, by id
  std::set<Timer> timers_;
  std::vector<std::pair<bool, state::TimerKey>> timer_ops_;  // (put?, key), in order
  std::vector<Entry*> dirty_;
  std::vector<state::v1::OutboxEntry> outbox_;
  std::vector<PublishItem> restored_outbox_;
  uint64_t next_outbox_sequence_ = 1;
  std::vector<v1::AlertEvent> alerts_scratch_;
  EntityKpis entity_scratch_;
  std::vector<TimerView> timer_scratch_;
  std::string encode_scratch_;
  std::vector<JournalItem> journal_;
  std::array<AlertHourCounts, 24> alert_hours_;
  std::array<AlertHourCounts, 30> alert_days_;  // `hour` holds the day
  bool caught_up_once_ = false;
  bool rows_written_ = true;  // false: stored state from before list rows (Drain writes them)
  int64_t status_counts_[kStatusCount] = {};
  TaskCounters counters_;
  BucketCounts processing_times_;
  BucketCounts shadow_diffs_;
  std::function<void(int32_t day)> day_end_hook_;
};

}  // namespace c360
