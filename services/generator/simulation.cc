#include "services/generator/simulation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace c360::gen {
namespace {

using v1::CampaignEvent;
using v1::CustomerProfile;
using v1::InvoiceEvent;
using v1::TicketEvent;

constexpr std::array<std::string_view, 16> kNameFirst = {
    "Northwind", "Bluepeak", "Cobalt", "Evergreen", "Ironclad", "Lumen", "Meridian", "Nimbus",
    "Orchid",    "Pinnacle", "Quartz", "Redwood",   "Summit",   "Tidal", "Vertex",   "Zephyr"};
constexpr std::array<std::string_view, 12> kNameSecond = {
    "Logistics", "Health",  "Foods",   "Bank",      "Energy",  "Retail",
    "Labs",      "Capital", "Systems", "Insurance", "Telecom", "Media"};
constexpr std::array<std::string_view, 8> kIndustries = {
    "logistics", "healthcare", "retail",        "finance",
    "energy",    "software",   "manufacturing", "public sector"};
constexpr std::array<std::string_view, 4> kRegions = {"NA", "EMEA", "APAC", "LATAM"};
constexpr std::array<std::string_view, 6> kOwners = {"Ana Ruiz",  "Ben Okafor", "Chen Wei",
                                                     "Dana Levi", "Eli Novak",  "Fatima Noor"};
// Module, action; the empty module counts as "other". Every customer logs in (the last
// entry) and uses some of the others.
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kModules = {{
    {"dashboards", "view"},
    {"reports", "export"},
    {"api", "call"},
    {"integrations", "sync"},
    {"billing", "view_invoice"},
    {"admin", "invite_user"},
    {"", "login"},
}};
constexpr std::array<std::string_view, 6> kCategories = {"performance", "login",       "billing",
                                                         "integration", "data-export", "bug"};

// SLA policy of SPEC section 3, in hours: response, resolution by priority P1..P4.
constexpr std::array<int, 5> kResponseHours = {0, 1, 4, 8, 24};
constexpr std::array<int, 5> kResolutionHours = {0, 8, 24, 72, 168};

Persona PickPersona(Rng& rng) {
  // healthy 40%, declining 15%, support-heavy 12%, late payer 12%, disengaged 11%,
  // churning 10%.
  const uint64_t r = rng.Below(100);
  if (r < 40) return Persona::kHealthy;
  if (r < 55) return Persona::kDeclining;
  if (r < 67) return Persona::kSupportHeavy;
  if (r < 79) return Persona::kLatePayer;
  if (r < 90) return Persona::kDisengaged;
  return Persona::kChurning;
}

CustomerProfile::Segment PickSegment(Rng& rng) {
  const uint64_t r = rng.Below(100);
  if (r < 45) return CustomerProfile::SMB;
  if (r < 75) return CustomerProfile::MID_MARKET;
  if (r < 95) return CustomerProfile::ENTERPRISE;
  return CustomerProfile::GOVERNMENT;
}

// Annual revenue in cents by segment; a few enterprises pass the VIP line (1 M USD).
int64_t PickRevenue(Rng& rng, CustomerProfile::Segment segment) {
  constexpr int64_t kUsd = 100;
  switch (segment) {
    case CustomerProfile::SMB: return rng.Between(2'000, 50'000) * kUsd;
    case CustomerProfile::MID_MARKET: return rng.Between(50'000, 250'000) * kUsd;
    case CustomerProfile::ENTERPRISE: return rng.Between(250'000, 2'000'000) * kUsd;
    default: return rng.Between(100'000, 1'500'000) * kUsd;
  }
}

int DailyUsage(Rng& rng, CustomerProfile::Segment segment) {
  switch (segment) {
    case CustomerProfile::SMB: return static_cast<int>(rng.Between(6, 12));
    case CustomerProfile::MID_MARKET: return static_cast<int>(rng.Between(12, 25));
    case CustomerProfile::ENTERPRISE: return static_cast<int>(rng.Between(25, 50));
    default: return static_cast<int>(rng.Between(10, 20));
  }
}

// Seats bought. Modest, in proportion to DailyUsage's volume: with many more users, most
// would have no event on the days they come (the volume is the persona's, not the seats')
// and stickiness would fall below realistic values.
int Seats(Rng& rng, CustomerProfile::Segment segment) {
  switch (segment) {
    case CustomerProfile::SMB: return static_cast<int>(rng.Between(5, 25));
    case CustomerProfile::MID_MARKET: return static_cast<int>(rng.Between(15, 60));
    case CustomerProfile::ENTERPRISE: return static_cast<int>(rng.Between(40, 150));
    default: return static_cast<int>(rng.Between(20, 60));
  }
}

// 3..6 of the named modules, in random order, then the login.
std::vector<uint8_t> PickModules(Rng& rng) {
  std::array<uint8_t, kModules.size() - 1> named;
  for (size_t m = 0; m < named.size(); ++m) named[m] = static_cast<uint8_t>(m);
  const size_t count = static_cast<size_t>(rng.Between(3, named.size()));
  for (size_t m = 0; m < count; ++m) {
    std::swap(named[m], named[m + rng.Below(named.size() - m)]);
  }
  std::vector<uint8_t> modules(named.begin(), named.begin() + count);
  modules.push_back(static_cast<uint8_t>(kModules.size() - 1));
  return modules;
}

// Weekday chance that the user of rank `rank` (0: the most engaged) of a normal month's
// `active_seats` users uses the product: the top tenth about daily, the middle a few times
// a week, the tail weekly or so (0.15 keeps them in nearly every month's active users).
// Habits belong to the users: a pool that shrinks keeps its most engaged, at their habits.
double Habit(int rank, int active_seats) {
  const double x = (rank + 0.5) / active_seats;
  return std::min(0.95, 0.15 + 0.9 * (1 - x) * (1 - x));
}

bool IsWeekend(int64_t day_number) {
  // 1970-01-01 was a Thursday: day 2 is Saturday.
  const int64_t weekday = ((day_number % 7) + 7 + 3) % 7;  // 0 = Monday
  return weekday >= 5;
}

// Day of month (1..31) of a UTC day number.
int DayOfMonth(int64_t day_number) {
  const std::string date = FormatDate(StartOfDay(day_number));
  return (date[8] - '0') * 10 + (date[9] - '0');
}

}  // namespace

std::string_view PersonaName(Persona persona) {
  switch (persona) {
    case Persona::kHealthy: return "healthy";
    case Persona::kDeclining: return "declining";
    case Persona::kSupportHeavy: return "support-heavy";
    case Persona::kLatePayer: return "late-payer";
    case Persona::kDisengaged: return "disengaged";
    case Persona::kChurning: return "churning";
  }
  return "unknown";
}

const google::protobuf::Message& GeneratedRecord::AsMessage() const {
  return std::visit([](const auto& m) -> const google::protobuf::Message& { return m; }, message);
}

bool Simulation::Later::operator()(const GeneratedRecord& a, const GeneratedRecord& b) const {
  if (a.time != b.time) return a.time > b.time;
  if (a.customer != b.customer) return a.customer > b.customer;
  return a.sequence > b.sequence;
}

Simulation::Simulation(const SimulationOptions& options) : options_(options) {
  const int64_t first_day = DayOf(options.start_ms);
  const int64_t end_day = first_day + options.history_days;
  customers_.reserve(options.customers);
  for (int i = 0; i < options.customers; ++i) {
    Rng rng(Rng::Derive(options.seed, static_cast<uint64_t>(i) + 1));
    char id[32];
    std::snprintf(id, sizeof id, "cust-%05d", i + 1);
    Customer c{id, PickPersona(rng), {}, rng};
    CustomerProfile& p = c.profile;
    p.set_customer_id(c.id);
    p.set_name(std::string(kNameFirst[c.rng.Below(kNameFirst.size())]) + " " +
               std::string(kNameSecond[c.rng.Below(kNameSecond.size())]) + " " +
               std::to_string(i + 1));
    p.set_segment(PickSegment(c.rng));
    p.set_industry(std::string(kIndustries[c.rng.Below(kIndustries.size())]));
    p.set_region(std::string(kRegions[c.rng.Below(kRegions.size())]));
    p.set_annual_revenue_cents(PickRevenue(c.rng, p.segment()));
    p.set_owner(std::string(kOwners[c.rng.Below(kOwners.size())]));
    // Who leaves, and when, from a stream of its own, so that every other draw is the same
    // as without leavers. Most of the churning persona leave (below) on days spread over the
    // history, so that a model trained on it (`c360 features`, docs/churn-model.md) sees
    // churn in every season rather than only at the end; the others stay silent, at risk, at
    // the history's end. A few of the other personas leave too, with no warning.
    Rng fate(Rng::Derive(options.seed ^ 0x6368'7572'6e00'0000ULL, static_cast<uint64_t>(i) + 1));
    const bool leaves = c.persona == Persona::kChurning && fate.Chance(0.6);
    const int earliest = std::min(options.history_days, 40);
    c.decline_end = leaves ? static_cast<int>(fate.Between(earliest, options.history_days))
                           : options.history_days;
    // Contracts started 30..1000 days before the history ends (a few are still onboarding);
    // churning customers' contracts end within 60 days after their decline, others' spread
    // over a year after the history.
    const int64_t contract_start = end_day - c.rng.Between(30, 1000);
    const int64_t contract_end = c.persona == Persona::kChurning
                                     ? first_day + c.decline_end + c.rng.Between(10, 60)
                                     : end_day + c.rng.Between(20, 400);
    *p.mutable_contract_start() = ToTimestamp(StartOfDay(contract_start));
    *p.mutable_contract_end() = ToTimestamp(StartOfDay(contract_end));
    c.billing_day = static_cast<int>(c.rng.Between(1, 28));
    c.daily_usage = DailyUsage(c.rng, p.segment());
    c.seats = Seats(c.rng, p.segment());
    const double share = 0.4 + 0.4 * c.rng.Unit();
    c.active_seats = std::max(1, static_cast<int>(c.seats * share + 0.5));
    c.modules = PickModules(c.rng);
    if (leaves) {
      // Most leave, 10..15 days after going silent (UsageFactor), at the latest on the
      // history's last day; the others stay silent customers at risk, not gone yet.
      const int silent_from = std::max(0, c.decline_end - 20);
      c.churn_day =
          std::min(options.history_days - 1, silent_from + static_cast<int>(c.rng.Between(10, 15)));
    } else if (c.persona != Persona::kChurning && fate.Chance(0.02) &&
               options.history_days > earliest) {
      c.churn_day = static_cast<int>(fate.Between(earliest, options.history_days - 1));
    }
    customers_.push_back(std::move(c));
  }
}

TimeMs Simulation::history_end_ms() const {
  return StartOfDay(DayOf(options_.start_ms) + options_.history_days);
}

std::vector<GeneratedRecord> Simulation::Profiles() const {
  std::vector<GeneratedRecord> out;
  out.reserve(customers_.size());
  for (size_t i = 0; i < customers_.size(); ++i) {
    GeneratedRecord r;
    r.topic = InputTopic::kCustomers;
    r.time = options_.start_ms;
    r.customer = static_cast<int>(i);
    r.customer_id = customers_[i].id;
    r.message = customers_[i].profile;
    out.push_back(std::move(r));
  }
  return out;
}

std::string Simulation::NextEventId(Customer& c) {
  return c.id + "-e" + std::to_string(++c.event_seq);
}

GeneratedRecord Simulation::Make(Customer& c, int index, InputTopic topic, TimeMs time,
                                 EventMessage message) {
  GeneratedRecord r;
  r.topic = topic;
  r.time = time;
  r.customer = index;
  r.sequence = ++sequence_;
  r.customer_id = c.id;
  r.message = std::move(message);
  return r;
}

void Simulation::Emit(GeneratedRecord record) {
  if (record.time < today_end_) {
    today_->push_back(std::move(record));
  } else {
    pending_.push(std::move(record));
  }
}

TimeMs Simulation::NextDay(std::vector<GeneratedRecord>* out) {
  out->clear();
  const int day = day_++;
  const TimeMs day_start = StartOfDay(DayOf(options_.start_ms) + day);
  today_ = out;
  today_end_ = day_start + kMsPerDay;
  for (int i = 0; i < static_cast<int>(customers_.size()); ++i) {
    Customer& c = customers_[i];
    Churn(c, i, day_start, day);
    Usage(c, i, day_start, day);
    Tickets(c, i, day_start, day);
    Invoices(c, i, day_start, day);
    Campaigns(c, i, day_start, day);
  }
  while (!pending_.empty() && pending_.top().time < today_end_) {
    out->push_back(pending_.top());
    pending_.pop();
  }
  std::sort(out->begin(), out->end(),
            [](const GeneratedRecord& a, const GeneratedRecord& b) { return Later()(b, a); });
  today_ = nullptr;
  return day_start;
}

// Activity relative to normal on simulated day `day` (0-based), by persona.
double Simulation::UsageFactor(const Customer& c, int day) const {
  const int days_left = options_.history_days - day;  // <= 0 once live
  switch (c.persona) {
    case Persona::kHealthy: return 1.0;
    case Persona::kDeclining:
      // Full use until 45 days before the end, then down to a quarter.
      if (days_left > 45) return 1.0;
      return std::max(0.25, 1.0 - 0.75 * (45 - days_left) / 45.0);
    case Persona::kSupportHeavy: return 0.9;
    case Persona::kLatePayer: return 0.85;
    case Persona::kDisengaged:
      // Holds while the users leave (ActivePool), then follows them from 10 days before
      // the end: down by a fifth at the end, by half 15 days into live mode.
      if (days_left > 10) return 0.6;
      return 0.6 * std::max(0.5, 1.0 - 0.02 * (10 - days_left));
    case Persona::kChurning:
      if (c.decline_end - day > 35) return 1.0;
      if (c.decline_end - day > 20) return 0.5;
      return 0.0;  // silent for the last 20 days before its decline_end, and on
  }
  return 1.0;
}

// Users who may use the product on simulated day `day`: ranks 0..n-1 of the seats.
int Simulation::ActivePool(const Customer& c, int day) const {
  const int days_left = options_.history_days - day;
  switch (c.persona) {
    case Persona::kDeclining:
    case Persona::kChurning:
      // Users leave with the volume.
      return static_cast<int>(std::ceil(c.active_seats * UsageFactor(c, day)));
    case Persona::kDisengaged: {
      // Users leave first: from 45 days before the end down to a few power users by 20
      // days before it, while the volume holds (UsageFactor).
      const int power = std::min(c.active_seats, std::clamp(c.active_seats / 10, 2, 10));
      if (days_left >= 45) return c.active_seats;
      if (days_left <= 20) return power;
      return power + static_cast<int>((c.active_seats - power) * (days_left - 20) / 25.0);
    }
    default: return c.active_seats;
  }
}

// The customer's updated profile, with churned_on, on the day it leaves.
void Simulation::Churn(Customer& c, int index, TimeMs day_start, int day) {
  if (day != c.churn_day) return;
  CustomerProfile left = c.profile;  // c.profile stays the starting one (Profiles())
  *left.mutable_churned_on() = ToTimestamp(day_start);
  const TimeMs t = day_start + c.rng.Between(9 * kMsPerHour, 17 * kMsPerHour);
  Emit(Make(c, index, InputTopic::kCustomers, t, std::move(left)));
}

void Simulation::Usage(Customer& c, int index, TimeMs day_start, int day) {
  if (Churned(c, day)) return;
  const int pool = ActivePool(c, day);
  if (pool == 0) return;
  const double weekend = IsWeekend(DayOf(day_start)) ? 0.3 : 1.0;
  const double expected = c.daily_usage * UsageFactor(c, day) * weekend;
  const int count = static_cast<int>(expected * (0.8 + 0.4 * c.rng.Unit()) + 0.5);
  if (count == 0) return;

  // Who comes today, each by their habit (ranks, most engaged first). The volume is the
  // persona's: with more users than events, only some of them show up, rather the most
  // engaged (drawn in turn with a skew to the front; rotate keeps the rest in rank order).
  std::vector<int>& users = users_today_;
  users.clear();
  for (int rank = 0; rank < pool; ++rank) {
    if (c.rng.Chance(Habit(rank, c.active_seats) * weekend)) users.push_back(rank);
  }
  if (users.empty()) users.push_back(0);
  if (static_cast<int>(users.size()) > count) {
    for (int n = 0; n < count; ++n) {
      const double u = c.rng.Unit();
      const size_t pick = n + static_cast<size_t>(static_cast<double>(users.size() - n) * u * u);
      std::rotate(users.begin() + n, users.begin() + pick, users.begin() + pick + 1);
    }
    users.resize(count);
  }
  for (int n = 0; n < count; ++n) {
    v1::UsageEvent e;
    e.set_event_id(NextEventId(c));
    e.set_customer_id(c.id);
    // Business hours, 07:00..19:00 UTC.
    const TimeMs t = day_start + 7 * kMsPerHour + c.rng.Between(0, 12 * kMsPerHour - 1);
    *e.mutable_event_time() = ToTimestamp(t);
    const auto& [module, action] = kModules[c.modules[c.rng.Below(c.modules.size())]];
    e.set_module(std::string(module));
    e.set_action(std::string(action));
    // Every user of the day has an event; the rest go rather to the most engaged.
    int rank = 0;
    if (n < static_cast<int>(users.size())) {
      rank = users[n];
    } else {
      const double u = c.rng.Unit();
      rank = users[static_cast<size_t>(static_cast<double>(users.size()) * u * u)];
    }
    e.set_user_id(c.id + "-u" + std::to_string(rank + 1));
    if (module == "api") e.set_quantity(c.rng.Between(1, 20));  // else 0, which counts as 1
    Emit(Make(c, index, InputTopic::kUsage, t, std::move(e)));
  }
}

void Simulation::Tickets(Customer& c, int index, TimeMs day_start, int day) {
  double rate = 0.06;
  if (c.persona == Persona::kSupportHeavy) rate = 0.6;
  if (c.persona == Persona::kDeclining || c.persona == Persona::kDisengaged) rate = 0.09;
  if (c.persona == Persona::kChurning && UsageFactor(c, day) == 0.0) rate = 0.0;
  if (Churned(c, day) || !c.rng.Chance(rate)) return;

  const bool troubled = c.persona == Persona::kSupportHeavy;
  const uint64_t p = c.rng.Below(100);
  const int priority = troubled ? (p < 15   ? 1
                                   : p < 45 ? 2
                                   : p < 80 ? 3
                                            : 4)
                                : (p < 2    ? 1
                                   : p < 12 ? 2
                                   : p < 60 ? 3
                                            : 4);
  const std::string ticket_id = "T-" + c.id.substr(5) + "-" + std::to_string(++c.tickets);
  const std::string category = troubled && c.rng.Chance(0.5)
                                   ? "performance"
                                   : std::string(kCategories[c.rng.Below(kCategories.size())]);
  const std::string module(kModules[c.rng.Below(kModules.size() - 1)].first);
  const TimeMs created = day_start + c.rng.Between(0, kMsPerDay - 1);

  auto ticket = [&](TicketEvent::Kind kind, TimeMs t) {
    TicketEvent e;
    e.set_event_id(NextEventId(c));
    e.set_customer_id(c.id);
    *e.mutable_event_time() = ToTimestamp(t);
    e.set_ticket_id(ticket_id);
    e.set_kind(kind);
    e.set_priority(static_cast<TicketEvent::Priority>(priority));
    e.set_category(category);
    e.set_module(module);
    return e;
  };

  TicketEvent opened = ticket(TicketEvent::CREATED, created);
  opened.set_subject(category + " issue in " + (module.empty() ? "the product" : module));
  Emit(Make(c, index, InputTopic::kTickets, created, std::move(opened)));

  // Response and resolution as a fraction of the SLA: late (above 1) for troubled customers.
  const TimeMs response_sla = kResponseHours[priority] * kMsPerHour;
  const TimeMs resolution_sla = kResolutionHours[priority] * kMsPerHour;
  const double response_frac =
      troubled && c.rng.Chance(0.5) ? 1.2 + 1.8 * c.rng.Unit() : 0.05 + 0.6 * c.rng.Unit();
  const double resolution_frac =
      troubled && c.rng.Chance(0.4) ? 1.1 + 1.5 * c.rng.Unit() : 0.2 + 0.6 * c.rng.Unit();
  const TimeMs responded = created + static_cast<TimeMs>(response_sla * response_frac) + 1;
  TimeMs resolved = created + static_cast<TimeMs>(resolution_sla * resolution_frac) + 2;
  resolved = std::max(resolved, responded + 1);
  Emit(Make(c, index, InputTopic::kTickets, responded,
            ticket(TicketEvent::FIRST_RESPONSE, responded)));
  if (c.rng.Chance(0.3)) {
    const TimeMs updated = responded + (resolved - responded) / 2;
    Emit(Make(c, index, InputTopic::kTickets, updated, ticket(TicketEvent::UPDATED, updated)));
  }
  TicketEvent done = ticket(TicketEvent::RESOLVED, resolved);
  int csat = static_cast<int>(c.rng.Between(4, 5));
  if (troubled) csat = static_cast<int>(c.rng.Between(1, 3));
  if (c.persona == Persona::kDisengaged) csat = static_cast<int>(c.rng.Between(2, 4));
  if (c.rng.Chance(0.6)) done.set_csat(csat);
  Emit(Make(c, index, InputTopic::kTickets, resolved, std::move(done)));
  if (c.rng.Chance(troubled ? 0.15 : 0.04)) {
    const TimeMs reopened = resolved + c.rng.Between(kMsPerHour, 2 * kMsPerDay);
    const TimeMs again = reopened + c.rng.Between(kMsPerHour, resolution_sla);
    Emit(Make(c, index, InputTopic::kTickets, reopened, ticket(TicketEvent::REOPENED, reopened)));
    Emit(Make(c, index, InputTopic::kTickets, again, ticket(TicketEvent::RESOLVED, again)));
    resolved = again;
  }
  const TimeMs closed = resolved + kMsPerDay;
  Emit(Make(c, index, InputTopic::kTickets, closed, ticket(TicketEvent::CLOSED, closed)));
}

void Simulation::Invoices(Customer& c, int index, TimeMs day_start, int day) {
  // No new invoice once the customer has left; earlier ones run their course.
  if (Churned(c, day) || DayOfMonth(DayOf(day_start)) != c.billing_day) return;
  const std::string invoice_id = "INV-" + c.id.substr(5) + "-" + std::to_string(++c.invoices);
  const TimeMs issued = day_start + 6 * kMsPerHour;
  const TimeMs due = StartOfDay(DayOf(day_start) + 30);
  const int64_t amount = c.profile.annual_revenue_cents() / 12;

  auto invoice = [&](InvoiceEvent::Kind kind, TimeMs t) {
    InvoiceEvent e;
    e.set_event_id(NextEventId(c));
    e.set_customer_id(c.id);
    *e.mutable_event_time() = ToTimestamp(t);
    e.set_kind(kind);
    if (kind != InvoiceEvent::CREDIT_HOLD_SET && kind != InvoiceEvent::CREDIT_HOLD_RELEASED) {
      e.set_invoice_id(invoice_id);
      e.set_currency("USD");
    }
    return e;
  };
  InvoiceEvent issue = invoice(InvoiceEvent::ISSUED, issued);
  issue.set_amount_cents(amount);
  *issue.mutable_due_date() = ToTimestamp(due);
  Emit(Make(c, index, InputTopic::kInvoices, issued, std::move(issue)));

  // Days after the due date the invoice is paid (negative: early), unless never paid.
  int64_t paid_after_due = c.rng.Between(-12, -1);
  bool never_paid = false;
  if (c.persona == Persona::kLatePayer) {
    never_paid = c.rng.Chance(0.35);
    paid_after_due = c.rng.Between(10, 45);
  } else if (c.persona == Persona::kChurning && UsageFactor(c, day) < 1.0) {
    never_paid = true;
  } else if (c.persona == Persona::kDeclining && c.rng.Chance(0.3)) {
    paid_after_due = c.rng.Between(1, 10);
  }
  if (c.persona == Persona::kLatePayer && c.rng.Chance(0.25)) {
    const TimeMs disputed = issued + c.rng.Between(1, 10) * kMsPerDay;
    Emit(
        Make(c, index, InputTopic::kInvoices, disputed, invoice(InvoiceEvent::DISPUTED, disputed)));
    const TimeMs settled = disputed + c.rng.Between(5, 40) * kMsPerDay;
    Emit(Make(c, index, InputTopic::kInvoices, settled,
              invoice(InvoiceEvent::DISPUTE_RESOLVED, settled)));
  }
  // A credit hold three weeks past the due date, until paid.
  const bool hold = never_paid || paid_after_due > 21;
  const TimeMs hold_set = due + 21 * kMsPerDay + 9 * kMsPerHour;
  if (hold) {
    Emit(Make(c, index, InputTopic::kInvoices, hold_set,
              invoice(InvoiceEvent::CREDIT_HOLD_SET, hold_set)));
  }
  if (!never_paid) {
    const TimeMs paid = due + paid_after_due * kMsPerDay + c.rng.Between(8, 18) * kMsPerHour;
    if (c.rng.Chance(0.2)) {  // in two payments, the first of half
      const TimeMs first = paid - 5 * kMsPerDay;
      InvoiceEvent part = invoice(InvoiceEvent::PAID, first);
      part.set_paid_cents(amount / 2);
      Emit(Make(c, index, InputTopic::kInvoices, first, std::move(part)));
    }
    Emit(Make(c, index, InputTopic::kInvoices, paid, invoice(InvoiceEvent::PAID, paid)));
    if (hold) {
      const TimeMs released = paid + kMsPerHour;
      Emit(Make(c, index, InputTopic::kInvoices, released,
                invoice(InvoiceEvent::CREDIT_HOLD_RELEASED, released)));
    }
  }
}

void Simulation::Campaigns(Customer& c, int index, TimeMs day_start, int day) {
  const int64_t day_number = DayOf(day_start);
  const bool newsletter = day_number % 7 == 1;              // weekly, on Fridays
  const bool survey = day_number % 30 == 3;                 // a survey every 30 days
  if ((!newsletter && !survey) || Churned(c, day)) return;  // none to those who left
  const std::string campaign_id = std::string(survey ? "SURVEY-" : "NEWS-") + FormatDate(day_start);
  const TimeMs sent = day_start + 14 * kMsPerHour;

  auto campaign = [&](CampaignEvent::Kind kind, TimeMs t) {
    CampaignEvent e;
    e.set_event_id(NextEventId(c));
    e.set_customer_id(c.id);
    *e.mutable_event_time() = ToTimestamp(t);
    e.set_campaign_id(campaign_id);
    e.set_channel(survey ? "survey" : "email");
    e.set_kind(kind);
    return e;
  };
  if (c.persona == Persona::kChurning && UsageFactor(c, day) == 0.0 && !c.rng.Chance(0.2)) {
    return;  // silent customers stop answering anything
  }
  Emit(Make(c, index, InputTopic::kCampaigns, sent, campaign(CampaignEvent::SENT, sent)));
  if (c.rng.Chance(0.02)) {
    Emit(Make(c, index, InputTopic::kCampaigns, sent + 60'000,
              campaign(CampaignEvent::BOUNCED, sent + 60'000)));
    return;
  }
  double open = 0.6;
  if (c.persona == Persona::kDisengaged) open = 0.05;
  if (c.persona == Persona::kChurning) open = 0.15;
  if (c.persona == Persona::kDeclining) open = 0.35;
  if (!c.rng.Chance(open)) {
    if (c.persona == Persona::kDisengaged && c.rng.Chance(0.05)) {
      const TimeMs t = sent + 2 * kMsPerHour;
      Emit(Make(c, index, InputTopic::kCampaigns, t, campaign(CampaignEvent::UNSUBSCRIBED, t)));
    }
    return;
  }
  const TimeMs opened = sent + c.rng.Between(10, 600) * 60'000;
  Emit(Make(c, index, InputTopic::kCampaigns, opened, campaign(CampaignEvent::OPENED, opened)));
  if (survey) {
    CampaignEvent answer = campaign(CampaignEvent::RESPONDED, opened + 5 * 60'000);
    switch (c.persona) {
      case Persona::kHealthy:
        answer.set_nps(static_cast<int32_t>(c.rng.Between(8, 10)));
        answer.set_csat(static_cast<int32_t>(c.rng.Between(4, 5)));
        break;
      case Persona::kDisengaged:
      case Persona::kChurning:
        answer.set_nps(static_cast<int32_t>(c.rng.Between(1, 5)));
        answer.set_csat(static_cast<int32_t>(c.rng.Between(1, 3)));
        break;
      case Persona::kSupportHeavy:
        answer.set_nps(static_cast<int32_t>(c.rng.Between(4, 7)));
        answer.set_csat(static_cast<int32_t>(c.rng.Between(2, 3)));
        break;
      default:
        answer.set_nps(static_cast<int32_t>(c.rng.Between(5, 9)));
        answer.set_csat(static_cast<int32_t>(c.rng.Between(3, 5)));
    }
    Emit(Make(c, index, InputTopic::kCampaigns, opened + 5 * 60'000, std::move(answer)));
  } else if (c.rng.Chance(0.4)) {
    const TimeMs clicked = opened + c.rng.Between(1, 30) * 60'000;
    Emit(
        Make(c, index, InputTopic::kCampaigns, clicked, campaign(CampaignEvent::CLICKED, clicked)));
  }
}

}  // namespace c360::gen
