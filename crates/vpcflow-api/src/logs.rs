//! CloudWatch Logs on the wire (awsJson 1.1, `X-Amz-Target: Logs_20140328.<Operation>`): each
//! served operation's body decoded into the log-group services' request
//! (`vpcflow_store::logs`, `vpcflow_query::jobs`), their answer or error written back. The
//! services own every rule; [`OPERATIONS`] is the one list of what is served.

use std::sync::Mutex;

use serde::Deserialize;
use vpcflow_query::jobs::{Jobs, StartQuery};
use vpcflow_store::logs::{self, LogStore, LogsError};

use crate::json::{self, JSON_11, Refusal};
use crate::reply::Reply;

/// The `X-Amz-Target` prefix.
pub const TARGET_PREFIX: &str = "Logs_20140328.";

/// The operations served.
pub const OPERATIONS: &[&str] = &[
    "CreateLogGroup",
    "DeleteLogGroup",
    "DescribeLogGroups",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
    "DescribeLogStreams",
    "CreateLogStream",
    "PutLogEvents",
    "GetLogEvents",
    "FilterLogEvents",
    "StartQuery",
    "GetQueryResults",
    "StopQuery",
    "DescribeQueries",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "TagLogGroup",
    "UntagLogGroup",
    "ListTagsLogGroup",
    "PutMetricFilter",
    "DescribeMetricFilters",
    "DeleteMetricFilter",
    "TestMetricFilter",
    "PutSubscriptionFilter",
    "DescribeSubscriptionFilters",
    "DeleteSubscriptionFilter",
];

/// What the operations act on.
pub struct Logs {
    /// The log-group store (`state.db` and the segments); one connection, taken in turn.
    store: Mutex<LogStore>,
    /// Insights queries, each an account's.
    jobs: Jobs,
}

impl Logs {
    /// The operations over a store and its Insights jobs.
    pub fn new(store: LogStore, jobs: Jobs) -> Logs {
        Logs {
            store: Mutex::new(store),
            jobs,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryId {
    query_id: String,
}

fn answer(e: &LogsError) -> Reply {
    match e {
        LogsError::Refused { code, message } => {
            let def = code.def();
            json::error(JSON_11, def.status, def.name, message)
        }
        other => json::unavailable(JSON_11, other),
    }
}

fn reply<T: serde::Serialize>(r: Result<T, LogsError>) -> Reply {
    match r {
        Ok(v) => json::ok(JSON_11, &v),
        Err(e) => answer(&e),
    }
}

fn done(r: Result<(), LogsError>) -> Reply {
    match r {
        Ok(()) => json::empty(JSON_11),
        Err(e) => answer(&e),
    }
}

/// Whether an account has a Firehose stream of a name (subscription filters' destinations).
pub type StreamExists<'a> = &'a dyn Fn(&str, &str) -> bool;

/// Answers `operation` (the target without its prefix) for `account` at `now_ms`.
pub fn handle(
    logs: &Logs,
    account: &str,
    operation: &str,
    body: &[u8],
    now_ms: u64,
    streams: StreamExists<'_>,
) -> Reply {
    match dispatch(logs, account, operation, body, now_ms, streams) {
        Ok(reply) => reply,
        Err(refusal) => json::refused(JSON_11, &refusal),
    }
}

fn dispatch(
    logs: &Logs,
    account: &str,
    operation: &str,
    body: &[u8],
    now_ms: u64,
    streams: StreamExists<'_>,
) -> Result<Reply, Refusal> {
    let store = || {
        let mut store = logs
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        store.acting_for(Some(account));
        store
    };
    Ok(match operation {
        "CreateLogGroup" => {
            let req: logs::CreateLogGroup = json::decode(body)?;
            done(store().create_log_group(&req, account, now_ms))
        }
        "DeleteLogGroup" => {
            let req: logs::LogGroupRequest = json::decode(body)?;
            done(store().delete_log_group(&req, account))
        }
        "PutRetentionPolicy" => {
            let req: logs::PutRetentionPolicy = json::decode(body)?;
            done(store().put_retention_policy(&req, account))
        }
        "DeleteRetentionPolicy" => {
            let req: logs::LogGroupRequest = json::decode(body)?;
            done(store().delete_retention_policy(&req, account))
        }
        "DescribeLogGroups" => {
            let req: logs::DescribeLogGroups = json::decode(body)?;
            reply(store().describe_log_groups(&req))
        }
        "DescribeLogStreams" => {
            let req: logs::DescribeLogStreams = json::decode(body)?;
            reply(store().describe_log_streams(&req))
        }
        "CreateLogStream" => {
            let req: logs::CreateLogStream = json::decode(body)?;
            done(store().create_log_stream(&req, account, now_ms))
        }
        "PutLogEvents" => {
            let req: logs::PutLogEvents = json::decode(body)?;
            reply(store().put_log_events(&req, account, now_ms))
        }
        "GetLogEvents" => {
            let req: logs::GetLogEvents = json::decode(body)?;
            reply(store().get_log_events(&req))
        }
        "FilterLogEvents" => {
            let req: logs::FilterLogEvents = json::decode(body)?;
            reply(store().filter_log_events(&req))
        }
        "StartQuery" => {
            let req: StartQuery = json::decode(body)?;
            let started = req
                .check()
                .and_then(|c| store().check_groups(&c.groups))
                .and_then(|()| logs.jobs.start_for(Some(account), &req));
            reply(started.map(|id| serde_json::json!({ "queryId": id })))
        }
        "GetQueryResults" => {
            let req: QueryId = json::decode(body)?;
            reply(logs.jobs.results_for(Some(account), &req.query_id))
        }
        "StopQuery" => {
            let req: QueryId = json::decode(body)?;
            reply(
                logs.jobs
                    .stop_for(Some(account), &req.query_id)
                    .map(|success| serde_json::json!({ "success": success })),
            )
        }
        "DescribeQueries" => {
            let req: vpcflow_query::jobs::DescribeQueries = json::decode(body)?;
            reply(logs.jobs.describe_for(Some(account), &req))
        }
        "TagResource" | "TagLogGroup" => {
            let req: logs::TagRequest = json::decode(body)?;
            done(store().tag_log_group(&req, account))
        }
        "UntagResource" | "UntagLogGroup" => {
            let req: logs::UntagRequest = json::decode(body)?;
            done(store().untag_log_group(&req, account))
        }
        "ListTagsForResource" | "ListTagsLogGroup" => {
            let req: logs::ListTagsRequest = json::decode(body)?;
            reply(store().list_log_group_tags(&req, account))
        }
        "PutMetricFilter" => {
            let req: logs::PutMetricFilter = json::decode(body)?;
            done(store().put_metric_filter(&req, account, now_ms))
        }
        "DescribeMetricFilters" => {
            let req: logs::DescribeMetricFilters = json::decode(body)?;
            reply(store().describe_metric_filters(&req))
        }
        "DeleteMetricFilter" => {
            let req: logs::DeleteMetricFilter = json::decode(body)?;
            done(store().delete_metric_filter(&req, account))
        }
        "TestMetricFilter" => {
            let req: logs::TestMetricFilter = json::decode(body)?;
            reply(req.run())
        }
        "PutSubscriptionFilter" => {
            let req: logs::PutSubscriptionFilter = json::decode(body)?;
            done(store().put_subscription_filter(&req, account, now_ms, streams))
        }
        "DescribeSubscriptionFilters" => {
            let req: logs::DescribeSubscriptionFilters = json::decode(body)?;
            reply(store().describe_subscription_filters(&req, account))
        }
        "DeleteSubscriptionFilter" => {
            let req: logs::DeleteSubscriptionFilter = json::decode(body)?;
            done(store().delete_subscription_filter(&req, account))
        }
        other => return Err(json::unknown_operation(other)),
    })
}
