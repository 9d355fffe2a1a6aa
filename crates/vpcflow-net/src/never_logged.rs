//! Traffic AWS never logs (flow-log-format.md §1.1): instance metadata, Amazon Time Sync, the
//! Amazon DNS server, DHCP, the VPC router's reserved address, Windows license activation.
//!
//! Owns the list and the test for one packet. Traffic to a DNS server of your own is logged;
//! only the Amazon-provided resolver (the VPC base address + 2, or 169.254.169.253) is not.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::network::Network;
use crate::policy::FiveTuple;

/// Why a packet is never logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeverLogged {
    /// 169.254.169.254 / fd00:ec2::254.
    InstanceMetadata,
    /// 169.254.169.123 / fd00:ec2::123.
    TimeSync,
    /// The VPC resolver (base + 2) or 169.254.169.253 / fd00:ec2::253.
    AmazonDns,
    /// DHCP (UDP 67/68).
    Dhcp,
    /// The VPC router's reserved address (base + 1).
    VpcRouter,
    /// Windows license activation (169.254.169.250/251, TCP 1688).
    WindowsActivation,
}

impl NeverLogged {
    /// Every reason, for docs and tests.
    pub const ALL: [NeverLogged; 6] = [
        NeverLogged::InstanceMetadata,
        NeverLogged::TimeSync,
        NeverLogged::AmazonDns,
        NeverLogged::Dhcp,
        NeverLogged::VpcRouter,
        NeverLogged::WindowsActivation,
    ];

    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            NeverLogged::InstanceMetadata => "instance metadata (169.254.169.254)",
            NeverLogged::TimeSync => "Amazon Time Sync (169.254.169.123)",
            NeverLogged::AmazonDns => "the Amazon DNS server (VPC base + 2, 169.254.169.253)",
            NeverLogged::Dhcp => "DHCP",
            NeverLogged::VpcRouter => "the VPC router's reserved address (VPC base + 1)",
            NeverLogged::WindowsActivation => "Windows license activation",
        }
    }
}

const METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
const TIME_SYNC: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 123);
const DNS_LINK_LOCAL: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 253);
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
const TIME_SYNC_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x123);
const DNS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x253);

/// The reserved address of a VPC's IPv4 block `ip` is, if it is one: the router (base + 1) or
/// the Amazon DNS server (base + 2). One pass over the blocks for both.
fn vpc_reserved(net: &Network, ip: IpAddr) -> Option<NeverLogged> {
    let IpAddr::V4(v4) = ip else { return None };
    let ip = u32::from(v4);
    let mut hit = None;
    for c in net.vpcs.iter().flat_map(|v| &v.cidrs) {
        if let ipnet::IpNet::V4(n) = c {
            match ip.wrapping_sub(u32::from(n.network())) {
                // The DNS server wins where one block's base + 1 is another's base + 2.
                2 => return Some(NeverLogged::AmazonDns),
                1 => hit = Some(NeverLogged::VpcRouter),
                _ => {}
            }
        }
    }
    hit
}

/// Whether AWS would leave this packet out of every flow log, and why.
pub fn never_logged(net: &Network, p: &FiveTuple) -> Option<NeverLogged> {
    for ip in [p.src, p.dst] {
        let hit = match ip {
            IpAddr::V4(a) if a == METADATA => Some(NeverLogged::InstanceMetadata),
            IpAddr::V4(a) if a == TIME_SYNC => Some(NeverLogged::TimeSync),
            IpAddr::V4(a) if a == DNS_LINK_LOCAL => Some(NeverLogged::AmazonDns),
            IpAddr::V4(a)
                if (a.octets()[..3] == [169, 254, 169] && matches!(a.octets()[3], 250 | 251)) =>
            {
                Some(NeverLogged::WindowsActivation)
            }
            IpAddr::V6(a) if a == METADATA_V6 => Some(NeverLogged::InstanceMetadata),
            IpAddr::V6(a) if a == TIME_SYNC_V6 => Some(NeverLogged::TimeSync),
            IpAddr::V6(a) if a == DNS_V6 => Some(NeverLogged::AmazonDns),
            _ => vpc_reserved(net, ip),
        };
        if hit.is_some() {
            return hit;
        }
    }
    if p.protocol == 17 && (matches!(p.dst_port, 67 | 68) || matches!(p.src_port, 67 | 68)) {
        return Some(NeverLogged::Dhcp);
    }
    None
}
