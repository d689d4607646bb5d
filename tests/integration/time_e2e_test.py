"""Time with `--clock event` on the embedded broker (SPEC section 2): timers fire at their
deadline when other customers' records move stream time, a silent customer is re-scored
every day until HEALTH_LOW fires on the day the arithmetic says, a contract coming due
raises RENEWAL_DUE, and an out-of-order event within retention is applied to its own day.
One partition, so that every customer shares task 0 with the clock customer."""

import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import c360test as t  # noqa: E402
from engine_e2e_test import A, Scenario, alert_id, alerts_of, at, ts  # noqa: E402
from c360.v1 import customer_pb2, health_pb2, invoice_pb2, ticket_pb2  # noqa: E402


def time_input(bootstrap):
    s = Scenario(bootstrap)
    T, I = ticket_pb2.TicketEvent, invoice_pb2.InvoiceEvent
    for day in range(77):  # the clock: one record a day at 12:00, days 0..76
        s.usage("cust-z", at(day, 12))

    # cust-s: 10 a day on days 0..59, then silent; on credit hold from day 0, so that
    # health = floor((35 U + 25*10000 + 25*6000 + 15*7000 + 5000) / 10000) with U (in
    # hundredths) = 10000 (89 - D) / 30 - 300 max(0, D - 66) on day D >= 60:
    #   D=74: U = 5000 - 2400 = 2600 -> 60 (not below 60)
    #   D=75: U = 4666.67 - 2700 -> 1967 -> floor(578845 / 10000) = 57 -> HEALTH_LOW.
    # USAGE_DROP fires first, on day 68 (210 vs 300: 30%).
    s.invoice("cust-s", "", I.CREDIT_HOLD_SET, at(0, 8))
    for day in range(60):
        s.usage("cust-s", at(day, 10), quantity=10)

    # cust-r: contract ends on day 100: days_to_renewal = 100 - D <= 90 from day 10. Its one
    # usage event (day 1) leaves R30D on day 31 while still in prior R30D (days D-59..D-30)
    # until day 60: usage_drop 100%, z = -3 + 3 + 2 x 0.3 + 0.5 = 1.1, risk 75 ->
    # CHURN_RISK_HIGH on day 31; on day 61 the prior window is empty, z = -1.9, risk 13 ->
    # RESOLVED.
    t.produce(s.p, "c360.customers", "cust-r", customer_pb2.CustomerProfile(
        customer_id="cust-r", name="Renewal Inc", contract_end=ts(at(100, 0))))
    s.usage("cust-r", at(1, 10))

    # cust-i: invoice due day 10 00:00, paid day 12 09:00: overdue when T passes the due
    # date (the first record after it: cust-s at day 10 10:00), resolved when paid.
    s.invoice("cust-i", "INV-I1", I.ISSUED, at(1, 9), amount=50000, due=at(10, 0))
    s.invoice("cust-i", "INV-I1", I.PAID, at(12, 9), amount=0)

    # cust-p: a P3 ticket never answered: response due day 3 17:00, resolution day 6 09:00.
    s.ticket("cust-p", "T-P1", T.CREATED, at(3, 9), priority=T.P3)

    # cust-o: 5 on day 50; then, produced last, 3 dated day 20 (30 days late, within the
    # 90 days kept): applied to day 20, not dead-lettered.
    s.usage("cust-o", at(50, 10), quantity=5)
    s.flush()
    s.usage("cust-o", at(20, 10), quantity=3)
    s.flush()
    return s


class TimeEndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.broker_cm = t.broker(partitions=1)
        cls.bootstrap, _ = cls.broker_cm.__enter__()
        time_input(cls.bootstrap)
        cls.state = cls.tmp.name + "/state"
        engine = t.Engine(cls.bootstrap, cls.state, "g-" + uuid.uuid4().hex).start()
        try:
            engine.wait_caught_up()
        finally:
            engine.stop()
        cls.alerts = alerts_of(cls.bootstrap)
        cls.snapshots = [health_pb2.HealthSnapshot.FromString(m.value())
                         for m in t.read_all(cls.bootstrap, "c360.health")]

    @classmethod
    def tearDownClass(cls):
        cls.broker_cm.__exit__(None, None, None)
        cls.tmp.cleanup()

    def of(self, customer):
        return [a for a in self.alerts if a.customer_id == customer]

    def test_unanswered_p3_breaches_at_each_deadline(self):
        alerts = self.of("cust-p")
        self.assertEqual([(a.rule, a.sla_kind, a.severity) for a in alerts],
                         [(A.SLA_BREACH, A.RESPONSE, A.INFO), (A.SLA_BREACH, A.RESOLUTION, A.INFO)])
        self.assertEqual(alerts[0].stream_time.ToMilliseconds(), at(3, 17))
        self.assertEqual(alerts[0].event_time.ToMilliseconds(), at(3, 17))
        self.assertAlmostEqual(alerts[0].observed_value, 8.0)
        self.assertEqual(alerts[1].stream_time.ToMilliseconds(), at(6, 9))
        self.assertEqual(alerts[1].alert_id, alert_id("cust-p", "SLA_BREACH", "T-P1/resolution"))

    def test_invoice_overdue_at_due_date_resolved_when_paid(self):
        alerts = self.of("cust-i")
        self.assertEqual([(a.rule, a.state) for a in alerts],
                         [(A.INVOICE_OVERDUE, A.FIRING), (A.INVOICE_OVERDUE, A.RESOLVED)])
        self.assertEqual(alerts[0].stream_time.ToMilliseconds(), at(10, 0))
        self.assertEqual(alerts[0].severity, A.WARNING)
        self.assertEqual(alerts[1].stream_time.ToMilliseconds(), at(12, 9))
        self.assertEqual(alerts[0].alert_id, alerts[1].alert_id)

    def test_silent_customer_falls_day_by_day_until_health_low(self):
        # The hold is CREDIT_HOLD from day 0 on. Health 77 on day 66 ... 60 on day 74 (the
        # formula above; 86 until day 59): health_change_7d reaches -15 on day 72 (64 - 79):
        # HEALTH_DROP, between USAGE_DROP and HEALTH_LOW.
        alerts = self.of("cust-s")
        self.assertEqual([(a.rule, a.state, a.severity) for a in alerts],
                         [(A.CREDIT_HOLD, A.FIRING, A.WARNING), (A.USAGE_DROP, A.FIRING, A.WARNING),
                          (A.HEALTH_DROP, A.FIRING, A.WARNING), (A.HEALTH_LOW, A.FIRING, A.WARNING)])
        self.assertEqual(alerts[0].stream_time.ToMilliseconds(), at(0, 8))
        self.assertEqual(alerts[1].stream_time.ToMilliseconds(), at(68, 12))
        self.assertEqual(alerts[2].stream_time.ToMilliseconds(), at(72, 12))
        self.assertEqual(alerts[2].observed_value, -15)
        self.assertEqual(alerts[3].stream_time.ToMilliseconds(), at(75, 12))
        self.assertEqual(alerts[3].health, 57)
        # Re-scored on every day change: a lower health each day from day 67 on.
        daily = [(s.stream_time.ToMilliseconds(), s.health) for s in self.snapshots
                 if s.customer_id == "cust-s" and s.stream_time.ToMilliseconds() >= at(67, 12)]
        self.assertEqual([ms for ms, _ in daily], [at(d, 12) for d in range(67, 77)])
        healths = [h for _, h in daily]
        self.assertEqual(healths, sorted(healths, reverse=True))
        self.assertEqual(dict(daily)[at(74, 12)], 60)
        self.assertEqual(dict(daily)[at(75, 12)], 57)

    def test_renewal_due_ninety_days_before_contract_end(self):
        # Health (usage 100 - 3 per silent day beyond 7, until day 30; 0 from day 31) falls
        # from 72 (day 30) to 61 on day 31: 18 below day 24's 79, HEALTH_DROP; on day 38 it
        # is day 31's 61 again: resolved.
        alerts = self.of("cust-r")
        self.assertEqual([(a.rule, a.state, a.severity) for a in alerts],
                         [(A.RENEWAL_DUE, A.FIRING, A.INFO),
                          (A.CHURN_RISK_HIGH, A.FIRING, A.WARNING),
                          (A.HEALTH_DROP, A.FIRING, A.WARNING),
                          (A.HEALTH_DROP, A.RESOLVED, A.WARNING),
                          (A.CHURN_RISK_HIGH, A.RESOLVED, A.WARNING)])
        self.assertEqual((alerts[2].stream_time.ToMilliseconds(), alerts[2].observed_value),
                         (at(31, 10), -18))
        self.assertEqual((alerts[3].stream_time.ToMilliseconds(), alerts[3].observed_value),
                         (at(38, 10), 0))
        del alerts[2:4]
        self.assertEqual(alerts[0].stream_time.ToMilliseconds(), at(10, 10))  # cust-s moves day 10
        self.assertEqual(alerts[1].stream_time.ToMilliseconds(), at(31, 10))  # cust-s moves day 31
        self.assertEqual(alerts[1].risk, 75)
        self.assertEqual(alerts[2].stream_time.ToMilliseconds(), at(61, 12))
        self.assertEqual(alerts[0].entity_id, "2026-09-09")  # day 100
        self.assertEqual(alerts[0].observed_value, 90)

    def test_out_of_order_event_is_applied_to_its_own_day(self):
        customers = {d["customer_id"]: d for d in t.dump_state(self.state)
                     if d["kind"] == "customer"}
        self.assertEqual(customers["cust-o"]["usage_total"], 8)
        self.assertEqual(t.read_all(self.bootstrap, "c360.deadletter"), [])
        self.assertEqual(self.of("cust-o"), [])
        self.assertEqual(self.of("cust-z"), [])
        self.assertEqual(len(self.alerts), 13)


if __name__ == "__main__":
    unittest.main(verbosity=2)
