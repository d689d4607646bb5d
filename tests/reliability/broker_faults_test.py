"""Broker faults (docs/reliability.md), injected into the embedded broker — librdkafka's mock
cluster — through `c360 broker --faults` (rd_kafka_mock_broker_set_rtt, _push_request_
errors, _broker_set_down/_up), while the engine consumes four waves of events:

1. responses delayed by 400 ms;
2. Fetch and Produce requests failing with REQUEST_TIMED_OUT (the engine's consumer and
   its idempotent producer retry);
3. the broker down: /readyz says 503 "no broker reachable" while /healthz stays 200, and
   c360_kafka_errors_total counts it; then up again.

The engine keeps running (one process, one start), is ready again after each fault, and its
final state equals the independent oracle (tests/lib/oracle.py): nothing lost, nothing
counted twice.

On real Kafka (C360_TEST_BROKER=kafka) the mock's fault commands do not exist; what a real
broker can be made to do from outside is hang: frozen with SIGSTOP, its connections stay
open and its answers stop, then SIGCONT. Four waves again, the broker frozen as soon as
the second and the third are produced:

1. for 3 s, inside the engine's session timeout (6 s): the requests wait and complete;
2. for 10 s, past it: librdkafka's own session timer gives the assignment up
   (`event=assignment_lost`), the engine drops its tasks, rejoins after the thaw and
   resumes them from the offsets stored in RocksDB.

Same end: one start, exit 0, ready after each freeze, the oracle's state exactly."""

import json
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
import oracle  # noqa: E402

REQUEST_TIMED_OUT = 7
PRODUCE, FETCH = 0, 1


class BrokerFaultsTest(unittest.TestCase):
    def fault(self, command):
        self.broker.stdin.write(command + "\n")
        self.broker.stdin.flush()
        self.assertEqual(self.broker.stdout.readline().strip(), "ok " + command)

    def gen(self, seed, start):
        r = t.run_c360("gen", "--brokers", self.bootstrap, "--customers", "200", "--events", "15000",
                       "--days", "7", "--seed", str(seed), "--start", start, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr)

    @unittest.skipIf(t.on_real_kafka(), "the mock broker's fault commands; on real Kafka: "
                     "test_engine_rides_out_a_frozen_broker")
    def test_engine_rides_out_broker_faults(self):
        self.broker = subprocess.Popen([t.C360, "broker", "--port", "0", "--partitions", "4", "--faults"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
        try:
            self.bootstrap = self.broker.stdout.readline().strip()
            with tempfile.TemporaryDirectory() as tmp:
                self.run_waves(tmp)
        finally:
            self.broker.send_signal(signal.SIGTERM)
            self.broker.wait(timeout=30)
            self.broker.stdin.close()
            self.broker.stdout.close()

    @unittest.skipUnless(t.on_real_kafka(), "real Kafka only (C360_TEST_BROKER=kafka)")
    def test_engine_rides_out_a_frozen_broker(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=4) as (bootstrap, broker):
            if broker is None:
                self.skipTest("C360_TEST_KAFKA without C360_TEST_KAFKA_PID: no pid to freeze")
            self.bootstrap = bootstrap
            try:
                self.run_frozen_waves(tmp, broker)
            finally:
                broker.send_signal(signal.SIGCONT)

    def freeze(self, broker, engine, seconds):
        """SIGSTOP for `seconds`, then SIGCONT; returns the engine's /readyz answers
        meanwhile (the engine is not frozen): {status and the reason's first words}."""
        broker.send_signal(signal.SIGSTOP)
        answers = set()
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                status, body = engine.get("/readyz")
                answers.add(f"{status} {json.loads(body)['reason'].split(':')[0]}")
                time.sleep(0.2)
        finally:
            broker.send_signal(signal.SIGCONT)
        return answers

    def run_frozen_waves(self, tmp, broker):
        config = tmp + "/c360.yaml"
        with open(config, "w") as f:
            f.write("kafka:\n  session.timeout.ms: 6000\n  heartbeat.interval.ms: 1000\n"
                    "  reconnect.backoff.max.ms: 1000\n")
        self.gen(31, "2026-06-01")
        engine = t.Engine(self.bootstrap, tmp + "/state", "g-" + uuid.uuid4().hex,
                          config=config).start()
        ready = lambda: engine.get("/readyz")[0] == 200  # noqa: E731
        try:
            engine.wait_caught_up(timeout=120)
            for seed, start, seconds in ((32, "2026-06-08", 3), (33, "2026-06-15", 10)):
                self.gen(seed, start)
                during = self.freeze(broker, engine, seconds)
                t.wait_for(ready, 60, f"ready after the broker was frozen for {seconds} s")
                engine.wait_caught_up(timeout=180)
                print(f"frozen {seconds} s: /readyz answered {sorted(during)} meanwhile",
                      file=sys.stderr)
            self.gen(34, "2026-06-22")
            engine.wait_caught_up(timeout=180)
        finally:
            code = engine.stop()
        self.assertEqual(code, 0)
        with open(tmp + "/state.log") as f:
            log = f.read()
        print(f"assignments {log.count('event=assigned')}, lost "
              f"{log.count('event=assignment_lost')}", file=sys.stderr)
        # The 10 s freeze outlasted the session: the assignment was lost and came back.
        self.assertIn("event=assignment_lost", log)
        self.assertGreaterEqual(log.count("event=assigned"), 2)
        self.assertEqual(log.count("event=engine_started"), 1)
        self.assertNotIn("engine_failed", log)
        self.assert_oracle(tmp)

    def assert_oracle(self, tmp):
        expected, invisible = oracle.expected_state(self.bootstrap)
        actual = oracle.actual_state(t.dump_state(tmp + "/state"), invisible)
        wrong = [c for c in expected if actual.get(c) != expected[c]]
        self.assertEqual(wrong, [], wrong[:1] and json.dumps((expected[wrong[0]],
                                                              actual.get(wrong[0]))))
        self.assertEqual(len(actual), len(expected))

    def run_waves(self, tmp):
        config = tmp + "/c360.yaml"
        with open(config, "w") as f:
            f.write("kafka:\n  session.timeout.ms: 6000\n  heartbeat.interval.ms: 1000\n"
                    "  reconnect.backoff.max.ms: 1000\n")
        self.gen(31, "2026-06-01")
        engine = t.Engine(self.bootstrap, tmp + "/state", "g-" + uuid.uuid4().hex, config=config).start()
        ready = lambda: engine.get("/readyz")[0] == 200  # noqa: E731
        try:
            engine.wait_caught_up(timeout=120)

            # 1. Slow broker.
            self.fault("rtt 1 400")
            self.gen(32, "2026-06-08")
            engine.wait_caught_up(timeout=180)
            self.fault("rtt 1 0")

            # 2. Requests failing: the next Fetch and Produce requests time out.
            self.gen(33, "2026-06-15")
            self.fault(f"errors {FETCH} 10 {REQUEST_TIMED_OUT}")
            self.fault(f"errors {PRODUCE} 10 {REQUEST_TIMED_OUT}")
            engine.wait_caught_up(timeout=180)
            t.wait_for(ready, 60, "ready after failing requests")

            # 3. Broker down, then up.
            self.fault("down 1")
            t.wait_for(lambda: (lambda r: r[0] == 503 and "no broker reachable" in r[1])(engine.get("/readyz")),
                       30, "/readyz to say no broker is reachable")
            self.assertEqual(engine.get("/healthz")[0], 200)
            self.fault("up 1")
            t.wait_for(ready, 60, "ready after the broker came back")
            self.gen(34, "2026-06-22")
            engine.wait_caught_up(timeout=180)

            metrics = t.metric_samples(engine.get("/metrics")[1])
            self.assertGreater(metrics["c360_kafka_errors_total"], 0)
        finally:
            code = engine.stop()
        self.assertEqual(code, 0)
        with open(tmp + "/state.log") as f:
            log = f.read()
        self.assertEqual(log.count("event=engine_started"), 1)
        self.assertNotIn("engine_failed", log)
        self.assert_oracle(tmp)


if __name__ == "__main__":
    unittest.main(verbosity=2)
