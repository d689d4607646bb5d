#include "common/shutdown.h"

#include <csignal>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace c360::shutdown {
namespace {

std::mutex mu;
std::condition_variable cv;
bool requested = false;

}  // namespace

void Install() {
  static std::once_flag once;
  std::call_once(once, [] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set] {
      int sig = 0;
      while (sigwait(&set, &sig) == 0) Request();
    }).detach();
  });
}

bool Requested() {
  std::lock_guard lock(mu);
  return requested;
}

bool WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu);
  cv.wait_for(lock, timeout, [] { return requested; });
  return requested;
}

void Request() {
  {
    std::lock_guard lock(mu);
    requested = true;
  }
  cv.notify_all();
}

}  // namespace c360::shutdown
