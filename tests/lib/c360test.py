"""Helpers for black-box tests: run the real `c360` binary and read topics with an
independent Kafka client (python3-confluent-kafka). Every server a test starts listens on
127.0.0.1 and is stopped by the test."""

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager

from confluent_kafka import Consumer, TopicPartition

C360 = os.environ.get("C360_BIN", "build/c360")
INPUT_TOPICS = ["c360.usage", "c360.tickets", "c360.invoices", "c360.campaigns",
                "c360.customers"]
OUTPUT_TOPICS = ["c360.alerts", "c360.health", "c360.deadletter"]


def wait_for(condition, timeout, what):
    """Polls `condition` until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def broker(partitions=4, port=0):
    """Starts `c360 broker`, yields (bootstrap, process), stops it with SIGTERM."""
    proc = subprocess.Popen([C360, "broker", "--port", str(port), "--partitions",
                             str(partitions)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("127.0.0.1:"), f"unexpected first line {line!r}: " + \
            proc.stderr.read() if proc.poll() is not None else line
        yield line, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_c360(*args, timeout=120):
    return subprocess.run([C360, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def parse_gen_summary(stdout):
    """{topic: records} from `c360 gen`'s summary lines, plus the `total` line's fields."""
    per_topic, total = {}, {}
    for line in stdout.splitlines():
        fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
        if line.startswith("topic="):
            fields = dict(f.split("=", 1) for f in line.split())
            per_topic[fields["topic"]] = int(fields["records"])
        elif line.startswith("total "):
            total = fields
    return per_topic, total


def read_all(bootstrap, topic, timeout=60):
    """Every message of `topic`, from the beginning to the end of each partition."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "c360-test-reader",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "log_level": 3,
    })
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = list(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        at_end, messages = set(), []
        deadline = time.monotonic() + timeout
        while len(at_end) < len(partitions):
            assert time.monotonic() < deadline, f"reading {topic} took over {timeout}s"
            batch = consumer.consume(num_messages=10000, timeout=0.5)
            for m in batch:
                if m.error():
                    if m.error().code() == -191:  # _PARTITION_EOF
                        at_end.add(m.partition())
                        continue
                    raise AssertionError(f"{topic}: {m.error()}")
                messages.append(m)
        return messages
    finally:
        consumer.close()
