//! Planning Logs Insights onto DataFusion: each command becomes DataFrame operations over a log
//! group's segments (Parquet; `vpcflow-deliver`'s log-group store), with the flow-log columns
//! renamed to the names Insights discovers (`srcAddr`) and `@timestamp` as a timestamp.
//!
//! Every command of the v1 set is planned (`fields`, `display`, `filter`, `stats` with two
//! levels and `bin()`, `sort`, `limit`, `parse` glob and regex, `dedup`), with every operator
//! and the registry's functions: DataFusion's own where one matches Insights' meaning, and
//! [`crate::udf`]'s for the IP functions and the rest. The JSON functions are refused with an
//! error at their token: flow-log events are text, never JSON.

/// Arrow as DataFusion builds it, for callers that format results.
pub use datafusion::arrow as datafusion_arrow;
/// DataFusion's catalog traits, for callers that register tables.
pub use datafusion::catalog as datafusion_catalog;
/// DataFusion's DataFrame, for callers that combine sources.
pub use datafusion::prelude::DataFrame;
/// The session types queries run in (a binary makes a cluster's with them).
pub use datafusion::prelude::{SessionConfig, SessionContext};

pub use crate::Rows;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Column, ScalarValue};
use datafusion::execution::FunctionRegistry as _;
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{Expr, SortExpr, cast, lit};
use datafusion::logical_expr::{ExprFunctionExt as _, ExprSchemable as _};
use datafusion::prelude::Not as _;
use vpcflow_record::FIELDS;

use super::ast::{BinaryOp, CommandKind, ExprKind, ParsePattern, Query, UnaryOp};
use super::error::{ParseError, Span};
use super::fields::insights_name;

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query is wrong (or uses what is not planned yet), at a token.
    #[error("{0}")]
    Query(#[from] ParseError),
    /// The engine failed (the data or the machine): said once, by its innermost cause.
    #[error("{}", crate::engine_message(.0))]
    Engine(datafusion::error::DataFusionError),
}

impl From<datafusion::error::DataFusionError> for QueryError {
    fn from(e: datafusion::error::DataFusionError) -> QueryError {
        QueryError::Engine(e)
    }
}

fn not_yet(what: &str, span: Span) -> QueryError {
    ParseError::new(
        format!("{what} is not supported by vpcflow's planner yet"),
        span,
    )
    .into()
}

fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// Most rows Insights returns (query.md §1.6).
pub const MAX_ROWS: usize = 10_000;

/// The event time range, in ms since the epoch, both ends inclusive (StartQuery's semantics).
#[derive(Debug, Clone, Copy)]
pub struct TimeRange {
    /// First ms.
    pub start_ms: i64,
    /// Last ms.
    pub end_ms: i64,
}

/// The columns every event source shows: the system fields and the discovered flow-log fields
/// (AWS column `account_id` → Insights `accountId`).
fn discovered(df: DataFrame, extra: Vec<Expr>) -> Result<DataFrame, QueryError> {
    let mut select = Vec::new();
    for f in df.schema().fields() {
        let name = f.name();
        let e = match name.as_str() {
            "@timestamp" | "@ingestionTime" => cast(
                column(name),
                DataType::Timestamp(TimeUnit::Millisecond, None),
            )
            .alias(name),
            _ if name.starts_with('@') => column(name),
            _ => match FIELDS.iter().find(|d| d.column == name) {
                Some(d) => column(name).alias(insights_name(d.id)),
                None => column(name),
            },
        };
        select.push(e);
    }
    select.extend(extra);
    Ok(df.select(select)?)
}

/// Reads a log group's segments as Insights sees them: the system fields (with `@log`
/// and `@ptr`) and the discovered flow-log fields.
///
/// `paths` is the group's directory, or the segment files a time range selects (the caller
/// prunes by the segments' event times).
pub async fn log_group(
    ctx: &SessionContext,
    paths: Vec<String>,
    name: &str,
) -> Result<DataFrame, QueryError> {
    let df = crate::table::read_log_group(ctx, paths).await?;
    // `account:group`, or the group alone where the format has no account.
    let log = datafusion::functions::string::expr_fn::concat_ws(
        lit(":"),
        vec![column("account_id"), lit(name.to_owned())],
    );
    let ptr = call(
        ctx,
        "vpcflowPtr",
        vec![column("@logStream"), column("@message")],
    )?;
    discovered(df, vec![log.alias("@log"), ptr.alias("@ptr")])
}

/// Flow-log files read in place (an import) as Insights events: every field AWS defines (null
/// where a file's format lacks it), `@timestamp` the record's `start`, `@logStream`
/// `<interface-id>-all` as delivery names it, and `@message` the record's line: as the file
/// has it for text files, rebuilt from its columns in the file's format for Parquet files (read
/// from their footers, files of one format together).
pub async fn files(
    ctx: &SessionContext,
    table: std::sync::Arc<crate::table::FlowTable>,
) -> Result<DataFrame, QueryError> {
    use crate::table::FileKind;
    let (text, parquet): (Vec<_>, Vec<_>) = table
        .files()
        .iter()
        .cloned()
        .partition(|f| f.kind == FileKind::Text);
    let mut parts = Vec::new();
    if !text.is_empty() || parquet.is_empty() {
        let lines = std::sync::Arc::new(table.with_files(text).with_line_column());
        let df = ctx.read_table(lines)?;
        parts.push(events(ctx, df, None)?);
    }
    let groups = crate::table::by_format(parquet)
        .await
        .map_err(datafusion::error::DataFusionError::Execution)?;
    for (format, files) in groups {
        let df = ctx.read_table(std::sync::Arc::new(table.with_files(files)))?;
        let text = |n: &str| {
            datafusion::functions::core::expr_fn::coalesce(vec![
                cast(column(n), DataType::Utf8),
                lit("-"),
            ])
        };
        let message = datafusion::functions::string::expr_fn::concat_ws(
            lit(" "),
            format.fields().iter().map(|f| text(f.column())).collect(),
        );
        parts.push(events(ctx, df, Some(message))?);
    }
    let mut all = parts.into_iter();
    let first = all
        .next()
        .expect("at least one part: the text one when there is no other");
    Ok(all.try_fold(first, |acc, df| acc.union_by_name(df))?)
}

/// Records as Insights events: the discovered fields (the table has every field), and the system
/// fields from the record; `@message` is `message`, or the table's own column of that name.
fn events(
    ctx: &SessionContext,
    df: DataFrame,
    message: Option<Expr>,
) -> Result<DataFrame, QueryError> {
    let stream =
        datafusion::functions::string::expr_fn::concat(vec![column("interface_id"), lit("-all")]);
    let mut extra = Vec::new();
    if let Some(m) = &message {
        extra.push(m.clone().alias("@message"));
    }
    let message = message.unwrap_or_else(|| column("@message"));
    extra.extend([
        cast(
            column("start") * lit(1000i64),
            DataType::Timestamp(TimeUnit::Millisecond, None),
        )
        .alias("@timestamp"),
        call(ctx, "vpcflowPtr", vec![stream.clone(), message])?.alias("@ptr"),
        stream.alias("@logStream"),
    ]);
    discovered(df, extra)
}

/// A function of the session by name (DataFusion's, or vpcflow's: [`session`] registers them).
fn call(ctx: &SessionContext, name: &str, args: Vec<Expr>) -> Result<Expr, QueryError> {
    Ok(ctx.udf(name)?.call(args))
}

/// What a query knows besides its events: when it runs and over what range.
#[derive(Debug, Clone, Copy)]
pub struct Env {
    /// `now()`: epoch seconds when the query started (the caller's clock).
    pub now_s: i64,
    /// The range asked for, if any.
    pub range: Option<TimeRange>,
    /// Every event is a flow record, with a `start` (files read in place): the range on `start`
    /// prunes files outright. A log group's events may not be (PutLogEvents'), so there an
    /// event without a `start` is kept for the @timestamp range to decide.
    pub flow_records_only: bool,
}

/// Runs a parsed query over `source` (see [`log_group`] and [`files`]).
pub async fn run(
    ctx: &SessionContext,
    query: &Query,
    text: &str,
    source: DataFrame,
    env: Env,
) -> Result<Rows, QueryError> {
    Ok(Rows::of(plan(ctx, query, text, source, env)?).await?)
}

/// Plans a parsed query over `source` without running it: every error a query can have short
/// of reading its events is found here.
pub fn plan(
    ctx: &SessionContext,
    query: &Query,
    text: &str,
    source: DataFrame,
    env: Env,
) -> Result<DataFrame, QueryError> {
    let p = Planner {
        ctx,
        env,
        known: Default::default(),
        schema: Default::default(),
    };
    let mut df = source;
    if let Some(r) = env.range {
        let ts = |ms: i64| lit(ScalarValue::TimestampMillisecond(Some(ms), None));
        df = df.filter(
            column("@timestamp")
                .gt_eq(ts(r.start_ms))
                .and(column("@timestamp").lt_eq(ts(r.end_ms))),
        )?;
        // A flow-log event's @timestamp is its record's start: the same range on `start` lets
        // the scan skip files and row groups outside it (time-range pruning). Events that are
        // not flow records (PutLogEvents') have no `start`, and the @timestamp range alone
        // decides for them.
        if df.schema().field_with_unqualified_name("start").is_ok() {
            let in_range = column("start")
                .gt_eq(lit(
                    r.start_ms.div_euclid(1000) + i64::from(r.start_ms.rem_euclid(1000) != 0)
                ))
                .and(column("start").lt_eq(lit(r.end_ms.div_euclid(1000))));
            df = df.filter(match env.flow_records_only {
                true => in_range,
                false => column("start").is_null().or(in_range),
            })?;
        }
    }
    let mut fields: Vec<String> = Vec::new();
    let mut display: Option<Vec<String>> = None;
    let mut aggregated = false;
    let mut order: Option<Vec<SortExpr>> = None;
    let mut limited = false;
    for (at, c) in query.commands.iter().enumerate() {
        p.know(&df);
        match &c.kind {
            CommandKind::Filter(e) => df = df.filter(truthy(p.expr(e)?))?,
            CommandKind::Fields(ps) => {
                for pr in ps {
                    let name = pr.name(text);
                    if !matches!(&pr.expr.kind, ExprKind::Field(f) if *f == name) {
                        df = df.with_column(&name, p.expr(&pr.expr)?)?;
                    }
                    if !fields.contains(&name) {
                        fields.push(name);
                    }
                }
            }
            CommandKind::Display(ps) => {
                let mut names = Vec::new();
                for pr in ps {
                    let name = pr.name(text);
                    if !matches!(&pr.expr.kind, ExprKind::Field(f) if *f == name) {
                        df = df.with_column(&name, p.expr(&pr.expr)?)?;
                    }
                    names.push(name);
                }
                display = Some(names);
            }
            CommandKind::Stats { aggregates, by } => {
                let group = by
                    .iter()
                    .map(|pr| Ok(p.expr(&pr.expr)?.alias(pr.name(text))))
                    .collect::<Result<Vec<_>, QueryError>>()?;
                let mut hidden = Vec::new();
                let outer = aggregates
                    .iter()
                    .map(|pr| Ok(p.aggregate(&pr.expr, &mut hidden)?.alias(pr.name(text))))
                    .collect::<Result<Vec<_>, QueryError>>()?;
                df = df.aggregate(group, hidden)?;
                let mut select: Vec<Expr> = by.iter().map(|pr| column(&pr.name(text))).collect();
                select.extend(outer);
                // A row of a time bin keeps the bin's start as its @timestamp, so that a second
                // stats can group by a coarser bin() (it is not shown).
                if let Some(b) = by.iter().find(|pr| is_bin(&pr.expr)) {
                    select.push(column(&b.name(text)).alias("@timestamp"));
                }
                df = df.select(select)?;
                // Groups come in a set order: time bins newest first, as Insights lists them,
                // then the other groups in the natural sort order; a later `sort` decides
                // instead.
                let sorted_later = query.commands[at + 1..]
                    .iter()
                    .any(|c| matches!(c.kind, CommandKind::Sort(_)));
                let groups = by
                    .iter()
                    .map(|pr| p.sort_key(&df, column(&pr.name(text)), is_bin(&pr.expr)))
                    .collect::<Result<Vec<_>, QueryError>>()?;
                if !groups.is_empty() && !sorted_later {
                    df = df.sort(groups)?;
                }
                // After stats, the output is its groups and aggregations.
                fields = by
                    .iter()
                    .chain(aggregates)
                    .map(|pr| pr.name(text))
                    .collect();
                display = None;
                aggregated = true;
                order = None;
            }
            CommandKind::Sort(keys) => {
                // Strings sort in Insights' documented natural order (by a byte key);
                // numbers and times sort as themselves.
                let sort = keys
                    .iter()
                    .map(|k| p.sort_key(&df, p.expr(&k.expr)?, k.desc))
                    .collect::<Result<Vec<_>, QueryError>>()?;
                df = df.sort(sort.clone())?;
                order = Some(sort);
            }
            CommandKind::Limit(n) => {
                if !aggregated && order.is_none() {
                    // Raw events come newest first, as Insights returns them, before the limit.
                    let newest = vec![SortExpr::new(column("@timestamp"), false, false)];
                    df = df.sort(newest.clone())?;
                    order = Some(newest);
                }
                df = df.limit(0, Some(*n as usize))?;
                limited = true;
            }
            CommandKind::Parse { source, pattern } => {
                let src = cast(p.expr(source)?, DataType::Utf8);
                let (re, names, groups) = match pattern {
                    ParsePattern::Glob { pattern, names } => {
                        let (re, groups) = glob_regex(pattern);
                        (re, names.clone(), groups)
                    }
                    ParsePattern::Regex { pattern, names } => {
                        (pattern.clone(), names.clone(), names.clone())
                    }
                };
                // Fail at the pattern, not deep in execution, when it is no regex.
                if let Err(e) = regex_check(&re) {
                    return Err(ParseError::new(
                        format!("parse: invalid regular expression: {e}"),
                        c.span,
                    )
                    .into());
                }
                let whole = format!("(?s)^.*?(?:{re}).*$");
                for (name, group) in names.iter().zip(&groups) {
                    let value = datafusion::functions::regex::expr_fn::regexp_replace(
                        src.clone(),
                        lit(whole.clone()),
                        lit(format!("${{{group}}}")),
                        None,
                    );
                    let matched = datafusion::functions::regex::expr_fn::regexp_like(
                        src.clone(),
                        lit(re.clone()),
                        None,
                    );
                    df = df.with_column(
                        name,
                        Expr::Case(datafusion::logical_expr::Case::new(
                            None,
                            vec![(Box::new(matched), Box::new(value))],
                            None,
                        )),
                    )?;
                    if !fields.contains(name) {
                        fields.push(name.clone());
                    }
                }
            }
            CommandKind::Dedup(keys) => {
                // Keep the first event per key in the current order (newest first by
                // default); events with a null key are never duplicates.
                let keys = keys
                    .iter()
                    .map(|k| p.expr(k))
                    .collect::<Result<Vec<_>, _>>()?;
                let by = order.clone().unwrap_or_else(|| {
                    if aggregated {
                        Vec::new()
                    } else {
                        vec![SortExpr::new(column("@timestamp"), false, false)]
                    }
                });
                let rn = row_number()
                    .partition_by(keys.clone())
                    .order_by(by.clone())
                    .build()?
                    .alias("__dedup_rn");
                let any_null = keys
                    .iter()
                    .map(|k| k.clone().is_null())
                    .reduce(Expr::or)
                    .unwrap_or(lit(false));
                let cols: Vec<Expr> = df
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| column(f.name()))
                    .collect();
                df = df
                    .window(vec![rn])?
                    .filter(column("__dedup_rn").eq(lit(1u64)).or(any_null))?
                    .select(cols)?;
                if !by.is_empty() {
                    df = df.sort(by.clone())?;
                    order = Some(by);
                }
            }
        }
    }
    if !aggregated && order.is_none() {
        // Raw events come newest first, as Insights returns them.
        df = df.sort(vec![SortExpr::new(column("@timestamp"), false, false)])?;
    }
    let shown = display.unwrap_or(fields);
    if !shown.is_empty() {
        // A field the events do not have shows as null.
        p.know(&df);
        let known = p.known.borrow();
        let select: Vec<Expr> = shown
            .iter()
            .map(|n| match known.contains(n) {
                true => column(n),
                false => lit(ScalarValue::Null).alias(n),
            })
            .collect();
        df = df.select(select)?;
    } else if !aggregated {
        df = df.select(vec![column("@timestamp"), column("@message")])?;
    }
    if !limited {
        df = df.limit(0, Some(MAX_ROWS))?;
    }
    Ok(df)
}

/// A glob pattern as a regex with numbered groups, one per `*`; the last `*` takes the rest.
fn glob_regex(glob: &str) -> (String, Vec<String>) {
    let parts: Vec<&str> = glob.split('*').collect();
    let mut re = String::new();
    let mut groups = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        re.push_str(&escape_regex(part));
        if i + 1 < parts.len() {
            groups.push(format!("g{i}"));
            let lazy = if i + 2 == parts.len() && parts[i + 1].is_empty() {
                ""
            } else {
                "?"
            };
            re.push_str(&format!("(?<g{i}>.*{lazy})"));
        }
    }
    (re, groups)
}

fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Compiles a pattern as DataFusion will, so that a bad one is refused at its token before
/// anything runs.
fn regex_check(re: &str) -> Result<(), String> {
    regex::Regex::new(re).map(|_| ()).map_err(|e| match e {
        regex::Error::Syntax(s) => s
            .lines()
            .last()
            .unwrap_or("invalid")
            .trim()
            .trim_start_matches("error: ")
            .to_owned(),
        other => other.to_string(),
    })
}

/// A regex literal checked at its span.
fn regex_lit(re: &str, span: Span) -> Result<Expr, QueryError> {
    regex_check(re)
        .map_err(|e| ParseError::new(format!("invalid regular expression: {e}"), span))?;
    Ok(lit(re.to_owned()))
}

struct Planner<'a> {
    ctx: &'a SessionContext,
    env: Env,
    /// The fields the events have at the command being planned: any other name is a field
    /// these events do not have, which Insights treats as absent (null), not as an error.
    known: std::cell::RefCell<std::collections::HashSet<String>>,
    /// Their types.
    schema: std::cell::RefCell<Option<datafusion::common::DFSchemaRef>>,
}

fn ms_lit(ms: i64) -> Expr {
    lit(ScalarValue::new_interval_mdn(0, 0, ms * 1_000_000))
}

/// Whether `e` is a call of `bin()`.
fn is_bin(e: &super::ast::Expr) -> bool {
    matches!(&e.kind, ExprKind::Call(f, _) if *f == "bin")
}

fn period_of(e: &super::ast::Expr) -> Result<u64, QueryError> {
    match e.kind {
        ExprKind::Period { ms, .. } => Ok(ms),
        _ => Err(ParseError::new("expected a time period, like 5m", e.span).into()),
    }
}

impl Planner<'_> {
    /// `e` as a sort key over `df`: strings in Insights' documented natural order (by a byte
    /// key), numbers and times as themselves.
    fn sort_key(&self, df: &DataFrame, e: Expr, desc: bool) -> Result<SortExpr, QueryError> {
        let e = match e.get_type(df.schema())? {
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
                call(self.ctx, "naturalSortKey", vec![e])?
            }
            _ => e,
        };
        Ok(SortExpr::new(e, !desc, false))
    }

    /// The events of the next command have exactly the fields of `df`.
    fn know(&self, df: &DataFrame) {
        *self.known.borrow_mut() = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        *self.schema.borrow_mut() = Some(std::sync::Arc::new(df.schema().clone()));
    }

    /// `e` as a number, as Insights reads values in arithmetic and numeric aggregations: a string
    /// that spells a number (a `parse`d field, say) is that number, any other string nothing.
    fn numeric(&self, e: Expr) -> Expr {
        let ty = self
            .schema
            .borrow()
            .as_ref()
            .and_then(|s| e.get_type(s.as_ref()).ok());
        match ty {
            Some(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null) => {
                datafusion::logical_expr::try_cast(e, DataType::Float64)
            }
            _ => e,
        }
    }

    /// An aggregation's projection: a call planned directly, or an expression over calls
    /// (`sum(packets)/count(*)`), whose calls become hidden aggregates `__aN` pushed to
    /// `hidden` and whose arithmetic is computed after the aggregation.
    fn aggregate(&self, e: &super::ast::Expr, hidden: &mut Vec<Expr>) -> Result<Expr, QueryError> {
        Ok(match &e.kind {
            ExprKind::Call(name, args)
                if super::registry::function(name).is_some_and(|f| {
                    matches!(
                        f.kind,
                        super::registry::FnKind::Aggregate | super::registry::FnKind::Pick
                    )
                }) =>
            {
                let name_col = format!("__a{}", hidden.len());
                hidden.push(self.agg_call(name, args, e.span)?.alias(&name_col));
                column(&name_col)
            }
            ExprKind::Binary(BinaryOp::Pow, l, r) => call(
                self.ctx,
                "power",
                vec![
                    cast(self.aggregate(l, hidden)?, DataType::Float64),
                    cast(self.aggregate(r, hidden)?, DataType::Float64),
                ],
            )?,
            ExprKind::Binary(op, l, r) => {
                binary(*op, self.aggregate(l, hidden)?, self.aggregate(r, hidden)?)
            }
            ExprKind::Unary(UnaryOp::Neg, a) => -self.aggregate(a, hidden)?,
            ExprKind::Num(_) | ExprKind::Str(_) => self.expr(e)?,
            _ => return Err(not_yet("this expression around an aggregation", e.span)),
        })
    }

    fn agg_call(
        &self,
        name: &str,
        args: &[super::ast::Expr],
        span: Span,
    ) -> Result<Expr, QueryError> {
        // An absent field aggregates as a number that is never there (sum and avg take no
        // untyped null).
        let arg = |i: usize| {
            self.expr(&args[i]).map(|e| match e {
                Expr::Literal(ScalarValue::Null, _) => lit(ScalarValue::Float64(None)),
                e => e,
            })
        };
        let newest_last = || vec![SortExpr::new(column("@timestamp"), true, false)];
        Ok(match (name, args.first().map(|a| &a.kind)) {
            ("count", None | Some(ExprKind::Star)) => agg::count(lit(1i64)),
            ("count", Some(_)) => agg::count(arg(0)?),
            ("count_distinct", _) => agg::count_distinct(arg(0)?),
            ("sum", _) => agg::sum(self.numeric(arg(0)?)),
            ("avg", _) => agg::avg(self.numeric(arg(0)?)),
            ("min", _) => agg::min(arg(0)?),
            ("max", _) => agg::max(arg(0)?),
            ("stddev", _) => agg::stddev(cast(self.numeric(arg(0)?), DataType::Float64)),
            ("pct", _) => {
                let pct = match args[1].kind {
                    ExprKind::Num(p) if (0.0..=100.0).contains(&p) => p,
                    _ => {
                        return Err(ParseError::new(
                            "pct() takes a number from 0 to 100",
                            args[1].span,
                        )
                        .into());
                    }
                };
                agg::percentile_cont(
                    SortExpr::new(cast(self.numeric(arg(0)?), DataType::Float64), true, false),
                    lit(pct / 100.0),
                )
            }
            ("earliest", _) => agg::first_value(arg(0)?, newest_last()),
            ("latest", _) => agg::last_value(arg(0)?, newest_last()),
            ("sortsFirst", _) => agg::min(arg(0)?),
            ("sortsLast", _) => agg::max(arg(0)?),
            (other, _) => return Err(not_yet(&format!("{other}()"), span)),
        })
    }

    fn expr(&self, e: &super::ast::Expr) -> Result<Expr, QueryError> {
        Ok(match &e.kind {
            ExprKind::Field(name) => {
                let name = match name.as_str() {
                    "startTime" => "start",
                    "endTime" => "end",
                    n => n,
                };
                if self.known.borrow().contains(name) {
                    column(name)
                } else {
                    // Absent: null in `fields`, false in comparisons, skipped by aggregates.
                    lit(ScalarValue::Null)
                }
            }
            ExprKind::Str(s) => lit(s.clone()),
            ExprKind::Num(n) => number(*n),
            ExprKind::Period { ms, .. } => ms_lit(*ms as i64),
            ExprKind::Regex(_) | ExprKind::Star => {
                return Err(
                    ParseError::new("a value cannot be written this way here", e.span).into(),
                );
            }
            ExprKind::Unary(UnaryOp::Not, a) => truthy(self.expr(a)?).not(),
            ExprKind::Unary(UnaryOp::Neg, a) => -self.expr(a)?,
            ExprKind::Binary(BinaryOp::Pow, l, r) => call(
                self.ctx,
                "power",
                vec![
                    cast(self.expr(l)?, DataType::Float64),
                    cast(self.expr(r)?, DataType::Float64),
                ],
            )?,
            ExprKind::Binary(
                op
                @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod),
                l,
                r,
            ) => binary(
                *op,
                self.numeric(self.expr(l)?),
                self.numeric(self.expr(r)?),
            ),
            ExprKind::Binary(op, l, r) => binary(*op, self.expr(l)?, self.expr(r)?),
            ExprKind::In {
                expr: x,
                list,
                negated,
            } => {
                let list = list
                    .iter()
                    .map(|v| self.expr(v))
                    .collect::<Result<Vec<_>, _>>()?;
                self.expr(x)?.in_list(list, *negated)
            }
            ExprKind::Like {
                expr: x,
                pattern,
                negated,
            } => {
                let x = self.expr(x)?;
                let m = match &pattern.kind {
                    ExprKind::Str(s) => cast(x, DataType::Utf8).like(lit(like_literal(s))),
                    ExprKind::Regex(re) => datafusion::functions::regex::expr_fn::regexp_like(
                        cast(x, DataType::Utf8),
                        regex_lit(re, pattern.span)?,
                        None,
                    ),
                    _ => return Err(not_yet("this pattern", pattern.span)),
                };
                if *negated { m.not() } else { m }
            }
            ExprKind::Matches(x, re) => datafusion::functions::regex::expr_fn::regexp_like(
                cast(self.expr(x)?, DataType::Utf8),
                regex_lit(re, e.span)?,
                None,
            ),
            ExprKind::Call(name, args) => self.function(name, args, e.span)?,
        })
    }

    fn function(
        &self,
        name: &str,
        args: &[super::ast::Expr],
        span: Span,
    ) -> Result<Expr, QueryError> {
        let a = |i: usize| self.expr(&args[i]);
        let s = |i: usize| Ok::<_, QueryError>(cast(self.expr(&args[i])?, DataType::Utf8));
        let f = |name: &str, v: Vec<Expr>| call(self.ctx, name, v);
        let num = |i: usize| {
            Ok::<_, QueryError>(cast(self.numeric(self.expr(&args[i])?), DataType::Float64))
        };
        let one_zero = |b: Expr| {
            Expr::Case(datafusion::logical_expr::Case::new(
                None,
                vec![(Box::new(b), Box::new(lit(1i64)))],
                Some(Box::new(lit(0i64))),
            ))
        };
        let ts_ms = |x: Expr| cast(x, DataType::Timestamp(TimeUnit::Millisecond, None));
        let range = self.env.range;
        Ok(match name {
            "bin" => {
                if !self.known.borrow().contains("@timestamp") {
                    return Err(ParseError::new(
                        "bin() groups events by @timestamp, and a stats command's rows have none \
                         unless it grouped by bin() too: after stats, only its groups and \
                         aggregations remain",
                        span,
                    )
                    .into());
                }
                let ms = period_of(&args[0])?;
                datafusion::functions::datetime::expr_fn::date_bin(
                    ms_lit(ms as i64),
                    column("@timestamp"),
                    lit(ScalarValue::TimestampMillisecond(Some(0), None)),
                )
            }
            "abs" | "ceil" | "floor" | "sqrt" => f(name, vec![num(0)?])?,
            "log" => f("ln", vec![num(0)?])?,
            "round" => match args.len() {
                1 => f("round", vec![num(0)?])?,
                _ => f("round", vec![num(0)?, cast(a(1)?, DataType::Int64)])?,
            },
            "greatest" | "least" => f(name, (0..args.len()).map(num).collect::<Result<_, _>>()?)?,
            "haversine" => {
                let rad = |i: usize| f("radians", vec![num(i)?]);
                let (lat1, lon1, lat2, lon2) = (rad(0)?, rad(1)?, rad(2)?, rad(3)?);
                let half = |x: Expr| f("sin", vec![x / lit(2.0)]);
                let sq = |x: Expr| f("power", vec![x, lit(2.0)]);
                let h = sq(half(lat2.clone() - lat1.clone())?)?
                    + f("cos", vec![lat1])? * f("cos", vec![lat2])? * sq(half(lon2 - lon1)?)?;
                lit(2.0 * 6371.0) * f("asin", vec![f("sqrt", vec![h])?])?
            }
            "toNumber" | "toDouble" => datafusion::logical_expr::try_cast(a(0)?, DataType::Float64),
            "toInt" => datafusion::logical_expr::try_cast(a(0)?, DataType::Int32),
            "toLong" => datafusion::logical_expr::try_cast(a(0)?, DataType::Int64),
            "datefloor" => datafusion::functions::datetime::expr_fn::date_bin(
                ms_lit(period_of(&args[1])? as i64),
                ts_ms(a(0)?),
                lit(ScalarValue::TimestampMillisecond(Some(0), None)),
            ),
            "dateceil" => {
                let ms = period_of(&args[1])? as i64;
                datafusion::functions::datetime::expr_fn::date_bin(
                    ms_lit(ms),
                    ts_ms(a(0)?) + ms_lit(ms - 1),
                    lit(ScalarValue::TimestampMillisecond(Some(0), None)),
                )
            }
            "fromMillis" => ts_ms(cast(a(0)?, DataType::Int64)),
            "toMillis" => cast(ts_ms(a(0)?), DataType::Int64),
            "now" => lit(self.env.now_s),
            "queryStartTime" => lit(range.map_or(0, |r| r.start_ms)),
            "queryEndTime" => lit(range.map_or(self.env.now_s * 1000, |r| {
                r.end_ms.min(self.env.now_s * 1000)
            })),
            "queryTimeRange" => lit(range.map_or(self.env.now_s * 1000, |r| {
                r.end_ms.min(self.env.now_s * 1000) - r.start_ms
            })),
            "parseDate" => {
                let ExprKind::Str(fmt) = &args[1].kind else {
                    return Err(
                        ParseError::new("parseDate() takes a format string", args[1].span).into(),
                    );
                };
                cast(
                    f(
                        "to_timestamp_millis",
                        vec![s(0)?, lit(java_to_strftime(fmt))],
                    )?,
                    DataType::Int64,
                )
            }
            "formatDate" | "strftime" => f("to_char", vec![ts_ms(a(0)?), s(1)?])?,
            "ispresent" => a(0)?.is_not_null(),
            "coalesce" => f(
                "coalesce",
                (0..args.len()).map(a).collect::<Result<_, _>>()?,
            )?,
            "case" => {
                let mut whens = Vec::new();
                let mut i = 0;
                while i + 1 < args.len() {
                    whens.push((Box::new(truthy(a(i)?)), Box::new(a(i + 1)?)));
                    i += 2;
                }
                let default = (i < args.len()).then(|| a(i).map(Box::new)).transpose()?;
                Expr::Case(datafusion::logical_expr::Case::new(None, whens, default))
            }
            "if" => Expr::Case(datafusion::logical_expr::Case::new(
                None,
                vec![(Box::new(truthy(a(0)?)), Box::new(a(1)?))],
                Some(Box::new(a(2)?)),
            )),
            "isNumeric" => one_zero(
                datafusion::functions::regex::expr_fn::regexp_like(
                    s(0)?,
                    lit(r"^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"),
                    None,
                )
                .is_true(),
            ),
            "messageSize" => f("octet_length", vec![s(0)?])?,
            "isempty" => one_zero(s(0)?.is_null().or(s(0)?.eq(lit("")))),
            "isblank" => one_zero(s(0)?.is_null().or(f("btrim", vec![s(0)?])?.eq(lit("")))),
            "concat" => f("concat", (0..args.len()).map(s).collect::<Result<_, _>>()?)?,
            "ltrim" | "rtrim" | "trim" => {
                let df_name = if name == "trim" { "btrim" } else { name };
                match args.len() {
                    1 => f(df_name, vec![s(0)?])?,
                    _ => f(df_name, vec![s(0)?, s(1)?])?,
                }
            }
            "strlen" => f("character_length", vec![s(0)?])?,
            "toupper" => f("upper", vec![s(0)?])?,
            "tolower" => f("lower", vec![s(0)?])?,
            "substr" => {
                let start = cast(a(1)?, DataType::Int64) + lit(1i64);
                match args.len() {
                    2 => f("substr", vec![s(0)?, start])?,
                    _ => f("substr", vec![s(0)?, start, cast(a(2)?, DataType::Int64)])?,
                }
            }
            "replace" => f("replace", vec![s(0)?, s(1)?, s(2)?])?,
            "regexReplace" => f("regexp_replace", vec![s(0)?, s(1)?, s(2)?, lit("g")])?,
            "strcontains" => {
                let ci = args.len() == 3 && !matches!(args[2].kind, ExprKind::Num(n) if n == 0.0);
                let (h, n) = if ci {
                    (f("lower", vec![s(0)?])?, f("lower", vec![s(1)?])?)
                } else {
                    (s(0)?, s(1)?)
                };
                one_zero(f("strpos", vec![h, n])?.gt(lit(0i64)))
            }
            "startsWith" => one_zero(f("starts_with", vec![s(0)?, s(1)?])?),
            "endsWith" => one_zero(f("ends_with", vec![s(0)?, s(1)?])?),
            "urlencode" | "urldecode" | "base64encode" | "base64decode" | "split"
            | "hexToAscii" | "hexToDec" | "decToHex" | "isValidIp" | "isValidIpV4"
            | "isValidIpV6" | "isIpInSubnet" | "isIpv4InSubnet" | "isIpv6InSubnet"
            | "ipv4ToNumber" | "isPrivateIP" | "isPublicIP" | "isReservedIP" => {
                f(name, (0..args.len()).map(a).collect::<Result<_, _>>()?)?
            }
            "jsonParse" | "jsonStringify" | "jsonArraySize" | "jsonArrayContains" => {
                return Err(ParseError::new(
                    format!("{name}() reads JSON log events; flow-log events are text lines"),
                    span,
                )
                .into());
            }
            other => {
                use super::registry::{FnKind, function};
                return Err(match function(other).map(|f| f.kind) {
                    Some(FnKind::Aggregate | FnKind::Pick) => ParseError::new(
                        format!(
                            "{other}() aggregates events, so it stands alone in stats, not inside \
                             another function or aggregation (to aggregate a first stats' result, \
                             name it: stats {other}(x) as v | stats max(v))"
                        ),
                        span,
                    )
                    .into(),
                    _ => not_yet(&format!("{other}()"), span),
                });
            }
        })
    }
}

/// A Java date pattern (`yyyy-MM-dd'T'HH:mm:ss`) as chrono's strftime.
fn java_to_strftime(java: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = java.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let spec = match (c, n) {
            ('y', 2) => "%y",
            ('y', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', _) => "%3f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('Z' | 'X', _) => "%z",
            _ => {
                for _ in 0..n {
                    out.push(c);
                }
                i += n;
                continue;
            }
        };
        out.push_str(spec);
        i += n;
    }
    out
}

/// A condition: Insights' 1/0 functions (`strcontains`, `isempty`, …) count as true/false
/// wherever a condition goes (filter, and/or/not, if, case); booleans stay as they are.
fn truthy(e: Expr) -> Expr {
    cast(e, DataType::Boolean)
}

fn binary(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    match op {
        BinaryOp::Or => truthy(l).or(truthy(r)),
        BinaryOp::And => truthy(l).and(truthy(r)),
        BinaryOp::Eq => l.eq(r),
        BinaryOp::Ne => l.not_eq(r),
        BinaryOp::Lt => l.lt(r),
        BinaryOp::Le => l.lt_eq(r),
        BinaryOp::Gt => l.gt(r),
        BinaryOp::Ge => l.gt_eq(r),
        BinaryOp::Add => l + r,
        BinaryOp::Sub => l - r,
        BinaryOp::Mul => l * r,
        // Insights' numbers are doubles: 7 / 2 is 3.5.
        BinaryOp::Div => cast(l, DataType::Float64) / cast(r, DataType::Float64),
        BinaryOp::Mod => l % r,
        BinaryOp::Pow => unreachable!("planned as power()"),
    }
}

fn number(n: f64) -> Expr {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        lit(n as i64)
    } else {
        lit(n)
    }
}

/// Escapes `%`, `_` and `\` for a SQL LIKE pattern.
fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A session for Insights queries, with vpcflow's functions.
pub fn session() -> SessionContext {
    crate::session(SessionConfig::new())
}
