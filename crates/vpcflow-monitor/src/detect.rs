//! Detections on flow records, in the spirit of GuardDuty's flow-log findings
//! (`reference/query.md` §4.3). GuardDuty publishes what each finding means, not its thresholds;
//! these are ours, each a constant below with the reason for its value. Records are read in
//! 10-minute windows of their `start` (GuardDuty's own aggregation is of that order), per
//! source or per ENI, and every finding carries its evidence: the counts that crossed the
//! threshold and up to [`EVIDENCE`] of the records. Only flows a client began count (its source
//! port above its destination port, an ephemeral port towards a service): a reply, from the
//! service's port back to the client's ephemeral one, is not a new connection (a database's
//! replies reach hundreds of a client's ports; a load balancer's responses are not egress it
//! chose to send).
//!
//! - **Vertical port scan** (`Recon:EC2/Portscan`): one source reaches [`SCAN_PORTS`] or more
//!   distinct ports of one address in a window, most of them REJECTed. A client uses a handful
//!   of ports on a server; nmap's default probe is the top 1 000 ports.
//! - **Horizontal sweep** (`Recon:EC2/PortProbeUnprotectedPort`, many hosts): one outside
//!   source reaches [`SWEEP_HOSTS`] or more distinct addresses of the VPC on one port in a
//!   window. Normal clients reach the one or two load balancers of a service.
//! - **SSH / RDP brute force** (`UnauthorizedAccess:EC2/SSHBruteForce`, `RDPBruteForce`): one
//!   source opens [`BRUTE_FORCE_FLOWS`] or more connections to port 22 or 3389 of one address in
//!   a window. An administrator opens a few sessions an hour; password guessing opens one per
//!   try.
//! - **Unusual egress volume** (`Exfiltration:S3/…`'s network cousin,
//!   `Behavior:EC2/TrafficVolumeUnusual`): an ENI sends more bytes to public addresses in a
//!   window than [`EGRESS_FACTOR`] times its own average window (learned over at least
//!   [`BASELINE_WINDOWS`] windows) and at least [`EGRESS_FLOOR`] bytes, so that a quiet ENI's
//!   first update download is not exfiltration.
//! - **Traffic to an unusual port** (`Behavior:EC2/NetworkPortUnusual`): after its first
//!   [`BASELINE_WINDOWS`] windows, an ENI's accepted outbound flow to a public address on a
//!   port it has not used before and that is not one of [`COMMON_PORTS`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// The window records are counted in (seconds).
pub const WINDOW_S: u64 = 600;
/// Distinct ports of one address from one source that make a vertical scan.
pub const SCAN_PORTS: usize = 100;
/// Distinct addresses on one port from one outside source that make a sweep.
pub const SWEEP_HOSTS: usize = 4;
/// Connections to 22 or 3389 of one address from one source that make a brute force.
pub const BRUTE_FORCE_FLOWS: usize = 20;
/// How many times its average window an ENI's egress must be.
pub const EGRESS_FACTOR: f64 = 10.0;
/// The least egress (bytes in a window) that can be unusual.
pub const EGRESS_FLOOR: u64 = 10_000_000;
/// Windows an ENI is watched before its baseline counts.
pub const BASELINE_WINDOWS: usize = 3;
/// Ports outbound traffic commonly uses, never unusual.
pub const COMMON_PORTS: &[u16] = &[22, 25, 53, 80, 123, 443, 465, 587, 993, 8080, 8443];
/// The most evidence records a finding keeps.
pub const EVIDENCE: usize = 20;

/// One flow record, as the detections read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// The ENI that recorded it.
    pub eni: String,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 when none).
    pub src_port: u16,
    /// Destination port (0 when none).
    pub dst_port: u16,
    /// Protocol number.
    pub protocol: u8,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Start (epoch s).
    pub start: u64,
    /// Whether it was ACCEPTed.
    pub accepted: bool,
    /// The record as its log event reads.
    pub line: String,
}

/// Which detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Vertical port scan.
    PortScan,
    /// Horizontal sweep.
    Sweep,
    /// SSH or RDP brute force.
    BruteForce,
    /// Unusual egress volume.
    UnusualEgress,
    /// Traffic to an unusual port.
    UnusualPort,
}

impl Kind {
    /// The finding type, GuardDuty's name where it has one.
    pub fn finding_type(self) -> &'static str {
        match self {
            Kind::PortScan => "Recon:EC2/Portscan",
            Kind::Sweep => "Recon:EC2/PortSweep",
            Kind::BruteForce => "UnauthorizedAccess:EC2/BruteForce",
            Kind::UnusualEgress => "Behavior:EC2/TrafficVolumeUnusual",
            Kind::UnusualPort => "Behavior:EC2/NetworkPortUnusual",
        }
    }

    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::PortScan,
        Kind::Sweep,
        Kind::BruteForce,
        Kind::UnusualEgress,
        Kind::UnusualPort,
    ];
}

/// A finding, with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Which detection.
    pub kind: Kind,
    /// The window's start (epoch s).
    pub window: u64,
    /// What it is about: the source, or the ENI.
    pub subject: String,
    /// Its target: the address, the port or the destination.
    pub target: String,
    /// One sentence.
    pub summary: String,
    /// The counts that crossed the threshold, by name.
    pub counts: BTreeMap<String, f64>,
    /// Up to [`EVIDENCE`] records.
    pub evidence: Vec<String>,
}

impl Finding {
    /// The finding as JSON: `vpcflow findings --output json` prints it, and a notification of
    /// it carries it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.key(),
            "type": self.kind.finding_type(),
            "window": self.window,
            "subject": self.subject,
            "target": self.target,
            "summary": self.summary,
            "counts": self.counts,
            "evidence": self.evidence,
        })
    }

    /// A stable id: the same finding found again is the same finding.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.kind.finding_type(),
            self.window,
            self.subject,
            self.target
        )
    }
}

/// Whether an address is outside private space (a public address).
fn public(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => {
            !(v.is_private() || v.is_loopback() || v.is_link_local() || v.is_unspecified())
        }
        IpAddr::V6(v) => {
            let first = v.segments()[0];
            !(v.is_loopback()
                || v.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Runs every detection over `flows` (any order); findings by window, kind, subject.
pub fn detect(flows: &[Flow]) -> Vec<Finding> {
    let mut by_window: BTreeMap<u64, Vec<&Flow>> = BTreeMap::new();
    for f in flows.iter().filter(|f| f.src_port > f.dst_port) {
        by_window
            .entry(f.start / WINDOW_S * WINDOW_S)
            .or_default()
            .push(f);
    }
    let mut out = Vec::new();
    let mut egress = Baselines::default();
    for (&window, flows) in &by_window {
        out.extend(scans(window, flows));
        out.extend(sweeps(window, flows));
        out.extend(brute_force(window, flows));
        out.extend(egress.window(window, flows));
    }
    out.sort_by(|a, b| {
        (a.window, a.kind, &a.subject, &a.target).cmp(&(b.window, b.kind, &b.subject, &b.target))
    });
    out
}

fn evidence(flows: &[&Flow]) -> Vec<String> {
    flows
        .iter()
        .take(EVIDENCE)
        .map(|f| f.line.clone())
        .collect()
}

fn counts(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Inbound records of a window: each connection counted once, at the ENI that received it (its
/// destination), so that a flow seen at two ENIs is not counted twice.
fn grouped<'f, K: Ord>(
    flows: &[&'f Flow],
    key: impl Fn(&Flow) -> Option<K>,
) -> BTreeMap<K, Vec<&'f Flow>> {
    let mut out: BTreeMap<K, Vec<&Flow>> = BTreeMap::new();
    for f in flows {
        if let Some(k) = key(f) {
            out.entry(k).or_default().push(f);
        }
    }
    out
}

fn scans(window: u64, flows: &[&Flow]) -> Vec<Finding> {
    let pairs = grouped(flows, |f| {
        matches!(f.protocol, 6 | 17).then_some((f.src, f.dst))
    });
    let mut out = Vec::new();
    for ((src, dst), fs) in pairs {
        let ports: BTreeSet<u16> = fs.iter().map(|f| f.dst_port).collect();
        let rejected = fs.iter().filter(|f| !f.accepted).count();
        if ports.len() >= SCAN_PORTS && rejected * 2 > fs.len() {
            out.push(Finding {
                kind: Kind::PortScan,
                window,
                subject: src.to_string(),
                target: dst.to_string(),
                summary: format!(
                    "{src} probed {} ports of {dst} in 10 minutes ({rejected} of {} flows REJECTed)",
                    ports.len(),
                    fs.len()
                ),
                counts: counts(&[
                    ("distinctPorts", ports.len() as f64),
                    ("flows", fs.len() as f64),
                    ("rejected", rejected as f64),
                ]),
                evidence: evidence(&fs),
            });
        }
    }
    out
}

fn sweeps(window: u64, flows: &[&Flow]) -> Vec<Finding> {
    let pairs = grouped(flows, |f| {
        (public(f.src) && !public(f.dst) && matches!(f.protocol, 6 | 17))
            .then_some((f.src, f.dst_port))
    });
    let mut out = Vec::new();
    for ((src, port), fs) in pairs {
        let hosts: BTreeSet<IpAddr> = fs.iter().map(|f| f.dst).collect();
        if hosts.len() >= SWEEP_HOSTS {
            out.push(Finding {
                kind: Kind::Sweep,
                window,
                subject: src.to_string(),
                target: format!("port {port}"),
                summary: format!(
                    "{src} reached {} addresses of the VPC on port {port} in 10 minutes",
                    hosts.len()
                ),
                counts: counts(&[
                    ("distinctHosts", hosts.len() as f64),
                    ("flows", fs.len() as f64),
                ]),
                evidence: evidence(&fs),
            });
        }
    }
    out
}

fn brute_force(window: u64, flows: &[&Flow]) -> Vec<Finding> {
    let pairs = grouped(flows, |f| {
        (f.protocol == 6 && matches!(f.dst_port, 22 | 3389)).then_some((f.src, f.dst, f.dst_port))
    });
    let mut out = Vec::new();
    for ((src, dst, port), fs) in pairs {
        // Each connection is recorded at the client's ENI and the server's: count one ENI's.
        let enis: BTreeSet<&str> = fs.iter().map(|f| f.eni.as_str()).collect();
        let per_eni = enis
            .iter()
            .map(|e| fs.iter().filter(|f| f.eni == *e).count())
            .max()
            .unwrap_or(0);
        if per_eni >= BRUTE_FORCE_FLOWS {
            let what = if port == 22 { "SSH" } else { "RDP" };
            out.push(Finding {
                kind: Kind::BruteForce,
                window,
                subject: src.to_string(),
                target: format!("{dst}:{port}"),
                summary: format!(
                    "{src} opened {per_eni} {what} connections to {dst} in 10 minutes"
                ),
                counts: counts(&[("connections", per_eni as f64)]),
                evidence: evidence(&fs),
            });
        }
    }
    out
}

/// What each ENI's egress and outbound ports were, window after window.
#[derive(Default)]
struct Baselines {
    /// ENI → egress bytes of each window seen.
    egress: HashMap<String, Vec<u64>>,
    /// ENI → ports used outbound to public addresses while learning.
    ports: HashMap<String, BTreeSet<u16>>,
    /// (ENI, port) already reported.
    reported: BTreeSet<(String, u16)>,
}

impl Baselines {
    /// The egress and unusual-port findings of a window, then the window learned.
    fn window(&mut self, window: u64, flows: &[&Flow]) -> Vec<Finding> {
        let outbound: Vec<&Flow> = flows
            .iter()
            .copied()
            .filter(|f| !public(f.src) && public(f.dst))
            .collect();
        let by_eni = grouped(&outbound, |f| Some(f.eni.clone()));
        let mut out = Vec::new();
        let seen: Vec<String> = self.egress.keys().cloned().collect();
        for eni in by_eni.keys().chain(seen.iter()).collect::<BTreeSet<_>>() {
            let fs = by_eni.get(eni).cloned().unwrap_or_default();
            let bytes: u64 = fs.iter().map(|f| f.bytes).sum();
            let history = self.egress.entry(eni.clone()).or_default();
            if history.len() >= BASELINE_WINDOWS {
                let mean = history.iter().sum::<u64>() as f64 / history.len() as f64;
                if bytes >= EGRESS_FLOOR && bytes as f64 > EGRESS_FACTOR * mean.max(1.0) {
                    let mut top = fs.clone();
                    top.sort_by_key(|f| std::cmp::Reverse(f.bytes));
                    out.push(Finding {
                        kind: Kind::UnusualEgress,
                        window,
                        subject: eni.clone(),
                        target: "public addresses".into(),
                        summary: format!(
                            "{eni} sent {bytes} bytes to public addresses in 10 minutes, {:.0}× its average of {mean:.0}",
                            bytes as f64 / mean.max(1.0)
                        ),
                        counts: counts(&[("bytes", bytes as f64), ("baselineMean", mean), ("baselineWindows", history.len() as f64)]),
                        evidence: evidence(&top),
                    });
                }
            }
            let learning = history.len() < BASELINE_WINDOWS;
            history.push(bytes);
            let ports = self.ports.entry(eni.clone()).or_default();
            for f in fs
                .iter()
                .filter(|f| f.accepted && matches!(f.protocol, 6 | 17))
            {
                if learning {
                    ports.insert(f.dst_port);
                } else if !ports.contains(&f.dst_port)
                    && !COMMON_PORTS.contains(&f.dst_port)
                    && self.reported.insert((eni.clone(), f.dst_port))
                {
                    let same: Vec<&Flow> = fs
                        .iter()
                        .copied()
                        .filter(|g| g.dst_port == f.dst_port)
                        .collect();
                    out.push(Finding {
                        kind: Kind::UnusualPort,
                        window,
                        subject: eni.clone(),
                        target: format!("{}:{}", f.dst, f.dst_port),
                        summary: format!(
                            "{eni} talked to {} on port {}, a port it had not used and not a common one",
                            f.dst, f.dst_port
                        ),
                        counts: counts(&[("flows", same.len() as f64), ("bytes", same.iter().map(|g| g.bytes as f64).sum())]),
                        evidence: evidence(&same),
                    });
                }
            }
        }
        out
    }
}

/// A finding as an OCSF Detection Finding event (class 2004, category Findings 2), as Security
/// Lake stores GuardDuty's.
pub fn to_ocsf(f: &Finding, account: &str, region: &str) -> serde_json::Value {
    serde_json::json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "severity_id": match f.kind {
            Kind::PortScan | Kind::Sweep => 2,
            Kind::BruteForce | Kind::UnusualPort => 3,
            Kind::UnusualEgress => 4,
        },
        "time": f.window * 1000,
        "finding_info": {
            "uid": f.key(),
            "title": f.kind.finding_type(),
            "desc": f.summary,
            "types": [f.kind.finding_type()],
        },
        "cloud": {"provider": "AWS", "account": {"uid": account}, "region": region},
        "evidences": f.evidence.iter().map(|l| serde_json::json!({"data": {"flow_record": l}})).collect::<Vec<_>>(),
        "unmapped": {"counts": f.counts},
        "metadata": {"product": {"name": "vpcflow", "vendor_name": "vpcflow"}, "version": "1.1.0"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(
        eni: &str,
        src: &str,
        dst: &str,
        port: u16,
        bytes: u64,
        start: u64,
        accepted: bool,
    ) -> Flow {
        Flow {
            eni: eni.into(),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: 40000,
            dst_port: port,
            protocol: 6,
            packets: 1,
            bytes,
            start,
            accepted,
            line: format!("{eni} {src} {dst} {port}"),
        }
    }

    #[test]
    fn each_rule_at_its_threshold() {
        let scan: Vec<Flow> = (1..=SCAN_PORTS as u16)
            .map(|p| flow("eni-a", "203.0.113.9", "10.0.1.10", p, 40, 0, false))
            .collect();
        assert_eq!(
            detect(&scan).iter().map(|f| f.kind).collect::<Vec<_>>(),
            [Kind::PortScan]
        );
        assert!(detect(&scan[1..]).is_empty(), "one port short");
        let sweep: Vec<Flow> = (0..SWEEP_HOSTS)
            .map(|h| {
                flow(
                    "eni-a",
                    "203.0.113.9",
                    &format!("10.0.1.{h}"),
                    22,
                    40,
                    0,
                    false,
                )
            })
            .collect();
        assert_eq!(
            detect(&sweep).iter().map(|f| f.kind).collect::<Vec<_>>(),
            [Kind::Sweep]
        );
        assert!(detect(&sweep[1..]).is_empty());
        let brute: Vec<Flow> = (0..BRUTE_FORCE_FLOWS as u64)
            .map(|i| flow("eni-b", "203.0.113.9", "10.0.1.30", 22, 40, i, false))
            .collect();
        assert_eq!(
            detect(&brute).iter().map(|f| f.kind).collect::<Vec<_>>(),
            [Kind::BruteForce]
        );
        assert!(detect(&brute[1..]).is_empty());
    }

    #[test]
    fn egress_and_ports_against_the_enis_own_baseline() {
        let mut flows: Vec<Flow> = (0..BASELINE_WINDOWS as u64)
            .map(|w| {
                flow(
                    "eni-app",
                    "10.0.11.10",
                    "93.184.216.34",
                    443,
                    1_000_000,
                    w * WINDOW_S,
                    true,
                )
            })
            .collect();
        let later = BASELINE_WINDOWS as u64 * WINDOW_S;
        flows.push(flow(
            "eni-app",
            "10.0.11.10",
            "185.100.87.41",
            443,
            11_000_001,
            later,
            true,
        ));
        flows.push(flow(
            "eni-app",
            "10.0.11.10",
            "198.51.100.99",
            6667,
            500,
            later,
            true,
        ));
        flows.push(flow(
            "eni-app",
            "10.0.11.10",
            "198.51.100.99",
            6667,
            500,
            later + 1,
            true,
        ));
        let kinds: Vec<Kind> = detect(&flows).iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [Kind::UnusualEgress, Kind::UnusualPort],
            "one port finding per ENI and port"
        );
        flows.pop();
        flows.pop();
        flows.last_mut().unwrap().bytes = 9_000_000;
        assert!(detect(&flows).is_empty(), "under the floor");
    }

    #[test]
    fn findings_map_to_ocsf() {
        let scan: Vec<Flow> = (1..=SCAN_PORTS as u16)
            .map(|p| flow("eni-a", "203.0.113.9", "10.0.1.10", p, 40, 0, false))
            .collect();
        let f = &detect(&scan)[0];
        let o = to_ocsf(f, "123456789012", "us-east-1");
        assert_eq!(o["class_uid"], 2004);
        assert_eq!(o["finding_info"]["types"][0], "Recon:EC2/Portscan");
        assert_eq!(o["evidences"].as_array().unwrap().len(), EVIDENCE);
    }
}
