"""The real Kafka broker of the tests (tests/lib/kafka_broker.py, issue 16) and our client
against it: Debian's librdkafka 2.0.2 (under python3-confluent-kafka, as under c360) with
the Apache Kafka version tools/kafka/pom.xml pins (docs/decisions.md: why that one). Runs
on real Kafka only (ctest registers it with C360_TEST_BROKER=kafka).

- The fixture: c360's eight topics with the partitions asked for, customers and health
  compacted, the others without time retention; asked again, the topics are new and empty.
- A private broker: on loopback, stopped by its pid, its directory removed.
- The client: an idempotent producer, a consumer group, and transactions — a transactional
  producer commits its output with the consumer's offsets (send_offsets_to_transaction, the
  KIP-447 group-metadata form), an aborted transaction stays invisible to read_committed,
  and a newer instance with the same transactional.id fences the older one. Kafka 4.0
  removed old protocol versions (KIP-896); this is where an incompatibility of our client
  with the pinned broker shows first."""

import os
import sys
import time
import unittest
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
import kafka_broker  # noqa: E402


def topic_configs(bootstrap, topics):
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    resources = [ConfigResource("topic", topic) for topic in topics]
    return {r.name: {k: v.value for k, v in f.result().items()}
            for r, f in admin.describe_configs(resources).items()}


def consume_until_eof(consumer, partitions, timeout=30):
    values, at_end = [], set()
    deadline = time.monotonic() + timeout
    while len(at_end) < partitions:
        assert time.monotonic() < deadline, f"no end of partition after {timeout} s: {values}"
        m = consumer.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                at_end.add(m.partition())
                continue
            raise AssertionError(m.error())
        values.append(m.value())
    return values


@unittest.skipUnless(t.on_real_kafka(), "real Kafka only (C360_TEST_BROKER=kafka)")
class KafkaBrokerTest(unittest.TestCase):
    def test_topics_are_created_fresh_with_the_partitions_asked_for(self):
        with t.broker(partitions=3) as (bootstrap, _):
            md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
            c360_topics = sorted(name for name in md.topics if name.startswith("c360."))
            self.assertEqual(c360_topics, sorted(kafka_broker.TOPICS))
            self.assertEqual({len(md.topics[name].partitions) for name in c360_topics}, {3})
            configs = topic_configs(bootstrap, kafka_broker.TOPICS)
            policies = {name: c["cleanup.policy"] for name, c in configs.items()}
            self.assertEqual(policies, {name: "compact" if name in ("c360.customers", "c360.health")
                                        else "delete" for name in kafka_broker.TOPICS})
            self.assertEqual(configs["c360.usage"]["retention.ms"], "-1")
            p = t.producer(bootstrap)
            for i in range(10):
                p.produce("c360.usage", key=f"cust-{i}", value=b"x")
            # Over Kafka's default 1 MiB batch limit: the `oversize` dead-letter tests need it.
            p.produce("c360.usage", key="big", value=b"x" * ((1 << 20) + 1))
            self.assertEqual(p.flush(30), 0)
            del p  # before the broker goes: no "connection refused" lines from it
            self.assertEqual(t.end_offsets(bootstrap, ["c360.usage"]), 11)
        with t.broker(partitions=5) as (bootstrap, _):
            self.assertEqual(t.end_offsets(bootstrap, ["c360.usage"]), 0)
            md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
            self.assertEqual(len(md.topics["c360.usage"].partitions), 5)

    def test_a_private_broker_is_stopped_and_removed(self):
        with kafka_broker.running() as broker:
            directory, pid = broker.directory, broker.pid
            host = broker.bootstrap.split(":")[0]
            self.assertEqual(host, "127.0.0.1")
            with open(os.path.join(directory, "server.properties")) as f:
                listeners = [line for line in f if line.startswith(("listeners=",
                                                                      "advertised.listeners="))]
            self.assertTrue(all("://127.0.0.1:" in line for line in listeners), listeners)
            self.assertTrue(os.path.exists(f"/proc/{pid}"))
        self.assertFalse(os.path.exists(directory))
        self.assertIsNotNone(broker.poll())

    def test_transactions_with_our_librdkafka(self):
        with t.broker(partitions=2) as (bootstrap, _):
            source, sink = "c360.usage", "c360.alerts"
            p = t.producer(bootstrap)
            for i in range(4):
                p.produce(source, key=f"cust-{i}", value=f"in-{i}".encode())
            self.assertEqual(p.flush(30), 0)
            del p

            group = "g-" + uuid.uuid4().hex
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                 "enable.auto.commit": False, "auto.offset.reset": "earliest",
                                 "isolation.level": "read_committed", "log_level": 3})
            consumer.subscribe([source])
            inputs = []
            deadline = time.monotonic() + 60
            while len(inputs) < 4:
                self.assertLess(time.monotonic(), deadline, "the group's first records")
                m = consumer.poll(0.5)
                if m is not None and not m.error():
                    inputs.append(m)

            tid = "c360-test-" + uuid.uuid4().hex
            # log_level 0: its fencing below is expected (and asserted on)
            txn = Producer({"bootstrap.servers": bootstrap, "transactional.id": tid,
                            "log_level": 0})
            txn.init_transactions(60)
            txn.begin_transaction()
            for m in inputs:
                txn.produce(sink, key=m.key(), value=b"committed " + m.value())
            offsets = {}
            for m in inputs:
                offsets[m.partition()] = max(offsets.get(m.partition(), 0), m.offset() + 1)
            txn.send_offsets_to_transaction(
                [TopicPartition(source, part, off) for part, off in offsets.items()],
                consumer.consumer_group_metadata(), 30)
            txn.commit_transaction(30)

            txn.begin_transaction()
            txn.produce(sink, key=b"cust-0", value=b"aborted")
            txn.flush(30)
            txn.abort_transaction(30)

            committed = consumer.committed([TopicPartition(source, part) for part in offsets], 30)
            self.assertEqual({tp.partition: tp.offset for tp in committed}, offsets)
            consumer.close()

            # A newer instance with the same transactional.id fences the older one.
            newer = Producer({"bootstrap.servers": bootstrap, "transactional.id": tid,
                              "log_level": 0})
            newer.init_transactions(60)
            txn.begin_transaction()
            txn.produce(sink, key=b"cust-0", value=b"zombie")
            with self.assertRaises(KafkaException) as fenced:
                txn.commit_transaction(30)
            self.assertTrue(fenced.exception.args[0].fatal(), fenced.exception)
            newer.begin_transaction()
            newer.produce(sink, key=b"cust-1", value=b"newer")
            newer.commit_transaction(30)

            reader = Consumer({"bootstrap.servers": bootstrap, "group.id": "r-" + uuid.uuid4().hex,
                               "isolation.level": "read_committed", "enable.partition.eof": True,
                               "log_level": 3})
            reader.assign([TopicPartition(sink, part, 0) for part in range(2)])
            seen = sorted(consume_until_eof(reader, 2))
            reader.close()
            del txn, newer
            self.assertEqual(seen, sorted([b"committed " + m.value() for m in inputs] + [b"newer"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
