#!/usr/bin/env bash
# Fail-over time (docs/scale.md, docs/performance.md): two engines of one group share N
# customers' tasks (default 100,000, 12 partitions); one is killed (SIGKILL) and the time
# from the kill until the other is ready with every task is measured, once with
# engine.standby_replicas 0 and once with 1:
#   1. preload the broker with every customer's profile and about one event each;
#   2. start engines A and B (session.timeout.ms 6000) and wait until both are ready and,
#      with standbys, every standby copy is in sync;
#   3. kill B; time until A's /readyz is 200 with every task, split into the group's
#      notice (the session timeout: until A's tasks are revoked for the new assignment)
#      and the rest (rebalance, restores, catch-up); A's restores from its log (how,
#      changelog records read, seconds).
# Prints one "failover: ..." line per standby setting.
# Usage: bench/failover.sh [customers] [--broker embedded|kafka] [--build DIR]
#        (the broker is started here and stopped on exit; the embedded broker keeps only
#        about 5 MiB per changelog partition: use kafka beyond some thousand customers)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/broker.sh
customers=100000
partitions=12
while [ $# -gt 0 ]; do
  case "$1" in
    --broker|--build) bench_option "$1" "$2"; shift 2 ;;
    *) customers="$1"; shift ;;
  esac
done
bench_check_broker
bin=$bench_build/c360
[ -x "$bin" ] || { echo "bench/failover.sh: build first (scripts/build): $bin" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  bench_stop
  rm -rf "$work"
}
trap cleanup EXIT

broker_start "$partitions" "$work/broker"
echo "broker: $bench_broker at $bootstrap"
gen=$("$bin" gen --brokers "$bootstrap" --customers "$customers" --days 1 \
  --events $((customers * 2)) --start 2026-06-01 | grep '^total')
echo "preloaded: $gen"

ready_tasks() {  # the number of tasks of a ready engine, else 0
  curl -s "127.0.0.1:$1/readyz" | "$bench_python" -c '
import json, sys
r = json.load(sys.stdin)
print(len(r["tasks"]) if r["ready"] else 0)' 2>/dev/null || echo 0
}
standbys_synced() {  # 1 when the engine has standby copies and none lags
  curl -s "127.0.0.1:$1/metrics" | "$bench_python" -c '
import sys
lags = [float(l.rsplit(" ", 1)[1]) for l in sys.stdin if l.startswith("c360_standby_lag_records{")]
print(1 if lags and not any(lags) else 0)'
}
now() { date +%s.%N; }

for standby in 0 1; do
  group="failover-$standby"
  cat >"$work/c360-$standby.yaml" <<EOF
kafka:
  session.timeout.ms: 6000
  heartbeat.interval.ms: 1000
engine:
  standby_replicas: $standby
EOF
  ports=()
  for name in a b; do
    "$bin" engine --brokers "$bootstrap" --clock event --state-dir "$work/$group-$name" \
      --group "$group" --http 127.0.0.1:0 --config "$work/c360-$standby.yaml" \
      2>"$work/$group-$name.log" &
    pids+=($!)
    ports+=("$(bench_http_port "$work/$group-$name.log")")
  done
  a_pid=${pids[-2]}
  b_pid=${pids[-1]}
  start=$(now)
  until [ "$(ready_tasks "${ports[0]}")" -gt 0 ] && [ "$(ready_tasks "${ports[1]}")" -gt 0 ] &&
        [ $(( $(ready_tasks "${ports[0]}") + $(ready_tasks "${ports[1]}") )) = "$partitions" ]; do
    kill -0 "$a_pid" "$b_pid" || { echo "an engine exited, see $work" >&2; exit 1; }
    sleep 0.5
  done
  load_s=$(echo "$(now) - $start" | bc -l)
  if [ "$standby" != 0 ]; then
    until [ "$(standbys_synced "${ports[0]}")" = 1 ] && [ "$(standbys_synced "${ports[1]}")" = 1 ]; do
      sleep 0.5
    done
  fi
  mark=$(wc -c <"$work/$group-a.log")
  lost=$(ready_tasks "${ports[1]}")
  killed=$(now)
  kill -9 "$b_pid"
  until [ "$(ready_tasks "${ports[0]}")" = "$partitions" ]; do sleep 0.02; done
  ready=$(now)
  tail -c +"$((mark + 1))" "$work/$group-a.log" >"$work/$group-a.after"
  revoked=$(grep -m1 'event=revoked' "$work/$group-a.after" | sed -E 's/^ts=([^ ]+) .*/\1/')
  notice_s=$(echo "$(date -d "$revoked" +%s.%N) - $killed" | bc -l)
  restores=$(grep -o 'event=task_restored task=[0-9]* from=[a-z_]* batch=[^ ]* records_read=[0-9]* batches_applied=[0-9]* seconds=[0-9.]*' \
    "$work/$group-a.after" | "$bench_python" -c '
import collections, re, sys
how, records, seconds = collections.Counter(), 0, 0.0
for line in sys.stdin:
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    how[f["from"]] += 1
    records += int(f["records_read"])
    seconds += float(f["seconds"])
print(", ".join(f"{n} {k}" for k, n in sorted(how.items())) +
      f"; {records} changelog records read in {seconds:.2f} s")')
  printf 'failover (%s broker, standby_replicas %d): %d customers in %d tasks (loaded and ready in %.1f s); B held %d tasks; kill to A ready with all %.2f s (the group noticed after %.2f s: session timeout 6 s; rebalance, restores and catch-up %.2f s); restores: %s\n' \
    "$bench_broker" "$standby" "$customers" "$partitions" "$load_s" "$lost" \
    "$(echo "$ready - $killed" | bc -l)" "$notice_s" "$(echo "$ready - $killed - $notice_s" | bc -l)" \
    "$restores"
  kill -TERM "$a_pid"; wait "$a_pid" || true
done
