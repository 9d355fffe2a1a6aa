//! Subscription filters on log groups: PutSubscriptionFilter, DescribeSubscriptionFilters and
//! DeleteSubscriptionFilter with CloudWatch Logs' rules (two per group, a Firehose stream as
//! the destination), kept in `state.db` (`subscription_filters`), and what each has still to
//! forward: the events of the group's segments indexed after the filter was put (segments'
//! rowids, which only grow), matched by the filter's pattern. A pump hands them to the stream
//! and then moves the filter on ([`LogStore::forwarded`]): a crash in between forwards them
//! again, never loses them (CloudWatch Logs' delivery is at least once too).
//!
//! Patterns: plain terms, as FilterLogEvents takes them (the empty pattern matches every
//! event); the pattern language's other forms come with the monitoring.

use rusqlite::{OptionalExtension as _, params};
use serde::{Deserialize, Serialize};

use super::filters::parse_pattern;
use super::{LogStore, LogsError, LogsErrorCode, limit, position};
use crate::segment::{self, Event};

/// The most subscription filters one log group holds (AWS's quota).
pub const MAX_PER_GROUP: usize = 2;
/// DescribeSubscriptionFilters' largest page, and its default.
pub const DESCRIBE_LIMIT: i64 = 50;
/// The most segments one forwarding step reads per filter.
pub const FORWARD_SEGMENTS: usize = 64;

/// PutSubscriptionFilter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutSubscriptionFilter {
    /// The group.
    pub log_group_name: String,
    /// 1–512 characters, no `:` or `*`.
    pub filter_name: String,
    /// The pattern (empty: every event).
    pub filter_pattern: String,
    /// `arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME`.
    pub destination_arn: String,
    /// The role CloudWatch Logs would assume.
    pub role_arn: Option<String>,
    /// `ByLogStream` (default) or `Random`.
    pub distribution: Option<String>,
    /// Whether transformed events are forwarded (taken, and kept).
    pub apply_on_transformed_logs: Option<bool>,
}

/// A subscription filter as kept and described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionFilter {
    /// Name.
    pub filter_name: String,
    /// Group.
    pub log_group_name: String,
    /// Pattern.
    pub filter_pattern: String,
    /// The stream's ARN.
    pub destination_arn: String,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Distribution.
    pub distribution: String,
    /// Whether transformed events are forwarded.
    pub apply_on_transformed_logs: bool,
    /// Created (ms).
    pub creation_time: u64,
}

/// DescribeSubscriptionFilters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeSubscriptionFilters {
    /// The group.
    pub log_group_name: String,
    /// Only names starting so.
    pub filter_name_prefix: Option<String>,
    /// From a previous page.
    pub next_token: Option<String>,
    /// Page size (1–50).
    pub limit: Option<i64>,
}

/// DescribeSubscriptionFilters' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionFiltersPage {
    /// By name.
    pub subscription_filters: Vec<SubscriptionFilter>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteSubscriptionFilter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSubscriptionFilter {
    /// The group.
    pub log_group_name: String,
    /// The filter.
    pub filter_name: String,
}

/// Events a filter has to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The filter.
    pub filter: SubscriptionFilter,
    /// The group's owner.
    pub owner: String,
    /// Its matching events, by stream then time, each with its event id.
    pub events: Vec<(String, Event)>,
    /// The last segment row they come from ([`LogStore::forwarded`] moves the filter there).
    pub upto: i64,
}

/// The Firehose stream an ARN names: (account, name).
pub fn firehose_stream(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:firehose:")?;
    let (_region, rest) = rest.split_once(':')?;
    let (account, name) = rest.split_once(":deliverystream/")?;
    (!name.is_empty()).then_some((account, name))
}

impl PutSubscriptionFilter {
    /// The request's own rules, without I/O.
    pub fn check(&self) -> Result<(), LogsError> {
        super::filters::check_filter_name(&self.filter_name)?;
        parse_pattern(&self.filter_pattern)?;
        match self.distribution.as_deref() {
            None | Some("ByLogStream" | "Random") => {}
            Some(d) => {
                return Err(invalid(format!(
                    "1 validation error detected: Value '{d}' at 'distribution' failed to \
                     satisfy constraint: Member must satisfy enum value set: [Random, ByLogStream]"
                )));
            }
        }
        if firehose_stream(&self.destination_arn).is_none() {
            return Err(invalid(format!(
                "The destination {} is not served here: vpcflow forwards subscription filters \
                 to Firehose streams (arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME)",
                self.destination_arn
            )));
        }
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> LogsError {
    LogsError::refused(LogsErrorCode::InvalidParameter, message)
}

impl LogStore {
    /// PutSubscriptionFilter (a filter of the same name is replaced, and goes on from where it
    /// was), as `account`, at `now_ms`. `stream_exists` says whether the account has the
    /// Firehose stream of an ARN.
    pub fn put_subscription_filter(
        &self,
        req: &PutSubscriptionFilter,
        account: &str,
        now_ms: u64,
        stream_exists: &dyn Fn(&str, &str) -> bool,
    ) -> Result<(), LogsError> {
        req.check()?;
        self.owned(&req.log_group_name, account)?;
        let (stream_account, stream) =
            firehose_stream(&req.destination_arn).expect("checked above");
        if stream_account != account || !stream_exists(account, stream) {
            return Err(invalid(
                "Could not deliver test message to specified Firehose stream. Check if the \
                 given Firehose stream is in ACTIVE state.",
            ));
        }
        let others: i64 = self.db(self.conn.query_row(
            "SELECT COUNT(*) FROM subscription_filters WHERE log_group = ?1 AND name <> ?2",
            params![req.log_group_name, req.filter_name],
            |r| r.get(0),
        ))?;
        if others as usize >= MAX_PER_GROUP {
            return Err(LogsError::refused(
                LogsErrorCode::LimitExceeded,
                "Resource limit exceeded.",
            ));
        }
        if parse_pattern(&req.filter_pattern).is_ok_and(|p| p.has_regex()) {
            self.check_regex_quota(&req.log_group_name, None, Some(&req.filter_name))?;
        }
        let filter = SubscriptionFilter {
            filter_name: req.filter_name.clone(),
            log_group_name: req.log_group_name.clone(),
            filter_pattern: req.filter_pattern.clone(),
            destination_arn: req.destination_arn.clone(),
            role_arn: req.role_arn.clone(),
            distribution: req
                .distribution
                .clone()
                .unwrap_or_else(|| "ByLogStream".into()),
            apply_on_transformed_logs: req.apply_on_transformed_logs.unwrap_or(false),
            creation_time: now_ms,
        };
        // Events indexed from now on are forwarded: the newest segment row is where it starts.
        let newest: i64 = self.db(self.conn.query_row(
            "SELECT COALESCE(MAX(rowid), 0) FROM segments",
            [],
            |r| r.get(0),
        ))?;
        self.db(self.conn.execute(
            "INSERT INTO subscription_filters (log_group, name, body, created_ms, forwarded) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (log_group, name) DO UPDATE SET \
             body = excluded.body",
            params![
                req.log_group_name,
                req.filter_name,
                serde_json::to_string(&filter).expect("serializes"),
                now_ms as i64,
                newest
            ],
        ))?;
        Ok(())
    }

    /// DescribeSubscriptionFilters.
    pub fn describe_subscription_filters(
        &self,
        req: &DescribeSubscriptionFilters,
        account: &str,
    ) -> Result<SubscriptionFiltersPage, LogsError> {
        let limit = limit("limit", req.limit, DESCRIBE_LIMIT)?;
        self.owned(&req.log_group_name, account)?;
        let from = position(req.next_token.as_deref(), "s/")?.unwrap_or(0);
        let all: Vec<SubscriptionFilter> = self
            .subscription_filters(Some(&req.log_group_name))?
            .into_iter()
            .filter(|f| {
                req.filter_name_prefix
                    .as_deref()
                    .is_none_or(|p| f.filter_name.starts_with(p))
            })
            .collect();
        let end = (from + limit).min(all.len());
        Ok(SubscriptionFiltersPage {
            next_token: (end < all.len()).then(|| format!("s/{end}")),
            subscription_filters: all.into_iter().skip(from).take(limit).collect(),
        })
    }

    /// Every subscription filter (of one group), by group then name.
    pub fn subscription_filters(
        &self,
        group: Option<&str>,
    ) -> Result<Vec<SubscriptionFilter>, LogsError> {
        let mut st = self.db(self.conn.prepare(
            "SELECT body FROM subscription_filters WHERE ?1 IS NULL OR log_group = ?1 \
             ORDER BY log_group, name",
        ))?;
        let bodies: Vec<String> = self.db(st
            .query_map([group], |r| r.get(0))
            .and_then(|rows| rows.collect()))?;
        Ok(bodies
            .iter()
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect())
    }

    /// DeleteSubscriptionFilter.
    pub fn delete_subscription_filter(
        &self,
        req: &DeleteSubscriptionFilter,
        account: &str,
    ) -> Result<(), LogsError> {
        self.owned(&req.log_group_name, account)?;
        let gone = self.db(self.conn.execute(
            "DELETE FROM subscription_filters WHERE log_group = ?1 AND name = ?2",
            params![req.log_group_name, req.filter_name],
        ))?;
        if gone == 0 {
            return Err(LogsError::refused(
                LogsErrorCode::ResourceNotFound,
                "The specified subscription filter does not exist.",
            ));
        }
        Ok(())
    }

    /// What every filter has still to forward: the matching events of up to
    /// [`FORWARD_SEGMENTS`] segment rows past where it is (filters with nothing new are left
    /// out).
    pub fn to_forward(&self) -> Result<Vec<Forward>, LogsError> {
        let mut out = Vec::new();
        for filter in self.subscription_filters(None)? {
            let group = filter.log_group_name.clone();
            let Some(from) = self.db(self
                .conn
                .query_row(
                    "SELECT forwarded FROM subscription_filters WHERE log_group = ?1 \
                         AND name = ?2",
                    params![group, filter.filter_name],
                    |r| r.get::<_, i64>(0),
                )
                .optional())?
            else {
                continue;
            };
            let mut st = self.db(self.conn.prepare(
                "SELECT rowid, segment, stream FROM segments WHERE log_group = ?1 AND rowid > ?2 \
                 ORDER BY rowid LIMIT ?3",
            ))?;
            let rows: Vec<(i64, String, String)> = self.db(st
                .query_map(params![group, from, FORWARD_SEGMENTS as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .and_then(|rows| rows.collect()))?;
            let Some(upto) = rows.last().map(|r| r.0) else {
                continue;
            };
            let pattern = parse_pattern(&filter.filter_pattern)?;
            let mut events = Vec::new();
            for (rowid, seg, stream) in rows {
                let path = self.dir.segment(&group, &seg);
                if !path.exists() {
                    // Retention took it between the index read and now: nothing to forward.
                    continue;
                }
                for (i, e) in segment::read(&path, Some(&stream))?.into_iter().enumerate() {
                    if pattern.is_match(&e.message) {
                        events.push((format!("{:020}{rowid:010}{i:06}", e.timestamp), e));
                    }
                }
            }
            let owner = self
                .db(super::index::group_account(&self.conn, &group))?
                .unwrap_or_else(|| self.account.clone());
            out.push(Forward {
                filter,
                owner,
                events,
                upto,
            });
        }
        Ok(out)
    }

    /// Moves a filter past what it forwarded.
    pub fn forwarded(&self, f: &Forward) -> Result<(), LogsError> {
        self.db(self.conn.execute(
            "UPDATE subscription_filters SET forwarded = MAX(forwarded, ?3) \
             WHERE log_group = ?1 AND name = ?2",
            params![f.filter.log_group_name, f.filter.filter_name, f.upto],
        ))?;
        Ok(())
    }
}
