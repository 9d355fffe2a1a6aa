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
    /// Live interfaces `vpcflow up` captures beside its simulated traffic.
    #[serde(default)]
    pub capture: CaptureConfig,
    /// `vpcflow up`'s API server: where it listens and who may call.
    #[serde(default)]
    pub server: ServerConfig,
    /// SNS-like topics that alarm actions name, each with HTTP(S) webhook subscribers.
    #[serde(default)]
    pub topics: Vec<TopicConfig>,
    /// `vpcflow up` runs the detections as records arrive (`[detections]`).
    #[serde(default)]
    pub detections: Option<DetectionsConfig>,
    /// Capture agents writing into one bucket, and the ENIs each owns (`--agent NAME`).
    #[serde(default)]
    pub agents: Vec<crate::agents::AgentConfig>,
}

/// `[detections]`: the service runs the detections on the records it delivers, and notifies
/// each new finding to the topics `actions` names (which `[[topics]]` declares).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionsConfig {
    /// Topic ARNs, as alarm actions name them.
    #[serde(default)]
    pub actions: Vec<String>,
}

/// `[[topics]]`: a topic an alarm's actions may name by its ARN; each state change is posted to
/// every subscriber as an SNS HTTP(S) notification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// `arn:aws:sns:REGION:ACCOUNT:NAME`.
    pub arn: String,
    /// `http://` or `https://` URLs.
    #[serde(default)]
    pub subscribers: Vec<String>,
}

impl TopicConfig {
    /// Checks the topics (no I/O): every problem as (key path, reason).
    pub fn check(topics: &[TopicConfig]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, t) in topics.iter().enumerate() {
            let parts: Vec<&str> = t.arn.split(':').collect();
            let shaped = parts.len() == 6
                && parts[..3] == ["arn", "aws", "sns"]
                && !parts[3].is_empty()
                && parts[4].len() == 12
                && parts[4].bytes().all(|b| b.is_ascii_digit())
                && !parts[5].is_empty()
                && parts[5]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !shaped {
                out.push((
                    format!("topics[{i}].arn"),
                    format!("'{}' is not arn:aws:sns:REGION:ACCOUNT:NAME", t.arn),
                ));
            }
            if topics[..i].iter().any(|u| u.arn == t.arn) {
                out.push((
                    format!("topics[{i}].arn"),
                    format!("'{}' is named twice", t.arn),
                ));
            }
            for (j, url) in t.subscribers.iter().enumerate() {
                let ok = ["http://", "https://"]
                    .iter()
                    .any(|p| url.strip_prefix(p).is_some_and(|rest| !rest.is_empty()));
                if !ok {
                    out.push((
                        format!("topics[{i}].subscribers[{j}]"),
                        format!("'{url}' is not an http:// or https:// URL"),
                    ));
                }
            }
        }
        out
    }
}

/// `[server]`: the AWS-compatible API's address and credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `HOST:PORT`; `--listen` overrides it. Default [`DEFAULT_LISTEN`].
    pub listen: Option<String>,
    /// Access keys and the account each acts for; none: [`ServerConfig::builtin_credentials`].
    #[serde(default)]
    pub credentials: Vec<CredentialConfig>,
}

/// `[[server.credentials]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// The 12-digit account it acts for.
    pub account_id: String,
}

/// Where `vpcflow up` listens unless told: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4599";
/// The built-in access key (AWS's documentation's example key): printed by `vpcflow up`.
pub const BUILTIN_ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// The built-in key's secret (AWS's documentation's example).
pub const BUILTIN_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

impl ServerConfig {
    /// The built-in credentials: AWS's example key, for the topology's first account.
    pub fn builtin_credentials(net: &Network) -> Vec<CredentialConfig> {
        let account = net
            .vpcs
            .first()
            .map_or("000000000000", |v| v.account.as_str());
        vec![CredentialConfig {
            access_key_id: BUILTIN_ACCESS_KEY_ID.into(),
            secret_access_key: BUILTIN_SECRET_ACCESS_KEY.into(),
            account_id: account.into(),
        }]
    }

    /// Checks the values (no I/O): every problem as (key path, reason).
    pub fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(l) = &self.listen
            && l.parse::<std::net::SocketAddr>().is_err()
        {
            out.push((
                "server.listen".to_owned(),
                format!("'{l}' is not HOST:PORT with an IP address (e.g. 127.0.0.1:4599)"),
            ));
        }
        for (i, c) in self.credentials.iter().enumerate() {
            let at = |k: &str| format!("server.credentials[{i}].{k}");
            if c.access_key_id.is_empty() {
                out.push((at("access_key_id"), "is empty".to_owned()));
            }
            if c.secret_access_key.is_empty() {
                out.push((at("secret_access_key"), "is empty".to_owned()));
            }
            if c.account_id.len() != 12 || !c.account_id.bytes().all(|b| b.is_ascii_digit()) {
                out.push((
                    at("account_id"),
                    format!("'{}' is not 12 digits", c.account_id),
                ));
            }
            if self.credentials[..i]
                .iter()
                .any(|d| d.access_key_id == c.access_key_id)
            {
                out.push((
                    at("access_key_id"),
                    format!(
                        "'{}' is given twice: a key belongs to one account",
                        c.access_key_id
                    ),
                ));
            }
        }
        out
    }
}

/// `[capture]`: host interfaces `vpcflow up` captures live (AF_PACKET), each carrying the ENI of
/// the topology whose `host_interface` names it. Those ENIs' records come from the capture
/// then, not from the simulation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureConfig {
    /// Interface names (Linux's, at most 15 bytes).
    #[serde(default)]
    pub interfaces: Vec<String>,
}

impl CaptureConfig {
    /// Checks the names (no I/O): every problem as (key path, reason).
    pub fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, name) in self.interfaces.iter().enumerate() {
            let at = format!("capture.interfaces[{i}]");
            if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
                out.push((at, format!("'{name}' is not a Linux interface name")));
            } else if !seen.insert(name.as_str()) {
                out.push((at, format!("'{name}' is listed twice")));
            }
        }
        out
    }
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

pub use crate::sinks::firehose::{DeliveryStreamConfig, StreamDestination};
pub use crate::sinks::log_group::{LogGroupConfig, RETENTION_DAYS};
pub use crate::sinks::s3::BucketConfig;

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
        let mut out = crate::sinks::s3::check(&self.buckets);
        out.extend(self.capture.check());
        out.extend(crate::agents::check(&self.agents));
        out.extend(TopicConfig::check(&self.topics));
        for (i, a) in self.detections.iter().flat_map(|d| &d.actions).enumerate() {
            if !self.topics.iter().any(|t| &t.arn == a) {
                out.push((
                    format!("detections.actions[{i}]"),
                    format!("'{a}' is not a topic of [[topics]]"),
                ));
            }
        }
        out.extend(self.server.check());
        for (i, f) in self.flow_logs.iter().enumerate() {
            // The same request twice would be one flow log (one client token): said, not merged.
            if let Some(j) = self.flow_logs[..i].iter().position(|g| g == f) {
                out.push((
                    format!("flow_logs[{i}]"),
                    format!("repeats flow_logs[{j}] exactly; remove one"),
                ));
            }
        }
        out.extend(crate::sinks::firehose::check(
            &self.delivery_streams,
            &self.buckets,
        ));
        out.extend(crate::sinks::log_group::check(&self.log_groups));
        if self.spool.max_bytes < 1 << 16 {
            out.push((
                "spool.max_bytes".to_owned(),
                format!("{} is below the minimum of 65536", self.spool.max_bytes),
            ));
        }
        out
    }
}
