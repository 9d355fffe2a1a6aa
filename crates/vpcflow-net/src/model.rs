//! The topology as users write it (TOML): accounts, a region, VPCs, subnets, route tables,
//! gateways, ENIs, security groups, network ACLs and prefix lists.
//!
//! Owns the file format only: every struct here is what serde reads, with nothing checked yet.
//! [`crate::validate`] turns a [`Topology`] into a [`crate::Network`] or lists every problem.
//! Resources reference each other by AWS-shaped id (`vpc-…`, `subnet-…`, `sg-…`).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

/// A whole topology.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// The region everything lives in.
    pub region: Region,
    /// Accounts that own VPCs and ENIs.
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// VPCs.
    #[serde(default)]
    pub vpcs: Vec<Vpc>,
    /// Subnets.
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    /// Route tables.
    #[serde(default)]
    pub route_tables: Vec<RouteTable>,
    /// Internet, NAT, peering, transit, virtual private, endpoint and local gateways.
    #[serde(default)]
    pub gateways: Vec<Gateway>,
    /// Network ACLs.
    #[serde(default)]
    pub network_acls: Vec<NetworkAcl>,
    /// Security groups.
    #[serde(default)]
    pub security_groups: Vec<SecurityGroup>,
    /// Managed prefix lists (`pl-…`), usable in security-group rules.
    #[serde(default)]
    pub prefix_lists: Vec<PrefixList>,
    /// Network interfaces.
    #[serde(default)]
    pub enis: Vec<Eni>,
}

/// The region and its Availability Zones.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Region name, e.g. `us-east-1`.
    pub name: String,
    /// Its Availability Zones.
    #[serde(default)]
    pub azs: Vec<Az>,
}

/// An Availability Zone: the name users see and the zone ID flow logs report (`az-id`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Az {
    /// AZ name, e.g. `us-east-1a`.
    pub name: String,
    /// AZ ID, e.g. `use1-az4`.
    pub id: String,
}

/// An AWS account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// 12-digit account id.
    pub id: String,
    /// A label.
    #[serde(default)]
    pub name: Option<String>,
}

/// A VPC.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// `vpc-…`.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// IPv4 (and optionally IPv6) CIDR blocks.
    pub cidrs: Vec<IpNet>,
    /// A label (the Name tag).
    #[serde(default)]
    pub name: Option<String>,
}

/// A subnet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// `subnet-…`.
    pub id: String,
    /// Its VPC.
    pub vpc: String,
    /// AZ name.
    pub az: String,
    /// Address block(s): one IPv4 and optionally one IPv6.
    pub cidrs: Vec<IpNet>,
    /// Associated route table.
    pub route_table: String,
    /// Associated network ACL.
    pub network_acl: String,
    /// A label.
    #[serde(default)]
    pub name: Option<String>,
}

/// A route table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTable {
    /// `rtb-…`.
    pub id: String,
    /// Its VPC.
    pub vpc: String,
    /// Routes; the most specific matching destination wins.
    pub routes: Vec<Route>,
}

/// One route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Destination block.
    pub destination: IpNet,
    /// `local` or a gateway id (`igw-`, `nat-`, `pcx-`, `tgw-`, `vgw-`, `vpce-`, `lgw-`).
    pub target: String,
}

/// The kinds of gateway a route can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Its id.
    pub id: String,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: GatewayType,
    /// The VPC it is attached to.
    pub vpc: String,
    /// NAT gateways: the ENI that carries their traffic.
    #[serde(default)]
    pub eni: Option<String>,
    /// Peering: the peer VPC's region (another region makes traffic-path 5, not 4).
    #[serde(default)]
    pub peer_region: Option<String>,
    /// Peering, transit, VPN, endpoint: the address blocks reachable through it.
    #[serde(default)]
    pub remote_cidrs: Vec<IpNet>,
}

/// Allow or deny (network ACL rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Let the traffic through.
    Allow,
    /// Drop it.
    Deny,
}

/// A rule's protocol: a name (`tcp`, `udp`, `icmp`, `icmpv6`, `all`), `-1` (all) or a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ProtocolSpec {
    /// A name or `-1`.
    Name(String),
    /// An IANA protocol number.
    Number(i64),
}

/// A rule's destination-port range: `22`, `"1024-65535"`, `"all"`; absent means all ports.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PortSpec {
    /// One port.
    One(i64),
    /// `"N"`, `"N-M"` or `"all"`.
    Text(String),
}

/// A network ACL: numbered rules per direction, evaluated lowest number first; the default
/// `*` rule denies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkAcl {
    /// `acl-…`.
    pub id: String,
    /// Its VPC.
    pub vpc: String,
    /// Rules for traffic entering the subnet.
    #[serde(default)]
    pub inbound: Vec<AclRule>,
    /// Rules for traffic leaving the subnet.
    #[serde(default)]
    pub outbound: Vec<AclRule>,
}

/// A network ACL rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRule {
    /// Rule number (1–32766); lower numbers are evaluated first.
    pub rule: i64,
    /// Protocol.
    pub protocol: ProtocolSpec,
    /// Destination ports (TCP/UDP).
    #[serde(default)]
    pub ports: Option<PortSpec>,
    /// The remote block: the source for inbound rules, the destination for outbound ones.
    pub cidr: IpNet,
    /// Allow or deny.
    pub action: RuleAction,
}

/// A security group: allow-only rules per direction, stateful.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// `sg-…`.
    pub id: String,
    /// Its VPC.
    pub vpc: String,
    /// A label (the group name).
    #[serde(default)]
    pub name: Option<String>,
    /// Inbound allow rules.
    #[serde(default)]
    pub inbound: Vec<SgRule>,
    /// Outbound allow rules.
    #[serde(default)]
    pub outbound: Vec<SgRule>,
}

/// A security-group rule. Exactly one of `cidr`, `prefix_list` or `group` names the peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgRule {
    /// Protocol.
    pub protocol: ProtocolSpec,
    /// Destination ports (TCP/UDP).
    #[serde(default)]
    pub ports: Option<PortSpec>,
    /// Peer address block.
    #[serde(default)]
    pub cidr: Option<IpNet>,
    /// Peer prefix list (`pl-…`).
    #[serde(default)]
    pub prefix_list: Option<String>,
    /// Peer security group (`sg-…`): any ENI that carries it.
    #[serde(default)]
    pub group: Option<String>,
    /// A note.
    #[serde(default)]
    pub description: Option<String>,
}

/// A managed prefix list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixList {
    /// `pl-…`.
    pub id: String,
    /// Its blocks.
    pub cidrs: Vec<IpNet>,
    /// A label.
    #[serde(default)]
    pub name: Option<String>,
}

/// The kind of an ENI; decides e.g. whether `instance-id` is reported (requester-managed ENIs
/// report `-`) and the v11 `interface-type` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
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
#[derive(Debug, Clone, Deserialize)]
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
    #[serde(default)]
    pub owner: Option<String>,
    /// Instance id (`i-…`) for instance ENIs.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Private addresses; the first is the primary one.
    pub private_ips: Vec<IpAddr>,
    /// A public IPv4 address (reached through the internet gateway).
    #[serde(default)]
    pub public_ip: Option<IpAddr>,
    /// Security groups (none for NAT gateway ENIs).
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// The host interface (e.g. a veth) that carries this ENI's traffic, for live capture.
    #[serde(default)]
    pub host_interface: Option<String>,
    /// A label (the Name tag), also usable in scenarios.
    #[serde(default)]
    pub name: Option<String>,
}
