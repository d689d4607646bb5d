#pragma once
// The list rows (state.proto CustomerRow, key family R) of the tasks an engine owns, held in
// memory as compact arrays: what the list, the summary and the portfolio read (SPEC
// section 8) instead of scanning and parsing RocksDB on every request, and what the
// customers_by_segment and revenue_at_risk_cents metrics count.
//
// It follows the commits: the engine hands each commit's written and deleted rows to
// Apply() once the commit is written, and Load() / Drop() as tasks are assigned and
// revoked. A thread of its own applies them in that order, so that neither the processing
// thread nor the commit waits for it or for a reader; readers see the rows of the last
// commit it has applied (milliseconds behind the state). docs/api.md ("How the rollups stay
// fast") says why a scan of these arrays answers the list, summary and portfolio within
// 50 ms at a million customers, and what the arrays cost.
//
// Thread-safe: Apply, Load and Drop from any thread; Read() under a shared lock.

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "scoring/config.h"
#include "scoring/customer_state.h"
#include "state/store.h"

namespace c360::api {

// Interned strings (industry, region, owner): rows hold a number, 0 for "".
class StringTable {
 public:
  StringTable() { strings_.emplace_back(); }
  uint32_t Intern(const std::string& s);
  const std::string& operator[](uint32_t id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }

 private:
  std::vector<std::string> strings_;
  std::unordered_map<std::string, uint32_t> ids_;
};

// One customer's row, 64 bytes: the scans run over contiguous arrays of these.
struct IndexRow {
  int64_t revenue = 0;  // annual_revenue_cents
  double csat = -1;     // csat_avg_r90d; < 0: none
  int32_t contract_end_day = kNoDay;
  int32_t active_users = 0;  // active_users_r30d
  int32_t day = 0;           // the day its values are for
  uint32_t industry = 0;
  uint32_t region = 0;
  uint32_t owner = 0;
  int16_t health_change = kNoChange;  // health_change_7d
  int8_t nps = -1;                    // nps_latest; -1: none
  uint8_t health = 0;
  uint8_t risk = 0;
  uint8_t status = 0;  // 0: not scored yet
  uint8_t risk_level = 0;
  uint8_t segment = 0;
  uint8_t lifecycle = 0;
  bool has_profile = false;
  std::array<uint8_t, kRuleCount> firing{};  // firing alerts by rule (at most 255 each)

  static constexpr int16_t kNoChange = INT16_MIN;
  bool scored() const { return status != 0; }
};

// The rows of one task: parallel arrays (a row's id and name apart, so that scans that do
// not need them stay within the 64-byte rows) and a map from customer_id to position.
struct TaskRows {
  uint16_t task = 0;
  const StringTable* strings = nullptr;
  std::vector<IndexRow> rows;
  std::vector<std::string> ids;
  std::vector<std::string> names;
  // The first 8 bytes of the name (the id when it has none), big-endian: the list sorted
  // by name compares these and reads a name only on a tie.
  std::vector<uint64_t> name_prefixes;
  std::unordered_map<std::string, uint32_t> slots;

  // Sets (or adds) the row of `id`; erases it with nullopt.
  void Put(const std::string& id, const state::v1::CustomerRow* row, StringTable& strings);
};

// One row of one task, as ranked lists hold it.
struct Ranked {
  const TaskRows* t;
  uint32_t slot;
};

IndexRow IndexRowOf(const state::v1::CustomerRow& row, StringTable& strings);
// The first 8 bytes of `text`, big-endian, zero-padded: their order is text's.
uint64_t Prefix(std::string_view text);

// Customers and revenue at risk by segment and status, the metrics' (SPEC section 9):
// CHURNED customers and unscored ones are left out. [segment][status].
struct SegmentCounts {
  std::array<std::array<int64_t, 5>, 5> customers{};
  std::array<int64_t, 5> revenue_at_risk{};
};

class RowIndex {
 public:
  RowIndex();
  ~RowIndex();
  RowIndex(const RowIndex&) = delete;
  RowIndex& operator=(const RowIndex&) = delete;

  // Loads a newly assigned task's rows from `view`, a snapshot taken now (changes Applied
  // later come from later commits).
  void Load(uint16_t task, std::shared_ptr<const StateView> view);
  // Forgets a task that is no longer this engine's.
  void Drop(uint16_t task);
  // A written commit's row changes.
  void Apply(std::vector<RowChange> changes);

  // Calls fn(tasks) under the shared lock: the tasks loaded, by number.
  template <typename Fn>
  auto Read(Fn&& fn) const {
    std::shared_lock lock(mu_);
    return fn(static_cast<const std::map<uint16_t, std::unique_ptr<TaskRows>>&>(tasks_));
  }
  SegmentCounts segment_counts() const;
  // Waits until everything queued so far is applied (tests).
  void WaitIdle() const;

 private:
  struct LoadOp {
    uint16_t task;
    std::shared_ptr<const StateView> view;
  };
  struct DropOp {
    uint16_t task;
  };
  using Op = std::variant<LoadOp, DropOp, std::vector<RowChange>>;

  void Loop();
  void Run(Op& op);
  void Count(const IndexRow& row, int sign);

  mutable std::shared_mutex mu_;  // guards tasks_, strings_, counts_
  std::map<uint16_t, std::unique_ptr<TaskRows>> tasks_;
  StringTable strings_;
  SegmentCounts counts_;

  mutable std::mutex queue_mu_;
  mutable std::condition_variable queue_cv_;
  std::deque<Op> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace c360::api
