# Sourced by the bench scripts (bench/e2e.sh, bench/scale.sh, bench/perf.sh): which broker
# a bench runs on, which build it uses, and starting and stopping that broker.
#
#   --broker embedded|kafka  (or C360_BENCH_BROKER; default embedded)
#       embedded: `c360 broker`, librdkafka's mock cluster, in its own process;
#       kafka: Apache Kafka (the version tools/kafka/pom.xml pins), one KRaft node on
#       127.0.0.1 run by tests/lib/kafka_broker.py, with c360's eight topics created;
#   --build DIR              (or C360_BENCH_BUILD; default build) the build whose c360 and
#       bench binaries are measured.
#
# bench_option NAME VALUE: 0 when the script's argument NAME was one of these (then
# $bench_broker / $bench_build are set), 1 otherwise.
# broker_start PARTITIONS DIR: starts $bench_broker with PARTITIONS partitions per topic,
#   its files in DIR; sets $bootstrap.
# bench_stop: the scripts' EXIT trap: stops every process the script started, then every
#   broker, whatever happened (a failure, Ctrl-C, or SIGTERM from bench/perf.sh).

bench_broker="${C360_BENCH_BROKER:-embedded}"
bench_build="${C360_BENCH_BUILD:-build}"
bench_python=/usr/bin/python3  # Debian's: it has python3-confluent-kafka
_bench_embedded_pids=()
_bench_kafka_dirs=()

bench_option() {
  case "$1" in
    --broker) bench_broker="$2" ;;
    --build) bench_build="$2" ;;
    *) return 1 ;;
  esac
}

bench_check_broker() {
  case "$bench_broker" in
    embedded|kafka) ;;
    *) echo "$(basename "$0"): --broker embedded or kafka, not '$bench_broker'" >&2; exit 2 ;;
  esac
}

broker_start() {
  local partitions="$1" dir="$2"
  mkdir -p "$dir"
  case "$bench_broker" in
    embedded)
      # In a session of its own, as the Kafka broker: Ctrl-C stops the clients, which then
      # flush and leave the group while it still answers; bench_stop stops it last.
      setsid "$bench_build/c360" broker --port 0 --partitions "$partitions" >"$dir/broker.out" 2>/dev/null &
      _bench_embedded_pids+=($!)
      for _ in $(seq 100); do [ -s "$dir/broker.out" ] && break; sleep 0.05; done
      bootstrap=$(head -1 "$dir/broker.out")
      ;;
    kafka)
      _bench_kafka_dirs+=("$dir/kafka")  # before the start: stopped even if interrupted
      bootstrap=$("$bench_python" tests/lib/kafka_broker.py start "$dir/kafka") || {
        echo "$(basename "$0"): the Kafka broker did not start (scripts/setup fetches its jars)" >&2
        exit 1
      }
      "$bench_python" tests/lib/kafka_broker.py topics "$bootstrap" --partitions "$partitions"
      ;;
  esac
  [ -n "$bootstrap" ] || { echo "$(basename "$0"): no broker address" >&2; exit 1; }
}

# The script's descendants (not this function's own ps and awk), foreground ones too:
# SIGTERM from bench/perf.sh reaches the script alone, and bash runs its EXIT trap at once,
# leaving e.g. a `c360 gen` inside $(...) flushing to a broker about to go.
# The port an engine logging to $1 bound (its event=http_listening line), waiting up to
# 60 s for it.
bench_http_port() {
  local port
  for _ in $(seq 1200); do
    port=$(grep -o 'event=http_listening address=[^ ]*' "$1" 2>/dev/null | sed -E 's/.*://' | tail -1)
    [ -n "$port" ] && { echo "$port"; return; }
    sleep 0.05
  done
  echo "$0: the engine did not start, see $1" >&2; exit 1
}

_bench_descendants() {
  ps -e -o pid= -o ppid= | awk -v root="$$" -v self="$BASHPID" '
    { parent[$1] = $2 }
    END { for (p in parent) { q = p; while (q in parent && q != root && q != self && q > 1) q = parent[q]
                              if (q == root && p != root) print p } }'
}

bench_stop() {
  local pids=() pid dir
  trap '' INT TERM  # a second Ctrl-C or SIGTERM does not cut the clean-up short
  # The brokers last, so that engines and producers stop cleanly while they still answer.
  for pid in $(_bench_descendants); do
    [[ " ${_bench_embedded_pids[*]} " == *" $pid "* ]] || pids+=("$pid")
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do  # the script's own children; others return at once
      wait "$pid" 2>/dev/null || true
    done
    for _ in $(seq 300); do  # the others, up to 30 s
      kill -0 "${pids[@]}" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  for pid in "${_bench_embedded_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for dir in "${_bench_kafka_dirs[@]}"; do
    [ -f "$dir/pid" ] && { "$bench_python" tests/lib/kafka_broker.py stop "$dir" || true; }
  done
  _bench_embedded_pids=()
  _bench_kafka_dirs=()
}
