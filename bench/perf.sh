#!/usr/bin/env bash
# The performance harness, one command (docs/performance.md):
#   1. core: build/bench/core_bench (Google Benchmark), 3 repetitions, medians;
#   2. end to end: bench/e2e.sh — a seeded workload preloaded into the embedded broker,
#      then a bare librdkafka consumer and `c360 engine --clock event` on the same data,
#      3 runs each;
#   3. latency: bench/latency.py — live events at a sustained rate, `--clock wall`,
#      event-to-alert and commit-time quantiles from the engine's histograms;
#   4. scale: bench/scale.sh — 1,000,000 customers: RSS, state on disk, restart to ready,
#      day-boundary stall.
# Then bench/report.py writes the results into docs/performance.md (between its "perf.sh"
# markers) and draws docs/images/performance.svg (gnuplot).
#
# Usage: bench/perf.sh            the full run (about 10 minutes on 2 cores)
#        bench/perf.sh --quick    a smaller one (1 M events, 20 s of load, 100,000 customers)
# Needs the release build (scripts/build) and the set-up's packages (scripts/setup).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
for f in build/c360 build/bench/core_bench build/bench/bare_consumer; do
  [ -x "$f" ] || { echo "bench/perf.sh: build first (scripts/build): $f" >&2; exit 2; }
done
if ps -C c360 -o stat= | grep -qv '^Z'; then  # live ones (exited children may linger)
  echo "bench/perf.sh: other c360 processes are running; they would skew the figures" >&2
  exit 2
fi
out=build/perf
rm -rf "$out"
mkdir -p "$out"

if [ "$quick" = 1 ]; then
  e2e=(1000000 20000 30 64); latency=(--seconds 20); scale=100000
else
  e2e=(5000000 100000 30 128); latency=(--seconds 60); scale=1000000
fi

echo "== core (Google Benchmark)"
build/bench/core_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/core.json" --benchmark_out_format=json | grep -E '_median|^BM_.*median' || true

echo "== end to end: bench/e2e.sh ${e2e[*]}"
bench/e2e.sh "${e2e[@]}" --json "$out/e2e.json"

echo "== latency: bench/latency.py --rate 20000 ${latency[*]}"
/usr/bin/python3 bench/latency.py --rate 20000 "${latency[@]}" --json "$out/latency.json"

echo "== scale: bench/scale.sh $scale"
bench/scale.sh "$scale" --json "$out/scale.json"

/usr/bin/python3 bench/report.py "$out" "bench/perf.sh${1:+ $1}"
