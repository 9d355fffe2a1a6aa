//! A validated, indexed network: what the policy engine, the router and the simulator use.
//!
//! Owns validation ([`Network::build`] lists every problem of a [`Topology`] at once: bad ids,
//! duplicates, overlapping CIDRs, addresses outside their subnet, dangling references, duplicate
//! rule numbers) and the compiled forms: resources as vectors addressed by index, rules with
//! parsed protocols and ports, address → ENI maps, routes sorted most-specific first.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use rustc_hash::{FxHashMap, FxHashSet};
use vpcflow_record::TrafficPath;

use crate::model::{self, EniType, GatewayType, PortSpec, ProtocolSpec, RuleAction, Topology};

/// Whether `net` contains `ip`, comparing the high `prefix_len` bits directly: the per-packet
/// checks (subnet boundary, ACL and SG peers, routes) call this millions of times a second, and
/// `IpNet::contains` recomputes masks each time. Addresses of the other family never match.
#[inline]
pub fn prefix_contains(net: &IpNet, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpNet::V4(n), IpAddr::V4(a)) => {
            let len = u32::from(n.prefix_len());
            len == 0 || (u32::from(a) ^ u32::from(n.addr())) >> (32 - len) == 0
        }
        (IpNet::V6(n), IpAddr::V6(a)) => {
            let len = u32::from(n.prefix_len());
            len == 0 || (u128::from(a) ^ u128::from(n.addr())) >> (128 - len) == 0
        }
        _ => false,
    }
}

/// One thing wrong with a topology: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `subnets[1] (subnet-0a…)`.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Every problem found in a topology.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the topology has {} problem(s):\n  {}", .0.len(), .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n  "))]
pub struct Problems(pub Vec<Problem>);

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why (shown in the message, so not also chained as a source).
        error: std::io::Error,
    },
    /// Not valid TOML, or not the topology's shape.
    #[error("{source_name}: {message}")]
    Syntax {
        /// The file (or `builtin:NAME`).
        source_name: String,
        /// toml's message, with line and column.
        message: String,
    },
    /// Valid TOML describing a broken network.
    #[error("{source_name}: {problems}")]
    Invalid {
        /// The file (or `builtin:NAME`).
        source_name: String,
        /// Every problem.
        problems: Problems,
    },
}

/// A rule's protocol after parsing: `None` = all protocols.
pub type Proto = Option<u8>;

/// A peer in a security-group rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Peer {
    /// Address blocks (a CIDR, or a prefix list's blocks).
    Cidrs(Vec<IpNet>),
    /// Every ENI carrying this security group (index).
    Group(usize),
}

/// A compiled security-group rule.
#[derive(Debug, Clone, PartialEq)]
pub struct SgRule {
    /// Protocol (`None` = all).
    pub protocol: Proto,
    /// Destination-port range (inclusive), for TCP and UDP.
    pub ports: (u16, u16),
    /// The remote side.
    pub peer: Peer,
}

/// A compiled security group.
#[derive(Debug, Clone)]
pub struct SecurityGroup {
    /// `sg-…`.
    pub id: String,
    /// Label.
    pub name: Option<String>,
    /// Inbound rules.
    pub inbound: Vec<SgRule>,
    /// Outbound rules.
    pub outbound: Vec<SgRule>,
    /// Private addresses of the ENIs that carry this group (for `group` peers).
    pub members: FxHashSet<IpAddr>,
}

/// A compiled network-ACL entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AclEntry {
    /// Rule number.
    pub number: u16,
    /// Protocol (`None` = all).
    pub protocol: Proto,
    /// Destination-port range (inclusive), for TCP and UDP.
    pub ports: (u16, u16),
    /// Remote block.
    pub cidr: IpNet,
    /// Allow (true) or deny.
    pub allow: bool,
}

/// A compiled network ACL; entries sorted by rule number.
#[derive(Debug, Clone)]
pub struct NetworkAcl {
    /// `acl-…`.
    pub id: String,
    /// Inbound entries.
    pub inbound: Vec<AclEntry>,
    /// Outbound entries.
    pub outbound: Vec<AclEntry>,
}

/// Where a route sends traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTarget {
    /// Within the VPC.
    Local,
    /// Through a gateway (index).
    Gateway(usize),
}

/// A VPC.
#[derive(Debug, Clone)]
pub struct Vpc {
    /// `vpc-…`.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// Address blocks.
    pub cidrs: Vec<IpNet>,
    /// Label.
    pub name: Option<String>,
}

/// A subnet.
#[derive(Debug, Clone)]
pub struct Subnet {
    /// `subnet-…`.
    pub id: String,
    /// VPC index.
    pub vpc: usize,
    /// AZ name.
    pub az: String,
    /// AZ ID (`az-id`).
    pub az_id: String,
    /// Address blocks.
    pub cidrs: Vec<IpNet>,
    /// Route table: routes sorted most specific first.
    pub routes: Vec<(IpNet, RouteTarget)>,
    /// Route-table id.
    pub route_table: String,
    /// Network ACL index.
    pub acl: usize,
    /// Label.
    pub name: Option<String>,
}

/// A gateway.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// Its id.
    pub id: String,
    /// What it is.
    pub kind: GatewayType,
    /// NAT gateways: ENI index.
    pub eni: Option<usize>,
    /// Peering: peer region.
    pub peer_region: Option<String>,
    /// Blocks reachable through it.
    pub remote_cidrs: Vec<IpNet>,
}

/// A network interface.
#[derive(Debug, Clone)]
pub struct Eni {
    /// `eni-…`.
    pub id: String,
    /// Subnet index.
    pub subnet: usize,
    /// VPC index.
    pub vpc: usize,
    /// Kind.
    pub kind: EniType,
    /// Owning account.
    pub owner: String,
    /// Instance id, if any.
    pub instance_id: Option<String>,
    /// Private addresses; `[0]` is primary.
    pub private_ips: Vec<IpAddr>,
    /// Public address.
    pub public_ip: Option<IpAddr>,
    /// Security-group indexes.
    pub security_groups: Vec<usize>,
    /// Host interface for live capture.
    pub host_interface: Option<String>,
    /// Label.
    pub name: Option<String>,
}

impl Eni {
    /// The primary private address.
    pub fn primary_ip(&self) -> IpAddr {
        self.private_ips[0]
    }

    /// True when `ip` is one of this ENI's addresses (private or public).
    pub fn owns(&self, ip: IpAddr) -> bool {
        self.private_ips.contains(&ip) || self.public_ip == Some(ip)
    }
}

/// A validated network.
#[derive(Debug, Clone)]
pub struct Network {
    /// Region name.
    pub region: String,
    /// VPCs.
    pub vpcs: Vec<Vpc>,
    /// Subnets.
    pub subnets: Vec<Subnet>,
    /// Gateways.
    pub gateways: Vec<Gateway>,
    /// Network ACLs.
    pub acls: Vec<NetworkAcl>,
    /// Security groups.
    pub security_groups: Vec<SecurityGroup>,
    /// ENIs.
    pub enis: Vec<Eni>,
    /// The topology as written, that this network was compiled from: what EC2's Describe*
    /// actions show (rules with their prefix lists, route tables and associations), which the
    /// compiled form above no longer keeps.
    pub topology: Topology,
    by_private_ip: FxHashMap<IpAddr, usize>,
    by_public_ip: FxHashMap<IpAddr, usize>,
}

fn id_ok(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Parses a rule protocol: names, `-1`, or a number 0–255.
pub fn parse_protocol(p: &ProtocolSpec) -> Result<Proto, String> {
    match p {
        ProtocolSpec::Number(-1) => Ok(None),
        ProtocolSpec::Number(n) => u8::try_from(*n)
            .map(Some)
            .map_err(|_| format!("protocol {n} is not 0-255 or -1")),
        ProtocolSpec::Name(s) => match s.to_ascii_lowercase().as_str() {
            "all" | "-1" => Ok(None),
            "tcp" => Ok(Some(6)),
            "udp" => Ok(Some(17)),
            "icmp" => Ok(Some(1)),
            "icmpv6" => Ok(Some(58)),
            other => other.parse::<u8>().map(Some).map_err(|_| {
                format!("protocol '{s}' is not tcp, udp, icmp, icmpv6, all, -1 or a number")
            }),
        },
    }
}

/// Parses a port range; `None` means all ports.
pub fn parse_ports(p: Option<&PortSpec>) -> Result<(u16, u16), String> {
    let port = |n: i64| u16::try_from(n).map_err(|_| format!("port {n} is not 0-65535"));
    match p {
        None => Ok((0, 65535)),
        Some(PortSpec::One(n)) => port(*n).map(|v| (v, v)),
        Some(PortSpec::Text(t)) if t == "all" => Ok((0, 65535)),
        Some(PortSpec::Text(t)) => {
            let (a, b) = t.split_once('-').unwrap_or((t, t));
            let parse = |s: &str| {
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("ports '{t}' is not N, N-M or all"))
                    .and_then(port)
            };
            let (lo, hi) = (parse(a)?, parse(b)?);
            if lo > hi {
                return Err(format!("ports '{t}': {lo} is above {hi}"));
            }
            Ok((lo, hi))
        }
    }
}

struct Checker {
    problems: Vec<Problem>,
}

/// A block written with host bits set (`10.0.1.5/24`): AWS refuses it, naming the block meant.
fn host_bits(c: &mut Checker, at: &str, cidr: &IpNet) {
    if cidr.trunc() != *cidr {
        c.at(
            at,
            format!(
                "CIDR {cidr} has host bits set: the block is {}",
                cidr.trunc()
            ),
        );
    }
}

/// True when `ip` is one of the addresses AWS reserves in subnet block `block`: the network
/// address and the next three (router, DNS, future use), and the last (IPv4 broadcast).
fn reserved(block: &IpNet, ip: &IpAddr) -> bool {
    match (block, ip) {
        (IpNet::V4(b), IpAddr::V4(a)) if b.contains(a) => {
            u32::from(*a) - u32::from(b.network()) < 4 || *a == b.broadcast()
        }
        (IpNet::V6(b), IpAddr::V6(a)) if b.contains(a) => {
            u128::from(*a) - u128::from(b.network()) < 4 || *a == b.broadcast()
        }
        _ => false,
    }
}

impl Checker {
    fn at(&mut self, at: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            at: at.to_owned(),
            message: message.into(),
        });
    }
}

impl Network {
    /// Parses TOML text into a network; `source_name` names it in errors.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Network, LoadError> {
        let topo: Topology = toml::from_str(text).map_err(|e| LoadError::Syntax {
            source_name: source_name.to_owned(),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        Network::build(&topo).map_err(|problems| LoadError::Invalid {
            source_name: source_name.to_owned(),
            problems,
        })
    }

    /// Reads and parses a topology file.
    pub fn load(path: &str) -> Result<Network, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
            path: path.to_owned(),
            error,
        })?;
        Network::from_toml(&text, path)
    }

    /// Validates a topology (no I/O) and compiles it, or lists every problem.
    pub fn build(t: &Topology) -> Result<Network, Problems> {
        let mut c = Checker {
            problems: Vec::new(),
        };
        if t.region.name.is_empty() {
            c.at("region", "name is empty");
        }
        let azs: HashMap<&str, &str> = t
            .region
            .azs
            .iter()
            .map(|a| (a.name.as_str(), a.id.as_str()))
            .collect();
        if azs.len() != t.region.azs.len() {
            c.at("region.azs", "an AZ name appears twice");
        }

        // Ids: shape and uniqueness across the whole topology.
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut id = |c: &mut Checker, at: String, id: &str, prefix: &str| {
            if !id_ok(id, prefix) {
                c.at(
                    &at,
                    format!("id '{id}' is not {prefix}- followed by 8 or 17 lowercase hex digits"),
                );
            }
            if let Some(first) = seen.insert(id.to_owned(), at.clone()) {
                c.at(&at, format!("id '{id}' is already used by {first}"));
            }
        };
        for (i, a) in t.accounts.iter().enumerate() {
            if a.id.len() != 12 || !a.id.bytes().all(|b| b.is_ascii_digit()) {
                c.at(
                    &format!("accounts[{i}]"),
                    format!("account id '{}' is not 12 digits", a.id),
                );
            }
        }
        let accounts: FxHashSet<&str> = t.accounts.iter().map(|a| a.id.as_str()).collect();
        let vpc_ix: HashMap<&str, usize> = t
            .vpcs
            .iter()
            .enumerate()
            .map(|(i, v)| (v.id.as_str(), i))
            .collect();
        for (i, v) in t.vpcs.iter().enumerate() {
            let at = format!("vpcs[{i}] ({})", v.id);
            id(&mut c, at.clone(), &v.id, "vpc");
            if !accounts.contains(v.account.as_str()) {
                c.at(
                    &at,
                    format!("account '{}' is not in [[accounts]]", v.account),
                );
            }
            if v.cidrs.is_empty() {
                c.at(&at, "has no CIDR block");
            }
            for cidr in &v.cidrs {
                host_bits(&mut c, &at, cidr);
            }
        }
        let gw_ix: HashMap<&str, usize> = t
            .gateways
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.as_str(), i))
            .collect();
        let acl_ix: HashMap<&str, usize> = t
            .network_acls
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.as_str(), i))
            .collect();
        let sg_ix: HashMap<&str, usize> = t
            .security_groups
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let pl_ix: HashMap<&str, usize> = t
            .prefix_lists
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        let rt_ix: HashMap<&str, usize> = t
            .route_tables
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let eni_ix: HashMap<&str, usize> = t
            .enis
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_str(), i))
            .collect();
        let vpc_of = |c: &mut Checker, at: &str, vpc: &str| -> Option<usize> {
            let v = vpc_ix.get(vpc).copied();
            if v.is_none() {
                c.at(at, format!("VPC '{vpc}' does not exist"));
            }
            v
        };

        // Gateways.
        let mut gateways = Vec::new();
        for (i, g) in t.gateways.iter().enumerate() {
            let at = format!("gateways[{i}] ({})", g.id);
            let prefix = match g.kind {
                GatewayType::Internet => "igw",
                GatewayType::Nat => "nat",
                GatewayType::VpcPeering => "pcx",
                GatewayType::TransitGateway => "tgw",
                GatewayType::VirtualPrivate => "vgw",
                GatewayType::GatewayEndpoint => "vpce",
                GatewayType::Local => "lgw",
            };
            id(&mut c, at.clone(), &g.id, prefix);
            match &g.vpc {
                Some(v) => {
                    vpc_of(&mut c, &at, v);
                }
                None if g.kind != GatewayType::Internet => {
                    c.at(
                        &at,
                        "is attached to no VPC: only an internet gateway may be detached",
                    );
                }
                None => {}
            }
            let eni = match (&g.eni, g.kind) {
                (Some(e), GatewayType::Nat) => match eni_ix.get(e.as_str()) {
                    Some(&ix) if t.enis[ix].kind == EniType::NatGateway => Some(ix),
                    Some(_) => {
                        c.at(&at, format!("ENI '{e}' is not of type nat_gateway"));
                        None
                    }
                    None => {
                        c.at(&at, format!("ENI '{e}' does not exist"));
                        None
                    }
                },
                (None, GatewayType::Nat) => {
                    c.at(&at, "a NAT gateway needs an eni");
                    None
                }
                (Some(_), _) => {
                    c.at(&at, "only NAT gateways have an eni");
                    None
                }
                (None, _) => None,
            };
            gateways.push(Gateway {
                id: g.id.clone(),
                kind: g.kind,
                eni,
                peer_region: g.peer_region.clone(),
                remote_cidrs: g.remote_cidrs.clone(),
            });
        }

        // Network ACLs.
        let mut acls = Vec::new();
        for (i, a) in t.network_acls.iter().enumerate() {
            let at = format!("network_acls[{i}] ({})", a.id);
            id(&mut c, at.clone(), &a.id, "acl");
            vpc_of(&mut c, &at, &a.vpc);
            let compile = |c: &mut Checker, dir: &str, rules: &[model::AclRule]| {
                let mut out: Vec<AclEntry> = Vec::new();
                for (j, r) in rules.iter().enumerate() {
                    let rat = format!("{at}.{dir}[{j}]");
                    if !(1..=32766).contains(&r.rule) {
                        c.at(&rat, format!("rule number {} is not 1-32766", r.rule));
                        continue;
                    }
                    if out.iter().any(|e| i64::from(e.number) == r.rule) {
                        c.at(
                            &rat,
                            format!("rule number {} appears twice in {dir}", r.rule),
                        );
                        continue;
                    }
                    let protocol = parse_protocol(&r.protocol).map_err(|m| c.at(&rat, m));
                    let ports = parse_ports(r.ports.as_ref()).map_err(|m| c.at(&rat, m));
                    if let (Ok(protocol), Ok(ports)) = (protocol, ports) {
                        out.push(AclEntry {
                            number: r.rule as u16,
                            protocol,
                            ports,
                            cidr: r.cidr,
                            allow: r.action == RuleAction::Allow,
                        });
                    }
                }
                out.sort_by_key(|e| e.number);
                out
            };
            let inbound = compile(&mut c, "inbound", &a.inbound);
            let outbound = compile(&mut c, "outbound", &a.outbound);
            acls.push(NetworkAcl {
                id: a.id.clone(),
                inbound,
                outbound,
            });
        }

        for (i, p) in t.prefix_lists.iter().enumerate() {
            id(&mut c, format!("prefix_lists[{i}] ({})", p.id), &p.id, "pl");
        }

        // Security groups.
        let mut sgs = Vec::new();
        for (i, s) in t.security_groups.iter().enumerate() {
            let at = format!("security_groups[{i}] ({})", s.id);
            id(&mut c, at.clone(), &s.id, "sg");
            let vpc = vpc_of(&mut c, &at, &s.vpc);
            let compile = |c: &mut Checker, dir: &str, rules: &[model::SgRule]| {
                let mut out = Vec::new();
                for (j, r) in rules.iter().enumerate() {
                    let rat = format!("{at}.{dir}[{j}]");
                    let peer = match (&r.cidr, &r.prefix_list, &r.group) {
                        (Some(cidr), None, None) => Some(Peer::Cidrs(vec![*cidr])),
                        (None, Some(pl), None) => match pl_ix.get(pl.as_str()) {
                            Some(&p) => Some(Peer::Cidrs(t.prefix_lists[p].cidrs.clone())),
                            None => {
                                c.at(&rat, format!("prefix list '{pl}' does not exist"));
                                None
                            }
                        },
                        (None, None, Some(g)) => match sg_ix.get(g.as_str()) {
                            Some(&gi)
                                if vpc.is_some()
                                    && vpc_ix.get(t.security_groups[gi].vpc.as_str())
                                        != vpc.as_ref() =>
                            {
                                c.at(&rat, format!("security group '{g}' is in another VPC"));
                                None
                            }
                            Some(&gi) => Some(Peer::Group(gi)),
                            None => {
                                c.at(&rat, format!("security group '{g}' does not exist"));
                                None
                            }
                        },
                        _ => {
                            c.at(&rat, "needs exactly one of cidr, prefix_list or group");
                            None
                        }
                    };
                    let protocol = parse_protocol(&r.protocol).map_err(|m| c.at(&rat, m));
                    let ports = parse_ports(r.ports.as_ref()).map_err(|m| c.at(&rat, m));
                    if let (Some(peer), Ok(protocol), Ok(ports)) = (peer, protocol, ports) {
                        out.push(SgRule {
                            protocol,
                            ports,
                            peer,
                        });
                    }
                }
                out
            };
            let inbound = compile(&mut c, "inbound", &s.inbound);
            let outbound = compile(&mut c, "outbound", &s.outbound);
            sgs.push(SecurityGroup {
                id: s.id.clone(),
                name: s.name.clone(),
                inbound,
                outbound,
                members: FxHashSet::default(),
            });
        }

        // Route tables.
        let mut tables: Vec<Vec<(IpNet, RouteTarget)>> = Vec::new();
        for (i, r) in t.route_tables.iter().enumerate() {
            let at = format!("route_tables[{i}] ({})", r.id);
            id(&mut c, at.clone(), &r.id, "rtb");
            let vpc = vpc_of(&mut c, &at, &r.vpc);
            let mut routes: Vec<(IpNet, RouteTarget)> = Vec::new();
            for (j, route) in r.routes.iter().enumerate() {
                let rat = format!("{at}.routes[{j}]");
                if routes.iter().any(|(d, _)| *d == route.destination) {
                    c.at(
                        &rat,
                        format!("destination {} appears twice", route.destination),
                    );
                    continue;
                }
                let target = if route.target == "local" {
                    Some(RouteTarget::Local)
                } else {
                    match gw_ix.get(route.target.as_str()) {
                        // A route to a detached gateway is a blackhole, as in AWS: it carries
                        // nothing.
                        Some(&g) if t.gateways[g].vpc.is_none() => continue,
                        Some(&g)
                            if vpc.is_some()
                                && t.gateways[g].vpc.as_deref().and_then(|v| vpc_ix.get(v))
                                    != vpc.as_ref() =>
                        {
                            c.at(
                                &rat,
                                format!("gateway '{}' is attached to another VPC", route.target),
                            );
                            None
                        }
                        Some(&g) => Some(RouteTarget::Gateway(g)),
                        None => {
                            c.at(
                                &rat,
                                format!(
                                    "target '{}' is neither local nor an existing gateway",
                                    route.target
                                ),
                            );
                            None
                        }
                    }
                };
                if let Some(target) = target {
                    routes.push((route.destination, target));
                }
            }
            // Longest prefix first: the first match is the most specific.
            routes.sort_by_key(|r| std::cmp::Reverse(r.0.prefix_len()));
            tables.push(routes);
        }

        // Subnets.
        let mut subnets: Vec<Subnet> = Vec::new();
        for (i, s) in t.subnets.iter().enumerate() {
            let at = format!("subnets[{i}] ({})", s.id);
            id(&mut c, at.clone(), &s.id, "subnet");
            let Some(vpc) = vpc_of(&mut c, &at, &s.vpc) else {
                continue;
            };
            let az_id = match azs.get(s.az.as_str()) {
                Some(id) => (*id).to_owned(),
                None => {
                    c.at(&at, format!("AZ '{}' is not in region.azs", s.az));
                    String::new()
                }
            };
            if s.cidrs.is_empty() {
                c.at(&at, "has no CIDR block");
            }
            for cidr in &s.cidrs {
                host_bits(&mut c, &at, cidr);
                if !t.vpcs[vpc].cidrs.iter().any(|v| v.contains(cidr)) {
                    c.at(&at, format!("CIDR {cidr} is outside the VPC's blocks"));
                }
                for (j, other) in t.subnets.iter().enumerate().take(i) {
                    if other.vpc == s.vpc
                        && other
                            .cidrs
                            .iter()
                            .any(|o| o.contains(cidr) || cidr.contains(o))
                    {
                        c.at(
                            &at,
                            format!("CIDR {cidr} overlaps subnets[{j}] ({})", other.id),
                        );
                    }
                }
            }
            let routes = match rt_ix.get(s.route_table.as_str()) {
                Some(&r) if t.route_tables[r].vpc != s.vpc => {
                    c.at(
                        &at,
                        format!("route table '{}' belongs to another VPC", s.route_table),
                    );
                    Vec::new()
                }
                Some(&r) => tables[r].clone(),
                None => {
                    c.at(
                        &at,
                        format!("route table '{}' does not exist", s.route_table),
                    );
                    Vec::new()
                }
            };
            let acl = match acl_ix.get(s.network_acl.as_str()) {
                Some(&a) if t.network_acls[a].vpc != s.vpc => {
                    c.at(
                        &at,
                        format!("network ACL '{}' belongs to another VPC", s.network_acl),
                    );
                    0
                }
                Some(&a) => a,
                None => {
                    c.at(
                        &at,
                        format!("network ACL '{}' does not exist", s.network_acl),
                    );
                    0
                }
            };
            subnets.push(Subnet {
                id: s.id.clone(),
                vpc,
                az: s.az.clone(),
                az_id,
                cidrs: s.cidrs.clone(),
                routes,
                route_table: s.route_table.clone(),
                acl,
                name: s.name.clone(),
            });
        }
        let subnet_ix: HashMap<&str, usize> = subnets
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();

        // ENIs.
        let mut enis = Vec::new();
        let mut by_private_ip: FxHashMap<IpAddr, usize> = FxHashMap::default();
        let mut by_public_ip: FxHashMap<IpAddr, usize> = FxHashMap::default();
        for (i, e) in t.enis.iter().enumerate() {
            let at = format!("enis[{i}] ({})", e.id);
            id(&mut c, at.clone(), &e.id, "eni");
            let Some(&subnet) = subnet_ix.get(e.subnet.as_str()) else {
                c.at(&at, format!("subnet '{}' does not exist", e.subnet));
                continue;
            };
            let vpc = subnets[subnet].vpc;
            if e.private_ips.is_empty() {
                c.at(&at, "has no private address");
                continue;
            }
            for ip in &e.private_ips {
                if let Some(block) = subnets[subnet].cidrs.iter().find(|n| reserved(n, ip)) {
                    c.at(
                        &at,
                        format!(
                            "address {ip} is one AWS reserves in {block} (the first four and \
                             the last of each subnet block)"
                        ),
                    );
                }
                if !subnets[subnet].cidrs.iter().any(|n| n.contains(ip)) {
                    c.at(
                        &at,
                        format!(
                            "address {ip} is outside subnet {} ({})",
                            e.subnet,
                            subnets[subnet]
                                .cidrs
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
                if let Some(other) = by_private_ip.insert(*ip, enis.len()) {
                    c.at(
                        &at,
                        format!("address {ip} is already used by {}", t.enis[other].id),
                    );
                }
            }
            if let Some(ip) = e.public_ip
                && let Some(other) = by_public_ip.insert(ip, enis.len())
            {
                c.at(
                    &at,
                    format!(
                        "public address {ip} is already used by {}",
                        t.enis[other].id
                    ),
                );
            }
            let owner = e
                .owner
                .clone()
                .unwrap_or_else(|| t.vpcs[vpc].account.clone());
            if !accounts.contains(owner.as_str()) {
                c.at(
                    &at,
                    format!("owner account '{owner}' is not in [[accounts]]"),
                );
            }
            if let Some(inst) = &e.instance_id
                && !id_ok(inst, "i")
            {
                c.at(
                    &at,
                    format!(
                        "instance id '{inst}' is not i- followed by 8 or 17 lowercase hex digits"
                    ),
                );
            }
            let mut groups = Vec::new();
            for g in &e.security_groups {
                match sg_ix.get(g.as_str()) {
                    Some(&gi) if t.security_groups[gi].vpc != t.vpcs[vpc].id => {
                        c.at(&at, format!("security group '{g}' belongs to another VPC"));
                    }
                    Some(&gi) => groups.push(gi),
                    None => c.at(&at, format!("security group '{g}' does not exist")),
                }
            }
            if e.kind == EniType::NatGateway && !groups.is_empty() {
                c.at(&at, "NAT gateway interfaces have no security groups");
            }
            for &g in &groups {
                sgs[g].members.extend(e.private_ips.iter().copied());
            }
            enis.push(Eni {
                id: e.id.clone(),
                subnet,
                vpc,
                kind: e.kind,
                owner,
                instance_id: e.instance_id.clone(),
                private_ips: e.private_ips.clone(),
                public_ip: e.public_ip,
                security_groups: groups,
                host_interface: e.host_interface.clone(),
                // An instance's ENI answers to the instance's Name tag too (scenarios name
                // instances so), unless it has a label of its own.
                name: e.name.clone().or_else(|| {
                    t.instances
                        .iter()
                        .find(|i| i.eni == e.id)
                        .and_then(|i| i.name.clone())
                }),
            });
        }

        if !c.problems.is_empty() {
            return Err(Problems(c.problems));
        }
        Ok(Network {
            region: t.region.name.clone(),
            vpcs: t
                .vpcs
                .iter()
                .map(|v| Vpc {
                    id: v.id.clone(),
                    account: v.account.clone(),
                    cidrs: v.cidrs.clone(),
                    name: v.name.clone(),
                })
                .collect(),
            subnets,
            gateways,
            acls,
            security_groups: sgs,
            enis,
            topology: t.clone(),
            by_private_ip,
            by_public_ip,
        })
    }

    /// The ENI that has `ip` as a private address.
    pub fn eni_by_private_ip(&self, ip: IpAddr) -> Option<usize> {
        self.by_private_ip.get(&ip).copied()
    }

    /// Where each ENI of this network is in `next` (by id): what indices held across a change
    /// of the network are mapped through.
    pub fn renumbering(&self, next: &Network) -> Vec<Option<usize>> {
        let at: FxHashMap<&str, usize> = next
            .enis
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_str(), i))
            .collect();
        self.enis
            .iter()
            .map(|e| at.get(e.id.as_str()).copied())
            .collect()
    }

    /// The ENI that has `ip` as its public address.
    pub fn eni_by_public_ip(&self, ip: IpAddr) -> Option<usize> {
        self.by_public_ip.get(&ip).copied()
    }

    /// Finds an ENI by id or name.
    pub fn eni_by_name(&self, name: &str) -> Option<usize> {
        self.enis
            .iter()
            .position(|e| e.id == name || e.name.as_deref() == Some(name))
    }

    /// The VPC whose blocks contain `ip`.
    pub fn vpc_of_ip(&self, ip: IpAddr) -> Option<usize> {
        self.vpcs
            .iter()
            .position(|v| v.cidrs.iter().any(|c| prefix_contains(c, ip)))
    }

    /// True when `ip` is inside the subnet's blocks.
    pub fn in_subnet(&self, subnet: usize, ip: IpAddr) -> bool {
        self.subnets[subnet]
            .cidrs
            .iter()
            .any(|c| prefix_contains(c, ip))
    }

    /// The route an ENI's subnet takes to `dst`, if any.
    pub fn route(&self, eni: usize, dst: IpAddr) -> Option<RouteTarget> {
        let subnet = &self.subnets[self.enis[eni].subnet];
        subnet
            .routes
            .iter()
            .find(|(net, _)| prefix_contains(net, dst))
            .map(|(_, t)| *t)
    }

    /// The `traffic-path` of egress traffic from `eni` to `dst` (flow-log-format.md §3.4),
    /// assuming Nitro instances (internet gateway 8, gateway endpoint 7).
    pub fn traffic_path(&self, eni: usize, dst: IpAddr) -> Option<TrafficPath> {
        Some(match self.route(eni, dst)? {
            RouteTarget::Local => TrafficPath::SAME_VPC,
            RouteTarget::Gateway(g) => match self.gateways[g].kind {
                GatewayType::Internet => TrafficPath::INTERNET_GATEWAY,
                // NAT gateways and transit-gateway attachments have ENIs in the VPC.
                GatewayType::Nat | GatewayType::TransitGateway => TrafficPath::SAME_VPC,
                GatewayType::VirtualPrivate => TrafficPath::VIRTUAL_PRIVATE_GATEWAY,
                GatewayType::VpcPeering => match &self.gateways[g].peer_region {
                    Some(r) if *r != self.region => TrafficPath::INTER_REGION_PEERING,
                    _ => TrafficPath::INTRA_REGION_PEERING,
                },
                GatewayType::GatewayEndpoint => TrafficPath::GATEWAY_ENDPOINT,
                GatewayType::Local => TrafficPath::LOCAL_GATEWAY,
            },
        })
    }
}
