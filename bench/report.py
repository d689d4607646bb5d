#!/usr/bin/python3
"""Writes bench/perf.sh's results into docs/performance.md (the part between the
"perf.sh results" markers), appends them to docs/perf/history.tsv and draws
docs/images/performance.svg with gnuplot.

  bench/report.py RESULTS_DIR COMMAND
"""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "performance.md")
HISTORY = os.path.join(ROOT, "docs", "perf", "history.tsv")
PLOT = os.path.join(ROOT, "docs", "images", "performance.svg")
BEGIN, END = "<!-- perf.sh results: begin -->", "<!-- perf.sh results: end -->"


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 1024 / 1024
    with open("/etc/debian_version") as f:
        debian = f.read().strip()
    return f"Debian {debian}, {os.cpu_count()} cores ({model}), {mem_gib:.0f} GiB, {platform.release()}"


def commit():
    rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    return rev or "unknown"


def fmt(n):
    return f"{n:,.0f}"


def main():
    results, command = sys.argv[1], sys.argv[2]
    core = json.load(open(os.path.join(results, "core.json")))
    e2e = json.load(open(os.path.join(results, "e2e.json")))
    lat = json.load(open(os.path.join(results, "latency.json")))
    scale = json.load(open(os.path.join(results, "scale.json")))
    today = datetime.date.today().isoformat()
    rev = commit()

    medians = {b["run_name"]: b for b in core["benchmarks"] if b.get("aggregate_name") == "median"}
    core_rows = []
    for name, b in medians.items():
        per_s = b.get("items_per_second", 0)
        core_rows.append(f"| {name} | {fmt(per_s)} /s | {1e9 / per_s:,.0f} ns |" if per_s else
                         f"| {name} | | |")
    usage = next((b.get("items_per_second", 0) for name, b in medians.items()
                  if name.startswith("BM_ProcessUsageEvent")), 0)

    bare, engine = e2e["bare"], e2e["engine"]
    ratio = statistics.median(engine) / statistics.median(bare)
    e2a = lat["event_to_alert_ms"]
    rss_per_m = scale["rss_mib"] * 1_000_000 / scale["customers"]

    def met(ok):
        return "met" if ok else "**not met**"

    text = f"""{BEGIN}
## Latest run of the harness

{today}, commit `{rev}`, {machine()}. Command: `{command}` (results in `build/perf/`);
every c360 process, the embedded broker and the load run on the same cores.

| target | measured | |
|---|---|---|
| core path ≥ 1,000,000 events/s per core | usage events {fmt(usage)} /s on one core (BM_ProcessUsageEvent, median of 3) | {met(usage >= 1e6)} |
| end to end ≥ 0.7 × the bare consumer | {fmt(e2e['events'])} records, {fmt(e2e['customers'])} customers, {e2e['days']} days, {e2e['partitions']} partitions: bare consumer {fmt(min(bare))} / {fmt(statistics.median(bare))} / {fmt(max(bare))} records/s (min / median / max of 3), engine {fmt(min(engine))} / {fmt(statistics.median(engine))} / {fmt(max(engine))}; ratio of medians {ratio:.3f} | {met(ratio >= 0.7)} |
| event-to-alert p99 ≤ 50 ms at 20,000 events/s | {fmt(lat['produced_per_s'])} events/s produced, {fmt(lat['consumed_per_s'])} consumed for {lat['seconds']} s (max consumer lag {fmt(lat['max_lag'])}); {fmt(lat['alerts'])} alerts: p50 {e2a['p50']} ms, p99 {e2a['p99']} ms, p999 {e2a['p999']} ms; {fmt(lat['commits'])} commits: p50 {lat['commit_ms']['p50']} ms, p99 {lat['commit_ms']['p99']} ms | {met(e2a['p99'] <= 50 and lat['consumed_per_s'] >= 0.95 * lat['rate_target'])} |
| restart to ready < 5 s with 1,000,000 customers | {fmt(scale['customers'])} customers: {scale['restart_s']:.2f} s (the broker's group join {scale['join_s']:.2f} s of it) | {met(scale['restart_s'] < 5 and scale['customers'] >= 1_000_000)} |
| RSS per million customers, bounded by config | {fmt(scale['rss_mib'])} MiB after loading {fmt(scale['customers'])} customers (peak {fmt(scale['peak_rss_mib'])} MiB): {fmt(rss_per_m)} MiB per million with `engine.cache_max_customers` at its default (1,000,000); {fmt(scale['restart_rss_mib'])} MiB right after a restart (customers load lazily); state on disk {fmt(scale['disk_mib'])} MiB; day-boundary stall {scale['day_stall_s']} s | reported |

Core path, each benchmark's median of 3 (`build/bench/core_bench`):

| benchmark | rate | per item |
|---|---|---|
""" + "\n".join(core_rows) + f"""

![throughput and latency]({os.path.relpath(PLOT, os.path.dirname(DOC))})
{END}"""

    doc = open(DOC).read()
    if BEGIN in doc:
        start, end = doc.index(BEGIN), doc.index(END) + len(END)
        doc = doc[:start] + text + doc[end:]
    else:
        marker = "## Generator into the embedded broker"
        doc = doc.replace(marker, text + "\n\n" + marker, 1)
    open(DOC, "w").write(doc)

    os.makedirs(os.path.dirname(HISTORY), exist_ok=True)
    new = not os.path.exists(HISTORY)
    with open(HISTORY, "a") as f:
        if new:
            f.write("date\tcommit\tcommand\tcore_usage_per_s\tbare_median\tengine_median\tratio\t"
                    "e2a_p50_ms\te2a_p99_ms\te2a_p999_ms\trestart_s\trss_mib_per_million\n")
        f.write(f"{today}\t{rev}\t{command}\t{usage:.0f}\t{statistics.median(bare):.0f}\t"
                f"{statistics.median(engine):.0f}\t{ratio:.3f}\t{e2a['p50']}\t{e2a['p99']}\t"
                f"{e2a['p999']}\t{scale['restart_s']:.2f}\t{rss_per_m:.0f}\n")

    data = os.path.join(results, "plot.dat")
    with open(data, "w") as f:
        for run in range(3):
            f.write(f"{run + 1} {bare[run]} {engine[run]}\n")
    lat_data = os.path.join(results, "latency.dat")
    with open(lat_data, "w") as f:
        for i, q in enumerate(("p50", "p99", "p999")):
            f.write(f"{i} {q} {e2a[q]}\n")
    script = f"""
set terminal svg size 900,380 dynamic font "sans,11"
set output "{PLOT}"
set multiplot layout 1,2 title "c360 {rev}, {today}: {fmt(e2e['events'])} records end to end; live load {fmt(lat['produced_per_s'])} events/s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "records/s"
set format y "%.1s%c"
set key top right horizontal box opaque
set yrange [0:{1.3 * max(bare + engine)}]
set title "throughput: bare consumer vs engine (3 runs)"
set xlabel "run"
plot "{data}" using 2:xtic(1) title "bare librdkafka consumer" lc rgb "#999999", \\
     "" using 3 title "c360 engine --clock event" lc rgb "#2a7ab0"
set title "event-to-alert latency at 20,000 events/s"
set xlabel ""
set ylabel "ms"
set format y "%g"
set style data boxes
set boxwidth 0.6
set yrange [0:{1.3 * max(60, e2a['p999'])}]
set xrange [-0.5:2.5]
plot "{lat_data}" using 1:3:xtic(2) with boxes title "c360 (histogram quantiles)" lc rgb "#2a7ab0", \\
     50 with lines dt 2 lc rgb "#c0392b" title "target p99: 50 ms"
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(f"bench/report.py: wrote {os.path.relpath(DOC, ROOT)}, {os.path.relpath(PLOT, ROOT)}, "
          f"{os.path.relpath(HISTORY, ROOT)}")


if __name__ == "__main__":
    main()
