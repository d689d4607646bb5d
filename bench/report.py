#!/usr/bin/python3
"""Writes bench/perf.sh's results into docs/performance.md (the part between the
"perf.sh results" markers), appends them to docs/perf/history.tsv and draws
docs/images/performance.svg with gnuplot: each bench on the embedded broker and on real
Kafka side by side, c360 beside the bare librdkafka client on the same broker, and their
ratio.

  bench/report.py RESULTS_DIR COMMAND [--preview]

--preview: RESULTS_DIR/report.md and RESULTS_DIR/performance.svg instead; docs/ untouched.
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
HISTORY_COLUMNS = ("date", "commit", "command", "core_usage_per_s", "bare_median",
                   "engine_median", "ratio", "e2a_p50_ms", "e2a_p99_ms", "e2a_p999_ms",
                   "restart_s", "rss_mib_per_million",
                   # since both brokers (issue 16); earlier rows are the embedded broker's
                   "broker", "guarantee", "bare_e2a_p99_ms")
BROKERS = (("embedded", "embedded broker (librdkafka's mock)"),
           ("kafka", "real Kafka"))
LATENCY_RUNS = (("embedded", "at_least_once"), ("kafka", "at_least_once"),
                ("kafka", "exactly_once"))


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


def kafka_version():
    jars = os.path.join(ROOT, "tools", "kafka", "target", "dependency")
    try:
        for name in sorted(os.listdir(jars)):
            if name.startswith("kafka_2.13-") and name.endswith(".jar"):
                return name[len("kafka_2.13-"):-len(".jar")]
    except OSError:
        pass
    return "?"


def fmt(n):
    return "—" if n is None else f"{n:,.0f}"


def ms(v):
    return "—" if v is None else f"{v:g} ms"


def load(results, name):
    path = os.path.join(results, name)
    return json.load(open(path)) if os.path.exists(path) else None


def latency_name(broker, guarantee):
    return f"latency-{broker}.json" if guarantee == "at_least_once" else \
        f"latency-{broker}-{guarantee}.json"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    preview = "--preview" in sys.argv[1:]
    results, command = args[0], args[1]
    doc_path = os.path.join(results, "report.md") if preview else DOC
    plot_path = os.path.join(results, "performance.svg") if preview else PLOT
    core = load(results, "core.json")
    e2e = {b: load(results, f"e2e-{b}.json") for b, _ in BROKERS}
    lat = {run: load(results, latency_name(*run)) for run in LATENCY_RUNS}
    scale = {b: load(results, f"scale-{b}.json") for b, _ in BROKERS}
    timings = []
    if os.path.exists(os.path.join(results, "timings.tsv")):
        timings = [line.rstrip("\n").split("\t") for line in open(os.path.join(results, "timings.tsv"))]
    minutes = sum(int(t[1]) for t in timings) / 60
    today = datetime.date.today().isoformat()
    rev = commit()
    kafka = f"Apache Kafka {kafka_version()}"
    label = {"embedded": "embedded (mock)", "kafka": kafka}

    medians = {b["run_name"]: b for b in core["benchmarks"] if b.get("aggregate_name") == "median"}
    core_rows = []
    for name, b in medians.items():
        per_s = b.get("items_per_second", 0)
        core_rows.append(f"| {name} | {fmt(per_s)} /s | {1e9 / per_s:,.0f} ns |" if per_s else
                         f"| {name} | | |")
    usage = next((b.get("items_per_second", 0) for name, b in medians.items()
                  if name.startswith("BM_ProcessUsageEvent")), 0)

    def met(ok):
        return "met" if ok else "**not met**"

    def e2e_ratio(r):
        return statistics.median(r["engine"]) / statistics.median(r["bare"])

    def lat_ok(r):
        c = r["c360"]
        return c["event_to_alert_ms"]["p99"] is not None and \
            c["event_to_alert_ms"]["p99"] <= 50 and c["consumed_per_s"] >= 0.95 * r["rate_target"]

    # Targets: judged on real Kafka (what users run); the embedded broker's figure beside.
    judge = "kafka" if e2e["kafka"] or scale["kafka"] or lat[("kafka", "at_least_once")] else "embedded"
    targets = []
    targets.append(f"| core path ≥ 1,000,000 events/s per core | usage events {fmt(usage)} /s on "
                   f"one core (BM_ProcessUsageEvent, median of 3) | the same: no broker | "
                   f"{met(usage >= 1e6)} |")
    cells = []
    for b, _ in BROKERS:
        r = e2e[b]
        cells.append("not run" if r is None else
                     f"c360 {fmt(statistics.median(r['engine']))} vs bare {fmt(statistics.median(r['bare']))} "
                     f"records/s: **{e2e_ratio(r):.3f}**")
    verdict = met(e2e_ratio(e2e[judge]) >= 0.7) if e2e[judge] else "not run"
    targets.append(f"| end to end ≥ 0.7 × the bare consumer | {cells[1]} | {cells[0]} | {verdict} |")
    cells = []
    for b, _ in BROKERS:
        r = lat[(b, "at_least_once")]
        cells.append("not run" if r is None else
                     f"p99 **{ms(r['c360']['event_to_alert_ms']['p99'])}** (bare relay "
                     f"{ms(r.get('bare', {}).get('event_to_alert_ms', {}).get('p99'))}), "
                     f"{fmt(r['c360']['consumed_per_s'])} consumed/s")
    r = lat[(judge, "at_least_once")]
    targets.append(f"| event-to-alert p99 ≤ 50 ms at 20,000 events/s | {cells[1]} | {cells[0]} | "
                   f"{met(lat_ok(r)) if r else 'not run'} |")
    cells = []
    for b, _ in BROKERS:
        r = scale[b]
        cells.append("not run" if r is None else
                     f"{fmt(r['customers'])} customers: **{r['restart_s']:.2f} s** (group join "
                     f"{r['join_s']:.2f} s)")
    r = scale[judge]
    targets.append(f"| restart to ready < 5 s with 1,000,000 customers | {cells[1]} | {cells[0]} | "
                   f"{met(r['restart_s'] < 5 and r['customers'] >= 1_000_000) if r else 'not run'} |")
    cells = []
    for b, _ in BROKERS:
        r = scale[b]
        cells.append("not run" if r is None else
                     f"{fmt(r['rss_mib'] * 1_000_000 / r['customers'])} MiB per million "
                     f"(peak {fmt(r['peak_rss_mib'])} MiB)")
    targets.append(f"| RSS per million customers, bounded by config | {cells[1]} | {cells[0]} | reported |")

    e2e_rows = []
    for b, _ in BROKERS:
        r = e2e[b]
        if r is None:
            continue
        e2e_rows.append(
            f"| {label[b]} | {fmt(r['events'])} records, {fmt(r['customers'])} customers, "
            f"{r['days']} days, {r['partitions']} partitions | {fmt(min(r['bare']))} / "
            f"{fmt(statistics.median(r['bare']))} / {fmt(max(r['bare']))} | "
            f"{fmt(min(r['engine']))} / {fmt(statistics.median(r['engine']))} / "
            f"{fmt(max(r['engine']))} | **{e2e_ratio(r):.3f}** | "
            f"{statistics.median(r['joins']):.2f} s |" if r.get("joins") else
            f"| {label[b]} | {fmt(r['events'])} records | | | {e2e_ratio(r):.3f} | |")

    def cpu(r, subject):
        c = r.get("cpu_percent") or {}
        if "broker" not in c:
            return ""
        b = c["broker"]
        own = c.get(subject, {}).get("mean")
        return (f"; CPU, % of a core: broker {b['mean']} (first 10 s {b['first_10s']}, last "
                f"{b['last_10s']})" + (f", {'c360' if subject == 'c360' else 'relay'} {own}"
                                      if own is not None else ""))

    lat_rows = []
    for run in LATENCY_RUNS:
        r = lat[run]
        if r is None:
            continue
        name = f"{label[run[0]]}, {run[1]}"
        c = r.get("c360")
        b = r.get("bare")
        if c:
            e = c["event_to_alert_ms"]
            lat_rows.append(
                f"| {name} | c360 engine | {fmt(c['consumed_per_s'])} | {fmt(c['alerts'])} | "
                f"{ms(e['p50'])} | {ms(e['p99'])} | {ms(e['p999'])} | max lag {fmt(c['max_lag'])}; "
                f"{fmt(c['commits'])} commits, p50 {ms(c['commit_ms']['p50'])}, p99 "
                f"{ms(c['commit_ms']['p99'])}; record to rule evaluation p50 / p99 "
                f"{c['to_evaluation_ms'].get('p50', '—')} / {c['to_evaluation_ms'].get('p99', '—')} ms"
                f"{cpu(c, 'c360')} |")
        if b:
            e = b["event_to_alert_ms"]
            extra = (f"{fmt(b['transactions'])} transactions, {b['aborted']} aborted; "
                     if run[1] == "exactly_once" else "")
            lat_rows.append(
                f"| {name} | bare relay | {fmt(b['consumed_per_s'])} | {fmt(b['alerts'])} | "
                f"{ms(e['p50'])} | {ms(e['p99'])} | {ms(e['p999'])} | {extra}record to the "
                f"consumer p50 / p99 {ms(b['consume_ms']['p50'])} / {ms(b['consume_ms']['p99'])}"
                f"{cpu(b, 'bare')} |")
        if r.get("ratio"):
            q = r["ratio"]
            lat_rows.append(f"| {name} | **c360 / bare** | | | {q['p50']} | **{q['p99']}** | "
                            f"{q['p999']} | |")

    scale_rows = []
    for b, _ in BROKERS:
        r = scale[b]
        if r is None:
            continue
        scale_rows.append(
            f"| {label[b]} | {fmt(r['customers'])} | {fmt(r['records'])} records in "
            f"{r['load_s']:.1f} s | {fmt(r['rss_mib'])} MiB (peak {fmt(r['peak_rss_mib'])}) | "
            f"{fmt(r['disk_mib'])} MiB | **{r['restart_s']:.2f} s** | {r['join_s']:.2f} s | "
            f"{r['restart_s'] - r['join_s']:.2f} s | {fmt(r['restart_rss_mib'])} MiB |")
    day = next((scale[b]["day_stall_s"] for b, _ in BROKERS
                if scale[b] and scale[b].get("day_stall_s") is not None), None)

    text = f"""{BEGIN}
## Latest run of the harness

{today}, commit `{rev}`, {machine()}. Command: `{command}` ({minutes:.0f} minutes; results in
`{os.path.relpath(results, ROOT)}/`). Every c360 process, the broker (the embedded one: `c360 broker`; real Kafka:
{kafka}, one KRaft node in a JVM) and the load run on the same cores. Which of these
figures are c360's and which the broker's: [Reading the figures](#reading-the-figures).

| target | real Kafka | embedded broker (mock) | judged on {label[judge]} |
|---|---|---|---|
""" + "\n".join(targets) + f"""

End to end (`bench/e2e.sh`): the bare consumer and c360 on the same broker and the same
preloaded records, 3 runs each; records/s min / median / max.

| broker | workload | bare consumer | c360 engine | c360 / bare (medians) | c360's group join |
|---|---|---|---|---|---|
""" + "\n".join(e2e_rows) + f"""

Event-to-alert latency (`bench/latency.py`) at {fmt(next((r['rate_target'] for r in lat.values() if r), 20000))} events/s for {next((r['seconds'] for r in lat.values() if r), 60)} s: c360,
and the bare relay under the same load and output traffic, each on a fresh broker; both
read from buckets with the engine's bounds (interpolated).

| broker, guarantee | subject | consumed/s | alerts | p50 | p99 | p999 | |
|---|---|---|---|---|---|---|---|
""" + "\n".join(lat_rows) + f"""

State at scale (`bench/scale.sh`): load, then restart on the same state until `/readyz`;
day-boundary stall with the same customers (`day_boundary_bench`, no broker): {day if day is not None else '—'} s.

| broker | customers | loaded | RSS | state on disk | restart to ready | of it group join | c360's own part | RSS after restart |
|---|---|---|---|---|---|---|---|---|
""" + "\n".join(scale_rows) + f"""

Core path, each benchmark's median of 3 (`core_bench`, no broker):

| benchmark | rate | per item |
|---|---|---|
""" + "\n".join(core_rows) + f"""

![throughput and latency]({os.path.relpath(PLOT, os.path.dirname(DOC)) if not preview else 'performance.svg'})
{END}"""

    if preview:
        open(doc_path, "w").write(text + "\n")
    else:
        doc = open(DOC).read()
        if BEGIN in doc:
            start, end = doc.index(BEGIN), doc.index(END) + len(END)
            doc = doc[:start] + text + doc[end:]
        else:
            marker = "## Generator into the embedded broker"
            doc = doc.replace(marker, text + "\n\n" + marker, 1)
        open(DOC, "w").write(doc)
        write_history(today, rev, command, usage, e2e, lat, scale)

    wrote = [doc_path] + ([] if preview else [HISTORY])
    if any(e2e.values()) and any(lat.values()):  # gnuplot needs both panels' data
        plot(results, plot_path, rev, today, e2e, lat, label)
        wrote.append(plot_path)
    print("bench/report.py: wrote " + ", ".join(os.path.relpath(p, ROOT) for p in wrote))


def write_history(today, rev, command, usage, e2e, lat, scale):
    os.makedirs(os.path.dirname(HISTORY), exist_ok=True)
    header = "\t".join(HISTORY_COLUMNS) + "\n"
    lines = open(HISTORY).read().splitlines(keepends=True) if os.path.exists(HISTORY) else []
    if not lines:
        lines = [header]
    elif lines[0] != header:  # an older header: its rows are the embedded broker's
        old = lines[0].rstrip("\n").split("\t")
        rows = [dict(zip(old, line.rstrip("\n").split("\t"))) for line in lines[1:] if line.strip()]
        lines = [header] + ["\t".join(r.get(c, "embedded" if c == "broker" else "")
                                      for c in HISTORY_COLUMNS) + "\n" for r in rows]
    for broker, guarantee in LATENCY_RUNS:
        e, l, s = (e2e[broker] if guarantee == "at_least_once" else None,
                   lat[(broker, guarantee)], scale[broker] if guarantee == "at_least_once" else None)
        if not (e or l or s):
            continue
        c = (l or {}).get("c360", {}).get("event_to_alert_ms", {})
        b = (l or {}).get("bare", {}).get("event_to_alert_ms", {})
        row = {"date": today, "commit": rev, "command": command, "core_usage_per_s": f"{usage:.0f}",
               "bare_median": f"{statistics.median(e['bare']):.0f}" if e else "",
               "engine_median": f"{statistics.median(e['engine']):.0f}" if e else "",
               "ratio": f"{statistics.median(e['engine']) / statistics.median(e['bare']):.3f}" if e else "",
               "e2a_p50_ms": str(c.get("p50", "")), "e2a_p99_ms": str(c.get("p99", "")),
               "e2a_p999_ms": str(c.get("p999", "")),
               "restart_s": f"{s['restart_s']:.2f}" if s else "",
               "rss_mib_per_million": f"{s['rss_mib'] * 1_000_000 / s['customers']:.0f}" if s else "",
               "broker": broker, "guarantee": guarantee, "bare_e2a_p99_ms": str(b.get("p99", ""))}
        lines.append("\t".join(str(row[c]) for c in HISTORY_COLUMNS) + "\n")
    with open(HISTORY, "w") as f:
        f.writelines(lines)


def plot(results, plot_path, rev, today, e2e, lat, label):
    data = os.path.join(results, "plot.dat")
    ran = [(b, e2e[b]) for b, _ in BROKERS if e2e[b]]
    with open(data, "w") as f:
        for b, r in ran:
            f.write(f'"{label[b]}" {statistics.median(r["bare"])} {statistics.median(r["engine"])}\n')
    lat_data = os.path.join(results, "latency.dat")
    lat_ran = [(run, lat[run]) for run in LATENCY_RUNS if lat[run]]
    top = 60
    with open(lat_data, "w") as f:
        for (broker, guarantee), r in lat_ran:
            c = r.get("c360", {}).get("event_to_alert_ms", {}).get("p99") or 0
            b = r.get("bare", {}).get("event_to_alert_ms", {}).get("p99") or 0
            top = max(top, c, b)
            name = label[broker].replace("Apache ", "") + ("\\nexactly once" if guarantee ==
                                                          "exactly_once" else "")
            f.write(f'"{name}" {b} {c}\n')
    top_rate = max([max(statistics.median(r["bare"]), statistics.median(r["engine"]))
                    for _, r in ran] + [1])
    script = f"""
set terminal svg size 1000,400 dynamic font "sans,11"
set output "{plot_path}"
set multiplot layout 1,2 title "c360 {rev}, {today}: each bench on the embedded broker and on real Kafka, c360 beside the bare librdkafka client"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right horizontal box opaque
set title "end to end, records/s (medians of 3)"
set ylabel "records/s"
set format y "%.1s%c"
set yrange [0:{1.35 * top_rate}]
plot "{data}" using 2:xtic(1) title "bare consumer" lc rgb "#999999", \\
     "" using 3 title "c360 engine" lc rgb "#2a7ab0"
set title "event-to-alert p99 at 20,000 events/s"
set ylabel "ms"
set format y "%g"
set yrange [0:{1.35 * top}]
plot "{lat_data}" using 2:xtic(1) title "bare relay" lc rgb "#999999", \\
     "" using 3 title "c360 engine" lc rgb "#2a7ab0", \\
     50 with lines dt 2 lc rgb "#c0392b" title "target: 50 ms"
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


if __name__ == "__main__":
    main()
