#!/usr/bin/env python3
"""Reads vpcflow's output with independent readers (pyarrow, DuckDB) and checks it.

* Parquet: column names are AWS's (`account_id`), types follow `vpcflow fields` (INT_32 → int32,
  INT_64 → int64, STRING → string), every column chunk is GZIP-compressed, and the rows equal the
  golden JSON (crates/vpcflow-record/testdata/records/*/expected.jsonl).
* Text: DuckDB's CSV reader (space-delimited, header, '-' = NULL) reads `--to text` output and
  finds the same rows.
* The shipped sample: aggregates from DuckDB over the original .log.gz equal those over our Parquet.

usage: check_outputs.py PATH/TO/vpcflow
Prints one line per check and a closing "N passed, M failed" line; exits 1 on any failure.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "crates/vpcflow-record/testdata/records"
SAMPLE = next((ROOT / "testdata/sample").rglob("*.log.gz"))
BIN = sys.argv[1]
ARROW = {"INT_32": pa.int32(), "INT_64": pa.int64(), "STRING": pa.string()}

passed, failed = 0, 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def vpcflow(*args):
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout


# The registry, as the binary reports it: name → (column, Parquet type).
FIELDS = {}
for line in vpcflow("fields").splitlines()[1:]:
    name, column, _version, ptype = line.split()[:4]
    FIELDS[name] = (column, ptype)
check("registry lists 54 fields", len(FIELDS) == 54, len(FIELDS))

with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    for case in sorted(GOLDEN.iterdir()):
        header = (case / "format.txt").read_text().split()
        src = tmp / f"{case.name}.log"
        src.write_text((case / "format.txt").read_text() + (case / "input.log").read_text())
        expected = [json.loads(l) for l in (case / "expected.jsonl").read_text().splitlines()]

        out = tmp / f"{case.name}.parquet"
        vpcflow("convert", "--to", "parquet", "-o", str(out), str(src))
        table = pq.read_table(out)
        want_schema = [(FIELDS[f][0], ARROW[FIELDS[f][1]]) for f in header]
        got_schema = [(f.name, f.type) for f in table.schema]
        check(f"{case.name}: parquet columns and types", got_schema == want_schema, f"{got_schema} != {want_schema}")
        meta = pq.ParquetFile(out).metadata
        codecs = {meta.row_group(g).column(c).compression for g in range(meta.num_row_groups) for c in range(meta.num_columns)}
        check(f"{case.name}: parquet is gzip inside", codecs == {"GZIP"}, codecs)
        rows = [{name: row[FIELDS[name][0]] for name in header} for row in table.to_pylist()]
        check(f"{case.name}: pyarrow rows equal the golden JSON", rows == expected, f"{rows} != {expected}")
        duck = duckdb.sql(f"SELECT * FROM read_parquet('{out}')").fetchall()
        check(f"{case.name}: duckdb reads every row", len(duck) == len(expected))

        text = tmp / f"{case.name}.txt"
        text.write_text(vpcflow("convert", "--to", "text", str(out)))
        cols = ", ".join(f"'{f}': '{'BIGINT' if FIELDS[f][1] != 'STRING' else 'VARCHAR'}'" for f in header)
        rel = duckdb.sql(f"SELECT * FROM read_csv('{text}', delim=' ', header=true, nullstr='-', columns={{{cols}}})")
        got = [dict(zip(header, r)) for r in rel.fetchall()]
        check(f"{case.name}: duckdb reads --to text output as the golden rows", got == expected, f"{got} != {expected}")

    # The sample: DuckDB over the original text.gz vs DuckDB over our Parquet.
    out = tmp / "sample.parquet"
    vpcflow("convert", "--to", "parquet", "-o", str(out), str(SAMPLE))
    q = "SELECT count(*), sum(bytes), sum(packets), count(DISTINCT srcaddr), count(*) FILTER (WHERE action = 'REJECT'), count(*) FILTER (WHERE log_status = 'NODATA') FROM {}"
    v2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".split()
    cols = ", ".join(f"'{FIELDS[f][0]}': '{'BIGINT' if FIELDS[f][1] != 'STRING' else 'VARCHAR'}'" for f in v2)
    text_side = duckdb.sql(q.format(f"read_csv('{SAMPLE}', delim=' ', header=true, nullstr='-', columns={{{cols}}})")).fetchall()[0]
    ours = duckdb.sql(q.format(f"read_parquet('{out}')")).fetchall()[0]
    check("sample: aggregates over text.gz equal those over our Parquet", text_side == ours, f"{text_side} != {ours}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
