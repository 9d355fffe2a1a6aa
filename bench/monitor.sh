#!/usr/bin/env bash
# Monitoring benchmarks (issue: monitoring), medians of RUNS runs:
#
# 1. Metric filters at ingest: simulator → one log group, about 1 M records
#    (bench/deliver-scenario.toml, 10 simulated minutes, 60 s aggregation), with no metric
#    filter on the group and with five (the seeds' rejected-packet count, rejects, SSH attempts,
#    large transfers by bytes, NODATA by term): records/s of each, and what the five cost.
# 2. Alarms over a simulated day: `vpcflow up`'s pump evaluates alarms on the metric's time;
#    here the store's evaluation alone (the crate's `alarm_day` bench: a day of one-minute
#    metric data, ten alarms at 60 and 300 s periods, evaluated from scratch).
#
# usage: bench/monitor.sh [RUNS]      (default 5; CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
OUT=bench/out/monitor
mkdir -p "$OUT"
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -p vpcflow --quiet
BIN=$TARGET/release/vpcflow
SCEN=bench/deliver-scenario.toml
CFG=bench/monitor/log-group.toml
FLOW='version, account, eni, src, dst, srcport, dstport, protocol, packets, bytes, start, end'

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }

filters() { # the five metric filters on DATA's group
  local d=$1 t='metricNamespace=Bench'
  "$BIN" logs put-metric-filter --data "$d" --log-group-name /bench/flows --filter-name rejected-packets \
    --filter-pattern "[$FLOW, action=\"REJECT\", status]" --metric-transformations "metricName=RejectedPacketCount,$t,metricValue=\$packets,defaultValue=0"
  "$BIN" logs put-metric-filter --data "$d" --log-group-name /bench/flows --filter-name rejects \
    --filter-pattern '[..., action=REJECT, status]' --metric-transformations "metricName=Rejects,$t,metricValue=1"
  "$BIN" logs put-metric-filter --data "$d" --log-group-name /bench/flows --filter-name ssh \
    --filter-pattern "[version, account, eni, src, dst, srcport, dstport=22, ...]" --metric-transformations "metricName=SshAttempts,$t,metricValue=1"
  "$BIN" logs put-metric-filter --data "$d" --log-group-name /bench/flows --filter-name large \
    --filter-pattern "[$FLOW, action, status]" --metric-transformations "metricName=Bytes,$t,metricValue=\$bytes"
  "$BIN" logs put-metric-filter --data "$d" --log-group-name /bench/flows --filter-name nodata \
    --filter-pattern 'NODATA' --metric-transformations "metricName=NoData,$t,metricValue=1"
}

run() { # run none|five → seconds; leaves the record count in $OUT/KIND.records
  local kind=$1 d="$OUT/data-$1" t0 t1
  rm -rf "$d"
  # A minute of a day before makes the group (and the flow log) the filters are put on.
  "$BIN" simulate --config "$CFG" --data "$d" --scenario "$SCEN" --duration 1m --start 2026-01-14T00:00:00Z > /dev/null 2>&1
  [ "$kind" = five ] && filters "$d"
  t0=$(now)
  "$BIN" simulate --config "$CFG" --data "$d" --scenario "$SCEN" --duration 10m --start 2026-01-15T00:00:00Z > "$OUT/$kind.report" 2>/dev/null
  t1=$(now)
  sed -n 's/^Delivered \([0-9]*\) records.*/\1/p' "$OUT/$kind.report" > "$OUT/$kind.records"
  echo "$t1 - $t0" | bc -l
}

printf '%-36s %10s %10s %12s\n' "path" "records" "median s" "records/s"
declare -A rate
declare -A times
# Interleaved, so that both see the machine as it is at the time (a 2-core machine drifts).
for _ in $(seq "$RUNS"); do
  for kind in none five; do times[$kind]="${times[$kind]:-} $(run "$kind")"; done
done
for kind in none five; do
  m=$(printf '%s\n' ${times[$kind]} | median)
  n=$(cat "$OUT/$kind.records")
  rate[$kind]=$(echo "$n / $m" | bc -l)
  printf '%-36s %10s %10.3f %12.0f   runs:%s\n' "simulator → log group, $kind filters" "$n" "$m" "${rate[$kind]}" "${times[$kind]}"
done
[ "$(cat "$OUT/none.records")" = "$(cat "$OUT/five.records")" ] || { echo "record counts differ" >&2; exit 1; }
printf 'five metric filters cost %.1f %% of delivery throughput\n' "$(echo "(1 - ${rate[five]} / ${rate[none]}) * 100" | bc -l)"

cargo bench --profile release -p vpcflow-store --bench alarm_day --quiet -- --noplot 2>/dev/null | grep -E 'alarm_day|time:' || true
