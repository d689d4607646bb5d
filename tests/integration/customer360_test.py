"""The Customer 360 API and page end to end (SPEC section 8): the real engine on the
embedded broker with crafted customers whose KPIs and scores follow from SPEC sections 3-4
by hand; the JSON the API serves must equal them. Then 404 and 400 errors, the list's
filters, sort and cursor, the summary, and the page in a real browser (Debian chromium via
playwright-core): the KPI strip shows the API's values, the charts draw, and an event
produced while the page is open changes the status and lists the new alert without a
reload; the portfolio the page opens on shows /api/v1/portfolio by each dimension, its
charts say their data in words, rows open by keyboard and /#<id> opens a customer. The
screenshots land in the build directory (customer360.png, portfolio.png).

One partition: every customer shares task 0, whose stream time T is day 40 12:00."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import c360test as t  # noqa: E402
from engine_e2e_test import Scenario, at, ts  # noqa: E402
from c360.v1 import campaign_pb2, customer_pb2, invoice_pb2, ticket_pb2  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.dirname(os.path.abspath(t.C360))
PAGE_TEST = os.path.join(ROOT, "tests", "web", "customer360_page.mjs")
PORTFOLIO_TEST = os.path.join(ROOT, "tests", "web", "portfolio_page.mjs")
I, T = invoice_pb2.InvoiceEvent, ticket_pb2.TicketEvent
C = customer_pb2.CustomerProfile


def profile(s, cid, name, segment, revenue, owner, industry, region, **more):
    t.produce(s.p, "c360.customers", cid, C(customer_id=cid, name=name, segment=segment,
                                            annual_revenue_cents=revenue, owner=owner,
                                            industry=industry, region=region, **more))


def crafted(bootstrap):
    s = Scenario(bootstrap)
    # Owner, industry and region give the portfolio several rows by each dimension (they
    # score nothing); "declining" has no profile: the row "" of every dimension.
    profile(s, "worked", "Worked Example", C.SMB, 5_000_000, "Ana Ruiz", "software", "EMEA")
    profile(s, "healthy", "Healthy Corp", C.ENTERPRISE, 200_000_000, "Ben Okafor", "finance", "NA",
            contract_start=ts(at(-400, 0)))
    profile(s, "late", "Late Payer", C.MID_MARKET, 30_000_000, "Ana Ruiz", "retail", "NA")
    profile(s, "support", "Support Heavy", C.ENTERPRISE, 80_000_000, "Chen Wei", "software", "APAC")
    # worked: SPEC 4's worked example (no usage, a credit hold, one survey with NPS 4):
    # health 64 WATCH, risk 31 LOW, drivers usage 17.5, financial 10, engagement 9.
    s.invoice("worked", "", I.CREDIT_HOLD_SET, at(40, 8))
    survey = campaign_pb2.CampaignEvent(event_id="survey-1", customer_id="worked",
                                        campaign_id="NPS-Q3", event_time=ts(at(40, 9)),
                                        kind=campaign_pb2.CampaignEvent.RESPONDED, nps=4)
    s.later(at(40, 9), lambda: t.produce(s.p, "c360.campaigns", "worked", survey, at(40, 9)))
    # healthy: 3 a day on days 31..40 (prior window empty: usage 100): health 96 HEALTHY.
    # Its last record (day 40 12:00) is T.
    for day in range(31, 41):
        s.usage("healthy", at(day, 12), quantity=3, module="dashboards")
    # late: INV-3 (5,000.00) due day 0 12:00, never paid: 40 days overdue on day 40, so
    # financial 60, usage 50 (never used), engagement 70: health 68 WATCH; risk
    # z = -3 + 1.5 x 40/60 + 2 x 0.3 = -1.4 -> 20 LOW.
    s.invoice("late", "INV-3", I.ISSUED, at(0, 9), amount=500_000, due=at(0, 12))
    # support: P1 T-9 created day 39 12:00, unanswered past both SLAs (1 h, 8 h), credit hold
    # at 14:00: support 100 - 50 - 15 = 35, financial 60: health 52 AT_RISK; risk
    # z = -3 + 2 + 0.6 + 1 + 0.5 = 1.1 -> 75 HIGH.
    s.ticket("support", "T-9", T.CREATED, at(39, 12), priority=T.P1)
    s.invoice("support", "", I.CREDIT_HOLD_SET, at(39, 14))
    # declining: 100 on day 5 (prior window), 40 on day 40: change -60%, usage 40: health
    # floor((35x4000 + 25x10000 + 25x10000 + 15x7000 + 5000)/10000) = 75 WATCH; risk
    # z = -3 + 3 x 0.6 + 0.6 = -0.6 -> 35 LOW; USAGE_DROP firing.
    s.usage("declining", at(5, 10), quantity=100, module="reports")
    s.usage("declining", at(40, 10), quantity=40, module="reports")
    s.flush()
    return s


class Customer360Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.broker_cm = t.broker(partitions=1)
        cls.bootstrap, _ = cls.broker_cm.__enter__()
        cls.scenario = crafted(cls.bootstrap)
        cls.engine = t.Engine(cls.bootstrap, cls.tmp.name + "/state", "g-" + uuid.uuid4().hex).start()
        cls.engine.wait_caught_up()
        cls.base = f"http://127.0.0.1:{cls.engine.http_port()}"

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        cls.broker_cm.__exit__(None, None, None)
        cls.tmp.cleanup()

    def get(self, path, status=200):
        code, body = t.http_get(self.base + path)
        self.assertEqual(code, status, f"{path}: {body}")
        return json.loads(body)

    def test_worked_example(self):
        v = self.get("/api/v1/customers/worked")
        self.assertEqual((v["health"], v["status"], v["risk"], v["risk_level"]), (64, "WATCH", 31, "LOW"))
        self.assertEqual(v["components"], {"usage": 50, "support": 100, "financial": 60, "engagement": 40})
        self.assertEqual([(d["component"], d["deficit"]) for d in v["drivers"]],
                         [("usage", 17.5), ("financial", 10), ("engagement", 9)])
        self.assertTrue(all(d["text"] for d in v["drivers"]))
        k = v["kpis"]
        self.assertEqual((k["credit_hold"], k["nps_latest"], k["csat_avg_r90d"]), (True, 4, None))
        self.assertIsNone(k["days_since_last_usage"])
        self.assertEqual(v["lifecycle_stage"], "MATURE")
        self.assertEqual(v["profile"]["annual_revenue_cents"], 5_000_000)
        self.assertEqual(v["stream_time"], "2026-07-11T12:00:00.000Z")
        self.assertGreater(v["staleness_seconds"], 0)
        for field in ["customer_id", "profile", "kpis", "health", "status", "risk", "risk_level",
                      "components", "drivers", "lifecycle_stage", "weekly_tickets",
                      "recent_tickets", "firing_alerts", "stream_time", "staleness_seconds"]:
            self.assertIn(field, v)

    def test_kpis_of_a_declining_customer(self):
        v = self.get("/api/v1/customers/declining")
        k = v["kpis"]
        self.assertEqual((k["usage_events_r30d"], k["usage_events_prior_r30d"]), (40, 100))
        self.assertEqual((k["usage_change_pct"], k["usage_drop_pct"]), (-60.0, 60.0))
        self.assertEqual(k["days_since_last_usage"], 0)
        self.assertEqual(k["top_modules_r30d"], [{"module": "reports", "events": 40}])
        self.assertEqual(len(k["monthly_usage"]), 12)
        self.assertEqual(k["monthly_usage"][-2:], [{"month": "2026-06", "events": 100},
                                                   {"month": "2026-07", "events": 40}])
        self.assertEqual((v["health"], v["status"], v["risk"], v["risk_level"]), (75, "WATCH", 35, "LOW"))
        self.assertEqual(v["components"]["usage"], 40)
        self.assertIsNone(v["profile"])
        self.assertEqual([a["rule"] for a in v["firing_alerts"]], ["USAGE_DROP"])
        # Every SPEC 3 KPI is there, under its name.
        for name in ["usage_events_r30d", "usage_events_prior_r30d", "usage_change_pct",
                     "usage_drop_pct", "days_since_last_usage", "top_modules_r30d",
                     "monthly_usage", "tickets_created_r30d", "tickets_by_priority_r30d",
                     "open_tickets", "open_p1", "open_p2", "sla_breached_r30d",
                     "sla_breach_rate_pct_r30d", "avg_response_hours_r30d",
                     "avg_resolution_hours_r30d", "recurring_issues", "csat_avg_r90d",
                     "nps_latest", "overdue_invoices", "overdue_amount_cents", "days_overdue",
                     "disputed_invoices", "credit_hold", "campaigns_sent_r90d",
                     "campaigns_engaged_r90d", "response_rate_r90d", "last_interaction_days",
                     "days_to_renewal", "lifecycle_stage"]:
            self.assertIn(name, k)

    def test_support_heavy_customer(self):
        v = self.get("/api/v1/customers/support")
        self.assertEqual((v["health"], v["status"], v["risk"], v["risk_level"]), (52, "AT_RISK", 75, "HIGH"))
        self.assertEqual(v["kpis"]["tickets_by_priority_r30d"], {"P1": 1, "P2": 0, "P3": 0, "P4": 0})
        self.assertEqual(v["kpis"]["sla_breach_rate_pct_r30d"], 100.0)
        ticket = v["recent_tickets"][0]
        self.assertEqual((ticket["id"], ticket["priority"], ticket["status"], ticket["sla"]),
                         ("T-9", "P1", "OPEN", "BREACHED"))
        self.assertEqual(v["weekly_tickets"]["weeks"][-1]["created"], 1)
        self.assertEqual(v["weekly_tickets"]["weeks"][-1]["breached"], 1)
        # Scored 78 from its profile on day 0 (usage 50, support 100, financial 100,
        # engagement 70): health_change_7d = 52 - 78 = -26 <= -15, so HEALTH_DROP fires, and
        # CREDIT_HOLD with the hold.
        self.assertEqual(v["kpis"]["health_change_7d"], -26)
        self.assertEqual(sorted(a["rule"] for a in v["firing_alerts"]),
                         ["CHURN_RISK_HIGH", "CREDIT_HOLD", "HEALTH_DROP", "HEALTH_LOW",
                          "SLA_BREACH", "SLA_BREACH"])
        alerts = self.get("/api/v1/customers/support/alerts")
        self.assertEqual(alerts["firing"][0]["severity"], "CRITICAL")
        self.assertEqual(len(alerts["history"]), 6)
        # Each names the record that caused it (for the SLA timers, the one that moved T past
        # the deadline: the credit hold at 14:00 and the next record after 20:00).
        for a in alerts["history"]:
            self.assertIn(a["source"]["topic"], t.INPUT_TOPICS)
            self.assertGreaterEqual(a["source"]["offset"], 0)
        timeline = self.get("/api/v1/customers/support/timeline")
        self.assertEqual(timeline["days"][-1], {"date": "2026-07-11", "health": 52, "risk": 75, "status": "AT_RISK"})
        causes = [(e["type"], e.get("to") or e.get("rule"), e["cause"]["text"]) for e in timeline["events"]]
        self.assertIn(("alert", "SLA_BREACH", "response SLA deadline of ticket T-9 passed"), causes)
        self.assertIn(("status_change", "AT_RISK", "CREDIT_HOLD_SET on the account"), causes)
        recs = self.get("/api/v1/customers/support/recommendations")["recommendations"]
        self.assertEqual(recs[0]["entity_id"], "T-9")
        self.assertIn("Escalate ticket T-9", recs[0]["action"])
        self.assertIn("Review the credit hold with finance", [r["action"] for r in recs])

    def test_late_payer_recommendation(self):
        v = self.get("/api/v1/customers/late")
        self.assertEqual((v["health"], v["status"], v["risk"]), (68, "WATCH", 20))
        self.assertEqual((v["kpis"]["days_overdue"], v["kpis"]["overdue_amount_cents"]), (40, 500_000))
        recs = self.get("/api/v1/customers/late/recommendations")["recommendations"]
        self.assertEqual((recs[0]["action"], recs[0]["entity_id"], recs[0]["priority"]),
                         ("Call billing about invoice INV-3", "INV-3", "high"))

    def test_errors(self):
        for path in ["/api/v1/customers/nobody", "/api/v1/customers/nobody/alerts"]:
            body = self.get(path, status=404)
            self.assertEqual(body["error"], "customer_not_found")
            self.assertIn("nobody", body["detail"])
        for query, name in [("limit=abc", "limit"), ("limit=-5", "limit"), ("status=PURPLE", "status"),
                            ("segment=HUGE", "segment"), ("risk=EXTREME", "risk"), ("sort=mood", "sort"),
                            ("cursor=nonsense", "cursor")]:
            body = self.get("/api/v1/customers?" + query, status=400)
            self.assertEqual(set(body), {"error", "detail"})
            self.assertIn(name, body["detail"])

    def test_list_and_summary(self):
        ids = lambda q: [c["customer_id"] for c in self.get("/api/v1/customers" + q)["customers"]]  # noqa: E731
        self.assertEqual(ids(""), ["support", "worked", "late", "declining", "healthy"])
        self.assertEqual(ids("?status=WATCH"), ["worked", "late", "declining"])
        self.assertEqual(ids("?status=AT_RISK,CRITICAL&sort=-revenue"), ["support"])
        self.assertEqual(ids("?segment=ENTERPRISE&sort=-revenue"), ["healthy", "support"])
        self.assertEqual(ids("?risk=HIGH"), ["support"])
        self.assertEqual(ids("?sort=-health&limit=2"), ["healthy", "declining"])
        seen, cursor = [], None
        while True:
            page = self.get("/api/v1/customers?sort=id&limit=2" + (f"&cursor={cursor}" if cursor else ""))
            seen += [c["customer_id"] for c in page["customers"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, sorted(["worked", "healthy", "late", "support", "declining"]))
        s = self.get("/api/v1/summary")
        self.assertEqual(s["by_status"], {"HEALTHY": 1, "WATCH": 3, "AT_RISK": 1, "CRITICAL": 0})
        self.assertEqual(s["by_risk_level"], {"LOW": 4, "MEDIUM": 0, "HIGH": 1})
        self.assertEqual(s["average_health"], (64 + 96 + 68 + 52 + 75) / 5)
        self.assertEqual(s["revenue_at_risk_cents"], 80_000_000)
        self.assertEqual(s["top_customers_by_revenue"][0]["customer_id"], "healthy")
        self.assertEqual(s["top_at_risk_by_revenue"][0]["customer_id"], "support")
        self.assertEqual(s["alerts_last_24h"]["by_rule"]["SLA_BREACH"], 2)
        self.assertEqual({k: s["tasks"][k] for k in ("owned", "not_owned", "total", "from_members")},
                         {"owned": [0], "not_owned": [], "total": 1, "from_members": {}})
        self.assertEqual(s["tasks"]["engine"], self.base.split("//", 1)[1])

    def test_page_is_self_contained(self):
        code, html = t.http_get(self.base + "/")
        self.assertEqual(code, 200)
        self.assertIn("Customer 360", html)
        self.assertNotIn('src="http', html)
        self.assertNotIn('href="http', html)
        code, js = t.http_get(self.base + "/assets/chart.umd.min.js")
        self.assertEqual(code, 200)
        self.assertIn("Chart", js[:2000])

    def node_page_test(self, *args):
        node = shutil.which("node")
        self.assertIsNotNone(node, "node is missing: run scripts/setup")
        self.assertTrue(os.path.exists("/usr/bin/chromium"), "chromium is missing: run scripts/setup")
        return subprocess.Popen([node, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def test_z_portfolio_page_in_a_browser(self):
        """Runs before the live change to "late": reads only."""
        screenshot = os.path.join(BUILD, "portfolio.png")
        proc = self.node_page_test(PORTFOLIO_TEST, self.base, screenshot)
        try:
            output, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 0, output)
        self.assertTrue(os.path.getsize(screenshot) > 50_000)

    def test_zz_page_in_a_browser_updates_live(self):
        """Runs last: it changes "late" (a credit hold: financial 60 -> 20, health 58)."""
        screenshot = os.path.join(BUILD, "customer360.png")
        proc = self.node_page_test(PAGE_TEST, self.base, "late", "AT_RISK", screenshot)
        try:
            output = []
            for line in proc.stdout:
                output.append(line)
                if line.startswith("READY_FOR_EVENT"):
                    self.assertEqual(json.loads(line.split(" ", 1)[1]), {"health": 68, "status": "WATCH"})
                    hold = invoice_pb2.InvoiceEvent(event_id="live-hold", customer_id="late",
                                                    kind=I.CREDIT_HOLD_SET, event_time=ts(at(40, 12, 1)))
                    t.produce(self.scenario.p, "c360.invoices", "late", hold, at(40, 12, 1))
                    self.assertEqual(self.scenario.p.flush(10), 0)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 0, "".join(output))
        self.assertTrue(os.path.getsize(screenshot) > 50_000)
        v = self.get("/api/v1/customers/late")
        self.assertEqual((v["health"], v["status"]), (58, "AT_RISK"))
        self.assertIn("HEALTH_LOW", [a["rule"] for a in v["firing_alerts"]])

    def test_zzz_history_survives_a_restart(self):
        """The timeline and alert history live in the state: a restart keeps them."""
        before = [self.get(f"/api/v1/customers/{c}/{part}") for c in ("support", "late")
                  for part in ("timeline", "alerts")]
        before_base = self.base
        self.assertEqual(self.engine.stop(), 0)
        cls = type(self)
        cls.engine = t.Engine(self.bootstrap, self.tmp.name + "/state", "g-" + uuid.uuid4().hex).start()
        cls.base = f"http://127.0.0.1:{cls.engine.http_port()}"
        t.wait_for(lambda: t.http_get(self.base + "/readyz")[0] == 200, 60, "the restarted engine")
        after = [self.get(f"/api/v1/customers/{c}/{part}") for c in ("support", "late")
                 for part in ("timeline", "alerts")]
        # Served by the engine that owns them, each time (its address changed).
        for view, base in [(v, before_base) for v in before] + [(v, self.base) for v in after]:
            served = view.pop("served_by")
            self.assertEqual((served["role"], served["engine"]), ("owner", base.split("//", 1)[1]))
        self.assertEqual(after, before)
        self.assertEqual(after[2]["days"][-1]["status"], "AT_RISK")  # late, after the live hold


if __name__ == "__main__":
    unittest.main(verbosity=2)
