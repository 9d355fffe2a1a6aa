//! The actions as AWS answers them: a two-tier network made step by step, then what each
//! action refuses, as rows.

use super::actions::{AclEntry, Action, Answer, Ctx, Peer, Permission, RunInstances, Tags, apply};
use super::*;

pub(crate) const ACCOUNT: &str = "123456789012";

pub(crate) fn base() -> Network {
    vpcflow_net::builtin::load("builtin:three-tier").expect("the built-in topology")
}

/// Applies `action`, which must succeed; the answer. (By value: each call site builds one.)
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn act(base: &Network, made: &mut Made, action: Action) -> Answer {
    let ctx = Ctx {
        base: &base.topology,
        account: ACCOUNT,
        now_ms: 1_768_485_600_000,
    };
    let applied = apply(made, ctx, &action).unwrap_or_else(|e| panic!("{action:?}: {e}"));
    *made = applied.made;
    applied.answer
}

fn made_id(a: Answer) -> String {
    match a {
        Answer::Made(id) | Answer::Group(id) => id,
        other => panic!("{other:?}"),
    }
}

fn named(name: &str) -> Tags {
    [("Name".to_owned(), name.to_owned())].into()
}

/// Ids of the two-tier network [`two_tier`] makes.
pub(crate) struct TwoTier {
    pub vpc: String,
    pub public: String,
    pub private: String,
    pub web: String,
    pub app: String,
    pub acl: String,
    pub igw: String,
    pub nat: String,
    pub instances: Vec<String>,
}

/// A VPC with a public and a private subnet, an internet gateway, a NAT gateway, route tables,
/// two security groups, a network ACL denying SSH in, and an instance in each subnet.
pub(crate) fn two_tier(base: &Network, made: &mut Made) -> TwoTier {
    let vpc = made_id(act(
        base,
        made,
        Action::CreateVpc {
            cidr: "10.20.0.0/16".into(),
            tags: named("two-tier"),
        },
    ));
    let subnet = |made: &mut Made, cidr: &str, name: &str| {
        made_id(act(
            base,
            made,
            Action::CreateSubnet {
                vpc: vpc.clone(),
                cidr: cidr.into(),
                az: Some("us-east-1a".into()),
                az_id: None,
                tags: named(name),
            },
        ))
    };
    let public = subnet(made, "10.20.1.0/24", "public");
    let private = subnet(made, "10.20.2.0/24", "private");
    act(
        base,
        made,
        Action::ModifySubnetAttribute {
            subnet: public.clone(),
            map_public_ip: Some(true),
        },
    );
    let igw = made_id(act(
        base,
        made,
        Action::CreateInternetGateway { tags: Tags::new() },
    ));
    act(
        base,
        made,
        Action::AttachInternetGateway {
            igw: igw.clone(),
            vpc: vpc.clone(),
        },
    );
    let eip = made_id(act(
        base,
        made,
        Action::AllocateAddress { tags: Tags::new() },
    ));
    let nat = made_id(act(
        base,
        made,
        Action::CreateNatGateway {
            subnet: public.clone(),
            allocation: Some(eip),
            tags: Tags::new(),
        },
    ));
    for (subnet, target) in [(&public, &igw), (&private, &nat)] {
        let rtb = made_id(act(
            base,
            made,
            Action::CreateRouteTable {
                vpc: vpc.clone(),
                tags: Tags::new(),
            },
        ));
        act(
            base,
            made,
            Action::PutRoute {
                rtb: rtb.clone(),
                destination: "0.0.0.0/0".into(),
                target: target.clone(),
                replace: false,
            },
        );
        act(
            base,
            made,
            Action::AssociateRouteTable {
                rtb,
                subnet: subnet.clone(),
            },
        );
    }
    let group = |made: &mut Made, name: &str| {
        made_id(act(
            base,
            made,
            Action::CreateSecurityGroup {
                vpc: Some(vpc.clone()),
                name: name.into(),
                description: format!("{name} tier"),
                tags: Tags::new(),
            },
        ))
    };
    let web = group(made, "web");
    let app = group(made, "app");
    let allow = |made: &mut Made, group: &str, port: i64, peer: Peer| {
        act(
            base,
            made,
            Action::Authorize {
                group: group.into(),
                egress: false,
                permissions: vec![Permission {
                    protocol: "tcp".into(),
                    from: Some(port),
                    to: Some(port),
                    peers: vec![(peer, None)],
                }],
            },
        )
    };
    allow(made, &web, 443, Peer::Cidr("0.0.0.0/0".into()));
    allow(made, &web, 22, Peer::Cidr("0.0.0.0/0".into()));
    allow(made, &app, 8080, Peer::Group(web.clone()));
    let acl = made_id(act(
        base,
        made,
        Action::CreateNetworkAcl {
            vpc: vpc.clone(),
            tags: Tags::new(),
        },
    ));
    for (rule, egress, action, ports) in [
        (50, false, "deny", Some((22, 22))),
        (100, false, "allow", None),
        (100, true, "allow", None),
    ] {
        act(
            base,
            made,
            Action::PutNetworkAclEntry {
                entry: AclEntry {
                    acl: acl.clone(),
                    rule,
                    protocol: if ports.is_some() { "6" } else { "-1" }.into(),
                    action: action.into(),
                    egress,
                    cidr: Some("0.0.0.0/0".into()),
                    ports,
                },
                replace: false,
            },
        );
    }
    let assoc = topology_of(base, made)
        .subnets
        .iter()
        .find(|s| s.id == public)
        .map(|s| derived_id("aclassoc", &[&s.network_acl, &s.id]))
        .expect("the public subnet");
    act(
        base,
        made,
        Action::ReplaceNetworkAclAssociation {
            association: assoc,
            acl: acl.clone(),
        },
    );
    let mut instances = Vec::new();
    for (subnet, group, name) in [(&public, &web, "web-1"), (&private, &app, "app-1")] {
        let Answer::Launched { instances: ids, .. } = act(
            base,
            made,
            Action::RunInstances(Box::new(RunInstances {
                image_id: Some("ami-0abcdef1234567890".into()),
                instance_type: Some("t3.micro".into()),
                subnet: Some(subnet.clone()),
                groups: vec![group.clone()],
                min_count: 1,
                max_count: 1,
                tags: named(name),
                ..RunInstances::default()
            })),
        ) else {
            panic!("RunInstances launches");
        };
        instances.extend(ids);
    }
    TwoTier {
        vpc,
        public,
        private,
        web,
        app,
        acl,
        igw,
        nat,
        instances,
    }
}

pub(crate) fn topology_of(base: &Network, made: &Made) -> Topology {
    merged(&base.topology, &made.topology)
}

#[test]
fn a_vpc_comes_with_its_default_group_acl_and_main_route_table() {
    let base = base();
    let mut made = Made::default();
    let vpc = made_id(act(
        &base,
        &mut made,
        Action::CreateVpc {
            cidr: "10.9.0.0/16".into(),
            tags: Tags::new(),
        },
    ));
    let t = &made.topology;
    let sg = t.security_groups.iter().find(|g| g.vpc == vpc).unwrap();
    assert_eq!(sg.name.as_deref(), Some("default"));
    assert_eq!(
        sg.inbound[0].group.as_deref(),
        Some(sg.id.as_str()),
        "members talk"
    );
    assert_eq!(
        sg.outbound[0].cidr.map(|c| c.to_string()).as_deref(),
        Some("0.0.0.0/0")
    );
    let acl = t.network_acls.iter().find(|a| a.vpc == vpc).unwrap();
    assert!(acl.default && acl.inbound.len() == 1 && acl.outbound.len() == 1);
    let rtb = t.route_tables.iter().find(|r| r.vpc == vpc).unwrap();
    assert!(rtb.main);
    assert_eq!(rtb.routes[0].target, "local");
    assert!(vpc.starts_with("vpc-") && vpc.len() == 21, "{vpc}");
    // Deleting it takes them with it.
    act(&base, &mut made, Action::DeleteVpc { vpc });
    assert!(made.topology.vpcs.is_empty() && made.topology.security_groups.is_empty());
    assert!(made.topology.network_acls.is_empty() && made.topology.route_tables.is_empty());
}

#[test]
fn the_two_tier_network_builds_and_its_ids_are_the_same_every_time() {
    let base = base();
    let (mut a, mut b) = (Made::default(), Made::default());
    let ids = two_tier(&base, &mut a);
    two_tier(&base, &mut b);
    assert_eq!(a.to_json(), b.to_json(), "the same history, the same ids");
    let net = build(&base.topology, &a).unwrap();
    let web = net.eni_by_name(&a.topology.instances[0].eni).unwrap();
    assert!(
        net.enis[web].public_ip.is_some(),
        "the public subnet maps a public address"
    );
    // Scenarios name an instance's ENI by the instance's Name tag.
    assert_eq!(net.eni_by_name("web-1"), Some(web));
    assert_eq!(ids.instances.len(), 2);
    // The live model reads back as a topology file.
    let text = to_toml(&topology_of(&base, &a));
    let back: Topology = toml::from_str(&text).expect("the export reads back");
    Network::build(&back).expect("and builds");
}

/// A request and the error code and message AWS answers it with.
type Refusal = (&'static str, Action, &'static str, &'static str);

#[test]
fn each_refusal_in_aws_words() {
    let base = base();
    let mut made = Made::default();
    let t = two_tier(&base, &mut made);
    let rows: Vec<Refusal> = vec![
        (
            "a VPC with subnets",
            Action::DeleteVpc { vpc: t.vpc.clone() },
            "DependencyViolation",
            "has dependencies and cannot be deleted.",
        ),
        (
            "a subnet with instances",
            Action::DeleteSubnet {
                subnet: t.private.clone(),
            },
            "DependencyViolation",
            "has dependencies and cannot be deleted.",
        ),
        (
            "a group in use",
            Action::DeleteSecurityGroup {
                group: Some(t.app.clone()),
                name: None,
            },
            "DependencyViolation",
            "has a dependent object",
        ),
        (
            "an attached internet gateway",
            Action::DeleteInternetGateway { igw: t.igw.clone() },
            "DependencyViolation",
            "has dependencies and cannot be deleted.",
        ),
        (
            "an ACL in use",
            Action::DeleteNetworkAcl { acl: t.acl.clone() },
            "DependencyViolation",
            "has dependencies and cannot be deleted.",
        ),
        (
            "a VPC block too large",
            Action::CreateVpc {
                cidr: "10.0.0.0/8".into(),
                tags: Tags::new(),
            },
            "InvalidVpc.Range",
            "The CIDR '10.0.0.0/8' is invalid.",
        ),
        (
            "not a block",
            Action::CreateVpc {
                cidr: "10.0.0.0/33".into(),
                tags: Tags::new(),
            },
            "InvalidParameterValue",
            "This is not a valid CIDR block.",
        ),
        (
            "a subnet outside its VPC",
            Action::CreateSubnet {
                vpc: t.vpc.clone(),
                cidr: "10.30.0.0/24".into(),
                az: None,
                az_id: None,
                tags: Tags::new(),
            },
            "InvalidSubnet.Range",
            "The CIDR '10.30.0.0/24' is invalid.",
        ),
        (
            "overlapping subnets",
            Action::CreateSubnet {
                vpc: t.vpc.clone(),
                cidr: "10.20.1.128/25".into(),
                az: None,
                az_id: None,
                tags: Tags::new(),
            },
            "InvalidSubnet.Conflict",
            "conflicts with another subnet",
        ),
        (
            "a duplicate rule",
            Action::Authorize {
                group: t.web.clone(),
                egress: false,
                permissions: vec![Permission {
                    protocol: "tcp".into(),
                    from: Some(443),
                    to: Some(443),
                    peers: vec![(Peer::Cidr("0.0.0.0/0".into()), None)],
                }],
            },
            "InvalidPermission.Duplicate",
            "peer: 0.0.0.0/0, TCP, from port: 443, to port: 443, ALLOW",
        ),
        (
            "a duplicate group name",
            Action::CreateSecurityGroup {
                vpc: Some(t.vpc.clone()),
                name: "web".into(),
                description: "again".into(),
                tags: Tags::new(),
            },
            "InvalidGroup.Duplicate",
            "already exists for VPC",
        ),
        (
            "a duplicate ACL entry",
            Action::PutNetworkAclEntry {
                entry: AclEntry {
                    acl: t.acl.clone(),
                    rule: 50,
                    protocol: "-1".into(),
                    action: "allow".into(),
                    egress: false,
                    cidr: Some("0.0.0.0/0".into()),
                    ports: None,
                },
                replace: false,
            },
            "NetworkAclEntryAlreadyExists",
            "The network acl entry identified by 50 already exists.",
        ),
        (
            "a second internet gateway",
            Action::AttachInternetGateway {
                igw: t.igw.clone(),
                vpc: t.vpc.clone(),
            },
            "Resource.AlreadyAssociated",
            "is already attached to network",
        ),
        (
            "an unknown VPC",
            Action::DeleteVpc {
                vpc: "vpc-00000000000000001".into(),
            },
            "InvalidVpcID.NotFound",
            "The vpc ID 'vpc-00000000000000001' does not exist",
        ),
        (
            "a malformed id",
            Action::DeleteSubnet {
                subnet: "nope".into(),
            },
            "InvalidSubnetID.Malformed",
            "Invalid id: \"nope\" (expecting \"subnet-...\")",
        ),
        (
            "a NAT gateway not found",
            Action::DeleteNatGateway {
                nat: "nat-00000000000000001".into(),
            },
            "NatGatewayNotFound",
            "nat-00000000000000001 was not found",
        ),
        (
            "the topology file's VPC",
            Action::DeleteVpc {
                vpc: "vpc-0a1b2c3d4e5f60718".into(),
            },
            "UnauthorizedOperation",
            "defined by the topology file",
        ),
        (
            "a route that exists",
            Action::PutRoute {
                rtb: made
                    .topology
                    .route_tables
                    .iter()
                    .find(|r| r.routes.iter().any(|x| x.target == t.nat))
                    .map(|r| r.id.clone())
                    .unwrap(),
                destination: "0.0.0.0/0".into(),
                target: t.igw.clone(),
                replace: false,
            },
            "RouteAlreadyExists",
            "The route identified by 0.0.0.0/0 already exists.",
        ),
        (
            "the default group",
            Action::DeleteSecurityGroup {
                group: made
                    .topology
                    .security_groups
                    .iter()
                    .find(|g| g.name.as_deref() == Some("default"))
                    .map(|g| g.id.clone()),
                name: None,
            },
            "CannotDelete",
            "name: \"default\" cannot be deleted by a user",
        ),
        (
            "an instance of nothing",
            Action::RunInstances(Box::new(RunInstances {
                subnet: Some(t.public.clone()),
                min_count: 1,
                max_count: 1,
                ..RunInstances::default()
            })),
            "MissingParameter",
            "The request must contain the parameter ImageId",
        ),
    ];
    let before = made.to_json();
    for (what, action, code, message) in rows {
        let ctx = Ctx {
            base: &base.topology,
            account: ACCOUNT,
            now_ms: 0,
        };
        let e = apply(&made, ctx, &action).expect_err(what);
        assert_eq!(e.kind.code(), code, "{what}: {}", e.message);
        assert!(e.message.contains(message), "{what}: {}", e.message);
    }
    assert_eq!(made.to_json(), before, "a refusal changes nothing");
    // Another account sees none of it.
    let other = Ctx {
        base: &base.topology,
        account: "210987654321",
        now_ms: 0,
    };
    let e = apply(&made, other, &Action::DeleteSubnet { subnet: t.public }).unwrap_err();
    assert_eq!(e.kind.code(), "InvalidSubnetID.NotFound");
}

#[test]
fn tearing_down_in_dependency_order_leaves_nothing() {
    let base = base();
    let mut made = Made::default();
    let t = two_tier(&base, &mut made);
    act(
        &base,
        &mut made,
        Action::TerminateInstances {
            ids: t.instances.clone(),
        },
    );
    act(
        &base,
        &mut made,
        Action::DeleteNatGateway { nat: t.nat.clone() },
    );
    let release: Vec<String> = made
        .topology
        .addresses
        .iter()
        .map(|a| a.id.clone())
        .collect();
    for allocation in release {
        act(&base, &mut made, Action::ReleaseAddress { allocation });
    }
    act(
        &base,
        &mut made,
        Action::DetachInternetGateway {
            igw: t.igw.clone(),
            vpc: t.vpc.clone(),
        },
    );
    act(
        &base,
        &mut made,
        Action::DeleteInternetGateway { igw: t.igw.clone() },
    );
    let tables: Vec<(String, Vec<String>)> = made
        .topology
        .route_tables
        .iter()
        .filter(|r| !r.main)
        .map(|r| {
            let subnets = made
                .topology
                .subnets
                .iter()
                .filter(|s| s.route_table == r.id)
                .map(|s| derived_id("rtbassoc", &[&r.id, &s.id]))
                .collect();
            (r.id.clone(), subnets)
        })
        .collect();
    for (rtb, associations) in tables {
        for association in associations {
            act(
                &base,
                &mut made,
                Action::DisassociateRouteTable { association },
            );
        }
        act(&base, &mut made, Action::DeleteRouteTable { rtb });
    }
    for subnet in [&t.public, &t.private] {
        act(
            &base,
            &mut made,
            Action::DeleteSubnet {
                subnet: subnet.clone(),
            },
        );
    }
    act(
        &base,
        &mut made,
        Action::DeleteNetworkAcl { acl: t.acl.clone() },
    );
    act(
        &base,
        &mut made,
        Action::DeleteSecurityGroup {
            group: Some(t.app.clone()),
            name: None,
        },
    );
    act(
        &base,
        &mut made,
        Action::DeleteSecurityGroup {
            group: Some(t.web.clone()),
            name: None,
        },
    );
    act(&base, &mut made, Action::DeleteVpc { vpc: t.vpc.clone() });
    let left = &made.topology;
    assert!(
        left.vpcs.is_empty()
            && left.subnets.is_empty()
            && left.enis.is_empty()
            && left.gateways.is_empty()
            && left.route_tables.is_empty()
            && left.network_acls.is_empty()
            && left.security_groups.is_empty()
            && left.instances.is_empty()
            && left.addresses.is_empty(),
        "{left:?}"
    );
}
