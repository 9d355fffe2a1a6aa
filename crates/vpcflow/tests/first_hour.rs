//! The first hour of a new user, through the binary: errors and outputs read as AWS users
//! expect. Empty answers keep their header; `--stats` says what a query scanned and what AWS
//! would bill; a malformed `vpcflow.toml` is refused at its line, column and key; a failing
//! destination says why; `--output` is a format everywhere and `-o` a file; `describe` shows
//! times as the AWS CLI does; `diagnose` answers in its exit status and in JSON; `simulate`
//! explains its counts per aggregation interval.

mod common;

use std::path::Path;

use common::{ok, vpcflow};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A data directory with ten simulated minutes, made once per test that needs one.
fn simulated(dir: &Path) -> String {
    let data = dir.join("data");
    ok(&vpcflow(&[
        "simulate",
        "--duration",
        "10m",
        "--data",
        data.to_str().unwrap(),
    ]));
    data.to_str().unwrap().to_owned()
}

#[test]
fn empty_answers_keep_their_columns_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let data = simulated(dir.path());
    let q = "filter srcAddr = \"192.0.2.1\" | fields srcAddr, bytes";
    let sql = "SELECT srcaddr, bytes FROM \"/vpcflow/flow-logs\" WHERE srcaddr = '192.0.2.1'";
    // (output, what stdout is)
    let rows = [
        (
            "table",
            "+---------+-------+\n| srcAddr | bytes |\n+---------+-------+\n+---------+-------+\n0 rows\n",
        ),
        ("csv", "srcAddr,bytes\n"),
        ("json", "[]\n"),
    ];
    for (output, want) in rows {
        let got = ok(&vpcflow(&[
            "query",
            "--data",
            &data,
            "--insights",
            q,
            "--output",
            output,
        ]));
        assert_eq!(got, want, "insights {output}");
        let got = ok(&vpcflow(&[
            "query", "--data", &data, "--sql", sql, "--output", output,
        ]));
        assert_eq!(got, want.replace("srcAddr", "srcaddr"), "sql {output}");
    }
    // SET says what was set, in one line, and nothing else.
    let got = ok(&vpcflow(&[
        "query",
        "--data",
        &data,
        "--sql",
        "SET datafusion.execution.batch_size = 1024",
    ]));
    assert_eq!(got, "SET datafusion.execution.batch_size = 1024\n");
}

#[test]
fn an_unknown_field_is_absent_not_a_page_of_engine_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = simulated(dir.path());
    let got = ok(&vpcflow(&[
        "query",
        "--data",
        &data,
        "--insights",
        "filter dstPrt = 22 | stats count(*) as n",
        "--output",
        "json",
    ]));
    assert_eq!(got.split_whitespace().collect::<String>(), "[{\"n\":0}]");
    let out = vpcflow(&[
        "query",
        "--data",
        &data,
        "--insights",
        "stats count(*) by bin(0m)",
    ]);
    let err = stderr(&out);
    assert_eq!(
        err.lines().count(),
        3,
        "one message, then the query and its caret: {err}"
    );
    assert!(
        err.starts_with("error: --insights: line 1, column 23: the time period 0m is empty"),
        "{err}"
    );
}

#[test]
fn stats_says_what_was_scanned_and_what_aws_would_bill() {
    let dir = tempfile::tempdir().unwrap();
    let data = simulated(dir.path());
    let out = vpcflow(&[
        "query",
        "--data",
        &data,
        "--insights",
        "filter action = \"REJECT\" | stats count(*) as n",
        "--stats",
        "--output",
        "json",
    ]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rejects = rows[0]["n"].as_u64().unwrap();
    let err = stderr(&out);
    let first = err.lines().next().unwrap();
    // "<matched> records matched, <scanned> records (<size>) scanned"
    let words: Vec<&str> = first.split(' ').collect();
    assert_eq!(words[0].parse::<u64>().unwrap(), rejects, "{first}");
    assert_eq!(&words[1..3], ["records", "matched,"]);
    let scanned: u64 = words[3].parse().unwrap();
    assert!(scanned > rejects, "{first}");
    assert!(first.ends_with(") scanned"), "{first}");
    assert!(
        err.contains("in AWS: CloudWatch Logs Insights ($0.005 per GB scanned): $"),
        "{err}"
    );
    assert!(
        err.contains("in AWS: Athena ($5 per TB scanned, 10 MB minimum per query): $0.000048"),
        "{err}"
    );
}

#[test]
fn a_malformed_config_is_refused_at_its_line_column_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let fl = "[[flow_logs]]\nresource_type = \"VPC\"\nresource_ids = [\"vpc-0a1b2c3d4e5f60718\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\ndeliver_logs_permission_arn = \"arn:aws:iam::123456789012:role/r\"\n";
    // (config, the error's end)
    let rows = [
        (
            "bogus = 1\n",
            "c.toml:1:1: bogus: unknown field `bogus`, expected one of `topology`, `simulation`, `flow_logs`, `buckets`, `delivery_streams`, `log_groups`, `spool`",
        ),
        (
            "[simulation]\nseed = \"x\"\n",
            "c.toml:2:8: simulation.seed: invalid type: string \"x\", expected u64",
        ),
        (
            &*format!("{fl}{fl}max_aggregation_interval = \"60\"\n"),
            "c.toml:13:28: flow_logs[1].max_aggregation_interval: invalid type: string \"60\", expected i64",
        ),
        (
            &*format!("{fl}traffic_tipe = \"ALL\"\n"),
            "c.toml:7:1: flow_logs[0].traffic_tipe: unknown field `traffic_tipe`, expected one of",
        ),
        ("x = [\n", "c.toml:1:6: x: unclosed array, expected `]`"),
        (
            &*format!("{fl}log_format = \"${{srcaddr}} ${{dstprt}}\"\n"),
            "flow_logs[0]: InvalidParameter: 1 validation error detected: Value '${srcaddr} ${dstprt}' at 'logFormat' has an invalid format (unknown field 'dstprt' at position 11, did you mean 'dstport'?)",
        ),
    ];
    let config = dir.path().join("c.toml");
    for (text, want) in rows {
        std::fs::write(&config, text).unwrap();
        let out = vpcflow(&[
            "simulate",
            "--duration",
            "1m",
            "--config",
            config.to_str().unwrap(),
            "--data",
            dir.path().join("d").to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "{text}");
        let err = stderr(&out);
        assert!(err.contains(want), "{text}\n{err}");
    }
}

#[test]
fn a_failing_destination_says_why_and_is_not_called_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fh.toml");
    std::fs::write(
        &config,
        "[[delivery_streams]]\nname = \"to-siem\"\ndestination = { type = \"http_endpoint\", url = \"http://nowhere.invalid/firehose\" }\n\
         [[flow_logs]]\nresource_type = \"VPC\"\nresource_ids = [\"vpc-0a1b2c3d4e5f60718\"]\ntraffic_type = \"ALL\"\nlog_destination_type = \"kinesis-data-firehose\"\nlog_destination = \"arn:aws:firehose:us-east-1:123456789012:deliverystream:to-siem\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = vpcflow(&[
        "simulate",
        "--duration",
        "5m",
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--drain-timeout",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let cause = "POST http://nowhere.invalid/firehose: DNS: the host does not resolve";
    assert!(
        stderr(&out).contains(&format!(
            "vpcflow: a destination is failing (Unknown error: delivery stream to-siem: {cause}"
        )),
        "{}",
        stderr(&out)
    );
    assert!(!stdout.contains("Delivered"), "{stdout}");
    assert!(
        stdout.contains("some could not be delivered yet"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "(FAILED: Unknown error: delivery stream to-siem: {cause}"
        )),
        "{stdout}"
    );
    let describe = ok(&vpcflow(&[
        "flow-logs",
        "describe",
        "--data",
        data.to_str().unwrap(),
    ]));
    let v: serde_json::Value = serde_json::from_str(&describe).unwrap();
    let f = &v["FlowLogs"][0];
    assert_eq!(f["DeliverLogsStatus"], "FAILED");
    assert_eq!(f["DeliverLogsErrorMessage"], "Unknown error");
    assert!(
        f["vpcflow:DeliveryErrorDetail"]
            .as_str()
            .unwrap()
            .contains(cause),
        "{f}"
    );
    // CreationTime as the AWS CLI prints it: ISO 8601, microseconds, UTC offset.
    let t = f["CreationTime"].as_str().unwrap();
    let shape: String = t
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999-99-99T99:99:99.999999+99:99", "{t}");
}

#[test]
fn the_cli_speaks_as_the_aws_cli_does() {
    let dir = tempfile::tempdir().unwrap();
    // A query command without a query names the four ways to give one.
    let out = vpcflow(&["query"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "no query: give --insights QUERY (Logs Insights), --sql SQL, --sql-file FILE, or --contributors RULE"
        ),
        "{}",
        stderr(&out)
    );
    // --output is a format; -o a file.
    let log = dir.path().join("f.log");
    std::fs::write(
        &log,
        "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1418530010 1418530070 ACCEPT OK\n",
    )
    .unwrap();
    let out_file = dir.path().join("f.txt");
    ok(&vpcflow(&[
        "convert",
        "--output",
        "text",
        "-o",
        out_file.to_str().unwrap(),
        log.to_str().unwrap(),
    ]));
    assert!(
        std::fs::read_to_string(&out_file)
            .unwrap()
            .starts_with("version account-id")
    );
    // diagnose: the verdict in the exit status, and as JSON.
    let out = vpcflow(&[
        "diagnose",
        "--src",
        "198.51.100.20",
        "--dst",
        "54.210.0.30",
        "--protocol",
        "icmp",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "REJECT");
    let reply = &v["steps"][1];
    assert_eq!(
        (reply["leg"].as_str(), reply["action"].as_str()),
        (Some("reply"), Some("REJECT"))
    );
    assert!(
        reply["networkAcl"]
            .as_str()
            .unwrap()
            .contains("outbound rule 90 DENIES it"),
        "{reply}"
    );
    let out = vpcflow(&[
        "diagnose", "--src", "1.2.3.4", "--dst", "5.6.7.8", "--output", "json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    // simulate explains why flow logs of two intervals count differently.
    let config = dir.path().join("two.toml");
    let fl = |interval: u32| {
        format!(
            "[[flow_logs]]\nresource_type = \"VPC\"\nresource_ids = [\"vpc-0a1b2c3d4e5f60718\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g{interval}\"\nmax_aggregation_interval = {interval}\ndeliver_logs_permission_arn = \"arn:aws:iam::123456789012:role/r\"\n"
        )
    };
    std::fs::write(&config, format!("{}{}", fl(60), fl(600))).unwrap();
    let out = vpcflow(&[
        "simulate",
        "--duration",
        "10m",
        "--config",
        config.to_str().unwrap(),
        "--data",
        dir.path().join("d").to_str().unwrap(),
    ]);
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("records per aggregation interval"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains(" at 600 s")
            && line.contains(" at 60 s")
            && line.contains("shorter intervals make more records"),
        "{line}"
    );
}
