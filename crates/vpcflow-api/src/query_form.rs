//! CloudWatch's query protocol (older SDKs' forms): a form's members as the JSON the requests
//! read, so that both wires decode into the same requests. Flattened lists
//! (`Dimensions.member.1.Name`) become arrays, the numeric, boolean and list-of-number members are
//! typed, ISO 8601 times become epoch seconds as JSON sends them; and a JSON answer written back
//! as the protocol's XML. Pure: the fuzz targets build it without the services.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::xml::element;

/// Members a form gives as text that the requests hold as integers, numbers and booleans.
const INTEGERS: &[&str] = &[
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "MaxRecords",
    "StorageResolution",
    "MaxDatapoints",
];
const NUMBERS: &[&str] = &[
    "Threshold",
    "Value",
    "SampleCount",
    "Sum",
    "Minimum",
    "Maximum",
];
/// Lists whose members are numbers (`Values.member.N`).
const NUMBER_LISTS: &[&str] = &["Values", "Counts"];
/// Members a form gives as ISO 8601 and JSON as epoch seconds.
const TIMES: &[&str] = &["Timestamp", "StartTime", "EndTime", "StartDate", "EndDate"];
const BOOLEANS: &[&str] = &["ActionsEnabled", "ReturnData"];

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
        let in_number_list = segs.len() >= 3
            && segs[segs.len() - 2] == "member"
            && NUMBER_LISTS.contains(&segs[segs.len() - 3]);
        let value = match in_number_list {
            true => typed("Value", v),
            false => typed(leaf, v),
        };
        insert(&mut root, &segs, value);
    }
    compact(root)
}

/// Epoch seconds of an ISO 8601 time as botocore's query serializer writes it
/// (`2026-12-07T00:00:00Z`, with or without fractions), or of a number.
fn epoch_seconds(text: &str) -> Option<f64> {
    if let Ok(n) = text.parse::<f64>() {
        return Some(n);
    }
    let t = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = t.split_once('T')?;
    let mut d = date.split('-');
    let (year, month, day) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut h = hms.split(':');
    let civil = vpcflow_store::time::Civil {
        year,
        month,
        day,
        hour: h.next()?.parse().ok()?,
        minute: h.next()?.parse().ok()?,
        second: h.next()?.parse().ok()?,
    };
    let fraction: f64 = format!("0.{frac}").parse().ok()?;
    Some(civil.to_secs()? as f64 + fraction)
}

fn typed(name: &str, text: &str) -> Value {
    if TIMES.contains(&name)
        && let Some(n) = epoch_seconds(text).and_then(serde_json::Number::from_f64)
    {
        return Value::Number(n);
    }
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
    fn a_forms_times_and_value_lists_are_typed_as_json_sends_them() {
        let pairs: Vec<(String, String)> = [
            ("Action", "PutMetricData"),
            ("Namespace", "VPCFlowLogs"),
            ("MetricData.member.1.MetricName", "RejectedPackets"),
            ("MetricData.member.1.Timestamp", "2026-01-15T14:00:00.250Z"),
            ("MetricData.member.1.Values.member.1", "7"),
            ("MetricData.member.1.Counts.member.1", "3"),
            ("MetricData.member.2.MetricName", "Other"),
            ("MetricData.member.2.Value", "1.5"),
            ("MetricData.member.2.StatisticValues.SampleCount", "2"),
            ("StartTime", "2026-01-15T14:00:00Z"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            unflatten(&pairs),
            serde_json::json!({
                "Namespace": "VPCFlowLogs",
                "MetricData": [
                    {"MetricName": "RejectedPackets", "Timestamp": 1_768_485_600.25,
                     "Values": [7.0], "Counts": [3.0]},
                    {"MetricName": "Other", "Value": 1.5, "StatisticValues": {"SampleCount": 2.0}},
                ],
                "StartTime": 1_768_485_600.0,
            })
        );
        assert_eq!(epoch_seconds("not a time"), None);
        assert_eq!(epoch_seconds("2026-13-01T00:00:00Z"), None);
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
