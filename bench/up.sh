#!/usr/bin/env bash
# `vpcflow up` as a service: (1) unpaced (--speed max), its delivery rate to Parquet (Hive, per
# hour) next to `vpcflow simulate`'s on the same load in the same run, alternating, medians of
# RUNS (bench/deliver-scenario.toml, 10 simulated minutes, 60 s aggregation, about 1 M records);
# (2) in real time on builtin:three-tier with the default scenario and the built-in flow logs,
# its CPU (share of one core) and peak RSS over SECONDS of wall time (targets: < 2 %, < 100 MB).
#
# usage: bench/up.sh [RUNS] [SECONDS]      (defaults 5 and 60)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
SECONDS_REAL=${2:-60}
OUT=bench/out/up
mkdir -p "$OUT"
cargo build --release -p vpcflow --quiet
BIN=$PWD/target/release/vpcflow
SCEN=bench/deliver-scenario.toml
FLAGS=(--config bench/deliver/parquet.toml --scenario "$SCEN" --duration 10m --start 2026-01-15T14:00:00Z --seed 1)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }

run() { # run simulate|up → seconds; leaves the record count in $OUT/KIND.records
  local kind=$1 t0 t1
  rm -rf "$OUT/data-$kind"
  t0=$(now)
  if [ "$kind" = up ]; then
    "$BIN" up --speed max "${FLAGS[@]}" --data "$OUT/data-$kind" > "$OUT/$kind.report" 2>/dev/null
  else
    "$BIN" simulate "${FLAGS[@]}" --data "$OUT/data-$kind" > "$OUT/$kind.report" 2>/dev/null
  fi
  t1=$(now)
  sed -n 's/^Delivered \([0-9]*\) records.*/\1/p' "$OUT/$kind.report" > "$OUT/$kind.records"
  echo "$t1 - $t0" | bc -l
}

echo "machine: $(nproc) cores"
printf '%-32s %10s %10s %12s\n' "path" "records" "median s" "records/s"
sim=(); up=()
for _ in $(seq "$RUNS"); do
  sim+=("$(run simulate)")
  up+=("$(run up)")
done
for kind in simulate up; do
  if [ "$kind" = up ]; then times=("${up[@]}"); else times=("${sim[@]}"); fi
  m=$(printf '%s\n' "${times[@]}" | median)
  n=$(cat "$OUT/$kind.records")
  printf '%-32s %10s %10.3f %12.0f\n' "$kind → Parquet" "$n" "$m" "$(echo "$n / $m" | bc -l)"
done
cmp <(cd "$OUT/data-simulate/s3" && find . -type f | sort | xargs md5sum) \
    <(cd "$OUT/data-up/s3" && find . -type f | sort | xargs md5sum) && echo "the same objects, byte for byte"

echo
echo "in real time on builtin:three-tier for $SECONDS_REAL s:"
rm -rf "$OUT/data-real"
"$BIN" up --data "$OUT/data-real" > "$OUT/real.report" 2>&1 &
pid=$!
sleep "$SECONDS_REAL"
ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"
wait "$pid"
hz=$(getconf CLK_TCK)
echo "CPU $(echo "scale=2; 100 * $ticks / $hz / $SECONDS_REAL" | bc -l) % of one core, peak RSS $((rss_kb / 1024)) MB (targets < 2 %, < 100 MB); stopped by SIGTERM: exit 0"
