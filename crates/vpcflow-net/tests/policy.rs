//! Security-group and network-ACL semantics on `builtin:three-tier`, one table row per case,
//! including AWS's documented SG-vs-NACL ICMP example, plus the two policy properties.

use std::net::IpAddr;
use std::sync::Arc;

use proptest::prelude::*;
use vpcflow_net::conntrack::Timeouts;
use vpcflow_net::model::Topology;
use vpcflow_net::policy::{AclDecision, SgDecision, acl_decision, evaluate_rules};
use vpcflow_net::{FiveTuple, Network, Packet, Policy, builtin};
use vpcflow_record::{Action, FlowDirection};

const IN: FlowDirection = FlowDirection::Ingress;
const OUT: FlowDirection = FlowDirection::Egress;
const S: u64 = 1_000_000;

fn net() -> Arc<Network> {
    Arc::new(builtin::load("builtin:three-tier").unwrap())
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn pkt(src: &str, sp: u16, dst: &str, dp: u16, proto: u8, flags: u8) -> Packet {
    Packet {
        tuple: FiveTuple {
            src: ip(src),
            dst: ip(dst),
            protocol: proto,
            src_port: sp,
            dst_port: dp,
        },
        tcp_flags: flags,
    }
}

fn eni(n: &Network, name: &str) -> usize {
    n.eni_by_name(name).unwrap()
}

#[test]
fn first_packets_table() {
    let n = net();
    // (case, eni, direction, packet, expected action, what decides)
    let rows: Vec<(&str, &str, FlowDirection, Packet, Action)> = vec![
        (
            "https from the internet to the load balancer",
            "alb-a",
            IN,
            pkt("203.0.113.50", 50000, "10.0.1.10", 443, 6, 0x02),
            Action::Accept,
        ),
        (
            "ssh from the office to the bastion",
            "bastion",
            IN,
            pkt("192.0.2.10", 50000, "10.0.1.30", 22, 6, 0x02),
            Action::Accept,
        ),
        (
            "ssh from elsewhere: ACL default deny",
            "bastion",
            IN,
            pkt("198.18.7.7", 50000, "10.0.1.30", 22, 6, 0x02),
            Action::Reject,
        ),
        (
            "rdp from the internet: ACL allows, SG has no rule",
            "bastion",
            IN,
            pkt("198.18.7.7", 50000, "10.0.1.30", 3389, 6, 0x02),
            Action::Reject,
        ),
        (
            "app to db on 5432",
            "db-primary",
            IN,
            pkt("10.0.11.10", 40000, "10.0.21.10", 5432, 6, 0x02),
            Action::Accept,
        ),
        (
            "app to db on the wrong port",
            "db-primary",
            IN,
            pkt("10.0.11.10", 40000, "10.0.21.10", 3306, 6, 0x02),
            Action::Reject,
        ),
        (
            "app egress on the wrong port still leaves the app",
            "app-1",
            OUT,
            pkt("10.0.11.10", 40000, "10.0.21.10", 3306, 6, 0x02),
            Action::Accept,
        ),
        (
            "replication primary to standby",
            "db-standby",
            IN,
            pkt("10.0.21.10", 41000, "10.0.22.10", 5432, 6, 0x02),
            Action::Accept,
        ),
        (
            "load balancer to app 8080",
            "app-1",
            IN,
            pkt("10.0.1.10", 42000, "10.0.11.10", 8080, 6, 0x02),
            Action::Accept,
        ),
        (
            "internet straight to app 8080 (no rule)",
            "app-1",
            IN,
            pkt("203.0.113.50", 42000, "10.0.11.10", 8080, 6, 0x02),
            Action::Reject,
        ),
        (
            "unsolicited inbound at the NAT gateway ENI",
            "nat",
            IN,
            pkt("198.18.9.9", 443, "10.0.1.20", 8443, 6, 0x02),
            Action::Accept,
        ),
        (
            "db may not reach the internet (ACL outbound)",
            "db-primary",
            OUT,
            pkt("10.0.21.10", 40000, "93.184.216.34", 443, 6, 0x02),
            Action::Reject,
        ),
    ];
    for (case, e, dir, p, want) in rows {
        let v = evaluate_rules(&n, eni(&n, e), dir, &p.tuple);
        assert_eq!(v.action, want, "{case}: {v:?}");
    }
}

#[test]
fn aws_icmp_example_sg_allows_nacl_denies_the_reply() {
    // flow-log-format.md §9.3 / AWS *Flow log record examples*: the security group allows the
    // ping in, the ACL denies ICMP out; inbound record ACCEPT, outbound record REJECT.
    let n = net();
    let b = eni(&n, "bastion");
    let mut p = Policy::new(Arc::clone(&n));
    let ping = pkt("198.51.100.20", 0, "10.0.1.30", 0, 1, 0);
    let reply = pkt("10.0.1.30", 0, "198.51.100.20", 0, 1, 0);
    let v_in = p.evaluate(b, IN, &ping, S);
    assert_eq!(v_in.action, Action::Accept);
    let v_out = p.evaluate(b, OUT, &reply, S + 1000);
    assert_eq!(v_out.action, Action::Reject);
    assert_eq!(
        v_out.sg,
        SgDecision::Tracked,
        "the SG lets the reply out (stateful)"
    );
    assert!(
        matches!(
            v_out.acl,
            AclDecision::Rule {
                number: 90,
                allow: false,
                ..
            }
        ),
        "{v_out:?}"
    );
}

#[test]
fn security_groups_are_stateful_and_acls_are_not() {
    let n = net();
    let db = eni(&n, "db-primary");
    let app = eni(&n, "app-1");
    let syn = pkt("10.0.11.10", 40000, "10.0.21.10", 5432, 6, 0x02);
    let synack = pkt("10.0.21.10", 5432, "10.0.11.10", 40000, 6, 0x12);
    // Without the request, the db's reply is refused: its SG allows only 5432 to the db group.
    assert_eq!(
        evaluate_rules(&n, db, OUT, &synack.tuple).action,
        Action::Reject
    );
    let mut p = Policy::new(Arc::clone(&n));
    assert_eq!(p.evaluate(app, OUT, &syn, S).action, Action::Accept);
    assert_eq!(p.evaluate(db, IN, &syn, S + 10).action, Action::Accept);
    let v = p.evaluate(db, OUT, &synack, S + 20);
    assert_eq!((v.action, v.sg), (Action::Accept, SgDecision::Tracked));
    assert_eq!(p.evaluate(app, IN, &synack, S + 30).sg, SgDecision::Tracked);
}

#[test]
fn acl_rules_in_number_order_first_match_wins_and_subnet_internal_traffic_skips_the_acl() {
    let n = net();
    let b = eni(&n, "bastion");
    // Outbound ICMP to 198.51.100.0/24 hits 90 (deny) before 100 (allow all).
    let d = acl_decision(
        &n,
        b,
        OUT,
        &pkt("10.0.1.30", 0, "198.51.100.1", 0, 1, 0).tuple,
    );
    assert!(matches!(
        d,
        AclDecision::Rule {
            number: 90,
            allow: false,
            ..
        }
    ));
    let d = acl_decision(
        &n,
        b,
        OUT,
        &pkt("10.0.1.30", 0, "198.18.0.1", 0, 1, 0).tuple,
    );
    assert!(matches!(
        d,
        AclDecision::Rule {
            number: 100,
            allow: true,
            ..
        }
    ));
    // Same subnet (bastion → NAT ENI, both in public-a): not crossed.
    let d = acl_decision(&n, b, OUT, &pkt("10.0.1.30", 1, "10.0.1.20", 2, 6, 0).tuple);
    assert_eq!(d, AclDecision::NotCrossed);
    // Nothing matches inbound UDP 53 from the internet: the default * rule denies.
    let d = acl_decision(
        &n,
        b,
        IN,
        &pkt("198.18.0.1", 5000, "10.0.1.30", 53, 17, 0).tuple,
    );
    assert!(matches!(d, AclDecision::DefaultDeny { .. }));
}

#[test]
fn tracking_times_out_per_protocol() {
    let n = net();
    let app = eni(&n, "app-1");
    let mut p = Policy::with_timeouts(Arc::clone(&n), Timeouts::default());
    // UDP one-way: 30 s. App asks an external resolver; a reply after 31 s is no longer tracked.
    let q = pkt("10.0.11.10", 5353, "198.18.0.53", 53, 17, 0);
    let r = pkt("198.18.0.53", 53, "10.0.11.10", 5353, 17, 0);
    p.evaluate(app, OUT, &q, 0);
    assert_eq!(p.evaluate(app, IN, &r, 31 * S).sg, SgDecision::NoMatch);
    // A UDP stream (several request-responses) lives 180 s.
    p.evaluate(app, OUT, &q, 100 * S);
    p.evaluate(app, IN, &r, 101 * S);
    p.evaluate(app, OUT, &q, 102 * S);
    assert_eq!(p.evaluate(app, IN, &r, 250 * S).sg, SgDecision::Tracked);
    // TCP: an RST closes; 60 s later the connection is forgotten.
    let syn = pkt("10.0.11.10", 40001, "198.18.0.80", 80, 6, 0x02);
    let rst = pkt("198.18.0.80", 80, "10.0.11.10", 40001, 6, 0x04);
    let late = pkt("198.18.0.80", 80, "10.0.11.10", 40001, 6, 0x10);
    p.evaluate(app, OUT, &syn, 1000 * S);
    assert_eq!(p.evaluate(app, IN, &rst, 1001 * S).sg, SgDecision::Tracked);
    assert_eq!(p.evaluate(app, IN, &late, 1100 * S).sg, SgDecision::NoMatch);
    p.expire(2_000_000 * S);
    assert_eq!(p.tracked(), 0, "everything idle is swept");
}

#[test]
fn flows_open_to_everyone_both_ways_are_not_tracked() {
    // EC2 User Guide: TCP 80 in from 0.0.0.0/0 with all traffic out to 0.0.0.0/0 is untracked,
    // TCP 22 in from one network is tracked; ICMP is always tracked.
    let text = builtin::TOPOLOGIES[0].1.replacen(
        "  { protocol = \"icmp\", cidr = \"198.51.100.0/24\", description = \"ping from monitoring\" },",
        "  { protocol = \"icmp\", cidr = \"198.51.100.0/24\", description = \"ping from monitoring\" },\n  { protocol = \"tcp\", ports = 80, cidr = \"0.0.0.0/0\" },",
        1,
    );
    let n = Arc::new(Network::from_toml(&text, "t").unwrap());
    let b = eni(&n, "bastion");
    let mut p = Policy::new(Arc::clone(&n));
    let web = pkt("198.18.1.1", 50000, "10.0.1.30", 80, 6, 0x02);
    assert_eq!(p.evaluate(b, IN, &web, S).action, Action::Accept);
    assert_eq!(
        p.tracked(),
        0,
        "HTTP from anywhere with all traffic out: untracked"
    );
    let reply = p.evaluate(
        b,
        OUT,
        &pkt("10.0.1.30", 80, "198.18.1.1", 50000, 6, 0x12),
        S + 10,
    );
    assert_eq!(reply.action, Action::Accept);
    assert!(
        matches!(reply.sg, SgDecision::Rule(..)),
        "the reply passes on the outbound rule: {reply:?}"
    );
    p.evaluate(
        b,
        IN,
        &pkt("192.0.2.10", 50001, "10.0.1.30", 22, 6, 0x02),
        2 * S,
    );
    assert_eq!(p.tracked(), 1, "SSH from the office only: tracked");
    p.evaluate(b, IN, &pkt("198.51.100.20", 0, "10.0.1.30", 0, 1, 0), 3 * S);
    assert_eq!(p.tracked(), 2, "ICMP is tracked");
}

fn arb_tuple() -> impl Strategy<Value = (usize, FiveTuple)> {
    let n = net();
    let count = n.enis.len();
    (
        0..count,
        prop_oneof![Just(1u8), Just(6u8), Just(17u8)],
        any::<u16>(),
        any::<u16>(),
        any::<[u8; 4]>(),
        any::<bool>(),
    )
        .prop_map(move |(e, proto, sp, dp, remote, internal)| {
            let local = n.enis[e].primary_ip();
            let remote = if internal {
                IpAddr::from([10, 0, remote[2] % 30, remote[3]])
            } else {
                IpAddr::from(remote)
            };
            let (sp, dp) = if proto == 1 { (0, 0) } else { (sp, dp) };
            (
                e,
                FiveTuple {
                    src: local,
                    dst: remote,
                    protocol: proto,
                    src_port: sp,
                    dst_port: dp,
                },
            )
        })
}

proptest! {
    #[test]
    fn prefix_contains_agrees_with_ipnet(a in any::<[u8; 4]>(), b in any::<[u8; 4]>(), len in 0u8..=32, x in any::<[u8; 16]>(), y in any::<[u8; 16]>(), len6 in 0u8..=128) {
        let n4 = ipnet::IpNet::V4(ipnet::Ipv4Net::new(a.into(), len).unwrap());
        prop_assert_eq!(vpcflow_net::network::prefix_contains(&n4, IpAddr::from(b)), n4.contains(&IpAddr::from(b)));
        let n6 = ipnet::IpNet::V6(ipnet::Ipv6Net::new(x.into(), len6).unwrap());
        prop_assert_eq!(vpcflow_net::network::prefix_contains(&n6, IpAddr::from(y)), n6.contains(&IpAddr::from(y)));
        prop_assert!(!vpcflow_net::network::prefix_contains(&n4, IpAddr::from(y)));
    }

    #[test]
    fn allowed_outbound_means_the_return_is_allowed_by_the_sg((e, t) in arb_tuple()) {
        let n = net();
        let mut p = Policy::new(Arc::clone(&n));
        let out = p.evaluate(e, OUT, &Packet { tuple: t, tcp_flags: 0x02 }, S);
        let back = p.evaluate(e, IN, &Packet { tuple: t.reversed(), tcp_flags: 0x12 }, 2 * S);
        if out.sg != SgDecision::NoMatch {
            prop_assert_ne!(back.sg, SgDecision::NoMatch, "return traffic refused by the SG: {:?}", t);
        }
    }

    #[test]
    fn a_nacl_change_flips_exactly_the_flows_it_matches(
        flows in proptest::collection::vec(arb_tuple(), 1..40),
        acl_ix in 0usize..3,
        deny_proto in prop_oneof![Just("tcp"), Just("udp"), Just("icmp"), Just("all")],
        port in 0u16..2000,
        prefix in 0u8..=24,
        base in any::<[u8; 4]>(),
    ) {
        let text = builtin::TOPOLOGIES[0].1;
        let before = Network::from_toml(text, "before").unwrap();
        let mut topo: Topology = toml::from_str(text).unwrap();
        let cidr = ipnet::Ipv4Net::new(base.into(), prefix).unwrap().trunc();
        let rule = toml::from_str::<vpcflow_net::model::AclRule>(&format!(
            "rule = 1\nprotocol = \"{deny_proto}\"\nports = {port}\ncidr = \"{cidr}\"\naction = \"deny\""
        )).unwrap();
        topo.network_acls[acl_ix].outbound.insert(0, rule);
        let after = Network::build(&topo).unwrap();
        let proto_num = match deny_proto { "tcp" => Some(6), "udp" => Some(17), "icmp" => Some(1), _ => None };
        for (e, t) in flows {
            let b = acl_decision(&before, e, OUT, &t);
            let a = acl_decision(&after, e, OUT, &t);
            let crosses = b != AclDecision::NotCrossed;
            let ports_apply = matches!(proto_num, Some(6 | 17));
            let matches = before.subnets[before.enis[e].subnet].acl == acl_ix
                && crosses
                && proto_num.is_none_or(|p| p == t.protocol)
                && (!ports_apply || t.dst_port == port)
                && ipnet::IpNet::V4(cidr).contains(&t.dst);
            if matches {
                prop_assert!(matches!(a, AclDecision::Rule { number: 1, allow: false, .. }), "{:?} -> {:?}", t, a);
            } else {
                prop_assert_eq!(a, b, "{:?} changed without matching", t);
            }
        }
    }
}
