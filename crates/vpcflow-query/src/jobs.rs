//! Logs Insights queries over log groups as jobs, with StartQuery / GetQueryResults / StopQuery
//! semantics: a query id, the statuses `Scheduled`, `Running`, `Complete`, `Failed`,
//! `Cancelled` and `Timeout`, the statistics (`recordsMatched`, `recordsScanned`,
//! `bytesScanned`), AWS's limits, and its errors (`MalformedQueryException` at the token,
//! `ResourceNotFoundException`, `LimitExceededException`, `InvalidParameterException`; the table
//! is `vpcflow_store::logs::LOGS_ERRORS`). [`insights_over_log_groups`] is the one way a query
//! reaches log groups: the CLI (which waits for its answer) and the jobs both call it.
//!
//! A request is checked without I/O first ([`StartQuery::check`]), then its log groups are
//! looked up in the store, then it runs on the caller's tokio runtime. Requests and answers
//! (de)serialize as the API's JSON.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::{Deserialize, Serialize};
use vpcflow_store::logs::{self, LogsError, LogsErrorCode};
use vpcflow_store::{Clock, DataDir};

use crate::Rows;
use crate::insights::{self, plan};
use crate::text::BadLines;

/// The longest query string.
pub const MAX_QUERY_LENGTH: usize = 10_000;
/// The most log groups one query names.
pub const MAX_LOG_GROUPS: usize = 50;
/// The most queries running (or waiting to) at once.
pub const MAX_CONCURRENT: usize = 100;
/// The most rows, and the default.
pub const MAX_ROWS: i64 = 10_000;
/// How Insights shows times: `2019-10-30 11:01:03.000` (UTC).
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";
/// How long a query may run.
pub const TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// StartQuery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartQuery {
    /// One log group (or `log_group_names`, or `log_group_identifiers`).
    pub log_group_name: Option<String>,
    /// Up to 50 log groups.
    pub log_group_names: Option<Vec<String>>,
    /// Up to 50 log groups by name or ARN.
    pub log_group_identifiers: Option<Vec<String>>,
    /// Epoch seconds, included.
    pub start_time: i64,
    /// Epoch seconds, included.
    pub end_time: i64,
    /// The Insights query.
    pub query_string: String,
    /// The most rows (1–10 000, default 10 000).
    pub limit: Option<i64>,
}

/// A query's state, as GetQueryResults says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum QueryStatus {
    /// Accepted, not started.
    Scheduled,
    /// Running.
    Running,
    /// Done: its results are final.
    Complete,
    /// The engine failed.
    Failed,
    /// StopQuery stopped it.
    Cancelled,
    /// It ran longer than [`TIMEOUT`].
    Timeout,
}

impl QueryStatus {
    /// The state's name on the wire (its serde name).
    pub fn name(self) -> &'static str {
        match self {
            QueryStatus::Scheduled => "Scheduled",
            QueryStatus::Running => "Running",
            QueryStatus::Complete => "Complete",
            QueryStatus::Failed => "Failed",
            QueryStatus::Cancelled => "Cancelled",
            QueryStatus::Timeout => "Timeout",
        }
    }
}

/// GetQueryResults' answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryResults {
    /// Each row's fields that have a value, as strings.
    pub results: Vec<Vec<ResultField>>,
    /// What the query scanned and matched.
    pub statistics: QueryStatistics,
    /// Where it stands.
    pub status: QueryStatus,
}

/// One field of a result row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultField {
    /// Its name.
    pub field: String,
    /// Its value, as text (times as `2019-10-30 11:01:03.000`).
    pub value: String,
}

/// A query's statistics (doubles, as AWS sends them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryStatistics {
    /// Events that passed the filters.
    pub records_matched: f64,
    /// Events read.
    pub records_scanned: f64,
    /// Bytes read.
    pub bytes_scanned: f64,
}

/// Why a query could not run to its rows (when run directly, not as a job).
#[derive(Debug, thiserror::Error)]
pub enum InsightsError {
    /// The request is at fault (its code and AWS's message, or the parse error at its token).
    #[error(transparent)]
    Refused(#[from] LogsError),
    /// The engine failed.
    #[error("{0}")]
    Engine(String),
}

fn invalid(message: impl Into<String>) -> LogsError {
    LogsError::refused(LogsErrorCode::InvalidParameter, message)
}

impl StartQuery {
    /// The request's own rules, without I/O: the log groups it names, its time range in ms,
    /// its parsed query and its row limit.
    pub fn check(&self) -> Result<Checked, LogsError> {
        if self.query_string.chars().count() > MAX_QUERY_LENGTH {
            return Err(invalid(format!(
                "1 validation error detected: Value at 'queryString' failed to satisfy \
                 constraint: Member must have length less than or equal to {MAX_QUERY_LENGTH}"
            )));
        }
        let groups: Vec<String> = match (
            &self.log_group_name,
            &self.log_group_names,
            &self.log_group_identifiers,
        ) {
            (Some(g), None, None) => vec![g.clone()],
            (None, Some(gs), None) => gs.clone(),
            (None, None, Some(ids)) => ids
                .iter()
                .map(|id| logs::group_name(id).to_owned())
                .collect(),
            (None, None, None) => {
                return Err(invalid(
                    "One of logGroupName, logGroupNames or logGroupIdentifiers must be specified.",
                ));
            }
            _ => {
                return Err(invalid(
                    "Only one of logGroupName, logGroupNames or logGroupIdentifiers may be specified.",
                ));
            }
        };
        check_group_count(groups.len())?;
        if self.end_time < self.start_time {
            return Err(invalid(
                "endTime must be greater than or equal to startTime.",
            ));
        }
        let limit = match self.limit {
            None => MAX_ROWS as usize,
            Some(n) if (1..=MAX_ROWS).contains(&n) => n as usize,
            Some(n) => return Err(LogsError::out_of_range("limit", n, 1, MAX_ROWS)),
        };
        let query = insights::parse(&self.query_string).map_err(|e| {
            LogsError::refused(LogsErrorCode::MalformedQuery, e.render(&self.query_string))
        })?;
        Ok(Checked {
            groups,
            range: plan::TimeRange {
                start_ms: self.start_time.saturating_mul(1000),
                end_ms: self.end_time.saturating_mul(1000).saturating_add(999),
            },
            query,
            text: self.query_string.clone(),
            limit,
        })
    }
}

/// A query names 1 to [`MAX_LOG_GROUPS`] log groups.
pub fn check_group_count(n: usize) -> Result<(), LogsError> {
    if n == 0 || n > MAX_LOG_GROUPS {
        return Err(invalid(format!(
            "A query names 1 to {MAX_LOG_GROUPS} log groups; {n} were given."
        )));
    }
    Ok(())
}

/// A StartQuery that passed its own rules.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The log groups, by name.
    pub groups: Vec<String>,
    /// The events' times, ms, both ends included.
    pub range: plan::TimeRange,
    /// The query.
    pub query: insights::ast::Query,
    /// Its text (errors point into it).
    pub text: String,
    /// The most rows.
    pub limit: usize,
}

/// Runs an Insights query over log groups of `dir`, each read from the segments holding events
/// in `range` (all of them without one). A group that does not exist is
/// `ResourceNotFoundException`.
pub async fn insights_over_log_groups(
    dir: &DataDir,
    groups: &[String],
    query: &insights::ast::Query,
    text: &str,
    range: Option<plan::TimeRange>,
    now_s: i64,
    bad: Arc<BadLines>,
) -> Result<Rows, InsightsError> {
    let ctx = crate::log_group_session();
    crate::set_bad_lines(&ctx, bad);
    insights_over_log_groups_in(&ctx, dir, groups, query, text, range, now_s).await
}

/// [`insights_over_log_groups`] in the session `ctx` (a cluster's, say).
pub async fn insights_over_log_groups_in(
    ctx: &datafusion::prelude::SessionContext,
    dir: &DataDir,
    groups: &[String],
    query: &insights::ast::Query,
    text: &str,
    range: Option<plan::TimeRange>,
    now_s: i64,
) -> Result<Rows, InsightsError> {
    let sources = group_sources(dir, groups, range)?;
    let engine = |e: plan::QueryError| match e {
        plan::QueryError::Query(p) => InsightsError::Refused(LogsError::refused(
            LogsErrorCode::MalformedQuery,
            p.render(text),
        )),
        other => InsightsError::Engine(other.to_string()),
    };
    let mut all: Option<plan::DataFrame> = None;
    for (name, paths) in sources {
        let df = plan::log_group(ctx, paths, &name).await.map_err(engine)?;
        // Groups of different formats share the columns they have.
        all = Some(match all {
            None => df,
            Some(a) => a
                .union_by_name(df)
                .map_err(|e| InsightsError::Engine(crate::engine_message(&e)))?,
        });
    }
    let source = all.ok_or_else(|| invalid("A query names at least one log group."))?;
    plan::run(
        ctx,
        query,
        text,
        source,
        plan::Env {
            now_s,
            range,
            flow_records_only: false,
        },
    )
    .await
    .map_err(engine)
}

/// Each group's files to read, found as SQL finds them ([`crate::groups::LogGroups`]): with a
/// range only the segments holding events in it.
fn group_sources(
    dir: &DataDir,
    groups: &[String],
    range: Option<plan::TimeRange>,
) -> Result<Vec<(String, Vec<String>)>, LogsError> {
    let found = crate::groups::LogGroups::new(dir.clone());
    groups
        .iter()
        .map(|g| {
            let paths = found.sources_of(g, range.map(|r| (r.start_ms, r.end_ms)))?;
            Ok((g.clone(), paths))
        })
        .collect()
}

/// Rows as GetQueryResults gives them: each row's non-null fields, as text.
pub fn result_rows(rows: &Rows, limit: usize) -> Result<Vec<Vec<ResultField>>, InsightsError> {
    let opts = FormatOptions::default().with_timestamp_format(Some(TIME_FORMAT));
    let mut out = Vec::new();
    for batch in &rows.batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| InsightsError::Engine(e.to_string()))?;
        // Logical nulls: an absent field's column is of the Null type, which has no null buffer.
        let nulls: Vec<_> = batch.columns().iter().map(|c| c.logical_nulls()).collect();
        for row in 0..batch.num_rows() {
            if out.len() == limit {
                return Ok(out);
            }
            let fields = batch
                .schema()
                .fields()
                .iter()
                .zip(&nulls)
                .zip(&formatters)
                .filter(|((_, n), _)| !n.as_ref().is_some_and(|n| n.is_null(row)))
                .map(|((f, _), fmt)| ResultField {
                    field: f.name().clone(),
                    value: fmt.value(row).to_string(),
                })
                .collect();
            out.push(fields);
        }
    }
    Ok(out)
}

/// One query's record.
struct Job {
    status: QueryStatus,
    results: Vec<Vec<ResultField>>,
    statistics: QueryStatistics,
    /// Why it failed, for people (GetQueryResults has no place for it).
    error: Option<String>,
    abort: Option<tokio::task::AbortHandle>,
    /// The account that started it; another account does not find it.
    owner: Option<String>,
    /// What DescribeQueries shows of it.
    info: QueryInfo,
}

/// DescribeQueries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeQueries {
    /// Only the queries of this group.
    pub log_group_name: Option<String>,
    /// Only queries in this state.
    pub status: Option<String>,
    /// 1–1000, default 1000.
    pub max_results: Option<i64>,
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

/// A query as DescribeQueries lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryInfo {
    /// Its id.
    pub query_id: String,
    /// Its text.
    pub query_string: String,
    /// Its state.
    pub status: QueryStatus,
    /// When it was started, ms.
    pub create_time: u64,
    /// Its (first) log group.
    pub log_group_name: String,
}

/// One page of DescribeQueries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueriesPage {
    /// Newest first.
    pub queries: Vec<QueryInfo>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// The states DescribeQueries filters on, as AWS spells them.
const STATUSES: [&str; 7] = [
    "Scheduled",
    "Running",
    "Complete",
    "Failed",
    "Cancelled",
    "Timeout",
    "Unknown",
];

/// Whether `caller` (`None`: the data directory's owner) may see a job of `owner`.
fn sees(caller: Option<&str>, owner: Option<&str>) -> bool {
    caller.is_none() || caller == owner
}

/// The queries of one data directory: started on `runtime`, kept until the process ends.
pub struct Jobs {
    dir: DataDir,
    runtime: tokio::runtime::Handle,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    jobs: Arc<Mutex<HashMap<String, Job>>>,
    started: AtomicU64,
}

impl Jobs {
    /// The jobs of `dir`, run on `runtime`; `now()` in queries is `clock`'s time at the start.
    pub fn new(dir: DataDir, runtime: tokio::runtime::Handle, clock: Arc<dyn Clock>) -> Jobs {
        Jobs {
            dir,
            runtime,
            clock,
            timeout: TIMEOUT,
            jobs: Arc::default(),
            started: AtomicU64::new(0),
        }
    }

    /// The same, with another time limit (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Jobs {
        self.timeout = timeout;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// StartQuery: the new query's id.
    pub fn start(&self, req: &StartQuery) -> Result<String, LogsError> {
        self.start_for(None, req)
    }

    /// StartQuery by `owner`'s account (whose GetQueryResults and StopQuery alone find it).
    pub fn start_for(&self, owner: Option<&str>, req: &StartQuery) -> Result<String, LogsError> {
        let checked = req.check()?;
        // The groups exist (I/O), before the query is accepted.
        group_sources(&self.dir, &checked.groups, Some(checked.range))?;
        let now_ms = self.clock.now_ms();
        let id = {
            let mut jobs = self.lock();
            let active = jobs
                .values()
                .filter(|j| matches!(j.status, QueryStatus::Scheduled | QueryStatus::Running))
                .count();
            if active >= MAX_CONCURRENT {
                return Err(LogsError::refused(
                    LogsErrorCode::LimitExceeded,
                    format!("The account has {MAX_CONCURRENT} queries running; that is the most."),
                ));
            }
            let n = self.started.fetch_add(1, Ordering::Relaxed);
            let id = query_id(now_ms, n);
            jobs.insert(
                id.clone(),
                Job {
                    status: QueryStatus::Scheduled,
                    results: Vec::new(),
                    statistics: QueryStatistics::default(),
                    error: None,
                    abort: None,
                    owner: owner.map(str::to_owned),
                    info: QueryInfo {
                        query_id: id.clone(),
                        query_string: checked.text.clone(),
                        status: QueryStatus::Scheduled,
                        create_time: now_ms,
                        log_group_name: checked.groups.first().cloned().unwrap_or_default(),
                    },
                },
            );
            id
        };
        let task = self.runtime.spawn(run_job(
            Arc::clone(&self.jobs),
            id.clone(),
            self.dir.clone(),
            checked,
            (now_ms / 1000) as i64,
            self.timeout,
        ));
        if let Some(job) = self.lock().get_mut(&id) {
            job.abort = Some(task.abort_handle());
        }
        Ok(id)
    }

    /// GetQueryResults.
    pub fn results(&self, query_id: &str) -> Result<QueryResults, LogsError> {
        self.results_for(None, query_id)
    }

    /// GetQueryResults by `caller`'s account: another account's query is not found.
    pub fn results_for(
        &self,
        caller: Option<&str>,
        query_id: &str,
    ) -> Result<QueryResults, LogsError> {
        let jobs = self.lock();
        let job = jobs
            .get(query_id)
            .filter(|j| sees(caller, j.owner.as_deref()))
            .ok_or_else(|| no_query(query_id))?;
        Ok(QueryResults {
            results: job.results.clone(),
            statistics: job.statistics,
            status: job.status,
        })
    }

    /// Why a query failed, for people: the engine's message (AWS's API has no place for it).
    pub fn failure(&self, query_id: &str) -> Option<String> {
        self.lock().get(query_id).and_then(|j| j.error.clone())
    }

    /// StopQuery: whether a query that was running was stopped.
    pub fn stop(&self, query_id: &str) -> Result<bool, LogsError> {
        self.stop_for(None, query_id)
    }

    /// StopQuery by `caller`'s account: another account's query is not found.
    pub fn stop_for(&self, caller: Option<&str>, query_id: &str) -> Result<bool, LogsError> {
        let mut jobs = self.lock();
        let job = jobs
            .get_mut(query_id)
            .filter(|j| sees(caller, j.owner.as_deref()))
            .ok_or_else(|| no_query(query_id))?;
        if !matches!(job.status, QueryStatus::Scheduled | QueryStatus::Running) {
            return Ok(false);
        }
        if let Some(a) = job.abort.take() {
            a.abort();
        }
        job.status = QueryStatus::Cancelled;
        Ok(true)
    }
}

impl Jobs {
    /// DescribeQueries by `caller`'s account: its queries, newest first.
    pub fn describe_for(
        &self,
        caller: Option<&str>,
        req: &DescribeQueries,
    ) -> Result<QueriesPage, LogsError> {
        let invalid = |m: String| LogsError::refused(LogsErrorCode::InvalidParameter, m);
        let max = req.max_results.unwrap_or(1000);
        if !(1..=1000).contains(&max) {
            return Err(invalid(format!(
                "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy \
                 constraint: Member must have value less than or equal to 1000 and greater than or equal to 1"
            )));
        }
        if let Some(s) = &req.status
            && !STATUSES.contains(&s.as_str())
        {
            return Err(invalid(format!(
                "1 validation error detected: Value '{s}' at 'status' failed to satisfy \
                 constraint: Member must satisfy enum value set: [{}]",
                STATUSES.join(", ")
            )));
        }
        let from = match req.next_token.as_deref() {
            None => 0,
            Some(t) => t
                .strip_prefix("q/")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| invalid(format!("The next token '{t}' is invalid.")))?,
        };
        let mut queries: Vec<QueryInfo> = self
            .lock()
            .values()
            .filter(|j| sees(caller, j.owner.as_deref()))
            .map(|j| QueryInfo {
                status: j.status,
                ..j.info.clone()
            })
            .filter(|q| {
                req.log_group_name
                    .as_ref()
                    .is_none_or(|g| *g == q.log_group_name)
            })
            .filter(|q| req.status.as_deref().is_none_or(|s| q.status.name() == s))
            .collect();
        queries.sort_by(|a, b| (b.create_time, &b.query_id).cmp(&(a.create_time, &a.query_id)));
        let end = (from + max as usize).min(queries.len());
        let page = queries.get(from.min(end)..end).unwrap_or_default().to_vec();
        Ok(QueriesPage {
            queries: page,
            next_token: (end < queries.len()).then(|| format!("q/{end}")),
        })
    }
}

fn no_query(id: &str) -> LogsError {
    LogsError::refused(
        LogsErrorCode::ResourceNotFound,
        format!("Query {id} does not exist."),
    )
}

/// A query id in AWS's shape (a UUID), from the start time and the count of queries so far.
fn query_id(now_ms: u64, n: u64) -> String {
    let h = {
        use std::hash::{Hash, Hasher};
        let mut s = std::collections::hash_map::DefaultHasher::new();
        (now_ms, n).hash(&mut s);
        s.finish()
    };
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (h >> 32) as u32,
        (h >> 16) as u16,
        h as u16 & 0xfff,
        n as u16 & 0xfff,
        now_ms & 0xffff_ffff_ffff
    )
}

/// A job's life: Running, then what its query came to.
async fn run_job(
    jobs: Arc<Mutex<HashMap<String, Job>>>,
    id: String,
    dir: DataDir,
    q: Checked,
    now_s: i64,
    timeout: Duration,
) {
    let set = |f: &mut dyn FnMut(&mut Job)| {
        let mut jobs = jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(j) = jobs.get_mut(&id)
            && j.status != QueryStatus::Cancelled
        {
            f(j);
        }
    };
    set(&mut |j| j.status = QueryStatus::Running);
    let bad = Arc::new(BadLines::default());
    let run = insights_over_log_groups(
        &dir,
        &q.groups,
        &q.query,
        &q.text,
        Some(q.range),
        now_s,
        bad,
    );
    match tokio::time::timeout(timeout, run).await {
        Err(_) => set(&mut |j| j.status = QueryStatus::Timeout),
        Ok(Err(e)) => set(&mut |j| {
            j.status = QueryStatus::Failed;
            j.error = Some(e.to_string());
        }),
        Ok(Ok(rows)) => match result_rows(&rows, q.limit) {
            Ok(results) => set(&mut |j| {
                j.statistics = QueryStatistics {
                    records_matched: rows.stats.records_matched as f64,
                    records_scanned: rows.stats.records_scanned as f64,
                    bytes_scanned: rows.stats.bytes_scanned as f64,
                };
                j.results = results.clone();
                j.status = QueryStatus::Complete;
            }),
            Err(e) => set(&mut |j| {
                j.status = QueryStatus::Failed;
                j.error = Some(e.to_string());
            }),
        },
    }
}
