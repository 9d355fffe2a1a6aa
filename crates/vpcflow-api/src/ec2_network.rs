//! EC2's query protocol for the network actions (VPCs, subnets, security groups, network ACLs,
//! gateways, route tables, Elastic IPs, network interfaces, instances): the parameters each
//! takes ([`NETWORK_ACTIONS`], botocore's wire names, dispatched and checked with
//! [`crate::ec2::ACTIONS`]), a form read into the typed [`Action`] ([`action`]), and each
//! answer as EC2's XML ([`response`]). What the actions do and refuse is
//! `vpcflow_deliver::resources`'; this module only reads and writes the wire.

use vpcflow_deliver::api::{ApiError, ErrorKind};
use vpcflow_deliver::resources::Topology;
use vpcflow_deliver::resources::actions::{
    AclEntry, Action, Answer, Peer, Permission, RunInstances, Tags,
};
use vpcflow_deliver::topology::{self, Kind, Node};

use crate::ec2::{boolean, integer, open_answer, owned, text, write_node, write_set};
use crate::form::Form;
use crate::xml::element;

/// The network actions served and the parameters each takes, as botocore names them on the wire
/// (`#`: a list member's number), from botocore's EC2 model (2016-11-15).
pub static NETWORK_ACTIONS: &[(&str, &[&str])] = &[
    (
        "CreateVpc",
        &[
            "CidrBlock",
            "Ipv6Pool",
            "Ipv6CidrBlock",
            "Ipv4IpamPoolId",
            "Ipv4NetmaskLength",
            "Ipv6IpamPoolId",
            "Ipv6NetmaskLength",
            "Ipv6CidrBlockNetworkBorderGroup",
            "VpcEncryptionControl.Mode",
            "VpcEncryptionControl.InternetGatewayExclusion",
            "VpcEncryptionControl.EgressOnlyInternetGatewayExclusion",
            "VpcEncryptionControl.NatGatewayExclusion",
            "VpcEncryptionControl.VirtualPrivateGatewayExclusion",
            "VpcEncryptionControl.VpcPeeringExclusion",
            "VpcEncryptionControl.LambdaExclusion",
            "VpcEncryptionControl.VpcLatticeExclusion",
            "VpcEncryptionControl.ElasticFileSystemExclusion",
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "DryRun",
            "InstanceTenancy",
            "AmazonProvidedIpv6CidrBlock",
        ],
    ),
    ("DeleteVpc", &["VpcId", "DryRun"]),
    (
        "ModifyVpcAttribute",
        &[
            "EnableDnsHostnames.Value",
            "EnableDnsSupport.Value",
            "VpcId",
            "EnableNetworkAddressUsageMetrics.Value",
        ],
    ),
    ("DescribeVpcAttribute", &["Attribute", "VpcId", "DryRun"]),
    (
        "CreateSubnet",
        &[
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "AvailabilityZone",
            "AvailabilityZoneId",
            "CidrBlock",
            "Ipv6CidrBlock",
            "OutpostArn",
            "VpcId",
            "Ipv6Native",
            "Ipv4IpamPoolId",
            "Ipv4NetmaskLength",
            "Ipv6IpamPoolId",
            "Ipv6NetmaskLength",
            "DryRun",
        ],
    ),
    ("DeleteSubnet", &["SubnetId", "DryRun"]),
    (
        "ModifySubnetAttribute",
        &[
            "AssignIpv6AddressOnCreation.Value",
            "MapPublicIpOnLaunch.Value",
            "SubnetId",
            "MapCustomerOwnedIpOnLaunch.Value",
            "CustomerOwnedIpv4Pool",
            "EnableDns64.Value",
            "PrivateDnsHostnameTypeOnLaunch",
            "EnableResourceNameDnsARecordOnLaunch.Value",
            "EnableResourceNameDnsAAAARecordOnLaunch.Value",
            "EnableLniAtDeviceIndex",
            "DisableLniAtDeviceIndex.Value",
        ],
    ),
    (
        "CreateSecurityGroup",
        &[
            "GroupDescription",
            "GroupName",
            "VpcId",
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "DryRun",
        ],
    ),
    ("DeleteSecurityGroup", &["GroupId", "GroupName", "DryRun"]),
    (
        "AuthorizeSecurityGroupIngress",
        &[
            "CidrIp",
            "FromPort",
            "GroupId",
            "GroupName",
            "IpPermissions.#.IpProtocol",
            "IpPermissions.#.FromPort",
            "IpPermissions.#.ToPort",
            "IpPermissions.#.Groups.#.Description",
            "IpPermissions.#.Groups.#.UserId",
            "IpPermissions.#.Groups.#.GroupName",
            "IpPermissions.#.Groups.#.GroupId",
            "IpPermissions.#.Groups.#.VpcId",
            "IpPermissions.#.Groups.#.VpcPeeringConnectionId",
            "IpPermissions.#.Groups.#.PeeringStatus",
            "IpPermissions.#.IpRanges.#.Description",
            "IpPermissions.#.IpRanges.#.CidrIp",
            "IpPermissions.#.Ipv6Ranges.#.Description",
            "IpPermissions.#.Ipv6Ranges.#.CidrIpv6",
            "IpPermissions.#.PrefixListIds.#.Description",
            "IpPermissions.#.PrefixListIds.#.PrefixListId",
            "IpProtocol",
            "SourceSecurityGroupName",
            "SourceSecurityGroupOwnerId",
            "ToPort",
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "DryRun",
        ],
    ),
    (
        "AuthorizeSecurityGroupEgress",
        &[
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "DryRun",
            "GroupId",
            "SourceSecurityGroupName",
            "SourceSecurityGroupOwnerId",
            "IpProtocol",
            "FromPort",
            "ToPort",
            "CidrIp",
            "IpPermissions.#.IpProtocol",
            "IpPermissions.#.FromPort",
            "IpPermissions.#.ToPort",
            "IpPermissions.#.Groups.#.Description",
            "IpPermissions.#.Groups.#.UserId",
            "IpPermissions.#.Groups.#.GroupName",
            "IpPermissions.#.Groups.#.GroupId",
            "IpPermissions.#.Groups.#.VpcId",
            "IpPermissions.#.Groups.#.VpcPeeringConnectionId",
            "IpPermissions.#.Groups.#.PeeringStatus",
            "IpPermissions.#.IpRanges.#.Description",
            "IpPermissions.#.IpRanges.#.CidrIp",
            "IpPermissions.#.Ipv6Ranges.#.Description",
            "IpPermissions.#.Ipv6Ranges.#.CidrIpv6",
            "IpPermissions.#.PrefixListIds.#.Description",
            "IpPermissions.#.PrefixListIds.#.PrefixListId",
        ],
    ),
    (
        "RevokeSecurityGroupIngress",
        &[
            "CidrIp",
            "FromPort",
            "GroupId",
            "GroupName",
            "IpPermissions.#.IpProtocol",
            "IpPermissions.#.FromPort",
            "IpPermissions.#.ToPort",
            "IpPermissions.#.Groups.#.Description",
            "IpPermissions.#.Groups.#.UserId",
            "IpPermissions.#.Groups.#.GroupName",
            "IpPermissions.#.Groups.#.GroupId",
            "IpPermissions.#.Groups.#.VpcId",
            "IpPermissions.#.Groups.#.VpcPeeringConnectionId",
            "IpPermissions.#.Groups.#.PeeringStatus",
            "IpPermissions.#.IpRanges.#.Description",
            "IpPermissions.#.IpRanges.#.CidrIp",
            "IpPermissions.#.Ipv6Ranges.#.Description",
            "IpPermissions.#.Ipv6Ranges.#.CidrIpv6",
            "IpPermissions.#.PrefixListIds.#.Description",
            "IpPermissions.#.PrefixListIds.#.PrefixListId",
            "IpProtocol",
            "SourceSecurityGroupName",
            "SourceSecurityGroupOwnerId",
            "ToPort",
            "SecurityGroupRuleId.#",
            "DryRun",
        ],
    ),
    (
        "RevokeSecurityGroupEgress",
        &[
            "SecurityGroupRuleId.#",
            "DryRun",
            "GroupId",
            "SourceSecurityGroupName",
            "SourceSecurityGroupOwnerId",
            "IpProtocol",
            "FromPort",
            "ToPort",
            "CidrIp",
            "IpPermissions.#.IpProtocol",
            "IpPermissions.#.FromPort",
            "IpPermissions.#.ToPort",
            "IpPermissions.#.Groups.#.Description",
            "IpPermissions.#.Groups.#.UserId",
            "IpPermissions.#.Groups.#.GroupName",
            "IpPermissions.#.Groups.#.GroupId",
            "IpPermissions.#.Groups.#.VpcId",
            "IpPermissions.#.Groups.#.VpcPeeringConnectionId",
            "IpPermissions.#.Groups.#.PeeringStatus",
            "IpPermissions.#.IpRanges.#.Description",
            "IpPermissions.#.IpRanges.#.CidrIp",
            "IpPermissions.#.Ipv6Ranges.#.Description",
            "IpPermissions.#.Ipv6Ranges.#.CidrIpv6",
            "IpPermissions.#.PrefixListIds.#.Description",
            "IpPermissions.#.PrefixListIds.#.PrefixListId",
        ],
    ),
    (
        "DescribeSecurityGroupRules",
        &[
            "Filter.#.Name",
            "Filter.#.Value.#",
            "SecurityGroupRuleId.#",
            "DryRun",
            "NextToken",
            "MaxResults",
        ],
    ),
    (
        "CreateNetworkAcl",
        &[
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "ClientToken",
            "DryRun",
            "VpcId",
        ],
    ),
    ("DeleteNetworkAcl", &["DryRun", "NetworkAclId"]),
    (
        "CreateNetworkAclEntry",
        &[
            "DryRun",
            "NetworkAclId",
            "RuleNumber",
            "Protocol",
            "RuleAction",
            "Egress",
            "CidrBlock",
            "Ipv6CidrBlock",
            "Icmp.Code",
            "Icmp.Type",
            "PortRange.From",
            "PortRange.To",
        ],
    ),
    (
        "ReplaceNetworkAclEntry",
        &[
            "DryRun",
            "NetworkAclId",
            "RuleNumber",
            "Protocol",
            "RuleAction",
            "Egress",
            "CidrBlock",
            "Ipv6CidrBlock",
            "Icmp.Code",
            "Icmp.Type",
            "PortRange.From",
            "PortRange.To",
        ],
    ),
    (
        "DeleteNetworkAclEntry",
        &["DryRun", "NetworkAclId", "RuleNumber", "Egress"],
    ),
    (
        "ReplaceNetworkAclAssociation",
        &["DryRun", "AssociationId", "NetworkAclId"],
    ),
    (
        "CreateInternetGateway",
        &[
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "DryRun",
        ],
    ),
    (
        "AttachInternetGateway",
        &["DryRun", "InternetGatewayId", "VpcId"],
    ),
    (
        "DetachInternetGateway",
        &["DryRun", "InternetGatewayId", "VpcId"],
    ),
    ("DeleteInternetGateway", &["DryRun", "InternetGatewayId"]),
    (
        "DescribeInternetGateways",
        &[
            "NextToken",
            "MaxResults",
            "DryRun",
            "InternetGatewayId.#",
            "Filter.#.Name",
            "Filter.#.Value.#",
        ],
    ),
    (
        "AllocateAddress",
        &[
            "Domain",
            "Address",
            "PublicIpv4Pool",
            "NetworkBorderGroup",
            "CustomerOwnedIpv4Pool",
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "IpamPoolId",
            "DryRun",
        ],
    ),
    (
        "ReleaseAddress",
        &["AllocationId", "PublicIp", "NetworkBorderGroup", "DryRun"],
    ),
    (
        "DescribeAddresses",
        &[
            "PublicIp.#",
            "DryRun",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "AllocationId.#",
        ],
    ),
    (
        "CreateNatGateway",
        &[
            "AvailabilityMode",
            "AllocationId",
            "ClientToken",
            "DryRun",
            "SubnetId",
            "VpcId",
            "AvailabilityZoneAddress.#.AvailabilityZone",
            "AvailabilityZoneAddress.#.AvailabilityZoneId",
            "AvailabilityZoneAddress.#.AllocationId.#",
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "ConnectivityType",
            "PrivateIpAddress",
            "SecondaryAllocationId.#",
            "SecondaryPrivateIpAddress.#",
            "SecondaryPrivateIpAddressCount",
        ],
    ),
    ("DeleteNatGateway", &["DryRun", "NatGatewayId"]),
    (
        "DescribeNatGateways",
        &[
            "DryRun",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "MaxResults",
            "NatGatewayId.#",
            "NextToken",
        ],
    ),
    (
        "CreateRouteTable",
        &[
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "ClientToken",
            "DryRun",
            "VpcId",
        ],
    ),
    ("DeleteRouteTable", &["DryRun", "RouteTableId"]),
    (
        "CreateRoute",
        &[
            "DestinationPrefixListId",
            "VpcEndpointId",
            "TransitGatewayId",
            "LocalGatewayId",
            "CarrierGatewayId",
            "CoreNetworkArn",
            "OdbNetworkArn",
            "DryRun",
            "RouteTableId",
            "DestinationCidrBlock",
            "GatewayId",
            "DestinationIpv6CidrBlock",
            "EgressOnlyInternetGatewayId",
            "InstanceId",
            "NetworkInterfaceId",
            "VpcPeeringConnectionId",
            "NatGatewayId",
        ],
    ),
    (
        "ReplaceRoute",
        &[
            "DestinationPrefixListId",
            "VpcEndpointId",
            "LocalTarget",
            "TransitGatewayId",
            "LocalGatewayId",
            "CarrierGatewayId",
            "CoreNetworkArn",
            "OdbNetworkArn",
            "DryRun",
            "RouteTableId",
            "DestinationCidrBlock",
            "GatewayId",
            "DestinationIpv6CidrBlock",
            "EgressOnlyInternetGatewayId",
            "InstanceId",
            "NetworkInterfaceId",
            "VpcPeeringConnectionId",
            "NatGatewayId",
        ],
    ),
    (
        "DeleteRoute",
        &[
            "DestinationPrefixListId",
            "DryRun",
            "RouteTableId",
            "DestinationCidrBlock",
            "DestinationIpv6CidrBlock",
        ],
    ),
    (
        "AssociateRouteTable",
        &[
            "GatewayId",
            "PublicIpv4Pool",
            "DryRun",
            "SubnetId",
            "RouteTableId",
        ],
    ),
    ("DisassociateRouteTable", &["DryRun", "AssociationId"]),
    (
        "CreateNetworkInterface",
        &[
            "Ipv4Prefix.#.Ipv4Prefix",
            "Ipv4PrefixCount",
            "Ipv6Prefix.#.Ipv6Prefix",
            "Ipv6PrefixCount",
            "InterfaceType",
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "ClientToken",
            "EnablePrimaryIpv6",
            "ConnectionTrackingSpecification.TcpEstablishedTimeout",
            "ConnectionTrackingSpecification.UdpStreamTimeout",
            "ConnectionTrackingSpecification.UdpTimeout",
            "Operator.Principal",
            "SubnetId",
            "Description",
            "PrivateIpAddress",
            "SecurityGroupId.#",
            "PrivateIpAddresses.#.Primary",
            "PrivateIpAddresses.#.PrivateIpAddress",
            "SecondaryPrivateIpAddressCount",
            "Ipv6Addresses.#.Ipv6Address",
            "Ipv6Addresses.#.IsPrimaryIpv6",
            "Ipv6AddressCount",
            "DryRun",
        ],
    ),
    ("DeleteNetworkInterface", &["DryRun", "NetworkInterfaceId"]),
    (
        "RunInstances",
        &[
            "BlockDeviceMapping.#.Ebs.DeleteOnTermination",
            "BlockDeviceMapping.#.Ebs.Iops",
            "BlockDeviceMapping.#.Ebs.SnapshotId",
            "BlockDeviceMapping.#.Ebs.VolumeSize",
            "BlockDeviceMapping.#.Ebs.VolumeType",
            "BlockDeviceMapping.#.Ebs.KmsKeyId",
            "BlockDeviceMapping.#.Ebs.Throughput",
            "BlockDeviceMapping.#.Ebs.OutpostArn",
            "BlockDeviceMapping.#.Ebs.AvailabilityZone",
            "BlockDeviceMapping.#.Ebs.Encrypted",
            "BlockDeviceMapping.#.Ebs.VolumeInitializationRate",
            "BlockDeviceMapping.#.Ebs.AvailabilityZoneId",
            "BlockDeviceMapping.#.Ebs.EbsCardIndex",
            "BlockDeviceMapping.#.NoDevice",
            "BlockDeviceMapping.#.DeviceName",
            "BlockDeviceMapping.#.VirtualName",
            "ImageId",
            "InstanceType",
            "Ipv6AddressCount",
            "Ipv6Address.#.Ipv6Address",
            "Ipv6Address.#.IsPrimaryIpv6",
            "KernelId",
            "KeyName",
            "MaxCount",
            "MinCount",
            "Monitoring.Enabled",
            "Placement.AvailabilityZoneId",
            "Placement.Affinity",
            "Placement.GroupName",
            "Placement.PartitionNumber",
            "Placement.HostId",
            "Placement.Tenancy",
            "Placement.SpreadDomain",
            "Placement.HostResourceGroupArn",
            "Placement.GroupId",
            "Placement.AvailabilityZone",
            "RamdiskId",
            "SecurityGroupId.#",
            "SecurityGroup.#",
            "SubnetId",
            "UserData",
            "ElasticGpuSpecification.#.Type",
            "ElasticInferenceAccelerator.#.Type",
            "ElasticInferenceAccelerator.#.Count",
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "LaunchTemplate.LaunchTemplateId",
            "LaunchTemplate.LaunchTemplateName",
            "LaunchTemplate.Version",
            "InstanceMarketOptions.MarketType",
            "InstanceMarketOptions.SpotOptions.MaxPrice",
            "InstanceMarketOptions.SpotOptions.SpotInstanceType",
            "InstanceMarketOptions.SpotOptions.BlockDurationMinutes",
            "InstanceMarketOptions.SpotOptions.ValidUntil",
            "InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior",
            "CreditSpecification.CpuCredits",
            "CpuOptions.CoreCount",
            "CpuOptions.ThreadsPerCore",
            "CpuOptions.AmdSevSnp",
            "CpuOptions.NestedVirtualization",
            "CapacityReservationSpecification.CapacityReservationPreference",
            "CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId",
            "CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationResourceGroupArn",
            "HibernationOptions.Configured",
            "LicenseSpecification.#.LicenseConfigurationArn",
            "MetadataOptions.HttpTokens",
            "MetadataOptions.HttpPutResponseHopLimit",
            "MetadataOptions.HttpEndpoint",
            "MetadataOptions.HttpProtocolIpv6",
            "MetadataOptions.InstanceMetadataTags",
            "EnclaveOptions.Enabled",
            "PrivateDnsNameOptions.HostnameType",
            "PrivateDnsNameOptions.EnableResourceNameDnsARecord",
            "PrivateDnsNameOptions.EnableResourceNameDnsAAAARecord",
            "MaintenanceOptions.AutoRecovery",
            "DisableApiStop",
            "EnablePrimaryIpv6",
            "NetworkPerformanceOptions.BandwidthWeighting",
            "Operator.Principal",
            "SecondaryInterface.#.DeleteOnTermination",
            "SecondaryInterface.#.DeviceIndex",
            "SecondaryInterface.#.PrivateIpAddress.#.PrivateIpAddress",
            "SecondaryInterface.#.PrivateIpAddressCount",
            "SecondaryInterface.#.SecondarySubnetId",
            "SecondaryInterface.#.InterfaceType",
            "SecondaryInterface.#.NetworkCardIndex",
            "DryRun",
            "DisableApiTermination",
            "InstanceInitiatedShutdownBehavior",
            "PrivateIpAddress",
            "ClientToken",
            "AdditionalInfo",
            "NetworkInterface.#.AssociatePublicIpAddress",
            "NetworkInterface.#.DeleteOnTermination",
            "NetworkInterface.#.Description",
            "NetworkInterface.#.DeviceIndex",
            "NetworkInterface.#.SecurityGroupId.#",
            "NetworkInterface.#.Ipv6AddressCount",
            "NetworkInterface.#.Ipv6Addresses.#.Ipv6Address",
            "NetworkInterface.#.Ipv6Addresses.#.IsPrimaryIpv6",
            "NetworkInterface.#.NetworkInterfaceId",
            "NetworkInterface.#.PrivateIpAddress",
            "NetworkInterface.#.PrivateIpAddresses.#.Primary",
            "NetworkInterface.#.PrivateIpAddresses.#.PrivateIpAddress",
            "NetworkInterface.#.SecondaryPrivateIpAddressCount",
            "NetworkInterface.#.SubnetId",
            "NetworkInterface.#.AssociateCarrierIpAddress",
            "NetworkInterface.#.InterfaceType",
            "NetworkInterface.#.NetworkCardIndex",
            "NetworkInterface.#.Ipv4Prefix.#.Ipv4Prefix",
            "NetworkInterface.#.Ipv4PrefixCount",
            "NetworkInterface.#.Ipv6Prefix.#.Ipv6Prefix",
            "NetworkInterface.#.Ipv6PrefixCount",
            "NetworkInterface.#.PrimaryIpv6",
            "NetworkInterface.#.EnaSrdSpecification.EnaSrdEnabled",
            "NetworkInterface.#.EnaSrdSpecification.EnaSrdUdpSpecification.EnaSrdUdpEnabled",
            "NetworkInterface.#.ConnectionTrackingSpecification.TcpEstablishedTimeout",
            "NetworkInterface.#.ConnectionTrackingSpecification.UdpStreamTimeout",
            "NetworkInterface.#.ConnectionTrackingSpecification.UdpTimeout",
            "NetworkInterface.#.EnaQueueCount",
            "IamInstanceProfile.Arn",
            "IamInstanceProfile.Name",
            "EbsOptimized",
        ],
    ),
    (
        "TerminateInstances",
        &["InstanceId.#", "Force", "SkipOsShutdown", "DryRun"],
    ),
    (
        "DescribeInstances",
        &[
            "InstanceId.#",
            "IncludeManagedResources",
            "DryRun",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "NextToken",
            "MaxResults",
        ],
    ),
];

fn error(kind: ErrorKind, message: impl Into<String>) -> ApiError {
    ApiError::new(kind, message)
}

fn required(form: &Form, name: &str) -> Result<String, ApiError> {
    text(form, name).ok_or_else(|| {
        error(
            ErrorKind::MissingParameter,
            format!("The request must contain the parameter {name}"),
        )
    })
}

/// The tags `TagSpecification.N` gives resources of type `kind` (among those `allowed`).
fn spec_tags(form: &Form, kind: &str, allowed: &[&str]) -> Result<Tags, ApiError> {
    let mut out = Tags::new();
    for i in 1..=form.count("TagSpecification") {
        let at = format!("TagSpecification.{i}");
        let t = form.get(&format!("{at}.ResourceType")).unwrap_or_default();
        if !allowed.contains(&t) {
            return Err(error(
                ErrorKind::InvalidParameterValue,
                format!("'{t}' is not a valid taggable resource type for this operation."),
            ));
        }
        if t != kind {
            continue;
        }
        for j in 1..=form.count(&format!("{at}.Tag")) {
            let key = form.get(&format!("{at}.Tag.{j}.Key")).unwrap_or_default();
            let value = form.get(&format!("{at}.Tag.{j}.Value")).unwrap_or_default();
            out.insert(key.to_owned(), value.to_owned());
        }
    }
    Ok(out)
}

/// `IpPermissions.N`, or the flat `IpProtocol`, `FromPort`, `ToPort`, `CidrIp` and
/// `SourceSecurityGroupName` form of the older API.
fn permissions(form: &Form) -> Result<Vec<Permission>, ApiError> {
    let mut out = Vec::new();
    for i in 1..=form.count("IpPermissions") {
        let at = format!("IpPermissions.{i}");
        let mut peers = Vec::new();
        let described = |p: &str, j: usize| text(form, &format!("{at}.{p}.{j}.Description"));
        for j in 1..=form.count(&format!("{at}.IpRanges")) {
            if let Some(c) = text(form, &format!("{at}.IpRanges.{j}.CidrIp")) {
                peers.push((Peer::Cidr(c), described("IpRanges", j)));
            }
        }
        for j in 1..=form.count(&format!("{at}.Ipv6Ranges")) {
            if let Some(c) = text(form, &format!("{at}.Ipv6Ranges.{j}.CidrIpv6")) {
                peers.push((Peer::Cidr(c), described("Ipv6Ranges", j)));
            }
        }
        for j in 1..=form.count(&format!("{at}.Groups")) {
            if let Some(g) = text(form, &format!("{at}.Groups.{j}.GroupId")) {
                peers.push((Peer::Group(g), described("Groups", j)));
            }
        }
        for j in 1..=form.count(&format!("{at}.PrefixListIds")) {
            if let Some(p) = text(form, &format!("{at}.PrefixListIds.{j}.PrefixListId")) {
                peers.push((Peer::PrefixList(p), described("PrefixListIds", j)));
            }
        }
        out.push(Permission {
            protocol: text(form, &format!("{at}.IpProtocol")).unwrap_or_else(|| "-1".to_owned()),
            from: integer(form, &format!("{at}.FromPort"))?,
            to: integer(form, &format!("{at}.ToPort"))?,
            peers,
        });
    }
    if let Some(protocol) = text(form, "IpProtocol") {
        let mut peers = Vec::new();
        if let Some(c) = text(form, "CidrIp") {
            peers.push((Peer::Cidr(c), None));
        }
        out.push(Permission {
            protocol,
            from: integer(form, "FromPort")?,
            to: integer(form, "ToPort")?,
            peers,
        });
    }
    Ok(out)
}

fn acl_entry(form: &Form) -> Result<AclEntry, ApiError> {
    let from = integer(form, "PortRange.From")?;
    let to = integer(form, "PortRange.To")?;
    Ok(AclEntry {
        acl: required(form, "NetworkAclId")?,
        rule: integer(form, "RuleNumber")?.ok_or_else(|| {
            error(
                ErrorKind::MissingParameter,
                "The request must contain the parameter RuleNumber",
            )
        })?,
        protocol: required(form, "Protocol")?,
        action: required(form, "RuleAction")?,
        egress: boolean(form, "Egress")?.unwrap_or(false),
        cidr: text(form, "CidrBlock").or_else(|| text(form, "Ipv6CidrBlock")),
        ports: from.zip(to),
    })
}

/// The route's target: whichever target parameter is given.
fn route_target(form: &Form) -> String {
    [
        "GatewayId",
        "NatGatewayId",
        "NetworkInterfaceId",
        "VpcPeeringConnectionId",
        "TransitGatewayId",
        "InstanceId",
        "VpcEndpointId",
        "EgressOnlyInternetGatewayId",
        "LocalGatewayId",
        "CarrierGatewayId",
    ]
    .iter()
    .find_map(|p| text(form, p))
    .unwrap_or_default()
}

fn run_instances(form: &Form) -> Result<RunInstances, ApiError> {
    let count = |name: &str| -> Result<i64, ApiError> {
        integer(form, name)?.ok_or_else(|| {
            error(
                ErrorKind::MissingParameter,
                format!("The request must contain the parameter {name}"),
            )
        })
    };
    let mut groups = owned(form.list("SecurityGroupId"));
    let mut subnet = text(form, "SubnetId");
    let mut private_ip = text(form, "PrivateIpAddress");
    // The first network interface, where a request puts its subnet and groups there.
    if form.count("NetworkInterface") > 0 {
        subnet = subnet.or_else(|| text(form, "NetworkInterface.1.SubnetId"));
        private_ip = private_ip.or_else(|| text(form, "NetworkInterface.1.PrivateIpAddress"));
        groups.extend(owned(form.list("NetworkInterface.1.SecurityGroupId")));
    }
    let allowed = [
        "instance",
        "network-interface",
        "volume",
        "spot-instances-request",
    ];
    Ok(RunInstances {
        image_id: text(form, "ImageId"),
        instance_type: text(form, "InstanceType"),
        subnet,
        groups,
        private_ip,
        min_count: count("MinCount")?,
        max_count: count("MaxCount")?,
        key_name: text(form, "KeyName"),
        tags: spec_tags(form, "instance", &allowed)?,
        eni_tags: spec_tags(form, "network-interface", &allowed)?,
    })
}

/// The network action a form carries, if its `Action` is one of [`NETWORK_ACTIONS`] that
/// changes something (the Describe* of these are [`Kind`]s).
pub fn action(name: &str, form: &Form) -> Option<Result<Action, ApiError>> {
    let tags = |kind: &str| spec_tags(form, kind, &[kind]);
    let req = |n: &str| required(form, n);
    let made = || -> Result<Action, ApiError> {
        Ok(match name {
            "CreateVpc" => Action::CreateVpc {
                cidr: req("CidrBlock")?,
                tags: tags("vpc")?,
            },
            "DeleteVpc" => Action::DeleteVpc { vpc: req("VpcId")? },
            "ModifyVpcAttribute" => Action::ModifyVpcAttribute {
                vpc: req("VpcId")?,
                dns_support: boolean(form, "EnableDnsSupport.Value")?,
                dns_hostnames: boolean(form, "EnableDnsHostnames.Value")?,
            },
            "CreateSubnet" => Action::CreateSubnet {
                vpc: req("VpcId")?,
                cidr: req("CidrBlock")?,
                az: text(form, "AvailabilityZone"),
                az_id: text(form, "AvailabilityZoneId"),
                tags: tags("subnet")?,
            },
            "DeleteSubnet" => Action::DeleteSubnet {
                subnet: req("SubnetId")?,
            },
            "ModifySubnetAttribute" => Action::ModifySubnetAttribute {
                subnet: req("SubnetId")?,
                map_public_ip: boolean(form, "MapPublicIpOnLaunch.Value")?,
            },
            "CreateSecurityGroup" => Action::CreateSecurityGroup {
                vpc: text(form, "VpcId"),
                name: req("GroupName")?,
                description: req("GroupDescription")?,
                tags: tags("security-group")?,
            },
            "DeleteSecurityGroup" => Action::DeleteSecurityGroup {
                group: text(form, "GroupId"),
                name: text(form, "GroupName"),
            },
            "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress" => Action::Authorize {
                group: req("GroupId")?,
                egress: name.ends_with("Egress"),
                permissions: permissions(form)?,
            },
            "RevokeSecurityGroupIngress" | "RevokeSecurityGroupEgress" => Action::Revoke {
                group: req("GroupId")?,
                egress: name.ends_with("Egress"),
                permissions: permissions(form)?,
                rule_ids: owned(form.list("SecurityGroupRuleId")),
            },
            "CreateNetworkAcl" => Action::CreateNetworkAcl {
                vpc: req("VpcId")?,
                tags: tags("network-acl")?,
            },
            "DeleteNetworkAcl" => Action::DeleteNetworkAcl {
                acl: req("NetworkAclId")?,
            },
            "CreateNetworkAclEntry" | "ReplaceNetworkAclEntry" => Action::PutNetworkAclEntry {
                entry: acl_entry(form)?,
                replace: name.starts_with("Replace"),
            },
            "DeleteNetworkAclEntry" => Action::DeleteNetworkAclEntry {
                acl: req("NetworkAclId")?,
                rule: integer(form, "RuleNumber")?.unwrap_or_default(),
                egress: boolean(form, "Egress")?.unwrap_or(false),
            },
            "ReplaceNetworkAclAssociation" => Action::ReplaceNetworkAclAssociation {
                association: req("AssociationId")?,
                acl: req("NetworkAclId")?,
            },
            "CreateInternetGateway" => Action::CreateInternetGateway {
                tags: tags("internet-gateway")?,
            },
            "AttachInternetGateway" => Action::AttachInternetGateway {
                igw: req("InternetGatewayId")?,
                vpc: req("VpcId")?,
            },
            "DetachInternetGateway" => Action::DetachInternetGateway {
                igw: req("InternetGatewayId")?,
                vpc: req("VpcId")?,
            },
            "DeleteInternetGateway" => Action::DeleteInternetGateway {
                igw: req("InternetGatewayId")?,
            },
            "AllocateAddress" => Action::AllocateAddress {
                tags: tags("elastic-ip")?,
            },
            "ReleaseAddress" => Action::ReleaseAddress {
                allocation: req("AllocationId")?,
            },
            "CreateNatGateway" => Action::CreateNatGateway {
                subnet: req("SubnetId")?,
                allocation: text(form, "AllocationId"),
                tags: tags("natgateway")?,
            },
            "DeleteNatGateway" => Action::DeleteNatGateway {
                nat: req("NatGatewayId")?,
            },
            "CreateRouteTable" => Action::CreateRouteTable {
                vpc: req("VpcId")?,
                tags: tags("route-table")?,
            },
            "DeleteRouteTable" => Action::DeleteRouteTable {
                rtb: req("RouteTableId")?,
            },
            "CreateRoute" | "ReplaceRoute" => Action::PutRoute {
                rtb: req("RouteTableId")?,
                destination: req("DestinationCidrBlock")?,
                target: route_target(form),
                replace: name == "ReplaceRoute",
            },
            "DeleteRoute" => Action::DeleteRoute {
                rtb: req("RouteTableId")?,
                destination: req("DestinationCidrBlock")?,
            },
            "AssociateRouteTable" => Action::AssociateRouteTable {
                rtb: req("RouteTableId")?,
                subnet: req("SubnetId")?,
            },
            "DisassociateRouteTable" => Action::DisassociateRouteTable {
                association: req("AssociationId")?,
            },
            "CreateNetworkInterface" => Action::CreateNetworkInterface {
                subnet: req("SubnetId")?,
                private_ip: text(form, "PrivateIpAddress"),
                groups: owned(form.list("SecurityGroupId")),
                description: text(form, "Description"),
                tags: tags("network-interface")?,
            },
            "DeleteNetworkInterface" => Action::DeleteNetworkInterface {
                eni: req("NetworkInterfaceId")?,
            },
            "RunInstances" => Action::RunInstances(Box::new(run_instances(form)?)),
            "TerminateInstances" => Action::TerminateInstances {
                ids: owned(form.list("InstanceId")),
            },
            _ => return Err(error(ErrorKind::InvalidAction, name)),
        })
    };
    let known = NETWORK_ACTIONS.iter().any(|(a, _)| *a == name)
        && Kind::of_action(name).is_none()
        && name != "DescribeVpcAttribute";
    known.then(made)
}

/// The item of resource `id` as Describe* of `kind` shows it in `t`.
fn item(kind: Kind, t: &Topology, id: &str) -> topology::Fields {
    topology::resources(kind, t)
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.fields)
        .unwrap_or_default()
}

/// What a made resource is answered as: the kind that describes it and the answer's element.
fn made_kind(action: &str) -> Option<(Kind, &'static str)> {
    Some(match action {
        "CreateVpc" => (Kind::Vpcs, "vpc"),
        "CreateSubnet" => (Kind::Subnets, "subnet"),
        "CreateNetworkAcl" => (Kind::NetworkAcls, "networkAcl"),
        "CreateInternetGateway" => (Kind::InternetGateways, "internetGateway"),
        "CreateNatGateway" => (Kind::NatGateways, "natGateway"),
        "CreateRouteTable" => (Kind::RouteTables, "routeTable"),
        "CreateNetworkInterface" => (Kind::NetworkInterfaces, "networkInterface"),
        _ => return None,
    })
}

/// An action's answer, with `t` the topology after it (where made resources are described).
pub fn response(action: &str, answer: &Answer, t: &Topology, request_id: &str) -> String {
    let mut out = open_answer(action, request_id);
    match answer {
        Answer::Done => out.push_str("<return>true</return>"),
        Answer::Made(id) if action == "AllocateAddress" => {
            let a = item(Kind::Addresses, t, id);
            for (name, node) in a.iter().filter(|(n, _)| {
                matches!(
                    *n,
                    "publicIp"
                        | "allocationId"
                        | "domain"
                        | "publicIpv4Pool"
                        | "networkBorderGroup"
                )
            }) {
                write_node(&mut out, name, node);
            }
        }
        Answer::Made(id) => {
            if let Some((kind, element_name)) = made_kind(action) {
                write_node(&mut out, element_name, &Node::Struct(item(kind, t, id)));
            }
        }
        Answer::Group(id) => {
            out.push_str("<return>true</return>");
            element(&mut out, "groupId", id);
            let g = item(Kind::SecurityGroups, t, id);
            if let Some((_, tags)) = g.iter().find(|(n, _)| *n == "tagSet") {
                write_node(&mut out, "tagSet", tags);
            }
        }
        Answer::Rules(ids) => {
            out.push_str("<return>true</return>");
            let rules = topology::resources(Kind::SecurityGroupRules, t);
            let items: Vec<topology::Fields> = ids
                .iter()
                .filter_map(|id| rules.iter().find(|r| &r.id == id))
                .map(|r| r.fields.clone())
                .collect();
            write_set(&mut out, "securityGroupRuleSet", &items);
        }
        Answer::Association(id) => {
            if action == "AssociateRouteTable" {
                element(&mut out, "associationId", id);
                out.push_str("<associationState><state>associated</state></associationState>");
            } else {
                element(&mut out, "newAssociationId", id);
            }
        }
        Answer::Deleted(id) => element(&mut out, "natGatewayId", id),
        Answer::Launched {
            reservation,
            instances,
        } => {
            let all = topology::resources(Kind::Instances, t);
            let mut owner = String::new();
            let items: Vec<topology::Fields> = instances
                .iter()
                .filter_map(|id| all.iter().find(|r| &r.id == id))
                .filter_map(|r| {
                    owner.clone_from(&r.owner);
                    r.fields.iter().find_map(|(n, v)| match (n, v) {
                        (&"instancesSet", Node::Set(items)) => items.first().cloned(),
                        _ => None,
                    })
                })
                .collect();
            element(&mut out, "reservationId", reservation);
            element(&mut out, "ownerId", &owner);
            out.push_str("<groupSet/>");
            write_set(&mut out, "instancesSet", &items);
        }
        Answer::Terminated(ids) => {
            let items: Vec<topology::Fields> = ids
                .iter()
                .map(|id| {
                    vec![
                        ("instanceId", Node::Text(id.clone())),
                        (
                            "currentState",
                            Node::Struct(vec![
                                ("code", Node::Text("32".to_owned())),
                                ("name", Node::Text("shutting-down".to_owned())),
                            ]),
                        ),
                        (
                            "previousState",
                            Node::Struct(vec![
                                ("code", Node::Text("16".to_owned())),
                                ("name", Node::Text("running".to_owned())),
                            ]),
                        ),
                    ]
                })
                .collect();
            write_set(&mut out, "instancesSet", &items);
        }
    }
    out.push_str(&format!("</{action}Response>"));
    out
}

/// DescribeVpcAttribute's request: the VPC and the attribute.
pub fn vpc_attribute_request(form: &Form) -> Result<(String, String), ApiError> {
    Ok((required(form, "VpcId")?, required(form, "Attribute")?))
}

/// DescribeVpcAttribute's answer, from the VPC as `t` holds it (one of `account`'s;
/// `topology::vpc_attribute` decides the value).
pub fn vpc_attribute(
    (vpc, attribute): (&str, &str),
    t: &Topology,
    account: Option<&str>,
    request_id: &str,
) -> Result<String, ApiError> {
    let value = topology::vpc_attribute(t, vpc, attribute, account)?;
    let mut out = open_answer("DescribeVpcAttribute", request_id);
    element(&mut out, "vpcId", vpc);
    out.push_str(&format!(
        "<{attribute}><value>{value}</value></{attribute}>"
    ));
    out.push_str("</DescribeVpcAttributeResponse>");
    Ok(out)
}
