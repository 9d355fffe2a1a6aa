//! The single field registry: every VPC flow-log field of versions 2–11, once.
//!
//! One table row per field (AWS name, Parquet column, version, Rust type, meaning) generates
//! [`FieldId`], [`FIELDS`] and the [`FlowRecord`] struct with its by-field accessors. Every codec
//! (text, JSON, Arrow/Parquet), the docs (`docs/fields.md`) and the tests derive from it, so
//! adding a field is one row here plus its golden lines (ARCHITECTURE.md, "Add a field").
//!
//! Sources: AWS's *Available fields* tables for VPC flow logs (versions 2–5 and 7–11; v8–v11
//! partly from secondary sources) and for Transit Gateway flow logs (version 6: the `tgw-*`,
//! `resource-type` and `packets-lost-*` fields, which only Transit Gateway flow logs write). A
//! row's [`Scope`] says which of the two schemas carries the field; vpcflow reads both and
//! writes VPC flow logs only.

use std::net::IpAddr;

use compact_str::CompactString;

use crate::value::{
    Action, Count, FieldValue, FlowDirection, IpType, Kind, LogStatus, Protocol, Scalar, TcpFlags,
    TgwResourceType, TrafficPath, ValueError,
};

/// Everything the registry knows about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    /// The field's identity.
    pub id: FieldId,
    /// The name AWS uses in `${…}` formats and header lines (`account-id`).
    pub name: &'static str,
    /// The Parquet/Athena column name (`account_id`).
    pub column: &'static str,
    /// The flow-log version that introduced the field.
    pub version: u8,
    /// Which flow logs write the field: VPC, Transit Gateway, or both.
    pub scope: Scope,
    /// Storage kind: Parquet type, and whether JSON shows a number.
    pub kind: Kind,
    /// One line on what the field means.
    pub description: &'static str,
}

/// Which flow logs write a field. VPC flow logs (on ENIs, subnets and VPCs) and Transit Gateway
/// flow logs share the address, port, counter and time fields; each has fields of its own
/// (`interface-id`, `action`; `tgw-id`, `packets-lost-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Both kinds of flow log.
    Both,
    /// VPC flow logs only.
    Vpc,
    /// Transit Gateway flow logs only.
    Tgw,
}

impl Scope {
    /// The word `vpcflow fields` and the docs show.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Both => "both",
            Scope::Vpc => "VPC",
            Scope::Tgw => "Transit Gateway",
        }
    }
}

macro_rules! registry {
    ($( $variant:ident $ident:ident $name:literal $column:literal $version:literal $scope:ident $ty:ty, $desc:literal; )*) => {
        /// Identifies one flow-log field. The discriminant is the field's index in [`FIELDS`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum FieldId {
            $(
                #[doc = concat!("`", $name, "` (v", $version, "): ", $desc)]
                $variant,
            )*
        }

        /// Every field, in AWS's table order (versions ascending). `FIELDS[id as usize].id == id`.
        pub static FIELDS: &[FieldDef] = &[
            $(FieldDef {
                id: FieldId::$variant,
                name: $name,
                column: $column,
                version: $version,
                scope: Scope::$scope,
                kind: <$ty as FieldValue>::KIND,
                description: $desc,
            },)*
        ];

        /// One flow-log record: every field of every version, each absent (`-`) unless set.
        ///
        /// A record carries values, not a format: which fields a line shows, and in what order,
        /// is the [`crate::LogFormat`]'s business.
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct FlowRecord {
            $(
                #[doc = concat!("`", $name, "`: ", $desc)]
                pub $ident: Option<$ty>,
            )*
        }

        impl FlowRecord {
            /// The field's value as a [`Scalar`], or `None` when absent.
            pub fn get(&self, id: FieldId) -> Option<Scalar<'_>> {
                match id {
                    $(FieldId::$variant => self.$ident.as_ref().map(FieldValue::scalar),)*
                }
            }

            /// True when the field has a value.
            pub fn is_set(&self, id: FieldId) -> bool {
                match id {
                    $(FieldId::$variant => self.$ident.is_some(),)*
                }
            }

            /// Sets a field from a record-line token (`-` means absent).
            pub fn set_text(&mut self, id: FieldId, token: &str) -> Result<(), ValueError> {
                match id {
                    $(FieldId::$variant => {
                        self.$ident = if token == "-" {
                            None
                        } else {
                            Some(<$ty as FieldValue>::parse_text(token)?)
                        };
                    })*
                }
                Ok(())
            }

            /// Makes exactly the check [`FlowRecord::set_text`] makes, and gives the value as a
            /// [`Scalar`] borrowing the token (`None` for `-`): for readers that store values
            /// in columns without building a record.
            pub fn parse_token(id: FieldId, token: &str) -> Result<Option<Scalar<'_>>, ValueError> {
                if token == "-" {
                    return Ok(None);
                }
                match id {
                    $(FieldId::$variant => <$ty as FieldValue>::token_scalar(token).map(Some),)*
                }
            }

            /// Sets a field from an integer (JSON number, Arrow integer column).
            pub fn set_int(&mut self, id: FieldId, value: i64) -> Result<(), ValueError> {
                match id {
                    $(FieldId::$variant => self.$ident = Some(<$ty as FieldValue>::from_int(value)?),)*
                }
                Ok(())
            }

            /// Makes a field absent.
            pub fn clear(&mut self, id: FieldId) {
                match id {
                    $(FieldId::$variant => self.$ident = None,)*
                }
            }
        }
    };
}

registry! {
    // ── version 2: the default format ─────────────────────────────────────────────────────
    Version version "version" "version" 2 Both u8, "Flow-log version: the highest version among the format's fields.";
    AccountId account_id "account-id" "account_id" 2 Both CompactString, "Account that owns the source network interface (may be `unknown` for AWS-service ENIs).";
    InterfaceId interface_id "interface-id" "interface_id" 2 Vpc CompactString, "Network interface for which the traffic is recorded.";
    Srcaddr srcaddr "srcaddr" "srcaddr" 2 Both IpAddr, "Source address (for outgoing traffic, the interface's private address).";
    Dstaddr dstaddr "dstaddr" "dstaddr" 2 Both IpAddr, "Destination address (for incoming traffic, the interface's private address).";
    Srcport srcport "srcport" "srcport" 2 Both u16, "Source port (0 for ICMP).";
    Dstport dstport "dstport" "dstport" 2 Both u16, "Destination port (0 for ICMP).";
    Protocol protocol "protocol" "protocol" 2 Both Protocol, "IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).";
    Packets packets "packets" "packets" 2 Both Count, "Packets transferred during the flow in the interval.";
    Bytes bytes "bytes" "bytes" 2 Both Count, "Bytes (sum of IP total lengths) transferred during the flow in the interval.";
    Start start "start" "start" 2 Both Count, "Unix seconds of the first packet of the flow in the interval.";
    End end "end" "end" 2 Both Count, "Unix seconds of the last packet of the flow in the interval.";
    Action action "action" "action" 2 Vpc Action, "ACCEPT or REJECT, from security groups and network ACLs.";
    LogStatus log_status "log-status" "log_status" 2 Both LogStatus, "OK, NODATA (no traffic in the interval) or SKIPDATA (records were skipped).";
    // ── version 3 ─────────────────────────────────────────────────────────────────────────
    VpcId vpc_id "vpc-id" "vpc_id" 3 Vpc CompactString, "VPC that contains the network interface.";
    SubnetId subnet_id "subnet-id" "subnet_id" 3 Vpc CompactString, "Subnet that contains the network interface.";
    InstanceId instance_id "instance-id" "instance_id" 3 Vpc CompactString, "Instance of the interface, if owned by you (`-` for requester-managed ENIs).";
    TcpFlags tcp_flags "tcp-flags" "tcp_flags" 3 Both TcpFlags, "OR of FIN 1, SYN 2, RST 4, SYN-ACK 18 over the interval.";
    Type r#type "type" "type" 3 Both IpType, "Type of traffic: IPv4, IPv6 or EFA.";
    PktSrcaddr pkt_srcaddr "pkt-srcaddr" "pkt_srcaddr" 3 Vpc IpAddr, "Packet-level (original) source address.";
    PktDstaddr pkt_dstaddr "pkt-dstaddr" "pkt_dstaddr" 3 Vpc IpAddr, "Packet-level (original) destination address.";
    // ── version 4 ─────────────────────────────────────────────────────────────────────────
    Region region "region" "region" 4 Both CompactString, "Region that contains the network interface.";
    AzId az_id "az-id" "az_id" 4 Vpc CompactString, "Availability Zone ID (e.g. use1-az4) of the interface.";
    SublocationType sublocation_type "sublocation-type" "sublocation_type" 4 Vpc CompactString, "wavelength, outpost or localzone; `-` when not in a sublocation.";
    SublocationId sublocation_id "sublocation-id" "sublocation_id" 4 Vpc CompactString, "ID of the sublocation; `-` when not in a sublocation.";
    // ── version 5 ─────────────────────────────────────────────────────────────────────────
    PktSrcAwsService pkt_src_aws_service "pkt-src-aws-service" "pkt_src_aws_service" 5 Both CompactString, "AWS service (ip-ranges subset) of pkt-srcaddr, e.g. S3.";
    PktDstAwsService pkt_dst_aws_service "pkt-dst-aws-service" "pkt_dst_aws_service" 5 Both CompactString, "AWS service (ip-ranges subset) of pkt-dstaddr.";
    FlowDirection flow_direction "flow-direction" "flow_direction" 5 Both FlowDirection, "ingress or egress, relative to the interface.";
    TrafficPath traffic_path "traffic-path" "traffic_path" 5 Vpc TrafficPath, "Path of egress traffic, 1–8 (`-` for ingress).";
    // ── version 6: Transit Gateway flow logs only (flow-log-format.md §8) ────────────────────
    ResourceType resource_type "resource-type" "resource_type" 6 Tgw TgwResourceType, "TransitGateway or TransitGatewayAttachment: the resource the flow log is created on.";
    TgwId tgw_id "tgw-id" "tgw_id" 6 Tgw CompactString, "Transit gateway for which traffic is recorded.";
    TgwAttachmentId tgw_attachment_id "tgw-attachment-id" "tgw_attachment_id" 6 Tgw CompactString, "Transit gateway attachment for which traffic is recorded.";
    TgwSrcVpcAccountId tgw_src_vpc_account_id "tgw-src-vpc-account-id" "tgw_src_vpc_account_id" 6 Tgw CompactString, "Account of the source VPC.";
    TgwDstVpcAccountId tgw_dst_vpc_account_id "tgw-dst-vpc-account-id" "tgw_dst_vpc_account_id" 6 Tgw CompactString, "Account of the destination VPC.";
    TgwSrcVpcId tgw_src_vpc_id "tgw-src-vpc-id" "tgw_src_vpc_id" 6 Tgw CompactString, "Source VPC of the traffic through the transit gateway.";
    TgwDstVpcId tgw_dst_vpc_id "tgw-dst-vpc-id" "tgw_dst_vpc_id" 6 Tgw CompactString, "Destination VPC of the traffic through the transit gateway.";
    TgwSrcSubnetId tgw_src_subnet_id "tgw-src-subnet-id" "tgw_src_subnet_id" 6 Tgw CompactString, "Subnet of the traffic's source.";
    TgwDstSubnetId tgw_dst_subnet_id "tgw-dst-subnet-id" "tgw_dst_subnet_id" 6 Tgw CompactString, "Subnet of the traffic's destination.";
    TgwSrcEni tgw_src_eni "tgw-src-eni" "tgw_src_eni" 6 Tgw CompactString, "Source transit-gateway attachment ENI of the flow.";
    TgwDstEni tgw_dst_eni "tgw-dst-eni" "tgw_dst_eni" 6 Tgw CompactString, "Destination transit-gateway attachment ENI of the flow.";
    TgwSrcAzId tgw_src_az_id "tgw-src-az-id" "tgw_src_az_id" 6 Tgw CompactString, "Availability Zone ID of the source transit gateway (`-` from a sublocation).";
    TgwDstAzId tgw_dst_az_id "tgw-dst-az-id" "tgw_dst_az_id" 6 Tgw CompactString, "Availability Zone ID of the destination transit gateway.";
    TgwPairAttachmentId tgw_pair_attachment_id "tgw-pair-attachment-id" "tgw_pair_attachment_id" 6 Tgw CompactString, "The flow's other attachment: egress or ingress, by flow direction.";
    PacketsLostNoRoute packets_lost_no_route "packets-lost-no-route" "packets_lost_no_route" 6 Tgw Count, "Packets lost because no route was specified.";
    PacketsLostBlackhole packets_lost_blackhole "packets-lost-blackhole" "packets_lost_blackhole" 6 Tgw Count, "Packets lost to a blackhole route.";
    PacketsLostMtuExceeded packets_lost_mtu_exceeded "packets-lost-mtu-exceeded" "packets_lost_mtu_exceeded" 6 Tgw Count, "Packets lost because their size exceeded the MTU.";
    PacketsLostTtlExpired packets_lost_ttl_expired "packets-lost-ttl-expired" "packets_lost_ttl_expired" 6 Tgw Count, "Packets lost because their time to live expired.";
    // ── version 7: ECS ────────────────────────────────────────────────────────────────────
    EcsClusterArn ecs_cluster_arn "ecs-cluster-arn" "ecs_cluster_arn" 7 Vpc CompactString, "ARN of the ECS cluster of the task.";
    EcsClusterName ecs_cluster_name "ecs-cluster-name" "ecs_cluster_name" 7 Vpc CompactString, "Name of the ECS cluster of the task.";
    EcsContainerInstanceArn ecs_container_instance_arn "ecs-container-instance-arn" "ecs_container_instance_arn" 7 Vpc CompactString, "ARN of the container instance (EC2 launch type; `-` on Fargate).";
    EcsContainerInstanceId ecs_container_instance_id "ecs-container-instance-id" "ecs_container_instance_id" 7 Vpc CompactString, "ID of the container instance (EC2 launch type; `-` on Fargate).";
    EcsContainerId ecs_container_id "ecs-container-id" "ecs_container_id" 7 Vpc CompactString, "Docker runtime ID of the task's first container.";
    EcsSecondContainerId ecs_second_container_id "ecs-second-container-id" "ecs_second_container_id" 7 Vpc CompactString, "Docker runtime ID of the task's second container.";
    EcsServiceName ecs_service_name "ecs-service-name" "ecs_service_name" 7 Vpc CompactString, "ECS service that started the task, if any.";
    EcsTaskDefinitionArn ecs_task_definition_arn "ecs-task-definition-arn" "ecs_task_definition_arn" 7 Vpc CompactString, "ARN of the task definition.";
    EcsTaskArn ecs_task_arn "ecs-task-arn" "ecs_task_arn" 7 Vpc CompactString, "ARN of the ECS task.";
    EcsTaskId ecs_task_id "ecs-task-id" "ecs_task_id" 7 Vpc CompactString, "ID of the ECS task.";
    // ── versions 8–10 ─────────────────────────────────────────────────────────────────────
    RejectReason reject_reason "reject-reason" "reject_reason" 8 Vpc CompactString, "Why traffic was rejected: BPA (VPC Block Public Access); `-` otherwise.";
    ResourceId resource_id "resource-id" "resource_id" 9 Vpc CompactString, "Resource the flow belongs to when there is no ENI to name (regional NAT gateway).";
    EncryptionStatus encryption_status "encryption-status" "encryption_status" 10 Vpc u8, "0 plain, 1 Nitro-encrypted, 2 application-encrypted, 3 both.";
    // ── version 11: tags and next hop ─────────────────────────────────────────────────────
    InstanceTag instance_tag "instance-tag" "instance_tag" 11 Vpc CompactString, "Value of the first configured instance tag key.";
    InstanceTag2 instance_tag_2 "instance-tag-2" "instance_tag_2" 11 Vpc CompactString, "Value of the second configured instance tag key.";
    InterfaceTag interface_tag "interface-tag" "interface_tag" 11 Vpc CompactString, "Value of the first configured network-interface tag key.";
    InterfaceTag2 interface_tag_2 "interface-tag-2" "interface_tag_2" 11 Vpc CompactString, "Value of the second configured network-interface tag key.";
    AsgTag asg_tag "asg-tag" "asg_tag" 11 Vpc CompactString, "Value of the first configured auto-scaling-group tag key.";
    AsgTag2 asg_tag_2 "asg-tag-2" "asg_tag_2" 11 Vpc CompactString, "Value of the second configured auto-scaling-group tag key.";
    InterfaceType interface_type "interface-type" "interface_type" 11 Vpc CompactString, "Type of the capturing ENI (nat_gateway, vpc_endpoint, …).";
    NextHopInterfaceId next_hop_interface_id "next-hop-interface-id" "next_hop_interface_id" 11 Vpc CompactString, "ENI of the next hop (egress: receiver; ingress: sender).";
    NextHopSubnetId next_hop_subnet_id "next-hop-subnet-id" "next_hop_subnet_id" 11 Vpc CompactString, "Subnet of the next-hop ENI.";
    NextHopAzId next_hop_az_id "next-hop-az-id" "next_hop_az_id" 11 Vpc CompactString, "Availability Zone ID of the next-hop ENI.";
    NextHopVpcId next_hop_vpc_id "next-hop-vpc-id" "next_hop_vpc_id" 11 Vpc CompactString, "VPC of the next-hop ENI.";
    NextHopInterfaceType next_hop_interface_type "next-hop-interface-type" "next_hop_interface_type" 11 Vpc CompactString, "Type of the next-hop ENI (same words as interface-type).";
}

impl FieldId {
    /// The registry entry of this field.
    pub fn def(self) -> &'static FieldDef {
        &FIELDS[self as usize]
    }

    /// The AWS name (`account-id`).
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// The Parquet column name (`account_id`).
    pub fn column(self) -> &'static str {
        self.def().column
    }

    /// The version that introduced the field.
    pub fn version(self) -> u8 {
        self.def().version
    }

    /// The storage kind.
    pub fn kind(self) -> Kind {
        self.def().kind
    }

    /// Looks a field up by its AWS name (`log-status`).
    pub fn from_name(name: &str) -> Option<FieldId> {
        FIELDS.iter().find(|f| f.name == name).map(|f| f.id)
    }

    /// Looks a field up by its Parquet column name (`log_status`).
    pub fn from_column(column: &str) -> Option<FieldId> {
        FIELDS.iter().find(|f| f.column == column).map(|f| f.id)
    }

    /// Looks a field up by either spelling: AWS name (`log-status`) or column (`log_status`).
    pub fn from_name_or_column(word: &str) -> Option<FieldId> {
        FIELDS
            .iter()
            .find(|f| f.name == word || f.column == word)
            .map(|f| f.id)
    }

    /// Checks a record-line token for this field (see [`FlowRecord::parse_token`]).
    pub fn parse_token(self, token: &str) -> Result<Option<Scalar<'_>>, ValueError> {
        FlowRecord::parse_token(self, token)
    }

    /// Every field, in registry order.
    pub fn all() -> impl ExactSizeIterator<Item = FieldId> {
        FIELDS.iter().map(|f| f.id)
    }
}

impl std::fmt::Display for FieldId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The registry as a Markdown table: the source of `docs/fields.md` (a test keeps it current).
pub fn fields_markdown() -> String {
    let mut out = String::from(
        "# Flow-log fields\n\nGenerated from the field registry (`crates/vpcflow-record/src/registry.rs`); \
         do not edit by hand. `VPCFLOW_BLESS=1 cargo test -p vpcflow-record` rewrites it.\n\n\
         Fields of scope \"Transit Gateway\" are written by Transit Gateway flow logs only, which \
         vpcflow reads (`convert`, `query`) but does not make.\n\n\
         | field | column | version | flow logs | Parquet type | meaning |\n|---|---|---|---|---|---|\n",
    );
    for f in FIELDS {
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} | {} |\n",
            f.name,
            f.column,
            f.version,
            f.scope.as_str(),
            f.kind.parquet_name(),
            f.description
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text::header` tells record lines apart by their first byte on the strength of this.
    #[test]
    fn every_name_and_column_starts_with_a_lower_case_letter() {
        for f in FIELDS {
            for word in [f.name, f.column] {
                assert!(word.as_bytes()[0].is_ascii_lowercase(), "{word}");
            }
        }
    }

    #[test]
    fn registry_is_consistent() {
        assert_eq!(
            FIELDS.len(),
            72,
            "v2–v11 have 54 VPC fields (flow-log-format.md §2), and Transit Gateway 18 of its own (§8)"
        );
        assert_eq!(FIELDS.iter().filter(|f| f.scope != Scope::Tgw).count(), 54);
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(f.id as usize, i, "{} out of place", f.name);
            assert_eq!(f.column, f.name.replace('-', "_"), "column of {}", f.name);
            assert_eq!(FieldId::from_name(f.name), Some(f.id));
            assert_eq!(FieldId::from_column(f.column), Some(f.id));
        }
        // Versions never go down in table order.
        assert!(FIELDS.windows(2).all(|w| w[0].version <= w[1].version));
    }

    #[test]
    fn cumulative_counts_per_version_match_aws() {
        // flow-log-format.md §2: 14, 21, 25, 29, (none in 6), 39, 40, 41, 42, 54.
        let upto = |v: u8| {
            FIELDS
                .iter()
                .filter(|f| f.version <= v && f.scope != Scope::Tgw)
                .count()
        };
        let want = [
            (2, 14),
            (3, 21),
            (4, 25),
            (5, 29),
            (6, 29),
            (7, 39),
            (8, 40),
            (9, 41),
            (10, 42),
            (11, 54),
        ];
        for (v, n) in want {
            assert_eq!(upto(v), n, "fields up to v{v}");
        }
    }

    #[test]
    fn integer_fields_are_exactly_the_json_number_fields() {
        // design.md `convert --to jsonl` contract: these become JSON numbers, all else strings.
        let numbers = [
            "version",
            "srcport",
            "dstport",
            "protocol",
            "packets",
            "bytes",
            "start",
            "end",
            "tcp-flags",
            "traffic-path",
            "packets-lost-no-route",
            "packets-lost-blackhole",
            "packets-lost-mtu-exceeded",
            "packets-lost-ttl-expired",
            "encryption-status",
        ];
        let ints: Vec<_> = FIELDS
            .iter()
            .filter(|f| f.kind.is_int())
            .map(|f| f.name)
            .collect();
        assert_eq!(ints, numbers);
        // §6.2: INT_64 for packets, bytes, start, end; INT_32 for the other integers.
        let int64: Vec<_> = FIELDS
            .iter()
            .filter(|f| f.kind == Kind::Int64)
            .map(|f| f.name)
            .collect();
        assert_eq!(
            int64,
            [
                "packets",
                "bytes",
                "start",
                "end",
                "packets-lost-no-route",
                "packets-lost-blackhole",
                "packets-lost-mtu-exceeded",
                "packets-lost-ttl-expired"
            ]
        );
    }

    #[test]
    fn transit_gateway_default_format_is_its_fields_in_table_order() {
        // flow-log-format.md §8: the TGW default format, v2–v6 TGW fields in AWS's table order.
        let tgw_default = "version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status type packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired tcp-flags region flow-direction pkt-src-aws-service pkt-dst-aws-service";
        let mut names: Vec<&str> = tgw_default.split(' ').collect();
        for n in &names {
            let id = FieldId::from_name(n).unwrap_or_else(|| panic!("{n} is not in the registry"));
            assert_ne!(id.def().scope, Scope::Vpc, "{n} is a Transit Gateway field");
        }
        let mut in_registry: Vec<&str> = FIELDS
            .iter()
            .filter(|f| f.scope != Scope::Vpc)
            .map(|f| f.name)
            .collect();
        names.sort_unstable();
        in_registry.sort_unstable();
        assert_eq!(names, in_registry, "exactly the TGW fields, no more");
    }

    #[test]
    fn docs_fields_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/fields.md");
        let want = fields_markdown();
        if std::env::var_os("VPCFLOW_BLESS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/fields.md is stale: run VPCFLOW_BLESS=1 cargo test -p vpcflow-record"
        );
    }

    #[test]
    fn set_and_get_by_id() {
        let mut r = FlowRecord::default();
        r.set_text(FieldId::Srcport, "443").unwrap();
        r.set_int(FieldId::Packets, 20).unwrap();
        r.set_text(FieldId::AccountId, "000000000000").unwrap();
        assert_eq!(r.srcport, Some(443));
        assert_eq!(r.packets, Some(Count(20)));
        assert_eq!(
            r.get(FieldId::AccountId).unwrap().to_string(),
            "000000000000"
        );
        r.set_text(FieldId::Srcport, "-").unwrap();
        assert!(!r.is_set(FieldId::Srcport));
        assert!(
            r.set_int(FieldId::AccountId, 12).is_err(),
            "a number would lose leading zeros"
        );
    }
}
