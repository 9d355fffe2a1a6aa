//! Traffic for a network nobody described: scenario entries derived from the topology itself,
//! for the VPCs a scenario names no ENI of (a VPC made through the EC2 API, a topology file
//! without a scenario of its own).
//!
//! Owns what "plausible" means here, from the rules and routes alone:
//! * clients for every port a security group opens: internet clients where the rule admits
//!   the internet and the ENI has a public address, the ENIs of the admitted block or group
//!   otherwise;
//! * instances reaching the internet (HTTPS and DNS to outside hosts) where a route leads to an
//!   internet or NAT gateway, and pinging each other across subnets;
//! * internet background noise: scanners probing every public ENI's low ports, and the ports a
//!   network ACL denies.
//!
//! The entries are ordinary [`Traffic`] with ENIs named by id, resolved like any scenario's,
//! named `derived:…` uniquely and in a fixed order, so the same network derives the same
//! traffic on every run.

use std::collections::BTreeSet;
use std::net::IpAddr;

use vpcflow_net::Network;
use vpcflow_net::model::EniType;
use vpcflow_net::network::{Peer, RouteTarget};

use crate::scenario::{Endpoints, PortSpec, Proto, Scenario, Traffic};

/// Outside hosts instances reach: a web service (HTTPS) and a public resolver (DNS).
const OUTSIDE_WEB: &str = "ip:52.94.236.248";
const OUTSIDE_DNS: &str = "ip:8.8.8.8";

/// Sessions a minute of each kind of entry: enough that the first 60 s interval of a new
/// network has ACCEPT and REJECT records.
const CLIENT_RATE: f64 = 6.0;
const EGRESS_RATE: f64 = 4.0;
const PING_RATE: f64 = 2.0;
const SCAN_RATE: f64 = 6.0;

/// The VPCs (by index) that `scenario` names no ENI of (`eni:NAME`, `public:NAME`; a
/// wildcard such as `public:*` names none).
pub fn uncovered(net: &Network, scenario: &Scenario) -> Vec<usize> {
    let named: BTreeSet<usize> = scenario
        .traffic
        .iter()
        .flat_map(|t| t.from.specs().into_iter().chain(t.to.specs()))
        .filter_map(|spec| {
            let name = spec
                .strip_prefix("eni:")
                .or_else(|| spec.strip_prefix("public:"))
                .filter(|n| *n != "*")?;
            net.eni_by_name(name).map(|e| net.enis[e].vpc)
        })
        .collect();
    (0..net.vpcs.len()).filter(|v| !named.contains(v)).collect()
}

fn entry(name: String, protocol: Proto, from: Vec<String>, to: Vec<String>) -> Traffic {
    Traffic {
        name,
        protocol,
        from: Endpoints::Many(from),
        to: Endpoints::Many(to),
        port: None,
        rate: CLIENT_RATE,
        diurnal: false,
        clients: 50,
        request_packets: [2, 6],
        response_packets: [2, 10],
        packet_bytes: [60, 1400],
        gap_ms: 1,
        scan: false,
        sweep: false,
        window: None,
    }
}

fn eni_spec(net: &Network, e: usize) -> String {
    format!("eni:{}", net.enis[e].id)
}

/// Whether a block admits internet clients (it holds a public address).
fn admits_internet(cidrs: &[ipnet::IpNet]) -> bool {
    cidrs.iter().any(|c| match c {
        ipnet::IpNet::V4(n) => n.prefix_len() == 0 || !n.network().is_private(),
        ipnet::IpNet::V6(_) => false,
    })
}

/// Whether `eni`'s subnet routes the internet to an internet or NAT gateway.
fn reaches_internet(net: &Network, eni: usize) -> bool {
    let outside: IpAddr = OUTSIDE_WEB
        .trim_start_matches("ip:")
        .parse()
        .expect("an address");
    matches!(net.route(eni, outside), Some(RouteTarget::Gateway(_)))
}

/// The entries derived for the VPCs `vpcs` of `net`.
pub fn traffic(net: &Network, vpcs: &[usize]) -> Vec<Traffic> {
    let mut out = Vec::new();
    let instances: Vec<usize> = (0..net.enis.len())
        .filter(|&e| vpcs.contains(&net.enis[e].vpc) && net.enis[e].kind == EniType::Instance)
        .collect();
    for &e in &instances {
        clients(net, e, &instances, &mut out);
    }
    for &e in &instances {
        if reaches_internet(net, e) {
            let mut web = entry(
                format!("derived:egress:{}:https", net.enis[e].id),
                Proto::Tcp,
                vec![eni_spec(net, e)],
                vec![OUTSIDE_WEB.to_owned()],
            );
            web.port = Some(PortSpec::One(443));
            web.rate = EGRESS_RATE;
            let mut dns = entry(
                format!("derived:egress:{}:dns", net.enis[e].id),
                Proto::Udp,
                vec![eni_spec(net, e)],
                vec![OUTSIDE_DNS.to_owned()],
            );
            dns.port = Some(PortSpec::One(53));
            dns.rate = EGRESS_RATE;
            dns.request_packets = [1, 1];
            dns.response_packets = [1, 1];
            out.extend([web, dns]);
        }
        let peers: Vec<String> = instances
            .iter()
            .filter(|&&o| o != e && net.enis[o].subnet != net.enis[e].subnet)
            .filter(|&&o| net.enis[o].vpc == net.enis[e].vpc)
            .map(|&o| eni_spec(net, o))
            .collect();
        if !peers.is_empty() {
            let mut ping = entry(
                format!("derived:ping:{}", net.enis[e].id),
                Proto::Icmp,
                vec![eni_spec(net, e)],
                peers,
            );
            ping.rate = PING_RATE;
            out.push(ping);
        }
    }
    noise(net, vpcs, &mut out);
    out
}

/// Clients of every port `eni`'s security groups open.
fn clients(net: &Network, eni: usize, instances: &[usize], out: &mut Vec<Traffic>) {
    let e = &net.enis[eni];
    let mut seen = BTreeSet::new();
    for &g in &e.security_groups {
        for rule in &net.security_groups[g].inbound {
            let (protocol, port) = match rule.protocol {
                Some(6) => (Proto::Tcp, rule.ports.0),
                Some(17) => (Proto::Udp, rule.ports.0),
                Some(1) | None => (Proto::Icmp, 0),
                Some(_) => continue,
            };
            let from: Vec<String> = match &rule.peer {
                Peer::Cidrs(c) if admits_internet(c) && e.public_ip.is_some() => {
                    vec!["internet".to_owned()]
                }
                Peer::Cidrs(c) => instances
                    .iter()
                    .filter(|&&o| {
                        o != eni && c.iter().any(|n| n.contains(&net.enis[o].primary_ip()))
                    })
                    .map(|&o| eni_spec(net, o))
                    .collect(),
                Peer::Group(sg) => instances
                    .iter()
                    .filter(|&&o| o != eni && net.enis[o].security_groups.contains(sg))
                    .map(|&o| eni_spec(net, o))
                    .collect(),
            };
            let key = (format!("{protocol:?}"), port, from.clone());
            if from.is_empty() || !seen.insert(key) {
                continue;
            }
            let mut t = entry(
                format!("derived:in:{}:{protocol:?}:{port}:{}", e.id, from.join("+")),
                protocol,
                from,
                vec![eni_spec(net, eni)],
            );
            if protocol != Proto::Icmp {
                t.port = Some(PortSpec::One(port));
            }
            out.push(t);
        }
    }
}

/// Scanners on every public ENI, and probes of the ports network ACLs deny.
fn noise(net: &Network, vpcs: &[usize], out: &mut Vec<Traffic>) {
    for (i, e) in net.enis.iter().enumerate() {
        if !vpcs.contains(&e.vpc) || e.public_ip.is_none() {
            continue;
        }
        let mut scan = entry(
            format!("derived:scan:{}", e.id),
            Proto::Tcp,
            vec!["internet".to_owned()],
            vec![eni_spec(net, i)],
        );
        scan.port = Some(PortSpec::Range("1-1024".to_owned()));
        scan.rate = SCAN_RATE;
        scan.scan = true;
        scan.request_packets = [1, 1];
        out.push(scan);
        let acl = &net.acls[net.subnets[e.subnet].acl];
        for deny in acl.inbound.iter().filter(|a| !a.allow) {
            let (protocol, port) = match deny.protocol {
                Some(6) => (Proto::Tcp, deny.ports.0),
                Some(17) => (Proto::Udp, deny.ports.0),
                _ => continue,
            };
            if !admits_internet(&[deny.cidr]) {
                continue;
            }
            let mut probe = entry(
                format!("derived:denied:{}:{protocol:?}:{port}", e.id),
                protocol,
                vec!["internet".to_owned()],
                vec![eni_spec(net, i)],
            );
            probe.port = Some(PortSpec::One(port));
            probe.rate = SCAN_RATE;
            out.push(probe);
        }
    }
}
