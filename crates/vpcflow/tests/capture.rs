//! `vpcflow capture --pcap` through the real binary.

mod common;

use common::{ok, vpcflow};

use std::process::Command;

/// One Ethernet/IPv4/TCP SYN from app-1 (10.0.11.10) to db-primary (10.0.21.10):5432, as a pcap.
fn one_syn_pcap() -> Vec<u8> {
    let mut ip = vec![
        0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 11, 10, 10, 0, 21, 10,
    ];
    ip.extend([
        0x9c, 0x40, 0x15, 0x38, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    frame.extend(ip);
    let mut out = Vec::new();
    for v in [
        0xa1b2c3d4u32.to_le_bytes().to_vec(),
        2u16.to_le_bytes().to_vec(),
        4u16.to_le_bytes().to_vec(),
        vec![0; 8],
    ] {
        out.extend(v);
    }
    out.extend(65535u32.to_le_bytes());
    out.extend(1u32.to_le_bytes());
    out.extend(1_700_000_041u32.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.extend((frame.len() as u32).to_le_bytes());
    out.extend((frame.len() as u32).to_le_bytes());
    out.extend(frame);
    out
}

/// A capture of the one SYN at each of `times` (epoch seconds).
fn syns_at(times: &[u32]) -> Vec<u8> {
    let one = one_syn_pcap();
    let frame = &one[24 + 16..];
    let mut pcap = one[..24].to_vec();
    for t in times {
        pcap.extend(t.to_le_bytes());
        pcap.extend(0u32.to_le_bytes());
        pcap.extend((frame.len() as u32).to_le_bytes());
        pcap.extend((frame.len() as u32).to_le_bytes());
        pcap.extend(frame);
    }
    pcap
}

#[test]
fn a_pcap_becomes_records_and_bad_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("syn.pcap");
    std::fs::write(&p, one_syn_pcap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args([
            "capture",
            "--stdout",
            "--pcap",
            p.to_str().unwrap(),
            "--format",
            "interface-id srcaddr dstaddr dstport tcp-flags action flow-direction",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("eni-0a0000000000000a2 10.0.11.10 10.0.21.10 5432 2 ACCEPT egress\n"),
        "{text}"
    );
    assert!(
        text.contains("eni-0a0000000000000a4 10.0.11.10 10.0.21.10 5432 2 ACCEPT ingress\n"),
        "{text}"
    );
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"definitely not a capture").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(["capture", "--stdout", "--pcap", junk.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!("error: {}: not a pcap or pcapng file\n", junk.display())
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args([
            "capture",
            "--stdout",
            "--pcap",
            p.to_str().unwrap(),
            "--eni",
            "ghost",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: --eni 'ghost': no such ENI in builtin:three-tier\n"
    );
}

#[test]
fn another_capture_of_the_same_name_and_size_is_delivered_too() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("syn.pcap");
    let data = dir.path().join("data");
    let deliver = || {
        ok(&vpcflow(&[
            "capture",
            "--pcap",
            p.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ]))
    };
    std::fs::write(&p, one_syn_pcap()).unwrap();
    deliver();
    // The same bytes again: delivered once.
    assert!(deliver().contains("delivered by an earlier run"));
    // Another capture under the same name, of the same size: the SYN to 3306 instead of 5432.
    let other: Vec<u8> = {
        let mut b = one_syn_pcap();
        let at = b.len() - 18;
        assert_eq!(b[at..at + 2], [0x15, 0x38], "the destination port");
        b[at..at + 2].copy_from_slice(&3306u16.to_be_bytes());
        b
    };
    assert_eq!(other.len(), one_syn_pcap().len());
    std::fs::write(&p, other).unwrap();
    let report = deliver();
    assert!(!report.contains("delivered by an earlier run"), "{report}");
    let events = ok(&vpcflow(&[
        "logs",
        "tail",
        "/vpcflow/flow-logs",
        "--data",
        data.to_str().unwrap(),
    ]));
    for port in [" 5432 ", " 3306 "] {
        assert!(events.contains(port), "{port}: {events}");
    }
}

#[test]
fn a_long_quiet_gap_costs_its_records_not_memory() {
    // Two SYNs thirty days apart: 43 200 one-minute intervals between them, each a NODATA record.
    let pcap = syns_at(&[1_700_000_041, 1_700_000_041 + 30 * 86_400]);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gap.pcap");
    std::fs::write(&p, pcap).unwrap();
    // Under a 1 GB address-space limit (it took 3.7 GB of memory before).
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1000000 && exec {} capture --pcap {} --stdout --interval 60 --eni app-1",
            env!("CARGO_BIN_EXE_vpcflow"),
            p.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let nodata = text.lines().filter(|l| l.ends_with(" NODATA")).count();
    assert_eq!(nodata, 43_199, "every quiet minute between the two");
    assert_eq!(text.lines().filter(|l| l.ends_with(" OK")).count(), 2);
}

/// A packet at time 0 before one of today: decades of quiet minutes, NODATA records made as
/// they are read, never held (the gap's intervals were built before the first was printed, some
/// 4 GB). The first records are read under a 1 GB limit, then the reader stops.
#[test]
fn a_packet_at_time_zero_streams_its_quiet_decades() {
    let pcap = syns_at(&[0, 1_700_000_041]);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("zero.pcap");
    std::fs::write(&p, pcap).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; ulimit -v 1000000 && {} capture --pcap {} --stdout --interval 60 \
             --eni app-1 | head -n 100001",
            env!("CARGO_BIN_EXE_vpcflow"),
            p.display()
        ))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!e.contains("memory allocation"), "{e}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 100_000, "{e}");
    assert!(lines[0].ends_with(" 0 0 ACCEPT OK"), "{}", lines[0]);
    // Then one NODATA per quiet minute, in order.
    for (i, l) in lines[1..].iter().enumerate() {
        let start = 60 * (i as u64 + 1);
        assert!(
            l.ends_with(&format!(" {start} {} - NODATA", start + 60)),
            "{l}"
        );
    }
}

#[test]
fn a_capture_cut_short_keeps_its_good_packets_and_says_where_it_ends() {
    // Two whole SYNs, then half of a third record.
    let one = one_syn_pcap();
    let record = &one[24..];
    let mut pcap = one.clone();
    pcap.extend(record);
    pcap.extend(&record[..record.len() / 2]);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.pcap");
    std::fs::write(&p, pcap).unwrap();
    let out = vpcflow(&[
        "capture",
        "--pcap",
        p.to_str().unwrap(),
        "--stdout",
        "--eni",
        "app-1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("truncated after packet 2; the 2 packets before it were printed"),
        "{e}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let syns: Vec<&str> = text.lines().filter(|l| l.contains(" 5432 ")).collect();
    assert_eq!(syns.len(), 1, "{text}");
    assert!(
        syns[0].contains(" 6 2 80 "),
        "both SYNs in one record: {text}"
    );
    // Delivered the same way: the good packets reach the flow logs, the run ends in error.
    let data = dir.path().join("data");
    let out = vpcflow(&[
        "capture",
        "--pcap",
        p.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("were delivered"));
    let events = ok(&vpcflow(&[
        "logs",
        "tail",
        "/vpcflow/flow-logs",
        "--data",
        data.to_str().unwrap(),
    ]));
    assert!(events.contains(" 5432 6 2 80 "), "{events}");
}

#[test]
fn a_damaged_pcapng_is_described_not_dumped() {
    let trace = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/trace.pcapng");
    let mut bytes = std::fs::read(trace).unwrap();
    bytes[32] ^= 0x40;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("damaged.pcapng");
    std::fs::write(&p, bytes).unwrap();
    let out = vpcflow(&["capture", "--pcap", p.to_str().unwrap(), "--stdout"]);
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("damaged after packet 0: a block does not parse"),
        "{e}"
    );
    assert!(!e.contains("Nom") && !e.contains("parser error"), "{e}");
}
