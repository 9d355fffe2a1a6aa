//! DescribeFlowLogs: the typed request (flow log ids, filters, `MaxResults`/`NextToken` paging),
//! the rules AWS applies to it, and the page it answers, shaped as the AWS CLI prints it. Pure:
//! the caller reads the flow logs and their delivery status from the store and passes them in,
//! so the CLI and the API server answer alike.
//!
//! AWS's rules (EC2 API reference, `DescribeFlowLogs`): filters are ANDed, a filter's values ORed,
//! and values may use the wildcards `*` and `?`; up to 1000 `FlowLogId`s; `MaxResults` is 5 to
//! 1000 (more is taken as 1000) and cannot be combined with `FlowLogId`; ids that do not exist
//! are simply not in the answer.

use serde::{Serialize, Serializer};

use crate::api::{ApiError, DeliveryStatus, Destination, ErrorKind, FileFormat, FlowLog};

/// The most ids, and the largest page.
pub const MAX_IDS: usize = 1000;
/// The smallest page `MaxResults` may ask for.
pub const MIN_RESULTS: i64 = 5;

/// A DescribeFlowLogs request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeFlowLogs {
    /// `FlowLogId.N`: only these.
    pub flow_log_ids: Vec<String>,
    /// `Filter.N`.
    pub filters: Vec<Filter>,
    /// `MaxResults`.
    pub max_results: Option<i64>,
    /// `NextToken` of the previous page.
    pub next_token: Option<String>,
}

/// One `Filter.N`: a name and the values it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// `deliver-log-status`, `log-destination-type`, `flow-log-id`, `log-group-name`,
    /// `resource-id`, `traffic-type`, `tag:<key>` or `tag-key`.
    pub name: String,
    /// Any of these matches (with `*` and `?` wildcards).
    pub values: Vec<String>,
}

/// One page of the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeFlowLogsPage {
    /// The flow logs of this page, in id order.
    pub flow_logs: Vec<FlowLogDescription>,
    /// Where the next page starts; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A flow log as DescribeFlowLogs answers it (the `FlowLog` shape of the EC2 API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowLogDescription {
    /// Creation time, ms since the epoch; printed as the AWS CLI prints it.
    #[serde(serialize_with = "cli_time")]
    pub creation_time: u64,
    /// Why delivery failed: `Access error`, `Rate limited` or `Unknown error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_logs_error_message: Option<String>,
    /// The IAM role delivery uses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_logs_permission_arn: Option<String>,
    /// The role for cross-account delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_cross_account_role: Option<String>,
    /// `SUCCESS` or `FAILED`.
    pub deliver_logs_status: String,
    /// `fl-…`.
    pub flow_log_id: String,
    /// Always `ACTIVE`.
    pub flow_log_status: &'static str,
    /// For log-group destinations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    /// The monitored resource.
    pub resource_id: String,
    /// `ACCEPT`, `REJECT` or `ALL`.
    pub traffic_type: &'static str,
    /// `cloud-watch-logs`, `s3` or `kinesis-data-firehose`.
    pub log_destination_type: &'static str,
    /// The destination's ARN.
    pub log_destination: String,
    /// The format, `${…}` form.
    pub log_format: String,
    /// Tags, by key.
    pub tags: Vec<Tag>,
    /// 60 or 600.
    pub max_aggregation_interval: u32,
    /// For S3 destinations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_options: Option<DestinationOptionsDescription>,
    /// What happened, naming the destination (vpcflow's, not AWS's; prefixed so that no AWS
    /// client mistakes it for a field of its own).
    #[serde(
        rename = "vpcflow:DeliveryErrorDetail",
        skip_serializing_if = "Option::is_none"
    )]
    pub delivery_error_detail: Option<String>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// An S3 destination's options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationOptionsDescription {
    /// `plain-text` or `parquet`.
    pub file_format: &'static str,
    /// Hive-compatible S3 prefixes.
    pub hive_compatible_partitions: bool,
    /// Hourly partitions.
    pub per_hour_partition: bool,
}

fn cli_time<S: Serializer>(ms: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&vpcflow_store::time::aws_cli_time(*ms))
}

/// The page `req` asks for, of the flow logs that exist (in id order) with their status.
pub fn describe_flow_logs(
    req: &DescribeFlowLogs,
    existing: &[(FlowLog, DeliveryStatus)],
) -> Result<DescribeFlowLogsPage, ApiError> {
    let page_size = check(req)?;
    let after = req.next_token.as_deref();
    let mut matching = existing
        .iter()
        .filter(|(f, _)| after.is_none_or(|t| f.flow_log_id.as_str() > t))
        .filter(|(f, _)| req.flow_log_ids.is_empty() || req.flow_log_ids.contains(&f.flow_log_id))
        .filter(|(f, st)| req.filters.iter().all(|filter| filter.matches(f, st)));
    let flow_logs: Vec<FlowLogDescription> = matching
        .by_ref()
        .take(page_size)
        .map(|(f, st)| describe(f, st))
        .collect();
    let next_token = match (matching.next(), flow_logs.last()) {
        (Some(_), Some(last)) => Some(last.flow_log_id.clone()),
        _ => None,
    };
    Ok(DescribeFlowLogsPage {
        flow_logs,
        next_token,
    })
}

/// The request's own rules, in AWS's order; the page size.
fn check(req: &DescribeFlowLogs) -> Result<usize, ApiError> {
    if req.flow_log_ids.len() > MAX_IDS {
        return Err(ApiError::new(
            ErrorKind::InvalidParameterValue,
            format!(
                "The maximum number of flow log IDs is {MAX_IDS}; {} were given.",
                req.flow_log_ids.len()
            ),
        ));
    }
    if let Some(n) = req.max_results {
        if !req.flow_log_ids.is_empty() {
            return Err(ApiError::new(
                ErrorKind::InvalidParameterCombination,
                "The parameter flowLogIds cannot be used with the parameter maxResults",
            ));
        }
        if n < MIN_RESULTS {
            return Err(ApiError::new(
                ErrorKind::InvalidParameterValue,
                format!(
                    "Value ( {n} ) for parameter maxResults is invalid. Expecting a value greater than {MIN_RESULTS}."
                ),
            ));
        }
    }
    for f in &req.filters {
        if Field::of(&f.name).is_none() {
            return Err(ApiError::new(
                ErrorKind::InvalidParameterValue,
                format!("The filter '{}' is invalid", f.name),
            ));
        }
    }
    if let Some(t) = &req.next_token
        && !is_token(t)
    {
        return Err(ApiError::new(
            ErrorKind::InvalidPaginationToken,
            format!("The token '{t}' is invalid."),
        ));
    }
    Ok(req
        .max_results
        .map_or(MAX_IDS, |n| n.min(MAX_IDS as i64) as usize))
}

/// A token is the id of the last flow log of the previous page, so that paging goes on from
/// there even when flow logs are created or deleted in between.
fn is_token(t: &str) -> bool {
    is_id(t, "fl")
}

/// Whether `id` is `prefix-` and hex digits: the shape of the ids EC2's Describe* actions take
/// and page by.
pub(crate) fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What a filter looks at.
enum Field<'a> {
    DeliverLogStatus,
    LogDestinationType,
    FlowLogId,
    LogGroupName,
    ResourceId,
    TrafficType,
    Tag(&'a str),
    TagKey,
}

impl<'a> Field<'a> {
    fn of(name: &'a str) -> Option<Field<'a>> {
        Some(match name {
            "deliver-log-status" => Field::DeliverLogStatus,
            "log-destination-type" => Field::LogDestinationType,
            "flow-log-id" => Field::FlowLogId,
            "log-group-name" => Field::LogGroupName,
            "resource-id" => Field::ResourceId,
            "traffic-type" => Field::TrafficType,
            "tag-key" => Field::TagKey,
            _ => Field::Tag(name.strip_prefix("tag:")?),
        })
    }
}

impl Filter {
    fn matches(&self, f: &FlowLog, st: &DeliveryStatus) -> bool {
        let any = |v: &str| self.values.iter().any(|p| glob(p, v));
        match Field::of(&self.name).expect("checked") {
            Field::DeliverLogStatus => any(&st.status),
            Field::LogDestinationType => any(f.destination.type_name()),
            Field::FlowLogId => any(&f.flow_log_id),
            Field::LogGroupName => match &f.destination {
                Destination::LogGroup { name } => any(name),
                _ => false,
            },
            Field::ResourceId => any(&f.resource_id),
            Field::TrafficType => any(f.traffic_type.as_str()),
            Field::Tag(key) => f.tags.get(key).is_some_and(|v| any(v)),
            Field::TagKey => f.tags.keys().any(|k| any(k)),
        }
    }
}

/// EC2's filter wildcards: `*` any run of characters, `?` one character.
pub(crate) fn glob(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // Greedy match with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < v.len() {
        if i < p.len() && (p[i] == '?' || p[i] == v[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// A stored flow log and its status, as DescribeFlowLogs shows them.
pub fn describe(f: &FlowLog, st: &DeliveryStatus) -> FlowLogDescription {
    FlowLogDescription {
        creation_time: f.creation_time,
        deliver_logs_error_message: st.message.clone(),
        deliver_logs_permission_arn: f.deliver_logs_permission_arn.clone(),
        deliver_cross_account_role: f.deliver_cross_account_role.clone(),
        deliver_logs_status: st.status.clone(),
        flow_log_id: f.flow_log_id.clone(),
        flow_log_status: "ACTIVE",
        log_group_name: match &f.destination {
            Destination::LogGroup { name } => Some(name.clone()),
            _ => None,
        },
        resource_id: f.resource_id.clone(),
        traffic_type: f.traffic_type.as_str(),
        log_destination_type: f.destination.type_name(),
        log_destination: f.destination.arn(&f.region, &f.account_id),
        log_format: f.log_format.clone(),
        tags: f
            .tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        max_aggregation_interval: f.max_aggregation_interval,
        destination_options: match &f.destination {
            Destination::S3 { options, .. } => Some(DestinationOptionsDescription {
                file_format: match options.file_format {
                    FileFormat::PlainText => "plain-text",
                    FileFormat::Parquet => "parquet",
                },
                hive_compatible_partitions: options.hive_compatible_partitions,
                per_hour_partition: options.per_hour_partition,
            }),
            _ => None,
        },
        delivery_error_detail: st.detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (p, v, want) in [
            ("vpc-*", "vpc-0abc", true),
            ("vpc-*", "subnet-1", false),
            ("*", "", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*b*d", "abcbd", true),
            ("*b*d", "abcbe", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(glob(p, v), want, "{p} ~ {v}");
        }
    }
}
