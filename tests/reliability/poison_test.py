"""Poison input (SPEC section 6.1; docs/reliability.md): 1% of a 100,000-event workload is
bad in every way the SPEC lists, plus random bytes, truncated protobuf, broken, deeply
nested and wrongly typed JSON, and values over 1 MiB. The dead-letter topic must hold
exactly the bad records, each with the right reason, its original key, value and headers;
every good record must be applied (the state equals the independent oracle of the good
input, tests/lib/oracle.py); and the engine must never stop: one process, one start, exit
0 when asked to stop.

Bad records carry the header `x-poison: <expected reason>`; the oracle skips them."""

import collections
import json
import random
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
import oracle  # noqa: E402
from google.protobuf.timestamp_pb2 import Timestamp  # noqa: E402
from c360.v1 import campaign_pb2, invoice_pb2, ticket_pb2, usage_pb2  # noqa: E402

GOOD = 99_000
CUSTOMERS = 500
START = "2026-06-01"
START_MS = int(time.mktime(time.strptime(START, "%Y-%m-%d")) * 1000) - time.timezone * 1000
DAY = 86_400_000
JSON = [("content-type", b"application/json")]
PROTO = [("content-type", b"application/x-protobuf")]


def stamp(ms):
    s = Timestamp()
    s.FromMilliseconds(ms)
    return s


def poison(rng):
    """1,000 bad records: (topic, key, value, headers, expected reason)."""
    out = []
    cid = lambda: f"cust-{rng.randrange(CUSTOMERS):05d}"  # noqa: E731
    when = lambda: stamp(START_MS + rng.randrange(30) * DAY)  # noqa: E731

    def usage(c, **fields):
        return usage_pb2.UsageEvent(customer_id=c, event_time=when(), module="reports", **fields)

    def add(n, make, reason):
        for _ in range(n):
            topic, key, value, headers = make()
            out.append((topic, key, value, headers, reason))

    # oversize: a value over 1 MiB (checked first, whatever it holds).
    add(10, lambda: ("c360.usage", cid(), b"\x0a" + b"x" * ((1 << 20) + rng.randrange(100)), PROTO),
        "oversize")
    # malformed: random bytes (an invalid wire type first), truncated protobuf, broken JSON,
    # deeply nested JSON, JSON of the wrong types.
    add(100, lambda: (rng.choice(list(oracle.TOPICS)[:4]), cid(),
                      b"\xff" + rng.randbytes(rng.randrange(1, 200)), PROTO), "malformed")

    def bad_utf8():  # a string field that is not UTF-8 (proto3 rejects it when parsing)
        c = cid()
        return "c360.usage", c, usage(c).SerializeToString().replace(b"reports", b"rep\xffrts"), PROTO
    add(50, bad_utf8, "malformed")

    def truncated():
        c = cid()
        whole = usage(c).SerializeToString()
        return "c360.usage", c, whole + b"\x2a\x64" + rng.randbytes(rng.randrange(0, 50)), PROTO
    add(150, truncated, "malformed")

    def broken_json():
        c = cid()
        text = json.dumps({"customer_id": c, "event_time": "2026-06-02T00:00:00Z", "module": "x"})
        return "c360.usage", c, text[:rng.randrange(1, len(text) - 1)].encode(), JSON
    add(100, broken_json, "malformed")

    def nested_json():
        c = cid()
        depth = rng.randrange(1_000, 20_000)
        return "c360.usage", c, ('{"customer_id": ' + "[" * depth + "]" * depth + "}").encode(), JSON
    add(50, nested_json, "malformed")

    def wrong_types():
        c = cid()
        value = rng.choice([{"customer_id": c, "event_time": 12345},
                            {"customer_id": c, "quantity": "lots"},
                            {"customer_id": c, "module": {"name": "x"}},
                            {"customer_id": c, "quantity": [1, 2]}])
        return "c360.usage", c, json.dumps(value).encode(), JSON
    add(100, wrong_types, "malformed")

    # missing_field.
    def missing():
        c = cid()
        T = ticket_pb2.TicketEvent
        e = rng.choice([usage_pb2.UsageEvent(event_time=when(), module="reports"),
                        T(customer_id=c, ticket_id="T", kind=T.CREATED, priority=T.P2, event_time=when()),
                        T(event_id="e", customer_id=c, kind=T.CREATED, priority=T.P2, event_time=when()),
                        T(event_id="e", customer_id=c, ticket_id="T", priority=T.P2, event_time=when()),
                        T(event_id="e", customer_id=c, ticket_id="T", kind=T.CREATED, event_time=when())])
        topic = "c360.usage" if isinstance(e, usage_pb2.UsageEvent) else "c360.tickets"
        return topic, c, e.SerializeToString(), PROTO
    add(100, missing, "missing_field")

    # key_mismatch: another customer's key, or none.
    def mismatch():
        c = cid()
        return "c360.usage", rng.choice([None, c + "-other"]), usage(c).SerializeToString(), PROTO
    add(100, mismatch, "key_mismatch")

    # invalid_value.
    def invalid():
        c = cid()
        T, K = ticket_pb2.TicketEvent, campaign_pb2.CampaignEvent
        e = rng.choice([
            usage(c, quantity=-rng.randrange(1, 100)),
            T(event_id="e", customer_id=c, ticket_id="T", kind=T.RESOLVED, csat=rng.choice([0, 6, 7]),
              event_time=when()),
            K(event_id="e", customer_id=c, campaign_id="K", kind=K.RESPONDED, nps=rng.choice([11, 12, -1]),
              event_time=when()),
            invoice_pb2.InvoiceEvent(event_id="e", customer_id=c, invoice_id="I", amount_cents=-5,
                                     kind=invoice_pb2.InvoiceEvent.ISSUED, event_time=when())])
        topic = {usage_pb2.UsageEvent: "c360.usage", T: "c360.tickets", K: "c360.campaigns",
                 invoice_pb2.InvoiceEvent: "c360.invoices"}[type(e)]
        return topic, c, e.SerializeToString(), PROTO
    add(90, invalid, "invalid_value")

    def undefined_enum():
        c = cid()
        return "c360.tickets", c, json.dumps({"event_id": "e", "customer_id": c, "ticket_id": "T",
                                              "kind": "EXPLODED", "event_time": "2026-06-02T00:00:00Z"}).encode(), JSON
    add(10, undefined_enum, "invalid_value")

    # future_timestamp and too_late (produced after the good records: T is near the end).
    now = int(time.time() * 1000)
    add(70, lambda: (lambda c: ("c360.usage", c, usage_pb2.UsageEvent(
        customer_id=c, event_time=stamp(now + 2 * 3_600_000 + rng.randrange(DAY)), module="reports").SerializeToString(), PROTO))(cid()),
        "future_timestamp")
    add(70, lambda: (lambda c: ("c360.usage", c, usage_pb2.UsageEvent(
        customer_id=c, event_time=stamp(START_MS - 100 * DAY - rng.randrange(DAY)), module="reports").SerializeToString(), PROTO))(cid()),
        "too_late")
    return out


class PoisonTest(unittest.TestCase):
    def test_bad_records_go_to_the_dead_letter_topic_and_nothing_else_is_lost(self):
        rng = random.Random(11)
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=32) as (bootstrap, _):
            gen = t.run_c360("gen", "--brokers", bootstrap, "--customers", str(CUSTOMERS),
                             "--events", str(GOOD), "--days", "30", "--seed", "3", "--start", START)
            self.assertEqual(gen.returncode, 0, gen.stderr)
            bad = poison(rng)
            p = t.producer(bootstrap)
            for i, (topic, key, value, headers, reason) in enumerate(bad):
                p.produce(topic, key=key, value=value,
                          headers=headers + [("x-poison", reason.encode()), ("x-poison-id", str(i).encode())])
            self.assertEqual(p.flush(30), 0)
            expected, invisible = oracle.expected_state(bootstrap)

            engine = t.Engine(bootstrap, tmp + "/state", "g-" + uuid.uuid4().hex).start()
            engine.wait_caught_up(timeout=300)
            self.assertEqual(engine.stop(), 0)
            with open(tmp + "/state.log") as f:
                log = f.read()
            self.assertEqual(log.count("event=engine_started"), 1)
            self.assertNotIn("engine_failed", log)
            # libprotobuf's own complaints (invalid UTF-8) go through the logfmt log.
            self.assertNotIn("[libprotobuf", log)

            letters = t.read_all(bootstrap, "c360.deadletter")
            got = {}
            for m in letters:
                h = dict(m.headers())
                self.assertIn("x-poison-id", h, f"a good record was dead-lettered: {h}")
                got[int(h["x-poison-id"])] = (h["c360-reason"].decode(), m.key(), m.value())
                for name in ("c360-source-topic", "c360-source-partition", "c360-source-offset",
                             "c360-detail", "content-type"):
                    self.assertIn(name, h)
            self.assertEqual(len(letters), len(bad))  # each exactly once
            wrong = {i: (b[4], got.get(i, ("missing",))[0]) for i, b in enumerate(bad)
                     if got.get(i, ("missing",))[0] != b[4]}
            self.assertEqual(wrong, {}, "expected reason vs dead-letter reason")
            for i, (_, key, value, _, _) in enumerate(bad):
                self.assertEqual(got[i][1], key.encode() if key else None)
                self.assertEqual(got[i][2], value)
            reasons = collections.Counter(b[4] for b in bad)
            print(f"bad records {len(bad)} by reason {dict(reasons)}; good {GOOD}", file=sys.stderr)

            actual = oracle.actual_state(t.dump_state(tmp + "/state"), invisible)
            wrong_state = [c for c in expected if actual.get(c) != expected[c]]
            self.assertEqual(wrong_state, [])
            self.assertEqual(len(actual), len(expected))


if __name__ == "__main__":
    unittest.main(verbosity=2)
