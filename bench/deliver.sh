#!/usr/bin/env bash
# Simulator → delivered S3 layout, end to end (simulation, fan-out, encoding, spool, objects):
# records/s to Parquet (Hive, per hour) and to text.gz, medians of RUNS runs, next to the
# simulator alone printing the same records as text (--stdout > /dev/null) in the same run.
# The load is bench/deliver-scenario.toml (internet probes: about one record per packet) for
# 10 simulated minutes, about 1 M records, with 60 s aggregation.
#
# usage: bench/deliver.sh [RUNS]      (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
OUT=bench/out/deliver
mkdir -p "$OUT"
cargo build --release -p vpcflow --quiet
BIN=target/release/vpcflow
SCEN=bench/deliver-scenario.toml

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }

run() { # run KIND → seconds; leaves the record count in $OUT/KIND.records
  local kind=$1 t0 t1
  rm -rf "$OUT/data-$kind"
  if [ "$kind" = stdout ]; then
    t0=$(now); "$BIN" simulate --stdout --interval 60 --scenario "$SCEN" --duration 10m 2>/dev/null | wc -l > "$OUT/stdout.lines"; t1=$(now)
    echo $(( $(cat "$OUT/stdout.lines") - 1 )) > "$OUT/stdout.records"
  else
    t0=$(now)
    "$BIN" simulate --config "bench/deliver/$kind.toml" --data "$OUT/data-$kind" --scenario "$SCEN" --duration 10m > "$OUT/$kind.report" 2>/dev/null
    t1=$(now)
    sed -n 's/^Delivered \([0-9]*\) records.*/\1/p' "$OUT/$kind.report" > "$OUT/$kind.records"
  fi
  echo "$t1 - $t0" | bc -l
}

printf '%-28s %10s %10s %12s\n' "path" "records" "median s" "records/s"
for kind in parquet text stdout; do
  times=()
  for _ in $(seq "$RUNS"); do times+=("$(run "$kind")"); done
  m=$(printf '%s\n' "${times[@]}" | median)
  n=$(cat "$OUT/$kind.records")
  label=$([ "$kind" = stdout ] && echo "simulator alone (--stdout)" || echo "simulator → S3 $kind")
  printf '%-28s %10s %10.3f %12.0f   runs: %s\n' "$label" "$n" "$m" "$(echo "$n / $m" | bc -l)" "${times[*]}"
done
# What landed is what the simulator made.
p=$(cat "$OUT/parquet.records"); t=$(cat "$OUT/text.records"); s=$(cat "$OUT/stdout.records")
[ "$p" = "$s" ] && [ "$t" = "$s" ] && echo "record counts agree: $s" || { echo "record counts differ: parquet $p, text $t, stdout $s" >&2; exit 1; }
