#!/usr/bin/env python3
"""Query engines side by side on the same flow-log files (design.md targets; query.md §5).

Q1: top 10 srcaddr by sum(bytes); Q2: rejected records per hour of start. Each on 1 M records
from one text .log.gz (AWS's delivered form, header line, `-` for NODATA) and from Parquet.
Engines: vpcflow (SQL and Insights; timed as a whole process per run, start-up included; as
the run time it reports itself with --timing: finding the files, planning, reading, computing;
and "warm": RUNS runs inside one process with --repeat, each from scratch, as the peers are
timed inside Python), DuckDB and
Polars (timed inside Python around the query only, file re-read every run). Results are
checked to agree, then medians and ratios are printed.

Then Parquet once more, DuckDB and warm vpcflow SQL alternating round by round (their ratio
is close to 1, where drifting load between blocks of runs would decide it).

Also "text-5min": the same records as AWS delivers them, one .log.gz per 5 minutes
(bench/split_5min.py), read as a directory by every engine.

Last, the floor of the one text file: inflating its gzip stream and nothing else, by ISA-L on
one thread (the fastest inflater we know of) and by rapidgzip on every core (speculative
parallel inflate of one stream), and vpcflow's own `SELECT count(*)` (warm). No engine answers
a query over that file faster than it can inflate it, so where the lowest of these is above
0.5x Polars' median, that target is out of reach on this machine; printed as "reachable" or
"out of reach".

usage: bench/query.py VPCFLOW_BIN TEXT.log.gz FILE.parquet TEXT_DIR RUNS
"""
import datetime
import glob
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import duckdb
import polars as pl
import rapidgzip
from isal import isal_zlib

BIN, TEXT, PARQ, TEXTDIR, RUNS = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])

COLS = {"version": "INTEGER", "account_id": "VARCHAR", "interface_id": "VARCHAR", "srcaddr": "VARCHAR",
        "dstaddr": "VARCHAR", "srcport": "INTEGER", "dstport": "INTEGER", "protocol": "INTEGER",
        "packets": "BIGINT", "bytes": "BIGINT", "start": "BIGINT", "end": "BIGINT", "action": "VARCHAR",
        "log_status": "VARCHAR"}
SQL = {
    "Q1": "SELECT srcaddr, sum(bytes) AS b FROM flows WHERE bytes IS NOT NULL GROUP BY srcaddr ORDER BY b DESC, srcaddr LIMIT 10",
    "Q2": "SELECT (start // 3600) * 3600 AS h, count(*) AS n FROM flows WHERE action = 'REJECT' GROUP BY 1 ORDER BY 1",
}
# DataFusion spells integer division with '/', and Insights has its own language.
VPC_SQL = {
    "Q1": SQL["Q1"],
    "Q2": "SELECT (start / 3600) * 3600 AS h, count(*) AS n FROM flows WHERE action = 'REJECT' GROUP BY 1 ORDER BY 1",
}
INSIGHTS = {
    "Q1": "filter ispresent(bytes) | stats sum(bytes) as b by srcAddr | sort b desc, srcAddr | limit 10",
    "Q2": "filter action = 'REJECT' | stats count(*) as n by bin(1h) as h | sort h",
}


def digest(rows):
    return hashlib.sha1(json.dumps([[str(v) for v in r] for r in rows]).encode()).hexdigest()[:12]


def timed(fn):
    times, result = [], None
    for _ in range(RUNS):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


RUN_TIMES = {}


def vpcflow(kind, q, path):
    args = [BIN, "query", "--files", path, "--output", "json", "--timing"]
    args += ["--sql", VPC_SQL[q]] if kind == "sql" else ["--insights", INSIGHTS[q]]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    # `Run time: X ms` (without process start), comparable with the peers' in-process timings.
    ms = float(done.stderr.split("Run time: ")[1].split(" ms")[0])
    RUN_TIMES.setdefault((kind, q, path), []).append(ms / 1000)
    return rows_of(kind, q, done.stdout)


def rows_of(kind, q, stdout):
    rows = json.loads(stdout)
    if q == "Q2" and kind == "insights":
        # Insights shows the hour as a time; compare as epoch seconds.
        return [[int(datetime.datetime.strptime(r["h"], "%Y-%m-%d %H:%M:%S.%f")
                     .replace(tzinfo=datetime.timezone.utc).timestamp()), r["n"]] for r in rows]
    return [list(r.values()) for r in rows]


def vpcflow_warm(kind, q, path, sql=None):
    """vpcflow timed as the peers are: RUNS runs inside one process (`--repeat`), each finding
    and reading the files again in a new session; the median it reports. `sql` replaces Q's."""
    args = [BIN, "query", "--files", path, "--output", "json", "--timing", "--repeat", str(RUNS)]
    args += ["--sql", sql or VPC_SQL[q]] if kind == "sql" else ["--insights", INSIGHTS[q]]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    ms = float(done.stderr.split("Run time: ")[1].split(" ms")[0])
    return ms / 1000, rows_of(kind, q, done.stdout)


def duck(q, fmt):
    src = {"text": f"read_csv('{TEXT}', delim=' ', header=true, nullstr='-', columns={COLS})",
           "text-5min": f"read_csv('{TEXTDIR}/*.log.gz', delim=' ', header=true, nullstr='-', columns={COLS})",
           "parquet": f"read_parquet('{PARQ}')"}[fmt]
    return [list(r) for r in duckdb.sql(SQL[q].replace("flows", src)).fetchall()]


def polars(q, fmt):
    def read(path):
        return pl.read_csv(path, separator=" ", null_values="-", columns=["srcaddr", "bytes", "start", "action"],
                           schema_overrides={"srcaddr": pl.Utf8, "bytes": pl.Int64, "start": pl.Int64,
                                             "action": pl.Utf8})
    if fmt == "text":
        lf = read(TEXT).lazy()
    elif fmt == "text-5min":
        lf = pl.concat([read(f) for f in sorted(glob.glob(f"{TEXTDIR}/*.log.gz"))]).lazy()
    else:
        lf = pl.scan_parquet(PARQ)
    if q == "Q1":
        out = (lf.filter(pl.col("bytes").is_not_null()).group_by("srcaddr").agg(pl.col("bytes").sum().alias("b"))
               .sort(["b", "srcaddr"], descending=[True, False]).limit(10).collect())
    else:
        out = (lf.filter(pl.col("action") == "REJECT").group_by((pl.col("start") // 3600) * 3600)
               .agg(pl.len().alias("n")).sort("start").collect())
    return [list(r) for r in out.rows()]


POLARS = {}
print(f"{'query':6} {'file':9} {'engine':24} {'median ms':>9}  {'vs Polars':>9} {'vs DuckDB':>9}  result")
ok = True
for fmt, path in (("text", TEXT), ("text-5min", TEXTDIR), ("parquet", PARQ)):
    for q in ("Q1", "Q2"):
        res = {}
        res["DuckDB"] = timed(lambda: duck(q, fmt))
        res["Polars"] = timed(lambda: polars(q, fmt))
        res["vpcflow SQL"] = timed(lambda: vpcflow("sql", q, path))
        res["vpcflow Insights"] = timed(lambda: vpcflow("insights", q, path))
        for kind in ("sql", "insights"):
            name = "vpcflow SQL" if kind == "sql" else "vpcflow Insights"
            res[name + " (run)"] = (statistics.median(RUN_TIMES[(kind, q, path)]), res[name][1])
            res[name + " (warm)"] = vpcflow_warm(kind, q, path)
        POLARS[(fmt, q)] = res["Polars"][0]
        digests = {k: digest(v[1]) for k, v in res.items()}
        agree = len(set(digests.values())) == 1
        ok &= agree
        for k, (t, rows) in res.items():
            print(f"{q:6} {fmt:9} {k:24} {t * 1000:9.1f}  {t / res['Polars'][0]:9.2f} {t / res['DuckDB'][0]:9.2f}  "
                  f"{digests[k]}{'' if agree else '  DISAGREE'}")

# Parquet is within a few percent of DuckDB, where a drift in the machine's load between two
# engines' blocks of runs decides the ratio: so also alternate them, round by round, and give
# each round's ratio of medians (warm vpcflow SQL over DuckDB) and their median.
print()
print(f"Parquet, alternating: vpcflow SQL (warm) / DuckDB per round, {RUNS} runs each")
for q in ("Q1", "Q2"):
    ratios = []
    for _ in range(5):
        d = timed(lambda: duck(q, "parquet"))[0]
        v = vpcflow_warm("sql", q, PARQ)[0]
        ratios.append(v / d)
    print(f"{q:6} rounds {' '.join(f'{r:.2f}' for r in ratios)}  median {statistics.median(ratios):.2f}")


def cpu_timed(fn):
    """Median wall and CPU (all threads) seconds of RUNS runs, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(RUNS):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - w)
    return statistics.median(walls), statistics.median(cpus), result


def isal_inflate():
    with open(TEXT, "rb") as f:
        return len(isal_zlib.decompress(f.read(), 31))


def rapidgzip_inflate():
    n = 0
    with rapidgzip.open(TEXT, parallelization=os.cpu_count()) as f:
        while b := f.read(4 << 20):
            n += len(b)
    return n


def vpcflow_count():
    """vpcflow's `SELECT count(*)`, warm: the least its queries over the file do (inflate on one
    thread, lines counted on the others); CPU from the process's rusage, per run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, rows = vpcflow_warm("sql", None, TEXT, "SELECT count(*) AS n FROM flows")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / RUNS
    return wall, cpu, f"{rows[0][0]} rows"


print()
print(f"One text .log.gz, inflate alone ({os.cpu_count()} cores; medians of {RUNS}): the floor of any query over it")
floors = {}
for name, fn in (("ISA-L, 1 thread", isal_inflate), (f"rapidgzip, {os.cpu_count()} threads", rapidgzip_inflate)):
    wall, cpu, n = cpu_timed(fn)
    floors[name] = wall
    print(f"  {name:24} wall {wall * 1000:7.1f} ms  CPU {cpu * 1000:7.1f} ms  ({n} bytes out)")
wall, cpu, n = vpcflow_count()
floors["vpcflow count(*)"] = wall
print(f"  {'vpcflow count(*) (warm)':24} wall {wall * 1000:7.1f} ms  CPU {cpu * 1000:7.1f} ms  ({n})")
floor = min(floors.values())
for q in ("Q1", "Q2"):
    target = POLARS[("text", q)] / 2
    verdict = "reachable" if floor <= target else "out of reach on this machine"
    print(f"  {q}: 0.5x Polars = {target * 1000:.1f} ms; lowest floor {floor * 1000:.1f} ms: {verdict}")
print("all engines agree" if ok else "ENGINES DISAGREE")
sys.exit(0 if ok else 1)
