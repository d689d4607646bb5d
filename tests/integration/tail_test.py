"""`c360 tail` against the embedded broker: schema-aware JSON lines, the raw fallback with
headers for dead letters, and "new messages only" without --from-beginning."""

import base64
import json
import subprocess
import sys
import time
import unittest

from confluent_kafka import Producer

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
from c360.v1 import alert_pb2  # noqa: E402


class TailTest(unittest.TestCase):
    def test_profiles_as_json_lines(self):
        with t.broker() as (bootstrap, _):
            gen = t.run_c360("gen", "--brokers", bootstrap, "--customers", 20, "--days", 5,
                             "--start", "2026-08-01", "--events", 500)
            self.assertEqual(gen.returncode, 0, gen.stderr)
            tail = t.run_c360("tail", "--brokers", bootstrap, "--topic", "c360.customers",
                              "--from-beginning", "--count", 20, timeout=60)
            self.assertEqual(tail.returncode, 0, tail.stderr)
            lines = [json.loads(line) for line in tail.stdout.splitlines()]
            self.assertEqual(len(lines), 20)
            self.assertEqual({p["customer_id"] for p in lines},
                             {f"cust-{i:05d}" for i in range(1, 21)})
            for p in lines:
                self.assertIn(p["segment"], ["SMB", "MID_MARKET", "ENTERPRISE", "GOVERNMENT"])
                self.assertIn("annual_revenue_cents", p)

    def test_dead_letter_keeps_key_headers_and_bytes(self):
        with t.broker() as (bootstrap, _):
            producer = Producer({"bootstrap.servers": bootstrap})
            raw = b"\x00\xffnot protobuf"
            producer.produce("c360.deadletter", key="cust-7", value=raw,
                             headers=[("c360-reason", b"malformed"),
                                      ("c360-source-topic", b"c360.usage")])
            self.assertEqual(producer.flush(10), 0)
            tail = t.run_c360("tail", "--brokers", bootstrap, "--topic", "c360.deadletter",
                              "--from-beginning", "--count", 1, timeout=60)
            self.assertEqual(tail.returncode, 0, tail.stderr)
            line = json.loads(tail.stdout)
            self.assertEqual(line["key"], "cust-7")
            self.assertEqual(line["headers"]["c360-reason"], "malformed")
            self.assertEqual(line["headers"]["c360-source-topic"], "c360.usage")
            self.assertEqual(base64.b64decode(line["value_base64"]), raw)

    def test_without_from_beginning_only_new_alerts(self):
        with t.broker() as (bootstrap, _):
            producer = Producer({"bootstrap.servers": bootstrap})

            def alert(alert_id):
                a = alert_pb2.AlertEvent(alert_id=alert_id, customer_id="cust-1",
                                         rule=alert_pb2.AlertEvent.HEALTH_LOW,
                                         state=alert_pb2.AlertEvent.FIRING)
                producer.produce("c360.alerts", key="cust-1", value=a.SerializeToString(),
                                 headers=[("content-type", b"application/x-protobuf")])
                producer.flush(10)

            alert("old")
            proc = subprocess.Popen([t.C360, "tail", "--brokers", bootstrap, "--count", "1"],
                                    stdout=subprocess.PIPE, text=True)
            try:
                # tail starts at the end: keep sending new alerts until it prints one.
                def printed():
                    alert("new")
                    return proc.poll() is not None
                t.wait_for(printed, 30, "tail to print a new alert")
                line = json.loads(proc.stdout.read())
            finally:
                if proc.poll() is None:
                    proc.kill()
            self.assertEqual(line["alert_id"], "new")
            self.assertEqual(line["rule"], "HEALTH_LOW")
            self.assertEqual(line["state"], "FIRING")
            self.assertEqual(line["vip"], False, "JSON prints every field, zeros included")


if __name__ == "__main__":
    unittest.main(verbosity=2)
