"""`c360 gen` into `c360 broker`, checked with an independent client: exact counts per
topic, every value decodes, every key is its customer_id, and each customer sits in the
same partition number of every input topic."""

import collections
import sys
import unittest

from google.protobuf import json_format

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
from c360.v1 import (campaign_pb2, customer_pb2, invoice_pb2, ticket_pb2,  # noqa: E402
                     usage_pb2)

SCHEMAS = {
    "c360.usage": usage_pb2.UsageEvent,
    "c360.tickets": ticket_pb2.TicketEvent,
    "c360.invoices": invoice_pb2.InvoiceEvent,
    "c360.campaigns": campaign_pb2.CampaignEvent,
    "c360.customers": customer_pb2.CustomerProfile,
}


class GenIntoBrokerTest(unittest.TestCase):
    def check_topics(self, bootstrap, summary, fmt):
        partition_of = collections.defaultdict(set)  # customer -> {partition}
        for topic, schema in SCHEMAS.items():
            messages = t.read_all(bootstrap, topic)
            self.assertEqual(len(messages), summary[topic], topic)
            for m in messages:
                headers = dict(m.headers() or [])
                if fmt == "json":
                    self.assertEqual(headers.get("content-type"), b"application/json")
                    value = json_format.Parse(m.value(), schema())
                else:
                    self.assertEqual(headers.get("content-type"), b"application/x-protobuf")
                    value = schema.FromString(m.value())
                self.assertTrue(value.customer_id, f"{topic} value without customer_id")
                self.assertEqual(m.key().decode(), value.customer_id, topic)
                partition_of[value.customer_id].add(m.partition())
        split = {c: p for c, p in partition_of.items() if len(p) != 1}
        self.assertEqual(split, {}, "customers spread over several partition numbers")
        self.assertGreater(len({next(iter(p)) for p in partition_of.values()}), 1,
                           "all customers landed in one partition")

    def test_protobuf_100k_events(self):
        with t.broker(partitions=4) as (bootstrap, _):
            gen = t.run_c360("gen", "--brokers", bootstrap, "--events", 100000,
                             "--customers", 200, "--days", 60, "--start", "2026-08-01",
                             "--seed", 42)
            self.assertEqual(gen.returncode, 0, gen.stderr)
            summary, total = t.parse_gen_summary(gen.stdout)
            self.assertEqual(set(summary), set(SCHEMAS))
            self.assertEqual(sum(summary.values()), 100000)
            self.assertEqual(int(total["records"]), 100000)
            # One profile each, and a second (with churned_on) for each who left within the
            # first 100,000 records: leavers are spread over the history.
            self.assertGreaterEqual(summary["c360.customers"], 200)
            self.assertLess(summary["c360.customers"], 200 + 20)
            for topic in SCHEMAS:
                self.assertGreater(summary[topic], 0, topic)
            print(f"gen rate into the embedded broker: {total['rate']}", flush=True)
            self.check_topics(bootstrap, summary, "protobuf")

    def test_json_format(self):
        with t.broker(partitions=3) as (bootstrap, _):
            gen = t.run_c360("gen", "--brokers", bootstrap, "--events", 5000,
                             "--customers", 30, "--days", 30, "--start", "2026-08-01",
                             "--format", "json")
            self.assertEqual(gen.returncode, 0, gen.stderr)
            summary, _ = t.parse_gen_summary(gen.stdout)
            self.assertEqual(sum(summary.values()), 5000)
            self.check_topics(bootstrap, summary, "json")


if __name__ == "__main__":
    unittest.main(verbosity=2)
