//! The names Logs Insights gives flow-log fields it discovers (query.md §1.5): camelCase of the
//! AWS name, with `addr`/`port` capitalised (`srcAddr`, `dstPort`). An explicit table, not a
//! rule applied at run time, because AWS's own spellings are the contract; `startTime` and
//! `endTime` (the documented names) are accepted for `start` and `end` (the names real results
//! use).

use vpcflow_record::{FIELDS, FieldId};

/// (AWS field name, Insights field name), one row per field of the registry.
pub const DISCOVERED: &[(&str, &str)] = &[
    ("version", "version"),
    ("account-id", "accountId"),
    ("interface-id", "interfaceId"),
    ("srcaddr", "srcAddr"),
    ("dstaddr", "dstAddr"),
    ("srcport", "srcPort"),
    ("dstport", "dstPort"),
    ("protocol", "protocol"),
    ("packets", "packets"),
    ("bytes", "bytes"),
    ("start", "start"),
    ("end", "end"),
    ("action", "action"),
    ("log-status", "logStatus"),
    ("vpc-id", "vpcId"),
    ("subnet-id", "subnetId"),
    ("instance-id", "instanceId"),
    ("tcp-flags", "tcpFlags"),
    ("type", "type"),
    ("pkt-srcaddr", "pktSrcAddr"),
    ("pkt-dstaddr", "pktDstAddr"),
    ("region", "region"),
    ("az-id", "azId"),
    ("sublocation-type", "sublocationType"),
    ("sublocation-id", "sublocationId"),
    ("pkt-src-aws-service", "pktSrcAwsService"),
    ("pkt-dst-aws-service", "pktDstAwsService"),
    ("flow-direction", "flowDirection"),
    ("traffic-path", "trafficPath"),
    ("resource-type", "resourceType"),
    ("tgw-id", "tgwId"),
    ("tgw-attachment-id", "tgwAttachmentId"),
    ("tgw-src-vpc-account-id", "tgwSrcVpcAccountId"),
    ("tgw-dst-vpc-account-id", "tgwDstVpcAccountId"),
    ("tgw-src-vpc-id", "tgwSrcVpcId"),
    ("tgw-dst-vpc-id", "tgwDstVpcId"),
    ("tgw-src-subnet-id", "tgwSrcSubnetId"),
    ("tgw-dst-subnet-id", "tgwDstSubnetId"),
    ("tgw-src-eni", "tgwSrcEni"),
    ("tgw-dst-eni", "tgwDstEni"),
    ("tgw-src-az-id", "tgwSrcAzId"),
    ("tgw-dst-az-id", "tgwDstAzId"),
    ("tgw-pair-attachment-id", "tgwPairAttachmentId"),
    ("packets-lost-no-route", "packetsLostNoRoute"),
    ("packets-lost-blackhole", "packetsLostBlackhole"),
    ("packets-lost-mtu-exceeded", "packetsLostMtuExceeded"),
    ("packets-lost-ttl-expired", "packetsLostTtlExpired"),
    ("ecs-cluster-arn", "ecsClusterArn"),
    ("ecs-cluster-name", "ecsClusterName"),
    ("ecs-container-instance-arn", "ecsContainerInstanceArn"),
    ("ecs-container-instance-id", "ecsContainerInstanceId"),
    ("ecs-container-id", "ecsContainerId"),
    ("ecs-second-container-id", "ecsSecondContainerId"),
    ("ecs-service-name", "ecsServiceName"),
    ("ecs-task-definition-arn", "ecsTaskDefinitionArn"),
    ("ecs-task-arn", "ecsTaskArn"),
    ("ecs-task-id", "ecsTaskId"),
    ("reject-reason", "rejectReason"),
    ("resource-id", "resourceId"),
    ("encryption-status", "encryptionStatus"),
    ("instance-tag", "instanceTag"),
    ("instance-tag-2", "instanceTag2"),
    ("interface-tag", "interfaceTag"),
    ("interface-tag-2", "interfaceTag2"),
    ("asg-tag", "asgTag"),
    ("asg-tag-2", "asgTag2"),
    ("interface-type", "interfaceType"),
    ("next-hop-interface-id", "nextHopInterfaceId"),
    ("next-hop-subnet-id", "nextHopSubnetId"),
    ("next-hop-az-id", "nextHopAzId"),
    ("next-hop-vpc-id", "nextHopVpcId"),
    ("next-hop-interface-type", "nextHopInterfaceType"),
];

/// Names Insights also accepts for a field.
pub const ALIASES: &[(&str, &str)] = &[("startTime", "start"), ("endTime", "end")];

/// The Insights name of a flow-log field.
pub fn insights_name(id: FieldId) -> &'static str {
    let name = FIELDS[id as usize].name;
    DISCOVERED
        .iter()
        .find(|(aws, _)| *aws == name)
        .map(|(_, i)| *i)
        .expect("every field has a row (tested)")
}

/// The flow-log field an Insights name refers to (aliases included).
pub fn field(insights: &str) -> Option<FieldId> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == insights)
        .map_or(insights, |(_, n)| n);
    let aws = DISCOVERED.iter().find(|(_, i)| *i == name)?.0;
    FIELDS.iter().find(|f| f.name == aws).map(|f| f.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_one_distinct_name() {
        assert_eq!(DISCOVERED.len(), FIELDS.len());
        for f in FIELDS {
            assert_eq!(
                DISCOVERED.iter().filter(|(aws, _)| *aws == f.name).count(),
                1,
                "{}",
                f.name
            );
            assert_eq!(field(insights_name(f.id)), Some(f.id), "{}", f.name);
        }
        let mut names: Vec<&str> = DISCOVERED.iter().map(|(_, i)| *i).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DISCOVERED.len());
    }

    #[test]
    fn the_documented_names() {
        // AWS's discoverable-fields page and real results (query.md §1.5).
        for (insights, aws) in [
            ("accountId", "account-id"),
            ("interfaceId", "interface-id"),
            ("srcAddr", "srcaddr"),
            ("dstAddr", "dstaddr"),
            ("srcPort", "srcport"),
            ("dstPort", "dstport"),
            ("logStatus", "log-status"),
            ("start", "start"),
            ("startTime", "start"),
            ("endTime", "end"),
            ("pktSrcAddr", "pkt-srcaddr"),
            ("pktDstAddr", "pkt-dstaddr"),
            ("flowDirection", "flow-direction"),
            ("trafficPath", "traffic-path"),
            ("tcpFlags", "tcp-flags"),
            ("vpcId", "vpc-id"),
            ("azId", "az-id"),
            ("sublocationType", "sublocation-type"),
            ("pktSrcAwsService", "pkt-src-aws-service"),
        ] {
            let id = field(insights).unwrap_or_else(|| panic!("{insights}"));
            assert_eq!(FIELDS[id as usize].name, aws, "{insights}");
        }
        assert_eq!(
            field("srcaddr"),
            None,
            "Insights names are case-sensitive camelCase"
        );
    }
}
