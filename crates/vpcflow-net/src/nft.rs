//! nftables rulesets that make the Linux kernel enforce a topology's policy, for the lab.
//!
//! Owns the translation only (text out, no I/O); `vpcflow lab` loads it. Where AWS enforces a
//! rule, the lab does too:
//! * an ENI's security groups → `table inet vpcflow_sg` inside the ENI's namespace: allow rules
//!   only, `ct state established,related` accepts replies (stateful), everything else is logged
//!   to nflog group [`LOG_GROUP`] and dropped;
//! * a subnet's network ACL → chains in the VPC router's namespace, crossed by traffic between
//!   subnets (never by traffic inside one): outbound entries of the source subnet, then inbound
//!   entries of the destination subnet, lowest number first, `*` = logged drop. Stateless: no
//!   connection tracking is consulted.
//!
//! IPv4 only, as the lab is. Group peers expand to the member addresses known now.

use std::fmt::Write as _;

use ipnet::IpNet;

use crate::network::{AclEntry, Network, Peer, SgRule};

/// The nflog group every lab drop is logged to (`tcpdump -i nflog:1`).
pub const LOG_GROUP: u16 = 1;

fn proto_match(protocol: Option<u8>, ports: (u16, u16)) -> String {
    match protocol {
        None => String::new(),
        Some(p @ (6 | 17)) => {
            let name = if p == 6 { "tcp" } else { "udp" };
            if ports == (0, 65535) {
                format!("meta l4proto {name} ")
            } else if ports.0 == ports.1 {
                format!("{name} dport {} ", ports.0)
            } else {
                format!("{name} dport {}-{} ", ports.0, ports.1)
            }
        }
        Some(1) => "meta l4proto icmp ".into(),
        Some(p) => format!("meta l4proto {p} "),
    }
}

fn v4_cidrs(cidrs: &[IpNet]) -> Vec<String> {
    cidrs
        .iter()
        .filter(|c| matches!(c, IpNet::V4(_)))
        .map(|c| c.trunc().to_string())
        .collect()
}

fn set(items: &[String]) -> String {
    if items.len() == 1 {
        items[0].clone()
    } else {
        format!("{{ {} }}", items.join(", "))
    }
}

fn sg_line(net: &Network, r: &SgRule, field: &str) -> Option<String> {
    let peers: Vec<String> = match &r.peer {
        Peer::Cidrs(c) => v4_cidrs(c),
        Peer::Group(g) => {
            let mut v: Vec<String> = net.security_groups[*g]
                .members
                .iter()
                .filter(|a| a.is_ipv4())
                .map(ToString::to_string)
                .collect();
            v.sort();
            v
        }
    };
    if peers.is_empty() {
        return None;
    }
    let peer = if peers.iter().any(|p| p == "0.0.0.0/0") {
        String::new()
    } else {
        format!("ip {field} {} ", set(&peers))
    };
    Some(format!("{peer}{}accept", proto_match(r.protocol, r.ports)))
}

/// The security-group ruleset of one ENI, to load in its namespace.
pub fn sg_ruleset(net: &Network, eni: usize) -> String {
    let e = &net.enis[eni];
    let mut out = String::from("table inet vpcflow_sg {\n");
    for (chain, hook, field) in [("input", "input", "saddr"), ("output", "output", "daddr")] {
        let _ = writeln!(
            out,
            "  chain {chain} {{\n    type filter hook {hook} priority 0; policy accept;"
        );
        out.push_str("    ct state established,related accept\n    meta iifname \"lo\" accept\n    meta oifname \"lo\" accept\n");
        if e.security_groups.is_empty() {
            out.push_str("    accept\n");
        }
        for &g in &e.security_groups {
            let sg = &net.security_groups[g];
            let rules = if chain == "input" {
                &sg.inbound
            } else {
                &sg.outbound
            };
            for r in rules {
                if let Some(line) = sg_line(net, r, field) {
                    let _ = writeln!(out, "    {line} comment \"{}\"", sg.id);
                }
            }
        }
        let _ = writeln!(
            out,
            "    log group {LOG_GROUP} prefix \"vpcflow-sg-{chain} \" drop\n  }}"
        );
    }
    out.push_str("}\n");
    out
}

fn acl_chain(out: &mut String, name: &str, entries: &[AclEntry], field: &str) {
    let _ = writeln!(out, "  chain {name} {{");
    for e in entries {
        if !e.cidr.addr().is_ipv4() {
            continue;
        }
        let peer = if e.cidr.prefix_len() == 0 {
            String::new()
        } else {
            format!("ip {field} {} ", e.cidr.trunc())
        };
        let verdict = if e.allow {
            "return".to_owned()
        } else {
            format!(
                "log group {LOG_GROUP} prefix \"vpcflow-acl-{} \" drop",
                e.number
            )
        };
        let _ = writeln!(
            out,
            "    {peer}{}{verdict} comment \"rule {}\"",
            proto_match(e.protocol, e.ports),
            e.number
        );
    }
    let _ = writeln!(
        out,
        "    log group {LOG_GROUP} prefix \"vpcflow-acl-* \" drop\n  }}"
    );
}

/// The network-ACL ruleset of the VPC router namespace. `bridge(subnet)` names the interface
/// that carries the subnet there.
pub fn acl_ruleset(net: &Network, bridge: &dyn Fn(usize) -> String) -> String {
    let mut out = String::from("table inet vpcflow_acl {\n");
    let subnets: Vec<usize> = (0..net.subnets.len())
        .filter(|s| net.enis.iter().any(|e| e.subnet == *s))
        .collect();
    for &s in &subnets {
        let acl = &net.acls[net.subnets[s].acl];
        acl_chain(&mut out, &format!("out_{s}"), &acl.outbound, "daddr");
        acl_chain(&mut out, &format!("in_{s}"), &acl.inbound, "saddr");
    }
    out.push_str("  chain forward {\n    type filter hook forward priority 0; policy accept;\n");
    for &s in &subnets {
        let _ = writeln!(out, "    iifname \"{}\" jump out_{s}", bridge(s));
    }
    for &s in &subnets {
        let _ = writeln!(out, "    oifname \"{}\" jump in_{s}", bridge(s));
    }
    out.push_str("  }\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin;

    #[test]
    fn db_security_group_becomes_stateful_allow_rules() {
        let n = builtin::load("builtin:three-tier").unwrap();
        let db = n.eni_by_name("db-primary").unwrap();
        let text = sg_ruleset(&n, db);
        assert!(
            text.contains("ct state established,related accept"),
            "{text}"
        );
        assert!(text.contains("ip saddr { 10.0.11.10, 10.0.11.11, 10.0.12.10 } tcp dport 5432 accept comment \"sg-0a0000000000000a4\""), "{text}");
        assert!(
            text.contains("ip daddr { 10.0.21.10, 10.0.22.10 } tcp dport 5432 accept"),
            "{text}"
        );
        assert!(
            text.contains("log group 1 prefix \"vpcflow-sg-input \" drop"),
            "{text}"
        );
    }

    #[test]
    fn acls_keep_rule_order_and_default_deny() {
        let n = builtin::load("builtin:three-tier").unwrap();
        let text = acl_ruleset(&n, &|s| format!("br{s}"));
        let public_out = text
            .split("chain out_0 {")
            .nth(1)
            .unwrap()
            .split('}')
            .next()
            .unwrap();
        let lines: Vec<&str> = public_out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            lines,
            [
                "ip daddr 198.51.100.0/24 meta l4proto icmp log group 1 prefix \"vpcflow-acl-90 \" drop comment \"rule 90\"",
                "return comment \"rule 100\"",
                "log group 1 prefix \"vpcflow-acl-* \" drop",
            ]
        );
        assert!(text.contains("iifname \"br0\" jump out_0"));
        assert!(text.contains("oifname \"br4\" jump in_4"));
    }
}
