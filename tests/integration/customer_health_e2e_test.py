"""Issue 19's KPIs and rules end to end through the real engine on the embedded broker:
active users and stickiness with ACTIVE_USERS_DROP at its resolution edge, NPS_DETRACTOR at
both edges, CREDIT_HOLD, and a customer who churns (its health episodes resolve, its credit
hold goes on, nothing new opens); the routing context and the page link (`public_url`) on
alerts and snapshots; the portfolio API and the segment metrics leave CHURNED customers
out. Every expected value is computed by hand in the comments.

One partition: every customer shares task 0. Day 0 is 2026-06-01."""

import json
import os
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import c360test as t  # noqa: E402
from engine_e2e_test import Scenario, alert_id, at, ts  # noqa: E402
from c360.v1 import (alert_pb2, campaign_pb2, customer_pb2, health_pb2,  # noqa: E402
                     invoice_pb2, usage_pb2)

A = alert_pb2.AlertEvent
C = customer_pb2.CustomerProfile
I = invoice_pb2.InvoiceEvent
URL = "https://c360.example.com/app"


def user_event(s, customer, user, ms):
    e = usage_pb2.UsageEvent(event_id=s.eid(), customer_id=customer, event_time=ts(ms),
                             module="reports", user_id=user, quantity=1)
    s.later(ms, lambda: t.produce(s.p, "c360.usage", customer, e, ms))


def survey(s, customer, nps, ms):
    e = campaign_pb2.CampaignEvent(event_id=s.eid(), customer_id=customer, campaign_id="NPS",
                                   event_time=ts(ms), kind=campaign_pb2.CampaignEvent.RESPONDED,
                                   nps=nps)
    s.later(ms, lambda: t.produce(s.p, "c360.campaigns", customer, e, ms))


def profile(s, customer, ms, **fields):
    p = C(customer_id=customer, name=customer.upper(), **fields)
    s.later(ms, lambda: t.produce(s.p, "c360.customers", customer, p, ms))


def scenario(bootstrap):
    s = Scenario(bootstrap)
    # The clock: one record a day at 00:30, days 0..40, so every day is re-scored.
    for day in range(41):
        s.usage("cust-z", at(day, 0, 30))

    # cust-u: 10 users on day 1. On day 31 (R30D = days 2..31, prior = days -28..1) the
    # day-change re-score sees 0 current users against 10 prior: ACTIVE_USERS_DROP fires.
    # Users a0..a7 come back on day 31, one an hour from 10:00: 8 users is still not above
    # 4/5 of 10 (5 x 8 = 40, not > 40); a8 at 18:00 makes 9: RESOLVED at day 31 18:00.
    # Stickiness at T (day 40): 9 users on 1 day each of R30D: 100 x 9 / (30 x 9) = 3.33.
    for u in range(10):
        user_event(s, "cust-u", f"a{u}", at(1, 9, u))
    for u in range(9):
        user_event(s, "cust-u", f"a{u}", at(31, 10 + u))

    # cust-n: NPS 7 (a passive: nothing), 6 (a detractor: FIRING), 7 (RESOLVED).
    survey(s, "cust-n", 7, at(2, 9))
    survey(s, "cust-n", 6, at(3, 9))
    survey(s, "cust-n", 7, at(4, 9))

    # cust-c: contract ends on day 80. Known by its profile from the first record: usage 50
    # (never used), support 100, financial 100, engagement 70: health 78; days_to_renewal
    # 80 <= 90: RENEWAL_DUE at the first record (day 0 00:30).
    # Day 2 10:00: a credit hold (financial 60: health 68): CREDIT_HOLD. Then 4 disputed
    # invoices: financial 100 - 40 - 40 = 20, health floor((35 x 5000 + 25 x 10000 +
    # 25 x 2000 + 15 x 7000 + 5000) / 1e4) = 58: HEALTH_LOW at the 4th (12:03).
    # Day 7 00:30: day 0's 78 is now 7 days back: 58 - 78 = -20: HEALTH_DROP.
    # Its second profile says it churned on day 9. Profiles are a table, applied as soon as
    # read (SPEC section 1), so it is in force from the start; CHURNED counts by day: at the
    # day-9 re-score (00:30) HEALTH_LOW, RENEWAL_DUE and HEALTH_DROP resolve and CREDIT_HOLD
    # stays; day 12 10:00: the hold is released: CREDIT_HOLD RESOLVED (an obligation).
    # Health stays 58 after: nothing opens again.
    fields = dict(segment=C.ENTERPRISE, industry="energy", region="EMEA", owner="Ana Ruiz",
                  annual_revenue_cents=7_000_000, contract_end=ts(at(80, 0)))
    profile(s, "cust-c", at(0, 0), **fields)
    s.invoice("cust-c", "", I.CREDIT_HOLD_SET, at(2, 10))
    for i in range(4):
        s.invoice("cust-c", f"INV-C{i}", I.ISSUED, at(2, 11, i), due=at(200, 0))
        s.invoice("cust-c", f"INV-C{i}", I.DISPUTED, at(2, 12, i))
    profile(s, "cust-c", at(10, 9), churned_on=ts(at(9, 0)), **fields)
    s.invoice("cust-c", "", I.CREDIT_HOLD_RELEASED, at(12, 10))
    s.flush()
    return s


class CustomerHealthEndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.broker_cm = t.broker(partitions=1)
        cls.bootstrap, _ = cls.broker_cm.__enter__()
        scenario(cls.bootstrap)
        config = cls.tmp.name + "/c360.yaml"
        with open(config, "w") as f:
            f.write(f"public_url: {URL}/\n")  # a trailing / is dropped
        cls.engine = t.Engine(cls.bootstrap, cls.tmp.name + "/state", "g-" + uuid.uuid4().hex,
                              config=config).start()
        cls.engine.wait_caught_up()
        cls.alerts = [A.FromString(m.value()) for m in t.read_all(cls.bootstrap, "c360.alerts")]
        cls.snapshots = [health_pb2.HealthSnapshot.FromString(m.value())
                         for m in t.read_all(cls.bootstrap, "c360.health")]

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        cls.broker_cm.__exit__(None, None, None)
        cls.tmp.cleanup()

    def of(self, customer):
        return [a for a in self.alerts if a.customer_id == customer]

    def get(self, path):
        status, body = self.engine.get(path)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_active_users_drop_resolves_at_its_edge(self):
        # (USAGE_DROP and HEALTH_DROP come and go with it: its usage is its users'.)
        alerts = [a for a in self.of("cust-u") if a.rule == A.ACTIVE_USERS_DROP]
        self.assertEqual([(a.rule, a.state) for a in alerts],
                         [(A.ACTIVE_USERS_DROP, A.FIRING), (A.ACTIVE_USERS_DROP, A.RESOLVED)])
        self.assertEqual(alerts[0].stream_time.ToMilliseconds(), at(31, 0, 30))
        self.assertEqual(alerts[0].observed_value, 100)
        self.assertEqual(alerts[1].stream_time.ToMilliseconds(), at(31, 18))
        self.assertEqual(alerts[1].alert_id, alert_id("cust-u", "ACTIVE_USERS_DROP", 1))
        kpis = self.get("/api/v1/customers/cust-u")["kpis"]
        self.assertEqual(kpis["active_users_r30d"], 9)
        self.assertEqual(kpis["active_users_prior_r30d"], 10)
        self.assertEqual(kpis["active_users_change_pct"], -10.0)
        self.assertEqual(kpis["stickiness_pct_r30d"], 3.33)
        self.assertEqual(kpis["modules_used_r30d"], 1)

    def test_nps_detractor_fires_at_6_and_resolves_at_7(self):
        alerts = self.of("cust-n")
        self.assertEqual([(a.rule, a.state, a.stream_time.ToMilliseconds()) for a in alerts],
                         [(A.NPS_DETRACTOR, A.FIRING, at(3, 9)),
                          (A.NPS_DETRACTOR, A.RESOLVED, at(4, 9))])
        self.assertEqual([a.observed_value for a in alerts], [6, 7])

    def test_a_churned_customer_has_no_health_episodes_but_its_obligations_go_on(self):
        got = [(A.Rule.Name(a.rule), A.State.Name(a.state), a.stream_time.ToMilliseconds())
               for a in self.of("cust-c")]
        self.assertEqual(got, [
            ("RENEWAL_DUE", "FIRING", at(0, 0, 30)),
            ("CREDIT_HOLD", "FIRING", at(2, 10)),
            ("HEALTH_LOW", "FIRING", at(2, 12, 3)),
            ("HEALTH_DROP", "FIRING", at(7, 0, 30)),
            ("HEALTH_LOW", "RESOLVED", at(9, 0, 30)),
            ("RENEWAL_DUE", "RESOLVED", at(9, 0, 30)),
            ("HEALTH_DROP", "RESOLVED", at(9, 0, 30)),
            ("CREDIT_HOLD", "RESOLVED", at(12, 10)),
        ])
        health = {A.Rule.Name(a.rule): a for a in self.of("cust-c") if a.state == A.FIRING}
        self.assertEqual(health["HEALTH_LOW"].health, 58)
        self.assertEqual(health["HEALTH_DROP"].observed_value, -20)
        self.assertEqual(health["CREDIT_HOLD"].health, 68)
        # The churn resolutions keep each episode's id.
        for a in self.of("cust-c"):
            if a.state == A.RESOLVED and a.rule != A.CREDIT_HOLD:
                self.assertEqual(a.alert_id, health[A.Rule.Name(a.rule)].alert_id)

    def test_alerts_and_snapshots_carry_the_routing_context_and_the_link(self):
        for a in self.of("cust-c"):
            self.assertEqual((a.segment, a.industry, a.region, a.owner, a.annual_revenue_cents),
                             (C.ENTERPRISE, "energy", "EMEA", "Ana Ruiz", 7_000_000))
            self.assertEqual(a.url, URL + "/#cust-c")
        resolved = [a for a in self.of("cust-c") if a.state == A.RESOLVED and
                    a.rule != A.CREDIT_HOLD]
        self.assertTrue(all(a.lifecycle_stage == health_pb2.Lifecycle.CHURNED for a in resolved))
        last = [s for s in self.snapshots if s.customer_id == "cust-c"][-1]
        self.assertEqual(last.lifecycle_stage, health_pb2.Lifecycle.CHURNED)
        self.assertEqual((last.industry, last.owner, last.url), ("energy", "Ana Ruiz",
                                                                URL + "/#cust-c"))
        # A snapshot says CHURNED at the day-9 re-score, though the scores did not move.
        first = next(s for s in self.snapshots if s.customer_id == "cust-c" and
                     s.lifecycle_stage == health_pb2.Lifecycle.CHURNED)
        self.assertEqual(first.stream_time.ToMilliseconds(), at(9, 0, 30))
        self.assertEqual(first.health, 58)
        view = self.get("/api/v1/customers/cust-c")
        self.assertEqual(view["lifecycle_stage"], "CHURNED")
        self.assertEqual(view["kpis"]["tenure_days"], None)  # no contract_start

    def test_the_portfolio_counts_churned_customers_only_by_lifecycle_stage(self):
        by_segment = self.get("/api/v1/portfolio")
        self.assertNotIn("ENTERPRISE", [r["value"] for r in by_segment["rows"]])
        self.assertEqual(by_segment["totals"]["customers"], 3)  # z, u, n; not c
        stages = {r["value"]: r["customers"]
                  for r in self.get("/api/v1/portfolio?by=lifecycle_stage")["rows"]}
        self.assertEqual(stages.get("CHURNED"), 1)
        self.assertEqual(sum(stages.values()), 4)
        owners = {r["value"]: r for r in self.get("/api/v1/portfolio?by=owner")["rows"]}
        self.assertEqual(set(owners), {""})  # Ana Ruiz's one customer churned
        metrics = t.metric_samples(self.engine.get("/metrics")[1])
        by_segment_metric = {k: v for k, v in metrics.items()
                             if k.startswith("c360_customers_by_segment{")}
        self.assertEqual(sum(by_segment_metric.values()), 3)
        self.assertEqual(sum(v for k, v in by_segment_metric.items() if "ENTERPRISE" in k), 0)
        self.assertEqual(sum(v for k, v in metrics.items()
                             if k.startswith("c360_revenue_at_risk_cents{")), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
