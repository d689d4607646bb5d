"""`c360 broker` as independent clients see it: a fixed port, every topic with the asked
partition count, produce and consume through a consumer group, clean stop on SIGTERM."""

import signal
import sys
import time
import unittest
import uuid

from confluent_kafka import Consumer, Producer

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402


class BrokerTest(unittest.TestCase):
    def test_fixed_port_topics_and_consumer_group(self):
        port = t.free_port()
        with t.broker(partitions=6, port=port) as (bootstrap, _):
            self.assertEqual(bootstrap, f"127.0.0.1:{port}")
            producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
            metadata = producer.list_topics(timeout=10)
            for topic in t.INPUT_TOPICS + t.OUTPUT_TOPICS:
                self.assertIn(topic, metadata.topics)
                self.assertEqual(len(metadata.topics[topic].partitions), 6, topic)

            sent = {f"cust-{i}": uuid.uuid4().hex for i in range(50)}
            for key, value in sent.items():
                producer.produce("c360.usage", key=key, value=value)
            self.assertEqual(producer.flush(15), 0)

            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-" +
                                 uuid.uuid4().hex, "auto.offset.reset": "earliest",
                                 "session.timeout.ms": 6000})
            consumer.subscribe(["c360.usage"])
            got = {}
            deadline = time.monotonic() + 30
            while len(got) < len(sent) and time.monotonic() < deadline:
                m = consumer.poll(0.5)
                if m is not None and not m.error():
                    got[m.key().decode()] = m.value().decode()
            self.assertEqual(len(consumer.assignment()), 6, "group assignment")
            consumer.close()
            self.assertEqual(got, sent)

    def test_sigterm_stops_cleanly(self):
        with t.broker() as (_, proc):
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=15), 0)
            self.assertIn("stopped", proc.stderr.read())

    def test_port_in_use_is_one_clear_line(self):
        port = t.free_port()
        with t.broker(port=port):
            second = t.run_c360("broker", "--port", port, timeout=30)
        self.assertNotEqual(second.returncode, 0)
        self.assertEqual(len(second.stderr.strip().splitlines()), 1, second.stderr)
        self.assertIn(str(port), second.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
