//! Flow-log subscriptions with CreateFlowLogs / DescribeFlowLogs / DeleteFlowLogs semantics.
//!
//! Owns the request shape (the API's parameters, snake_case as in `[[flow_logs]]`), the one
//! table of error codes ([`ERROR_CODES`]) with AWS's messages (flow-log-format.md §7.4), and the
//! validation that turns a request into [`FlowLog`]s. Validation does no I/O: what it needs to
//! know of the world (the network, existing flow logs, buckets, delivery streams, the time and
//! the next ids) comes in a [`Context`]; storing the result is `state`'s business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vpcflow_net::Network;
use vpcflow_record::LogFormat;

/// One row of the error registry: an EC2 error code, its HTTP status and when it is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCodeDef {
    /// The error.
    pub kind: ErrorKind,
    /// The code the EC2 API returns (`InvalidParameter`).
    pub code: &'static str,
    /// HTTP status of the response.
    pub http_status: u16,
    /// When it is returned.
    pub meaning: &'static str,
}

macro_rules! error_codes {
    ($( $variant:ident $code:literal $status:literal $meaning:literal; )*) => {
        /// Every error CreateFlowLogs, DescribeFlowLogs and DeleteFlowLogs return, and those of
        /// the query protocol that carries them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorKind { $( #[doc = $meaning] $variant, )* }

        /// The error registry: code, status and meaning of every [`ErrorKind`], once.
        pub static ERROR_CODES: &[ErrorCodeDef] = &[
            $( ErrorCodeDef { kind: ErrorKind::$variant, code: $code, http_status: $status, meaning: $meaning }, )*
        ];
    };
}

error_codes! {
    InvalidParameter "InvalidParameter" 400 "A parameter is invalid or parameters contradict each other.";
    InvalidParameterValue "InvalidParameterValue" 400 "A parameter's value is not one of those allowed.";
    MissingParameter "MissingParameter" 400 "A required parameter is missing.";
    FlowLogAlreadyExists "FlowLogAlreadyExists" 400 "A flow log with the same resource, configuration and destination exists.";
    FlowLogNotFound "InvalidFlowLogId.NotFound" 400 "DeleteFlowLogs or DescribeFlowLogs named ids that do not exist.";
    VpcNotFound "InvalidVpcID.NotFound" 400 "The VPC of a ResourceId does not exist.";
    SubnetNotFound "InvalidSubnetID.NotFound" 400 "The subnet of a ResourceId does not exist.";
    NetworkInterfaceNotFound "InvalidNetworkInterfaceID.NotFound" 400 "The network interface of a ResourceId does not exist.";
    GroupNotFound "InvalidGroup.NotFound" 400 "DescribeSecurityGroups named a group that does not exist.";
    NetworkAclNotFound "InvalidNetworkAclID.NotFound" 400 "DescribeNetworkAcls named an ACL that does not exist.";
    RouteTableNotFound "InvalidRouteTableID.NotFound" 400 "DescribeRouteTables named a route table that does not exist.";
    VpcIdMalformed "InvalidVpcID.Malformed" 400 "A VPC id that is not vpc- and hex digits.";
    SubnetIdMalformed "InvalidSubnetID.Malformed" 400 "A subnet id that is not subnet- and hex digits.";
    NetworkInterfaceIdMalformed "InvalidNetworkInterfaceID.Malformed" 400 "A network interface id that is not eni- and hex digits.";
    GroupIdMalformed "InvalidGroupId.Malformed" 400 "A security group id that is not sg- and hex digits.";
    NetworkAclIdMalformed "InvalidNetworkAclID.Malformed" 400 "A network ACL id that is not acl- and hex digits.";
    RouteTableIdMalformed "InvalidRouteTableID.Malformed" 400 "A route table id that is not rtb- and hex digits.";
    IdempotentParameterMismatch "IdempotentParameterMismatch" 400 "A ClientToken was reused with different parameters.";
    InvalidParameterCombination "InvalidParameterCombination" 400 "Parameters that cannot be used together (DescribeFlowLogs: FlowLogId with MaxResults).";
    InvalidPaginationToken "InvalidPaginationToken" 400 "A NextToken that no earlier page returned.";
    LogDestinationNotFound "400" 400 "Per-resource (Unsuccessful item): the S3 bucket or Firehose stream does not exist.";
    TagLimitExceeded "TagLimitExceeded" 400 "A resource would carry more than 50 tags.";
    InvalidId "InvalidID" 400 "A resource id that is not a flow log's (vpcflow tags flow logs only).";
    InvalidAction "InvalidAction" 400 "The request's Action is not one this service answers.";
    UnknownParameter "UnknownParameter" 400 "A request parameter the action does not take.";
    MalformedRequest "InvalidRequest" 400 "The request body is not a form AWS's query protocol sends (bad encoding, too large).";
    DryRunOperation "DryRunOperation" 412 "Request would have succeeded, but DryRun flag is set.";
    DependencyViolation "DependencyViolation" 400 "A resource that others still depend on cannot be deleted or detached.";
    CannotDelete "CannotDelete" 400 "The default security group cannot be deleted by a user.";
    UnauthorizedOperation "UnauthorizedOperation" 403 "A resource the topology file defines cannot be changed through the API (change the file).";
    VpcRange "InvalidVpc.Range" 400 "A VPC's CIDR block is not /16 to /28.";
    SubnetRange "InvalidSubnet.Range" 400 "A subnet's CIDR block is not /16 to /28 or not inside its VPC's.";
    SubnetConflict "InvalidSubnet.Conflict" 400 "A subnet's CIDR block overlaps another subnet's in the VPC.";
    GroupDuplicate "InvalidGroup.Duplicate" 400 "A security group of that name exists in the VPC.";
    PermissionDuplicate "InvalidPermission.Duplicate" 400 "A security group rule that exists was authorized again.";
    PermissionNotFound "InvalidPermission.NotFound" 400 "A security group rule that does not exist was revoked.";
    SecurityGroupRuleIdMalformed "InvalidSecurityGroupRuleId.Malformed" 400 "A security group rule id that is not sgr- and hex digits.";
    SecurityGroupRuleNotFound "InvalidSecurityGroupRuleId.NotFound" 400 "A security group rule id that does not exist.";
    NetworkAclEntryAlreadyExists "NetworkAclEntryAlreadyExists" 400 "A network ACL entry of that number and direction exists.";
    NetworkAclEntryNotFound "InvalidNetworkAclEntry.NotFound" 400 "A network ACL entry that does not exist was replaced or deleted.";
    AssociationNotFound "InvalidAssociationID.NotFound" 400 "An association id that does not exist.";
    InternetGatewayNotFound "InvalidInternetGatewayID.NotFound" 400 "An internet gateway that does not exist.";
    InternetGatewayIdMalformed "InvalidInternetGatewayId.Malformed" 400 "An internet gateway id that is not igw- and hex digits.";
    AlreadyAssociated "Resource.AlreadyAssociated" 400 "An internet gateway already attached, or a VPC that already has one.";
    GatewayNotAttached "Gateway.NotAttached" 400 "An internet gateway detached from a VPC it is not attached to.";
    NatGatewayNotFound "NatGatewayNotFound" 400 "A NAT gateway that does not exist.";
    NatGatewayMalformed "InvalidNatGatewayID.Malformed" 400 "A NAT gateway id that is not nat- and hex digits.";
    AllocationNotFound "InvalidAllocationID.NotFound" 400 "An Elastic IP allocation that does not exist.";
    AddressInUse "InvalidIPAddress.InUse" 400 "A private or Elastic IP address already in use.";
    RouteAlreadyExists "RouteAlreadyExists" 400 "A route to that destination exists in the route table.";
    RouteNotFound "InvalidRoute.NotFound" 400 "No route to that destination in the route table.";
    GatewayIdNotFound "InvalidGatewayID.NotFound" 400 "A route target gateway that does not exist.";
    InstanceNotFound "InvalidInstanceID.NotFound" 400 "An instance that does not exist.";
    InstanceIdMalformed "InvalidInstanceID.Malformed" 400 "An instance id that is not i- and hex digits.";
    AmiIdMalformed "InvalidAMIID.Malformed" 400 "An image id that is not ami- and hex digits.";
    InvalidSubnet "InvalidSubnet" 400 "The subnet has no free address, or none was named and none is the caller's.";
    VpcIdNotSpecified "VPCIdNotSpecified" 400 "A security group was created with no VpcId, and there is no default VPC.";
    OperationNotPermitted "OperationNotPermitted" 400 "An action on a default resource AWS does not allow (deleting a VPC's main route table's association).";
    InternalError "InternalError" 500 "The store failed while answering (the server's fault, not the request's).";
}

impl ErrorKind {
    /// This error's registry row.
    pub fn def(self) -> &'static ErrorCodeDef {
        ERROR_CODES
            .iter()
            .find(|d| d.kind == self)
            .expect("every kind has a row")
    }

    /// The EC2 error code.
    pub fn code(self) -> &'static str {
        self.def().code
    }
}

/// An error as the EC2 API returns it: a code and AWS's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{} ({}): {message}", kind.code(), who(*kind))]
pub struct ApiError {
    /// Which error.
    pub kind: ErrorKind,
    /// The message, AWS's wording where it is known.
    pub message: String,
    /// Why, where AWS's message does not say (which field of a format is unknown): for people
    /// reading a config's errors; the API answers with AWS's message alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Every API error is the caller's: the request or its configuration.
fn who(_: ErrorKind) -> &'static str {
    "the request is at fault"
}

impl ApiError {
    /// An error of `kind` saying `message` (AWS's words).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
            detail: None,
        }
    }

    fn because(mut self, detail: impl std::fmt::Display) -> ApiError {
        self.detail = Some(detail.to_string());
        self
    }
}

/// `ResourceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResourceType {
    /// `VPC`: every ENI of the VPC, including ENIs added later.
    #[serde(rename = "VPC")]
    Vpc,
    /// `Subnet`: every ENI of the subnet.
    Subnet,
    /// `NetworkInterface`: one ENI.
    NetworkInterface,
}

impl ResourceType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Vpc => "VPC",
            ResourceType::Subnet => "Subnet",
            ResourceType::NetworkInterface => "NetworkInterface",
        }
    }
}

/// `TrafficType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TrafficType {
    /// Accepted traffic only.
    Accept,
    /// Rejected traffic only.
    Reject,
    /// Everything.
    All,
}

impl TrafficType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficType::Accept => "ACCEPT",
            TrafficType::Reject => "REJECT",
            TrafficType::All => "ALL",
        }
    }
}

/// `DestinationOptions.FileFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FileFormat {
    /// `plain-text`: gzip text with a header line.
    #[default]
    #[serde(rename = "plain-text")]
    PlainText,
    /// `parquet`: Parquet, gzip inside.
    #[serde(rename = "parquet")]
    Parquet,
}

/// `DestinationOptions` of an S3 flow log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DestinationOptions {
    /// Text or Parquet.
    pub file_format: FileFormat,
    /// `aws-account-id=…/…` key segments.
    pub hive_compatible_partitions: bool,
    /// An hour folder under the day.
    pub per_hour_partition: bool,
}

/// Where a flow log delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Destination {
    /// `cloud-watch-logs`: a log group.
    #[serde(rename = "cloud-watch-logs")]
    LogGroup {
        /// The log group.
        name: String,
    },
    /// `s3`: a bucket, an optional prefix (`subfolder/`), options.
    #[serde(rename = "s3")]
    S3 {
        /// Bucket name.
        bucket: String,
        /// Prefix without leading or trailing `/`; empty for none.
        prefix: String,
        /// Text or Parquet, partitions.
        options: DestinationOptions,
    },
    /// `kinesis-data-firehose`: a delivery stream.
    #[serde(rename = "kinesis-data-firehose")]
    Firehose {
        /// Delivery stream name.
        stream: String,
    },
}

impl Destination {
    /// `LogDestinationType`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Destination::LogGroup { .. } => "cloud-watch-logs",
            Destination::S3 { .. } => "s3",
            Destination::Firehose { .. } => "kinesis-data-firehose",
        }
    }

    /// `LogDestination` as an ARN.
    pub fn arn(&self, region: &str, account: &str) -> String {
        match self {
            Destination::LogGroup { name } => {
                format!("arn:aws:logs:{region}:{account}:log-group:{name}")
            }
            Destination::S3 { bucket, prefix, .. } if prefix.is_empty() => {
                format!("arn:aws:s3:::{bucket}")
            }
            Destination::S3 { bucket, prefix, .. } => format!("arn:aws:s3:::{bucket}/{prefix}/"),
            Destination::Firehose { stream } => {
                format!("arn:aws:firehose:{region}:{account}:deliverystream:{stream}")
            }
        }
    }
}

/// `DestinationOptions` as requested (every member optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationOptionsRequest {
    /// `plain-text` or `parquet`.
    pub file_format: Option<String>,
    /// Hive-compatible key segments.
    pub hive_compatible_partitions: Option<bool>,
    /// Hourly folders.
    pub per_hour_partition: Option<bool>,
}

/// A CreateFlowLogs request: exactly the API's parameters, snake_case (`[[flow_logs]]`).
/// Values stay strings here so that a wrong one gets AWS's error, not a parser's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFlowLogs {
    /// `ResourceType`: VPC, Subnet or NetworkInterface.
    pub resource_type: Option<String>,
    /// `ResourceIds`.
    #[serde(default)]
    pub resource_ids: Vec<String>,
    /// `TrafficType`: ACCEPT, REJECT or ALL.
    pub traffic_type: Option<String>,
    /// `LogDestinationType` (default `cloud-watch-logs`).
    pub log_destination_type: Option<String>,
    /// `LogDestination` (an ARN).
    pub log_destination: Option<String>,
    /// `LogGroupName` (cloud-watch-logs only).
    pub log_group_name: Option<String>,
    /// `DeliverLogsPermissionArn`.
    pub deliver_logs_permission_arn: Option<String>,
    /// `DeliverCrossAccountRole`.
    pub deliver_cross_account_role: Option<String>,
    /// `LogFormat` (`${field} …`).
    pub log_format: Option<String>,
    /// `MaxAggregationInterval`: 60 or 600 (default 600).
    pub max_aggregation_interval: Option<i64>,
    /// `DestinationOptions` (S3 only).
    pub destination_options: Option<DestinationOptionsRequest>,
    /// `TagSpecifications` of type `vpc-flow-log`, as key → value.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `ClientToken`.
    pub client_token: Option<String>,
}

/// A flow log as DescribeFlowLogs shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLog {
    /// `fl-` + 17 hex digits.
    pub flow_log_id: String,
    /// Creation time, ms since the epoch.
    pub creation_time: u64,
    /// The account that created it (the resource's owner).
    pub account_id: String,
    /// Region of the resource.
    pub region: String,
    /// The monitored resource.
    pub resource_id: String,
    /// Its type.
    pub resource_type: ResourceType,
    /// ACCEPT, REJECT or ALL.
    pub traffic_type: TrafficType,
    /// Where records go.
    pub destination: Destination,
    /// The format as stored (`${…}` form; AWS's default when none was given).
    pub log_format: String,
    /// 60 or 600.
    pub max_aggregation_interval: u32,
    /// `DeliverLogsPermissionArn`.
    pub deliver_logs_permission_arn: Option<String>,
    /// `DeliverCrossAccountRole`.
    pub deliver_cross_account_role: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl FlowLog {
    /// The parsed format (validated at creation).
    pub fn format(&self) -> LogFormat {
        LogFormat::parse(&self.log_format).expect("validated when the flow log was created")
    }
}

/// `DeliverLogsStatus` and `DeliverLogsErrorMessage` of a flow log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    /// `SUCCESS` or `FAILED`.
    pub status: String,
    /// Why it failed: `Access error`, `Rate limited` or `Unknown error` (AWS's messages).
    pub message: Option<String>,
    /// What happened, naming the destination (not part of AWS's API).
    pub detail: Option<String>,
}

/// What validation needs to know of the world.
pub struct Context<'a> {
    /// The network whose resources may be monitored.
    pub network: &'a Network,
    /// Flow logs that exist.
    pub existing: &'a [FlowLog],
    /// Buckets that exist.
    pub buckets: &'a [String],
    /// Delivery streams that exist.
    pub delivery_streams: &'a [String],
    /// Now, ms since the epoch.
    pub now_ms: u64,
    /// Source of new ids (17 hex digits each).
    pub next_id: &'a mut dyn FnMut() -> String,
    /// The account making the request: a resource of another account is not found, as AWS
    /// answers for resources an account cannot see. `None`: the data directory's owner (the
    /// config, the CLI), who may watch any account's resources.
    pub caller: Option<&'a str>,
}

/// What CreateFlowLogs answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The flow logs made, one per resource that succeeded.
    pub flow_logs: Vec<FlowLog>,
    /// `Unsuccessful`: resource id and why.
    pub unsuccessful: Vec<(String, ApiError)>,
}

const MAX_RESOURCE_IDS: usize = 300;
/// The longest tag key.
pub const MAX_TAG_KEY: usize = 127;
/// The longest tag value.
pub const MAX_TAG_VALUE: usize = 256;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::InvalidParameter, message)
}

fn invalid_value(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::InvalidParameterValue, message)
}

/// An IAM role ARN as IAM writes them: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, the
/// account 12 digits, the name 1–64 of IAM's characters (letters, digits, `+=,.@_-`).
fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = ["arn:aws:iam::", "arn:aws-cn:iam::", "arn:aws-us-gov:iam::"]
        .iter()
        .find_map(|p| arn.strip_prefix(p))
    else {
        return false;
    };
    let Some((account, path)) = rest.split_once(":role/") else {
        return false;
    };
    let name = path.rsplit('/').next().unwrap_or_default();
    let iam_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=64).contains(&name.len())
        && path.len() <= 512
        && path.chars().all(|c| iam_char(c) || c == '/')
}

/// What a `DryRun` request is answered: the refusal the request would get, or
/// `DryRunOperation` where it would have succeeded.
pub fn dry_run<T>(checked: Result<T, ApiError>) -> ApiError {
    match checked {
        Ok(_) => ApiError::new(
            ErrorKind::DryRunOperation,
            "Request would have succeeded, but DryRun flag is set.",
        ),
        Err(e) => e,
    }
}

/// `LogDestination` ARN of a log group: `arn:aws:logs:region:account:log-group:NAME[:*]`.
fn log_group_of_arn(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:aws:logs:")?;
    let (_, name) = rest.split_once(":log-group:")?;
    let name = name.strip_suffix(":*").unwrap_or(name);
    (!name.is_empty()).then(|| name.to_owned())
}

/// Checks a log group name as CloudWatch Logs does: 1–512 of `[.\-_/#A-Za-z0-9]`.
fn check_log_group_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=512).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'#'));
    if ok {
        Ok(())
    } else {
        Err(invalid_value(format!(
            "LogGroupName '{name}' is invalid: 1 to 512 characters of letters, digits and . - _ / #"
        )))
    }
}

/// Parses the S3 `LogDestination`: `arn:aws:s3:::bucket[/subfolder/]`.
fn s3_of_arn(arn: &str) -> Result<(String, String), ApiError> {
    let rest = arn.strip_prefix("arn:aws:s3:::").ok_or_else(|| {
        invalid(format!(
            "LogDestination '{arn}' is not an S3 bucket ARN (arn:aws:s3:::bucket/optional-folder/)"
        ))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'));
    if !bucket_ok {
        return Err(invalid(format!(
            "LogDestination '{arn}': '{bucket}' is not a valid bucket name"
        )));
    }
    if let Some(why) = crate::layout::prefix_problem(prefix) {
        return Err(invalid(format!(
            "LogDestination '{arn}': the subfolder {why}"
        )));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == "AWSLogs") {
        return Err(invalid(format!(
            "LogDestination '{arn}': AWSLogs is reserved and cannot be used as the subfolder name"
        )));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// Parses the Firehose `LogDestination`: `arn:aws:firehose:region:account:deliverystream:NAME`.
fn firehose_of_arn(arn: &str) -> Result<String, ApiError> {
    arn.strip_prefix("arn:aws:firehose:")
        .and_then(|r| {
            r.split_once(":deliverystream/")
                .or(r.split_once(":deliverystream:"))
        })
        .map(|(_, name)| name.to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "LogDestination '{arn}' is not a delivery stream ARN \
                 (arn:aws:firehose:region:account:deliverystream:NAME)"
            ))
        })
}

/// AWS's error for a resource id that does not exist (or that the caller's account cannot see).
pub fn not_found(kind: ResourceType, id: &str) -> ApiError {
    match kind {
        ResourceType::Vpc => ApiError::new(
            ErrorKind::VpcNotFound,
            format!("The vpc ID '{id}' does not exist"),
        ),
        ResourceType::Subnet => ApiError::new(
            ErrorKind::SubnetNotFound,
            format!("The subnet ID '{id}' does not exist"),
        ),
        ResourceType::NetworkInterface => ApiError::new(
            ErrorKind::NetworkInterfaceNotFound,
            format!("The networkInterface ID '{id}' does not exist"),
        ),
    }
}

/// The resource a flow log watches, found in the network: its type, owner account and ENIs.
pub fn resource_enis(
    net: &Network,
    kind: ResourceType,
    id: &str,
) -> Result<(String, Vec<usize>), ApiError> {
    match kind {
        ResourceType::Vpc => {
            let v = net
                .vpcs
                .iter()
                .position(|v| v.id == id)
                .ok_or_else(|| not_found(kind, id))?;
            let enis = (0..net.enis.len())
                .filter(|&e| net.enis[e].vpc == v)
                .collect();
            Ok((net.vpcs[v].account.clone(), enis))
        }
        ResourceType::Subnet => {
            let s = net
                .subnets
                .iter()
                .position(|s| s.id == id)
                .ok_or_else(|| not_found(kind, id))?;
            let enis = (0..net.enis.len())
                .filter(|&e| net.enis[e].subnet == s)
                .collect();
            Ok((net.vpcs[net.subnets[s].vpc].account.clone(), enis))
        }
        ResourceType::NetworkInterface => {
            let e = net
                .enis
                .iter()
                .position(|e| e.id == id)
                .ok_or_else(|| not_found(kind, id))?;
            Ok((net.vpcs[net.enis[e].vpc].account.clone(), vec![e]))
        }
    }
}

/// Validates a CreateFlowLogs request and builds its flow logs (no I/O, nothing stored).
///
/// Checks run in the order AWS's and moto's do: the request as a whole first (a whole-request
/// error), then each resource (a missing bucket is an `Unsuccessful` item, not an error).
pub fn create_flow_logs(req: &CreateFlowLogs, ctx: &mut Context<'_>) -> Result<Created, ApiError> {
    let resource_type = match req.resource_type.as_deref() {
        None => {
            return Err(ApiError::new(
                ErrorKind::MissingParameter,
                "The request must contain the parameter ResourceType",
            ));
        }
        Some("VPC") => ResourceType::Vpc,
        Some("Subnet") => ResourceType::Subnet,
        Some("NetworkInterface") => ResourceType::NetworkInterface,
        Some(t @ ("TransitGateway" | "TransitGatewayAttachment" | "RegionalNatGateway")) => {
            return Err(invalid_value(format!(
                "ResourceType {t} is not supported here: the topology has no transit or regional NAT gateways"
            )));
        }
        Some(t) => {
            return Err(invalid_value(format!(
                "Value ({t}) for parameter ResourceType is invalid. \
                 Expected one of: VPC, Subnet, NetworkInterface"
            )));
        }
    };
    if req.resource_ids.is_empty() {
        return Err(ApiError::new(
            ErrorKind::MissingParameter,
            "The request must contain the parameter ResourceIds",
        ));
    }
    if req.resource_ids.len() > MAX_RESOURCE_IDS {
        return Err(invalid(format!(
            "ResourceIds holds {} ids; at most {MAX_RESOURCE_IDS} are allowed",
            req.resource_ids.len()
        )));
    }
    let traffic_type = match req.traffic_type.as_deref() {
        None => {
            return Err(ApiError::new(
                ErrorKind::MissingParameter,
                "The request must contain the parameter TrafficType",
            ));
        }
        Some("ACCEPT") => TrafficType::Accept,
        Some("REJECT") => TrafficType::Reject,
        Some("ALL") => TrafficType::All,
        Some(t) => {
            return Err(invalid_value(format!(
                "Value ({t}) for parameter TrafficType is invalid. Expected one of: ACCEPT, REJECT, ALL"
            )));
        }
    };
    let interval = req.max_aggregation_interval.unwrap_or(600);
    if interval != 60 && interval != 600 {
        return Err(invalid("Invalid Flow Log Max Aggregation Interval"));
    }
    let dest_type = req
        .log_destination_type
        .as_deref()
        .unwrap_or("cloud-watch-logs");
    if !matches!(
        dest_type,
        "cloud-watch-logs" | "s3" | "kinesis-data-firehose"
    ) {
        return Err(invalid_value(format!(
            "Value ({dest_type}) for parameter LogDestinationType is invalid. \
             Expected one of: cloud-watch-logs, s3, kinesis-data-firehose"
        )));
    }
    if req.log_group_name.is_none() && req.log_destination.is_none() {
        return Err(invalid(
            "LogDestination can't be empty if LogGroupName is not provided.",
        ));
    }
    if req.log_group_name.is_some() && dest_type != "cloud-watch-logs" {
        return Err(invalid(
            "LogDestination type must be cloud-watch-logs if LogGroupName is provided.",
        ));
    }
    if dest_type == "cloud-watch-logs" && req.deliver_logs_permission_arn.is_none() {
        return Err(invalid(
            "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.",
        ));
    }
    if dest_type == "s3" && req.deliver_logs_permission_arn.is_some() {
        return Err(invalid(
            "DeliverLogsPermissionArn is not applicable for s3 delivery",
        ));
    }
    for (param, arn) in [
        ("DeliverLogsPermissionArn", &req.deliver_logs_permission_arn),
        ("DeliverCrossAccountRole", &req.deliver_cross_account_role),
    ] {
        if let Some(arn) = arn.as_deref().filter(|a| !is_role_arn(a)) {
            return Err(invalid_value(format!(
                "Value ({arn}) for parameter {param} is invalid. Expected an IAM role ARN: \
                 arn:aws:iam::ACCOUNT:role/NAME"
            )));
        }
    }
    if req.destination_options.is_some() && dest_type != "s3" {
        return Err(invalid(
            "DestinationOptions can only be specified when LogDestinationType is s3.",
        ));
    }
    let destination = match dest_type {
        "cloud-watch-logs" => {
            let name = match (&req.log_group_name, &req.log_destination) {
                (Some(name), _) => name.clone(),
                (None, Some(arn)) => log_group_of_arn(arn).ok_or_else(|| {
                    invalid(format!(
                        "LogDestination '{arn}' is not a log group ARN \
                         (arn:aws:logs:region:account:log-group:NAME)"
                    ))
                })?,
                (None, None) => unreachable!("checked above"),
            };
            check_log_group_name(&name)?;
            Destination::LogGroup { name }
        }
        "s3" => {
            let arn = req.log_destination.as_deref().unwrap_or_default();
            let (bucket, prefix) = s3_of_arn(arn)?;
            let o = req.destination_options.clone().unwrap_or_default();
            let file_format = match o.file_format.as_deref() {
                None | Some("plain-text") => FileFormat::PlainText,
                Some("parquet") => FileFormat::Parquet,
                Some(f) => {
                    return Err(invalid_value(format!(
                        "Value ({f}) for parameter DestinationOptions.FileFormat is invalid. \
                         Expected one of: plain-text, parquet"
                    )));
                }
            };
            Destination::S3 {
                bucket,
                prefix,
                options: DestinationOptions {
                    file_format,
                    hive_compatible_partitions: o.hive_compatible_partitions.unwrap_or(false),
                    per_hour_partition: o.per_hour_partition.unwrap_or(false),
                },
            }
        }
        _ => Destination::Firehose {
            stream: firehose_of_arn(req.log_destination.as_deref().unwrap_or_default())?,
        },
    };
    let log_format = match req.log_format.as_deref() {
        None => LogFormat::default_v2().to_string(),
        Some(f) => {
            // A Transit Gateway field is not one of a VPC flow log's.
            LogFormat::parse(f)
                .and_then(LogFormat::vpc)
                .map_err(|e| invalid(vpcflow_record::FormatError::aws_message(f)).because(e))?;
            f.to_owned()
        }
    };
    for (k, v) in &req.tags {
        crate::tags::check_tag(k, v)?;
    }
    if req.tags.len() > crate::tags::MAX_TAGS {
        return Err(ApiError::new(
            ErrorKind::TagLimitExceeded,
            format!(
                "The maximum number of Tags for a resource has been reached (limit {}).",
                crate::tags::MAX_TAGS
            ),
        ));
    }

    // Per resource: the resource must exist (whole-request error, as EC2 answers), the
    // destination must exist (an Unsuccessful item), and the same configuration must not.
    let mut out = Created {
        flow_logs: Vec::new(),
        unsuccessful: Vec::new(),
    };
    for id in &req.resource_ids {
        let (account, _) = resource_enis(ctx.network, resource_type, id)?;
        if ctx.caller.is_some_and(|c| c != account) {
            return Err(not_found(resource_type, id));
        }
        let missing = match &destination {
            Destination::S3 { bucket, .. } if !ctx.buckets.contains(bucket) => Some(bucket),
            Destination::Firehose { stream } if !ctx.delivery_streams.contains(stream) => {
                Some(stream)
            }
            _ => None,
        };
        if let Some(name) = missing {
            out.unsuccessful.push((
                id.clone(),
                ApiError::new(
                    ErrorKind::LogDestinationNotFound,
                    format!("LogDestination: {name} does not exist."),
                ),
            ));
            continue;
        }
        let duplicate = ctx.existing.iter().chain(&out.flow_logs).any(|f| {
            f.resource_id == *id
                && f.traffic_type == traffic_type
                && f.destination == destination
                && f.log_format == log_format
                && i64::from(f.max_aggregation_interval) == interval
        });
        if duplicate {
            return Err(ApiError::new(
                ErrorKind::FlowLogAlreadyExists,
                "Error. There is an existing Flow Log with the same configuration and log destination.",
            ));
        }
        out.flow_logs.push(FlowLog {
            flow_log_id: format!("fl-{}", (ctx.next_id)()),
            creation_time: ctx.now_ms,
            account_id: account,
            region: ctx.network.region.clone(),
            resource_id: id.clone(),
            resource_type,
            traffic_type,
            destination: destination.clone(),
            log_format: log_format.clone(),
            max_aggregation_interval: interval as u32,
            deliver_logs_permission_arn: req.deliver_logs_permission_arn.clone(),
            deliver_cross_account_role: req.deliver_cross_account_role.clone(),
            tags: req.tags.clone(),
        });
    }
    Ok(out)
}

/// Checks DeleteFlowLogs ids against those that exist: AWS's not-found error lists the missing.
pub fn check_delete(ids: &[String], existing: &[FlowLog]) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Err(ApiError::new(
            ErrorKind::MissingParameter,
            "The request must contain the parameter FlowLogIds",
        ));
    }
    let missing: Vec<&str> = ids
        .iter()
        .filter(|id| !existing.iter().any(|f| f.flow_log_id == **id))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::FlowLogNotFound,
            format!(
                "These flow log ids in the input list are not found: [TotalCount: {}] {}",
                missing.len(),
                missing.join(" ")
            ),
        ))
    }
}

/// A 64-bit FNV-1a hash: stable across runs and builds, for ids and object names that must
/// come out the same after a restart (the store's, which every crate shares).
pub use vpcflow_store::ids::stable_hash;
