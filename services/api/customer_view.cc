#include "services/api/customer_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include "common/time.h"
#include "scoring/churn_model.h"
#include "scoring/recommendations.h"
#include "scoring/rules.h"

namespace c360::api {
namespace {

using nlohmann::json;
using v1::AlertEvent;
using v1::HealthSnapshot;

constexpr int kRecentTickets = 25;
constexpr int kWeeks = 13;

json Time(TimeMs t) { return t == kNoTime ? json(nullptr) : json(FormatRfc3339(t)); }

double Hours(TimeMs from, TimeMs to) {
  return Rounded(static_cast<double>(to - from) / kMsPerHour, 2);
}

std::string StatusName(int status) {
  return status == 0 ? ""
                     : HealthSnapshot::Status_Name(static_cast<HealthSnapshot::Status>(status));
}

// The API's JSON of a message (common/proto_json.h): int64 as numbers, doubles rounded to 2
// places (the two ratios to 3), Timestamps as RFC 3339 with milliseconds, absent as null.
int ApiDecimalPlaces(const google::protobuf::FieldDescriptor& f) {
  return f.name() == "csat_avg_r90d" || f.name() == "response_rate_r90d" ? 3 : 2;
}
constexpr JsonMapping kApiJson{.int64_as_string = false,
                               .unset_messages_as_null = true,
                               .timestamp_millis = true,
                               .decimal_places = &ApiDecimalPlaces};

json MessageJson(const google::protobuf::Message& m) { return ProtoToJson(m, kApiJson); }

std::string PriorityName(int priority) {
  return priority >= 1 && priority <= 4 ? "P" + std::to_string(priority) : "";
}

std::string TicketStatus(const TicketState& t) {
  if (t.closed) return "CLOSED";
  if (t.resolved != kNoTime) return "RESOLVED";
  if (t.first_response != kNoTime) return "RESPONDED";
  return "OPEN";
}

std::string SlaState(bool breached, TimeMs done) {
  if (breached) return "BREACHED";
  return done != kNoTime ? "MET" : "PENDING";
}

json TicketJson(const TicketState& t) {
  const bool breached = t.response_breached || t.resolution_breached;
  const bool done = t.first_resolved != kNoTime;
  return {
      {"id", t.id},
      {"ticket_id", t.id},  // the event field's name, for joins with c360.tickets
      {"priority", t.priority > 0 ? json(PriorityName(t.priority)) : json(nullptr)},
      {"status", TicketStatus(t)},
      {"category", t.category},
      {"module", t.module},
      {"subject", t.subject},
      {"created", Time(t.created)},
      {"sla", breached ? "BREACHED" : (done ? "MET" : "PENDING")},
      {"response_sla", SlaState(t.response_breached, t.first_response)},
      {"resolution_sla", SlaState(t.resolution_breached, t.first_resolved)},
      {"response_due", Time(t.response_due)},
      {"resolution_due", Time(t.resolution_due)},
      {"response_hours",
       t.first_response != kNoTime ? json(Hours(t.created, t.first_response)) : json(nullptr)},
      {"resolution_hours",
       t.resolved != kNoTime ? json(Hours(t.created, t.resolved)) : json(nullptr)},
  };
}

bool Overdue(const InvoiceState& i, TimeMs horizon) {
  return !i.voided && i.due != kNoTime && i.due <= horizon && i.balance() > 0;
}

json AlertJson(const AlertEvent& a) {
  json out = {
      {"alert_id", a.alert_id()},
      {"rule", AlertEvent::Rule_Name(a.rule())},
      {"state", AlertEvent::State_Name(a.state())},
      {"severity", AlertEvent::Severity_Name(a.severity())},
      {"message", a.message()},
      {"entity_id", a.entity_id()},
      {"episode", a.episode()},
      {"vip", a.vip()},
      {"observed_value", Rounded(a.observed_value(), 2)},
      {"threshold", Rounded(a.threshold(), 2)},
      {"recommended_action", a.recommended_action()},
      {"stream_time", Time(ToMs(a.stream_time()))},
      {"event_time", Time(ToMs(a.event_time()))},
      {"source",
       {{"topic", a.source_topic()},
        {"partition", a.source_partition()},
        {"offset", a.source_offset()}}},
  };
  if (a.rule() == AlertEvent::SLA_BREACH) out["sla_kind"] = AlertEvent::SlaKind_Name(a.sla_kind());
  return out;
}

json CauseJson(const state::v1::JournalEntry& e) {
  json cause = {{"kind", e.cause_kind()}, {"text", e.cause_text()}};
  if (e.cause_partition() >= 0) {
    cause["topic"] = e.cause_topic();
    cause["partition"] = e.cause_partition();
    cause["offset"] = e.cause_offset();
  }
  cause["event_time"] = Time(e.cause_event_time());
  return cause;
}

// An alert that is firing now, as the state knows it.
struct Firing {
  AlertEvent::Rule rule;
  std::string key;  // of its alert_id (SPEC section 5)
  std::string entity_id;
  int severity;  // from the state when known; the journal's message says more
};

std::vector<Firing> FiringAlerts(const CustomerState& s) {
  std::vector<Firing> out;
  for (int r = 1; r < kRuleCount; ++r) {
    const RuleState& rs = s.rules()[r];
    const auto rule = static_cast<AlertEvent::Rule>(r);
    if (!rs.firing || rule == AlertEvent::SLA_BREACH || rule == AlertEvent::INVOICE_OVERDUE)
      continue;
    const bool renewal = rule == AlertEvent::RENEWAL_DUE;
    const std::string key = renewal ? rs.key() : "";
    out.push_back({rule, renewal ? key : std::to_string(rs.episode), key, rs.severity});
  }
  // SLA_BREACH never resolves (SPEC 5); it stays on the list while its ticket is open.
  for (const TicketState& t : s.tickets()) {
    if (!t.open()) continue;
    if (t.response_alerted) out.push_back({AlertEvent::SLA_BREACH, t.id + "/response", t.id, 0});
    if (t.resolution_alerted)
      out.push_back({AlertEvent::SLA_BREACH, t.id + "/resolution", t.id, 0});
  }
  for (const InvoiceState& i : s.invoices()) {
    if (i.overdue_alerted && !i.overdue_resolved) {
      out.push_back({AlertEvent::INVOICE_OVERDUE, i.id, i.id, 0});
    }
  }
  return out;
}

json FiringJson(const CustomerState& s, const std::vector<state::v1::JournalEntry>& journal) {
  json out = json::array();
  for (const Firing& f : FiringAlerts(s)) {
    const std::string id = AlertId(s.customer_id(), f.rule, f.key);
    // The latest FIRING message of the episode (an escalation is the latest).
    const state::v1::JournalEntry* found = nullptr;
    for (auto it = journal.rbegin(); it != journal.rend(); ++it) {
      if (it->kind() == state::v1::JournalEntry::ALERT && it->alert().alert_id() == id &&
          it->alert().state() == AlertEvent::FIRING) {
        found = &*it;
        break;
      }
    }
    json a;
    if (found != nullptr) {
      a = AlertJson(found->alert());
      a["cause"] = CauseJson(*found);
    } else {  // older than the journal keeps
      a = {{"alert_id", id},
           {"rule", AlertEvent::Rule_Name(f.rule)},
           {"state", "FIRING"},
           {"severity", f.severity > 0 ? json(AlertEvent::Severity_Name(
                                             static_cast<AlertEvent::Severity>(f.severity)))
                                       : json(nullptr)},
           {"entity_id", f.entity_id},
           {"message", nullptr}};
    }
    out.push_back(std::move(a));
  }
  // Most severe first, then newest.
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    auto rank = [](const json& x) {
      const std::string sev = x["severity"].is_string() ? x["severity"].get<std::string>() : "";
      return sev == "CRITICAL" ? 0 : sev == "WARNING" ? 1 : 2;
    };
    return rank(a) < rank(b);
  });
  return out;
}

json WeeklyTickets(const CustomerState& s, int32_t day, const Config& config) {
  std::array<int, kWeeks> created{}, breached{};
  const int32_t first = day - kWeeks * 7 + 1;
  for (const TicketState& t : s.tickets()) {
    if (t.created == kNoTime) continue;
    const auto d = static_cast<int32_t>(DayOf(t.created));
    if (d < first || d > day) continue;
    const auto week = static_cast<size_t>((d - first) / 7);
    ++created[week];
    if (t.response_breached || t.resolution_breached) ++breached[week];
  }
  json weeks = json::array();
  for (int w = 0; w < kWeeks; ++w) {
    const int32_t start = first + w * 7;
    json met = nullptr;
    if (created[w] > 0) met = Rounded(100.0 * (created[w] - breached[w]) / created[w], 2);
    weeks.push_back({{"week_start", FormatDate(StartOfDay(start))},
                     {"week_end", FormatDate(StartOfDay(start + 6))},
                     {"created", created[w]},
                     {"breached", breached[w]},
                     {"sla_met_pct", met}});
  }
  return {{"sla_target_pct", Rounded(config.sla_target_pct, 2)}, {"weeks", weeks}};
}

json OpenInvoices(const CustomerState& s, const Evaluation& eval) {
  json out = json::array();
  const TimeMs horizon = eval.at - 1;
  for (const InvoiceState& i : s.invoices()) {
    if (i.voided || (i.balance() == 0 && !i.disputed)) continue;
    const bool overdue = Overdue(i, horizon);
    out.push_back(
        {{"invoice_id", i.id},
         {"amount_cents", i.amount_cents},
         {"balance_cents", i.balance()},
         {"issued", Time(i.issued)},
         {"due", Time(i.due)},
         {"overdue", overdue},
         {"days_overdue", overdue ? eval.kpis.day - static_cast<int32_t>(DayOf(i.due)) : 0},
         {"disputed", i.disputed}});
  }
  return out;
}

}  // namespace

Evaluation Evaluate(CustomerState& state, const ViewContext& ctx) {
  Evaluation e;
  e.at = ctx.stream_time != kNoTime ? ctx.stream_time : ctx.now;
  // A re-score at T sees deadlines strictly before T as passed (kpis.h).
  e.kpis = ComputeKpis(state, e.at, e.at - 1);
  e.scores = ComputeScores(e.kpis, ctx.config);
  AddHealthTrend(state, e.scores.health, &e.kpis);
  ApplyChurnModels(ctx.config, e.kpis, &e.scores);
  FillKpis(state, e.kpis, &e.kpi_fields);
  e.kpi_fields.set_lifecycle_stage(e.scores.lifecycle);
  return e;
}

json KpisJson(const v1::Kpis& kpis) { return MessageJson(kpis); }

json ProfileJson(const CustomerState& state, const Config& config) {
  if (!state.profile()) return nullptr;
  json p = MessageJson(*state.profile());
  p["vip"] = state.profile()->annual_revenue_cents() >= config.vip_revenue_cents;
  return p;
}

json CustomerView(const CustomerState& s, const Evaluation& eval,
                  const std::vector<state::v1::JournalEntry>& journal, const ViewContext& ctx) {
  const Scores& sc = eval.scores;
  google::protobuf::RepeatedPtrField<v1::Driver> drivers;
  FillDrivers(sc, eval.kpis, &drivers);
  json driver_list = json::array();
  for (const v1::Driver& d : drivers) {
    driver_list.push_back(
        {{"component", d.component()}, {"deficit", Rounded(d.deficit(), 2)}, {"text", d.text()}});
  }
  std::vector<const TicketState*> tickets;
  for (const TicketState& t : s.tickets()) {
    if (t.created != kNoTime) tickets.push_back(&t);
  }
  std::sort(tickets.begin(), tickets.end(), [](const TicketState* a, const TicketState* b) {
    return a->created != b->created ? a->created > b->created : a->id < b->id;
  });
  json recent = json::array();
  for (size_t i = 0; i < tickets.size() && i < kRecentTickets; ++i)
    recent.push_back(TicketJson(*tickets[i]));

  json view = {
      {"customer_id", s.customer_id()},
      {"task", ctx.task},
      {"profile", ProfileJson(s, ctx.config)},
      {"kpis", KpisJson(eval.kpi_fields)},
      {"health", sc.health},
      {"status", HealthSnapshot::Status_Name(sc.status)},
      {"risk", sc.risk},
      {"risk_level", HealthSnapshot::RiskLevel_Name(sc.risk_level)},
      {"components",
       {{"usage", sc.components[kUsage] / 100.0},
        {"support", sc.components[kSupport] / 100.0},
        {"financial", sc.components[kFinancial] / 100.0},
        {"engagement", sc.components[kEngagement] / 100.0}}},
      {"drivers", driver_list},
      {"lifecycle_stage", v1::Lifecycle::Stage_Name(sc.lifecycle)},
      {"weekly_tickets", WeeklyTickets(s, eval.kpis.day, ctx.config)},
      {"recent_tickets", recent},
      {"open_invoices", OpenInvoices(s, eval)},
      {"firing_alerts", FiringJson(s, journal)},
      {"stream_time", ctx.stream_time == kNoTime ? json(nullptr) : Time(ctx.stream_time)},
      {"staleness_seconds",
       ctx.stream_time == kNoTime
           ? json(nullptr)
           : json(Rounded(
                 static_cast<double>(std::max<TimeMs>(0, ctx.now - ctx.stream_time)) / 1000, 3))},
  };
  return view;
}

json AlertsView(const CustomerState& s, const Evaluation&,
                const std::vector<state::v1::JournalEntry>& journal, const ViewContext& ctx) {
  json history = json::array();
  for (auto it = journal.rbegin(); it != journal.rend(); ++it) {
    if (it->kind() != state::v1::JournalEntry::ALERT) continue;
    json a = AlertJson(it->alert());
    a["cause"] = CauseJson(*it);
    history.push_back(std::move(a));
  }
  return {{"customer_id", s.customer_id()},
          {"firing", FiringJson(s, journal)},
          {"history", history},
          {"stream_time", Time(ctx.stream_time)}};
}

json TimelineView(const CustomerState& s, const Evaluation& eval,
                  const std::vector<state::v1::JournalEntry>& journal, const ViewContext& ctx) {
  json days = json::array();
  const std::vector<DailyScore>& daily = s.daily_scores();
  if (!daily.empty()) {
    const int32_t last = std::max(eval.kpis.day, daily.back().day);
    const int32_t first = std::max(daily.front().day, last - (kDailyScoreDays - 1));
    size_t next = 0;
    const DailyScore* current = nullptr;
    for (int32_t d = first; d <= last; ++d) {
      while (next < daily.size() && daily[next].day <= d) current = &daily[next++];
      if (current == nullptr) continue;
      days.push_back({{"date", FormatDate(StartOfDay(d))},
                      {"health", current->health},
                      {"risk", current->risk},
                      {"status", StatusName(current->status)}});
    }
  }
  json events = json::array();
  for (const state::v1::JournalEntry& e : journal) {
    json item;
    if (e.kind() == state::v1::JournalEntry::STATUS_CHANGE) {
      item = {{"type", "status_change"},
              {"time", Time(e.stream_time())},
              {"from", e.from_status() == 0 ? json(nullptr) : json(StatusName(e.from_status()))},
              {"to", StatusName(e.to_status())},
              {"health_from", e.from_status() == 0 ? json(nullptr) : json(e.from_health())},
              {"health", e.health()},
              {"risk", e.risk()}};
    } else {
      item = AlertJson(e.alert());
      item["type"] = "alert";
      item["time"] = Time(e.stream_time());
    }
    item["cause"] = CauseJson(e);
    events.push_back(std::move(item));
  }
  return {{"customer_id", s.customer_id()},
          {"days", days},
          {"events", events},
          {"stream_time", Time(ctx.stream_time)}};
}

json RecommendationsView(const CustomerState& s, const Evaluation& eval,
                         const std::vector<state::v1::JournalEntry>& journal,
                         const ViewContext& ctx) {
  json list = json::array();
  for (Recommendation& r :
       Recommend(s, eval.kpis, eval.scores, eval.kpi_fields, eval.at, ctx.config)) {
    list.push_back({{"priority", PriorityLabel(r.priority)},
                    {"action", std::move(r.action)},
                    {"entity_type", std::move(r.entity_type)},
                    {"entity_id", std::move(r.entity_id)},
                    {"reason", std::move(r.reason)},
                    {"source", std::move(r.source)},
                    {"playbook", std::move(r.playbook)}});
  }
  return {{"customer_id", s.customer_id()},
          {"health", eval.scores.health},
          {"status", HealthSnapshot::Status_Name(eval.scores.status)},
          {"recommendations", list},
          {"firing_alerts", FiringJson(s, journal).size()},
          {"stream_time", Time(ctx.stream_time)}};
}

json RowJson(const CustomerRow& r) {
  return {
      {"customer_id", r.customer_id},
      {"name", r.name},
      {"segment",
       r.has_profile ? json(v1::CustomerProfile::Segment_Name(r.segment)) : json(nullptr)},
      {"annual_revenue_cents", r.annual_revenue_cents},
      {"vip", r.vip},
      {"health", r.scored ? json(r.health) : json(nullptr)},
      {"status", r.scored ? json(HealthSnapshot::Status_Name(r.status)) : json(nullptr)},
      {"risk", r.scored ? json(r.risk) : json(nullptr)},
      {"risk_level", r.scored ? json(HealthSnapshot::RiskLevel_Name(r.risk_level)) : json(nullptr)},
      {"lifecycle_stage", r.lifecycle != v1::Lifecycle::STAGE_UNSPECIFIED
                              ? json(v1::Lifecycle::Stage_Name(r.lifecycle))
                              : json(nullptr)},
      {"health_change_7d", r.health_change_7d ? json(*r.health_change_7d) : json(nullptr)},
      {"owner", r.owner},
      {"industry", r.industry},
      {"region", r.region},
      {"task", r.task}};
}

}  // namespace c360::api
