//! Query over flow logs: the CloudWatch Logs Insights language and SQL with Athena's DDL, both
//! planned onto Apache DataFusion.
//!
//! Without the default `engine` feature the crate is the language front ends only (what the
//! fuzz targets build, in seconds): [`insights`] (lexer, parser into a typed AST with spans, the
//! function registry, the natural sort order) and [`athena`] (the DDL statements). With it:
//! `insights::plan` (Insights onto DataFrames), `jobs` (Insights over log groups as
//! StartQuery/GetQueryResults/StopQuery jobs), `groups` (a data directory's log groups found by
//! name, for SQL and Insights alike), `sql` (the catalog and scripts), `table` (the
//! table provider over flow-log files), `stats` (what a query scanned, and its AWS price), `cost` (what the delivered flow logs cost in AWS per month), `samples` (the seeds' sample queries), `text` (the flow-log text decoder), `text_exec` (the plan node that streams
//! text files' batches as they decode), `udf`, and
//! `view_eq` (a faster filter for short string literals); [`session`] makes the DataFusion
//! session both languages run in.

pub mod athena;
#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "engine")]
pub mod cost;
#[cfg(feature = "engine")]
pub mod groups;
pub mod insights;
#[cfg(feature = "engine")]
pub mod jobs;
pub mod samples;
#[cfg(feature = "engine")]
pub mod sql;
#[cfg(feature = "engine")]
pub mod stats;
#[cfg(feature = "engine")]
pub mod table;
#[cfg(feature = "engine")]
pub mod text;
#[cfg(feature = "engine")]
pub mod text_exec;
#[cfg(feature = "engine")]
pub mod udf;
#[cfg(feature = "engine")]
pub mod view_eq;

/// A DataFusion session with DataFusion's defaults, vpcflow's functions ([`udf`]) and
/// physical-plan rule ([`view_eq`]): what SQL and Insights queries run in.
#[cfg(feature = "engine")]
pub fn session(config: datafusion::prelude::SessionConfig) -> datafusion::prelude::SessionContext {
    session_in(config, None)
}

/// A session as [`session`] makes it, on the runtime environment that every log-group query of
/// the process shares: its file-metadata cache keeps the Parquet footers of the segments between
/// queries (a segment is written once and never changed, and the cache checks each file's size
/// and time), so that a service's repeated queries over a day's few hundred segments do not
/// read and decode every footer again. Nothing else is registered in it.
#[cfg(feature = "engine")]
pub fn log_group_session() -> datafusion::prelude::SessionContext {
    use datafusion::execution::runtime_env::RuntimeEnv;
    static SHARED: std::sync::OnceLock<std::sync::Arc<RuntimeEnv>> = std::sync::OnceLock::new();
    let runtime = SHARED.get_or_init(|| std::sync::Arc::new(RuntimeEnv::default()));
    session_in(
        datafusion::prelude::SessionConfig::new(),
        Some(std::sync::Arc::clone(runtime)),
    )
}

#[cfg(feature = "engine")]
fn session_in(
    config: datafusion::prelude::SessionConfig,
    runtime: Option<std::sync::Arc<datafusion::execution::runtime_env::RuntimeEnv>>,
) -> datafusion::prelude::SessionContext {
    let mut builder = datafusion::execution::SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rule(std::sync::Arc::new(view_eq::ShortLiteralEq));
    if let Some(r) = runtime {
        builder = builder.with_runtime_env(r);
    }
    let ctx = datafusion::prelude::SessionContext::new_with_state(builder.build());
    udf::register(&ctx);
    ctx
}

/// A statement's or query's answer: its columns (known even when there is no row, so that an
/// empty answer still shows its header) and its rows.
#[cfg(feature = "engine")]
#[derive(Debug, Clone)]
pub struct Rows {
    /// The columns.
    pub schema: datafusion::arrow::datatypes::SchemaRef,
    /// The rows.
    pub batches: Vec<datafusion::arrow::record_batch::RecordBatch>,
    /// What getting them scanned and matched.
    pub stats: stats::ScanStats,
}

#[cfg(feature = "engine")]
impl Rows {
    /// Runs `df` to its rows, keeping what its scans read.
    pub async fn of(df: datafusion::prelude::DataFrame) -> datafusion::error::Result<Rows> {
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let task = std::sync::Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await?;
        let batches =
            datafusion::physical_plan::collect(std::sync::Arc::clone(&plan), task).await?;
        Ok(Rows {
            schema,
            batches,
            stats: stats::ScanStats::of(&plan),
        })
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// What an engine error says to a user: its innermost cause, once (DataFusion wraps an error in
/// layers that each repeat it, and our own errors, such as a bad line, in `External`), without
/// DataFusion's category prefix.
#[cfg(feature = "engine")]
pub fn engine_message(e: &datafusion::error::DataFusionError) -> String {
    use datafusion::error::DataFusionError as E;
    match e.find_root() {
        E::External(inner) => match inner.downcast_ref::<E>() {
            Some(df) => engine_message(df),
            None => inner.to_string(),
        },
        E::Execution(m) | E::Plan(m) | E::NotImplemented(m) | E::Configuration(m) => {
            no_matching_call(m).unwrap_or_else(|| m.clone())
        }
        E::ArrowError(a, _) => match a.as_ref() {
            datafusion::arrow::error::ArrowError::ExternalError(inner) => inner.to_string(),
            a => a.to_string(),
        },
        root => root.to_string(),
    }
}

/// DataFusion's "no function matches" says the signature three times (the whole `OneOf`, then
/// the call, then one candidate per line for every time unit and zone): this says the call and
/// each form once, with types by kind (`timestamp`, not `Timestamp(µs, "+TZ")`).
#[cfg(feature = "engine")]
fn no_matching_call(m: &str) -> Option<String> {
    let given = m.split("argument types '").nth(1)?.split("'.").next()?;
    let candidates = m.split("Candidate functions:").nth(1)?;
    let mut forms: Vec<String> = Vec::new();
    for c in candidates.lines().map(str::trim).filter(|c| !c.is_empty()) {
        let form = type_kinds(c);
        if !forms.contains(&form) {
            forms.push(form);
        }
    }
    Some(format!(
        "no form of the function takes {}; it takes: {}",
        type_kinds(given),
        forms.join(", ")
    ))
}

/// A call's types by kind: `date_bin(Interval(MonthDayNano), Timestamp(ns, "+TZ"))` is
/// `date_bin(interval, timestamp)`.
#[cfg(feature = "engine")]
fn type_kinds(call: &str) -> String {
    let Some((name, args)) = call.split_once('(') else {
        return call.to_owned();
    };
    let args = args.strip_suffix(')').unwrap_or(args);
    let mut kinds = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, ch) in args.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                kinds.push(type_kind(&args[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if !args.trim().is_empty() {
        kinds.push(type_kind(&args[start..]));
    }
    format!("{name}({})", kinds.join(", "))
}

#[cfg(feature = "engine")]
fn type_kind(t: &str) -> String {
    let t = t.trim();
    let head = t.split('(').next().unwrap_or(t);
    match head {
        "Timestamp" => "timestamp".to_owned(),
        "Interval" | "Duration" => "interval".to_owned(),
        "Time32" | "Time64" => "time".to_owned(),
        "Date32" | "Date64" => "date".to_owned(),
        "Int8" | "Int16" | "Int32" | "Int64" | "UInt8" | "UInt16" | "UInt32" | "UInt64" => {
            "integer".to_owned()
        }
        "Float16" | "Float32" | "Float64" | "Decimal128" | "Decimal256" => "number".to_owned(),
        "Utf8" | "LargeUtf8" | "Utf8View" => "string".to_owned(),
        _ => t.to_owned(),
    }
}

/// Makes the text files a session reads follow `bad`: fail at the first bad line (the default),
/// or skip and count bad lines (`--skip-bad`), whatever the statement or query.
#[cfg(feature = "engine")]
pub fn set_bad_lines(
    ctx: &datafusion::prelude::SessionContext,
    bad: std::sync::Arc<text::BadLines>,
) {
    ctx.state_ref().write().config_mut().set_extension(bad);
}
