//! pcap/pcapng capture on crafted frames: decoding (VLAN, QinQ, IPv6 extension headers,
//! fragments, ICMP, junk) and the records they give, and damaged files.

use std::net::IpAddr;
use std::sync::Arc;

use vpcflow_capture::decode::{Decoder, LinkType};
use vpcflow_capture::pcap::{CaptureStats, EniMap, PcapFileError, feed};
use vpcflow_capture::{EngineConfig, FlowEngine};
use vpcflow_net::{Network, builtin};
use vpcflow_record::{FlowRecord, LogFormat, text};

const T0: u32 = 1_700_000_040;

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag: u16, l4: &[u8]) -> Vec<u8> {
    let total = 20 + l4.len() as u16;
    let mut h = vec![0x45, 0];
    h.extend(total.to_be_bytes());
    h.extend(id.to_be_bytes());
    h.extend(frag.to_be_bytes());
    h.extend([64, proto, 0, 0]);
    h.extend(src);
    h.extend(dst);
    h.extend(l4);
    h
}

fn tcp(sp: u16, dp: u16, flags: u8, payload: usize) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(sp.to_be_bytes());
    t.extend(dp.to_be_bytes());
    t.extend([0; 8]);
    t.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend(vec![0; payload]);
    t
}

fn udp(sp: u16, dp: u16, payload: usize) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend(sp.to_be_bytes());
    u.extend(dp.to_be_bytes());
    u.extend((8 + payload as u16).to_be_bytes());
    u.extend([0, 0]);
    u.extend(vec![0; payload]);
    u
}

fn ether(ethertype: u16, vlans: &[u16], ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    for (i, vid) in vlans.iter().enumerate() {
        f.extend(
            if i == 0 && vlans.len() > 1 {
                0x88a8u16
            } else {
                0x8100u16
            }
            .to_be_bytes(),
        );
        f.extend(vid.to_be_bytes());
    }
    f.extend(ethertype.to_be_bytes());
    f.extend(ip);
    f
}

/// A classic pcap (microseconds, Ethernet) of `(seconds offset, micros, frame)`.
fn pcap(frames: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0xa1b2c3d4u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0; 8]);
    out.extend(65535u32.to_le_bytes());
    out.extend(1u32.to_le_bytes());
    for (s, us, f) in frames {
        out.extend((T0 + s).to_le_bytes());
        out.extend(us.to_le_bytes());
        out.extend((f.len() as u32).to_le_bytes());
        out.extend((f.len() as u32).to_le_bytes());
        out.extend(f);
    }
    out
}

fn run(bytes: &[u8], map: &EniMap, scope: Option<Vec<usize>>) -> (Vec<String>, CaptureStats) {
    let net = Arc::new(builtin::load("builtin:three-tier").unwrap());
    let mut engine = FlowEngine::new(
        Arc::clone(&net),
        EngineConfig {
            interval_secs: 60,
            max_flows: 1000,
            scope,
        },
    )
    .unwrap();
    let mut stats = CaptureStats::default();
    feed(bytes, map, &mut engine, &mut stats).unwrap();
    engine.finish();
    let f = LogFormat::from_header("interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end tcp-flags action flow-direction log-status").unwrap();
    let lines = engine
        .drain()
        .map(|r: FlowRecord| text::encode(&f, &r))
        .collect();
    (lines, stats)
}

const APP: [u8; 4] = [10, 0, 11, 10];
const DB: [u8; 4] = [10, 0, 21, 10];

#[test]
fn a_tcp_connection_between_two_enis_gives_four_records() {
    let frames = vec![
        (
            1,
            0,
            ether(
                0x0800,
                &[],
                &ipv4(APP, DB, 6, 1, 0, &tcp(40000, 5432, 0x02, 0)),
            ),
        ),
        (
            1,
            500,
            ether(
                0x0800,
                &[],
                &ipv4(DB, APP, 6, 2, 0, &tcp(5432, 40000, 0x12, 0)),
            ),
        ),
        (
            1,
            900,
            ether(
                0x0800,
                &[100],
                &ipv4(APP, DB, 6, 3, 0, &tcp(40000, 5432, 0x18, 100)),
            ),
        ),
        (
            2,
            0,
            ether(
                0x0800,
                &[200, 100],
                &ipv4(DB, APP, 6, 4, 0, &tcp(5432, 40000, 0x11, 0)),
            ),
        ),
    ];
    let (lines, stats) = run(&pcap(&frames), &EniMap::Auto, None);
    let ok: Vec<_> = lines
        .iter()
        .filter(|l| !l.ends_with("NODATA"))
        .cloned()
        .collect();
    assert_eq!(
        ok,
        [
            "eni-0a0000000000000a2 10.0.11.10 10.0.21.10 40000 5432 6 2 180 1700000041 1700000041 2 ACCEPT egress OK",
            "eni-0a0000000000000a2 10.0.21.10 10.0.11.10 5432 40000 6 2 80 1700000041 1700000042 19 ACCEPT ingress OK",
            "eni-0a0000000000000a4 10.0.11.10 10.0.21.10 40000 5432 6 2 180 1700000041 1700000041 2 ACCEPT ingress OK",
            "eni-0a0000000000000a4 10.0.21.10 10.0.11.10 5432 40000 6 2 80 1700000041 1700000042 19 ACCEPT egress OK",
        ]
    );
    assert_eq!(
        stats.decode.decoded, 4,
        "plain, VLAN and QinQ frames all decode"
    );
    assert_eq!(
        lines.iter().filter(|l| l.ends_with("NODATA")).count(),
        6,
        "the other six ENIs were quiet"
    );
}

#[test]
fn fragments_icmp_and_junk() {
    // A UDP datagram in two fragments: the second carries no ports but joins the first's flow.
    let whole = udp(5353, 53, 40);
    let (first, rest) = whole.split_at(16);
    let frames = vec![
        (
            1,
            0,
            ether(0x0800, &[], &ipv4(APP, DB, 17, 77, 0x2000, first)),
        ),
        (1, 10, ether(0x0800, &[], &ipv4(APP, DB, 17, 77, 2, rest))),
        // A ping with ICMP id/sequence bytes where ports would be: reported 0 0.
        (
            1,
            20,
            ether(
                0x0800,
                &[],
                &ipv4(APP, DB, 1, 78, 0, &[8, 0, 0, 0, 0x12, 0x34, 0, 1]),
            ),
        ),
        // ARP: not IP. A frame cut inside the IP header. An IPv4 header claiming version 5.
        (1, 30, ether(0x0806, &[], &[0; 28])),
        (1, 40, ether(0x0800, &[], &[0x45, 0, 0])),
        (1, 50, ether(0x0800, &[], &[0x55; 20])),
    ];
    let app = builtin::load("builtin:three-tier")
        .unwrap()
        .eni_by_name("app-1")
        .unwrap();
    let (lines, stats) = run(&pcap(&frames), &EniMap::One(app), Some(vec![app]));
    assert_eq!(
        lines,
        [
            "eni-0a0000000000000a2 10.0.11.10 10.0.21.10 5353 53 17 2 88 1700000041 1700000041 0 ACCEPT egress OK",
            "eni-0a0000000000000a2 10.0.11.10 10.0.21.10 0 0 1 1 28 1700000041 1700000041 0 ACCEPT egress OK",
        ]
    );
    assert_eq!(
        (
            stats.decode.non_ip,
            stats.decode.truncated,
            stats.decode.malformed
        ),
        (1, 1, 1)
    );
}

#[test]
fn decoder_rows() {
    let v6 = |next: u8, ext: &[u8], l4: &[u8]| {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend(((ext.len() + l4.len()) as u16).to_be_bytes());
        p.extend([next, 64]);
        p.extend(
            [0x20, 0x01, 0x0d, 0xb8]
                .iter()
                .chain(&[0u8; 11])
                .chain(&[1u8]),
        );
        p.extend(
            [0x20, 0x01, 0x0d, 0xb8]
                .iter()
                .chain(&[0u8; 11])
                .chain(&[2u8]),
        );
        p.extend(ext);
        p.extend(l4);
        p
    };
    let hop_by_hop = [17u8, 0, 0, 0, 0, 0, 0, 0]; // next = UDP, length 8
    // (case, link type, frame, expected (protocol, src port, dst port, IP length))
    type Row = (&'static str, LinkType, Vec<u8>, Option<(u8, u16, u16, u32)>);
    let rows: Vec<Row> = vec![
        (
            "ipv6 udp behind hop-by-hop",
            LinkType::Ethernet,
            ether(0x86dd, &[], &v6(0, &hop_by_hop, &udp(1000, 53, 4))),
            Some((17, 1000, 53, 60)),
        ),
        (
            "ipv6 tcp, raw link",
            LinkType::Raw,
            v6(6, &[], &tcp(1, 443, 0x02, 0)),
            Some((6, 1, 443, 60)),
        ),
        (
            "gre",
            LinkType::Raw,
            ipv4(APP, DB, 47, 1, 0, &[0; 4]),
            Some((47, 0, 0, 24)),
        ),
        (
            "esp",
            LinkType::Raw,
            ipv4(APP, DB, 50, 1, 0, &[0; 8]),
            Some((50, 0, 0, 28)),
        ),
        (
            "linux cooked v1",
            LinkType::LinuxSll,
            [
                vec![0; 14],
                vec![8, 0],
                ipv4(APP, DB, 6, 1, 0, &tcp(9, 10, 0x10, 0)),
            ]
            .concat(),
            Some((6, 9, 10, 40)),
        ),
        (
            "bsd loopback",
            LinkType::Null,
            [
                2u32.to_le_bytes().to_vec(),
                ipv4(APP, DB, 17, 1, 0, &udp(7, 8, 0)),
            ]
            .concat(),
            Some((17, 7, 8, 28)),
        ),
        ("empty frame", LinkType::Ethernet, vec![], None),
        (
            "tcp header cut",
            LinkType::Raw,
            ipv4(APP, DB, 6, 1, 0, &[0, 1]),
            None,
        ),
    ];
    let mut d = Decoder::new();
    for (case, link, frame, want) in rows {
        let got = d.decode(link, &frame).map(|x| {
            (
                x.packet.tuple.protocol,
                x.packet.tuple.src_port,
                x.packet.tuple.dst_port,
                x.ip_len,
            )
        });
        assert_eq!(got, want, "{case}");
    }
    assert_eq!(d.stats().truncated, 2);
    let got = d
        .decode(LinkType::Raw, &ipv4(APP, DB, 6, 1, 0, &tcp(1, 2, 0x12, 0)))
        .unwrap();
    assert_eq!(got.packet.tuple.src, IpAddr::from(APP));
    assert_eq!(got.packet.tcp_flags, 0x12);
}

#[test]
fn damaged_files_are_errors_naming_the_packet() {
    let good = pcap(&[
        (
            1,
            0,
            ether(0x0800, &[], &ipv4(APP, DB, 6, 1, 0, &tcp(1, 2, 2, 0))),
        ),
        (
            1,
            1,
            ether(0x0800, &[], &ipv4(APP, DB, 6, 2, 0, &tcp(1, 2, 2, 0))),
        ),
    ]);
    let net = Arc::new(builtin::load("builtin:three-tier").unwrap());
    let mut engine = FlowEngine::new(Arc::clone(&net), EngineConfig::default()).unwrap();
    let mut stats = CaptureStats::default();
    let err = feed(
        &good[..good.len() - 10],
        &EniMap::Auto,
        &mut engine,
        &mut stats,
    )
    .unwrap_err();
    assert!(matches!(err, PcapFileError::Truncated(1)), "{err}");
    assert_eq!(err.to_string(), "truncated after packet 1");
    let err = feed(
        &b"this is not a capture file at all"[..],
        &EniMap::Auto,
        &mut engine,
        &mut stats,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "not a pcap or pcapng file");
    let _: &Network = &net;
}

/// A pcapng block: type, body, padded, with both length fields.
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
    let len = (b.len() + 12) as u32;
    [
        kind.to_le_bytes().to_vec(),
        len.to_le_bytes().to_vec(),
        b,
        len.to_le_bytes().to_vec(),
    ]
    .concat()
}

#[test]
fn pcapng_interface_names_map_to_host_interfaces() {
    // app-1's traffic captured on its host interface "veth-app1", named in the pcapng IDB.
    let text = builtin::TOPOLOGIES[0].1.replacen(
        "name = \"app-1\"",
        "name = \"app-1\"\nhost_interface = \"veth-app1\"",
        1,
    );
    let net = Arc::new(Network::from_toml(&text, "t").unwrap());
    let shb = block(
        0x0a0d0d0a,
        &[
            0x1a2b3c4du32.to_le_bytes().to_vec(),
            vec![1, 0, 0, 0],
            (-1i64).to_le_bytes().to_vec(),
        ]
        .concat(),
    );
    let name = b"veth-app1";
    let mut opt = vec![2, 0, name.len() as u8, 0];
    opt.extend(name);
    while !opt.len().is_multiple_of(4) {
        opt.push(0);
    }
    opt.extend([0, 0, 0, 0]);
    let idb = block(
        1,
        &[vec![1, 0, 0, 0], 65535u32.to_le_bytes().to_vec(), opt].concat(),
    );
    let frame = ether(
        0x0800,
        &[],
        &ipv4([198, 18, 0, 1], APP, 6, 1, 0, &tcp(5000, 8080, 0x02, 0)),
    );
    let ts = u64::from(T0 + 1) * 1_000_000;
    let epb = block(
        6,
        &[
            0u32.to_le_bytes().to_vec(),
            ((ts >> 32) as u32).to_le_bytes().to_vec(),
            (ts as u32).to_le_bytes().to_vec(),
            (frame.len() as u32).to_le_bytes().to_vec(),
            (frame.len() as u32).to_le_bytes().to_vec(),
            frame,
        ]
        .concat(),
    );
    let file = [shb, idb, epb].concat();
    // The same file through a source that hands out 3 bytes per read (a slow pipe) reads alike.
    let mut frames = 0;
    let slow = Trickle(&file[..]);
    vpcflow_capture::pcap::read_frames(slow, &mut |_, _| {}, &mut |_, _| frames += 1).unwrap();
    assert_eq!(frames, 1);
    let mut engine = FlowEngine::new(
        Arc::clone(&net),
        EngineConfig {
            interval_secs: 60,
            max_flows: 10,
            scope: Some(vec![]),
        },
    )
    .unwrap();
    let mut stats = CaptureStats::default();
    assert_eq!(
        feed(&file[..], &EniMap::Auto, &mut engine, &mut stats).unwrap(),
        1
    );
    engine.finish();
    let f =
        LogFormat::from_header("interface-id srcaddr dstaddr dstport action flow-direction start")
            .unwrap();
    let lines: Vec<_> = engine.drain().map(|r| text::encode(&f, &r)).collect();
    // Internet traffic straight to the app on 8080: the interface says app-1, the SG refuses it.
    assert_eq!(
        lines,
        ["eni-0a0000000000000a2 198.18.0.1 10.0.11.10 8080 REJECT ingress 1700000041"]
    );
}

/// Hands out at most 3 bytes per read.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(3).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn ipv6(src: &str, dst: &str, next: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend((l4.len() as u16).to_be_bytes());
    p.extend([next, 64]);
    p.extend(src.parse::<std::net::Ipv6Addr>().unwrap().octets());
    p.extend(dst.parse::<std::net::Ipv6Addr>().unwrap().octets());
    p.extend(l4);
    p
}

#[test]
fn interval_crossing_ipv6_and_skipdata_from_a_pcap() {
    // app-1 gets an IPv6 address; its security group allows IPv4 only (0.0.0.0/0), so IPv6 out is
    // REJECT, as in AWS without a ::/0 rule.
    let text = builtin::TOPOLOGIES[0]
        .1
        .replacen(
            "cidrs = [\"10.0.0.0/16\"]",
            "cidrs = [\"10.0.0.0/16\", \"2600:1f18::/56\"]",
            1,
        )
        .replacen(
            "cidrs = [\"10.0.11.0/24\"]",
            "cidrs = [\"10.0.11.0/24\", \"2600:1f18:0:11::/64\"]",
            1,
        )
        .replacen(
            "private_ips = [\"10.0.11.10\", \"10.0.11.11\"]",
            "private_ips = [\"10.0.11.10\", \"10.0.11.11\", \"2600:1f18:0:11::10\"]",
            1,
        );
    let net = Arc::new(Network::from_toml(&text, "t").unwrap());
    let app = net.eni_by_name("app-1").unwrap();
    let to_db = |port: u16, flags: u8| {
        ether(
            0x0800,
            &[],
            &ipv4(APP, DB, 6, 1, 0, &tcp(port, 5432, flags, 0)),
        )
    };
    let frames = vec![
        // One flow across the 60 s boundary at T0 + 60 (T0 is aligned).
        (59, 0, to_db(40000, 0x02)),
        (61, 0, to_db(40000, 0x11)),
        // IPv6 out.
        (
            61,
            10,
            ether(
                0x86dd,
                &[],
                &ipv6(
                    "2600:1f18:0:11::10",
                    "2001:db8::5",
                    6,
                    &tcp(40001, 443, 0x02, 0),
                ),
            ),
        ),
        // Two more flows in the second interval, which has room for two: both are skipped.
        (62, 0, to_db(40002, 0x02)),
        (62, 10, to_db(40003, 0x02)),
    ];
    let mut engine = FlowEngine::new(
        Arc::clone(&net),
        EngineConfig {
            interval_secs: 60,
            max_flows: 2,
            scope: Some(vec![app]),
        },
    )
    .unwrap();
    let mut stats = CaptureStats::default();
    feed(
        &pcap(&frames)[..],
        &EniMap::One(app),
        &mut engine,
        &mut stats,
    )
    .unwrap();
    engine.finish();
    let f = LogFormat::from_header("srcaddr dstaddr srcport dstport packets start end tcp-flags type action flow-direction log-status").unwrap();
    let lines: Vec<String> = engine.drain().map(|r| text::encode(&f, &r)).collect();
    assert_eq!(
        lines,
        [
            "10.0.11.10 10.0.21.10 40000 5432 1 1700000099 1700000099 2 IPv4 ACCEPT egress OK",
            "10.0.11.10 10.0.21.10 40000 5432 1 1700000101 1700000101 1 IPv4 ACCEPT egress OK",
            "2600:1f18:0:11::10 2001:db8::5 40001 443 1 1700000101 1700000101 2 IPv6 REJECT egress OK",
            "- - - - - 1700000100 1700000160 - - - - SKIPDATA",
        ]
    );
    assert_eq!(
        engine.stats().skipped_flows,
        2,
        "two flows did not fit the second interval's table"
    );
}

/// Inputs the fuzzer found (`testdata/fuzz/`, each named for what it holds): each is read to a
/// clean error naming where, never a panic.
#[test]
fn fuzzer_findings_are_clean_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz");
    // (file, what the error says)
    let cases = [
        ("pcapng-time-past-9999", "is past the year 9999"),
        (
            "pcapng-block-shorter-than-12",
            "is below pcapng's least, 12",
        ),
    ];
    for (name, said) in cases {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let err = vpcflow_capture::pcap::read_frames(&bytes[..], &mut |_, _| {}, &mut |_, _| {})
            .expect_err(name);
        assert!(err.to_string().contains(said), "{name}: {err}");
    }
}
