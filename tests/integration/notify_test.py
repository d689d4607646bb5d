"""`c360 notify` end to end (SPEC section 11, docs/notify.md), against a receiver written
for the test on 127.0.0.1 and the embedded broker:

- every alert reaches every matching route at least once while the receiver fails (500),
  times out, and answers 429 with Retry-After; the receiver checks every signature;
- a route that never succeeds dead-letters each of its alerts after its attempts, with the
  route and the last error in headers, and the other routes do not wait for it;
- kill -9 in the middle of a stream: after a restart no delivery key is missing;
- a config error is one line and exit 2, and no secret reaches the log."""

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
from c360.v1 import alert_pb2, customer_pb2  # noqa: E402

A = alert_pb2.AlertEvent
SECRET = "test-signing-secret-0123"


class Receiver:
    """Webhook and Slack receiver. Per delivery key (by the last hex digit of the alert id),
    the first attempt fails one way: 0-4 with 500, 5 with 429 + Retry-After: 1, a by not
    answering in time (the route's timeout is 0.5 s); the rest succeed at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = {}      # delivery key -> requests
        self.delivered = set()  # delivery keys answered 2xx
        self.slack = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/slack":
                    with receiver.lock:
                        receiver.slack.append(json.loads(body)["text"])
                    return self.reply(200)
                want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                key = self.headers["X-C360-Delivery"]
                with receiver.lock:
                    if self.headers["X-C360-Signature"] != want or \
                            self.headers["X-C360-Alert-Id"] != json.loads(body)["alert_id"]:
                        receiver.bad_signatures += 1
                        return self.reply(400)
                    n = receiver.attempts[key] = receiver.attempts.get(key, 0) + 1
                last = key.split(":")[0][-1]
                if n == 1 and last in "01234":
                    return self.reply(500)
                if n == 1 and last == "5":
                    return self.reply(429, [("Retry-After", "1")])
                if n == 1 and last == "a":
                    time.sleep(0.8)
                    return self.reply(200)  # too late: the sender has given up on it
                with receiver.lock:
                    receiver.delivered.add(key)
                self.reply(200)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def alerts(start, n):
    out = []
    rules = [A.HEALTH_LOW, A.CHURN_RISK_HIGH, A.SLA_BREACH, A.CREDIT_HOLD]
    for i in range(start, start + n):
        a = A(alert_id=hashlib.sha256(str(i).encode()).hexdigest()[:16],
              customer_id=f"cust-{i % 50:03d}", customer_name=f"Customer {i % 50}",
              rule=rules[i % 4], state=A.FIRING if i % 5 else A.RESOLVED,
              severity=A.CRITICAL if i % 3 == 0 else A.WARNING,
              message=f"alert {i}", vip=i % 7 == 0,
              segment=customer_pb2.CustomerProfile.ENTERPRISE,
              annual_revenue_cents=1000 * i, url=f"https://c360.example.com/app/#cust-{i % 50:03d}")
        a.emitted_at.FromMilliseconds(int(time.time() * 1000))
        out.append(a)
    return out


def key(a):
    return f"{a.alert_id}:{A.State.Name(a.state)}:{A.Severity.Name(a.severity)}"


def produce(bootstrap, batch):
    p = t.producer(bootstrap)
    for a in batch:
        t.produce(p, "c360.alerts", a.customer_id, a)
    p.flush(30)


class Notify:
    def __init__(self, bootstrap, config, log):
        self.args = [t.C360, "notify", "--brokers", bootstrap, "--config", config,
                     "--http", "127.0.0.1:0"]
        self.log = log
        self.env = dict(os.environ, C360_HOOK_SECRET=SECRET)

    def start(self):
        self.out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.out, stderr=self.out, env=self.env)
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
        self.out.close()
        return self.proc.returncode

    def metrics(self):
        with open(self.log, errors="replace") as f:
            ports = [line.split("address=")[1].split()[0].rsplit(":", 1)[1]
                     for line in f if "event=http_listening" in line]
        return t.metric_samples(t.http_get(f"http://127.0.0.1:{ports[-1]}/metrics")[1])


class NotifyTest(unittest.TestCase):
    def test_at_least_once_signed_routed_and_dead_lettered(self):
        receiver = Receiver()
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=4) as (bootstrap, _):
            config = os.path.join(tmp, "notify.yaml")
            with open(config, "w") as f:
                f.write(f"""
group: test-notify
kafka: {{session.timeout.ms: 3000, heartbeat.interval.ms: 500}}
routes:
  - name: hook
    sink: webhook
    url: http://127.0.0.1:{receiver.port}/hook
    secret: ${{env:C360_HOOK_SECRET}}
    timeout_ms: 500
    initial_backoff_ms: 50
    max_backoff_ms: 200
  - name: vip-slack
    sink: slack
    url: ${{env:C360_SLACK_URL}}
    match: {{vip: true}}
  - name: never
    sink: webhook
    url: http://127.0.0.1:{t.free_port()}/closed
    secret: ${{env:C360_HOOK_SECRET}}
    match: {{rules: [CREDIT_HOLD], states: [FIRING]}}
    max_attempts: 2
    initial_backoff_ms: 1000
    max_backoff_ms: 1000
""")
            first = alerts(0, 100)
            produce(bootstrap, first)
            notify = Notify(bootstrap, config, os.path.join(tmp, "notify.log"))
            notify.env["C360_SLACK_URL"] = f"http://127.0.0.1:{receiver.port}/slack"
            notify.start()
            try:
                hook_keys = {key(a) for a in first}
                t.wait_for(lambda: hook_keys <= receiver.delivered, 60,
                           "every alert delivered to the webhook")
                never = [a for a in first if a.rule == A.CREDIT_HOLD and a.state == A.FIRING]
                dead_now = len(read_dead(bootstrap))
                # The never-succeeding route takes 0.5-1 s an alert; the webhook did not wait.
                self.assertLess(dead_now, len(never))
                t.wait_for(lambda: len(read_dead(bootstrap)) >= len(never), 60,
                           "the failing route's alerts dead-lettered")
                dead = read_dead(bootstrap)
                self.assertEqual(sorted(h["c360-notify-delivery"] for h, _ in dead),
                                 sorted(key(a) for a in never))
                for headers, value in dead:
                    self.assertEqual(headers["c360-notify-route"], "never")
                    self.assertEqual(headers["c360-notify-attempts"], "2")
                    self.assertEqual(headers["c360-notify-error"], "Connection")
                    parsed = A()
                    parsed.ParseFromString(value)
                    self.assertEqual(parsed.alert_id, headers["c360-notify-alert-id"])
                vip = [a for a in first if a.vip]
                t.wait_for(lambda: len(receiver.slack) >= len(vip), 30, "the VIP alerts on Slack")
                self.assertTrue(all("Open in c360>" in line for line in receiver.slack))
                m = t.wait_for(lambda: (lambda s: s if s.get('c360_notify_pending') == 0 else None)(
                    notify.metrics()), 30, "nothing pending")
                self.assertEqual(m['c360_notifications_total{outcome="delivered",route="hook"}'],
                                 len(first))
                self.assertEqual(
                    m['c360_notifications_total{outcome="deadlettered",route="never"}'], len(never))
                self.assertEqual(
                    m['c360_notifications_total{outcome="retried",route="hook"}'],
                    sum(1 for a in first if a.alert_id[-1] in "012345a"))
                self.assertEqual(m["c360_notification_latency_seconds_count"],
                                 len(first) + len(vip))
            finally:
                self.assertEqual(notify.stop(), 0)
            # Every failure mode was met, and every signature was right.
            self.assertEqual(receiver.bad_signatures, 0)
            self.assertTrue(any(n > 1 for k, n in receiver.attempts.items()
                                if k.split(":")[0][-1] == "a"), "no timeout was exercised")

            # kill -9 in the middle of a stream; a restart delivers what is missing.
            second = alerts(1000, 100)
            produce(bootstrap, second)
            notify = Notify(bootstrap, config, os.path.join(tmp, "notify2.log"))
            notify.env["C360_SLACK_URL"] = f"http://127.0.0.1:{receiver.port}/slack"
            notify.start()
            second_keys = {key(a) for a in second}
            t.wait_for(lambda: len(second_keys & receiver.delivered) >= 30, 60,
                       "part of the second stream delivered")
            notify.stop(signal.SIGKILL)
            self.assertLess(len(second_keys & receiver.delivered), len(second_keys),
                            "the kill came too late to test anything")
            notify = Notify(bootstrap, config, os.path.join(tmp, "notify3.log"))
            notify.env["C360_SLACK_URL"] = f"http://127.0.0.1:{receiver.port}/slack"
            notify.start()
            try:
                t.wait_for(lambda: second_keys <= receiver.delivered, 90,
                           "every key of the second stream after the restart")
            finally:
                self.assertEqual(notify.stop(), 0)
            self.assertEqual(receiver.bad_signatures, 0)
            for log in ("notify.log", "notify2.log", "notify3.log"):
                with open(os.path.join(tmp, log)) as f:
                    text = f.read()
                self.assertNotIn(SECRET, text)
                self.assertNotIn("/slack", text)
            print(f"{len(first) + len(second)} alerts, "
                  f"{sum(receiver.attempts.values())} webhook requests, "
                  f"{len(dead)} dead-lettered", flush=True)
        receiver.close()

    def test_a_config_error_is_one_line_and_exit_2(self):
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "bad.yaml")
            with open(config, "w") as f:
                f.write("routes:\n  - {name: a, sink: webhook, url: http://h/x, "
                        "secret: literally-in-the-file}\n")
            r = t.run_c360("notify", "--brokers", "127.0.0.1:1", "--config", config)
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stderr.strip().count("\n"), 0, r.stderr)
            self.assertIn("config key routes[0].secret:", r.stderr)
            self.assertNotIn("literally-in-the-file", r.stderr)


def read_dead(bootstrap):
    out = []
    for m in t.read_all(bootstrap, "c360.notify.deadletter", timeout=30):
        out.append(({k: v.decode() for k, v in (m.headers() or [])}, m.value()))
    return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
