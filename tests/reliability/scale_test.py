"""A task's state moves with it (SPEC 6.4; docs/scale.md): engines join and leave a group
while events flow, one is killed with its state directory deleted, and every task that
moves is restored from the changelog topic, never rebuilt from input history. The state
equals the independent oracle (tests/lib/oracle.py), nothing is counted twice, and the
alerts equal those of one uninterrupted engine over the same input."""

import re
import shutil
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
from c360.v1 import alert_pb2  # noqa: E402

PARTITIONS = 6
# A short session so that a killed engine's tasks move soon; the merge waits up to a second
# for a partition with no data yet, so that flowing input is applied in event-time order
# as a replay would (the uninterrupted run the alerts are compared with).
CONFIG = """kafka:
  session.timeout.ms: 6000
  heartbeat.interval.ms: 1000
engine:
  batch_max_records: 2000
  max_task_idle_ms: 1000
changelog:
  checkpoint_min_bytes: 262144
"""


def log_of(engine):
    with open(engine.state_dir + ".log", errors="replace") as f:
        return f.read()


def assigned_tasks(engine):
    """The tasks of the engine's last assignment (empty after a revocation)."""
    tasks = set()
    for line in log_of(engine).splitlines():
        if "event=revoked" in line:
            tasks = set()
        found = re.search(r"event=assigned tasks=(\S*)", line)
        if found:
            tasks = {int(x) for x in found.group(1).split(",") if x}
    return tasks


def restores(engine, since=0, timed=False):
    """[(task, from, batches_applied)] of the engine's restores, from log offset `since`
    ([(time, task, from, batches_applied)] if `timed`)."""
    found = [(m.group(1), int(m.group(2)), m.group(3), int(m.group(4)))
             for m in re.finditer(r"ts=(\S+) \S+ event=task_restored task=(\d+) from=(\w+) "
                                  r"batch=\S+ records_read=\d+ batches_applied=(\d+)",
                                  log_of(engine)[since:])]
    return found if timed else [x[1:] for x in found]


def consumed(engine):
    """The engine's events_consumed_total, over every input topic."""
    status, body = engine.get("/metrics")
    assert status == 200, body
    return sum(v for k, v in t.metric_samples(body).items()
               if k.startswith("c360_events_consumed_total"))


def standby_lags(engine):
    """{task: standby_lag_records} of the engine's standby tasks."""
    status, body = engine.get("/metrics")
    assert status == 200, body
    return {int(re.search(r'task="(\d+)"', k).group(1)): v
            for k, v in t.metric_samples(body).items() if k.startswith("c360_standby_lag_records")}


def ready(engine):
    return engine.proc.poll() is None and engine.get("/readyz")[0] == 200


def group_caught_up(engines, bootstrap):
    """Every task is assigned to one of `engines`, which has applied its partitions to
    their ends and published its outbox."""
    ends = t.end_offsets_by_partition(bootstrap, t.INPUT_TOPICS)
    owners = {}
    for e in engines:
        for task in assigned_tasks(e):
            owners[task] = e
    if sorted(owners) != list(range(PARTITIONS)):
        return False
    for e in engines:
        dump = t.dump_state(e.state_dir, tasks_only=True)
        if dump is None:
            return False
        for d in dump:
            if d["kind"] != "task" or owners.get(d["task"]) is not e:
                continue
            if d["outbox"] != 0 or sum(d["offsets"].values()) != ends.get(d["task"], 0):
                return False
    return all(ready(e) for e in engines)


def alerts(bootstrap):
    """{(alert_id, state, severity): (rule, customer_id, message)} of c360.alerts (an
    episode's FIRING, ESCALATED and RESOLVED share its alert_id), and the keys whose
    copies differ."""
    seen, differing = {}, set()
    for m in t.read_all(bootstrap, "c360.alerts"):
        a = alert_pb2.AlertEvent.FromString(m.value())
        key = (a.alert_id, a.state, a.severity)
        value = (a.rule, a.customer_id, a.message)
        if key in seen and seen[key] != value:
            differing.add(key)
        seen[key] = value
    return seen, differing


class ScaleTest(unittest.TestCase):
    def check_state(self, bootstrap, engine):
        expected, invisible = oracle.expected_state(bootstrap)
        actual = oracle.actual_state(t.dump_state(engine.state_dir), invisible)
        wrong = [c for c in expected if actual.get(c) != expected[c]]
        self.assertEqual(wrong, [], wrong[:1] and (expected[wrong[0]], actual.get(wrong[0])))
        self.assertEqual(len(actual), len(expected))

    def test_scale_out_and_in_moves_every_task_through_the_changelog(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=PARTITIONS) as (bootstrap, _):
            config = tmp + "/c360.yaml"
            with open(config, "w") as f:
                f.write(CONFIG)
            group = "g-" + uuid.uuid4().hex
            gen = subprocess.Popen(
                [t.C360, "gen", "--brokers", bootstrap, "--customers", "600", "--events", "200000",
                 "--days", "60", "--start", "2026-03-01", "--seed", "11", "--rate", "8000"],
                stdout=subprocess.DEVNULL, stderr=open(tmp + "/gen.log", "w"))
            engines = []
            try:
                for n in range(3):
                    e = t.Engine(bootstrap, f"{tmp}/e{n}", group, config=config).start()
                    engines.append(e)
                    # It holds tasks, restored from the changelog, before the next joins.
                    t.wait_for(lambda: assigned_tasks(e) and (n == 0 or restores(e)), 90,
                               f"engine {n} to be assigned tasks")
                    time.sleep(2)
                self.assertEqual(gen.wait(timeout=120), 0, open(tmp + "/gen.log").read())
                t.wait_for(lambda: group_caught_up(engines, bootstrap), 180, "three engines to catch up")
                # Scale in: the last two leave; the first takes their tasks back.
                for e in engines[2:0:-1]:
                    self.assertEqual(e.stop(), 0)
                t.wait_for(lambda: group_caught_up(engines[:1], bootstrap), 180,
                           "the first engine to hold every task again")
            finally:
                if gen.poll() is None:
                    gen.kill()
                for e in engines:
                    e.stop(sig=signal.SIGKILL) if e.proc.poll() is None and e is not engines[0] else None
            first = engines[0]
            self.assertEqual(first.stop(), 0)
            # A task started from nothing only before anything was written for it: once,
            # in the first engine's first assignment.
            news = [r for e in engines for r in restores(e) if r[1] == "new"]
            self.assertLessEqual(len(news), PARTITIONS, news)
            for e in engines[1:]:
                full = [r for r in restores(e) if r[1] == "full"]
                self.assertTrue(full and all(r[2] > 0 for r in full), restores(e))
                self.assertNotIn("from=new", log_of(e))
            # The first engine took its tasks back from the changelog's tail after its copy.
            self.assertTrue([r for r in restores(first) if r[1] in ("tail", "full")],
                            restores(first))
            self.check_state(bootstrap, first)
            moved, differing = alerts(bootstrap)
            self.assertEqual(differing, set())
            self.assertGreater(len(moved), 0)

            # One engine, uninterrupted, in a group of its own over the same input: the
            # same alerts (its changelog records are its group's, apart from the first's).
            alone = t.Engine(bootstrap, f"{tmp}/alone", "g-" + uuid.uuid4().hex,
                             config=config).start()
            try:
                alone.wait_caught_up(timeout=180)
            finally:
                self.assertEqual(alone.stop(), 0)
            both, differing = alerts(bootstrap)
            self.assertEqual(differing, set())
            self.assertEqual(both, moved)  # no alert id that the moves missed, none extra
            self.assertTrue(all(r[1] == "new" for r in restores(alone)), restores(alone))

    def check_api_on_every_engine(self, bootstrap, engines):
        """Every engine answers for every customer, naming its owner, and the list and
        summary are the group's on every engine."""
        address = {id(e): f"127.0.0.1:{e.http_port()}" for e in engines}
        owner_of = {task: address[id(e)] for e in engines for task in assigned_tasks(e)}
        expected, _ = oracle.expected_state(bootstrap)
        sample = sorted(expected)[:: max(1, len(expected) // 24)]
        for customer in sample:
            views = []
            for e in engines:
                status, body = t.http_json(
                    f"http://{address[id(e)]}/api/v1/customers/{customer}")
                self.assertEqual(status, 200, (customer, body))
                served = body["served_by"]
                task = served["task"]
                named = served["engine"] if served["role"] == "owner" else served["owner"]
                self.assertEqual(named, owner_of[task], (customer, served))
                views.append((body["health"], body["kpis"], body["status"]))
            self.assertEqual(views[1:], views[:-1], customer)
        lists = [t.http_json(f"http://{address[id(e)]}/api/v1/customers?limit=1000")
                 for e in engines]
        for status, body in lists:
            self.assertEqual(status, 200, body)
            self.assertEqual(body["total"], len(expected))
        ids = [[c["customer_id"] for c in body["customers"]] for _, body in lists]
        self.assertEqual(ids[1:], ids[:-1])
        summaries = []
        for e in engines:
            status, body = t.http_json(f"http://{address[id(e)]}/api/v1/summary")
            self.assertEqual(status, 200, body)
            self.assertEqual(body["customers"], len(expected))
            body.pop("tasks")
            summaries.append(body)
        self.assertEqual(summaries[1:], summaries[:-1])

    def kill_one_of_three(self, standbys):
        """Three engines share the tasks and catch up; one is killed (kill -9) and its
        state directory deleted. Returns the two others' restores of its tasks."""
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=PARTITIONS) as (bootstrap, _):
            config = tmp + "/c360.yaml"
            with open(config, "w") as f:
                f.write(CONFIG.replace("engine:\n", f"engine:\n  standby_replicas: {standbys}\n"))
            r = t.run_c360("gen", "--brokers", bootstrap, "--customers", "600", "--events", "60000",
                           "--days", "45", "--start", "2026-03-01", "--seed", "12")
            self.assertEqual(r.returncode, 0, r.stderr)
            group = "g-" + uuid.uuid4().hex
            engines = [t.Engine(bootstrap, f"{tmp}/e{n}", group, config=config).start()
                       for n in range(3)]
            try:
                t.wait_for(lambda: group_caught_up(engines, bootstrap)
                           and all(assigned_tasks(e) for e in engines), 180,
                           "three engines to share the tasks and catch up")
                a, b, c = engines
                lost = assigned_tasks(c)
                if standbys:
                    # Every task has a warm copy on another engine, synced to the end.
                    t.wait_for(lambda: all(standby_lags(e) and not any(standby_lags(e).values())
                                           for e in engines), 60, "the standbys to catch up")
                    kept = set().union(*(standby_lags(e).keys() for e in (a, b)))
                    self.assertTrue(lost <= kept, (lost, kept))
                self.check_api_on_every_engine(bootstrap, engines)
                before = {id(e): consumed(e) for e in (a, b)}
                marks = {id(e): len(log_of(e)) for e in (a, b)}
                c.proc.kill()
                c.proc.wait()
                shutil.rmtree(c.state_dir)
                t.wait_for(lambda: group_caught_up([a, b], bootstrap), 120,
                           "the two others to take every task")
                # The tasks moved and were restored, and the restoring engines consumed no
                # input record: every one of them lies before the restored markers' offsets.
                self.assertEqual({id(e): consumed(e) for e in (a, b)}, before)
                # Each lost task's first restore on the others (a later rebalance may move
                # it again, between the two).
                moved = {}
                for x in sorted(x for e in (a, b) for x in restores(e, marks[id(e)], timed=True)):
                    if x[1] in lost and x[1] not in moved:
                        moved[x[1]] = x[1:]
                moved = list(moved.values())
                self.assertEqual(sorted(x[0] for x in moved), sorted(lost), moved)
                # More input, then one engine for all: the state adds up exactly.
                r = t.run_c360("gen", "--brokers", bootstrap, "--customers", "600", "--events",
                               "20000", "--days", "10", "--start", "2026-04-15", "--seed", "13")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(b.stop(), 0)
                t.wait_for(lambda: group_caught_up([a], bootstrap), 120, "one engine to catch up")
            finally:
                for e in engines[1:]:
                    if e.proc.poll() is None:
                        e.stop(sig=signal.SIGKILL)
            self.assertEqual(engines[0].stop(), 0)
            self.check_state(bootstrap, engines[0])
            return moved

    def test_a_killed_engines_tasks_restore_on_the_others_without_input_history(self):
        moved = self.kill_one_of_three(standbys=0)
        # Nothing of them was on the others: restored from the latest checkpoint on.
        self.assertTrue(all(how == "full" and applied > 0 for _, how, applied in moved), moved)

    def test_with_standbys_a_fail_over_replays_a_tail_only(self):
        moved = self.kill_one_of_three(standbys=1)
        # Each had a warm copy where it went: at most the tail after it.
        self.assertTrue(all(how in ("local", "tail") for _, how, _ in moved), moved)


if __name__ == "__main__":
    unittest.main(verbosity=2)
