"""The churn model's loop end to end (SPEC section 10, docs/churn-model.md), on the embedded
broker: `c360 gen` -> `c360 features` (twice: the same bytes) -> scripts/train-churn-model ->
the engine with the model.

- Features: the header, labels 0/1, dates, numbers written so they read back exactly, and
  no row for a customer on or after its churn day.
- Parity: tests/tools/churn_model_parity compares c360's tree evaluator with Python's
  probabilities and libxgboost's C API on every held-out row (>= 1,000), within 1e-6.
- Refusal: a model whose features differ stops the engine before it starts: one line, exit 2.
- Shadow: scoring.shadow_churn_model puts shadow_risk on every snapshot and feeds the two
  shadow metrics; alerts and `risk` stay the formula's.
- Live: scoring.churn_model's risk on every snapshot equals round half up of 100 x XGBoost's
  own prediction (Python) for the features the snapshot's KPIs and components give; with the
  same model as shadow, the shadow metrics see no difference."""

import csv
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
from c360.v1 import health_pb2  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TRAIN = os.path.join(REPO, "scripts", "train-churn-model")
PARITY = os.path.join(os.path.dirname(t.C360), "tests", "churn_model_parity")
LEADING = ["customer_id", "day", "label", "formula_risk"]
# Features whose KPI field is named differently in HealthSnapshot.kpis.
FROM_SNAPSHOT = {
    "usage_r30d": lambda s: s.kpis.usage_events_r30d,
    "usage_prior_r30d": lambda s: s.kpis.usage_events_prior_r30d,
    "credit_hold": lambda s: 1.0 if s.kpis.credit_hold else 0.0,
    "usage_score": lambda s: s.components.usage,
    "support_score": lambda s: s.components.support,
    "financial_score": lambda s: s.components.financial,
    "engagement_score": lambda s: s.components.engagement,
    "health": lambda s: s.health,
}


def snapshot_features(snapshot, names):
    row = []
    for name in names:
        if name in FROM_SNAPSHOT:
            row.append(float(FROM_SNAPSHOT[name](snapshot)))
        elif snapshot.kpis.DESCRIPTOR.fields_by_name[name].has_presence and \
                not snapshot.kpis.HasField(name):
            row.append(math.nan)
        else:
            row.append(float(getattr(snapshot.kpis, name)))
    return row


def snapshots(bootstrap, after=None):
    """The snapshots on c360.health; `after`: only those past these {partition: offset}."""
    out = []
    for m in t.read_all(bootstrap, "c360.health"):
        if after is not None and m.offset() < after.get(m.partition(), 0):
            continue
        s = health_pb2.HealthSnapshot()
        s.ParseFromString(m.value())
        out.append(s)
    return out


def metric(engine, name):
    status, text = engine.get("/metrics")
    assert status == 200
    return {k: v for k, v in t.metric_samples(text).items() if k.startswith(name)}


class ChurnModelTest(unittest.TestCase):
    def replay(self, bootstrap, tmp, name, config_text):
        """An engine with `config_text` (written to tmp/NAME.yaml) through the whole input:
        its shadow metrics once caught up."""
        config = os.path.join(tmp, name + ".yaml")
        with open(config, "w") as f:
            f.write(config_text)
        engine = t.Engine(bootstrap, os.path.join(tmp, name), name, config=config).start()
        try:
            engine.wait_caught_up(timeout=240)
            return (metric(engine, "c360_shadow_risk_abs_diff"),
                    metric(engine, "c360_shadow_level_disagreements_total"))
        finally:
            self.assertEqual(engine.stop(), 0)

    def demo_with(self, config, model):
        """`c360 demo --config` with the model live: says so, scores, alerts, stops on ^C."""
        port = t.free_port()
        proc = subprocess.Popen([t.C360, "demo", "--customers", "30", "--days", "20",
                                 "--http", f"127.0.0.1:{port}", "--config", config],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
        reader.start()
        try:
            t.wait_for(lambda: any(" FIRING " in line for line in lines), 90,
                       "the demo to print an alert")
            summary = t.wait_for(lambda: (lambda s: s if s["scored"] == 30 else None)(
                t.http_json(f"http://127.0.0.1:{port}/api/v1/summary")[1]), 60,
                "30 scored customers")
            self.assertEqual(sum(summary["by_status"].values()), 30)
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(timeout=30), 0, proc.stderr.read())
        finally:
            if proc.poll() is None:
                proc.kill()
            reader.join()
        banner = [line for line in lines if "churn risk from the model" in line]
        self.assertEqual(len(banner), 1, "".join(lines[:5]))
        self.assertIn(f"{model} (150 trees)", banner[0])

    def test_gen_features_train_and_score(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=8) as (bootstrap, _):
            gen = t.run_c360("gen", "--brokers", bootstrap, "--customers", 200, "--days", 150,
                             "--start", "2026-01-01", "--seed", 3, timeout=300)
            self.assertEqual(gen.returncode, 0, gen.stderr)

            # Features, twice: the same bytes.
            paths = [os.path.join(tmp, f"features{i}.csv") for i in (1, 2)]
            for path in paths:
                run = t.run_c360("features", "--brokers", bootstrap, "--out", path,
                                 "--every-days", 1, timeout=300)
                self.assertEqual(run.returncode, 0, run.stderr)
                print(run.stdout.strip(), flush=True)
            with open(paths[0], "rb") as a, open(paths[1], "rb") as b:
                self.assertEqual(a.read(), b.read(), "the same input gave different files")
            with open(paths[0], newline="") as f:
                reader = csv.reader(f)
                header = next(reader)
                rows = list(reader)
            self.assertEqual(header[:4], LEADING)
            names = header[4:]
            self.assertEqual(len(names), 35)
            self.assertIn("health_change_7d", names)
            labels = [int(r[2]) for r in rows]
            self.assertEqual(set(labels), {0, 1})
            for r in rows[:5000]:
                self.assertRegex(r[1], r"^2026-\d\d-\d\d$")
                for v in r[3:]:
                    if v:  # %.17g: reads back as the same double, printed the same way
                        self.assertEqual("%.17g" % float(v), v)
            # The history ends on 2026-05-30: "still a customer 90 days later" is known only
            # for days before 2026-03-01; a churn is known on any day.
            self.assertLess(max(r[1] for r in rows if r[2] == "0"), "2026-03-01")
            self.assertGreater(max(r[1] for r in rows if r[2] == "1"), "2026-03-01")

            # Training, with the held-out rows' probabilities.
            model = os.path.join(tmp, "model.json")
            predictions = os.path.join(tmp, "predictions.csv")
            train = subprocess.run([TRAIN, paths[0], model, "--seed", "5", "--predictions",
                                    predictions], capture_output=True, text=True, timeout=300)
            self.assertEqual(train.returncode, 0, train.stderr)
            print(train.stdout, flush=True)
            self.assertRegex(train.stdout, r"\nmodel +\d\.\d{3} +\d\.\d{3}\n")
            self.assertRegex(train.stdout, r"\nformula +\d\.\d{3} +\d\.\d{3}\n")
            again = os.path.join(tmp, "again.json")
            subprocess.run([TRAIN, paths[0], again, "--seed", "5"], check=True,
                           capture_output=True, timeout=300)
            with open(model, "rb") as a, open(again, "rb") as b:
                self.assertEqual(a.read(), b.read(), "the same features and seed, another model")

            # Parity: c360's evaluator against Python and the C API, every held-out row.
            parity = subprocess.run([PARITY, model, paths[0], predictions], capture_output=True,
                                    text=True, timeout=120)
            print(parity.stdout, parity.stderr, flush=True)
            self.assertEqual(parity.returncode, 0, parity.stdout + parity.stderr)
            report = json.loads(parity.stdout)
            self.assertGreaterEqual(report["rows"], 1000)
            self.assertLessEqual(report["max_abs_diff_python"], 1e-6)
            self.assertLessEqual(report["max_abs_diff_capi"], 1e-6)

            # A model for other features: one line naming the key, exit 2, nothing started.
            with open(model) as f:
                doc = json.load(f)
            doc["learner"]["feature_names"][0] = "logins_r30d"
            with open(os.path.join(tmp, "other.json"), "w") as f:
                json.dump(doc, f)
            with open(os.path.join(tmp, "other.yaml"), "w") as f:
                f.write("scoring:\n  churn_model: other.json\n")  # beside the config file
            state = os.path.join(tmp, "refused")
            refused = t.run_c360("engine", "--brokers", bootstrap, "--state-dir", state,
                                 "--config", os.path.join(tmp, "other.yaml"), timeout=60)
            self.assertEqual(refused.returncode, 2)
            self.assertEqual(len(refused.stderr.strip().splitlines()), 1, refused.stderr)
            self.assertIn("config key scoring.churn_model:", refused.stderr)
            self.assertIn("feature 0 is logins_r30d, expected usage_r30d", refused.stderr)
            self.assertFalse(os.path.exists(state), "the refused engine created its state")
            refused = t.run_c360("demo", "--config", os.path.join(tmp, "other.yaml"),
                                 "--http", f"127.0.0.1:{t.free_port()}", timeout=60)
            self.assertEqual(refused.returncode, 2)
            self.assertEqual(len(refused.stderr.strip().splitlines()), 1, refused.stderr)
            self.assertEqual(refused.stdout, "", "the refused demo started")

            # Shadow: the formula stays live, the model is scored beside it.
            diffs, disagreements = self.replay(bootstrap, tmp, "shadow",
                                               "scoring:\n  shadow_churn_model: model.json\n")
            shadowed = snapshots(bootstrap)
            self.assertGreater(len(shadowed), 200)
            self.assertTrue(all(s.HasField("shadow_risk") for s in shadowed))
            differ = [s for s in shadowed if s.shadow_risk != s.risk]
            self.assertTrue(differ, "the model agrees with the formula everywhere")
            self.assertGreater(diffs["c360_shadow_risk_abs_diff_count"], len(shadowed) / 2)
            self.assertGreater(diffs["c360_shadow_risk_abs_diff_sum"], 0)
            self.assertIn("c360_shadow_level_disagreements_total", disagreements)

            # Live, with the same model as shadow: each snapshot's risk is XGBoost's own.
            before = t.end_offsets_by_partition(bootstrap, ["c360.health"])
            diffs, disagreements = self.replay(
                bootstrap, tmp, "live",
                f"scoring:\n  churn_model: {model}\n  shadow_churn_model: {model}\n")
            live = snapshots(bootstrap, after=before)
            self.assertGreater(len(live), 200)
            self.assertEqual(diffs["c360_shadow_risk_abs_diff_sum"], 0)
            self.assertGreater(diffs["c360_shadow_risk_abs_diff_count"], 0)
            self.assertEqual(disagreements["c360_shadow_level_disagreements_total"], 0)
            import numpy as np
            import xgboost as xgb
            booster = xgb.Booster(model_file=model)
            x = np.array([snapshot_features(s, names) for s in live], dtype=np.float64)
            p = booster.predict(xgb.DMatrix(x, feature_names=names, missing=np.nan))
            mismatched = [(s.customer_id, s.risk, float(q)) for s, q in zip(live, p)
                          if s.risk != math.floor(100.0 * float(q) + 0.5)]
            self.assertEqual(mismatched, [])
            self.assertTrue(all(s.shadow_risk == s.risk for s in live))
            self.demo_with(os.path.join(tmp, "live.yaml"), model)
            print(f"{len(live)} live snapshots, each risk equal to XGBoost's; "
                  f"{len(differ)} of {len(shadowed)} shadow risks differed from the formula's",
                  flush=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
