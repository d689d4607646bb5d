#include "common/crash_point.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace c360 {

void CrashPoint(const char* name) {
  static const char* const armed = std::getenv("C360_CRASH_POINT");
  if (armed == nullptr || std::strcmp(armed, name) != 0) return;
  static const char kPrefix[] = "c360: crash point ";
  (void)!write(STDERR_FILENO, kPrefix, sizeof kPrefix - 1);
  (void)!write(STDERR_FILENO, name, std::strlen(name));
  (void)!write(STDERR_FILENO, "\n", 1);
  ::kill(::getpid(), SIGKILL);
}

}  // namespace c360
