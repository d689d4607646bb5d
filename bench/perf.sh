#!/usr/bin/env bash
# The performance harness, one command (docs/performance.md), on both brokers:
#   1. core: core_bench (Google Benchmark), 3 repetitions, medians (no broker);
#   2. end to end: bench/e2e.sh — a seeded workload preloaded into the broker, then a bare
#      librdkafka consumer and `c360 engine --clock event` on the same data, 3 runs each;
#      on the embedded broker, then on real Kafka;
#   3. latency: bench/latency.py — live events at a sustained rate, `--clock wall`,
#      event-to-alert and commit-time quantiles from the engine's histograms, and the bare
#      relay (bench/bare_relay.cc) under the same load and output traffic; on the embedded
#      broker, on real Kafka (at_least_once, like for like), and on real Kafka with
#      engine.processing_guarantee exactly_once;
#   4. scale: bench/scale.sh — 1,000,000 customers: RSS, state on disk, restart to ready
#      on each broker; the day-boundary stall once (it involves no broker).
# Each bench starts its broker and stops it on exit (bench/broker.sh; real Kafka: the
# version tools/kafka/pom.xml pins, from tests/lib/kafka_broker.py).
# Then bench/report.py writes the results into docs/performance.md (between its "perf.sh"
# markers), appends them to docs/perf/history.tsv and draws docs/images/performance.svg.
#
# Usage: bench/perf.sh [--quick] [--broker embedded|kafka|both] [--build DIR] [--no-docs]
#                      [--force]
#   (nothing)      the full run on both brokers (about 25 minutes on 2 cores)
#   --quick        a smaller one (1 M events, 20 s of load, 100,000 customers)
#   --broker B     one broker only (default both; C360_BENCH_BROKER is not read here)
#   --build DIR    the build measured (default build/, or C360_BENCH_BUILD)
#   --no-docs      results in DIR/perf/ and a preview there (report.md, performance.svg);
#                  docs/ untouched — for trying the harness
#   --force        run even if other c360 processes or Kafka brokers are running (their
#                  CPU skews the figures: only with --no-docs)
# Needs the release build (scripts/build) and the set-up's packages and Kafka jars
# (scripts/setup).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/broker.sh
quick=0
docs=1
force=0
brokers=(embedded kafka)
command="bench/perf.sh"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; command+=" --quick"; shift ;;
    --broker)
      case "$2" in
        both) brokers=(embedded kafka) ;;
        embedded|kafka) brokers=("$2"); command+=" --broker $2" ;;
        *) echo "bench/perf.sh: --broker embedded, kafka or both" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --build) bench_build="$2"; shift 2 ;;
    --no-docs) docs=0; shift ;;
    --force) force=1; shift ;;
    *) echo "bench/perf.sh: unknown argument $1 (see the header of bench/perf.sh)" >&2; exit 2 ;;
  esac
done
if [ "$force" = 1 ] && [ "$docs" = 1 ]; then
  echo "bench/perf.sh: --force only with --no-docs (figures beside other work are not the docs')" >&2
  exit 2
fi
for f in "$bench_build/c360" "$bench_build/tests/c360_state_dump" "$bench_build/bench/core_bench" \
         "$bench_build/bench/bare_consumer" "$bench_build/bench/bare_relay" \
         "$bench_build/bench/day_boundary_bench"; do
  [ -x "$f" ] || { echo "bench/perf.sh: build first (scripts/build): $f" >&2; exit 2; }
done
others=""
if ps -C c360 -o stat= | grep -qv '^Z'; then  # live ones (exited children may linger)
  others="other c360 processes are running"
fi
if ps -eo args= | grep -q '^[^ ]*java .*kafka\.Kafka'; then
  others="${others:+$others; }a Kafka broker is running"
fi
if [ -n "$others" ]; then
  if [ "$force" = 1 ]; then
    echo "bench/perf.sh: $others (--force: going on; the figures are skewed)" >&2
  else
    echo "bench/perf.sh: $others; they would skew the figures" >&2
    exit 2
  fi
fi
if [[ " ${brokers[*]} " == *" kafka "* ]] && ! ls tools/kafka/target/dependency/kafka_*.jar >/dev/null 2>&1; then
  echo "bench/perf.sh: no Kafka jars in tools/kafka/target/dependency (run scripts/setup)" >&2
  exit 2
fi
out=$bench_build/perf
rm -rf "$out"
mkdir -p "$out"

if [ "$quick" = 1 ]; then
  e2e=(1000000 20000 30 64); latency=(--seconds 20); scale=100000
else
  e2e=(5000000 100000 30 128); latency=(--seconds 60); scale=1000000
fi
started=$(date +%s)
child=""
# Stopped (Ctrl-C, SIGTERM) or failed, the harness stops the running bench and waits for
# it: the bench's own trap stops its engine and broker. Each bench runs in the background
# so that this trap runs at once and knows its pid (which also means Ctrl-C reaches the
# bench only through this SIGTERM: a script's background jobs ignore SIGINT).
trap 'trap "" INT TERM; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null; wait' EXIT
part() {  # NAME [--log FILE] COMMAND...: runs it (its output into FILE), logs its duration
  local name="$1" log="" t0
  shift
  if [ "$1" = --log ]; then log="$2"; shift 2; fi
  echo "== $name: ${*#./}"
  t0=$(date +%s)
  if [ -n "$log" ]; then "$@" >"$log" & else "$@" & fi
  child=$!
  wait "$child"
  child=""
  printf '%s\t%d\n' "$name" "$(( $(date +%s) - t0 ))" >>"$out/timings.tsv"
}

part core --log "$out/core.txt" "$bench_build/bench/core_bench" --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_out="$out/core.json" \
  --benchmark_out_format=json
grep -E '_median' "$out/core.txt"

for b in "${brokers[@]}"; do
  part "e2e $b" bench/e2e.sh "${e2e[@]}" --broker "$b" --build "$bench_build" \
    --json "$out/e2e-$b.json"
done

for b in "${brokers[@]}"; do
  part "latency $b" "$bench_python" bench/latency.py --rate 20000 "${latency[@]}" --broker "$b" \
    --build "$bench_build" --json "$out/latency-$b.json"
  if [ "$b" = kafka ]; then
    part "latency kafka exactly_once" "$bench_python" bench/latency.py --rate 20000 \
      "${latency[@]}" --broker kafka --guarantee exactly_once --build "$bench_build" \
      --json "$out/latency-kafka-exactly_once.json"
  fi
done

day=()  # the day-boundary stall once, with the first broker's scale run
for b in "${brokers[@]}"; do
  part "scale $b" bench/scale.sh "$scale" --broker "$b" --build "$bench_build" "${day[@]}" \
    --json "$out/scale-$b.json"
  day=(--no-day)
done

echo "== done in $(( ($(date +%s) - started) / 60 )) min $(( ($(date +%s) - started) % 60 )) s" \
     "(parts: $out/timings.tsv)"
report=("$out" "$command")
[ "$docs" = 1 ] || report+=(--preview)
"$bench_python" bench/report.py "${report[@]}"
