#include "services/api/rollups.h"

#include <algorithm>
#include <unordered_map>

#include "scoring/scores.h"

namespace c360::api {
namespace {

using nlohmann::json;
using v1::HealthSnapshot;

constexpr size_t kTopCustomers = 10;

bool AtRisk(const IndexRow& r) {
  return r.status == HealthSnapshot::AT_RISK || r.status == HealthSnapshot::CRITICAL;
}

std::string RuleName(int r) {
  return v1::AlertEvent::Rule_Name(static_cast<v1::AlertEvent::Rule>(r));
}

json ByRule(const std::array<int64_t, kRuleCount>& counts) {
  json by_rule = json::object();
  int64_t total = 0;
  for (int r = 1; r < kRuleCount; ++r) {
    by_rule[RuleName(r)] = counts[r];
    total += counts[r];
  }
  return {{"by_rule", by_rule}, {"total", total}};
}

double Percent(int64_t part, int64_t whole) {
  return whole > 0 ? Rounded(100.0 * static_cast<double>(part) / static_cast<double>(whole), 2)
                   : 0.0;
}

// A row's place among `top` (at most kTopCustomers, best first): revenue descending, then
// customer_id ascending.
bool Better(const Ranked& a, const Ranked& b) {
  const int64_t ra = a.t->rows[a.slot].revenue, rb = b.t->rows[b.slot].revenue;
  if (ra != rb) return ra > rb;
  return a.t->ids[a.slot] < b.t->ids[b.slot];
}
void Offer(std::vector<Ranked>* top, Ranked r) {
  if (top->size() == kTopCustomers && !Better(r, top->back())) return;
  top->insert(std::upper_bound(top->begin(), top->end(), r, Better), r);
  if (top->size() > kTopCustomers) top->pop_back();
}

// The rollup of one portfolio row (or the totals).
struct Rollup {
  int64_t customers = 0;
  int64_t scored = 0;
  std::array<int64_t, 5> by_status{};
  int64_t health_sum = 0;
  int64_t revenue = 0;
  int64_t revenue_at_risk = 0;
  int64_t promoters = 0, detractors = 0, respondents = 0;
  double csat_sum = 0;
  int64_t csat_n = 0;
  int64_t active_users = 0;
  int64_t due90 = 0, due90_revenue = 0, due180 = 0, due180_revenue = 0;
  std::array<int64_t, kRuleCount> firing{};

  void Add(const IndexRow& r, int32_t day) {
    ++customers;
    revenue += r.revenue;
    active_users += r.active_users;
    if (r.scored()) {
      ++scored;
      ++by_status[r.status];
      health_sum += r.health;
      if (AtRisk(r)) revenue_at_risk += r.revenue;
    }
    if (r.nps >= 0) {
      ++respondents;
      if (r.nps >= 9) ++promoters;
      if (r.nps <= 6) ++detractors;
    }
    if (r.csat >= 0) {
      csat_sum += r.csat;
      ++csat_n;
    }
    if (r.contract_end_day != kNoDay && day != kNoDay) {
      const int32_t days = r.contract_end_day - day;
      if (days >= 0 && days <= 90) {
        ++due90;
        due90_revenue += r.revenue;
      }
      if (days >= 0 && days <= 180) {
        ++due180;
        due180_revenue += r.revenue;
      }
    }
    for (int i = 1; i < kRuleCount; ++i) firing[i] += r.firing[i];
  }

  void Merge(const Rollup& o) {
    customers += o.customers;
    scored += o.scored;
    for (size_t i = 0; i < by_status.size(); ++i) by_status[i] += o.by_status[i];
    health_sum += o.health_sum;
    revenue += o.revenue;
    revenue_at_risk += o.revenue_at_risk;
    promoters += o.promoters;
    detractors += o.detractors;
    respondents += o.respondents;
    csat_sum += o.csat_sum;
    csat_n += o.csat_n;
    active_users += o.active_users;
    due90 += o.due90;
    due90_revenue += o.due90_revenue;
    due180 += o.due180;
    due180_revenue += o.due180_revenue;
    for (size_t i = 0; i < firing.size(); ++i) firing[i] += o.firing[i];
  }

  json Json() const {
    json statuses = json::object();
    for (int s = 1; s <= 4; ++s)
      statuses[HealthSnapshot::Status_Name(static_cast<HealthSnapshot::Status>(s))] = by_status[s];
    return {{"customers", customers},
            {"scored", scored},
            {"by_status", statuses},
            {"average_health",
             scored > 0 ? json(RoundHalfUp(100 * health_sum, scored) / 100.0) : json(nullptr)},
            {"revenue_cents", revenue},
            {"revenue_at_risk_cents", revenue_at_risk},
            {"nps", respondents > 0
                        ? json(RoundHalfUp(10'000 * (promoters - detractors), respondents) / 100.0)
                        : json(nullptr)},
            {"nps_respondents", respondents},
            {"csat_avg",
             csat_n > 0 ? json(Rounded(csat_sum / static_cast<double>(csat_n), 3)) : json(nullptr)},
            {"active_users_r30d", active_users},
            {"renewals_due_90d", {{"customers", due90}, {"revenue_cents", due90_revenue}}},
            {"renewals_due_180d", {{"customers", due180}, {"revenue_cents", due180_revenue}}},
            {"firing_alerts", ByRule(firing)}};
  }
};

}  // namespace

int32_t RowSet::DayOf(uint16_t task) const {
  const auto it = metas.find(task);
  if (it == metas.end() || it->second.stream_time() == kNoTime) return kNoDay;
  return static_cast<int32_t>(c360::DayOf(it->second.stream_time()));
}

CustomerRow ApiRow(const TaskRows& t, uint32_t slot, const Config& config) {
  const IndexRow& r = t.rows[slot];
  CustomerRow row;
  row.customer_id = t.ids[slot];
  row.name = t.names[slot];
  row.task = t.task;
  row.has_profile = r.has_profile;
  row.segment = static_cast<v1::CustomerProfile::Segment>(r.segment);
  row.annual_revenue_cents = r.revenue;
  row.vip = r.has_profile && r.revenue >= config.vip_revenue_cents;
  row.scored = r.scored();
  row.health = r.health;
  row.risk = r.risk;
  row.status = static_cast<HealthSnapshot::Status>(r.status);
  row.risk_level = static_cast<HealthSnapshot::RiskLevel>(r.risk_level);
  row.lifecycle = static_cast<v1::Lifecycle::Stage>(r.lifecycle);
  if (r.health_change != IndexRow::kNoChange) row.health_change_7d = r.health_change;
  row.owner = (*t.strings)[r.owner];
  row.industry = (*t.strings)[r.industry];
  row.region = (*t.strings)[r.region];
  return row;
}

json SummaryJson(const RowSet& set, const Config& config) {
  std::array<int64_t, 5> by_status{}, by_segment{};
  std::array<int64_t, 4> by_risk{};
  int64_t customers = 0, health_sum = 0, scored = 0, total_revenue = 0, revenue_at_risk = 0;
  std::vector<Ranked> top, top_at_risk;
  for (const TaskRows* t : set.tasks) {
    for (uint32_t i = 0; i < t->rows.size(); ++i) {
      const IndexRow& r = t->rows[i];
      ++customers;
      total_revenue += r.revenue;
      ++by_segment[r.has_profile ? r.segment : 0];
      Offer(&top, {t, i});
      if (!r.scored()) continue;
      ++scored;
      health_sum += r.health;
      ++by_status[r.status];
      ++by_risk[r.risk_level];
      if (AtRisk(r)) {
        revenue_at_risk += r.revenue;
        Offer(&top_at_risk, {t, i});
      }
    }
  }
  json statuses = json::object(), risks = json::object(), segments = json::object();
  for (int s = 1; s <= 4; ++s)
    statuses[HealthSnapshot::Status_Name(static_cast<HealthSnapshot::Status>(s))] = by_status[s];
  for (int r = 1; r <= 3; ++r)
    risks[HealthSnapshot::RiskLevel_Name(static_cast<HealthSnapshot::RiskLevel>(r))] = by_risk[r];
  for (int s = 1; s <= 4; ++s) {
    segments[v1::CustomerProfile::Segment_Name(static_cast<v1::CustomerProfile::Segment>(s))] =
        by_segment[s];
  }
  segments["NONE"] = by_segment[0];  // no profile, or no segment in it
  const auto rows = [&](const std::vector<Ranked>& list) {
    json out = json::array();
    for (const Ranked& r : list) {
      json row = RowJson(ApiRow(*r.t, r.slot, config));
      row["revenue_share_pct"] = Percent(r.t->rows[r.slot].revenue, total_revenue);
      out.push_back(std::move(row));
    }
    return out;
  };
  int64_t top_sum = 0;
  for (const Ranked& r : top) top_sum += r.t->rows[r.slot].revenue;

  // FIRING alerts in the 24 hours of stream time up to each task's T.
  std::array<int64_t, kRuleCount> alerts{};
  for (const auto& [task, meta] : set.metas) {
    if (meta.stream_time() == kNoTime) continue;
    const int64_t hour_now = meta.stream_time() / kMsPerHour;
    for (const state::v1::AlertHour& h : meta.alert_hours()) {
      if (h.hour() <= hour_now - 24 || h.hour() > hour_now) continue;
      for (int r = 1; r < kRuleCount && r < h.by_rule_size(); ++r) alerts[r] += h.by_rule(r);
    }
  }
  return {
      {"customers", customers},
      {"scored", scored},
      {"by_status", statuses},
      {"by_risk_level", risks},
      {"by_segment", segments},
      {"average_health",
       scored > 0 ? json(Rounded(static_cast<double>(health_sum) / static_cast<double>(scored), 2))
                  : json(nullptr)},
      {"total_revenue_cents", total_revenue},
      {"revenue_at_risk_cents", revenue_at_risk},
      {"revenue_at_risk_pct", Percent(revenue_at_risk, total_revenue)},
      {"top_customers_by_revenue", rows(top)},
      {"top_customers_revenue_share_pct", Percent(top_sum, total_revenue)},
      {"top_at_risk_by_revenue", rows(top_at_risk)},
      {"alerts_last_24h", ByRule(alerts)}};
}

std::optional<Dimension> ParseDimension(const std::string& name) {
  for (Dimension d : {Dimension::kSegment, Dimension::kIndustry, Dimension::kRegion,
                      Dimension::kOwner, Dimension::kLifecycleStage}) {
    if (name == DimensionName(d)) return d;
  }
  return std::nullopt;
}

const char* DimensionName(Dimension d) {
  switch (d) {
    case Dimension::kSegment: return "segment";
    case Dimension::kIndustry: return "industry";
    case Dimension::kRegion: return "region";
    case Dimension::kOwner: return "owner";
    case Dimension::kLifecycleStage: return "lifecycle_stage";
  }
  return "segment";
}

json PortfolioJson(const RowSet& set, Dimension by, const Config& config) {
  // Rollups by value; rows find theirs through a per-string-table cache of their ids.
  std::map<std::string, Rollup> rollups;
  Rollup totals;
  std::array<int64_t, 10> distribution{};  // health 0-9, ..., 90-100
  std::unordered_map<const StringTable*, std::vector<Rollup*>> by_string;
  std::array<Rollup*, 256> by_number{};
  const bool lifecycle = by == Dimension::kLifecycleStage;
  const auto named = [&](const std::string& value) { return &rollups[value]; };
  for (const TaskRows* t : set.tasks) {
    const int32_t day = set.DayOf(t->task);
    std::vector<Rollup*>& cache = by_string[t->strings];
    for (const IndexRow& r : t->rows) {
      // CHURNED customers count only by lifecycle stage (SPEC section 8).
      if (!lifecycle && r.lifecycle == v1::Lifecycle::CHURNED) continue;
      Rollup* rollup = nullptr;
      switch (by) {
        case Dimension::kSegment: {
          const uint8_t segment = r.has_profile ? r.segment : 0;
          Rollup*& slot = by_number[segment];
          if (slot == nullptr) {
            slot = named(segment == 0 ? ""
                                      : v1::CustomerProfile::Segment_Name(
                                            static_cast<v1::CustomerProfile::Segment>(segment)));
          }
          rollup = slot;
          break;
        }
        case Dimension::kLifecycleStage: {
          Rollup*& slot = by_number[r.lifecycle];
          if (slot == nullptr) {
            slot = named(r.lifecycle == 0 ? ""
                                          : v1::Lifecycle::Stage_Name(
                                                static_cast<v1::Lifecycle::Stage>(r.lifecycle)));
          }
          rollup = slot;
          break;
        }
        default: {
          const uint32_t id = by == Dimension::kIndustry ? r.industry
                              : by == Dimension::kRegion ? r.region
                                                         : r.owner;
          if (cache.size() <= id) cache.resize(t->strings->size(), nullptr);
          if (cache[id] == nullptr) cache[id] = named((*t->strings)[id]);
          rollup = cache[id];
        }
      }
      rollup->Add(r, day);
      if (r.scored()) ++distribution[std::min(9, r.health / 10)];
    }
  }
  std::vector<std::pair<const std::string*, const Rollup*>> ordered;
  for (const auto& [value, rollup] : rollups) {
    ordered.emplace_back(&value, &rollup);
    totals.Merge(rollup);
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return a.second->revenue > b.second->revenue;  // ties: value ascending (map order)
  });
  json rows = json::array();
  for (const auto& [value, rollup] : ordered) {
    json row = {{"value", *value}, {DimensionName(by), *value}};
    row.update(rollup->Json());
    rows.push_back(std::move(row));
  }
  json histogram = json::array();
  for (int b = 0; b < 10; ++b) {
    histogram.push_back(
        {{"from", b * 10}, {"to", b == 9 ? 100 : b * 10 + 9}, {"customers", distribution[b]}});
  }
  // FIRING alerts in the 30 days of stream time up to each task's T, by rule and by day.
  std::array<int64_t, kRuleCount> alerts{};
  std::map<int64_t, int64_t> by_day;
  for (const auto& [task, meta] : set.metas) {
    if (meta.stream_time() == kNoTime) continue;
    const int64_t today = c360::DayOf(meta.stream_time());
    for (const state::v1::AlertHour& d : meta.alert_days()) {
      if (d.hour() <= today - 30 || d.hour() > today) continue;
      for (int r = 1; r < kRuleCount && r < d.by_rule_size(); ++r) {
        alerts[r] += d.by_rule(r);
        by_day[d.hour()] += d.by_rule(r);
      }
    }
  }
  json days = json::array();
  for (const auto& [day, n] : by_day)
    days.push_back({{"date", FormatDate(StartOfDay(day))}, {"alerts", n}});
  json alerts_30d = ByRule(alerts);
  alerts_30d["by_day"] = days;
  return {{"by", DimensionName(by)},
          {"health_target", config.portfolio_health_target},
          {"rows", rows},
          {"totals", totals.Json()},
          {"health_distribution", histogram},
          {"alerts_last_30d", alerts_30d}};
}

}  // namespace c360::api
