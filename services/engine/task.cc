// Task: the per-record path, top to bottom: buffer, merge, decode, apply, re-score (task.h).
#include "services/engine/task.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "c360/v1/health.pb.h"
#include "common/crash_point.h"
#include "common/fnv.h"
#include "common/url.h"
#include "scoring/churn_model.h"
#include "scoring/kpis.h"
#include "scoring/scores.h"
#include "state/customer_codec.h"

namespace c360 {
namespace {

// The four event topics in merge rank order (SPEC section 2): invoices, tickets,
// campaigns, usage. InputTopic's values are the ranks.
constexpr InputTopic kEventTopics[] = {InputTopic::kInvoices, InputTopic::kTickets,
                                       InputTopic::kCampaigns, InputTopic::kUsage};

// What a snapshot's routing context (SPEC section 5) is made of, as one number: a change of
// segment, industry, region, owner or revenue publishes a new snapshot.
uint32_t RoutingFingerprint(const std::optional<v1::CustomerProfile>& profile) {
  if (!profile) return 0;
  uint64_t h = kFnvOffset;
  const auto mix = [&h](std::string_view bytes) {
    h = Fnv1a64("\xff", Fnv1a64(bytes, h));  // a separator: ("ab", "c") differs from ("a", "bc")
  };
  mix(std::to_string(profile->segment()));
  mix(profile->industry());
  mix(profile->region());
  mix(profile->owner());
  mix(std::to_string(profile->annual_revenue_cents()));
  return Fold32(h) | 1;  // never 0, the value of "no profile"
}

}  // namespace

Task::Task(uint16_t id, const Config& config, const Clock& clock, OutputFormat format,
           RecordOwner* owner)
    : id_(id),
      config_(config),
      clock_(clock),
      format_(format),
      owner_(owner),
      processing_times_(ProcessingTimeBounds()),
      shadow_diffs_(ShadowDiffBounds()) {}

Task::~Task() {
  for (Partition& p : partitions_) {
    for (const TaskRecord& r : p.records) owner_->Release(r.handle);
  }
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
      case InputTopic::kUsage: {
        entry = &Touch(d.usage().customer_id());
        bool user_refused = false;
        changed = entry->state.ApplyUsage(
            d.usage(), head.event_time, static_cast<int32_t>(DayOf(stream_time_)),
            static_cast<size_t>(config_.users_per_customer), &user_refused);
        if (user_refused) ++counters_.users_over_limit;
        break;
      }
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
    return c360::DeadLetter{DeadLetterReason::kInvalidValue,
                            "customer " + s.customer_id() + " has " + std::to_string(open) +
                                " open tickets, limits.open_entities_per_customer is " +
                                std::to_string(limit) + ": ticket " + d.ticket().ticket_id() +
                                " would open one more"};
  }
  if (topic == InputTopic::kInvoices) {
    const CustomerState& s = CustomerEntry(d.invoice().customer_id()).state;
    if (!s.OpensInvoice(d.invoice())) return std::nullopt;
    const size_t unsettled = s.unsettled_invoices();
    if (unsettled < limit) return std::nullopt;
    return c360::DeadLetter{DeadLetterReason::kInvalidValue,
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
      MarkDirty(*entry);
    }
    ++counters_.applied;
    if (entry != nullptr && stream_time_ != kNoTime) {
      // A profile changes what the scores see (revenue, contract dates): re-score now.
      const Cause cause{
          .alert = AlertCause{record.input.kafka_timestamp_ms, config_.topics.customers,
                              record.partition, record.offset},
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
  if (day_end_hook_ && stream_time_ != kNoTime && DayOf(t) > old_day) {
    if (sweep_pending_) FinishSweep();
    for (int64_t day = old_day; day < DayOf(t); ++day) day_end_hook_(static_cast<int32_t>(day));
  }
  // Timers with deadlines before t fire in deadline order, each evaluated at T = deadline.
  while (!timers_.empty() && timers_.begin()->deadline < t) {
    const Timer timer = *timers_.begin();
    stream_time_ =
        stream_time_ == kNoTime ? timer.deadline : std::max(stream_time_, timer.deadline);
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
    // known only by their profiles so far get their first scores at it. Lazily: each customer's
    // re-score runs before anything else touches it (Touch), and a sweep in customer_id order does
    // the rest between batches (SweepStep), so a day boundary does not stall the task. A sweep
    // still running when the next day comes is finished first.
    if (sweep_pending_) FinishSweep();
    CrashPoint("day-change");
    sweep_pending_ = true;
    sweep_day_ = static_cast<int32_t>(DayOf(t));
    sweep_time_ = t;
    sweep_cursor_.clear();
    sweep_topic_ = std::string(cause.alert.source_topic);
    sweep_cause_ = Cause{
        .alert = AlertCause{cause.alert.event_time, sweep_topic_, cause.alert.source_partition,
                            cause.alert.source_offset},
        .kafka_ts = cause.alert.source_partition < 0 ? t + config_.timer_grace_ms : cause.kafka_ts,
        .kind = CauseKind::kDayChange};
  }
}

void Task::Rescore(Entry& entry, TimeMs at, TimeMs horizon, const Cause& cause, bool sync_timers) {
  CustomerState& s = entry.state;
  MarkDirty(entry);
  if (!s.exists()) return;
  const int32_t day = static_cast<int32_t>(DayOf(at));
  s.Prune(day);
  const bool has_entities = !s.tickets().empty() || !s.invoices().empty() ||
                            !s.campaigns().empty() || !s.ratings().empty();
  if (has_entities && !entry.entity_kpis) entry.entity_kpis = std::make_unique<EntityKpis>();
  EntityKpis* entities = entry.entity_kpis ? entry.entity_kpis.get() : &entity_scratch_;
  if (entities == &entity_scratch_ || !entities->Valid(s, day, horizon)) {
    ComputeEntityKpis(s, day, horizon, entities);
  }
  CoreKpis kpis = ComputeKpis(s, at, *entities);
  Scores scores = ComputeScores(kpis, config_);
  AddHealthTrend(s, scores.health, &kpis);
  ApplyChurnModels(config_, kpis, &scores);
  if (scores.shadow_risk >= 0) {
    shadow_diffs_.Observe(std::abs(scores.shadow_risk - scores.risk));
    if (RiskLevelOf(scores.shadow_risk, config_) != scores.risk_level) {
      ++counters_.shadow_level_disagreements;
    }
  }
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
  // Only a profile changes the routing context: other re-scores keep the published one.
  const uint32_t context = cause.kind == CauseKind::kProfile || published.context == 0
                               ? RoutingFingerprint(s.profile())
                               : published.context;
  if (published.health != scores.health || published.risk != scores.risk ||
      published.status != scores.status || published.risk_level != scores.risk_level ||
      published.lifecycle != scores.lifecycle || published.context != context ||
      published.shadow_risk != scores.shadow_risk) {
    published = {scores.health,    scores.risk, scores.status,     scores.risk_level,
                 scores.lifecycle, context,     scores.shadow_risk};
    v1::HealthSnapshot snapshot;
    snapshot.set_customer_id(s.customer_id());
    if (const auto& profile = s.profile()) {
      snapshot.set_customer_name(profile->name());
      snapshot.set_segment(profile->segment());
      snapshot.set_vip(profile->annual_revenue_cents() >= config_.vip_revenue_cents);
      snapshot.set_industry(profile->industry());
      snapshot.set_region(profile->region());
      snapshot.set_owner(profile->owner());
      snapshot.set_annual_revenue_cents(profile->annual_revenue_cents());
    }
    snapshot.set_lifecycle_stage(scores.lifecycle);
    snapshot.set_url(CustomerUrl(config_.public_url, s.customer_id()));
    snapshot.set_health(scores.health);
    snapshot.set_status(scores.status);
    snapshot.set_risk(scores.risk);
    snapshot.set_risk_level(scores.risk_level);
    if (scores.shadow_risk >= 0) snapshot.set_shadow_risk(scores.shadow_risk);
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

void Task::Consumed(InputTopic topic, const TaskRecord& record) {
  Partition& p = partition(topic);
  p.next_offset = record.offset + 1;
  p.offset_dirty = true;
  owner_->Release(record.handle);
}

}  // namespace c360
