#!/usr/bin/python3
"""Event-to-alert latency at a sustained rate (docs/performance.md), c360 beside a bare
librdkafka relay, on the embedded broker or on real Kafka.

Starts the broker (--broker embedded: `c360 broker`, librdkafka's mock cluster; --broker
kafka: Apache Kafka, one KRaft node from tests/lib/kafka_broker.py, c360's topics created),
then produces live events (event time and Kafka timestamp = now) at a steady rate for a
fixed time: usage events of random customers, and invoices issued already past their due
date (INVOICE_OVERDUE fires on that record) and paid in full a little later (it resolves),
so that alerts come from records all along. Two subjects, each on a fresh broker under the
same seeded load:

  c360  `c360 engine --clock wall`. Reads the engine's own histograms before and after the
        measured window: c360_event_to_alert_seconds (record's Kafka timestamp to the
        alert's delivery report; exactly_once: to its transaction's commit) and
        c360_state_commit_seconds, the outputs it delivered per topic, and samples the
        consumer lag every second.
  bare  build/bench/bare_relay: a consumer and a producer with the engine's librdkafka
        settings and nothing between them, relaying each invoice record to c360.alerts at
        once (the engine's alert traffic) and copying records to c360.health at the rate
        the engine's run delivered snapshots (its output traffic); the same span, record's
        Kafka timestamp to the output's delivery report (exactly_once: a transaction every
        10 ms, the engine's batch window, to its commit). What the broker and the client
        cost on this machine: the floor under c360's figure.

Both subjects' quantiles are read the same way, from cumulative buckets with the engine's
bounds (interpolated as Prometheus' histogram_quantile does); the bare relay's exact ones
are in the JSON too.

Runs of 2 minutes or more also report each minute's quantiles, side by side (does the
figure hold?): the engine's from its histogram's difference over the minute, with the
minute's largest consumer lag, the relay's from a window it reports each minute.

  bench/latency.py [--rate 20000] [--seconds 60] [--customers 20000]
                   [--broker embedded|kafka] [--guarantee at_least_once|exactly_once]
                   [--subjects c360,bare] [--build DIR] [--json FILE]

--broker and --build default to $C360_BENCH_BROKER and $C360_BENCH_BUILD (bench/broker.sh),
else embedded and build/. exactly_once needs --broker kafka (the embedded broker accepts
the transaction calls but writes no markers).
"""

import argparse
import contextlib
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import c360test  # noqa: E402
import kafka_broker  # noqa: E402
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402

HEADERS = [("content-type", b"application/x-protobuf")]
# services/engine/stats.h, EventToAlertBounds(): the bare relay's latencies are bucketed
# with them too, so that both subjects' quantiles carry the same interpolation.
EVENT_TO_ALERT_BOUNDS = (0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
                         0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
QUANTILES = (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return c360test.metric_samples(r.read().decode())


def buckets(samples, name):
    """[(upper bound, cumulative count)] of a histogram, +Inf last."""
    out = []
    for series, value in samples.items():
        m = re.fullmatch(name + r'_bucket\{le="([^"]+)"\}', series)
        if m:
            out.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), value))
    return sorted(out)


def quantile(before, after, q):
    """q-quantile of the observations between two snapshots of a histogram, interpolated
    linearly inside its bucket (as Prometheus' histogram_quantile does)."""
    delta = [(le, a - b) for (le, a), (_, b) in zip(after, before)]
    total = delta[-1][1]
    if total <= 0:
        return None
    rank, low, below = q * total, 0.0, 0.0
    for le, count in delta:
        if count >= rank:
            if le == float("inf"):
                return low
            return low + (le - low) * (rank - below) / max(count - below, 1e-9)
        low, below = le, count
    return low


def ms_quantiles(before, after, digits=1):
    out = {}
    for name, q in QUANTILES:
        v = quantile(before, after, q)
        out[name] = None if v is None else round(1000 * v, digits)
    return out


def counts_to_buckets(counts):
    """{"ms": count} (whole milliseconds) -> cumulative buckets with the engine's bounds."""
    values = sorted((int(ms), n) for ms, n in counts.items())
    out = []
    for le in EVENT_TO_ALERT_BOUNDS + (float("inf"),):
        out.append((le, sum(n for ms, n in values if ms / 1000 <= le)))
    return out


def exact_quantiles(counts):
    values = sorted((int(ms), n) for ms, n in counts.items())
    total = sum(n for _, n in values)
    out = {}
    for name, q in QUANTILES:
        rank, seen = min(total - 1, int(q * total)), 0
        out[name] = None
        for ms, n in values:
            seen += n
            if seen > rank:
                out[name] = ms
                break
    return out


def percentiles(values):
    """{"p50", "p99"} of a list of milliseconds, exact."""
    if not values:
        return {}
    values = sorted(values)
    return {q: values[min(len(values) - 1, int(f * len(values)))]
            for q, f in (("p50", 0.5), ("p99", 0.99))}


def read_alerts(bootstrap):
    """Every message of c360.alerts, with python3-confluent-kafka (read_committed)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "latency-bench-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True, "log_level": 3})
    try:
        parts = list(c.list_topics("c360.alerts", timeout=10).topics["c360.alerts"].partitions)
        # From each partition's first record kept (the embedded broker drops the oldest
        # beyond ~5 MiB: offset 0 would be out of range, and read as the end).
        c.assign([TopicPartition("c360.alerts", p, OFFSET_BEGINNING) for p in parts])
        at_end, out = set(), []
        while len(at_end) < len(parts):
            for m in c.consume(num_messages=10000, timeout=1):
                if m.error():
                    at_end.add(m.partition())
                else:
                    out.append(m)
        return out
    finally:
        c.close()


def stamp(message_field, ms):
    message_field.seconds, message_field.nanos = ms // 1000, (ms % 1000) * 1_000_000


@contextlib.contextmanager
def broker(kind, partitions, c360, work):
    """(bootstrap address, pid) of a fresh broker, stopped afterwards. In a session of its
    own (as in bench/broker.sh): Ctrl-C stops the engine or the relay, which then leave
    the group while the broker still answers; it is stopped last."""
    if kind == "embedded":
        proc = subprocess.Popen([c360, "broker", "--port", "0", "--partitions", str(partitions)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                start_new_session=True)
        try:
            yield proc.stdout.readline().strip(), proc.pid
        finally:
            stop(proc)
    else:
        kafka = kafka_broker.KafkaBroker(os.path.join(work, "kafka"))
        try:
            kafka.start(detach=True)
            kafka_broker.recreate_topics(kafka.bootstrap, partitions)
            yield kafka.bootstrap, kafka.pid
        finally:
            kafka.stop()


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


class CpuSampler:
    """CPU of some processes, sampled once a second over the measured window: their mean
    share of one core, and in the window's first and last 10 s (the embedded broker's
    grows with every batch it holds)."""

    def __init__(self, pids):
        self.pids = pids
        self.samples = {name: [] for name in pids}  # [(monotonic, cpu seconds)]
        self.sample()

    def sample(self):
        now = time.monotonic()
        for name, pid in self.pids.items():
            cpu = cpu_seconds(pid)
            if cpu is not None:
                self.samples[name].append((now, cpu))

    def result(self):
        out = {}
        for name, s in self.samples.items():
            if len(s) < 2:
                continue

            def share(a, b):
                return round(100 * (b[1] - a[1]) / max(b[0] - a[0], 1e-9))
            first = next((x for x in s if x[0] - s[0][0] >= 10), s[-1])
            last = next((x for x in s if s[-1][0] - x[0] <= 10), s[0])
            out[name] = {"mean": share(s[0], s[-1]), "first_10s": share(s[0], first),
                         "last_10s": share(last, s[-1])}
        return out


def stop(proc):
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Load:
    """The live load, seeded: every subject gets the same sequence of records."""

    def __init__(self, bootstrap, args, protos):
        self.args = args
        self.p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                           "linger.ms": args.linger_ms, "log_level": 3,
                           "queue.buffering.max.messages": 1000000})
        self.rng = random.Random(1)
        self.ids = [f"cust-{i:06d}" for i in range(args.customers)]
        self.open_invoices = []
        self.seq = 0
        self.invoice_pb2 = protos["invoice"]
        self.usage = protos["usage"].UsageEvent(module="reports", action="open", quantity=1)
        self.invoice = self.invoice_pb2.InvoiceEvent(currency="USD")

    def produce_one(self, now_ms):
        self.seq += 1
        seq, p, invoice, kinds = self.seq, self.p, self.invoice, self.invoice_pb2.InvoiceEvent
        cid = self.ids[self.rng.randrange(len(self.ids))]
        r = self.rng.random()
        if r < 0.01:  # an invoice already past its due date: INVOICE_OVERDUE fires
            invoice.Clear()
            invoice.event_id, invoice.customer_id = f"i{seq}", cid
            invoice.invoice_id, invoice.kind = f"INV-{seq}", kinds.ISSUED
            invoice.amount_cents = 50_000
            stamp(invoice.event_time, now_ms)
            stamp(invoice.due_date, now_ms - 2 * 86_400_000)
            self.open_invoices.append((cid, invoice.invoice_id))
            p.produce("c360.invoices", key=cid, value=invoice.SerializeToString(),
                      headers=HEADERS)
        elif r < 0.02 and self.open_invoices:  # paid in full: it resolves
            cid, invoice_id = self.open_invoices.pop(0)
            invoice.Clear()
            invoice.event_id, invoice.customer_id = f"p{seq}", cid
            invoice.invoice_id, invoice.kind = invoice_id, kinds.PAID
            stamp(invoice.event_time, now_ms)
            p.produce("c360.invoices", key=cid, value=invoice.SerializeToString(),
                      headers=HEADERS)
        else:
            self.usage.customer_id = cid
            stamp(self.usage.event_time, now_ms)
            p.produce("c360.usage", key=cid, value=self.usage.SerializeToString(),
                      headers=HEADERS)

    def run(self, seconds, each_second=None):
        start = time.monotonic()
        sent, next_sample = 0, start + 1
        while True:
            now = time.monotonic()
            if now - start >= seconds:
                break
            due = int((now - start) * self.args.rate)
            now_ms = int(time.time() * 1000)
            while sent < due:
                self.produce_one(now_ms)
                sent += 1
            self.p.poll(0)
            if each_second is not None and now >= next_sample:
                next_sample += 1
                each_second()
            time.sleep(0.002)
        return sent, time.monotonic() - start

    def flush(self):
        self.p.flush(30)


def total(m, prefix):
    return sum(v for k, v in m.items() if k.startswith(prefix))


def outputs_by_topic(before, after):
    out = {}
    for k, v in after.items():
        m = re.fullmatch(r'c360_outbox_delivered_total\{topic="([^"]+)"\}', k)
        if m:
            out[m.group(1)] = int(v - before.get(k, 0))
    return out


def run_c360(args, bootstrap, broker_pid, work, config_text, protos):
    config = os.path.join(work, "c360.yaml")
    with open(config, "w") as f:
        f.write(config_text)
    log_path = os.path.join(work, "engine.log")
    engine = None
    with open(log_path, "wb") as log:
        try:
            engine = subprocess.Popen([args.c360, "engine", "--brokers", bootstrap,
                                       "--clock", "wall",
                                       "--state-dir", os.path.join(work, "state"),
                                       "--group", "latency-bench", "--http", "127.0.0.1:0",
                                       "--config", config],
                                      stdout=log, stderr=log)
            port, deadline = None, time.monotonic() + 30
            while port is None and time.monotonic() < deadline:
                found = re.search(rb"event=http_listening address=\S*:(\d+)",
                                  open(log_path, "rb").read())
                port = int(found.group(1)) if found else None
                time.sleep(0.05)
            if port is None:
                raise RuntimeError(f"the engine did not listen: {open(log_path).read()[-2000:]}")
            while time.monotonic() < deadline:  # assigned and caught up (empty topics)
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz",
                                                timeout=5) as r:
                        if r.status == 200:
                            break
                except Exception:
                    pass
                time.sleep(0.1)

            load = Load(bootstrap, args, protos)
            load.run(args.warmup)
            before = metrics(port)
            lags = []
            cpu = CpuSampler({"broker": broker_pid, "c360": engine.pid})

            minutes, minute_start = [], {"m": before, "lags": 0}

            def close_minute(m):  # its figures, from the histogram's difference since its start
                b = buckets(minute_start["m"], "c360_event_to_alert_seconds")
                a = buckets(m, "c360_event_to_alert_seconds")
                q = ms_quantiles(b, a)
                minutes.append({"minute": len(minutes) + 1, "alerts": int(a[-1][1] - b[-1][1]),
                                "p50": q["p50"], "p99": q["p99"], "p999": q["p999"],
                                "max_lag": int(max(lags[minute_start["lags"]:]))})
                minute_start.update(m=m, lags=len(lags))
                print(f"  c360 minute {len(minutes)}: {minutes[-1]}", flush=True)

            def each_second():
                m = metrics(port)
                lags.append(total(m, "c360_consumer_lag{"))
                cpu.sample()
                if len(lags) % 60 == 0:
                    close_minute(m)
            sent, elapsed = load.run(args.seconds, each_second)
            cpu.sample()
            load.flush()
            time.sleep(1)  # the last batches' alerts
            after = metrics(port)
            if minutes and len(lags) > minute_start["lags"]:  # the last (part of a) minute
                close_minute(after)

            consumed = (total(after, "c360_events_consumed_total")
                        - total(before, "c360_events_consumed_total"))
            e2a_b = buckets(before, "c360_event_to_alert_seconds")
            e2a_a = buckets(after, "c360_event_to_alert_seconds")
            com_b = buckets(before, "c360_state_commit_seconds")
            com_a = buckets(after, "c360_state_commit_seconds")
            # Where the time goes, from the alerts themselves: event_time (= the record's
            # production time here) -> emitted_at (the engine's rule evaluation: the load
            # generator's linger, the broker, the fetch, the batch window, processing) ->
            # the alert message's Kafka timestamp (its hand-over to the producer: the
            # commit and the fence).
            window_start_ms = (time.time() - elapsed - 1) * 1000
            to_eval, to_publish = [], []
            for m in read_alerts(bootstrap):
                a = protos["alert"].AlertEvent.FromString(m.value())
                event_ms = a.event_time.seconds * 1000 + a.event_time.nanos // 1_000_000
                emitted_ms = a.emitted_at.seconds * 1000 + a.emitted_at.nanos // 1_000_000
                if event_ms < window_start_ms:
                    continue
                to_eval.append(emitted_ms - event_ms)
                to_publish.append(m.timestamp()[1] - emitted_ms)
            outputs = outputs_by_topic(before, after)
            return {
                "produced_per_s": round(sent / elapsed),
                "consumed_per_s": round(consumed / elapsed),
                "consumed": int(consumed),
                "alerts": int(e2a_a[-1][1] - e2a_b[-1][1]),
                "event_to_alert_ms": ms_quantiles(e2a_b, e2a_a),
                "commit_ms": ms_quantiles(com_b, com_a, 2),
                "commits": int(com_a[-1][1] - com_b[-1][1]),
                "max_lag": int(max(lags) if lags else -1),
                "outputs": outputs,
                "fence_rejections": int(total(after, "c360_output_fence_rejections_total")
                                        - total(before, "c360_output_fence_rejections_total")),
                "cpu_percent": cpu.result(),
                "to_evaluation_ms": percentiles(to_eval),
                "evaluation_to_producer_ms": percentiles(to_publish),
                "per_minute": minutes,
            }
        finally:
            stop(engine)


def run_bare(args, bootstrap, broker_pid, kafka_overrides, health_per_record, protos,
             seconds=None, warmup=None):
    cmd = [args.relay, bootstrap, "--health-per-record", f"{health_per_record:.6f}"]
    if args.guarantee == "exactly_once":
        cmd.append("--transactional")
    for key, value in kafka_overrides.items():  # consumer properties (fetch.wait.max.ms)
        cmd += ["--consumer-set", f"{key}={value}"]
    relay = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([relay.stdout], [], [], 60)
        line = relay.stdout.readline().strip() if ready else ""
        if line != "ready":
            raise RuntimeError(f"bare_relay did not get its partitions within 60 s ({line!r})")
        load = Load(bootstrap, args, protos)
        load.run(args.warmup if warmup is None else warmup)
        relay.stdin.write("reset\n")
        relay.stdin.flush()
        cpu = CpuSampler({"broker": broker_pid, "bare": relay.pid})
        minutes, ticks = [], [0]

        def each_second():
            cpu.sample()
            ticks[0] += 1
            if ticks[0] % 60 == 0:  # a minute's figures: the relay reports and starts afresh
                relay.stdin.write("window\n")
                relay.stdin.flush()
                ready, _, _ = select.select([relay.stdout], [], [], 10)
                if ready:
                    w = json.loads(relay.stdout.readline())
                    zero = [(le, 0) for le, _ in counts_to_buckets({})]
                    relayed = counts_to_buckets(w["relay_ms"])
                    q = ms_quantiles(zero, relayed)
                    minutes.append({"minute": len(minutes) + 1, "alerts": relayed[-1][1],
                                    "p50": q["p50"], "p99": q["p99"], "p999": q["p999"],
                                    "window": w})
                    print(f"  bare minute {len(minutes)}: "
                          f"{ {k: v for k, v in minutes[-1].items() if k != 'window'} }",
                          flush=True)
        sent, elapsed = load.run(args.seconds if seconds is None else seconds, each_second)
        cpu.sample()
        load.flush()
        time.sleep(1)  # the last outputs
        relay.stdin.write("report\n")
        relay.stdin.flush()
        ready, _, _ = select.select([relay.stdout], [], [], 60)
        report = json.loads(relay.stdout.readline()) if ready else None
        if report is None:
            raise RuntimeError("bare_relay did not report within 60 s")
        relay.wait(timeout=30)
    finally:
        stop(relay)
    if minutes:  # the last (part of a) minute: what the report holds
        zero = [(le, 0) for le, _ in counts_to_buckets({})]
        relayed = counts_to_buckets(report["relay_ms"])
        q = ms_quantiles(zero, relayed)
        minutes.append({"minute": len(minutes) + 1, "alerts": relayed[-1][1], "p50": q["p50"],
                        "p99": q["p99"], "p999": q["p999"], "window": {
                            "consumed": 0, "transactions": 0, "aborted": 0, "relay_ms": {},
                            "consume_ms": {}, "transaction_ms": {}, "outputs": {}}})
    # The whole run: the minutes' windows and the rest since the last one, added up.
    for w in [m.pop("window") for m in minutes]:
        report["consumed"] += w["consumed"]
        report["transactions"] += w["transactions"]
        report["aborted"] += w["aborted"]
        for key in ("relay_ms", "consume_ms", "transaction_ms"):
            for ms, n in w[key].items():
                report[key][ms] = report[key].get(ms, 0) + n
        for topic, n in w["outputs"].items():
            report["outputs"][topic] = report["outputs"].get(topic, 0) + n
    zero = [(le, 0) for le, _ in counts_to_buckets({})]
    relayed = counts_to_buckets(report["relay_ms"])
    consumed = counts_to_buckets(report["consume_ms"])
    return {
        "produced_per_s": round(sent / elapsed),
        "consumed_per_s": round(report["consumed"] / elapsed),
        "consumed": report["consumed"],
        "alerts": relayed[-1][1],
        "event_to_alert_ms": ms_quantiles(zero, relayed),
        "event_to_alert_exact_ms": exact_quantiles(report["relay_ms"]),
        "consume_ms": ms_quantiles(zero, consumed),
        "consume_exact_ms": exact_quantiles(report["consume_ms"]),
        "outputs": report["outputs"],
        "health_per_record": health_per_record,
        "cpu_percent": cpu.result(),
        "transactions": report["transactions"],
        "transaction_exact_ms": exact_quantiles(report["transaction_ms"]),
        "aborted": report["aborted"],
        "per_minute": minutes,
    }


def main():
    # Stopped (Ctrl-C, SIGTERM), the finally blocks still stop the engine, the relay and
    # the broker; a second signal does not cut them short.
    def stopped(signum, _):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.exit(128 + signum)
    signal.signal(signal.SIGINT, stopped)
    signal.signal(signal.SIGTERM, stopped)
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--customers", type=int, default=20000)
    # Few partitions: the embedded broker finds a fetch offset by scanning its partition's
    # list of batches, which grows by ~200 a second here; over a minute, 16 partitions made
    # its fetches too slow to keep up (real Kafka indexes offsets). Kafka gets the same.
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--broker", choices=("embedded", "kafka"),
                    default=os.environ.get("C360_BENCH_BROKER", "embedded"))
    ap.add_argument("--build", default=os.environ.get("C360_BENCH_BUILD", "build"),
                    help="the build directory whose c360 and bench/bare_relay run")
    ap.add_argument("--guarantee", choices=("at_least_once", "exactly_once"),
                    default="at_least_once", help="engine.processing_guarantee")
    ap.add_argument("--subjects", default="c360,bare",
                    help="c360, bare or both (comma-separated), in that order")
    ap.add_argument("--health-per-record", type=float,
                    help="the bare relay's c360.health outputs per input record (default: "
                         "what the c360 run delivered, else 0)")
    ap.add_argument("--fetch-wait-ms", type=int,
                    help="fetch.wait.max.ms of the engine's and the relay's consumer "
                         "(default: 5 on the embedded broker, c360's own 100 on Kafka)")
    ap.add_argument("--broker-warmup", type=int,
                    help="seconds of load through the bare relay on each fresh broker before "
                         "its topics are created afresh and the subject starts (default: 15 "
                         "on Kafka, whose JVM is slow until its JIT has run; 0 on the "
                         "embedded broker)")
    ap.add_argument("--json", help="write the figures here too")
    ap.add_argument("--config", default="",
                    help="more engine config (YAML text) to try, for the engine alone; without "
                         "the sections the bench writes (kafka: on the embedded broker, "
                         "engine: on Kafka)")
    ap.add_argument("--linger-ms", type=int, default=5,
                    help="the load producer's linger.ms (the embedded broker answers a fetch "
                         "with one batch per partition: below 5 ms it cannot keep up with "
                         "20,000/s here)")
    args = ap.parse_args()
    subjects = [s for s in args.subjects.split(",") if s]
    if not subjects or any(s not in ("c360", "bare") for s in subjects):
        ap.error("--subjects: c360, bare or c360,bare")
    if args.guarantee == "exactly_once" and args.broker != "kafka":
        ap.error("exactly_once needs --broker kafka (the embedded broker writes no "
                 "transaction markers)")
    if args.broker_warmup is None:
        args.broker_warmup = 15 if args.broker == "kafka" else 0
    build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build
    args.c360 = os.path.join(build, "c360")
    args.relay = os.path.join(build, "bench", "bare_relay")
    for path in [args.c360] + ([args.relay] if "bare" in subjects or args.broker_warmup else []):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench/latency.py: build first (scripts/build): {path}")
    sys.path.insert(0, os.path.join(build, "python"))
    from c360.v1 import alert_pb2, invoice_pb2, usage_pb2
    protos = {"alert": alert_pb2, "invoice": invoice_pb2, "usage": usage_pb2}

    # The embedded broker holds a fetch that finds no data for fetch.wait.max.ms even when
    # data arrives meanwhile (Kafka answers at once): c360's 100 ms default would be
    # measured as latency there, so the bench lowers it on that broker. On Kafka c360's
    # defaults stand. The relay's consumer gets the same.
    fetch_wait = args.fetch_wait_ms if args.fetch_wait_ms is not None else (
        5 if args.broker == "embedded" else None)
    kafka_overrides = {} if fetch_wait is None else {"fetch.wait.max.ms": str(fetch_wait)}
    config_text = "".join(["kafka:\n"] + [f"  {k}: {v}\n" for k, v in kafka_overrides.items()]
                          if kafka_overrides else [])
    if args.broker == "kafka":
        config_text += f"engine:\n  processing_guarantee: {args.guarantee}\n"
    config_text += args.config

    result = {"broker": args.broker, "guarantee": args.guarantee, "rate_target": args.rate,
              "seconds": args.seconds, "partitions": args.partitions,
              "broker_warmup": args.broker_warmup, "engine_config": config_text}
    health_per_record = args.health_per_record
    for subject in subjects:
        work = tempfile.mkdtemp(prefix="c360-latency-")
        try:
            with broker(args.broker, args.partitions, args.c360, work) as (bootstrap, broker_pid):
                if args.broker_warmup > 0:
                    # A fresh JVM answers slowly until its JIT has compiled the hot paths,
                    # and creates its internal topics (__consumer_offsets,
                    # __transaction_state: 50 partitions each) at the first group join and
                    # the first producer id: the relay under the same load for a while,
                    # then c360's topics afresh, before either subject.
                    run_bare(args, bootstrap, broker_pid, kafka_overrides, 0.05, protos,
                             seconds=args.broker_warmup, warmup=0)
                    kafka_broker.recreate_topics(bootstrap, args.partitions)
                if subject == "c360":
                    r = run_c360(args, bootstrap, broker_pid, work, config_text, protos)
                    if health_per_record is None and r["consumed"] > 0:
                        health_per_record = r["outputs"].get("c360.health", 0) / r["consumed"]
                else:
                    r = run_bare(args, bootstrap, broker_pid, kafka_overrides,
                                 health_per_record or 0, protos)
        finally:
            subprocess.run(["rm", "-rf", work])
        result[subject] = r
        e2a = r["event_to_alert_ms"]
        head = (f"latency {subject} ({args.broker}, {args.guarantee}): target {args.rate}/s for "
                f"{args.seconds} s: produced {r['produced_per_s']}/s, consumed "
                f"{r['consumed_per_s']}/s")
        if subject == "c360":
            print(f"{head}, max consumer lag {r['max_lag']} records; {r['alerts']} alerts, "
                  f"event-to-alert p50 {e2a['p50']} ms p99 {e2a['p99']} ms p999 {e2a['p999']} ms; "
                  f"{r['commits']} commits, commit p50 {r['commit_ms']['p50']} ms p99 "
                  f"{r['commit_ms']['p99']} ms; outputs {r['outputs']}; record to rule "
                  f"evaluation {r['to_evaluation_ms']}, evaluation to producer "
                  f"{r['evaluation_to_producer_ms']}; CPU % of a core {r['cpu_percent']}",
                  flush=True)
        else:
            print(f"{head}; {r['alerts']} relayed, record to output delivered p50 {e2a['p50']} "
                  f"ms p99 {e2a['p99']} ms p999 {e2a['p999']} ms (exact "
                  f"{r['event_to_alert_exact_ms']}); record to consumer p50 "
                  f"{r['consume_ms']['p50']} ms p99 {r['consume_ms']['p99']} ms; outputs "
                  f"{r['outputs']}" + (f"; {r['transactions']} transactions, {r['aborted']} "
                                       f"aborted, each (begin to commit) "
                                       f"{r['transaction_exact_ms']} ms"
                                       if args.guarantee == "exactly_once" else "")
                  + f"; CPU % of a core {r['cpu_percent']}",
                  flush=True)
    if args.seconds >= 120:  # minute by minute: does the figure hold?
        rows = {s: {m["minute"]: m for m in result[s]["per_minute"]} for s in subjects}
        print("per minute, event-to-alert p50 / p99 / p999 ms (c360: and its max consumer lag):")
        for minute in range(1, args.seconds // 60 + 1):
            cells = []
            for s in subjects:
                m = rows[s].get(minute)
                cells.append(f"{s} " + ("-" if m is None else
                             f"{m['p50']} / {m['p99']} / {m['p999']}"
                             + (f" (lag {m['max_lag']})" if "max_lag" in m else "")))
            print(f"  minute {minute:>2}: " + "; ".join(cells))
    if "c360" in result and "bare" in result:
        c, b = result["c360"]["event_to_alert_ms"], result["bare"]["event_to_alert_ms"]
        result["ratio"] = {q: (round(c[q] / b[q], 2) if c[q] and b[q] else None)
                           for q, _ in QUANTILES}
        print(f"latency ratio c360 / bare: {result['ratio']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
