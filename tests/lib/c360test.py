"""Helpers for black-box tests: run the real `c360` binary and read topics with an
independent Kafka client (python3-confluent-kafka). Every server a test starts listens on
127.0.0.1 and is stopped by the test."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


# The broker the tests run on: `embedded` (default) is `c360 broker`, librdkafka's mock
# cluster; `kafka` is Apache Kafka (tests/lib/kafka_broker.py): the one at C360_TEST_KAFKA
# if set (scripts/test starts one for the whole run), else a private one per broker().
BROKER = os.environ.get("C360_TEST_BROKER", "embedded")
if BROKER not in ("embedded", "kafka"):
    raise SystemExit(f"C360_TEST_BROKER={BROKER!r}: embedded or kafka")


def on_real_kafka():
    return BROKER == "kafka"


@contextmanager
def broker(partitions=4, port=0):
    """Yields (bootstrap, process) with c360's topics of `partitions` partitions.

    Embedded: starts `c360 broker`, yields its Popen, stops it with SIGTERM. Real Kafka
    (C360_TEST_BROKER=kafka): the c360.* topics are deleted and created afresh; `process`
    is a Popen-like handle (pid, poll, send_signal: SIGSTOP/SIGCONT freeze it), or None for
    a broker at C360_TEST_KAFKA without C360_TEST_KAFKA_PID."""
    if on_real_kafka():
        assert port == 0, "a real Kafka broker is always on a free port"
        here = os.path.dirname(os.path.abspath(__file__))
        if here not in sys.path:
            sys.path.insert(0, here)
        import kafka_broker
        with kafka_broker.for_test(partitions) as pair:
            yield pair
        return
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
        proc.stdout.close()
        proc.stderr.close()


def run_c360(*args, timeout=120, env=None):
    """Runs c360 to its end; `env` adds variables to this process's environment."""
    return subprocess.run([C360, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=None if env is None else {**os.environ, **env})


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


STATE_DUMP = os.environ.get("C360_STATE_DUMP", "build/tests/c360_state_dump")


def producer(bootstrap):
    """A producer that partitions like c360 gen and Java clients (murmur2)."""
    from confluent_kafka import Producer
    return Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                     "linger.ms": 5, "log_level": 3, "message.max.bytes": 4 << 20})


def produce(p, topic, key, message=None, timestamp_ms=None, value=None, headers=None):
    """Produces a protobuf message (or raw `value`) with a content-type header."""
    if message is not None:
        value = message.SerializeToString()
        headers = (headers or []) + [("content-type", b"application/x-protobuf")]
    kwargs = {"timestamp": timestamp_ms} if timestamp_ms is not None else {}
    p.produce(topic, key=key, value=value, headers=headers or [], **kwargs)


def dump_state(state_dir, tasks_only=False):
    """The engine's state as JSON objects (tests/tools/state_dump.cc)."""
    import json
    r = subprocess.run([STATE_DUMP, *(["--tasks-only"] if tasks_only else []), state_dir],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None
    return [json.loads(line) for line in r.stdout.splitlines()]


def end_offsets(bootstrap, topics, timeout=30):
    """Sum of high watermarks over every partition of `topics`. A broker just back from a
    fault may answer NOT_LEADER_FOR_PARTITION (or time out) for a moment: asked again until
    `timeout` seconds pass."""
    return sum(end_offsets_by_partition(bootstrap, topics, timeout).values())


def end_offsets_by_partition(bootstrap, topics, timeout=30):
    """{partition: sum of the high watermarks of that partition of every one of `topics`}
    (a task's input ends), asked again like end_offsets."""
    from confluent_kafka import Consumer, KafkaException
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "c360-test-watermarks",
                  "log_level": 3})
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                total = {}
                md = c.list_topics(timeout=10)
                for topic in topics:
                    for p in md.topics[topic].partitions:
                        total[p] = total.get(p, 0) + c.get_watermark_offsets(
                            TopicPartition(topic, p), timeout=10)[1]
                return total
            except KafkaException:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
    finally:
        c.close()


def applied_offsets(state_dir):
    """Sum of the next offsets stored per task and topic, and the outbox backlog."""
    dump = dump_state(state_dir, tasks_only=True)
    if dump is None:
        return -1, -1
    tasks = [d for d in dump if d["kind"] == "task"]
    return sum(sum(t["offsets"].values()) for t in tasks), sum(t["outbox"] for t in tasks)


def http_get(url, timeout=10):
    """(status, body text) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def http_json(url):
    status, body = http_get(url)
    return status, json.loads(body)


def metric_samples(text):
    """Prometheus text exposition -> {"name{labels}": value}."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            samples[series] = float(value)
    return samples


class Engine:
    """`c360 engine` as a child process on its own state dir."""

    def __init__(self, bootstrap, state_dir, group, clock="event", extra=(), config=None,
                 env=None):
        self.args = [C360, "engine", "--brokers", bootstrap, "--state-dir", state_dir,
                     "--group", group, "--clock", clock, "--http", "127.0.0.1:0", *extra]
        if config:
            self.args += ["--config", config]
        self.state_dir = state_dir
        self.bootstrap = bootstrap
        self.env = dict(os.environ, **(env or {}))
        self.proc = None

    def start(self):
        self.log = open(self.state_dir + ".log", "ab")
        self.log_start = self.log.tell()  # a restart appends to the same log
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log, env=self.env)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        self.log.close()
        return self.proc.returncode

    def http_port(self, timeout=30):
        """The port the engine's HTTP server bound (it logs event=http_listening)."""
        def bound():
            assert self.proc.poll() is None, f"engine exited: {open(self.state_dir + '.log').read()}"
            with open(self.state_dir + ".log", "rb") as log:
                text = log.read()[self.log_start:].decode(errors="replace")
            found = re.search(r"event=http_listening address=\S*:(\d+)", text)
            return int(found.group(1)) if found else None
        return wait_for(bound, timeout, "the engine's HTTP server")

    def get(self, path):
        """GET on the engine's HTTP server: (status, body text)."""
        return http_get(f"http://127.0.0.1:{self.http_port()}{path}")

    def wait_caught_up(self, timeout=120):
        """Until every input record is applied and committed and the outbox is empty."""
        target = end_offsets(self.bootstrap, INPUT_TOPICS)

        def done():
            assert self.proc.poll() is None, f"engine exited: {open(self.state_dir + '.log').read()}"
            applied, outbox = applied_offsets(self.state_dir)
            return applied == target and outbox == 0
        wait_for(done, timeout, f"the engine to apply all {target} records")
