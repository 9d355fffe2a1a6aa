//! Real captures decode without error, and their packet and IP-byte totals match tshark's.
//!
//! The captures are the 18 Wireshark sample files the `pdu` crate ships in `tests/pcaps` (a
//! dev-dependency only so that cargo fetches them); tshark's totals are data in
//! `testdata/real-pcaps.tsv`, written by `tests/independent/tshark_totals.py`.

use std::path::PathBuf;

use vpcflow_capture::decode::Decoder;
use vpcflow_capture::pcap::read_frames;

/// `$CARGO_HOME/registry/src/*/pdu-1.5.1/tests/pcaps`.
fn pdu_pcaps() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let src = home.join("registry/src");
    std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
        .map(|e| e.unwrap().path().join("pdu-1.5.1/tests/pcaps"))
        .find(|p| p.is_dir())
        .expect("the pdu crate's captures (a dev-dependency) are in the cargo registry")
}

#[test]
fn real_captures_match_tsharks_totals() {
    let dir = pdu_pcaps();
    let expected = include_str!("../testdata/real-pcaps.tsv");
    let mut checked = 0;
    for line in expected.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, frames, packets, bytes): (&str, u64, u64, u64) = (
            cols[0],
            cols[1].parse().unwrap(),
            cols[2].parse().unwrap(),
            cols[3].parse().unwrap(),
        );
        let file = std::fs::File::open(dir.join(name)).unwrap();
        let mut decoder = Decoder::new();
        let (mut got_packets, mut got_bytes) = (0u64, 0u64);
        let n = read_frames(file, &mut |_, _| {}, &mut |meta, data| {
            if let Some(d) = meta.link.and_then(|l| decoder.decode(l, data)) {
                got_packets += 1;
                got_bytes += u64::from(d.ip_len);
            }
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (n, got_packets, got_bytes),
            (frames, packets, bytes),
            "{name}: frames, IP packets, IP bytes"
        );
        checked += 1;
    }
    assert_eq!(checked, 18);
}

/// Hands out at most `n` bytes per read, so that frames straddle the reader's refills.
struct Trickle<R>(R, usize);

impl<R: std::io::Read> std::io::Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn frames_straddling_reads_decode_the_same() {
    // Whole reads take the in-buffer fast path; trickled reads take the copying one.
    let file = pdu_pcaps().join("TCP_SACK.pcap");
    let totals = |chunk: usize| {
        let mut decoder = Decoder::new();
        let (mut packets, mut bytes) = (0u64, 0u64);
        let input = Trickle(std::fs::File::open(&file).unwrap(), chunk);
        let frames = read_frames(input, &mut |_, _| {}, &mut |meta, data| {
            if let Some(d) = meta.link.and_then(|l| decoder.decode(l, data)) {
                packets += 1;
                bytes += u64::from(d.ip_len);
            }
        })
        .unwrap();
        (frames, packets, bytes)
    };
    let whole = totals(usize::MAX);
    assert_eq!(whole, (39, 39, 26942), "tshark's totals for this file");
    for chunk in [1, 7, 100, 1500] {
        assert_eq!(totals(chunk), whole, "reads of {chunk} bytes");
    }
}
