//! `vpcflow logs groups|streams|tail`: a person's view into the log-group store, shaped after
//! `aws logs describe-log-groups`, `describe-log-streams` and `aws logs tail`.
//!
//! Reading segments is `vpcflow_store::segment`'s; this module formats and follows.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use vpcflow_deliver::State;
use vpcflow_store::Clock as _;
use vpcflow_store::DataDir;
use vpcflow_store::logs;
use vpcflow_store::time::aws_cli_time;

use crate::delivery::SystemClock;

#[derive(Subcommand, Debug)]
pub(crate) enum LogsCommand {
    /// List log groups: events stored, retention, creation time.
    Groups {
        #[command(flatten)]
        data: DataArg,
    },
    /// List a log group's streams (one per ENI): events, first and last event time.
    Streams {
        /// Log group name.
        group: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Print a log group's events, oldest first, like `aws logs tail`.
    #[command(after_help = "\
Each line: event time (the record's start), stream, message (the record line). --since counts
back from the group's newest event (record time is simulated or captured time, not now).

Examples:
  vpcflow logs tail /vpcflow/flow-logs
  vpcflow logs tail /vpcflow/flow-logs --log-stream-names eni-0a1b2c3d4e5f60001-all --since 10m
  vpcflow logs tail /vpcflow/flow-logs --filter-pattern '[v, a, eni, src, dst, sp, dp=22, p, pk, b, s, e, action=REJECT, st]'
  vpcflow logs tail /vpcflow/flow-logs --follow")]
    Tail(TailArgs),
    /// DescribeLogGroups, printed as `aws logs describe-log-groups` prints it (JSON).
    DescribeLogGroups {
        #[command(flatten)]
        data: DataArg,
        /// Only names starting so.
        #[arg(long)]
        log_group_name_prefix: Option<String>,
        /// Only names containing this.
        #[arg(long)]
        log_group_name_pattern: Option<String>,
        /// At most this many (1-50).
        #[arg(long)]
        limit: Option<i64>,
        /// The nextToken of the previous page.
        #[arg(long)]
        next_token: Option<String>,
    },
    /// DescribeLogStreams, printed as `aws logs describe-log-streams` prints it (JSON).
    DescribeLogStreams {
        #[command(flatten)]
        data: DataArg,
        /// The log group.
        #[arg(long)]
        log_group_name: String,
        /// Only names starting so.
        #[arg(long)]
        log_stream_name_prefix: Option<String>,
        /// LogStreamName or LastEventTime.
        #[arg(long)]
        order_by: Option<String>,
        /// Reverse the order.
        #[arg(long)]
        descending: bool,
        /// At most this many (1-50).
        #[arg(long)]
        limit: Option<i64>,
        /// The nextToken of the previous page.
        #[arg(long)]
        next_token: Option<String>,
    },
    /// GetLogEvents: one stream's events, as `aws logs get-log-events` prints them (JSON).
    GetLogEvents {
        #[command(flatten)]
        data: DataArg,
        /// The log group.
        #[arg(long)]
        log_group_name: String,
        /// The stream.
        #[arg(long)]
        log_stream_name: String,
        /// From this time (ms since the epoch), included.
        #[arg(long)]
        start_time: Option<i64>,
        /// To this time (ms), excluded.
        #[arg(long)]
        end_time: Option<i64>,
        /// Without a token, the oldest events first (default: the newest).
        #[arg(long)]
        start_from_head: bool,
        /// At most this many (1-10000).
        #[arg(long)]
        limit: Option<i64>,
        /// A nextForwardToken or nextBackwardToken.
        #[arg(long)]
        next_token: Option<String>,
    },
    /// PutMetricFilter, as `aws logs put-metric-filter` takes it: the group's events committed
    /// from now on that the pattern matches publish the metric.
    #[command(after_help = "\
--metric-transformations takes the AWS CLI's shorthand or JSON:
  metricName=RejectedPackets,metricNamespace=VPCFlowLogs,metricValue=$packets,defaultValue=0
  '[{\"metricName\":\"Rejects\",\"metricNamespace\":\"VPC\",\"metricValue\":\"1\",\"dimensions\":{\"Port\":\"$dstport\"}}]'

Example:
  vpcflow logs put-metric-filter --log-group-name /vpcflow/flow-logs --filter-name rejects \\
    --filter-pattern '[version, account, eni, src, dst, srcport, dstport, protocol, packets, bytes, start, end, action=REJECT, status]' \\
    --metric-transformations metricName=RejectedPacketCount,metricNamespace=VPCFlowLogs,metricValue=$packets")]
    PutMetricFilter {
        #[command(flatten)]
        data: DataArg,
        /// The log group.
        #[arg(long)]
        log_group_name: String,
        /// The filter's name (a filter of that name is replaced).
        #[arg(long)]
        filter_name: String,
        /// The filter pattern (CloudWatch Logs' language; empty matches every event).
        #[arg(long, allow_hyphen_values = true)]
        filter_pattern: String,
        /// The metric to publish: shorthand or JSON (below).
        #[arg(long)]
        metric_transformations: String,
    },
    /// DescribeMetricFilters, printed as `aws logs describe-metric-filters` prints it (JSON).
    DescribeMetricFilters {
        #[command(flatten)]
        data: DataArg,
        /// Only this group's.
        #[arg(long)]
        log_group_name: Option<String>,
        /// Only names starting so (with --log-group-name).
        #[arg(long)]
        filter_name_prefix: Option<String>,
    },
    /// TestMetricFilter: which of the messages the pattern matches and what it extracts from
    /// each, as `aws logs test-metric-filter` prints it (JSON). Needs no data directory.
    TestMetricFilter {
        /// The filter pattern.
        #[arg(long, allow_hyphen_values = true)]
        filter_pattern: String,
        /// 1-50 event messages.
        #[arg(long, num_args = 1.., required = true)]
        log_event_messages: Vec<String>,
    },
    /// FilterLogEvents: a group's events that a filter pattern matches, as
    /// `aws logs filter-log-events` prints them (JSON).
    FilterLogEvents {
        #[command(flatten)]
        data: DataArg,
        /// The log group.
        #[arg(long)]
        log_group_name: String,
        /// Only these streams.
        #[arg(long, num_args = 1..)]
        log_stream_names: Vec<String>,
        /// Only streams whose names start so.
        #[arg(long)]
        log_stream_name_prefix: Option<String>,
        /// From this time (ms since the epoch), included.
        #[arg(long)]
        start_time: Option<i64>,
        /// To this time (ms), included.
        #[arg(long)]
        end_time: Option<i64>,
        /// A filter pattern (CloudWatch Logs' language: terms, [space-delimited], { JSON },
        /// %regex%).
        #[arg(long, allow_hyphen_values = true)]
        filter_pattern: Option<String>,
        /// At most this many (1-10000).
        #[arg(long)]
        limit: Option<i64>,
        /// The nextToken of the previous page.
        #[arg(long)]
        next_token: Option<String>,
    },
}

#[derive(Args, Debug)]
pub(crate) struct DataArg {
    /// Data directory.
    #[arg(long, value_name = "DIR", default_value = "vpcflow-data")]
    data: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct TailArgs {
    /// Log group name.
    group: String,
    #[command(flatten)]
    data: DataArg,
    /// Only these streams.
    #[arg(long, value_name = "NAME", num_args = 1..)]
    log_stream_names: Vec<String>,
    /// Only events this long before the newest one (e.g. 10m, 2h).
    #[arg(long, value_name = "DURATION")]
    since: Option<String>,
    /// Only events this CloudWatch Logs filter pattern matches: terms (`REJECT -NODATA`),
    /// space-delimited (`[version, account, eni, src, dst, srcport, dstport=22, ...]`), JSON
    /// (`{ $.level = "error" }`) or a regex (`%^2 %`), as `aws logs tail --filter-pattern`.
    #[arg(
        long,
        value_name = "PATTERN",
        alias = "filter",
        allow_hyphen_values = true
    )]
    filter_pattern: Option<String>,
    /// Keep printing events as they are delivered (until interrupted).
    #[arg(long)]
    follow: bool,
    /// detailed (time, stream, message) or short (time, message).
    #[arg(long, default_value = "detailed", value_parser = ["detailed", "short"])]
    format: String,
}

fn open_state(data: &Path) -> anyhow::Result<State> {
    let path = DataDir::new(data).state_db();
    if !path.exists() {
        bail!(
            "{} has no state.db: nothing was delivered there yet (run `vpcflow simulate`)",
            data.display()
        );
    }
    Ok(State::open(&path)?)
}

pub(crate) fn run(cmd: &LogsCommand) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match cmd {
        LogsCommand::Groups { data } => {
            let state = open_state(&data.data)?;
            writeln!(
                out,
                "{:<40} {:>12} {:>9} {:>10}  created",
                "log group", "events", "segments", "retention"
            )?;
            for g in state.log_groups()? {
                writeln!(
                    out,
                    "{:<40} {:>12} {:>9} {:>10}  {}",
                    g.name,
                    g.events,
                    g.segments,
                    g.retention_days
                        .map_or("never".to_owned(), |d| format!("{d} days")),
                    aws_cli_time(g.created_ms)
                )?;
            }
        }
        LogsCommand::Streams { group, data } => {
            let state = open_state(&data.data)?;
            check_group(&state, group)?;
            writeln!(
                out,
                "{:<32} {:>10}  {:<32}  last event",
                "log stream", "events", "first event"
            )?;
            for s in state.log_streams(group)? {
                writeln!(
                    out,
                    "{:<32} {:>10}  {:<32}  {}",
                    s.name,
                    s.events,
                    s.first_ms.map_or_else(|| "-".to_owned(), aws_cli_time),
                    s.last_ms.map_or_else(|| "-".to_owned(), aws_cli_time)
                )?;
            }
        }
        LogsCommand::Tail(args) => tail(args, &mut out)?,
        LogsCommand::TestMetricFilter {
            filter_pattern,
            log_event_messages,
        } => {
            let answer = logs::TestMetricFilter {
                filter_pattern: filter_pattern.clone(),
                log_event_messages: log_event_messages.clone(),
            }
            .run();
            print_answer(
                answer.map(|a| serde_json::to_value(a).expect("answers serialize")),
                "TestMetricFilter",
                &mut out,
            )?;
        }
        other => service(other, &mut out)?,
    }
    Ok(())
}

/// The AWS-shaped commands: the request to the log-group service, its answer as JSON, or the
/// error as the AWS CLI words it.
fn service(cmd: &LogsCommand, out: &mut impl Write) -> anyhow::Result<()> {
    let (data, operation) = match cmd {
        LogsCommand::DescribeLogGroups { data, .. } => (data, "DescribeLogGroups"),
        LogsCommand::DescribeLogStreams { data, .. } => (data, "DescribeLogStreams"),
        LogsCommand::GetLogEvents { data, .. } => (data, "GetLogEvents"),
        LogsCommand::FilterLogEvents { data, .. } => (data, "FilterLogEvents"),
        LogsCommand::PutMetricFilter { data, .. } => (data, "PutMetricFilter"),
        LogsCommand::DescribeMetricFilters { data, .. } => (data, "DescribeMetricFilters"),
        _ => unreachable!("the person's commands are run above"),
    };
    let (store, account) = open_store(&data.data)?;
    let answer = match cmd {
        LogsCommand::PutMetricFilter {
            log_group_name,
            filter_name,
            filter_pattern,
            metric_transformations,
            ..
        } => {
            let req = logs::PutMetricFilter {
                log_group_name: log_group_name.clone(),
                filter_name: filter_name.clone(),
                filter_pattern: filter_pattern.clone(),
                metric_transformations: transformations(metric_transformations)?,
            };
            store
                .put_metric_filter(&req, &account, SystemClock.now_ms())
                .map(|()| serde_json::Value::Null)
        }
        other => call(&store, other),
    };
    print_answer(answer, operation, out)
}

/// An answer as the AWS CLI prints it (nothing for an empty one), or its error as the CLI
/// words it.
fn print_answer(
    answer: Result<serde_json::Value, logs::LogsError>,
    operation: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match answer {
        Ok(serde_json::Value::Null) => {}
        Ok(json) => writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?,
        Err(logs::LogsError::Refused { code, message }) => bail!(
            "An error occurred ({}) when calling the {operation} operation: {message}",
            code.def().name
        ),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// `--metric-transformations`: JSON (a list or one object), or the AWS CLI's shorthand
/// `metricName=…,metricNamespace=…,metricValue=…[,defaultValue=…][,unit=…][,dimensions={K=$f,…}]`.
fn transformations(text: &str) -> anyhow::Result<Vec<logs::MetricTransformation>> {
    let text = text.trim();
    let bad = |why: String| anyhow::anyhow!("--metric-transformations '{text}': {why}");
    if text.starts_with('[') || text.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let list = if v.is_array() {
            v
        } else {
            serde_json::Value::Array(vec![v])
        };
        return serde_json::from_value(list).map_err(|e| bad(e.to_string()));
    }
    let mut members = serde_json::Map::new();
    for (key, value) in shorthand_pairs(text).map_err(bad)? {
        let value = match key.as_str() {
            "defaultValue" => serde_json::Value::from(
                value
                    .parse::<f64>()
                    .map_err(|_| bad(format!("defaultValue '{value}' is not a number")))?,
            ),
            "dimensions" => {
                let inner = value
                    .strip_prefix('{')
                    .and_then(|v| v.strip_suffix('}'))
                    .ok_or_else(|| bad("dimensions are written {Name=$field,…}".into()))?;
                let map: serde_json::Map<String, serde_json::Value> = shorthand_pairs(inner)
                    .map_err(bad)?
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                serde_json::Value::Object(map)
            }
            _ => serde_json::Value::String(value),
        };
        members.insert(key, value);
    }
    serde_json::from_value(serde_json::Value::Array(vec![serde_json::Value::Object(
        members,
    )]))
    .map_err(|e| bad(e.to_string()))
}

/// `k=v,k=v` pairs, a `{…}` value kept whole.
fn shorthand_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let mut parts = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    for p in parts.into_iter().filter(|p| !p.trim().is_empty()) {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("'{p}' is not key=value"))?;
        pairs.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    Ok(pairs)
}

/// One request to the log-group service, from the command's flags, and its answer as JSON.
fn call(store: &logs::LogStore, cmd: &LogsCommand) -> Result<serde_json::Value, logs::LogsError> {
    match cmd {
        LogsCommand::DescribeLogGroups {
            log_group_name_prefix,
            log_group_name_pattern,
            limit,
            next_token,
            ..
        } => store
            .describe_log_groups(&logs::DescribeLogGroups {
                log_group_name_prefix: log_group_name_prefix.clone(),
                log_group_name_pattern: log_group_name_pattern.clone(),
                limit: *limit,
                next_token: next_token.clone(),
            })
            .map(|p| serde_json::to_value(p).expect("pages serialize")),
        LogsCommand::DescribeLogStreams {
            log_group_name,
            log_stream_name_prefix,
            order_by,
            descending,
            limit,
            next_token,
            ..
        } => store
            .describe_log_streams(&logs::DescribeLogStreams {
                log_group_name: Some(log_group_name.clone()),
                log_stream_name_prefix: log_stream_name_prefix.clone(),
                order_by: order_by.clone(),
                descending: descending.then_some(true),
                limit: *limit,
                next_token: next_token.clone(),
                ..Default::default()
            })
            .map(|p| serde_json::to_value(p).expect("pages serialize")),
        LogsCommand::GetLogEvents {
            log_group_name,
            log_stream_name,
            start_time,
            end_time,
            start_from_head,
            limit,
            next_token,
            ..
        } => store
            .get_log_events(&logs::GetLogEvents {
                log_group_name: Some(log_group_name.clone()),
                log_stream_name: log_stream_name.clone(),
                start_time: *start_time,
                end_time: *end_time,
                start_from_head: start_from_head.then_some(true),
                limit: *limit,
                next_token: next_token.clone(),
                ..Default::default()
            })
            .map(|p| serde_json::to_value(p).expect("pages serialize")),
        LogsCommand::FilterLogEvents {
            log_group_name,
            log_stream_names,
            log_stream_name_prefix,
            start_time,
            end_time,
            filter_pattern,
            limit,
            next_token,
            ..
        } => store
            .filter_log_events(&logs::FilterLogEvents {
                log_group_name: Some(log_group_name.clone()),
                log_stream_names: (!log_stream_names.is_empty()).then(|| log_stream_names.clone()),
                log_stream_name_prefix: log_stream_name_prefix.clone(),
                start_time: *start_time,
                end_time: *end_time,
                filter_pattern: filter_pattern.clone(),
                limit: *limit,
                next_token: next_token.clone(),
                ..Default::default()
            })
            .map(|p| serde_json::to_value(p).expect("pages serialize")),
        LogsCommand::DescribeMetricFilters {
            log_group_name,
            filter_name_prefix,
            ..
        } => store
            .describe_metric_filters(&logs::DescribeMetricFilters {
                log_group_name: log_group_name.clone(),
                filter_name_prefix: filter_name_prefix.clone(),
                ..Default::default()
            })
            .map(|p| serde_json::to_value(p).expect("pages serialize")),
        _ => unreachable!("matched above"),
    }
}

/// The log-group service of a data directory; its ARNs name the account and region of the
/// flow logs there.
fn open_store(data: &Path) -> anyhow::Result<(logs::LogStore, String)> {
    let state = open_state(data)?;
    let flow_logs = state.flow_logs()?;
    let Some(f) = flow_logs
        .iter()
        .find(|f| {
            matches!(
                f.destination,
                vpcflow_deliver::api::Destination::LogGroup { .. }
            )
        })
        .or(flow_logs.first())
    else {
        bail!(
            "{} has no flow logs, so no log groups (run `vpcflow simulate`)",
            data.display()
        );
    };
    let store = logs::LogStore::open(DataDir::new(data), &f.region, &f.account_id)?;
    Ok((store, f.account_id.clone()))
}

fn check_group(state: &State, group: &str) -> anyhow::Result<()> {
    if !state.log_groups()?.iter().any(|g| g.name == group) {
        bail!("ResourceNotFoundException: The specified log group does not exist: {group}");
    }
    Ok(())
}

fn tail(args: &TailArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let state = open_state(&args.data.data)?;
    check_group(&state, &args.group)?;
    let since_ms = match &args.since {
        None => None,
        Some(s) => Some(
            vpcflow_capture::scenario::parse_duration(s)
                .with_context(|| format!("--since '{s}': expected e.g. 10m, 1h, 2h30m"))?
                * 1000,
        ),
    };
    let cutoff = since_ms.map(|span| {
        let newest = state
            .log_streams(&args.group)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.last_ms)
            .max()
            .unwrap_or(0);
        newest.saturating_sub(span)
    });
    let pattern = match &args.filter_pattern {
        Some(p) => Some(
            vpcflow_monitor::Pattern::parse(p)
                .with_context(|| format!("--filter-pattern '{p}'"))?,
        ),
        None => None,
    };
    let mut shown: BTreeSet<String> = BTreeSet::new();
    loop {
        let segments = state.segments(&args.group)?;
        let mut events = Vec::new();
        for seg in segments {
            if !shown.insert(seg.clone()) {
                continue;
            }
            let path = DataDir::new(&args.data.data).segment(&args.group, &seg);
            for e in vpcflow_store::segment::read(&path, None)? {
                if cutoff.is_some_and(|c| e.timestamp < c) {
                    continue;
                }
                if !args.log_stream_names.is_empty() && !args.log_stream_names.contains(&e.stream) {
                    continue;
                }
                if pattern.as_ref().is_some_and(|p| !p.is_match(&e.message)) {
                    continue;
                }
                events.push(e);
            }
        }
        events.sort_by(|a, b| (a.timestamp, &a.stream).cmp(&(b.timestamp, &b.stream)));
        for e in &events {
            if args.format == "short" {
                writeln!(out, "{} {}", &aws_cli_time(e.timestamp)[..19], e.message)?;
            } else {
                writeln!(
                    out,
                    "{} {} {}",
                    aws_cli_time(e.timestamp),
                    e.stream,
                    e.message
                )?;
            }
        }
        out.flush()?;
        if !args.follow {
            return Ok(());
        }
        SystemClock.sleep_ms(1000);
    }
}
