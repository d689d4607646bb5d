// Task: the customer cache (restored, read from the store on first use, evicted when clean)
// and the day-change sweep (task.h).
#include "services/engine/task.h"

#include <algorithm>

#include "common/crash_point.h"
#include "state/customer_codec.h"

namespace c360 {

void Task::Restore(const StateStore& store) {
  store_ = &store;
  if (auto meta = store.LoadTask(id_)) {
    stream_time_ = meta->stream_time();
    next_outbox_sequence_ = std::max<uint64_t>(1, meta->next_outbox_sequence());
    sweep_pending_ = meta->sweep_pending();
    sweep_day_ = meta->sweep_day();
    sweep_time_ = meta->sweep_time();
    sweep_cursor_ = meta->sweep_cursor();
    sweep_topic_ = meta->sweep_cause_topic();
    sweep_cause_ =
        Cause{.alert = AlertCause{sweep_time_, sweep_topic_, meta->sweep_cause_partition(),
                                  meta->sweep_cause_offset()},
              .kind = CauseKind::kDayChange};
    for (int i = 0; i < kStatusCount && i < meta->status_counts_size(); ++i) {
      status_counts_[i] = meta->status_counts(i);
    }
    rows_written_ = meta->rows_version() >= 2;
    for (const state::v1::AlertHour& h : meta->alert_hours()) {
      AlertHourCounts& bucket = alert_hours_[static_cast<size_t>(((h.hour() % 24) + 24) % 24)];
      bucket.hour = h.hour();
      for (int r = 0; r < kRuleCount && r < h.by_rule_size(); ++r) bucket.by_rule[r] = h.by_rule(r);
    }
    for (const state::v1::AlertHour& h : meta->alert_days()) {
      AlertHourCounts& bucket = alert_days_[static_cast<size_t>(((h.hour() % 30) + 30) % 30)];
      bucket.hour = h.hour();
      for (int r = 0; r < kRuleCount && r < h.by_rule_size(); ++r) bucket.by_rule[r] = h.by_rule(r);
    }
  }
  for (InputTopic topic : kAllInputTopics) {
    partition(topic).next_offset = store.LoadOffset(id_, static_cast<uint8_t>(topic));
  }
  CrashPoint("restore");
  // Timers are kept in memory whole; their customers are read when a timer fires.
  store.ForEachTimer(id_, [&](const state::TimerKey& key) {
    timers_.insert(Timer{key.deadline_ms, key.customer_id, key.entity_id, key.kind});
  });
  store.ForEachOutbox(id_, [&](uint64_t sequence, const state::v1::OutboxEntry& entry) {
    restored_outbox_.push_back(PublishItem{id_, sequence, entry});
  });
}

void Task::Evict(size_t keep) {
  if (customers_.size() <= keep) return;
  std::vector<std::pair<uint64_t, const std::string*>> clean;
  customers_.ForEach([&](const Entry& entry) {
    if (!entry.dirty) clean.emplace_back(entry.last_used, &entry.state.customer_id());
  });
  const size_t excess = std::min(customers_.size() - keep, clean.size());
  std::nth_element(clean.begin(), clean.begin() + static_cast<ptrdiff_t>(excess), clean.end());
  std::vector<std::string> victims;
  for (size_t i = 0; i < excess; ++i) victims.push_back(*clean[i].second);
  for (const std::string& id : victims) customers_.Erase(id);
}

size_t Task::SweepStep(size_t budget) {
  if (!sweep_pending_) return 0;
  size_t visited = 0;
  if (store_ != nullptr) {
    while (visited < budget) {
      const size_t chunk = std::min<size_t>(budget - visited, 4096);
      const std::vector<std::string> ids = store_->CustomerIdsAfter(id_, sweep_cursor_, chunk);
      for (const std::string& id : ids) {
        DayRescore(CustomerEntry(id));
        sweep_cursor_ = id;
        ++visited;
      }
      task_dirty_ = true;
      if (ids.size() < chunk) break;
    }
    if (visited >= budget) return visited;
  }
  // The stored customers are done; those not yet stored are all in memory.
  std::vector<Entry*> rest;
  customers_.ForEach([&](Entry& entry) {
    if (entry.state.rescored_day() < sweep_day_) rest.push_back(&entry);
  });
  std::sort(rest.begin(), rest.end(), [](const Entry* a, const Entry* b) {
    return a->state.customer_id() < b->state.customer_id();
  });
  for (Entry* entry : rest) DayRescore(*entry);
  visited += rest.size();
  sweep_pending_ = false;
  sweep_cursor_.clear();
  task_dirty_ = true;
  return visited;
}

Task::Entry& Task::Touch(const std::string& customer_id) {
  Entry& entry = CustomerEntry(customer_id);
  if (sweep_pending_ && entry.state.rescored_day() < sweep_day_) DayRescore(entry);
  return entry;
}

void Task::DayRescore(Entry& entry) {
  if (entry.state.rescored_day() >= sweep_day_) return;
  entry.state.set_rescored_day(sweep_day_);
  MarkDirty(entry);
  if (!entry.state.exists()) return;
  // Its outputs are caused by the record that moved the day, not the one being applied.
  Rescore(entry, sweep_time_, sweep_time_ - 1, sweep_cause_, /*sync_timers=*/false);
  ++counters_.rescored_on_day_change;
}

const CustomerState* Task::customer(const std::string& id) const {
  const Entry* entry = customers_.Find(id);
  return entry == nullptr ? nullptr : &entry->state;
}

void Task::ScoreEachAt(
    TimeMs at,
    const std::function<void(const CustomerState&, const CoreKpis&, const Scores&)>& visit) {
  std::vector<Entry*> entries;
  entries.reserve(customers_.size());
  customers_.ForEach([&](Entry& entry) {
    if (entry.state.exists()) entries.push_back(&entry);
  });
  std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) {
    return a->state.customer_id() < b->state.customer_id();
  });
  EntityKpis entities;
  for (Entry* entry : entries) {
    CustomerState& s = entry->state;
    // Marking the deadlines up to `at` as passed is what the next re-score does anyway.
    ComputeEntityKpis(s, static_cast<int32_t>(DayOf(at)), at, &entities);
    CoreKpis kpis = ComputeKpis(s, at, entities);
    const Scores scores = ComputeScores(kpis, config_);
    AddHealthTrend(s, scores.health, &kpis);
    visit(s, kpis, scores);
  }
}

Task::Entry& Task::CustomerEntry(const std::string& customer_id) {
  ++use_clock_;
  if (Entry* cached = customers_.Find(customer_id)) {
    ++counters_.cache_hits;
    cached->last_used = use_clock_;
    return *cached;
  }
  ++counters_.cache_misses;
  // One jemalloc size class of 768 bytes per cached customer (docs/performance.md, RSS).
  static_assert(sizeof(Entry) <= 768, "a cached customer's entry grew past 768 bytes");
  auto entry = std::make_unique<Entry>();
  if (store_ == nullptr || !store_->LoadCustomer(id_, customer_id, &entry->state)) {
    entry->state = CustomerState(customer_id);
    // New since the last day change: it has nothing to catch up on.
    if (stream_time_ != kNoTime)
      entry->state.set_rescored_day(static_cast<int32_t>(DayOf(stream_time_)));
  } else {
    // The cache finds a customer by the id its state holds.
    if (entry->state.customer_id() != customer_id) {
      throw StateError("stored customer " + state::Printable(customer_id) + " of task " +
                       std::to_string(id_) + " holds the id " +
                       state::Printable(entry->state.customer_id()));
    }
    // The stored timers are exactly the deadlines this state waits on (both were written
    // by the same commit), so the customer's own list is derived, not searched for.
    WantedTimers(*entry);
    for (const TimerView& v : timer_scratch_) {
      entry->timers.push_back({v.deadline, customer_id, *v.entity, v.kind});
    }
  }
  entry->last_used = use_clock_;
  Entry& ref = *customers_.Insert(std::move(entry));
  // State from before history keys: its closed months are stored at the next commit.
  if (ref.state.daily_flush_pending()) MarkDirty(ref);
  return ref;
}

void Task::MarkDirty(Entry& entry) {
  if (!entry.dirty) {
    entry.dirty = true;
    dirty_.push_back(&entry);
  }
}

}  // namespace c360
