#include "scoring/customer_state.h"

#include "common/fnv.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>

namespace c360 {
namespace {

constexpr std::string_view kOtherModule = "other";
constexpr int kModuleDays = 30;
constexpr int kMonthsKept = 13;      // 12 shown, plus the month before for a clean slide
constexpr int kTicketDaysKept = 91;  // 13 weeks of weekly tickets

template <typename Entity>
Entity* FindOrAdd(std::vector<Entity>* entities, const std::string& id) {
  // Newest entities are at the back and are the likeliest to get the next event.
  for (auto it = entities->rbegin(); it != entities->rend(); ++it) {
    if (it->id == id) return &*it;
  }
  entities->emplace_back();
  entities->back().id = id;
  return &entities->back();
}

// Adds `quantity` to the entry whose key(entry) == k in a vector sorted by key, inserting
// it if missing. In-order events land at the back, so the search is short. Returns true
// when an entry was inserted.
template <typename Entry, typename KeyOf>
bool AddSorted(std::vector<Entry>* entries, int32_t k, int64_t quantity, KeyOf key, Entry fresh) {
  auto it = entries->end();
  while (it != entries->begin() && key(*(it - 1)) > k) --it;
  if (it != entries->begin() && key(*(it - 1)) == k) {
    (it - 1)->count += quantity;
    return false;
  }
  entries->insert(it, fresh);
  return true;
}

template <typename Entity>
const Entity* Find(const std::vector<Entity>& entities, const std::string& id) {
  for (auto it = entities.rbegin(); it != entities.rend(); ++it) {
    if (it->id == id) return &*it;
  }
  return nullptr;
}

bool Contains(const std::vector<std::string>& applied, const std::string& event_id) {
  return std::find(applied.begin(), applied.end(), event_id) != applied.end();
}

// What an invoice event does to its invoice (credit holds are the customer's).
void ApplyToInvoice(InvoiceState* invoice, const v1::InvoiceEvent& e, TimeMs t) {
  if (e.has_due_date() && (invoice->due == kNoTime || e.kind() == v1::InvoiceEvent::ISSUED)) {
    invoice->due = ToMs(e.due_date());
  }
  switch (e.kind()) {
    case v1::InvoiceEvent::ISSUED:
      invoice->amount_cents = e.amount_cents();
      invoice->issued = t;
      break;
    case v1::InvoiceEvent::PAID:
      invoice->paid_cents += e.has_paid_cents() ? e.paid_cents() : invoice->balance();
      break;
    case v1::InvoiceEvent::DISPUTED: invoice->disputed = true; break;
    case v1::InvoiceEvent::DISPUTE_RESOLVED: invoice->disputed = false; break;
    case v1::InvoiceEvent::VOIDED: invoice->voided = true; break;
    default: break;
  }
}

// Bits of UserDays::days for the days [from_day, to_day] given the anchor day (bit 0).
uint64_t DayMask(int32_t anchor, int32_t from_day, int32_t to_day) {
  const int64_t lo = std::max<int64_t>(0, int64_t{anchor} - to_day);
  const int64_t hi = std::min<int64_t>(kUsageDays - 1, int64_t{anchor} - from_day);
  if (hi < lo) return 0;
  const int64_t width = hi - lo + 1;
  return (width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1) << lo;
}
constexpr uint64_t kKeptDays = (uint64_t{1} << kUsageDays) - 1;

bool IsEngagement(v1::CampaignEvent::Kind kind) {
  return kind == v1::CampaignEvent::OPENED || kind == v1::CampaignEvent::CLICKED ||
         kind == v1::CampaignEvent::RESPONDED || kind == v1::CampaignEvent::CONVERTED;
}

}  // namespace

int32_t MonthIndexOfDay(int32_t day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  return static_cast<int32_t>(ymd.year()) * 12 + static_cast<int32_t>(unsigned(ymd.month())) - 1;
}

std::string MonthLabel(int32_t month_index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d", month_index / 12, month_index % 12 + 1);
  return buf;
}

uint64_t UserHash(std::string_view user_id) { return Fnv1a64(user_id); }

bool CustomerState::Seen(std::vector<std::string>* applied, const std::string& event_id) {
  if (std::find(applied->begin(), applied->end(), event_id) != applied->end()) return true;
  applied->push_back(event_id);
  return false;
}

uint16_t CustomerState::ModuleIndex(std::string_view module) {
  if (module.empty()) module = kOtherModule;
  for (size_t i = 0; i < modules_.size(); ++i) {
    if (modules_[i] == module) return static_cast<uint16_t>(i);
  }
  if (modules_.size() >= 0xffff) return ModuleIndex(kOtherModule);
  modules_.emplace_back(module);
  module_r30_.push_back(0);
  return static_cast<uint16_t>(modules_.size() - 1);
}

bool CustomerState::ApplyUsage(const v1::UsageEvent& e, TimeMs event_time, int32_t day,
                               size_t users_limit, bool* user_refused) {
  has_events_ = true;
  const int64_t quantity = e.quantity() == 0 ? 1 : e.quantity();
  const int32_t d = static_cast<int32_t>(DayOf(event_time));
  if (!e.user_id().empty()) CountUser(e.user_id(), d, day, users_limit, user_refused);
  last_usage_day_ = std::max(last_usage_day_, d);
  Touch(event_time);

  if (d > day - kUsageDays) {
    AddSorted(
        &usage_days_, d, quantity, [](const UsageDay& u) { return u.day; }, UsageDay{d, quantity});
  }
  const uint16_t module = ModuleIndex(e.module());
  if (d > day - kModuleDays) {
    auto it = module_days_.end();
    while (it != module_days_.begin() && (it - 1)->day > d) --it;
    auto same = it;
    while (same != module_days_.begin() && (same - 1)->day == d) {
      if ((same - 1)->module == module) break;
      --same;
    }
    if (same != module_days_.begin() && (same - 1)->day == d && (same - 1)->module == module) {
      (same - 1)->count += quantity;
    } else {
      module_days_.insert(it, ModuleDay{d, module, quantity});
    }
  }
  const int32_t month = MonthIndexOfDay(d);
  if (AddSorted(
          &months_, month, quantity, [](const MonthCount& m) { return m.month; },
          MonthCount{month, quantity}) &&
      months_.size() > kMonthsKept) {
    months_.erase(months_.begin());
  }

  if (sums_day_ == day) {  // keep the cached sums exact without a rebuild
    if (d > day - 30) {
      r30_ += quantity;
      module_r30_[module] += quantity;
    } else if (d > day - kUsageDays) {
      prior_ += quantity;
    }
  }
  return true;
}

void CustomerState::CountUser(std::string_view user_id, int32_t d, int32_t day, size_t limit,
                              bool* refused) {
  if (d <= day - kUsageDays) return;  // outside every window
  UserActivity& a = users_ ? *users_ : users_.emplace();
  if (a.users.empty()) {
    a.anchor_day = d;
  } else if (d > a.anchor_day) {
    // A later latest day: every user's bits move with it; those left with none go.
    const int32_t shift = d - a.anchor_day;
    for (UserDays& u : a.users) u.days = shift >= 64 ? 0 : (u.days << shift) & kKeptDays;
    std::erase_if(a.users, [](const UserDays& u) { return u.days == 0; });
    a.anchor_day = d;
  }
  const int32_t position = a.anchor_day - d;
  if (position >= kUsageDays) return;
  const uint64_t bit = uint64_t{1} << position;
  const uint64_t hash = UserHash(user_id);
  auto it = std::lower_bound(a.users.begin(), a.users.end(), hash,
                             [](const UserDays& u, uint64_t h) { return u.hash < h; });
  if (it == a.users.end() || it->hash != hash) {
    if (a.users.size() >= limit) {
      if (refused != nullptr) *refused = true;
      return;
    }
    it = a.users.insert(it, UserDays{hash, 0});
  }
  const uint64_t before = it->days;
  if ((before & bit) != 0) return;
  it->days = before | bit;
  if (sums_day_ != day) return;  // rebuilt on next use
  // Keep the cached counts exact without a rebuild.
  if (d > day - 30) {
    ++a.user_days_r30;
    if ((before & DayMask(a.anchor_day, day - 29, day)) == 0) ++a.active_r30;
  } else if ((before & DayMask(a.anchor_day, day - 59, day - 30)) == 0) {
    ++a.active_prior;
  }
}

void CustomerState::RebuildUsageSums(int32_t day) {
  std::erase_if(usage_days_, [day](const UsageDay& u) { return u.day <= day - kUsageDays; });
  std::erase_if(module_days_, [day](const ModuleDay& m) { return m.day <= day - kModuleDays; });
  r30_ = 0;
  prior_ = 0;
  for (const UsageDay& u : usage_days_) {
    if (u.day > day) continue;
    (u.day > day - 30 ? r30_ : prior_) += u.count;
  }
  std::fill(module_r30_.begin(), module_r30_.end(), 0);
  for (const ModuleDay& m : module_days_) {
    if (m.day <= day) module_r30_[m.module] += m.count;
  }
  if (users_) {
    UserActivity& a = *users_;
    a.active_r30 = 0;
    a.active_prior = 0;
    a.user_days_r30 = 0;
    const uint64_t r30 = DayMask(a.anchor_day, day - 29, day);
    const uint64_t prior = DayMask(a.anchor_day, day - 59, day - 30);
    for (UserDays& u : a.users) {
      u.days &= r30 | prior;  // days that left both windows are forgotten
      if ((u.days & r30) != 0) {
        ++a.active_r30;
        a.user_days_r30 += std::popcount(u.days & r30);
      }
      if ((u.days & prior) != 0) ++a.active_prior;
    }
    std::erase_if(a.users, [](const UserDays& u) { return u.days == 0; });
    if (a.users.empty()) users_.reset();
  }
  sums_day_ = day;
}

int32_t CustomerState::ModulesUsedR30(int32_t day) {
  if (sums_day_ != day) RebuildUsageSums(day);
  int32_t n = 0;
  for (int64_t events : module_r30_) n += events > 0 ? 1 : 0;
  return n;
}

int32_t CustomerState::ActiveUsersR30(int32_t day) {
  if (sums_day_ != day) RebuildUsageSums(day);
  return users_ ? users_->active_r30 : 0;
}

int32_t CustomerState::ActiveUsersPriorR30(int32_t day) {
  if (sums_day_ != day) RebuildUsageSums(day);
  return users_ ? users_->active_prior : 0;
}

int64_t CustomerState::UserDaysR30(int32_t day) {
  if (sums_day_ != day) RebuildUsageSums(day);
  return users_ ? users_->user_days_r30 : 0;
}

std::optional<int32_t> CustomerState::HealthOnOrBefore(int32_t day) const {
  // Entries are the end-of-day value of each day that changed it (later days carry it
  // forward), so the latest entry on or before `day` is the health of its last re-score.
  for (auto it = daily_scores_.rbegin(); it != daily_scores_.rend(); ++it) {
    if (it->day <= day) return it->health;
  }
  if (daily_pending_) {
    const auto& closed = daily_pending_->closed;
    for (auto it = closed.rbegin(); it != closed.rend(); ++it) {
      if (it->day <= day) return it->health;
    }
  }
  for (auto it = daily_tail_.rbegin(); it != daily_tail_.rend(); ++it) {
    if (it->day <= day) return it->health;
  }
  return std::nullopt;
}

int64_t CustomerState::UsageR30(int32_t day) {
  if (sums_day_ != day) RebuildUsageSums(day);
  return r30_;
}

int64_t CustomerState::UsagePriorR30(int32_t day) {
  if (sums_day_ != day) RebuildUsageSums(day);
  return prior_;
}

std::vector<std::pair<std::string, int64_t>> CustomerState::ModulesR30(int32_t day) {
  if (sums_day_ != day) RebuildUsageSums(day);
  std::vector<std::pair<std::string, int64_t>> out;
  for (size_t i = 0; i < modules_.size(); ++i) {
    if (module_r30_[i] > 0) out.emplace_back(modules_[i], module_r30_[i]);
  }
  return out;
}

int64_t CustomerState::UsageInMonth(int32_t month) const {
  for (const MonthCount& m : months_) {
    if (m.month == month) return m.count;
  }
  return 0;
}

bool CustomerState::ApplyTicket(const v1::TicketEvent& e, TimeMs t, const Config& config) {
  TicketState* ticket = FindOrAdd(&tickets_, e.ticket_id());
  if (Seen(&ticket->applied, e.event_id())) return false;
  has_events_ = true;
  EntitiesChanged();
  if (e.priority() >= 1 && e.priority() <= 4) ticket->priority = e.priority();
  if (!e.category().empty()) ticket->category = e.category();
  if (!e.module().empty()) ticket->module = e.module();
  if (!e.subject().empty()) ticket->subject = e.subject();

  const auto respond = [&](TimeMs at) {
    if (ticket->first_response != kNoTime) return;
    ticket->first_response = at;
    if (ticket->response_due != kNoTime && at > ticket->response_due) {
      ticket->response_breached = true;
    }
  };
  const auto resolve = [&](TimeMs at) {
    ticket->resolved = at;
    if (ticket->first_resolved != kNoTime) return;
    ticket->first_resolved = at;
    if (ticket->resolution_due != kNoTime && at > ticket->resolution_due) {
      ticket->resolution_breached = true;
    }
  };
  const auto rate = [&] {
    if (e.has_csat()) ratings_.push_back(Rating{t, e.csat()});
  };

  switch (e.kind()) {
    case v1::TicketEvent::CREATED: {
      if (ticket->created != kNoTime) break;  // a second CREATED under a new event_id
      ticket->created = t;
      Touch(t);
      const SlaPolicy& sla = config.sla[ticket->priority];
      ticket->response_due =
          e.has_response_due() ? ToMs(e.response_due()) : t + sla.response_hours * kMsPerHour;
      ticket->resolution_due =
          e.has_resolution_due() ? ToMs(e.resolution_due()) : t + sla.resolution_hours * kMsPerHour;
      // Events of this ticket that arrived before its CREATED are judged now.
      if (ticket->first_response != kNoTime && ticket->first_response > ticket->response_due) {
        ticket->response_breached = true;
      }
      if (ticket->first_resolved != kNoTime && ticket->first_resolved > ticket->resolution_due) {
        ticket->resolution_breached = true;
      }
      break;
    }
    case v1::TicketEvent::FIRST_RESPONSE: respond(t); break;
    case v1::TicketEvent::UPDATED: break;
    case v1::TicketEvent::RESOLVED:
      respond(t);
      resolve(t);
      rate();
      break;
    case v1::TicketEvent::CLOSED:
      respond(t);
      if (ticket->resolved == kNoTime) resolve(t);
      ticket->closed = true;
      rate();
      break;
    case v1::TicketEvent::REOPENED:
      ticket->resolved = kNoTime;
      ticket->closed = false;
      break;
    default: break;
  }
  return true;
}

bool CustomerState::ApplyInvoice(const v1::InvoiceEvent& e, TimeMs t) {
  if (e.kind() == v1::InvoiceEvent::CREDIT_HOLD_SET ||
      e.kind() == v1::InvoiceEvent::CREDIT_HOLD_RELEASED) {
    // Per customer: the latest by event time wins, so a redelivery changes nothing.
    has_events_ = true;
    EntitiesChanged();
    if (t >= credit_hold_time_) {
      credit_hold_ = e.kind() == v1::InvoiceEvent::CREDIT_HOLD_SET;
      credit_hold_time_ = t;
    }
    return true;
  }
  InvoiceState* invoice = FindOrAdd(&invoices_, e.invoice_id());
  if (Seen(&invoice->applied, e.event_id())) return false;
  has_events_ = true;
  EntitiesChanged();
  ApplyToInvoice(invoice, e, t);
  if (e.kind() == v1::InvoiceEvent::PAID) Touch(t);
  return true;
}

size_t CustomerState::unresolved_tickets() const {
  return static_cast<size_t>(std::count_if(tickets_.begin(), tickets_.end(),
                                           [](const TicketState& t) { return t.unresolved(); }));
}

size_t CustomerState::unsettled_invoices() const {
  return static_cast<size_t>(std::count_if(invoices_.begin(), invoices_.end(),
                                           [](const InvoiceState& i) { return i.unsettled(); }));
}

bool CustomerState::OpensTicket(const v1::TicketEvent& e) const {
  const TicketState* ticket = Find(tickets_, e.ticket_id());
  // A first event leaves its ticket unresolved unless it resolves it.
  if (ticket == nullptr) {
    return e.kind() != v1::TicketEvent::RESOLVED && e.kind() != v1::TicketEvent::CLOSED;
  }
  if (Contains(ticket->applied, e.event_id())) return false;
  return !ticket->unresolved() && e.kind() == v1::TicketEvent::REOPENED;
}

bool CustomerState::OpensInvoice(const v1::InvoiceEvent& e) const {
  if (e.kind() == v1::InvoiceEvent::CREDIT_HOLD_SET ||
      e.kind() == v1::InvoiceEvent::CREDIT_HOLD_RELEASED) {
    return false;
  }
  const InvoiceState* invoice = Find(invoices_, e.invoice_id());
  if (invoice == nullptr) return true;  // not settled before it is issued
  if (Contains(invoice->applied, e.event_id()) || invoice->unsettled()) return false;
  InvoiceState after = *invoice;  // rare: an event on a settled invoice
  ApplyToInvoice(&after, e, 0);
  return after.unsettled();
}

bool CustomerState::ApplyCampaign(const v1::CampaignEvent& e, TimeMs t) {
  CampaignState* campaign = FindOrAdd(&campaigns_, e.campaign_id());
  if (Seen(&campaign->applied, e.event_id())) return false;
  has_events_ = true;
  EntitiesChanged();
  const int32_t d = static_cast<int32_t>(DayOf(t));
  if (e.kind() == v1::CampaignEvent::SENT) campaign->sent_day = std::max(campaign->sent_day, d);
  if (IsEngagement(e.kind())) {
    campaign->engaged_day = std::max(campaign->engaged_day, d);
    Touch(t);
  }
  if (e.has_nps() && t >= nps_time_) {
    nps_ = e.nps();
    nps_time_ = t;
  }
  if (e.has_csat()) ratings_.push_back(Rating{t, e.csat()});
  return true;
}

void CustomerState::RecordDaily(int32_t day, int health, int risk, int status) {
  DailyScore today{day, static_cast<uint8_t>(health), static_cast<uint8_t>(risk),
                   static_cast<uint8_t>(status)};
  if (!daily_scores_.empty()) {
    DailyScore& last = daily_scores_.back();
    today.day = std::max(day, last.day);
    if (last.day == today.day) {
      last = today;
      // Equal to the day before: the entry is a carry-forward, not a change.
      const size_t n = daily_scores_.size();
      if (n >= 2) {
        const DailyScore& before = daily_scores_[n - 2];
        if (before.health == today.health && before.risk == today.risk &&
            before.status == today.status) {
          daily_scores_.pop_back();
        }
      }
      return;
    }
    if (last.health == today.health && last.risk == today.risk && last.status == today.status) {
      return;  // carried forward
    }
  }
  // A later month closes the open one: its entries go to a history key at the next commit.
  CloseMonthsBefore(MonthIndexOfDay(today.day));
  daily_scores_.push_back(today);
}

void CustomerState::CloseMonthsBefore(int32_t month) {
  size_t closed = 0;
  while (closed < daily_scores_.size() && MonthIndexOfDay(daily_scores_[closed].day) < month)
    ++closed;
  if (closed == 0) return;
  // The closed months' last kDailyTail entries: every entry of their last 8 days (at most
  // one a day) and the one in force before them.
  daily_tail_.insert(daily_tail_.end(), daily_scores_.begin(),
                     daily_scores_.begin() + static_cast<ptrdiff_t>(closed));
  if (daily_tail_.size() > kDailyTail) {
    daily_tail_.erase(daily_tail_.begin(), daily_tail_.end() - static_cast<ptrdiff_t>(kDailyTail));
  }
  DailyPending& pending = daily_pending_ ? *daily_pending_ : daily_pending_.emplace();
  pending.closed.insert(pending.closed.end(), daily_scores_.begin(),
                        daily_scores_.begin() + static_cast<ptrdiff_t>(closed));
  daily_scores_.erase(daily_scores_.begin(),
                      daily_scores_.begin() + static_cast<ptrdiff_t>(closed));
}

void CustomerState::CloseEarlierMonths() {
  if (!daily_scores_.empty()) CloseMonthsBefore(MonthIndexOfDay(daily_scores_.back().day));
}

void CustomerState::ClearDailyScores() {
  daily_scores_.clear();
  daily_tail_.clear();
  if (daily_pending_) daily_pending_->closed.clear();
  if (!daily_months_.empty()) {
    DailyPending& pending = daily_pending_ ? *daily_pending_ : daily_pending_.emplace();
    pending.dropped.insert(pending.dropped.end(), daily_months_.begin(), daily_months_.end());
    daily_months_.clear();
  }
  if (daily_pending_ && daily_pending_->dropped.empty()) daily_pending_.reset();
}

CustomerState::DailyFlush CustomerState::TakeDailyFlush() {
  DailyFlush flush;
  if (!daily_pending_) return flush;
  DailyPending pending = std::move(*daily_pending_);
  daily_pending_.reset();
  flush.drop = std::move(pending.dropped);  // a cleared timeline's months (before any put)
  for (const DailyScore& d : pending.closed) {
    const int32_t month = MonthIndexOfDay(d.day);
    if (flush.put.empty() || flush.put.back().first != month) {
      flush.put.emplace_back(month, std::vector<DailyScore>{});
      // Each month closes once, after every stored one.
      if (daily_months_.empty() || daily_months_.back() < month) daily_months_.push_back(month);
    }
    flush.put.back().second.push_back(d);
  }
  if (daily_scores_.empty()) return flush;
  // Keep the months that may hold the last kDailyScoreDays days and the one with the
  // entry in force at their start: a month goes once the month after it lies wholly
  // before that range (and then holds that entry, or a later one).
  const int32_t first_month = MonthIndexOfDay(daily_scores_.back().day - (kDailyScoreDays - 1));
  size_t old = 0;
  while (old + 1 < daily_months_.size() && daily_months_[old + 1] < first_month) ++old;
  for (size_t i = 0; i < old; ++i) {
    const int32_t month = daily_months_[i];
    std::erase_if(flush.put, [&](const auto& put) { return put.first == month; });
    flush.drop.push_back(month);
  }
  daily_months_.erase(daily_months_.begin(), daily_months_.begin() + static_cast<ptrdiff_t>(old));
  return flush;
}

void CustomerState::FoldDailyHistory(std::vector<DailyScore> history) {
  if (daily_pending_) {
    const auto& closed = daily_pending_->closed;
    history.insert(history.end(), closed.begin(), closed.end());
    daily_pending_->closed.clear();
  }
  history.insert(history.end(), daily_scores_.begin(), daily_scores_.end());
  daily_scores_ = std::move(history);
}

void CustomerState::Prune(int32_t day) {
  if (pruned_day_ == day) return;
  pruned_day_ = day;
  EntitiesChanged();
  const int32_t oldest_kept = day - 89;  // R90D, the longest window
  std::erase_if(tickets_, [&](const TicketState& t) {
    return !t.unresolved() && DayOf(std::max(t.created, t.resolved)) < day - kTicketDaysKept;
  });
  std::erase_if(invoices_, [&](const InvoiceState& i) {
    const bool alert_open = i.overdue_alerted && !i.overdue_resolved;
    return !i.unsettled() && !alert_open && DayOf(i.issued) < oldest_kept;
  });
  std::erase_if(campaigns_, [&](const CampaignState& c) {
    return std::max(c.sent_day, c.engaged_day) < oldest_kept;
  });
  std::erase_if(ratings_, [&](const Rating& r) { return DayOf(r.time) < oldest_kept; });
}

}  // namespace c360
