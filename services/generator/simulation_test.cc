#include "services/generator/simulation.h"

#include <gtest/gtest.h>

#include <map>

#include "services/engine/decode/decoder.h"

namespace c360::gen {
namespace {

SimulationOptions Options(uint64_t seed, int customers = 60, int days = 90) {
  SimulationOptions o;
  o.customers = customers;
  o.history_days = days;
  o.seed = seed;
  o.start_ms = *ParseDate("2026-06-01");
  return o;
}

// Every record of the whole history, serialised, in order.
std::vector<std::string> Stream(const SimulationOptions& options) {
  Simulation sim(options);
  std::vector<std::string> out;
  for (const auto& r : sim.Profiles()) out.push_back(r.AsMessage().SerializeAsString());
  std::vector<GeneratedRecord> day;
  for (int d = 0; d < options.history_days; ++d) {
    sim.NextDay(&day);
    for (const auto& r : day) {
      out.push_back(r.customer_id + "|" + std::to_string(static_cast<int>(r.topic)) + "|" +
                    r.AsMessage().SerializeAsString());
    }
  }
  return out;
}

TEST(SimulationTest, SameSeedGivesTheSameBytesAndAnotherSeedDoesNot) {
  const auto a = Stream(Options(7, 40, 30));
  const auto b = Stream(Options(7, 40, 30));
  const auto c = Stream(Options(8, 40, 30));
  ASSERT_GT(a.size(), 1000u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

struct Totals {
  std::map<int, int64_t> usage_by_day;  // day index -> usage events
  int tickets_created = 0;
  int p1 = 0;
  int late_responses = 0;
  int credit_holds = 0;
  int survey_nps_sum = 0;
  int survey_answers = 0;
};

TEST(SimulationTest, PersonasHaveTheirShape) {
  const SimulationOptions options = Options(3, 300, 90);
  Simulation sim(options);
  std::map<Persona, std::vector<Totals>> by_persona;
  std::vector<Totals> totals(options.customers);
  std::map<std::string, TimeMs> created;  // ticket -> created time
  std::vector<GeneratedRecord> day;
  for (int d = 0; d < options.history_days; ++d) {
    sim.NextDay(&day);
    for (const auto& r : day) {
      Totals& t = totals[r.customer];
      if (const auto* u = std::get_if<v1::UsageEvent>(&r.message)) {
        t.usage_by_day[d] += u->quantity() == 0 ? 1 : u->quantity() > 0 ? 1 : 0;
      } else if (const auto* k = std::get_if<v1::TicketEvent>(&r.message)) {
        if (k->kind() == v1::TicketEvent::CREATED) {
          ++t.tickets_created;
          if (k->priority() == v1::TicketEvent::P1) ++t.p1;
          created[k->ticket_id()] = r.time;
        } else if (k->kind() == v1::TicketEvent::FIRST_RESPONSE) {
          constexpr TimeMs kResponseSla[] = {0, 1, 4, 8, 24};
          if (r.time - created[k->ticket_id()] > kResponseSla[k->priority()] * kMsPerHour) {
            ++t.late_responses;
          }
        }
      } else if (const auto* i = std::get_if<v1::InvoiceEvent>(&r.message)) {
        if (i->kind() == v1::InvoiceEvent::CREDIT_HOLD_SET) ++t.credit_holds;
      } else if (const auto* c = std::get_if<v1::CampaignEvent>(&r.message)) {
        if (c->has_nps()) {
          t.survey_nps_sum += c->nps();
          ++t.survey_answers;
        }
      }
    }
  }
  for (int i = 0; i < options.customers; ++i) by_persona[sim.persona(i)].push_back(totals[i]);
  for (int p = 0; p < kPersonaCount; ++p) {
    EXPECT_FALSE(by_persona[static_cast<Persona>(p)].empty()) << p;
  }

  auto usage = [](const Totals& t, int from, int to) {
    int64_t sum = 0;
    for (int d = from; d < to; ++d) {
      auto it = t.usage_by_day.find(d);
      if (it != t.usage_by_day.end()) sum += it->second;
    }
    return sum;
  };
  // Declining: the last 30 days hold clearly less usage than the 30 before (< 70%, the
  // drop that USAGE_DROP's 30% threshold catches).
  for (const Totals& t : by_persona[Persona::kDeclining]) {
    EXPECT_LT(usage(t, 60, 90) * 10, usage(t, 30, 60) * 7);
  }
  // Healthy: steady, within 25% month over month.
  for (const Totals& t : by_persona[Persona::kHealthy]) {
    EXPECT_GT(usage(t, 60, 90) * 4, usage(t, 30, 60) * 3);
  }
  // Churning: silent for the last 20 days after being active.
  for (const Totals& t : by_persona[Persona::kChurning]) {
    EXPECT_EQ(usage(t, 70, 90), 0);
    EXPECT_GT(usage(t, 0, 30), 0);
  }
  auto mean = [](const std::vector<Totals>& v, auto field) {
    double sum = 0;
    for (const Totals& t : v) sum += field(t);
    return sum / static_cast<double>(v.size());
  };
  const auto tickets = [](const Totals& t) { return t.tickets_created; };
  const auto late = [](const Totals& t) { return t.late_responses; };
  EXPECT_GT(mean(by_persona[Persona::kSupportHeavy], tickets),
            4 * mean(by_persona[Persona::kHealthy], tickets));
  EXPECT_GT(mean(by_persona[Persona::kSupportHeavy], late), 5.0);
  EXPECT_EQ(mean(by_persona[Persona::kHealthy], late), 0.0);
  EXPECT_GT(mean(by_persona[Persona::kSupportHeavy], [](const Totals& t) { return t.p1; }), 1.0);
  const auto holds = [](const Totals& t) { return t.credit_holds; };
  EXPECT_GT(mean(by_persona[Persona::kLatePayer], holds), 0.5);
  EXPECT_EQ(mean(by_persona[Persona::kHealthy], holds), 0.0);
  const auto nps = [](const Totals& t) {
    return t.survey_answers == 0 ? 0.0 : double(t.survey_nps_sum) / t.survey_answers;
  };
  std::vector<Totals> healthy_answering, disengaged_answering;
  for (const Totals& t : by_persona[Persona::kHealthy]) {
    if (t.survey_answers > 0) healthy_answering.push_back(t);
  }
  for (const Totals& t : by_persona[Persona::kDisengaged]) {
    if (t.survey_answers > 0) disengaged_answering.push_back(t);
  }
  ASSERT_FALSE(healthy_answering.empty());
  ASSERT_FALSE(disengaged_answering.empty());
  EXPECT_GE(mean(healthy_answering, nps), 8.0);
  EXPECT_LE(mean(disengaged_answering, nps), 5.0);
}

TEST(SimulationTest, EveryRecordIsValidAndInEventTimeOrderPerCustomer) {
  const SimulationOptions options = Options(11, 50, 60);
  Simulation sim(options);
  Decoder decoder;
  const TimeMs now = sim.history_end_ms();
  auto check = [&](const GeneratedRecord& r) {
    const std::string value = r.AsMessage().SerializeAsString();
    InputRecord in;
    in.topic = r.topic;
    in.key = r.customer_id;
    in.value = value;
    in.kafka_timestamp_ms = r.time;
    const DecodeResult result = decoder.Decode(in, now);
    ASSERT_TRUE(result.ok()) << r.customer_id << ": " << result.dead_letter->detail;
  };
  for (const auto& r : sim.Profiles()) check(r);
  std::map<int, TimeMs> last_time;
  std::vector<GeneratedRecord> day;
  for (int d = 0; d < options.history_days; ++d) {
    const TimeMs day_start = sim.NextDay(&day);
    for (const auto& r : day) {
      check(r);
      EXPECT_GE(r.time, day_start);
      EXPECT_LT(r.time, day_start + kMsPerDay);
      EXPECT_GE(r.time, last_time[r.customer]) << r.customer_id;
      last_time[r.customer] = r.time;
    }
  }
}

}  // namespace
}  // namespace c360::gen
