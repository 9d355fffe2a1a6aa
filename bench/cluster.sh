#!/usr/bin/env bash
# Distributed query (issue 25): the seeds' top-talkers question over at least 10 M records,
# in one process against a Ballista cluster of 1, 2 and 4 executors (`vpcflow cluster
# scheduler|executor`, separate processes on loopback) on this machine. Two forms of it:
#   - Logs Insights over a 10 M-event log group (Parquet segments), as bench/query.sh asks it;
#   - SQL over the same records as AWS's text.gz objects (the flow-log text reader on the
#     executors, through vpcflow's codec).
# Each is checked to give the same rows everywhere; medians of RUNS runs, and the speed-up per
# executor (one-process median / cluster median, divided by the executors).
#
# usage: bench/cluster.sh [RUNS] [EVENTS_MINUTES] [EXECUTORS...]   (defaults 5, 100, "1 2 4")
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
MINUTES=${2:-100}
shift $(( $# < 2 ? $# : 2 ))
SIZES=${*:-1 2 4}
OUT=bench/out/cluster
mkdir -p "$OUT"
cargo build --release -p vpcflow --quiet
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/vpcflow
DATA=$PWD/$OUT/logs-$MINUTES
if [ ! -d "$DATA/logs" ]; then
  rm -rf "$DATA"
  "$BIN" simulate --config bench/cluster/flows.toml --data "$DATA" \
    --scenario bench/deliver-scenario.toml --duration "${MINUTES}m" > /dev/null 2>&1
fi
TEXT=$DATA/s3/bench-text/AWSLogs
INSIGHTS='stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 10'
SQL='SELECT srcaddr, dstaddr, sum(bytes) AS b FROM flows GROUP BY srcaddr, dstaddr ORDER BY b DESC LIMIT 10'
EVENTS=$("$BIN" query --data "$DATA" --log-group /bench/flow-logs --insights 'stats count(*) as n' --output csv | tail -1)
OBJECTS=$(find "$TEXT" -name '*.log.gz' | wc -l)
echo "machine: $(nproc) cores; $EVENTS events in the log group; the same records in $OBJECTS text.gz objects"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# time_query NAME ARGS...: RUNS runs, each a new client process; prints the median (s) and
# keeps the answer in $OUT/NAME.csv.
time_query() {
  local name=$1; shift
  local times=()
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s.%N)
    "$BIN" query --data "$DATA" --output csv "$@" > "$OUT/$name.csv"
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '%s\n' "${times[@]}" | median
}

PIDS=()
stop_cluster() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }
trap stop_cluster EXIT

# start_cluster N: a scheduler and N executors on free ports; echoes the scheduler's URL.
start_cluster() {
  local n=$1 base=$((40000 + RANDOM % 10000))
  "$BIN" cluster scheduler --bind "127.0.0.1:$base" 2> "$OUT/scheduler.log" &
  PIDS+=($!)
  sleep 1
  for i in $(seq "$n"); do
    # Each executor runs as many tasks at once as the machine has cores: the executors share
    # them, as processes on one host do.
    "$BIN" cluster executor --scheduler "127.0.0.1:$base" --port $((base + 2 * i)) \
      --grpc-port $((base + 2 * i + 1)) --concurrent-tasks "$(nproc)" 2> "$OUT/executor-$i.log" &
    PIDS+=($!)
  done
  sleep 2
  CLUSTER="df://127.0.0.1:$base"
}

declare -A LOCAL
LOCAL[insights]=$(time_query local-insights --log-group /bench/flow-logs --insights "$INSIGHTS")
LOCAL[sql]=$(time_query local-sql --files "$TEXT" --sql "$SQL")
printf '\n%-10s %-9s %10s %10s %22s\n' form executors "median s" speed-up "speed-up per executor"
printf '%-10s %-9s %10s %10s %22s\n' insights "local" "${LOCAL[insights]}" 1.00 -
printf '%-10s %-9s %10s %10s %22s\n' sql "local" "${LOCAL[sql]}" 1.00 -
for n in $SIZES; do
  start_cluster "$n"
  # As many tasks per stage as the executors run at once.
  parts=$((n * $(nproc)))
  for form in insights sql; do
    if [ "$form" = insights ]; then
      med=$(time_query "cluster-$n-$form" --log-group /bench/flow-logs --insights "$INSIGHTS" \
        --cluster "$CLUSTER" --cluster-partitions "$parts")
    else
      med=$(time_query "cluster-$n-$form" --files "$TEXT" --sql "$SQL" \
        --cluster "$CLUSTER" --cluster-partitions "$parts")
    fi
    cmp -s "$OUT/local-$form.csv" "$OUT/cluster-$n-$form.csv" \
      || { echo "the cluster of $n answered $form differently:"; diff "$OUT/local-$form.csv" "$OUT/cluster-$n-$form.csv"; exit 1; }
    up=$(echo "scale=2; ${LOCAL[$form]} / $med" | bc)
    per=$(echo "scale=2; $up / $n" | bc)
    printf '%-10s %-9s %10s %10s %22s\n' "$form" "$n" "$med" "$up" "$per"
  done
  stop_cluster
done
echo
echo "Each cluster answer equals the one-process answer (bench/out/cluster/*.csv)."
