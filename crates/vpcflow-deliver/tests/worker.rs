//! The delivery worker against real destinations in a temporary data directory: log-group
//! retention, local buckets, and how HTTP-endpoint answers map to AWS's three
//! `DeliverLogsErrorMessage` values.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use vpcflow_deliver::api::CreateFlowLogs;
use vpcflow_deliver::config::DeliveryConfig;
use vpcflow_deliver::deliver::{Clock, Destinations, Worker, backoff_ms};
use vpcflow_deliver::fanout::{Encoder, Msg, Plan};
use vpcflow_deliver::spool::Spool;
use vpcflow_deliver::state::State;
use vpcflow_net::FiveTuple;
use vpcflow_net::record::{FlowAcc, FlowKey, RawRecord};

const VPC: &str = "vpc-0a1b2c3d4e5f60718";
const DAY: u64 = 86_400;
const T0: u64 = 1_768_435_200; // 2026-01-15T00:00:00Z

/// A clock that only moves when told (sleeping advances it).
#[derive(Default)]
struct TestClock(AtomicU64);

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn sleep_ms(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::Relaxed);
    }
}

fn setup(data: &Path, config_text: &str, flow_log: &str) -> (Arc<Plan>, DeliveryConfig) {
    let config: DeliveryConfig = toml::from_str(config_text).unwrap();
    let net = Arc::new(vpcflow_net::builtin::load("builtin:three-tier").unwrap());
    let mut st = State::open(&data.join("state.db")).unwrap();
    let req: CreateFlowLogs = toml::from_str(flow_log).unwrap();
    let (buckets, streams) = (config.bucket_names(), config.stream_names());
    let c = st
        .create_flow_logs(&req, &net, &buckets, &streams, 1)
        .unwrap();
    assert_eq!(c.flow_logs.len(), 1);
    // Its delivery role exists, as the flow log's owner made it (IAM).
    if let Some(arn) = &req.deliver_logs_permission_arn {
        st.put_role(&vpcflow_deliver::iam::delivery_role(arn, 0).unwrap())
            .unwrap();
    }
    let plan = Arc::new(Plan::new(net, st.flow_logs().unwrap(), &config));
    (plan, config)
}

/// An accepted flow on the first ENI in `[start, start + 1]`, as an engine hands it out.
fn record(plan: &Plan, start: u64) -> RawRecord {
    let ip = plan.net.enis[0].primary_ip();
    RawRecord::flow(
        FlowKey {
            eni: 0,
            egress: false,
            reject: false,
            tuple: FiveTuple {
                src: "198.51.100.7".parse().unwrap(),
                dst: ip,
                protocol: 6,
                src_port: 40000,
                dst_port: 443,
            },
        },
        FlowAcc {
            first: start * 1_000_000,
            last: (start + 1) * 1_000_000,
            packets: 1,
            bytes: 60,
            flags: 0,
        },
    )
}

/// A worker over `spool`, delivering as `account` (the destinations' own account).
fn worker(config: &DeliveryConfig, data: &Path, spool: &Spool, account: &str) -> Worker {
    let dest = Destinations::open(config, data, "us-east-1", account).unwrap();
    Worker::new(
        spool.clone(),
        State::open(&data.join("state.db")).unwrap(),
        dest,
    )
    .unwrap()
}

/// A flow log of the VPC's traffic to log group `group`.
fn to_group(group: &str) -> String {
    format!(
        "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ALL\"\n\
         log_group_name = \"{group}\"\ndeliver_logs_permission_arn = \"arn:aws:iam::123456789012:role/r\""
    )
}

/// Encodes records at the given starts (one commit each) into the spool and publishes them.
fn spool_records(plan: &Arc<Plan>, spool: &Spool, starts: &[u64]) {
    let mut enc = Encoder::new(Arc::clone(plan), None, BTreeMap::new());
    for (i, &s) in starts.iter().enumerate() {
        enc.handle(Msg::Raw {
            engine: 0,
            records: vec![record(plan, s)],
        })
        .expect("room in the spool");
        let e = enc
            .handle(Msg::Commit {
                until: s - s % 300 + 300,
                last: i + 1 == starts.len(),
            })
            .unwrap()
            .expect("a commit gives entries");
        spool.write_pending(&e.entries).unwrap();
        spool.publish(&e.entries).unwrap();
    }
}

#[test]
fn retention_expires_old_segments_in_record_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (plan, config) = setup(
        data,
        "[[log_groups]]\nname = \"/r\"\nretention_in_days = 1\n",
        &to_group("/r"),
    );
    let spool = Spool::open(&data.join("spool")).unwrap();
    spool_records(&plan, &spool, &[T0 + 10, T0 + DAY / 2, T0 + 2 * DAY + 10]);
    // The destinations' own account is not the flow log's: the group is the flow log's.
    let mut w = worker(&config, data, &spool, "999999999999");
    let clock = TestClock::default();
    let (left, _) = w.pass(&clock).unwrap();
    assert_eq!(left, 0);
    assert_eq!(w.stats.delivered, 3);
    let st = State::open(&data.join("state.db")).unwrap();
    let streams = st.log_streams("/r").unwrap();
    assert_eq!(streams.len(), 1);
    // Day 0's events are more than a day older than the newest: expired, files and all.
    assert_eq!(streams[0].events, 1);
    assert_eq!(streams[0].first_ms, Some((T0 + 2 * DAY + 10) * 1000));
    assert_eq!(st.segments("/r").unwrap().len(), 1);
    let files = std::fs::read_dir(data.join("logs/%2Fr")).unwrap().count();
    assert_eq!(files, 1);
    assert_eq!(st.log_groups().unwrap()[0].retention_days, Some(1));
    let db = vpcflow_store::db::open(&data.join("state.db")).unwrap();
    assert_eq!(
        vpcflow_store::logs::index::group_account(&db, "/r").unwrap(),
        Some("123456789012".to_owned()),
        "the flow log's account owns the group its delivery made"
    );
}

/// An endpoint that answers every request with `status`.
/// An endpoint answering `status` to every request; its port, and the
/// `X-Amz-Firehose-Source-Arn` of each request.
fn answering(status: u16) -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let sources = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&sources);
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut len = 0;
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if let Some((_, v)) = line.split_once("x-amz-firehose-source-arn:") {
                    seen.lock().unwrap().push(v.trim().to_owned());
                }
                line.clear();
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let mut c = c;
            let _ = write!(
                c,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
        }
    });
    (port, sources)
}

#[test]
fn endpoint_answers_map_to_aws_delivery_errors_and_retries_back_off() {
    for (status, message) in [
        (403, "Access error"),
        (401, "Access error"),
        (429, "Rate limited"),
        (500, "Unknown error"),
        (200, "Unknown error"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let (port, sources) = answering(status);
        let (plan, config) = setup(
            data,
            &format!(
                "[[delivery_streams]]\nname = \"s\"\nbuffering_interval_seconds = 0\n\
                 destination = {{ type = \"http_endpoint\", url = \"http://127.0.0.1:{port}/\" }}\n"
            ),
            &format!(
                "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ALL\"\n\
                 log_destination_type = \"kinesis-data-firehose\"\n\
                 log_destination = \"arn:aws:firehose:us-east-1:123456789012:deliverystream:s\""
            ),
        );
        let spool = Spool::open(&data.join("spool")).unwrap();
        spool_records(&plan, &spool, &[T0 + 10]);
        // The destinations' own account is not the flow log's: the stream is the flow log's.
        let mut w = worker(&config, data, &spool, "999999999999");
        let clock = TestClock::default();
        let (left, wait) = w.pass(&clock).unwrap();
        assert_eq!(left, 1, "{status}: kept for retry");
        assert_eq!(wait, Some(backoff_ms(1)));
        // Within the backoff nothing is tried; after it, it is.
        w.pass(&clock).unwrap();
        assert_eq!(w.stats.failures, 1);
        clock.sleep_ms(backoff_ms(1));
        let (_, wait) = w.pass(&clock).unwrap();
        assert_eq!(w.stats.failures, 2);
        assert_eq!(wait, Some(backoff_ms(2)));
        let st = State::open(&data.join("state.db")).unwrap();
        let id = &plan.subs[0].flow_log.flow_log_id;
        let s = st.status(id).unwrap();
        assert_eq!(
            (s.status.as_str(), s.message.as_deref()),
            ("FAILED", Some(message)),
            "{status}"
        );
        assert!(s.detail.unwrap().contains(&format!("answered {status}")));
        assert_eq!(spool.list().unwrap().len(), 1, "nothing is dropped");
        assert_eq!(
            sources.lock().unwrap()[0],
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/s"
        );
    }
}

#[test]
fn backoff_doubles_from_100_ms_to_a_10_s_cap() {
    let rows = [
        (1, 100),
        (2, 200),
        (3, 400),
        (7, 6400),
        (8, 10_000),
        (40, 10_000),
    ];
    for (n, ms) in rows {
        assert_eq!(backoff_ms(n), ms, "{n}");
    }
}

#[test]
fn local_buckets_hold_objects_under_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (plan, config) = setup(
        data,
        "[[buckets]]\nname = \"bkt\"\n",
        &format!(
            "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ALL\"\n\
             log_destination_type = \"s3\"\nlog_destination = \"arn:aws:s3:::bkt/x/\""
        ),
    );
    let spool = Spool::open(&data.join("spool")).unwrap();
    spool_records(&plan, &spool, &[T0 + 10, T0 + 400]);
    let names = spool.list().unwrap();
    let keys: Vec<String> = names
        .iter()
        .map(|n| match spool.read(n).unwrap().0.target {
            vpcflow_deliver::spool::Target::Object(t) => t.key,
            other => panic!("{other:?}"),
        })
        .collect();
    let mut w = worker(&config, data, &spool, "123456789012");
    assert_eq!(w.pass(&TestClock::default()).unwrap().0, 0);
    assert_eq!(keys.len(), 2);
    for k in keys {
        assert!(
            k.starts_with("x/AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/01/15/"),
            "{k}"
        );
        assert!(data.join("s3/bkt").join(&k).is_file(), "{k}");
    }
    assert!(spool.list().unwrap().is_empty());
    assert_eq!(spool.used_bytes(), 0);
}

#[test]
fn delivery_streams_deliver_to_a_bucket_and_to_a_directory() {
    for (dest, check) in [
        (
            "{ type = \"s3\", bucket = \"fh-bucket\", prefix = \"firehose/\" }",
            "s3",
        ),
        ("{ type = \"directory\", path = \"DIR\" }", "directory"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let out = data.join("out");
        let dest = dest.replace("DIR", out.to_str().unwrap());
        let (plan, config) = setup(
            data,
            &format!(
                "[[buckets]]\nname = \"fh-bucket\"\n[[delivery_streams]]\nname = \"s\"\n\
                 buffering_interval_seconds = 0\ndestination = {dest}\n"
            ),
            &format!(
                "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ALL\"\n\
                 log_destination_type = \"kinesis-data-firehose\"\n\
                 log_destination = \"arn:aws:firehose:us-east-1:123456789012:deliverystream:s\""
            ),
        );
        let spool = Spool::open(&data.join("spool")).unwrap();
        spool_records(&plan, &spool, &[T0 + 10, T0 + 400]);
        let mut w = worker(&config, data, &spool, "123456789012");
        assert_eq!(w.pass(&TestClock::default()).unwrap().0, 0);
        assert_eq!(
            w.stats.delivered, 2,
            "{check}: one request per commit (interval hint 0)"
        );
        let mut files = Vec::new();
        let root = if check == "s3" {
            data.join("s3/fh-bucket")
        } else {
            out.clone()
        };
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p)
                } else {
                    files.push(p)
                }
            }
        }
        files.sort();
        assert_eq!(files.len(), 2, "{check}");
        for f in &files {
            let rel = f.strip_prefix(&root).unwrap().display().to_string();
            if check == "s3" {
                // Firehose's default key: prefix, then YYYY/MM/DD/HH/, then stream-1-date-id.
                assert!(
                    rel.starts_with("firehose/2026/01/15/00/s-1-2026-01-15-00-"),
                    "{rel}"
                );
            } else {
                assert!(rel.starts_with("s-") && rel.ends_with(".log"), "{rel}");
            }
            let text = std::fs::read_to_string(f).unwrap();
            // One line per flow record, newline-terminated, no header.
            assert_eq!(text.lines().count(), 1, "{rel}");
            assert!(text.ends_with(" ACCEPT OK\n"), "{text}");
        }
    }
}

#[test]
fn damaged_entries_are_set_aside_and_the_rest_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (plan, config) = setup(data, "", &to_group("/d"));
    let spool = Spool::open(&data.join("spool")).unwrap();
    spool_records(&plan, &spool, &[T0 + 10, T0 + 400, T0 + 800]);
    let names = spool.list().unwrap();
    assert_eq!(names.len(), 3);
    let file = |n: &str| data.join("spool").join(format!("{n}.entry"));
    // The second's header torn; a bit flipped in the third's payload.
    std::fs::write(file(&names[1]), b"{\"target\":{\"kind\":\"log_seg").unwrap();
    let mut bytes = std::fs::read(file(&names[2])).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(file(&names[2]), bytes).unwrap();
    let mut w = worker(&config, data, &spool, "123456789012");
    let (left, _) = w.pass(&TestClock::default()).unwrap();
    assert_eq!(left, 0);
    assert_eq!((w.stats.delivered, w.stats.quarantined), (1, 2));
    assert_eq!(spool.quarantined().unwrap(), names[1..]);
    // The flow log's count: one record delivered, one failed (the flipped bit's entry names it;
    // the torn header names no flow log).
    let counts = w.stats.by_flow_log[&plan.subs[0].flow_log.flow_log_id];
    assert_eq!((counts.delivered, counts.failed), (1, 1));
    let st = State::open(&data.join("state.db")).unwrap();
    assert_eq!(
        st.log_streams("/d").unwrap()[0].events,
        1,
        "the first arrived"
    );
    let status = st.status(&plan.subs[0].flow_log.flow_log_id).unwrap();
    assert_eq!(status.status, "FAILED");
    assert!(
        status
            .detail
            .unwrap()
            .contains("the payload does not match its checksum")
    );
}

/// A destination's share counts what its entries take on disk: an entry written again under its
/// name (a replayed run) counts once, a reopened spool counts the same, a delivered one not.
#[test]
fn a_destinations_share_is_what_its_entries_take_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (plan, config) = setup(data, "", &to_group("/d"));
    let spool = Spool::open(&data.join("spool")).unwrap();
    let on_disk = || -> u64 {
        std::fs::read_dir(data.join("spool"))
            .unwrap()
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    };
    spool_records(&plan, &spool, &[T0 + 10, T0 + 400]);
    let once = spool.used_by("logs:/d");
    assert_eq!(once, on_disk());
    spool_records(&plan, &spool, &[T0 + 10, T0 + 400]);
    assert_eq!(
        spool.used_by("logs:/d"),
        once,
        "written again, counted once"
    );
    assert_eq!(spool.used_by("s3:elsewhere"), 0);
    let reopened = Spool::open(&data.join("spool")).unwrap();
    assert_eq!(reopened.used_by("logs:/d"), once);
    let mut w = worker(&config, data, &spool, "123456789012");
    assert_eq!(w.pass(&TestClock::default()).unwrap().0, 0);
    assert_eq!(spool.used_by("logs:/d"), 0);
}

/// Before a run reads its checkpoints, what was damaged since the last one is set aside (and
/// its checkpoint rewound, for entries of a replayable run): the run then makes it again, where
/// a worker finding it mid-run would have its rewind overtaken by the run's own commits.
#[test]
fn damage_found_before_a_run_is_set_aside_before_it_reads_its_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (plan, _) = setup(data, "", &to_group("/d"));
    let spool = Spool::open(&data.join("spool")).unwrap();
    spool_records(&plan, &spool, &[T0 + 10, T0 + 400, T0 + 800]);
    let names = spool.list().unwrap();
    let file = data.join("spool").join(format!("{}.entry", names[1]));
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();
    let st = State::open(&data.join("state.db")).unwrap();
    let n = vpcflow_deliver::deliver::set_aside_damaged(&data.join("spool"), &st).unwrap();
    assert_eq!(n, 1);
    assert_eq!(spool.quarantined().unwrap(), [names[1].clone()]);
    assert_eq!(spool.list().unwrap(), [names[0].clone(), names[2].clone()]);
    let status = st.status(&plan.subs[0].flow_log.flow_log_id).unwrap();
    assert_eq!(status.status, "FAILED");
    // A spool with nothing damaged (or none at all) is left as it is.
    assert_eq!(
        vpcflow_deliver::deliver::set_aside_damaged(&data.join("spool"), &st).unwrap(),
        0
    );
    assert_eq!(
        vpcflow_deliver::deliver::set_aside_damaged(&data.join("none"), &st).unwrap(),
        0
    );
    assert!(!data.join("none").exists());
}

/// A flow log to a stream made by CreateDeliveryStream (no `[[delivery_streams]]` entry): its
/// requests go into that stream's buffer, a record per flow record, for the pump to deliver by
/// the stream's own hints.
#[test]
fn requests_to_a_made_stream_go_into_its_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let config: DeliveryConfig = toml::from_str("").unwrap();
    let net = Arc::new(vpcflow_net::builtin::load("builtin:three-tier").unwrap());
    let made =
        vpcflow_store::firehose::Firehose::open(vpcflow_store::DataDir::new(data), "us-east-1")
            .unwrap();
    let create: vpcflow_store::firehose::CreateDeliveryStream = serde_json::from_str(
        r#"{"DeliveryStreamName": "made", "S3DestinationConfiguration": {
            "RoleARN": "arn:aws:iam::123456789012:role/r", "BucketARN": "arn:aws:s3:::b"}}"#,
    )
    .unwrap();
    made.create(&create, "123456789012", T0 * 1000, &|_| true)
        .unwrap();
    let mut st = State::open(&data.join("state.db")).unwrap();
    let req: CreateFlowLogs = toml::from_str(&format!(
        "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ALL\"\n\
         log_destination_type = \"kinesis-data-firehose\"\n\
         log_destination = \"arn:aws:firehose:us-east-1:123456789012:deliverystream/made\""
    ))
    .unwrap();
    st.create_flow_logs(&req, &net, &[], &["made".to_owned()], 1)
        .unwrap();
    let plan = Arc::new(Plan::new(net, st.flow_logs().unwrap(), &config));
    let spool = Spool::open(&data.join("spool")).unwrap();
    spool_records(&plan, &spool, &[T0 + 10, T0 + 400]);
    let mut w = worker(&config, data, &spool, "123456789012");
    let (left, _) = w.pass(&TestClock::default()).unwrap();
    assert_eq!(left, 0, "delivered into the buffer");
    let due = made.due(u64::MAX / 2, true).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].records.len(), 2, "a record per flow record");
    for r in &due[0].records {
        let line = String::from_utf8(r.clone()).unwrap();
        assert!(line.ends_with(" ACCEPT OK\n"), "{line}");
    }
}
