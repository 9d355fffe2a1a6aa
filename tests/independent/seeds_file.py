"""The seeds file (tests/seeds/seeds.slt) for the independent engines' checks: its blocks, and
how an engine's rows compare with a block's expected result (numbers as numbers, floats to 1e-9
relative; rows as written, as sets with rowsort, or only their count with rowcount).
"""
import csv
import io
import math
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = ROOT / "tests/seeds/seeds.slt"


class Tally:
    """Passed and failed checks, each failure printed as it happens."""

    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}")

    def report(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def blocks(text):
    """Each query block: (header words, query, {engine: phrasing}, expected lines)."""
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
        phrasings = {}
        while lines[i] != "----":
            engine = lines[i].split()[1]
            i += 1
            body = []
            while not lines[i].startswith("----"):
                body.append(lines[i])
                i += 1
            phrasings[engine] = "\n".join(body)
        i += 1
        expected = []
        while i < len(lines) and lines[i]:
            expected.append(lines[i])
            i += 1
        yield header, "\n".join(query), phrasings, expected


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


def agrees(header, rows, expected):
    """Whether an engine's rows (lists of values) give the block's expected result."""
    rows = [[norm(v) for v in r] for r in rows]
    mode = header[2] if len(header) > 2 else ""
    if mode == "rowcount":
        return expected == [f"rows={len(rows)}"]
    want = list(csv.reader(io.StringIO("\n".join(expected))))[1:] if expected else []
    if mode == "rowsort":
        # Column order may differ between the two phrasings: compare each row as a multiset
        # of values when the row counts agree.
        return len(rows) == len(want) and all(
            len(r) == len(w) and all(any(same(x, y) for y in w) for x in r) and
            all(any(same(x, y) for x in r) for y in w)
            for r, w in zip(sorted(rows, key=lambda r: sorted(r)), sorted(want, key=lambda r: sorted(r))))
    return len(rows) == len(want) and all(
        len(r) == len(w) and all(any(same(x, y) for y in w) for x in r)
        for r, w in zip(rows, want))
