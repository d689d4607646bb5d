#pragma once
// Synthetic customers and their events, for the demo, tests and benchmarks. Each customer
// follows a persona (healthy, declining usage, support-heavy, late payer, disengaged,
// churning) over simulated UTC days. Pure and deterministic: the same options give the
// same records in the same order, on any machine. No Kafka here (gen_command.cc produces).
//
// Users. A customer has seats by segment (SMB 5-25, mid-market 15-60, enterprise 40-150,
// government 20-60): user ids `<customer_id>-u<n>`, n in 1..seats, n ranking the users by
// habit. A normal month's active pool is 40-80% of the seats. Each day every user of the
// pool comes with a chance set by their rank (the top tenth about every working day, the
// middle a few times a week, the tail about weekly; less at weekends), so stickiness is
// about a third. Usage volume is the segment's and persona's as before, not the seats':
// the day's events are spread over the day's users (one each, the rest rather to the most
// engaged), and with more users than events only some of them, rather the most engaged,
// show up. The pool follows the persona: steady for healthy, support-heavy and late-payer
// customers; shrinking in step with volume for declining and churning ones; disengaged
// customers lose users first (over the last 45 days of history the pool shrinks to a few
// power users, reached 20 days before the end) while their volume holds until the last 10
// days, so their active users fall by more than 30% month over month before their usage
// does. Each customer uses 3-6 of the product's modules, plus logins.
//
// Churn. Churning customers go silent for the last 20 days of history and leave 10-15 days
// later (at the latest on the history's last day): that day, at a time between 09:00 and
// 17:00, the stream carries their profile again with churned_on set (midnight UTC of that
// day), and from then on they have no usage, tickets, campaigns or new invoices. Profiles() are the
// profiles at the start, without churned_on; no other persona churns.
//
// Records come day by day, ordered by (event time, customer, sequence), so each
// customer's events are in event-time order. Not thread-safe.

#include <cstdint>
#include <queue>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "c360/v1/campaign.pb.h"
#include "c360/v1/customer.pb.h"
#include "c360/v1/invoice.pb.h"
#include "c360/v1/ticket.pb.h"
#include "c360/v1/usage.pb.h"
#include "common/time.h"
#include "common/topics.h"
#include "services/generator/rng.h"

namespace c360::gen {

enum class Persona : uint8_t {
  kHealthy,
  kDeclining,     // usage falls over the last 45 days of history
  kSupportHeavy,  // many tickets, P1s, late responses, low CSAT
  kLatePayer,     // invoices paid late or not at all, credit hold
  kDisengaged,    // ignores campaigns, low NPS and CSAT; users leave before usage falls
  kChurning,      // active, then silent for the last 20 days; leaves (churned_on) later
};
inline constexpr int kPersonaCount = 6;
std::string_view PersonaName(Persona persona);

struct SimulationOptions {
  int customers = 100;
  int history_days = 60;  // days of history; the simulation may run on past them (live)
  uint64_t seed = 1;
  TimeMs start_ms = 0;  // midnight UTC of the first simulated day
};

using EventMessage = std::variant<v1::UsageEvent, v1::TicketEvent, v1::InvoiceEvent,
                                  v1::CampaignEvent, v1::CustomerProfile>;

struct GeneratedRecord {
  InputTopic topic = InputTopic::kUsage;
  TimeMs time = 0;        // event time (profiles: the simulation start, or the churn)
  int customer = 0;       // index, for ordering
  uint64_t sequence = 0;  // generation order, for ordering
  std::string customer_id;
  EventMessage message;

  const google::protobuf::Message& AsMessage() const;
};

class Simulation {
 public:
  explicit Simulation(const SimulationOptions& options);

  // Every customer's profile, in customer order; the stream starts with these.
  std::vector<GeneratedRecord> Profiles() const;

  // Appends the records of the next simulated day to *out (cleared first) and returns the
  // day's midnight. Days past history_days continue every persona's trend (live mode).
  TimeMs NextDay(std::vector<GeneratedRecord>* out);

  int days_simulated() const { return day_; }
  TimeMs history_end_ms() const;
  Persona persona(int customer) const { return customers_[customer].persona; }
  const std::string& customer_id(int customer) const { return customers_[customer].id; }
  // True when the customer leaves (churned_on) during the history.
  bool leaves(int customer) const { return customers_[customer].churn_day >= 0; }
  int customers() const { return static_cast<int>(customers_.size()); }
  // Seats bought: every user_id of the customer's usage is one of `<customer_id>-u1..seats`.
  int seats(int customer) const { return customers_[customer].seats; }

 private:
  struct Customer {
    std::string id;
    Persona persona;
    v1::CustomerProfile profile;
    Rng rng;
    uint64_t event_seq = 0;
    int tickets = 0;
    int invoices = 0;
    int billing_day = 0;           // day of month (1..28) invoices are issued
    int daily_usage = 0;           // weekday usage events at full activity
    int seats = 0;                 // users `<id>-u1` .. `<id>-u<seats>`, ranked by habit
    int active_seats = 0;          // users active in a normal month: the pool's full size
    std::vector<uint8_t> modules;  // indices into the module table this customer uses
    int churn_day = -1;            // simulated day it leaves (churned_on); -1: never
    // The churning persona's own end of history: its decline is timed against this day
    // (the history's last for most; earlier for those who leave, see the constructor).
    int decline_end = 0;
  };
  struct Later {
    bool operator()(const GeneratedRecord& a, const GeneratedRecord& b) const;
  };

  GeneratedRecord Make(Customer& c, int index, InputTopic topic, TimeMs time, EventMessage message);
  std::string NextEventId(Customer& c);
  double UsageFactor(const Customer& c, int day) const;
  int ActivePool(const Customer& c, int day) const;
  bool Churned(const Customer& c, int day) const { return c.churn_day >= 0 && day >= c.churn_day; }
  void Churn(Customer& c, int index, TimeMs day_start, int day);
  void Usage(Customer& c, int index, TimeMs day_start, int day);
  void Tickets(Customer& c, int index, TimeMs day_start, int day);
  void Invoices(Customer& c, int index, TimeMs day_start, int day);
  void Campaigns(Customer& c, int index, TimeMs day_start, int day);
  void Emit(GeneratedRecord record);

  SimulationOptions options_;
  std::vector<Customer> customers_;
  int day_ = 0;
  uint64_t sequence_ = 0;
  std::vector<int> users_today_;  // Usage's scratch: ranks of the day's users
  std::vector<GeneratedRecord>* today_ = nullptr;
  TimeMs today_end_ = 0;
  std::priority_queue<GeneratedRecord, std::vector<GeneratedRecord>, Later> pending_;
};

}  // namespace c360::gen
