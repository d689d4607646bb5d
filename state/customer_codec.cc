#include "state/customer_codec.h"

#include "state/state.pb.h"

namespace c360 {

void CustomerCodec::Encode(const CustomerState& s, state::v1::Customer* scratch,
                           std::string* out) {
  state::v1::Customer& c = *scratch;
  c.Clear();
  c.set_version(1);
  c.set_customer_id(s.customer_id_);
  c.set_has_events(s.has_events_);
  if (s.profile_) *c.mutable_profile() = *s.profile_;
  for (const UsageDay& u : s.usage_days_) {
    c.add_usage_day(u.day);
    c.add_usage_count(u.count);
  }
  for (const ModuleDay& m : s.module_days_) {
    c.add_module_day(m.day);
    c.add_module_index(m.module);
    c.add_module_count(m.count);
  }
  for (const std::string& m : s.modules_) c.add_modules(m);
  for (const MonthCount& m : s.months_) {
    c.add_month(m.month);
    c.add_month_count(m.count);
  }
  c.set_last_usage_day(s.last_usage_day_);
  for (const TicketState& t : s.tickets_) {
    state::v1::Ticket* p = c.add_tickets();
    p->set_id(t.id);
    p->set_priority(t.priority);
    p->set_category(t.category);
    p->set_module(t.module);
    p->set_subject(t.subject);
    p->set_created(t.created);
    p->set_response_due(t.response_due);
    p->set_resolution_due(t.resolution_due);
    p->set_first_response(t.first_response);
    p->set_first_resolved(t.first_resolved);
    p->set_resolved(t.resolved);
    p->set_closed(t.closed);
    p->set_response_breached(t.response_breached);
    p->set_resolution_breached(t.resolution_breached);
    p->set_response_alerted(t.response_alerted);
    p->set_resolution_alerted(t.resolution_alerted);
    for (const std::string& id : t.applied) p->add_applied(id);
  }
  for (const InvoiceState& i : s.invoices_) {
    state::v1::Invoice* p = c.add_invoices();
    p->set_id(i.id);
    p->set_amount_cents(i.amount_cents);
    p->set_paid_cents(i.paid_cents);
    p->set_issued(i.issued);
    p->set_due(i.due);
    p->set_disputed(i.disputed);
    p->set_voided(i.voided);
    p->set_overdue_alerted(i.overdue_alerted);
    p->set_overdue_resolved(i.overdue_resolved);
    for (const std::string& id : i.applied) p->add_applied(id);
  }
  for (const CampaignState& k : s.campaigns_) {
    state::v1::Campaign* p = c.add_campaigns();
    p->set_id(k.id);
    p->set_sent_day(k.sent_day);
    p->set_engaged_day(k.engaged_day);
    for (const std::string& id : k.applied) p->add_applied(id);
  }
  for (const Rating& r : s.ratings_) {
    c.add_rating_time(r.time);
    c.add_rating_csat(r.csat);
  }
  c.set_nps(s.nps_);
  c.set_nps_time(s.nps_time_);
  c.set_credit_hold(s.credit_hold_);
  c.set_credit_hold_time(s.credit_hold_time_);
  c.set_last_interaction(s.last_interaction_);
  for (const RuleState& r : s.rules_) {
    state::v1::RuleState* p = c.add_rules();
    p->set_firing(r.firing);
    p->set_episode(r.episode);
    p->set_severity(r.severity);
    p->set_key(r.key);
  }
  c.set_published_health(s.published_.health);
  c.set_published_risk(s.published_.risk);
  c.set_published_status(s.published_.status);
  c.set_published_risk_level(s.published_.risk_level);
  c.set_pruned_day(s.pruned_day_);
  c.set_rescored_day(s.rescored_day_);
  for (const DailyScore& d : s.daily_scores_) {
    c.add_daily_scores((static_cast<uint64_t>(static_cast<uint32_t>(d.day)) << 24) |
                       (uint64_t{d.health} << 16) | (uint64_t{d.risk} << 8) | d.status);
  }
  c.set_journal_next(s.journal_next_);
  for (int32_t month : s.daily_months_) c.add_daily_months(month);
  c.SerializeToString(out);
}

bool CustomerCodec::Decode(std::string_view bytes, CustomerState* s) {
  state::v1::Customer c;
  if (!c.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || c.version() != 1) {
    return false;
  }
  if (c.usage_day_size() != c.usage_count_size() || c.module_day_size() != c.module_index_size() ||
      c.module_day_size() != c.module_count_size() || c.month_size() != c.month_count_size() ||
      c.rating_time_size() != c.rating_csat_size() || c.rules_size() > kRuleCount) {
    return false;
  }
  *s = CustomerState(c.customer_id());
  s->has_events_ = c.has_events();
  if (c.has_profile()) s->profile_ = c.profile();
  for (int i = 0; i < c.usage_day_size(); ++i) {
    s->usage_days_.push_back({c.usage_day(i), c.usage_count(i)});
  }
  for (const std::string& m : c.modules()) s->modules_.push_back(m);
  s->module_r30_.assign(s->modules_.size(), 0);
  for (int i = 0; i < c.module_day_size(); ++i) {
    if (c.module_index(i) >= s->modules_.size()) return false;
    s->module_days_.push_back(
        {c.module_day(i), static_cast<uint16_t>(c.module_index(i)), c.module_count(i)});
  }
  for (int i = 0; i < c.month_size(); ++i) s->months_.push_back({c.month(i), c.month_count(i)});
  s->last_usage_day_ = c.last_usage_day();
  for (const auto& p : c.tickets()) {
    TicketState& t = s->tickets_.emplace_back();
    t.id = p.id();
    t.priority = p.priority();
    t.category = p.category();
    t.module = p.module();
    t.subject = p.subject();
    t.created = p.created();
    t.response_due = p.response_due();
    t.resolution_due = p.resolution_due();
    t.first_response = p.first_response();
    t.first_resolved = p.first_resolved();
    t.resolved = p.resolved();
    t.closed = p.closed();
    t.response_breached = p.response_breached();
    t.resolution_breached = p.resolution_breached();
    t.response_alerted = p.response_alerted();
    t.resolution_alerted = p.resolution_alerted();
    t.applied.assign(p.applied().begin(), p.applied().end());
  }
  for (const auto& p : c.invoices()) {
    InvoiceState& i = s->invoices_.emplace_back();
    i.id = p.id();
    i.amount_cents = p.amount_cents();
    i.paid_cents = p.paid_cents();
    i.issued = p.issued();
    i.due = p.due();
    i.disputed = p.disputed();
    i.voided = p.voided();
    i.overdue_alerted = p.overdue_alerted();
    i.overdue_resolved = p.overdue_resolved();
    i.applied.assign(p.applied().begin(), p.applied().end());
  }
  for (const auto& p : c.campaigns()) {
    CampaignState& k = s->campaigns_.emplace_back();
    k.id = p.id();
    k.sent_day = p.sent_day();
    k.engaged_day = p.engaged_day();
    k.applied.assign(p.applied().begin(), p.applied().end());
  }
  for (int i = 0; i < c.rating_time_size(); ++i) {
    s->ratings_.push_back({c.rating_time(i), c.rating_csat(i)});
  }
  s->nps_ = c.nps();
  s->nps_time_ = c.nps_time();
  s->credit_hold_ = c.credit_hold();
  s->credit_hold_time_ = c.credit_hold_time();
  s->last_interaction_ = c.last_interaction();
  for (int r = 0; r < c.rules_size(); ++r) {
    s->rules_[r] = RuleState{c.rules(r).firing(), c.rules(r).episode(), c.rules(r).severity(),
                             c.rules(r).key()};
  }
  s->published_ = {c.published_health(), c.published_risk(), c.published_status(),
                   c.published_risk_level()};
  s->pruned_day_ = c.pruned_day();
  s->rescored_day_ = c.rescored_day();
  for (uint64_t v : c.daily_scores()) {
    s->daily_scores_.push_back({static_cast<int32_t>(static_cast<uint32_t>(v >> 24)),
                                static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                                static_cast<uint8_t>(v)});
  }
  s->journal_next_ = c.journal_next();
  s->daily_months_.assign(c.daily_months().begin(), c.daily_months().end());
  s->CloseEarlierMonths();  // format 1 kept the whole timeline here
  s->sums_day_ = kNoDay;  // rebuilt on first use
  return true;
}

}  // namespace c360
