//! The text line codec: one record per line, fields separated by single spaces, `-` = absent.
//!
//! Owns decoding a line into a [`FlowRecord`] and encoding it back, for a given [`LogFormat`].
//! Header lines (`version account-id …`) are recognised by [`LogFormat::is_header_line`] and
//! written by [`LogFormat::header`]. Lines come without their line terminator; a trailing `\r`
//! (CRLF files) is tolerated. Doubled spaces are an error rather than silently collapsed:
//! AWS writes single spaces, and a collapsed line could shift every later field.

use crate::format::LogFormat;
use crate::registry::{FieldId, FlowRecord};
use crate::value::{Scalar, ValueError};

/// More fields than any format has (54), so that token offsets fit on the stack.
const MAX_FIELDS: usize = 64;

/// Why one line could not be decoded. The caller adds file and line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line has more or fewer fields than the format.
    #[error("expected {expected} fields, found {found}")]
    FieldCount {
        /// Fields in the format.
        expected: usize,
        /// Fields on the line.
        found: usize,
    },
    /// A doubled, leading or trailing space (AWS separates fields by exactly one space).
    #[error("empty field at byte {position}: fields are separated by exactly one space")]
    Spacing {
        /// Byte offset of the extra space.
        position: usize,
    },
    /// One field's value is invalid for its type.
    #[error("field {position} ({field}): {reason}")]
    Value {
        /// The field.
        field: FieldId,
        /// 1-based position on the line.
        position: usize,
        /// What was wrong with it.
        reason: ValueError,
    },
}

/// Decodes `line` into `rec`, setting exactly the format's fields (others are left untouched, so
/// a reused record stays valid for one format).
pub fn decode_into(format: &LogFormat, line: &str, rec: &mut FlowRecord) -> Result<(), LineError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let fields = format.fields();
    let bytes = line.as_bytes();
    // One pass finds the spaces (a plain loop beats memchr on ~10-byte tokens); counting
    // first means a line of the wrong shape is reported as such, not as its first odd value.
    let mut spaces = [0usize; MAX_FIELDS];
    let mut found = 1;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b' ' {
            if found < MAX_FIELDS {
                spaces[found - 1] = i;
            }
            found += 1;
        }
    }
    if found != fields.len() {
        let extra_space = if line.starts_with(' ') {
            Some(0)
        } else if line.ends_with(' ') {
            Some(line.len() - 1)
        } else {
            line.find("  ").map(|p| p + 1)
        };
        return Err(match extra_space {
            Some(position) => LineError::Spacing { position },
            None => LineError::FieldCount {
                expected: fields.len(),
                found,
            },
        });
    }
    let mut start = 0;
    for (i, &field) in fields.iter().enumerate() {
        let end = if i + 1 < found { spaces[i] } else { line.len() };
        let token = &line[start..end];
        start = end + 1;
        rec.set_text(field, token)
            .map_err(|reason| LineError::Value {
                field,
                position: i + 1,
                reason,
            })?;
    }
    Ok(())
}

/// Decodes one line into a fresh record.
pub fn decode(format: &LogFormat, line: &str) -> Result<FlowRecord, LineError> {
    let mut rec = FlowRecord::default();
    decode_into(format, line, &mut rec)?;
    Ok(rec)
}

/// Appends the record's line (no terminator) to `out`.
pub fn encode_into(format: &LogFormat, rec: &FlowRecord, out: &mut String) {
    let mut buf = itoa::Buffer::new();
    for (i, &field) in format.fields().iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match rec.get(field) {
            None => out.push('-'),
            Some(Scalar::Int(v)) => out.push_str(buf.format(v)),
            Some(v) => v.push_text(out),
        }
    }
}

/// Encodes the record as one line (no terminator).
pub fn encode(format: &LogFormat, rec: &FlowRecord) -> String {
    let mut out = String::with_capacity(16 * format.len());
    encode_into(format, rec, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Action, Count, LogStatus};

    #[test]
    fn decodes_and_encodes_the_aws_default_example() {
        let f = LogFormat::default_v2();
        let line = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
        let r = decode(&f, line).unwrap();
        assert_eq!(r.dstport, Some(22));
        assert_eq!(r.bytes, Some(Count(4249)));
        assert_eq!(r.action, Some(Action::Accept));
        assert_eq!(r.log_status, Some(LogStatus::Ok));
        assert_eq!(encode(&f, &r), line);
    }

    #[test]
    fn bad_lines_say_what_and_where() {
        let f = LogFormat::default_v2();
        let good = "2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
        let rows = [
            ("2 123456789010 eni-1", "expected 14 fields, found 3"),
            (&*format!("{good} extra"), "expected 14 fields, found 15"),
            (
                &*good.replace(" 20641 ", " 2064x "),
                "field 6 (srcport): '2064x' is not a number",
            ),
            (
                &*good.replace("172.31.16.139", "172.31.16.1399"),
                "field 4 (srcaddr): '172.31.16.1399' is not an IPv4 or IPv6 address",
            ),
            (
                &*good.replace("ACCEPT", "ALLOW"),
                "field 13 (action): 'ALLOW' is not one of ACCEPT REJECT",
            ),
            (
                &*good.replace(" 22 ", "  22 "),
                "empty field at byte 54: fields are separated by exactly one space",
            ),
            (
                &*good.replace(" 4249 ", " 99999999999999999999 "),
                "field 10 (bytes): 99999999999999999999 is out of range (expected 0..=9223372036854775807)",
            ),
        ];
        for (line, want) in rows {
            assert_eq!(
                decode(&f, line).unwrap_err().to_string(),
                want,
                "line {line:?}"
            );
        }
    }

    #[test]
    fn crlf_is_tolerated() {
        let f = LogFormat::parse("${srcaddr} ${action}").unwrap();
        let r = decode(&f, "10.0.0.1 REJECT\r").unwrap();
        assert_eq!(r.action, Some(Action::Reject));
    }
}
