//! A simulated hour of builtin:three-tier with the default scenario: deterministic, and every
//! scenario leaves its evidence in the records.

use std::net::IpAddr;
use std::sync::Arc;

use vpcflow_capture::{EngineConfig, FlowEngine, Scenario, SimConfig, Simulator};
use vpcflow_net::{Network, builtin};
use vpcflow_record::{Action, FlowDirection, FlowRecord, LogFormat, LogStatus, TrafficPath, text};

const START: u64 = 1_768_485_600; // 2026-01-15T14:00:00Z

fn simulate(seed: u64, interval: u64, duration: u64) -> (Arc<Network>, Vec<FlowRecord>, u64) {
    let net = Arc::new(builtin::load("builtin:three-tier").unwrap());
    let scenario = Scenario::load("default").unwrap().resolve(&net).unwrap();
    let engine = FlowEngine::new(
        Arc::clone(&net),
        EngineConfig {
            interval_secs: interval,
            ..EngineConfig::default()
        },
    )
    .unwrap();
    let mut sim = Simulator::new(
        engine,
        &scenario,
        &SimConfig {
            start: START,
            duration,
            seed,
        },
    );
    let mut out = Vec::new();
    sim.run(&mut |r| out.push(r));
    let never = sim.engine().stats().never_logged;
    (net, out, never)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_same_seed_gives_the_same_records() {
    let format = LogFormat::from_header("interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end tcp-flags action log-status").unwrap();
    let text_of = |recs: &[FlowRecord]| {
        recs.iter()
            .map(|r| text::encode(&format, r))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (_, a, _) = simulate(7, 600, 3600);
    let (_, b, _) = simulate(7, 600, 3600);
    let (_, c, _) = simulate(8, 600, 3600);
    assert_eq!(text_of(&a), text_of(&b));
    assert_ne!(text_of(&a), text_of(&c), "another seed gives other traffic");
}

#[test]
fn every_scenario_is_visible_in_an_hour_of_records() {
    let (net, recs, never_logged) = simulate(1, 600, 3600);
    let eni = |name: &str| net.enis[net.eni_by_name(name).unwrap()].id.clone();
    let on = |name: &str| {
        let id = eni(name);
        recs.iter()
            .filter(move |r| r.interface_id.as_deref() == Some(id.as_str()))
            .collect::<Vec<_>>()
    };
    let flags = |r: &FlowRecord| r.tcp_flags.map(|f| f.0);
    let ok: Vec<_> = recs
        .iter()
        .filter(|r| r.log_status == Some(LogStatus::Ok))
        .collect();

    // TCP flags: SYN alone (2) and SYN-ACK alone (18) in the records of long connections.
    assert!(
        ok.iter()
            .any(|r| flags(r) == Some(2) && r.action == Some(Action::Accept)),
        "a SYN-only ACCEPT record"
    );
    assert!(
        ok.iter().any(|r| flags(r) == Some(18)),
        "a SYN-ACK-only record"
    );
    assert!(ok.iter().any(|r| flags(r) == Some(19)) && ok.iter().any(|r| flags(r) == Some(3)));

    // Web load through the load balancers, app ↔ DB, replication.
    assert!(
        on("alb-a")
            .iter()
            .any(|r| r.dstport == Some(443) && r.action == Some(Action::Accept))
    );
    assert!(
        on("app-1")
            .iter()
            .any(|r| r.dstport == Some(8080) && r.flow_direction == Some(FlowDirection::Ingress))
    );
    assert!(on("db-primary").iter().any(|r| {
        r.dstport == Some(5432)
            && r.srcaddr
                .is_some_and(|a| a.to_string().starts_with("10.0.1"))
            && r.action == Some(Action::Accept)
    }));
    assert!(on("db-standby").iter().any(|r| r.dstport == Some(5432)
        && r.srcaddr == Some(ip("10.0.21.10"))
        && r.action == Some(Action::Accept)));

    // NAT egress: app → internet leaves the app by path 1, the NAT by the internet gateway (8).
    let nat = on("nat");
    assert!(
        nat.iter()
            .any(|r| r.flow_direction == Some(FlowDirection::Egress)
                && r.traffic_path == Some(TrafficPath::INTERNET_GATEWAY)
                && r.srcaddr == Some(ip("10.0.1.20")))
    );
    assert!(
        nat.iter()
            .any(|r| r.flow_direction == Some(FlowDirection::Ingress)
                && r.dstaddr == Some(ip("10.0.1.20"))
                && r.pkt_dstaddr != Some(ip("10.0.1.20")))
    );
    // Unsolicited inbound to the NAT gateway: ACCEPT at its ENI, nothing beyond.
    let unsolicited: Vec<_> = nat
        .iter()
        .filter(|r| {
            r.dstport.is_some_and(|p| (8000..=9000).contains(&p))
                && r.flow_direction == Some(FlowDirection::Ingress)
        })
        .collect();
    assert!(
        !unsolicited.is_empty() && unsolicited.iter().all(|r| r.action == Some(Action::Accept))
    );
    assert!(
        !recs
            .iter()
            .any(|r| r.srcport.is_some_and(|p| (8000..=9000).contains(&p))
                && r.flow_direction == Some(FlowDirection::Egress)
                && r.interface_id.as_deref() == Some(eni("nat").as_str()))
    );

    // Admin SSH accepted from the office; SSH and RDP from the internet rejected.
    let bastion = on("bastion");
    assert!(bastion.iter().any(|r| r.srcaddr == Some(ip("192.0.2.10"))
        && r.dstport == Some(22)
        && r.action == Some(Action::Accept)));
    assert!(bastion.iter().any(|r| r.srcaddr != Some(ip("192.0.2.10"))
        && r.dstport == Some(22)
        && r.action == Some(Action::Reject)));
    assert!(
        bastion
            .iter()
            .any(|r| r.dstport == Some(3389) && r.action == Some(Action::Reject))
    );

    // Ping: the ICMP asymmetry (ingress ACCEPT, the reply egress REJECT).
    assert!(bastion.iter().any(|r| r.protocol.map(|p| p.0) == Some(1)
        && r.flow_direction == Some(FlowDirection::Ingress)
        && r.action == Some(Action::Accept)));
    assert!(bastion.iter().any(|r| r.protocol.map(|p| p.0) == Some(1)
        && r.flow_direction == Some(FlowDirection::Egress)
        && r.action == Some(Action::Reject)));

    // Port scan: one source, hundreds of ports on one host, almost all REJECT.
    let scan: Vec<_> = recs
        .iter()
        .filter(|r| r.srcaddr == Some(ip("185.220.101.7")))
        .collect();
    let mut ports: Vec<_> = scan.iter().filter_map(|r| r.dstport).collect();
    ports.sort_unstable();
    ports.dedup();
    assert!(ports.len() > 900, "{} ports probed", ports.len());
    assert!(
        scan.iter()
            .filter(|r| r.action == Some(Action::Reject))
            .count()
            * 10
            > scan.len() * 9
    );
    // Horizontal sweep: one source, port 22, every public ENI.
    let mut swept: Vec<_> = recs
        .iter()
        .filter(|r| r.srcaddr == Some(ip("45.146.164.110")) && r.dstport == Some(22))
        .filter_map(|r| r.interface_id.clone())
        .collect();
    swept.sort();
    swept.dedup();
    assert_eq!(
        swept.len(),
        net.enis.iter().filter(|e| e.public_ip.is_some()).count()
    );

    // The wrong DB port: leaves the app, REJECTed at the database.
    assert!(
        on("db-primary")
            .iter()
            .any(|r| r.dstport == Some(3306) && r.action == Some(Action::Reject))
    );
    assert!(
        on("app-2")
            .iter()
            .any(|r| r.dstport == Some(3306) && r.action == Some(Action::Accept))
    );

    // Exfiltration: megabytes to one external address within a few minutes.
    let exfil: u64 = on("app-2")
        .iter()
        .filter(|r| r.dstaddr == Some(ip("185.100.87.41")))
        .filter_map(|r| r.bytes.map(|b| b.0))
        .sum();
    assert!(exfil > 10_000_000, "{exfil} bytes");

    // DNS and metadata: sent (the engine saw them) but never recorded.
    assert!(never_logged > 100);
    assert!(!recs.iter().any(|r| {
        [r.srcaddr, r.dstaddr, r.pkt_srcaddr, r.pkt_dstaddr]
            .iter()
            .any(|a| *a == Some(ip("10.0.0.2")) || *a == Some(ip("169.254.169.254")))
    }));
}

#[test]
fn scenario_problems_are_listed_together() {
    let net = builtin::load("builtin:three-tier").unwrap();
    let s = Scenario::from_toml(
        r#"
name = "broken"
[[traffic]]
name = "a"
protocol = "tcp"
from = "eni:nope"
to = "ip:10.0.11.10"
rate = 0
[[traffic]]
name = "b"
protocol = "udp"
from = "metadata"
to = "internet"
port = "9-1"
rate = 1
window = ["10m", "5m"]
"#,
        "broken.toml",
    )
    .unwrap();
    let problems = s.resolve(&net).unwrap_err();
    assert_eq!(
        problems,
        [
            "traffic[0] (a): no ENI named 'nope'",
            "traffic[0] (a): 'ip:10.0.11.10' is inside the VPC: name the ENI with eni:NAME",
            "traffic[0] (a): tcp and udp traffic needs a port",
            "traffic[0] (a): rate must be above 0 sessions per minute",
            "traffic[1] (b): port '9-1' is not N-M",
            "traffic[1] (b): window [10m, 5m] is not two increasing durations like \"40m\"",
            "traffic[1] (b): vpc-dns and metadata can only be destinations",
        ]
    );
}

/// An engine per aggregation interval, over `net`.
fn engines_of(net: &Arc<Network>, intervals: &[u64]) -> Vec<FlowEngine> {
    intervals
        .iter()
        .map(|&interval_secs| {
            FlowEngine::new(
                Arc::clone(net),
                EngineConfig {
                    interval_secs,
                    ..EngineConfig::default()
                },
            )
            .unwrap()
        })
        .collect()
}

/// A service paces the simulation slice by slice: the records, and the times at which every
/// engine has closed its intervals, are those of one whole run.
#[test]
fn a_run_in_slices_is_the_whole_run() {
    use vpcflow_capture::sim::Emit;
    let net = Arc::new(builtin::load("builtin:three-tier").unwrap());
    let scenario = Scenario::load("default").unwrap().resolve(&net).unwrap();
    let run = |slice: Option<u64>| {
        let engines = engines_of(&net, &[60, 600]);
        let builder = engines[0].builder();
        let config = SimConfig {
            start: START,
            duration: 1200,
            seed: 3,
        };
        let mut sim = Simulator::with_engines(engines, &scenario, &config);
        let mut out = Vec::new();
        let mut take = |e: Emit| match e {
            Emit::Records { engine, records } => out.extend(
                records
                    .iter()
                    .map(|r| format!("{engine} {:?}", builder.build(r))),
            ),
            Emit::Closed { until } => out.push(format!("closed {until}")),
        };
        if let Some(step) = slice {
            let mut t = START * 1_000_000;
            while t < sim.end_us() {
                t += step;
                sim.run_tagged_until(t, &mut take);
            }
        }
        sim.run_tagged(&mut take);
        out
    };
    let whole = run(None);
    assert!(whole.len() > 100);
    assert_eq!(run(Some(7_000_000)), whole);
    assert_eq!(run(Some(250_000)), whole);
}

/// Engines of several intervals fed together (policy evaluated once, in the first) give each
/// the records it gives alone, where it evaluates policy itself.
#[test]
fn engines_fed_together_give_what_each_gives_alone() {
    use vpcflow_capture::sim::Emit;
    let net = Arc::new(builtin::load("builtin:three-tier").unwrap());
    let scenario = Scenario::load("default").unwrap().resolve(&net).unwrap();
    let config = SimConfig {
        start: START,
        duration: 1800,
        seed: 11,
    };
    let run = |intervals: &[u64]| -> Vec<Vec<String>> {
        let engines = engines_of(&net, intervals);
        let builder = engines[0].builder();
        let mut sim = Simulator::with_engines(engines, &scenario, &config);
        let mut out = vec![Vec::new(); intervals.len()];
        sim.run_tagged(&mut |e| {
            if let Emit::Records { engine, records } = e {
                out[engine].extend(records.iter().map(|r| format!("{:?}", builder.build(r))));
            }
        });
        out
    };
    let together = run(&[60, 600]);
    assert!(together[1].len() > 100);
    assert_eq!(together[0], run(&[60])[0]);
    assert_eq!(together[1], run(&[600])[0]);
}
