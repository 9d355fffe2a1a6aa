//! What Insights and SQL answer, as their users expect, table by table: a field the events do
//! not have is absent (null in `fields`, false in comparisons, skipped by aggregates), stats
//! groups come in a set order (time bins newest first), an empty answer keeps its columns,
//! numbers in strings count as numbers, bad queries are one clear line at the token, and the
//! Athena catalog shows Hive types and the stored DDL. Each test makes its own flow-log file.

use std::sync::Arc;

use vpcflow_query::insights::{self, plan};
use vpcflow_query::sql::{self, Output};
use vpcflow_query::table::{self, Place};

/// Six records over three minutes: two sources, ports 22 and 443, one REJECT.
const FILE: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 123456789012 eni-1 10.0.0.1 10.0.0.9 40000 22 6 1 100 1700000000 1700000010 ACCEPT OK
2 123456789012 eni-1 10.0.0.1 10.0.0.9 40001 443 6 2 200 1700000030 1700000040 ACCEPT OK
2 123456789012 eni-1 10.0.0.2 10.0.0.9 40002 443 6 3 300 1700000065 1700000070 ACCEPT OK
2 123456789012 eni-1 10.0.0.2 10.0.0.9 40003 22 6 4 400 1700000090 1700000100 REJECT OK
2 123456789012 eni-1 10.0.0.10 10.0.0.9 40004 443 6 5 500 1700000130 1700000140 ACCEPT OK
2 123456789012 eni-1 10.0.0.2 10.0.0.9 40005 443 6 6 600 1700000150 1700000160 ACCEPT OK
";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Rows as text: one line per row, cells joined by `|`, null as empty; the header first.
fn lines(rows: &vpcflow_query::Rows) -> Vec<String> {
    use vpcflow_query::insights::plan::datafusion_arrow::util::display::{
        ArrayFormatter, FormatOptions,
    };
    let mut out = vec![
        rows.schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join("|"),
    ];
    let opts = FormatOptions::default().with_null("");
    for b in &rows.batches {
        let f: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            out.push(
                f.iter()
                    .map(|f| f.value(r).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out
}

fn insights(dir: &std::path::Path, q: &str) -> Result<Vec<String>, String> {
    let query = insights::parse(q).map_err(|e| e.render(q))?;
    runtime().block_on(async {
        let t = table::import(&Place::Local(dir.to_owned())).await?;
        let ctx = plan::session();
        let source = plan::files(&ctx, Arc::new(t))
            .await
            .map_err(|e| e.to_string())?;
        let env = plan::Env {
            now_s: 1_700_000_200,
            range: None,
            flow_records_only: true,
        };
        plan::run(&ctx, &query, q, source, env)
            .await
            .map(|r| lines(&r))
            .map_err(|e| match e {
                plan::QueryError::Query(p) => p.render(q),
                e => e.to_string(),
            })
    })
}

fn flow_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.log"), FILE).unwrap();
    dir
}

#[test]
fn insights_answers_as_its_users_expect() {
    let dir = flow_dir();
    // (query, the answer's lines, header first)
    let rows: &[(&str, &[&str])] = &[
        // A field the events do not have (a typo, say) is absent, not an error.
        ("filter dstPrt = 22 | stats count(*) as n", &["n", "0"]),
        (
            "fields srcAddr, dstPrt | sort srcAddr | limit 2",
            &["srcAddr|dstPrt", "10.0.0.1|", "10.0.0.1|"],
        ),
        (
            "stats count(dstPrt) as c, sum(dstPrt) as s, avg(nope) as a, max(nope) as m",
            &["c|s|a|m", "0|||"],
        ),
        ("filter not (dstPrt > 0) | stats count(*) as n", &["n", "0"]),
        ("stats count(*) as n by nope", &["nope|n", "|6"]),
        // Groups in a set order: time bins newest first, other groups in natural order.
        (
            "stats count(*) as n by bin(1m)",
            &[
                "bin(1m)|n",
                "2023-11-14T22:15:00|2",
                "2023-11-14T22:14:00|2",
                "2023-11-14T22:13:00|2",
            ],
        ),
        (
            "stats sum(bytes) as b by srcAddr",
            &[
                "srcAddr|b",
                "10.0.0.1|300",
                "10.0.0.2|1300",
                "10.0.0.10|500",
            ],
        ),
        (
            "stats count(*) as n by bin(1m), dstPort",
            &[
                "bin(1m)|dstPort|n",
                "2023-11-14T22:15:00|443|2",
                "2023-11-14T22:14:00|22|1",
                "2023-11-14T22:14:00|443|1",
                "2023-11-14T22:13:00|22|1",
                "2023-11-14T22:13:00|443|1",
            ],
        ),
        // A second stats by a coarser bin reads the first one's bins.
        (
            "stats count(*) as n by bin(1m) | stats sum(n) as t by bin(1h)",
            &["bin(1h)|t", "2023-11-14T22:00:00|6"],
        ),
        // An empty answer keeps its columns.
        (
            "filter srcAddr = \"192.0.2.1\" | fields srcAddr, bytes",
            &["srcAddr|bytes"],
        ),
        // Numbers a string spells count as numbers; other strings as nothing.
        (
            "parse @message \"* * * * * * * * * * *\" as v, a, i, s, d, sp, dp, pr, pk, by, rest | stats sum(by) as b, sum(s) as x",
            &["b|x", "2100.0|"],
        ),
        ("fields bytes + srcAddr as x | limit 1", &["x", ""]),
    ];
    for (q, want) in rows {
        let got = insights(dir.path(), q).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(got, *want, "{q}");
    }
}

#[test]
fn insights_errors_are_one_clear_line_at_the_token() {
    let dir = flow_dir();
    // (query, the error's first line)
    let rows: &[(&str, &str)] = &[
        (
            "stats count(*) by bin(0m)",
            "line 1, column 23: the time period 0m is empty: a period is at least 1m",
        ),
        (
            "stats count(*) as n by srcAddr | stats avg(n) by bin(10m)",
            "line 1, column 50: bin() groups events by @timestamp, and a stats command's rows have none unless it grouped by bin() too: after stats, only its groups and aggregations remain",
        ),
        (
            "stats sum(bytes) by srcAddr | stats max(sum(bytes))",
            "line 1, column 41: sum() aggregates events, so it stands alone in stats, not inside another function or aggregation (to aggregate a first stats' result, name it: stats sum(x) as v | stats max(v))",
        ),
    ];
    for (q, want) in rows {
        let e = insights(dir.path(), q).expect_err(q);
        assert_eq!(e.lines().next(), Some(*want), "{q}: {e}");
        for internal in ["?table?", "__a", "__dedup", "Execution error"] {
            assert!(!e.contains(internal), "{q}: {e}");
        }
    }
}

fn sql(dir: &std::path::Path, script: &str) -> Result<Vec<Vec<String>>, String> {
    runtime().block_on(async {
        let catalog = sql::Catalog::transient(dir).map_err(|e| e.to_string())?;
        let ctx = sql::session();
        let t = table::import(&Place::Local(dir.join("files"))).await?;
        let extra: Vec<(String, Arc<dyn plan::datafusion_catalog::TableProvider>)> =
            vec![("flows".into(), Arc::new(t))];
        let schema = Arc::new(sql::StoreSchema::new(Arc::new(catalog), None));
        let out = sql::run_script(&ctx, schema, script, &extra)
            .await
            .map_err(|e| e.to_string())?;
        Ok(out
            .into_iter()
            .map(|o| match o {
                Output::Message(m) => m,
                Output::Rows(r) => lines(&r),
            })
            .collect())
    })
}

#[test]
fn the_athena_catalog_shows_hive_types_and_the_stored_ddl() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("f.log"), FILE).unwrap();
    let ddl = format!(
        "CREATE EXTERNAL TABLE vpc_flow_logs (\n  version int,\n  srcaddr string,\n  bytes bigint\n)\nPARTITIONED BY (day string)\nROW FORMAT DELIMITED FIELDS TERMINATED BY ' '\nLOCATION 'file://{}'\nTBLPROPERTIES ('skip.header.line.count'='1')",
        files.display()
    );
    let out = sql(
        dir.path(),
        &format!(
            "{ddl};\nDESCRIBE vpc_flow_logs;\nSHOW CREATE TABLE vpc_flow_logs;\nSET datafusion.execution.batch_size = 1024;\nDESCRIBE flows;\nSELECT srcaddr FROM flows WHERE srcaddr = 'none'"
        ),
    )
    .unwrap();
    assert_eq!(out[0], ["Table vpc_flow_logs created"]);
    assert_eq!(
        out[1],
        [
            "col_name|data_type|comment",
            "version|int|",
            "srcaddr|string|",
            "bytes|bigint|",
            "day|string|partition key"
        ]
    );
    assert_eq!(out[2], ddl.lines().collect::<Vec<_>>());
    assert_eq!(out[3], ["SET datafusion.execution.batch_size = 1024"]);
    // Tables that are no catalog table show their columns' types in Hive's words too.
    assert_eq!(out[4][0], "col_name|data_type|comment");
    assert!(out[4].contains(&"version|int|".to_owned()), "{:?}", out[4]);
    assert!(out[4].contains(&"bytes|bigint|".to_owned()), "{:?}", out[4]);
    assert!(
        out[4].contains(&"srcaddr|string|".to_owned()),
        "{:?}",
        out[4]
    );
    assert!(
        !out[4]
            .iter()
            .any(|l| l.contains("Utf8") || l.contains("Int"))
    );
    // An empty answer keeps its header.
    assert_eq!(out[5], ["srcaddr"]);
    assert_eq!(
        sql(dir.path(), "SHOW CREATE TABLE nope").unwrap_err(),
        "Table not found nope (create it with CREATE EXTERNAL TABLE)"
    );
}
