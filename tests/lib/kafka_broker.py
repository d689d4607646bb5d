#!/usr/bin/python3
"""A real Apache Kafka broker for the tests and benchmarks (issue 16), beside the embedded
one (`c360 broker`, librdkafka's mock cluster).

One JVM runs a single-node KRaft cluster (broker and controller in one process) from the
jars `scripts/setup` puts into tools/kafka/target/dependency/ (tools/kafka/pom.xml pins the
version; why that one: docs/decisions.md), in a directory of its own, listening on two free
ports of 127.0.0.1 only. Kafka's warnings and errors go to DIR/broker.log
(tests/lib/kafka_log4j2.properties), the JVM's own output to DIR/stdout.log.

From Python:

    with kafka_broker.running() as broker:      # a temp dir, removed afterwards
        broker.bootstrap, broker.pid
    kafka_broker.recreate_topics(bootstrap, partitions=4)
    with kafka_broker.for_test(partitions=4) as (bootstrap, broker):  # c360test.broker()

From the shell (scripts/test, the benchmarks):

    python3 tests/lib/kafka_broker.py start DIR     # prints the bootstrap address; DIR/pid
    python3 tests/lib/kafka_broker.py topics BOOTSTRAP --partitions N
    python3 tests/lib/kafka_broker.py stop DIR      # keeps DIR/broker.log, removes the data

Debian's python3 (/usr/bin/python3) is the one with python3-confluent-kafka."""

import argparse
import base64
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JARS = os.environ.get("C360_KAFKA_JARS", os.path.join(ROOT, "tools", "kafka", "target",
                                                      "dependency"))
LOG4J2 = os.path.join(ROOT, "tests", "lib", "kafka_log4j2.properties")
JAVA = os.environ.get("C360_JAVA", "java")
START_TIMEOUT = 90  # seconds: format + JVM start + ready; ~3 s on an idle machine
STOP_TIMEOUT = 30  # seconds of SIGTERM before SIGKILL; a clean stop takes ~3 s

TOPICS = ("c360.usage", "c360.tickets", "c360.invoices", "c360.campaigns", "c360.customers",
          "c360.alerts", "c360.health", "c360.deadletter", "c360.changelog",
          "c360.notify.deadletter")
COMPACTED = ("c360.customers", "c360.health")  # docs/contract.md, section 1

# The broker's settings. Anything not here is Kafka's default: compaction on
# (log.cleaner.enable), transactions on, transaction.max.timeout.ms 15 min.
SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
# One node: every internal topic with one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A group's first join is not held back 3 s waiting for more members.
group.initial.rebalance.delay.ms=0
# c360's topics are created by the tests (recreate_topics), never by a client's request.
auto.create.topics.enable=false
# The tests' records carry event times months old (c360 gen --start 2026-06-01): no
# time-based retention, or the retention check (every 5 min) would delete them mid-test.
log.retention.ms=-1
# Compaction stays on; its dedupe buffer (128 MiB of heap by default) made small for -Xmx512m.
log.cleaner.enable=true
log.cleaner.dedupe.buffer.size=33554432
# Transactions a test leaves open (a frozen or killed producer) are aborted within
# transaction.timeout.ms plus this, not plus the default minute.
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
"""


class BrokerError(RuntimeError):
    pass


class _PortTaken(BrokerError):
    pass


def _free_ports(n):
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _cluster_id():
    """A random Kafka Uuid in its base64url form (what `kafka-storage random-uuid`
    prints, without starting a JVM for it)."""
    while True:
        text = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka avoids these too (they read as options)
            return text


def _tail(path, limit=3000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-limit:]
    except OSError:
        return ""


def _die_with_parent():
    """In the child before exec: SIGTERM when the process that started it dies (a test
    killed by ctest's timeout must not leave a broker behind)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _alive(pid):
    """True while `pid` runs (a zombie, waiting for a parent that does not reap it, is
    gone as far as the broker is concerned)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


class KafkaBroker:
    """A single-node KRaft broker in `directory` (created if missing)."""

    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        self.proc = None  # the Popen when this object started it
        self.pid = None
        self.bootstrap = None

    @property
    def log_path(self):
        return os.path.join(self.directory, "broker.log")

    @property
    def data_dir(self):
        return os.path.join(self.directory, "data")

    def _path(self, name):
        return os.path.join(self.directory, name)

    def start(self, detach=False, timeout=START_TIMEOUT):
        """Formats the storage, starts the broker and waits until it answers a metadata
        request. `detach`: the broker outlives this process (the shell's `start`);
        otherwise it gets SIGTERM when this process dies."""
        os.makedirs(self.directory, exist_ok=True)
        deadline = time.monotonic() + timeout
        for attempt in range(3):
            port, controller_port = _free_ports(2)
            shutil.rmtree(self.data_dir, ignore_errors=True)
            with open(self._path("server.properties"), "w") as f:
                f.write(SERVER_PROPERTIES.format(port=port, controller_port=controller_port,
                                                 data=self.data_dir))
            self._format(deadline)
            self._launch(detach)
            self.bootstrap = f"127.0.0.1:{port}"
            try:
                self._wait_ready(deadline)
            except _PortTaken:
                # Another process took a port between _free_ports and the bind: new ports.
                self._stop_process()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self.stop()
                raise
            with open(self._path("bootstrap"), "w") as f:
                f.write(self.bootstrap + "\n")
            return self

    def _java(self, main, *args):
        return [JAVA, "-Xmx512m", f"-Dlog4j2.configurationFile={LOG4J2}",
                f"-Dkafka.logs.dir={self.directory}", "-Djava.awt.headless=true",
                "-cp", os.path.join(JARS, "*"), main, *args]

    def _format(self, deadline):
        if not os.path.isdir(JARS) or not any(n.startswith("kafka_") for n in os.listdir(JARS)):
            raise BrokerError(f"no Kafka jars in {JARS}: run scripts/setup (it runs "
                              "mvn -f tools/kafka/pom.xml dependency:copy-dependencies)")
        r = subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t", _cluster_id(),
                                      "-c", self._path("server.properties")),
                           capture_output=True, text=True, cwd=self.directory,
                           timeout=max(1, deadline - time.monotonic()))
        if r.returncode != 0:
            raise BrokerError(f"kafka.tools.StorageTool format exited {r.returncode}: "
                              f"{(r.stdout + r.stderr)[-3000:]}")

    def _launch(self, detach):
        with open(self._path("stdout.log"), "ab") as out:
            self.proc = subprocess.Popen(
                self._java("kafka.Kafka", self._path("server.properties")),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.directory, start_new_session=detach,
                preexec_fn=None if detach else _die_with_parent)
        self.pid = self.proc.pid
        with open(self._path("pid"), "w") as f:
            f.write(f"{self.pid}\n")

    def _wait_ready(self, deadline):
        """Until the broker lists itself in a metadata answer."""
        host, port = self.bootstrap.split(":")
        admin = None
        while True:
            if self.proc.poll() is not None:
                log = _tail(self.log_path) + _tail(self._path("stdout.log"))
                if "Address already in use" in log:
                    raise _PortTaken(log)
                raise BrokerError(f"the Kafka broker exited with {self.proc.returncode} "
                                  f"before it was ready; {self.directory}:\n{log}")
            if time.monotonic() > deadline:
                raise BrokerError(f"the Kafka broker was not ready within {START_TIMEOUT} s; "
                                  f"{self.log_path}:\n{_tail(self.log_path)}")
            if admin is None:
                try:
                    socket.create_connection((host, int(port)), timeout=0.5).close()
                    admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 3})
                except OSError:
                    time.sleep(0.1)
                    continue
            try:
                if admin.list_topics(timeout=2).brokers:
                    return
            except KafkaException:
                pass
            time.sleep(0.1)

    @classmethod
    def attach(cls, directory):
        """The broker `start DIR` left running in DIR (from its pid file)."""
        broker = cls(directory)
        try:
            with open(broker._path("pid")) as f:
                broker.pid = int(f.read())
            with open(broker._path("bootstrap")) as f:
                broker.bootstrap = f.read().strip()
        except (OSError, ValueError):
            pass
        return broker

    def poll(self):
        """Popen-like: None while it runs."""
        if self.proc is not None:
            return self.proc.poll()
        return None if self.pid and _alive(self.pid) else 0

    def send_signal(self, sig):
        """Popen-like (SIGSTOP / SIGCONT to freeze it, as a hung broker)."""
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self):
        """Popen-like: SIGKILL (a broker that dies); stop() still cleans up after it."""
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout=None):
        """Popen-like: until it has exited."""
        if not self._wait_gone(STOP_TIMEOUT if timeout is None else timeout):
            raise subprocess.TimeoutExpired("kafka.Kafka", timeout)
        return self.poll()

    def _is_ours(self):
        """The pid is still this broker's JVM (not a recycled pid)."""
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            return False
        return "kafka.Kafka" in cmdline and self._path("server.properties") in cmdline

    def _stop_process(self, timeout=STOP_TIMEOUT):
        if not self.pid:
            return
        if self.proc is None and not self._is_ours():
            return
        if self.poll() is None:
            os.kill(self.pid, signal.SIGCONT)  # a frozen JVM must run to handle SIGTERM
            os.kill(self.pid, signal.SIGTERM)
            if not self._wait_gone(timeout):
                os.kill(self.pid, signal.SIGKILL)
                if not self._wait_gone(timeout):
                    raise BrokerError(f"the Kafka broker (pid {self.pid}) survived SIGKILL")
        if self.proc is not None:
            self.proc.wait()

    def _wait_gone(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.poll() is not None:
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, SIGKILL after `timeout` s; removes the data (the logs stay)."""
        self._stop_process(timeout)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        for name in ("pid", "bootstrap"):
            try:
                os.unlink(self._path(name))
            except FileNotFoundError:
                pass


@contextmanager
def running():
    """A broker in a temp dir for the duration; the dir is removed afterwards."""
    directory = tempfile.mkdtemp(prefix="c360-kafka-")
    broker = KafkaBroker(directory)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _topic_config(topic):
    # Tests produce records over 1 MiB (the `oversize` dead letter), above Kafka's default
    # 1 MiB batch limit; the test producer's own limit is 4 MiB.
    config = {"max.message.bytes": str(8 << 20)}
    if topic in COMPACTED:
        config["cleanup.policy"] = "compact"
    else:
        config["retention.ms"] = "-1"  # see log.retention.ms above (a shared broker may differ)
    return config


def recreate_topics(bootstrap, partitions, timeout=60):
    """Deletes every c360.* topic, waits until they are gone, and creates c360's nine
    topics (the changelog included, as an engine would create it) with `partitions` partitions each (customers and health compacted), waiting
    until every partition has a leader."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    deadline = time.monotonic() + timeout

    def remaining():
        assert time.monotonic() < deadline, \
            f"recreating c360's topics on {bootstrap} took over {timeout} s"
        return max(1.0, deadline - time.monotonic())

    existing = [t for t in admin.list_topics(timeout=remaining()).topics if t.startswith("c360.")]
    if existing:
        for topic, future in admin.delete_topics(existing, operation_timeout=30).items():
            try:
                future.result()
            except KafkaException as e:
                if e.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise
        while set(existing) & set(admin.list_topics(timeout=remaining()).topics):
            time.sleep(0.1)
    todo = list(TOPICS)
    while todo:
        futures = admin.create_topics(
            [NewTopic(t, partitions, 1, config=_topic_config(t)) for t in todo],
            operation_timeout=30)
        todo = []
        for topic, future in futures.items():
            try:
                future.result()
            except KafkaException as e:
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # deletion in flight
                    raise
                todo.append(topic)
        if todo:
            for topic, future in admin.delete_topics(todo, operation_timeout=30).items():
                try:
                    future.result()
                except KafkaException:
                    pass
            time.sleep(0.2)
            remaining()
    while True:
        md = admin.list_topics(timeout=remaining())
        ready = all(t in md.topics and md.topics[t].error is None
                    and len(md.topics[t].partitions) == partitions
                    and all(p.leader >= 0 for p in md.topics[t].partitions.values())
                    for t in TOPICS)
        if ready:
            break
        time.sleep(0.1)
    # The metadata names the leader before its partitions take requests (a ListOffsets
    # right after answers NOT_LEADER_FOR_PARTITION): until every partition answers one.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "c360-test-topics",
                         "enable.auto.commit": False, "log_level": 3})
    try:
        every = [TopicPartition(t, p, 0) for t in TOPICS for p in range(partitions)]
        while True:
            try:
                answers = consumer.offsets_for_times(every, timeout=remaining())
                if all(tp.error is None for tp in answers):
                    return
            except KafkaException:
                pass
            time.sleep(0.1)
    finally:
        consumer.close()


class _ExternalBroker:
    """The shared broker of C360_TEST_KAFKA, when C360_TEST_KAFKA_PID names its JVM."""

    def __init__(self, pid):
        self.pid = pid
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                ours = b"kafka.Kafka" in f.read()
        except OSError:
            ours = False
        if not ours:
            raise BrokerError(f"C360_TEST_KAFKA_PID={pid} is not a running Kafka broker")

    def poll(self):
        return None if _alive(self.pid) else 0

    def send_signal(self, sig):
        os.kill(self.pid, sig)


@contextmanager
def for_test(partitions):
    """(bootstrap, broker) with c360's topics freshly created with `partitions` partitions:
    on the broker at C360_TEST_KAFKA if set (`broker` has the pid of C360_TEST_KAFKA_PID, or
    is None without it), else on a private broker started and stopped here."""
    bootstrap = os.environ.get("C360_TEST_KAFKA")
    if bootstrap:
        pid = os.environ.get("C360_TEST_KAFKA_PID")
        broker = _ExternalBroker(int(pid)) if pid else None
        if broker is not None and broker.poll() is None:
            broker.send_signal(signal.SIGCONT)  # a test that died while freezing it
        recreate_topics(bootstrap, partitions)
        yield bootstrap, broker
        return
    with running() as broker:
        recreate_topics(broker.bootstrap, partitions)
        yield broker.bootstrap, broker


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a broker in DIR; prints its bootstrap address")
    start.add_argument("dir")
    stop = sub.add_parser("stop", help="stop the broker of DIR and remove its data")
    stop.add_argument("dir")
    topics = sub.add_parser("topics", help="(re)create c360's topics on BOOTSTRAP")
    topics.add_argument("bootstrap")
    topics.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    try:
        if args.command == "start":
            running_one = KafkaBroker.attach(args.dir)
            if running_one.pid and running_one.poll() is None and running_one._is_ours():
                raise BrokerError(f"a broker already runs in {args.dir} (pid {running_one.pid})")
            broker = KafkaBroker(args.dir).start(detach=True)
            print(broker.bootstrap, flush=True)
        elif args.command == "stop":
            KafkaBroker.attach(args.dir).stop()
        else:
            recreate_topics(args.bootstrap, args.partitions)
    except (BrokerError, KafkaException, AssertionError, subprocess.TimeoutExpired) as e:
        print(f"kafka_broker.py {args.command}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
