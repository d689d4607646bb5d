"""Input bounds (SPEC section 6.1; docs/reliability.md): a customer_id longer than 256
bytes, and an event that would give a customer more than limits.open_entities_per_customer
open tickets or unsettled invoices (20 here), are `invalid_value` dead letters, each exactly
once, with their original key and value; every other record is applied — events on tickets
and invoices that are open already, a ticket opened once another was resolved, an invoice
issued once another was paid — so the state equals the oracle of the records not marked bad.

Records expected in the dead-letter topic carry the header `x-poison` (the oracle skips
them)."""

import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
import oracle  # noqa: E402
from c360.v1 import invoice_pb2, ticket_pb2, usage_pb2  # noqa: E402
from google.protobuf.timestamp_pb2 import Timestamp  # noqa: E402

LIMIT = 20
START_MS = 1_780_272_000_000  # 2026-06-01T00:00:00Z
HOUR = 3_600_000
T = ticket_pb2.TicketEvent
I = invoice_pb2.InvoiceEvent  # noqa: E741


class LimitsTest(unittest.TestCase):
    def test_over_the_limits_is_invalid_value_and_the_rest_is_applied(self):
        records = []  # (topic, key, message, expected dead-letter detail or None)
        hour = [0]

        def at():
            hour[0] += 1
            s = Timestamp()
            s.FromMilliseconds(START_MS + hour[0] * HOUR)
            return s

        def ticket(event_id, ticket_id, kind, over=None):
            records.append(("c360.tickets", "cust-big", T(
                event_id=event_id, customer_id="cust-big", ticket_id=ticket_id, kind=kind,
                priority=T.P3, event_time=at()), over))

        def invoice(event_id, invoice_id, kind, over=None):
            records.append(("c360.invoices", "cust-big", I(
                event_id=event_id, customer_id="cust-big", invoice_id=invoice_id, kind=kind,
                amount_cents=1000, event_time=at()), over))

        for n in range(1, 26):  # T-21..T-25 would be the 21st..25th open ticket
            ticket(f"t-{n}", f"T-{n}", T.CREATED,
                   over=f"ticket T-{n} would open one more" if n > LIMIT else None)
        ticket("t-1-resolved", "T-1", T.RESOLVED)   # 19 open
        ticket("t-21-again", "T-21", T.CREATED)     # 20 open: room for it now
        ticket("t-2-updated", "T-2", T.UPDATED)     # an open ticket takes its events
        ticket("t-3", "T-3", T.CREATED)             # a redelivery changes nothing
        ticket("t-26", "T-26", T.RESOLVED)          # born resolved: opens nothing
        for n in range(1, 23):
            invoice(f"i-{n}", f"INV-{n}", I.ISSUED,
                    over=f"invoice INV-{n} would add one more" if n > LIMIT else None)
        invoice("i-1-paid", "INV-1", I.PAID)        # settled: 19 unsettled
        invoice("i-22-again", "INV-22", I.ISSUED)   # 20
        invoice("i-2-paid", "INV-2", I.PAID)        # an unsettled invoice takes its events
        longest, too_long = "c" * 256, "c" * 257
        records.append(("c360.usage", longest, usage_pb2.UsageEvent(
            customer_id=longest, event_time=at(), module="reports"), None))
        records.append(("c360.usage", too_long, usage_pb2.UsageEvent(
            customer_id=too_long, event_time=at(), module="reports"),
            "customer_id is 257 bytes; the limit is 256"))

        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=4) as (bootstrap, _):
            p = t.producer(bootstrap)
            for i, (topic, key, message, over) in enumerate(records):
                headers = [("x-poison", b"invalid_value"), ("x-poison-id", str(i).encode())] \
                    if over else []
                t.produce(p, topic, key, message, headers=headers)
            self.assertEqual(p.flush(30), 0)
            config = tmp + "/c360.yaml"
            with open(config, "w") as f:
                f.write(f"limits:\n  open_entities_per_customer: {LIMIT}\n")
            engine = t.Engine(bootstrap, tmp + "/state", "g-" + uuid.uuid4().hex,
                              config=config).start()
            engine.wait_caught_up(timeout=120)
            self.assertEqual(engine.stop(), 0)

            letters = t.read_all(bootstrap, "c360.deadletter")
            got = {}
            for m in letters:
                h = dict(m.headers())
                self.assertIn("x-poison-id", h, f"a good record was dead-lettered: {h}")
                i = int(h["x-poison-id"])
                self.assertNotIn(i, got, "dead-lettered twice")
                got[i] = m
                topic, key, message, over = records[i]
                self.assertEqual(h["c360-reason"], b"invalid_value")
                self.assertIn(over, h["c360-detail"].decode())
                self.assertEqual(m.key(), key.encode())
                self.assertEqual(m.value(), message.SerializeToString())
            self.assertEqual(sorted(got), [i for i, r in enumerate(records) if r[3]])
            self.assertEqual(len(got), 5 + 2 + 1)

            expected, invisible = oracle.expected_state(bootstrap)
            actual = oracle.actual_state(t.dump_state(tmp + "/state"), invisible)
            self.assertEqual(actual, expected)
            big = actual["cust-big"]["entities"]
            self.assertEqual(len([k for k in big if k.startswith("T-")]), 22)  # T-1..T-21, T-26
            self.assertEqual(len([k for k in big if k.startswith("INV-")]), 21)
            self.assertIn(longest, actual)


if __name__ == "__main__":
    unittest.main(verbosity=2)
