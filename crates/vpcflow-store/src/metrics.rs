//! CloudWatch's metric data as a service: PutMetricData, GetMetricStatistics, GetMetricData and
//! ListMetrics, each metric an account's, its data points kept in `state.db` (`metric_data`).
//! Requests and answers (de)serialize as CloudWatch's members (PascalCase); timestamps are
//! epoch seconds. Errors are CloudWatch's table ([`crate::alarms::ALARM_ERRORS`]).
//!
//! What is kept per data point is a statistic set (count, sum, minimum, maximum): a `Value` is a
//! set of one, `Values`/`Counts` one set per value, `StatisticValues` as given. Statistics over a
//! period sum the sets; percentiles are taken over the single values (a `StatisticValues` set
//! has none). Periods align to multiples of the period since the epoch, as CloudWatch aligns
//! them. Metric math (`Expression`) is not evaluated and says so.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::DataDir;
use crate::alarms::{AlarmError, AlarmErrorCode, Dimension, refused};
use crate::db::DbError;

/// The most data one PutMetricData carries.
pub const MAX_DATA: usize = 1000;
/// The most dimensions of a metric.
pub const MAX_DIMENSIONS: usize = 30;
/// The most data points one GetMetricStatistics answers.
pub const MAX_DATAPOINTS: i64 = 1440;
/// ListMetrics' page.
pub const LIST_PAGE: usize = 500;
/// How old a data point may be.
pub const TOO_OLD_MS: u64 = 14 * 86_400_000;
/// How far ahead a data point may be.
pub const TOO_NEW_MS: u64 = 2 * 3_600_000;
/// The statistics GetMetricStatistics computes, as CloudWatch lists them.
pub const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

fn invalid(message: impl Into<String>) -> AlarmError {
    refused(AlarmErrorCode::InvalidParameterValue, message)
}

/// A set of values: how many, their sum, the least and the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatisticSet {
    /// How many values.
    pub sample_count: f64,
    /// Their sum.
    pub sum: f64,
    /// The least.
    pub minimum: f64,
    /// The greatest.
    pub maximum: f64,
}

/// One datum of PutMetricData.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDatum {
    /// The metric.
    pub metric_name: String,
    /// Its dimensions.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    /// When (epoch seconds); now when absent.
    pub timestamp: Option<f64>,
    /// One value.
    pub value: Option<f64>,
    /// A set of values already summed.
    pub statistic_values: Option<StatisticSet>,
    /// Many values…
    #[serde(default)]
    pub values: Vec<f64>,
    /// …each seen this many times (1 when absent).
    #[serde(default)]
    pub counts: Vec<f64>,
    /// Its unit.
    pub unit: Option<String>,
    /// 1 (high resolution) or 60.
    pub storage_resolution: Option<i64>,
}

/// PutMetricData.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutMetricData {
    /// The namespace (not `AWS/…`).
    pub namespace: String,
    /// Up to 1000 data.
    pub metric_data: Vec<MetricDatum>,
}

/// A metric: namespace, name and dimensions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metric {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub metric_name: String,
    /// Dimensions.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
}

/// GetMetricStatistics.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricStatistics {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub metric_name: String,
    /// Exactly the metric's dimensions.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    /// Epoch seconds, included.
    pub start_time: f64,
    /// Epoch seconds, excluded.
    pub end_time: f64,
    /// Seconds: 1, 5, 10, 30 or a multiple of 60.
    pub period: i64,
    /// Of [`STATISTICS`].
    #[serde(default)]
    pub statistics: Vec<String>,
    /// Percentiles (`p99`, `p99.9`).
    #[serde(default)]
    pub extended_statistics: Vec<String>,
    /// Only data of this unit.
    pub unit: Option<String>,
}

/// One period of GetMetricStatistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Datapoint {
    /// The period's start, epoch seconds.
    pub timestamp: f64,
    /// Asked-for statistics only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_count: Option<f64>,
    /// Sum over count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    /// Sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    /// Least.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    /// Greatest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// Percentiles asked for.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extended_statistics: BTreeMap<String, f64>,
    /// The data's unit (`None` when they gave none).
    pub unit: String,
}

/// GetMetricStatistics' answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statistics {
    /// The metric's name.
    pub label: String,
    /// One per period with data, oldest first.
    pub datapoints: Vec<Datapoint>,
}

/// A MetricStat of GetMetricData.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStat {
    /// The metric.
    pub metric: Metric,
    /// Seconds.
    pub period: i64,
    /// A statistic of [`STATISTICS`] or a percentile.
    pub stat: String,
    /// Only data of this unit.
    pub unit: Option<String>,
}

/// One query of GetMetricData.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataQuery {
    /// `[a-z][a-zA-Z0-9_]*`.
    pub id: String,
    /// The metric and statistic.
    pub metric_stat: Option<MetricStat>,
    /// Metric math (not evaluated here).
    pub expression: Option<String>,
    /// The result's label.
    pub label: Option<String>,
    /// Whether the answer holds this query's result.
    pub return_data: Option<bool>,
}

/// GetMetricData.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricData {
    /// 1–500 queries.
    pub metric_data_queries: Vec<MetricDataQuery>,
    /// Epoch seconds, included.
    pub start_time: f64,
    /// Epoch seconds, excluded.
    pub end_time: f64,
    /// `TimestampDescending` (default) or `TimestampAscending`.
    pub scan_by: Option<String>,
    /// The most points of each result.
    pub max_datapoints: Option<i64>,
    /// Not used: every answer is whole.
    pub next_token: Option<String>,
}

/// One query's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataResult {
    /// The query's id.
    pub id: String,
    /// Its label (the metric's name by default).
    pub label: String,
    /// Period starts, epoch seconds.
    pub timestamps: Vec<f64>,
    /// The statistic of each.
    pub values: Vec<f64>,
    /// `Complete`.
    pub status_code: &'static str,
}

/// GetMetricData's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricData {
    /// One per query that returns data.
    pub metric_data_results: Vec<MetricDataResult>,
    /// None.
    pub messages: Vec<String>,
}

/// A dimension ListMetrics filters on (any value when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionFilter {
    /// Name.
    pub name: String,
    /// Value.
    pub value: Option<String>,
}

/// ListMetrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMetrics {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only this name.
    pub metric_name: Option<String>,
    /// Only metrics with these dimensions.
    #[serde(default)]
    pub dimensions: Vec<DimensionFilter>,
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

/// ListMetrics' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricsPage {
    /// By namespace, name and dimensions.
    pub metrics: Vec<Metric>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A metric's dimensions as stored: sorted by name, so that the same dimensions in another
/// order are the same metric, as in CloudWatch.
fn dims_key(dims: &[Dimension]) -> String {
    let d: Vec<(String, String)> = dims
        .iter()
        .map(|d| (d.name.clone(), d.value.clone()))
        .collect();
    dimensions_key(&d)
}

/// Dimensions (name, value) as stored: sorted by name, so that the same dimensions in another
/// order are the same metric (PutMetricData's and metric filters' alike).
pub fn dimensions_key(dims: &[(String, String)]) -> String {
    let mut d: Vec<(&str, &str)> = dims.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    d.sort();
    serde_json::to_string(&d).expect("strings")
}

fn dims_of(key: &str) -> Vec<Dimension> {
    serde_json::from_str::<Vec<(String, String)>>(key)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| Dimension { name, value })
        .collect()
}

fn check_dimensions(dims: &[Dimension], at: &str) -> Result<(), AlarmError> {
    if dims.len() > MAX_DIMENSIONS {
        return Err(invalid(format!(
            "The collection {at}.Dimensions must not have a size greater than {MAX_DIMENSIONS}."
        )));
    }
    for d in dims {
        if d.name.is_empty() || d.name.len() > 255 || d.value.is_empty() || d.value.len() > 1024 {
            return Err(invalid(format!(
                "The dimension {}={} of {at} is invalid: names are 1-255 characters, values 1-1024.",
                d.name, d.value
            )));
        }
    }
    Ok(())
}

/// A period's own rule: 1, 5, 10, 30, or a multiple of 60 seconds.
pub fn check_period(period: i64) -> Result<(), AlarmError> {
    if matches!(period, 1 | 5 | 10 | 30) || (period > 0 && period % 60 == 0) {
        Ok(())
    } else {
        Err(invalid("The parameter Period must be a multiple of 60."))
    }
}

/// A percentile statistic's level (`p99` → 99.0), 0–100.
/// A percentile statistic's level (`p99` → 99), none for the others.
pub(crate) fn percentile(stat: &str) -> Option<f64> {
    stat.strip_prefix('p')
        .and_then(|p| p.parse::<f64>().ok())
        .filter(|p| (0.0..=100.0).contains(p))
}

fn check_stat(stat: &str, at: &str) -> Result<(), AlarmError> {
    if STATISTICS.contains(&stat) || percentile(stat).is_some() {
        Ok(())
    } else {
        Err(invalid(format!(
            "The parameter {at} must be a value in the set [ {} ] or a percentile pNN.NN.",
            STATISTICS.join(", ")
        )))
    }
}

impl PutMetricData {
    /// The request's own rules at `now_ms`: the rows to keep, one per value or set.
    pub fn rows(&self, now_ms: u64) -> Result<Vec<Row>, AlarmError> {
        if self.namespace.is_empty() || self.namespace.len() > 255 {
            return Err(invalid("The parameter Namespace must be 1-255 characters."));
        }
        if self.namespace.starts_with("AWS/") {
            return Err(invalid(format!(
                "The value {} for parameter Namespace is invalid.",
                self.namespace
            )));
        }
        if self.metric_data.is_empty() || self.metric_data.len() > MAX_DATA {
            return Err(invalid(format!(
                "The collection MetricData must have a size between 1 and {MAX_DATA}."
            )));
        }
        let mut rows = Vec::new();
        for (i, d) in self.metric_data.iter().enumerate() {
            let at = format!("MetricData.member.{}", i + 1);
            rows.extend(datum_rows(d, &at, now_ms)?);
        }
        Ok(rows)
    }
}

/// A statistic set kept for a metric at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The metric's name.
    pub metric: String,
    /// Its dimensions, as stored.
    pub dims: String,
    /// When, ms.
    pub ts_ms: u64,
    /// The set.
    pub set: StatisticSet,
    /// Whether the set is one value (seen `sample_count` times): percentiles take these.
    pub single: bool,
    /// The unit, `None` when none was given.
    pub unit: String,
}

fn datum_rows(d: &MetricDatum, at: &str, now_ms: u64) -> Result<Vec<Row>, AlarmError> {
    if d.metric_name.is_empty() || d.metric_name.len() > 255 {
        return Err(invalid(format!(
            "The parameter {at}.MetricName must be 1-255 characters."
        )));
    }
    check_dimensions(&d.dimensions, at)?;
    let ts_ms = match d.timestamp {
        None => now_ms,
        Some(t) if t.is_finite() && t >= 0.0 => (t * 1000.0) as u64,
        Some(t) => {
            return Err(invalid(format!(
                "The parameter {at}.Timestamp ({t}) is invalid."
            )));
        }
    };
    if ts_ms + TOO_OLD_MS < now_ms || ts_ms > now_ms + TOO_NEW_MS {
        return Err(invalid(format!(
            "The parameter {at}.Timestamp must specify a time no more than two weeks in the past \
             or two hours in the future."
        )));
    }
    let given = [
        d.value.is_some(),
        d.statistic_values.is_some(),
        !d.values.is_empty(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(refused(
            AlarmErrorCode::InvalidParameterCombination,
            format!(
                "The parameters {at}.Value, {at}.StatisticValues and {at}.Values are mutually exclusive and one of them must be given."
            ),
        ));
    }
    if !d.counts.is_empty() && d.counts.len() != d.values.len() {
        return Err(invalid(format!(
            "The parameters {at}.Values and {at}.Counts must be of the same size."
        )));
    }
    let row = |set: StatisticSet, single: bool| Row {
        metric: d.metric_name.clone(),
        dims: dims_key(&d.dimensions),
        ts_ms,
        set,
        single,
        unit: d.unit.clone().unwrap_or_else(|| "None".to_owned()),
    };
    let one = |v: f64, n: f64| StatisticSet {
        sample_count: n,
        sum: v * n,
        minimum: v,
        maximum: v,
    };
    let sets: Vec<Row> = match (d.value, d.statistic_values) {
        (Some(v), _) => vec![row(one(v, 1.0), true)],
        (_, Some(s)) => vec![row(s, false)],
        _ => d
            .values
            .iter()
            .enumerate()
            .map(|(j, v)| row(one(*v, d.counts.get(j).copied().unwrap_or(1.0)), true))
            .collect(),
    };
    for r in &sets {
        let s = r.set;
        if ![s.sample_count, s.sum, s.minimum, s.maximum]
            .iter()
            .all(|x| x.is_finite())
            || s.sample_count <= 0.0
        {
            return Err(invalid(format!(
                "The value of {at} must be a finite number (and its count positive)."
            )));
        }
    }
    Ok(sets)
}

/// Writes rows of `namespace` for `account` on `conn` (inside the caller's transaction: the
/// ingest hook's way in, with its segment's index rows). Metrics have one-minute resolution:
/// each row is kept at the start of its minute.
pub(crate) fn insert_rows(
    conn: &Connection,
    account: &str,
    namespace: &str,
    rows: &[Row],
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "INSERT INTO metric_data (account, namespace, metric, dimensions, ts_ms, \
         sample_count, sum, minimum, maximum, single, unit) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for r in rows {
        stmt.execute(params![
            account,
            namespace,
            r.metric,
            r.dims,
            (r.ts_ms / 60_000 * 60_000) as i64,
            r.set.sample_count,
            r.set.sum,
            r.set.minimum,
            r.set.maximum,
            r.single,
            r.unit
        ])?;
    }
    Ok(())
}

/// The metric data of a data directory.
pub struct Metrics {
    conn: Connection,
    path: String,
}

/// One period's data: the summed set and the single values (for percentiles).
#[derive(Default)]
struct Period {
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
    singles: Vec<(f64, f64)>,
    unit: String,
}

impl Period {
    fn add(&mut self, set: StatisticSet, single: bool, unit: String) {
        if self.count == 0.0 {
            self.min = set.minimum;
            self.max = set.maximum;
        }
        self.count += set.sample_count;
        self.sum += set.sum;
        self.min = self.min.min(set.minimum);
        self.max = self.max.max(set.maximum);
        if single {
            self.singles.push((set.minimum, set.sample_count));
        }
        self.unit = unit;
    }

    /// A statistic of this period (none: a percentile without single values).
    fn stat(&mut self, stat: &str) -> Option<f64> {
        match stat {
            "SampleCount" => Some(self.count),
            "Sum" => Some(self.sum),
            "Average" => Some(self.sum / self.count),
            "Minimum" => Some(self.min),
            "Maximum" => Some(self.max),
            p => {
                let level = percentile(p)?;
                self.singles.sort_by(|a, b| a.0.total_cmp(&b.0));
                let total: f64 = self.singles.iter().map(|s| s.1).sum();
                let rank = (level / 100.0 * total).ceil().max(1.0);
                let mut seen = 0.0;
                self.singles.iter().find_map(|(v, n)| {
                    seen += n;
                    (seen >= rank).then_some(*v)
                })
            }
        }
    }
}

impl Metrics {
    /// Opens the metric data of `dir`.
    pub fn open(dir: &DataDir) -> Result<Metrics, AlarmError> {
        let path = dir.state_db();
        Ok(Metrics {
            conn: crate::db::open(&path)?,
            path: path.display().to_string(),
        })
    }

    fn db<T>(&self, r: rusqlite::Result<T>) -> Result<T, AlarmError> {
        r.map_err(|source| {
            AlarmError::Db(DbError::Sqlite {
                path: self.path.clone(),
                source,
            })
        })
    }

    /// PutMetricData for `account` at `now_ms`: every datum is kept, or none.
    pub fn put(&self, account: &str, req: &PutMetricData, now_ms: u64) -> Result<(), AlarmError> {
        let rows = req.rows(now_ms)?;
        self.insert(account, &req.namespace, &rows)
    }

    /// Keeps rows of `namespace` for `account`, all or none.
    pub fn insert(&self, account: &str, namespace: &str, rows: &[Row]) -> Result<(), AlarmError> {
        let tx = self.db(self.conn.unchecked_transaction())?;
        self.db(insert_rows(&tx, account, namespace, rows))?;
        self.db(tx.commit())
    }

    /// The periods of a metric in `[start, end)` seconds, by start.
    fn periods(
        &self,
        account: &str,
        metric: &Metric,
        unit: Option<&str>,
        (start, end): (f64, f64),
        period: i64,
    ) -> Result<BTreeMap<i64, Period>, AlarmError> {
        let mut stmt = self.db(self.conn.prepare(
            "SELECT ts_ms, sample_count, sum, minimum, maximum, single, unit FROM metric_data \
             WHERE account = ?1 AND namespace = ?2 AND metric = ?3 AND dimensions = ?4 \
             AND ts_ms >= ?5 AND ts_ms < ?6 AND (?7 IS NULL OR unit = ?7)",
        ))?;
        let rows = self.db(stmt
            .query_map(
                params![
                    account,
                    metric.namespace,
                    metric.metric_name,
                    dims_key(&metric.dimensions),
                    (start * 1000.0) as i64,
                    (end * 1000.0) as i64,
                    unit
                ],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        StatisticSet {
                            sample_count: r.get(1)?,
                            sum: r.get(2)?,
                            minimum: r.get(3)?,
                            maximum: r.get(4)?,
                        },
                        r.get::<_, bool>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                },
            )
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>()))?;
        let mut out: BTreeMap<i64, Period> = BTreeMap::new();
        for (ts, set, single, unit) in rows {
            let secs = ts / 1000;
            let at = secs - secs.rem_euclid(period);
            out.entry(at).or_default().add(set, single, unit);
        }
        Ok(out)
    }

    /// One statistic of a metric per period in `[start, end)` (epoch s), by period start, with
    /// the period's sample count: the alarms' datapoints. A period without data, or a
    /// percentile without single values, has none.
    pub(crate) fn datapoints(
        &self,
        account: &str,
        metric: &Metric,
        unit: Option<&str>,
        (start, end): (u64, u64),
        period: u64,
        stat: &str,
    ) -> Result<crate::alarm_eval::Datapoints, AlarmError> {
        let periods = self.periods(
            account,
            metric,
            unit,
            (start as f64, end as f64),
            period as i64,
        )?;
        Ok(periods
            .into_iter()
            .filter_map(|(at, mut p)| p.stat(stat).map(|v| (at, (v, p.count))))
            .collect())
    }

    /// GetMetricStatistics for `account`.
    pub fn statistics(
        &self,
        account: &str,
        req: &GetMetricStatistics,
    ) -> Result<Statistics, AlarmError> {
        check_period(req.period)?;
        if req.statistics.is_empty() && req.extended_statistics.is_empty() {
            return Err(refused(
                AlarmErrorCode::InvalidParameterCombination,
                "Must specify either Statistics or ExtendedStatistics",
            ));
        }
        for (i, s) in req.statistics.iter().enumerate() {
            if !STATISTICS.contains(&s.as_str()) {
                return Err(invalid(format!(
                    "The parameter Statistics.member.{} must be a value in the set [ {} ].",
                    i + 1,
                    STATISTICS.join(", ")
                )));
            }
        }
        for (i, s) in req.extended_statistics.iter().enumerate() {
            if percentile(s).is_none() {
                return Err(invalid(format!(
                    "The parameter ExtendedStatistics.member.{} must be a percentile pNN.NN.",
                    i + 1
                )));
            }
        }
        let range = checked_range(req.start_time, req.end_time)?;
        let points = ((range.1 - range.0) / req.period as f64).ceil() as i64;
        if points > MAX_DATAPOINTS {
            return Err(refused(
                AlarmErrorCode::InvalidParameterCombination,
                format!(
                    "You have requested up to {points} datapoints, which exceeds the limit of \
                     1,440. You may reduce the datapoints requested by increasing Period, or \
                     decreasing the time range."
                ),
            ));
        }
        let metric = Metric {
            namespace: req.namespace.clone(),
            metric_name: req.metric_name.clone(),
            dimensions: req.dimensions.clone(),
        };
        let periods = self.periods(account, &metric, req.unit.as_deref(), range, req.period)?;
        let asked = |s: &str| req.statistics.iter().any(|x| x == s);
        let datapoints = periods
            .into_iter()
            .map(|(at, mut p)| {
                let mut stat = |s: &str| if asked(s) { p.stat(s) } else { None };
                let (count, average, sum, min, max) = (
                    stat("SampleCount"),
                    stat("Average"),
                    stat("Sum"),
                    stat("Minimum"),
                    stat("Maximum"),
                );
                let extended = req
                    .extended_statistics
                    .iter()
                    .filter_map(|s| p.stat(s).map(|v| (s.clone(), v)))
                    .collect();
                Datapoint {
                    timestamp: at as f64,
                    sample_count: count,
                    average,
                    sum,
                    minimum: min,
                    maximum: max,
                    extended_statistics: extended,
                    unit: p.unit.clone(),
                }
            })
            .collect();
        Ok(Statistics {
            label: req.metric_name.clone(),
            datapoints,
        })
    }

    /// GetMetricData for `account`.
    pub fn data(&self, account: &str, req: &GetMetricData) -> Result<MetricData, AlarmError> {
        let n = req.metric_data_queries.len();
        if n == 0 || n > 500 {
            return Err(invalid(
                "The collection MetricDataQueries must have a size between 1 and 500.",
            ));
        }
        let range = checked_range(req.start_time, req.end_time)?;
        let ascending = match req.scan_by.as_deref() {
            None | Some("TimestampDescending") => false,
            Some("TimestampAscending") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "The value {other} for parameter ScanBy is invalid: TimestampDescending or TimestampAscending."
                )));
            }
        };
        let mut results = Vec::new();
        for (i, q) in req.metric_data_queries.iter().enumerate() {
            let at = format!("MetricDataQueries.member.{}", i + 1);
            let id_ok = q.id.starts_with(|c: char| c.is_ascii_lowercase())
                && q.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !id_ok {
                return Err(refused(
                    AlarmErrorCode::Validation,
                    format!(
                        "The value {} for parameter {at}.Id is invalid: it must start with a lowercase letter and hold letters, digits and _.",
                        q.id
                    ),
                ));
            }
            let Some(ms) = &q.metric_stat else {
                return Err(refused(
                    AlarmErrorCode::Validation,
                    format!(
                        "{at}: vpcflow answers MetricStat queries; metric math (Expression) is not evaluated."
                    ),
                ));
            };
            check_period(ms.period)?;
            check_stat(&ms.stat, &format!("{at}.MetricStat.Stat"))?;
            if q.return_data == Some(false) {
                continue;
            }
            let periods =
                self.periods(account, &ms.metric, ms.unit.as_deref(), range, ms.period)?;
            let mut points: Vec<(f64, f64)> = periods
                .into_iter()
                .filter_map(|(t, mut p)| p.stat(&ms.stat).map(|v| (t as f64, v)))
                .collect();
            if !ascending {
                points.reverse();
            }
            if let Some(max) = req.max_datapoints.filter(|m| *m > 0) {
                points.truncate(max as usize);
            }
            results.push(MetricDataResult {
                id: q.id.clone(),
                label: q
                    .label
                    .clone()
                    .unwrap_or_else(|| ms.metric.metric_name.clone()),
                timestamps: points.iter().map(|p| p.0).collect(),
                values: points.iter().map(|p| p.1).collect(),
                status_code: "Complete",
            });
        }
        Ok(MetricData {
            metric_data_results: results,
            messages: Vec::new(),
        })
    }

    /// ListMetrics for `account`.
    pub fn list(&self, account: &str, req: &ListMetrics) -> Result<MetricsPage, AlarmError> {
        let from = match req.next_token.as_deref() {
            None => 0,
            Some(t) => t
                .strip_prefix("m/")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| invalid(format!("The NextToken {t} is invalid.")))?,
        };
        let mut stmt = self.db(self.conn.prepare(
            "SELECT DISTINCT namespace, metric, dimensions FROM metric_data WHERE account = ?1 \
             AND (?2 IS NULL OR namespace = ?2) AND (?3 IS NULL OR metric = ?3) \
             ORDER BY namespace, metric, dimensions",
        ))?;
        let all = self.db(stmt
            .query_map(params![account, req.namespace, req.metric_name], |r| {
                Ok(Metric {
                    namespace: r.get(0)?,
                    metric_name: r.get(1)?,
                    dimensions: dims_of(&r.get::<_, String>(2)?),
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>()))?;
        let matching: Vec<Metric> = all
            .into_iter()
            .filter(|m| {
                req.dimensions.iter().all(|f| {
                    m.dimensions
                        .iter()
                        .any(|d| d.name == f.name && f.value.as_ref().is_none_or(|v| *v == d.value))
                })
            })
            .collect();
        let end = (from + LIST_PAGE).min(matching.len());
        Ok(MetricsPage {
            metrics: matching
                .get(from.min(end)..end)
                .unwrap_or_default()
                .to_vec(),
            next_token: (end < matching.len()).then(|| format!("m/{end}")),
        })
    }
}

fn checked_range(start: f64, end: f64) -> Result<(f64, f64), AlarmError> {
    if !start.is_finite() || !end.is_finite() || start >= end {
        return Err(invalid(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    Ok((start, end))
}
