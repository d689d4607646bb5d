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
  // One line, written whole: several processing threads can pass a point at once.
  const std::string line =
      std::string(armed->stop ? "c360: stop point " : "c360: crash point ") + name + "\n";
  if (armed->stop) {  // only the one pass `at` stops
    (void)!write(STDERR_FILENO, line.data(), line.size());
    ::kill(::getpid(), SIGSTOP);  // every thread stops here until SIGCONT
    return;
  }
  static std::atomic<bool> crashing{false};
  if (crashing.exchange(true)) {
    for (;;) ::pause();  // another thread is killing the process
  }
  (void)!write(STDERR_FILENO, line.data(), line.size());
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
