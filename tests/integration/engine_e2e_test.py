"""The engine end to end on the embedded broker, with crafted customers whose alerts are
computed by hand (comments give the arithmetic), exact dead letters per reason, identical
alert ids on replay, and a restart that neither repeats nor skips an event."""

import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

from google.protobuf import json_format

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
from c360.v1 import (alert_pb2, campaign_pb2, customer_pb2, invoice_pb2,  # noqa: E402
                     ticket_pb2, usage_pb2)

A = alert_pb2.AlertEvent
DAY0 = int(datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc).timestamp() * 1000)
HOUR = 3600 * 1000
DAY = 24 * HOUR


def at(day, hour=12, minute=0):
    return DAY0 + day * DAY + hour * HOUR + minute * 60 * 1000


def ts(ms):
    from google.protobuf.timestamp_pb2 import Timestamp
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def alert_id(customer, rule, key):
    return hashlib.sha256(f"{customer}|{rule}|{key}".encode()).hexdigest()[:16]


class Scenario:
    """Builds the crafted input; remembers what the dead-letter topic must hold. Records are
    produced in event-time order, as a real producer emits them (within a partition the
    engine applies records in offset order)."""

    def __init__(self, bootstrap):
        self.p = t.producer(bootstrap)
        self.n = 0
        self.bad = {}  # reason -> count
        self.pending = []  # (time, sequence, produce call)

    def later(self, ms, call):
        self.pending.append((ms, len(self.pending), call))

    def eid(self):
        self.n += 1
        return f"e{self.n}"

    def usage(self, customer, ms, quantity=1, module="reports"):
        e = usage_pb2.UsageEvent(event_id=self.eid(), customer_id=customer, event_time=ts(ms),
                                 module=module, quantity=quantity)
        self.later(ms, lambda: t.produce(self.p, "c360.usage", customer, e, ms))

    def ticket(self, customer, ticket_id, kind, ms, priority=ticket_pb2.TicketEvent.P4,
               csat=None):
        e = ticket_pb2.TicketEvent(event_id=self.eid(), customer_id=customer,
                                   ticket_id=ticket_id, kind=kind, priority=priority,
                                   event_time=ts(ms))
        if csat is not None:
            e.csat = csat
        self.later(ms, lambda: t.produce(self.p, "c360.tickets", customer, e, ms))

    def invoice(self, customer, invoice_id, kind, ms, amount=100000, due=None, paid=None,
                event_id=None):
        e = invoice_pb2.InvoiceEvent(event_id=event_id or self.eid(), customer_id=customer,
                                     invoice_id=invoice_id, kind=kind, event_time=ts(ms),
                                     amount_cents=amount)
        if due is not None:
            e.due_date.CopyFrom(ts(due))
        if paid is not None:
            e.paid_cents = paid
        self.later(ms, lambda: t.produce(self.p, "c360.invoices", customer, e, ms))

    def survey_json(self, customer, campaign_id, csat, ms):
        e = campaign_pb2.CampaignEvent(event_id=self.eid(), customer_id=customer,
                                       campaign_id=campaign_id,
                                       kind=campaign_pb2.CampaignEvent.RESPONDED,
                                       event_time=ts(ms), csat=csat)
        value = json_format.MessageToJson(e, preserving_proto_field_name=True).encode()
        self.later(ms, lambda: self.p.produce("c360.campaigns", key=customer, value=value,
                                              timestamp=ms,
                                              headers=[("content-type", b"application/json")]))

    def dead(self, reason, topic, key, value, ms, headers=None):
        self.bad[reason] = self.bad.get(reason, 0) + 1
        self.later(ms, lambda: self.p.produce(topic, key=key, value=value, timestamp=ms,
                                              headers=headers or []))

    def flush(self):
        for _, _, call in sorted(self.pending, key=lambda x: x[:2]):
            call()
        self.pending = []
        assert self.p.flush(30) == 0


def crafted_input(bootstrap):
    s = Scenario(bootstrap)
    T, I = ticket_pb2.TicketEvent, invoice_pb2.InvoiceEvent
    t.produce(s.p, "c360.customers", "cust-d", customer_pb2.CustomerProfile(
        customer_id="cust-d", name="Delta Corp", annual_revenue_cents=5_000_000,
        segment=customer_pb2.CustomerProfile.MID_MARKET, industry="logistics", region="EMEA",
        owner="Ana Ruiz"))

    # cust-z moves the clock: one usage event a day at 12:00, days 0..75.
    for day in range(76):
        s.usage("cust-z", at(day, 12))

    # cust-a: 10 a day on days 0..59 at 10:00, silent on 60..69, 60 on day 70, 10 a day
    # after. On day D in 60..89, R30D holds 10 x (89 - D) and prior R30D 300, so the drop
    # is (300 - 10 (89 - D)) / 300: 26.7% on day 67, 30% on day 68 -> USAGE_DROP fires
    # at the day-68 re-score (caused by cust-z's 12:00 record). On day 70 the day change
    # sees 190 (36.7%), then cust-a's 60 makes it 250: 16.7% < 20% -> RESOLVED.
    for day in range(60):
        s.usage("cust-a", at(day, 10), quantity=10)
    s.usage("cust-a", at(70, 10), quantity=60)
    for day in range(71, 76):
        s.usage("cust-a", at(day, 10), quantity=10)

    # cust-b: P1 created day 2 09:00, response due 10:00, first response 11:00. Moving T to
    # 11:00 fires the 10:00 timer first: SLA_BREACH/response, CRITICAL (P1), observed 1 h.
    # Resolved at 15:00, before the 17:00 resolution deadline: no second breach.
    s.ticket("cust-b", "T-B1", T.CREATED, at(2, 9), priority=T.P1)
    s.ticket("cust-b", "T-B1", T.FIRST_RESPONSE, at(2, 11), priority=T.P1)
    s.ticket("cust-b", "T-B1", T.RESOLVED, at(2, 15), priority=T.P1)

    # cust-c: three P4 tickets rated 3, 3, 4 on days 3..5: 10/3 = 3.33 < 4.0 with 3
    # ratings -> CSAT_LOW fires on day 5. Surveys (JSON) rated 5 on days 6..9: 25/6 = 4.17
    # after three, 30/7 = 4.29 >= 4.2 after the fourth -> RESOLVED on day 9.
    for i, (day, csat) in enumerate([(3, 3), (4, 3), (5, 4)]):
        tid = f"T-C{i}"
        s.ticket("cust-c", tid, T.CREATED, at(day, 9))
        s.ticket("cust-c", tid, T.FIRST_RESPONSE, at(day, 9, 30))
        s.ticket("cust-c", tid, T.RESOLVED, at(day, 10), csat=csat)
    for day in range(6, 10):
        s.survey_json("cust-c", f"S-{day}", 5, at(day, 14))

    # cust-d (no usage: usage 50; support 100; engagement 70): four invoices disputed
    # (financial 60) then a credit hold at day 10 11:00: financial 100 - 40 - 40 = 20,
    # health = (35*5000 + 25*10000 + 25*2000 + 15*7000 + 5000) / 10000 = 58 -> HEALTH_LOW
    # WARNING. Day 11 10:00 one dispute resolved: financial 30, health 61 (between 60 and
    # 65: nothing). 11:00 hold released: financial 70, health 71 -> RESOLVED.
    for i in range(4):
        s.invoice("cust-d", f"INV-D{i}", I.ISSUED, at(10, 9, i), due=at(200, 0))
    for i in range(4):
        s.invoice("cust-d", f"INV-D{i}", I.DISPUTED, at(10, 10, i))
    s.invoice("cust-d", "", I.CREDIT_HOLD_SET, at(10, 11))
    s.invoice("cust-d", "INV-D0", I.DISPUTE_RESOLVED, at(11, 10))
    s.invoice("cust-d", "", I.CREDIT_HOLD_RELEASED, at(11, 11))

    # cust-y: an invoice of 10.00 due day 30 00:00, paid 6.00 on day 5 by an event that is
    # delivered twice (same event_id): applied once, 4.00 stay unpaid. T moves past the due
    # date at the first record of day 30 and the timer fires at T = the deadline:
    # INVOICE_OVERDUE, WARNING (below 100,000 USD). Applied twice, nothing would be due.
    s.invoice("cust-y", "INV-Y1", I.ISSUED, at(1, 9), amount=1000, due=at(30, 0))
    for _ in range(2):
        s.invoice("cust-y", "INV-Y1", I.PAID, at(5, 9), amount=0, paid=600,
                  event_id="pay-once")

    # Dead letters, one per reason (too_late sits behind cust-z's records in its partition).
    good = usage_pb2.UsageEvent(customer_id="cust-x", event_time=ts(at(20)))
    s.dead("oversize", "c360.usage", "cust-x", b"\x0a" + b"x" * (1 << 20), at(20))
    s.dead("malformed", "c360.tickets", "cust-x", b"\xff\xff\xff\xff", at(20))
    s.dead("missing_field", "c360.invoices", "cust-x", invoice_pb2.InvoiceEvent(
        customer_id="cust-x", invoice_id="I", kind=I.ISSUED).SerializeToString(), at(20))
    s.dead("key_mismatch", "c360.usage", "someone-else", good.SerializeToString(), at(20))
    s.dead("invalid_value", "c360.campaigns", "cust-x", campaign_pb2.CampaignEvent(
        event_id="x", customer_id="cust-x", campaign_id="C", kind=campaign_pb2.CampaignEvent.RESPONDED,
        nps=11).SerializeToString(), at(20))
    future = usage_pb2.UsageEvent(customer_id="cust-x",
                                  event_time=ts(int(time.time() * 1000) + 2 * HOUR))
    s.dead("future_timestamp", "c360.usage", "cust-x", future.SerializeToString(), at(20))
    s.flush()
    # Produced last: it reaches the head of its partition after its predecessors, when T is
    # on day 75 and day -30 is before D - 89.
    late = usage_pb2.UsageEvent(customer_id="cust-z", event_time=ts(at(-30)))
    s.dead("too_late", "c360.usage", "cust-z", late.SerializeToString(), at(-30))
    s.flush()
    return s


def alerts_of(bootstrap):
    out = []
    for m in t.read_all(bootstrap, "c360.alerts"):
        out.append(A.FromString(m.value()))
    return out


class EngineEndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        # One partition: every crafted customer shares task 0 with cust-z, whose records
        # move the stream time every day.
        cls.broker_cm = t.broker(partitions=1)
        cls.bootstrap, _ = cls.broker_cm.__enter__()
        cls.scenario = crafted_input(cls.bootstrap)
        cls.engine = t.Engine(cls.bootstrap, cls.tmp.name + "/state", "g-" + uuid.uuid4().hex)
        cls.engine.start()
        cls.engine.wait_caught_up()
        cls.alerts = alerts_of(cls.bootstrap)

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        cls.broker_cm.__exit__(None, None, None)
        cls.tmp.cleanup()

    def by_customer(self, customer):
        return [(a.rule, a.state, a.severity) for a in self.alerts if a.customer_id == customer]

    def one(self, customer, rule, state):
        found = [a for a in self.alerts
                 if a.customer_id == customer and a.rule == rule and a.state == state]
        self.assertEqual(len(found), 1, f"{customer} {rule} {state}: {found}")
        return found[0]

    def test_usage_drop_then_recovery(self):
        self.assertEqual(self.by_customer("cust-a"), [
            (A.USAGE_DROP, A.FIRING, A.WARNING), (A.USAGE_DROP, A.RESOLVED, A.WARNING)])
        fired = self.one("cust-a", A.USAGE_DROP, A.FIRING)
        self.assertAlmostEqual(fired.observed_value, 30.0)
        self.assertEqual(fired.threshold, 30)
        self.assertEqual(fired.stream_time.ToMilliseconds(), at(68, 12))
        self.assertEqual(fired.alert_id, alert_id("cust-a", "USAGE_DROP", 1))
        resolved = self.one("cust-a", A.USAGE_DROP, A.RESOLVED)
        self.assertAlmostEqual(resolved.observed_value, 100 * 50 / 300)
        self.assertEqual(resolved.stream_time.ToMilliseconds(), at(70, 10))
        self.assertEqual(resolved.alert_id, fired.alert_id)

    def test_p1_late_first_response(self):
        self.assertEqual(self.by_customer("cust-b"), [(A.SLA_BREACH, A.FIRING, A.CRITICAL)])
        a = self.one("cust-b", A.SLA_BREACH, A.FIRING)
        self.assertEqual(a.entity_id, "T-B1")
        self.assertEqual(a.sla_kind, A.RESPONSE)
        self.assertEqual(a.event_time.ToMilliseconds(), at(2, 10))  # the deadline
        self.assertAlmostEqual(a.observed_value, 1.0)
        self.assertEqual(a.alert_id, alert_id("cust-b", "SLA_BREACH", "T-B1/response"))

    def test_csat_low_then_recovered(self):
        self.assertEqual(self.by_customer("cust-c"), [
            (A.CSAT_LOW, A.FIRING, A.WARNING), (A.CSAT_LOW, A.RESOLVED, A.WARNING)])
        fired = self.one("cust-c", A.CSAT_LOW, A.FIRING)
        self.assertAlmostEqual(fired.observed_value, 10 / 3)
        self.assertEqual(fired.stream_time.ToMilliseconds(), at(5, 10))
        resolved = self.one("cust-c", A.CSAT_LOW, A.RESOLVED)
        self.assertAlmostEqual(resolved.observed_value, 30 / 7)
        self.assertEqual(resolved.stream_time.ToMilliseconds(), at(9, 14))

    def test_health_below_60_then_back_to_65(self):
        # The hold is an alert of its own (CREDIT_HOLD), and health fell 20 points in a week
        # (78 before day 10, 58 on it: HEALTH_DROP); both end with the hold on day 11.
        self.assertEqual(self.by_customer("cust-d"), [
            (A.HEALTH_LOW, A.FIRING, A.WARNING), (A.HEALTH_DROP, A.FIRING, A.WARNING),
            (A.CREDIT_HOLD, A.FIRING, A.WARNING), (A.HEALTH_LOW, A.RESOLVED, A.WARNING),
            (A.HEALTH_DROP, A.RESOLVED, A.WARNING), (A.CREDIT_HOLD, A.RESOLVED, A.WARNING)])
        drop = self.one("cust-d", A.HEALTH_DROP, A.FIRING)
        self.assertEqual(drop.observed_value, -20)  # 58 - 78
        self.assertEqual(drop.threshold, -15)
        self.assertEqual(drop.alert_id, alert_id("cust-d", "HEALTH_DROP", 1))
        self.assertEqual(self.one("cust-d", A.HEALTH_DROP, A.RESOLVED).observed_value, -7)  # 71
        hold = self.one("cust-d", A.CREDIT_HOLD, A.FIRING)
        self.assertEqual(hold.stream_time.ToMilliseconds(), at(10, 11))
        self.assertEqual(self.one("cust-d", A.CREDIT_HOLD, A.RESOLVED).stream_time.ToMilliseconds(),
                         at(11, 11))
        # The routing context, from the profile, on every alert.
        for a in self.alerts:
            if a.customer_id != "cust-d":
                continue
            self.assertEqual((a.segment, a.industry, a.region, a.owner, a.annual_revenue_cents),
                             (customer_pb2.CustomerProfile.MID_MARKET, "logistics", "EMEA",
                              "Ana Ruiz", 5_000_000))
            self.assertNotEqual(a.lifecycle_stage, 0)
            self.assertEqual(a.url, "")  # no public_url configured
        fired = self.one("cust-d", A.HEALTH_LOW, A.FIRING)
        self.assertEqual(fired.health, 58)
        self.assertEqual(fired.customer_name, "Delta Corp")
        self.assertEqual(fired.status, 3)  # AT_RISK
        self.assertEqual(fired.drivers[0].component, "financial")
        self.assertIn("on credit hold", fired.drivers[0].text)
        self.assertEqual(fired.stream_time.ToMilliseconds(), at(10, 11))
        resolved = self.one("cust-d", A.HEALTH_LOW, A.RESOLVED)
        self.assertEqual(resolved.health, 71)
        self.assertEqual(resolved.stream_time.ToMilliseconds(), at(11, 11))

    def test_redelivered_payment_applies_once_and_invoice_goes_overdue(self):
        self.assertEqual(self.by_customer("cust-y"), [(A.INVOICE_OVERDUE, A.FIRING, A.WARNING)])
        a = self.one("cust-y", A.INVOICE_OVERDUE, A.FIRING)
        self.assertEqual(a.entity_id, "INV-Y1")
        self.assertAlmostEqual(a.observed_value, 4.0)
        self.assertEqual(a.event_time.ToMilliseconds(), at(30, 0))
        self.assertEqual(a.stream_time.ToMilliseconds(), at(30, 0))

    def test_quiet_customers_raise_nothing(self):
        self.assertEqual(self.by_customer("cust-z"), [])
        self.assertEqual(len(self.alerts), 12)

    def test_dead_letters_exact_per_reason(self):
        letters = t.read_all(self.bootstrap, "c360.deadletter")
        reasons = {}
        for m in letters:
            h = dict(m.headers())
            reasons[h["c360-reason"].decode()] = reasons.get(h["c360-reason"].decode(), 0) + 1
            for name in ("c360-source-topic", "c360-source-partition", "c360-source-offset",
                         "c360-detail"):
                self.assertIn(name, h)
        self.assertEqual(reasons, self.scenario.bad)

    def test_health_snapshots_are_keyed_and_typed(self):
        from c360.v1 import health_pb2
        snaps = [health_pb2.HealthSnapshot.FromString(m.value())
                 for m in t.read_all(self.bootstrap, "c360.health")]
        last = {}
        for s in snaps:
            last[s.customer_id] = s
        self.assertEqual(last["cust-d"].health, 71)
        self.assertEqual(last["cust-y"].kpis.overdue_amount_cents, 400)
        self.assertEqual(last["cust-z"].kpis.usage_events_r30d, 30)

    def test_replay_into_fresh_state_gives_identical_alerts(self):
        with tempfile.TemporaryDirectory() as tmp:
            replay = t.Engine(self.bootstrap, tmp + "/state", "g-" + uuid.uuid4().hex)
            replay.start()
            try:
                replay.wait_caught_up()
            finally:
                replay.stop()
        ids = [(a.alert_id, a.state, a.severity) for a in alerts_of(self.bootstrap)]
        first = ids[:len(self.alerts)]
        self.assertEqual(sorted(ids[len(self.alerts):]), sorted(first))
        self.assertEqual(len(ids), 2 * len(self.alerts))


class RestartTest(unittest.TestCase):
    def test_kill_and_restart_neither_repeats_nor_skips(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=4) as (bootstrap, _):
            # The input arrives while the engines run (about 73,000 records at 3,000 a
            # second), so each engine is stopped in the middle of a stream, whatever the
            # engine's speed: produced all at once, the input is read in well under a second
            # and "part way" became a race the poll could lose.
            gen = subprocess.Popen(
                [t.C360, "gen", "--brokers", bootstrap, "--customers", "150", "--days", "40",
                 "--start", "2026-06-01", "--seed", "9", "--rate", "3000"],
                stdout=subprocess.DEVNULL, stderr=open(tmp + "/gen.log", "w"))
            try:
                config = tmp + "/c360.yaml"
                with open(config, "w") as f:
                    # A cache far smaller than the 150 customers: state is evicted after
                    # commits and read back, and must still add up exactly.
                    f.write("kafka:\n  session.timeout.ms: 6000\n  heartbeat.interval.ms: 1000\n"
                            "engine:\n  batch_max_records: 2000\n  cache_max_customers: 10\n  threads: 2\n")
                group = "g-" + uuid.uuid4().hex
                state = tmp + "/state"
                stopped_at = []
                for sig in (signal.SIGKILL, signal.SIGTERM):
                    before = max(t.applied_offsets(state)[0], 0)
                    engine = t.Engine(bootstrap, state, group, config=config).start()
                    # Stop it once it has committed more than the previous engine did.
                    stopped_at.append(t.wait_for(
                        lambda: (lambda n: n if n > before else 0)(t.applied_offsets(state)[0]),
                        60, "the engine to commit more of the input"))
                    engine.stop(sig)
                self.assertEqual(gen.wait(timeout=120), 0, open(tmp + "/gen.log").read())
            finally:
                if gen.poll() is None:
                    gen.kill()
                    gen.wait()
            total = t.end_offsets(bootstrap, t.INPUT_TOPICS)
            # Both stops came part way through the input.
            self.assertLess(max(stopped_at), total)
            engine = t.Engine(bootstrap, state, group, config=config).start()
            engine.wait_caught_up()
            engine.stop()

            # Expected from the input itself: usage per customer and event_ids per entity.
            usage, entities = {}, {}
            from c360.v1 import campaign_pb2 as cp, invoice_pb2 as ip, ticket_pb2 as tp
            for m in t.read_all(bootstrap, "c360.usage"):
                u = usage_pb2.UsageEvent.FromString(m.value())
                usage[u.customer_id] = usage.get(u.customer_id, 0) + (u.quantity or 1)
            for topic, schema, field in (("c360.tickets", tp.TicketEvent, "ticket_id"),
                                         ("c360.invoices", ip.InvoiceEvent, "invoice_id"),
                                         ("c360.campaigns", cp.CampaignEvent, "campaign_id")):
                for m in t.read_all(bootstrap, topic):
                    e = schema.FromString(m.value())
                    if getattr(e, field):
                        key = (e.customer_id, getattr(e, field))
                        entities[key] = entities.get(key, 0) + 1
            dump = [d for d in t.dump_state(state) if d["kind"] == "customer"]
            self.assertEqual(len(dump), 150)
            got_usage = {d["customer_id"]: d["usage_total"] for d in dump if d["usage_total"]}
            self.assertEqual(got_usage, usage)
            got_entities = {(d["customer_id"], k): v for d in dump for k, v in d["entities"].items()}
            self.assertEqual(got_entities, entities)


if __name__ == "__main__":
    unittest.main(verbosity=2)
