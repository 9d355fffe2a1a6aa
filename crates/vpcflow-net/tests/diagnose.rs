//! `diagnose` and the never-logged list on `builtin:three-tier`.

use std::net::IpAddr;

use vpcflow_net::diagnose::{Leg, diagnose};
use vpcflow_net::never_logged::{NeverLogged, never_logged};
use vpcflow_net::{FiveTuple, builtin};
use vpcflow_record::{Action, FlowDirection};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ping_from_monitoring_goes_in_and_the_reply_is_rejected_by_the_acl() {
    let n = builtin::load("builtin:three-tier").unwrap();
    let d = diagnose(&n, ip("198.51.100.20"), ip("54.210.0.30"), 1, 0, 0);
    let s = d.blocked_at().unwrap();
    assert_eq!((s.leg, s.direction), (Leg::Reply, FlowDirection::Egress));
    let text = d.explain(&n);
    assert!(
        text.contains("acl-0a1a000000000001a outbound rule 90 DENIES it"),
        "{text}"
    );
    assert!(
        text.contains("allowed as the reply of a tracked connection"),
        "{text}"
    );
}

#[test]
fn app_to_internet_goes_through_the_nat_gateway() {
    let n = builtin::load("builtin:three-tier").unwrap();
    let d = diagnose(&n, ip("10.0.11.10"), ip("93.184.216.34"), 6, 49152, 443);
    assert!(d.blocked_at().is_none(), "{}", d.explain(&n));
    let enis: Vec<_> = d
        .steps
        .iter()
        .map(|s| {
            (
                n.enis[s.eni].name.clone().unwrap(),
                s.direction.as_str(),
                s.leg,
            )
        })
        .collect();
    assert_eq!(enis.len(), 6, "{enis:?}");
    assert_eq!(enis[1].0, "nat");
    assert_eq!(
        d.steps[2].tuple.src,
        ip("10.0.1.20"),
        "the NAT gateway translates the source"
    );
}

#[test]
fn wrong_db_port_is_rejected_at_the_db() {
    let n = builtin::load("builtin:three-tier").unwrap();
    let d = diagnose(&n, ip("10.0.11.10"), ip("10.0.21.10"), 6, 49152, 3306);
    let s = d.blocked_at().unwrap();
    assert_eq!(n.enis[s.eni].name.as_deref(), Some("db-primary"));
    assert_eq!(s.verdict.action, Action::Reject);
    assert!(
        d.explain(&n)
            .contains("no inbound rule of sg-0a0000000000000a4 allows it")
    );
}

#[test]
fn never_logged_traffic() {
    let n = builtin::load("builtin:three-tier").unwrap();
    let t = |dst: &str, proto: u8, sp: u16, dp: u16| FiveTuple {
        src: ip("10.0.11.10"),
        dst: ip(dst),
        protocol: proto,
        src_port: sp,
        dst_port: dp,
    };
    assert_eq!(
        never_logged(&n, &t("169.254.169.254", 6, 40000, 80)),
        Some(NeverLogged::InstanceMetadata)
    );
    assert_eq!(
        never_logged(&n, &t("10.0.0.2", 17, 40000, 53)),
        Some(NeverLogged::AmazonDns)
    );
    assert_eq!(
        never_logged(&n, &t("169.254.169.123", 17, 40000, 123)),
        Some(NeverLogged::TimeSync)
    );
    assert_eq!(
        never_logged(&n, &t("255.255.255.255", 17, 68, 67)),
        Some(NeverLogged::Dhcp)
    );
    assert_eq!(
        never_logged(&n, &t("10.0.0.1", 1, 0, 0)),
        Some(NeverLogged::VpcRouter)
    );
    // A DNS server of your own is logged.
    assert_eq!(never_logged(&n, &t("10.0.21.53", 17, 40000, 53)), None);
    assert_eq!(never_logged(&n, &t("93.184.216.34", 6, 40000, 443)), None);
}
