//! Planning Logs Insights onto DataFusion: each command becomes DataFrame operations over a log
//! group's segments (Parquet; `vpcflow-deliver`'s log-group store), with the flow-log columns
//! renamed to the names Insights discovers (`srcAddr`) and `@timestamp` as a timestamp.
//!
//! Planned so far: `fields`, `display`, `filter`, `stats` (aggregations at the top of each
//! projection; grouping by expressions and `bin()`), `sort`, `limit`; the operators (`=`, `!=`,
//! `<`…, `and`/`or`/`not`, `+ - * / %`, `in`, `like` with strings and regexes, `=~`); the
//! aggregations `count`, `count_distinct`, `sum`, `avg`, `min`, `max`. Everything else is
//! refused with an error at its token, not guessed.

/// Arrow as DataFusion builds it, for callers that format results.
pub use datafusion::arrow as datafusion_arrow;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Column, ScalarValue};
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::{Expr, SortExpr, cast, lit};
use datafusion::prelude::{DataFrame, Not as _, ParquetReadOptions, SessionContext};
use vpcflow_record::FIELDS;

use super::ast::{BinaryOp, CommandKind, ExprKind, Projection, Query, UnaryOp};
use super::error::{ParseError, Span};
use super::fields::insights_name;

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query is wrong (or uses what is not planned yet), at a token.
    #[error("{0}")]
    Query(#[from] ParseError),
    /// The engine failed (the data or the machine).
    #[error("query engine: {0}")]
    Engine(#[from] datafusion::error::DataFusionError),
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

/// Reads a log group's segments (`dir`) as Insights sees them: the system fields and the
/// discovered flow-log fields.
pub async fn log_group(ctx: &SessionContext, dir: &str) -> Result<DataFrame, QueryError> {
    let df = ctx.read_parquet(dir, ParquetReadOptions::default()).await?;
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
    Ok(df.select(select)?)
}

/// Runs a parsed query over `source` (see [`log_group`]).
pub async fn run(
    query: &Query,
    text: &str,
    source: DataFrame,
    range: Option<TimeRange>,
) -> Result<Vec<RecordBatch>, QueryError> {
    let mut df = source;
    if let Some(r) = range {
        let ts = |ms: i64| lit(ScalarValue::TimestampMillisecond(Some(ms), None));
        df = df.filter(
            column("@timestamp")
                .gt_eq(ts(r.start_ms))
                .and(column("@timestamp").lt_eq(ts(r.end_ms))),
        )?;
    }
    let mut fields: Vec<String> = Vec::new();
    let mut display: Option<Vec<String>> = None;
    let mut aggregated = false;
    let mut sorted = false;
    let mut limited = false;
    for c in &query.commands {
        match &c.kind {
            CommandKind::Filter(e) => df = df.filter(expr(e)?)?,
            CommandKind::Fields(ps) => {
                for p in ps {
                    let name = p.name(text);
                    if !matches!(&p.expr.kind, ExprKind::Field(f) if *f == name) {
                        df = df.with_column(&name, expr(&p.expr)?)?;
                    }
                    if !fields.contains(&name) {
                        fields.push(name);
                    }
                }
            }
            CommandKind::Display(ps) => {
                let mut names = Vec::new();
                for p in ps {
                    let name = p.name(text);
                    if !matches!(&p.expr.kind, ExprKind::Field(f) if *f == name) {
                        df = df.with_column(&name, expr(&p.expr)?)?;
                    }
                    names.push(name);
                }
                display = Some(names);
            }
            CommandKind::Stats { aggregates, by } => {
                let group = by
                    .iter()
                    .map(|p| Ok(expr(&p.expr)?.alias(p.name(text))))
                    .collect::<Result<Vec<_>, QueryError>>()?;
                let aggs = aggregates
                    .iter()
                    .map(|p| aggregate(p, text))
                    .collect::<Result<Vec<_>, QueryError>>()?;
                df = df.aggregate(group, aggs)?;
                // After stats, the output is its groups and aggregations.
                fields = by.iter().chain(aggregates).map(|p| p.name(text)).collect();
                display = None;
                aggregated = true;
            }
            CommandKind::Sort(keys) => {
                let sort = keys
                    .iter()
                    .map(|k| Ok(SortExpr::new(expr(&k.expr)?, !k.desc, false)))
                    .collect::<Result<Vec<_>, QueryError>>()?;
                df = df.sort(sort)?;
                sorted = true;
            }
            CommandKind::Limit(n) => {
                if !aggregated && !sorted {
                    // Raw events come newest first, as Insights returns them, before the limit.
                    df = df.sort(vec![SortExpr::new(column("@timestamp"), false, false)])?;
                    sorted = true;
                }
                df = df.limit(0, Some(*n as usize))?;
                limited = true;
            }
            CommandKind::Parse { .. } => return Err(not_yet("parse", c.span)),
            CommandKind::Dedup(_) => return Err(not_yet("dedup", c.span)),
        }
    }
    if !aggregated && !sorted {
        // Raw events come newest first, as Insights returns them.
        df = df.sort(vec![SortExpr::new(column("@timestamp"), false, false)])?;
    }
    let shown = display.unwrap_or(fields);
    if !shown.is_empty() {
        df = df.select(shown.iter().map(|n| column(n)).collect::<Vec<_>>())?;
    } else if !aggregated {
        df = df.select(vec![column("@timestamp"), column("@message")])?;
    }
    if !limited {
        df = df.limit(0, Some(MAX_ROWS))?;
    }
    Ok(df.collect().await?)
}

fn aggregate(p: &Projection, text: &str) -> Result<Expr, QueryError> {
    let ExprKind::Call(name, args) = &p.expr.kind else {
        return Err(not_yet("an expression around an aggregation", p.expr.span));
    };
    let arg = |i: usize| expr(&args[i]);
    let e = match (*name, args.first().map(|a| &a.kind)) {
        ("count", None | Some(ExprKind::Star)) => agg::count(lit(1i64)),
        ("count", Some(_)) => agg::count(arg(0)?),
        ("count_distinct", _) => agg::count_distinct(arg(0)?),
        ("sum", _) => agg::sum(arg(0)?),
        ("avg", _) => agg::avg(arg(0)?),
        ("min", _) => agg::min(arg(0)?),
        ("max", _) => agg::max(arg(0)?),
        (other, _) => return Err(not_yet(&format!("{other}()"), p.expr.span)),
    };
    Ok(e.alias(p.name(text)))
}

fn binary(op: BinaryOp, l: Expr, r: Expr, span: Span) -> Result<Expr, QueryError> {
    Ok(match op {
        BinaryOp::Or => l.or(r),
        BinaryOp::And => l.and(r),
        BinaryOp::Eq => l.eq(r),
        BinaryOp::Ne => l.not_eq(r),
        BinaryOp::Lt => l.lt(r),
        BinaryOp::Le => l.lt_eq(r),
        BinaryOp::Gt => l.gt(r),
        BinaryOp::Ge => l.gt_eq(r),
        BinaryOp::Add => l + r,
        BinaryOp::Sub => l - r,
        BinaryOp::Mul => l * r,
        BinaryOp::Div => l / r,
        BinaryOp::Mod => l % r,
        BinaryOp::Pow => return Err(not_yet("^", span)),
    })
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

fn expr(e: &super::ast::Expr) -> Result<Expr, QueryError> {
    Ok(match &e.kind {
        ExprKind::Field(name) => {
            let name = match name.as_str() {
                "startTime" => "start",
                "endTime" => "end",
                n => n,
            };
            column(name)
        }
        ExprKind::Str(s) => lit(s.clone()),
        ExprKind::Num(n) => number(*n),
        ExprKind::Period { ms, .. } => {
            lit(ScalarValue::new_interval_mdn(0, 0, *ms as i64 * 1_000_000))
        }
        ExprKind::Regex(_) | ExprKind::Star => {
            return Err(not_yet("this value here", e.span));
        }
        ExprKind::Unary(UnaryOp::Not, a) => expr(a)?.not(),
        ExprKind::Unary(UnaryOp::Neg, a) => -expr(a)?,
        ExprKind::Binary(op, l, r) => binary(*op, expr(l)?, expr(r)?, e.span)?,
        ExprKind::In {
            expr: x,
            list,
            negated,
        } => {
            let list = list.iter().map(expr).collect::<Result<Vec<_>, _>>()?;
            expr(x)?.in_list(list, *negated)
        }
        ExprKind::Like {
            expr: x,
            pattern,
            negated,
        } => {
            let x = expr(x)?;
            let m = match &pattern.kind {
                ExprKind::Str(s) => x.like(lit(like_literal(s))),
                ExprKind::Regex(re) => {
                    datafusion::functions::regex::expr_fn::regexp_like(x, lit(re.clone()), None)
                }
                _ => return Err(not_yet("this pattern", pattern.span)),
            };
            if *negated { m.not() } else { m }
        }
        ExprKind::Matches(x, re) => {
            datafusion::functions::regex::expr_fn::regexp_like(expr(x)?, lit(re.clone()), None)
        }
        ExprKind::Call("bin", args) => {
            let ExprKind::Period { ms, .. } = args[0].kind else {
                return Err(ParseError::new(
                    "bin() takes a time period, like bin(5m)",
                    args[0].span,
                )
                .into());
            };
            datafusion::functions::datetime::expr_fn::date_bin(
                lit(ScalarValue::new_interval_mdn(0, 0, ms as i64 * 1_000_000)),
                column("@timestamp"),
                lit(ScalarValue::TimestampMillisecond(Some(0), None)),
            )
        }
        ExprKind::Call(name, _) => return Err(not_yet(&format!("{name}()"), e.span)),
    })
}

/// A session for Insights queries (one per process is enough).
pub fn session() -> SessionContext {
    SessionContext::new()
}
