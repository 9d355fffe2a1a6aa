"""Apache Spark reads what vpcflow writes: the seeds' hour (tests/seeds/vpcflow.toml) delivered
as Parquet with Hive-compatible, per-hour partitions, read unchanged by Spark's own Parquet
reader and partition discovery, answers every Athena query of the seeds
(tests/seeds/seeds.slt, each in its `---- spark` phrasing) with the answer vpcflow gives. The
Athena queries of the text tables ask about the same records, which the Parquet flow log
delivered too.

Spark runs in local mode in this process's JVM (pyspark from the test venv, a JRE from the
distribution: scripts/setup-test-env), with partition values kept as strings (Athena's
`string` partition columns) and times in UTC.
"""
import os
import pathlib
import subprocess
import sys
import tempfile

import pyarrow.parquet as pq
from pyspark.sql import SparkSession

from seeds_file import ROOT, SEEDS, Tally, agrees, blocks

BIN = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target/debug/vpcflow"
tally = Tally()
check = tally.check


# Loopback only: the driver and its executors are this process's JVM.
os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"

with tempfile.TemporaryDirectory() as tmp:
    data = pathlib.Path(tmp) / "data"
    subprocess.run([str(BIN), "simulate", "--config", str(ROOT / "tests/seeds/vpcflow.toml"),
                    "--data", str(data)], check=True, capture_output=True)
    spark = (SparkSession.builder.master("local[2]").appName("vpcflow-seeds")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "4")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    root = data / "s3/flow-logs/AWSLogs"
    objects = sorted(root.rglob("*.parquet"))
    check("the Parquet flow log delivered objects", len(objects) > 0, root)
    flows = spark.read.option("basePath", str(root)).parquet(str(root))
    # The layout as delivered: AWS's Hive partition columns, found by Spark from the paths.
    partitions = [c for c in flows.columns if c in
                  ("aws-account-id", "aws-service", "aws-region", "year", "month", "day", "hour")]
    check("Spark finds the Hive partitions", len(partitions) == 7, flows.columns)
    rows_written = sum(pq.read_metadata(o).num_rows for o in objects)
    check("Spark reads every record the objects' footers count",
          flows.count() == rows_written > 0, (flows.count(), rows_written))
    flows.createOrReplaceTempView("parquet_flows")
    n = 0
    for header, query, phrasings, expected in blocks(SEEDS.read_text()):
        if header[1] != "sql":
            continue
        n += 1
        sql = phrasings.get("spark")
        if sql is None:
            check(f"spark phrasing of {query[:70]!r}", False, "the block has no ---- spark")
            continue
        rows = [list(r) for r in spark.sql(sql.replace("$PARQUET", "parquet_flows")).collect()]
        check(f"spark: {query[:70]!r}", agrees(header, rows, expected),
              f"\nspark: {rows[:5]}…\nexpected: {expected[:6]}…")
    check("seeds: the file has the Athena queries", n >= 10, n)
    spark.stop()

sys.exit(tally.report())
