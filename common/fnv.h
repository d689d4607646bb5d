#pragma once
// FNV-1a, 64 bits: a fixed hash (the same on every build and machine) for values that are
// stored or compared across commits: user_ids (scoring/customer_state.h), list rows'
// bytes (state/store.cc) and the routing context (services/engine/task.cc).

#include <cstdint>
#include <string_view>

namespace c360 {

inline constexpr uint64_t kFnvOffset = 14695981039346656037ULL;

// Continues hash `h` over `bytes`.
constexpr uint64_t Fnv1a64(std::string_view bytes, uint64_t h = kFnvOffset) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// The 64-bit hash folded to 32 bits.
constexpr uint32_t Fold32(uint64_t h) { return static_cast<uint32_t>(h ^ (h >> 32)); }

}  // namespace c360
