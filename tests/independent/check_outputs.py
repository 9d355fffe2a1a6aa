#!/usr/bin/env python3
"""Reads vpcflow's output with independent readers (pyarrow, DuckDB) and checks it.

* Parquet: column names are AWS's (`account_id`), types follow `vpcflow fields` (INT_32 → int32,
  INT_64 → int64, STRING → string), every column chunk is GZIP-compressed, and the rows equal the
  golden JSON (crates/vpcflow-record/testdata/records/*/expected.jsonl).
* Text: DuckDB's CSV reader (space-delimited, header, '-' = NULL) reads `--to text` output and
  finds the same rows.
* The shipped sample: aggregates from DuckDB over the original .log.gz equal those over our Parquet.
* Query: `vpcflow query --insights` answers (top talkers, rejects per hour) and
  `vpcflow query --contributors` (AWS's three sample Contributor Insights rules) equal DuckDB's
  over the same log-group segments.
* Delivery (`vpcflow simulate` into flow logs): every .log.gz object is gzip with the format's
  header line first; every Parquet object has AWS's columns and types, gzip inside; DuckDB reads
  the Hive-partitioned layout with its partition columns; text and Parquet objects of the same
  records give the same aggregates; log-group segments are Parquet with the system columns.

usage: check_outputs.py PATH/TO/vpcflow
Prints one line per check and a closing "N passed, M failed" line; exits 1 on any failure.
"""
import gzip
import json
import zlib
import pathlib
import subprocess
import sys
import tempfile

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "crates/vpcflow-record/testdata/records"
SAMPLE = next((ROOT / "examples/AWSLogs").rglob("*.log.gz"))
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
FIELDS = {f["name"]: (f["column"], f["type"]) for f in json.loads(vpcflow("fields", "--output", "json"))}
check("registry lists 72 fields (54 VPC, 18 Transit Gateway)", len(FIELDS) == 72, len(FIELDS))

with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    for case in sorted(GOLDEN.iterdir()):
        header = (case / "format.txt").read_text().split()
        src = tmp / f"{case.name}.log"
        src.write_text((case / "format.txt").read_text() + (case / "input.log").read_text())
        expected = [json.loads(l) for l in (case / "expected.jsonl").read_text().splitlines()]

        out = tmp / f"{case.name}.parquet"
        vpcflow("convert", "--output", "parquet", "-o", str(out), str(src))
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
        text.write_text(vpcflow("convert", "--output", "text", str(out)))
        cols = ", ".join(f"'{f}': '{'BIGINT' if FIELDS[f][1] != 'STRING' else 'VARCHAR'}'" for f in header)
        rel = duckdb.sql(f"SELECT * FROM read_csv('{text}', delim=' ', header=true, nullstr='-', columns={{{cols}}})")
        got = [dict(zip(header, r)) for r in rel.fetchall()]
        check(f"{case.name}: duckdb reads --to text output as the golden rows", got == expected, f"{got} != {expected}")

    # The sample: DuckDB over the original text.gz vs DuckDB over our Parquet.
    out = tmp / "sample.parquet"
    vpcflow("convert", "--output", "parquet", "-o", str(out), str(SAMPLE))
    q = "SELECT count(*), sum(bytes), sum(packets), count(DISTINCT srcaddr), count(*) FILTER (WHERE action = 'REJECT'), count(*) FILTER (WHERE log_status = 'NODATA') FROM {}"
    v2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".split()
    cols = ", ".join(f"'{FIELDS[f][0]}': '{'BIGINT' if FIELDS[f][1] != 'STRING' else 'VARCHAR'}'" for f in v2)
    text_side = duckdb.sql(q.format(f"read_csv('{SAMPLE}', delim=' ', header=true, nullstr='-', columns={{{cols}}})")).fetchall()[0]
    ours = duckdb.sql(q.format(f"read_parquet('{out}')")).fetchall()[0]
    check("sample: aggregates over text.gz equal those over our Parquet", text_side == ours, f"{text_side} != {ours}")

# Delivery: simulate into three flow logs (text.gz default layout, Parquet Hive per hour, and a
# custom format as Parquet with a prefix) and a log group, then read what landed.
DELIVERY = """
[[buckets]]
name = "txt"
[[buckets]]
name = "parq"
[[flow_logs]]
resource_type = "VPC"
resource_ids = ["vpc-0a1b2c3d4e5f60718"]
traffic_type = "ALL"
log_destination_type = "s3"
log_destination = "arn:aws:s3:::txt"
[[flow_logs]]
resource_type = "VPC"
resource_ids = ["vpc-0a1b2c3d4e5f60718"]
traffic_type = "ALL"
log_destination_type = "s3"
log_destination = "arn:aws:s3:::parq"
destination_options = { file_format = "parquet", hive_compatible_partitions = true, per_hour_partition = true }
[[flow_logs]]
resource_type = "VPC"
resource_ids = ["vpc-0a1b2c3d4e5f60718"]
traffic_type = "REJECT"
log_destination_type = "s3"
log_destination = "arn:aws:s3:::parq/custom/"
log_format = "${version} ${vpc-id} ${subnet-id} ${interface-id} ${srcaddr} ${dstaddr} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${tcp-flags} ${flow-direction} ${traffic-path} ${log-status}"
destination_options = { file_format = "parquet" }
[[flow_logs]]
resource_type = "VPC"
resource_ids = ["vpc-0a1b2c3d4e5f60718"]
traffic_type = "ALL"
log_group_name = "/vpcflow/flow-logs"
deliver_logs_permission_arn = "arn:aws:iam::123456789012:role/flow-logs"
"""
V2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".split()

with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    cfg = tmp / "vpcflow.toml"
    cfg.write_text(DELIVERY)
    data = tmp / "data"
    vpcflow("simulate", "--config", str(cfg), "--data", str(data), "--duration", "2h")

    txt = sorted((data / "s3/txt").rglob("*.log.gz"))
    check("delivery: text objects were written", len(txt) >= 24, len(txt))
    headers, members, lines = set(), 0, 0
    for f in txt:
        raw = f.read_bytes()
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # exactly one gzip member, nothing after
        inflater.decompress(raw)
        members += int(inflater.eof and not inflater.unused_data)
        body = gzip.decompress(raw).decode()
        first, *rest = body.splitlines()
        headers.add(first)
        lines += len(rest)
        check(f"delivery: {f.name}: every line has 14 fields", all(len(l.split(" ")) == 14 for l in rest))
        # The file name's time is the 5-minute bucket of every record's end.
        stamp = f.name.split("_")[4]
        bucket = int(__import__("datetime").datetime.strptime(stamp, "%Y%m%dT%H%MZ").replace(tzinfo=__import__("datetime").timezone.utc).timestamp())
        ends = {int(l.split(" ")[11]) for l in rest}
        check(f"delivery: {f.name}: records end in its 5 minutes", all(bucket <= e < bucket + 300 for e in ends), (stamp, min(ends), max(ends)))
    check("delivery: every text object starts with the v2 header line", headers == {" ".join(V2)}, headers)
    check("delivery: each text object is one gzip stream", members == len(txt), (members, len(txt)))

    pqf = sorted((data / "s3/parq/AWSLogs").rglob("*.log.parquet"))
    check("delivery: parquet objects were written", len(pqf) >= 24, len(pqf))
    want_schema = [(FIELDS[f][0], ARROW[FIELDS[f][1]]) for f in V2]
    for f in pqf:
        pf = pq.ParquetFile(f)
        got_schema = [(x.name, x.type) for x in pf.schema_arrow]
        check(f"delivery: {f.name}: AWS's columns and types", got_schema == want_schema, got_schema)
        meta = pf.metadata
        codecs = {meta.row_group(g).column(c).compression for g in range(meta.num_row_groups) for c in range(meta.num_columns)}
        check(f"delivery: {f.name}: gzip inside", codecs == {"GZIP"}, codecs)
        rel = str(f.relative_to(data / "s3/parq"))
        check(f"delivery: {f.name}: Hive key", rel.startswith("AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=01/day=15/hour="), rel)

    hive = duckdb.sql(f"""SELECT "aws-account-id", "aws-service", "aws-region", year, month, day, hour, count(*) AS n
                          FROM read_parquet('{data}/s3/parq/AWSLogs/**/*.parquet', hive_partitioning = true, hive_types_autocast = false)
                          GROUP BY ALL ORDER BY hour""").fetchall()
    check("delivery: duckdb sees the Hive partition columns", [h[:7] for h in hive] == [("123456789012", "vpcflowlogs", "us-east-1", "2026", "01", "15", "14"), ("123456789012", "vpcflowlogs", "us-east-1", "2026", "01", "15", "15")], hive)
    check("delivery: the Hive layout holds every record of the text layout", sum(h[7] for h in hive) == lines, (sum(h[7] for h in hive), lines))

    q = "SELECT count(*), sum(bytes), sum(packets), count(DISTINCT srcaddr), count(*) FILTER (WHERE action = 'REJECT'), count(*) FILTER (WHERE log_status = 'NODATA') FROM {}"
    cols = ", ".join(f"'{FIELDS[f][0]}': '{'BIGINT' if FIELDS[f][1] != 'STRING' else 'VARCHAR'}'" for f in V2)
    text_side = duckdb.sql(q.format(f"read_csv('{data}/s3/txt/**/*.log.gz', delim=' ', header=true, nullstr='-', columns={{{cols}}})")).fetchall()[0]
    pq_side = duckdb.sql(q.format(f"read_parquet('{data}/s3/parq/AWSLogs/**/*.parquet')")).fetchall()[0]
    check("delivery: duckdb aggregates over text.gz objects equal those over Parquet objects", text_side == pq_side, f"{text_side} != {pq_side}")

    custom = sorted((data / "s3/parq/custom").rglob("*.log.parquet"))
    fmt = "version vpc-id subnet-id interface-id srcaddr dstaddr dstport protocol packets bytes start end action tcp-flags flow-direction traffic-path log-status".split()
    got = [(x.name, x.type) for x in pq.ParquetFile(custom[0]).schema_arrow] if custom else []
    check("delivery: a custom format's Parquet has exactly its columns", got == [(FIELDS[f][0], ARROW[FIELDS[f][1]]) for f in fmt], got)
    rej = duckdb.sql(f"SELECT count(*) FILTER (WHERE action = 'REJECT'), count(*) FILTER (WHERE action = 'ACCEPT'), min(version) FROM read_parquet('{data}/s3/parq/custom/**/*.parquet')").fetchall()[0]
    check("delivery: a REJECT flow log holds rejects only (version 5 for v5 fields)", rej[0] > 0 and rej[1] == 0 and rej[2] == 5, rej)

    segs = sorted((data / "logs").rglob("*.parquet"))
    seg = pq.read_table(segs[0]) if segs else None
    names = seg.schema.names[:4] if seg is not None else []
    check("delivery: log segments are Parquet with @timestamp @ingestionTime @logStream @message", names == ["@timestamp", "@ingestionTime", "@logStream", "@message"], names)
    events = duckdb.sql(f"SELECT count(*), count(*) FILTER (WHERE \"@timestamp\" = start * 1000), count(*) FILTER (WHERE \"@logStream\" = interface_id || '-all') FROM read_parquet('{data}/logs/**/*.parquet')").fetchall()[0]
    check("delivery: one event per record, timestamp = start, stream = <eni>-all", events[0] == lines and events[1] == lines and events[2] == lines, (events, lines))

    # Logs Insights over the log group: vpcflow query's answers equal DuckDB's over the segments.
    seg = f"read_parquet('{data}/logs/**/*.parquet')"
    ours = json.loads(vpcflow("query", "--data", str(data), "--output", "json", "--insights",
                              "stats sum(bytes) as b by srcAddr, dstAddr | sort b desc | limit 10"))
    full = {(r[0], r[1]): r[2] for r in duckdb.sql(
        f"SELECT srcaddr, dstaddr, sum(bytes) FROM {seg} WHERE bytes IS NOT NULL GROUP BY ALL").fetchall()}
    top = sorted(full.values(), reverse=True)[:10]
    check("query: Insights top talkers equal DuckDB's",
          [r["b"] for r in ours] == top and all(full[(r["srcAddr"], r["dstAddr"])] == r["b"] for r in ours),
          f"{ours} != {top}")
    ours = json.loads(vpcflow("query", "--data", str(data), "--output", "json", "--insights",
                              "filter action = 'REJECT' | stats count(*) as n by bin(1h) as hour | sort hour"))
    duck = duckdb.sql(f"SELECT strftime(to_timestamp(\"@timestamp\" / 1000) AT TIME ZONE 'UTC', '%Y-%m-%d %H:00:00.000') AS hour, "
                      f"count(*) FROM {seg} WHERE action = 'REJECT' GROUP BY ALL ORDER BY hour").fetchall()
    check("query: Insights rejects per hour equal DuckDB's", [(r["hour"], r["n"]) for r in ours] == duck, f"{ours} != {duck}")

    # Contributor Insights: AWS's three sample rules over the log group equal DuckDB's SQL.
    def contributors(sample, labels, value, sql):
        ours = json.loads(vpcflow("query", "--data", str(data), "--output", "json",
                                  "--contributors", sample, "--max-contributors", "10"))
        full = {tuple(str(x) for x in r[:-1]): r[-1] for r in duckdb.sql(sql.format(seg=seg)).fetchall()}
        top = sorted(full.values(), reverse=True)[:10]
        got = [r[value] for r in ours]
        check(f"contributors: {sample}: the top 10 equal DuckDB's",
              len(ours) == min(10, len(full)) and got == top and
              all(full[tuple(r[k] for k in labels)] == r[value] for r in ours), f"{ours} != {top}")
    contributors("byte-transfers", ["srcaddr", "dstaddr"], "Sum",
                 "SELECT srcaddr, dstaddr, sum(bytes) FROM {seg} WHERE bytes IS NOT NULL GROUP BY ALL")
    contributors("https-requests", ["destination address"], "Sum",
                 "SELECT dstaddr, sum(packets) FROM {seg} WHERE dstport = 443 GROUP BY ALL")
    contributors("rejected-tcp", ["interfaceID", "sourceAddress"], "Sum",
                 "SELECT interface_id, srcaddr, count(*) FROM {seg} WHERE protocol = 6 AND action = 'REJECT' GROUP BY ALL")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
