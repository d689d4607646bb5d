#pragma once
// Decimal helpers that scores, rules and recommendations share.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace c360 {

// `v` in hundredths, rounded half away from zero (100 points are 10,000).
inline int64_t Hundredths(double v) { return std::llround(v * 100.0); }

// `v` with `places` decimals: Fixed(2.5, 2) is "2.50".
inline std::string Fixed(double v, int places) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", places, v);
  return buf;
}

}  // namespace c360
