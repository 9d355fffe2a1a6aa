//! Metric filters on log groups: PutMetricFilter, DescribeMetricFilters and DeleteMetricFilter
//! with CloudWatch Logs' validation, limits and messages, kept in `state.db`
//! (`metric_filters`), and TestMetricFilter. The pattern language and the transformations are
//! `vpcflow_monitor`'s; `ingest` applies the filters to events as they are committed.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use vpcflow_monitor::Pattern;
use vpcflow_monitor::metric::Transformation;

use super::{LogStore, LogsError, LogsErrorCode, limit, token};

/// The most metric filters one log group holds (AWS's quota).
pub const MAX_PER_GROUP: usize = 100;
/// The longest filter pattern.
pub const MAX_PATTERN: usize = 1024;
/// The most metric and subscription filters of one log group whose patterns hold a regex.
pub const MAX_REGEX_PATTERNS: usize = 5;
/// The most filters one DescribeMetricFilters page holds, and its default.
pub const DESCRIBE_LIMIT: i64 = 50;

/// One metric a filter publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricTransformation {
    /// The metric's name.
    pub metric_name: String,
    /// Its namespace.
    pub metric_namespace: String,
    /// What each match adds: a number or `$field`.
    pub metric_value: String,
    /// What is published when nothing matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<f64>,
    /// Dimensions: name → `$field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<std::collections::BTreeMap<String, String>>,
    /// The metric's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// PutMetricFilter.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutMetricFilter {
    /// The group.
    pub log_group_name: String,
    /// 1–512 characters, no `:` or `*`.
    pub filter_name: String,
    /// The pattern (up to 1024 characters; empty matches every event).
    pub filter_pattern: String,
    /// Exactly one.
    pub metric_transformations: Vec<MetricTransformation>,
}

/// DescribeMetricFilters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeMetricFilters {
    /// Only this group's.
    pub log_group_name: Option<String>,
    /// Only names starting so (with `log_group_name`).
    pub filter_name_prefix: Option<String>,
    /// Only filters publishing this metric (with `metric_namespace`).
    pub metric_name: Option<String>,
    /// The metric's namespace (with `metric_name`).
    pub metric_namespace: Option<String>,
    /// 1–50, default 50.
    pub limit: Option<i64>,
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

/// DeleteMetricFilter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteMetricFilter {
    /// The group.
    pub log_group_name: String,
    /// The filter.
    pub filter_name: String,
}

/// A metric filter as DescribeMetricFilters shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricFilter {
    /// Its name.
    pub filter_name: String,
    /// Its pattern.
    pub filter_pattern: String,
    /// What it publishes.
    pub metric_transformations: Vec<MetricTransformation>,
    /// When it was made (ms).
    pub creation_time: u64,
    /// Its group.
    pub log_group_name: String,
}

/// A page of metric filters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricFiltersPage {
    /// By group, then name.
    pub metric_filters: Vec<MetricFilter>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

fn invalid(message: impl Into<String>) -> LogsError {
    LogsError::refused(LogsErrorCode::InvalidParameter, message)
}

fn length(value: &str, member: &str, max: usize) -> Result<(), LogsError> {
    let n = value.chars().count();
    if n == 0 || n > max {
        return Err(invalid(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: Member must have length less than or equal to {max} and greater than \
             or equal to 1"
        )));
    }
    Ok(())
}

/// A metric or subscription filter's name: 1–512 characters, no `:` or `*`.
pub(crate) fn check_filter_name(name: &str) -> Result<(), LogsError> {
    length(name, "filterName", 512)?;
    if name.contains([':', '*']) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'filterName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [^:*]*"
        )));
    }
    Ok(())
}

/// TestMetricFilter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestMetricFilter {
    /// The pattern.
    pub filter_pattern: String,
    /// 1–50 event messages.
    pub log_event_messages: Vec<String>,
}

/// One message TestMetricFilter found matching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricFilterMatch {
    /// Its place in the request, from 1.
    pub event_number: u64,
    /// The message.
    pub event_message: String,
    /// The fields the pattern names (plain terms name none).
    pub extracted_values: std::collections::BTreeMap<String, String>,
}

/// TestMetricFilter's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricFilterMatches {
    /// The matching messages, in order.
    pub matches: Vec<MetricFilterMatch>,
}

impl TestMetricFilter {
    /// The messages the pattern matches (no I/O), with the values it extracts from each.
    pub fn run(&self) -> Result<MetricFilterMatches, LogsError> {
        let n = self.log_event_messages.len();
        if !(1..=50).contains(&n) {
            return Err(invalid(format!(
                "1 validation error detected: Value at 'logEventMessages' failed to satisfy \
                 constraint: Member must have length less than or equal to 50 and greater than \
                 or equal to 1 (given {n})"
            )));
        }
        let pattern = parse_pattern(&self.filter_pattern)?;
        let matches = self
            .log_event_messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                pattern.matched(m).map(|found| MetricFilterMatch {
                    event_number: i as u64 + 1,
                    event_message: m.clone(),
                    extracted_values: found.extracted(),
                })
            })
            .collect();
        Ok(MetricFilterMatches { matches })
    }
}

/// A filter pattern of a request (metric or subscription filter, FilterLogEvents,
/// TestMetricFilter): CloudWatch Logs' length limit, then the language (`vpcflow_monitor`).
pub(crate) fn parse_pattern(text: &str) -> Result<Pattern, LogsError> {
    if text.chars().count() > MAX_PATTERN {
        return Err(invalid(format!(
            "1 validation error detected: Value at 'filterPattern' failed to satisfy \
             constraint: Member must have length less than or equal to {MAX_PATTERN}"
        )));
    }
    Pattern::parse(text).map_err(|e| invalid(e.to_string()))
}

impl MetricTransformation {
    /// Its `metricValue` and `dimensions` checked against the filter's pattern (no I/O).
    pub fn checked(&self, pattern: &Pattern) -> Result<Transformation, LogsError> {
        let dims: Vec<(String, String)> = self
            .dimensions
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Transformation::new(pattern, &self.metric_value, &dims).map_err(|e| invalid(e.to_string()))
    }
}

impl PutMetricFilter {
    /// The request's own rules, without I/O.
    pub fn check(&self) -> Result<(), LogsError> {
        super::manage::check_name(&self.log_group_name)?;
        check_filter_name(&self.filter_name)?;
        let pattern = parse_pattern(&self.filter_pattern)?;
        if self.metric_transformations.len() != 1 {
            return Err(invalid(format!(
                "1 validation error detected: Value at 'metricTransformations' failed to satisfy \
                 constraint: Member must have length less than or equal to 1 and greater than or \
                 equal to 1 (given {})",
                self.metric_transformations.len()
            )));
        }
        let t = &self.metric_transformations[0];
        length(
            &t.metric_name,
            "metricTransformations.1.member.metricName",
            255,
        )?;
        length(
            &t.metric_namespace,
            "metricTransformations.1.member.metricNamespace",
            255,
        )?;
        length(
            &t.metric_value,
            "metricTransformations.1.member.metricValue",
            100,
        )?;
        if t.default_value.is_some() && t.dimensions.as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(invalid(
                "Metric filters with dimensions cannot have a default value",
            ));
        }
        t.checked(&pattern)?;
        Ok(())
    }
}

impl LogStore {
    /// PutMetricFilter (a filter of the same name is replaced), as `account`, at `now_ms`.
    pub fn put_metric_filter(
        &self,
        req: &PutMetricFilter,
        account: &str,
        now_ms: u64,
    ) -> Result<(), LogsError> {
        req.check()?;
        self.owned(&req.log_group_name, account)?;
        let count: i64 = self.db(self.conn.query_row(
            "SELECT COUNT(*) FROM metric_filters WHERE log_group = ?1 AND name <> ?2",
            params![req.log_group_name, req.filter_name],
            |r| r.get(0),
        ))?;
        if count as usize >= MAX_PER_GROUP {
            return Err(LogsError::refused(
                LogsErrorCode::LimitExceeded,
                format!(
                    "Resource limit exceeded: a log group has at most {MAX_PER_GROUP} metric filters."
                ),
            ));
        }
        if Pattern::parse(&req.filter_pattern).is_ok_and(|p| p.has_regex()) {
            self.check_regex_quota(&req.log_group_name, Some(&req.filter_name), None)?;
        }
        let t = serde_json::to_string(&req.metric_transformations).expect("serializes");
        self.db(self.conn.execute(
            "INSERT INTO metric_filters (log_group, name, pattern, transformations, created_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (log_group, name) DO UPDATE SET \
             pattern = excluded.pattern, transformations = excluded.transformations",
            params![
                req.log_group_name,
                req.filter_name,
                req.filter_pattern,
                t,
                now_ms as i64
            ],
        ))?;
        Ok(())
    }

    /// DescribeMetricFilters: the caller's groups' filters.
    pub fn describe_metric_filters(
        &self,
        req: &DescribeMetricFilters,
    ) -> Result<MetricFiltersPage, LogsError> {
        let limit = limit("limit", req.limit, DESCRIBE_LIMIT)?;
        if req.metric_name.is_some() != req.metric_namespace.is_some() {
            return Err(invalid(
                "metricName and metricNamespace must be specified together",
            ));
        }
        if req.filter_name_prefix.is_some() && req.log_group_name.is_none() {
            return Err(invalid(
                "filterNamePrefix may only be specified with logGroupName",
            ));
        }
        if let Some(g) = &req.log_group_name {
            self.group(Some(g), None)?;
        }
        let after = token(req.next_token.as_deref(), "m/")?;
        let all = self.metric_filters(req.log_group_name.as_deref())?;
        let mut matching = all
            .into_iter()
            .filter(|f| self.visible(&f.log_group_name).unwrap_or(false))
            .filter(|f| {
                after.is_none_or(|a| {
                    format!("{}\u{0}{}", f.log_group_name, f.filter_name).as_str() > a
                })
            })
            .filter(|f| {
                req.filter_name_prefix
                    .as_deref()
                    .is_none_or(|p| f.filter_name.starts_with(p))
            })
            .filter(|f| {
                req.metric_name.as_deref().is_none_or(|m| {
                    f.metric_transformations.iter().any(|t| {
                        t.metric_name == m
                            && Some(t.metric_namespace.as_str()) == req.metric_namespace.as_deref()
                    })
                })
            });
        let page: Vec<MetricFilter> = matching.by_ref().take(limit).collect();
        let next_token = match (matching.next(), page.last()) {
            (Some(_), Some(last)) => Some(format!(
                "m/{}\u{0}{}",
                last.log_group_name, last.filter_name
            )),
            _ => None,
        };
        Ok(MetricFiltersPage {
            metric_filters: page,
            next_token,
        })
    }

    /// Every metric filter (of one group), by group and name.
    pub fn metric_filters(&self, group: Option<&str>) -> Result<Vec<MetricFilter>, LogsError> {
        let mut stmt = self.db(self.conn.prepare(
            "SELECT log_group, name, pattern, transformations, created_ms FROM metric_filters \
             WHERE ?1 IS NULL OR log_group = ?1 ORDER BY log_group, name",
        ))?;
        let rows = self.db(stmt
            .query_map([group], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>))?;
        Ok(rows
            .into_iter()
            .map(
                |(log_group_name, filter_name, filter_pattern, t, created)| MetricFilter {
                    filter_name,
                    filter_pattern,
                    metric_transformations: serde_json::from_str(&t).unwrap_or_default(),
                    creation_time: created as u64,
                    log_group_name,
                },
            )
            .collect())
    }

    /// DeleteMetricFilter.
    pub fn delete_metric_filter(
        &self,
        req: &DeleteMetricFilter,
        account: &str,
    ) -> Result<(), LogsError> {
        self.owned(&req.log_group_name, account)?;
        let n = self.db(self.conn.execute(
            "DELETE FROM metric_filters WHERE log_group = ?1 AND name = ?2",
            params![req.log_group_name, req.filter_name],
        ))?;
        if n == 0 {
            return Err(LogsError::refused(
                LogsErrorCode::ResourceNotFound,
                "The specified metric filter does not exist.",
            ));
        }
        Ok(())
    }

    /// AWS's quota: at most [`MAX_REGEX_PATTERNS`] metric and subscription filters of a group
    /// hold a regex (the one being replaced, by name, aside).
    pub(crate) fn check_regex_quota(
        &self,
        group: &str,
        metric_filter: Option<&str>,
        subscription_filter: Option<&str>,
    ) -> Result<(), LogsError> {
        let mut stmt = self.db(self.conn.prepare(
            "SELECT pattern FROM metric_filters WHERE log_group = ?1 AND name IS NOT ?2 \
             UNION ALL SELECT json_extract(body, '$.filterPattern') FROM subscription_filters \
             WHERE log_group = ?1 AND name IS NOT ?3",
        ))?;
        let patterns = self.db(stmt
            .query_map(params![group, metric_filter, subscription_filter], |r| {
                r.get::<_, String>(0)
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>))?;
        let with_regex = patterns
            .iter()
            .filter(|p| Pattern::parse(p).is_ok_and(|p| p.has_regex()))
            .count();
        if with_regex >= MAX_REGEX_PATTERNS {
            return Err(LogsError::refused(
                LogsErrorCode::LimitExceeded,
                format!(
                    "Resource limit exceeded: a log group has at most {MAX_REGEX_PATTERNS} metric \
                     and subscription filter patterns containing regex."
                ),
            ));
        }
        Ok(())
    }

    /// How many metric filters a group has.
    pub(crate) fn metric_filter_count(&self, group: &str) -> Result<u32, LogsError> {
        let n: i64 = self.db(self.conn.query_row(
            "SELECT COUNT(*) FROM metric_filters WHERE log_group = ?1",
            [group],
            |r| r.get(0),
        ))?;
        Ok(n as u32)
    }
}
