#!/usr/bin/python3
"""`c360 notify` throughput and latency (docs/notify.md, docs/performance.md), on the
embedded broker with a receiver on 127.0.0.1 that answers 200 at once:

1. deliveries per second: N alerts preloaded, one webhook route, from notify's start to
   the last delivery;
2. latency at a steady rate: alerts produced at R per second for S seconds, each stamped
   with emitted_at when produced; the receiver records arrival - emitted_at: p50, p99, max.

    PYTHONPATH=build/python bench/notify_bench.py [N] [R] [S]    (defaults 20000 1000 30)
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
os.environ.setdefault("C360_BIN", os.path.join(ROOT, "build", "c360"))
import c360test as t  # noqa: E402
from c360.v1 import alert_pb2  # noqa: E402


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0
        self.latencies = []
        self.last = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                now = time.time()
                emitted = json.loads(body)["emitted_at"]
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver.lock:
                    receiver.count += 1
                    receiver.last = now
                    receiver.latencies.append((now, emitted))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def parse_ts(text):
    from google.protobuf import timestamp_pb2
    ts = timestamp_pb2.Timestamp()
    ts.FromJsonString(text)
    return ts.ToNanoseconds() / 1e9


def alert(i):
    a = alert_pb2.AlertEvent(alert_id=f"{i:016x}", customer_id=f"cust-{i % 1000}",
                             rule=alert_pb2.AlertEvent.HEALTH_LOW,
                             state=alert_pb2.AlertEvent.FIRING,
                             severity=alert_pb2.AlertEvent.WARNING, message=f"alert {i}")
    a.emitted_at.FromNanoseconds(time.time_ns())
    return a


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    receiver = Receiver()
    port = receiver.server.server_address[1]
    with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=4) as (bootstrap, _):
        config = os.path.join(tmp, "notify.yaml")
        with open(config, "w") as f:
            f.write(f"routes:\n  - {{name: bench, sink: webhook, url: "
                    f"'http://127.0.0.1:{port}/hook', secret: '${{env:BENCH_SECRET}}'}}\n")
        p = t.producer(bootstrap)
        for i in range(n):
            t.produce(p, "c360.alerts", f"cust-{i % 1000}", alert(i))
            if i % 10000 == 0:
                p.poll(0)
        p.flush(60)
        env = dict(os.environ, BENCH_SECRET="bench-secret")
        log = open(os.path.join(tmp, "notify.log"), "wb")
        started = time.time()
        proc = subprocess.Popen([t.C360, "notify", "--brokers", bootstrap, "--config", config,
                                 "--http", "127.0.0.1:0"], stdout=log, stderr=log, env=env)
        try:
            t.wait_for(lambda: receiver.count >= n, 600, f"{n} deliveries")
            first = min(at for at, _ in receiver.latencies)
            elapsed = receiver.last - first
            print(f"throughput: {n} alerts delivered in {elapsed:.2f} s from the first: "
                  f"{n / elapsed:,.0f} deliveries/s ({receiver.last - started:.2f} s from start, "
                  f"group join included)", flush=True)
            with receiver.lock:
                receiver.latencies.clear()
            # A steady rate, each alert stamped as it is produced.
            total = rate * seconds
            begin = time.time()
            for i in range(total):
                target = begin + i / rate
                delay = target - time.time()
                if delay > 0:
                    time.sleep(delay)
                t.produce(p, "c360.alerts", f"cust-{i % 1000}", alert(n + i))
                p.poll(0)
            p.flush(60)
            t.wait_for(lambda: receiver.count >= n + total, 120, "the steady stream delivered")
            lat = [(at - parse_ts(e)) * 1000 for at, e in receiver.latencies]
            print(f"latency at {rate}/s for {seconds} s ({len(lat)} alerts), emitted_at to "
                  f"received: p50 {pct(lat, 0.5):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, "
                  f"max {max(lat):.1f} ms", flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            log.close()


if __name__ == "__main__":
    main()
