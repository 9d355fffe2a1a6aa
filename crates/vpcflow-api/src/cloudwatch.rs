//! CloudWatch's alarms and metric data on the wire, in the two protocols today's clients send
//! (`reference/aws-api.md` §2.3): awsJson 1.0 with query compatibility (boto3, the AWS CLI:
//! `X-Amz-Target: GraniteServiceVersion20100801.<Op>`, errors with `x-amzn-query-error`) and the
//! query protocol (older SDKs: a form in, XML out). Both decode into the alarm service's
//! and metric services' requests (`vpcflow_store::alarms`, `vpcflow_store::metrics`), whose
//! members are the same PascalCase names; a form's flattened lists (`Dimensions.member.1.Name`)
//! are unflattened first, its ISO 8601 times made epoch seconds as JSON sends them.
//! [`OPERATIONS`] is what is served; RPC v2 CBOR is not yet (no client the tests run sends it).

use std::fmt::Write as _;
use std::sync::Mutex;

use serde_json::{Map, Value};
use vpcflow_store::alarm_eval::DescribeAlarmHistory;
use vpcflow_store::alarms::{
    AlarmError, AlarmErrorCode, Alarms, DeleteAlarms, DescribeAlarms, PutMetricAlarm,
};
use vpcflow_store::insight_rules::{
    DeleteInsightRules, DescribeInsightRules, GetInsightRuleReport, PutInsightRule,
};
use vpcflow_store::metrics::{
    GetMetricData, GetMetricStatistics, ListMetrics, Metrics, PutMetricData,
};

use crate::json::JSON_10;
pub use crate::query_form::{to_xml, unflatten};
use crate::reply::Reply;
use crate::xml::element;

/// The `X-Amz-Target` prefix.
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801.";
/// The query protocol's namespace.
pub const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// The operations served.
pub const OPERATIONS: &[&str] = &[
    "PutMetricAlarm",
    "DescribeAlarms",
    "DescribeAlarmHistory",
    "DeleteAlarms",
    "PutInsightRule",
    "DescribeInsightRules",
    "DeleteInsightRules",
    "GetInsightRuleReport",
    "PutMetricData",
    "GetMetricStatistics",
    "GetMetricData",
    "ListMetrics",
];

/// What the operations act on.
pub struct CloudWatch {
    /// The alarms (`state.db`), one connection taken in turn.
    pub alarms: Mutex<Alarms>,
    /// The metric data (`state.db`), its own connection.
    pub metrics: Mutex<Metrics>,
    /// The log groups Contributor Insights reports read, its own connection.
    pub logs: Mutex<vpcflow_store::logs::LogStore>,
}

/// Which wire a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// awsJson 1.0.
    Json,
    /// The query protocol.
    Query,
}

fn refusal(wire: Wire, code: AlarmErrorCode, message: &str, id: &str) -> Reply {
    let d = code.def();
    match wire {
        Wire::Json => {
            let mut r = crate::json::error(JSON_10, d.status, d.shape, message);
            r.headers
                .push(("x-amzn-query-error", format!("{};Sender", d.query_code)));
            r
        }
        Wire::Query => Reply::xml(
            d.status,
            crate::sts::error_xml(XMLNS, d.query_code, message, id),
        ),
    }
}

fn failed(wire: Wire, e: &AlarmError, id: &str) -> Reply {
    match e {
        AlarmError::Refused { code, message } => refusal(wire, *code, message, id),
        AlarmError::Db(db) => match wire {
            Wire::Json => crate::json::error(JSON_10, 500, "InternalServiceFault", &db.to_string()),
            Wire::Query => Reply::xml(
                500,
                crate::sts::error_xml(XMLNS, "InternalFailure", &db.to_string(), id),
            ),
        },
    }
}

fn query_answer(op: &str, result: Option<&Value>, id: &str) -> Reply {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{op}Response xmlns=\"{XMLNS}\">");
    if let Some(Value::Object(map)) = result {
        let _ = write!(out, "<{op}Result>");
        for (k, v) in map {
            to_xml(&mut out, k, v);
        }
        let _ = write!(out, "</{op}Result>");
    }
    out.push_str("<ResponseMetadata>");
    element(&mut out, "RequestId", id);
    let _ = write!(out, "</ResponseMetadata></{op}Response>");
    Reply::xml(200, out)
}

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, (AlarmErrorCode, String)> {
    serde_json::from_value(v).map_err(|e| {
        let text = e.to_string();
        match text
            .strip_prefix("missing field `")
            .and_then(|r| r.split_once('`'))
        {
            Some((member, _)) => (
                AlarmErrorCode::MissingParameter,
                format!("The parameter {member} is required."),
            ),
            None => (
                AlarmErrorCode::InvalidParameterValue,
                format!("The request's parameters do not fit the operation: {text}"),
            ),
        }
    })
}

/// A service's answer as the members JSON writes.
fn answer<T: serde::Serialize>(v: Result<T, AlarmError>) -> Result<Option<Value>, AlarmError> {
    v.map(|p| Some(serde_json::to_value(p).expect("answers serialize")))
}

/// Answers `op` for `account`: `input` is the request's members (the JSON body, or the form
/// unflattened).
pub fn handle(
    cw: &CloudWatch,
    wire: Wire,
    account: &str,
    op: &str,
    input: Value,
    now_ms: u64,
    id: &str,
) -> Reply {
    let alarms = || {
        cw.alarms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let metrics = || {
        cw.metrics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let result: Result<Option<Value>, AlarmError> = match op {
        "PutMetricData" => match decode::<PutMetricData>(input) {
            Ok(req) => metrics().put(account, &req, now_ms).map(|()| None),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "GetMetricStatistics" => match decode::<GetMetricStatistics>(input) {
            Ok(req) => answer(metrics().statistics(account, &req)),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "GetMetricData" => match decode::<GetMetricData>(input) {
            Ok(req) => answer(metrics().data(account, &req)),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "ListMetrics" => match decode::<ListMetrics>(input) {
            Ok(req) => answer(metrics().list(account, &req)),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "PutMetricAlarm" => match decode::<PutMetricAlarm>(input) {
            Ok(req) => alarms().put(account, &req, now_ms).map(|()| None),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "DescribeAlarms" => match decode::<DescribeAlarms>(input) {
            Ok(req) => answer(alarms().describe(account, &req)),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "DescribeAlarmHistory" => match decode::<DescribeAlarmHistory>(input) {
            Ok(req) => answer(alarms().history(account, &req)),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "PutInsightRule" => match decode::<PutInsightRule>(input) {
            Ok(req) => alarms()
                .put_insight_rule(account, &req, now_ms)
                .map(|()| None),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "DescribeInsightRules" => match decode::<DescribeInsightRules>(input) {
            Ok(req) => answer(alarms().describe_insight_rules(account, &req)),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "DeleteInsightRules" => match decode::<DeleteInsightRules>(input) {
            Ok(req) => answer(alarms().delete_insight_rules(account, &req)),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "GetInsightRuleReport" => match decode::<GetInsightRuleReport>(input) {
            Ok(req) => {
                let mut logs = cw
                    .logs
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                logs.acting_for(Some(account));
                answer(alarms().insight_rule_report(account, &logs, &req))
            }
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "DeleteAlarms" => match decode::<DeleteAlarms>(input) {
            Ok(req) => alarms().delete(account, &req).map(|()| None),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        other => {
            let message = format!("The action {other} is not valid for this web service.");
            return match wire {
                Wire::Json => crate::json::refused(JSON_10, &crate::json::unknown_operation(other)),
                Wire::Query => Reply::xml(
                    400,
                    crate::sts::error_xml(XMLNS, "InvalidAction", &message, id),
                ),
            };
        }
    };
    match (result, wire) {
        (Err(e), _) => failed(wire, &e, id),
        (Ok(v), Wire::Json) => {
            crate::json::ok(JSON_10, &v.unwrap_or_else(|| Value::Object(Map::new())))
        }
        (Ok(v), Wire::Query) => query_answer(op, v.as_ref(), id),
    }
}
