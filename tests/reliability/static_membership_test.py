"""Static membership on real Kafka (docs/contract.md section 6.4; docs/reliability.md):
with `kafka.group.instance.id`, an engine restarted within the session timeout gets its
tasks back without a rebalance, so the other engine of the group keeps processing its own
tasks untouched; without it, the restart revokes and reassigns the other engine's tasks
twice (leave, then join). Two engines, 4 tasks; engine A is stopped (SIGTERM) and started
again on the same state directory; the figures are printed. Real Kafka only
(C360_TEST_BROKER=kafka): the group protocol of the embedded broker is librdkafka's mock."""

import os
import re
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402

PARTITIONS = 4


def log_text(engine):
    with open(engine.state_dir + ".log", "rb") as f:
        return f.read()[engine.log_start:].decode(errors="replace")


def rebalance_lines(engine):
    return [line for line in log_text(engine).splitlines()
            if "event=assigned" in line or "event=revoked" in line]


def wait_ready(engine, timeout=60):
    t.wait_for(lambda: "ready=true" in log_text(engine), timeout, "the engine to be ready")


class StaticMembershipTest(unittest.TestCase):
    def restart_one_of_two(self, bootstrap, tmp, static):
        """(seconds from A's restart to ready, B's rebalance lines during it, A's tasks
        before, A's tasks after)."""
        group = "g-" + uuid.uuid4().hex
        engines = []
        for name in ("a", "b"):
            config = f"{tmp}/{name}-{static}.yaml"
            with open(config, "w") as f:
                f.write("engine:\n  processing_guarantee: exactly_once\n")
                if static:
                    f.write(f"kafka:\n  group.instance.id: {name}\n")
            engines.append(t.Engine(bootstrap, f"{tmp}/{name}-{static}", group,
                                    config=config).start())
        a, b = engines
        try:
            for e in engines:
                wait_ready(e)
            # Both hold tasks: the group has settled.
            t.wait_for(lambda: all(re.search(r"event=assigned tasks=\d", log_text(e))
                                   for e in engines), 60, "both engines to hold tasks")
            tasks_before = re.findall(r"event=assigned tasks=([\d,]*)", log_text(a))[-1]
            b_before = len(rebalance_lines(b))
            self.assertEqual(a.stop(), 0)
            started = time.monotonic()
            a.start()
            wait_ready(a)
            ready_after = time.monotonic() - started
            tasks_after = re.findall(r"event=assigned tasks=([\d,]*)", log_text(a))[-1]
            # Long enough for a rebalance of B to show, had there been one.
            time.sleep(3)  # nothing to poll for: the assertion is that nothing happens
            b_lines = rebalance_lines(b)[b_before:]
            return ready_after, b_lines, tasks_before, tasks_after
        finally:
            for e in engines:
                e.stop()

    def test_a_restart_keeps_its_tasks_without_a_rebalance(self):
        if os.environ.get("C360_TEST_BROKER") != "kafka":
            self.skipTest("real Kafka only (C360_TEST_BROKER=kafka)")
        with t.broker(partitions=PARTITIONS) as (bootstrap, _), tempfile.TemporaryDirectory() as tmp:
            r = t.run_c360("gen", "--brokers", bootstrap, "--customers", "50", "--days", "10",
                           "--seed", "4", "--start", "2026-06-01")
            self.assertEqual(r.returncode, 0, r.stderr)
            dynamic = self.restart_one_of_two(bootstrap, tmp, static=False)
            static = self.restart_one_of_two(bootstrap, tmp, static=True)
            print(f"restart of one of two engines: dynamic membership ready after "
                  f"{dynamic[0]:.2f} s, the other engine rebalanced {len(dynamic[1])} times; "
                  f"static membership ready after {static[0]:.2f} s, the other engine "
                  f"rebalanced {len(static[1])} times", flush=True)
            self.assertGreater(len(dynamic[1]), 0, "without static membership B is rebalanced")
            self.assertEqual(static[1], [], "with static membership B is not rebalanced")
            self.assertEqual(static[2], static[3], "A gets its own tasks back")


if __name__ == "__main__":
    unittest.main(verbosity=2)
