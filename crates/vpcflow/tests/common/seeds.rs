//! The seeds' questions (`tests/seeds/seeds.slt`) as blocks, and running one through the
//! binary: what the seeds test, the cluster test and the agents test share.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use super::{ok, vpcflow};

/// One block of the file.
pub(crate) struct Block {
    /// `query insights rowsort`, `statement sql`, …
    pub(crate) header: String,
    pub(crate) query: String,
    pub(crate) duckdb: Option<String>,
    /// Spark SQL's phrasing over the delivered Parquet, for the Athena queries.
    pub(crate) spark: Option<String>,
    pub(crate) expected: Vec<String>,
    /// Line range of the expected result in the file (to rewrite).
    pub(crate) expected_at: (usize, usize),
}

/// The seeds' hour delivered by `tests/seeds/vpcflow.toml` into `dir/data`, which is returned.
pub(crate) fn delivered_hour(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    ok(&vpcflow(&[
        "simulate",
        "--config",
        root().join("vpcflow.toml").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]));
    data
}

/// tests/seeds.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/seeds")
}

/// The blocks of a seeds file.
pub(crate) fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if !(l.starts_with("query ") || l.starts_with("statement ")) {
            i += 1;
            continue;
        }
        let header = l.to_owned();
        i += 1;
        let mut query = Vec::new();
        while i < lines.len() && !lines[i].starts_with("----") {
            query.push(lines[i]);
            i += 1;
        }
        // The independent engines' phrasings: DuckDB's, then Spark's (for the Athena queries,
        // tests/independent/check_spark.py); each runs to the next section.
        let mut section = |name: &str| {
            if i >= lines.len() || lines[i] != name {
                return None;
            }
            i += 1;
            let mut d = Vec::new();
            while i < lines.len() && !lines[i].starts_with("----") {
                d.push(lines[i]);
                i += 1;
            }
            Some(d.join("\n"))
        };
        let duckdb = section("---- duckdb");
        let spark = section("---- spark");
        assert!(
            i < lines.len() && lines[i] == "----",
            "block '{header}' lacks '----'"
        );
        i += 1;
        let start = i;
        while i < lines.len() && !lines[i].is_empty() {
            i += 1;
        }
        out.push(Block {
            header,
            query: query.join("\n"),
            duckdb,
            spark,
            expected: lines[start..i].iter().map(|s| s.to_string()).collect(),
            expected_at: (start, i),
        });
    }
    out
}

/// Runs block `b` with `args` before the query (`--data DIR`, and `--config`, `--files`,
/// `--cluster` as a test needs), as the lines it printed: rows sorted (`rowsort`) or counted
/// (`rowcount`) as the block says.
pub(crate) fn run(b: &Block, args: &[&str]) -> Vec<String> {
    let words: Vec<&str> = b.header.split_whitespace().collect();
    let with = |tail: &[&str]| {
        let mut all = vec!["query"];
        all.extend_from_slice(args);
        all.extend_from_slice(tail);
        ok(&vpcflow(&all))
    };
    let out = match (words[0], words[1]) {
        ("query", "insights") => with(&["--insights", &b.query, "--output", "csv"]),
        ("query", "sql") => with(&["--sql", &b.query, "--output", "csv"]),
        // Catalog statements print what they did (on stdout with the table output).
        ("statement", "sql") => with(&["--sql", &b.query]),
        other => panic!("unknown block kind {other:?}"),
    };
    let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
    match words.get(2).copied() {
        Some("rowsort") if !lines.is_empty() => {
            let header = lines.remove(0);
            lines.sort();
            lines.insert(0, header);
        }
        Some("rowcount") => {
            let n = lines.len().saturating_sub(1);
            lines = vec![format!("rows={n}")];
        }
        _ => {}
    }
    lines
}
