#include "common/crash_point.h"

#ifdef C360_CRASH_POINTS

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
  long at = 1;        // the pass that crashes
  bool stop = false;  // `NAME:N:stop`: SIGSTOP instead of SIGKILL (a frozen process)
};

const Armed* Parse(const char* variable) {
  const char* text = std::getenv(variable);
  if (text == nullptr || *text == '\0') return nullptr;
  auto* armed = new Armed{text, 1};
  if (const char* colon = std::strchr(text, ':')) {
    armed->name.assign(text, colon);
    char* end = nullptr;
    armed->at = std::max(1L, std::strtol(colon + 1, &end, 10));
    armed->stop = end != nullptr && std::strcmp(end, ":stop") == 0;
  }
  return armed;
}

}  // namespace

void CrashPoint(const char* name) {
  static const Armed* const armed = Parse("C360_CRASH_POINT");
  if (armed == nullptr || armed->name != name) return;
  static std::atomic<long> passes{0};
  const long pass = passes.fetch_add(1) + 1;
  if (pass < armed->at || (armed->stop && pass != armed->at)) return;
  if (armed->stop) {
    static const char kStop[] = "c360: stop point ";
    (void)!write(STDERR_FILENO, kStop, sizeof kStop - 1);
    (void)!write(STDERR_FILENO, name, std::strlen(name));
    (void)!write(STDERR_FILENO, "\n", 1);
    ::kill(::getpid(), SIGSTOP);  // every thread stops here until SIGCONT
    return;
  }
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

#endif  // C360_CRASH_POINTS
