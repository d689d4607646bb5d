#include "services/engine/task.h"

#include <algorithm>
#include <chrono>

#include "c360/v1/health.pb.h"
#include "common/crash_point.h"
#include "scoring/kpis.h"
#include "scoring/scores.h"
#include "state/customer_codec.h"

namespace c360 {
namespace {

// The four event topics in merge rank order (SPEC section 2): invoices, tickets,
// campaigns, usage. InputTopic's values are the ranks.
constexpr InputTopic kEventTopics[] = {InputTopic::kInvoices, InputTopic::kTickets,
                                       InputTopic::kCampaigns, InputTopic::kUsage};
constexpr uint8_t kResponseTimer = 0;
constexpr uint8_t kResolutionTimer = 1;
constexpr uint8_t kInvoiceTimer = 2;

// "1234.56" for 123456 cents.
std::string FormatCents(int64_t cents) {
  const int64_t abs = cents < 0 ? -cents : cents;
  std::string frac = std::to_string(abs % 100);
  if (frac.size() < 2) frac.insert(0, "0");
  return (cents < 0 ? "-" : "") + std::to_string(abs / 100) + "." + frac;
}

void AddHeader(state::v1::OutboxEntry* entry, const std::string& name, const std::string& value) {
  auto* h = entry->add_headers();
  h->set_name(name);
  h->set_value(value);
}

}  // namespace

Task::Task(uint16_t id, const Config& config, const Clock& clock, OutputFormat format,
           RecordOwner* owner)
    : id_(id),
      config_(config),
      clock_(clock),
      format_(format),
      owner_(owner),
      processing_times_(ProcessingTimeBounds()) {}

Task::~Task() {
  for (Partition& p : partitions_) {
    for (const TaskRecord& r : p.records) owner_->Release(r.handle);
  }
}

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
    sweep_cause_ = Cause{.alert = AlertCause{sweep_time_, sweep_topic_, meta->sweep_cause_partition(),
                                             meta->sweep_cause_offset()},
                         .kind = CauseKind::kDayChange};
    for (int i = 0; i < kStatusCount && i < meta->status_counts_size(); ++i) {
      status_counts_[i] = meta->status_counts(i);
    }
    rows_written_ = meta->rows_version() >= 1;
    for (const state::v1::AlertHour& h : meta->alert_hours()) {
      AlertHourCounts& bucket = alert_hours_[static_cast<size_t>(((h.hour() % 24) + 24) % 24)];
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
  for (const auto& [id, entry] : customers_) {
    if (!entry->dirty) clean.emplace_back(entry->last_used, &id);
  }
  const size_t excess = std::min(customers_.size() - keep, clean.size());
  std::nth_element(clean.begin(), clean.begin() + static_cast<ptrdiff_t>(excess), clean.end());
  std::vector<std::string> victims;
  for (size_t i = 0; i < excess; ++i) victims.push_back(*clean[i].second);
  for (const std::string& id : victims) customers_.erase(id);
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
  for (auto& [id, entry] : customers_) {
    if (entry->state.rescored_day() < sweep_day_) rest.push_back(entry.get());
  }
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
  auto it = customers_.find(id);
  return it == customers_.end() ? nullptr : &it->second->state;
}

void Task::Buffer(const TaskRecord& record) {
  if (record.input.topic == InputTopic::kCustomers) {
    // The customers topic is a table: each profile is applied as soon as it is read. Its
    // record is released when applied (Consumed), or here when applying it fails.
    try {
      ApplyProfile(record);
    } catch (...) {
      owner_->Release(record.handle);
      throw;
    }
    return;
  }
  Partition& p = partition(record.input.topic);
  p.records.push_back(record);
  p.at_end = false;
}

void Task::MarkAtEnd(InputTopic topic) {
  Partition& p = partition(topic);
  p.at_end = true;
  if (topic == InputTopic::kCustomers) profiles_loaded_ = true;
}

bool Task::CaughtUp() const {
  return std::all_of(std::begin(partitions_), std::end(partitions_),
                     [](const Partition& p) { return p.records.empty() && p.at_end; });
}

void Task::DecodeHead(Partition& p) {
  if (p.head_decoded) return;
  p.head = p.decoder.Decode(p.records.front().input, clock_.NowMs());
  p.head_decoded = true;
}

int Task::Process(int budget) {
  if (!profiles_loaded_) return 0;  // profiles are read ahead of events
  int applied = 0;
  // One clock read per record: each record's time runs from the end of the previous one.
  auto last = std::chrono::steady_clock::now();
  while (applied < budget) {
    // Timestamp synchronisation: the next record is the smallest (event_time, rank)
    // among the heads, and only when every partition has a head or is at its end.
    if (std::all_of(std::begin(kEventTopics), std::end(kEventTopics),
                    [&](InputTopic t) { return partition(t).records.empty(); })) {
      // Nothing to apply: the next records start a wait of their own for what is drained.
      for (const InputTopic& topic : kEventTopics) partition(topic).idle_deadline = kNoTime;
      return applied;
    }
    const InputTopic* best = nullptr;
    for (const InputTopic& topic : kEventTopics) {
      Partition& p = partition(topic);
      if (p.records.empty()) {
        if (!p.at_end) return applied;  // the broker holds data not fetched yet
        continue;
      }
      p.idle_deadline = kNoTime;
      DecodeHead(p);
      if (best == nullptr || p.head.event_time < partition(*best).head.event_time) best = &topic;
    }
    if (config_.max_task_idle_ms > 0 && !IdleWaitOver()) return applied;
    ApplyHead(*best);
    ++applied;
    const auto now = std::chrono::steady_clock::now();
    processing_times_.Observe(std::chrono::duration<double>(now - last).count());
    last = now;
  }
  return applied;
}

// max_task_idle_ms, as Kafka Streams' max.task.idle.ms: with records to apply, each drained
// partition is waited for that long from when the task first finds it drained, until it
// receives data (which clears its deadline). A deadline that passed lets the task go on
// until the partition has data again, or until the task has applied everything (Process
// clears the deadlines then). Counted from when the partition emptied, or kept across a
// quiet period, the wait was used up before the next burst came, and a burst's usage was
// applied before its tickets, fetched a moment later.
bool Task::IdleWaitOver() {
  const TimeMs now = clock_.NowMs();
  bool over = true;
  for (InputTopic topic : kEventTopics) {
    Partition& p = partition(topic);
    if (!p.records.empty()) continue;
    if (p.idle_deadline == kNoTime) p.idle_deadline = now + config_.max_task_idle_ms;
    if (now < p.idle_deadline) over = false;
  }
  return over;
}

void Task::ApplyHead(InputTopic topic) {
  Partition& p = partition(topic);
  const TaskRecord record = p.records.front();
  const DecodeResult& head = p.head;
  const Cause cause{.alert = AlertCause{head.event_time, config_.topics.Input(topic),
                                        record.partition, record.offset},
                    .kafka_ts = record.input.kafka_timestamp_ms,
                    .kind = CauseKind::kEvent,
                    .topic = topic};
  std::optional<struct DeadLetter> late;
  if (head.ok() && stream_time_ != kNoTime) {
    late = CheckTooLate(head.event_time, stream_time_, config_.retention_days);
  }
  std::optional<struct DeadLetter> over_limit;
  if (head.ok() && !late) over_limit = CheckOpenEntities(topic, p.decoder);
  if (!head.ok()) {
    DeadLetter(record, *head.dead_letter);
  } else if (late) {
    DeadLetter(record, *late);
  } else if (over_limit) {
    DeadLetter(record, *over_limit);
  } else {
    Advance(head.event_time, cause);
    const Decoder& d = p.decoder;
    bool changed = false;
    Entry* entry = nullptr;
    switch (topic) {
      case InputTopic::kUsage:
        entry = &Touch(d.usage().customer_id());
        changed = entry->state.ApplyUsage(d.usage(), head.event_time,
                                          static_cast<int32_t>(DayOf(stream_time_)));
        break;
      case InputTopic::kTickets:
        entry = &Touch(d.ticket().customer_id());
        changed = entry->state.ApplyTicket(d.ticket(), head.event_time, config_);
        break;
      case InputTopic::kInvoices:
        entry = &Touch(d.invoice().customer_id());
        changed = entry->state.ApplyInvoice(d.invoice(), head.event_time);
        break;
      case InputTopic::kCampaigns:
        entry = &Touch(d.campaign().customer_id());
        changed = entry->state.ApplyCampaign(d.campaign(), head.event_time);
        break;
      case InputTopic::kCustomers: break;  // never buffered
    }
    ++counters_.applied;
    if (changed) {
      Rescore(*entry, stream_time_, stream_time_ - 1, cause,
              topic == InputTopic::kTickets || topic == InputTopic::kInvoices);
    }
  }
  Consumed(topic, record);
  p.records.pop_front();
  p.head_decoded = false;
}

std::optional<struct DeadLetter> Task::CheckOpenEntities(InputTopic topic, const Decoder& d) {
  // Before the record moves stream time (a dead letter never does): the customer as
  // stored, its pending day re-score still pending. Time neither opens a ticket nor
  // unsettles an invoice, so the counts are those the event would meet.
  const auto limit = static_cast<size_t>(config_.open_entities_per_customer);
  if (topic == InputTopic::kTickets) {
    const CustomerState& s = CustomerEntry(d.ticket().customer_id()).state;
    if (!s.OpensTicket(d.ticket())) return std::nullopt;
    const size_t open = s.unresolved_tickets();
    if (open < limit) return std::nullopt;
    return c360::DeadLetter{
        DeadLetterReason::kInvalidValue,
        "customer " + s.customer_id() + " has " + std::to_string(open) +
            " open tickets, limits.open_entities_per_customer is " + std::to_string(limit) +
            ": ticket " + d.ticket().ticket_id() + " would open one more"};
  }
  if (topic == InputTopic::kInvoices) {
    const CustomerState& s = CustomerEntry(d.invoice().customer_id()).state;
    if (!s.OpensInvoice(d.invoice())) return std::nullopt;
    const size_t unsettled = s.unsettled_invoices();
    if (unsettled < limit) return std::nullopt;
    return c360::DeadLetter{
        DeadLetterReason::kInvalidValue,
        "customer " + s.customer_id() + " has " + std::to_string(unsettled) +
            " unsettled invoices, limits.open_entities_per_customer is " +
            std::to_string(limit) + ": invoice " + d.invoice().invoice_id() +
            " would add one more"};
  }
  return std::nullopt;
}

void Task::ApplyProfile(const TaskRecord& record) {
  Partition& p = partition(InputTopic::kCustomers);
  const DecodeResult result = p.decoder.Decode(record.input, clock_.NowMs());
  if (!result.ok()) {
    DeadLetter(record, *result.dead_letter);
  } else {
    Entry* entry = nullptr;
    if (result.tombstone) {
      entry = &Touch(std::string(*record.input.key));
      entry->state.RemoveProfile();
      entry->row_dirty = true;
      MarkDirty(*entry);
      CustomerState::Published& published = entry->state.published();
      if (!entry->state.exists() && published.status != 0) {
        // The customer is gone (SPEC section 8): it leaves the status counts, and comes
        // back with a fresh snapshot if a profile or event recreates it.
        --status_counts_[published.status];
        published = {};
        task_dirty_ = true;
        entry->state.ClearDailyScores();  // a customer created again starts a new timeline
      }
    } else {
      entry = &Touch(p.decoder.profile().customer_id());
      entry->state.ApplyProfile(p.decoder.profile());
      entry->row_dirty = true;
      MarkDirty(*entry);
    }
    ++counters_.applied;
    if (entry != nullptr && stream_time_ != kNoTime) {
      // A profile changes what the scores see (revenue, contract dates): re-score now.
      const Cause cause{.alert = AlertCause{record.input.kafka_timestamp_ms,
                                            config_.topics.customers, record.partition,
                                            record.offset},
                        .kafka_ts = record.input.kafka_timestamp_ms,
                        .kind = CauseKind::kProfile,
                        .topic = InputTopic::kCustomers,
                        .tombstone = result.tombstone};
      Rescore(*entry, stream_time_, stream_time_ - 1, cause, /*sync_timers=*/false);
    }
  }
  Consumed(InputTopic::kCustomers, record);
}

void Task::AdvanceTime(TimeMs t) { Advance(t, Cause{.alert = AlertCause{t, "", -1, -1}}); }

void Task::Advance(TimeMs t, const Cause& cause) {
  if (stream_time_ != kNoTime && t <= stream_time_) return;
  const int64_t old_day = stream_time_ == kNoTime ? kNoDay : DayOf(stream_time_);
  // Timers with deadlines before t fire in deadline order, each evaluated at T = deadline.
  while (!timers_.empty() && timers_.begin()->deadline < t) {
    const Timer timer = *timers_.begin();
    stream_time_ = stream_time_ == kNoTime ? timer.deadline : std::max(stream_time_, timer.deadline);
    Entry& entry = Touch(timer.customer_id);
    // A timer moved by the clock fires timer_grace_ms after its deadline, by design (late
    // records may still come): its alert's latency counts from then.
    Cause timer_cause{.alert = cause.alert,
                      .kafka_ts = cause.alert.source_partition < 0
                                      ? timer.deadline + config_.timer_grace_ms
                                      : cause.kafka_ts,
                      .kind = CauseKind::kTimer,
                      .timer = &timer};
    timer_cause.alert.event_time = timer.deadline;
    Rescore(entry, timer.deadline, timer.deadline, timer_cause, /*sync_timers=*/true);
    CrashPoint("timer-fired");
    if (timers_.erase(timer) > 0) {  // the re-score normally retires it already
      timer_ops_.emplace_back(false, state::TimerKey{id_, timer.deadline, timer.customer_id,
                                                     timer.entity_id, timer.kind});
      std::erase(entry.timers, timer);
    }
    ++counters_.timers_fired;
    ++counters_.timers_fired_by_kind[timer.kind];
  }
  stream_time_ = t;
  task_dirty_ = true;
  if (DayOf(t) != old_day) {
    // A new day: windows slide and day counts move for everyone, so every customer is
    // re-scored once, at t. The task's first record counts as a new day too: customers
    // known only by their profiles so far get their first scores at it. Lazily: each customer's re-score runs before anything else
    // touches it (Touch), and a sweep in customer_id order does the rest between batches
    // (SweepStep), so a day boundary does not stall the task. A sweep still running when
    // the next day comes is finished first.
    if (sweep_pending_) FinishSweep();
    CrashPoint("day-change");
    sweep_pending_ = true;
    sweep_day_ = static_cast<int32_t>(DayOf(t));
    sweep_time_ = t;
    sweep_cursor_.clear();
    sweep_topic_ = std::string(cause.alert.source_topic);
    sweep_cause_ = Cause{.alert = AlertCause{cause.alert.event_time, sweep_topic_,
                                             cause.alert.source_partition,
                                             cause.alert.source_offset},
                         .kafka_ts = cause.alert.source_partition < 0
                                         ? t + config_.timer_grace_ms
                                         : cause.kafka_ts,
                         .kind = CauseKind::kDayChange};
  }
}

Task::Entry& Task::CustomerEntry(const std::string& customer_id) {
  ++use_clock_;
  auto it = customers_.find(customer_id);
  if (it != customers_.end()) {
    ++counters_.cache_hits;
    it->second->last_used = use_clock_;
    return *it->second;
  }
  ++counters_.cache_misses;
  auto entry = std::make_unique<Entry>();
  if (store_ == nullptr || !store_->LoadCustomer(id_, customer_id, &entry->state)) {
    entry->state = CustomerState(customer_id);
    // New since the last day change: it has nothing to catch up on.
    if (stream_time_ != kNoTime) entry->state.set_rescored_day(static_cast<int32_t>(DayOf(stream_time_)));
  } else {
    // The stored timers are exactly the deadlines this state waits on (both were written
    // by the same commit), so the customer's own list is derived, not searched for.
    WantedTimers(*entry);
    for (const TimerView& v : timer_scratch_) {
      entry->timers.push_back({v.deadline, customer_id, *v.entity, v.kind});
    }
  }
  entry->last_used = use_clock_;
  Entry& ref = *entry;
  customers_.emplace(customer_id, std::move(entry));
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

void Task::Rescore(Entry& entry, TimeMs at, TimeMs horizon, const Cause& cause,
                   bool sync_timers) {
  CustomerState& s = entry.state;
  MarkDirty(entry);
  if (!s.exists()) return;
  const int32_t day = static_cast<int32_t>(DayOf(at));
  s.Prune(day);
  if (!entry.entity_kpis.Valid(s, day, horizon)) {
    ComputeEntityKpis(s, day, horizon, &entry.entity_kpis);
  }
  const CoreKpis kpis = ComputeKpis(s, at, entry.entity_kpis);
  const Scores scores = ComputeScores(kpis, config_);
  alerts_scratch_.clear();
  const RuleContext ctx{config_, at, horizon, clock_.NowMs(), cause.alert, sync_timers};
  EvaluateRules(s, kpis, scores, ctx, &alerts_scratch_);
  s.RecordDaily(day, scores.health, scores.risk, scores.status);
  for (const v1::AlertEvent& alert : alerts_scratch_) {
    state::v1::JournalEntry journal;
    journal.set_kind(state::v1::JournalEntry::ALERT);
    *journal.mutable_alert() = alert;
    Journal(s, std::move(journal), cause);
    if (alert.state() == v1::AlertEvent::FIRING) CountAlertHour(at, alert.rule());
    state::v1::OutboxEntry output =
        NewOutput(config_.topics.alerts, s.customer_id(), alert, cause.kafka_ts);
    output.set_alert_rule(alert.rule());
    output.set_alert_severity(alert.severity());
    output.set_alert_state(alert.state());
    AddOutbox(std::move(output));
    ++counters_.alerts;
  }

  CustomerState::Published& published = s.published();
  if (published.status != scores.status) {
    state::v1::JournalEntry journal;
    journal.set_kind(state::v1::JournalEntry::STATUS_CHANGE);
    journal.set_from_status(published.status);
    journal.set_to_status(scores.status);
    journal.set_from_health(published.health);
    journal.set_health(scores.health);
    journal.set_risk(scores.risk);
    journal.set_stream_time(at);
    Journal(s, std::move(journal), cause);
    if (published.status != 0) --status_counts_[published.status];
    ++status_counts_[scores.status];
    task_dirty_ = true;
  }
  if (published.health != scores.health || published.risk != scores.risk ||
      published.status != scores.status || published.risk_level != scores.risk_level) {
    published = {scores.health, scores.risk, scores.status, scores.risk_level};
    entry.row_dirty = true;
    v1::HealthSnapshot snapshot;
    snapshot.set_customer_id(s.customer_id());
    if (const auto& profile = s.profile()) {
      snapshot.set_customer_name(profile->name());
      snapshot.set_segment(profile->segment());
      snapshot.set_vip(profile->annual_revenue_cents() >= config_.vip_revenue_cents);
    }
    snapshot.set_health(scores.health);
    snapshot.set_status(scores.status);
    snapshot.set_risk(scores.risk);
    snapshot.set_risk_level(scores.risk_level);
    auto* c = snapshot.mutable_components();
    c->set_usage(scores.components[kUsage] / 100.0);
    c->set_support(scores.components[kSupport] / 100.0);
    c->set_financial(scores.components[kFinancial] / 100.0);
    c->set_engagement(scores.components[kEngagement] / 100.0);
    FillDrivers(scores, kpis, snapshot.mutable_drivers());
    FillKpis(s, kpis, snapshot.mutable_kpis());
    snapshot.mutable_kpis()->set_lifecycle_stage(scores.lifecycle);
    *snapshot.mutable_stream_time() = ToTimestamp(at);
    *snapshot.mutable_emitted_at() = ToTimestamp(ctx.emitted_at);
    snapshot.set_source_topic(std::string(cause.alert.source_topic));
    snapshot.set_source_partition(cause.alert.source_partition);
    snapshot.set_source_offset(cause.alert.source_offset);
    AddOutbox(NewOutput(config_.topics.health, s.customer_id(), snapshot, cause.kafka_ts));
    ++counters_.snapshots;
  }
  if (sync_timers) SyncTimers(entry);
}

void Task::WantedTimers(const Entry& entry) {
  // The deadlines this customer still waits on: unanswered / unresolved tickets whose SLA
  // has not breached, unpaid invoices not yet overdue. As views into the state, sorted.
  std::vector<TimerView>& wanted = timer_scratch_;
  wanted.clear();
  for (const TicketState& t : entry.state.tickets()) {
    if (t.created == kNoTime) continue;
    if (t.first_response == kNoTime && !t.response_breached && t.response_due != kNoTime) {
      wanted.push_back({t.response_due, &t.id, kResponseTimer});
    }
    if (t.first_resolved == kNoTime && !t.resolution_breached && t.resolution_due != kNoTime) {
      wanted.push_back({t.resolution_due, &t.id, kResolutionTimer});
    }
  }
  for (const InvoiceState& i : entry.state.invoices()) {
    if (i.due != kNoTime && !i.voided && i.balance() > 0 && !i.overdue_alerted) {
      wanted.push_back({i.due, &i.id, kInvoiceTimer});
    }
  }
  std::sort(wanted.begin(), wanted.end(), [](const TimerView& a, const TimerView& b) {
    if (a.deadline != b.deadline) return a.deadline < b.deadline;
    if (*a.entity != *b.entity) return *a.entity < *b.entity;
    return a.kind < b.kind;
  });
}

void Task::SyncTimers(Entry& entry) {
  // Compared as views first: this runs for every ticket and invoice event, and the set
  // rarely changes.
  WantedTimers(entry);
  const std::vector<TimerView>& wanted = timer_scratch_;
  const bool same = wanted.size() == entry.timers.size() &&
                    std::equal(wanted.begin(), wanted.end(), entry.timers.begin(),
                               [](const TimerView& v, const Timer& t) {
                                 return v.deadline == t.deadline && v.kind == t.kind &&
                                        *v.entity == t.entity_id;
                               });
  if (same) return;
  std::vector<Timer> next;
  next.reserve(wanted.size());
  const std::string& id = entry.state.customer_id();
  for (const TimerView& v : wanted) next.push_back({v.deadline, id, *v.entity, v.kind});
  const auto key = [this](const Timer& t) {
    return state::TimerKey{id_, t.deadline, t.customer_id, t.entity_id, t.kind};
  };
  for (const Timer& t : entry.timers) {
    if (!std::binary_search(next.begin(), next.end(), t)) {
      timers_.erase(t);
      timer_ops_.emplace_back(false, key(t));
    }
  }
  for (const Timer& t : next) {
    if (!std::binary_search(entry.timers.begin(), entry.timers.end(), t)) {
      timers_.insert(t);
      timer_ops_.emplace_back(true, key(t));
    }
  }
  entry.timers = std::move(next);
}

state::v1::OutboxEntry Task::NewOutput(const std::string& topic, const std::string& key,
                                       const google::protobuf::Message& value, TimeMs kafka_ts) {
  state::v1::OutboxEntry entry;
  entry.set_topic(topic);
  entry.set_key(key);
  entry.set_has_key(true);
  const char* content_type = EncodeOutput(value, format_, entry.mutable_value());
  entry.set_has_value(true);
  AddHeader(&entry, "content-type", content_type);
  entry.set_source_timestamp_ms(kafka_ts);
  return entry;
}

void Task::DeadLetter(const TaskRecord& record, const struct DeadLetter& verdict) {
  state::v1::OutboxEntry entry;
  entry.set_topic(config_.topics.deadletter);
  if (record.input.key) {
    entry.set_key(std::string(*record.input.key));
    entry.set_has_key(true);
  }
  if (record.input.value) {
    entry.set_value(std::string(*record.input.value));
    entry.set_has_value(true);
  }
  owner_->CopyHeaders(record.handle, &entry);
  if (!record.input.content_type) AddHeader(&entry, "content-type", kProtobufContentType);
  AddHeader(&entry, "c360-reason", std::string(ReasonLabel(verdict.reason)));
  AddHeader(&entry, "c360-source-topic", config_.topics.Input(record.input.topic));
  AddHeader(&entry, "c360-source-partition", std::to_string(record.partition));
  AddHeader(&entry, "c360-source-offset", std::to_string(record.offset));
  AddHeader(&entry, "c360-detail", verdict.detail);
  entry.set_source_timestamp_ms(record.input.kafka_timestamp_ms);
  AddOutbox(std::move(entry));
  ++counters_.deadlettered[static_cast<int>(record.input.topic)][static_cast<int>(verdict.reason)];
}

void Task::AddOutbox(state::v1::OutboxEntry entry) { outbox_.push_back(std::move(entry)); }

void Task::Journal(CustomerState& s, state::v1::JournalEntry entry, const Cause& cause) {
  if (entry.kind() == state::v1::JournalEntry::ALERT) {
    entry.set_stream_time(ToMs(entry.alert().stream_time()));
  }
  static constexpr const char* kKinds[] = {"event", "timer", "day_change", "profile"};
  entry.set_cause_kind(kKinds[static_cast<int>(cause.kind)]);
  entry.set_cause_topic(std::string(cause.alert.source_topic));
  entry.set_cause_partition(cause.alert.source_partition);
  entry.set_cause_offset(cause.alert.source_offset);
  entry.set_cause_event_time(cause.alert.event_time);
  entry.set_cause_text(DescribeCause(cause));
  journal_.push_back(JournalItem{s.customer_id(), s.TakeJournalSequence(), std::move(entry)});
}

std::string Task::DescribeCause(const Cause& cause) const {
  switch (cause.kind) {
    case CauseKind::kTimer: {
      if (cause.timer == nullptr) return "a deadline passed";
      const std::string& id = cause.timer->entity_id;
      if (cause.timer->kind == kResponseTimer) return "response SLA deadline of ticket " + id + " passed";
      if (cause.timer->kind == kResolutionTimer) return "resolution SLA deadline of ticket " + id + " passed";
      return "invoice " + id + " fell due unpaid";
    }
    case CauseKind::kDayChange:
      return "a new day (" + FormatDate(StartOfDay(sweep_day_)) + "): the rolling windows moved";
    case CauseKind::kProfile:
      return cause.tombstone ? "the customer's profile was removed" : "the customer's profile was updated";
    case CauseKind::kEvent: break;
  }
  const Decoder& d = partitions_[static_cast<int>(cause.topic)].decoder;
  switch (cause.topic) {
    case InputTopic::kUsage: {
      const v1::UsageEvent& e = d.usage();
      return "usage: " + std::to_string(e.quantity() == 0 ? 1 : e.quantity()) + " x " +
             (e.action().empty() ? std::string("event") : e.action()) + " in " +
             (e.module().empty() ? std::string("other") : e.module());
    }
    case InputTopic::kTickets: {
      const v1::TicketEvent& e = d.ticket();
      std::string text = "ticket " + e.ticket_id() + " " + v1::TicketEvent::Kind_Name(e.kind());
      if (e.priority() != v1::TicketEvent::PRIORITY_UNSPECIFIED) {
        text += " (" + v1::TicketEvent::Priority_Name(e.priority()) + ")";
      }
      return text;
    }
    case InputTopic::kInvoices: {
      const v1::InvoiceEvent& e = d.invoice();
      if (e.kind() == v1::InvoiceEvent::CREDIT_HOLD_SET || e.kind() == v1::InvoiceEvent::CREDIT_HOLD_RELEASED) {
        return v1::InvoiceEvent::Kind_Name(e.kind()) + " on the account";
      }
      std::string text = "invoice " + e.invoice_id() + " " + v1::InvoiceEvent::Kind_Name(e.kind());
      if (e.kind() == v1::InvoiceEvent::ISSUED) text += " " + FormatCents(e.amount_cents());
      if (e.kind() == v1::InvoiceEvent::PAID && e.has_paid_cents()) text += " " + FormatCents(e.paid_cents());
      return text;
    }
    case InputTopic::kCampaigns: {
      const v1::CampaignEvent& e = d.campaign();
      std::string text = "campaign " + e.campaign_id() + " " + v1::CampaignEvent::Kind_Name(e.kind());
      if (e.has_nps()) text += " (NPS " + std::to_string(e.nps()) + ")";
      if (e.has_csat()) text += " (CSAT " + std::to_string(e.csat()) + ")";
      return text;
    }
    case InputTopic::kCustomers: break;
  }
  return "the customer's profile was updated";
}

void Task::CountAlertHour(TimeMs at, v1::AlertEvent::Rule rule) {
  const int64_t hour = at >= 0 ? at / 3'600'000 : (at - 3'599'999) / 3'600'000;
  AlertHourCounts& bucket = alert_hours_[static_cast<size_t>(((hour % 24) + 24) % 24)];
  if (bucket.hour > hour) return;  // older than the last 24 hours the bucket now holds
  if (bucket.hour < hour) bucket = AlertHourCounts{hour, {}};
  ++bucket.by_rule[rule];
}

void Task::Consumed(InputTopic topic, const TaskRecord& record) {
  Partition& p = partition(topic);
  p.next_offset = record.offset + 1;
  p.offset_dirty = true;
  owner_->Release(record.handle);
}

void Task::Drain(StateBatch* batch, std::vector<PublishItem>* publish) {
  if (!rows_written_) {
    // State from before list rows: a row for every stored customer, once. First in the
    // batch, so that the rows of customers changed since (below) win.
    if (store_ != nullptr) {
      CustomerState stored;
      store_->ForEachCustomer(id_, [&](const std::string& id, std::string_view value) {
        if (!CustomerCodec::Decode(value, &stored)) {
          throw StateError("unreadable state for customer " + state::Printable(id) + " of task " +
                           std::to_string(id_) + ": its stored value does not decode");
        }
        if (stored.exists()) batch->PutRow(id_, stored);
      });
    }
    rows_written_ = true;
    task_dirty_ = true;
  }
  for (Entry* entry : dirty_) {
    if (entry->state.daily_flush_pending()) {
      const std::string& id = entry->state.customer_id();
      CustomerState::DailyFlush daily = entry->state.TakeDailyFlush();
      for (int32_t month : daily.drop) batch->DeleteDaily(id_, id, month);  // before the puts
      for (const auto& [month, entries] : daily.put) batch->PutDaily(id_, id, month, entries);
    }
    batch->PutCustomer(id_, entry->state);
    if (entry->row_dirty) {
      if (entry->state.exists()) {
        batch->PutRow(id_, entry->state);
      } else {
        batch->DeleteRow(id_, entry->state.customer_id());
      }
      entry->row_dirty = false;
    }
    entry->dirty = false;
  }
  dirty_.clear();
  for (InputTopic topic : kAllInputTopics) {
    Partition& p = partition(topic);
    if (p.offset_dirty) {
      batch->PutOffset(id_, static_cast<uint8_t>(topic), *p.next_offset);
      p.offset_dirty = false;
    }
  }
  for (const auto& [put, key] : timer_ops_) {
    put ? batch->PutTimer(key) : batch->DeleteTimer(key);
  }
  timer_ops_.clear();
  for (state::v1::OutboxEntry& entry : outbox_) {
    const uint64_t sequence = next_outbox_sequence_++;
    batch->PutOutbox(id_, sequence, entry);
    publish->push_back(PublishItem{id_, sequence, std::move(entry)});
    task_dirty_ = true;
  }
  outbox_.clear();
  for (const JournalItem& item : journal_) {
    batch->PutJournal(id_, item.customer_id, item.sequence, item.entry);
    if (item.sequence >= kJournalKept) {
      batch->DeleteJournal(id_, item.customer_id, item.sequence - kJournalKept);
    }
  }
  journal_.clear();
  if (task_dirty_) {
    state::v1::Task meta;
    meta.set_version(1);
    meta.set_stream_time(stream_time_);
    meta.set_next_outbox_sequence(next_outbox_sequence_);
    meta.set_sweep_pending(sweep_pending_);
    meta.set_sweep_day(sweep_day_);
    meta.set_sweep_time(sweep_time_);
    meta.set_sweep_cursor(sweep_cursor_);
    meta.set_sweep_cause_topic(sweep_topic_);
    meta.set_sweep_cause_partition(sweep_cause_.alert.source_partition);
    meta.set_sweep_cause_offset(sweep_cause_.alert.source_offset);
    for (int64_t count : status_counts_) meta.add_status_counts(count);
    meta.set_rows_version(1);
    for (const AlertHourCounts& bucket : alert_hours_) {
      if (bucket.hour == std::numeric_limits<int64_t>::min()) continue;
      state::v1::AlertHour* h = meta.add_alert_hours();
      h->set_hour(bucket.hour);
      for (int32_t n : bucket.by_rule) h->add_by_rule(n);
    }
    batch->PutTask(id_, meta);
    task_dirty_ = false;
  }
}

}  // namespace c360
