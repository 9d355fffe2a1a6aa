#!/usr/bin/env bash
# Query engines side by side (targets: text .log.gz ≤ 0.5× Polars' median, Parquet ≤ 1.0×
# DuckDB's): top 10 srcaddr by sum(bytes), and rejects per hour, on 1 M records from one
# text .log.gz (bench/gen_flows.py), from the same records split as AWS delivers
# them (one .log.gz per 5 minutes, bench/split_5min.py) and as Parquet (AWS's form: gzip inside,
# written by `vpcflow convert`); vpcflow (SQL and Insights), DuckDB and Polars, checked to agree
# (bench/query.py), and the one text file's inflate floor (ISA-L on one thread, rapidgzip on all
# cores) against 0.5× Polars. Then Logs Insights top talkers over a 10 M-event log group
# (target ≤ 1 s).
#
# usage: bench/query.sh [RUNS] [EVENTS_MINUTES]   (defaults 7 and 100: about 10 M events)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-7}
MINUTES=${2:-100}
OUT=bench/out/query
mkdir -p "$OUT"
cargo build --release -p vpcflow --quiet
BIN=$PWD/target/release/vpcflow
PY=.venv-bench/bin/python
# The peers, and the inflaters that measure the one text file's floor (bench/query.py).
"$PY" -c 'import duckdb, polars, pyarrow, isal, rapidgzip' 2>/dev/null \
  || { python3 -m venv .venv-bench && .venv-bench/bin/pip install --quiet duckdb polars pyarrow isal rapidgzip; }
[ -f "$OUT/flows.log.gz" ] || python3 bench/gen_flows.py 1000000 "$OUT/flows.log.gz"
[ -d "$OUT/flows-5min" ] || python3 bench/split_5min.py "$OUT/flows.log.gz" "$OUT/flows-5min"
[ -f "$OUT/flows.parquet" ] || "$BIN" convert --output parquet -o "$OUT/flows.parquet" "$OUT/flows.log.gz"
echo "machine: $(nproc) cores; $(zcat "$OUT/flows.log.gz" | wc -l) lines in flows.log.gz ($(du -h "$OUT/flows.log.gz" | cut -f1)), Parquet $(du -h "$OUT/flows.parquet" | cut -f1)"
"$PY" bench/query.py "$BIN" "$PWD/$OUT/flows.log.gz" "$PWD/$OUT/flows.parquet" "$PWD/$OUT/flows-5min" "$RUNS"

echo
echo "Logs Insights over the log-group store:"
if [ ! -d "$OUT/logs-$MINUTES/logs" ]; then
  rm -rf "$OUT/logs-$MINUTES"
  "$BIN" simulate --config bench/query/loggroup.toml --data "$OUT/logs-$MINUTES" \
    --scenario bench/deliver-scenario.toml --duration "${MINUTES}m" > /dev/null 2>&1
fi
Q='stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 10'
EVENTS=$("$BIN" query --data "$OUT/logs-$MINUTES" --log-group /bench/flow-logs --insights 'stats count(*) as n' --output csv | tail -1)
times=()
for _ in $(seq "$RUNS"); do
  t0=$(date +%s.%N)
  "$BIN" query --data "$OUT/logs-$MINUTES" --log-group /bench/flow-logs --insights "$Q" > /dev/null
  t1=$(date +%s.%N)
  times+=("$(echo "$t1 - $t0" | bc)")
done
MED=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo "top talkers over $EVENTS events: median $MED s of $RUNS runs (target ≤ 1 s)"
