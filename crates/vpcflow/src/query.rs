//! `vpcflow query`: Logs Insights queries over the log groups of a data directory, printed as a
//! table for people or as JSON or CSV for scripts.
//!
//! Parsing and planning are `vpcflow-query`'s; this module finds the log group's segments, runs
//! the query on a tokio runtime and formats the rows.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use vpcflow_query::insights::plan::datafusion_arrow::{
    array::Array, datatypes::DataType, record_batch::RecordBatch, util,
};
use vpcflow_query::insights::{self, plan};

use crate::simulate::parse_rfc3339;

#[derive(Args, Debug)]
#[command(after_help = "\
Runs a CloudWatch Logs Insights query over a log group that flow logs delivered to (see
`vpcflow logs groups`). Fields are the names Insights discovers for flow logs: srcAddr, dstAddr,
srcPort, dstPort, protocol, packets, bytes, start, end, action, logStatus, interfaceId, … and the
system fields @timestamp, @message, @logStream, @ingestionTime. Up to 10 000 rows.

Planned today: fields, display, filter, stats (count, count_distinct, sum, avg, min, max, by
fields and bin()), sort, limit, with comparison, arithmetic, in, like and =~. Other commands and
functions parse and are refused with an error at their token.

Examples:
  vpcflow query --insights 'stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 10'
  vpcflow query --insights 'filter action = \"REJECT\" | stats count(*) as rejects by bin(1h)' --output json
  vpcflow query --insights 'fields @timestamp, srcAddr, dstPort | filter dstPort = 22' --start 2026-01-15T14:00:00Z")]
pub(crate) struct QueryArgs {
    /// Data directory.
    #[arg(long, value_name = "DIR", default_value = "vpcflow-data")]
    data: PathBuf,
    /// A Logs Insights query.
    #[arg(long, value_name = "QUERY", required = true)]
    insights: String,
    /// The log group to query.
    #[arg(
        long = "log-group",
        value_name = "NAME",
        default_value = "/vpcflow/flow-logs"
    )]
    log_group: String,
    /// First event time (RFC 3339), inclusive.
    #[arg(long, value_name = "RFC3339")]
    start: Option<String>,
    /// Last event time (RFC 3339), inclusive.
    #[arg(long, value_name = "RFC3339")]
    end: Option<String>,
    /// table (for people), json (an array of row objects, numbers as numbers) or csv.
    #[arg(long, default_value = "table", value_parser = ["table", "json", "csv"])]
    output: String,
}

pub(crate) fn run(args: &QueryArgs) -> anyhow::Result<()> {
    let query = insights::parse(&args.insights)
        .map_err(|e| anyhow::anyhow!("--insights: {}", e.render(&args.insights)))?;
    let secs = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<i64>> {
        v.as_deref()
            .map(|s| {
                parse_rfc3339(s)
                    .map(|t| t as i64)
                    .with_context(|| format!("{flag} '{s}': expected an RFC 3339 time"))
            })
            .transpose()
    };
    let range = match (secs("--start", &args.start)?, secs("--end", &args.end)?) {
        (None, None) => None,
        (s, e) => Some(plan::TimeRange {
            start_ms: s.unwrap_or(0) * 1000,
            end_ms: e.map_or(i64::MAX, |e| e * 1000 + 999),
        }),
    };
    let dir = args
        .data
        .join("logs")
        .join(vpcflow_deliver::layout::log_group_dir(&args.log_group));
    if !dir.is_dir() {
        bail!(
            "ResourceNotFoundException: Log group '{}' does not exist in {} (see `vpcflow logs groups`)",
            args.log_group,
            args.data.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the query runtime")?;
    let batches = runtime
        .block_on(async {
            let ctx = plan::session();
            let source = plan::log_group(&ctx, &format!("{}/", dir.display())).await?;
            plan::run(&query, &args.insights, source, range).await
        })
        .map_err(|e| match e {
            plan::QueryError::Query(p) => {
                anyhow::anyhow!("--insights: {}", p.render(&args.insights))
            }
            other => anyhow::anyhow!(other),
        })?;
    let mut out = std::io::stdout().lock();
    match args.output.as_str() {
        "json" => writeln!(out, "{}", to_json(&batches)?)?,
        "csv" => write!(out, "{}", to_csv(&batches)?)?,
        _ => writeln!(
            out,
            "{}",
            util::pretty::pretty_format_batches_with_options(&batches, &format_options())?
        )?,
    }
    Ok(())
}

fn format_options() -> util::display::FormatOptions<'static> {
    // Insights shows times as `2019-10-30 11:01:03.000` (UTC).
    util::display::FormatOptions::default()
        .with_null("")
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.3f"))
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
