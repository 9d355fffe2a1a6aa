//! A data directory made by an earlier vpcflow opens with this one, migrated, with nothing lost.
//!
//! `tests/data/data-dir-0fa054c` was written by the binary of commit 0fa054c (the `main` before
//! `vpcflow-store`, whose `state.db` had no schema version) with
//! `vpcflow simulate --duration 10m --data data` and then
//! `vpcflow query --data data --sql-file examples/athena.sql`. The numbers below are what that
//! binary answered over it.
//!
//! `tests/data/data-dir-fdbcf3a` was written by the binary of commit fdbcf3a (schema version 2,
//! before flow logs changed while `up` runs and before sinks were components) with its
//! `vpcflow.toml` (the built-in flow logs, and a third to a delivery stream whose endpoint is
//! down): `vpcflow simulate --config vpcflow.toml --duration 10m --data data --drain-timeout 2`,
//! `vpcflow query --data data --sql-file examples/athena.sql`, then `vpcflow up` over the same
//! run (`--speed max --duration 10m --start 2026-01-15T14:00:00Z --seed 1`). Its spool holds the
//! stream's undelivered request.

mod common;

use std::path::Path;

use common::{ok, vpcflow};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A query's answer as JSON: `--insights` over the log group, or `--sql`.
fn counted(data: &str, language: &str, query: &str) -> serde_json::Value {
    let mut args = vec!["query", "--data", data, "--output", "json"];
    if language == "--insights" {
        args.extend(["--log-group", "/vpcflow/flow-logs"]);
    }
    args.extend([language, query]);
    json(&ok(&vpcflow(&args)))
}

#[test]
fn a_data_directory_of_the_previous_binary_opens_with_everything_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/data-dir-0fa054c"),
        &data,
    );
    let data = data.to_str().unwrap();

    // Flow logs.
    let described = json(&ok(&vpcflow(&["flow-logs", "describe", "--data", data])));
    let ids: Vec<&str> = described["FlowLogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FlowLogId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["fl-09390286062eeea0a", "fl-0fe6beb120de16004"]);

    // The schema was migrated to this build's version, once.
    let db = vpcflow_store::DataDir::new(data).state_db();
    let conn = vpcflow_store::db::open(&db).unwrap();
    assert_eq!(
        vpcflow_store::db::version(&conn).unwrap(),
        vpcflow_store::SCHEMA_VERSION
    );
    drop(conn);

    // The log group and its events.
    let groups = ok(&vpcflow(&["logs", "groups", "--data", data]));
    assert!(groups.contains("/vpcflow/flow-logs"), "{groups}");
    assert!(groups.contains(" 2084 "), "{groups}");
    assert_eq!(
        counted(data, "--insights", "stats count(*) as n, sum(bytes) as b"),
        serde_json::json!([{"n": 2084, "b": 18_782_864}])
    );

    // The same through the log-group service, as the AWS CLI prints it.
    let described = json(&ok(&vpcflow(&[
        "logs",
        "describe-log-groups",
        "--data",
        data,
    ])));
    assert_eq!(
        described["logGroups"][0]["logGroupArn"],
        "arn:aws:logs:us-east-1:123456789012:log-group:/vpcflow/flow-logs"
    );
    let filtered = json(&ok(&vpcflow(&[
        "logs",
        "filter-log-events",
        "--data",
        data,
        "--log-group-name",
        "/vpcflow/flow-logs",
        "--filter-pattern",
        "REJECT",
        "--limit",
        "3",
    ])));
    let events = filtered["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e["message"].as_str().unwrap().contains(" REJECT "))
    );
    assert!(filtered["nextToken"].is_string());

    // The Athena table and its partition, and the S3 objects under it.
    assert_eq!(
        counted(
            data,
            "--sql",
            "SELECT count(*) AS n, sum(bytes) AS b FROM vpc_flow_logs_parquet"
        ),
        serde_json::json!([{"n": 2084, "b": 18_782_864}])
    );
    // SQL finds tables by name through the store's catalog (a DataFusion schema), not by
    // scanning the script: every table of the data directory is listed, the log group too.
    let listed = ok(&vpcflow(&[
        "query",
        "--data",
        data,
        "--output",
        "csv",
        "--sql",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    ]));
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["table_name", "/vpcflow/flow-logs", "vpc_flow_logs_parquet"]
    );
    let partitions = ok(&vpcflow(&[
        "query",
        "--data",
        data,
        "--sql",
        "SHOW PARTITIONS vpc_flow_logs_parquet",
    ]));
    assert!(
        partitions.contains("aws-region=us-east-1/year=2026/month=01/day=15/hour=14"),
        "{partitions}"
    );
}

#[test]
fn a_data_directory_of_the_service_before_this_one_opens_and_its_service_continues() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/data-dir-fdbcf3a"),
        &data,
    );
    let config = data.join("vpcflow.toml");
    let data = data.to_str().unwrap();

    // Flow logs, with the stream's still failing.
    let described = json(&ok(&vpcflow(&["flow-logs", "describe", "--data", data])));
    let status: Vec<(&str, &str)> = described["FlowLogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["FlowLogId"].as_str().unwrap(),
                f["DeliverLogsStatus"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("fl-09390286062eeea0a", "SUCCESS"),
            ("fl-0e63cbe86f9c40c27", "FAILED"),
            ("fl-0fe6beb120de16004", "SUCCESS")
        ]
    );

    // The request that binary spooled reads back with this one's types: its sink typed, its
    // target without the account that binary did not keep.
    let spool = vpcflow_deliver::spool::Spool::open(&Path::new(data).join("spool")).unwrap();
    let names = spool.list().unwrap();
    assert_eq!(names.len(), 1);
    let (header, _) = spool.read(&names[0]).unwrap();
    assert_eq!(
        header.sink,
        vpcflow_deliver::sinks::SinkKey::Stream("down".into())
    );
    match header.target {
        vpcflow_deliver::spool::Target::Firehose(t) => {
            assert_eq!(
                (t.stream.as_str(), t.records, t.account),
                ("down", 61, None)
            );
        }
        other => panic!("{other:?}"),
    }

    // Events, tables and the group's owner (the store's account: the group predates owners).
    assert_eq!(
        counted(data, "--insights", "stats count(*) as n, sum(bytes) as b"),
        serde_json::json!([{"n": 2084, "b": 18_782_864}])
    );
    assert_eq!(
        counted(
            data,
            "--sql",
            "SELECT count(*) AS n, sum(bytes) AS b FROM vpc_flow_logs_parquet"
        ),
        serde_json::json!([{"n": 2084, "b": 18_782_864}])
    );
    let groups = json(&ok(&vpcflow(&[
        "logs",
        "describe-log-groups",
        "--data",
        data,
    ])));
    assert_eq!(
        groups["logGroups"][0]["logGroupArn"],
        "arn:aws:logs:us-east-1:123456789012:log-group:/vpcflow/flow-logs"
    );
    let conn = vpcflow_store::db::open(&vpcflow_store::DataDir::new(data).state_db()).unwrap();
    assert_eq!(
        vpcflow_store::db::version(&conn).unwrap(),
        vpcflow_store::SCHEMA_VERSION
    );
    drop(conn);

    // Its service continues the run it kept: everything was delivered, nothing comes twice,
    // and the stream's request is still waiting for its endpoint.
    let out = ok(&vpcflow(&[
        "up",
        "--listen",
        "127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
        "--speed",
        "max",
        "--data",
        data,
        "--drain-timeout",
        "1",
    ]));
    assert!(
        out.contains("vpcflow up: simulated traffic from 2026-01-15T14:00:00Z"),
        "{out}"
    );
    assert!(out.contains("Nothing new to deliver"), "{out}");
    assert_eq!(spool.list().unwrap().len(), 1);
    let after = ok(&vpcflow(&[
        "query",
        "--data",
        data,
        "--output",
        "json",
        "--sql",
        "SELECT count(*) AS n FROM vpc_flow_logs_parquet",
    ]));
    assert_eq!(json(&after), serde_json::json!([{"n": 2084}]));
}
