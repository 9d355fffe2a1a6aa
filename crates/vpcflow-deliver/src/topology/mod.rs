//! EC2's Describe* actions over the topology: DescribeVpcs, DescribeSubnets,
//! DescribeNetworkInterfaces, DescribeSecurityGroups, DescribeNetworkAcls and DescribeRouteTables.
//!
//! Owns the rules these share (AWS's EC2 API reference for each action): ids asked for must exist
//! and be the caller's (`Invalid….NotFound`), ids must have their prefix (`Invalid….Malformed`),
//! filters are ANDed, a filter's values ORed with the wildcards `*` and `?`, an unknown filter
//! name is `InvalidParameterValue`, `tag:<key>` and `tag-key` filter on tags (a resource's label
//! is its `Name` tag), and `MaxResults` (5 to 1000) pages in id order. [`KINDS`] is the one table
//! of what each action is called, takes and filters on; [`resources`] turns the topology as
//! written ([`vpcflow_net::Network::topology`]) into each action's items as AWS's answer shapes
//! them ([`Node`]: the wire crate writes them as XML). Pure: no I/O, no clock.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use vpcflow_net::Network;
use vpcflow_net::model::{
    self, AclRule, EniType, GatewayType, PortSpec, ProtocolSpec, RuleAction, SgRule, Topology,
};

use crate::api::{ApiError, ErrorKind};
use crate::describe::{Filter, MAX_IDS, MIN_RESULTS, glob, is_id};

mod instances;

pub use instances::{peer as rule_peer, rule_id};

/// The kinds of resource described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// DescribeVpcs.
    Vpcs,
    /// DescribeSubnets.
    Subnets,
    /// DescribeNetworkInterfaces.
    NetworkInterfaces,
    /// DescribeSecurityGroups.
    SecurityGroups,
    /// DescribeNetworkAcls.
    NetworkAcls,
    /// DescribeRouteTables.
    RouteTables,
    /// DescribeInternetGateways.
    InternetGateways,
    /// DescribeNatGateways.
    NatGateways,
    /// DescribeAddresses.
    Addresses,
    /// DescribeInstances (each instance its own reservation).
    Instances,
    /// DescribeSecurityGroupRules.
    SecurityGroupRules,
}

/// What one Describe* action is called and takes.
#[derive(Debug)]
pub struct KindDef {
    /// The kind.
    pub kind: Kind,
    /// The action's name.
    pub action: &'static str,
    /// The id list's wire name (`VpcId` for `VpcId.N`).
    pub id_param: &'static str,
    /// The answer's list element (`vpcSet`).
    pub set: &'static str,
    /// The id prefix (`vpc`).
    pub prefix: &'static str,
    /// An id that does not exist.
    pub not_found: ErrorKind,
    /// What AWS calls the resource in that error's message.
    pub not_found_noun: &'static str,
    /// An id without the prefix.
    pub malformed: ErrorKind,
    /// The filter names the action takes besides `tag:<key>` and `tag-key`.
    pub filters: &'static [&'static str],
    /// What DescribeTags calls the resource (`resource-type`).
    pub tag_type: &'static str,
}

/// Every Describe* action served, one row each.
pub static KINDS: &[KindDef] = &[
    KindDef {
        kind: Kind::Vpcs,
        action: "DescribeVpcs",
        id_param: "VpcId",
        set: "vpcSet",
        prefix: "vpc",
        not_found: ErrorKind::VpcNotFound,
        not_found_noun: "The vpc ID",
        malformed: ErrorKind::VpcIdMalformed,
        filters: &[
            "cidr",
            "cidr-block-association.cidr-block",
            "cidr-block-association.association-id",
            "cidr-block-association.state",
            "ipv6-cidr-block-association.ipv6-cidr-block",
            "is-default",
            "owner-id",
            "state",
            "vpc-id",
        ],
        tag_type: "vpc",
    },
    KindDef {
        kind: Kind::Subnets,
        action: "DescribeSubnets",
        id_param: "SubnetId",
        set: "subnetSet",
        prefix: "subnet",
        not_found: ErrorKind::SubnetNotFound,
        not_found_noun: "The subnet ID",
        malformed: ErrorKind::SubnetIdMalformed,
        filters: &[
            "availability-zone",
            "availability-zone-id",
            "available-ip-address-count",
            "cidr-block",
            "default-for-az",
            "ipv6-cidr-block-association.ipv6-cidr-block",
            "map-public-ip-on-launch",
            "owner-id",
            "state",
            "subnet-arn",
            "subnet-id",
            "vpc-id",
        ],
        tag_type: "subnet",
    },
    KindDef {
        kind: Kind::NetworkInterfaces,
        action: "DescribeNetworkInterfaces",
        id_param: "NetworkInterfaceId",
        set: "networkInterfaceSet",
        prefix: "eni",
        not_found: ErrorKind::NetworkInterfaceNotFound,
        not_found_noun: "The networkInterface ID",
        malformed: ErrorKind::NetworkInterfaceIdMalformed,
        filters: &[
            "addresses.private-ip-address",
            "addresses.primary",
            "association.public-ip",
            "attachment.instance-id",
            "attachment.status",
            "availability-zone",
            "description",
            "group-id",
            "group-name",
            "interface-type",
            "mac-address",
            "network-interface-id",
            "owner-id",
            "private-ip-address",
            "requester-managed",
            "status",
            "subnet-id",
            "vpc-id",
        ],
        tag_type: "network-interface",
    },
    KindDef {
        kind: Kind::SecurityGroups,
        action: "DescribeSecurityGroups",
        id_param: "GroupId",
        set: "securityGroupInfo",
        prefix: "sg",
        not_found: ErrorKind::GroupNotFound,
        not_found_noun: "The security group",
        malformed: ErrorKind::GroupIdMalformed,
        filters: &[
            "description",
            "egress.ip-permission.cidr",
            "egress.ip-permission.from-port",
            "egress.ip-permission.group-id",
            "egress.ip-permission.ipv6-cidr",
            "egress.ip-permission.prefix-list-id",
            "egress.ip-permission.protocol",
            "egress.ip-permission.to-port",
            "group-id",
            "group-name",
            "ip-permission.cidr",
            "ip-permission.from-port",
            "ip-permission.group-id",
            "ip-permission.ipv6-cidr",
            "ip-permission.prefix-list-id",
            "ip-permission.protocol",
            "ip-permission.to-port",
            "owner-id",
            "vpc-id",
        ],
        tag_type: "security-group",
    },
    KindDef {
        kind: Kind::NetworkAcls,
        action: "DescribeNetworkAcls",
        id_param: "NetworkAclId",
        set: "networkAclSet",
        prefix: "acl",
        not_found: ErrorKind::NetworkAclNotFound,
        not_found_noun: "The networkAcl ID",
        malformed: ErrorKind::NetworkAclIdMalformed,
        filters: &[
            "association.association-id",
            "association.network-acl-id",
            "association.subnet-id",
            "default",
            "entry.cidr",
            "entry.egress",
            "entry.ipv6-cidr",
            "entry.port-range.from",
            "entry.port-range.to",
            "entry.protocol",
            "entry.rule-action",
            "entry.rule-number",
            "network-acl-id",
            "owner-id",
            "vpc-id",
        ],
        tag_type: "network-acl",
    },
    KindDef {
        kind: Kind::RouteTables,
        action: "DescribeRouteTables",
        id_param: "RouteTableId",
        set: "routeTableSet",
        prefix: "rtb",
        not_found: ErrorKind::RouteTableNotFound,
        not_found_noun: "The routeTable ID",
        malformed: ErrorKind::RouteTableIdMalformed,
        filters: &[
            "association.main",
            "association.route-table-association-id",
            "association.route-table-id",
            "association.subnet-id",
            "owner-id",
            "route-table-id",
            "route.destination-cidr-block",
            "route.destination-ipv6-cidr-block",
            "route.gateway-id",
            "route.nat-gateway-id",
            "route.origin",
            "route.state",
            "route.transit-gateway-id",
            "route.vpc-peering-connection-id",
            "vpc-id",
        ],
        tag_type: "route-table",
    },
    KindDef {
        kind: Kind::InternetGateways,
        action: "DescribeInternetGateways",
        id_param: "InternetGatewayId",
        set: "internetGatewaySet",
        prefix: "igw",
        not_found: ErrorKind::InternetGatewayNotFound,
        not_found_noun: "The internetGateway ID",
        malformed: ErrorKind::InternetGatewayIdMalformed,
        filters: &[
            "attachment.state",
            "attachment.vpc-id",
            "internet-gateway-id",
            "owner-id",
        ],
        tag_type: "internet-gateway",
    },
    KindDef {
        kind: Kind::NatGateways,
        action: "DescribeNatGateways",
        id_param: "NatGatewayId",
        set: "natGatewaySet",
        prefix: "nat",
        not_found: ErrorKind::NatGatewayNotFound,
        not_found_noun: "The Nat Gateway",
        malformed: ErrorKind::NatGatewayMalformed,
        filters: &["nat-gateway-id", "state", "subnet-id", "vpc-id"],
        tag_type: "natgateway",
    },
    KindDef {
        kind: Kind::Addresses,
        action: "DescribeAddresses",
        id_param: "AllocationId",
        set: "addressesSet",
        prefix: "eipalloc",
        not_found: ErrorKind::AllocationNotFound,
        not_found_noun: "The allocation ID",
        malformed: ErrorKind::InvalidParameterValue,
        filters: &[
            "allocation-id",
            "association-id",
            "domain",
            "network-interface-id",
            "network-interface-owner-id",
            "private-ip-address",
            "public-ip",
        ],
        tag_type: "elastic-ip",
    },
    KindDef {
        kind: Kind::Instances,
        action: "DescribeInstances",
        id_param: "InstanceId",
        set: "reservationSet",
        prefix: "i",
        not_found: ErrorKind::InstanceNotFound,
        not_found_noun: "The instance ID",
        malformed: ErrorKind::InstanceIdMalformed,
        filters: &[
            "availability-zone",
            "image-id",
            "instance-id",
            "instance-state-code",
            "instance-state-name",
            "instance-type",
            "ip-address",
            "key-name",
            "network-interface.network-interface-id",
            "owner-id",
            "private-ip-address",
            "subnet-id",
            "vpc-id",
        ],
        tag_type: "instance",
    },
    KindDef {
        kind: Kind::SecurityGroupRules,
        action: "DescribeSecurityGroupRules",
        id_param: "SecurityGroupRuleId",
        set: "securityGroupRuleSet",
        prefix: "sgr",
        not_found: ErrorKind::SecurityGroupRuleNotFound,
        not_found_noun: "The security group rule ID",
        malformed: ErrorKind::SecurityGroupRuleIdMalformed,
        filters: &["group-id", "security-group-rule-id"],
        tag_type: "security-group-rule",
    },
];

impl Kind {
    /// This kind's row of [`KINDS`].
    pub fn def(self) -> &'static KindDef {
        KINDS
            .iter()
            .find(|d| d.kind == self)
            .expect("a row per kind")
    }

    /// The kind an action describes.
    pub fn of_action(action: &str) -> Option<Kind> {
        KINDS.iter().find(|d| d.action == action).map(|d| d.kind)
    }
}

/// A value of AWS's answer: text, a structure of named members, or a list of structures
/// (`<…Set><item>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Character data.
    Text(String),
    /// Named members, in the order AWS writes them.
    Struct(Fields),
    /// Items, each a structure.
    Set(Vec<Fields>),
}

/// A structure's members.
pub type Fields = Vec<(&'static str, Node)>;

/// One resource: what filters see and what the answer shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Its id.
    pub id: String,
    /// The account that owns it (and alone sees it).
    pub owner: String,
    /// Its tags (its label as `Name`).
    pub tags: BTreeMap<String, String>,
    /// Filter name and value, a name repeated for each of its values.
    pub attrs: Vec<(&'static str, String)>,
    /// Its item in the answer.
    pub fields: Fields,
}

/// A Describe* request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Describe {
    /// The ids asked for (`VpcId.N` …): only these, and each must exist.
    pub ids: Vec<String>,
    /// DescribeSecurityGroups' `GroupName.N`: only these, and each must exist.
    pub names: Vec<String>,
    /// `Filter.N`.
    pub filters: Vec<Filter>,
    /// `MaxResults`.
    pub max_results: Option<i64>,
    /// `NextToken`: the id of the previous page's last item.
    pub next_token: Option<String>,
}

/// One page of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The items, in id order.
    pub items: Vec<Fields>,
    /// Where the next page starts; absent on the last.
    pub next_token: Option<String>,
}

/// The page `req` asks for, of the resources of `kind` in `network` that `account` owns
/// (`None`: every account's).
pub fn describe(
    kind: Kind,
    req: &Describe,
    network: &Network,
    account: Option<&str>,
) -> Result<Page, ApiError> {
    let def = kind.def();
    let page_size = check(def, req)?;
    let mut all = resources(kind, &network.topology);
    all.retain(|r| account.is_none_or(|a| r.owner == a));
    all.sort_by(|a, b| a.id.cmp(&b.id));
    for id in &req.ids {
        if !all.iter().any(|r| &r.id == id) {
            return Err(not_found(def, id));
        }
    }
    let named =
        |r: &Resource, name: &str| r.attrs.iter().any(|(n, v)| *n == "group-name" && v == name);
    for name in &req.names {
        if !all.iter().any(|r| named(r, name)) {
            return Err(ApiError::new(
                def.not_found,
                format!("{} '{name}' does not exist", def.not_found_noun),
            ));
        }
    }
    let after = req.next_token.as_deref();
    let mut matching = all
        .into_iter()
        .filter(|r| after.is_none_or(|t| r.id.as_str() > t))
        .filter(|r| req.ids.is_empty() || req.ids.contains(&r.id))
        .filter(|r| req.names.is_empty() || req.names.iter().any(|n| named(r, n)))
        .filter(|r| req.filters.iter().all(|f| matches(f, r)));
    let page: Vec<Resource> = matching.by_ref().take(page_size).collect();
    let next_token = match (matching.next(), page.last()) {
        (Some(_), Some(last)) => Some(last.id.clone()),
        _ => None,
    };
    Ok(Page {
        items: page.into_iter().map(|r| r.fields).collect(),
        next_token,
    })
}

fn not_found(def: &KindDef, id: &str) -> ApiError {
    ApiError::new(
        def.not_found,
        format!("{} '{id}' does not exist", def.not_found_noun),
    )
}

/// The request's own rules; the page size.
fn check(def: &KindDef, req: &Describe) -> Result<usize, ApiError> {
    for id in &req.ids {
        if !is_id(id, def.prefix) {
            return Err(ApiError::new(
                def.malformed,
                format!("Invalid id: \"{id}\" (expecting \"{}-...\")", def.prefix),
            ));
        }
    }
    if let Some(n) = req.max_results
        && !(MIN_RESULTS..=MAX_IDS as i64).contains(&n)
    {
        return Err(ApiError::new(
            ErrorKind::InvalidParameterValue,
            format!(
                "Value ( {n} ) for parameter maxResults is invalid. Expecting a value between {MIN_RESULTS} and {MAX_IDS}."
            ),
        ));
    }
    for f in &req.filters {
        let known = def.filters.contains(&f.name.as_str())
            || f.name == "tag-key"
            || f.name.strip_prefix("tag:").is_some_and(|k| !k.is_empty());
        if !known {
            return Err(ApiError::new(
                ErrorKind::InvalidParameterValue,
                format!("The filter '{}' is invalid", f.name),
            ));
        }
    }
    if let Some(t) = &req.next_token
        && !is_id(t, def.prefix)
    {
        return Err(ApiError::new(
            ErrorKind::InvalidPaginationToken,
            format!("The token '{t}' is invalid."),
        ));
    }
    Ok(req
        .max_results
        .map_or(MAX_IDS, |n| n.clamp(MIN_RESULTS, MAX_IDS as i64) as usize))
}

fn matches(f: &Filter, r: &Resource) -> bool {
    let any = |v: &str| f.values.iter().any(|p| glob(p, v));
    if f.name == "tag-key" {
        return r.tags.keys().any(|k| any(k));
    }
    if let Some(key) = f.name.strip_prefix("tag:") {
        return r.tags.get(key).is_some_and(|v| any(v));
    }
    r.attrs.iter().any(|(n, v)| *n == f.name && any(v))
}

/// The tags of every resource of the network that `account` owns (`None`: every account's), as
/// DescribeTags lists them.
pub fn tag_descriptions(t: &Topology, account: Option<&str>) -> Vec<crate::tags::TagDescription> {
    KINDS
        .iter()
        .flat_map(|def| {
            resources(def.kind, t)
                .into_iter()
                .filter(|r| account.is_none_or(|a| r.owner == a))
                .flat_map(move |r| {
                    r.tags
                        .into_iter()
                        .map(move |(key, value)| crate::tags::TagDescription {
                            resource_id: r.id.clone(),
                            resource_type: def.tag_type,
                            key,
                            value,
                        })
                })
        })
        .collect()
}

/// Every resource of `kind` the topology holds, as AWS describes it.
pub fn resources(kind: Kind, t: &Topology) -> Vec<Resource> {
    let w = World::new(t);
    match kind {
        Kind::Vpcs => t.vpcs.iter().map(|v| w.vpc(v)).collect(),
        Kind::Subnets => t.subnets.iter().map(|s| w.subnet(s)).collect(),
        Kind::NetworkInterfaces => t.enis.iter().map(|e| w.eni(e)).collect(),
        Kind::SecurityGroups => t.security_groups.iter().map(|g| w.group(g)).collect(),
        Kind::NetworkAcls => t.network_acls.iter().map(|a| w.acl(a)).collect(),
        Kind::RouteTables => t.route_tables.iter().map(|r| w.route_table(r)).collect(),
        Kind::InternetGateways => t
            .gateways
            .iter()
            .filter(|g| g.kind == GatewayType::Internet)
            .map(|g| w.internet_gateway(g))
            .collect(),
        Kind::NatGateways => t
            .gateways
            .iter()
            .filter(|g| g.kind == GatewayType::Nat)
            .map(|g| w.nat_gateway(g))
            .collect(),
        Kind::Addresses => t.addresses.iter().map(|a| w.address(a)).collect(),
        Kind::Instances => t.instances.iter().map(|i| w.instance(i)).collect(),
        Kind::SecurityGroupRules => t
            .security_groups
            .iter()
            .flat_map(|g| w.group_rules(g))
            .collect(),
    }
}

/// The topology and what its resources look up in it.
struct World<'a> {
    t: &'a Topology,
}

// Values are literals, numbers and temporaries: by value reads better at the many call sites.
#[allow(clippy::needless_pass_by_value)]
fn text(name: &'static str, v: impl ToString) -> (&'static str, Node) {
    (name, Node::Text(v.to_string()))
}

fn set(name: &'static str, items: Vec<Fields>) -> (&'static str, Node) {
    (name, Node::Set(items))
}

fn tag_set(tags: &BTreeMap<String, String>) -> (&'static str, Node) {
    set(
        "tagSet",
        tags.iter()
            .map(|(k, v)| vec![text("key", k), text("value", v)])
            .collect(),
    )
}

/// A resource's tags: its `Name` (the label) and the others.
fn tags_of(name: Option<&String>, tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut all = tags.clone();
    if let Some(n) = name {
        all.insert("Name".to_owned(), n.clone());
    }
    all
}

/// DescribeVpcAttribute: the value of `attribute` of VPC `vpc`, one of `account`'s (`None`: any
/// account's). A VPC supports DNS and has no DNS hostnames unless ModifyVpcAttribute said
/// otherwise, as AWS makes it; network-address-usage metrics are off.
pub fn vpc_attribute(
    t: &Topology,
    vpc: &str,
    attribute: &str,
    account: Option<&str>,
) -> Result<bool, ApiError> {
    let Some(v) = t
        .vpcs
        .iter()
        .find(|v| v.id == vpc && account.is_none_or(|a| a == v.account))
    else {
        return Err(ApiError::new(
            ErrorKind::VpcNotFound,
            format!("The vpc ID '{vpc}' does not exist"),
        ));
    };
    match attribute {
        "enableDnsSupport" => Ok(v.enable_dns_support.unwrap_or(true)),
        "enableDnsHostnames" => Ok(v.enable_dns_hostnames.unwrap_or(false)),
        "enableNetworkAddressUsageMetrics" => Ok(false),
        other => Err(ApiError::new(
            ErrorKind::InvalidParameterValue,
            format!("Value ({other}) for parameter attribute is invalid. Unknown attribute."),
        )),
    }
}

/// The account that owns VPC `vpc`.
pub(crate) fn vpc_owner(t: &Topology, vpc: &str) -> Option<String> {
    t.vpcs
        .iter()
        .find(|v| v.id == vpc)
        .map(|v| v.account.clone())
}

/// The account that owns an ENI: its own owner, else its VPC's.
pub(crate) fn eni_owner(t: &Topology, e: &model::Eni) -> Option<String> {
    e.owner.clone().or_else(|| {
        let s = t.subnets.iter().find(|s| s.id == e.subnet)?;
        vpc_owner(t, &s.vpc)
    })
}

/// The account that owns a gateway: its own account, else its VPC's.
pub(crate) fn gateway_owner(t: &Topology, g: &model::Gateway) -> Option<String> {
    g.account
        .clone()
        .or_else(|| vpc_owner(t, g.vpc.as_deref()?))
}

/// An id AWS makes for something the topology does not name (an association), the same for the
/// same parts on every run: `prefix-` and 17 hex digits of their FNV-1a hash.
pub fn derived_id(prefix: &str, parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.join("/").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{prefix}-{:017x}", h & 0x0fff_ffff_ffff_ffff)
}

fn ipv4(cidrs: &[IpNet]) -> Option<&IpNet> {
    cidrs.iter().find(|c| matches!(c, IpNet::V4(_)))
}

fn ipv6(cidrs: &[IpNet]) -> Option<&IpNet> {
    cidrs.iter().find(|c| matches!(c, IpNet::V6(_)))
}

/// A rule's protocol as EC2 writes it: a name for TCP, UDP, ICMP and ICMPv6 in security
/// groups, the number in ACL entries, `-1` for all.
fn protocol_number(p: &ProtocolSpec) -> String {
    match vpcflow_net::network::parse_protocol(p) {
        Ok(Some(n)) => n.to_string(),
        _ => "-1".to_owned(),
    }
}

fn protocol_name(p: &ProtocolSpec) -> String {
    match vpcflow_net::network::parse_protocol(p) {
        Ok(Some(6)) => "tcp".to_owned(),
        Ok(Some(17)) => "udp".to_owned(),
        Ok(Some(1)) => "icmp".to_owned(),
        Ok(Some(58)) => "icmpv6".to_owned(),
        Ok(Some(n)) => n.to_string(),
        _ => "-1".to_owned(),
    }
}

/// The port range a rule shows: TCP and UDP only (all ports: 0 to 65535).
fn port_range(protocol: &ProtocolSpec, ports: Option<&PortSpec>) -> Option<(u16, u16)> {
    let p = vpcflow_net::network::parse_protocol(protocol)
        .ok()
        .flatten();
    matches!(p, Some(6 | 17))
        .then(|| vpcflow_net::network::parse_ports(ports).ok())
        .flatten()
}

/// An ENI's MAC address: AWS's locally administered `02:…` form, the same for an id on every
/// run.
fn mac(id: &str) -> String {
    let hash = derived_id("", &[id]);
    let hex = &hash[hash.len() - 10..];
    let mut out = String::from("02");
    for pair in hex.as_bytes().chunks(2) {
        out.push(':');
        out.push_str(std::str::from_utf8(pair).expect("hex"));
    }
    out
}

impl<'a> World<'a> {
    fn new(t: &'a Topology) -> World<'a> {
        World { t }
    }

    fn vpc_owner(&self, vpc: &str) -> String {
        vpc_owner(self.t, vpc).unwrap_or_default()
    }

    fn subnet(&self, s: &model::Subnet) -> Resource {
        let owner = self.vpc_owner(&s.vpc);
        let arn = format!("arn:aws:ec2:{}:{owner}:subnet/{}", self.t.region.name, s.id);
        let az_id = self
            .t
            .region
            .azs
            .iter()
            .find(|a| a.name == s.az)
            .map(|a| a.id.clone())
            .unwrap_or_default();
        let v4 = ipv4(&s.cidrs);
        let used: usize = self
            .t
            .enis
            .iter()
            .filter(|e| e.subnet == s.id)
            .map(|e| {
                e.private_ips
                    .iter()
                    .filter(|ip| matches!(ip, IpAddr::V4(_)))
                    .count()
            })
            .sum();
        // AWS keeps five addresses of every subnet (the network, the router, DNS, one reserved,
        // broadcast).
        let available = v4.map_or(0, |n| {
            let size = 1u64 << (32 - u32::from(n.prefix_len()));
            size.saturating_sub(5).saturating_sub(used as u64)
        });
        let tags = tags_of(s.name.as_ref(), &s.tags);
        let mut attrs = vec![
            ("availability-zone", s.az.clone()),
            ("availability-zone-id", az_id.clone()),
            ("available-ip-address-count", available.to_string()),
            ("default-for-az", "false".to_owned()),
            (
                "map-public-ip-on-launch",
                s.map_public_ip_on_launch.to_string(),
            ),
            ("owner-id", owner.clone()),
            ("state", "available".to_owned()),
            ("subnet-arn", arn.clone()),
            ("subnet-id", s.id.clone()),
            ("vpc-id", s.vpc.clone()),
        ];
        let mut fields = vec![
            text("subnetId", &s.id),
            text("subnetArn", &arn),
            text("state", "available"),
            text("ownerId", &owner),
            text("vpcId", &s.vpc),
        ];
        if let Some(v4) = v4 {
            attrs.push(("cidr-block", v4.to_string()));
            fields.push(text("cidrBlock", v4));
        }
        let v6: Vec<Fields> = ipv6(&s.cidrs)
            .map(|c| {
                attrs.push(("ipv6-cidr-block-association.ipv6-cidr-block", c.to_string()));
                vec![
                    text("ipv6CidrBlock", c),
                    text(
                        "associationId",
                        derived_id("subnet-cidr-assoc", &[&s.id, &c.to_string()]),
                    ),
                    (
                        "ipv6CidrBlockState",
                        Node::Struct(vec![text("state", "associated")]),
                    ),
                ]
            })
            .into_iter()
            .collect();
        fields.extend([
            set("ipv6CidrBlockAssociationSet", v6),
            text("availableIpAddressCount", available),
            text("availabilityZone", &s.az),
            text("availabilityZoneId", &az_id),
            text("defaultForAz", false),
            text("mapPublicIpOnLaunch", s.map_public_ip_on_launch),
            text("assignIpv6AddressOnCreation", false),
            tag_set(&tags),
        ]);
        Resource {
            id: s.id.clone(),
            owner,
            tags,
            attrs,
            fields,
        }
    }

    fn vpc(&self, v: &model::Vpc) -> Resource {
        let tags = tags_of(v.name.as_ref(), &v.tags);
        let mut attrs = vec![
            ("is-default", "false".to_owned()),
            ("owner-id", v.account.clone()),
            ("state", "available".to_owned()),
            ("vpc-id", v.id.clone()),
        ];
        let assoc = |c: &IpNet| derived_id("vpc-cidr-assoc", &[&v.id, &c.to_string()]);
        let v4: Vec<Fields> = v
            .cidrs
            .iter()
            .filter(|c| matches!(c, IpNet::V4(_)))
            .map(|c| {
                attrs.push(("cidr-block-association.cidr-block", c.to_string()));
                attrs.push(("cidr-block-association.association-id", assoc(c)));
                attrs.push(("cidr-block-association.state", "associated".to_owned()));
                vec![
                    text("cidrBlock", c),
                    text("associationId", assoc(c)),
                    (
                        "cidrBlockState",
                        Node::Struct(vec![text("state", "associated")]),
                    ),
                ]
            })
            .collect();
        let v6: Vec<Fields> = v
            .cidrs
            .iter()
            .filter(|c| matches!(c, IpNet::V6(_)))
            .map(|c| {
                attrs.push(("ipv6-cidr-block-association.ipv6-cidr-block", c.to_string()));
                vec![
                    text("ipv6CidrBlock", c),
                    text("associationId", assoc(c)),
                    (
                        "ipv6CidrBlockState",
                        Node::Struct(vec![text("state", "associated")]),
                    ),
                ]
            })
            .collect();
        let mut fields = vec![
            text("vpcId", &v.id),
            text("ownerId", &v.account),
            text("state", "available"),
        ];
        if let Some(c) = ipv4(&v.cidrs) {
            attrs.push(("cidr", c.to_string()));
            fields.push(text("cidrBlock", c));
        }
        fields.extend([
            set("cidrBlockAssociationSet", v4),
            set("ipv6CidrBlockAssociationSet", v6),
            text("dhcpOptionsId", derived_id("dopt", &[&v.account])),
            tag_set(&tags),
            text("instanceTenancy", "default"),
            text("isDefault", false),
        ]);
        Resource {
            id: v.id.clone(),
            owner: v.account.clone(),
            tags,
            attrs,
            fields,
        }
    }

    fn eni(&self, e: &model::Eni) -> Resource {
        let subnet = self.t.subnets.iter().find(|s| s.id == e.subnet);
        let vpc = subnet.map(|s| s.vpc.clone()).unwrap_or_default();
        let az = subnet.map(|s| s.az.clone()).unwrap_or_default();
        let owner = eni_owner(self.t, e).unwrap_or_default();
        let managed = e.kind.requester_managed();
        let interface_type = match e.kind {
            EniType::Instance | EniType::Rds => "interface",
            EniType::NatGateway => "nat_gateway",
            EniType::LoadBalancer => "network_load_balancer",
            EniType::VpcEndpoint => "vpc_endpoint",
            EniType::Lambda => "lambda",
            EniType::TransitGateway => "transit_gateway",
        };
        let tags = tags_of(e.name.as_ref(), &e.tags);
        let mac = mac(&e.id);
        let description = e
            .description
            .clone()
            .or_else(|| e.name.clone())
            .unwrap_or_default();
        let mut attrs = vec![
            ("availability-zone", az.clone()),
            ("description", description.clone()),
            ("interface-type", interface_type.to_owned()),
            ("mac-address", mac.clone()),
            ("network-interface-id", e.id.clone()),
            ("owner-id", owner.clone()),
            ("requester-managed", managed.to_string()),
            ("status", "in-use".to_owned()),
            ("subnet-id", e.subnet.clone()),
            ("vpc-id", vpc.clone()),
        ];
        let groups: Vec<Fields> = e
            .security_groups
            .iter()
            .map(|g| {
                let name = self.group_name(g);
                attrs.push(("group-id", g.clone()));
                attrs.push(("group-name", name.clone()));
                vec![text("groupId", g), text("groupName", name)]
            })
            .collect();
        let addresses: Vec<Fields> = e
            .private_ips
            .iter()
            .enumerate()
            .map(|(i, ip)| {
                attrs.push(("addresses.private-ip-address", ip.to_string()));
                attrs.push(("private-ip-address", ip.to_string()));
                let mut f = vec![text("privateIpAddress", ip), text("primary", i == 0)];
                if let (0, Some(p)) = (i, e.public_ip) {
                    f.push(association(p));
                }
                f
            })
            .collect();
        attrs.push(("addresses.primary", "true".to_owned()));
        let mut fields = vec![
            text("networkInterfaceId", &e.id),
            text("subnetId", &e.subnet),
            text("vpcId", &vpc),
            text("availabilityZone", &az),
            text("description", &description),
            text("ownerId", &owner),
            text("requesterManaged", managed),
            text("status", "in-use"),
            text("macAddress", &mac),
            text("sourceDestCheck", !matches!(e.kind, EniType::NatGateway)),
            set("groupSet", groups),
        ];
        if let Some(ip) = e.private_ips.first() {
            fields.push(text("privateIpAddress", ip));
        }
        if let Some(instance) = &e.instance_id {
            attrs.push(("attachment.instance-id", instance.clone()));
            attrs.push(("attachment.status", "attached".to_owned()));
            fields.push((
                "attachment",
                Node::Struct(vec![
                    text("attachmentId", derived_id("eni-attach", &[&e.id])),
                    text("instanceId", instance),
                    text("instanceOwnerId", &owner),
                    text("deviceIndex", 0),
                    text("status", "attached"),
                    text("deleteOnTermination", true),
                ]),
            ));
        }
        if let Some(p) = e.public_ip {
            attrs.push(("association.public-ip", p.to_string()));
            fields.push(association(p));
        }
        fields.extend([
            tag_set(&tags),
            set("privateIpAddressesSet", addresses),
            set("ipv6AddressesSet", Vec::new()),
            text("interfaceType", interface_type),
        ]);
        Resource {
            id: e.id.clone(),
            owner,
            tags,
            attrs,
            fields,
        }
    }

    fn group_name(&self, id: &str) -> String {
        self.t
            .security_groups
            .iter()
            .find(|g| g.id == id)
            .and_then(|g| g.name.clone())
            .unwrap_or_else(|| id.to_owned())
    }

    fn group(&self, g: &model::SecurityGroup) -> Resource {
        let owner = self.vpc_owner(&g.vpc);
        let name = g.name.clone().unwrap_or_else(|| g.id.clone());
        // A group the topology file wrote has its name for a description and a Name tag; one
        // CreateSecurityGroup made has its own description and only the tags it was given.
        let (description, tags) = match &g.description {
            Some(d) => (d.clone(), g.tags.clone()),
            None => (name.clone(), tags_of(g.name.as_ref(), &g.tags)),
        };
        let mut attrs = vec![
            ("description", description.clone()),
            ("group-id", g.id.clone()),
            ("group-name", name.clone()),
            ("owner-id", owner.clone()),
            ("vpc-id", g.vpc.clone()),
        ];
        let inbound = self.permissions(&g.inbound, &owner, "ip-permission", &mut attrs);
        let outbound = self.permissions(&g.outbound, &owner, "egress.ip-permission", &mut attrs);
        let fields = vec![
            text("ownerId", &owner),
            text("groupId", &g.id),
            text("groupName", &name),
            text("groupDescription", &description),
            text("vpcId", &g.vpc),
            set("ipPermissions", inbound),
            set("ipPermissionsEgress", outbound),
            tag_set(&tags),
        ];
        Resource {
            id: g.id.clone(),
            owner,
            tags,
            attrs,
            fields,
        }
    }

    /// A direction's rules as `IpPermission`s, one per rule (AWS merges rules of the same
    /// protocol and ports into one permission; one each says the same).
    fn permissions(
        &self,
        rules: &[SgRule],
        owner: &str,
        filter: &'static str,
        attrs: &mut Vec<(&'static str, String)>,
    ) -> Vec<Fields> {
        let names = match filter {
            "ip-permission" => [
                "ip-permission.protocol",
                "ip-permission.from-port",
                "ip-permission.to-port",
                "ip-permission.cidr",
                "ip-permission.ipv6-cidr",
                "ip-permission.group-id",
                "ip-permission.prefix-list-id",
            ],
            _ => [
                "egress.ip-permission.protocol",
                "egress.ip-permission.from-port",
                "egress.ip-permission.to-port",
                "egress.ip-permission.cidr",
                "egress.ip-permission.ipv6-cidr",
                "egress.ip-permission.group-id",
                "egress.ip-permission.prefix-list-id",
            ],
        };
        rules
            .iter()
            .map(|r| {
                let protocol = protocol_name(&r.protocol);
                attrs.push((names[0], protocol.clone()));
                let mut f = vec![text("ipProtocol", &protocol)];
                if let Some((from, to)) = port_range(&r.protocol, r.ports.as_ref()) {
                    attrs.push((names[1], from.to_string()));
                    attrs.push((names[2], to.to_string()));
                    f.extend([text("fromPort", from), text("toPort", to)]);
                }
                let described = |mut item: Fields| {
                    if let Some(d) = &r.description {
                        item.push(text("description", d));
                    }
                    item
                };
                let groups: Vec<Fields> = r
                    .group
                    .iter()
                    .map(|g| {
                        attrs.push((names[5], g.clone()));
                        described(vec![text("userId", owner), text("groupId", g)])
                    })
                    .collect();
                let (mut v4, mut v6) = (Vec::new(), Vec::new());
                if let Some(c) = &r.cidr {
                    match c {
                        IpNet::V4(_) => {
                            attrs.push((names[3], c.to_string()));
                            v4.push(described(vec![text("cidrIp", c)]));
                        }
                        IpNet::V6(_) => {
                            attrs.push((names[4], c.to_string()));
                            v6.push(described(vec![text("cidrIpv6", c)]));
                        }
                    }
                }
                let lists: Vec<Fields> = r
                    .prefix_list
                    .iter()
                    .map(|p| {
                        attrs.push((names[6], p.clone()));
                        described(vec![text("prefixListId", p)])
                    })
                    .collect();
                f.extend([
                    set("groups", groups),
                    set("ipRanges", v4),
                    set("ipv6Ranges", v6),
                    set("prefixListIds", lists),
                ]);
                f
            })
            .collect()
    }

    fn acl(&self, a: &model::NetworkAcl) -> Resource {
        let owner = self.vpc_owner(&a.vpc);
        let tags = a.tags.clone();
        let mut attrs = vec![
            ("default", a.default.to_string()),
            ("network-acl-id", a.id.clone()),
            ("owner-id", owner.clone()),
            ("vpc-id", a.vpc.clone()),
        ];
        let mut entries = Vec::new();
        for (egress, rules) in [(false, &a.inbound), (true, &a.outbound)] {
            for r in rules.iter() {
                entries.push(acl_entry(r, egress, &mut attrs));
            }
            // Every ACL ends with the `*` rule, which denies what no rule allowed.
            entries.push(acl_entry(&deny_all(), egress, &mut attrs));
        }
        let associations: Vec<Fields> = self
            .t
            .subnets
            .iter()
            .filter(|s| s.network_acl == a.id)
            .map(|s| {
                let id = derived_id("aclassoc", &[&a.id, &s.id]);
                attrs.push(("association.association-id", id.clone()));
                attrs.push(("association.network-acl-id", a.id.clone()));
                attrs.push(("association.subnet-id", s.id.clone()));
                vec![
                    text("networkAclAssociationId", id),
                    text("networkAclId", &a.id),
                    text("subnetId", &s.id),
                ]
            })
            .collect();
        let fields = vec![
            text("networkAclId", &a.id),
            text("vpcId", &a.vpc),
            text("default", a.default),
            set("entrySet", entries),
            set("associationSet", associations),
            tag_set(&tags),
            text("ownerId", &owner),
        ];
        Resource {
            id: a.id.clone(),
            owner,
            tags,
            attrs,
            fields,
        }
    }

    fn route_table(&self, r: &model::RouteTable) -> Resource {
        let owner = self.vpc_owner(&r.vpc);
        let tags = r.tags.clone();
        let mut attrs = vec![
            ("owner-id", owner.clone()),
            ("route-table-id", r.id.clone()),
            ("vpc-id", r.vpc.clone()),
            ("route.state", "active".to_owned()),
        ];
        let routes: Vec<Fields> = r
            .routes
            .iter()
            .map(|route| self.route(route, &mut attrs))
            .collect();
        // The main table's association has no subnet; a subnet on the main table is associated
        // with it implicitly, and shows among no table's associations.
        let main = r.main.then(|| {
            let id = derived_id("rtbassoc", &[&r.id, "main"]);
            attrs.push(("association.route-table-association-id", id.clone()));
            attrs.push(("association.route-table-id", r.id.clone()));
            attrs.push(("association.main", "true".to_owned()));
            vec![
                text("main", true),
                text("routeTableAssociationId", id),
                text("routeTableId", &r.id),
                (
                    "associationState",
                    Node::Struct(vec![text("state", "associated")]),
                ),
            ]
        });
        let explicit = self
            .t
            .subnets
            .iter()
            .filter(|s| s.route_table == r.id && !r.main)
            .map(|s| {
                let id = derived_id("rtbassoc", &[&r.id, &s.id]);
                attrs.push(("association.route-table-association-id", id.clone()));
                attrs.push(("association.route-table-id", r.id.clone()));
                attrs.push(("association.subnet-id", s.id.clone()));
                attrs.push(("association.main", "false".to_owned()));
                vec![
                    text("routeTableAssociationId", id),
                    text("routeTableId", &r.id),
                    text("subnetId", &s.id),
                    text("main", false),
                    (
                        "associationState",
                        Node::Struct(vec![text("state", "associated")]),
                    ),
                ]
            });
        let associations: Vec<Fields> = main.into_iter().chain(explicit).collect();
        let fields = vec![
            text("routeTableId", &r.id),
            text("vpcId", &r.vpc),
            text("ownerId", &owner),
            set("routeSet", routes),
            set("associationSet", associations),
            set("propagatingVgwSet", Vec::new()),
            tag_set(&tags),
        ];
        Resource {
            id: r.id.clone(),
            owner,
            tags,
            attrs,
            fields,
        }
    }

    /// A route as EC2 shows it: the destination, the target under the member its kind names,
    /// and `local` routes as the route table's own.
    fn route(&self, route: &model::Route, attrs: &mut Vec<(&'static str, String)>) -> Fields {
        let mut f = Vec::new();
        match route.destination {
            IpNet::V4(_) => {
                attrs.push((
                    "route.destination-cidr-block",
                    route.destination.to_string(),
                ));
                f.push(text("destinationCidrBlock", route.destination));
            }
            IpNet::V6(_) => {
                attrs.push((
                    "route.destination-ipv6-cidr-block",
                    route.destination.to_string(),
                ));
                f.push(text("destinationIpv6CidrBlock", route.destination));
            }
        }
        let kind = self
            .t
            .gateways
            .iter()
            .find(|g| g.id == route.target)
            .map(|g| g.kind);
        let (member, filter) = match kind {
            Some(GatewayType::Nat) => ("natGatewayId", "route.nat-gateway-id"),
            Some(GatewayType::VpcPeering) => {
                ("vpcPeeringConnectionId", "route.vpc-peering-connection-id")
            }
            Some(GatewayType::TransitGateway) => ("transitGatewayId", "route.transit-gateway-id"),
            Some(GatewayType::Local) => ("localGatewayId", "route.gateway-id"),
            _ => ("gatewayId", "route.gateway-id"),
        };
        attrs.push((filter, route.target.clone()));
        let origin = match route.target.as_str() {
            "local" => "CreateRouteTable",
            _ => "CreateRoute",
        };
        attrs.push(("route.origin", origin.to_owned()));
        f.extend([
            text(member, &route.target),
            text("state", "active"),
            text("origin", origin),
        ]);
        f
    }
}

fn association(public_ip: IpAddr) -> (&'static str, Node) {
    (
        "association",
        Node::Struct(vec![
            text("publicIp", public_ip),
            text("publicDnsName", ""),
            text("ipOwnerId", "amazon"),
        ]),
    )
}

fn deny_all() -> AclRule {
    AclRule {
        rule: 32767,
        protocol: ProtocolSpec::Number(-1),
        ports: None,
        cidr: "0.0.0.0/0".parse().expect("a block"),
        action: RuleAction::Deny,
    }
}

fn acl_entry(r: &AclRule, egress: bool, attrs: &mut Vec<(&'static str, String)>) -> Fields {
    let protocol = protocol_number(&r.protocol);
    let action = match r.action {
        RuleAction::Allow => "allow",
        RuleAction::Deny => "deny",
    };
    attrs.extend([
        ("entry.rule-number", r.rule.to_string()),
        ("entry.protocol", protocol.clone()),
        ("entry.rule-action", action.to_owned()),
        ("entry.egress", egress.to_string()),
    ]);
    let mut f = vec![
        text("ruleNumber", r.rule),
        text("protocol", &protocol),
        text("ruleAction", action),
        text("egress", egress),
    ];
    match r.cidr {
        IpNet::V4(_) => {
            attrs.push(("entry.cidr", r.cidr.to_string()));
            f.push(text("cidrBlock", r.cidr));
        }
        IpNet::V6(_) => {
            attrs.push(("entry.ipv6-cidr", r.cidr.to_string()));
            f.push(text("ipv6CidrBlock", r.cidr));
        }
    }
    if let Some((from, to)) = port_range(&r.protocol, r.ports.as_ref()) {
        attrs.push(("entry.port-range.from", from.to_string()));
        attrs.push(("entry.port-range.to", to.to_string()));
        f.push((
            "portRange",
            Node::Struct(vec![text("from", from), text("to", to)]),
        ));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Network {
        vpcflow_net::builtin::load("builtin:three-tier").expect("the built-in topology")
    }

    #[test]
    fn every_attribute_a_resource_carries_is_a_filter_its_action_takes() {
        // The built-in topology, and a network made through the API (every kind has items).
        let n = builtin();
        let mut made = crate::resources::Made::default();
        crate::resources::tests::two_tier(&n, &mut made);
        let t = crate::resources::tests::topology_of(&n, &made);
        for def in KINDS {
            let all = resources(def.kind, &t);
            assert!(!all.is_empty(), "{}", def.action);
            for r in &all {
                assert!(r.id.starts_with(def.prefix), "{}", r.id);
                for (name, _) in &r.attrs {
                    assert!(def.filters.contains(name), "{}: {name}", def.action);
                }
            }
        }
    }

    #[test]
    fn derived_ids_are_stable_and_shaped_as_aws_makes_them() {
        let a = derived_id("rtbassoc", &["rtb-1", "subnet-2"]);
        assert_eq!(a, derived_id("rtbassoc", &["rtb-1", "subnet-2"]));
        assert_ne!(a, derived_id("rtbassoc", &["rtb-1", "subnet-3"]));
        assert_eq!(a.len(), "rtbassoc-".len() + 17);
        assert_eq!(mac("eni-1").len(), 17);
        assert!(mac("eni-1").starts_with("02:"));
    }
}
