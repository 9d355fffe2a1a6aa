//! Flow logs created and deleted while `vpcflow up` runs take effect without a restart: a flow
//! log created (through the store's library, as the API will) delivers from its next
//! aggregation interval on exactly the records it would have delivered had it existed all
//! along, under its own account's keys; a deleted one delivers nothing that closed after it
//! was deleted.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{log_events, ok, vpcflow};
use vpcflow_deliver::api::{CreateFlowLogs, Destination};

const START: &str = "2026-01-15T14:00:00Z";
/// `START` in Unix seconds.
const START_SECS: u64 = 1_768_485_600;
const VPC: &str = "vpc-0a1b2c3d4e5f60718";
const PARTNER_VPC: &str = "vpc-0f0000000000000f1";
const PARTNER: &str = "210987654321";

/// builtin:three-tier with a second account's VPC (one ENI, no traffic: NODATA records).
const PARTNER_TOPOLOGY: &str = r#"
[[accounts]]
id = "210987654321"
name = "partner"

[[vpcs]]
id = "vpc-0f0000000000000f1"
account = "210987654321"
cidrs = ["10.9.0.0/16"]
name = "partner"

[[subnets]]
id = "subnet-0f0000000000000f1"
name = "partner-a"
vpc = "vpc-0f0000000000000f1"
az = "us-east-1a"
cidrs = ["10.9.1.0/24"]
route_table = "rtb-0f0000000000000f1"
network_acl = "acl-0f0000000000000f1"

[[route_tables]]
id = "rtb-0f0000000000000f1"
vpc = "vpc-0f0000000000000f1"
routes = [{ destination = "10.9.0.0/16", target = "local" }]

[[network_acls]]
id = "acl-0f0000000000000f1"
vpc = "vpc-0f0000000000000f1"
inbound = [{ rule = 100, protocol = "all", cidr = "0.0.0.0/0", action = "allow" }]
outbound = [{ rule = 100, protocol = "all", cidr = "0.0.0.0/0", action = "allow" }]

[[enis]]
id = "eni-0f0000000000000f1"
name = "partner-1"
subnet = "subnet-0f0000000000000f1"
instance_id = "i-0f0000000000000f1"
private_ips = ["10.9.1.10"]
"#;

fn topology(dir: &Path) -> PathBuf {
    let base = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vpcflow-net/topologies/three-tier.toml"
    );
    let path = dir.join("topology.toml");
    let text = std::fs::read_to_string(base).unwrap() + PARTNER_TOPOLOGY;
    std::fs::write(&path, text).unwrap();
    path
}

/// The flow log the test creates while the service runs: both VPCs (two accounts) to S3 as
/// text, at 60 s (an aggregation interval the default flow logs do not use).
fn live_request() -> CreateFlowLogs {
    CreateFlowLogs {
        resource_type: Some("VPC".into()),
        resource_ids: vec![VPC.into(), PARTNER_VPC.into()],
        traffic_type: Some("ALL".into()),
        log_destination_type: Some("s3".into()),
        log_destination: Some("arn:aws:s3:::flow-logs/live/".into()),
        max_aggregation_interval: Some(60),
        ..CreateFlowLogs::default()
    }
}

/// Seconds of an `aws_cli_time` (`2026-01-15T14:21:00.000000+00:00`) on the run's day.
fn secs_of(text: &str) -> u64 {
    let t = &text[11..19];
    let n = |r: std::ops::Range<usize>| t[r].parse::<u64>().unwrap();
    assert_eq!(&text[..10], "2026-01-15", "{text}");
    START_SECS + (n(0..2) - 14) * 3600 + n(3..5) * 60 + n(6..8)
}

/// Lines of every text.gz object under `dir`, by the account in its key.
fn s3_lines(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let key = p.strip_prefix(dir).unwrap().display().to_string();
            let account = key.split('/').next().unwrap().to_owned();
            let name = p.file_name().unwrap().to_str().unwrap();
            assert!(
                name.starts_with(&format!("{account}_vpcflowlogs_")),
                "{key}"
            );
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            let lines = out.entry(account).or_default();
            lines.extend(text.lines().skip(1).map(str::to_owned));
        }
    }
    for lines in out.values_mut() {
        lines.sort();
    }
    out
}

/// Field `i` of a record line in the default format, as a number (10 start, 11 end).
fn field(line: &str, i: usize) -> u64 {
    line.split(' ').nth(i).unwrap().parse().unwrap()
}

/// The messages of the log group's events.
fn messages(data: &Path) -> Vec<String> {
    log_events(data, "/vpcflow/flow-logs")
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits for a line of the service's stdout containing `what`.
fn line_with(lines: &mpsc::Receiver<String>, what: &str, seen: &mut Vec<String>) -> String {
    loop {
        match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(l) => {
                seen.push(l.clone());
                if l.contains(what) {
                    return l;
                }
            }
            Err(e) => panic!("no line with {what:?} ({e}); saw:\n{}", seen.join("\n")),
        }
    }
}

#[test]
fn flow_logs_created_and_deleted_while_up_runs_take_effect_at_their_next_interval() {
    let dir = tempfile::tempdir().unwrap();
    let topo = topology(dir.path());
    let topo_s = topo.to_str().unwrap();
    let run = [
        "--start",
        START,
        "--seed",
        "5",
        "--duration",
        "2h",
        "--topology",
        topo_s,
    ];

    // What the flow logs deliver when they exist from the start: the default log group's and
    // the one the test creates later.
    let reference = dir.path().join("reference");
    let config = dir.path().join("reference.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[buckets]]
name = "flow-logs"

[[flow_logs]]
resource_type = "VPC"
resource_ids = ["{VPC}"]
traffic_type = "ALL"
log_group_name = "/vpcflow/flow-logs"
deliver_logs_permission_arn = "arn:aws:iam::123456789012:role/vpcflow-flow-logs"

[[flow_logs]]
resource_type = "VPC"
resource_ids = ["{VPC}", "{PARTNER_VPC}"]
traffic_type = "ALL"
log_destination_type = "s3"
log_destination = "arn:aws:s3:::flow-logs/live/"
max_aggregation_interval = 60
"#
        ),
    )
    .unwrap();
    let mut args = vec![
        "simulate",
        "--data",
        reference.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend(run);
    ok(&vpcflow(&args));

    // The service, with the built-in default flow logs (600 s) of both VPCs.
    let data = dir.path().join("up");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "600",
            "--data",
            data.to_str().unwrap(),
        ])
        .args(run)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            if tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    line_with(&lines, "vpcflow up: simulated traffic from", &mut seen);
    let net = vpcflow_net::builtin::load(topo_s).unwrap();
    let mut state = vpcflow_deliver::State::open(&data.join("state.db")).unwrap();

    // At 600×, 2 s is about 20 simulated minutes in.
    std::thread::sleep(Duration::from_secs(2));
    let created = state
        .create_flow_logs(&live_request(), &net, &["flow-logs".into()], &[], 1)
        .unwrap();
    assert_eq!(created.flow_logs.len(), 2, "{:?}", created.unsuccessful);
    let said = line_with(
        &lines,
        "created: it delivers the records of intervals from",
        &mut seen,
    );
    let from = secs_of(said.rsplit("from ").next().unwrap());
    assert_eq!(from % 60, 0, "{said}");
    assert!(from > START_SECS + 60, "{said}");

    std::thread::sleep(Duration::from_secs(2));
    let group_flow_log = state
        .flow_logs()
        .unwrap()
        .into_iter()
        .find(|f| f.resource_id == VPC && matches!(f.destination, Destination::LogGroup { .. }))
        .unwrap();
    state
        .delete_flow_logs(std::slice::from_ref(&group_flow_log.flow_log_id))
        .unwrap();
    let said = line_with(
        &lines,
        &format!("flow log {} deleted at", group_flow_log.flow_log_id),
        &mut seen,
    );
    let deleted_at = secs_of(said.split("deleted at ").nth(1).unwrap());
    assert!(deleted_at > from, "{said}");
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "{}\n{stderr}", seen.join("\n"));

    // The created flow log: under each account's keys, from its first interval on, what it
    // delivers when it exists from the start.
    let got = s3_lines(&data.join("s3/flow-logs/live/AWSLogs"));
    let want = s3_lines(&reference.join("s3/flow-logs/live/AWSLogs"));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ["123456789012", PARTNER],
        "each flow log under its own account"
    );
    for (account, lines) in &want {
        let want_from: Vec<&String> = lines.iter().filter(|l| field(l, 10) >= from).collect();
        let got_lines: Vec<&String> = got[account].iter().collect();
        assert!(
            lines.len() > want_from.len(),
            "the reference has records before {from}"
        );
        assert!(
            got_lines.iter().any(|l| field(l, 10) < from + 60),
            "{account}: records of the first interval"
        );
        assert!(
            got_lines == want_from,
            "{account}: {} records, {} expected from {from}",
            got_lines.len(),
            want_from.len()
        );
    }
    assert!(
        got[PARTNER]
            .iter()
            .all(|l| l.split(' ').nth(1) == Some(PARTNER)),
        "the partner VPC's records name its account"
    );

    // The deleted flow log: what it delivered, all of it closed before it was deleted, as the
    // reference delivered it.
    let events: Vec<String> = messages(&data)
        .into_iter()
        .filter(|m| m.split(' ').nth(1) == Some("123456789012"))
        .collect();
    let reference_events = messages(&reference);
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|m| field(m, 11) <= deleted_at),
        "records after the deletion"
    );
    assert!(reference_events.iter().any(|m| field(m, 11) > deleted_at));
    for m in &events {
        assert!(reference_events.contains(m), "{m}");
    }
}
