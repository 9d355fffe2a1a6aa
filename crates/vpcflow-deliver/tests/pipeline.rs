//! Subscriptions in the control-plane database, their scope over the network, and the
//! encoder's guarantees: a resumed source rewrites the same entries (same names, same bytes)
//! and nothing its checkpoints cover; a full spool turns records into SKIPDATA; Firehose
//! buffers flush by their hints with stable request ids.

use std::collections::BTreeMap;
use std::sync::Arc;

use vpcflow_deliver::api::{CreateFlowLogs, ErrorKind};
use vpcflow_deliver::config::DeliveryConfig;
use vpcflow_deliver::deliver::Clock as _;
use vpcflow_deliver::fanout::{Encoder, Msg, Plan, Waits};
use vpcflow_deliver::sinks::SinkKey;
use vpcflow_deliver::spool::{Entry, Target};
use vpcflow_deliver::state::{RequestError, State};
use vpcflow_net::record::{FlowAcc, FlowKey, RawRecord};
use vpcflow_net::{FiveTuple, Network};
use vpcflow_record::Action;

const VPC: &str = "vpc-0a1b2c3d4e5f60718";
const T0: u64 = 1_768_485_600; // 2026-01-15T14:00:00Z

fn three_tier() -> Network {
    vpcflow_net::builtin::load("builtin:three-tier").unwrap()
}

fn req(text: &str) -> CreateFlowLogs {
    toml::from_str(text).unwrap()
}

fn group_req(traffic: &str, extra: &str) -> CreateFlowLogs {
    req(&format!(
        "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"{traffic}\"\n\
         log_group_name = \"/g\"\ndeliver_logs_permission_arn = \"arn:aws:iam::123456789012:role/r\"\n{extra}"
    ))
}

#[test]
fn flow_logs_persist_and_client_tokens_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let net = three_tier();
    let r = group_req("ALL", "client_token = \"t-1\"");
    let ids = {
        let mut st = State::open(&path).unwrap();
        let c = st.create_flow_logs(&r, &net, &[], &[], 1).unwrap();
        c.flow_logs
            .iter()
            .map(|f| f.flow_log_id.clone())
            .collect::<Vec<_>>()
    };
    let mut st = State::open(&path).unwrap();
    let stored = st.flow_logs().unwrap();
    assert_eq!(
        stored.iter().map(|f| &f.flow_log_id).collect::<Vec<_>>(),
        ids.iter().collect::<Vec<_>>()
    );
    // The same token and request: the same flow logs, nothing new.
    let again = st.create_flow_logs(&r, &net, &[], &[], 2).unwrap();
    assert_eq!(again.flow_logs, stored);
    assert_eq!(st.flow_logs().unwrap().len(), 1);
    // The same token with other parameters.
    let other = group_req("REJECT", "client_token = \"t-1\"");
    match st.create_flow_logs(&other, &net, &[], &[], 3) {
        Err(RequestError::Api(e)) => assert_eq!(e.kind, ErrorKind::IdempotentParameterMismatch),
        other => panic!("{other:?}"),
    }
    // No Modify: delete, then the same configuration can be created again.
    st.delete_flow_logs(&ids).unwrap();
    assert!(st.flow_logs().unwrap().is_empty());
    match st.delete_flow_logs(&ids) {
        Err(RequestError::Api(e)) => assert_eq!(e.kind, ErrorKind::FlowLogNotFound),
        other => panic!("{other:?}"),
    }
    let recreated = st
        .create_flow_logs(&group_req("ALL", ""), &net, &[], &[], 4)
        .unwrap();
    assert_eq!(recreated.flow_logs.len(), 1);
    // Status: SUCCESS until a delivery fails; AWS's message, then back.
    let id = recreated.flow_logs[0].flow_log_id.clone();
    assert_eq!(st.status(&id).unwrap().status, "SUCCESS");
    st.set_status(
        std::slice::from_ref(&id),
        Some(("Access error", "s3://b/k: denied")),
    )
    .unwrap();
    let s = st.status(&id).unwrap();
    assert_eq!(
        (s.status.as_str(), s.message.as_deref()),
        ("FAILED", Some("Access error"))
    );
    st.set_status(std::slice::from_ref(&id), None).unwrap();
    assert_eq!(st.status(&id).unwrap().status, "SUCCESS");
}

#[test]
fn scope_follows_the_resource_including_enis_added_later() {
    let net = three_tier();
    let mut st = State::open(&tempfile::tempdir().unwrap().path().join("s.db")).unwrap();
    st.create_flow_logs(&group_req("ALL", ""), &net, &[], &[], 1)
        .unwrap();
    let subnet = req(
        "resource_type = \"Subnet\"\nresource_ids = [\"subnet-0a2a000000000002a\"]\ntraffic_type = \"ALL\"\n\
         log_group_name = \"/s\"\ndeliver_logs_permission_arn = \"arn:aws:iam::123456789012:role/r\"",
    );
    st.create_flow_logs(&subnet, &net, &[], &[], 1).unwrap();
    let flow_logs = st.flow_logs().unwrap();
    // The topology grows an ENI in the app subnet after the flow logs were made.
    let text = vpcflow_net::builtin::TOPOLOGIES[0].1.to_owned()
        + "\n[[enis]]\nid = \"eni-0a00000000000ffff\"\nname = \"app-3\"\ntype = \"instance\"\n\
           instance_id = \"i-0a00000000000ffff\"\nsubnet = \"subnet-0a2a000000000002a\"\n\
           private_ips = [\"10.0.11.99\"]\nsecurity_groups = []\n";
    let grown = Arc::new(Network::from_toml(&text, "grown").unwrap());
    let plan = Plan::new(Arc::clone(&grown), flow_logs, &DeliveryConfig::default());
    let new = grown
        .enis
        .iter()
        .position(|e| e.id == "eni-0a00000000000ffff")
        .unwrap();
    let vpc_sub = plan
        .subs
        .iter()
        .find(|s| s.flow_log.resource_id == VPC)
        .unwrap();
    let subnet_sub = plan
        .subs
        .iter()
        .find(|s| s.flow_log.resource_id != VPC)
        .unwrap();
    assert!(vpc_sub.members[new], "the VPC flow log covers the new ENI");
    assert!(
        vpc_sub.members.iter().all(|&m| m),
        "and every other ENI of the VPC"
    );
    assert!(subnet_sub.members[new], "so does the subnet's");
    let in_subnet: Vec<bool> = grown
        .enis
        .iter()
        .map(|e| grown.subnets[e.subnet].id == "subnet-0a2a000000000002a")
        .collect();
    assert_eq!(
        subnet_sub.members, in_subnet,
        "and nothing outside the subnet"
    );
}

/// A record of ENI index `eni` of the three-tier network.
/// An inbound TCP flow from the internet to ENI `eni`, as an engine hands it out.
fn rec(net: &Network, eni: usize, start: u64, action: Action, port: u16) -> RawRecord {
    RawRecord::flow(
        FlowKey {
            eni: eni as u32,
            egress: false,
            reject: action == Action::Reject,
            tuple: FiveTuple {
                src: "198.51.100.7".parse().unwrap(),
                dst: net.enis[eni].primary_ip(),
                protocol: 6,
                src_port: 40000,
                dst_port: port,
            },
        },
        FlowAcc {
            first: start * 1_000_000,
            last: (start + 3) * 1_000_000,
            packets: 1,
            bytes: 60,
            flags: 0,
        },
    )
}

/// Three 5-minute marks of records on two ENIs, as the router would send them.
fn messages(net: &Network) -> Vec<Msg> {
    let mut out = Vec::new();
    for k in 0..3u64 {
        let base = T0 + k * 300;
        let mut chunk = Vec::new();
        for i in 0..20u16 {
            let action = if i % 4 == 0 {
                Action::Reject
            } else {
                Action::Accept
            };
            chunk.push(rec(
                net,
                (i % 2) as usize,
                base + u64::from(i) * 10,
                action,
                443 + i,
            ));
        }
        out.push(Msg::Raw {
            engine: 0,
            records: chunk,
        });
        out.push(Msg::Commit {
            until: base + 300,
            last: k == 2,
        });
    }
    out
}

fn plan_of(net: &Arc<Network>, reqs: &[CreateFlowLogs], config: &DeliveryConfig) -> Arc<Plan> {
    let mut st = State::open(&tempfile::tempdir().unwrap().path().join("s.db")).unwrap();
    let (buckets, streams) = (config.bucket_names(), config.stream_names());
    for r in reqs {
        let c = st.create_flow_logs(r, net, &buckets, &streams, 1).unwrap();
        assert!(c.unsuccessful.is_empty(), "{:?}", c.unsuccessful);
    }
    Arc::new(Plan::new(Arc::clone(net), st.flow_logs().unwrap(), config))
}

/// Checkpoints after each commit: (mark, sink → done until).
type Checkpoints = Vec<(u64, BTreeMap<SinkKey, u64>)>;

/// Runs messages through; returns the entries and the checkpoints after each commit.
fn run(encoder: &mut Encoder, msgs: Vec<Msg>) -> (Vec<Entry>, Checkpoints) {
    let mut entries = Vec::new();
    let mut done = BTreeMap::new();
    let mut after = Vec::new();
    for m in msgs {
        let mark = match &m {
            Msg::Commit { until, .. } => Some(*until),
            Msg::Raw { .. } | Msg::Plan(_) => None,
        };
        if let Some(e) = encoder.handle(m).expect("room in the spool") {
            entries.extend(e.entries);
            done.extend(e.done);
            after.push((mark.unwrap(), done.clone()));
        }
    }
    (entries, after)
}

fn test_config() -> DeliveryConfig {
    toml::from_str(
        "[[buckets]]\nname = \"bkt\"\n[[delivery_streams]]\nname = \"fh\"\nbuffering_interval_seconds = 300\n\
         destination = { type = \"directory\", path = \"/tmp/unused\" }\n",
    )
    .unwrap()
}

fn test_requests() -> Vec<CreateFlowLogs> {
    vec![
        group_req("REJECT", ""),
        req(&format!(
            "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ALL\"\n\
             log_destination_type = \"s3\"\nlog_destination = \"arn:aws:s3:::bkt/p/\""
        )),
        req(&format!(
            "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ACCEPT\"\n\
             log_destination_type = \"kinesis-data-firehose\"\n\
             log_destination = \"arn:aws:firehose:us-east-1:123456789012:deliverystream:fh\""
        )),
    ]
}

#[test]
fn a_resumed_source_rewrites_the_same_entries_and_nothing_checkpointed() {
    let net = Arc::new(three_tier());
    let config = test_config();
    let plan = plan_of(&net, &test_requests(), &config);
    let mut first = Encoder::new(Arc::clone(&plan), Some("run".into()), BTreeMap::new());
    let (all, after) = run(&mut first, messages(&net));
    // S3: one object per 5-minute bucket; log group: one segment per bucket; Firehose: the
    // 300 s hint (from the first record's end) is met at the second mark, and the end flushes
    // the rest.
    let count = |f: &dyn Fn(&Target) -> bool| all.iter().filter(|e| f(&e.header.target)).count();
    assert_eq!(count(&|t| matches!(t, Target::Object { .. })), 3);
    assert_eq!(count(&|t| matches!(t, Target::LogSegment { .. })), 3);
    assert_eq!(count(&|t| matches!(t, Target::Firehose { .. })), 2);
    let records = |t: &dyn Fn(&Target) -> bool| -> u64 {
        all.iter()
            .filter(|e| t(&e.header.target))
            .map(|e| e.header.records)
            .sum()
    };
    assert_eq!(records(&|t| matches!(t, Target::Object { .. })), 60, "ALL");
    assert_eq!(
        records(&|t| matches!(t, Target::LogSegment { .. })),
        15,
        "REJECT"
    );
    assert_eq!(
        records(&|t| matches!(t, Target::Firehose { .. })),
        45,
        "ACCEPT"
    );

    // Crash after the second mark was checkpointed: replay from the start.
    let mark2 = T0 + 600;
    let checkpoints = after.iter().find(|(m, _)| *m == mark2).unwrap().1.clone();
    // The Firehose buffer was flushed at the second mark (300 s past its first record's end).
    let stream = SinkKey::Stream("fh".into());
    assert_eq!(checkpoints[&stream], T0 + 600);
    let at_first = &after[0].1;
    assert!(
        !at_first.contains_key(&stream),
        "not flushed at the first mark"
    );
    let mut resumed = Encoder::new(Arc::clone(&plan), Some("run".into()), checkpoints);
    let (again, _) = run(&mut resumed, messages(&net));
    let by_name: BTreeMap<&str, &Entry> = all.iter().map(|e| (e.name.as_str(), e)).collect();
    for e in &again {
        let before = by_name
            .get(e.name.as_str())
            .unwrap_or_else(|| panic!("new name {}", e.name));
        assert_eq!(e.header, before.header, "{}", e.name);
        assert_eq!(e.payload, before.payload, "{}: same bytes", e.name);
    }
    // Only the third bucket's object and segment, and the Firehose flush after the stream's
    // checkpoint, come again.
    assert_eq!(
        again.len(),
        3,
        "{:?}",
        again.iter().map(|e| &e.name).collect::<Vec<_>>()
    );
    assert!(
        again
            .iter()
            .all(|e| e.name.starts_with(&format!("{:012}", T0 + 600))
                || e.name.starts_with(&format!("{:012}-firehose", T0 + 900)))
    );
    assert!(resumed.replayed > 0);
}

/// Records per destination kind in `entries`, SKIPDATA records apart: (records, SKIPDATA).
fn by_kind(entries: &[Entry]) -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    for e in entries {
        let kind = match e.header.target {
            Target::Object(_) => "s3",
            Target::LogSegment(_) => "logs",
            Target::Firehose(_) => "firehose",
        };
        *out.entry(kind).or_default() += e.header.records;
    }
    out
}

#[test]
fn a_full_share_of_a_live_source_delivers_skipdata_instead() {
    let net = Arc::new(three_tier());
    let config = test_config();
    let plan = plan_of(&net, &test_requests()[1..2], &config);
    let mut enc = Encoder::new(Arc::clone(&plan), None, BTreeMap::new());
    enc.spool_full = Box::new(|_| true);
    let (entries, _) = run(&mut enc, messages(&net));
    assert_eq!(enc.overflowed, 60);
    // One SKIPDATA record per ENI and 600 s interval: 2 ENIs × 2 intervals.
    let mut lines = Vec::new();
    for e in &entries {
        let mut text = String::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(&e.payload[..])
            .read_to_string(&mut text)
            .unwrap();
        lines.extend(text.lines().skip(1).map(str::to_owned));
    }
    lines.sort();
    assert_eq!(
        lines,
        [
            "2 123456789012 eni-0a0000000000000a1 - - - - - - - 1768485600 1768486200 - SKIPDATA",
            "2 123456789012 eni-0a0000000000000a1 - - - - - - - 1768486200 1768486800 - SKIPDATA",
            "2 123456789012 eni-0b0000000000000b1 - - - - - - - 1768485600 1768486200 - SKIPDATA",
            "2 123456789012 eni-0b0000000000000b1 - - - - - - - 1768486200 1768486800 - SKIPDATA",
        ]
    );
}

/// Each destination has its own share of the spool: the bucket's being full costs the log
/// group and the stream none of their records (a shared bound gave them SKIPDATA).
#[test]
fn one_full_destination_costs_the_others_nothing() {
    let net = Arc::new(three_tier());
    let config = test_config();
    let plan = plan_of(&net, &test_requests(), &config);
    let (all, _) = run(
        &mut Encoder::new(Arc::clone(&plan), None, BTreeMap::new()),
        messages(&net),
    );
    let mut enc = Encoder::new(Arc::clone(&plan), None, BTreeMap::new());
    enc.spool_full = Box::new(|d: &str| d == "s3:bkt");
    let (entries, _) = run(&mut enc, messages(&net));
    let (healthy, full) = (by_kind(&all), by_kind(&entries));
    assert_eq!(full["logs"], healthy["logs"]);
    assert_eq!(full["firehose"], healthy["firehose"]);
    assert_eq!(
        full["s3"], 4,
        "the bucket's: one SKIPDATA per ENI and interval"
    );
    assert_eq!(enc.overflowed, 60);
}

struct StepClock(std::sync::atomic::AtomicU64);

impl vpcflow_deliver::deliver::Clock for StepClock {
    fn now_ms(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn sleep_ms(&self, ms: u64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A source that can wait is held back while a share is full, and makes every record once
/// there is room; one that waits past its bound stops with the destination named, not with
/// SKIPDATA.
#[test]
fn a_source_that_can_wait_waits_for_room_instead_of_skipping() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let net = Arc::new(three_tier());
    let config = test_config();
    let plan = plan_of(&net, &test_requests(), &config);
    let (all, _) = run(
        &mut Encoder::new(Arc::clone(&plan), Some("run".into()), BTreeMap::new()),
        messages(&net),
    );
    let clock = Arc::new(StepClock(AtomicU64::new(0)));
    let waiting = |give_up_ms| {
        let mut enc = Encoder::new(Arc::clone(&plan), Some("run".into()), BTreeMap::new());
        enc.waits = Some(Waits {
            clock: Arc::clone(&clock) as _,
            give_up_ms,
        });
        enc
    };
    // Full for the bucket's first 25 looks (the worker delivering meanwhile), then room.
    let looks = Arc::new(AtomicU64::new(0));
    let mut enc = waiting(60_000);
    let seen = Arc::clone(&looks);
    enc.spool_full =
        Box::new(move |d: &str| d == "s3:bkt" && seen.fetch_add(1, Ordering::Relaxed) < 25);
    let (entries, _) = run(&mut enc, messages(&net));
    assert_eq!(
        by_kind(&entries),
        by_kind(&all),
        "every record, none skipped"
    );
    assert_eq!(enc.overflowed, 0);
    assert!(
        clock.now_ms() >= 20 * 24,
        "it waited: {} ms",
        clock.now_ms()
    );
    // Never room: it stops at its bound, naming the destination.
    let mut enc = waiting(1_000);
    enc.spool_full = Box::new(|d: &str| d == "logs:/g");
    let err = messages(&net)
        .into_iter()
        .find_map(|m| enc.handle(m).err())
        .expect("it gives up");
    assert_eq!(err.destination, "logs:/g");
    assert!(err.waited_ms >= 1_000);
    assert_eq!(enc.overflowed, 0);
}

/// Where an entry lands: its object key, segment or request id.
fn landing(t: &Target) -> String {
    match t {
        Target::Object(o) => format!("s3://{}/{}", o.bucket, o.key),
        Target::LogSegment(s) => format!("logs:{}/{}", s.group, s.segment),
        Target::Firehose(r) => format!("firehose:{}/{}", r.stream, r.request_id),
    }
}

#[test]
fn a_second_source_never_lands_where_the_first_does() {
    let net = Arc::new(three_tier());
    let config = test_config();
    let plan = plan_of(&net, &test_requests(), &config);
    let (own, _) = run(
        &mut Encoder::new(Arc::clone(&plan), None, BTreeMap::new()),
        messages(&net),
    );
    let (live, _) = run(
        &mut Encoder::new(Arc::clone(&plan), None, BTreeMap::new())
            .with_source(Some("live".into())),
        messages(&net),
    );
    assert_eq!(own.len(), 8, "3 objects, 3 segments, 2 requests");
    assert_eq!(own.len(), live.len());
    for (a, b) in own.iter().zip(&live) {
        assert_ne!(a.name, b.name);
        assert_ne!(landing(&a.header.target), landing(&b.header.target));
        // The same records, wherever they land.
        assert_eq!(a.header.records, b.header.records);
    }
    let names: std::collections::BTreeSet<&str> =
        own.iter().chain(&live).map(|e| e.name.as_str()).collect();
    assert_eq!(names.len(), own.len() * 2, "no name twice");
}
