"""Group membership (SPEC sections 2 and 6; docs/reliability.md): the engine is frozen with
SIGSTOP for longer than its session timeout while events keep arriving, so the group
coordinator expels it; after SIGCONT it finds its assignment lost, drops its tasks, rejoins,
re-seeks to the offsets stored in RocksDB and finishes. Nothing may be lost or counted
twice: the final state equals the independent oracle (tests/lib/oracle.py)."""

import signal
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
import oracle  # noqa: E402

CUSTOMERS = 300
SESSION_MS = 6000


class GroupMembershipTest(unittest.TestCase):
    def test_session_timeout_while_frozen_loses_and_doubles_nothing(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=8) as (bootstrap, _):
            config = tmp + "/c360.yaml"
            with open(config, "w") as f:
                f.write(f"kafka:\n  session.timeout.ms: {SESSION_MS}\n  heartbeat.interval.ms: 1000\n"
                        "engine:\n  batch_max_records: 500\n")
            first = t.run_c360("gen", "--brokers", bootstrap, "--customers", str(CUSTOMERS),
                               "--events", "30000", "--days", "15", "--seed", "5", "--start", "2026-06-01")
            self.assertEqual(first.returncode, 0, first.stderr)
            engine = t.Engine(bootstrap, tmp + "/state", "g-" + uuid.uuid4().hex, config=config).start()
            try:
                engine.wait_caught_up(timeout=120)
                engine.proc.send_signal(signal.SIGSTOP)
                # While it is frozen: more events for the same customers (the next 15 days).
                second = t.run_c360("gen", "--brokers", bootstrap, "--customers", str(CUSTOMERS),
                                    "--events", "30000", "--days", "15", "--seed", "6",
                                    "--start", "2026-06-16")
                self.assertEqual(second.returncode, 0, second.stderr)
                time.sleep(SESSION_MS / 1000 + 3)  # past the session timeout: expelled
                engine.proc.send_signal(signal.SIGCONT)
                engine.wait_caught_up(timeout=120)
            finally:
                if engine.proc.poll() is None:
                    engine.proc.send_signal(signal.SIGCONT)
            self.assertEqual(engine.stop(), 0)
            with open(tmp + "/state.log") as f:
                log = f.read()
            # It was expelled and came back: assigned, revoked (lost), assigned again.
            self.assertGreaterEqual(log.count("event=assigned"), 2, log[-3000:])
            self.assertIn("event=assignment_lost", log)  # its uncommitted work was dropped
            self.assertEqual(log.count("event=engine_started"), 1)
            expected, invisible = oracle.expected_state(bootstrap)
            actual = oracle.actual_state(t.dump_state(tmp + "/state"), invisible)
            wrong = [c for c in expected if actual.get(c) != expected[c]]
            self.assertEqual(wrong, [], wrong[:1] and (expected[wrong[0]], actual.get(wrong[0])))
            self.assertEqual(len(actual), len(expected))


if __name__ == "__main__":
    unittest.main(verbosity=2)
