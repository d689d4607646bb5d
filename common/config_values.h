#pragma once
// The checks of one config value that every loader shares (scoring/config.cc for the engine,
// services/notify/notify_config.cc): each returns what is wrong with the value, for a
// "config key K: <why>" line, or nullopt when *out holds it.

#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace c360 {

inline std::optional<std::string> ParseInteger(const std::string& v, int64_t lo, int64_t hi,
                                               int64_t* out) {
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return "expected an integer, got '" + v + "'";
  }
  if (*out < lo || *out > hi) {
    return v + " is outside " + std::to_string(lo) + ".." + std::to_string(hi);
  }
  return std::nullopt;
}

inline std::optional<std::string> ParseNumber(const std::string& v, double lo, double hi,
                                              double* out) {
  size_t used = 0;
  try {
    *out = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size()) return "expected a number, got '" + v + "'";
  if (*out < lo || *out > hi) {
    return v + " is outside " + std::to_string(lo) + ".." + std::to_string(hi);
  }
  return std::nullopt;
}

}  // namespace c360
