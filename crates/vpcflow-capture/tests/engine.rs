//! The flow engine on crafted observations: expected records, line for line.

use std::net::IpAddr;
use std::sync::Arc;

use vpcflow_capture::{EngineConfig, FlowEngine, Observation};
use vpcflow_net::{FiveTuple, Network, Packet, builtin};
use vpcflow_record::{FlowDirection, FlowRecord, LogFormat, text};

const S: u64 = 1_000_000;
const T0: u64 = 1_700_000_040; // the start of a 60 s interval (1_700_000_040 % 60 == 0)
const IN: FlowDirection = FlowDirection::Ingress;
const OUT: FlowDirection = FlowDirection::Egress;
const FORMAT: &str = "interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end tcp-flags action flow-direction traffic-path pkt-srcaddr pkt-dstaddr log-status";

fn net() -> Arc<Network> {
    Arc::new(builtin::load("builtin:three-tier").unwrap())
}

// One argument per column of the test tables.
#[allow(clippy::too_many_arguments)]
fn obs(
    n: &Network,
    ts: u64,
    eni: &str,
    dir: FlowDirection,
    src: &str,
    sp: u16,
    dst: &str,
    dp: u16,
    proto: u8,
    flags: u8,
    len: u32,
) -> Observation {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    Observation {
        ts,
        eni: n.eni_by_name(eni).unwrap(),
        direction: dir,
        packet: Packet {
            tuple: FiveTuple {
                src: ip(src),
                dst: ip(dst),
                protocol: proto,
                src_port: sp,
                dst_port: dp,
            },
            tcp_flags: flags,
        },
        len,
    }
}

fn lines(records: impl IntoIterator<Item = FlowRecord>) -> Vec<String> {
    let f = LogFormat::from_header(FORMAT).unwrap();
    records.into_iter().map(|r| text::encode(&f, &r)).collect()
}

fn engine(n: &Arc<Network>, scope: &[&str], max_flows: usize) -> FlowEngine {
    let scope = scope.iter().map(|e| n.eni_by_name(e).unwrap()).collect();
    FlowEngine::new(
        Arc::clone(n),
        EngineConfig {
            interval_secs: 60,
            max_flows,
            scope: Some(scope),
        },
    )
    .unwrap()
}

#[test]
fn tcp_handshake_both_directions_in_one_interval() {
    let n = net();
    let mut e = engine(&n, &["db-primary"], 100);
    let t = (T0 + 1) * S;
    let db = "db-primary";
    for (dt, dir, src, sp, dst, dp, flags, len) in [
        (0, IN, "10.0.11.10", 40000, "10.0.21.10", 5432, 0x02, 60),
        (1000, OUT, "10.0.21.10", 5432, "10.0.11.10", 40000, 0x12, 60),
        (2000, IN, "10.0.11.10", 40000, "10.0.21.10", 5432, 0x10, 52),
        (3000, IN, "10.0.11.10", 40000, "10.0.21.10", 5432, 0x18, 300),
        (
            4000,
            OUT,
            "10.0.21.10",
            5432,
            "10.0.11.10",
            40000,
            0x18,
            900,
        ),
        (
            2_000_000,
            IN,
            "10.0.11.10",
            40000,
            "10.0.21.10",
            5432,
            0x11,
            52,
        ),
        (
            2_001_000,
            OUT,
            "10.0.21.10",
            5432,
            "10.0.11.10",
            40000,
            0x11,
            52,
        ),
    ] {
        e.observe(&obs(&n, t + dt, db, dir, src, sp, dst, dp, 6, flags, len));
    }
    e.close((T0 + 20) * S);
    assert_eq!(
        lines(e.drain()),
        [
            "eni-0a0000000000000a4 10.0.11.10 10.0.21.10 40000 5432 6 4 464 1700000041 1700000043 3 ACCEPT ingress - 10.0.11.10 10.0.21.10 OK",
            "eni-0a0000000000000a4 10.0.21.10 10.0.11.10 5432 40000 6 3 1012 1700000041 1700000043 19 ACCEPT egress 1 10.0.21.10 10.0.11.10 OK",
        ]
    );
}

#[test]
fn a_flow_crossing_an_interval_boundary_gives_one_record_per_interval() {
    let n = net();
    let mut e = engine(&n, &["app-1"], 100);
    for (ts, flags) in [
        ((T0 + 59) * S, 0x02),
        ((T0 + 59) * S + 500_000, 0x10),
        ((T0 + 61) * S, 0x11),
    ] {
        e.observe(&obs(
            &n,
            ts,
            "app-1",
            OUT,
            "10.0.11.10",
            41000,
            "10.0.21.10",
            5432,
            6,
            flags,
            60,
        ));
    }
    e.close((T0 + 80) * S);
    assert_eq!(
        lines(e.drain()),
        [
            "eni-0a0000000000000a2 10.0.11.10 10.0.21.10 41000 5432 6 2 120 1700000099 1700000099 2 ACCEPT egress 1 10.0.11.10 10.0.21.10 OK",
            "eni-0a0000000000000a2 10.0.11.10 10.0.21.10 41000 5432 6 1 60 1700000101 1700000101 1 ACCEPT egress 1 10.0.11.10 10.0.21.10 OK",
        ]
    );
}

#[test]
fn nodata_for_quiet_enis_and_icmp_ports_are_zero() {
    let n = net();
    let mut e = engine(&n, &["bastion", "db-standby"], 100);
    // ICMP ports given as non-zero are still reported as 0 0.
    e.observe(&obs(
        &n,
        (T0 + 5) * S,
        "bastion",
        IN,
        "198.51.100.20",
        8,
        "10.0.1.30",
        0,
        1,
        0,
        84,
    ));
    e.observe(&obs(
        &n,
        (T0 + 5) * S + 1000,
        "bastion",
        OUT,
        "10.0.1.30",
        0,
        "198.51.100.20",
        8,
        1,
        0,
        84,
    ));
    e.close((T0 + 20) * S);
    assert_eq!(
        lines(e.drain()),
        [
            "eni-0a0000000000000a3 198.51.100.20 10.0.1.30 0 0 1 1 84 1700000045 1700000045 0 ACCEPT ingress - 198.51.100.20 10.0.1.30 OK",
            "eni-0a0000000000000a3 10.0.1.30 198.51.100.20 0 0 1 1 84 1700000045 1700000045 0 REJECT egress 8 10.0.1.30 198.51.100.20 OK",
            "eni-0b0000000000000b4 - - - - - - - 1700000040 1700000100 - - - - - - NODATA",
        ]
    );
}

#[test]
fn a_full_table_reports_skipdata_instead_of_growing() {
    let n = net();
    let mut e = engine(&n, &["app-1"], 2);
    for port in 0..5u16 {
        e.observe(&obs(
            &n,
            (T0 + 1) * S + u64::from(port),
            "app-1",
            OUT,
            "10.0.11.10",
            40000 + port,
            "10.0.21.10",
            5432,
            6,
            0x02,
            60,
        ));
    }
    e.close((T0 + 20) * S);
    let got = lines(e.drain());
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got[0].ends_with(" OK") && got[1].ends_with(" OK"));
    assert_eq!(
        got[2],
        "eni-0a0000000000000a2 - - - - - - - 1700000040 1700000100 - - - - - - SKIPDATA"
    );
    assert_eq!(e.stats().skipped_flows, 3);
}

#[test]
fn nat_gateway_addresses_follow_aws_reporting_rules() {
    // flow-log-format.md §3.10: on the NAT ENI the request's dstaddr is the NAT's own address and
    // pkt-dstaddr the internet host; the reply's srcaddr is the NAT's address, pkt-srcaddr the host.
    let n = net();
    let mut e = engine(&n, &["nat"], 100);
    e.observe(&obs(
        &n,
        (T0 + 1) * S,
        "nat",
        IN,
        "10.0.11.10",
        40000,
        "203.0.113.5",
        443,
        6,
        0x02,
        60,
    ));
    e.observe(&obs(
        &n,
        (T0 + 1) * S + 10,
        "nat",
        OUT,
        "203.0.113.5",
        443,
        "10.0.11.10",
        40000,
        6,
        0x12,
        60,
    ));
    e.close((T0 + 20) * S);
    assert_eq!(
        lines(e.drain()),
        [
            "eni-0a0000000000000a5 10.0.11.10 10.0.1.20 40000 443 6 1 60 1700000041 1700000041 2 ACCEPT ingress - 10.0.11.10 203.0.113.5 OK",
            "eni-0a0000000000000a5 10.0.1.20 10.0.11.10 443 40000 6 1 60 1700000041 1700000041 18 ACCEPT egress 1 203.0.113.5 10.0.11.10 OK",
        ]
    );
}

#[test]
fn never_logged_traffic_leaves_no_record_and_accept_reject_split() {
    let n = net();
    let mut e = engine(&n, &["app-1"], 100);
    assert_eq!(
        e.observe(&obs(
            &n,
            (T0 + 1) * S,
            "app-1",
            OUT,
            "10.0.11.10",
            40000,
            "169.254.169.254",
            80,
            6,
            0x02,
            60
        )),
        None
    );
    assert_eq!(
        e.observe(&obs(
            &n,
            (T0 + 1) * S,
            "app-1",
            OUT,
            "10.0.11.10",
            40001,
            "10.0.0.2",
            53,
            17,
            0,
            60
        )),
        None
    );
    // The same 5-tuple, once refused (no tracked connection, no rule) and once part of a
    // connection the app opened: one REJECT and one ACCEPT record.
    let reply = |ts| {
        obs(
            &n,
            ts,
            "app-1",
            IN,
            "198.18.5.5",
            443,
            "10.0.11.10",
            40002,
            6,
            0x12,
            60,
        )
    };
    e.observe(&reply((T0 + 2) * S));
    e.observe(&obs(
        &n,
        (T0 + 3) * S,
        "app-1",
        OUT,
        "10.0.11.10",
        40002,
        "198.18.5.5",
        443,
        6,
        0x02,
        60,
    ));
    e.observe(&reply((T0 + 4) * S));
    e.close((T0 + 20) * S);
    let got = lines(e.drain());
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(
        got.iter()
            .all(|l| !l.contains("169.254.169.254") && !l.contains("10.0.0.2 "))
    );
    assert!(
        got.iter().any(|l| l
            .contains("198.18.5.5 10.0.11.10 443 40002 6 1 60 1700000042 1700000042 18 REJECT")),
        "{got:#?}"
    );
    assert!(
        got.iter().any(|l| l
            .contains("198.18.5.5 10.0.11.10 443 40002 6 1 60 1700000044 1700000044 18 ACCEPT")),
        "{got:#?}"
    );
    assert_eq!(e.stats().never_logged, 2);
}

#[test]
fn intervals_must_be_60_or_600() {
    let n = net();
    let err = FlowEngine::new(
        Arc::clone(&n),
        EngineConfig {
            interval_secs: 300,
            ..EngineConfig::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(
        err.to_string(),
        "Invalid Flow Log Max Aggregation Interval: 300 (use 60 or 600)"
    );
}

#[test]
fn source_losses_become_skipdata_for_the_eni() {
    // A capture source (the kernel ring) lost packets of app-1: the interval says so.
    let n = net();
    let mut e = engine(&n, &["app-1", "db-primary"], 100);
    e.observe(&obs(
        &n,
        (T0 + 1) * S,
        "app-1",
        OUT,
        "10.0.11.10",
        40000,
        "10.0.21.10",
        5432,
        6,
        0x02,
        60,
    ));
    let app = n.eni_by_name("app-1").unwrap();
    e.report_loss(app, 0);
    e.report_loss(app, 42);
    e.close((T0 + 20) * S);
    let got = lines(e.drain());
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got[0].ends_with(" OK"));
    assert_eq!(
        got[1],
        "eni-0a0000000000000a2 - - - - - - - 1700000040 1700000100 - - - - - - SKIPDATA"
    );
    assert!(got[2].ends_with("NODATA") && got[2].starts_with("eni-0a0000000000000a4"));
    assert_eq!(e.stats().lost_packets, 42);
}

/// A quiet gap is handed out as it is drained, in bounded vectors, the time every engine has
/// handed out before announced as it moves: the same records the engine's whole drain gives,
/// and after each `Closed { until }` no record that starts before it.
#[test]
fn a_quiet_gap_drains_in_turns_with_progress_said_as_it_goes() {
    use vpcflow_capture::flow::{EMIT_CHUNK, Emit, drain_in_turns};
    let n = net();
    let make = || {
        let mut e = engine(&n, &["bastion", "db-standby"], 100);
        let ping = |ts| {
            obs(
                &n,
                ts,
                "bastion",
                IN,
                "198.51.100.20",
                8,
                "10.0.1.30",
                0,
                1,
                0,
                84,
            )
        };
        e.observe(&ping(T0 * S));
        // 20 000 quiet minutes later.
        e.observe(&ping((T0 + 60 * 20_001) * S));
        e.finish();
        e
    };
    let whole: Vec<String> = make().drain_raw().map(|r| format!("{r:?}")).collect();
    let mut e = make();
    let (mut got, mut announced, mut closed) = (Vec::new(), None, Vec::new());
    drain_in_turns(&mut [&mut e], &mut announced, &mut |m| match m {
        Emit::Records { records, .. } => {
            assert!(records.len() <= EMIT_CHUNK);
            for r in &records {
                let start = r.start_us();
                assert!(
                    closed.last().is_none_or(|&t| start >= t),
                    "{start} before {closed:?}"
                );
            }
            got.extend(records.iter().map(|r| format!("{r:?}")));
        }
        Emit::Closed { until } => closed.push(until),
    });
    assert_eq!(got, whole, "the same records as one drain");
    assert!(
        whole.len() > 40_000,
        "a NODATA per ENI per quiet minute: {}",
        whole.len()
    );
    assert!(closed.len() > 5, "progress said as it went: {closed:?}");
    assert!(closed.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(announced, Some((T0 + 60 * 20_002) * S));
}
