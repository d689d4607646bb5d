"""`c360 engine --output-format json`: outputs follow protobuf's JSON mapping with every
field printed (zeros included), absent KPIs as null, and a content-type header; JSON
input is read through the same decoder."""

import datetime
import json
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402

DAY0 = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)


def iso(day, hour):
    return (DAY0 + datetime.timedelta(days=day, hours=hour)).isoformat().replace("+00:00", "Z")


class EngineJsonOutputTest(unittest.TestCase):
    def test_json_outputs(self):
        with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=1) as (bootstrap, _):
            p = t.producer(bootstrap)
            header = [("content-type", b"application/json")]

            def send(topic, value):
                p.produce(topic, key=value["customer_id"], value=json.dumps(value).encode(),
                          headers=header)

            # A P1 ticket never answered: the response timer fires when later usage moves T.
            send("c360.tickets", {"event_id": "e1", "customer_id": "j-1", "ticket_id": "T-1",
                                  "kind": "CREATED", "priority": "P1",
                                  "event_time": iso(0, 9), "unknown_future_field": 1})
            send("c360.usage", {"customer_id": "j-1", "event_time": iso(0, 12),
                                "module": "reports"})
            send("c360.usage", {"customer_id": "j-1", "event_time": iso(1, 12),
                                "kind_of_thing": "ignored"})
            assert p.flush(10) == 0
            engine = t.Engine(bootstrap, tmp + "/state", "g-" + uuid.uuid4().hex,
                              extra=["--output-format", "json"]).start()
            try:
                engine.wait_caught_up()
            finally:
                engine.stop()

            alerts = t.read_all(bootstrap, "c360.alerts")
            self.assertGreaterEqual(len(alerts), 1)
            for m in alerts:
                self.assertEqual(dict(m.headers())["content-type"], b"application/json")
            breach = [json.loads(m.value()) for m in alerts
                      if json.loads(m.value())["rule"] == "SLA_BREACH"]
            self.assertEqual(len(breach), 2)  # response at 10:00, resolution at 17:00
            a = breach[0]
            self.assertEqual(a["sla_kind"], "RESPONSE")
            self.assertEqual(a["severity"], "CRITICAL")
            self.assertEqual(a["event_time"], "2026-06-01T10:00:00Z")
            self.assertIs(a["vip"], False)  # zeros are printed
            self.assertEqual(a["customer_name"], "")

            snaps = [json.loads(m.value()) for m in t.read_all(bootstrap, "c360.health")]
            self.assertTrue(snaps)
            kpis = snaps[-1]["kpis"]
            for absent in ("csat_avg_r90d", "nps_latest", "response_rate_r90d",
                           "days_to_renewal"):
                self.assertIn(absent, kpis)
                self.assertIsNone(kpis[absent], absent)
            self.assertEqual(kpis["days_since_last_usage"], 0)
            self.assertEqual(kpis["tickets_by_priority_r30d"], {"P1": 1, "P2": 0, "P3": 0, "P4": 0})
            self.assertEqual(kpis["open_p1"], 1)
            self.assertEqual(len(kpis["monthly_usage"]), 12)
            self.assertEqual(snaps[-1]["status"] in ("HEALTHY", "WATCH", "AT_RISK", "CRITICAL"), True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
