//! The rules of flow-log text, which every reader follows, and the record line codec.
//!
//! `vpcflow convert`, the query engine's text decoder (SQL and Insights over files), imports and
//! the log-group store all read lines by these rules, with these messages, so a file reads the
//! same way everywhere:
//!
//! * Whitespace around a line (spaces, tabs, the `\r` of CRLF files) is not part of it, and a
//!   line with nothing else is blank: skipped, but counted for line numbers ([`trim`]).
//! * A header line (`version account-id …`, as S3 text files start, or in the Parquet spelling
//!   `version account_id …`) may appear on any line, and sets the format of the lines after it:
//!   a concatenation of files keeps working. A line is a header when its first word is a field
//!   name and every word is spelled like one (lower-case letters, digits, `-`, `_`): no record
//!   line is, since record lines hold numbers, addresses, ids and upper-case words. A header
//!   naming a field vpcflow does not know is an error naming that field ([`header`]).
//! * Any other line is a record: exactly as many fields as the format, separated by single
//!   spaces, each valid for its field's type ([`FieldId::parse_token`]), `-` = absent
//!   ([`Tokens`], [`decode_into`]).
//!
//! [`LineDecoder`] applies them line after line, as `convert` reads; the query engine applies the
//! same pieces to chunks of a file in parallel. Encoding writes single spaces and no header;
//! [`LogFormat::header`] writes the header line.

use crate::format::{FormatError, LogFormat};
use crate::registry::{FieldId, FlowRecord};
use crate::value::{Scalar, ValueError};

/// More fields than any line may have (72 in the registry), so that token offsets fit on the
/// stack.
pub const MAX_FIELDS: usize = 80;

/// Why one line could not be read. The caller adds file and line number.
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
    /// Two spaces in a row inside the line (AWS separates fields by exactly one space).
    #[error("field {field} is empty: fields are separated by exactly one space")]
    Spacing {
        /// 1-based position of the empty field.
        field: usize,
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
    /// A header line that is not a valid format (a field vpcflow does not know, one named twice).
    #[error("header line: {0}")]
    Header(FormatError),
    /// A header line, or a JSON object's keys, other than the format the reader was told to
    /// use.
    #[error("{what} '{found}' differs from the format given, '{fixed}'")]
    FormatDiffers {
        /// "the header line" or "the object's keys".
        what: &'static str,
        /// The line's fields.
        found: String,
        /// The fixed format's fields.
        fixed: String,
    },
    /// A line of a JSON lines file that is no record object.
    #[error(transparent)]
    JsonRecord(crate::json::JsonError),
    /// A JSON object in a text file (a line of a log shipper's export, say).
    #[error("a JSON object where a record line was expected (a JSON lines file holds only JSON)")]
    Json,
    /// Bytes that are not UTF-8 text.
    #[error("not UTF-8 text")]
    NotUtf8,
}

/// `line` without the whitespace around it (spaces, tabs, `\r`, form feeds).
pub fn trim(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

/// Whether a word is spelled like a field name: a lower-case letter, then lower-case letters,
/// digits, `-` and `_`.
fn name_shaped(word: &str) -> bool {
    let b = word.as_bytes();
    b.first().is_some_and(u8::is_ascii_lowercase)
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

/// If the (trimmed) `line` is a header line, the format it names; `None` for any other line.
///
/// Its words may be AWS names (`log-status`) or Parquet column names (`log_status`).
pub fn header(line: &str) -> Option<Result<LogFormat, FormatError>> {
    // Every name and column starts with a lower-case letter (a registry test says so): most
    // record lines are told apart by their first byte, without looking any name up.
    if !line.as_bytes().first().is_some_and(u8::is_ascii_lowercase) {
        return None;
    }
    let first = line.split(' ').next()?;
    if FieldId::from_name_or_column(first).is_none() || !line.split(' ').all(name_shaped) {
        return None;
    }
    Some(LogFormat::from_header(line))
}

/// The offsets of a line's spaces: room for every field a line may have. A reader keeps one
/// and reuses it for every line.
pub type Spaces = [u32; MAX_FIELDS];

/// The fields of a record line, split on single spaces, in one pass; the space offsets live in
/// the caller's [`Spaces`], so nothing is copied per line.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a, 's> {
    line: &'a str,
    /// Byte offset of each space.
    spaces: &'s [u32],
}

impl<'a, 's> Tokens<'a, 's> {
    /// Splits a trimmed record line that must have `expected` fields. A line of the wrong shape
    /// is reported as such (its field count, or an empty field), not as its first odd value.
    #[inline]
    pub fn split(
        line: &'a str,
        expected: usize,
        spaces: &'s mut Spaces,
    ) -> Result<Tokens<'a, 's>, LineError> {
        let bytes = line.as_bytes();
        let mut found = 1;
        // The first empty field (1-based): a space first, right after another, or last. Found
        // per space, not per byte: a space at `i` right after one at `last` (the line's start
        // counts as one, at -1).
        let mut empty = 0;
        let mut last = usize::MAX;
        let mut space = |i: usize| {
            if found <= MAX_FIELDS {
                spaces[found - 1] = i as u32;
            }
            if i == last.wrapping_add(1) && empty == 0 {
                empty = found;
            }
            last = i;
            found += 1;
        };
        // Eight bytes at a time: a word's spaces as the high bits of its zero bytes after XOR
        // with spaces (exact per byte: no carry crosses a byte), then each set bit in order.
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const SPACES: u64 = 0x2020_2020_2020_2020;
        let mut words = bytes.chunks_exact(8);
        let mut at = 0;
        for word in words.by_ref() {
            let x = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ SPACES;
            let mut zero = !(((x & LOW7) + LOW7) | x) & !LOW7;
            while zero != 0 {
                space(at + zero.trailing_zeros() as usize / 8);
                zero &= zero - 1;
            }
            at += 8;
        }
        for (i, &b) in words.remainder().iter().enumerate() {
            if b == b' ' {
                space(at + i);
            }
        }
        if bytes.is_empty() || (empty == 0 && bytes.last() == Some(&b' ')) {
            empty = found;
        }
        let seen = &spaces[..found.min(MAX_FIELDS) - 1];
        let empty = (empty > 0).then_some(empty);
        if let Some(field) = empty {
            return Err(LineError::Spacing { field });
        }
        if found != expected {
            return Err(LineError::FieldCount { expected, found });
        }
        Ok(Tokens { line, spaces: seen })
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.spaces.len() + 1
    }

    /// Never true: a line has at least one field.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The fields in order.
    #[inline]
    pub fn iter(&self) -> TokenIter<'a, 's> {
        TokenIter {
            line: self.line,
            spaces: self.spaces,
            start: 0,
            done: false,
        }
    }
}

/// The fields of a [`Tokens`] in order, each cut where the one before it ended.
#[derive(Debug)]
pub struct TokenIter<'a, 's> {
    line: &'a str,
    /// The spaces not passed yet.
    spaces: &'s [u32],
    start: usize,
    done: bool,
}

impl<'a> Iterator for TokenIter<'a, '_> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let end = match self.spaces.split_first() {
            Some((&at, rest)) => {
                self.spaces = rest;
                at as usize
            }
            None => {
                self.done = true;
                self.line.len()
            }
        };
        let token = &self.line[self.start..end];
        self.start = end + 1;
        Some(token)
    }
}

/// What is wrong with a record line that failed with `err`: a line that is a JSON object (a log
/// shipper's wrapping) is said to be one, rather than reported by its first odd field. Only a
/// line that does not decode is asked: a record's first field may start with `{` (a tag's
/// value, say).
pub fn explain(line: &str, err: LineError) -> LineError {
    if line.starts_with('{') && line.ends_with('}') {
        LineError::Json
    } else {
        err
    }
}

/// The value of field `field` (at 1-based `position`) from its token, `None` for `-`: the check
/// every reader makes, whether it keeps the value or not.
pub fn value(
    field: FieldId,
    position: usize,
    token: &str,
) -> Result<Option<Scalar<'_>>, LineError> {
    field.parse_token(token).map_err(|reason| LineError::Value {
        field,
        position,
        reason,
    })
}

/// Decodes a record line into `rec`, setting exactly the format's fields (others are left
/// untouched, so a reused record stays valid for one format). Whitespace around the line is
/// ignored; header and blank lines are the caller's ([`LineDecoder`] handles both).
pub fn decode_into(format: &LogFormat, line: &str, rec: &mut FlowRecord) -> Result<(), LineError> {
    let line = line.trim_ascii();
    let fields = format.fields();
    let mut spaces = [0; MAX_FIELDS];
    let tokens = Tokens::split(line, fields.len(), &mut spaces).map_err(|e| explain(line, e))?;
    for (i, (&field, token)) in fields.iter().zip(tokens.iter()).enumerate() {
        rec.set_text(field, token).map_err(|reason| {
            explain(
                line,
                LineError::Value {
                    field,
                    position: i + 1,
                    reason,
                },
            )
        })?;
    }
    Ok(())
}

/// Decodes one record line into a fresh record.
pub fn decode(format: &LogFormat, line: &str) -> Result<FlowRecord, LineError> {
    let mut rec = FlowRecord::default();
    decode_into(format, line, &mut rec)?;
    Ok(rec)
}

/// What [`LineDecoder::line`] made of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A blank line.
    Blank,
    /// A header line; `changed` when it names another format than the one in force.
    Header {
        /// Whether the format changed.
        changed: bool,
    },
    /// A record, decoded into the caller's record.
    Record,
}

/// Reads a file line by line by the rules above: the format in force is the latest header line's,
/// else AWS's default v2 format, unless the caller fixes it (`--format`), in which case a header
/// must name that same format. A file whose first line that is not blank is a JSON object is a
/// JSON lines file ([`crate::json`]): each line is a record object carrying its own keys.
#[derive(Debug, Clone)]
pub struct LineDecoder {
    format: LogFormat,
    fixed: bool,
    /// Whether a header line has set the format.
    headed: bool,
    /// Whether the file is JSON lines: decided by its first line that is not blank.
    json: Option<bool>,
}

impl LineDecoder {
    /// A decoder whose format is `fixed`, or follows the header lines.
    pub fn new(fixed: Option<LogFormat>) -> LineDecoder {
        LineDecoder {
            fixed: fixed.is_some(),
            format: fixed.unwrap_or_default(),
            headed: false,
            json: None,
        }
    }

    /// Whether the format in force is AWS's default only for want of another: no header line
    /// yet, and none given (a file of a custom format without its header reads wrong then).
    pub fn defaulted(&self) -> bool {
        !self.fixed && !self.headed && self.json != Some(true)
    }

    /// Whether `line`'s fields differ from a fixed format.
    fn differs(&self, what: &'static str, found: &LogFormat) -> Result<(), LineError> {
        if self.fixed && *found != self.format {
            return Err(LineError::FormatDiffers {
                what,
                found: found.header(),
                fixed: self.format.header(),
            });
        }
        Ok(())
    }

    /// The format in force.
    pub fn format(&self) -> &LogFormat {
        &self.format
    }

    /// Reads one line (without its line feed). A record sets exactly the format's fields of
    /// `rec` ([`LineDecoder::format`]: a JSON object's own keys); when a header changes the
    /// format, clear `rec` before the next record (fields of the old format would otherwise
    /// linger).
    pub fn line(&mut self, line: &[u8], rec: &mut FlowRecord) -> Result<Decoded, LineError> {
        let line = trim(line);
        if line.is_empty() {
            return Ok(Decoded::Blank);
        }
        let json = *self.json.get_or_insert_with(|| line.starts_with(b"{"));
        let line = std::str::from_utf8(line).map_err(|_| LineError::NotUtf8)?;
        if json {
            let (found, record) = crate::json::decode(line).map_err(LineError::JsonRecord)?;
            self.differs("the object's keys", &found)?;
            self.format = found;
            *rec = record;
            return Ok(Decoded::Record);
        }
        if let Some(found) = header(line) {
            let found = found.map_err(LineError::Header)?;
            self.differs("the header line", &found)?;
            let changed = found != self.format;
            self.format = found;
            self.headed = true;
            return Ok(Decoded::Header { changed });
        }
        decode_into(&self.format, line, rec)?;
        Ok(Decoded::Record)
    }
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

    const GOOD: &str = "2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";

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
        let rows = [
            ("2 123456789010 eni-1", "expected 14 fields, found 3"),
            (&*format!("{GOOD} extra"), "expected 14 fields, found 15"),
            (
                &*GOOD.replace(" 20641 ", " 2064x "),
                "field 6 (srcport): '2064x' is not a number",
            ),
            (
                &*GOOD.replace("172.31.16.139", "172.31.16.1399"),
                "field 4 (srcaddr): '172.31.16.1399' is not an IPv4 or IPv6 address",
            ),
            (
                &*GOOD.replace("ACCEPT", "ALLOW"),
                "field 13 (action): 'ALLOW' is not one of ACCEPT REJECT",
            ),
            (
                &*GOOD.replace(" 22 ", "  22 "),
                "field 7 is empty: fields are separated by exactly one space",
            ),
            (
                &*GOOD.replace(" 4249 ", " 99999999999999999999 "),
                "field 10 (bytes): 99999999999999999999 is out of range (expected 0..=9223372036854775807)",
            ),
            (
                &*format!("{{\"message\":\"{GOOD}\"}}"),
                "a JSON object where a record line was expected (a JSON lines file holds only JSON)",
            ),
            (
                &*GOOD.replace("eni-1", "eni\t1"),
                "field 3 (interface-id): value 'eni\t1' contains whitespace",
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
    fn a_record_may_start_with_a_brace() {
        let f = LogFormat::parse("${instance-tag} ${srcaddr}").unwrap();
        let r = decode(&f, "{blue} 10.0.0.1").unwrap();
        assert_eq!(r.instance_tag.as_deref(), Some("{blue}"));
    }

    #[test]
    fn whitespace_around_a_line_is_not_part_of_it() {
        let f = LogFormat::default_v2();
        let want = decode(&f, GOOD).unwrap();
        for line in [
            format!("{GOOD}\r"),
            format!("  {GOOD}  "),
            format!("\t{GOOD}\t\r"),
        ] {
            assert_eq!(decode(&f, &line).unwrap(), want, "{line:?}");
        }
    }

    #[test]
    fn header_lines_are_recognised_in_either_spelling_and_unknown_fields_named() {
        // (line, Some(format or error) when it is a header line, None for a record line)
        let rows: &[(&str, Option<Result<&str, &str>>)] = &[
            (
                "version account-id srcaddr",
                Some(Ok("version account-id srcaddr")),
            ),
            (
                "version account_id log_status",
                Some(Ok("version account-id log-status")),
            ),
            ("srcaddr pkt_srcaddr", Some(Ok("srcaddr pkt-srcaddr"))),
            (
                "version tgw-id tgw-attachment-id packets-lost-no-route",
                Some(Ok("version tgw-id tgw-attachment-id packets-lost-no-route")),
            ),
            (
                "version account-id interfaceid srcaddr",
                Some(Err(
                    "unknown field 'interfaceid' at position 19, did you mean 'interface-id'?",
                )),
            ),
            (
                "version account-id bogus-field",
                Some(Err("unknown field 'bogus-field' at position 19")),
            ),
            (
                "srcaddr srcaddr",
                Some(Err("field 'srcaddr' appears twice (positions 0 and 8)")),
            ),
            (
                "version interface-id tgw-id",
                Some(Err(
                    "a format holds VPC or Transit Gateway fields, not both: 'interface-id' is a VPC field, 'tgw-id' a Transit Gateway field",
                )),
            ),
            (GOOD, None),
            ("ingress", None),
            ("eni-0a1b vpc-1234", None),
            ("IPv4 egress", None),
            ("{\"version\":2}", None),
        ];
        for (line, want) in rows {
            let got = header(line).map(|r| r.map(|f| f.header()).map_err(|e| e.to_string()));
            let want = want.map(|r| r.map(str::to_owned).map_err(str::to_owned));
            assert_eq!(got, want, "line {line:?}");
        }
    }

    #[test]
    fn the_line_decoder_follows_headers_and_skips_blank_lines() {
        let v3 = "version interface-id srcaddr tcp-flags";
        let lines: &[(&str, Result<Decoded, &str>)] = &[
            ("", Ok(Decoded::Blank)),
            ("  \r", Ok(Decoded::Blank)),
            (GOOD, Ok(Decoded::Record)),
            (
                "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
                Ok(Decoded::Header { changed: false }),
            ),
            (v3, Ok(Decoded::Header { changed: true })),
            ("3 eni-2 10.0.0.1 19", Ok(Decoded::Record)),
            (GOOD, Err("expected 4 fields, found 14")),
            (
                "version account_id interface_id srcaddr dstaddr srcport dstport protocol packets bytes start end action log_status",
                Ok(Decoded::Header { changed: true }),
            ),
            (GOOD, Ok(Decoded::Record)),
        ];
        let mut d = LineDecoder::new(None);
        let mut rec = FlowRecord::default();
        for (line, want) in lines {
            let got = d.line(line.as_bytes(), &mut rec).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_owned), "line {line:?}");
        }
        assert_eq!(d.line(b"\xff 1", &mut rec).unwrap_err(), LineError::NotUtf8);
        let mut fixed = LineDecoder::new(Some(LogFormat::from_header(v3).unwrap()));
        assert_eq!(
            fixed
                .line(b"version srcaddr", &mut rec)
                .unwrap_err()
                .to_string(),
            "the header line 'version srcaddr' differs from the format given, 'version interface-id srcaddr tcp-flags'"
        );
        assert_eq!(
            fixed.line(v3.as_bytes(), &mut rec),
            Ok(Decoded::Header { changed: false })
        );
    }

    #[test]
    fn a_file_that_starts_with_an_object_is_json_lines() {
        let mut d = LineDecoder::new(None);
        let mut rec = FlowRecord::default();
        assert_eq!(d.line(b"  ", &mut rec), Ok(Decoded::Blank));
        assert_eq!(
            d.line(br#"{"srcaddr":"10.0.0.1","bytes":40}"#, &mut rec),
            Ok(Decoded::Record)
        );
        assert_eq!(d.format().header(), "srcaddr bytes");
        assert_eq!(rec.bytes, Some(Count(40)));
        // Header and record lines are not JSON: bad lines of a JSON lines file.
        assert!(matches!(
            d.line(b"srcaddr bytes", &mut rec),
            Err(LineError::JsonRecord(_))
        ));
        assert!(matches!(
            d.line(GOOD.as_bytes(), &mut rec),
            Err(LineError::JsonRecord(_))
        ));
    }

    #[test]
    fn tokens_split_on_single_spaces() {
        let mut spaces = [0; MAX_FIELDS];
        let t = Tokens::split("a b c", 3, &mut spaces).unwrap();
        assert_eq!(t.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(t.len(), 3);
        let long = vec!["1"; 100].join(" ");
        assert_eq!(
            Tokens::split(&long, 14, &mut spaces).unwrap_err(),
            LineError::FieldCount {
                expected: 14,
                found: 100
            }
        );
        assert_eq!(
            Tokens::split("a  b", 3, &mut spaces).unwrap_err(),
            LineError::Spacing { field: 2 }
        );
    }

    proptest::proptest! {
        /// The word-at-a-time split finds what splitting on every space finds: the fields, the
        /// first empty one, or the count.
        #[test]
        fn tokens_split_as_a_plain_split_does(line in "[ab ]{0,90}") {
            let words: Vec<&str> = line.split(' ').collect();
            let mut spaces = [0; MAX_FIELDS];
            let got = Tokens::split(&line, words.len(), &mut spaces)
                .map(|t| t.iter().map(str::to_owned).collect::<Vec<_>>());
            match words.iter().position(|w| w.is_empty()) {
                Some(i) => proptest::prop_assert_eq!(got, Err(LineError::Spacing { field: i + 1 })),
                None => proptest::prop_assert_eq!(got, Ok(words.iter().map(|w| (*w).to_owned()).collect())),
            }
            if !words.iter().any(|w| w.is_empty()) && words.len() < MAX_FIELDS {
                proptest::prop_assert_eq!(
                    Tokens::split(&line, words.len() + 1, &mut spaces).unwrap_err(),
                    LineError::FieldCount { expected: words.len() + 1, found: words.len() }
                );
            }
        }
    }
}
