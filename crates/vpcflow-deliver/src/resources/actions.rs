//! What each EC2 network action does to the API's resources, and what it refuses, as AWS does
//! (the EC2 API reference of each action, and its error-code page): ids, the resources AWS makes
//! with a VPC (its default security group, network ACL and main route table), CIDR and
//! address rules, duplicates, and `DependencyViolation` for deleting what others still use.
//!
//! Pure: [`apply`] takes the document and a typed [`Action`] and gives the new document and its
//! [`Answer`], or the error; nothing is stored. The caller's account owns what it makes and sees
//! only its own. A resource of the topology file may be named (a subnet in a file's VPC) but not
//! changed: that is done in the file.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use vpcflow_net::model::{
    self, AclRule, EniType, GatewayType, PortSpec, ProtocolSpec, Route, RuleAction, SgRule,
    Topology,
};

use super::{Made, merged};
use crate::api::{ApiError, ErrorKind};
use crate::describe::is_id;
use crate::topology::{derived_id, eni_owner, gateway_owner, rule_id, rule_peer, vpc_owner};
use vpcflow_net::Network;

/// Tags as a request gives them (TagSpecification's, or CreateTags').
pub type Tags = BTreeMap<String, String>;

/// A security-group permission as requests give it (`IpPermissions.N`, or the flat
/// `IpProtocol`/`FromPort`/`ToPort`/`CidrIp` form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permission {
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `-1` or a number.
    pub protocol: String,
    /// First port (ICMP: the type; ignored).
    pub from: Option<i64>,
    /// Last port.
    pub to: Option<i64>,
    /// The peers, each with its description.
    pub peers: Vec<(Peer, Option<String>)>,
}

/// Whom a security-group rule lets in or out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// An address block.
    Cidr(String),
    /// A security group (`sg-…`).
    Group(String),
    /// A prefix list (`pl-…`).
    PrefixList(String),
}

/// A network ACL entry as CreateNetworkAclEntry and ReplaceNetworkAclEntry give it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclEntry {
    /// The ACL.
    pub acl: String,
    /// 1–32766.
    pub rule: i64,
    /// Protocol number or `-1`.
    pub protocol: String,
    /// `allow` or `deny`.
    pub action: String,
    /// Outbound.
    pub egress: bool,
    /// The block.
    pub cidr: Option<String>,
    /// The ports (TCP/UDP).
    pub ports: Option<(i64, i64)>,
}

/// RunInstances, as far as the network goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInstances {
    /// `ami-…`.
    pub image_id: Option<String>,
    /// Absent: `m1.small`, AWS's default.
    pub instance_type: Option<String>,
    /// Where; none: the default VPC, which vpcflow has not.
    pub subnet: Option<String>,
    /// Security groups (none: the VPC's default).
    pub groups: Vec<String>,
    /// The first instance's address.
    pub private_ip: Option<String>,
    /// At least this many, or none.
    pub min_count: i64,
    /// At most this many.
    pub max_count: i64,
    /// The key pair.
    pub key_name: Option<String>,
    /// Tags for the instances.
    pub tags: Tags,
    /// Tags for their network interfaces.
    pub eni_tags: Tags,
}

/// One action on the network. Each field is the action's parameter of that name (`vpc`:
/// `VpcId`, `tags`: its `TagSpecification`'s for the resource it makes).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// CreateVpc.
    CreateVpc { cidr: String, tags: Tags },
    /// DeleteVpc.
    DeleteVpc { vpc: String },
    /// ModifyVpcAttribute: one of the two.
    ModifyVpcAttribute {
        vpc: String,
        dns_support: Option<bool>,
        dns_hostnames: Option<bool>,
    },
    /// CreateSubnet.
    CreateSubnet {
        vpc: String,
        cidr: String,
        az: Option<String>,
        az_id: Option<String>,
        tags: Tags,
    },
    /// DeleteSubnet.
    DeleteSubnet { subnet: String },
    /// ModifySubnetAttribute's `MapPublicIpOnLaunch`.
    ModifySubnetAttribute {
        subnet: String,
        map_public_ip: Option<bool>,
    },
    /// CreateSecurityGroup.
    CreateSecurityGroup {
        vpc: Option<String>,
        name: String,
        description: String,
        tags: Tags,
    },
    /// DeleteSecurityGroup, by id or name.
    DeleteSecurityGroup {
        group: Option<String>,
        name: Option<String>,
    },
    /// AuthorizeSecurityGroupIngress/Egress.
    Authorize {
        group: String,
        egress: bool,
        permissions: Vec<Permission>,
    },
    /// RevokeSecurityGroupIngress/Egress: by permission or by rule id.
    Revoke {
        group: String,
        egress: bool,
        permissions: Vec<Permission>,
        rule_ids: Vec<String>,
    },
    /// CreateNetworkAcl.
    CreateNetworkAcl { vpc: String, tags: Tags },
    /// DeleteNetworkAcl.
    DeleteNetworkAcl { acl: String },
    /// CreateNetworkAclEntry (`replace` false) or ReplaceNetworkAclEntry.
    PutNetworkAclEntry { entry: AclEntry, replace: bool },
    /// DeleteNetworkAclEntry.
    DeleteNetworkAclEntry {
        acl: String,
        rule: i64,
        egress: bool,
    },
    /// ReplaceNetworkAclAssociation.
    ReplaceNetworkAclAssociation { association: String, acl: String },
    /// CreateInternetGateway.
    CreateInternetGateway { tags: Tags },
    /// AttachInternetGateway.
    AttachInternetGateway { igw: String, vpc: String },
    /// DetachInternetGateway.
    DetachInternetGateway { igw: String, vpc: String },
    /// DeleteInternetGateway.
    DeleteInternetGateway { igw: String },
    /// AllocateAddress.
    AllocateAddress { tags: Tags },
    /// ReleaseAddress.
    ReleaseAddress { allocation: String },
    /// CreateNatGateway (public).
    CreateNatGateway {
        subnet: String,
        allocation: Option<String>,
        tags: Tags,
    },
    /// DeleteNatGateway.
    DeleteNatGateway { nat: String },
    /// CreateRouteTable.
    CreateRouteTable { vpc: String, tags: Tags },
    /// DeleteRouteTable.
    DeleteRouteTable { rtb: String },
    /// CreateRoute (`replace` false) or ReplaceRoute.
    PutRoute {
        rtb: String,
        destination: String,
        target: String,
        replace: bool,
    },
    /// DeleteRoute.
    DeleteRoute { rtb: String, destination: String },
    /// AssociateRouteTable.
    AssociateRouteTable { rtb: String, subnet: String },
    /// DisassociateRouteTable.
    DisassociateRouteTable { association: String },
    /// CreateNetworkInterface.
    CreateNetworkInterface {
        subnet: String,
        private_ip: Option<String>,
        groups: Vec<String>,
        description: Option<String>,
        tags: Tags,
    },
    /// DeleteNetworkInterface.
    DeleteNetworkInterface { eni: String },
    /// RunInstances.
    RunInstances(Box<RunInstances>),
    /// TerminateInstances.
    TerminateInstances { ids: Vec<String> },
    /// CreateTags on network resources.
    CreateTags { ids: Vec<String>, tags: Tags },
    /// DeleteTags on network resources (a value: only where the tag has it).
    DeleteTags {
        ids: Vec<String>,
        tags: Vec<(String, Option<String>)>,
    },
}

/// What an action answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `<return>true</return>`.
    Done,
    /// A resource made, answered as Describe* shows it: its id.
    Made(String),
    /// CreateSecurityGroup: the group id.
    Group(String),
    /// Authorize: the rules made, by id.
    Rules(Vec<String>),
    /// ReplaceNetworkAclAssociation's new association, AssociateRouteTable's.
    Association(String),
    /// DeleteNatGateway: the gateway.
    Deleted(String),
    /// RunInstances: the reservation and its instances.
    Launched {
        /// `r-…`.
        reservation: String,
        /// The instances' ids.
        instances: Vec<String>,
    },
    /// TerminateInstances: each instance with its state before.
    Terminated(Vec<String>),
}

/// Who acts, and when.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The topology file's resources.
    pub base: &'a Topology,
    /// The caller's account.
    pub account: &'a str,
    /// Now (ms since the epoch): instances' launch time.
    pub now_ms: u64,
}

/// What an action gave: the new document, its answer, and the network the document makes.
#[derive(Debug)]
pub struct Applied {
    /// The document after the action.
    pub made: Made,
    /// The action's answer.
    pub answer: Answer,
    /// The file's topology and the new document, built: always one the service can run.
    pub network: Network,
}

/// `action` done on `made`: the new document, its answer and network, or AWS's error.
pub fn apply(made: &Made, ctx: Ctx<'_>, action: &Action) -> Result<Applied, ApiError> {
    let mut doc = made.clone();
    let answer = Doer { m: &mut doc, ctx }.run(action)?;
    let network = super::build(ctx.base, &doc)?;
    Ok(Applied {
        made: doc,
        answer,
        network,
    })
}

/// How AWS names a kind of resource in its errors.
struct Noun {
    prefix: &'static str,
    not_found: ErrorKind,
    malformed: ErrorKind,
    /// "The vpc ID" in "The vpc ID 'vpc-1' does not exist".
    what: &'static str,
}

const VPC: Noun = Noun {
    prefix: "vpc",
    not_found: ErrorKind::VpcNotFound,
    malformed: ErrorKind::VpcIdMalformed,
    what: "The vpc ID",
};
const SUBNET: Noun = Noun {
    prefix: "subnet",
    not_found: ErrorKind::SubnetNotFound,
    malformed: ErrorKind::SubnetIdMalformed,
    what: "The subnet ID",
};
const GROUP: Noun = Noun {
    prefix: "sg",
    not_found: ErrorKind::GroupNotFound,
    malformed: ErrorKind::GroupIdMalformed,
    what: "The security group",
};
const ACL: Noun = Noun {
    prefix: "acl",
    not_found: ErrorKind::NetworkAclNotFound,
    malformed: ErrorKind::NetworkAclIdMalformed,
    what: "The networkAcl ID",
};
const RTB: Noun = Noun {
    prefix: "rtb",
    not_found: ErrorKind::RouteTableNotFound,
    malformed: ErrorKind::RouteTableIdMalformed,
    what: "The routeTable ID",
};
const IGW: Noun = Noun {
    prefix: "igw",
    not_found: ErrorKind::InternetGatewayNotFound,
    malformed: ErrorKind::InternetGatewayIdMalformed,
    what: "The internetGateway ID",
};
const NAT: Noun = Noun {
    prefix: "nat",
    not_found: ErrorKind::NatGatewayNotFound,
    malformed: ErrorKind::NatGatewayMalformed,
    what: "The Nat Gateway",
};
const ENI: Noun = Noun {
    prefix: "eni",
    not_found: ErrorKind::NetworkInterfaceNotFound,
    malformed: ErrorKind::NetworkInterfaceIdMalformed,
    what: "The networkInterface ID",
};
const INSTANCE: Noun = Noun {
    prefix: "i",
    not_found: ErrorKind::InstanceNotFound,
    malformed: ErrorKind::InstanceIdMalformed,
    what: "The instance ID",
};
const ADDRESS: Noun = Noun {
    prefix: "eipalloc",
    not_found: ErrorKind::AllocationNotFound,
    malformed: ErrorKind::InvalidParameterValue,
    what: "The allocation ID",
};

fn not_found(noun: &Noun, id: &str) -> ApiError {
    if !is_id(id, noun.prefix) {
        return ApiError::new(
            noun.malformed,
            format!("Invalid id: \"{id}\" (expecting \"{}-...\")", noun.prefix),
        );
    }
    let message = if noun.prefix == "nat" {
        format!("{} {id} was not found", noun.what)
    } else {
        format!("{} '{id}' does not exist", noun.what)
    };
    ApiError::new(noun.not_found, message)
}

fn dependency(noun: &str, id: &str) -> ApiError {
    ApiError::new(
        ErrorKind::DependencyViolation,
        format!("The {noun} '{id}' has dependencies and cannot be deleted."),
    )
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::InvalidParameterValue, message)
}

/// The first block of public addresses vpcflow gives (Elastic IPs, addresses mapped on launch):
/// an EC2 range of us-east-1, as AWS's own would look in records.
const PUBLIC_POOL: Ipv4Addr = Ipv4Addr::new(3, 80, 0, 0);
const PUBLIC_POOL_LEN: u32 = 1 << 20;

/// The topology of the file and the API, and the caller; changes go to the API's document.
struct Doer<'a> {
    m: &'a mut Made,
    ctx: Ctx<'a>,
}

/// `name` and `tags` set from requested tags: `Name` is the label.
fn set_tags(name: &mut Option<String>, tags: &mut Tags, new: &Tags) {
    for (k, v) in new {
        if k == "Name" {
            *name = Some(v.clone());
        } else {
            tags.insert(k.clone(), v.clone());
        }
    }
}

fn parse_cidr(value: &str, param: &str) -> Result<IpNet, ApiError> {
    value.parse::<IpNet>().map_err(|_| {
        invalid(format!(
            "Value ({value}) for parameter {param} is invalid. This is not a valid CIDR block."
        ))
    })
}

fn protocol_spec(p: &str) -> Result<ProtocolSpec, ApiError> {
    let spec = match p.parse::<i64>() {
        Ok(n) => ProtocolSpec::Number(n),
        Err(_) => ProtocolSpec::Name(p.to_ascii_lowercase()),
    };
    vpcflow_net::network::parse_protocol(&spec).map_err(|_| {
        invalid(format!(
            "Invalid value '{p}' for IP protocol. Unknown protocol."
        ))
    })?;
    Ok(spec)
}

fn port_spec(protocol: &ProtocolSpec, from: Option<i64>, to: Option<i64>) -> Option<PortSpec> {
    let p = vpcflow_net::network::parse_protocol(protocol)
        .ok()
        .flatten();
    if !matches!(p, Some(6 | 17)) {
        return None;
    }
    match (from, to) {
        (Some(a), Some(b)) if a == b => Some(PortSpec::One(a)),
        (Some(a), Some(b)) => Some(PortSpec::Text(format!("{a}-{b}"))),
        _ => None,
    }
}

/// A rule's identity: what makes two rules the same for Authorize and Revoke.
fn same_rule(a: &SgRule, b: &SgRule) -> bool {
    let key = |r: &SgRule| {
        (
            vpcflow_net::network::parse_protocol(&r.protocol)
                .ok()
                .flatten(),
            vpcflow_net::network::parse_ports(r.ports.as_ref()).ok(),
            r.cidr,
            r.group.clone(),
            r.prefix_list.clone(),
        )
    };
    key(a) == key(b)
}

/// AWS's words for a rule in its duplicate error.
fn rule_words(r: &SgRule) -> String {
    let peer = rule_peer(r);
    let p = match vpcflow_net::network::parse_protocol(&r.protocol)
        .ok()
        .flatten()
    {
        Some(6) => "TCP".to_owned(),
        Some(17) => "UDP".to_owned(),
        Some(1) => "ICMP".to_owned(),
        Some(n) => n.to_string(),
        None => "ALL".to_owned(),
    };
    match vpcflow_net::network::parse_ports(r.ports.as_ref()) {
        Ok((a, b)) if r.ports.is_some() => {
            format!("peer: {peer}, {p}, from port: {a}, to port: {b}, ALLOW")
        }
        _ => format!("peer: {peer}, {p}, ALLOW"),
    }
}

impl Doer<'_> {
    fn world(&self) -> Topology {
        merged(self.ctx.base, &self.m.topology)
    }

    // Callers pass what a lookup gave; taking it by value reads better at each.
    #[allow(clippy::needless_pass_by_value)]
    fn mine(&self, owner: Option<String>) -> bool {
        owner.as_deref() == Some(self.ctx.account)
    }

    /// Refuses a change to a resource of the topology file.
    fn changeable(&self, id: &str) -> Result<(), ApiError> {
        if self.m.made(id) {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorKind::UnauthorizedOperation,
            format!(
                "You are not authorized to perform this operation: {id} is defined by the \
                 topology file; change it there"
            ),
        ))
    }

    /// A VPC of the caller's: its CIDR blocks.
    fn vpc(&self, id: &str) -> Result<model::Vpc, ApiError> {
        let w = self.world();
        w.vpcs
            .iter()
            .find(|v| v.id == id && v.account == self.ctx.account)
            .cloned()
            .ok_or_else(|| not_found(&VPC, id))
    }

    fn subnet(&self, id: &str) -> Result<model::Subnet, ApiError> {
        let w = self.world();
        w.subnets
            .iter()
            .find(|s| s.id == id && self.mine(vpc_owner(&w, &s.vpc)))
            .cloned()
            .ok_or_else(|| not_found(&SUBNET, id))
    }

    fn group(&self, id: &str) -> Result<model::SecurityGroup, ApiError> {
        let w = self.world();
        w.security_groups
            .iter()
            .find(|g| g.id == id && self.mine(vpc_owner(&w, &g.vpc)))
            .cloned()
            .ok_or_else(|| not_found(&GROUP, id))
    }

    fn acl(&self, id: &str) -> Result<model::NetworkAcl, ApiError> {
        let w = self.world();
        w.network_acls
            .iter()
            .find(|a| a.id == id && self.mine(vpc_owner(&w, &a.vpc)))
            .cloned()
            .ok_or_else(|| not_found(&ACL, id))
    }

    fn route_table(&self, id: &str) -> Result<model::RouteTable, ApiError> {
        let w = self.world();
        w.route_tables
            .iter()
            .find(|r| r.id == id && self.mine(vpc_owner(&w, &r.vpc)))
            .cloned()
            .ok_or_else(|| not_found(&RTB, id))
    }

    fn gateway(&self, noun: &Noun, id: &str) -> Result<model::Gateway, ApiError> {
        let w = self.world();
        w.gateways
            .iter()
            .find(|g| {
                g.id == id && g.id.starts_with(noun.prefix) && self.mine(gateway_owner(&w, g))
            })
            .cloned()
            .ok_or_else(|| not_found(noun, id))
    }

    fn eni(&self, id: &str) -> Result<model::Eni, ApiError> {
        let w = self.world();
        w.enis
            .iter()
            .find(|e| e.id == id && self.mine(eni_owner(&w, e)))
            .cloned()
            .ok_or_else(|| not_found(&ENI, id))
    }

    fn address(&self, id: &str) -> Result<model::Address, ApiError> {
        self.world()
            .addresses
            .iter()
            .find(|a| a.id == id && a.account == self.ctx.account)
            .cloned()
            .ok_or_else(|| not_found(&ADDRESS, id))
    }

    /// Each action to the method that does it.
    fn run(&mut self, action: &Action) -> Result<Answer, ApiError> {
        match action {
            Action::CreateVpc { cidr, tags } => self.create_vpc(cidr, tags),
            Action::DeleteVpc { vpc } => self.delete_vpc(vpc),
            Action::ModifyVpcAttribute {
                vpc,
                dns_support,
                dns_hostnames,
            } => self.modify_vpc(vpc, *dns_support, *dns_hostnames),
            Action::CreateSubnet {
                vpc,
                cidr,
                az,
                az_id,
                tags,
            } => self.create_subnet(vpc, cidr, az.as_deref(), az_id.as_deref(), tags),
            Action::DeleteSubnet { subnet } => self.delete_subnet(subnet),
            Action::ModifySubnetAttribute {
                subnet,
                map_public_ip,
            } => self.modify_subnet(subnet, *map_public_ip),
            Action::CreateSecurityGroup {
                vpc,
                name,
                description,
                tags,
            } => self.create_group(vpc.as_deref(), name, description, tags),
            Action::DeleteSecurityGroup { group, name } => {
                self.delete_group(group.as_deref(), name.as_deref())
            }
            Action::Authorize {
                group,
                egress,
                permissions,
            } => self.authorize(group, *egress, permissions),
            Action::Revoke {
                group,
                egress,
                permissions,
                rule_ids,
            } => self.revoke(group, *egress, permissions, rule_ids),
            Action::CreateNetworkAcl { vpc, tags } => self.create_acl(vpc, tags),
            Action::DeleteNetworkAcl { acl } => self.delete_acl(acl),
            Action::PutNetworkAclEntry { entry, replace } => self.put_acl_entry(entry, *replace),
            Action::DeleteNetworkAclEntry { acl, rule, egress } => {
                self.delete_acl_entry(acl, *rule, *egress)
            }
            Action::ReplaceNetworkAclAssociation { association, acl } => {
                self.replace_acl_association(association, acl)
            }
            other => self.run_gateways_and_hosts(other),
        }
    }

    /// Gateways, addresses, routes, network interfaces, instances and tags.
    fn run_gateways_and_hosts(&mut self, action: &Action) -> Result<Answer, ApiError> {
        match action {
            Action::CreateInternetGateway { tags } => self.create_igw(tags),
            Action::AttachInternetGateway { igw, vpc } => self.attach(igw, vpc),
            Action::DetachInternetGateway { igw, vpc } => self.detach(igw, vpc),
            Action::DeleteInternetGateway { igw } => self.delete_igw(igw),
            Action::AllocateAddress { tags } => self.allocate(tags),
            Action::ReleaseAddress { allocation } => self.release(allocation),
            Action::CreateNatGateway {
                subnet,
                allocation,
                tags,
            } => self.create_nat(subnet, allocation.as_deref(), tags),
            Action::DeleteNatGateway { nat } => self.delete_nat(nat),
            Action::CreateRouteTable { vpc, tags } => {
                self.vpc(vpc)?;
                let id = self.m.next_id("rtb");
                let rt = self.local_routes(vpc, &id, false, tags)?;
                self.m.topology.route_tables.push(rt);
                Ok(Answer::Made(id))
            }
            Action::DeleteRouteTable { rtb } => self.delete_route_table(rtb),
            Action::PutRoute {
                rtb,
                destination,
                target,
                replace,
            } => self.put_route(rtb, destination, target, *replace),
            Action::DeleteRoute { rtb, destination } => self.delete_route(rtb, destination),
            Action::AssociateRouteTable { rtb, subnet } => self.associate(rtb, subnet),
            Action::DisassociateRouteTable { association } => self.disassociate(association),
            Action::CreateNetworkInterface {
                subnet,
                private_ip,
                groups,
                description,
                tags,
            } => {
                let id = self.m.next_id("eni");
                let mut eni = self.new_eni(&id, subnet, private_ip.as_deref(), groups)?;
                eni.description.clone_from(description);
                set_tags(&mut eni.name, &mut eni.tags, tags);
                self.m.topology.enis.push(eni);
                Ok(Answer::Made(id))
            }
            Action::DeleteNetworkInterface { eni } => self.delete_eni(eni),
            Action::RunInstances(req) => self.run_instances(req),
            Action::TerminateInstances { ids } => self.terminate(ids),
            Action::CreateTags { ids, tags } => {
                self.check_taggable(ids)?;
                for id in ids {
                    self.tag(id, |name, own| set_tags(name, own, tags));
                }
                Ok(Answer::Done)
            }
            Action::DeleteTags { ids, tags } => {
                self.check_taggable(ids)?;
                for id in ids {
                    self.tag(id, |name, own| untag(name, own, tags));
                }
                Ok(Answer::Done)
            }
            _ => unreachable!("run answers the VPC, subnet, group and ACL actions"),
        }
    }

    fn modify_subnet(
        &mut self,
        subnet: &str,
        map_public_ip: Option<bool>,
    ) -> Result<Answer, ApiError> {
        self.subnet(subnet)?;
        self.changeable(subnet)?;
        let s = self.made_subnet(subnet);
        if let Some(v) = map_public_ip {
            s.map_public_ip_on_launch = v;
        }
        Ok(Answer::Done)
    }

    fn create_acl(&mut self, vpc: &str, tags: &Tags) -> Result<Answer, ApiError> {
        self.vpc(vpc)?;
        let id = self.m.next_id("acl");
        self.m.topology.network_acls.push(model::NetworkAcl {
            id: id.clone(),
            vpc: vpc.to_owned(),
            inbound: Vec::new(),
            outbound: Vec::new(),
            default: false,
            tags: tags.clone(),
        });
        Ok(Answer::Made(id))
    }

    fn delete_acl_entry(&mut self, acl: &str, rule: i64, egress: bool) -> Result<Answer, ApiError> {
        self.acl(acl)?;
        self.changeable(acl)?;
        let a = self.made_acl(acl);
        let rules = if egress {
            &mut a.outbound
        } else {
            &mut a.inbound
        };
        let before = rules.len();
        rules.retain(|r| r.rule != rule);
        if rules.len() == before {
            return Err(ApiError::new(
                ErrorKind::NetworkAclEntryNotFound,
                "The specified rule does not exist in this network acl.",
            ));
        }
        Ok(Answer::Done)
    }

    fn create_igw(&mut self, tags: &Tags) -> Result<Answer, ApiError> {
        let id = self.m.next_id("igw");
        let mut g = gateway(&id, GatewayType::Internet, None, self.ctx.account);
        set_tags(&mut g.name, &mut g.tags, tags);
        self.m.topology.gateways.push(g);
        Ok(Answer::Made(id))
    }

    fn delete_igw(&mut self, igw: &str) -> Result<Answer, ApiError> {
        let g = self.gateway(&IGW, igw)?;
        self.changeable(igw)?;
        if g.vpc.is_some() {
            return Err(dependency("internetGateway", igw));
        }
        self.m.topology.gateways.retain(|g| g.id != igw);
        // Routes to it are blackholes in AWS; here they carry nothing, and are gone.
        for r in &mut self.m.topology.route_tables {
            r.routes.retain(|x| x.target != igw);
        }
        Ok(Answer::Done)
    }

    fn allocate(&mut self, tags: &Tags) -> Result<Answer, ApiError> {
        let id = self.m.next_id("eipalloc");
        let ip = self.free_public_ip()?;
        let mut a = model::Address {
            id: id.clone(),
            public_ip: ip,
            account: self.ctx.account.to_owned(),
            eni: None,
            name: None,
            tags: Tags::new(),
        };
        set_tags(&mut a.name, &mut a.tags, tags);
        self.m.topology.addresses.push(a);
        Ok(Answer::Made(id))
    }

    fn release(&mut self, allocation: &str) -> Result<Answer, ApiError> {
        let a = self.address(allocation)?;
        self.changeable(allocation)?;
        if a.eni.is_some() {
            return Err(ApiError::new(
                ErrorKind::InvalidParameter,
                "Address is in use",
            ));
        }
        self.m.topology.addresses.retain(|a| a.id != allocation);
        Ok(Answer::Done)
    }

    fn delete_route_table(&mut self, rtb: &str) -> Result<Answer, ApiError> {
        let r = self.route_table(rtb)?;
        self.changeable(rtb)?;
        let used = self.world().subnets.iter().any(|s| s.route_table == rtb);
        if r.main || used {
            return Err(dependency("routeTable", rtb));
        }
        self.m.topology.route_tables.retain(|r| r.id != rtb);
        Ok(Answer::Done)
    }

    fn delete_route(&mut self, rtb: &str, destination: &str) -> Result<Answer, ApiError> {
        self.route_table(rtb)?;
        self.changeable(rtb)?;
        let dest = parse_cidr(destination, "destinationCidrBlock")?;
        let r = self.made_rtb(rtb);
        let before = r.routes.len();
        r.routes
            .retain(|x| x.destination != dest || x.target == "local");
        if r.routes.len() == before {
            return Err(ApiError::new(
                ErrorKind::RouteNotFound,
                format!("no route with destination-cidr-block {destination} in route table {rtb}"),
            ));
        }
        Ok(Answer::Done)
    }

    fn delete_eni(&mut self, eni: &str) -> Result<Answer, ApiError> {
        let e = self.eni(eni)?;
        self.changeable(eni)?;
        if e.instance_id.is_some() || e.kind != EniType::Instance {
            return Err(ApiError::new(
                ErrorKind::InvalidParameterValue,
                format!("Network interface '{eni}' is currently in use."),
            ));
        }
        self.m.topology.enis.retain(|e| e.id != eni);
        Ok(Answer::Done)
    }

    fn create_vpc(&mut self, cidr: &str, tags: &Tags) -> Result<Answer, ApiError> {
        let net = parse_cidr(cidr, "cidrBlock")?;
        if !matches!(net, IpNet::V4(_)) || !(16..=28).contains(&net.prefix_len()) {
            return Err(ApiError::new(
                ErrorKind::VpcRange,
                format!("The CIDR '{cidr}' is invalid."),
            ));
        }
        let account = self.ctx.account.to_owned();
        if !self.world().accounts.iter().any(|a| a.id == account) {
            self.m.topology.accounts.push(model::Account {
                id: account.clone(),
                name: None,
            });
        }
        let id = self.m.next_id("vpc");
        let mut vpc = model::Vpc {
            id: id.clone(),
            account,
            cidrs: vec![net.trunc()],
            name: None,
            enable_dns_support: None,
            enable_dns_hostnames: None,
            tags: Tags::new(),
        };
        set_tags(&mut vpc.name, &mut vpc.tags, tags);
        self.m.topology.vpcs.push(vpc);
        // What AWS makes with every VPC: its main route table, default network ACL (all allowed
        // both ways) and default security group (members talk; all out).
        let rtb = self.m.next_id("rtb");
        let main = self.local_routes(&id, &rtb, true, &Tags::new())?;
        self.m.topology.route_tables.push(main);
        let everything = |rule| AclRule {
            rule,
            protocol: ProtocolSpec::Number(-1),
            ports: None,
            cidr: "0.0.0.0/0".parse().expect("a block"),
            action: RuleAction::Allow,
        };
        let acl = self.m.next_id("acl");
        self.m.topology.network_acls.push(model::NetworkAcl {
            id: acl,
            vpc: id.clone(),
            inbound: vec![everything(100)],
            outbound: vec![everything(100)],
            default: true,
            tags: Tags::new(),
        });
        let sg = self.m.next_id("sg");
        self.m.topology.security_groups.push(model::SecurityGroup {
            id: sg.clone(),
            vpc: id.clone(),
            name: Some("default".to_owned()),
            description: Some("default VPC security group".to_owned()),
            inbound: vec![SgRule {
                protocol: ProtocolSpec::Number(-1),
                ports: None,
                cidr: None,
                prefix_list: None,
                group: Some(sg),
                description: None,
            }],
            outbound: vec![all_out()],
            tags: Tags::new(),
        });
        Ok(Answer::Made(id))
    }

    fn local_routes(
        &self,
        vpc: &str,
        id: &str,
        main: bool,
        tags: &Tags,
    ) -> Result<model::RouteTable, ApiError> {
        let v = self
            .world()
            .vpcs
            .into_iter()
            .find(|v| v.id == vpc)
            .ok_or_else(|| not_found(&VPC, vpc))?;
        Ok(model::RouteTable {
            id: id.to_owned(),
            vpc: vpc.to_owned(),
            routes: v
                .cidrs
                .iter()
                .map(|c| Route {
                    destination: *c,
                    target: "local".to_owned(),
                })
                .collect(),
            main,
            tags: tags.clone(),
        })
    }

    fn delete_vpc(&mut self, vpc: &str) -> Result<Answer, ApiError> {
        self.vpc(vpc)?;
        self.changeable(vpc)?;
        let w = self.world();
        let busy = w.subnets.iter().any(|s| s.vpc == vpc)
            || w.gateways.iter().any(|g| g.vpc.as_deref() == Some(vpc))
            || w.security_groups
                .iter()
                .any(|g| g.vpc == vpc && g.name.as_deref() != Some("default"))
            || w.network_acls.iter().any(|a| a.vpc == vpc && !a.default)
            || w.route_tables.iter().any(|r| r.vpc == vpc && !r.main);
        if busy {
            return Err(dependency("vpc", vpc));
        }
        let t = &mut self.m.topology;
        t.vpcs.retain(|v| v.id != vpc);
        t.security_groups.retain(|g| g.vpc != vpc);
        t.network_acls.retain(|a| a.vpc != vpc);
        t.route_tables.retain(|r| r.vpc != vpc);
        Ok(Answer::Done)
    }

    fn modify_vpc(
        &mut self,
        vpc: &str,
        dns_support: Option<bool>,
        dns_hostnames: Option<bool>,
    ) -> Result<Answer, ApiError> {
        self.vpc(vpc)?;
        match (dns_support, dns_hostnames) {
            (Some(_), Some(_)) => {
                return Err(ApiError::new(
                    ErrorKind::InvalidParameterCombination,
                    "Fields for multiple attribute types specified: enableDnsSupport, enableDnsHostnames",
                ));
            }
            (None, None) => {
                return Err(ApiError::new(
                    ErrorKind::MissingParameter,
                    "The request must contain the parameter EnableDnsSupport or EnableDnsHostnames",
                ));
            }
            _ => {}
        }
        self.changeable(vpc)?;
        let v = self
            .m
            .topology
            .vpcs
            .iter_mut()
            .find(|v| v.id == vpc)
            .expect("a made VPC");
        if dns_support.is_some() {
            v.enable_dns_support = dns_support;
        }
        if dns_hostnames.is_some() {
            v.enable_dns_hostnames = dns_hostnames;
        }
        Ok(Answer::Done)
    }

    fn create_subnet(
        &mut self,
        vpc: &str,
        cidr: &str,
        az: Option<&str>,
        az_id: Option<&str>,
        tags: &Tags,
    ) -> Result<Answer, ApiError> {
        let v = self.vpc(vpc)?;
        let net = parse_cidr(cidr, "cidrBlock")?;
        let inside = v.cidrs.iter().any(|c| c.contains(&net));
        if !matches!(net, IpNet::V4(_)) || !(16..=28).contains(&net.prefix_len()) || !inside {
            return Err(ApiError::new(
                ErrorKind::SubnetRange,
                format!("The CIDR '{cidr}' is invalid."),
            ));
        }
        let w = self.world();
        if w.subnets
            .iter()
            .any(|s| s.vpc == vpc && s.cidrs.iter().any(|c| c.contains(&net) || net.contains(c)))
        {
            return Err(ApiError::new(
                ErrorKind::SubnetConflict,
                format!("The CIDR '{cidr}' conflicts with another subnet"),
            ));
        }
        let azs = &self.ctx.base.region.azs;
        let zone = match (az, az_id) {
            (Some(name), _) => azs.iter().find(|a| a.name == name),
            (None, Some(id)) => azs.iter().find(|a| a.id == id),
            (None, None) => azs.first(),
        };
        let Some(zone) = zone else {
            let names: Vec<&str> = azs.iter().map(|a| a.name.as_str()).collect();
            return Err(invalid(format!(
                "Value ({}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {}.",
                az.or(az_id).unwrap_or_default(),
                names.join(", ")
            )));
        };
        let main = w
            .route_tables
            .iter()
            .find(|r| r.vpc == vpc && r.main)
            .map(|r| r.id.clone());
        let acl = w
            .network_acls
            .iter()
            .find(|a| a.vpc == vpc && a.default)
            .map(|a| a.id.clone());
        let (Some(main), Some(acl)) = (main, acl) else {
            return Err(invalid(format!(
                "The VPC '{vpc}' of the topology file has no main route table or default network \
                 ACL (main = true, default = true) for a subnet made through the API"
            )));
        };
        let id = self.m.next_id("subnet");
        let mut s = model::Subnet {
            id: id.clone(),
            vpc: vpc.to_owned(),
            az: zone.name.clone(),
            cidrs: vec![net.trunc()],
            route_table: main,
            network_acl: acl,
            map_public_ip_on_launch: false,
            name: None,
            tags: Tags::new(),
        };
        set_tags(&mut s.name, &mut s.tags, tags);
        self.m.topology.subnets.push(s);
        Ok(Answer::Made(id))
    }

    fn delete_subnet(&mut self, subnet: &str) -> Result<Answer, ApiError> {
        self.subnet(subnet)?;
        self.changeable(subnet)?;
        if self.world().enis.iter().any(|e| e.subnet == subnet) {
            return Err(dependency("subnet", subnet));
        }
        self.m.topology.subnets.retain(|s| s.id != subnet);
        Ok(Answer::Done)
    }

    fn made_subnet(&mut self, id: &str) -> &mut model::Subnet {
        self.m
            .topology
            .subnets
            .iter_mut()
            .find(|s| s.id == id)
            .expect("checked changeable")
    }

    fn made_acl(&mut self, id: &str) -> &mut model::NetworkAcl {
        self.m
            .topology
            .network_acls
            .iter_mut()
            .find(|s| s.id == id)
            .expect("checked changeable")
    }

    fn made_rtb(&mut self, id: &str) -> &mut model::RouteTable {
        self.m
            .topology
            .route_tables
            .iter_mut()
            .find(|s| s.id == id)
            .expect("checked changeable")
    }

    fn made_group(&mut self, id: &str) -> &mut model::SecurityGroup {
        self.m
            .topology
            .security_groups
            .iter_mut()
            .find(|s| s.id == id)
            .expect("checked changeable")
    }

    fn create_group(
        &mut self,
        vpc: Option<&str>,
        name: &str,
        description: &str,
        tags: &Tags,
    ) -> Result<Answer, ApiError> {
        let Some(vpc) = vpc else {
            return Err(ApiError::new(
                ErrorKind::VpcIdNotSpecified,
                "No default VPC for this user",
            ));
        };
        self.vpc(vpc)?;
        if name.is_empty() || description.is_empty() {
            let missing = if name.is_empty() {
                "GroupName"
            } else {
                "GroupDescription"
            };
            return Err(ApiError::new(
                ErrorKind::MissingParameter,
                format!("The request must contain the parameter {missing}"),
            ));
        }
        if name.starts_with("sg-") {
            return Err(invalid(format!(
                "Value ({name}) for parameter GroupName is invalid. Group names may not be in the format sg-*."
            )));
        }
        if self
            .world()
            .security_groups
            .iter()
            .any(|g| g.vpc == vpc && g.name.as_deref() == Some(name))
        {
            return Err(ApiError::new(
                ErrorKind::GroupDuplicate,
                format!("The security group '{name}' already exists for VPC '{vpc}'"),
            ));
        }
        let id = self.m.next_id("sg");
        self.m.topology.security_groups.push(model::SecurityGroup {
            id: id.clone(),
            vpc: vpc.to_owned(),
            name: Some(name.to_owned()),
            description: Some(description.to_owned()),
            inbound: Vec::new(),
            outbound: vec![all_out()],
            tags: tags.clone(),
        });
        Ok(Answer::Group(id))
    }

    fn delete_group(&mut self, id: Option<&str>, name: Option<&str>) -> Result<Answer, ApiError> {
        let g = match (id, name) {
            (Some(id), _) => self.group(id)?,
            (None, Some(name)) => {
                return Err(ApiError::new(
                    ErrorKind::VpcIdNotSpecified,
                    format!(
                        "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC: {name}"
                    ),
                ));
            }
            (None, None) => {
                return Err(ApiError::new(
                    ErrorKind::MissingParameter,
                    "The request must contain the parameter GroupId",
                ));
            }
        };
        self.changeable(&g.id)?;
        if g.name.as_deref() == Some("default") {
            return Err(ApiError::new(
                ErrorKind::CannotDelete,
                format!(
                    "the specified group: \"{}\" name: \"default\" cannot be deleted by a user",
                    g.id
                ),
            ));
        }
        let w = self.world();
        let referenced = w
            .security_groups
            .iter()
            .filter(|o| o.id != g.id)
            .flat_map(|o| o.inbound.iter().chain(&o.outbound))
            .any(|r| r.group.as_deref() == Some(g.id.as_str()));
        if w.enis.iter().any(|e| e.security_groups.contains(&g.id)) || referenced {
            return Err(ApiError::new(
                ErrorKind::DependencyViolation,
                format!("resource {} has a dependent object", g.id),
            ));
        }
        self.m.topology.security_groups.retain(|x| x.id != g.id);
        Ok(Answer::Done)
    }

    /// A permission's rules, one per peer.
    fn rules(&self, p: &Permission) -> Result<Vec<SgRule>, ApiError> {
        let protocol = protocol_spec(&p.protocol)?;
        let ports = port_spec(&protocol, p.from, p.to);
        if let Some(ports) = &ports {
            vpcflow_net::network::parse_ports(Some(ports)).map_err(|_| {
                invalid(format!(
                    "Invalid value for portRange. Must specify both from and to ports with TCP/UDP. ({}-{})",
                    p.from.unwrap_or(-1),
                    p.to.unwrap_or(-1)
                ))
            })?;
        } else if matches!(
            vpcflow_net::network::parse_protocol(&protocol),
            Ok(Some(6 | 17))
        ) {
            return Err(invalid(
                "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.",
            ));
        }
        let mut out = Vec::new();
        for (peer, description) in &p.peers {
            let mut r = SgRule {
                protocol: protocol.clone(),
                ports: ports.clone(),
                cidr: None,
                prefix_list: None,
                group: None,
                description: description.clone(),
            };
            match peer {
                Peer::Cidr(c) => r.cidr = Some(parse_cidr(c, "cidrIp")?.trunc()),
                Peer::Group(g) => {
                    self.group(g)?;
                    r.group = Some(g.clone());
                }
                Peer::PrefixList(pl) => r.prefix_list = Some(pl.clone()),
            }
            out.push(r);
        }
        Ok(out)
    }

    fn authorize(
        &mut self,
        group: &str,
        egress: bool,
        permissions: &[Permission],
    ) -> Result<Answer, ApiError> {
        let g = self.group(group)?;
        self.changeable(group)?;
        let mut new = Vec::new();
        for p in permissions {
            new.extend(self.rules(p)?);
        }
        let existing = if egress { &g.outbound } else { &g.inbound };
        for (i, r) in new.iter().enumerate() {
            if existing.iter().chain(&new[..i]).any(|e| same_rule(e, r)) {
                return Err(ApiError::new(
                    ErrorKind::PermissionDuplicate,
                    format!("the specified rule \"{}\" already exists", rule_words(r)),
                ));
            }
        }
        let ids = new.iter().map(|r| rule_id(group, egress, r)).collect();
        let g = self.made_group(group);
        let rules = if egress {
            &mut g.outbound
        } else {
            &mut g.inbound
        };
        rules.extend(new);
        Ok(Answer::Rules(ids))
    }

    fn revoke(
        &mut self,
        group: &str,
        egress: bool,
        permissions: &[Permission],
        rule_ids: &[String],
    ) -> Result<Answer, ApiError> {
        let g = self.group(group)?;
        self.changeable(group)?;
        let mut gone = Vec::new();
        for p in permissions {
            gone.extend(self.rules(p)?);
        }
        let existing = if egress { &g.outbound } else { &g.inbound };
        for id in rule_ids {
            if !is_id(id, "sgr") {
                return Err(ApiError::new(
                    ErrorKind::SecurityGroupRuleIdMalformed,
                    format!("Invalid id: \"{id}\" (expecting \"sgr-...\")"),
                ));
            }
            match existing.iter().find(|r| rule_id(group, egress, r) == *id) {
                Some(r) => gone.push(r.clone()),
                None => {
                    return Err(ApiError::new(
                        ErrorKind::SecurityGroupRuleNotFound,
                        format!("The security group rule ID '{id}' does not exist"),
                    ));
                }
            }
        }
        if gone
            .iter()
            .any(|r| !existing.iter().any(|e| same_rule(e, r)))
        {
            return Err(ApiError::new(
                ErrorKind::PermissionNotFound,
                "The specified rule does not exist in this security group.",
            ));
        }
        let g = self.made_group(group);
        let rules = if egress {
            &mut g.outbound
        } else {
            &mut g.inbound
        };
        rules.retain(|e| !gone.iter().any(|r| same_rule(e, r)));
        Ok(Answer::Done)
    }

    fn delete_acl(&mut self, acl: &str) -> Result<Answer, ApiError> {
        let a = self.acl(acl)?;
        self.changeable(acl)?;
        if a.default {
            return Err(invalid(format!("cannot delete default network ACL {acl}")));
        }
        if self.world().subnets.iter().any(|s| s.network_acl == acl) {
            return Err(dependency("networkAcl", acl));
        }
        self.m.topology.network_acls.retain(|a| a.id != acl);
        Ok(Answer::Done)
    }

    fn put_acl_entry(&mut self, e: &AclEntry, replace: bool) -> Result<Answer, ApiError> {
        self.acl(&e.acl)?;
        self.changeable(&e.acl)?;
        if !(1..=32766).contains(&e.rule) {
            return Err(invalid(format!(
                "Value ({}) for parameter ruleNumber is invalid. Rule number must be between 1 and 32766.",
                e.rule
            )));
        }
        let protocol = protocol_spec(&e.protocol)?;
        let action = match e.action.to_ascii_lowercase().as_str() {
            "allow" => RuleAction::Allow,
            "deny" => RuleAction::Deny,
            other => {
                return Err(invalid(format!(
                    "Value ({other}) for parameter ruleAction is invalid. Valid values are: allow, deny"
                )));
            }
        };
        let Some(cidr) = &e.cidr else {
            return Err(ApiError::new(
                ErrorKind::MissingParameter,
                "The request must contain the parameter cidrBlock or ipv6CidrBlock",
            ));
        };
        let ports = match e.ports {
            Some((a, b)) => port_spec(&protocol, Some(a), Some(b)),
            None => None,
        };
        let rule = AclRule {
            rule: e.rule,
            protocol,
            ports,
            cidr: parse_cidr(cidr, "cidrBlock")?.trunc(),
            action,
        };
        let (egress, number) = (e.egress, e.rule);
        let a = self.made_acl(&e.acl);
        let rules = if egress {
            &mut a.outbound
        } else {
            &mut a.inbound
        };
        match (rules.iter().position(|r| r.rule == number), replace) {
            (Some(_), false) => Err(ApiError::new(
                ErrorKind::NetworkAclEntryAlreadyExists,
                format!("The network acl entry identified by {number} already exists."),
            )),
            (None, true) => Err(ApiError::new(
                ErrorKind::NetworkAclEntryNotFound,
                "The specified rule does not exist in this network acl.",
            )),
            (Some(i), true) => {
                rules[i] = rule;
                Ok(Answer::Done)
            }
            (None, false) => {
                rules.push(rule);
                rules.sort_by_key(|r| r.rule);
                Ok(Answer::Done)
            }
        }
    }

    fn replace_acl_association(
        &mut self,
        association: &str,
        acl: &str,
    ) -> Result<Answer, ApiError> {
        let a = self.acl(acl)?;
        let w = self.world();
        let Some(subnet) = w
            .subnets
            .iter()
            .find(|s| derived_id("aclassoc", &[&s.network_acl, &s.id]) == association)
            .filter(|s| self.mine(vpc_owner(&w, &s.vpc)))
            .cloned()
        else {
            return Err(ApiError::new(
                ErrorKind::AssociationNotFound,
                format!("The association ID '{association}' does not exist"),
            ));
        };
        if subnet.vpc != a.vpc {
            return Err(invalid(format!(
                "Network ACL {acl} and subnet {} belong to different networks",
                subnet.id
            )));
        }
        self.changeable(&subnet.id)?;
        self.made_subnet(&subnet.id).network_acl = acl.to_owned();
        Ok(Answer::Association(derived_id(
            "aclassoc",
            &[acl, &subnet.id],
        )))
    }

    fn attach(&mut self, igw: &str, vpc: &str) -> Result<Answer, ApiError> {
        let g = self.gateway(&IGW, igw)?;
        self.vpc(vpc)?;
        self.changeable(igw)?;
        if let Some(v) = &g.vpc {
            return Err(ApiError::new(
                ErrorKind::AlreadyAssociated,
                format!("resource {igw} is already attached to network {v}"),
            ));
        }
        let w = self.world();
        if let Some(other) = w
            .gateways
            .iter()
            .find(|o| o.kind == GatewayType::Internet && o.vpc.as_deref() == Some(vpc))
        {
            return Err(ApiError::new(
                ErrorKind::AlreadyAssociated,
                format!(
                    "Network {vpc} already has an internet gateway attached ({})",
                    other.id
                ),
            ));
        }
        let g = self.made_gateway(igw);
        g.vpc = Some(vpc.to_owned());
        Ok(Answer::Done)
    }

    fn detach(&mut self, igw: &str, vpc: &str) -> Result<Answer, ApiError> {
        let g = self.gateway(&IGW, igw)?;
        self.vpc(vpc)?;
        self.changeable(igw)?;
        if g.vpc.as_deref() != Some(vpc) {
            return Err(ApiError::new(
                ErrorKind::GatewayNotAttached,
                format!("resource {igw} is not attached to network {vpc}"),
            ));
        }
        let w = self.world();
        let mapped = w.enis.iter().any(|e| {
            e.public_ip.is_some() && w.subnets.iter().any(|s| s.id == e.subnet && s.vpc == vpc)
        });
        if mapped {
            return Err(ApiError::new(
                ErrorKind::DependencyViolation,
                format!(
                    "Network {vpc} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."
                ),
            ));
        }
        self.made_gateway(igw).vpc = None;
        Ok(Answer::Done)
    }

    fn made_gateway(&mut self, id: &str) -> &mut model::Gateway {
        self.m
            .topology
            .gateways
            .iter_mut()
            .find(|g| g.id == id)
            .expect("checked changeable")
    }

    fn free_public_ip(&self) -> Result<IpAddr, ApiError> {
        let w = self.world();
        let used: std::collections::HashSet<IpAddr> = w
            .enis
            .iter()
            .filter_map(|e| e.public_ip)
            .chain(w.addresses.iter().map(|a| a.public_ip))
            .collect();
        (1..PUBLIC_POOL_LEN)
            .map(|i| IpAddr::V4(Ipv4Addr::from(u32::from(PUBLIC_POOL) + i)))
            .find(|ip| !used.contains(ip))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::InvalidParameter,
                    "AddressLimitExceeded: The maximum number of addresses has been reached.",
                )
            })
    }

    /// The next address of a subnet no ENI has (AWS keeps the first four and the last).
    fn free_private_ip(&self, subnet: &model::Subnet) -> Result<IpAddr, ApiError> {
        let w = self.world();
        let Some(IpNet::V4(net)) = subnet.cidrs.iter().find(|c| c.addr().is_ipv4()) else {
            return Err(ApiError::new(
                ErrorKind::InvalidSubnet,
                format!("The subnet '{}' has no IPv4 block", subnet.id),
            ));
        };
        let used: Vec<IpAddr> = w.enis.iter().flat_map(|e| e.private_ips.clone()).collect();
        hosts(*net)
            .map(IpAddr::V4)
            .find(|ip| !used.contains(ip))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::InvalidSubnet,
                    format!(
                        "InsufficientFreeAddressesInSubnet: There are not enough free addresses in subnet '{}' to satisfy the requested number of instances.",
                        subnet.id
                    ),
                )
            })
    }

    fn new_eni(
        &self,
        id: &str,
        subnet: &str,
        private_ip: Option<&str>,
        groups: &[String],
    ) -> Result<model::Eni, ApiError> {
        let s = self.subnet(subnet)?;
        let ip = match private_ip {
            None => self.free_private_ip(&s)?,
            Some(text) => {
                let ip: IpAddr = text.parse().map_err(|_| {
                    invalid(format!(
                        "Value ({text}) for parameter privateIpAddress is invalid. Invalid IPv4 address"
                    ))
                })?;
                let usable = s.cidrs.iter().any(|c| match (c, ip) {
                    (IpNet::V4(n), IpAddr::V4(a)) => hosts(*n).any(|h| h == a),
                    _ => false,
                });
                if !usable {
                    return Err(invalid(
                        "Address does not fall within the subnet's address range",
                    ));
                }
                if self
                    .world()
                    .enis
                    .iter()
                    .any(|e| e.private_ips.contains(&ip))
                {
                    return Err(ApiError::new(
                        ErrorKind::AddressInUse,
                        format!("Address {ip} is in use."),
                    ));
                }
                ip
            }
        };
        let mut sgs = Vec::new();
        for g in groups {
            let group = self.group(g)?;
            if group.vpc != s.vpc {
                return Err(invalid(format!(
                    "Security group {g} and subnet {subnet} belong to different networks."
                )));
            }
            sgs.push(g.clone());
        }
        if sgs.is_empty() {
            let w = self.world();
            sgs.extend(
                w.security_groups
                    .iter()
                    .find(|g| g.vpc == s.vpc && g.name.as_deref() == Some("default"))
                    .map(|g| g.id.clone()),
            );
        }
        Ok(model::Eni {
            id: id.to_owned(),
            subnet: subnet.to_owned(),
            kind: EniType::Instance,
            owner: None,
            instance_id: None,
            private_ips: vec![ip],
            public_ip: None,
            security_groups: sgs,
            host_interface: None,
            name: None,
            description: None,
            tags: Tags::new(),
        })
    }

    fn create_nat(
        &mut self,
        subnet: &str,
        allocation: Option<&str>,
        tags: &Tags,
    ) -> Result<Answer, ApiError> {
        let s = self.subnet(subnet)?;
        let Some(allocation) = allocation else {
            return Err(ApiError::new(
                ErrorKind::MissingParameter,
                "The request must contain the parameter AllocationId",
            ));
        };
        let address = self.address(allocation)?;
        if address.eni.is_some() {
            return Err(ApiError::new(
                ErrorKind::AddressInUse,
                format!("Elastic IP address [{allocation}] is already associated"),
            ));
        }
        let nat = self.m.next_id("nat");
        let eni_id = self.m.next_id("eni");
        let mut eni = self.new_eni(&eni_id, subnet, None, &[])?;
        eni.kind = EniType::NatGateway;
        eni.security_groups.clear();
        eni.public_ip = Some(address.public_ip);
        eni.owner = Some(self.ctx.account.to_owned());
        eni.description = Some(format!("Interface for NAT Gateway {nat}"));
        self.m.topology.enis.push(eni);
        let mut g = gateway(&nat, GatewayType::Nat, Some(&s.vpc), self.ctx.account);
        g.eni = Some(eni_id.clone());
        g.allocation = Some(allocation.to_owned());
        set_tags(&mut g.name, &mut g.tags, tags);
        self.m.topology.gateways.push(g);
        if let Some(a) = self
            .m
            .topology
            .addresses
            .iter_mut()
            .find(|a| a.id == allocation)
        {
            a.eni = Some(eni_id);
        } else {
            return Err(self
                .changeable(allocation)
                .err()
                .unwrap_or_else(|| not_found(&ADDRESS, allocation)));
        }
        Ok(Answer::Made(nat))
    }

    fn delete_nat(&mut self, nat: &str) -> Result<Answer, ApiError> {
        let g = self.gateway(&NAT, nat)?;
        self.changeable(nat)?;
        let t = &mut self.m.topology;
        if let Some(eni) = &g.eni {
            t.enis.retain(|e| &e.id != eni);
            for a in &mut t.addresses {
                if a.eni.as_ref() == Some(eni) {
                    a.eni = None;
                }
            }
        }
        t.gateways.retain(|x| x.id != nat);
        // Routes to it are blackholes in AWS; here they carry nothing, and are gone.
        for r in &mut t.route_tables {
            r.routes.retain(|x| x.target != nat);
        }
        Ok(Answer::Deleted(nat.to_owned()))
    }

    fn put_route(
        &mut self,
        rtb: &str,
        destination: &str,
        target: &str,
        replace: bool,
    ) -> Result<Answer, ApiError> {
        let r = self.route_table(rtb)?;
        self.changeable(rtb)?;
        let dest = parse_cidr(destination, "destinationCidrBlock")?.trunc();
        if target.is_empty() {
            return Err(ApiError::new(
                ErrorKind::MissingParameter,
                "The request must contain exactly one of gatewayId, natGatewayId, networkInterfaceId, vpcPeeringConnectionId, transitGatewayId or instanceId",
            ));
        }
        let w = self.world();
        let Some(g) = w.gateways.iter().find(|g| g.id == target) else {
            return Err(ApiError::new(
                ErrorKind::GatewayIdNotFound,
                format!("The gateway ID '{target}' does not exist"),
            ));
        };
        if g.vpc.as_deref() != Some(r.vpc.as_str()) {
            return Err(invalid(format!(
                "route table {rtb} and network gateway {target} belong to different networks"
            )));
        }
        let route = Route {
            destination: dest,
            target: target.to_owned(),
        };
        let table = self.made_rtb(rtb);
        match (
            table.routes.iter().position(|x| x.destination == dest),
            replace,
        ) {
            (Some(_), false) => Err(ApiError::new(
                ErrorKind::RouteAlreadyExists,
                format!("The route identified by {destination} already exists."),
            )),
            (None, true) => Err(ApiError::new(
                ErrorKind::RouteNotFound,
                format!("no route with destination-cidr-block {destination} in route table {rtb}"),
            )),
            (Some(i), true) => {
                table.routes[i] = route;
                Ok(Answer::Done)
            }
            (None, false) => {
                table.routes.push(route);
                Ok(Answer::Done)
            }
        }
    }

    fn associate(&mut self, rtb: &str, subnet: &str) -> Result<Answer, ApiError> {
        let r = self.route_table(rtb)?;
        let s = self.subnet(subnet)?;
        self.changeable(subnet)?;
        if r.vpc != s.vpc {
            return Err(invalid(format!(
                "Route table {rtb} and subnet {subnet} belong to different networks"
            )));
        }
        let w = self.world();
        let current_is_main = w
            .route_tables
            .iter()
            .any(|t| t.id == s.route_table && t.main);
        if !current_is_main {
            return Err(ApiError::new(
                ErrorKind::AlreadyAssociated,
                format!(
                    "the specified association for route table {rtb} conflicts with an existing association"
                ),
            ));
        }
        self.made_subnet(subnet).route_table = rtb.to_owned();
        Ok(Answer::Association(derived_id("rtbassoc", &[rtb, subnet])))
    }

    fn disassociate(&mut self, association: &str) -> Result<Answer, ApiError> {
        let w = self.world();
        let found = w.subnets.iter().find(|s| {
            derived_id("rtbassoc", &[&s.route_table, &s.id]) == association
                && self.mine(vpc_owner(&w, &s.vpc))
                && w.route_tables
                    .iter()
                    .any(|t| t.id == s.route_table && !t.main)
        });
        let Some(s) = found.cloned() else {
            return Err(ApiError::new(
                ErrorKind::AssociationNotFound,
                format!("The association ID '{association}' does not exist"),
            ));
        };
        self.changeable(&s.id)?;
        let main = w
            .route_tables
            .iter()
            .find(|t| t.vpc == s.vpc && t.main)
            .map(|t| t.id.clone())
            .expect("every VPC made has a main route table");
        self.made_subnet(&s.id).route_table = main;
        Ok(Answer::Done)
    }

    fn run_instances(&mut self, req: &RunInstances) -> Result<Answer, ApiError> {
        let Some(image) = &req.image_id else {
            return Err(ApiError::new(
                ErrorKind::MissingParameter,
                "The request must contain the parameter ImageId",
            ));
        };
        if !is_id(image, "ami") {
            return Err(ApiError::new(
                ErrorKind::AmiIdMalformed,
                format!("Invalid id: \"{image}\" (expecting \"ami-...\")"),
            ));
        }
        if req.min_count < 1 || req.max_count < req.min_count {
            return Err(invalid(format!(
                "Value ({}) for parameter minCount is invalid. Expected a value greater than 0 and at most MaxCount ({}).",
                req.min_count, req.max_count
            )));
        }
        let Some(subnet) = &req.subnet else {
            return Err(ApiError::new(
                ErrorKind::VpcIdNotSpecified,
                "No default VPC for this user",
            ));
        };
        let s = self.subnet(subnet)?;
        let launched = vpcflow_store::time::aws_xml_time(self.ctx.now_ms);
        let reservation = self.m.next_id("r");
        let mut instances = Vec::new();
        for n in 0..req.max_count {
            let ip = if n == 0 {
                req.private_ip.as_deref()
            } else {
                None
            };
            let eni_id = self.m.next_id("eni");
            let eni = match self.new_eni(&eni_id, subnet, ip, &req.groups) {
                Ok(e) => e,
                Err(e) if n >= req.min_count && e.kind == ErrorKind::InvalidSubnet => break,
                Err(e) => return Err(e),
            };
            let id = self.m.next_id("i");
            let mut eni = eni;
            eni.instance_id = Some(id.clone());
            eni.description = Some(String::new());
            if s.map_public_ip_on_launch {
                eni.public_ip = Some(self.free_public_ip()?);
            }
            set_tags(&mut eni.name, &mut eni.tags, &req.eni_tags);
            self.m.topology.enis.push(eni);
            let mut i = model::Instance {
                id: id.clone(),
                eni: eni_id,
                image_id: image.clone(),
                instance_type: req
                    .instance_type
                    .clone()
                    .unwrap_or_else(|| "m1.small".to_owned()),
                launched: launched.clone(),
                key_name: req.key_name.clone(),
                name: None,
                tags: Tags::new(),
            };
            set_tags(&mut i.name, &mut i.tags, &req.tags);
            self.m.topology.instances.push(i);
            instances.push(id);
        }
        Ok(Answer::Launched {
            reservation,
            instances,
        })
    }

    fn terminate(&mut self, ids: &[String]) -> Result<Answer, ApiError> {
        if ids.is_empty() {
            return Err(ApiError::new(
                ErrorKind::MissingParameter,
                "The request must contain the parameter InstanceId",
            ));
        }
        let w = self.world();
        for id in ids {
            let owned = w.instances.iter().any(|i| {
                i.id == *id
                    && w.enis
                        .iter()
                        .any(|e| e.id == i.eni && self.mine(eni_owner(&w, e)))
            });
            if !owned {
                return Err(not_found(&INSTANCE, id));
            }
            self.changeable(id)?;
        }
        let t = &mut self.m.topology;
        for id in ids {
            if let Some(i) = t.instances.iter().position(|i| i.id == *id) {
                let gone = t.instances.remove(i);
                t.enis.retain(|e| e.id != gone.eni);
            }
        }
        Ok(Answer::Terminated(ids.to_vec()))
    }

    fn check_taggable(&self, ids: &[String]) -> Result<(), ApiError> {
        for id in ids {
            if !self.m.made(id) {
                let w = self.world();
                let exists = w.vpcs.iter().any(|r| r.id == *id)
                    || w.subnets.iter().any(|r| r.id == *id)
                    || w.security_groups.iter().any(|r| r.id == *id)
                    || w.enis.iter().any(|r| r.id == *id);
                if exists {
                    self.changeable(id)?;
                }
                return Err(ApiError::new(
                    ErrorKind::InvalidId,
                    format!("The ID '{id}' is not valid"),
                ));
            }
        }
        Ok(())
    }

    /// Changes the tags of the resource `id` (made by the API).
    fn tag(&mut self, id: &str, change: impl Fn(&mut Option<String>, &mut Tags)) {
        let t = &mut self.m.topology;
        let mut none = None;
        if let Some(r) = t.vpcs.iter_mut().find(|r| r.id == id) {
            change(&mut r.name, &mut r.tags);
        } else if let Some(r) = t.subnets.iter_mut().find(|r| r.id == id) {
            change(&mut r.name, &mut r.tags);
        } else if let Some(r) = t.security_groups.iter_mut().find(|r| r.id == id) {
            // A group's name is its GroupName, not a tag.
            change(&mut none, &mut r.tags);
            if let Some(n) = none.take() {
                r.tags.insert("Name".to_owned(), n);
            }
        } else if let Some(r) = t.network_acls.iter_mut().find(|r| r.id == id) {
            change(&mut none, &mut r.tags);
            if let Some(n) = none.take() {
                r.tags.insert("Name".to_owned(), n);
            }
        } else if let Some(r) = t.route_tables.iter_mut().find(|r| r.id == id) {
            change(&mut none, &mut r.tags);
            if let Some(n) = none.take() {
                r.tags.insert("Name".to_owned(), n);
            }
        } else if let Some(r) = t.gateways.iter_mut().find(|r| r.id == id) {
            change(&mut r.name, &mut r.tags);
        } else if let Some(r) = t.enis.iter_mut().find(|r| r.id == id) {
            change(&mut r.name, &mut r.tags);
        } else if let Some(r) = t.instances.iter_mut().find(|r| r.id == id) {
            change(&mut r.name, &mut r.tags);
        } else if let Some(r) = t.addresses.iter_mut().find(|r| r.id == id) {
            change(&mut r.name, &mut r.tags);
        }
    }
}

fn untag(name: &mut Option<String>, tags: &mut Tags, gone: &[(String, Option<String>)]) {
    for (k, v) in gone {
        if k == "Name" {
            if v.is_none() || v.as_ref() == name.as_ref() {
                *name = None;
            }
            if v.is_none() || v.as_ref() == tags.get(k) {
                tags.remove(k);
            }
        } else if v.is_none() || v.as_ref() == tags.get(k) {
            tags.remove(k);
        }
    }
}

fn gateway(id: &str, kind: GatewayType, vpc: Option<&str>, account: &str) -> model::Gateway {
    model::Gateway {
        id: id.to_owned(),
        kind,
        vpc: vpc.map(str::to_owned),
        account: Some(account.to_owned()),
        allocation: None,
        name: None,
        eni: None,
        peer_region: None,
        remote_cidrs: Vec::new(),
        tags: Tags::new(),
    }
}

fn all_out() -> SgRule {
    SgRule {
        protocol: ProtocolSpec::Number(-1),
        ports: None,
        cidr: Some("0.0.0.0/0".parse().expect("a block")),
        prefix_list: None,
        group: None,
        description: None,
    }
}

/// The addresses of a block an ENI may have: not the first four, nor the broadcast.
fn hosts(net: Ipv4Net) -> impl Iterator<Item = Ipv4Addr> {
    let first = u32::from(net.network()) + 4;
    let last = u32::from(net.broadcast());
    (first..last).map(Ipv4Addr::from)
}
