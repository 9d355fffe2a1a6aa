//! CloudWatch's alarms on the wire, in the two protocols today's clients send
//! (`reference/aws-api.md` §2.3): awsJson 1.0 with query compatibility (boto3, the AWS CLI:
//! `X-Amz-Target: GraniteServiceVersion20100801.<Op>`, errors with `x-amzn-query-error`) and the
//! query protocol (older SDKs: a form in, XML out). Both decode into the alarm service's
//! requests (`vpcflow_store::alarms`), whose members are the same PascalCase names; a form's
//! flattened lists (`Dimensions.member.1.Name`) are unflattened first. [`OPERATIONS`] is what is
//! served; RPC v2 CBOR and the metric operations are not yet.

use std::fmt::Write as _;
use std::sync::Mutex;

use serde_json::{Map, Value};
use vpcflow_store::alarms::{
    AlarmError, AlarmErrorCode, Alarms, DeleteAlarms, DescribeAlarms, PutMetricAlarm,
};

use crate::json::JSON_10;
use crate::reply::Reply;
use crate::xml::element;

/// The `X-Amz-Target` prefix.
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801.";
/// The query protocol's namespace.
pub const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// The operations served.
pub const OPERATIONS: &[&str] = &["PutMetricAlarm", "DescribeAlarms", "DeleteAlarms"];

/// Members a form gives as text that the requests hold as integers, numbers and booleans.
const INTEGERS: &[&str] = &[
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "MaxRecords",
];
const NUMBERS: &[&str] = &["Threshold"];
const BOOLEANS: &[&str] = &["ActionsEnabled", "ReturnData"];

/// What the operations act on.
pub struct CloudWatch {
    /// The alarms (`state.db`), one connection taken in turn.
    pub alarms: Mutex<Alarms>,
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

/// A form's members as the JSON the requests read: `A.member.N.B` lists unflattened, the
/// numeric and boolean members typed.
pub fn unflatten(pairs: &[(String, String)]) -> Value {
    let mut root = Value::Object(Map::new());
    for (k, v) in pairs {
        if k == "Action" || k == "Version" {
            continue;
        }
        let segs: Vec<&str> = k.split('.').collect();
        let leaf = *segs.last().unwrap_or(&"");
        let value = typed(leaf, v);
        insert(&mut root, &segs, value);
    }
    compact(root)
}

fn typed(name: &str, text: &str) -> Value {
    if INTEGERS.contains(&name)
        && let Ok(n) = text.parse::<i64>()
    {
        return Value::from(n);
    }
    if NUMBERS.contains(&name)
        && let Ok(n) = text.parse::<f64>()
    {
        return serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number);
    }
    if BOOLEANS.contains(&name) {
        match text {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    }
    Value::String(text.to_owned())
}

/// Inserts at a path where `member`, then a number, is an element of a list (kept as an
/// object keyed by the number until [`compact`]).
fn insert(node: &mut Value, segs: &[&str], value: Value) {
    let Some((first, rest)) = segs.split_first() else {
        *node = value;
        return;
    };
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    let map = node.as_object_mut().expect("made an object above");
    let (key, rest) = match (*first, rest.split_first()) {
        ("member" | "entry", Some((n, more))) => (format!("#{n:0>6}"), more),
        _ => ((*first).to_owned(), rest),
    };
    let child = map.entry(key).or_insert(Value::Null);
    insert(child, rest, value);
}

/// Objects whose keys are all list positions become arrays, in order.
fn compact(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            if !map.is_empty() && map.keys().all(|k| k.starts_with('#')) {
                Value::Array(map.into_iter().map(|(_, v)| compact(v)).collect())
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, compact(v))).collect())
            }
        }
        other => other,
    }
}

/// A JSON answer written as the query protocol's XML (lists as `<member>`, timestamps as
/// ISO 8601).
pub fn to_xml(out: &mut String, name: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::Array(items) => {
            let _ = write!(out, "<{name}>");
            for item in items {
                to_xml(out, "member", item);
            }
            let _ = write!(out, "</{name}>");
        }
        Value::Object(map) => {
            let _ = write!(out, "<{name}>");
            for (k, v) in map {
                to_xml(out, k, v);
            }
            let _ = write!(out, "</{name}>");
        }
        Value::Number(n) if name.ends_with("Timestamp") => {
            let ms = (n.as_f64().unwrap_or(0.0) * 1000.0) as u64;
            element(out, name, &vpcflow_store::time::aws_xml_time(ms));
        }
        Value::Number(n) => element(out, name, &n.to_string()),
        Value::Bool(b) => element(out, name, &b.to_string()),
        Value::String(s) => element(out, name, s),
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
    let alarms = cw
        .alarms
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let result: Result<Option<Value>, AlarmError> = match op {
        "PutMetricAlarm" => match decode::<PutMetricAlarm>(input) {
            Ok(req) => alarms.put(account, &req, now_ms).map(|()| None),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "DescribeAlarms" => match decode::<DescribeAlarms>(input) {
            Ok(req) => alarms
                .describe(account, &req)
                .map(|p| Some(serde_json::to_value(p).expect("pages serialize"))),
            Err((c, m)) => return refusal(wire, c, &m, id),
        },
        "DeleteAlarms" => match decode::<DeleteAlarms>(input) {
            Ok(req) => alarms.delete(account, &req).map(|()| None),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_unflattens_to_the_members_json_sends() {
        let pairs: Vec<(String, String)> = [
            ("Action", "PutMetricAlarm"),
            ("Version", "2010-08-01"),
            ("AlarmName", "fl-rejects"),
            ("Threshold", "10.0"),
            ("EvaluationPeriods", "1"),
            ("ActionsEnabled", "false"),
            ("Dimensions.member.1.Name", "VpcId"),
            ("Dimensions.member.1.Value", "vpc-0abc"),
            ("Dimensions.member.2.Name", "Other"),
            ("Dimensions.member.2.Value", "x"),
            ("AlarmActions.member.1", "arn:a"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            unflatten(&pairs),
            serde_json::json!({
                "AlarmName": "fl-rejects",
                "Threshold": 10.0,
                "EvaluationPeriods": 1,
                "ActionsEnabled": false,
                "Dimensions": [{"Name": "VpcId", "Value": "vpc-0abc"}, {"Name": "Other", "Value": "x"}],
                "AlarmActions": ["arn:a"],
            })
        );
    }

    #[test]
    fn json_answers_as_query_xml() {
        let mut out = String::new();
        to_xml(
            &mut out,
            "MetricAlarms",
            &serde_json::json!([{"AlarmName": "a<b", "Period": 60, "StateUpdatedTimestamp": 1.5,
                "Dimensions": [{"Name": "N", "Value": "V"}]}]),
        );
        assert_eq!(
            out,
            "<MetricAlarms><member><AlarmName>a&lt;b</AlarmName><Period>60</Period>\
             <StateUpdatedTimestamp>1970-01-01T00:00:01.500Z</StateUpdatedTimestamp>\
             <Dimensions><member><Name>N</Name><Value>V</Value></member></Dimensions>\
             </member></MetricAlarms>"
        );
    }
}
