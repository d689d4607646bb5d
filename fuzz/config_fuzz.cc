// libFuzzer target: the config loader (docs/config.md). Any text must either load or be
// refused with a ConfigError naming the key; any other exception or crash is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "scoring/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)c360::ParseConfig(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const c360::ConfigError&) {
  }
  return 0;
}
