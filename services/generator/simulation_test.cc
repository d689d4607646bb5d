#include "services/generator/simulation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

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
  // Those who leave (a few of every persona) stop; the shapes are those of who stays.
  for (int i = 0; i < options.customers; ++i) {
    if (!sim.leaves(i) || sim.persona(i) == Persona::kChurning) {
      by_persona[sim.persona(i)].push_back(totals[i]);
    }
  }
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

// One customer's usage and profile updates over a whole history.
struct Activity {
  std::map<int, std::set<std::string>> users_by_day;  // day index -> distinct user_ids
  std::map<int, int64_t> usage_by_day;                // day index -> usage events
  std::vector<GeneratedRecord> profile_updates;       // profiles after Profiles()
  TimeMs last_usage = -1;
  TimeMs last_engagement = -1;  // campaign events but SENT (stricter than engaged), CREATED

  int Users(int from, int to) const {
    std::set<std::string> all;
    for (auto it = users_by_day.lower_bound(from); it != users_by_day.end() && it->first < to;
         ++it) {
      all.insert(it->second.begin(), it->second.end());
    }
    return static_cast<int>(all.size());
  }
  int64_t Usage(int from, int to) const {
    int64_t sum = 0;
    for (auto it = usage_by_day.lower_bound(from); it != usage_by_day.end() && it->first < to;
         ++it) {
      sum += it->second;
    }
    return sum;
  }
};

std::vector<Activity> Simulate(Simulation& sim, int days) {
  std::vector<Activity> out(sim.customers());
  std::vector<GeneratedRecord> records;
  for (int d = 0; d < days; ++d) {
    sim.NextDay(&records);
    for (const auto& r : records) {
      Activity& a = out[r.customer];
      if (const auto* u = std::get_if<v1::UsageEvent>(&r.message)) {
        a.users_by_day[d].insert(u->user_id());
        ++a.usage_by_day[d];
        a.last_usage = r.time;
      } else if (std::holds_alternative<v1::CustomerProfile>(r.message)) {
        a.profile_updates.push_back(r);
      } else if (const auto* c = std::get_if<v1::CampaignEvent>(&r.message)) {
        if (c->kind() != v1::CampaignEvent::SENT) a.last_engagement = r.time;
      } else if (const auto* k = std::get_if<v1::TicketEvent>(&r.message)) {
        if (k->kind() == v1::TicketEvent::CREATED) a.last_engagement = r.time;
      }
    }
  }
  return out;
}

// ACTIVE_USERS_DROP's shape (SPEC section 5): with at least 5 active users in the prior 30
// days, disengaged customers lose 30% or more of them in the last 30 days while their usage
// holds (no USAGE_DROP yet); steady personas keep theirs within 20%; declining customers
// lose users along with their usage.
TEST(SimulationTest, DisengagedCustomersLoseUsersBeforeUsage) {
  const SimulationOptions options = Options(5, 150, 120);
  Simulation sim(options);
  const std::vector<Activity> activity = Simulate(sim, options.history_days);
  const int end = options.history_days;
  int disengaged = 0;
  int users_before_usage = 0;
  int steady = 0;
  int declining_prior = 0;
  int declining_cur = 0;
  for (int i = 0; i < sim.customers(); ++i) {
    const Activity& a = activity[i];
    const int prior = a.Users(end - 60, end - 30);
    const int cur = a.Users(end - 30, end);
    if (prior < 5) continue;  // the rule's minimum sample
    switch (sim.persona(i)) {
      case Persona::kDisengaged:
        ++disengaged;
        if (10 * cur <= 7 * prior &&
            10 * a.Usage(end - 30, end) > 7 * a.Usage(end - 60, end - 30)) {
          ++users_before_usage;
        }
        break;
      case Persona::kHealthy:
      case Persona::kSupportHeavy:
      case Persona::kLatePayer:
        ++steady;
        EXPECT_LE(5 * std::abs(cur - prior), prior)
            << sim.customer_id(i) << " " << PersonaName(sim.persona(i)) << ": " << prior << " -> "
            << cur << " active users";
        break;
      case Persona::kDeclining:
        declining_prior += prior;
        declining_cur += cur;
        break;
      case Persona::kChurning: break;
    }
  }
  ASSERT_GE(disengaged, 5);
  ASSERT_GE(steady, 20);
  EXPECT_GE(10 * users_before_usage, 9 * disengaged)
      << users_before_usage << " of " << disengaged << " disengaged customers";
  EXPECT_LE(10 * declining_cur, 9 * declining_prior);
}

// Users come from the customer's seats, as `<customer_id>-u<n>`, never more than bought.
TEST(SimulationTest, UsersAreSeatsOfTheirCustomer) {
  const SimulationOptions options = Options(9, 120, 60);
  Simulation sim(options);
  const std::vector<Activity> activity = Simulate(sim, options.history_days);
  std::set<int> seat_counts;
  for (int i = 0; i < sim.customers(); ++i) {
    const int seats = sim.seats(i);
    seat_counts.insert(seats);
    ASSERT_GE(seats, 1);
    std::set<std::string> users;
    for (const auto& [day, ids] : activity[i].users_by_day) users.insert(ids.begin(), ids.end());
    EXPECT_LE(static_cast<int>(users.size()), seats) << sim.customer_id(i);
    const std::string prefix = sim.customer_id(i) + "-u";
    for (const std::string& user : users) {
      ASSERT_EQ(user.rfind(prefix, 0), 0u) << user;
      const int n = std::stoi(user.substr(prefix.size()));
      EXPECT_GE(n, 1) << user;
      EXPECT_LE(n, seats) << user;
    }
  }
  EXPECT_GT(seat_counts.size(), 10u);  // seats vary between customers
}

// A few users come every working day, most less often: stickiness between the extremes of
// everyone daily (100%) and everyone once a month (about 3%).
TEST(SimulationTest, UsersHaveDailyHabits) {
  const SimulationOptions options = Options(13, 120, 60);
  Simulation sim(options);
  const std::vector<Activity> activity = Simulate(sim, options.history_days);
  const int end = options.history_days;
  int customers = 0;
  int all_users = 0;
  int all_under_half = 0;  // users active on fewer than half of the days
  for (int i = 0; i < sim.customers(); ++i) {
    if (sim.persona(i) != Persona::kHealthy || sim.leaves(i)) continue;
    const Activity& a = activity[i];
    const int users = a.Users(end - 30, end);
    if (users < 10) continue;
    ++customers;
    std::map<std::string, int> days_active;
    int64_t user_days = 0;
    for (int d = end - 30; d < end; ++d) {
      auto it = a.users_by_day.find(d);
      if (it == a.users_by_day.end()) continue;
      for (const std::string& user : it->second) ++days_active[user];
      user_days += static_cast<int64_t>(it->second.size());
    }
    int most = 0;
    for (const auto& [user, days] : days_active) {
      most = std::max(most, days);
      if (2 * days < 30) ++all_under_half;
    }
    all_users += users;
    const double stickiness = 100.0 * static_cast<double>(user_days) / (30.0 * users);
    EXPECT_GE(most, 18) << sim.customer_id(i);  // on most working days, or more
    EXPECT_GT(stickiness, 10.0) << sim.customer_id(i);
    EXPECT_LT(stickiness, 80.0) << sim.customer_id(i);
  }
  EXPECT_GE(customers, 10);
  EXPECT_GT(2 * all_under_half, all_users);
}

// Most churning customers leave: one profile update with churned_on, after which they are
// gone; the others stay silent without leaving. Nobody has left at the start; the leavers'
// days spread over the history (a churn model's training needs churn in every period), and
// a few of the other personas leave too. Also for a history too short to hold the whole
// silence (then the customer leaves on its last day at the latest).
TEST(SimulationTest, ChurningCustomersLeaveOnceAndThenStaySilent) {
  for (const int days : {120, 8}) {
    SCOPED_TRACE(days);
    const SimulationOptions options = Options(17, 150, days);
    Simulation sim(options);
    const std::vector<GeneratedRecord> profiles = sim.Profiles();
    ASSERT_EQ(static_cast<int>(profiles.size()), sim.customers());
    for (const GeneratedRecord& r : profiles) {
      const auto& p = std::get<v1::CustomerProfile>(r.message);
      EXPECT_FALSE(p.has_churned_on()) << r.customer_id;
      EXPECT_FALSE(p.owner().empty()) << r.customer_id;
    }
    // Live days after the history: the churned stay silent.
    const std::vector<Activity> activity = Simulate(sim, days + 30);
    int churning = 0, left_count = 0, others = 0, others_left = 0, left_early = 0;
    for (int i = 0; i < sim.customers(); ++i) {
      const Activity& a = activity[i];
      if (sim.persona(i) != Persona::kChurning) {
        ++others;
        ASSERT_LE(a.profile_updates.size(), 1u) << sim.customer_id(i);
        if (!a.profile_updates.empty()) {
          ++others_left;
          const auto& left = std::get<v1::CustomerProfile>(a.profile_updates[0].message);
          EXPECT_TRUE(left.has_churned_on()) << sim.customer_id(i);
          EXPECT_LT(a.last_usage, ToMs(left.churned_on())) << sim.customer_id(i);
        }
        continue;
      }
      ++churning;
      ASSERT_LE(a.profile_updates.size(), 1u) << sim.customer_id(i);
      if (a.profile_updates.empty()) continue;  // silent, not gone
      ++left_count;
      const GeneratedRecord& update = a.profile_updates[0];
      EXPECT_EQ(update.topic, InputTopic::kCustomers);
      EXPECT_EQ(update.customer_id, sim.customer_id(i));
      auto left = std::get<v1::CustomerProfile>(update.message);
      ASSERT_TRUE(left.has_churned_on()) << sim.customer_id(i);
      const TimeMs churned_on = ToMs(left.churned_on());
      EXPECT_EQ(churned_on, StartOfDay(DayOf(churned_on)));  // a day
      EXPECT_EQ(DayOf(update.time), DayOf(churned_on));      // published that day
      EXPECT_LT(churned_on, sim.history_end_ms());
      EXPECT_LT(a.last_usage, churned_on) << sim.customer_id(i);
      // (An email sent the day before may still be opened just after midnight.)
      EXPECT_LT(a.last_engagement, update.time) << sim.customer_id(i);
      // Otherwise the profile it started with.
      left.clear_churned_on();
      EXPECT_EQ(left.SerializeAsString(), profiles[i].AsMessage().SerializeAsString());
      if (days >= 35) {  // silent for the last 20 days, then 10..15 days later
        const int64_t silent_days = DayOf(churned_on) - DayOf(a.last_usage);
        EXPECT_GE(silent_days, 10) << sim.customer_id(i);
        EXPECT_LE(DayOf(churned_on), DayOf(sim.history_end_ms()) - 5) << sim.customer_id(i);
        // Its contract was to end 10..60 days after its silence began + 20 days.
        const int64_t contract_end = DayOf(ToMs(left.contract_end()));
        EXPECT_GE(contract_end, DayOf(churned_on)) << sim.customer_id(i);
        if (DayOf(churned_on) < DayOf(sim.history_end_ms()) - 40) ++left_early;
      }
    }
    EXPECT_GE(left_count, 3);
    EXPECT_LT(left_count, churning);      // some stay, at risk
    EXPECT_LE(others_left * 20, others);  // a few others, with no warning
    if (days >= 35) {
      EXPECT_GE(left_early, 2);  // not only at the end
    }
  }
}

// The situations of the rules CREDIT_HOLD and NPS_DETRACTOR occur in a demo-sized run.
TEST(SimulationTest, CreditHoldsAndDetractorsOccur) {
  const SimulationOptions options = Options(1, 100, 120);
  Simulation sim(options);
  std::set<std::string> on_hold;
  std::map<std::string, int> latest_nps;
  std::vector<GeneratedRecord> day;
  for (int d = 0; d < options.history_days; ++d) {
    sim.NextDay(&day);
    for (const auto& r : day) {
      if (const auto* i = std::get_if<v1::InvoiceEvent>(&r.message)) {
        if (i->kind() == v1::InvoiceEvent::CREDIT_HOLD_SET) on_hold.insert(r.customer_id);
      } else if (const auto* c = std::get_if<v1::CampaignEvent>(&r.message)) {
        if (c->has_nps()) latest_nps[r.customer_id] = c->nps();
      }
    }
  }
  EXPECT_GE(on_hold.size(), 3u);
  int detractors = 0;
  int promoters = 0;
  for (const auto& [customer, nps] : latest_nps) {
    if (nps <= 6) ++detractors;
    if (nps >= 9) ++promoters;
  }
  EXPECT_GE(detractors, 3);
  EXPECT_GE(promoters, 3);
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
