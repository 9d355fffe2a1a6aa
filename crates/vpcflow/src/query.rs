//! `vpcflow query`: Logs Insights queries over the log groups of a data directory (or over
//! imported files), and SQL scripts with Athena's DDL over the catalog's tables, printed as a
//! table for people or as JSON or CSV for scripts.
//!
//! Parsing and planning are `vpcflow-query`'s; this module finds the sources, runs the query on
//! a tokio runtime and formats the rows.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use std::sync::Arc;
use vpcflow_query::insights::plan::datafusion_arrow::{
    array::Array, datatypes::DataType, record_batch::RecordBatch, util,
};
use vpcflow_query::insights::plan::datafusion_catalog::TableProvider;
use vpcflow_query::insights::{self, plan};
use vpcflow_query::stats::ScanStats;
use vpcflow_query::text::BadLines;
use vpcflow_query::{Rows, jobs, sql, table};
use vpcflow_store::Clock as _;
use vpcflow_store::DataDir;
use vpcflow_store::logs::{LogsError, LogsErrorCode};

use crate::simulate::parse_rfc3339;

#[derive(Args, Debug)]
#[command(after_help = "\
Asks flow logs questions, in the CloudWatch Logs Insights language (--insights) over a log
group that flow logs delivered to (see `vpcflow logs groups`), or in SQL (--sql) over tables.

Insights fields are the names Insights discovers for flow logs: srcAddr, dstAddr, srcPort,
dstPort, protocol, packets, bytes, start, end, action, logStatus, interfaceId, … and the system
fields @timestamp, @message, @logStream, @log, @ingestionTime, @ptr. Commands: fields, display,
filter, stats (two levels, bin()), sort, limit, parse, dedup. Up to 10 000 rows. As in
CloudWatch, a field the events do not have is absent: null in fields and display, false in
comparisons, skipped by aggregates. stats lists its bin() groups newest first and other groups
in the natural sort order, unless a sort says otherwise.

SQL is DataFusion's, with AWS's Athena DDL accepted unchanged: CREATE EXTERNAL TABLE (text or
Parquet, PARTITIONED BY, ROW FORMAT DELIMITED, LOCATION 's3://BUCKET/…' for a bucket of this
vpcflow (DATA/s3/BUCKET, or the bucket at its endpoint with --config: read in place),
TBLPROPERTIES with skip.header.line.count and partition projection), MSCK REPAIR
TABLE, ALTER TABLE … ADD PARTITION, DROP TABLE, SHOW TABLES, SHOW PARTITIONS. Tables are kept in
DATA/state.db. Presto functions from AWS's samples work: from_unixtime, date_trunc,
date_format, to_iso8601, day_of_week, date(), split_part, … SQL reads and writes no file:
COPY, INSERT, UPDATE and DELETE are refused; an expression nests at most 1000 levels.

--files PATH queries real AWS flow-log files in place (a directory in any S3 layout, one
file, or s3://BUCKET/PREFIX; .log.gz, .log, JSON lines or Parquet; VPC and Transit Gateway flow
logs): Insights reads them as events, and SQL sees them as the table `flows`. Its columns are
every field AWS defines, whatever the files' formats: a field a file does not carry is null in
that file's rows, so a directory of mixed formats is one table and a query works on any format.
Log groups read the same way. Text lines follow the rules `vpcflow convert` reads by: header lines
anywhere (either spelling), whitespace around lines and blank lines ignored, every field checked;
a bad line is an error naming file, line and reason, whatever the query asks, unless --skip-bad.
Without a data directory, tables created then last for that one script. Log groups are SQL
tables by their quoted names: SELECT … FROM \"/vpcflow/flow-logs\".

--cluster df://HOST:PORT runs the query on a Ballista cluster (`vpcflow cluster scheduler` and
its executors, from this binary): SQL and Insights alike, over every kind of table; the answer is
the one this process gives. See docs/scale.md.

--contributors RULE ranks contributors as Contributor Insights does (GetInsightRuleReport,
exact): a rule in AWS's JSON syntax (Schema CloudWatchLogRule 1, LogGroupNames, LogFormat CLF
with 1-based positions or JSON with $.selectors, Fields aliases, Contribution Keys, ValueOf and
Filters, AggregateOn Count or Sum), or AWS's flow-log samples by name over --log-group.

Examples:
  vpcflow query --insights 'stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 10'
  vpcflow query --insights 'filter action = \"REJECT\" | stats count(*) as rejects by bin(1h)' --output json
  vpcflow query --insights 'fields @timestamp, srcAddr, dstPort | filter dstPort = 22' --start 2026-01-15T14:00:00Z
  vpcflow query --sql 'SELECT srcaddr, sum(bytes) AS b FROM flows GROUP BY srcaddr ORDER BY b DESC LIMIT 10' --files ./exported-logs/
  vpcflow query --sql-file athena.sql
  vpcflow query --contributors byte-transfers --max-contributors 5     # AWS's sample rule
  vpcflow query --contributors rule.json --start 2026-01-15T14:00:00Z --output json")]
pub(crate) struct QueryArgs {
    /// Data directory.
    #[arg(long, value_name = "DIR", default_value = "vpcflow-data")]
    data: PathBuf,
    /// A Logs Insights query.
    #[arg(long, value_name = "QUERY", conflicts_with_all = ["sql", "sql_file"])]
    insights: Option<String>,
    /// Contributor Insights: a rule in AWS's JSON syntax (a file, or the JSON itself), or one
    /// of AWS's flow-log samples over --log-group (byte-transfers, https-requests,
    /// rejected-tcp): the top contributors in the log groups it names, between --start and --end.
    #[arg(long, value_name = "RULE", conflicts_with_all = ["insights", "sql", "sql_file", "files"])]
    contributors: Option<String>,
    /// With --contributors: how many contributors (1-100), as MaxContributorCount.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    max_contributors: u32,
    /// With --contributors: order by each contributor's Sum, or by its largest period (Maximum).
    #[arg(long, default_value = "Sum", value_parser = ["Sum", "Maximum"])]
    order_by: String,
    /// One SQL statement, or a script of statements separated by ';'.
    #[arg(long, value_name = "SQL", conflicts_with = "sql_file")]
    sql: Option<String>,
    /// A file of SQL statements ('-' = standard input).
    #[arg(long = "sql-file", value_name = "FILE")]
    sql_file: Option<PathBuf>,
    /// The log group(s) to query (--insights); repeat for several (up to 50, as StartQuery).
    #[arg(
        long = "log-group",
        value_name = "NAME",
        default_value = "/vpcflow/flow-logs"
    )]
    log_group: Vec<String>,
    /// Query flow-log files in place instead: a directory (any S3 layout), a file, or
    /// s3://BUCKET/PREFIX (a bucket of --config, or under DATA/s3).
    #[arg(long, value_name = "PATH")]
    files: Option<PathBuf>,
    /// vpcflow.toml: its [[buckets]] with an endpoint are read in place wherever a query names
    /// them (s3:// LOCATIONs, --files s3://…).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// First event time (RFC 3339), inclusive (--insights).
    #[arg(long, value_name = "RFC3339")]
    start: Option<String>,
    /// Last event time (RFC 3339), inclusive (--insights).
    #[arg(long, value_name = "RFC3339")]
    end: Option<String>,
    /// table (for people), json (an array of row objects, numbers as numbers) or csv.
    #[arg(long, default_value = "table", value_parser = ["table", "json", "csv"])]
    output: String,
    /// Print on stderr what the query scanned and matched (records scanned, records matched,
    /// bytes scanned, as the CloudWatch console shows them), and what the same scan would cost
    /// in AWS (Logs Insights and Athena list prices).
    #[arg(long)]
    stats: bool,
    /// Skip text lines that break the rules (as `vpcflow convert --skip-bad` does), count them
    /// on stderr (and in --timing), and answer from the rest. Without it, the first bad line is
    /// an error naming its file, line and reason, whatever the query asks for.
    #[arg(long)]
    skip_bad: bool,
    /// Print the run time (finding the files, planning, reading and computing; not process
    /// start) on stderr.
    #[arg(long)]
    timing: bool,
    /// Run the query N times in this process, each from scratch (files found and read again,
    /// a new session; the log groups a script names are looked up once), and print the answer
    /// once; with --timing, the median run time. For benchmarks, timed as engines timed inside
    /// their host process are.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// Run the query on a Ballista cluster (`vpcflow cluster scheduler` and its executors) at
    /// df://HOST:PORT instead of in this process: SQL and Insights alike, over log groups,
    /// Athena tables, --files, text or Parquet, local or in buckets. The executors read the
    /// files by the same paths (one host, or the same mounts) and the buckets of their own
    /// --config. Text and Parquet scans alike split between the stage's tasks. Not with
    /// --skip-bad or --stats (the executors count, not this process).
    #[arg(long, value_name = "df://HOST:PORT", conflicts_with_all = ["contributors", "skip_bad", "stats"])]
    cluster: Option<String>,
    /// With --cluster: the tasks each stage of the query splits into (its scans' file groups),
    /// at most as many as the executors run at once, together.
    #[arg(long, value_name = "N", default_value_t = 16, requires = "cluster", value_parser = clap::value_parser!(u32).range(1..=4096))]
    cluster_partitions: u32,
    /// With --cluster: give up on an answer after this many seconds, with an error (a guard: a
    /// scheduler that stops answering, or a job it never ends).
    #[arg(long, value_name = "SECS", default_value_t = 600, requires = "cluster", value_parser = clap::value_parser!(u64).range(1..=86400))]
    cluster_timeout: u64,
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Evaluating a deeply nested expression recurses: room for the deepest the languages
        // allow (planning runs on the command's thread, `main`), so that a query's depth limit,
        // not the stack, refuses it.
        .thread_stack_size(64 << 20)
        .build()
        .context("cannot start the query runtime")
}

/// The config's buckets at S3-compatible endpoints, opened for reading in place.
fn remote_buckets(args: &QueryArgs) -> anyhow::Result<Vec<Arc<table::RemoteBucket>>> {
    remote_buckets_of(args.config.as_deref(), &args.data)
}

/// The buckets at S3-compatible endpoints of the config `config` (none without one).
pub(crate) fn remote_buckets_of(
    config: Option<&std::path::Path>,
    data: &std::path::Path,
) -> anyhow::Result<Vec<Arc<table::RemoteBucket>>> {
    let file = crate::delivery::load_config(config)?;
    let Some(delivery) = file.delivery else {
        return Ok(Vec::new());
    };
    delivery
        .buckets
        .iter()
        .filter(|b| b.endpoint.is_some())
        .map(|b| {
            let store = vpcflow_deliver::sinks::s3::open_bucket(b, &DataDir::new(data).s3())?;
            Ok(Arc::new(table::RemoteBucket {
                name: b.name.clone(),
                store,
            }))
        })
        .collect()
}

/// What a query gives: Insights rows, or the outputs of a SQL script's statements.
enum Answer {
    Rows(Rows),
    Script(Vec<sql::Output>),
}

impl Answer {
    /// What it scanned: a script's statements together.
    fn stats(&self) -> ScanStats {
        match self {
            Answer::Rows(r) => r.stats,
            Answer::Script(outputs) => outputs
                .iter()
                .filter_map(|o| match o {
                    sql::Output::Rows(r) => Some(r.stats),
                    sql::Output::Message(_) => None,
                })
                .fold(ScanStats::default(), |a, b| a + b),
        }
    }
}

/// `--stats`: the console's statistics line, then the AWS prices of the same scan.
fn report_stats(s: ScanStats) {
    eprintln!(
        "{} records matched, {} records ({}) scanned",
        s.records_matched,
        s.records_scanned,
        human_bytes(s.bytes_scanned)
    );
    for p in vpcflow_query::stats::PRICES {
        eprintln!("in AWS: {}: ${:.6}", p.what, p.of(s.bytes_scanned));
    }
}

/// Bytes as the console writes them (binary units).
fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub(crate) fn run(args: &QueryArgs) -> anyhow::Result<()> {
    if let Some(rule) = &args.contributors {
        return contributors(args, rule);
    }
    let remote = remote_buckets(args)?;
    // An Insights query, or a SQL script with the catalog it runs against.
    let sql_job = match (&args.insights, &args.sql, &args.sql_file) {
        (Some(_), _, _) => None,
        (None, Some(s), _) => Some(s.clone()),
        (None, None, Some(p)) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            Some(s)
        }
        (None, None, Some(p)) => Some(
            std::fs::read_to_string(p).with_context(|| format!("--sql-file {}", p.display()))?,
        ),
        (None, None, None) => bail!(
            "no query: give --insights QUERY (Logs Insights), --sql SQL, --sql-file FILE, or --contributors RULE (see vpcflow query --help)"
        ),
    }
    .map(|script| -> anyhow::Result<_> {
        // Querying files in place needs no data directory, and does not make one.
        let catalog = if args.files.is_some() && !args.data.exists() {
            sql::Catalog::transient(&args.data)
        } else {
            sql::Catalog::open(&args.data)
        }
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .with_remote(remote.clone())
        .with_local_locations(args.files.is_some());
        Ok((script, Arc::new(catalog)))
    })
    .transpose()?;
    let files = args
        .files
        .as_deref()
        .map(|p| {
            table::Place::resolve(
                &p.to_string_lossy(),
                &DataDir::new(&args.data).s3(),
                &remote,
            )
            .map_err(|e| anyhow::anyhow!("--files {}: {e}", p.display()))
        })
        .transpose()?;
    let range = range(args)?;
    let rt = runtime()?;
    let engine = Engine {
        rt: &rt,
        url: args.cluster.clone(),
        buckets: remote.clone(),
        partitions: args.cluster_partitions as usize,
        timeout: std::time::Duration::from_secs(args.cluster_timeout),
    };
    let mut times = Vec::new();
    let mut answer = None;
    let mut bad = Arc::new(BadLines::default());
    for _ in 0..args.repeat {
        let started = stopwatch();
        // Each run counts its own bad lines.
        bad = Arc::new(if args.skip_bad {
            BadLines::skipping()
        } else {
            BadLines::default()
        });
        // Each run lists the files and reads their formats again.
        let import = files
            .as_ref()
            .map(|place| {
                rt.block_on(table::import(place))
                    .map(Arc::new)
                    .map_err(|e| anyhow::anyhow!("--files: {e}"))
            })
            .transpose()?;
        answer = Some(match (&sql_job, &args.insights) {
            (Some((script, catalog)), _) => Answer::Script(run_sql(
                &engine,
                args,
                catalog,
                script,
                import,
                Arc::clone(&bad),
            )?),
            (None, text) => Answer::Rows(insights_rows(
                &engine,
                &args.data,
                text.as_deref().unwrap_or_default(),
                &args.log_group,
                import,
                range,
                Arc::clone(&bad),
            )?),
        });
        times.push(started.elapsed());
    }
    report_bad_lines(&bad, args.timing);
    if args.stats
        && let Some(a) = &answer
    {
        report_stats(a.stats());
    }
    if args.timing {
        times.sort();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        eprintln!("Run time: {:.3} ms", ms(times[times.len() / 2]));
        if times.len() > 1 {
            eprintln!(
                "({} runs: fastest {:.3} ms, slowest {:.3} ms)",
                times.len(),
                ms(times[0]),
                ms(times[times.len() - 1])
            );
        }
    }
    match answer {
        Some(Answer::Rows(batches)) => print(&batches, &args.output),
        Some(Answer::Script(outputs)) => {
            for o in outputs {
                match o {
                    sql::Output::Message(lines) => {
                        for l in lines {
                            if args.output == "table" {
                                println!("{l}");
                            } else {
                                eprintln!("{l}");
                            }
                        }
                    }
                    sql::Output::Rows(b) => print(&b, &args.output)?,
                }
            }
            Ok(())
        }
        None => Ok(()),
    }
}

/// With `--skip-bad`, what was skipped: the count, and the first few lines with their reasons.
fn report_bad_lines(bad: &BadLines, timing: bool) {
    if !bad.skips() || (bad.count() == 0 && !timing) {
        return;
    }
    for line in bad.shown() {
        eprintln!("vpcflow: skipped {line}");
    }
    eprintln!("vpcflow: skipped {} bad line(s)", bad.count());
}

/// Runs a SQL script: the catalog's tables, an import as `flows`, and the data directory's
/// log groups by their quoted names (`SELECT … FROM "/vpcflow/flow-logs"`), each found when a
/// statement names it (`sql::StoreSchema`).
fn run_sql(
    engine: &Engine<'_>,
    args: &QueryArgs,
    catalog: &Arc<sql::Catalog>,
    script: &str,
    import: Option<Arc<table::FlowTable>>,
    bad: Arc<BadLines>,
) -> anyhow::Result<Vec<sql::Output>> {
    let extra: Vec<(String, Arc<dyn TableProvider>)> = import
        .into_iter()
        .map(|t| ("flows".to_owned(), t as Arc<dyn TableProvider>))
        .collect();
    let schema = Arc::new(sql::StoreSchema::new(
        Arc::clone(catalog),
        Some(DataDir::new(&args.data)),
    ));
    let ctx = engine.session(sql::config())?.unwrap_or_else(sql::session);
    engine
        .block_on(async {
            vpcflow_query::set_bad_lines(&ctx, bad);
            sql::run_script(&ctx, schema, script, &extra).await
        })?
        .map_err(|e| anyhow::anyhow!("--sql: {e}"))
}

/// Where a query runs: in this process (on its runtime), or on the cluster of `--cluster`.
pub(crate) struct Engine<'a> {
    /// The runtime the query's futures run on.
    pub(crate) rt: &'a tokio::runtime::Runtime,
    /// The scheduler (`df://HOST:PORT`), if the query runs on a cluster.
    pub(crate) url: Option<String>,
    /// The buckets at endpoints that the query's plans may name.
    pub(crate) buckets: Vec<Arc<table::RemoteBucket>>,
    /// Tasks per stage on the cluster.
    pub(crate) partitions: usize,
    /// How long to wait for the cluster's answer.
    pub(crate) timeout: std::time::Duration,
}

impl<'a> Engine<'a> {
    /// In this process.
    pub(crate) fn local(rt: &'a tokio::runtime::Runtime) -> Engine<'a> {
        Engine {
            rt,
            url: None,
            buckets: Vec::new(),
            partitions: 1,
            timeout: std::time::Duration::MAX,
        }
    }

    /// Runs `fut` to its end; on a cluster, at most `timeout` (then an error: the client stops
    /// waiting, rather than waiting for ever on a job the cluster never ends).
    fn block_on<F: Future>(&self, fut: F) -> anyhow::Result<F::Output> {
        let Some(url) = &self.url else {
            return Ok(self.rt.block_on(fut));
        };
        self.rt
            .block_on(async { tokio::time::timeout(self.timeout, fut).await })
            .map_err(|_| {
                anyhow::anyhow!(
                    "--cluster {url}: no answer in {} s (see the scheduler's log; \
                     --cluster-timeout waits longer)",
                    self.timeout.as_secs()
                )
            })
    }

    /// A session on the cluster with `config`'s settings; `None` to run in this process.
    fn session(&self, config: plan::SessionConfig) -> anyhow::Result<Option<plan::SessionContext>> {
        let Some(url) = &self.url else {
            return Ok(None);
        };
        let buckets = vpcflow_query::cluster::Buckets(self.buckets.clone());
        let config = config.with_target_partitions(self.partitions);
        vpcflow_query::cluster::remote(url, config, &buckets)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("--cluster {url}: {}", vpcflow_query::engine_message(&e)))
    }
}

/// `--contributors`: the rule's top contributors, one row each (its keys, then its value),
/// printed as any answer is.
fn contributors(args: &QueryArgs, rule: &str) -> anyhow::Result<()> {
    use vpcflow_monitor::contributors::{self as ci, OrderBy};
    use vpcflow_query::insights::plan::datafusion_arrow::array::{
        ArrayRef, Float64Array, StringArray,
    };
    use vpcflow_query::insights::plan::datafusion_arrow::datatypes::{Field, Schema};
    let group = args
        .log_group
        .first()
        .map_or("/vpcflow/flow-logs", String::as_str);
    let definition = match ci::sample(rule, group) {
        Some(d) => d,
        None if rule.trim_start().starts_with('{') => rule.to_owned(),
        None => std::fs::read_to_string(rule).with_context(|| {
            format!(
                "--contributors {rule}: not a rule file, JSON, or a sample ({})",
                ci::SAMPLES.join(", ")
            )
        })?,
    };
    let rule = ci::Rule::parse(&definition).with_context(|| format!("--contributors {rule}"))?;
    let state = DataDir::new(&args.data).state_db();
    if !state.exists() {
        bail!(
            "{} has no log groups (run `vpcflow simulate`)",
            args.data.display()
        );
    }
    let store = vpcflow_store::logs::LogStore::open(DataDir::new(&args.data), "us-east-1", "")?;
    let r = range(args)?;
    let span = r.map_or((0, i64::MAX), |r| (r.start_ms, r.end_ms));
    let order = if args.order_by == "Maximum" {
        OrderBy::Maximum
    } else {
        OrderBy::Sum
    };
    let report =
        store.contributor_report(&rule, span, 300, args.max_contributors as usize, order)?;
    let mut fields: Vec<Field> = report
        .key_labels
        .iter()
        .map(|k| Field::new(k, DataType::Utf8, false))
        .collect();
    fields.push(Field::new(
        report.aggregation_statistic,
        DataType::Float64,
        false,
    ));
    let mut columns: Vec<ArrayRef> = (0..report.key_labels.len())
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                report.contributors.iter().map(|c| c.keys[i].as_str()),
            )) as ArrayRef
        })
        .collect();
    columns.push(Arc::new(Float64Array::from_iter_values(
        report.contributors.iter().map(|c| c.value),
    )));
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    eprintln!(
        "{} contributors, {} {} in all",
        report.unique_count, report.aggregate_value, report.aggregation_statistic
    );
    print(
        &Rows {
            schema,
            batches: vec![batch],
            stats: ScanStats::default(),
        },
        &args.output,
    )
}

/// `--timing`'s stopwatch: the CLI measuring itself for the user, not domain time.
#[allow(clippy::disallowed_methods)]
fn stopwatch() -> std::time::Instant {
    std::time::Instant::now()
}

fn range(args: &QueryArgs) -> anyhow::Result<Option<plan::TimeRange>> {
    let secs = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<i64>> {
        v.as_deref()
            .map(|s| {
                parse_rfc3339(s)
                    .map(|t| t as i64)
                    .with_context(|| format!("{flag} '{s}': expected an RFC 3339 time"))
            })
            .transpose()
    };
    Ok(
        match (secs("--start", &args.start)?, secs("--end", &args.end)?) {
            (None, None) => None,
            (s, e) => Some(plan::TimeRange {
                start_ms: s.unwrap_or(0) * 1000,
                end_ms: e.map_or(i64::MAX, |e| e * 1000 + 999),
            }),
        },
    )
}

/// Runs an Insights query over log groups of `data` (`vpcflow_query::jobs`, as StartQuery runs
/// it), or over imported files.
pub(crate) fn insights_rows(
    engine: &Engine<'_>,
    data: &std::path::Path,
    text: &str,
    log_groups: &[String],
    import: Option<Arc<table::FlowTable>>,
    range: Option<plan::TimeRange>,
    bad: Arc<BadLines>,
) -> anyhow::Result<Rows> {
    let query =
        insights::parse(text).map_err(|e| anyhow::anyhow!("--insights: {}", e.render(text)))?;
    if let Err(LogsError::Refused { code, message }) = jobs::check_group_count(log_groups.len()) {
        bail!("{}: {message}", code.def().name);
    }
    // now() is the time the query starts: the binary's clock, given to the planner.
    let now_s = (crate::delivery::SystemClock.now_ms() / 1000) as i64;
    let on_cluster = engine.session(plan::SessionConfig::new())?;
    let rows = match (import, on_cluster) {
        (Some(t), on_cluster) => engine.block_on(async {
            let ctx = on_cluster.unwrap_or_else(plan::session);
            vpcflow_query::set_bad_lines(&ctx, bad);
            let source = plan::files(&ctx, t).await?;
            let env = plan::Env {
                now_s,
                range,
                flow_records_only: true,
            };
            plan::run(&ctx, &query, text, source, env).await
        })?,
        (None, on_cluster) => {
            let dir = DataDir::new(data);
            let run = async {
                match &on_cluster {
                    Some(ctx) => {
                        jobs::insights_over_log_groups_in(
                            ctx, &dir, log_groups, &query, text, range, now_s,
                        )
                        .await
                    }
                    None => {
                        jobs::insights_over_log_groups(
                            &dir, log_groups, &query, text, range, now_s, bad,
                        )
                        .await
                    }
                }
            };
            return engine.block_on(run)?.map_err(|e| match e {
                jobs::InsightsError::Refused(LogsError::Refused {
                    code: LogsErrorCode::MalformedQuery,
                    message,
                }) => anyhow::anyhow!("--insights: {message}"),
                jobs::InsightsError::Refused(LogsError::Refused { code, message }) => {
                    anyhow::anyhow!("{}: {message} (in {})", code.def().name, data.display())
                }
                other => anyhow::anyhow!(other),
            });
        }
    };
    rows.map_err(|e| match e {
        plan::QueryError::Query(p) => anyhow::anyhow!("--insights: {}", p.render(text)),
        other => anyhow::anyhow!(other),
    })
}

/// Prints rows as a table, JSON or CSV. An answer without rows still shows its columns: the
/// table's header and "0 rows", the CSV header line, or `[]`.
pub(crate) fn print(rows: &Rows, output: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let empty = [RecordBatch::new_empty(Arc::clone(&rows.schema))];
    let batches: &[RecordBatch] = if rows.num_rows() == 0 {
        &empty
    } else {
        &rows.batches
    };
    match output {
        "json" => writeln!(out, "{}", to_json(batches)?)?,
        "csv" => write!(out, "{}", to_csv(batches)?)?,
        _ => {
            writeln!(
                out,
                "{}",
                util::pretty::pretty_format_batches_with_options(batches, &format_options())?
            )?;
            if rows.num_rows() == 0 {
                writeln!(out, "0 rows")?;
            }
        }
    }
    Ok(())
}

fn format_options() -> util::display::FormatOptions<'static> {
    util::display::FormatOptions::default()
        .with_null("")
        .with_timestamp_format(Some(jobs::TIME_FORMAT))
}

/// A formatter per column of a batch.
fn formatters<'a>(
    b: &'a RecordBatch,
    opts: &'a util::display::FormatOptions<'a>,
) -> anyhow::Result<Vec<util::display::ArrayFormatter<'a>>> {
    Ok(b.columns()
        .iter()
        .map(|c| util::display::ArrayFormatter::try_new(c.as_ref(), opts))
        .collect::<Result<Vec<_>, _>>()?)
}

fn is_number(t: &DataType) -> bool {
    t.is_integer() || t.is_floating()
}

/// Rows as a JSON array of objects; numeric columns as JSON numbers, nulls as null.
fn to_json(batches: &[RecordBatch]) -> anyhow::Result<String> {
    let opts = format_options();
    let mut rows = Vec::new();
    for b in batches {
        let formatters = formatters(b, &opts)?;
        for r in 0..b.num_rows() {
            let mut obj = serde_json::Map::new();
            for (i, f) in b.schema().fields().iter().enumerate() {
                let col = b.column(i);
                let v = if col.is_null(r) {
                    serde_json::Value::Null
                } else {
                    let s = formatters[i].value(r).to_string();
                    if is_number(f.data_type()) {
                        serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s))
                    } else {
                        serde_json::Value::String(s)
                    }
                };
                obj.insert(f.name().clone(), v);
            }
            rows.push(serde_json::Value::Object(obj));
        }
    }
    Ok(serde_json::to_string_pretty(&rows)?)
}

/// Rows as CSV with a header line.
fn to_csv(batches: &[RecordBatch]) -> anyhow::Result<String> {
    let opts = format_options();
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    if let Some(b) = batches.first() {
        let names: Vec<String> = b
            .schema()
            .fields()
            .iter()
            .map(|f| quote(f.name()))
            .collect();
        out.push_str(&names.join(","));
        out.push('\n');
    }
    for b in batches {
        let formatters = formatters(b, &opts)?;
        for r in 0..b.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| quote(&f.value(r).to_string()))
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    Ok(out)
}
