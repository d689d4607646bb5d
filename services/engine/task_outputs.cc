// Task: what a task hands on: outputs, dead letters, journal entries, and its changes
// drained into the commit (task.h).
#include "services/engine/task.h"

#include "c360/v1/health.pb.h"
#include "state/customer_codec.h"

namespace c360 {
namespace {

// Entries a drained buffer keeps room for: a live batch's (a few hundred per task) reuse
// it; a catch-up batch's millions are given back.
constexpr size_t kKeepEntries = 4096;

template <typename T>
void ClearDrained(std::vector<T>* items) {
  if (items->capacity() > kKeepEntries) {
    std::vector<T>().swap(*items);
  } else {
    items->clear();
  }
}

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
      if (cause.timer->kind == kResponseTimer)
        return "response SLA deadline of ticket " + id + " passed";
      if (cause.timer->kind == kResolutionTimer)
        return "resolution SLA deadline of ticket " + id + " passed";
      return "invoice " + id + " fell due unpaid";
    }
    case CauseKind::kDayChange:
      return "a new day (" + FormatDate(StartOfDay(sweep_day_)) + "): the rolling windows moved";
    case CauseKind::kProfile:
      return cause.tombstone ? "the customer's profile was removed"
                             : "the customer's profile was updated";
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
      if (e.kind() == v1::InvoiceEvent::CREDIT_HOLD_SET ||
          e.kind() == v1::InvoiceEvent::CREDIT_HOLD_RELEASED) {
        return v1::InvoiceEvent::Kind_Name(e.kind()) + " on the account";
      }
      std::string text = "invoice " + e.invoice_id() + " " + v1::InvoiceEvent::Kind_Name(e.kind());
      if (e.kind() == v1::InvoiceEvent::ISSUED) text += " " + FormatCents(e.amount_cents());
      if (e.kind() == v1::InvoiceEvent::PAID && e.has_paid_cents())
        text += " " + FormatCents(e.paid_cents());
      return text;
    }
    case InputTopic::kCampaigns: {
      const v1::CampaignEvent& e = d.campaign();
      std::string text =
          "campaign " + e.campaign_id() + " " + v1::CampaignEvent::Kind_Name(e.kind());
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
  const int64_t day = DayOf(at);
  AlertHourCounts& daily = alert_days_[static_cast<size_t>(((day % 30) + 30) % 30)];
  if (daily.hour > day) return;
  if (daily.hour < day) daily = AlertHourCounts{day, {}};
  ++daily.by_rule[rule];
}

void Task::Drain(StateBatch* batch, std::vector<PublishItem>* publish,
                 std::vector<RowChange>* rows) {
  const int32_t row_day = stream_time_ == kNoTime ? 0 : static_cast<int32_t>(DayOf(stream_time_));
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
        if (stored.exists()) {
          state::v1::CustomerRow row;
          batch->PutRow(id_, stored, row_day, nullptr, rows != nullptr ? &row : nullptr);
          if (rows != nullptr) rows->push_back(RowChange{id_, id, std::move(row)});
        }
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
    // Its list row, when it changed (a re-score, a new day's windows, a profile).
    if (entry->state.exists()) {
      state::v1::CustomerRow row;
      if (batch->PutRow(id_, entry->state, row_day, &entry->row_hash,
                        rows != nullptr ? &row : nullptr)) {
        if (rows != nullptr)
          rows->push_back(RowChange{id_, entry->state.customer_id(), std::move(row)});
      }
    } else if (entry->row_hash != kRowAbsent) {
      batch->DeleteRow(id_, entry->state.customer_id());
      if (rows != nullptr)
        rows->push_back(RowChange{id_, entry->state.customer_id(), std::nullopt});
      entry->row_hash = kRowAbsent;
    }
    entry->dirty = false;
  }
  ClearDrained(&dirty_);
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
  ClearDrained(&outbox_);
  for (const JournalItem& item : journal_) {
    batch->PutJournal(id_, item.customer_id, item.sequence, item.entry);
    if (item.sequence >= kJournalKept) {
      batch->DeleteJournal(id_, item.customer_id, item.sequence - kJournalKept);
    }
  }
  ClearDrained(&journal_);
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
    meta.set_rows_version(2);
    for (const AlertHourCounts& bucket : alert_hours_) {
      if (bucket.hour == std::numeric_limits<int64_t>::min()) continue;
      state::v1::AlertHour* h = meta.add_alert_hours();
      h->set_hour(bucket.hour);
      for (int32_t n : bucket.by_rule) h->add_by_rule(n);
    }
    for (const AlertHourCounts& bucket : alert_days_) {
      if (bucket.hour == std::numeric_limits<int64_t>::min()) continue;
      state::v1::AlertHour* h = meta.add_alert_days();
      h->set_hour(bucket.hour);
      for (int32_t n : bucket.by_rule) h->add_by_rule(n);
    }
    batch->PutTask(id_, meta);
    task_dirty_ = false;
  }
}

}  // namespace c360
