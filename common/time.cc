#include "common/time.h"

#include <chrono>
#include <cstdio>

namespace c360 {
namespace {

std::chrono::year_month_day CivilOf(TimeMs t) {
  return std::chrono::year_month_day{std::chrono::sys_days{std::chrono::days{DayOf(t)}}};
}

}  // namespace

std::optional<TimeMs> ParseDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int fields[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lengths[3] = {4, 2, 2};
  for (int f = 0; f < 3; ++f) {
    for (size_t i = starts[f]; i < starts[f] + lengths[f]; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      fields[f] = fields[f] * 10 + (text[i] - '0');
    }
  }
  const std::chrono::year_month_day ymd{std::chrono::year{fields[0]},
                                        std::chrono::month{static_cast<unsigned>(fields[1])},
                                        std::chrono::day{static_cast<unsigned>(fields[2])}};
  if (!ymd.ok()) return std::nullopt;
  return StartOfDay(std::chrono::sys_days{ymd}.time_since_epoch().count());
}

std::string FormatDate(TimeMs t) {
  const auto ymd = CivilOf(t);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string FormatMonth(TimeMs t) { return FormatDate(t).substr(0, 7); }

std::string FormatRfc3339(TimeMs t) {
  const int64_t ms_of_day = t - StartOfDay(DayOf(t));
  char buf[40];
  std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02d.%03dZ", FormatDate(t).c_str(),
                static_cast<int>(ms_of_day / kMsPerHour), static_cast<int>(ms_of_day / 60'000 % 60),
                static_cast<int>(ms_of_day / 1000 % 60), static_cast<int>(ms_of_day % 1000));
  return buf;
}

TimeMs ToMs(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * kMsPerSecond + ts.nanos() / 1'000'000;
}

google::protobuf::Timestamp ToTimestamp(TimeMs t) {
  google::protobuf::Timestamp ts;
  const int64_t ms_part = t >= 0 ? t % 1000 : ((t % 1000) + 1000) % 1000;
  ts.set_seconds((t - ms_part) / 1000);
  ts.set_nanos(static_cast<int32_t>(ms_part * 1'000'000));
  return ts;
}

}  // namespace c360
