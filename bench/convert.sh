#!/usr/bin/env bash
# Side-by-side: text.gz → Parquet on 1 M v2 records, vpcflow vs DuckDB, in one run.
# Both write Parquet with GZIP inside (AWS's codec). Prints each tool's median of N runs, the ratio,
# and checks that both files hold the same rows (count and sum(bytes) per action).
#
# usage: bench/convert.sh [RECORDS] [RUNS]      (defaults: 1000000, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${2:-5}
OUT=bench/out
mkdir -p "$OUT"
IN="$OUT/flows-$N.log.gz"
[ -f "$IN" ] || python3 bench/gen_flows.py "$N" "$IN"
scripts/setup-test-env >/dev/null
PY=.venv-test/bin/python
cargo build --release -p vpcflow --quiet
BIN=target/release/vpcflow

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }

ours=()
for _ in $(seq "$RUNS"); do
  t0=$(now); "$BIN" convert --output parquet -o "$OUT/vpcflow.parquet" "$IN"; t1=$(now)
  ours+=("$(echo "$t1 - $t0" | bc -l)")
done
duck=()
for _ in $(seq "$RUNS"); do
  duck+=("$("$PY" - "$IN" "$OUT/duckdb.parquet" <<'PYEOF'
import sys, time, duckdb
src, dst = sys.argv[1], sys.argv[2]
cols = "{'version':'INTEGER','account_id':'VARCHAR','interface_id':'VARCHAR','srcaddr':'VARCHAR','dstaddr':'VARCHAR','srcport':'INTEGER','dstport':'INTEGER','protocol':'INTEGER','packets':'BIGINT','bytes':'BIGINT','start':'BIGINT','end':'BIGINT','action':'VARCHAR','log_status':'VARCHAR'}"
t0 = time.perf_counter()
duckdb.sql(f"COPY (SELECT * FROM read_csv('{src}', delim=' ', header=true, nullstr='-', columns={cols})) TO '{dst}' (FORMAT parquet, COMPRESSION gzip)")
print(time.perf_counter() - t0)
PYEOF
)")
done
m_ours=$(printf '%s\n' "${ours[@]}" | median)
m_duck=$(printf '%s\n' "${duck[@]}" | median)

"$PY" - "$OUT/vpcflow.parquet" "$OUT/duckdb.parquet" <<'PYEOF'
import sys, duckdb
q = "SELECT count(*), sum(bytes), count(*) FILTER (WHERE action='REJECT'), count(*) FILTER (WHERE log_status='NODATA') FROM read_parquet('{}')"
a, b = (duckdb.sql(q.format(p)).fetchall()[0] for p in sys.argv[1:3])
print(f"check: vpcflow rows/bytes/rejects/nodata {a}, duckdb {b}: {'AGREE' if a == b else 'DIFFER'}")
sys.exit(0 if a == b else 1)
PYEOF
printf 'text.gz -> parquet, %s records, median of %s runs (machine: %s cores)\n' "$N" "$RUNS" "$(nproc)"
printf '  vpcflow convert : %.3f s  (%.2f M records/s)\n' "$m_ours" "$(echo "$N / $m_ours / 1000000" | bc -l)"
printf '  duckdb COPY     : %.3f s  (%.2f M records/s)\n' "$m_duck" "$(echo "$N / $m_duck / 1000000" | bc -l)"
printf '  ratio duckdb/vpcflow: %.2fx (above 1 = vpcflow faster)\n' "$(echo "$m_duck / $m_ours" | bc -l)"
