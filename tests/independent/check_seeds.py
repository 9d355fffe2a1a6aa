"""Independent check of the seeds' expected answers (tests/seeds/seeds.slt) with DuckDB.

crates/vpcflow/tests/seeds.rs checks that vpcflow gives each expected answer; this script
checks that DuckDB, reading the same delivered files (log-group segments, Hive Parquet objects,
text objects) with its own readers, gives the same answers. Together: vpcflow's answers equal an
independent engine's. Numbers compare as numbers (floats to 1e-9 relative), rows as written or
as sets (rowsort), or only their count (rowcount).
"""
import pathlib
import subprocess
import sys
import tempfile

import duckdb

from seeds_file import ROOT, SEEDS, Tally, agrees, blocks

BIN = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target/debug/vpcflow"
tally = Tally()
check = tally.check


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
    for header, query, phrasings, expected in blocks(SEEDS.read_text()):
        n += 1
        sql = phrasings["duckdb"]
        for k, v in sources.items():
            sql = sql.replace(k, v)
        rows = duckdb.sql(sql).fetchall()
        check(f"seeds: {query[:70]!r}", agrees(header, rows, expected),
              f"\nduckdb: {rows[:5]}…\nexpected: {expected[:6]}…")
    check("seeds: the file has the seeds' queries", n >= 25, n)

sys.exit(tally.report())
