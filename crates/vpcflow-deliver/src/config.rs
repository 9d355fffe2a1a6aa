//! `vpcflow.toml`: the topology (a path, or `builtin:NAME`), `[simulation]` (defaults for
//! `vpcflow simulate`), and delivery: `[[flow_logs]]` (CreateFlowLogs parameters),
//! `[[buckets]]`, `[[delivery_streams]]` (Firehose-style), `[[log_groups]]` and `[spool]`.
//!
//! Owns parsing ([`parse`]: a file that does not parse is refused at its line and column, with
//! the key path) and the checks that need no I/O; every problem is listed with its key path.
//! The built-in default is [`DeliveryConfig::builtin_default`].

use serde::{Deserialize, Serialize};
use vpcflow_net::Network;

use crate::api::{CreateFlowLogs, DestinationOptionsRequest};

/// The log group the built-in default delivers to.
pub const DEFAULT_LOG_GROUP: &str = "/vpcflow/flow-logs";
/// The bucket the built-in default delivers to.
pub const DEFAULT_BUCKET: &str = "flow-logs";

/// The settings of `vpcflow.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// The topology: a path (relative to the file) or `builtin:NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<String>,
    /// Defaults for `vpcflow simulate`.
    #[serde(default)]
    pub simulation: SimulationDefaults,
    /// Flow logs, each exactly a CreateFlowLogs request.
    #[serde(default)]
    pub flow_logs: Vec<CreateFlowLogs>,
    /// Buckets: local directories under `DATA/s3/`, or an S3-compatible endpoint.
    #[serde(default)]
    pub buckets: Vec<BucketConfig>,
    /// Firehose-style delivery streams.
    #[serde(default)]
    pub delivery_streams: Vec<DeliveryStreamConfig>,
    /// Log-group settings (retention).
    #[serde(default)]
    pub log_groups: Vec<LogGroupConfig>,
    /// The durable spool.
    #[serde(default)]
    pub spool: SpoolConfig,
}

/// `[simulation]`: what `vpcflow simulate` uses when its flags do not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationDefaults {
    /// A scenario: a path or `builtin:NAME`.
    pub scenario: Option<String>,
    /// How much traffic time (`1h`, `24h`).
    pub duration: Option<String>,
    /// When it starts (RFC 3339).
    pub start: Option<String>,
    /// The random seed.
    pub seed: Option<u64>,
}

/// `vpcflow.toml` that does not parse: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {}{message}", key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
pub struct SyntaxError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The key path (`flow_logs[0].traffic_type`), where the place has one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Parses `vpcflow.toml` text (`file` names it in errors). Only the syntax and the shape are
/// checked here; [`DeliveryConfig::problems`] checks the values.
pub fn parse(text: &str, file: &str) -> Result<DeliveryConfig, SyntaxError> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let at = e.span().map_or(0, |s| s.start).min(text.len());
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        SyntaxError {
            file: file.to_owned(),
            line,
            column,
            key: key_path(text, at),
            message: e.message().trim_end().to_owned(),
        }
    })
}

/// The key path of the place at byte `at` of a TOML document: the table header in force
/// (`[[flow_logs]]` counted, so `flow_logs[1]`) and the key on that line, if any.
fn key_path(text: &str, at: usize) -> Option<String> {
    let mut table = String::new();
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    let mut key = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            if start > at {
                break;
            }
            let n = counts.entry(name.trim().to_owned()).or_insert(0);
            table = format!("{}[{}]", name.trim(), *n);
            *n += 1;
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            if start > at {
                break;
            }
            table = name.trim().to_owned();
        } else if start <= at && at < offset.max(start + 1) {
            key = t
                .split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"').to_owned());
        }
        if start > at {
            break;
        }
    }
    match (table.is_empty(), key) {
        (true, None) => None,
        (true, Some(k)) => Some(k),
        (false, None) => Some(table),
        (false, Some(k)) => Some(format!("{table}.{k}")),
    }
}

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    /// Bucket name.
    pub name: String,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); none = the local `DATA/s3/<name>`.
    pub endpoint: Option<String>,
    /// Region to sign for (endpoint buckets).
    pub region: Option<String>,
    /// Access key id (endpoint buckets).
    pub access_key_id: Option<String>,
    /// Secret access key (endpoint buckets).
    pub secret_access_key: Option<String>,
    /// Allow plain `http://` endpoints.
    #[serde(default)]
    pub allow_http: bool,
}

/// A Firehose-style delivery stream (Direct PUT source).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryStreamConfig {
    /// Stream name (the `deliverystream:NAME` of the flow log's ARN).
    pub name: String,
    /// Buffering hint: size in MiB (1–128, Firehose's default 5).
    #[serde(default = "default_buffer_mb")]
    pub buffering_size_mb: u32,
    /// Buffering hint: seconds of record time (0–900, Firehose's default 300).
    #[serde(default = "default_buffer_secs")]
    pub buffering_interval_seconds: u32,
    /// Where the stream delivers.
    pub destination: StreamDestination,
}

fn default_buffer_mb() -> u32 {
    5
}

fn default_buffer_secs() -> u32 {
    300
}

/// Where a delivery stream delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum StreamDestination {
    /// An HTTP endpoint speaking Firehose's HTTP-endpoint request/response protocol.
    #[serde(rename = "http_endpoint")]
    HttpEndpoint {
        /// URL to POST to.
        url: String,
        /// Sent as `X-Amz-Firehose-Access-Key`.
        access_key: Option<String>,
    },
    /// A bucket, with Firehose's `YYYY/MM/DD/HH/` keys under `prefix`.
    #[serde(rename = "s3")]
    S3 {
        /// Bucket (one of `[[buckets]]`).
        bucket: String,
        /// Key prefix.
        #[serde(default)]
        prefix: String,
    },
    /// A local directory: one file per delivery, named by its request id.
    #[serde(rename = "directory")]
    Directory {
        /// The directory.
        path: String,
    },
}

/// A log group's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogGroupConfig {
    /// Log group name.
    pub name: String,
    /// Retention (one of CloudWatch's values); none = never expire.
    pub retention_in_days: Option<u32>,
}

/// CloudWatch Logs' allowed retention values (PutRetentionPolicy).
pub const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The spool's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Most bytes waiting for delivery; beyond it, new records are replaced by SKIPDATA records.
    #[serde(default = "default_spool_bytes")]
    pub max_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> SpoolConfig {
        SpoolConfig {
            max_bytes: default_spool_bytes(),
        }
    }
}

fn default_spool_bytes() -> u64 {
    1 << 30
}

impl DeliveryConfig {
    /// The built-in default (design.md): for the network's VPCs, an ALL flow log to the log group
    /// `/vpcflow/flow-logs` and an ALL flow log to the bucket `flow-logs` as Parquet with
    /// Hive-compatible, per-hour partitions (the layout AWS's Athena Parquet table expects).
    pub fn builtin_default(net: &Network) -> DeliveryConfig {
        let vpcs: Vec<String> = net.vpcs.iter().map(|v| v.id.clone()).collect();
        let account = net.vpcs.first().map(|v| v.account.as_str()).unwrap_or("");
        DeliveryConfig {
            flow_logs: vec![
                CreateFlowLogs {
                    resource_type: Some("VPC".into()),
                    resource_ids: vpcs.clone(),
                    traffic_type: Some("ALL".into()),
                    log_group_name: Some(DEFAULT_LOG_GROUP.into()),
                    deliver_logs_permission_arn: Some(format!(
                        "arn:aws:iam::{account}:role/vpcflow-flow-logs"
                    )),
                    ..CreateFlowLogs::default()
                },
                CreateFlowLogs {
                    resource_type: Some("VPC".into()),
                    resource_ids: vpcs,
                    traffic_type: Some("ALL".into()),
                    log_destination_type: Some("s3".into()),
                    log_destination: Some(format!("arn:aws:s3:::{DEFAULT_BUCKET}")),
                    destination_options: Some(DestinationOptionsRequest {
                        file_format: Some("parquet".into()),
                        hive_compatible_partitions: Some(true),
                        per_hour_partition: Some(true),
                    }),
                    ..CreateFlowLogs::default()
                },
            ],
            buckets: vec![BucketConfig {
                name: DEFAULT_BUCKET.into(),
                endpoint: None,
                region: None,
                access_key_id: None,
                secret_access_key: None,
                allow_http: false,
            }],
            ..DeliveryConfig::default()
        }
    }

    /// Names of the declared buckets (the ones that "exist" for CreateFlowLogs).
    pub fn bucket_names(&self) -> Vec<String> {
        self.buckets.iter().map(|b| b.name.clone()).collect()
    }

    /// Names of the declared delivery streams.
    pub fn stream_names(&self) -> Vec<String> {
        self.delivery_streams
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// Checks what needs no I/O; returns every problem as (key path, reason).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, b) in self.buckets.iter().enumerate() {
            if !seen.insert(b.name.as_str()) {
                out.push((
                    format!("buckets[{i}].name"),
                    format!("bucket '{}' is declared twice", b.name),
                ));
            }
            if let Some(e) = &b.endpoint
                && !(e.starts_with("https://") || (b.allow_http && e.starts_with("http://")))
            {
                out.push((
                    format!("buckets[{i}].endpoint"),
                    format!("'{e}' must be an https:// URL (or http:// with allow_http = true)"),
                ));
            }
        }
        let mut streams = std::collections::BTreeSet::new();
        for (i, s) in self.delivery_streams.iter().enumerate() {
            let at = format!("delivery_streams[{i}]");
            if !streams.insert(s.name.as_str()) {
                out.push((
                    format!("{at}.name"),
                    format!("delivery stream '{}' is declared twice", s.name),
                ));
            }
            if !(1..=128).contains(&s.buffering_size_mb) {
                out.push((
                    format!("{at}.buffering_size_mb"),
                    format!("{} is outside 1..=128", s.buffering_size_mb),
                ));
            }
            if s.buffering_interval_seconds > 900 {
                out.push((
                    format!("{at}.buffering_interval_seconds"),
                    format!("{} is outside 0..=900", s.buffering_interval_seconds),
                ));
            }
            match &s.destination {
                StreamDestination::HttpEndpoint { url, .. } => {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        out.push((
                            format!("{at}.destination.url"),
                            format!("'{url}' is not an http:// or https:// URL"),
                        ));
                    }
                }
                StreamDestination::S3 { bucket, .. } => {
                    if !self.buckets.iter().any(|b| b.name == *bucket) {
                        out.push((
                            format!("{at}.destination.bucket"),
                            format!("bucket '{bucket}' is not among [[buckets]]"),
                        ));
                    }
                }
                StreamDestination::Directory { path } => {
                    if path.is_empty() {
                        out.push((
                            format!("{at}.destination.path"),
                            "the directory is empty".to_owned(),
                        ));
                    }
                }
            }
        }
        for (i, g) in self.log_groups.iter().enumerate() {
            if let Some(d) = g.retention_in_days
                && !RETENTION_DAYS.contains(&d)
            {
                out.push((
                    format!("log_groups[{i}].retention_in_days"),
                    format!("{d} is not one of CloudWatch's values {RETENTION_DAYS:?}"),
                ));
            }
        }
        if self.spool.max_bytes < 1 << 16 {
            out.push((
                "spool.max_bytes".to_owned(),
                format!("{} is below the minimum of 65536", self.spool.max_bytes),
            ));
        }
        out
    }
}
