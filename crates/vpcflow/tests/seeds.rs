//! The seeds' questions as data (`tests/seeds/seeds.slt`): every Insights query, the NAT
//! gateway query, the Athena DDL with MSCK REPAIR TABLE and its queries, and AWS's ten sample
//! queries run unchanged through the binary on a simulated hour (`tests/seeds/vpcflow.toml`)
//! and give the expected result written in the file. `tests/independent/check_seeds.py` checks
//! the same expected results against DuckDB over the same files. `VPCFLOW_BLESS=1` rewrites the
//! expected results from vpcflow's answers (then run the DuckDB check).

mod common;

use std::path::{Path, PathBuf};

use common::{ok, vpcflow};

/// One block of the file.
struct Block {
    /// `query insights rowsort`, `statement sql`, …
    header: String,
    query: String,
    duckdb: Option<String>,
    expected: Vec<String>,
    /// Line range of the expected result in the file (to rewrite).
    expected_at: (usize, usize),
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/seeds")
}

fn blocks(text: &str) -> Vec<Block> {
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
        let mut duckdb = None;
        if i < lines.len() && lines[i] == "---- duckdb" {
            i += 1;
            let mut d = Vec::new();
            while i < lines.len() && lines[i] != "----" {
                d.push(lines[i]);
                i += 1;
            }
            duckdb = Some(d.join("\n"));
        }
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
            expected: lines[start..i].iter().map(|s| s.to_string()).collect(),
            expected_at: (start, i),
        });
    }
    out
}

fn run(data: &Path, b: &Block) -> Vec<String> {
    let data = data.to_str().unwrap();
    let words: Vec<&str> = b.header.split_whitespace().collect();
    let out = match (words[0], words[1]) {
        ("query", "insights") => ok(&vpcflow(&[
            "query",
            "--data",
            data,
            "--insights",
            &b.query,
            "--output",
            "csv",
        ])),
        ("query", "sql") => ok(&vpcflow(&[
            "query", "--data", data, "--sql", &b.query, "--output", "csv",
        ])),
        // Catalog statements print what they did (on stdout with the table output).
        ("statement", "sql") => ok(&vpcflow(&["query", "--data", data, "--sql", &b.query])),
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

#[test]
fn every_seed_query_gives_its_expected_answer() {
    let path = root().join("seeds.slt");
    let text = std::fs::read_to_string(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&vpcflow(&[
        "simulate",
        "--config",
        root().join("vpcflow.toml").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]));
    let bless = std::env::var_os("VPCFLOW_BLESS").is_some();
    let blocks = blocks(&text);
    assert!(
        blocks.len() >= 30,
        "the seeds file has {} blocks",
        blocks.len()
    );
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut failures = Vec::new();
    // Rewrite from the end so that earlier line numbers stay valid.
    let mut results = Vec::new();
    for b in &blocks {
        assert!(
            b.header.starts_with("statement") || b.duckdb.is_some(),
            "query without a DuckDB check: {}",
            b.query
        );
        let got = run(&data, b);
        if got != b.expected {
            failures.push(format!(
                "{}\n{}\nexpected:\n{}\ngot:\n{}",
                b.header,
                b.query,
                b.expected.join("\n"),
                got.join("\n")
            ));
        }
        results.push(got);
    }
    if bless {
        for (b, got) in blocks.iter().zip(results).rev() {
            lines.splice(b.expected_at.0..b.expected_at.1, got);
        }
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        return;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
