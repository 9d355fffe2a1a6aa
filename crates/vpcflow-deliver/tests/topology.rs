//! EC2's Describe* actions over the built-in topology: each row a request and the ids or the
//! error AWS answers, so that filters, ids, names, paging and accounts are data.

use vpcflow_deliver::describe::Filter;
use vpcflow_deliver::topology::{Describe, Fields, Kind, Node, describe};

const ACCOUNT: &str = "123456789012";

fn net() -> vpcflow_net::Network {
    vpcflow_net::builtin::load("builtin:three-tier").unwrap()
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter {
        name: name.to_owned(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// The id member of each item (the first member, as AWS writes it; `ownerId` first for groups).
fn ids(items: &[Fields]) -> Vec<String> {
    items
        .iter()
        .map(|f| {
            f.iter()
                .find(|(n, _)| n.ends_with("Id") && *n != "ownerId")
                .map(|(_, v)| match v {
                    Node::Text(t) => t.clone(),
                    other => panic!("an id is text: {other:?}"),
                })
                .unwrap()
        })
        .collect()
}

fn by_filters(kind: Kind, filters: Vec<Filter>) -> Vec<String> {
    let req = Describe {
        filters,
        ..Describe::default()
    };
    ids(&describe(kind, &req, &net(), Some(ACCOUNT)).unwrap().items)
}

/// A filter row: the filters (name, values), then the ids they pick.
type Row<'a> = (Kind, &'a [(&'a str, &'a [&'a str])], &'a [&'a str]);

#[test]
fn filters_pick_what_aws_would() {
    use Kind::*;
    let rows: &[Row] = &[
        (Vpcs, &[], &["vpc-0a1b2c3d4e5f60718"]),
        (
            Vpcs,
            &[("cidr", &["10.0.0.0/16"])],
            &["vpc-0a1b2c3d4e5f60718"],
        ),
        (Vpcs, &[("is-default", &["true"])], &[]),
        (
            Subnets,
            &[("tag:Name", &["app-*"])],
            &["subnet-0a2a000000000002a", "subnet-0b2b000000000002b"],
        ),
        (
            Subnets,
            &[
                ("availability-zone", &["us-east-1b"]),
                ("tag-key", &["Name"]),
            ],
            &[
                "subnet-0b1b000000000001b",
                "subnet-0b2b000000000002b",
                "subnet-0b3b000000000003b",
            ],
        ),
        (
            Subnets,
            &[("cidr-block", &["10.0.1.0/24"])],
            &["subnet-0a1a000000000001a"],
        ),
        (
            NetworkInterfaces,
            &[("group-name", &["db"])],
            &["eni-0a0000000000000a4", "eni-0b0000000000000b4"],
        ),
        (
            NetworkInterfaces,
            &[("attachment.instance-id", &["i-0b0000000000000b2"])],
            &["eni-0b0000000000000b2"],
        ),
        (
            NetworkInterfaces,
            &[("private-ip-address", &["10.0.22.1?"])],
            &["eni-0b0000000000000b4"],
        ),
        (
            SecurityGroups,
            &[("ip-permission.from-port", &["5432"])],
            &["sg-0a0000000000000a4"],
        ),
        (
            SecurityGroups,
            &[("ip-permission.group-id", &["sg-0a0000000000000a2"])],
            &["sg-0a0000000000000a4"],
        ),
        (
            SecurityGroups,
            &[("egress.ip-permission.protocol", &["-1"])],
            &["sg-0a0000000000000a2", "sg-0a0000000000000a3"],
        ),
        (
            NetworkAcls,
            &[("association.subnet-id", &["subnet-0a3a000000000003a"])],
            &["acl-0c3c000000000003c"],
        ),
        (
            NetworkAcls,
            &[
                ("entry.rule-action", &["deny"]),
                ("entry.rule-number", &["90"]),
            ],
            &["acl-0a1a000000000001a"],
        ),
        (
            RouteTables,
            &[("route.nat-gateway-id", &["nat-0c0ffee0000000002"])],
            &["rtb-0b2b000000000002b"],
        ),
        (
            RouteTables,
            &[("route.gateway-id", &["igw-*"])],
            &["rtb-0a1a000000000001a"],
        ),
    ];
    for (kind, filters, want) in rows {
        let filters = filters.iter().map(|(n, v)| filter(n, v)).collect();
        assert_eq!(by_filters(*kind, filters), *want, "{kind:?}");
    }
}

#[test]
fn ids_and_group_names_are_looked_up_and_must_exist() {
    let n = net();
    let req = Describe {
        ids: vec!["eni-0a0000000000000a3".into()],
        ..Describe::default()
    };
    let page = describe(Kind::NetworkInterfaces, &req, &n, Some(ACCOUNT)).unwrap();
    assert_eq!(ids(&page.items), ["eni-0a0000000000000a3"]);
    let req = Describe {
        names: vec!["bastion".into()],
        ..Describe::default()
    };
    let page = describe(Kind::SecurityGroups, &req, &n, Some(ACCOUNT)).unwrap();
    assert_eq!(ids(&page.items), ["sg-0a0000000000000a3"]);

    let rows: &[(Kind, Describe, &str, &str)] = &[
        (
            Kind::Vpcs,
            Describe {
                ids: vec!["vpc-0000000000000dead".into()],
                ..Describe::default()
            },
            "InvalidVpcID.NotFound",
            "The vpc ID 'vpc-0000000000000dead' does not exist",
        ),
        (
            Kind::Subnets,
            Describe {
                ids: vec!["subnet-1".into(), "subnet-0a1a000000000001a".into()],
                ..Describe::default()
            },
            "InvalidSubnetID.NotFound",
            "The subnet ID 'subnet-1' does not exist",
        ),
        (
            Kind::RouteTables,
            Describe {
                ids: vec!["main".into()],
                ..Describe::default()
            },
            "InvalidRouteTableID.Malformed",
            "Invalid id: \"main\" (expecting \"rtb-...\")",
        ),
        (
            Kind::SecurityGroups,
            Describe {
                names: vec!["web".into()],
                ..Describe::default()
            },
            "InvalidGroup.NotFound",
            "The security group 'web' does not exist",
        ),
        (
            Kind::NetworkAcls,
            Describe {
                filters: vec![filter("acl-id", &["x"])],
                ..Describe::default()
            },
            "InvalidParameterValue",
            "The filter 'acl-id' is invalid",
        ),
        (
            Kind::Subnets,
            Describe {
                max_results: Some(4),
                ..Describe::default()
            },
            "InvalidParameterValue",
            "Value ( 4 ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.",
        ),
        (
            Kind::Vpcs,
            Describe {
                next_token: Some("subnet-1".into()),
                ..Describe::default()
            },
            "InvalidPaginationToken",
            "The token 'subnet-1' is invalid.",
        ),
    ];
    for (kind, req, code, message) in rows {
        let e = describe(*kind, req, &n, Some(ACCOUNT)).unwrap_err();
        assert_eq!(
            (e.kind.code(), e.message.as_str()),
            (*code, *message),
            "{kind:?}"
        );
    }
}

#[test]
fn pages_follow_one_another_in_id_order() {
    let n = net();
    let mut req = Describe {
        max_results: Some(5),
        ..Describe::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = describe(Kind::NetworkInterfaces, &req, &n, None).unwrap();
        assert!(page.items.len() <= 5);
        seen.extend(ids(&page.items));
        match page.next_token {
            Some(t) => req.next_token = Some(t),
            None => break,
        }
    }
    let mut all: Vec<String> = n.enis.iter().map(|e| e.id.clone()).collect();
    all.sort();
    assert_eq!(seen, all);
}

#[test]
fn an_account_sees_only_what_it_owns() {
    let n = net();
    for kind in [
        Kind::Vpcs,
        Kind::Subnets,
        Kind::SecurityGroups,
        Kind::RouteTables,
    ] {
        let page = describe(kind, &Describe::default(), &n, Some("210987654321")).unwrap();
        assert!(page.items.is_empty(), "{kind:?}");
    }
    let req = Describe {
        ids: vec!["vpc-0a1b2c3d4e5f60718".into()],
        ..Describe::default()
    };
    let e = describe(Kind::Vpcs, &req, &n, Some("210987654321")).unwrap_err();
    assert_eq!(e.kind.code(), "InvalidVpcID.NotFound");
}

#[test]
fn items_carry_what_terraform_and_the_cli_read() {
    let n = net();
    let req = Describe {
        ids: vec!["subnet-0a1a000000000001a".into()],
        ..Describe::default()
    };
    let page = describe(Kind::Subnets, &req, &n, None).unwrap();
    let item = &page.items[0];
    let get = |name: &str| match item.iter().find(|(n, _)| *n == name) {
        Some((_, Node::Text(t))) => t.clone(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(get("vpcId"), "vpc-0a1b2c3d4e5f60718");
    assert_eq!(get("cidrBlock"), "10.0.1.0/24");
    assert_eq!(get("availabilityZoneId"), "use1-az1");
    assert_eq!(
        get("subnetArn"),
        "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0a1a000000000001a"
    );
    // 256 addresses, AWS's five reserved, and the ENIs' addresses in use.
    let used: usize = n
        .enis
        .iter()
        .filter(|e| n.subnets[e.subnet].id == "subnet-0a1a000000000001a")
        .map(|e| e.private_ips.len())
        .sum();
    assert_eq!(get("availableIpAddressCount"), (251 - used).to_string());
}
