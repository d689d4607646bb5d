#!/usr/bin/python3
"""Event-to-alert latency at a sustained rate (docs/performance.md).

Starts the embedded broker and `c360 engine --clock wall`, then produces live events (event
time and Kafka timestamp = now) at a steady rate for a fixed time: usage events of random
customers, and invoices issued already past their due date (INVOICE_OVERDUE fires on that
record) and paid in full a little later (it resolves), so that alerts come from records
all along. Reads the engine's own histograms before and after the measured window:
c360_event_to_alert_seconds (record's Kafka timestamp to the alert's delivery report) and
c360_state_commit_seconds, and samples the consumer lag every second.

  bench/latency.py [--rate 20000] [--seconds 60] [--customers 20000] [--json FILE]
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import c360test  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from c360.v1 import alert_pb2, invoice_pb2, usage_pb2  # noqa: E402

C360 = os.path.join(ROOT, "build", "c360")
HEADERS = [("content-type", b"application/x-protobuf")]


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


def percentiles(values):
    """{"p50", "p99"} of a list of milliseconds, exact."""
    if not values:
        return {}
    values = sorted(values)
    return {q: values[min(len(values) - 1, int(f * len(values)))]
            for q, f in (("p50", 0.5), ("p99", 0.99))}


def read_alerts(bootstrap):
    """Every message of c360.alerts, with python3-confluent-kafka."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "latency-bench-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True, "log_level": 3})
    try:
        parts = list(c.list_topics("c360.alerts", timeout=10).topics["c360.alerts"].partitions)
        c.assign([TopicPartition("c360.alerts", p, 0) for p in parts])
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--customers", type=int, default=20000)
    # Few partitions: the embedded broker finds a fetch offset by scanning its partition's
    # list of batches, which grows by ~200 a second here; over a minute, 16 partitions made
    # its fetches too slow to keep up (real Kafka indexes offsets).
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--json", help="write the figures here too")
    ap.add_argument("--config", default="", help="more engine config (YAML text) to try")
    ap.add_argument("--linger-ms", type=int, default=5,
                    help="the load producer's linger.ms (the embedded broker answers a fetch "
                         "with one batch per partition: below 5 ms it cannot keep up with "
                         "20,000/s here)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="c360-latency-")
    broker = subprocess.Popen([C360, "broker", "--port", "0", "--partitions", str(args.partitions)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    engine = None
    try:
        bootstrap = broker.stdout.readline().strip()
        # The embedded broker holds a fetch that finds no data for fetch.wait.max.ms even
        # when data arrives meanwhile (Kafka answers at once): c360's 100 ms default would
        # be measured as latency here, so the bench lowers it. Against real Kafka the
        # default costs nothing.
        config = os.path.join(work, "c360.yaml")
        with open(config, "w") as f:
            f.write("kafka:\n  fetch.wait.max.ms: 5\n" + args.config)
        log_path = os.path.join(work, "engine.log")
        log = open(log_path, "wb")
        engine = subprocess.Popen([C360, "engine", "--brokers", bootstrap, "--clock", "wall",
                                   "--state-dir", os.path.join(work, "state"),
                                   "--group", "latency-bench", "--http", "127.0.0.1:0",
                                   "--config", config],
                                  stdout=log, stderr=log)
        port, deadline = None, time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            found = re.search(rb"event=http_listening address=\S*:(\d+)", open(log_path, "rb").read())
            port = int(found.group(1)) if found else None
            time.sleep(0.05)
        while time.monotonic() < deadline:  # assigned and caught up (empty topics)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            time.sleep(0.1)

        p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                      "linger.ms": args.linger_ms, "log_level": 3, "queue.buffering.max.messages": 1000000})
        rng = random.Random(1)
        ids = [f"cust-{i:06d}" for i in range(args.customers)]
        open_invoices = []
        seq = 0
        usage = usage_pb2.UsageEvent(module="reports", action="open", quantity=1)
        invoice = invoice_pb2.InvoiceEvent(currency="USD")

        def produce_one(now_ms):
            nonlocal seq
            seq += 1
            cid = ids[rng.randrange(len(ids))]
            r = rng.random()
            if r < 0.01:  # an invoice already past its due date: INVOICE_OVERDUE fires
                invoice.Clear()
                invoice.event_id, invoice.customer_id = f"i{seq}", cid
                invoice.invoice_id, invoice.kind = f"INV-{seq}", invoice_pb2.InvoiceEvent.ISSUED
                invoice.amount_cents = 50_000
                stamp(invoice.event_time, now_ms)
                stamp(invoice.due_date, now_ms - 2 * 86_400_000)
                open_invoices.append((cid, invoice.invoice_id))
                p.produce("c360.invoices", key=cid, value=invoice.SerializeToString(),
                          headers=HEADERS)
            elif r < 0.02 and open_invoices:  # paid in full: it resolves
                cid, invoice_id = open_invoices.pop(0)
                invoice.Clear()
                invoice.event_id, invoice.customer_id = f"p{seq}", cid
                invoice.invoice_id, invoice.kind = invoice_id, invoice_pb2.InvoiceEvent.PAID
                stamp(invoice.event_time, now_ms)
                p.produce("c360.invoices", key=cid, value=invoice.SerializeToString(),
                          headers=HEADERS)
            else:
                usage.customer_id = cid
                stamp(usage.event_time, now_ms)
                p.produce("c360.usage", key=cid, value=usage.SerializeToString(), headers=HEADERS)

        def run(seconds, lag_samples):
            start = time.monotonic()
            sent, next_sample = 0, start + 1
            while True:
                now = time.monotonic()
                if now - start >= seconds:
                    break
                due = int((now - start) * args.rate)
                now_ms = int(time.time() * 1000)
                while sent < due:
                    produce_one(now_ms)
                    sent += 1
                p.poll(0)
                if lag_samples is not None and now >= next_sample:
                    next_sample += 1
                    m = metrics(port)
                    lag_samples.append(sum(v for k, v in m.items()
                                           if k.startswith("c360_consumer_lag{")))
                time.sleep(0.002)
            return sent, time.monotonic() - start

        run(args.warmup, None)
        before = metrics(port)
        lags = []
        sent, elapsed = run(args.seconds, lags)
        p.flush(30)
        time.sleep(1)  # the last batches' alerts
        after = metrics(port)

        def total(m, prefix):
            return sum(v for k, v in m.items() if k.startswith(prefix))
        consumed = total(after, "c360_events_consumed_total") - total(before, "c360_events_consumed_total")
        e2a_b, e2a_a = buckets(before, "c360_event_to_alert_seconds"), buckets(after, "c360_event_to_alert_seconds")
        com_b, com_a = buckets(before, "c360_state_commit_seconds"), buckets(after, "c360_state_commit_seconds")
        # Where the time goes, from the alerts themselves: event_time (= the record's
        # production time here) -> emitted_at (the engine's rule evaluation: the load
        # generator's linger, the broker, the fetch, the batch window, processing) -> the
        # alert message's Kafka timestamp (its hand-over to the producer: the commit and the
        # fence).
        window_start_ms = (time.time() - elapsed - 1) * 1000
        to_eval, to_publish = [], []
        for m in read_alerts(bootstrap):
            a = alert_pb2.AlertEvent.FromString(m.value())
            event_ms = a.event_time.seconds * 1000 + a.event_time.nanos // 1_000_000
            emitted_ms = a.emitted_at.seconds * 1000 + a.emitted_at.nanos // 1_000_000
            if event_ms < window_start_ms:
                continue
            to_eval.append(emitted_ms - event_ms)
            to_publish.append(m.timestamp()[1] - emitted_ms)
        result = {
            "rate_target": args.rate,
            "produced_per_s": round(sent / elapsed),
            "consumed_per_s": round(consumed / elapsed),
            "seconds": args.seconds,
            "alerts": int(e2a_a[-1][1] - e2a_b[-1][1]),
            "event_to_alert_ms": {q: round(1000 * quantile(e2a_b, e2a_a, v), 1)
                                  for q, v in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))},
            "commit_ms": {q: round(1000 * quantile(com_b, com_a, v), 2)
                          for q, v in (("p50", 0.5), ("p99", 0.99))},
            "commits": int(com_a[-1][1] - com_b[-1][1]),
            "max_lag": int(max(lags) if lags else -1),
            "to_evaluation_ms": percentiles(to_eval),
            "evaluation_to_producer_ms": percentiles(to_publish),
        }
        print(f"latency: target {args.rate}/s for {args.seconds} s: produced "
              f"{result['produced_per_s']}/s, consumed {result['consumed_per_s']}/s, "
              f"max consumer lag {result['max_lag']} records; {result['alerts']} alerts, "
              f"event-to-alert p50 {result['event_to_alert_ms']['p50']} ms p99 "
              f"{result['event_to_alert_ms']['p99']} ms p999 {result['event_to_alert_ms']['p999']} ms; "
              f"{result['commits']} commits, commit p50 {result['commit_ms']['p50']} ms p99 "
              f"{result['commit_ms']['p99']} ms; record to rule evaluation "
              f"{result['to_evaluation_ms']}, evaluation to producer {result['evaluation_to_producer_ms']}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f)
    finally:
        for proc in (engine, broker):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
