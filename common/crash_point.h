#pragma once
// Named crash points for the crash tests (tests/integration/crash_points_test.py,
// tests/reliability/): when the environment variable C360_CRASH_POINT names a point, the
// process kills itself with SIGKILL the first time it passes there, exactly as `kill -9`
// would; `NAME:N` kills it at the N-th pass, and `NAME:N:stop` freezes it there with
// SIGSTOP instead, once (a process paused at the worst moment, as a zombie is). Unset, a
// crash point costs one pointer comparison. Thread-safe. Compiled in only with the tests
// (C360_CRASH_POINTS, set by CMake when C360_BUILD_TESTS is on): in the container image
// both functions are empty inline functions and the variables do nothing.

namespace c360 {

// Points: "timer-fired" (a timer fired, its alert not yet committed), "before-commit" (a
// batch built, not yet written), "after-commit" (a batch committed, its outbox not yet
// handed to the producer), "publishing" (between two outbox entries handed to the
// producer), "after-delivery" (an output delivered, its outbox entry not yet deleted),
// "day-change" (a task's stream time crossed midnight, the day-change re-score pending),
// "restore" (a task's stored state half read at assignment), "transaction" (exactly_once: a
// batch's outputs and offsets in its open transaction, not yet committed).
#ifdef C360_CRASH_POINTS
void CrashPoint(const char* name);
#else
inline void CrashPoint(const char*) {}
#endif

// Failure injection for the reliability tests, the same way: when C360_FAIL_POINT is
// `NAME:N`, FailPoint(NAME) returns true from its N-th pass on (N defaults to 1), and the
// caller fails as the real operation would. Points: "commit" (the RocksDB write of a batch
// fails, as on a full or broken disk), "read" (reading a customer from RocksDB on the
// processing thread fails, as an I/O error would make it).
#ifdef C360_CRASH_POINTS
bool FailPoint(const char* name);
#else
inline bool FailPoint(const char*) { return false; }
#endif

}  // namespace c360
