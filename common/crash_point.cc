#include "common/crash_point.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace c360 {
namespace {

struct Armed {
  std::string name;
  long at = 1;  // the pass that crashes
};

const Armed* Parse(const char* variable) {
  const char* text = std::getenv(variable);
  if (text == nullptr || *text == '\0') return nullptr;
  auto* armed = new Armed{text, 1};
  if (const char* colon = std::strchr(text, ':')) {
    armed->name.assign(text, colon);
    armed->at = std::max(1L, std::strtol(colon + 1, nullptr, 10));
  }
  return armed;
}

}  // namespace

void CrashPoint(const char* name) {
  static const Armed* const armed = Parse("C360_CRASH_POINT");
  if (armed == nullptr || armed->name != name) return;
  static std::atomic<long> passes{0};
  if (passes.fetch_add(1) + 1 < armed->at) return;
  static const char kPrefix[] = "c360: crash point ";
  (void)!write(STDERR_FILENO, kPrefix, sizeof kPrefix - 1);
  (void)!write(STDERR_FILENO, name, std::strlen(name));
  (void)!write(STDERR_FILENO, "\n", 1);
  ::kill(::getpid(), SIGKILL);
}

bool FailPoint(const char* name) {
  static const Armed* const armed = Parse("C360_FAIL_POINT");
  if (armed == nullptr || armed->name != name) return false;
  static std::atomic<long> passes{0};
  return passes.fetch_add(1) + 1 >= armed->at;
}

}  // namespace c360
