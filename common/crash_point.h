#pragma once
// Named crash points for the crash tests (tests/integration/crash_points_test.py): when the
// environment variable C360_CRASH_POINT names a point, the process kills itself with
// SIGKILL the first time it passes there, exactly as `kill -9` would. Unset (always, in
// production) a crash point costs one pointer comparison. Thread-safe.

namespace c360 {

// Points: "timer-fired" (a timer fired, its alert not yet committed), "after-commit"
// (a batch committed, its outbox not yet handed to the producer), "after-delivery" (an
// output delivered, its outbox entry not yet deleted).
void CrashPoint(const char* name);

}  // namespace c360
