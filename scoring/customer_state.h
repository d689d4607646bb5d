#pragma once
// What c360 remembers about one customer, and how each input event changes it (SPEC
// sections 1-3). Pure: no Kafka, no RocksDB; a value type, not thread-safe.
//
// Usage is kept as sparse per-day counts for the last 60 days plus 13 monthly totals, so
// applying an event is O(1) amortised and the rolling sums (R30D, prior R30D, modules)
// are cached for the current window day and rebuilt only when the day moves.
// Tickets, invoices and campaigns are per-entity state machines that remember the
// event_ids they applied, so a redelivered event changes nothing.

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "c360/v1/campaign.pb.h"
#include "c360/v1/customer.pb.h"
#include "c360/v1/invoice.pb.h"
#include "c360/v1/ticket.pb.h"
#include "c360/v1/usage.pb.h"
#include "common/time.h"
#include "scoring/config.h"

namespace c360 {

inline constexpr TimeMs kNoTime = std::numeric_limits<TimeMs>::min();
inline constexpr int32_t kNoDay = std::numeric_limits<int32_t>::min();
inline constexpr int kUsageDays = 60;  // R30D + prior R30D

struct TicketState {
  std::string id;
  int priority = 0;  // 1..4; 0 until an event names it
  std::string category;
  std::string module;
  std::string subject;
  TimeMs created = kNoTime;  // CREATED's event time
  TimeMs response_due = kNoTime;
  TimeMs resolution_due = kNoTime;
  TimeMs first_response = kNoTime;
  TimeMs first_resolved = kNoTime;  // the resolution SLA is judged on the first resolution
  TimeMs resolved = kNoTime;        // latest resolution; kNoTime while open
  bool closed = false;
  bool response_breached = false;
  bool resolution_breached = false;
  bool response_alerted = false;
  bool resolution_alerted = false;
  std::vector<std::string> applied;  // event_ids

  bool open() const { return created != kNoTime && resolved == kNoTime; }
  // Not resolved, whether its CREATED has arrived or not: what the open-entity limit
  // counts, and what Prune keeps however old (SPEC 6.1).
  bool unresolved() const { return resolved == kNoTime; }
};

struct InvoiceState {
  std::string id;
  int64_t amount_cents = 0;
  int64_t paid_cents = 0;
  TimeMs issued = kNoTime;
  TimeMs due = kNoTime;
  bool disputed = false;
  bool voided = false;
  bool overdue_alerted = false;   // INVOICE_OVERDUE fired (once per invoice)
  bool overdue_resolved = false;  // ... and resolved
  std::vector<std::string> applied;

  int64_t balance() const { return amount_cents > paid_cents ? amount_cents - paid_cents : 0; }
  // Settled: issued, then paid in full or voided, and not in dispute. An unsettled invoice
  // counts against the open-entity limit and is kept however old (SPEC 6.1).
  bool unsettled() const {
    return issued == kNoTime || disputed || !(voided || (amount_cents > 0 && balance() == 0));
  }
};

struct CampaignState {
  std::string id;
  int32_t sent_day = kNoDay;     // latest SENT
  int32_t engaged_day = kNoDay;  // latest OPENED, CLICKED, RESPONDED or CONVERTED
  std::vector<std::string> applied;
};

struct Rating {
  TimeMs time;
  int32_t csat;
};

// Episode state of one customer-level rule (SPEC section 5).
struct RuleState {
  bool firing = false;
  int8_t severity = 0;       // highest severity sent in the current episode
  int32_t episode = 0;       // episodes opened so far; the current one when firing
  int32_t key_day = kNoDay;  // RENEWAL_DUE: the UTC day of the contract_end alerted for
  // The episode key as alerts and the stored state name it: "YYYY-MM-DD", "" for none.
  std::string key() const { return key_day == kNoDay ? "" : FormatDate(StartOfDay(key_day)); }
};

struct UsageDay {
  int32_t day;
  int64_t count;
};
struct ModuleDay {
  int32_t day;
  uint16_t module;
  int64_t count;
};
// A day's scores for the timeline: the last value of the day.
struct DailyScore {
  int32_t day;
  uint8_t health;
  uint8_t risk;
  uint8_t status;  // v1::HealthSnapshot::Status
  bool operator==(const DailyScore&) const = default;
};
inline constexpr int kDailyScoreDays = 366;  // 12 months and a day

// One user's activity (usage events with its user_id): bit i of `days` is set when the user
// was active on the customer's users_anchor_day - i (the latest usage day), for the 60 days
// of R30D and prior R30D. Users are kept by a 64-bit hash of the user_id (FNV-1a), not the
// id itself: 16 bytes each, in ascending hash order (docs/state.md).
struct UserDays {
  uint64_t hash;
  uint64_t days;
};
static_assert(sizeof(UserDays) == 16);
// The 64-bit FNV-1a hash by which a user_id is counted.
uint64_t UserHash(std::string_view user_id);

// A unique_ptr that copies what it points to: keeps CustomerState a value type.
template <typename T>
class DeepPtr {
 public:
  DeepPtr() = default;
  DeepPtr(const DeepPtr& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  DeepPtr& operator=(const DeepPtr& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  DeepPtr(DeepPtr&&) noexcept = default;
  DeepPtr& operator=(DeepPtr&&) noexcept = default;
  T* get() const { return p_.get(); }
  T* operator->() const { return p_.get(); }
  T& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }
  T& emplace() {
    p_ = std::make_unique<T>();
    return *p_;
  }
  void reset() { p_.reset(); }

 private:
  std::unique_ptr<T> p_;
};

// A customer's distinct users (UserDays), with counts cached for one window day. Kept
// apart from CustomerState (null until a usage event names a user): most of a task's cached
// customers then pay one pointer for it.
struct UserActivity {
  std::vector<UserDays> users;  // ascending hash
  int32_t anchor_day = kNoDay;  // the day of bit 0
  int32_t active_r30 = 0;       // cached with the usage sums
  int32_t active_prior = 0;
  int64_t user_days_r30 = 0;
};

struct MonthCount {
  int32_t month;  // year * 12 + month - 1
  int64_t count;
};

class CustomerState {
 public:
  explicit CustomerState(std::string customer_id = "") : customer_id_(std::move(customer_id)) {}

  const std::string& customer_id() const { return customer_id_; }
  // A customer exists once a valid event or profile of it has been applied (SPEC 8).
  bool exists() const { return has_events_ || profile_.has_value(); }
  bool has_events() const { return has_events_; }

  // Each Apply changes the state for one validated event (see Decoder); `day` is the UTC
  // day of the task's stream time, which the caller has already advanced. They return
  // false when the event changed nothing (a redelivered event_id).
  // `users_limit`: distinct users tracked (limits.users_per_customer); a new user beyond it
  // is not counted and sets *user_refused.
  bool ApplyUsage(const v1::UsageEvent& e, TimeMs event_time, int32_t day,
                  size_t users_limit = 10'000, bool* user_refused = nullptr);
  bool ApplyTicket(const v1::TicketEvent& e, TimeMs event_time, const Config& config);
  bool ApplyInvoice(const v1::InvoiceEvent& e, TimeMs event_time);
  bool ApplyCampaign(const v1::CampaignEvent& e, TimeMs event_time);
  void ApplyProfile(const v1::CustomerProfile& p) { profile_ = p; }

  // Input bounds (limits.open_entities_per_customer, SPEC 6.1): how many tickets are
  // unresolved and invoices unsettled, and whether applying a validated event would add
  // one (a new entity, a ticket reopened, a settled invoice disputed or issued again).
  // An event on an entity that is open already adds none, nor does a redelivery.
  size_t unresolved_tickets() const;
  size_t unsettled_invoices() const;
  bool OpensTicket(const v1::TicketEvent& e) const;
  bool OpensInvoice(const v1::InvoiceEvent& e) const;
  void RemoveProfile() { profile_.reset(); }

  // Usage sums for the window ending on `day` (rebuilt when the day moves).
  int64_t UsageR30(int32_t day);
  int64_t UsagePriorR30(int32_t day);
  // (module, events) over R30D, every module with events, unordered.
  std::vector<std::pair<std::string, int64_t>> ModulesR30(int32_t day);
  int64_t UsageInMonth(int32_t month) const;
  // Distinct modules with usage in R30D ("other" included).
  int32_t ModulesUsedR30(int32_t day);
  // Distinct users of R30D and prior R30D, and the sum over R30D's days of each day's
  // distinct users (stickiness's numerator), for the window ending on `day`.
  int32_t ActiveUsersR30(int32_t day);
  int32_t ActiveUsersPriorR30(int32_t day);
  int64_t UserDaysR30(int32_t day);
  size_t tracked_users() const { return users_ ? users_->users.size() : 0; }
  // The health of the last re-score on a day <= `day` (health_change_7d's H), if any.
  std::optional<int32_t> HealthOnOrBefore(int32_t day) const;
  int32_t last_usage_day() const { return last_usage_day_; }

  // Drops what no KPI can see any more at `day` (tickets, campaigns, ratings and usage
  // days outside every window), bounding the state's size.
  void Prune(int32_t day);

  const std::optional<v1::CustomerProfile>& profile() const { return profile_; }
  const std::vector<TicketState>& tickets() const { return tickets_; }
  std::vector<TicketState>& mutable_tickets() { return tickets_; }
  const std::vector<InvoiceState>& invoices() const { return invoices_; }
  std::vector<InvoiceState>& mutable_invoices() { return invoices_; }
  const std::vector<CampaignState>& campaigns() const { return campaigns_; }
  const std::vector<Rating>& ratings() const { return ratings_; }
  std::optional<int32_t> nps_latest() const {
    return nps_time_ == kNoTime ? std::nullopt : std::optional<int32_t>(nps_);
  }
  bool credit_hold() const { return credit_hold_; }
  TimeMs last_interaction() const { return last_interaction_; }
  std::array<RuleState, kRuleCount>& rules() { return rules_; }
  const std::array<RuleState, kRuleCount>& rules() const { return rules_; }

  // The last scores published in a health snapshot (to emit only on change).
  struct Published {
    int32_t health = -1;
    int32_t risk = -1;
    int32_t status = 0;
    int32_t risk_level = 0;
    int32_t lifecycle = 0;     // v1::Lifecycle::Stage
    uint32_t context = 0;      // fingerprint of the routing context published (task.cc)
    int32_t shadow_risk = -1;  // the shadow model's (SPEC section 10); -1: none
  };
  Published& published() { return published_; }
  const Published& published() const { return published_; }

  // Daily scores, ascending day, one entry per day whose value differs from the day
  // before (later days carry it forward). The customer holds those of its open month,
  // the month of its latest entry; each earlier month is written once, when it closes, to
  // a history key of its own (docs/state.md, family D), so that what a commit writes for
  // the customer does not grow with its history. Readers of the whole timeline fold the
  // stored months in first (FoldDailyHistory).
  const std::vector<DailyScore>& daily_scores() const { return daily_scores_; }
  // Records the scores of a re-score on `day` (a day before the last recorded one counts
  // for that last day: a timer's deadline can lie behind T). An entry in a later month
  // than the open one closes the open month.
  void RecordDaily(int32_t day, int health, int risk, int status);
  // Forgets the timeline: a customer created again starts a new one (its stored months
  // are deleted at the next commit).
  void ClearDailyScores();

  // The history keys the next commit writes and deletes (consumed by the call).
  struct DailyFlush {
    // Closed months (MonthIndexOfDay) to write, each with its entries, ascending.
    std::vector<std::pair<int32_t, std::vector<DailyScore>>> put;
    std::vector<int32_t> drop;  // stored months to delete
  };
  bool daily_flush_pending() const { return static_cast<bool>(daily_pending_); }
  DailyFlush TakeDailyFlush();
  // Months with a history key, ascending: those that may hold the kDailyScoreDays days
  // before the open month, and the one in force at their start.
  const std::vector<int32_t>& daily_months() const { return daily_months_; }
  // Closes every month before the latest entry's (state written before history keys held
  // the whole timeline): the next commit stores them.
  void CloseEarlierMonths();
  // For readers (the API): `history` (the stored months' entries, ascending) and the
  // entries not yet stored go before the open month's, so that daily_scores() is the
  // whole timeline. The state must not be written back afterwards.
  void FoldDailyHistory(std::vector<DailyScore> history);
  // The sequence number of the customer's next journal entry (state/keys.h).
  uint64_t TakeJournalSequence() { return journal_next_++; }
  uint64_t journal_next() const { return journal_next_; }

  // Bumped whenever tickets, invoices, campaigns or ratings change: what the cached
  // entity KPIs (kpis.h) depend on besides the day and the deadline horizon.
  uint64_t entity_version() const { return entity_version_; }
  // The UTC day whose day-change re-score this customer has had (see docs/time.md).
  int32_t rescored_day() const { return rescored_day_; }
  void set_rescored_day(int32_t day) { rescored_day_ = day; }
  void EntitiesChanged() { ++entity_version_; }

  // Persistence (state/customer_codec.cc) needs every field.
  friend class CustomerCodec;

 private:
  bool Seen(std::vector<std::string>* applied, const std::string& event_id);
  void CloseMonthsBefore(int32_t month);
  void RebuildUsageSums(int32_t day);
  void CountUser(std::string_view user_id, int32_t d, int32_t day, size_t limit, bool* refused);
  uint16_t ModuleIndex(std::string_view module);
  void Touch(TimeMs t) { last_interaction_ = std::max(last_interaction_, t); }

  // Small fields first, together: a cached customer's entry stays within 768 bytes
  // (services/engine/task_customers.cc).
  std::string customer_id_;
  bool has_events_ = false;
  bool credit_hold_ = false;
  int32_t nps_ = 0;
  int32_t last_usage_day_ = kNoDay;
  // Sums cached for window day sums_day_ (kNoDay: stale).
  int32_t sums_day_ = kNoDay;
  int32_t pruned_day_ = kNoDay;
  int32_t rescored_day_ = kNoDay;
  std::optional<v1::CustomerProfile> profile_;

  // Usage.
  std::vector<UsageDay> usage_days_;    // ascending day, nonzero, within 60 days
  std::vector<ModuleDay> module_days_;  // ascending day, within 30 days
  std::vector<std::string> modules_;    // interned module names ("other" for none)
  std::vector<MonthCount> months_;      // ascending month, the last 13
  int64_t r30_ = 0;
  int64_t prior_ = 0;
  std::vector<int64_t> module_r30_;  // by module index
  DeepPtr<UserActivity> users_;

  std::vector<TicketState> tickets_;
  std::vector<InvoiceState> invoices_;
  std::vector<CampaignState> campaigns_;
  std::vector<Rating> ratings_;  // csat from tickets and surveys
  TimeMs nps_time_ = kNoTime;
  TimeMs credit_hold_time_ = kNoTime;
  TimeMs last_interaction_ = kNoTime;

  std::array<RuleState, kRuleCount> rules_;
  Published published_;
  std::vector<DailyScore> daily_scores_;  // the open month's (all of them, from format 1)
  std::vector<int32_t> daily_months_;     // stored history keys
  // What the next commit writes and deletes of the history keys; null when nothing.
  struct DailyPending {
    std::vector<DailyScore> closed;  // closed, not yet in a history key
    std::vector<int32_t> dropped;    // stored history keys to delete
  };
  DeepPtr<DailyPending> daily_pending_;
  // The last entries of the closed months (their last 8 days and the one in force before
  // them), ascending: what health_change_7d may look up before the open month.
  static constexpr size_t kDailyTail = 9;
  std::vector<DailyScore> daily_tail_;
  uint64_t journal_next_ = 0;
  uint64_t entity_version_ = 0;  // not persisted: caches start cold
};

int32_t MonthIndexOfDay(int32_t day);
std::string MonthLabel(int32_t month_index);  // "YYYY-MM"

}  // namespace c360
