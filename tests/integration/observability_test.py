"""The engine's operational side with real parts: the embedded broker, the real c360
engine, and a real Prometheus server (Debian's `prometheus`) scraping it on 127.0.0.1 with
the alert rules of deploy/prometheus/alerts.yml loaded.

Checks, through Prometheus's HTTP API, that c360_events_consumed_total rises to exactly
what was produced, that c360_alerts_emitted_total carries the (rule, severity, state) of
exactly the alerts on the alerts topic, and that dead letters count by reason; and, on the
engine itself, that /readyz is 503 before assignment and 200 once caught up, that
consumer_lag is 0 for every assigned partition, that every metric the Grafana dashboard
and the alert rules use is exported; that of two engines in a group over one partition the
standby answers 503 "no tasks assigned"; and that /readyz turns 503 when no broker is
reachable."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
from collections import Counter

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402

from c360.v1 import alert_pb2, customer_pb2  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PARTITIONS = 2


def metric_names_used(expr):
    """c360_* metric names in a PromQL expression (histogram suffixes stripped)."""
    names = set(re.findall(r"\bc360_[a-z0-9_]+", expr))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


NOTIFY_METRICS = ("c360_notification", "c360_notify")


def deploy_metric_names():
    """{name: [where]} for every c360_* metric the dashboard and the alert rules use."""
    import yaml
    used = {}
    with open(os.path.join(ROOT, "deploy/grafana/dashboards/c360.json")) as f:
        dashboard = json.load(f)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            for name in metric_names_used(target["expr"]):
                used.setdefault(name, []).append(f"panel {panel['title']!r}")
    with open(os.path.join(ROOT, "deploy/prometheus/alerts.yml")) as f:
        rules = yaml.safe_load(f)
    for group in rules["groups"]:
        for rule in group["rules"]:
            for name in metric_names_used(rule["expr"]):
                used.setdefault(name, []).append(f"rule {rule['alert']}")
    return used


def wait_equal(get, want, what, timeout=30):
    """Polls get() until it equals `want`; on timeout, says what it was."""
    last = [None]

    def equal():
        last[0] = get()
        return last[0] == want
    try:
        t.wait_for(equal, timeout, what)
    except AssertionError:
        raise AssertionError(f"{what}: wanted {want}, got {last[0]}") from None


class Prometheus:
    """A real Prometheus server scraping one engine every second."""

    def __init__(self, tmp, engine_port):
        self.port = t.free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {ROOT}/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: c360
    static_configs:
      - targets: ["127.0.0.1:{engine_port}"]
""")
        self.log = open(os.path.join(tmp, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=self.log)
        def ready():
            assert self.proc.poll() is None, "prometheus exited: " + open(self.log.name).read()
            try:
                return t.http_get(f"{self.url}/-/ready", timeout=1)[0] == 200
            except OSError:
                return False
        t.wait_for(ready, 60, "Prometheus to be ready")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def api(self, path, **params):
        status, body = t.http_json(f"{self.url}/api/v1/{path}?" + urllib.parse.urlencode(params))
        assert status == 200 and body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        """{frozenset(labels): value} of an instant query."""
        return {frozenset((k, v) for k, v in r["metric"].items() if k not in ("__name__", "job", "instance")):
                float(r["value"][1]) for r in self.api("query", query=expr)["result"]}

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


class ObservabilityTest(unittest.TestCase):
    def test_engine_metrics_through_a_real_prometheus(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=PARTITIONS) as (bootstrap, _):
            engine = t.Engine(bootstrap, tmp + "/state", "obs").start()
            prometheus = None
            try:
                # Before the group has assigned anything (the join takes seconds), the
                # engine is alive but not ready, and says why.
                status, body = engine.get("/readyz")
                self.assertEqual(status, 503, body)
                self.assertFalse(json.loads(body)["ready"])
                self.assertRegex(json.loads(body)["reason"], "starting|no tasks assigned")
                self.assertEqual(engine.get("/healthz")[0], 200)

                prometheus = Prometheus(tmp, engine.http_port())
                t.wait_for(lambda: engine.get("/readyz")[0] == 200, 60, "/readyz to answer 200")
                self.assertEqual(json.loads(engine.get("/readyz")[1])["tasks"], [0, 1])
                t.wait_for(lambda: prometheus.query('c360_events_consumed_total{topic="c360.usage"}'),
                           30, "the first scrape")
                self.assertEqual(prometheus.query("sum(c360_events_consumed_total)"),
                                 {frozenset(): 0.0})

                # Events: a simulated history, and three records that are not protobuf.
                r = t.run_c360("gen", "--brokers", bootstrap, "--customers", 40, "--days", 70,
                               "--seed", 11)
                self.assertEqual(r.returncode, 0, r.stderr)
                produced, _ = t.parse_gen_summary(r.stdout)
                p = t.producer(bootstrap)
                for i in range(3):
                    t.produce(p, "c360.usage", b"cust-bad", value=b"\xff\x00 not protobuf " + bytes([i]),
                              headers=[("content-type", b"application/x-protobuf")])
                p.flush(10)
                produced["c360.usage"] += 3
                engine.wait_caught_up()

                # Prometheus sees exactly what was produced, per topic.
                wait_equal(lambda: prometheus.query("c360_events_consumed_total"),
                           {frozenset({("topic", topic)}): float(n) for topic, n in produced.items()},
                           "c360_events_consumed_total in Prometheus")
                self.assertEqual(
                    prometheus.query('c360_events_deadlettered_total{reason="malformed"} > 0'),
                    {frozenset({("topic", "c360.usage"), ("reason", "malformed")}): 3.0})

                # Alerts: the labels Prometheus shows are those of the alerts on the topic.
                alerts = Counter()
                for m in t.read_all(bootstrap, "c360.alerts"):
                    a = alert_pb2.AlertEvent.FromString(m.value())
                    alerts[(alert_pb2.AlertEvent.Rule.Name(a.rule),
                            alert_pb2.AlertEvent.Severity.Name(a.severity),
                            alert_pb2.AlertEvent.State.Name(a.state))] += 1
                self.assertGreaterEqual(len({rule for rule, _, _ in alerts}), 4, alerts)
                want = {frozenset({("rule", r_), ("severity", s), ("state", st)}): float(n)
                        for (r_, s, st), n in alerts.items()}
                wait_equal(lambda: prometheus.query("c360_alerts_emitted_total > 0"), want,
                           "c360_alerts_emitted_total in Prometheus")
                self.assertEqual(prometheus.query("sum(c360_event_to_alert_seconds_count)"),
                                 {frozenset(): float(sum(alerts.values()))})

                # The engine's own view: caught up, every customer counted once by status.
                samples = t.metric_samples(engine.get("/metrics")[1])
                lags = {k: v for k, v in samples.items() if k.startswith("c360_consumer_lag{")}
                self.assertEqual(len(lags), 5 * PARTITIONS, lags)
                self.assertEqual(set(lags.values()), {0.0})
                # (c360.customers holds a second profile of each customer who left.)
                customers = sum(v for k, v in samples.items() if k.startswith("c360_customers{"))
                self.assertEqual(customers, 40)
                latest = {m.key(): customer_pb2.CustomerProfile.FromString(m.value())
                          for m in t.read_all(bootstrap, "c360.customers")}
                churned = sum(1 for p in latest.values() if p.HasField("churned_on"))
                by_segment = sum(v for k, v in samples.items()
                                 if k.startswith("c360_customers_by_segment{"))
                self.assertEqual(by_segment, 40 - churned)  # CHURNED ones are left out
                self.assertEqual(samples["c360_outbox_pending"], 0)
                self.assertGreater(samples["c360_rocksdb_live_data_bytes"], 0)
                self.assertGreater(samples["c360_state_commit_seconds_count"], 0)
                # Outputs left through fences, each one timed.
                self.assertGreater(samples["c360_output_fence_seconds_count"], 0)
                self.assertGreater(samples["c360_output_fence_seconds_sum"], 0)
                # The state directory's file system, as the OS reports it.
                disk = shutil.disk_usage(tmp + "/state")
                self.assertEqual(samples["c360_state_disk_capacity_bytes"], disk.total)
                self.assertGreater(samples["c360_state_disk_free_bytes"], 0)
                self.assertLessEqual(samples["c360_state_disk_free_bytes"], disk.total)
                self.assertIn(samples["c360_rocksdb_write_stall"], (0, 1, 2))
                self.assertGreaterEqual(samples["c360_rocksdb_write_stall_seconds_total"], 0)
                self.assertEqual(samples["c360_event_processing_seconds_count"],
                                 sum(produced.values()) - produced["c360.customers"])
                self.assertTrue(all(samples[f'c360_stream_time_seconds{{task="{task}"}}'] > 1.7e9
                                    for task in range(PARTITIONS)))

                # Every metric the dashboard and the alert rules use is exported.
                text = engine.get("/metrics")[1]
                exported = set(re.findall(r"^# TYPE (c360_[a-z0-9_]+) ", text, re.M))
                # (c360 notify's own metrics come from that process: notify_test checks them.)
                used = {name: where for name, where in deploy_metric_names().items()
                        if not name.startswith(NOTIFY_METRICS)}
                self.assertGreaterEqual(len(used), 10, used)
                missing = {name: where for name, where in used.items() if name not in exported}
                self.assertEqual(missing, {}, "used in deploy/ but not exported")

                # Every dashboard query is valid PromQL for this Prometheus and, with
                # Grafana's variables filled in, returns data from this engine.
                with open(os.path.join(ROOT, "deploy/grafana/dashboards/c360.json")) as f:
                    dashboard = json.load(f)
                empty = []
                for panel in dashboard["panels"]:
                    for target in panel.get("targets", []):
                        if any(n.startswith(NOTIFY_METRICS)
                               for n in metric_names_used(target["expr"])):
                            continue
                        expr = (target["expr"].replace("$instance", ".*")
                                .replace("$__rate_interval", "1m"))
                        if not prometheus.api("query", query=expr)["result"]:
                            empty.append(f"{panel['title']}: {expr}")
                self.assertEqual(empty, [], "dashboard queries without data")

                # Prometheus loaded every alert rule and evaluates them without error. On
                # this healthy engine they are all quiet, except that alerts on a replayed
                # history are days late (their Kafka timestamps are the event times), which
                # C360EventToAlertSlow sees at once (pending: it needs 5 minutes to fire).
                def rule_states():
                    return {r["name"]: (r["health"], r["state"])
                            for g in prometheus.api("rules")["groups"] for r in g["rules"]}
                expected = {name: ("ok", "inactive") for name in (
                    "C360EngineDown", "C360ConsumerLagGrowing", "C360DeadLettersRising",
                    "C360OutboxStuck", "C360NoEvents", "C360NoTasksAssigned", "C360KafkaErrors",
                    "C360FenceRejections", "C360NotifyDeadLetters", "C360StateDiskLow",
                    "C360RocksDBWriteStalls")}
                expected["C360EventToAlertSlow"] = ("ok", "pending")
                wait_equal(rule_states, expected, "the alert rules' states")
            finally:
                if prometheus:
                    prometheus.stop()
                self.assertEqual(engine.stop(), 0)

    def test_a_member_without_tasks_is_alive_but_not_ready(self):
        # One partition per topic is one task: of two engines in a group, one owns it and
        # is ready; the other is a standby, alive and 503 "no tasks assigned".
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=1) as (bootstrap, _):
            first = t.Engine(bootstrap, tmp + "/a", "obs-pair").start()
            second = None
            try:
                t.wait_for(lambda: first.get("/readyz")[0] == 200, 60, "the first engine to be ready")
                second = t.Engine(bootstrap, tmp + "/b", "obs-pair").start()

                def assignments(engine):
                    with open(engine.state_dir + ".log") as log:
                        return log.read().count("event=assigned ")
                # The second member joined: both got an assignment from the new generation.
                t.wait_for(lambda: assignments(first) >= 2 and assignments(second) >= 1, 60,
                           "the group to rebalance over both engines")

                def answers():
                    return sorted((e.get("/readyz")[0], json.loads(e.get("/readyz")[1])["tasks"])
                                  for e in (first, second))
                wait_equal(answers, [(200, [0]), (503, [])], "one ready owner and one standby")
                standby = first if first.get("/readyz")[0] == 503 else second
                self.assertIn("no tasks assigned", json.loads(standby.get("/readyz")[1])["reason"])
                self.assertEqual(standby.get("/healthz")[0], 200)
                self.assertEqual(t.metric_samples(standby.get("/metrics")[1])["c360_tasks_assigned"], 0)
            finally:
                if second:
                    self.assertEqual(second.stop(), 0)
                self.assertEqual(first.stop(), 0)

    def test_not_ready_when_no_broker_is_reachable(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=1) as (bootstrap, broker):
            engine = t.Engine(bootstrap, tmp + "/state", "obs-down").start()
            try:
                t.wait_for(lambda: engine.get("/readyz")[0] == 200, 60, "/readyz to answer 200")
                broker.kill()
                broker.wait()

                def down():
                    status, body = engine.get("/readyz")
                    return status == 503 and "no broker reachable" in json.loads(body)["reason"]
                t.wait_for(down, 30, "/readyz to say that no broker is reachable")
                self.assertEqual(engine.get("/healthz")[0], 200)  # alive all the same
                samples = t.metric_samples(engine.get("/metrics")[1])
                self.assertGreater(samples["c360_kafka_errors_total"], 0)
            finally:
                self.assertEqual(engine.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
