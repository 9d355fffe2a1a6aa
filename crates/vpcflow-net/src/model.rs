//! The topology as users write it (TOML): accounts, a region, VPCs, subnets, route tables,
//! gateways, ENIs, security groups, network ACLs and prefix lists.
//!
//! Owns the file format only: every struct here is what serde reads, with nothing checked yet.
//! [`crate::validate`] turns a [`Topology`] into a [`crate::Network`] or lists every problem.
//! Resources reference each other by AWS-shaped id (`vpc-…`, `subnet-…`, `sg-…`).

use std::net::IpAddr;

use ipnet::IpNet;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole topology.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// The region everything lives in.
    pub region: Region,
    /// Accounts that own VPCs and ENIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<Account>,
    /// VPCs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpcs: Vec<Vpc>,
    /// Subnets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<Subnet>,
    /// Route tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_tables: Vec<RouteTable>,
    /// Internet, NAT, peering, transit, virtual private, endpoint and local gateways.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<Gateway>,
    /// Network ACLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_acls: Vec<NetworkAcl>,
    /// Security groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<SecurityGroup>,
    /// Managed prefix lists (`pl-…`), usable in security-group rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefix_lists: Vec<PrefixList>,
    /// Network interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enis: Vec<Eni>,
    /// EC2 instances, each its primary network interface.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Instance>,
    /// Elastic IP addresses (`eipalloc-…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
}

/// An EC2 instance: what DescribeInstances tells of it besides its network interface, which
/// carries its traffic (the ENI whose `instance_id` it is).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// `i-…`.
    pub id: String,
    /// Its primary network interface.
    pub eni: String,
    /// The AMI it was launched from.
    pub image_id: String,
    /// Its type, e.g. `t3.micro`.
    pub instance_type: String,
    /// When it was launched (RFC 3339).
    pub launched: String,
    /// The key pair named at launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// A label (the Name tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tags besides `Name` (which is `name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// An Elastic IP address.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// `eipalloc-…`.
    pub id: String,
    /// The public address.
    pub public_ip: IpAddr,
    /// Owning account.
    pub account: String,
    /// The network interface it is associated with (a NAT gateway's, or an instance's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni: Option<String>,
    /// A label (the Name tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tags besides `Name` (which is `name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// The region and its Availability Zones.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Region name, e.g. `us-east-1`.
    pub name: String,
    /// Its Availability Zones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub azs: Vec<Az>,
}

/// An Availability Zone: the name users see and the zone ID flow logs report (`az-id`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Az {
    /// AZ name, e.g. `us-east-1a`.
    pub name: String,
    /// AZ ID, e.g. `use1-az4`.
    pub id: String,
}

/// An AWS account.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// 12-digit account id.
    pub id: String,
    /// A label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A VPC.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// `vpc-…`.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// IPv4 (and optionally IPv6) CIDR blocks.
    #[serde(deserialize_with = "cidr::list", serialize_with = "cidr::write_list")]
    pub cidrs: Vec<IpNet>,
    /// A label (the Name tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ModifyVpcAttribute's `EnableDnsSupport` (absent: true, as AWS makes a VPC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dns_support: Option<bool>,
    /// ModifyVpcAttribute's `EnableDnsHostnames` (absent: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dns_hostnames: Option<bool>,
    /// Tags besides `Name` (which is `name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A subnet.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// `subnet-…`.
    pub id: String,
    /// Its VPC.
    pub vpc: String,
    /// AZ name.
    pub az: String,
    /// Address block(s): one IPv4 and optionally one IPv6.
    #[serde(deserialize_with = "cidr::list", serialize_with = "cidr::write_list")]
    pub cidrs: Vec<IpNet>,
    /// Associated route table.
    pub route_table: String,
    /// Associated network ACL.
    pub network_acl: String,
    /// Whether instances launched in it get a public IPv4 address.
    #[serde(default, skip_serializing_if = "is_false")]
    pub map_public_ip_on_launch: bool,
    /// A label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tags besides `Name` (which is `name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A route table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTable {
    /// `rtb-…`.
    pub id: String,
    /// Its VPC.
    pub vpc: String,
    /// Routes; the most specific matching destination wins.
    pub routes: Vec<Route>,
    /// The VPC's main route table: the one of subnets associated with no other.
    #[serde(default, skip_serializing_if = "is_false")]
    pub main: bool,
    /// Tags besides `Name` (which is `name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// One route.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Destination block.
    #[serde(deserialize_with = "cidr::one", serialize_with = "cidr::write_one")]
    pub destination: IpNet,
    /// `local` or a gateway id (`igw-`, `nat-`, `pcx-`, `tgw-`, `vgw-`, `vpce-`, `lgw-`).
    pub target: String,
}

/// The kinds of gateway a route can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayType {
    /// Internet gateway (`igw-`).
    Internet,
    /// NAT gateway (`nat-`), with an ENI in a public subnet.
    Nat,
    /// VPC peering connection (`pcx-`).
    VpcPeering,
    /// Transit gateway (`tgw-`).
    TransitGateway,
    /// Virtual private gateway (`vgw-`).
    VirtualPrivate,
    /// Gateway VPC endpoint (`vpce-`), e.g. for S3.
    GatewayEndpoint,
    /// Outpost local gateway (`lgw-`).
    Local,
}

/// A gateway.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Its id.
    pub id: String,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: GatewayType,
    /// The VPC it is attached to; only an internet gateway may be attached to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// Owning account (default: its VPC's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// NAT gateways: the Elastic IP address (`eipalloc-…`) that is their public address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation: Option<String>,
    /// A label (the Name tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// NAT gateways: the ENI that carries their traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni: Option<String>,
    /// Peering: the peer VPC's region (another region makes traffic-path 5, not 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_region: Option<String>,
    /// Peering, transit, VPN, endpoint: the address blocks reachable through it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(deserialize_with = "cidr::list", serialize_with = "cidr::write_list")]
    pub remote_cidrs: Vec<IpNet>,
    /// Tags besides `Name` (which is `name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Allow or deny (network ACL rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Let the traffic through.
    Allow,
    /// Drop it.
    Deny,
}

/// A rule's protocol: a name (`tcp`, `udp`, `icmp`, `icmpv6`, `all`), `-1` (all) or a number.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ProtocolSpec {
    /// A name or `-1`.
    Name(String),
    /// An IANA protocol number.
    Number(i64),
}

/// A rule's destination-port range: `22`, `"1024-65535"`, `"all"`; absent means all ports.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum PortSpec {
    /// One port.
    One(i64),
    /// `"N"`, `"N-M"` or `"all"`.
    Text(String),
}

/// A network ACL: numbered rules per direction, evaluated lowest number first; the default
/// `*` rule denies.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkAcl {
    /// `acl-…`.
    pub id: String,
    /// Its VPC.
    pub vpc: String,
    /// Rules for traffic entering the subnet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbound: Vec<AclRule>,
    /// Rules for traffic leaving the subnet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbound: Vec<AclRule>,
    /// The VPC's default network ACL (made with the VPC; new subnets are associated with it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub default: bool,
    /// Tags besides `Name` (which is `name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A network ACL rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AclRule {
    /// Rule number (1–32766); lower numbers are evaluated first.
    pub rule: i64,
    /// Protocol.
    pub protocol: ProtocolSpec,
    /// Destination ports (TCP/UDP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortSpec>,
    /// The remote block: the source for inbound rules, the destination for outbound ones.
    #[serde(deserialize_with = "cidr::one", serialize_with = "cidr::write_one")]
    pub cidr: IpNet,
    /// Allow or deny.
    pub action: RuleAction,
}

/// A security group: allow-only rules per direction, stateful.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// `sg-…`.
    pub id: String,
    /// Its VPC.
    pub vpc: String,
    /// A label (the group name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The group's description (CreateSecurityGroup's `GroupDescription`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Inbound allow rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbound: Vec<SgRule>,
    /// Outbound allow rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbound: Vec<SgRule>,
    /// Tags. A group written with no description is described with its name as its `Name` tag
    /// too (the topology file's way); one made by CreateSecurityGroup has only these.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A security-group rule. Exactly one of `cidr`, `prefix_list` or `group` names the peer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SgRule {
    /// Protocol.
    pub protocol: ProtocolSpec,
    /// Destination ports (TCP/UDP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortSpec>,
    /// Peer address block.
    #[serde(
        default,
        deserialize_with = "cidr::optional",
        serialize_with = "cidr::write_optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub cidr: Option<IpNet>,
    /// Peer prefix list (`pl-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list: Option<String>,
    /// Peer security group (`sg-…`): any ENI that carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// A note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A managed prefix list.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixList {
    /// `pl-…`.
    pub id: String,
    /// Its blocks.
    #[serde(deserialize_with = "cidr::list", serialize_with = "cidr::write_list")]
    pub cidrs: Vec<IpNet>,
    /// A label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The kind of an ENI; decides e.g. whether `instance-id` is reported (requester-managed ENIs
/// report `-`) and the v11 `interface-type` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EniType {
    /// An EC2 instance's interface.
    #[default]
    Instance,
    /// A NAT gateway's interface (requester-managed, no security groups).
    NatGateway,
    /// A load balancer's interface.
    LoadBalancer,
    /// An RDS instance's interface.
    Rds,
    /// An interface VPC endpoint.
    VpcEndpoint,
    /// A Lambda function's interface.
    Lambda,
    /// A transit-gateway attachment's interface (requester-managed).
    TransitGateway,
}

impl EniType {
    /// True for ENIs AWS services create and manage (`instance-id` is `-`).
    pub fn requester_managed(self) -> bool {
        matches!(
            self,
            EniType::NatGateway
                | EniType::TransitGateway
                | EniType::VpcEndpoint
                | EniType::LoadBalancer
        )
    }

    /// The v11 `interface-type` word, where AWS defines one.
    pub fn interface_type(self) -> Option<&'static str> {
        match self {
            EniType::NatGateway => Some("nat_gateway"),
            EniType::LoadBalancer => Some("network_load_balancer"),
            EniType::TransitGateway => Some("transit_gateway"),
            EniType::VpcEndpoint => Some("vpc_endpoint"),
            _ => None,
        }
    }
}

/// A network interface.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Eni {
    /// `eni-…`.
    pub id: String,
    /// Its subnet.
    pub subnet: String,
    /// What it belongs to.
    #[serde(rename = "type", default)]
    pub kind: EniType,
    /// Owning account (default: the VPC's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Instance id (`i-…`) for instance ENIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Private addresses; the first is the primary one.
    pub private_ips: Vec<IpAddr>,
    /// A public IPv4 address (reached through the internet gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<IpAddr>,
    /// Security groups (none for NAT gateway ENIs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// The host interface (e.g. a veth) that carries this ENI's traffic, for live capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_interface: Option<String>,
    /// A label (the Name tag), also usable in scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its description (absent: its label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags besides `Name` (which is `name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

// serde's skip_serializing_if passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

/// CIDR blocks as the topology writes them, each refused in words that say what is wrong with it
/// (ipnet says "invalid IP address syntax" of `10.0.0.0/33` too).
mod cidr {
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer};

    /// Why `s` is not a CIDR block, if it is not one.
    pub(super) fn parse(s: &str) -> Result<IpNet, String> {
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(net);
        }
        let (addr, len) = s.split_once('/').unwrap_or((s, ""));
        let why = match addr.parse::<std::net::IpAddr>() {
            Err(_) => format!("'{addr}' is not an IPv4 or IPv6 address"),
            Ok(a) => {
                let most = if a.is_ipv4() { 32 } else { 128 };
                match len.parse::<u8>() {
                    _ if len.is_empty() => "it has no prefix length (/N)".to_owned(),
                    Ok(n) if n > most => format!("the prefix length {n} is over {most}"),
                    _ => format!("'{len}' is not a prefix length (0 to {most})"),
                }
            }
        };
        Err(format!("'{s}' is not a CIDR block: {why}"))
    }

    pub(super) fn write_one<S: serde::Serializer>(net: &IpNet, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(net)
    }

    // serde's serialize_with passes a reference.
    #[allow(clippy::ref_option)]
    pub(super) fn write_optional<S: serde::Serializer>(
        net: &Option<IpNet>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match net {
            Some(n) => s.collect_str(n),
            None => s.serialize_none(),
        }
    }

    pub(super) fn write_list<S: serde::Serializer>(
        nets: &[IpNet],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(ToString::to_string))
    }

    pub(super) fn one<'de, D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
        parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }

    pub(super) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpNet>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| parse(&s).map_err(serde::de::Error::custom))
            .transpose()
    }

    /// One block of a list, read on its own so that an error points at it, not at the list.
    struct Block(IpNet);

    impl<'de> Deserialize<'de> for Block {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Block, D::Error> {
            one(d).map(Block)
        }
    }

    pub(super) fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        Ok(Vec::<Block>::deserialize(d)?
            .into_iter()
            .map(|b| b.0)
            .collect())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn each_wrong_block_says_what_is_wrong() {
            for (block, said) in [
                ("10.0.0.0/33", "the prefix length 33 is over 32"),
                ("2001:db8::/129", "the prefix length 129 is over 128"),
                ("10.0.0.0", "it has no prefix length (/N)"),
                ("10.0.0.0/x", "'x' is not a prefix length (0 to 32)"),
                ("10.0.0/16", "'10.0.0' is not an IPv4 or IPv6 address"),
            ] {
                let e = super::parse(block).expect_err(block);
                assert_eq!(e, format!("'{block}' is not a CIDR block: {said}"));
            }
            assert!(super::parse("10.0.0.0/16").is_ok());
        }
    }
}
