#!/usr/bin/env bash
# State at scale (docs/performance.md): N customers (default 1,000,000) in one engine.
#   1. preload the broker (64 partitions) with every customer's profile and about one event
#      each (`c360 gen --days 1`);
#   2. `c360 engine --clock event` from empty state until everything is applied and
#      committed: its time, its peak and final RSS, the state directory's size on disk;
#   3. stop it (SIGTERM) and start it again on the same state: seconds from the process's
#      start until /readyz answers 200 (the broker's group join included, and apart);
#   4. the day-boundary stall with N customers (build/bench/day_boundary_bench N).
# Prints one "scale: ..." line with the figures (and JSON with --json FILE).
# Usage: bench/scale.sh [customers] [--broker embedded|kafka] [--build DIR] [--no-day]
#                       [--json FILE]
#        (--broker and --build: bench/broker.sh; the broker is started here, stopped on exit;
#        --no-day leaves out step 4, which involves no broker)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/broker.sh
customers=1000000
json=""
day_step=1
while [ $# -gt 0 ]; do
  case "$1" in
    --json) json="$2"; shift 2 ;;
    --broker|--build) bench_option "$1" "$2"; shift 2 ;;
    --no-day) day_step=0; shift ;;
    *) customers="$1"; shift ;;
  esac
done
bench_check_broker
bin=$bench_build/c360
dump=$bench_build/tests/c360_state_dump
for f in "$bin" "$dump" "$bench_build/bench/day_boundary_bench"; do
  [ -x "$f" ] || { echo "bench/scale.sh: build first (scripts/build): $f" >&2; exit 2; }
done
work=$(mktemp -d)
cleanup() { bench_stop; rm -rf "$work"; }
trap cleanup EXIT

broker_start 64 "$work/broker"
echo "broker: $bench_broker at $bootstrap"
events=$((customers * 2))  # the profiles, then about one event per customer
gen=$("$bin" gen --brokers "$bootstrap" --customers "$customers" --days 1 --events "$events" \
  --start 2026-06-01 | grep '^total')
records=$(sed -E 's/.*records=([0-9]+).*/\1/' <<<"$gen")
echo "preloaded: $gen"

applied() {
  "$dump" --tasks-only "$1" 2>/dev/null | "$bench_python" -c '
import json, sys
tasks = [json.loads(l) for l in sys.stdin if "\"kind\":\"task\"" in l]
print(sum(sum(t["offsets"].values()) for t in tasks), sum(t["outbox"] for t in tasks))'
}
rss_kib() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }

state="$work/state"
start=$(date +%s.%N)
"$bin" engine --brokers "$bootstrap" --clock event --state-dir "$state" --group scale \
  --http 127.0.0.1:0 2>"$work/engine-1.log" &
engine=$!
while true; do
  sleep 0.5
  read -r done outbox < <(applied "$state" || echo "0 1")
  [ "$done" = "$records" ] && [ "$outbox" = "0" ] && break
  kill -0 "$engine" 2>/dev/null || { echo "engine exited: $(tail -3 "$work/engine-1.log")" >&2; exit 1; }
done
load_s=$(echo "$(date +%s.%N) - $start" | bc -l)
rss_mib=$(( $(rss_kib "$engine" VmRSS) / 1024 ))
hwm_mib=$(( $(rss_kib "$engine" VmHWM) / 1024 ))
port=$(bench_http_port "$work/engine-1.log")
stored=$(curl -s "127.0.0.1:$port/api/v1/summary" | "$bench_python" -c 'import json,sys; print(json.load(sys.stdin)["customers"])')
kill -TERM "$engine"; wait "$engine" || true
disk_mib=$(( $(du -sb "$state" | cut -f1) / 1048576 ))

# Restart on the same state: until /readyz is 200.
start=$(date +%s.%N)
"$bin" engine --brokers "$bootstrap" --clock event --state-dir "$state" --group scale \
  --http 127.0.0.1:0 2>"$work/engine-2.log" &
engine=$!
port=$(bench_http_port "$work/engine-2.log")
until [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/readyz")" = 200 ]; do
  kill -0 "$engine" 2>/dev/null || { echo "engine exited: $(tail -3 "$work/engine-2.log")" >&2; exit 1; }
  sleep 0.02
done
ready=$(date +%s.%N)
restart_s=$(echo "$ready - $start" | bc -l)
assigned=$(grep -m1 'event=assigned' "$work/engine-2.log" | sed -E 's/^ts=([^ ]+) .*/\1/')
join_s=$(echo "$(date -d "$assigned" +%s.%N) - $start" | bc -l)
restart_rss_mib=$(( $(rss_kib "$engine" VmRSS) / 1024 ))
kill -TERM "$engine"; wait "$engine" || true

longest=null
stall="not measured (--no-day)"
if [ "$day_step" = 1 ]; then
  day=$("$bench_build/bench/day_boundary_bench" "$customers" | grep '^day boundary')
  longest=$(sed -E 's/.*longest slice ([0-9.]+) s.*/\1/' <<<"$day")
  stall="$longest s"
fi

printf 'scale (%s broker): %d customers (%d stored), %d records applied in %.1f s; RSS %d MiB (peak %d MiB, %.0f MiB per million customers); state on disk %d MiB; restart to ready %.2f s (group join %.2f s, restore and catch-up %.2f s), RSS after restart %d MiB; day-boundary stall %s\n' \
  "$bench_broker" "$customers" "$stored" "$records" "$load_s" "$rss_mib" "$hwm_mib" \
  "$(echo "$rss_mib * 1000000 / $customers" | bc -l)" "$disk_mib" "$restart_s" "$join_s" \
  "$(echo "$restart_s - $join_s" | bc -l)" "$restart_rss_mib" "$stall"
if [ -n "$json" ]; then
  printf '{"broker": "%s", "customers": %d, "stored": %d, "records": %d, "load_s": %.2f, "rss_mib": %d, "peak_rss_mib": %d, "disk_mib": %d, "restart_s": %.2f, "join_s": %.2f, "restart_rss_mib": %d, "day_stall_s": %s}\n' \
    "$bench_broker" "$customers" "$stored" "$records" "$load_s" "$rss_mib" "$hwm_mib" "$disk_mib" "$restart_s" \
    "$join_s" "$restart_rss_mib" "$longest" >"$json"
fi
