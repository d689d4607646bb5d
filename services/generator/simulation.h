#pragma once
// Synthetic customers and their events, for the demo, tests and benchmarks. Each customer
// follows a persona (healthy, declining usage, support-heavy, late payer, disengaged,
// churning) over simulated UTC days. Pure and deterministic: the same options give the
// same records in the same order, on any machine. No Kafka here (gen_command.cc produces).
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
  kDisengaged,    // ignores campaigns, low NPS and CSAT
  kChurning,      // active, then silent for the last 20 days
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
  TimeMs time = 0;        // event time (profiles: the simulation start)
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
  int customers() const { return static_cast<int>(customers_.size()); }

 private:
  struct Customer {
    std::string id;
    Persona persona;
    v1::CustomerProfile profile;
    Rng rng;
    uint64_t event_seq = 0;
    int tickets = 0;
    int invoices = 0;
    int billing_day = 0;  // day of month (1..28) invoices are issued
    int daily_usage = 0;  // weekday usage events at full activity
    std::vector<std::string> users;
  };
  struct Later {
    bool operator()(const GeneratedRecord& a, const GeneratedRecord& b) const;
  };

  GeneratedRecord Make(Customer& c, int index, InputTopic topic, TimeMs time, EventMessage message);
  std::string NextEventId(Customer& c);
  double UsageFactor(const Customer& c, int day) const;
  void Usage(Customer& c, int index, TimeMs day_start, int day);
  void Tickets(Customer& c, int index, TimeMs day_start, int day);
  void Invoices(Customer& c, int index, TimeMs day_start, int day);
  void Campaigns(Customer& c, int index, TimeMs day_start, int day);
  void Emit(GeneratedRecord record);

  SimulationOptions options_;
  std::vector<Customer> customers_;
  int day_ = 0;
  uint64_t sequence_ = 0;
  std::vector<GeneratedRecord>* today_ = nullptr;
  TimeMs today_end_ = 0;
  std::priority_queue<GeneratedRecord, std::vector<GeneratedRecord>, Later> pending_;
};

}  // namespace c360::gen
