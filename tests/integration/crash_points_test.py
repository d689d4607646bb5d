"""Crash safety of timers and the outbox (SPEC sections 6.2 and 6.3): the engine kills
itself with SIGKILL at a named crash point (common/crash_point.h), restarts on the same
state directory, and every alert is still published, with its deterministic alert_id;
a crash before the alert was delivered leaves exactly one copy, a crash after delivery
but before the outbox entry was deleted may leave a duplicate with the same id."""

import collections
import signal
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import c360test as t  # noqa: E402
from engine_e2e_test import Scenario, alert_id, alerts_of, at  # noqa: E402
from c360.v1 import ticket_pb2  # noqa: E402

# A P1 ticket created day 0 09:00 and never answered: response due 10:00, resolution 17:00.
# The clock customer's records at 12:00 on days 0 and 1 move stream time past each.
EXPECTED = {alert_id("cust-c", "SLA_BREACH", "T-1/response"),
            alert_id("cust-c", "SLA_BREACH", "T-1/resolution")}


def crash_and_restart(point):
    """Runs the engine with the crash point armed, then again without; returns the ids of
    every alert on the topic, in order."""
    with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=1) as (bootstrap, _):
        s = Scenario(bootstrap)
        s.ticket("cust-c", "T-1", ticket_pb2.TicketEvent.CREATED, at(0, 9),
                 priority=ticket_pb2.TicketEvent.P1)
        for day in range(2):
            s.usage("cust-z", at(day, 12))
        s.flush()
        config = tmp + "/c360.yaml"
        with open(config, "w") as f:
            f.write("kafka:\n  session.timeout.ms: 6000\n  heartbeat.interval.ms: 1000\n")
        state, group = tmp + "/state", "g-" + uuid.uuid4().hex
        crashing = t.Engine(bootstrap, state, group, config=config,
                            env={"C360_CRASH_POINT": point}).start()
        crashing.proc.wait(timeout=60)
        crashing.stop()
        assert crashing.proc.returncode == -signal.SIGKILL, crashing.proc.returncode
        assert f"crash point {point}" in open(state + ".log").read()
        engine = t.Engine(bootstrap, state, group, config=config).start()
        try:
            engine.wait_caught_up()
        finally:
            engine.stop()
        return [a.alert_id for a in alerts_of(bootstrap)]


class CrashPointsTest(unittest.TestCase):
    def test_crash_after_a_timer_fired_before_its_commit(self):
        ids = crash_and_restart("timer-fired")
        self.assertEqual(sorted(ids), sorted(EXPECTED))  # each exactly once

    def test_crash_after_commit_before_publishing(self):
        ids = crash_and_restart("after-commit")
        self.assertEqual(sorted(ids), sorted(EXPECTED))  # published from the stored outbox

    def test_crash_after_delivery_before_the_outbox_delete(self):
        ids = crash_and_restart("after-delivery")
        self.assertEqual(set(ids), EXPECTED)
        counts = collections.Counter(ids)
        self.assertLessEqual(max(counts.values()), 2)  # a duplicate keeps its alert_id


if __name__ == "__main__":
    unittest.main(verbosity=2)
