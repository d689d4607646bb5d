"""`c360 tail` against the embedded broker: schema-aware JSON lines, the raw fallback with
headers for dead letters, "new messages only" without --from-beginning, and gen and tail
configured by the engine's config file and the environment."""

import base64
import json
import os
import subprocess
import sys
import tempfile
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

    def test_config_file_and_environment(self):
        # gen and tail take the engine's config for their Kafka properties and topic names,
        # and every flag from C360_<FLAG>. Here the config sends usage events to the
        # dead-letter topic (which gen never writes otherwise), and carries a SASL password
        # from the environment that no output may show.
        secret = "s3cret-never-printed"
        with tempfile.TemporaryDirectory() as tmp, t.broker() as (bootstrap, _):
            config = os.path.join(tmp, "c360.yaml")
            with open(config, "w") as f:
                f.write("topics:\n  usage: c360.deadletter\n"
                        "kafka:\n  client.id: c360-config-test\n"
                        "  sasl.password: ${env:C360_TEST_SASL_PASSWORD}\n")
            env = {"C360_BROKERS": bootstrap, "C360_CONFIG": config,
                   "C360_TEST_SASL_PASSWORD": secret}
            gen = t.run_c360("gen", "--customers", 5, "--days", 3, "--start", "2026-08-01",
                             "--events", 300, env=env)
            self.assertEqual(gen.returncode, 0, gen.stderr)
            per_topic, _ = t.parse_gen_summary(gen.stdout)
            self.assertGreater(per_topic["c360.deadletter"], 0)
            self.assertNotIn("c360.usage", per_topic)

            tail = t.run_c360("tail", "--config", config, "--topic", "c360.deadletter",
                              "--from-beginning", "--count", 5, timeout=60,
                              env={"C360_BROKERS": bootstrap, "C360_TEST_SASL_PASSWORD": secret})
            self.assertEqual(tail.returncode, 0, tail.stderr)
            # The config names that topic the usage topic: tail reads it with the usage schema.
            lines = [json.loads(line) for line in tail.stdout.splitlines()]
            self.assertEqual(len(lines), 5)
            for line in lines:
                self.assertTrue(line["customer_id"].startswith("cust-"), line)
                self.assertIn("module", line)
            for out in (gen.stdout, gen.stderr, tail.stdout, tail.stderr):
                self.assertNotIn(secret, out)

            # A bad variable is named like its flag; a flag given beats its variable.
            bad = t.run_c360("gen", env={"C360_BROKERS": bootstrap, "C360_FORMAT": "xml"})
            self.assertEqual(bad.returncode, 2)
            self.assertEqual(bad.stderr.strip(),
                             "c360 gen: --format: xml not in {protobuf,json} (see c360 gen --help)")
            flag = t.run_c360("gen", "--format", "json", "--events", 10,
                              env={"C360_BROKERS": bootstrap, "C360_FORMAT": "xml"})
            self.assertEqual(flag.returncode, 0, flag.stderr)
            bad = t.run_c360("tail", "--config", config, env={"C360_BROKERS": bootstrap})
            self.assertEqual(bad.returncode, 2)
            self.assertIn("c360 tail: config key kafka.sasl.password: environment variable "
                          "C360_TEST_SASL_PASSWORD is not set", bad.stderr)

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
