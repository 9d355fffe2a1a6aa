//! The Describe* items of internet and NAT gateways, Elastic IPs, instances and
//! security-group rules, as AWS's answers shape them (DescribeInternetGateways,
//! DescribeNatGateways, DescribeAddresses, DescribeInstances, DescribeSecurityGroupRules), and
//! the id of a security-group rule, which Authorize answers and Revoke takes.

use std::net::IpAddr;

use vpcflow_net::model::{self, SgRule};

use super::{
    Fields, Node, Resource, World, derived_id, mac, port_range, protocol_name, set, tag_set,
    tags_of, text,
};

/// The id of a security-group rule, the same for the same rule of the same group.
pub fn rule_id(group: &str, egress: bool, r: &SgRule) -> String {
    let p = vpcflow_net::network::parse_protocol(&r.protocol)
        .ok()
        .flatten()
        .map_or("-1".to_owned(), |n| n.to_string());
    let (from, to) = vpcflow_net::network::parse_ports(r.ports.as_ref()).unwrap_or((0, 65535));
    derived_id(
        "sgr",
        &[
            group,
            &egress.to_string(),
            &p,
            &from.to_string(),
            &to.to_string(),
            &peer(r),
        ],
    )
}

/// Whom a rule names: its block, group or prefix list.
pub fn peer(r: &SgRule) -> String {
    r.cidr
        .map(|c| c.to_string())
        .or_else(|| r.group.clone())
        .or_else(|| r.prefix_list.clone())
        .unwrap_or_default()
}

/// `ip-10-0-1-5.ec2.internal`: the private DNS name AWS gives an address in us-east-1 (and
/// `ip-….<region>.compute.internal` elsewhere).
fn private_dns(ip: IpAddr, region: &str) -> String {
    let host = format!("ip-{}", ip.to_string().replace(['.', ':'], "-"));
    if region == "us-east-1" {
        format!("{host}.ec2.internal")
    } else {
        format!("{host}.{region}.compute.internal")
    }
}

impl World<'_> {
    fn gateway_owner(&self, g: &model::Gateway) -> String {
        super::gateway_owner(self.t, g).unwrap_or_default()
    }

    pub(super) fn internet_gateway(&self, g: &model::Gateway) -> Resource {
        let owner = self.gateway_owner(g);
        let tags = tags_of(g.name.as_ref(), &g.tags);
        let mut attrs = vec![
            ("internet-gateway-id", g.id.clone()),
            ("owner-id", owner.clone()),
        ];
        let attachments: Vec<Fields> = g
            .vpc
            .iter()
            .map(|v| {
                attrs.push(("attachment.vpc-id", v.clone()));
                attrs.push(("attachment.state", "available".to_owned()));
                vec![text("vpcId", v), text("state", "available")]
            })
            .collect();
        let fields = vec![
            text("internetGatewayId", &g.id),
            set("attachmentSet", attachments),
            text("ownerId", &owner),
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

    pub(super) fn nat_gateway(&self, g: &model::Gateway) -> Resource {
        let owner = self.gateway_owner(g);
        let tags = tags_of(g.name.as_ref(), &g.tags);
        let eni = g
            .eni
            .as_ref()
            .and_then(|e| self.t.enis.iter().find(|x| &x.id == e));
        let subnet = eni.map(|e| e.subnet.clone()).unwrap_or_default();
        let vpc = g.vpc.clone().unwrap_or_default();
        let attrs = vec![
            ("nat-gateway-id", g.id.clone()),
            ("state", "available".to_owned()),
            ("subnet-id", subnet.clone()),
            ("vpc-id", vpc.clone()),
        ];
        let mut address = vec![];
        if let Some(a) = &g.allocation {
            address.push(text("allocationId", a));
        }
        if let Some(e) = eni {
            address.push(text("networkInterfaceId", &e.id));
            if let Some(ip) = e.private_ips.first() {
                address.push(text("privateIp", ip));
            }
            if let Some(ip) = e.public_ip {
                address.push(text("publicIp", ip));
            }
        }
        address.extend([
            text("associationId", derived_id("eipassoc", &[&g.id])),
            text("isPrimary", true),
            text("status", "succeeded"),
        ]);
        let fields = vec![
            set("natGatewayAddressSet", vec![address]),
            text("natGatewayId", &g.id),
            text("state", "available"),
            text("subnetId", &subnet),
            text("vpcId", &vpc),
            tag_set(&tags),
            text("connectivityType", "public"),
        ];
        Resource {
            id: g.id.clone(),
            owner,
            tags,
            attrs,
            fields,
        }
    }

    pub(super) fn address(&self, a: &model::Address) -> Resource {
        let tags = tags_of(a.name.as_ref(), &a.tags);
        let mut attrs = vec![
            ("allocation-id", a.id.clone()),
            ("domain", "vpc".to_owned()),
            ("public-ip", a.public_ip.to_string()),
        ];
        let mut fields = vec![
            text("publicIp", a.public_ip),
            text("allocationId", &a.id),
            text("domain", "vpc"),
        ];
        if let Some(e) = a
            .eni
            .as_ref()
            .and_then(|e| self.t.enis.iter().find(|x| &x.id == e))
        {
            let assoc = derived_id("eipassoc", &[&a.id, &e.id]);
            attrs.push(("association-id", assoc.clone()));
            attrs.push(("network-interface-id", e.id.clone()));
            attrs.push(("network-interface-owner-id", a.account.clone()));
            fields.extend([
                text("associationId", assoc),
                text("networkInterfaceId", &e.id),
                text("networkInterfaceOwnerId", &a.account),
            ]);
            if let Some(ip) = e.private_ips.first() {
                attrs.push(("private-ip-address", ip.to_string()));
                fields.push(text("privateIpAddress", ip));
            }
            if let Some(i) = &e.instance_id {
                fields.push(text("instanceId", i));
            }
        }
        fields.extend([
            tag_set(&tags),
            text("publicIpv4Pool", "amazon"),
            text("networkBorderGroup", &self.t.region.name),
        ]);
        Resource {
            id: a.id.clone(),
            owner: a.account.clone(),
            tags,
            attrs,
            fields,
        }
    }

    /// An instance as its own reservation (`reservationSet` items hold `instancesSet`).
    pub(super) fn instance(&self, i: &model::Instance) -> Resource {
        let tags = tags_of(i.name.as_ref(), &i.tags);
        let eni = self.t.enis.iter().find(|e| e.id == i.eni);
        let subnet = eni.and_then(|e| self.t.subnets.iter().find(|s| s.id == e.subnet));
        let vpc = subnet.map(|s| s.vpc.clone()).unwrap_or_default();
        let owner = eni
            .and_then(|e| super::eni_owner(self.t, e))
            .unwrap_or_default();
        let az = subnet.map(|s| s.az.clone()).unwrap_or_default();
        let private = eni.and_then(|e| e.private_ips.first().copied());
        let public = eni.and_then(|e| e.public_ip);
        let region = &self.t.region.name;
        let mut attrs = vec![
            ("availability-zone", az.clone()),
            ("image-id", i.image_id.clone()),
            ("instance-id", i.id.clone()),
            ("instance-state-code", "16".to_owned()),
            ("instance-state-name", "running".to_owned()),
            ("instance-type", i.instance_type.clone()),
            ("network-interface.network-interface-id", i.eni.clone()),
            ("owner-id", owner.clone()),
            ("vpc-id", vpc.clone()),
        ];
        if let Some(s) = subnet {
            attrs.push(("subnet-id", s.id.clone()));
        }
        if let Some(k) = &i.key_name {
            attrs.push(("key-name", k.clone()));
        }
        let groups: Vec<Fields> = eni
            .map(|e| {
                e.security_groups
                    .iter()
                    .map(|g| vec![text("groupId", g), text("groupName", self.group_name(g))])
                    .collect()
            })
            .unwrap_or_default();
        let mut fields = vec![
            text("instanceId", &i.id),
            text("imageId", &i.image_id),
            (
                "instanceState",
                Node::Struct(vec![text("code", 16), text("name", "running")]),
            ),
        ];
        if let Some(ip) = private {
            attrs.push(("private-ip-address", ip.to_string()));
            fields.push(text("privateDnsName", private_dns(ip, region)));
        }
        fields.push(text("dnsName", ""));
        if let Some(k) = &i.key_name {
            fields.push(text("keyName", k));
        }
        fields.extend([
            text("amiLaunchIndex", 0),
            text("instanceType", &i.instance_type),
            text("launchTime", &i.launched),
            (
                "placement",
                Node::Struct(vec![
                    text("availabilityZone", &az),
                    text("tenancy", "default"),
                ]),
            ),
            ("monitoring", Node::Struct(vec![text("state", "disabled")])),
            text(
                "subnetId",
                subnet.map(|s| s.id.as_str()).unwrap_or_default(),
            ),
            text("vpcId", &vpc),
        ]);
        if let Some(ip) = private {
            fields.push(text("privateIpAddress", ip));
        }
        if let Some(ip) = public {
            attrs.push(("ip-address", ip.to_string()));
            fields.push(text("ipAddress", ip));
        }
        fields.extend([
            text("sourceDestCheck", true),
            set("groupSet", groups.clone()),
            text("architecture", "x86_64"),
            text("rootDeviceType", "ebs"),
            text("rootDeviceName", "/dev/xvda"),
            set("blockDeviceMapping", Vec::new()),
            text("virtualizationType", "hvm"),
            tag_set(&tags),
            text("hypervisor", "xen"),
            set(
                "networkInterfaceSet",
                eni.map(|e| self.instance_eni(e, &vpc, &owner, groups))
                    .into_iter()
                    .collect(),
            ),
            text("ebsOptimized", false),
            text("enaSupport", true),
        ]);
        let reservation = vec![
            text("reservationId", derived_id("r", &[&i.id])),
            text("ownerId", &owner),
            set("groupSet", Vec::new()),
            set("instancesSet", vec![fields]),
        ];
        Resource {
            id: i.id.clone(),
            owner,
            tags,
            attrs,
            fields: reservation,
        }
    }

    fn instance_eni(&self, e: &model::Eni, vpc: &str, owner: &str, groups: Vec<Fields>) -> Fields {
        let mut f = vec![
            text("networkInterfaceId", &e.id),
            text("subnetId", &e.subnet),
            text("vpcId", vpc),
            text("description", e.description.clone().unwrap_or_default()),
            text("ownerId", owner),
            text("status", "in-use"),
            text("macAddress", mac(&e.id)),
        ];
        if let Some(ip) = e.private_ips.first() {
            f.push(text("privateIpAddress", ip));
        }
        f.extend([
            text("sourceDestCheck", true),
            set("groupSet", groups),
            (
                "attachment",
                Node::Struct(vec![
                    text("attachmentId", derived_id("eni-attach", &[&e.id])),
                    text("deviceIndex", 0),
                    text("status", "attached"),
                    text("deleteOnTermination", true),
                ]),
            ),
            text("interfaceType", "interface"),
        ]);
        f
    }

    /// A group's rules, one item each.
    pub(super) fn group_rules(&self, g: &model::SecurityGroup) -> Vec<Resource> {
        let owner = self.vpc_owner(&g.vpc);
        let arn_of = |id: &str| {
            format!(
                "arn:aws:ec2:{}:{owner}:security-group-rule/{id}",
                self.t.region.name
            )
        };
        let mut out = Vec::new();
        for (egress, rules) in [(false, &g.inbound), (true, &g.outbound)] {
            for r in rules {
                let id = rule_id(&g.id, egress, r);
                let attrs = vec![
                    ("group-id", g.id.clone()),
                    ("security-group-rule-id", id.clone()),
                ];
                let (from, to) = port_range(&r.protocol, r.ports.as_ref())
                    .map_or((-1, -1), |(a, b)| (i32::from(a), i32::from(b)));
                let mut fields = vec![
                    text("securityGroupRuleId", &id),
                    text("groupId", &g.id),
                    text("groupOwnerId", &owner),
                    text("isEgress", egress),
                    text("ipProtocol", protocol_name(&r.protocol)),
                    text("fromPort", from),
                    text("toPort", to),
                ];
                match (&r.cidr, &r.group, &r.prefix_list) {
                    (Some(c), _, _) if c.addr().is_ipv4() => fields.push(text("cidrIpv4", c)),
                    (Some(c), _, _) => fields.push(text("cidrIpv6", c)),
                    (_, Some(peer), _) => fields.push((
                        "referencedGroupInfo",
                        Node::Struct(vec![text("groupId", peer), text("userId", &owner)]),
                    )),
                    (_, _, Some(pl)) => fields.push(text("prefixListId", pl)),
                    _ => {}
                }
                if let Some(d) = &r.description {
                    fields.push(text("description", d));
                }
                fields.extend([
                    set("tagSet", Vec::new()),
                    text("securityGroupRuleArn", arn_of(&id)),
                ]);
                out.push(Resource {
                    id,
                    owner: owner.clone(),
                    tags: std::collections::BTreeMap::new(),
                    attrs,
                    fields,
                });
            }
        }
        out
    }
}
