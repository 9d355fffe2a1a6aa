//! The seeds' questions as data (`tests/seeds/seeds.slt`): every Insights query, the NAT
//! gateway query, the Athena DDL with MSCK REPAIR TABLE and its queries, and AWS's ten sample
//! queries run unchanged through the binary on a simulated hour (`tests/seeds/vpcflow.toml`)
//! and give the expected result written in the file. `tests/independent/check_seeds.py` checks
//! the same expected results against DuckDB over the same files. `VPCFLOW_BLESS=1` rewrites the
//! expected results from vpcflow's answers (then run the DuckDB check).

mod common;

use common::seeds::{blocks, delivered_hour, root, run};

#[test]
fn every_seed_query_gives_its_expected_answer() {
    let path = root().join("seeds.slt");
    let text = std::fs::read_to_string(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = delivered_hour(dir.path());
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
        // The Athena queries are asked of Spark too (tests/independent/check_spark.py).
        assert!(
            !b.header.starts_with("query sql") || b.spark.is_some(),
            "Athena query without a Spark phrasing: {}",
            b.query
        );
        let got = run(b, &["--data", data.to_str().unwrap()]);
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
