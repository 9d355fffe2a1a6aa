#!/usr/bin/env python3
"""Seeded generator of v2 default-format flow-log records, as S3 delivers them (header + lines, gzip).

Follows shared/reference/query.md §5.2: 24 h of `start` times from 1700000000, 300 ENIs, Zipf-skewed
internal talkers (2 000 IPs in 10.0.0.0/16) plus 20 000 external IPs, ports weighted to
443/80/22/3389/53, protocols 6/17/1 = 85/13/2 %, 10 % REJECT, 0.1 % NODATA records.

usage: gen_flows.py N OUT.log.gz [--seed S]
"""
import argparse
import gzip
import random

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    enis = ["eni-%017x" % rnd.getrandbits(68) for _ in range(300)]
    internal = ["10.0.%d.%d" % (rnd.randrange(256), rnd.randrange(1, 255)) for _ in range(2000)]
    external = ["%d.%d.%d.%d" % (rnd.choice([3, 13, 34, 52, 54, 98, 104, 142, 151, 203]), rnd.randrange(256),
                                 rnd.randrange(256), rnd.randrange(1, 255)) for _ in range(20000)]
    # Zipf-like weights for internal talkers.
    weights = [1.0 / (i + 1) ** 1.1 for i in range(len(internal))]
    cum, acc = [], 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    ports = [443] * 40 + [80] * 20 + [22] * 8 + [3389] * 4 + [53] * 10 + [8080, 5432, 3306, 6379, 123, 25] * 3
    t0 = 1700000000
    import bisect
    with gzip.open(a.out, "wt", compresslevel=6, newline="\n") as f:
        f.write(HEADER + "\n")
        for i in range(a.n):
            eni = enis[rnd.randrange(300)]
            start = t0 + (i * 86400) // a.n + rnd.randrange(0, 60)
            end = start + rnd.randrange(0, 60)
            if rnd.random() < 0.001:
                f.write("2 123456789012 %s - - - - - - - %d %d - NODATA\n" % (eni, start, end))
                continue
            src = internal[bisect.bisect_left(cum, rnd.random() * acc)]
            dst = external[rnd.randrange(len(external))] if rnd.random() < 0.6 else internal[rnd.randrange(2000)]
            if rnd.random() < 0.5:
                src, dst = dst, src
            r = rnd.random()
            proto = 6 if r < 0.85 else (17 if r < 0.98 else 1)
            if proto == 1:
                sport = dport = 0
            else:
                sport = rnd.randrange(1024, 65536)
                dport = rnd.choice(ports)
            packets = 1 + int(rnd.expovariate(1 / 20))
            nbytes = packets * rnd.randrange(40, 1500)
            action = "REJECT" if rnd.random() < 0.10 else "ACCEPT"
            f.write("2 123456789012 %s %s %s %d %d %d %d %d %d %d %s OK\n"
                    % (eni, src, dst, sport, dport, proto, packets, nbytes, start, end, action))


if __name__ == "__main__":
    main()
