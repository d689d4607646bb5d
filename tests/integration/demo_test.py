"""`c360 demo`: replays history into its own broker, runs the engine, prints alerts as
they fire, serves the engine's HTTP endpoints, and stops cleanly on Ctrl-C (SIGINT) with a
per-topic summary."""

import signal
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402


class DemoTest(unittest.TestCase):
    def test_history_then_live_then_ctrl_c(self):
        port = t.free_port()
        proc = subprocess.Popen([t.C360, "demo", "--customers", "30", "--days", "10",
                                 "--http", f"127.0.0.1:{port}"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
        reader.start()
        try:
            t.wait_for(lambda: any("history is in the broker" in line for line in lines), 60,
                       "the demo to produce its history")
            t.wait_for(lambda: any(" FIRING " in line for line in lines), 60,
                       "the demo to print an alert")
            # It serves the engine's endpoints on --http while it runs.
            t.wait_for(lambda: t.http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200, 60,
                       "the demo's engine to be ready")
            metrics = t.metric_samples(t.http_get(f"http://127.0.0.1:{port}/metrics")[1])
            self.assertEqual(metrics['c360_events_consumed_total{topic="c360.customers"}'], 30)
            self.assertGreater(sum(v for k, v in metrics.items()
                                   if k.startswith("c360_alerts_emitted_total{")), 0)
            # ... and the Customer 360 page and API over its 30 customers, all scored.
            self.assertEqual(t.http_get(f"http://127.0.0.1:{port}/")[0], 200)
            summary = t.wait_for(lambda: (lambda s: s if s["scored"] == 30 else None)(
                t.http_json(f"http://127.0.0.1:{port}/api/v1/summary")[1]), 30, "30 scored customers")
            self.assertEqual(sum(summary["by_status"].values()), 30)
            first = t.http_json(f"http://127.0.0.1:{port}/api/v1/customers?sort=id&limit=1")[1]
            self.assertEqual(first["total"], 30)
            code, view = t.http_json(f"http://127.0.0.1:{port}/api/v1/customers/"
                                     + first["customers"][0]["customer_id"])
            self.assertEqual((code, view["customer_id"]), (200, first["customers"][0]["customer_id"]))
            self.assertIn(view["status"], ["HEALTHY", "WATCH", "AT_RISK", "CRITICAL"])
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(timeout=30), 0, proc.stderr.read())
        finally:
            if proc.poll() is None:
                proc.kill()
            reader.join()
        output = "".join(lines)
        self.assertIn("embedded broker at 127.0.0.1:", output)
        summary, total = t.parse_gen_summary(output)
        self.assertEqual(summary["c360.customers"], 30)
        self.assertGreater(summary["c360.usage"], 0)
        self.assertEqual(total["failed"], "0")
        self.assertIn("demo: stopped", output)
        alert = next(line for line in lines if " FIRING " in line)
        # time, customer, rule, state, severity, message
        fields = alert.split()
        self.assertRegex(fields[0], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
        self.assertTrue(fields[1].startswith("cust-"))
        self.assertIn(fields[4], ["INFO", "WARNING", "CRITICAL"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
