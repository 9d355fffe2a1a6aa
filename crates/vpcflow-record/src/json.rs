//! JSON lines: one object per record, keys = the format's AWS field names in format order.
//!
//! The contract (design.md, `convert --to jsonl`): absent (`-`) becomes `null`; the integer
//! fields of the registry become JSON numbers; every other field stays a string (so
//! `account-id` keeps its leading zeros). Decoding accepts the same shape back.

use crate::format::LogFormat;
use crate::registry::{FieldId, FlowRecord};
use crate::value::{Scalar, ValueError};
use std::fmt::Write as _;

/// Why a JSON line could not be decoded. The caller adds file and line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not valid JSON.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// Valid JSON, but not an object.
    #[error("expected a JSON object, one per line")]
    NotAnObject,
    /// A key that is not a flow-log field name.
    #[error("unknown key '{0}': keys must be flow-log field names such as 'account-id'")]
    UnknownKey(String),
    /// A value of the wrong JSON type (object, array, boolean, fraction).
    #[error("key '{field}': expected a {expected}, found {found}")]
    BadType {
        /// The field.
        field: FieldId,
        /// What the field takes.
        expected: &'static str,
        /// What the line had.
        found: &'static str,
    },
    /// A value invalid for its field.
    #[error("key '{field}': {reason}")]
    Value {
        /// The field.
        field: FieldId,
        /// What was wrong with it.
        reason: ValueError,
    },
    /// The object has no keys.
    #[error("the object has no keys")]
    Empty,
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends the record as one JSON object (no terminator) to `out`.
pub fn encode_into(format: &LogFormat, rec: &FlowRecord, out: &mut String) {
    let mut buf = itoa::Buffer::new();
    let mut text = String::new();
    out.push('{');
    for (i, &field) in format.fields().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, field.name());
        out.push(':');
        match rec.get(field) {
            None => out.push_str("null"),
            Some(Scalar::Int(v)) => out.push_str(buf.format(v)),
            Some(Scalar::Str(s)) => push_json_string(out, s),
            Some(v @ Scalar::Addr(_)) => {
                text.clear();
                v.push_text(&mut text);
                push_json_string(out, &text);
            }
        }
    }
    out.push('}');
}

/// Encodes the record as one JSON object.
pub fn encode(format: &LogFormat, rec: &FlowRecord) -> String {
    let mut out = String::with_capacity(32 * format.len());
    encode_into(format, rec, &mut out);
    out
}

fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a non-integer number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Decodes one JSON object; returns the format its keys spell (in key order) and the record.
pub fn decode(line: &str) -> Result<(LogFormat, FlowRecord), JsonError> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| JsonError::Syntax(e.to_string()))?;
    let serde_json::Value::Object(map) = value else {
        return Err(JsonError::NotAnObject);
    };
    let mut rec = FlowRecord::default();
    let mut fields = Vec::with_capacity(map.len());
    for (key, v) in &map {
        let field = FieldId::from_name(key).ok_or_else(|| JsonError::UnknownKey(key.clone()))?;
        fields.push(field);
        let wrap = |reason| JsonError::Value { field, reason };
        match v {
            serde_json::Value::Null => rec.clear(field),
            serde_json::Value::String(s) => rec.set_text(field, s).map_err(wrap)?,
            serde_json::Value::Number(n) if n.is_i64() => {
                rec.set_int(field, n.as_i64().unwrap_or_default())
                    .map_err(wrap)?;
            }
            other => {
                let expected = if field.kind().is_int() {
                    "number"
                } else {
                    "string"
                };
                return Err(JsonError::BadType {
                    field,
                    expected,
                    found: type_name(other),
                });
            }
        }
    }
    // serde_json folds duplicate keys into one, so the keys are distinct here.
    let format = LogFormat::from_fields(fields).map_err(|_| JsonError::Empty)?;
    Ok((format, rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_strings_and_nulls() {
        let f = LogFormat::default_v2();
        let r = crate::text::decode(
            &f,
            "2 001607371330 eni-1 - - - - - - - 1431280876 1431280934 - NODATA",
        )
        .unwrap();
        assert_eq!(
            encode(&f, &r),
            r#"{"version":2,"account-id":"001607371330","interface-id":"eni-1","srcaddr":null,"dstaddr":null,"srcport":null,"dstport":null,"protocol":null,"packets":null,"bytes":null,"start":1431280876,"end":1431280934,"action":null,"log-status":"NODATA"}"#
        );
        let (f2, r2) = decode(&encode(&f, &r)).unwrap();
        assert_eq!((f2, r2), (f, r));
    }

    #[test]
    fn strings_are_escaped() {
        let f = LogFormat::parse("${instance-tag}").unwrap();
        let r = FlowRecord {
            instance_tag: Some("a\"b\\c\u{1}".into()),
            ..Default::default()
        };
        assert_eq!(encode(&f, &r), r#"{"instance-tag":"a\"b\\c\u0001"}"#);
        assert_eq!(decode(&encode(&f, &r)).unwrap().1, r);
    }

    #[test]
    fn bad_objects_say_why() {
        let rows = [
            ("[1]", "expected a JSON object, one per line"),
            ("{}", "the object has no keys"),
            (
                r#"{"nope": 1}"#,
                "unknown key 'nope': keys must be flow-log field names such as 'account-id'",
            ),
            (
                r#"{"srcport": 1.5}"#,
                "key 'srcport': expected a number, found a non-integer number",
            ),
            (
                r#"{"srcport": true}"#,
                "key 'srcport': expected a number, found a boolean",
            ),
            (
                r#"{"account-id": 12}"#,
                "key 'account-id': expected a string, found the number 12",
            ),
            (
                r#"{"srcaddr": "1.2.3"}"#,
                "key 'srcaddr': '1.2.3' is not an IPv4 or IPv6 address",
            ),
        ];
        for (line, want) in rows {
            assert_eq!(decode(line).unwrap_err().to_string(), want, "{line}");
        }
        assert!(
            decode("{")
                .unwrap_err()
                .to_string()
                .starts_with("invalid JSON: ")
        );
    }
}
