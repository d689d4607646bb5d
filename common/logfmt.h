#pragma once
// Values in the logfmt log (`ts=... level=... event=... key=value`): LogValue(text) prints
// text bare when it is a plain word, else in double quotes with `\` `"` and control
// characters escaped, so that a line stays one line and parses whatever an error message,
// a path or a peer's text contains.
//
//   spdlog::warn("event=publish_failed topic={} error={}", LogValue(topic), LogValue(e.what()));

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace c360 {

struct LogValue {
  explicit LogValue(std::string_view t) : text(t) {}
  std::string_view text;
};

// The logfmt form of `text` (see above).
std::string LogfmtValue(std::string_view text);

}  // namespace c360

template <>
struct fmt::formatter<c360::LogValue> : fmt::formatter<std::string_view> {
  template <typename Context>
  auto format(const c360::LogValue& v, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(c360::LogfmtValue(v.text), ctx);
  }
};
