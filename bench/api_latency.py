#!/usr/bin/env python3
"""Customer 360 API latency while the engine processes at full speed (docs/performance.md).

Preloads a generated workload into the embedded broker, then runs `c360 engine --clock
event` from empty state twice on the same data:
  1. alone: the catch-up time (assignment to every record applied and committed);
  2. with a client calling the API back to back the whole time (one request at a time:
     GET /api/v1/customers/{random id}; every 10th request the list, every 25th the
     portfolio, every 50th the summary): each request's latency, by endpoint, while
     processing runs, and the catch-up time again (reads must not slow processing);
  3. caught up: the rollups over every customer — summary, the portfolio by each dimension,
     and list pages (filtered, sorted by revenue, by name, a page deep by cursor) — each
     timed 20 times (issue 19's target: within 50 ms at 1,000,000 customers).
Usage: bench/api_latency.py [events] [customers] [days]   (defaults 2000000 50000 30)
"""

import json

import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
os.environ.setdefault("C360_BIN", os.path.join(ROOT, "build", "c360"))
os.environ.setdefault("C360_STATE_DUMP", os.path.join(ROOT, "build", "tests", "c360_state_dump"))
import c360test as t  # noqa: E402


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run_engine(bootstrap, state, group, customers, load):
    engine = t.Engine(bootstrap, state, group).start()
    port = engine.http_port()
    base = f"http://127.0.0.1:{port}"
    latencies = {"customer": [], "list": [], "summary": []}
    statuses = {}
    rng = random.Random(7)
    # Wait for the assignment: from then on the engine processes flat out until caught up.
    t.wait_for(lambda: '"tasks":[]' not in t.http_get(base + "/readyz")[1], 60, "assignment")
    assigned = time.monotonic()
    n = 0
    while True:
        status, body = t.http_get(base + "/readyz")
        if status == 200:
            break
        if not load:
            time.sleep(0.05)
            continue
        n += 1
        if n % 50 == 0:
            kind, path = "summary", "/api/v1/summary"
        elif n % 25 == 0:
            kind, path = "portfolio", "/api/v1/portfolio?by=owner"
        elif n % 10 == 0:
            kind, path = "list", "/api/v1/customers?status=AT_RISK,CRITICAL&sort=-revenue&limit=50"
        else:
            kind, path = "customer", f"/api/v1/customers/cust-{rng.randrange(customers):05d}"
        start = time.perf_counter()
        code, _ = t.http_get(base + path, timeout=30)
        # A customer not applied yet answers 404: counted apart.
        latencies.setdefault(kind if code == 200 else f"{kind} {code}", []).append(
            (time.perf_counter() - start) * 1000)
        statuses[code] = statuses.get(code, 0) + 1
    caught_up = time.monotonic() - assigned
    engine.wait_caught_up(timeout=600)
    settled = settled_latencies(base) if load else {}
    engine.stop()
    return caught_up, latencies, statuses, settled


def settled_latencies(base, rounds=20):
    """Each rollup's latency over every customer once caught up (ms), and the rows seen."""
    status, body = t.http_get(base + "/api/v1/customers?limit=1&sort=id")
    page = json.loads(body)
    deep = t.http_get(base + "/api/v1/customers?limit=1000&sort=name")[1]
    cursor = json.loads(deep)["next_cursor"]
    paths = {"summary": "/api/v1/summary",
             "portfolio segment": "/api/v1/portfolio",
             "portfolio industry": "/api/v1/portfolio?by=industry",
             "portfolio region": "/api/v1/portfolio?by=region",
             "portfolio owner": "/api/v1/portfolio?by=owner",
             "portfolio lifecycle": "/api/v1/portfolio?by=lifecycle_stage",
             "list health": "/api/v1/customers",
             "list at-risk revenue": "/api/v1/customers?status=AT_RISK,CRITICAL&sort=-revenue&limit=50",
             "list name": "/api/v1/customers?sort=name&limit=50"}
    if cursor:  # a page 1,000 rows deep
        paths["list name cursor"] = f"/api/v1/customers?sort=name&limit=50&cursor={cursor}"
    out = {"customers": page["total"]}
    for kind, path in paths.items():
        values = []
        for _ in range(rounds):
            start = time.perf_counter()
            code, _ = t.http_get(base + path, timeout=30)
            values.append((time.perf_counter() - start) * 1000)
            assert code == 200, (path, code)
        out[kind] = values
    return out


def main():
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    customers = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    days = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    with tempfile.TemporaryDirectory() as tmp, t.broker(partitions=64) as (bootstrap, _):
        gen = subprocess.run([t.C360, "gen", "--brokers", bootstrap, "--customers", str(customers),
                              "--days", str(days), "--events", str(events), "--start", "2026-06-01"],
                             capture_output=True, text=True, check=True)
        total = re.search(r"^total.*$", gen.stdout, re.M).group(0)
        print(f"preloaded: {total}")
        alone, _, _, _ = run_engine(bootstrap, tmp + "/alone", "bench-alone", customers, load=False)
        print(f"engine alone: caught up in {alone:.2f} s after assignment")
        loaded, lat, statuses, settled = run_engine(bootstrap, tmp + "/loaded", "bench-loaded",
                                                    customers, load=True)
        print(f"engine with API load: caught up in {loaded:.2f} s ({loaded / alone:.2f} x alone); "
              f"responses by status: {statuses}")
        for kind, values in lat.items():
            if values:
                print(f"  {kind:12s} n={len(values):5d} p50={statistics.median(values):7.2f} ms "
                      f"p99={percentile(values, 99):7.2f} ms max={max(values):7.2f} ms")
        print(f"caught up, {settled.pop('customers')} customers in the list, each rollup 20 times:")
        for kind, values in settled.items():
            print(f"  {kind:22s} p50={statistics.median(values):7.2f} ms "
                  f"max={max(values):7.2f} ms")


if __name__ == "__main__":
    main()
