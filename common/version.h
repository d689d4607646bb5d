#pragma once
// c360's version: `c360 --version` and the build_info{version} metric (SPEC section 9).

#include <string_view>

namespace c360 {

inline constexpr std::string_view kVersion = "0.1.0";

}  // namespace c360
