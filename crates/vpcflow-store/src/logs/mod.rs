//! Log groups as a service: DescribeLogGroups, DescribeLogStreams, GetLogEvents and
//! FilterLogEvents over the log-group store (the index in `state.db`, [`index`], and the segment
//! files), with CloudWatch Logs' paging, limits and errors ([`error`]). The CLI's `vpcflow logs`
//! and the API server call these as they are: requests deserialize from, and answers serialize
//! to, the API's JSON (camelCase members).
//!
//! Time ranges are AWS's: GetLogEvents takes `[startTime, endTime)`, FilterLogEvents
//! `[startTime, endTime]` (ms). Tokens name a position in the answer's order, so paging goes
//! on from where it was.

pub mod contributors;
pub mod error;
pub mod filters;
pub mod index;
pub mod ingest;
pub mod manage;
pub mod records;
pub mod streams;
pub mod subscriptions;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::DataDir;
use crate::segment::{self, Event};
pub use error::{LOGS_ERRORS, LogsError, LogsErrorCode};
pub use filters::{
    DeleteMetricFilter, DescribeMetricFilters, MetricFilter, MetricFilterMatches,
    MetricTransformation, PutMetricFilter, TestMetricFilter,
};
pub use manage::{
    CreateLogGroup, ListTagsRequest, LogGroupRequest, PutRetentionPolicy, RETENTION_DAYS,
    TagRequest, Tags, UntagRequest,
};
pub use streams::{CreateLogStream, InputLogEvent, PutLogEvents, PutLogEventsAnswer};
pub use subscriptions::{
    DeleteSubscriptionFilter, DescribeSubscriptionFilters, PutSubscriptionFilter,
    SubscriptionFilter,
};

/// The most log groups or streams one Describe page holds, and its default.
pub const DESCRIBE_LIMIT: i64 = 50;
/// The most events one GetLogEvents or FilterLogEvents page holds, and its default.
pub const EVENTS_LIMIT: i64 = 10_000;

/// DescribeLogGroups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogGroups {
    /// Only names starting so.
    pub log_group_name_prefix: Option<String>,
    /// Only names containing this (case-sensitive).
    pub log_group_name_pattern: Option<String>,
    /// 1–50, default 50.
    pub limit: Option<i64>,
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

/// A page of log groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroupsPage {
    /// By name.
    pub log_groups: Vec<LogGroup>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A log group as DescribeLogGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroup {
    /// Name.
    pub log_group_name: String,
    /// ms since the epoch.
    pub creation_time: u64,
    /// Days events are kept; absent: forever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<u32>,
    /// Metric filters on it.
    pub metric_filter_count: u32,
    /// `arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*`.
    pub arn: String,
    /// Bytes of its segment files.
    pub stored_bytes: u64,
    /// Always `STANDARD`.
    pub log_group_class: &'static str,
    /// The ARN without `:*`.
    pub log_group_arn: String,
}

/// DescribeLogStreams.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogStreams {
    /// The group (or `log_group_identifier`).
    pub log_group_name: Option<String>,
    /// The group's name or ARN.
    pub log_group_identifier: Option<String>,
    /// Only names starting so (not with `LastEventTime` order).
    pub log_stream_name_prefix: Option<String>,
    /// `LogStreamName` (default) or `LastEventTime`.
    pub order_by: Option<String>,
    /// Reverse the order.
    pub descending: Option<bool>,
    /// 1–50, default 50.
    pub limit: Option<i64>,
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

/// A page of log streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStreamsPage {
    /// In the order asked for.
    pub log_streams: Vec<LogStream>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A log stream as DescribeLogStreams shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStream {
    /// Name (`<eni>-all` for flow logs).
    pub log_stream_name: String,
    /// When CreateLogStream made it; a flow log's: its first event's time.
    pub creation_time: u64,
    /// Its first event's time (absent before its first event, as AWS leaves it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_event_timestamp: Option<u64>,
    /// Its last event's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_timestamp: Option<u64>,
    /// `arn:aws:logs:REGION:ACCOUNT:log-group:GROUP:log-stream:NAME`.
    pub arn: String,
    /// Deprecated by AWS, always 0.
    pub stored_bytes: u64,
}

/// GetLogEvents: one stream's events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEvents {
    /// The group (or `log_group_identifier`).
    pub log_group_name: Option<String>,
    /// The group's name or ARN.
    pub log_group_identifier: Option<String>,
    /// The stream.
    pub log_stream_name: String,
    /// From this time (ms), included.
    pub start_time: Option<i64>,
    /// To this time (ms), excluded.
    pub end_time: Option<i64>,
    /// A `nextForwardToken` or `nextBackwardToken`.
    pub next_token: Option<String>,
    /// 1–10 000, default 10 000.
    pub limit: Option<i64>,
    /// Without a token: the oldest events (true) or the newest (false, the default).
    pub start_from_head: Option<bool>,
}

/// A page of one stream's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEventsPage {
    /// Oldest first.
    pub events: Vec<OutputLogEvent>,
    /// The page after; the same token again at the end.
    pub next_forward_token: String,
    /// The page before.
    pub next_backward_token: String,
}

/// An event of GetLogEvents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputLogEvent {
    /// ms.
    pub timestamp: u64,
    /// The record line.
    pub message: String,
    /// ms.
    pub ingestion_time: u64,
}

/// FilterLogEvents: a group's events, across streams, that match a pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEvents {
    /// The group (or `log_group_identifier`).
    pub log_group_name: Option<String>,
    /// The group's name or ARN.
    pub log_group_identifier: Option<String>,
    /// Only these streams.
    pub log_stream_names: Option<Vec<String>>,
    /// Only streams whose names start so.
    pub log_stream_name_prefix: Option<String>,
    /// From this time (ms), included.
    pub start_time: Option<i64>,
    /// To this time (ms), included.
    pub end_time: Option<i64>,
    /// Plain terms, each in the message (a quoted phrase is one term); empty: every event.
    pub filter_pattern: Option<String>,
    /// Where the previous page ended.
    pub next_token: Option<String>,
    /// 1–10 000, default 10 000.
    pub limit: Option<i64>,
}

/// A page of matching events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteredEventsPage {
    /// By time, then stream.
    pub events: Vec<FilteredLogEvent>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// An event of FilterLogEvents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteredLogEvent {
    /// Its stream.
    pub log_stream_name: String,
    /// ms.
    pub timestamp: u64,
    /// The record line.
    pub message: String,
    /// ms.
    pub ingestion_time: u64,
    /// Its place in the group: the same event, the same id.
    pub event_id: String,
}

/// The log-group store of a data directory, as a service.
pub struct LogStore {
    conn: Connection,
    dir: DataDir,
    region: String,
    account: String,
    /// The account whose requests this store answers ([`LogStore::acting_for`]).
    caller: Option<String>,
}

impl LogStore {
    /// Opens the store of `dir` (creating its database); ARNs name `region` and `account`.
    pub fn open(dir: DataDir, region: &str, account: &str) -> Result<LogStore, LogsError> {
        Ok(LogStore {
            conn: crate::db::open(&dir.state_db())?,
            dir,
            region: region.to_owned(),
            account: account.to_owned(),
            caller: None,
        })
    }

    /// Makes the requests that follow an account's: it sees only the log groups it owns (a
    /// group kept before owners were, the store's account's). `None` (the default): the data
    /// directory's owner, who sees every group.
    pub fn acting_for(&mut self, account: Option<&str>) {
        self.caller = account.map(str::to_owned);
    }

    /// Whether the caller may see `group` (which exists).
    fn visible(&self, group: &str) -> Result<bool, LogsError> {
        let Some(caller) = &self.caller else {
            return Ok(true);
        };
        let owner = self.db(index::group_account(&self.conn, group))?;
        Ok(owner.as_deref().unwrap_or(&self.account) == caller)
    }

    /// The named groups exist and are the caller's (StartQuery's check before it runs).
    pub fn check_groups(&self, names: &[String]) -> Result<(), LogsError> {
        for n in names {
            self.group(Some(group_name(n)), None)?;
        }
        Ok(())
    }

    /// The index's connection, for readers of the index itself.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn db<T>(&self, r: rusqlite::Result<T>) -> Result<T, LogsError> {
        r.map_err(|source| {
            LogsError::Db(crate::DbError::Sqlite {
                path: self.dir.state_db().display().to_string(),
                source,
            })
        })
    }

    /// The group's ARN, in its owner's account (the store's when no owner was kept).
    fn group_arn(&self, group: &str) -> Result<String, LogsError> {
        let owner = self.db(index::group_account(&self.conn, group))?;
        Ok(format!(
            "arn:aws:logs:{}:{}:log-group:{group}",
            self.region,
            owner.as_deref().unwrap_or(&self.account)
        ))
    }

    /// DescribeLogGroups.
    pub fn describe_log_groups(&self, req: &DescribeLogGroups) -> Result<LogGroupsPage, LogsError> {
        let limit = limit("limit", req.limit, DESCRIBE_LIMIT)?;
        if req.log_group_name_prefix.is_some() && req.log_group_name_pattern.is_some() {
            return Err(LogsError::refused(
                LogsErrorCode::InvalidParameter,
                "LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive.",
            ));
        }
        let after = token(req.next_token.as_deref(), "g/")?;
        let groups = self
            .db(index::groups(&self.conn))?
            .into_iter()
            .filter(|g| after.is_none_or(|a| g.name.as_str() > a))
            .filter(|g| {
                req.log_group_name_prefix
                    .as_deref()
                    .is_none_or(|p| g.name.starts_with(p))
            })
            .filter(|g| {
                req.log_group_name_pattern
                    .as_deref()
                    .is_none_or(|p| g.name.contains(p))
            });
        let mut log_groups = Vec::new();
        let mut groups = groups.filter(|g| self.visible(&g.name).unwrap_or(false));
        for g in groups.by_ref().take(limit) {
            let arn = self.group_arn(&g.name)?;
            let metric_filter_count = self.metric_filter_count(&g.name)?;
            log_groups.push(LogGroup {
                stored_bytes: self.stored_bytes(&g.name)?,
                arn: format!("{arn}:*"),
                log_group_arn: arn,
                log_group_name: g.name,
                creation_time: g.created_ms,
                retention_in_days: g.retention_days,
                metric_filter_count,
                log_group_class: "STANDARD",
            });
        }
        let next_token = match (groups.next(), log_groups.last()) {
            (Some(_), Some(last)) => Some(format!("g/{}", last.log_group_name)),
            _ => None,
        };
        Ok(LogGroupsPage {
            log_groups,
            next_token,
        })
    }

    fn stored_bytes(&self, group: &str) -> Result<u64, LogsError> {
        let segments = self.db(index::segments(&self.conn, group))?;
        Ok(segments
            .iter()
            .filter_map(|s| std::fs::metadata(self.dir.segment(group, s)).ok())
            .map(|m| m.len())
            .sum())
    }

    /// The group a request names, which must exist.
    fn group<'r>(
        &self,
        name: Option<&'r str>,
        identifier: Option<&'r str>,
    ) -> Result<&'r str, LogsError> {
        let group = match (name, identifier) {
            (Some(_), Some(_)) => {
                return Err(LogsError::refused(
                    LogsErrorCode::InvalidParameter,
                    "LogGroupName and LogGroupIdentifier are mutually exclusive.",
                ));
            }
            (Some(n), None) => n,
            (None, Some(id)) => group_name(id),
            (None, None) => {
                return Err(LogsError::refused(
                    LogsErrorCode::InvalidParameter,
                    "Either LogGroupName or LogGroupIdentifier must be specified.",
                ));
            }
        };
        if self.db(index::group_exists(&self.conn, group))? && self.visible(group)? {
            Ok(group)
        } else {
            Err(LogsError::no_group())
        }
    }

    /// DescribeLogStreams.
    pub fn describe_log_streams(
        &self,
        req: &DescribeLogStreams,
    ) -> Result<LogStreamsPage, LogsError> {
        let limit = limit("limit", req.limit, DESCRIBE_LIMIT)?;
        let by_time = match req.order_by.as_deref() {
            None | Some("LogStreamName") => false,
            Some("LastEventTime") => true,
            Some(other) => {
                return Err(LogsError::refused(
                    LogsErrorCode::InvalidParameter,
                    format!(
                        "1 validation error detected: Value '{other}' at 'orderBy' failed to \
                         satisfy constraint: Member must satisfy enum value set: \
                         [LogStreamName, LastEventTime]"
                    ),
                ));
            }
        };
        if by_time && req.log_stream_name_prefix.is_some() {
            return Err(LogsError::refused(
                LogsErrorCode::InvalidParameter,
                "Cannot order by LastEventTime with a logStreamNamePrefix.",
            ));
        }
        let group = self.group(
            req.log_group_name.as_deref(),
            req.log_group_identifier.as_deref(),
        )?;
        let from = position(req.next_token.as_deref(), "s/")?.unwrap_or(0);
        let mut streams: Vec<index::LogStreamInfo> = self
            .db(index::streams(&self.conn, group))?
            .into_iter()
            .filter(|s| {
                req.log_stream_name_prefix
                    .as_deref()
                    .is_none_or(|p| s.name.starts_with(p))
            })
            .collect();
        if by_time {
            streams.sort_by(|a, b| (a.last_ms, &a.name).cmp(&(b.last_ms, &b.name)));
        }
        if req.descending == Some(true) {
            streams.reverse();
        }
        let end = (from + limit).min(streams.len());
        let arn = self.group_arn(group)?;
        let log_streams = streams
            .get(from.min(end)..end)
            .unwrap_or_default()
            .iter()
            .map(|s| LogStream {
                log_stream_name: s.name.clone(),
                creation_time: s.created_ms,
                first_event_timestamp: s.first_ms,
                last_event_timestamp: s.last_ms,
                arn: format!("{arn}:log-stream:{}", s.name),
                stored_bytes: 0,
            })
            .collect();
        Ok(LogStreamsPage {
            log_streams,
            next_token: (end < streams.len()).then(|| format!("s/{end}")),
        })
    }

    /// Events of `group` (of `stream` only, when given) with times in `[from, to]`, by time
    /// then stream, in the order they were stored.
    fn events(
        &self,
        group: &str,
        stream: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<Vec<Event>, LogsError> {
        let segments = self.db(index::segments_between(&self.conn, group, stream, from, to))?;
        let mut events = Vec::new();
        for s in segments {
            events.extend(
                segment::read(&self.dir.segment(group, &s), stream)?
                    .into_iter()
                    .filter(|e| (from..=to).contains(&(e.timestamp as i64))),
            );
        }
        // Stable: events of one time and stream keep the order they were stored in.
        events.sort_by(|a, b| (a.timestamp, &a.stream).cmp(&(b.timestamp, &b.stream)));
        Ok(events)
    }

    /// GetLogEvents.
    pub fn get_log_events(&self, req: &GetLogEvents) -> Result<LogEventsPage, LogsError> {
        let limit = limit("limit", req.limit, EVENTS_LIMIT)?;
        let group = self.group(
            req.log_group_name.as_deref(),
            req.log_group_identifier.as_deref(),
        )?;
        let streams = self.db(index::streams(&self.conn, group))?;
        if !streams.iter().any(|s| s.name == req.log_stream_name) {
            return Err(LogsError::refused(
                LogsErrorCode::ResourceNotFound,
                "The specified log stream does not exist.",
            ));
        }
        let from = req.start_time.unwrap_or(0);
        // endTime is excluded.
        let to = req.end_time.map_or(i64::MAX, |t| t.saturating_sub(1));
        let events = self.events(group, Some(&req.log_stream_name), from, to)?;
        let n = events.len();
        let (start, end) = match req.next_token.as_deref() {
            Some(t) if t.starts_with("f/") => {
                let at = position(Some(t), "f/")?.unwrap_or(0).min(n);
                (at, (at + limit).min(n))
            }
            Some(t) => {
                let at = position(Some(t), "b/")?.unwrap_or(0).min(n);
                (at.saturating_sub(limit), at)
            }
            None if req.start_from_head == Some(true) => (0, limit.min(n)),
            None => (n.saturating_sub(limit), n),
        };
        Ok(LogEventsPage {
            events: events[start..end]
                .iter()
                .map(|e| OutputLogEvent {
                    timestamp: e.timestamp,
                    message: e.message.clone(),
                    ingestion_time: e.ingestion_time,
                })
                .collect(),
            next_forward_token: format!("f/{end}"),
            next_backward_token: format!("b/{start}"),
        })
    }

    /// FilterLogEvents.
    pub fn filter_log_events(
        &self,
        req: &FilterLogEvents,
    ) -> Result<FilteredEventsPage, LogsError> {
        let limit = limit("limit", req.limit, EVENTS_LIMIT)?;
        if req.log_stream_names.is_some() && req.log_stream_name_prefix.is_some() {
            return Err(LogsError::refused(
                LogsErrorCode::InvalidParameter,
                "You cannot specify both LogStreamNames and LogStreamNamePrefix.",
            ));
        }
        let pattern = filters::parse_pattern(req.filter_pattern.as_deref().unwrap_or(""))?;
        let group = self.group(
            req.log_group_name.as_deref(),
            req.log_group_identifier.as_deref(),
        )?;
        let from = position(req.next_token.as_deref(), "e/")?.unwrap_or(0);
        let events = self.events(
            group,
            None,
            req.start_time.unwrap_or(0),
            req.end_time.unwrap_or(i64::MAX),
        )?;
        let mut matching = events
            .into_iter()
            .enumerate()
            .filter(|(_, e)| {
                req.log_stream_names
                    .as_ref()
                    .is_none_or(|names| names.contains(&e.stream))
            })
            .filter(|(_, e)| {
                req.log_stream_name_prefix
                    .as_deref()
                    .is_none_or(|p| e.stream.starts_with(p))
            })
            .filter(|(_, e)| pattern.is_match(&e.message))
            .skip_while(|(i, _)| *i < from);
        let page: Vec<(usize, Event)> = matching.by_ref().take(limit).collect();
        let next_token = match (matching.next(), page.last()) {
            (Some(_), Some((i, _))) => Some(format!("e/{}", i + 1)),
            _ => None,
        };
        Ok(FilteredEventsPage {
            events: page
                .into_iter()
                .map(|(i, e)| FilteredLogEvent {
                    event_id: format!("{:020}{i:016}", e.timestamp),
                    log_stream_name: e.stream,
                    timestamp: e.timestamp,
                    message: e.message,
                    ingestion_time: e.ingestion_time,
                })
                .collect(),
            next_token,
        })
    }
}

/// A log group's name from a `logGroupIdentifier`: its name, or its ARN (`…:log-group:NAME`,
/// with or without `:*`).
pub fn group_name(identifier: &str) -> &str {
    match identifier.split_once(":log-group:") {
        Some((_, rest)) => rest.strip_suffix(":*").unwrap_or(rest),
        None => identifier,
    }
}

/// A page size: `default` when absent, else within `1..=default`.
fn limit(what: &str, given: Option<i64>, default: i64) -> Result<usize, LogsError> {
    match given {
        None => Ok(default as usize),
        Some(n) if (1..=default).contains(&n) => Ok(n as usize),
        Some(n) => Err(LogsError::out_of_range(what, n, 1, default)),
    }
}

fn bad_token() -> LogsError {
    LogsError::refused(
        LogsErrorCode::InvalidParameter,
        "The specified nextToken is invalid.",
    )
}

/// The text after `prefix` of a token this service gave out.
fn token<'t>(t: Option<&'t str>, prefix: &str) -> Result<Option<&'t str>, LogsError> {
    t.map(|t| t.strip_prefix(prefix).ok_or_else(bad_token))
        .transpose()
}

/// The position a token names.
fn position(t: Option<&str>, prefix: &str) -> Result<Option<usize>, LogsError> {
    token(t, prefix)?
        .map(|n| n.parse().map_err(|_| bad_token()))
        .transpose()
}
