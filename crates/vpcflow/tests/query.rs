//! `vpcflow query --insights` through the real binary, on an hour delivered by `vpcflow
//! simulate`: AWS's sample flow-log queries that the planner covers give the answers computed
//! here from the simulated records themselves (`simulate --stdout`), and errors point at the
//! token.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{ok, vpcflow};

/// One OK record: (interface, src, dst, dstport, protocol, bytes, start, action).
type Rec = (String, String, String, u16, u8, u64, u64, String);

/// The OK records of the simulated hour.
fn records() -> Vec<Rec> {
    let out = ok(&vpcflow(&[
        "simulate",
        "--stdout",
        "--format",
        "${interface-id} ${srcaddr} ${dstaddr} ${dstport} ${protocol} ${bytes} ${start} ${action} ${log-status}",
    ]));
    out.lines()
        .skip(1)
        .filter(|l| l.ends_with(" OK"))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].to_owned(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
                f[5].parse().unwrap(),
                f[6].parse().unwrap(),
                f[7].to_owned(),
            )
        })
        .collect()
}

/// `vpcflow query ARGS --output json`, its rows.
fn json_rows(args: &[&str]) -> Vec<serde_json::Value> {
    let mut args = args.to_vec();
    args.extend_from_slice(&["--output", "json"]);
    serde_json::from_str(&ok(&vpcflow(&args))).unwrap()
}

/// `vpcflow ARGS` that must fail with status 1: its stderr.
fn refused(args: &[&str]) -> String {
    let out = vpcflow(args);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An Insights query over the data directory's default log group.
fn query(data: &Path, q: &str) -> Vec<serde_json::Value> {
    json_rows(&["query", "--data", data.to_str().unwrap(), "--insights", q])
}

#[test]
fn insights_answers_the_first_questions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&vpcflow(&["simulate", "--data", data.to_str().unwrap()]));
    let recs = records();

    // Top talkers (AWS sample): sum(bytes) by srcAddr, dstAddr, the 10 largest.
    let rows = query(
        &data,
        "stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 10",
    );
    let mut sums: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in &recs {
        *sums.entry((r.1.clone(), r.2.clone())).or_default() += r.5;
    }
    let mut top: Vec<u64> = sums.values().copied().collect();
    top.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(rows.len(), 10);
    for (row, want) in rows.iter().zip(&top) {
        let pair = (
            row["srcAddr"].as_str().unwrap().to_owned(),
            row["dstAddr"].as_str().unwrap().to_owned(),
        );
        assert_eq!(row["bytesTransferred"].as_u64(), Some(*want), "{row}");
        assert_eq!(sums[&pair], *want, "{row}");
    }

    // Rejected traffic by hour.
    let rows = query(
        &data,
        "filter action = \"REJECT\" | stats count(*) as rejects by bin(1h) as hour | sort hour",
    );
    let rejects = recs.iter().filter(|r| r.7 == "REJECT").count() as u64;
    assert!(rejects > 0);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["hour"], "2026-01-15 14:00:00.000");
    assert_eq!(rows[0]["rejects"].as_u64(), Some(rejects));

    // SSH attempts by source (AWS sample shape: filter, count by, sort, limit).
    let rows = query(
        &data,
        "filter dstPort = 22 and action = 'REJECT' | stats count(*) as attempts by srcAddr | sort attempts desc | limit 5",
    );
    let mut ssh: BTreeMap<String, u64> = BTreeMap::new();
    for r in recs.iter().filter(|r| r.3 == 22 && r.7 == "REJECT") {
        *ssh.entry(r.1.clone()).or_default() += 1;
    }
    assert!(!rows.is_empty());
    for row in &rows {
        let src = row["srcAddr"].as_str().unwrap();
        assert_eq!(row["attempts"].as_u64(), Some(ssh[src]), "{row}");
    }
    let most = ssh.values().max().unwrap();
    assert_eq!(rows[0]["attempts"].as_u64(), Some(*most));

    // AWS samples the planner covers run unchanged.
    for q in [
        "filter protocol=17 | stats count(*) by srcAddr",
        "filter logStatus=\"SKIPDATA\" | stats count(*) by bin(1h) as t | sort t",
        "stats avg(bytes), min(bytes), max(bytes) by srcAddr, dstAddr",
        "filter action=\"REJECT\" | stats count(*) as numRejections by srcAddr | sort numRejections desc | limit 20",
        "stats avg(bytes) by dstAddr",
        "filter srcAddr LIKE \"10.0.\" | stats sum(bytes) by dstAddr",
        "fields @timestamp, srcAddr, dstAddr, @message | filter dstPort in [22, 3389] | limit 3",
    ] {
        query(&data, q);
    }
    // UDP by source: count matches the records.
    let rows = query(&data, "filter protocol=17 | stats count(*) as n by srcAddr");
    let udp: u64 = recs.iter().filter(|r| r.4 == 17).count() as u64;
    assert_eq!(
        rows.iter().map(|r| r["n"].as_u64().unwrap()).sum::<u64>(),
        udp
    );
}

#[test]
fn query_errors_point_at_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&vpcflow(&[
        "simulate",
        "--data",
        data.to_str().unwrap(),
        "--duration",
        "10m",
    ]));
    // (extra arguments, what stderr says)
    let rows: [(&[&str], &[&str]); 8] = [
        (
            &["--insights", "stats count(*) by sumx(bytes)"],
            &[
                "line 1, column 19: unknown function 'sumx', did you mean 'sum'?",
                "\n                    ^^^^\n",
            ],
        ),
        (
            &["--insights", "fields jsonParse(@message) as j"],
            &[
                "line 1, column 8: jsonParse() reads JSON log events; flow-log events are text lines",
                "^^^^^^^^^^^^^^^^^^^",
            ],
        ),
        (
            &["--insights", "filter srcAddr like /(?i)ENI[/"],
            &[
                "line 1, column 21: invalid regular expression: unclosed character class",
                "\n                      ^^^^^^^^^^\n",
            ],
        ),
        (
            &["--insights", "stats pct(bytes, 120) by srcAddr"],
            &["line 1, column 18: pct() takes a number from 0 to 100"],
        ),
        (
            &[
                "--sql",
                "SELECT 1;\nCREATE EXTERNAL TABLE t (a int)\n  LOCATIN 's3://flow-logs/'",
            ],
            &[
                "--sql: line 3, column 3: expected PARTITIONED BY, ROW FORMAT, STORED AS, LOCATION or TBLPROPERTIES",
            ],
        ),
        (
            &[
                "--sql",
                "CREATE EXTERNAL TABLE t (a int) LOCATION 's3://no-such-bucket/x/'",
            ],
            &[
                "LOCATION 's3://no-such-bucket/x/': bucket 'no-such-bucket' is not a bucket of this vpcflow",
            ],
        ),
        (
            &["--sql", "SELECT count(*) FROM nowhere"],
            &["--sql: statement at line 1: ", "nowhere"],
        ),
        (
            &["--insights", "stats count(*)", "--log-group", "/nope"],
            &["Log group '/nope' does not exist"],
        ),
    ];
    for (extra, wants) in rows {
        let mut args = vec!["query", "--data", data.to_str().unwrap()];
        args.extend_from_slice(extra);
        let err = refused(&args);
        for want in wants {
            assert!(err.contains(want), "{want:?} in {err}");
        }
    }
}

#[test]
fn simulate_ends_by_answering_the_first_questions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = ok(&vpcflow(&["simulate", "--data", data.to_str().unwrap()]));
    let answers = out
        .split("Top talkers (/vpcflow/flow-logs):")
        .nth(1)
        .expect("simulate prints the top talkers");
    // The table printed is the query's answer on what was delivered.
    let top = query(
        &data,
        "stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 5",
    );
    for row in &top {
        let line = format!("| {} ", row["srcAddr"].as_str().unwrap());
        assert!(answers.contains(&line), "{line} missing in:\n{answers}");
        assert!(answers.contains(&row["bytesTransferred"].to_string()));
    }
    let rejects = query(&data, "filter action = \"REJECT\" | stats count(*) as n");
    assert!(out.contains("Rejected traffic by hour"));
    assert!(out.contains(&format!("| {} ", rejects[0]["n"])), "{out}");
    assert!(out.contains("SSH attempts"));
    assert!(
        out.contains("vpcflow query --data"),
        "ends with how to ask more"
    );
}

#[test]
fn files_are_queried_in_place_text_and_parquet_alike() {
    let (dir, data) = seeded_hour();
    let sql = |files: &Path, q: &str| {
        json_rows(&[
            "query",
            "--data",
            data.to_str().unwrap(),
            "--files",
            files.to_str().unwrap(),
            "--sql",
            q,
        ])
    };
    let totals = "SELECT count(*) AS n, sum(bytes) AS b, count(DISTINCT srcaddr) AS s FROM flows";
    let text = sql(&data.join("s3/flow-logs-text"), totals);
    let parquet = sql(&data.join("s3/flow-logs"), totals);
    let logs = query(
        &data,
        "stats count(*) as n, sum(bytes) as b, count_distinct(srcAddr) as s",
    );
    assert!(text[0]["n"].as_u64().unwrap() > 10_000);
    // count(*) reads no column at all, only rows.
    let count = sql(
        &data.join("s3/flow-logs-text"),
        "SELECT count(*) AS n FROM flows",
    );
    assert_eq!(count[0]["n"], text[0]["n"]);
    assert_eq!(text, parquet);
    assert_eq!(text, logs);
    // --repeat runs it again from scratch and answers once; --timing gives the median.
    let files = data.join("s3/flow-logs");
    let repeated = vpcflow(&[
        "query",
        "--files",
        files.to_str().unwrap(),
        "--sql",
        totals,
        "--output",
        "json",
        "--repeat",
        "3",
        "--timing",
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&ok(&repeated)).unwrap();
    assert_eq!(rows, parquet);
    let stderr = String::from_utf8_lossy(&repeated.stderr);
    assert!(
        stderr.starts_with("Run time: ") && stderr.contains("(3 runs: fastest "),
        "{stderr}"
    );
    // Hive directories of an import are columns.
    let hours = sql(
        &data.join("s3/flow-logs"),
        "SELECT DISTINCT \"aws-region\" AS r, hour FROM flows",
    );
    assert_eq!(
        hours,
        vec![serde_json::json!({"r": "us-east-1", "hour": "14"})]
    );
    // The session's Parquet settings reach the files' scan: with the page index off, no page
    // is checked against it.
    let pages = |settings: &str| {
        let plan = ok(&vpcflow(&[
            "query",
            "--files",
            data.join("s3/flow-logs").to_str().unwrap(),
            "--sql",
            &format!(
                "{settings} EXPLAIN ANALYZE SELECT count(*) FROM flows WHERE action = 'REJECT'"
            ),
            "--output",
            "csv",
        ]));
        plan.split("page_index_pages_pruned=")
            .nth(1)
            .unwrap_or_else(|| panic!("{plan}"))
            .split(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_ne!(pages(""), "0", "the page index is read by default");
    assert_eq!(
        pages("SET datafusion.execution.parquet.enable_page_index = false;"),
        "0"
    );
    // Insights reads imported files as events too.
    let from_files = json_rows(&[
        "query",
        "--files",
        data.join("s3/flow-logs-text").to_str().unwrap(),
        "--insights",
        "filter action = 'REJECT' | stats count(*) as n",
    ]);
    assert_eq!(
        from_files,
        query(&data, "filter action = 'REJECT' | stats count(*) as n")
    );
    // A damaged file is an error naming it, not a silent skip.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("x.log"),
        "version srcaddr bytes\n2 10.0.0.1 lots\n",
    )
    .unwrap();
    let err = refused(&[
        "query",
        "--files",
        bad.to_str().unwrap(),
        "--sql",
        "SELECT sum(bytes) FROM flows",
    ]);
    assert!(
        err.contains("x.log:2: field 3 (bytes): 'lots' is not a number"),
        "{err}"
    );
    // Querying files in place makes no data directory where it runs.
    let cwd = dir.path().join("elsewhere");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(["query", "--files"])
        .arg(data.join("s3/flow-logs-text"))
        .args(["--sql", "SELECT count(*) FROM flows"])
        .current_dir(&cwd)
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "nothing created"
    );
}

#[test]
fn text_files_are_read_when_the_query_runs_and_a_met_limit_stops_the_read() {
    // More than one 4 MiB chunk of good lines, then a bad one.
    let mut text = String::from("version srcaddr bytes\n");
    for i in 0..400_000 {
        text.push_str(&format!("2 10.0.{}.{} {i}\n", i % 250, i % 200));
    }
    text.push_str("2 10.0.0.1 lots\n");
    // As plain text (decoded in chunks), and as a gzip file too large to inflate whole first
    // (stored, so that it is: inflated by one thread while others decode, with two cores).
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("x.log"), &text).unwrap();
    let gz = tempfile::tempdir().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    std::io::Write::write_all(&mut e, text.as_bytes()).unwrap();
    let bytes = e.finish().unwrap();
    assert!(bytes.len() > 2 << 20);
    std::fs::write(gz.path().join("x.log.gz"), bytes).unwrap();
    for (dir, name) in [(&plain, "x.log"), (&gz, "x.log.gz")] {
        let files = dir.path().to_str().unwrap();
        let err = refused(&[
            "query",
            "--files",
            files,
            "--sql",
            "SELECT sum(bytes) FROM flows",
        ]);
        assert!(
            err.contains(&format!(
                "{name}:400002: field 3 (bytes): 'lots' is not a number"
            )),
            "{err}"
        );
        // Planning reads nothing: EXPLAIN does not meet the bad line.
        let plan = ok(&vpcflow(&[
            "query",
            "--files",
            files,
            "--sql",
            "EXPLAIN SELECT sum(bytes) FROM flows",
            "--output",
            "csv",
        ]));
        assert!(
            plan.contains("TextExec: files=1, partitions=1, projection=[bytes]"),
            "{plan}"
        );
        // The first rows answer a LIMIT; the read stops before the bad line.
        let head = json_rows(&[
            "query",
            "--files",
            files,
            "--sql",
            "SELECT srcaddr, bytes FROM flows LIMIT 3",
        ]);
        assert_eq!(
            head,
            vec![
                serde_json::json!({"srcaddr": "10.0.0.0", "bytes": 0}),
                serde_json::json!({"srcaddr": "10.0.1.1", "bytes": 1}),
                serde_json::json!({"srcaddr": "10.0.2.2", "bytes": 2}),
            ],
            "{name}"
        );
    }
}

#[test]
fn time_ranges_read_only_the_files_and_segments_they_cover() {
    let (_dir, data) = seeded_hour();
    let (from, to) = ("2026-01-15T14:10:00Z", "2026-01-15T14:19:59Z");
    let (t0, t1) = (1_768_486_200u64, 1_768_486_799u64);
    let want = records()
        .iter()
        .filter(|r| (t0..=t1).contains(&r.6))
        .count() as u64;
    let ask = |extra: &[&str]| {
        let mut args = vec![
            "query",
            "--data",
            data.to_str().unwrap(),
            "--insights",
            "stats count(*) as n",
            "--start",
            from,
            "--end",
            to,
        ];
        args.extend_from_slice(extra);
        json_rows(&args)
    };
    // Damage everything outside the range: a query of the range must not read it.
    let text = data.join("s3/flow-logs-text");
    let mut damaged = 0;
    for f in walk(&text) {
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        // Files whose 5 minutes end before the range (their records end there too).
        if name.contains("_20260115T1400Z") || name.contains("_20260115T1405Z") {
            std::fs::write(&f, b"not gzip, not flow logs\n").unwrap();
            damaged += 1;
        }
    }
    let logs = data.join("logs");
    for f in walk(&logs) {
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with("001768488") {
            std::fs::write(&f, b"not parquet").unwrap();
            damaged += 1;
        }
    }
    assert!(damaged >= 3, "{damaged}");
    for extra in [&[][..], &["--files", text.to_str().unwrap()][..]] {
        let rows = ask(extra);
        assert_eq!(rows[0]["n"].as_u64(), Some(want), "{extra:?}");
    }
    // Without a range every file is read, and the damage is reported, not skipped.
    refused(&[
        "query",
        "--files",
        text.to_str().unwrap(),
        "--insights",
        "stats count(*) as n",
    ]);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn several_log_groups_are_one_query() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("vpcflow.toml");
    std::fs::write(
        &cfg,
        r#"
[[flow_logs]]
resource_type = "VPC"
resource_ids = ["vpc-0a1b2c3d4e5f60718"]
traffic_type = "ALL"
log_group_name = "/all"
deliver_logs_permission_arn = "arn:aws:iam::123456789012:role/flow-logs"
[[flow_logs]]
resource_type = "VPC"
resource_ids = ["vpc-0a1b2c3d4e5f60718"]
traffic_type = "REJECT"
log_group_name = "/rejects"
deliver_logs_permission_arn = "arn:aws:iam::123456789012:role/flow-logs"
"#,
    )
    .unwrap();
    ok(&vpcflow(&[
        "simulate",
        "--config",
        cfg.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--duration",
        "10m",
    ]));
    let ask = |groups: &[&str]| {
        let mut args = vec![
            "query",
            "--data",
            data.to_str().unwrap(),
            "--insights",
            "filter action = 'REJECT' | stats count(*) as n by @log | sort @log",
        ];
        for g in groups {
            args.extend_from_slice(&["--log-group", g]);
        }
        json_rows(&args)
    };
    let both = ask(&["/all", "/rejects"]);
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[0]["@log"], "123456789012:/all");
    assert_eq!(both[1]["@log"], "123456789012:/rejects");
    // The REJECT flow log holds exactly the ALL flow log's rejects.
    assert_eq!(both[0]["n"], both[1]["n"]);
    assert!(both[0]["n"].as_u64().unwrap() > 0);
    assert_eq!(ask(&["/rejects"]), vec![both[1].clone()]);
}

/// An hour delivered as the seeds deliver it (`tests/seeds/vpcflow.toml`: a log group, Hive
/// Parquet objects, text objects in the default layout), in a temporary directory.
fn seeded_hour() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/seeds/vpcflow.toml");
    ok(&vpcflow(&[
        "simulate",
        "--config",
        cfg.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]));
    (dir, data)
}

#[test]
fn the_athena_catalog_persists_between_runs() {
    let (_dir, data) = seeded_hour();
    let d = data.to_str().unwrap();
    let args = |q: &'static str| ["query", "--data", d, "--sql", q];
    let sql = |q: &'static str| vpcflow(&args(q));
    let ddl = "CREATE EXTERNAL TABLE t (`version` int, `srcaddr` string) PARTITIONED BY (`hour` string) \
               STORED AS PARQUET LOCATION 's3://flow-logs/AWSLogs/'";
    ok(&sql(ddl));
    // Athena: a second CREATE without IF NOT EXISTS is an error; the first table stays.
    let again = refused(&args(ddl));
    assert!(again.contains("Table already exists: t"), "{again}");
    // Before MSCK REPAIR TABLE the table has no partitions, so no rows (as in Athena).
    let before = ok(&sql("SELECT count(*) AS n FROM t"));
    assert!(before.contains("| 0 "), "one row, n = 0: {before}");
    let none = ok(&sql("SHOW PARTITIONS t"));
    assert!(none.trim().is_empty(), "{none}");
    // MSCK finds the Hive directories that spell `hour=`.
    let repaired = ok(&sql("MSCK REPAIR TABLE t; SHOW PARTITIONS t; SHOW TABLES"));
    assert!(
        repaired.contains("Repair: Added partition to metastore t:hour=14"),
        "{repaired}"
    );
    assert!(repaired.contains("\nhour=14\n"), "{repaired}");
    assert!(repaired.lines().any(|l| l == "t"), "{repaired}");
    let n = json_rows(&[
        "query",
        "--data",
        data.to_str().unwrap(),
        "--sql",
        "SELECT count(*) AS n FROM t WHERE hour = '14'",
    ]);
    let logs = query(&data, "stats count(*) as n");
    assert_eq!(n[0]["n"], logs[0]["n"]);
    // A log group is a SQL table too, by its name, with @timestamp as a time.
    let group = json_rows(&[
        "query",
        "--data",
        data.to_str().unwrap(),
        "--sql",
        "SELECT count(*) AS n, min(\"@timestamp\") AS first FROM \"/vpcflow/flow-logs\"",
    ]);
    assert_eq!(group[0]["n"], logs[0]["n"]);
    assert_eq!(group[0]["first"], "2026-01-15 14:00:00.000");
    // DROP TABLE removes it for later runs; IF EXISTS makes a second drop harmless.
    assert!(ok(&sql("DROP TABLE t")).contains("Table t dropped"));
    assert!(ok(&sql("DROP TABLE IF EXISTS t")).contains("does not exist"));
    refused(&args("SELECT count(*) FROM t"));
}

#[test]
fn no_expression_aborts_the_process() {
    // A chain past the SQL bound: refused with the reason, exit 1, not a stack overflow (134).
    let long = |n: usize| format!("SELECT {} AS n", vec!["1"; n].join("+"));
    let out = vpcflow(&["query", "--sql", &long(4000)]);
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("nests more than 1000 levels"), "{e}");
    // Within it, answered.
    let out = ok(&vpcflow(&["query", "--output", "csv", "--sql", &long(999)]));
    assert_eq!(out.lines().collect::<Vec<_>>(), ["n", "999"]);
    // Insights within its 10 000 characters: refused past 1 000 operators.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&vpcflow(&[
        "simulate",
        "--duration",
        "10m",
        "--data",
        data.to_str().unwrap(),
    ]));
    let q = format!("fields {} | limit 1", vec!["1"; 4900].join("+"));
    let out = vpcflow(&["query", "--data", data.to_str().unwrap(), "--insights", &q]);
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("more than 1000 operators"), "{e}");
}

#[test]
fn sql_writes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    ok(&vpcflow(&["simulate", "--duration", "10m", "--data", d]));
    let db = data.join("state.db");
    let describe = || ok(&vpcflow(&["flow-logs", "describe", "--data", d]));
    let before = describe();
    let elsewhere = dir.path().join("out.csv");
    for sql in [
        format!(
            "COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
            elsewhere.display()
        ),
        format!("COPY (SELECT 1 AS a) TO '{}' STORED AS CSV", db.display()),
        "CREATE TABLE t AS SELECT 1 AS a;\nINSERT INTO t VALUES (2)".to_owned(),
    ] {
        let out = vpcflow(&["query", "--data", d, "--sql", &sql]);
        assert_eq!(out.status.code(), Some(1), "{sql}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            e.contains("COPY, INSERT, UPDATE and DELETE are refused"),
            "{sql}: {e}"
        );
    }
    assert!(!elsewhere.exists());
    assert_eq!(describe(), before, "state.db as it was");
}

/// A table's files are in its bucket: a kept catalog takes bucket locations only, a bucket's
/// location that a link leads out of is refused, the data directory's own files are not read
/// as flow logs, and a CREATE refused leaves no table behind.
#[test]
fn tables_read_only_inside_their_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    ok(&vpcflow(&["simulate", "--duration", "10m", "--data", d]));
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        outside.join("secret.log"),
        "version srcaddr\n2 198.51.100.99\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, data.join("s3/flow-logs/escape")).unwrap();
    let create = |location: &str, props: &str| {
        format!(
            "CREATE EXTERNAL TABLE t (`version` int, `srcaddr` string) PARTITIONED BY (`day` string) \
             ROW FORMAT DELIMITED FIELDS TERMINATED BY ' ' LOCATION '{location}' \
             TBLPROPERTIES ('skip.header.line.count'='1'{props})"
        )
    };
    let projection = ", 'projection.enabled'='true', 'projection.day.type'='enum', \
                      'projection.day.values'='a', 'storage.location.template'='s3://elsewhere/${day}'";
    for (location, props, said) in [
        (
            outside.display().to_string(),
            "",
            "a table's location is a bucket of this vpcflow",
        ),
        (
            format!("file://{}", outside.display()),
            "",
            "a table's location is a bucket of this vpcflow",
        ),
        (
            "s3://flow-logs/escape/".to_owned(),
            "",
            "it leaves its bucket",
        ),
        (
            "s3://flow-logs/AWSLogs/".to_owned(),
            projection,
            "does not start with the LOCATION",
        ),
    ] {
        let sql = create(&location, props);
        let e = refused(&["query", "--data", d, "--sql", &sql]);
        assert!(e.contains(said), "{location}: {e}");
        let tables = ok(&vpcflow(&["query", "--data", d, "--sql", "SHOW TABLES"]));
        assert!(
            !tables.lines().any(|l| l.trim() == "t"),
            "{location}: {tables}"
        );
    }
    // Files read in place may be anywhere but the data directory's own files.
    let e = refused(&["query", "--data", d, "--files", d, "--sql", "SELECT 1"]);
    assert!(e.contains("its files are vpcflow's own"), "{e}");
    let inside = data.join("s3/flow-logs");
    let rows = ok(&vpcflow(&[
        "query",
        "--data",
        d,
        "--files",
        inside.to_str().unwrap(),
        "--sql",
        "SELECT count(*) AS n FROM flows WHERE srcaddr = '198.51.100.99'",
    ]));
    assert!(
        rows.contains("| 0 "),
        "the link's file is not the bucket's: {rows}"
    );
}
