//! `vpcflow diagnose`: from the topology alone, would a connection pass, and which rules decide,
//! for the request and for the reply.
//!
//! Owns path finding for one connection (source ENI egress, the NAT gateway's ENI when the route
//! goes through one, destination ENI ingress; the internet gateway maps public addresses to
//! private ones) and the explanation text. The reply retraces the path backwards; security groups
//! let it through as a tracked connection when the request passed them, network ACLs are
//! evaluated again (they are stateless): the documented cause of "ping goes in, reply is
//! REJECTed".

use std::fmt::Write as _;
use std::net::IpAddr;

use vpcflow_record::{Action, FlowDirection};

use crate::model::GatewayType;
use crate::network::{Network, RouteTarget};
use crate::policy::{AclDecision, FiveTuple, SgDecision, Verdict, acl_decision, evaluate_rules};

/// Which way a step's packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// Client to server.
    Request,
    /// Server back to client.
    Reply,
}

/// One evaluation point on the path.
#[derive(Debug, Clone)]
pub struct Step {
    /// Request or reply.
    pub leg: Leg,
    /// ENI index.
    pub eni: usize,
    /// Direction at that ENI.
    pub direction: FlowDirection,
    /// The packet as that ENI sees it.
    pub tuple: FiveTuple,
    /// What policy says.
    pub verdict: Verdict,
}

/// The whole answer.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// Evaluation points in path order (request first, then reply).
    pub steps: Vec<Step>,
}

/// What a diagnosis concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// Request and reply pass every rule on the path.
    Accept,
    /// A rule drops the request or the reply.
    Reject,
    /// Neither address is an ENI of the topology: no flow log sees the traffic.
    NotCovered,
}

impl Conclusion {
    /// The verdict's word (`ACCEPT`, `REJECT`, `NOT_COVERED`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Conclusion::Accept => "ACCEPT",
            Conclusion::Reject => "REJECT",
            Conclusion::NotCovered => "NOT_COVERED",
        }
    }
}

impl Step {
    /// What the security groups of the step's ENI say, and which rule decides.
    pub fn security_groups(&self, net: &Network) -> String {
        describe_sg(net, self)
    }

    /// What the network ACL on the step's path says, and which rule decides.
    pub fn network_acl(&self, net: &Network) -> String {
        describe_acl(net, self.verdict.acl, self.direction)
    }
}

impl Diagnosis {
    /// The conclusion.
    pub fn conclusion(&self) -> Conclusion {
        if self.steps.is_empty() {
            Conclusion::NotCovered
        } else if self.blocked_at().is_some() {
            Conclusion::Reject
        } else {
            Conclusion::Accept
        }
    }

    /// The first REJECT on the path, if any.
    pub fn blocked_at(&self) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| s.verdict.action == Action::Reject)
    }

    /// Human-readable explanation.
    pub fn explain(&self, net: &Network) -> String {
        let mut out = String::new();
        if self.steps.is_empty() {
            out.push_str("Neither address belongs to an ENI of the topology: no flow log would see this traffic.\n");
            return out;
        }
        for s in &self.steps {
            let e = &net.enis[s.eni];
            let _ = writeln!(
                out,
                "{:<7} {} ({}) {:<7} {} {}:{} -> {}:{}",
                match s.leg {
                    Leg::Request => "request",
                    Leg::Reply => "reply",
                },
                e.id,
                e.name.as_deref().unwrap_or("-"),
                s.direction.as_str(),
                s.verdict.action,
                s.tuple.src,
                s.tuple.src_port,
                s.tuple.dst,
                s.tuple.dst_port,
            );
            let _ = writeln!(out, "          security groups: {}", describe_sg(net, s));
            let _ = writeln!(
                out,
                "          network ACL:     {}",
                describe_acl(net, s.verdict.acl, s.direction)
            );
        }
        match self.blocked_at() {
            None => out.push_str("=> ACCEPT: the connection succeeds, and flow logs record it as ACCEPT both ways.\n"),
            Some(s) => {
                let _ = writeln!(
                    out,
                    "=> REJECT: the {} is dropped at {} ({}); its flow-log record there says REJECT.",
                    if s.leg == Leg::Request { "request" } else { "reply" },
                    net.enis[s.eni].id,
                    s.direction.as_str()
                );
            }
        }
        out
    }
}

fn describe_sg(net: &Network, s: &Step) -> String {
    match s.verdict.sg {
        SgDecision::NoGroups => "none on this ENI (NAT gateway): not checked".into(),
        SgDecision::Tracked => "allowed as the reply of a tracked connection (stateful)".into(),
        SgDecision::NoMatch => {
            let groups: Vec<_> = net.enis[s.eni]
                .security_groups
                .iter()
                .map(|g| net.security_groups[*g].id.as_str())
                .collect();
            format!(
                "no {} rule of {} allows it",
                dir_word(s.direction),
                groups.join(", ")
            )
        }
        SgDecision::Rule(g, i) => {
            let sg = &net.security_groups[g];
            format!(
                "{} ({}) {} rule #{} allows it",
                sg.id,
                sg.name.as_deref().unwrap_or("-"),
                dir_word(s.direction),
                i + 1
            )
        }
    }
}

fn describe_acl(net: &Network, d: AclDecision, dir: FlowDirection) -> String {
    match d {
        AclDecision::NotCrossed => "not crossed (the peer is in the same subnet)".into(),
        AclDecision::Rule { acl, number, allow } => format!(
            "{} {} rule {} {}",
            net.acls[acl].id,
            dir_word(dir),
            number,
            if allow { "allows it" } else { "DENIES it" }
        ),
        AclDecision::DefaultDeny { acl } => {
            format!(
                "{} {}: no rule matches, the default * rule DENIES it",
                net.acls[acl].id,
                dir_word(dir)
            )
        }
    }
}

fn dir_word(d: FlowDirection) -> &'static str {
    match d {
        FlowDirection::Ingress => "inbound",
        FlowDirection::Egress => "outbound",
    }
}

/// Explains a connection from `src` to `dst`. `src_port` is the client's (ephemeral) port.
pub fn diagnose(
    net: &Network,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    src_port: u16,
    dst_port: u16,
) -> Diagnosis {
    let (src_port, dst_port) = if matches!(protocol, 6 | 17) {
        (src_port, dst_port)
    } else {
        (0, 0)
    };
    let mut points: Vec<(usize, FlowDirection, FiveTuple)> = Vec::new();
    let request = FiveTuple {
        src,
        dst,
        protocol,
        src_port,
        dst_port,
    };
    let src_eni = net.eni_by_private_ip(src);
    // The internet gateway maps a public destination to the ENI's private address.
    let (dst_eni, dst_private) = match net.eni_by_private_ip(dst) {
        Some(e) => (Some(e), dst),
        None => match net.eni_by_public_ip(dst) {
            Some(e) => (Some(e), net.enis[e].primary_ip()),
            None => (None, dst),
        },
    };
    if let Some(s) = src_eni {
        points.push((s, FlowDirection::Egress, request));
        if dst_eni.is_none()
            && let Some(RouteTarget::Gateway(g)) = net.route(s, dst)
            && net.gateways[g].kind == GatewayType::Nat
            && let Some(nat) = net.gateways[g].eni
        {
            let translated = FiveTuple {
                src: net.enis[nat].primary_ip(),
                ..request
            };
            points.push((nat, FlowDirection::Ingress, request));
            points.push((nat, FlowDirection::Egress, translated));
        }
    }
    if let Some(d) = dst_eni {
        points.push((
            d,
            FlowDirection::Ingress,
            FiveTuple {
                dst: dst_private,
                ..request
            },
        ));
    }

    let mut steps = Vec::new();
    let mut tracked = Vec::new();
    for (eni, dir, tuple) in &points {
        let verdict = evaluate_rules(net, *eni, *dir, tuple);
        tracked.push(!matches!(verdict.sg, SgDecision::NoMatch));
        let rejected = verdict.action == Action::Reject;
        steps.push(Step {
            leg: Leg::Request,
            eni: *eni,
            direction: *dir,
            tuple: *tuple,
            verdict,
        });
        if rejected {
            return Diagnosis { steps };
        }
    }
    // The reply retraces the path; security groups pass it if they tracked the request.
    for ((eni, dir, tuple), was_tracked) in points.iter().zip(tracked).rev() {
        let dir = match dir {
            FlowDirection::Egress => FlowDirection::Ingress,
            FlowDirection::Ingress => FlowDirection::Egress,
        };
        let tuple = tuple.reversed();
        let acl = acl_decision(net, *eni, dir, &tuple);
        let sg = if net.enis[*eni].security_groups.is_empty() {
            SgDecision::NoGroups
        } else if was_tracked {
            SgDecision::Tracked
        } else {
            SgDecision::NoMatch
        };
        let allows_acl = matches!(
            acl,
            AclDecision::NotCrossed | AclDecision::Rule { allow: true, .. }
        );
        let action = if allows_acl && sg != SgDecision::NoMatch {
            Action::Accept
        } else {
            Action::Reject
        };
        steps.push(Step {
            leg: Leg::Reply,
            eni: *eni,
            direction: dir,
            tuple,
            verdict: Verdict { action, sg, acl },
        });
        if action == Action::Reject {
            break;
        }
    }
    Diagnosis { steps }
}

impl Diagnosis {
    /// The diagnosis as JSON: the verdict, then every evaluation point with its deciding rules
    /// (`vpcflow diagnose --output json` prints it; the console shows it).
    pub fn to_json(&self, net: &Network) -> serde_json::Value {
        let steps: Vec<serde_json::Value> = self
            .steps
            .iter()
            .map(|s| {
                let eni = &net.enis[s.eni];
                serde_json::json!({
                    "leg": if s.leg == Leg::Request { "request" } else { "reply" },
                    "interfaceId": eni.id,
                    "name": eni.name,
                    "flowDirection": s.direction.as_str(),
                    "action": s.verdict.action.as_str(),
                    "srcAddr": s.tuple.src.to_string(),
                    "srcPort": s.tuple.src_port,
                    "dstAddr": s.tuple.dst.to_string(),
                    "dstPort": s.tuple.dst_port,
                    "protocol": s.tuple.protocol,
                    "securityGroups": s.security_groups(net),
                    "networkAcl": s.network_acl(net),
                })
            })
            .collect();
        serde_json::json!({
            "verdict": self.conclusion().as_str(),
            "explanation": self.explain(net).lines().last().unwrap_or_default().trim_start_matches("=> "),
            "steps": steps,
        })
    }
}
