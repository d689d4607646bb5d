#!/usr/bin/env bash
# Measures how fast `c360 gen` produces into the embedded broker: 3 runs of N records
# (default 1,000,000) into a fresh 64-partition broker each (64 partitions keep every
# record within the mock's ~5 MiB-per-partition retention). Prints each run and
# min/median/max records/s. Usage: bench/gen_rate.sh [records] [format]
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-1000000}"
format="${2:-protobuf}"
bin=build/c360
[ -x "$bin" ] || { echo "bench/gen_rate.sh: build first (scripts/build)" >&2; exit 2; }

rates=()
for run in 1 2 3; do
  out=$(mktemp)
  "$bin" broker --port 0 --partitions 64 >"$out" 2>/dev/null &
  broker=$!
  for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
  bootstrap=$(head -1 "$out")
  line=$("$bin" gen --brokers "$bootstrap" --customers 5000 --days 30 --events "$records" \
           --start 2026-08-01 --format "$format" | grep '^total ')
  kill -TERM "$broker"; wait "$broker" || true
  rm -f "$out"
  echo "run $run: $line"
  rates+=("$(sed -E 's/.* rate=([0-9]+)\/s.*/\1/' <<<"$line")")
done
sorted=($(printf '%s\n' "${rates[@]}" | sort -n))
echo "gen $format, $records records, records/s: min ${sorted[0]} median ${sorted[1]} max ${sorted[2]}"
