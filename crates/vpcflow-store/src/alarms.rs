//! CloudWatch's metric alarms as a service: PutMetricAlarm, DescribeAlarms and DeleteAlarms
//! with CloudWatch's validation, paging and errors ([`ALARM_ERRORS`]), each alarm an account's,
//! kept in `state.db` (`alarms`). Requests and answers (de)serialize as CloudWatch's members
//! (PascalCase); timestamps are epoch seconds. The monitoring evaluates the alarms and moves
//! their state; a new alarm is `INSUFFICIENT_DATA`, as in AWS.

use rusqlite::{Connection, OptionalExtension as _, params};
use serde::{Deserialize, Serialize};

use crate::DataDir;
use crate::db::DbError;

/// The most alarm names one DescribeAlarms or DeleteAlarms takes.
pub const MAX_NAMES: usize = 100;
/// DescribeAlarms' page size: at most, and by default.
pub const MAX_RECORDS: i64 = 100;
/// DescribeAlarms' default page size.
pub const DEFAULT_RECORDS: i64 = 50;

/// One CloudWatch error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmErrorCode {
    /// A value outside its constraint.
    Validation,
    /// A value the operation does not take.
    InvalidParameterValue,
    /// A required parameter absent.
    MissingParameter,
    /// Parameters that cannot go together.
    InvalidParameterCombination,
    /// An alarm that does not exist.
    ResourceNotFound,
    /// A quota.
    LimitExceeded,
}

/// A row of [`ALARM_ERRORS`].
#[derive(Debug)]
pub struct AlarmErrorDef {
    /// Which.
    pub code: AlarmErrorCode,
    /// The query protocol's code (`x-amzn-query-error`, `<Code>`), which clients report.
    pub query_code: &'static str,
    /// The JSON and CBOR protocols' `__type`.
    pub shape: &'static str,
    /// HTTP status.
    pub status: u16,
}

/// Every code, once.
pub const ALARM_ERRORS: &[AlarmErrorDef] = &[
    AlarmErrorDef {
        code: AlarmErrorCode::Validation,
        query_code: "ValidationError",
        shape: "ValidationError",
        status: 400,
    },
    AlarmErrorDef {
        code: AlarmErrorCode::InvalidParameterValue,
        query_code: "InvalidParameterValue",
        shape: "InvalidParameterValueException",
        status: 400,
    },
    AlarmErrorDef {
        code: AlarmErrorCode::MissingParameter,
        query_code: "MissingParameter",
        shape: "MissingRequiredParameterException",
        status: 400,
    },
    AlarmErrorDef {
        code: AlarmErrorCode::InvalidParameterCombination,
        query_code: "InvalidParameterCombination",
        shape: "InvalidParameterCombinationException",
        status: 400,
    },
    AlarmErrorDef {
        code: AlarmErrorCode::ResourceNotFound,
        query_code: "ResourceNotFound",
        shape: "ResourceNotFound",
        status: 404,
    },
    AlarmErrorDef {
        code: AlarmErrorCode::LimitExceeded,
        query_code: "LimitExceeded",
        shape: "LimitExceededFault",
        status: 400,
    },
];

impl AlarmErrorCode {
    /// This code's row.
    pub fn def(self) -> &'static AlarmErrorDef {
        ALARM_ERRORS
            .iter()
            .find(|d| d.code == self)
            .expect("every code has a row")
    }
}

/// A request the alarm service refuses, or a store that failed it.
#[derive(Debug, thiserror::Error)]
pub enum AlarmError {
    /// The request's fault.
    #[error("{} (the request is at fault): {message}", code.def().query_code)]
    Refused {
        /// Which.
        code: AlarmErrorCode,
        /// AWS's message.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A refusal of CloudWatch's (alarms and metric data alike).
pub(crate) fn refused(code: AlarmErrorCode, message: impl Into<String>) -> AlarmError {
    AlarmError::Refused {
        code,
        message: message.into(),
    }
}

/// A metric's dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// PutMetricAlarm: an alarm's whole configuration (a second put replaces it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutMetricAlarm {
    /// 1–255 characters.
    pub alarm_name: String,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    /// Whether actions run (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions_enabled: Option<bool>,
    /// Actions on entering OK.
    #[serde(rename = "OKActions", skip_serializing_if = "Option::is_none")]
    pub ok_actions: Option<Vec<String>>,
    /// Actions on entering ALARM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_actions: Option<Vec<String>>,
    /// Actions on entering INSUFFICIENT_DATA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insufficient_data_actions: Option<Vec<String>>,
    /// The metric (or `metrics`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    /// Its namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// SampleCount, Average, Sum, Minimum or Maximum (or `extended_statistic`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// A percentile such as `p99`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    /// The metric's dimensions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Vec<Dimension>>,
    /// Seconds: 10, 20, 30 or a multiple of 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    /// The metric's unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// How many periods are evaluated.
    pub evaluation_periods: i64,
    /// How many of them must breach (default all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i64>,
    /// The threshold (or `threshold_metric_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// How the statistic is compared.
    pub comparison_operator: String,
    /// breaching, notBreaching, ignore or missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    /// evaluate or ignore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluate_low_sample_count_percentile: Option<String>,
    /// Metric math queries, kept as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<serde_json::Value>>,
    /// Tags (not shown by DescribeAlarms).
    #[serde(skip_serializing)]
    pub tags: Option<Vec<Tag>>,
    /// The band's id with anomaly detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_metric_id: Option<String>,
}

/// An alarm as DescribeAlarms shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricAlarm {
    /// Its configuration.
    #[serde(flatten)]
    pub config: PutMetricAlarm,
    /// `arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME`.
    pub alarm_arn: String,
    /// When it was last put (epoch s).
    pub alarm_configuration_updated_timestamp: f64,
    /// OK, ALARM or INSUFFICIENT_DATA.
    pub state_value: String,
    /// Why.
    pub state_reason: String,
    /// When the state was last set (epoch s).
    pub state_updated_timestamp: f64,
    /// When the state last changed (epoch s).
    pub state_transitioned_timestamp: f64,
}

/// DescribeAlarms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarms {
    /// These alarms.
    pub alarm_names: Option<Vec<String>>,
    /// Alarms whose names start so.
    pub alarm_name_prefix: Option<String>,
    /// MetricAlarm and/or CompositeAlarm.
    pub alarm_types: Option<Vec<String>>,
    /// Only alarms in this state.
    pub state_value: Option<String>,
    /// Only alarms with an action starting so.
    pub action_prefix: Option<String>,
    /// 1–100, default 50.
    pub max_records: Option<i64>,
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

/// A page of alarms.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlarmsPage {
    /// By name.
    pub metric_alarms: Vec<MetricAlarm>,
    /// vpcflow keeps no composite alarms.
    pub composite_alarms: Vec<serde_json::Value>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteAlarms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAlarms {
    /// 1–100 names.
    pub alarm_names: Vec<String>,
}

const OPERATORS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];
const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
const MISSING: &[&str] = &["breaching", "notBreaching", "ignore", "missing"];

pub(crate) fn validation(value: &str, member: &str, constraint: &str) -> AlarmError {
    refused(
        AlarmErrorCode::Validation,
        format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: {constraint}"
        ),
    )
}

pub(crate) fn one_of(value: &str, member: &str, set: &[&str]) -> Result<(), AlarmError> {
    if set.contains(&value) {
        return Ok(());
    }
    Err(validation(
        value,
        member,
        &format!("Member must satisfy enum value set: [{}]", set.join(", ")),
    ))
}

impl PutMetricAlarm {
    /// The request's own rules, without I/O.
    pub fn check(&self) -> Result<(), AlarmError> {
        let n = self.alarm_name.chars().count();
        if n == 0 || n > 255 {
            return Err(validation(
                &self.alarm_name,
                "alarmName",
                "Member must have length less than or equal to 255 and greater than or equal to 1",
            ));
        }
        if self.evaluation_periods < 1 {
            return Err(validation(
                &self.evaluation_periods.to_string(),
                "evaluationPeriods",
                "Member must have value greater than or equal to 1",
            ));
        }
        one_of(&self.comparison_operator, "comparisonOperator", OPERATORS)?;
        if let Some(t) = &self.treat_missing_data {
            one_of(t, "treatMissingData", MISSING)?;
        }
        if let Some(d) = self.datapoints_to_alarm
            && (d < 1 || d > self.evaluation_periods)
        {
            return Err(refused(
                AlarmErrorCode::Validation,
                "DatapointsToAlarm must be at least 1 and at most EvaluationPeriods.",
            ));
        }
        match (&self.metric_name, &self.metrics) {
            (Some(_), Some(_)) => {
                return Err(refused(
                    AlarmErrorCode::InvalidParameterCombination,
                    "MetricName and Metrics cannot both be set.",
                ));
            }
            (None, None) => {
                return Err(refused(
                    AlarmErrorCode::MissingParameter,
                    "Either MetricName or Metrics must be set.",
                ));
            }
            (Some(_), None) => self.check_single_metric()?,
            (None, Some(_)) => {}
        }
        if self.threshold.is_none() && self.threshold_metric_id.is_none() {
            return Err(refused(
                AlarmErrorCode::MissingParameter,
                "The parameter Threshold is required.",
            ));
        }
        Ok(())
    }

    fn check_single_metric(&self) -> Result<(), AlarmError> {
        if self.namespace.is_none() {
            return Err(refused(
                AlarmErrorCode::MissingParameter,
                "The parameter Namespace is required.",
            ));
        }
        match (&self.statistic, &self.extended_statistic) {
            (Some(_), Some(_)) => {
                return Err(refused(
                    AlarmErrorCode::InvalidParameterCombination,
                    "Statistic and ExtendedStatistic cannot both be set.",
                ));
            }
            (None, None) => {
                return Err(refused(
                    AlarmErrorCode::MissingParameter,
                    "Either Statistic or ExtendedStatistic must be set.",
                ));
            }
            (Some(s), None) => one_of(s, "statistic", STATISTICS)?,
            (None, Some(_)) => {}
        }
        match self.period {
            None => Err(refused(
                AlarmErrorCode::MissingParameter,
                "The parameter Period is required.",
            )),
            Some(p) if matches!(p, 10 | 20 | 30) || (p >= 60 && p % 60 == 0) => Ok(()),
            Some(p) => Err(refused(
                AlarmErrorCode::Validation,
                format!("The parameter Period must be 10, 20, 30 or a multiple of 60 (was {p})."),
            )),
        }
    }
}

/// The alarms of a data directory.
pub struct Alarms {
    conn: Connection,
    path: String,
    pub(crate) region: String,
}

impl Alarms {
    /// Opens the alarms of `dir`; ARNs name `region`.
    pub fn open(dir: &DataDir, region: &str) -> Result<Alarms, AlarmError> {
        let path = dir.state_db();
        Ok(Alarms {
            conn: crate::db::open(&path)?,
            path: path.display().to_string(),
            region: region.to_owned(),
        })
    }

    pub(crate) fn db<T>(&self, r: rusqlite::Result<T>) -> Result<T, AlarmError> {
        r.map_err(|source| {
            AlarmError::Db(DbError::Sqlite {
                path: self.path.clone(),
                source,
            })
        })
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    fn get(&self, account: &str, name: &str) -> Result<Option<MetricAlarm>, AlarmError> {
        let body: Option<String> = self.db(self
            .conn
            .query_row(
                "SELECT body FROM alarms WHERE account = ?1 AND name = ?2",
                [account, name],
                |r| r.get(0),
            )
            .optional())?;
        Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
    }

    /// PutMetricAlarm for `account` at `now_ms`: a new alarm is INSUFFICIENT_DATA; a replaced
    /// one keeps its state.
    pub fn put(&self, account: &str, req: &PutMetricAlarm, now_ms: u64) -> Result<(), AlarmError> {
        req.check()?;
        let now = now_ms as f64 / 1000.0;
        let existing = self.get(account, &req.alarm_name)?;
        let change = if existing.is_some() {
            "updated"
        } else {
            "created"
        };
        let alarm = match existing {
            Some(old) => MetricAlarm {
                config: req.clone(),
                alarm_configuration_updated_timestamp: now,
                ..old
            },
            None => MetricAlarm {
                config: req.clone(),
                alarm_arn: format!(
                    "arn:aws:cloudwatch:{}:{account}:alarm:{}",
                    self.region, req.alarm_name
                ),
                alarm_configuration_updated_timestamp: now,
                state_value: "INSUFFICIENT_DATA".into(),
                state_reason: "Unchecked: Initial alarm creation".into(),
                state_updated_timestamp: now,
                state_transitioned_timestamp: now,
            },
        };
        let body = serde_json::to_string(&alarm).expect("alarms serialize");
        self.db(self.conn.execute(
            "INSERT INTO alarms (account, name, body, updated_ms) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (account, name) DO UPDATE SET body = excluded.body, \
             updated_ms = excluded.updated_ms",
            params![account, req.alarm_name, body, now_ms as i64],
        ))?;
        let data = serde_json::json!({
            "version": "1.0",
            "type": if change == "created" { "Create" } else { "Update" },
            "updatedAlarm": serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default(),
        });
        self.record(
            account,
            &req.alarm_name,
            now_ms,
            "ConfigurationUpdate",
            &format!("Alarm \"{}\" {change}", req.alarm_name),
            &data.to_string(),
        )
    }

    /// Every alarm of `account`, by name.
    pub fn all(&self, account: &str) -> Result<Vec<MetricAlarm>, AlarmError> {
        let mut stmt = self.db(self
            .conn
            .prepare("SELECT body FROM alarms WHERE account = ?1 ORDER BY name"))?;
        let bodies: Vec<String> = self.db(stmt
            .query_map([account], |r| r.get(0))
            .and_then(Iterator::collect))?;
        Ok(bodies
            .iter()
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect())
    }

    /// DescribeAlarms for `account`.
    pub fn describe(&self, account: &str, req: &DescribeAlarms) -> Result<AlarmsPage, AlarmError> {
        let max = match req.max_records {
            None => DEFAULT_RECORDS as usize,
            Some(n) if (1..=MAX_RECORDS).contains(&n) => n as usize,
            Some(n) => {
                return Err(validation(
                    &n.to_string(),
                    "maxRecords",
                    "Member must have value less than or equal to 100 and greater than or equal to 1",
                ));
            }
        };
        if req.alarm_names.is_some() && req.alarm_name_prefix.is_some() {
            return Err(refused(
                AlarmErrorCode::InvalidParameterCombination,
                "AlarmNames and AlarmNamePrefix cannot both be set.",
            ));
        }
        if req
            .alarm_names
            .as_ref()
            .is_some_and(|n| n.len() > MAX_NAMES)
        {
            return Err(validation(
                "AlarmNames",
                "alarmNames",
                "Member must have length less than or equal to 100",
            ));
        }
        if let Some(s) = &req.state_value {
            one_of(s, "stateValue", &["OK", "ALARM", "INSUFFICIENT_DATA"])?;
        }
        let wants_metric = req
            .alarm_types
            .as_ref()
            .is_none_or(|t| t.iter().any(|t| t == "MetricAlarm"));
        let after = req.next_token.as_deref();
        let mut matching = self
            .all(account)?
            .into_iter()
            .filter(|_| wants_metric)
            .filter(|a| after.is_none_or(|t| a.config.alarm_name.as_str() > t))
            .filter(|a| {
                req.alarm_names
                    .as_ref()
                    .is_none_or(|n| n.contains(&a.config.alarm_name))
            })
            .filter(|a| {
                req.alarm_name_prefix
                    .as_deref()
                    .is_none_or(|p| a.config.alarm_name.starts_with(p))
            })
            .filter(|a| req.state_value.as_ref().is_none_or(|s| &a.state_value == s))
            .filter(|a| {
                req.action_prefix.as_deref().is_none_or(|p| {
                    [
                        &a.config.alarm_actions,
                        &a.config.ok_actions,
                        &a.config.insufficient_data_actions,
                    ]
                    .iter()
                    .any(|l| l.iter().flatten().any(|x| x.starts_with(p)))
                })
            });
        let page: Vec<MetricAlarm> = matching.by_ref().take(max).collect();
        let next_token = match (matching.next(), page.last()) {
            (Some(_), Some(last)) => Some(last.config.alarm_name.clone()),
            _ => None,
        };
        Ok(AlarmsPage {
            metric_alarms: page,
            composite_alarms: Vec::new(),
            next_token,
        })
    }

    /// DeleteAlarms for `account`: every name must be its alarm.
    pub fn delete(&self, account: &str, req: &DeleteAlarms) -> Result<(), AlarmError> {
        if req.alarm_names.is_empty() || req.alarm_names.len() > MAX_NAMES {
            return Err(validation(
                &req.alarm_names.len().to_string(),
                "alarmNames",
                "Member must have length less than or equal to 100 and greater than or equal to 1",
            ));
        }
        let missing: Vec<&str> = req
            .alarm_names
            .iter()
            .filter(|n| self.get(account, n).ok().flatten().is_none())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(refused(
                AlarmErrorCode::ResourceNotFound,
                format!("{} does not exist", missing.join(", ")),
            ));
        }
        for n in &req.alarm_names {
            self.db(self.conn.execute(
                "DELETE FROM alarms WHERE account = ?1 AND name = ?2",
                [account, n.as_str()],
            ))?;
        }
        Ok(())
    }
}
