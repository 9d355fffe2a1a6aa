//! ACCEPT or REJECT for one packet at one ENI in one direction, and which rule decided.
//!
//! Owns the semantics (flow-log-format.md §3.1 `action`, design.md "Record semantics"):
//! * Network ACLs are stateless and sit at the subnet boundary: a packet to or from an address
//!   inside the ENI's own subnet does not cross them. Entries are tried lowest number first; the
//!   first match decides; the default `*` entry denies. Port ranges match the destination port.
//! * Security groups are allow-only and stateful: a packet any rule allows starts tracking its
//!   connection, and every later packet of a tracked connection, either way, is allowed (return
//!   traffic needs no rule). NAT gateway ENIs have no security groups.
//! * Egress: security groups, then the ACL's outbound entries. Ingress: the ACL's inbound
//!   entries, then security groups. The packet is accepted only if both allow it.
//!
//! Time comes in as a value (`now`, microseconds); nothing here reads a clock.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use vpcflow_record::{Action, FlowDirection};

use crate::conntrack::{ConnKey, Conntrack, Timeouts};
use crate::network::{AclEntry, Network, Peer, SgRule, prefix_contains};

/// The addressing of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiveTuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IANA protocol number.
    pub protocol: u8,
    /// Source port (0 for protocols without ports).
    pub src_port: u16,
    /// Destination port (0 for protocols without ports).
    pub dst_port: u16,
}

impl FiveTuple {
    /// The other direction of the same conversation (a reply's addressing).
    pub fn reversed(&self) -> FiveTuple {
        FiveTuple {
            src: self.dst,
            dst: self.src,
            protocol: self.protocol,
            src_port: self.dst_port,
            dst_port: self.src_port,
        }
    }
}

/// A packet as policy sees it: addressing plus the raw TCP flag byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Addressing.
    pub tuple: FiveTuple,
    /// TCP flags (RFC 793 bits; 0 for other protocols).
    pub tcp_flags: u8,
}

/// What the security-group layer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgDecision {
    /// A rule allowed it: `(group index, rule index)` in the direction's rule list.
    Rule(usize, usize),
    /// Part of a tracked connection (return traffic, or a connection allowed earlier).
    Tracked,
    /// The ENI has no security groups (NAT gateway): nothing to check.
    NoGroups,
    /// No rule of any group allows it.
    NoMatch,
}

/// What the network-ACL layer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclDecision {
    /// The packet stays inside the subnet: the ACL is not crossed.
    NotCrossed,
    /// Entry `number` of ACL `acl` matched; `allow` is its action.
    Rule {
        /// ACL index.
        acl: usize,
        /// Rule number.
        number: u16,
        /// Allow or deny.
        allow: bool,
    },
    /// No entry matched: the default `*` rule of ACL `acl` denies.
    DefaultDeny {
        /// ACL index.
        acl: usize,
    },
}

impl AclDecision {
    fn allows(self) -> bool {
        matches!(
            self,
            AclDecision::NotCrossed | AclDecision::Rule { allow: true, .. }
        )
    }
}

impl SgDecision {
    fn allows(self) -> bool {
        !matches!(self, SgDecision::NoMatch)
    }
}

/// The outcome at one ENI in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// ACCEPT when both layers allow.
    pub action: Action,
    /// The security-group layer.
    pub sg: SgDecision,
    /// The network-ACL layer.
    pub acl: AclDecision,
}

fn ports_match(protocol: u8, rule_protocol: Option<u8>, ports: (u16, u16), dst_port: u16) -> bool {
    // Port ranges only mean something for TCP and UDP rules; "all" covers every port.
    match (rule_protocol, protocol) {
        (Some(6 | 17), 6 | 17) => (ports.0..=ports.1).contains(&dst_port),
        _ => true,
    }
}

fn acl_matches(e: &AclEntry, remote: IpAddr, p: &FiveTuple) -> bool {
    e.protocol.is_none_or(|x| x == p.protocol)
        && ports_match(p.protocol, e.protocol, e.ports, p.dst_port)
        && prefix_contains(&e.cidr, remote)
}

fn sg_matches(net: &Network, r: &SgRule, remote: IpAddr, p: &FiveTuple) -> bool {
    r.protocol.is_none_or(|x| x == p.protocol)
        && ports_match(p.protocol, r.protocol, r.ports, p.dst_port)
        && match &r.peer {
            Peer::Cidrs(cidrs) => cidrs.iter().any(|c| prefix_contains(c, remote)),
            Peer::Group(g) => net.security_groups[*g].members.contains(&remote),
        }
}

/// The remote address of a packet seen at an ENI in a direction.
fn remote(dir: FlowDirection, p: &FiveTuple) -> IpAddr {
    match dir {
        FlowDirection::Egress => p.dst,
        FlowDirection::Ingress => p.src,
    }
}

/// The network-ACL layer alone.
pub fn acl_decision(net: &Network, eni: usize, dir: FlowDirection, p: &FiveTuple) -> AclDecision {
    let e = &net.enis[eni];
    let remote = remote(dir, p);
    if net.in_subnet(e.subnet, remote) {
        return AclDecision::NotCrossed;
    }
    let acl_ix = net.subnets[e.subnet].acl;
    let acl = &net.acls[acl_ix];
    let entries = match dir {
        FlowDirection::Egress => &acl.outbound,
        FlowDirection::Ingress => &acl.inbound,
    };
    entries
        .iter()
        .find(|entry| acl_matches(entry, remote, p))
        .map_or(AclDecision::DefaultDeny { acl: acl_ix }, |entry| {
            AclDecision::Rule {
                acl: acl_ix,
                number: entry.number,
                allow: entry.allow,
            }
        })
}

/// The security-group rules alone (no connection tracking).
pub fn sg_rules_decision(
    net: &Network,
    eni: usize,
    dir: FlowDirection,
    p: &FiveTuple,
) -> SgDecision {
    let e = &net.enis[eni];
    if e.security_groups.is_empty() {
        return SgDecision::NoGroups;
    }
    let remote = remote(dir, p);
    for &g in &e.security_groups {
        let sg = &net.security_groups[g];
        let rules = match dir {
            FlowDirection::Egress => &sg.outbound,
            FlowDirection::Ingress => &sg.inbound,
        };
        if let Some(i) = rules.iter().position(|r| sg_matches(net, r, remote, p)) {
            return SgDecision::Rule(g, i);
        }
    }
    SgDecision::NoMatch
}

/// Both layers from the rules alone, as for a connection's first packet (used by `diagnose`).
pub fn evaluate_rules(net: &Network, eni: usize, dir: FlowDirection, p: &FiveTuple) -> Verdict {
    combine(
        sg_rules_decision(net, eni, dir, p),
        acl_decision(net, eni, dir, p),
    )
}

fn combine(sg: SgDecision, acl: AclDecision) -> Verdict {
    let action = if sg.allows() && acl.allows() {
        Action::Accept
    } else {
        Action::Reject
    };
    Verdict { action, sg, acl }
}

/// True when `rule` covers every address of the family of `ip` (0.0.0.0/0 or ::/0).
fn open_to_all(rule: &SgRule, ip: IpAddr) -> bool {
    matches!(&rule.peer, Peer::Cidrs(c) if c.iter().any(|n| n.prefix_len() == 0 && prefix_contains(n, ip)))
}

/// AWS's untracked flows (EC2 User Guide, *Security group connection tracking*): a TCP or UDP
/// flow allowed by a rule open to 0.0.0.0/0 (or ::/0), where a rule in the other direction allows
/// all response traffic (0.0.0.0/0 or ::/0, all ports), is not tracked, "to and from the
/// instance": its replies pass on that rule instead. The test is made for both orientations of
/// the packet, since without tracking a reply cannot be told from an initiator.
fn untracked(net: &Network, eni: usize, dir: FlowDirection, p: &FiveTuple) -> bool {
    if !matches!(p.protocol, 6 | 17) {
        return false;
    }
    let back = match dir {
        FlowDirection::Egress => FlowDirection::Ingress,
        FlowDirection::Ingress => FlowDirection::Egress,
    };
    let rules = |g: usize, d: FlowDirection| match d {
        FlowDirection::Egress => &net.security_groups[g].outbound,
        FlowDirection::Ingress => &net.security_groups[g].inbound,
    };
    let groups = &net.enis[eni].security_groups;
    // An open rule in direction `d` lets `t` through.
    let open_allows = |d: FlowDirection, t: &FiveTuple| {
        let remote = remote(d, t);
        groups.iter().any(|&g| {
            rules(g, d)
                .iter()
                .any(|r| open_to_all(r, remote) && sg_matches(net, r, remote, t))
        })
    };
    // An open rule in direction `d` allows all traffic of this protocol on every port.
    let open_all_ports = |d: FlowDirection| {
        let remote = remote(dir, p);
        groups.iter().any(|&g| {
            rules(g, d).iter().any(|r| {
                open_to_all(r, remote)
                    && r.protocol.is_none_or(|x| x == p.protocol)
                    && r.ports == (0, 65535)
            })
        })
    };
    (open_allows(dir, p) && open_all_ports(back))
        || (open_allows(back, &p.reversed()) && open_all_ports(dir))
}

/// True when every TCP or UDP (`proto`) flow of the family at `eni` is untracked: both
/// directions have a rule open to every address of the family on every port of the protocol.
/// Then [`untracked`] holds for every packet, and tracking can be skipped without a lookup.
fn never_tracked(net: &Network, eni: usize, v6: bool, proto: u8) -> bool {
    let groups = &net.enis[eni].security_groups;
    let open = |rules: &[SgRule]| {
        rules.iter().any(|r| {
            matches!(&r.peer, Peer::Cidrs(c) if c.iter().any(|n| n.prefix_len() == 0 && matches!(n, IpNet::V6(_)) == v6))
                && r.protocol.is_none_or(|x| x == proto)
                && r.ports == (0, 65535)
        })
    };
    groups
        .iter()
        .any(|&g| open(&net.security_groups[g].inbound))
        && groups
            .iter()
            .any(|&g| open(&net.security_groups[g].outbound))
}

/// The decisions that are the same for every packet of a family in a direction at an ENI: the
/// security groups' when the first rule scanned matches everything of the family, the ACL's
/// (for remotes outside the subnet) when its first entry does. `[direction][family]`, direction
/// 0 = egress, family 0 = IPv4.
type Constant = [[(Option<SgDecision>, Option<AclDecision>); 2]; 2];

fn matches_all(protocol: Option<u8>, cidr: &IpNet, v6: bool) -> bool {
    protocol.is_none() && cidr.prefix_len() == 0 && matches!(cidr, IpNet::V6(_)) == v6
}

fn constant(net: &Network, eni: usize) -> Constant {
    let e = &net.enis[eni];
    let acl_ix = net.subnets[e.subnet].acl;
    let acl = &net.acls[acl_ix];
    [FlowDirection::Egress, FlowDirection::Ingress].map(|dir| {
        [false, true].map(|v6| {
            let sg = e
                .security_groups
                .iter()
                .map(|&g| {
                    let sg = &net.security_groups[g];
                    let rules = match dir {
                        FlowDirection::Egress => &sg.outbound,
                        FlowDirection::Ingress => &sg.inbound,
                    };
                    (g, rules)
                })
                .find(|(_, rules)| !rules.is_empty())
                .and_then(|(g, rules)| {
                    let first = &rules[0];
                    let all = matches!(&first.peer, Peer::Cidrs(c) if c.iter().any(|n| matches_all(first.protocol, n, v6)));
                    all.then_some(SgDecision::Rule(g, 0))
                });
            let entries = match dir {
                FlowDirection::Egress => &acl.outbound,
                FlowDirection::Ingress => &acl.inbound,
            };
            let acl = entries
                .first()
                .filter(|entry| matches_all(entry.protocol, &entry.cidr, v6))
                .map(|entry| AclDecision::Rule {
                    acl: acl_ix,
                    number: entry.number,
                    allow: entry.allow,
                });
            (sg, acl)
        })
    })
}

/// Stateful evaluation: the rules plus security-group connection tracking.
pub struct Policy {
    net: Arc<Network>,
    conntrack: Conntrack,
    /// Per ENI, [IPv4, IPv6] × [TCP, UDP]: every such flow is untracked (see [`never_tracked`]).
    never_tracked: Vec<[[bool; 2]; 2]>,
    /// Per ENI, the decisions that need no rule scan (see [`constant`]).
    constant: Vec<Constant>,
}

impl Policy {
    /// A policy engine over `net` with AWS's default tracking timeouts.
    pub fn new(net: Arc<Network>) -> Policy {
        Policy::with_timeouts(net, Timeouts::default())
    }

    /// A policy engine with explicit tracking timeouts.
    pub fn with_timeouts(net: Arc<Network>, timeouts: Timeouts) -> Policy {
        let never = (0..net.enis.len())
            .map(|e| [false, true].map(|v6| [6, 17].map(|proto| never_tracked(&net, e, v6, proto))))
            .collect();
        let constant = (0..net.enis.len()).map(|e| constant(&net, e)).collect();
        Policy {
            net,
            conntrack: Conntrack::new(timeouts),
            never_tracked: never,
            constant,
        }
    }

    /// Evaluates against `net` from now on, a change of the network the policy was over: its
    /// connections kept under the ENIs' new numbers (`map`: old index to new, `None` for an
    /// ENI no longer there), so replies of connections made before the change are still
    /// replies.
    pub fn renumber(&mut self, net: Arc<Network>, map: &[Option<usize>]) {
        let timeouts = self.conntrack.timeouts();
        let mut conntrack = std::mem::replace(&mut self.conntrack, Conntrack::new(timeouts));
        conntrack.renumber(map);
        *self = Policy::with_timeouts(net, timeouts);
        self.conntrack = conntrack;
    }

    /// The network evaluated against.
    pub fn network(&self) -> &Arc<Network> {
        &self.net
    }

    /// Connections currently tracked.
    pub fn tracked(&self) -> usize {
        self.conntrack.len()
    }

    /// Drops connections idle past their timeout at `now` (µs).
    pub fn expire(&mut self, now: u64) {
        self.conntrack.expire(now);
    }

    /// Evaluates `packet` at `eni` travelling `dir` at time `now` (µs), updating tracking.
    pub fn evaluate(
        &mut self,
        eni: usize,
        dir: FlowDirection,
        packet: &Packet,
        now: u64,
    ) -> Verdict {
        let net = &*self.net;
        let p = &packet.tuple;
        let (sg_const, acl_const) = self.constant[eni][usize::from(dir == FlowDirection::Ingress)]
            [usize::from(p.src.is_ipv6())];
        let acl = match acl_const {
            Some(a) if !net.in_subnet(net.enis[eni].subnet, remote(dir, p)) => a,
            _ => acl_decision(net, eni, dir, p),
        };
        if net.enis[eni].security_groups.is_empty() {
            return combine(SgDecision::NoGroups, acl);
        }
        if matches!(p.protocol, 6 | 17)
            && self.never_tracked[eni][usize::from(p.src.is_ipv6())][usize::from(p.protocol == 17)]
        {
            // Open both ways on every port: no flow of this kind is ever tracked (AWS's
            // untracked flows), so there is nothing to look up.
            let sg = sg_const.unwrap_or_else(|| sg_rules_decision(net, eni, dir, p));
            return combine(sg, acl);
        }
        let key = ConnKey::new(eni, dir, p);
        let sg = if self.conntrack.touch(&key, dir, packet.tcp_flags, now) {
            SgDecision::Tracked
        } else {
            let d = sg_rules_decision(net, eni, dir, p);
            if d.allows() && !untracked(net, eni, dir, p) {
                // Tracking starts at the security group, at the ENI, whatever the subnet's ACL
                // then does: a reply the ACL drops on the way back is still REJECTed by the ACL.
                self.conntrack.start(key, dir, packet.tcp_flags, now);
            }
            d
        };
        combine(sg, acl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Packet;
    use proptest::prelude::*;

    /// One ENI whose group is open both ways to everything, one open to TCP only, in one subnet.
    const OPEN: &str = r#"
[region]
name = "us-east-1"
azs = [{ name = "us-east-1a", id = "use1-az1" }]
[[accounts]]
id = "123456789012"
[[vpcs]]
id = "vpc-0bbbbbbbbbbbbbbb1"
account = "123456789012"
cidrs = ["172.31.0.0/16"]
[[subnets]]
id = "subnet-0bbbbbbbbbbbbbbb1"
vpc = "vpc-0bbbbbbbbbbbbbbb1"
az = "us-east-1a"
cidrs = ["172.31.0.0/24"]
route_table = "rtb-0bbbbbbbbbbbbbbb1"
network_acl = "acl-0bbbbbbbbbbbbbbb1"
[[route_tables]]
id = "rtb-0bbbbbbbbbbbbbbb1"
vpc = "vpc-0bbbbbbbbbbbbbbb1"
routes = [{ destination = "172.31.0.0/16", target = "local" }]
[[network_acls]]
id = "acl-0bbbbbbbbbbbbbbb1"
vpc = "vpc-0bbbbbbbbbbbbbbb1"
inbound = [{ rule = 100, protocol = "all", cidr = "0.0.0.0/0", action = "allow" }]
outbound = [{ rule = 100, protocol = "tcp", ports = "0-65535", cidr = "0.0.0.0/0", action = "allow" }]
[[security_groups]]
id = "sg-0bbbbbbbbbbbbbbb1"
vpc = "vpc-0bbbbbbbbbbbbbbb1"
inbound = [{ protocol = "all", cidr = "0.0.0.0/0" }]
outbound = [{ protocol = "all", cidr = "0.0.0.0/0" }]
[[security_groups]]
id = "sg-0bbbbbbbbbbbbbbb2"
vpc = "vpc-0bbbbbbbbbbbbbbb1"
inbound = [{ protocol = "tcp", ports = "0-65535", cidr = "0.0.0.0/0" }, { protocol = "udp", ports = 53, cidr = "0.0.0.0/0" }]
outbound = [{ protocol = "all", cidr = "0.0.0.0/0" }]
[[enis]]
id = "eni-0bbbbbbbbbbbbbbb1"
subnet = "subnet-0bbbbbbbbbbbbbbb1"
private_ips = ["172.31.0.10"]
security_groups = ["sg-0bbbbbbbbbbbbbbb1"]
[[enis]]
id = "eni-0bbbbbbbbbbbbbbb2"
subnet = "subnet-0bbbbbbbbbbbbbbb1"
private_ips = ["172.31.0.11"]
security_groups = ["sg-0bbbbbbbbbbbbbbb2"]
"#;

    fn arb_packet() -> impl Strategy<Value = (usize, bool, Packet)> {
        let addr = prop_oneof![
            Just("172.31.0.10"),
            Just("172.31.0.11"),
            Just("198.51.100.7"),
            Just("203.0.113.9"),
        ];
        (
            0..2usize,
            any::<bool>(),
            addr.clone(),
            addr,
            prop_oneof![Just(6u8), Just(17u8), Just(1u8)],
            prop_oneof![Just(53u16), Just(443u16), Just(40000u16)],
            prop_oneof![
                Just(0u8),
                Just(0x02u8),
                Just(0x12u8),
                Just(0x11u8),
                Just(0x04u8)
            ],
        )
            .prop_map(|(eni, egress, src, dst, protocol, port, flags)| {
                let tuple = FiveTuple {
                    src: src.parse().unwrap(),
                    dst: dst.parse().unwrap(),
                    protocol,
                    src_port: if egress { 40000 } else { port },
                    dst_port: if egress { port } else { 40000 },
                };
                (
                    eni,
                    egress,
                    Packet {
                        tuple,
                        tcp_flags: flags,
                    },
                )
            })
    }

    proptest! {
        /// Skipping the tracking lookup for flows that are never tracked, and the rule scans
        /// whose first rule matches everything, changes no verdict.
        #[test]
        fn the_shortcuts_change_no_verdict(packets in proptest::collection::vec(arb_packet(), 1..80)) {
            let net = Arc::new(Network::from_toml(OPEN, "open").unwrap());
            let mut fast = Policy::new(Arc::clone(&net));
            prop_assert!(fast.never_tracked[0][0][0] && fast.never_tracked[0][0][1], "ENI 1: TCP and UDP");
            prop_assert!(fast.never_tracked[1][0][0] && !fast.never_tracked[1][0][1], "ENI 2: TCP only");
            let mut slow = Policy::new(Arc::clone(&net));
            slow.never_tracked = vec![[[false; 2]; 2]; net.enis.len()];
            slow.constant = vec![[[(None, None); 2]; 2]; net.enis.len()];
            prop_assert!(fast.constant[0][0][0].0.is_some() && fast.constant[0][1][0].1.is_some());
            for (i, (eni, egress, p)) in packets.iter().enumerate() {
                let dir = if *egress { FlowDirection::Egress } else { FlowDirection::Ingress };
                let now = i as u64 * 1_000_000;
                prop_assert_eq!(fast.evaluate(*eni, dir, p, now), slow.evaluate(*eni, dir, p, now));
            }
            prop_assert_eq!(fast.tracked(), slow.tracked());
        }
    }
}
