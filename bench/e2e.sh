#!/usr/bin/env bash
# End-to-end throughput, side by side on the same data (docs/performance.md):
#   (a) bench/bare_consumer: librdkafka reads every input record and discards it;
#   (b) c360 engine --clock event from empty state until every record is applied,
#       committed and the outbox is drained (polled with c360_state_dump every 0.2 s).
# Both on the same broker, preloaded once with the same seeded workload (`c360 gen`).
# The engine's time is counted from its partition assignment (the group join, ~3 s with
# the mock broker, is reported apart). 3 runs each; min / median / max and the ratio.
# Usage: bench/e2e.sh [events] [customers] [days] [partitions] [--broker embedded|kafka]
#                     [--build DIR] [--json FILE]
#        (defaults 1000000 20000 30 64; enough partitions that the embedded broker's
#        retention, 5 MiB per partition, keeps every record: checked. --broker and
#        --build: bench/broker.sh; the broker is started here and stopped on exit.)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/broker.sh
json=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --json) json="$2"; shift 2 ;;
    --broker|--build) bench_option "$1" "$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
bench_check_broker
events="${args[0]:-1000000}"
customers="${args[1]:-20000}"
days="${args[2]:-30}"
partitions="${args[3]:-64}"
bin=$bench_build/c360
dump=$bench_build/tests/c360_state_dump
bare=$bench_build/bench/bare_consumer
for f in "$bin" "$dump" "$bare"; do
  [ -x "$f" ] || { echo "bench/e2e.sh: build first (scripts/build): $f" >&2; exit 2; }
done
work=$(mktemp -d)
cleanup() { bench_stop; rm -rf "$work"; }
trap cleanup EXIT

broker_start "$partitions" "$work/broker"
echo "broker: $bench_broker at $bootstrap, $partitions partitions per topic"
echo "preloading: $("$bin" gen --brokers "$bootstrap" --customers "$customers" --days "$days" \
  --events "$events" --start 2026-06-01 | grep '^total')"

applied() {  # "<sum of stored next offsets> <outbox entries>"
  "$dump" --tasks-only "$1" 2>/dev/null | "$bench_python" -c '
import json, sys
tasks = [json.loads(l) for l in sys.stdin if "\"kind\":\"task\"" in l]
print(sum(sum(t["offsets"].values()) for t in tasks), sum(t["outbox"] for t in tasks))'
}
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
min() { printf '%s\n' "$@" | sort -g | head -1; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }

if [ "$bench_broker" = kafka ]; then
  # A fresh JVM serves fetches slowly until its JIT has compiled them: one read of
  # everything first, not counted (the preload has warmed the produce path).
  echo "warm-up: $("$bare" "$bootstrap")"
fi
bare_rates=(); engine_rates=(); joins=()
for run in 1 2 3; do
  line=$("$bare" "$bootstrap")
  read_records=$(sed -E 's/.*records=([0-9]+).*/\1/' <<<"$line")
  if [ "$read_records" != "$events" ]; then
    echo "bench/e2e.sh: the bare consumer read $read_records of $events records" \
         "(the embedded broker drops a partition's oldest data beyond ~5 MiB: use more partitions)" >&2
    exit 1
  fi
  bare_rates+=("$(sed -E 's/.* rate=([0-9]+)\/s/\1/' <<<"$line")")
  echo "run $run bare:   $line"

  state="$work/state-$run"
  start=$(date +%s.%N)
  config=()  # C360_E2E_CONFIG: a config file to try (experiments)
  [ -n "${C360_E2E_CONFIG:-}" ] && config=(--config "$C360_E2E_CONFIG")
  "$bin" engine --brokers "$bootstrap" --clock event --state-dir "$state" \
    --group "bench-$run-$$" --http 127.0.0.1:0 "${config[@]}" 2>"$work/engine-$run.log" &
  engine=$!
  while true; do
    sleep 0.2
    read -r done outbox < <(applied "$state" || echo "0 1")
    [ "$done" = "$events" ] && [ "$outbox" = "0" ] && break
    kill -0 "$engine" 2>/dev/null || { echo "engine exited: $(tail -3 "$work/engine-$run.log")" >&2; exit 1; }
  done
  finish=$(date +%s.%N)
  kill -INT "$engine"; wait "$engine" || true
  # logfmt (docs/deploy.md): ts=2026-11-23T18:10:11.563Z level=info event=assigned ...
  assigned=$(grep -m1 'event=assigned' "$work/engine-$run.log" | sed -E 's/^ts=([^ ]+) .*/\1/')
  assigned_s=$(date -d "$assigned" +%s.%N)
  seconds=$(echo "$finish - $assigned_s" | bc -l)
  joins+=("$(echo "$assigned_s - $start" | bc -l)")
  engine_rates+=("$(echo "$events / $seconds" | bc)")
  echo "run $run engine: records=$events seconds=$(printf %.2f "$seconds") rate=${engine_rates[-1]}/s" \
       "(group join $(printf %.2f "${joins[-1]}") s; $(grep -o 'commits=[0-9]*' "$work/engine-$run.log"))"
done
echo "bare consumer records/s: min $(min "${bare_rates[@]}") median $(median "${bare_rates[@]}") max $(max "${bare_rates[@]}")"
echo "engine records/s:        min $(min "${engine_rates[@]}") median $(median "${engine_rates[@]}") max $(max "${engine_rates[@]}")"
ratio=$(echo "scale=3; $(median "${engine_rates[@]}") / $(median "${bare_rates[@]}")" | bc)
echo "ratio engine / bare (medians): $ratio"
if [ -n "$json" ]; then
  printf '{"broker": "%s", "events": %d, "customers": %d, "days": %d, "partitions": %d, "bare": [%s], "engine": [%s], "joins": [%s], "ratio": %s}\n' \
    "$bench_broker" "$events" "$customers" "$days" "$partitions" "$(IFS=,; echo "${bare_rates[*]}")" \
    "$(IFS=,; echo "${engine_rates[*]}")" "$(printf '%.2f\n' "${joins[@]}" | paste -sd,)" \
    "$(printf %.3f "$ratio")" >"$json"
fi
