#pragma once
// UTC time for every part of c360: milliseconds since the Unix epoch, UTC day numbers,
// calendar dates and RFC 3339 text. Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <google/protobuf/timestamp.pb.h>

namespace c360 {

using TimeMs = int64_t;  // milliseconds since 1970-01-01T00:00:00Z
inline constexpr TimeMs kMsPerSecond = 1000;
inline constexpr TimeMs kMsPerHour = 3'600'000;
inline constexpr TimeMs kMsPerDay = 86'400'000;

// UTC day number of t (days since 1970-01-01), rounding towards minus infinity.
constexpr int64_t DayOf(TimeMs t) {
  return t >= 0 ? t / kMsPerDay : -((-t + kMsPerDay - 1) / kMsPerDay);
}
constexpr TimeMs StartOfDay(int64_t day) { return day * kMsPerDay; }

// "YYYY-MM-DD" -> midnight UTC of that date; nullopt if it is not a real date.
std::optional<TimeMs> ParseDate(std::string_view text);
// "YYYY-MM-DD" of t's UTC day.
std::string FormatDate(TimeMs t);
// "YYYY-MM" of t's UTC month.
std::string FormatMonth(TimeMs t);
// RFC 3339 in UTC with milliseconds, e.g. "2026-11-23T13:29:21.000Z".
std::string FormatRfc3339(TimeMs t);

TimeMs ToMs(const google::protobuf::Timestamp& ts);
google::protobuf::Timestamp ToTimestamp(TimeMs t);

}  // namespace c360
