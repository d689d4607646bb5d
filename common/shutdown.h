#pragma once
// Process-wide stop request from SIGINT / SIGTERM, delivered without async-signal hazards:
// Install() blocks both signals in every thread and one watcher thread sigwait()s for them.
// Call Install() first in main, before any other thread starts. Thread-safe after that.

#include <chrono>

namespace c360::shutdown {

void Install();
bool Requested();
// Sleeps until a stop is requested or `timeout` passes; returns Requested().
bool WaitFor(std::chrono::milliseconds timeout);
// Requests a stop from inside the process (tests, a finished run).
void Request();

}  // namespace c360::shutdown
