#include "services/api/row_index.h"

#include <algorithm>
#include <limits>

#include "c360/v1/health.pb.h"

namespace c360::api {

uint32_t StringTable::Intern(const std::string& s) {
  if (s.empty()) return 0;
  const auto [it, added] = ids_.try_emplace(s, static_cast<uint32_t>(strings_.size()));
  if (added) strings_.push_back(s);
  return it->second;
}

IndexRow IndexRowOf(const state::v1::CustomerRow& r, StringTable& strings) {
  IndexRow row;
  row.revenue = r.annual_revenue_cents();
  row.csat = r.has_csat_avg_r90d() ? r.csat_avg_r90d() : -1;
  row.contract_end_day = r.has_contract_end_day() ? r.contract_end_day() : kNoDay;
  row.active_users = r.active_users_r30d();
  row.day = r.day();
  row.industry = strings.Intern(r.industry());
  row.region = strings.Intern(r.region());
  row.owner = strings.Intern(r.owner());
  if (r.has_health_change_7d()) {
    row.health_change = static_cast<int16_t>(std::clamp(r.health_change_7d(), -100, 100));
  }
  row.nps = r.has_nps_latest() ? static_cast<int8_t>(std::clamp(r.nps_latest(), 0, 10)) : -1;
  row.health = static_cast<uint8_t>(std::clamp(r.health(), 0, 100));
  row.risk = static_cast<uint8_t>(std::clamp(r.risk(), 0, 100));
  row.status = static_cast<uint8_t>(std::clamp(r.status(), 0, 4));
  row.risk_level = static_cast<uint8_t>(std::clamp(r.risk_level(), 0, 3));
  row.segment = static_cast<uint8_t>(std::clamp(r.segment(), 0, 4));
  row.lifecycle = static_cast<uint8_t>(std::clamp(r.lifecycle_stage(), 0, 255));
  row.has_profile = r.has_profile();
  for (int i = 0; i < r.firing_size() && i < kRuleCount; ++i) {
    row.firing[i] = static_cast<uint8_t>(std::clamp(r.firing(i), 0, 255));
  }
  return row;
}

uint64_t Prefix(std::string_view text) {
  uint64_t p = 0;
  for (size_t i = 0; i < 8; ++i) {
    p = (p << 8) | (i < text.size() ? static_cast<unsigned char>(text[i]) : 0u);
  }
  return p;
}

void TaskRows::Put(const std::string& id, const state::v1::CustomerRow* row,
                   StringTable& string_table) {
  const auto it = slots.find(id);
  if (row == nullptr) {
    if (it == slots.end()) return;
    // The last row takes the erased one's place.
    const uint32_t slot = it->second;
    const uint32_t last = static_cast<uint32_t>(rows.size() - 1);
    slots.erase(it);
    if (slot != last) {
      rows[slot] = rows[last];
      ids[slot] = std::move(ids[last]);
      names[slot] = std::move(names[last]);
      name_prefixes[slot] = name_prefixes[last];
      slots[ids[slot]] = slot;
    }
    rows.pop_back();
    ids.pop_back();
    names.pop_back();
    name_prefixes.pop_back();
    return;
  }
  const IndexRow value = IndexRowOf(*row, string_table);
  const uint64_t prefix = Prefix(row->name().empty() ? std::string_view(id) : row->name());
  if (it != slots.end()) {
    rows[it->second] = value;
    if (names[it->second] != row->name()) names[it->second] = row->name();
    name_prefixes[it->second] = prefix;
    return;
  }
  slots.emplace(id, static_cast<uint32_t>(rows.size()));
  rows.push_back(value);
  ids.push_back(id);
  names.push_back(row->name());
  name_prefixes.push_back(prefix);
}

RowIndex::RowIndex() : thread_([this] { Loop(); }) {}

RowIndex::~RowIndex() {
  {
    std::lock_guard lock(queue_mu_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  thread_.join();
}

void RowIndex::Load(uint16_t task, std::shared_ptr<const StateView> view) {
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(LoadOp{task, std::move(view)});
  }
  queue_cv_.notify_all();
}

void RowIndex::Drop(uint16_t task) {
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(DropOp{task});
  }
  queue_cv_.notify_all();
}

void RowIndex::Apply(std::vector<RowChange> changes) {
  if (changes.empty()) return;
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(std::move(changes));
  }
  queue_cv_.notify_all();
}

SegmentCounts RowIndex::segment_counts() const {
  std::shared_lock lock(mu_);
  return counts_;
}

void RowIndex::WaitIdle() const {
  std::unique_lock lock(queue_mu_);
  queue_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void RowIndex::Loop() {
  std::unique_lock lock(queue_mu_);
  for (;;) {
    queue_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Op op = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    Run(op);
    lock.lock();
    busy_ = false;
    queue_cv_.notify_all();
  }
}

void RowIndex::Count(const IndexRow& row, int sign) {
  if (!row.scored() || row.lifecycle == v1::Lifecycle::CHURNED) return;
  counts_.customers[row.segment][row.status] += sign;
  if (row.status == v1::HealthSnapshot::AT_RISK || row.status == v1::HealthSnapshot::CRITICAL) {
    counts_.revenue_at_risk[row.segment] += sign * row.revenue;
  }
}

void RowIndex::Run(Op& op) {
  if (auto* load = std::get_if<LoadOp>(&op)) {
    // Read outside the lock: a task of a million rows takes a while.
    auto rows = std::make_unique<TaskRows>();
    rows->task = load->task;
    std::vector<std::pair<std::string, state::v1::CustomerRow>> read;
    load->view->ForEachRow(load->task, [&](std::string_view id, const state::v1::CustomerRow& row) {
      read.emplace_back(std::string(id), row);
    });
    std::unique_lock lock(mu_);
    if (auto old = tasks_.find(load->task); old != tasks_.end()) {
      for (const IndexRow& row : old->second->rows) Count(row, -1);
      tasks_.erase(old);
    }
    rows->strings = &strings_;
    rows->rows.reserve(read.size());
    for (const auto& [id, row] : read) rows->Put(id, &row, strings_);
    for (const IndexRow& row : rows->rows) Count(row, +1);
    tasks_[load->task] = std::move(rows);
    return;
  }
  if (auto* drop = std::get_if<DropOp>(&op)) {
    std::unique_lock lock(mu_);
    if (auto it = tasks_.find(drop->task); it != tasks_.end()) {
      for (const IndexRow& row : it->second->rows) Count(row, -1);
      tasks_.erase(it);
    }
    return;
  }
  auto& changes = std::get<std::vector<RowChange>>(op);
  std::unique_lock lock(mu_);
  for (const RowChange& change : changes) {
    auto it = tasks_.find(change.task);
    if (it == tasks_.end()) continue;  // not loaded (or dropped): its load reads the rows
    TaskRows& t = *it->second;
    if (auto slot = t.slots.find(change.customer_id); slot != t.slots.end()) {
      Count(t.rows[slot->second], -1);
    }
    t.Put(change.customer_id, change.row ? &*change.row : nullptr, strings_);
    if (change.row) Count(t.rows[t.slots[change.customer_id]], +1);
  }
}

}  // namespace c360::api
