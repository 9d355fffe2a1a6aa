//! The troubleshooting flowchart on delivered records (`vpcflow diagnose --data`): given a
//! connection (source, destination, port, protocol), the flow records the log groups hold for it
//! and which flow logs cover its ENIs, what happened and why, in AWS's terms:
//!
//! 1. no records: whether a flow log covers the ENIs at all, whether its traffic type would
//!    keep these records, and whether its aggregation interval (plus delivery) has passed;
//! 2. the request REJECTed: the security-group or network-ACL rule that decides
//!    ([`crate::diagnose`] on the topology names it);
//! 3. the request ACCEPTed inbound and the reply REJECTed outbound: the network ACL's stateless
//!    return rule (AWS's "ping goes in, reply is REJECTed" example);
//! 4. inbound ACCEPTed at a NAT gateway's ENI with nothing beyond: unsolicited inbound traffic,
//!    which the gateway drops (AWS logs it as ACCEPT);
//! 5. ACCEPT both ways: the network allowed it; look at the application, routing or DNS.
//!
//! Pure: the binary reads the records and the flow logs and hands them in.

use std::net::IpAddr;

use vpcflow_record::{Action, FieldId, FlowRecord};

use crate::diagnose::{Leg, diagnose};
use crate::model::GatewayType;
use crate::network::Network;

/// The connection asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Question {
    /// The client.
    pub src: IpAddr,
    /// The server (private, or an ENI's public address).
    pub dst: IpAddr,
    /// The server's port (TCP and UDP), if asked.
    pub port: Option<u16>,
    /// The protocol number, if asked.
    pub protocol: Option<u8>,
}

/// A flow log that covers an ENI, as the flowchart needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Covering {
    /// Its id.
    pub flow_log_id: String,
    /// ACCEPT, REJECT or ALL.
    pub traffic_type: String,
    /// Its aggregation interval (s).
    pub interval_s: u32,
    /// Where it delivers, in words (`log group /vpcflow/flow-logs`, `s3 arn:aws:s3:::b`).
    pub destination: String,
    /// Whether its records are among those read (log groups are; S3 and Firehose are not).
    pub read: bool,
}

/// A record the log groups hold, and the ENI whose flow log made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The ENI (its id).
    pub eni: String,
    /// The record.
    pub record: FlowRecord,
    /// The record as its log event reads.
    pub line: String,
}

/// What the flowchart concludes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No record of the connection.
    NoRecords,
    /// The request was REJECTed.
    RequestRejected,
    /// The request went in, the reply was REJECTed on its way out.
    ReplyRejected,
    /// Inbound traffic to a NAT gateway that nothing inside asked for.
    NatUnsolicited,
    /// The request went in; no reply was recorded.
    NoReply,
    /// ACCEPT both ways.
    Accepted,
}

impl Verdict {
    /// Its name in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::NoRecords => "NO_RECORDS",
            Verdict::RequestRejected => "REQUEST_REJECTED",
            Verdict::ReplyRejected => "REPLY_REJECTED",
            Verdict::NatUnsolicited => "NAT_UNSOLICITED_INBOUND",
            Verdict::NoReply => "NO_REPLY",
            Verdict::Accepted => "ACCEPTED",
        }
    }
}

/// The answer: the verdict, why in plain words, and the records that show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Troubleshooting {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, one sentence per finding.
    pub reasons: Vec<String>,
    /// The request's records.
    pub request: Vec<Observed>,
    /// The reply's records.
    pub reply: Vec<Observed>,
}

impl Troubleshooting {
    /// The answer as JSON: the verdict, the reasons and the records of each leg
    /// (`vpcflow diagnose --data --output json` prints it; the console shows it).
    pub fn to_json(&self) -> serde_json::Value {
        let lines = |v: &[Observed]| -> Vec<serde_json::Value> {
            v.iter()
                .map(|o| serde_json::json!({"interfaceId": o.eni, "message": o.line}))
                .collect()
        };
        serde_json::json!({
            "verdict": self.verdict.as_str(),
            "reasons": self.reasons,
            "requestRecords": lines(&self.request),
            "replyRecords": lines(&self.reply),
        })
    }
}

/// The flowchart for `q` over `records` (any records: those of the connection are picked), with
/// the flow logs covering each ENI (`coverage(eni id)`).
pub fn troubleshoot(
    net: &Network,
    q: &Question,
    records: &[Observed],
    coverage: &dyn Fn(&str) -> Vec<Covering>,
) -> Troubleshooting {
    let dst_private = net
        .eni_by_public_ip(q.dst)
        .map_or(q.dst, |e| net.enis[e].primary_ip());
    let is_src = |a: IpAddr| a == q.src;
    let is_dst = |a: IpAddr| a == q.dst || a == dst_private;
    let proto_ok = |p: Option<u8>| q.protocol.is_none_or(|want| p == Some(want));
    let mut request = Vec::new();
    let mut reply = Vec::new();
    for o in records {
        let Some(Ends {
            src: s,
            dst: d,
            src_port: sp,
            dst_port: dp,
            protocol: p,
        }) = Ends::of(&o.record)
        else {
            continue;
        };
        if !proto_ok(p) {
            continue;
        }
        if is_src(s) && is_dst(d) && q.port.is_none_or(|port| dp == Some(port)) {
            request.push(o.clone());
        } else if is_dst(s) && is_src(d) && q.port.is_none_or(|port| sp == Some(port)) {
            reply.push(o.clone());
        }
    }
    let rejected = |v: &[Observed]| v.iter().any(|o| action(&o.record) == Some(Action::Reject));
    let accepted = |v: &[Observed]| v.iter().any(|o| action(&o.record) == Some(Action::Accept));
    let policy = diagnose(
        net,
        q.src,
        q.dst,
        q.protocol.unwrap_or(6),
        49152,
        q.port.unwrap_or(443),
    );
    let deciding = |leg: Leg| -> Option<String> {
        let step = policy
            .steps
            .iter()
            .find(|s| s.leg == leg && s.verdict.action == Action::Reject)?;
        let sg = step.security_groups(net);
        let acl = step.network_acl(net);
        Some(format!("at {}: {sg}; {acl}", label(net, step.eni)))
    };
    let mut reasons = Vec::new();
    // The records that decide come first in the evidence.
    let rejects_first = |v: &mut Vec<Observed>| {
        v.sort_by_key(|o| action(&o.record) != Some(Action::Reject));
    };
    rejects_first(&mut request);
    rejects_first(&mut reply);
    let verdict = if request.is_empty() && reply.is_empty() {
        reasons.extend(no_records(net, q, dst_private, coverage));
        Verdict::NoRecords
    } else if rejected(&request) {
        reasons.push("The request was REJECTed (its records say REJECT).".into());
        reasons.extend(deciding(Leg::Request).map(|d| format!("The deciding rule {d}.")));
        Verdict::RequestRejected
    } else if rejected(&reply) {
        reasons.push(
            "The request was ACCEPTed inbound but the reply was REJECTed outbound: security groups \
             are stateful and let replies out, so a network ACL's outbound rule drops it (network \
             ACLs are stateless; the return traffic needs its own allow rule)."
                .into(),
        );
        reasons.extend(deciding(Leg::Reply).map(|d| format!("The return rule {d}.")));
        Verdict::ReplyRejected
    } else if accepted(&request) && reply.is_empty() && nat_target(net, q.dst) {
        reasons.push(
            "Inbound traffic to the NAT gateway's public address is recorded as ACCEPT at its \
             network interface, but nothing inside asked for it: the NAT gateway drops \
             unsolicited inbound connections (AWS logs them as ACCEPT; nothing got through)."
                .into(),
        );
        Verdict::NatUnsolicited
    } else if accepted(&request) && reply.is_empty() {
        reasons.push(
            "The request was ACCEPTed and no reply was recorded: the network let it in; check \
             that the application listens and answers on that port (or widen --since)."
                .into(),
        );
        Verdict::NoReply
    } else {
        reasons.push(
            "ACCEPT both ways: the network (security groups and network ACLs) allowed the \
             connection; look at the application, routing or DNS."
                .into(),
        );
        Verdict::Accepted
    };
    Troubleshooting {
        verdict,
        reasons,
        request,
        reply,
    }
}

/// A record's addresses, ports and protocol.
struct Ends {
    src: IpAddr,
    dst: IpAddr,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    protocol: Option<u8>,
}

impl Ends {
    /// A record's ends; none without both addresses (NODATA, SKIPDATA).
    fn of(r: &FlowRecord) -> Option<Ends> {
        let addr = |f: FieldId| text(r, f).and_then(|s| s.parse::<IpAddr>().ok());
        let port = |f: FieldId| text(r, f).and_then(|s| s.parse::<u16>().ok());
        Some(Ends {
            src: addr(FieldId::Srcaddr)?,
            dst: addr(FieldId::Dstaddr)?,
            src_port: port(FieldId::Srcport),
            dst_port: port(FieldId::Dstport),
            protocol: text(r, FieldId::Protocol).and_then(|s| s.parse::<u8>().ok()),
        })
    }
}

/// An ENI as people know it: its id, and its name when it has one.
fn label(net: &Network, e: usize) -> String {
    let eni = &net.enis[e];
    match &eni.name {
        Some(n) => format!("{} ({n})", eni.id),
        None => eni.id.clone(),
    }
}

/// A field as its record line shows it.
fn text(r: &FlowRecord, f: FieldId) -> Option<String> {
    r.get(f).map(|v| v.to_string())
}

fn action(r: &FlowRecord) -> Option<Action> {
    match text(r, FieldId::Action)?.as_str() {
        "ACCEPT" => Some(Action::Accept),
        "REJECT" => Some(Action::Reject),
        _ => None,
    }
}

/// Whether `addr` is a NAT gateway's (its ENI's) address.
fn nat_target(net: &Network, addr: IpAddr) -> bool {
    let eni = net
        .eni_by_public_ip(addr)
        .or_else(|| net.eni_by_private_ip(addr));
    eni.is_some_and(|e| {
        net.gateways
            .iter()
            .any(|g| g.kind == GatewayType::Nat && g.eni == Some(e))
    })
}

/// Why there are no records: each ENI of the connection, covered or not, by what.
fn no_records(
    net: &Network,
    q: &Question,
    dst_private: IpAddr,
    coverage: &dyn Fn(&str) -> Vec<Covering>,
) -> Vec<String> {
    let mut reasons = vec!["No record of this connection is in the log groups.".to_owned()];
    let enis: Vec<usize> = [
        net.eni_by_private_ip(q.src),
        net.eni_by_private_ip(dst_private),
    ]
    .into_iter()
    .flatten()
    .collect();
    if enis.is_empty() {
        reasons.push(
            "Neither address is a network interface of the topology: no flow log can record \
             this traffic (flow logs record at network interfaces)."
                .into(),
        );
        return reasons;
    }
    for e in enis {
        let eni = &net.enis[e];
        let logs = coverage(&eni.id);
        if logs.is_empty() {
            reasons.push(format!(
                "{} is covered by no flow log: create one on it, its subnet or its VPC.",
                label(net, e)
            ));
            continue;
        }
        for f in logs.iter().filter(|f| !f.read) {
            reasons.push(format!(
                "{} is also covered by {}, which delivers to {} (not read here).",
                label(net, e),
                f.flow_log_id,
                f.destination
            ));
        }
        for f in logs.iter().filter(|f| f.read) {
            let missing = match f.traffic_type.as_str() {
                "ACCEPT" => " it keeps ACCEPT records only, so REJECTed traffic is not recorded;",
                "REJECT" => " it keeps REJECT records only, so ACCEPTed traffic is not recorded;",
                _ => "",
            };
            reasons.push(format!(
                "{} is covered by {} to {} (traffic type {});{missing} records appear once its \
                 {} s aggregation interval closes and is delivered (up to about 10 minutes more), \
                 so traffic newer than that is not there yet.",
                label(net, e),
                f.flow_log_id,
                f.destination,
                f.traffic_type,
                f.interval_s
            ));
        }
    }
    reasons
}

/// The connections an ENI's records show, each through the flowchart: what the console shows
/// for an ENI clicked on the map. A connection is (client, server, protocol, server port): of
/// a TCP or UDP record's two ports the lower is the server's (the destination's on a tie); an
/// ICMP record's client is the end that is not this ENI. Connections with a REJECTed record
/// come first, then those with more records; at most `most` are returned.
pub fn conversations(
    net: &Network,
    eni: &str,
    records: &[Observed],
    coverage: &dyn Fn(&str) -> Vec<Covering>,
    most: usize,
) -> Vec<(Question, Troubleshooting)> {
    let Some(at) = net.enis.iter().find(|e| e.id == eni) else {
        return Vec::new();
    };
    // (question, rejected?, records), in first-seen order, and where each question is.
    let mut seen: Vec<(Question, bool, usize)> = Vec::new();
    let mut at_index: rustc_hash::FxHashMap<Question, usize> = Default::default();
    for o in records.iter().filter(|o| o.eni == eni) {
        let Some(e) = Ends::of(&o.record) else {
            continue;
        };
        // The client and the server, and the server's port.
        let (client, server, port) = match (e.protocol, e.src_port, e.dst_port) {
            (Some(6 | 17), Some(sp), Some(dp)) if sp < dp => (e.dst, e.src, Some(sp)),
            (Some(6 | 17), _, dp) => (e.src, e.dst, dp),
            _ if at.owns(e.src) => (e.dst, e.src, None),
            _ => (e.src, e.dst, None),
        };
        let q = Question {
            src: client,
            dst: server,
            port,
            protocol: e.protocol,
        };
        let rejected = action(&o.record) == Some(Action::Reject);
        let i = *at_index.entry(q).or_insert_with(|| {
            seen.push((q, false, 0));
            seen.len() - 1
        });
        seen[i].1 |= rejected;
        seen[i].2 += 1;
    }
    seen.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)));
    seen.into_iter()
        .take(most)
        .map(|(q, _, _)| (q, troubleshoot(net, &q, records, coverage)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(eni: &str, ends: &str) -> Observed {
        let f: Vec<&str> = ends.split(' ').collect();
        let line = format!(
            "2 123456789012 {eni} {} {} {} {} {} 2 120 1768485600 1768485660 {} OK",
            f[0], f[1], f[2], f[3], f[4], f[5]
        );
        let format = vpcflow_record::LogFormat::parse(vpcflow_record::DEFAULT_FORMAT).unwrap();
        Observed {
            eni: eni.to_owned(),
            record: vpcflow_record::text::decode(&format, &line).unwrap(),
            line,
        }
    }

    #[test]
    fn an_enis_connections_rejects_first() {
        let net = crate::builtin::load("builtin:three-tier").unwrap();
        let bastion = "eni-0a0000000000000a3";
        let records = vec![
            // SSH from the office, both ways accepted, three times.
            observed(bastion, "192.0.2.10 10.0.1.30 50000 22 6 ACCEPT"),
            observed(bastion, "10.0.1.30 192.0.2.10 22 50000 6 ACCEPT"),
            observed(bastion, "192.0.2.10 10.0.1.30 50001 22 6 ACCEPT"),
            // A ping in, its reply dropped on the way out.
            observed(bastion, "198.51.100.20 10.0.1.30 0 0 1 ACCEPT"),
            observed(bastion, "10.0.1.30 198.51.100.20 0 0 1 REJECT"),
            // Another ENI's record is not the bastion's.
            observed(
                "eni-0a0000000000000a2",
                "10.0.1.10 10.0.11.10 40000 8080 6 ACCEPT",
            ),
        ];
        let none = |_: &str| Vec::new();
        let got = conversations(&net, bastion, &records, &none, 10);
        let summary: Vec<(String, String, Option<u16>, &str)> = got
            .iter()
            .map(|(q, t)| {
                (
                    q.src.to_string(),
                    q.dst.to_string(),
                    q.port,
                    t.verdict.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "198.51.100.20".into(),
                    "10.0.1.30".into(),
                    None,
                    "REPLY_REJECTED"
                ),
                (
                    "192.0.2.10".into(),
                    "10.0.1.30".into(),
                    Some(22),
                    "ACCEPTED"
                ),
            ]
        );
        assert_eq!(conversations(&net, bastion, &records, &none, 1).len(), 1);
        assert!(conversations(&net, "eni-0123456789abcdef0", &records, &none, 9).is_empty());
    }
}
