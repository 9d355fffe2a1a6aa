//! Alarm evaluation over the stored metric data, on the metric's own time: each alarm is
//! evaluated at every boundary of its period up to the time the caller gives (the newest data's
//! time: record time in a simulation, the wall clock under live traffic), so that a simulated
//! day evaluates as fast as the data is read. The state machine is `vpcflow_monitor::alarm`'s;
//! this module fetches each evaluation range's datapoints, keeps the state and its history
//! (DescribeAlarmHistory), and hands back the transitions whose actions are due.
//!
//! Decided where AWS is silent: a period's datapoint is the statistic of the data in
//! `[start, start + Period)`, periods aligned to the epoch; the alarm is evaluated when a
//! period ends (with `Period` of a minute, every minute, as AWS does); a new alarm is first
//! evaluated at the newest boundary; the state's timestamps are the metric time it changed at.

use std::collections::BTreeMap;

use rusqlite::params;
use serde::{Deserialize, Serialize};
use vpcflow_monitor::alarm::{Comparison, MissingData, Rule, State};

use crate::alarms::{AlarmError, Alarms, MetricAlarm, refused};
use crate::metrics::{Metric, Metrics};

/// The most periods one call evaluates per alarm (a week of minutes): a data directory opened
/// after a long pause catches up in steps.
pub const MAX_STEPS: u64 = 7 * 1440;

/// A state change whose actions are due.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The alarm's account.
    pub account: String,
    /// The alarm.
    pub alarm: MetricAlarm,
    /// The state it left.
    pub old: State,
    /// The state it entered.
    pub new: State,
    /// Why (the new `StateReason`).
    pub reason: String,
    /// The metric time it changed at (ms).
    pub at_ms: u64,
    /// The actions of the new state, when the alarm's actions are enabled.
    pub actions: Vec<String>,
}

/// DescribeAlarmHistory.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmHistory {
    /// Only this alarm's.
    pub alarm_name: Option<String>,
    /// MetricAlarm and/or CompositeAlarm.
    pub alarm_types: Option<Vec<String>>,
    /// ConfigurationUpdate, StateUpdate or Action.
    pub history_item_type: Option<String>,
    /// From (epoch s).
    pub start_date: Option<f64>,
    /// To (epoch s).
    pub end_date: Option<f64>,
    /// 1–100, default 100.
    pub max_records: Option<i64>,
    /// Where the previous page ended.
    pub next_token: Option<String>,
    /// TimestampDescending (default) or TimestampAscending.
    pub scan_by: Option<String>,
}

/// One history item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlarmHistoryItem {
    /// The alarm.
    pub alarm_name: String,
    /// Always MetricAlarm.
    pub alarm_type: String,
    /// When (epoch s).
    pub timestamp: f64,
    /// ConfigurationUpdate or StateUpdate.
    pub history_item_type: String,
    /// One line.
    pub history_summary: String,
    /// JSON, as AWS gives it.
    pub history_data: String,
}

/// A page of history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlarmHistoryPage {
    /// The items.
    pub alarm_history_items: Vec<AlarmHistoryItem>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

const HISTORY_TYPES: &[&str] = &["ConfigurationUpdate", "StateUpdate", "Action"];

impl Alarms {
    /// Evaluates every alarm (of every account) up to `now_ms` of metric time; returns the
    /// transitions, oldest first. Each transition's actions that name a topic are queued as one
    /// notification per subscriber (`subscribers`: a topic ARN's URLs), in the same transaction
    /// as the state they report, so that each is posted once ([`Alarms::due_notifications`]).
    pub fn evaluate(
        &self,
        metrics: &Metrics,
        now_ms: u64,
        subscribers: &dyn Fn(&str) -> Vec<String>,
    ) -> Result<Vec<Transition>, AlarmError> {
        let mut stmt = self.db(self
            .conn()
            .prepare("SELECT account, body, evaluated_ms FROM alarms ORDER BY account, name"))?;
        let rows: Vec<(String, String, Option<i64>)> = self.db(stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(Iterator::collect))?;
        drop(stmt);
        let mut out = Vec::new();
        // One transaction for the round: each alarm's state, history and notifications, and
        // one sync to disk however many alarms there are.
        let tx = self.db(self.conn().unchecked_transaction())?;
        for (account, body, evaluated) in rows {
            let Ok(alarm) = serde_json::from_str::<MetricAlarm>(&body) else {
                continue;
            };
            let changes = self.evaluate_one(metrics, &account, alarm, evaluated, now_ms)?;
            for t in &changes {
                for topic in &t.actions {
                    for url in subscribers(topic) {
                        let body = sns_notification(topic, t, &self.region);
                        self.db(tx.execute(
                            "INSERT INTO alarm_notifications (topic, url, body) VALUES (?1, ?2, ?3)",
                            params![topic, url, body],
                        ))?;
                    }
                }
            }
            out.extend(changes);
        }
        self.db(tx.commit())?;
        out.sort_by_key(|t| t.at_ms);
        Ok(out)
    }

    fn evaluate_one(
        &self,
        metrics: &Metrics,
        account: &str,
        mut alarm: MetricAlarm,
        evaluated: Option<i64>,
        now_ms: u64,
    ) -> Result<Vec<Transition>, AlarmError> {
        let Some((rule, metric, stat, period_ms)) = rule_of(&alarm) else {
            // Metric math and anomaly bands are kept, not evaluated: their state stays.
            return Ok(Vec::new());
        };
        let last = now_ms / period_ms * period_ms;
        let mut first = match evaluated {
            Some(e) => e as u64 + period_ms,
            None => last,
        };
        first = first.max(last.saturating_sub(MAX_STEPS * period_ms));
        if first > last || last == 0 {
            return Ok(Vec::new());
        }
        let range = rule.range() as u64;
        let from = first.saturating_sub(range * period_ms);
        let values = metrics.datapoints(
            account,
            &metric,
            alarm.config.unit.as_deref(),
            (from / 1000, last / 1000),
            period_ms / 1000,
            &stat,
        )?;
        let mut state = State::parse(&alarm.state_value).unwrap_or(State::InsufficientData);
        let mut out = Vec::new();
        let mut boundary = first;
        // EvaluateLowSampleCountPercentile `ignore`: a percentile over too few samples keeps
        // the state (AWS: "the alarm state does not change during periods with too few data
        // samples to be statistically significant").
        let low_sample_level = crate::metrics::percentile(&stat).filter(|_| {
            alarm.config.evaluate_low_sample_count_percentile.as_deref() == Some("ignore")
        });
        while boundary <= last {
            let points: Vec<Option<(f64, f64)>> = (0..range)
                .map(|k| {
                    let start = boundary as i64 - ((range - k) * period_ms) as i64;
                    values.get(&(start / 1000)).copied()
                })
                .collect();
            let newest = points.last().copied().flatten();
            if let (Some(level), Some((_, samples))) = (low_sample_level, newest)
                && vpcflow_monitor::alarm::too_few_samples(level, samples)
            {
                boundary += period_ms;
                continue;
            }
            let points: Vec<Option<f64>> = points.iter().map(|p| p.map(|(v, _)| v)).collect();
            let outcome = rule.evaluate(&points, state);
            if outcome.state != state {
                let reason = reason(&rule, state, &outcome, range);
                let t =
                    self.transition(account, &mut alarm, state, outcome.state, reason, boundary)?;
                out.push(t);
                state = outcome.state;
            }
            boundary += period_ms;
        }
        let body = serde_json::to_string(&alarm).expect("alarms serialize");
        self.db(self.conn().execute(
            "UPDATE alarms SET body = ?3, evaluated_ms = ?4 WHERE account = ?1 AND name = ?2",
            params![account, alarm.config.alarm_name, body, last as i64],
        ))?;
        Ok(out)
    }

    /// Moves `alarm` to `new` at `at_ms`, with its history item.
    fn transition(
        &self,
        account: &str,
        alarm: &mut MetricAlarm,
        old: State,
        new: State,
        reason: String,
        at_ms: u64,
    ) -> Result<Transition, AlarmError> {
        let old_reason = std::mem::replace(&mut alarm.state_reason, reason.clone());
        alarm.state_value = new.as_str().to_owned();
        alarm.state_updated_timestamp = at_ms as f64 / 1000.0;
        alarm.state_transitioned_timestamp = at_ms as f64 / 1000.0;
        let data = serde_json::json!({
            "version": "1.0",
            "oldState": {"stateValue": old.as_str(), "stateReason": old_reason},
            "newState": {"stateValue": new.as_str(), "stateReason": reason},
        });
        self.record(
            account,
            &alarm.config.alarm_name,
            at_ms,
            "StateUpdate",
            &format!("Alarm updated from {} to {}", old.as_str(), new.as_str()),
            &data.to_string(),
        )?;
        let c = &alarm.config;
        let actions = match new {
            State::Alarm => &c.alarm_actions,
            State::Ok => &c.ok_actions,
            State::InsufficientData => &c.insufficient_data_actions,
        };
        let actions = if c.actions_enabled.unwrap_or(true) {
            actions.clone().unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Transition {
            account: account.to_owned(),
            alarm: alarm.clone(),
            old,
            new,
            reason,
            at_ms,
            actions,
        })
    }

    /// Writes one history item.
    pub(crate) fn record(
        &self,
        account: &str,
        name: &str,
        at_ms: u64,
        kind: &str,
        summary: &str,
        data: &str,
    ) -> Result<(), AlarmError> {
        self.db(self.conn().execute(
            "INSERT INTO alarm_history (account, name, ts_ms, kind, summary, data) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![account, name, at_ms as i64, kind, summary, data],
        ))?;
        Ok(())
    }

    /// DescribeAlarmHistory for `account`.
    pub fn history(
        &self,
        account: &str,
        req: &DescribeAlarmHistory,
    ) -> Result<AlarmHistoryPage, AlarmError> {
        let max = match req.max_records {
            None => 100,
            Some(n) if (1..=100).contains(&n) => n as usize,
            Some(n) => {
                return Err(crate::alarms::validation(
                    &n.to_string(),
                    "maxRecords",
                    "Member must have value less than or equal to 100 and greater than or equal to 1",
                ));
            }
        };
        if let Some(t) = &req.history_item_type {
            crate::alarms::one_of(t, "historyItemType", HISTORY_TYPES)?;
        }
        let ascending = match req.scan_by.as_deref() {
            None | Some("TimestampDescending") => false,
            Some("TimestampAscending") => true,
            Some(s) => {
                return Err(crate::alarms::validation(
                    s,
                    "scanBy",
                    "Member must satisfy enum value set: [TimestampDescending, TimestampAscending]",
                ));
            }
        };
        let skip: usize = match &req.next_token {
            None => 0,
            Some(t) => t.parse().map_err(|_| {
                refused(
                    crate::alarms::AlarmErrorCode::InvalidParameterValue,
                    "The value of NextToken is invalid.",
                )
            })?,
        };
        let start = req.start_date.map_or(i64::MIN, |s| (s * 1000.0) as i64);
        let end = req.end_date.map_or(i64::MAX, |s| (s * 1000.0) as i64);
        let order = if ascending { "ASC" } else { "DESC" };
        let mut stmt = self.db(self.conn().prepare(&format!(
            "SELECT name, ts_ms, kind, summary, data FROM alarm_history WHERE account = ?1 \
             AND (?2 IS NULL OR name = ?2) AND (?3 IS NULL OR kind = ?3) AND ts_ms >= ?4 \
             AND ts_ms <= ?5 ORDER BY ts_ms {order}, rowid {order}"
        )))?;
        let wants_metric = req
            .alarm_types
            .as_ref()
            .is_none_or(|t| t.iter().any(|t| t == "MetricAlarm"));
        let items: Vec<AlarmHistoryItem> = self.db(stmt
            .query_map(
                params![account, req.alarm_name, req.history_item_type, start, end],
                |r| {
                    Ok(AlarmHistoryItem {
                        alarm_name: r.get(0)?,
                        alarm_type: "MetricAlarm".into(),
                        timestamp: r.get::<_, i64>(1)? as f64 / 1000.0,
                        history_item_type: r.get(2)?,
                        history_summary: r.get(3)?,
                        history_data: r.get(4)?,
                    })
                },
            )
            .and_then(Iterator::collect))?;
        let items: Vec<AlarmHistoryItem> = items.into_iter().filter(|_| wants_metric).collect();
        let page: Vec<AlarmHistoryItem> = items.iter().skip(skip).take(max).cloned().collect();
        let next_token = (skip + page.len() < items.len()).then(|| (skip + page.len()).to_string());
        Ok(AlarmHistoryPage {
            alarm_history_items: page,
            next_token,
        })
    }

    /// The metric time alarms are evaluated up to: the newest event delivered to any log group
    /// (record time in a simulation, packet time under live capture), or with no log events the
    /// end of the newest minute of metric data; `None` before any data.
    pub fn metric_time(&self) -> Result<Option<u64>, AlarmError> {
        let t: Option<i64> = self.db(self.conn().query_row(
            "SELECT COALESCE((SELECT MAX(last_ms) FROM segments), \
             (SELECT MAX(ts_ms) + 60000 FROM metric_data))",
            [],
            |r| r.get(0),
        ))?;
        Ok(t.map(|t| t.max(0) as u64))
    }

    /// Notifications due at `now_ms` (wall time), oldest first.
    pub fn due_notifications(&self, now_ms: u64) -> Result<Vec<Notification>, AlarmError> {
        let mut stmt = self.db(self.conn().prepare(
            "SELECT id, topic, url, body, attempts FROM alarm_notifications WHERE due_ms <= ?1 \
             ORDER BY id",
        ))?;
        self.db(stmt
            .query_map([now_ms as i64], |r| {
                Ok(Notification {
                    id: r.get(0)?,
                    topic: r.get(1)?,
                    url: r.get(2)?,
                    body: r.get(3)?,
                    attempts: r.get(4)?,
                })
            })
            .and_then(Iterator::collect))
    }

    /// A notification its subscriber acknowledged: not posted again.
    pub fn notified(&self, n: &Notification) -> Result<(), AlarmError> {
        self.db(self
            .conn()
            .execute("DELETE FROM alarm_notifications WHERE id = ?1", [n.id]))?;
        Ok(())
    }

    /// A notification that failed at `now_ms`: tried again after a backoff that doubles from a
    /// second up to [`MAX_BACKOFF_MS`] (SNS retries HTTP(S) deliveries so).
    pub fn notify_failed(&self, n: &Notification, now_ms: u64) -> Result<(), AlarmError> {
        let backoff = (1000u64 << n.attempts.min(16)).min(MAX_BACKOFF_MS);
        self.db(self.conn().execute(
            "UPDATE alarm_notifications SET attempts = attempts + 1, due_ms = ?2 WHERE id = ?1",
            params![n.id, (now_ms + backoff) as i64],
        ))?;
        Ok(())
    }
}

/// The longest wait between two tries of a notification.
pub const MAX_BACKOFF_MS: u64 = 60_000;

/// A notification owed to a topic's subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    id: i64,
    /// The topic's ARN.
    pub topic: String,
    /// The subscriber.
    pub url: String,
    /// SNS's HTTP(S) notification JSON.
    pub body: String,
    /// Tries that failed so far.
    pub attempts: u32,
}

impl Notification {
    /// Its `MessageId` (the SNS headers repeat it).
    pub fn message_id(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["MessageId"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// SNS's HTTP(S) notification of a state change, its `Message` CloudWatch's alarm JSON. Its
/// `MessageId` derives from the alarm and the change, so a retry carries the same one. It is
/// not signed (no SNS signing key exists here): `SignatureVersion` and `Signature` are absent.
pub fn sns_notification(topic: &str, t: &Transition, region: &str) -> String {
    let c = &t.alarm.config;
    let at = crate::time::aws_xml_time(t.at_ms);
    let message = serde_json::json!({
        "AlarmName": c.alarm_name,
        "AlarmDescription": c.alarm_description,
        "AWSAccountId": t.account,
        "AlarmConfigurationUpdatedTimestamp": crate::time::aws_xml_time(
            (t.alarm.alarm_configuration_updated_timestamp * 1000.0) as u64),
        "NewStateValue": t.new.as_str(),
        "NewStateReason": t.reason,
        "StateChangeTime": at,
        "Region": region,
        "AlarmArn": t.alarm.alarm_arn,
        "OldStateValue": t.old.as_str(),
        "OKActions": c.ok_actions.clone().unwrap_or_default(),
        "AlarmActions": c.alarm_actions.clone().unwrap_or_default(),
        "InsufficientDataActions": c.insufficient_data_actions.clone().unwrap_or_default(),
        "Trigger": {
            "MetricName": c.metric_name,
            "Namespace": c.namespace,
            "StatisticType": if c.statistic.is_some() { "Statistic" } else { "ExtendedStatistic" },
            "Statistic": c.statistic.as_deref().map(str::to_uppercase),
            "ExtendedStatistic": c.extended_statistic,
            "Unit": c.unit,
            "Dimensions": c.dimensions.clone().unwrap_or_default().iter()
                .map(|d| serde_json::json!({"value": d.value, "name": d.name}))
                .collect::<Vec<_>>(),
            "Period": c.period,
            "EvaluationPeriods": c.evaluation_periods,
            "DatapointsToAlarm": c.datapoints_to_alarm.unwrap_or(c.evaluation_periods),
            "ComparisonOperator": c.comparison_operator,
            "Threshold": c.threshold,
            "TreatMissingData": c.treat_missing_data.clone().unwrap_or_else(|| "missing".into()),
            "EvaluateLowSampleCountPercentile": c.evaluate_low_sample_count_percentile.clone().unwrap_or_default(),
        },
    });
    let id_seed = format!(
        "{topic}\n{}\n{}\n{}\n{}",
        t.account,
        c.alarm_name,
        t.at_ms,
        t.new.as_str()
    );
    serde_json::json!({
        "Type": "Notification",
        "MessageId": crate::ids::guid(&[id_seed.as_bytes()], b"sns"),
        "TopicArn": topic,
        "Subject": format!("{}: \"{}\" in {region}", t.new.as_str(), c.alarm_name),
        "Message": message.to_string(),
        "Timestamp": at,
    })
    .to_string()
}

/// What an alarm evaluates, when it is a static threshold on one metric: its rule, metric,
/// statistic and period (ms).
fn rule_of(alarm: &MetricAlarm) -> Option<(Rule, Metric, String, u64)> {
    let c = &alarm.config;
    if c.metrics.is_some() {
        return None;
    }
    let comparison = Comparison::parse(&c.comparison_operator)?;
    let n = usize::try_from(c.evaluation_periods).ok()?.max(1);
    let m = c
        .datapoints_to_alarm
        .and_then(|m| usize::try_from(m).ok())
        .unwrap_or(n)
        .clamp(1, n);
    let rule = Rule {
        evaluation_periods: n,
        datapoints_to_alarm: m,
        threshold: c.threshold?,
        comparison,
        missing: MissingData::parse(c.treat_missing_data.as_deref())?,
    };
    let metric = Metric {
        namespace: c.namespace.clone()?,
        metric_name: c.metric_name.clone()?,
        dimensions: c.dimensions.clone().unwrap_or_default(),
    };
    let stat = c
        .statistic
        .clone()
        .or_else(|| c.extended_statistic.clone())?;
    let period = u64::try_from(c.period?).ok().filter(|p| *p > 0)?;
    Some((rule, metric, stat, period * 1000))
}

/// The `StateReason` of a change, in AWS's words.
fn reason(rule: &Rule, old: State, o: &vpcflow_monitor::alarm::Outcome, range: u64) -> String {
    let words = match rule.comparison {
        Comparison::GreaterThanOrEqualToThreshold => "greater than or equal to",
        Comparison::GreaterThanThreshold => "greater than",
        Comparison::LessThanThreshold => "less than",
        Comparison::LessThanOrEqualToThreshold => "less than or equal to",
    };
    let points: Vec<String> = o
        .decided_by
        .iter()
        .rev()
        .filter(|v| v.is_finite())
        .map(|v| format!("{v:?}"))
        .collect();
    let n = o.decided_by.len();
    match o.state {
        State::InsufficientData => {
            format!("Insufficient Data: {range} datapoints were unknown.")
        }
        State::Alarm => format!(
            "Threshold Crossed: {} out of the last {n} datapoints [{}] {} {words} the threshold ({:?}) (minimum {} datapoint{} for {} -> ALARM transition).",
            o.breaching,
            points.join(", "),
            if o.breaching == 1 { "was" } else { "were" },
            rule.threshold,
            rule.datapoints_to_alarm,
            if rule.datapoints_to_alarm == 1 {
                ""
            } else {
                "s"
            },
            old.as_str()
        ),
        State::Ok => format!(
            "Threshold Crossed: {} out of the last {n} datapoints [{}] {} not {words} the threshold ({:?}) (minimum 1 datapoint for {} -> OK transition).",
            n - o.breaching,
            points.join(", "),
            if n - o.breaching == 1 { "was" } else { "were" },
            rule.threshold,
            old.as_str()
        ),
    }
}

/// A metric's statistic per period, and the period's sample count, by its start (epoch s).
pub(crate) type Datapoints = BTreeMap<i64, (f64, f64)>;
