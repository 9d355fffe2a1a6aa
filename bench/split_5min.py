#!/usr/bin/env python3
"""Splits one flow-log .log.gz into AWS's delivery shape: one .log.gz per 5 minutes of `end`,
each with the header line (what S3 delivery writes). usage: split_5min.py IN.log.gz OUTDIR"""
import gzip
import pathlib
import sys

src, out = sys.argv[1], pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
buckets = {}
with gzip.open(src, "rt") as f:
    header = f.readline()
    for line in f:
        end = line.split(" ", 12)[11]
        key = int(end) // 300 * 300 if end != "-" else 0
        buckets.setdefault(key, []).append(line)
for key, lines in buckets.items():
    with gzip.open(out / f"123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_{key}_bench.log.gz", "wt",
                   compresslevel=6) as g:
        g.write(header)
        g.writelines(lines)
print(f"{len(buckets)} files")
