#pragma once
// Health, churn risk, status, drivers and lifecycle stage from the KPIs (SPEC section 4).
// Pure and exact: components are integers in hundredths, rounded half up from exact
// rationals, and health is the SPEC's integer formula, so every implementation agrees.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "c360/v1/health.pb.h"
#include "scoring/config.h"
#include "scoring/kpis.h"

namespace c360 {

enum Component : int { kUsage = 0, kSupport = 1, kFinancial = 2, kEngagement = 3 };
inline constexpr std::array<const char*, 4> kComponentNames = {"usage", "support", "financial",
                                                               "engagement"};

struct Scores {
  std::array<int32_t, 4> components = {0, 0, 0, 0};  // hundredths, 0..10000
  int32_t health = 0;                                // 0..100
  v1::HealthSnapshot::Status status = v1::HealthSnapshot::STATUS_UNSPECIFIED;
  int32_t risk = 0;  // 0..100
  v1::HealthSnapshot::RiskLevel risk_level = v1::HealthSnapshot::RISK_LEVEL_UNSPECIFIED;
  int32_t shadow_risk = -1;  // the shadow model's risk (SPEC section 10); -1: none
  v1::Lifecycle::Stage lifecycle = v1::Lifecycle::STAGE_UNSPECIFIED;
  // Components with a deficit, largest weighted deficit first. deficit_e4 is the SPEC's
  // w x (100 - score) in units of 1e-4 points: weight% x (10000 - component hundredths).
  struct Driver {
    Component component;
    int64_t deficit_e4;
  };
  // At most one driver per component; a fixed array keeps re-scoring allocation-free.
  struct Drivers {
    std::array<Driver, 4> items{};
    size_t count = 0;
    void push_back(Driver d) { items[count++] = d; }
    size_t size() const { return count; }
    bool empty() const { return count == 0; }
    const Driver& operator[](size_t i) const { return items[i]; }
    const Driver& front() const { return items[0]; }
    Driver* begin() { return items.data(); }
    Driver* end() { return items.data() + count; }
    const Driver* begin() const { return items.data(); }
    const Driver* end() const { return items.data() + count; }
  };
  Drivers drivers;
};

Scores ComputeScores(const CoreKpis& kpis, const Config& config);

// round half up of num / den for den > 0 (num may be negative).
int64_t RoundHalfUp(int64_t num, int64_t den);

// One sentence a person understands for a driver, e.g. "usage down 62% vs prior 30 days".
std::string DriverText(Component component, const CoreKpis& kpis);

// Drivers as the outputs carry them.
void FillDrivers(const Scores& scores, const CoreKpis& kpis,
                 google::protobuf::RepeatedPtrField<v1::Driver>* out);

v1::HealthSnapshot::Status StatusOf(int32_t health, const Config& config);
v1::HealthSnapshot::RiskLevel RiskLevelOf(int32_t risk, const Config& config);

}  // namespace c360
