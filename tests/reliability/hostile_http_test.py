"""Hostile clients at the HTTP door (SPEC section 8): while hundreds of slow-loris
connections trickle their headers, 10,000 random and invalid URLs arrive, 100 MB bodies are
pushed (declared and chunked) and invalid UTF-8 fills every part of a request, a probe in
another process asks GET /healthz every second and must be answered within 1 s each time;
the engine never exits, its RSS stays within 150 MiB of where it started (a buffered 100 MB
body would break that), every answer to a bad request is a JSON 4xx, and afterwards it
still applies new events. Label `long`: run on the release build only."""

import json
import multiprocessing
import random
import select
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/lib")
import c360test as t  # noqa: E402
from c360.v1 import usage_pb2  # noqa: E402

SLOW_LORIS = 300
RANDOM_URLS = 10_000
ATTACK_SECONDS = 30  # at least: slow-loris connections are cut after 10 s and come back
RSS_GROWTH_LIMIT = 150 << 20


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def probe(port, stop, results):
    """In its own process (no GIL shared with the attack): GET /healthz every second."""
    while not stop.is_set():
        started = time.monotonic()
        status = 0
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else -1
        except OSError:
            status = -2
        results.put((status, time.monotonic() - started))
        stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))


def exchange(port, request, read_timeout=10):
    """Sends `request` on a new connection; (status, body) of the answer, (0, b"") if none."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        try:
            s.sendall(request)
        except OSError:
            pass  # the server may answer and close before taking it all
        data = b""
        try:
            while True:
                head_end = data.find(b"\r\n\r\n")
                if head_end >= 0:
                    head = data[:head_end].decode("latin-1")
                    length = 0
                    for line in head.split("\r\n")[1:]:
                        name, _, value = line.partition(":")
                        if name.lower() == "content-length":
                            length = int(value)
                    if len(data) >= head_end + 4 + length:
                        return int(head[9:12]), data[head_end + 4:head_end + 4 + length]
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
    return 0, b""


class SlowLoris(threading.Thread):
    """Keeps `count` connections open, each sending a header byte every 2 s; counts how many
    the server cut off."""

    def __init__(self, port, count):
        super().__init__(daemon=True)
        self.port, self.count = port, count
        self.stop = threading.Event()
        self.cut_off = 0
        self.opened = 0

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(b"GET /api/v1/summary HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        s.setblocking(False)
        self.opened += 1
        return s

    def run(self):
        conns = [self.connect() for _ in range(self.count)]
        next_byte = time.monotonic() + 2
        while not self.stop.is_set():
            readable, _, _ = select.select(conns, [], [], 0.2)
            for s in readable:
                try:
                    closed = s.recv(4096) == b""
                except OSError:
                    closed = True
                if closed:
                    self.cut_off += 1
                    conns.remove(s)
                    s.close()
                    conns.append(self.connect())
            if time.monotonic() >= next_byte:
                for s in conns:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass
                next_byte = time.monotonic() + 2
        for s in conns:
            s.close()


def random_target(rng):
    kind = rng.randrange(6)
    if kind == 0:  # raw bytes: controls, spaces, invalid UTF-8
        return b"/" + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == 1:  # escape soup, broken escapes included
        parts = [rng.choice(["%", "%G1", "%0", "%FF", "%C0%AF", "%ED%A0%80", "%00", "%2F",
                             "%E2%82%AC", "a", "/", "?", "&", "=", "+"]) for _ in range(40)]
        return ("/" + "".join(parts)).encode()
    if kind == 2:  # a real route with a hostile id
        junk = bytes(rng.randrange(33, 256) for _ in range(rng.randrange(1, 300)))
        return b"/api/v1/customers/" + junk.replace(b"?", b"").replace(b"#", b"") + \
            rng.choice([b"", b"/alerts", b"/timeline", b"/recommendations"])
    if kind == 3:  # the list with hostile parameters
        name = rng.choice([b"status", b"segment", b"risk", b"sort", b"limit", b"cursor", b"q"])
        value = bytes(rng.randrange(33, 256) for _ in range(rng.randrange(0, 100)))
        return b"/api/v1/customers?" + name + b"=" + value.replace(b"#", b"")
    if kind == 4:  # long
        return b"/" + b"a" * rng.choice([1000, 8000, 15000, 17000, 40000])
    return rng.choice([b"/", b"/healthz", b"/readyz", b"/metrics", b"/api/v1/summary",
                       b"/assets/app.js", b"/api/v1/customers?limit=-5", b"/%FF",
                       b"/api/v1/customers/%FF", b"/api/v1/customers?status=PURPLE"])


class HostileHttpTest(unittest.TestCase):
    def test_hostile_clients_neither_stop_nor_starve_the_engine(self):
        with t.broker(partitions=2) as (bootstrap, _), tempfile.TemporaryDirectory() as tmp:
            r = t.run_c360("gen", "--brokers", bootstrap, "--customers", "30", "--days", "30",
                           "--seed", "15")
            self.assertEqual(r.returncode, 0, r.stderr)
            engine = t.Engine(bootstrap, tmp + "/state", "hostile").start()
            try:
                port = engine.http_port()
                engine.wait_caught_up()
                self.attack(engine, port, bootstrap)
            finally:
                code = engine.stop()
            self.assertEqual(code, 0, "the engine stops cleanly after the attack")

    def attack(self, engine, port, bootstrap):
        pid = engine.proc.pid
        rss_start = rss_bytes(pid)
        stop_probe = multiprocessing.Event()
        probe_results = multiprocessing.Queue()
        prober = multiprocessing.Process(target=probe, args=(port, stop_probe, probe_results))
        prober.start()
        loris = SlowLoris(port, SLOW_LORIS)
        loris.start()
        attack_started = time.monotonic()
        peak_rss = rss_start
        statuses = {}
        try:
            # 10,000 random and invalid URLs, four clients at a time.
            rng = random.Random(42)
            targets = [random_target(rng) for _ in range(RANDOM_URLS)]
            failures = []

            def send_all(chunk):
                for target in chunk:
                    status, body = exchange(port, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 0 or status >= 500:
                        failures.append((target[:80], status))
                    elif status != 200:
                        try:
                            if "error" not in json.loads(body):
                                failures.append((target[:80], status, body[:80]))
                        except ValueError:
                            failures.append((target[:80], status, body[:80]))
            workers = [threading.Thread(target=send_all, args=(targets[i::4],)) for i in range(4)]
            for w in workers:
                w.start()
            while any(w.is_alive() for w in workers):
                peak_rss = max(peak_rss, rss_bytes(pid))
                time.sleep(0.2)
            self.assertEqual(failures[:20], [], "every request is answered, and never with a 5xx")
            self.assertGreater(statuses.get(400, 0), 1000, statuses)
            self.assertGreater(statuses.get(404, 0), 100, statuses)
            self.assertGreater(statuses.get(431, 0), 100, statuses)

            # 100 MB bodies: declared (answered from the head) and chunked (cut at 64 KiB).
            for _ in range(3):
                status, body, sent = self.push_declared_body(port, 100 << 20)
                self.assertEqual(status, 413, body)
                self.assertLess(sent, 100 << 20, "the server does not take a refused body")
                peak_rss = max(peak_rss, rss_bytes(pid))
                sent = self.push_chunked_body(port, 100 << 20)
                self.assertLess(sent, 100 << 20, "the server stops taking a chunked 100 MB body")
                peak_rss = max(peak_rss, rss_bytes(pid))

            # Invalid UTF-8 in every part of a request.
            for request, want in [
                (b"G\xffT / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
                (b"GET /\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
                (b"GET /api/v1/customers?q=%ff%fe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
                (b"GET /api/v1/customers?%ff=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
                (b"GET / HTTP/1.1\r\nHost: \xff\xfe.example\r\n\r\n", 421),
                (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bytes: \xff\xfe\xc0\xaf\r\n\r\n", 200),
                (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-\xff: 1\r\n\r\n", 400),
                (b"GET /api/v1/customers/%C0%AF/timeline HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
                (b"GET /%FF HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
            ]:
                status, body = exchange(port, request)
                self.assertEqual(status, want, request)
                if want != 200:
                    self.assertIn("error", json.loads(body), request)

            # Keep the slow-loris connections coming until they have been cut off at least
            # once each: the server's request timeout, not the client, ends them.
            t.wait_for(lambda: loris.cut_off >= SLOW_LORIS and
                       time.monotonic() - attack_started >= ATTACK_SECONDS, 60,
                       "the server to cut off every slow-loris connection")
            peak_rss = max(peak_rss, rss_bytes(pid))
        finally:
            loris.stop.set()
            loris.join(10)
            stop_probe.set()
            prober.join(10)
        probes = []
        while not probe_results.empty():
            probes.append(probe_results.get())
        attack_seconds = time.monotonic() - attack_started
        print(f"attack {attack_seconds:.1f} s: {sum(statuses.values())} random requests "
              f"{dict(sorted(statuses.items()))}, slow-loris opened {loris.opened} cut off "
              f"{loris.cut_off}, probes {len(probes)} slowest {max(p[1] for p in probes):.3f} s, "
              f"RSS {rss_start >> 20} MiB -> peak {peak_rss >> 20} MiB", flush=True)

        self.assertIsNone(engine.proc.poll(), "the engine never exits")
        self.assertGreaterEqual(len(probes), int(attack_seconds) - 2)
        slow = [p for p in probes if p[0] != 200 or p[1] >= 1.0]
        self.assertEqual(slow, [], "GET /healthz answered within 1 s every second")
        self.assertLess(peak_rss - rss_start, RSS_GROWTH_LIMIT)

        # It still answers everything and still applies events.
        status, text = engine.get("/metrics")
        self.assertEqual(status, 200)
        samples = t.metric_samples(text)
        self.assertGreater(samples.get('c360_http_requests_total{code="400",route="other"}', 0), 1000)
        self.assertGreater(samples.get('c360_http_requests_total{code="413",route="other"}', 0), 0)
        p = t.producer(bootstrap)
        e = usage_pb2.UsageEvent(customer_id="after-the-attack", module="reports", quantity=1)
        e.event_time.FromMilliseconds(int(time.time() * 1000) - 3_600_000)
        t.produce(p, "c360.usage", "after-the-attack", e)
        p.flush(10)
        t.wait_for(lambda: engine.get("/api/v1/customers/after-the-attack")[0] == 200, 60,
                   "the engine to apply an event sent after the attack")

    def push_declared_body(self, port, size):
        """Announces a body of `size` bytes; the answer must come from the head alone, before
        any of the body is sent. Then pushes the body anyway: (status, body, bytes taken)."""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /api/v1/summary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Length: " + str(size).encode() + b"\r\n\r\n")
            data = b""
            deadline = time.monotonic() + 5
            while b"\r\n\r\n" not in data and time.monotonic() < deadline:
                readable, _, _ = select.select([s], [], [], 0.5)
                if readable:
                    more = s.recv(65536)
                    if not more:
                        break
                    data += more
            sent = 0
            chunk = b"x" * (1 << 20)
            try:
                while sent < size:
                    s.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass
        head, _, body = data.partition(b"\r\n\r\n")
        return (int(head[9:12]) if head.startswith(b"HTTP/1.1 ") else 0), body, sent

    def push_chunked_body(self, port, size):
        sent = 0
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /api/v1/summary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"100000\r\n" + b"y" * (1 << 20) + b"\r\n"
            try:
                while sent < size:
                    s.sendall(chunk)
                    sent += 1 << 20
            except OSError:
                pass
        return sent


if __name__ == "__main__":
    unittest.main(verbosity=2)
