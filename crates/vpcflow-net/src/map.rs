//! The network map: the topology as VPC → subnets → ENIs (with their security groups and network
//! ACL), and the traffic between ENIs and the internet that delivered flow records show, as
//! edges per verdict. The console draws it; this owns what a node and an edge are.
//!
//! Each packet may be recorded twice (at the sender's egress and the receiver's ingress), so an
//! edge counts one side only:
//! * a record inbound at an ENI counts on the edge from its source's node to that ENI: the
//!   receiver's verdict is where the journey ended;
//! * a record outbound at an ENI counts on the edge to its destination's node when that is the
//!   internet (nothing else records it), or when it was REJECTed on its way out (the receiver
//!   never saw it).
//!
//! A record's direction is its `flow-direction` when the format has it; else inbound when its
//! destination is the ENI's address, or when its source is another ENI's (a NAT gateway's
//! transit traffic), and outbound otherwise. Any address that no ENI owns is the internet.
//! The same direction sums every record's traffic into [`Map::directions`].
//!
//! The traffic comes in as [`Traffic`]: single records, or records already summed by ENI,
//! addresses and action (an Insights `stats` row), which is how the console reads a day.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;
use vpcflow_record::{FieldId, FlowRecord};

use crate::network::Network;

/// The node of every address no ENI owns.
pub const INTERNET: &str = "internet";

/// The address [`insights_query`] puts for every address outside the VPCs.
pub const OUTSIDE: &str = "0.0.0.0";

/// The Logs Insights query that sums a log group's traffic as [`Traffic`] rows (its fields:
/// `interfaceId`, `src`, `dst`, `action`, `records`, `packets`, `bytes`). Addresses outside the
/// network's VPCs become [`OUTSIDE`], so that a day of scanners is a handful of rows, not one per
/// scanner.
pub fn insights_query(net: &Network) -> String {
    let inside = |field: &str| {
        net.vpcs
            .iter()
            .flat_map(|v| &v.cidrs)
            .map(|c| format!("isIpInSubnet({field}, \"{c}\")"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    format!(
        "filter action in [\"ACCEPT\", \"REJECT\"] \
         | fields if({}, srcAddr, \"{OUTSIDE}\") as src, if({}, dstAddr, \"{OUTSIDE}\") as dst \
         | stats count(*) as records, sum(packets) as packets, sum(bytes) as bytes \
         by interfaceId, src, dst, action",
        inside("srcAddr"),
        inside("dstAddr")
    )
}

/// The map of a network and the traffic recorded on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Map {
    /// The VPCs, each with its subnets and their ENIs.
    pub vpcs: Vec<VpcNode>,
    /// The traffic, one edge per (from, to, action), most bytes first.
    pub edges: Vec<Edge>,
    /// Every record's traffic by its direction at its ENI (`ingress`, `egress`).
    pub directions: BTreeMap<String, Totals>,
}

/// Records, packets and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Records counted.
    pub records: u64,
    /// Their packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Traffic recorded at an ENI: one record, or records of the same ends and action summed (an
/// Insights `stats … by interfaceId, srcAddr, dstAddr, action` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traffic<'a> {
    /// The ENI whose flow log recorded it (its id).
    pub eni: &'a str,
    /// The source address.
    pub src: IpAddr,
    /// The destination address.
    pub dst: IpAddr,
    /// `ACCEPT` or `REJECT`.
    pub action: &'a str,
    /// `ingress` or `egress`, when the format has `flow-direction`.
    pub direction: Option<&'a str>,
    /// Records, packets and bytes.
    pub totals: Totals,
}

impl<'a> Traffic<'a> {
    /// One record's traffic (none for NODATA/SKIPDATA records, which have no addresses).
    pub fn of(eni: &'a str, r: &FlowRecord) -> Option<Traffic<'a>> {
        let field = |f: FieldId| r.get(f).map(|v| v.to_string());
        let action = match field(FieldId::Action)?.as_str() {
            "ACCEPT" => "ACCEPT",
            "REJECT" => "REJECT",
            _ => return None,
        };
        let direction = match field(FieldId::FlowDirection).as_deref() {
            Some("ingress") => Some("ingress"),
            Some("egress") => Some("egress"),
            _ => None,
        };
        Some(Traffic {
            eni,
            src: field(FieldId::Srcaddr)?.parse().ok()?,
            dst: field(FieldId::Dstaddr)?.parse().ok()?,
            action,
            direction,
            totals: Totals {
                records: 1,
                packets: number(r, FieldId::Packets),
                bytes: number(r, FieldId::Bytes),
            },
        })
    }
}

/// A VPC.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcNode {
    /// `vpc-…`.
    pub id: String,
    /// Its `Name`.
    pub name: Option<String>,
    /// Its CIDR blocks.
    pub cidrs: Vec<String>,
    /// Its subnets.
    pub subnets: Vec<SubnetNode>,
}

/// A subnet.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubnetNode {
    /// `subnet-…`.
    pub id: String,
    /// Its `Name`.
    pub name: Option<String>,
    /// Its CIDR blocks.
    pub cidrs: Vec<String>,
    /// Its Availability Zone.
    pub az: String,
    /// Its network ACL.
    pub network_acl: String,
    /// Its ENIs.
    pub enis: Vec<EniNode>,
}

/// An ENI.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EniNode {
    /// `eni-…`.
    pub id: String,
    /// Its `Name`.
    pub name: Option<String>,
    /// Its primary private address.
    pub private_ip: String,
    /// Its public address.
    pub public_ip: Option<String>,
    /// What it belongs to (`instance`, `nat_gateway`, …).
    pub kind: String,
    /// Its security groups' ids.
    pub security_groups: Vec<String>,
}

/// Traffic from one node to another with one verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    /// An ENI's id, or [`INTERNET`].
    pub from: String,
    /// An ENI's id, or [`INTERNET`].
    pub to: String,
    /// `ACCEPT` or `REJECT`.
    pub action: String,
    /// Records counted.
    pub records: u64,
    /// Their packets.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Map {
    /// The map of `net` with `traffic` on it; traffic of ENIs not in `net` is left out.
    pub fn of<'a>(net: &Network, traffic: impl IntoIterator<Item = Traffic<'a>>) -> Map {
        let mut edges: BTreeMap<(String, String, String), Totals> = BTreeMap::new();
        let mut directions: BTreeMap<String, Totals> = BTreeMap::new();
        for t in traffic {
            let Some(inbound) = inbound(net, &t) else {
                continue;
            };
            let d = directions
                .entry(if inbound { "ingress" } else { "egress" }.to_owned())
                .or_default();
            add(d, t.totals);
            if let Some(key) = edge_of(net, &t) {
                add(edges.entry(key).or_default(), t.totals);
            }
        }
        let mut edges: Vec<Edge> = edges
            .into_iter()
            .map(|((from, to, action), t)| Edge {
                from,
                to,
                action,
                records: t.records,
                packets: t.packets,
                bytes: t.bytes,
            })
            .collect();
        edges.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.from.cmp(&b.from)));
        Map {
            vpcs: nodes(net),
            edges,
            directions,
        }
    }
}

fn add(to: &mut Totals, t: Totals) {
    to.records += t.records;
    to.packets += t.packets;
    to.bytes += t.bytes;
}

fn nodes(net: &Network) -> Vec<VpcNode> {
    let cidrs = |c: &[ipnet::IpNet]| c.iter().map(ToString::to_string).collect::<Vec<_>>();
    net.vpcs
        .iter()
        .enumerate()
        .map(|(v, vpc)| VpcNode {
            id: vpc.id.clone(),
            name: vpc.name.clone(),
            cidrs: cidrs(&vpc.cidrs),
            subnets: net
                .subnets
                .iter()
                .enumerate()
                .filter(|(_, s)| s.vpc == v)
                .map(|(s, subnet)| SubnetNode {
                    id: subnet.id.clone(),
                    name: subnet.name.clone(),
                    cidrs: cidrs(&subnet.cidrs),
                    az: subnet.az.clone(),
                    network_acl: net.acls[subnet.acl].id.clone(),
                    enis: net
                        .enis
                        .iter()
                        .filter(|e| e.subnet == s)
                        .map(|e| EniNode {
                            id: e.id.clone(),
                            name: e.name.clone(),
                            private_ip: e.primary_ip().to_string(),
                            public_ip: e.public_ip.map(|ip| ip.to_string()),
                            kind: format!("{:?}", e.kind),
                            security_groups: e
                                .security_groups
                                .iter()
                                .map(|g| net.security_groups[*g].id.clone())
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

/// The node an address belongs to.
fn node(net: &Network, ip: IpAddr) -> String {
    net.eni_by_private_ip(ip)
        .or_else(|| net.eni_by_public_ip(ip))
        .map_or_else(|| INTERNET.to_owned(), |e| net.enis[e].id.clone())
}

/// Whether traffic came in at its ENI (see the module doc); none for an ENI `net` lacks.
fn inbound(net: &Network, t: &Traffic<'_>) -> Option<bool> {
    let at = net.enis.iter().find(|e| e.id == t.eni)?;
    Some(match t.direction {
        Some(d) => d == "ingress",
        None => at.owns(t.dst) || (!at.owns(t.src) && node(net, t.src) != INTERNET),
    })
}

/// The edge (from, to, action) traffic counts on, if it counts (see the module doc).
pub fn edge_of(net: &Network, t: &Traffic<'_>) -> Option<(String, String, String)> {
    if inbound(net, t)? {
        return Some((node(net, t.src), t.eni.to_owned(), t.action.to_owned()));
    }
    let to = node(net, t.dst);
    (to == INTERNET || t.action == "REJECT").then(|| (t.eni.to_owned(), to, t.action.to_owned()))
}

fn number(r: &FlowRecord, f: FieldId) -> u64 {
    r.get(f)
        .and_then(|v| v.to_string().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASTION: &str = "eni-0a0000000000000a3";
    const APP1: &str = "eni-0a0000000000000a2";
    const ALB: &str = "eni-0a0000000000000a1";

    fn record(line: &str) -> FlowRecord {
        let format = vpcflow_record::LogFormat::parse(vpcflow_record::DEFAULT_FORMAT).unwrap();
        vpcflow_record::text::decode(&format, line).unwrap()
    }

    /// An edge: from, to, action.
    type Counted = Option<(&'static str, &'static str, &'static str)>;

    /// (the ENI whose flow log made it, the record's srcaddr dstaddr protocol action, the edge
    /// it counts on).
    const ROWS: &[(&str, &str, Counted)] = &[
        // A ping from the internet in to the bastion's public address: inbound, counted.
        (
            BASTION,
            "198.51.100.20 10.0.1.30 1 ACCEPT",
            Some((INTERNET, BASTION, "ACCEPT")),
        ),
        // Its reply dropped by the network ACL on the way out: outbound to the internet.
        (
            BASTION,
            "10.0.1.30 198.51.100.20 1 REJECT",
            Some((BASTION, INTERNET, "REJECT")),
        ),
        // The load balancer to the app: the app's inbound record counts...
        (
            APP1,
            "10.0.1.10 10.0.11.10 6 ACCEPT",
            Some((ALB, APP1, "ACCEPT")),
        ),
        // ...and the sender's outbound ACCEPT of the same packets does not (counted once).
        (ALB, "10.0.1.10 10.0.11.10 6 ACCEPT", None),
        // An outbound REJECT toward another ENI: the receiver never saw it.
        (
            ALB,
            "10.0.1.10 10.0.11.11 6 REJECT",
            Some((ALB, APP1, "REJECT")),
        ),
        // An address of the app's second private IP is the app's node.
        (
            APP1,
            "10.0.11.11 93.184.216.34 6 ACCEPT",
            Some((APP1, INTERNET, "ACCEPT")),
        ),
        // A scanner's REJECT at the app (no flow-direction field: dst is the ENI's).
        (
            APP1,
            "203.0.113.9 10.0.11.10 6 REJECT",
            Some((INTERNET, APP1, "REJECT")),
        ),
        // An ENI the network does not have.
        (
            "eni-0123456789abcdef0",
            "10.0.1.30 198.51.100.20 1 ACCEPT",
            None,
        ),
    ];

    fn line(eni: &str, ends: &str) -> String {
        let f: Vec<&str> = ends.split(' ').collect();
        format!(
            "2 123456789012 {eni} {} {} 40000 443 {} 2 120 1768485600 1768485660 {} OK",
            f[0], f[1], f[2], f[3]
        )
    }

    #[test]
    fn each_record_counts_on_its_edge() {
        let net = crate::builtin::load("builtin:three-tier").unwrap();
        for (eni, ends, want) in ROWS {
            let r = record(&line(eni, ends));
            let map = Map::of(&net, Traffic::of(eni, &r));
            let got: Vec<(&str, &str, &str)> = map
                .edges
                .iter()
                .map(|e| (e.from.as_str(), e.to.as_str(), e.action.as_str()))
                .collect();
            assert_eq!(
                got,
                want.iter().copied().collect::<Vec<_>>(),
                "{eni} {ends}"
            );
        }
    }

    #[test]
    fn the_insights_query_names_every_vpc_range() {
        let net = crate::builtin::load("builtin:three-tier").unwrap();
        let q = insights_query(&net);
        assert!(q.contains(r#"isIpInSubnet(srcAddr, "10.0.0.0/16")"#), "{q}");
        assert!(q.ends_with("by interfaceId, src, dst, action"), "{q}");
        // What stands for the outside is the internet's node.
        assert_eq!(node(&net, OUTSIDE.parse().unwrap()), INTERNET);
    }

    #[test]
    fn edges_sum_their_records_and_nodes_nest() {
        let net = crate::builtin::load("builtin:three-tier").unwrap();
        let rs: Vec<FlowRecord> = (0..3)
            .map(|_| record(&line(BASTION, "198.51.100.20 10.0.1.30 1 ACCEPT")))
            .collect();
        let map = Map::of(&net, rs.iter().filter_map(|r| Traffic::of(BASTION, r)));
        assert_eq!(map.edges.len(), 1);
        assert_eq!(map.directions["ingress"].records, 3);
        assert!(!map.directions.contains_key("egress"));
        assert_eq!(
            (
                map.edges[0].records,
                map.edges[0].packets,
                map.edges[0].bytes
            ),
            (3, 6, 360)
        );
        let subnets: Vec<&SubnetNode> = map.vpcs.iter().flat_map(|v| &v.subnets).collect();
        let enis: usize = subnets.iter().map(|s| s.enis.len()).sum();
        assert_eq!(enis, net.enis.len());
        let bastion = subnets
            .iter()
            .flat_map(|s| &s.enis)
            .find(|e| e.id == BASTION)
            .unwrap();
        assert_eq!(bastion.public_ip.as_deref(), Some("54.210.0.30"));
        assert_eq!(bastion.security_groups, ["sg-0a0000000000000a3"]);
    }
}
