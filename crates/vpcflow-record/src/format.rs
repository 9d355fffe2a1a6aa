//! `LogFormat`: which fields a flow log writes, in what order, and the version that implies.
//!
//! Owns parsing and validating `${field}` strings the way the EC2 API does (flow-log-format.md
//! §4), the bare header form (`version account-id …`, the first line of S3 text files), and the
//! default v2 format. It does not encode records; see [`crate::text`].

use std::fmt;
use std::str::FromStr;

use crate::registry::{FIELDS, FieldId, Scope};

/// AWS's default format: the 14 version-2 fields in table order.
pub const DEFAULT_FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

/// A validated list of distinct fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogFormat {
    fields: Vec<FieldId>,
    version: u8,
}

/// Why a format string was refused. `position` is a byte offset into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The format names no field.
    #[error("the format is empty: it must name at least one field")]
    Empty,
    /// A leading, trailing or doubled space (AWS separates fields by exactly one space).
    #[error("{what} at position {position}: fields are separated by exactly one space")]
    Spacing {
        /// "leading space", "trailing space" or "two spaces in a row".
        what: &'static str,
        /// Byte offset of the space.
        position: usize,
    },
    /// A token not of the form `${field}` (e.g. Terraform's `$${field}` escaping leaking through).
    #[error("'{token}' at position {position} is not of the form ${{field}}")]
    NotAField {
        /// The token.
        token: String,
        /// Byte offset of the token.
        position: usize,
    },
    /// A name that is not a VPC flow-log field.
    #[error("unknown field '{name}' at position {position}{}", suggest(name))]
    UnknownField {
        /// The name inside `${…}` (or the bare header word).
        name: String,
        /// Byte offset of the token.
        position: usize,
    },
    /// VPC fields and Transit Gateway fields together: no flow log writes such lines.
    #[error(
        "a format holds VPC or Transit Gateway fields, not both: '{vpc}' is a VPC field, '{tgw}' a Transit Gateway field"
    )]
    MixedScopes {
        /// A VPC-only field of the format.
        vpc: &'static str,
        /// A Transit Gateway-only field of the format.
        tgw: &'static str,
    },
    /// A Transit Gateway field where a VPC flow log's format is wanted (vpcflow reads Transit
    /// Gateway flow logs, and makes VPC flow logs only).
    #[error(
        "'{name}' is a Transit Gateway flow-log field: vpcflow reads Transit Gateway flow logs but makes VPC flow logs only"
    )]
    TransitGatewayField {
        /// The field.
        name: &'static str,
    },
    /// A field named twice.
    #[error("field '{name}' appears twice (positions {first} and {position})")]
    Duplicate {
        /// The field.
        name: &'static str,
        /// Byte offset of the first occurrence.
        first: usize,
        /// Byte offset of the second occurrence.
        position: usize,
    },
}

/// ", did you mean 'x'?" for the field nearest a name, when one is near: the same letters and
/// digits (`src-addr`, `logstatus`, `Log_Status`), or a few edits apart: one per four letters,
/// at least one (`vpc-idd`, `dstprt`; not `nope`).
fn suggest(name: &str) -> String {
    let squash = |s: &str| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    };
    let want = squash(&name.to_ascii_lowercase());
    FIELDS
        .iter()
        .map(|f| (edits(&squash(f.name), &want), f))
        .filter(|(d, _)| *d <= (want.len() / 4).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| format!(", did you mean '{}'?", f.name))
        .unwrap_or_default()
}

/// The Levenshtein distance between two short ASCII words.
fn edits(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

impl FormatError {
    /// The message the EC2 API returns for an invalid `LogFormat` (flow-log-format.md §4.2:
    /// observed for a trailing space and for `$${…}`).
    pub fn aws_message(input: &str) -> String {
        format!("1 validation error detected: Value '{input}' at 'logFormat' has an invalid format")
    }
}

/// Splits on single spaces, refusing leading, trailing and doubled spaces; yields (offset, token).
fn tokens(input: &str) -> Result<Vec<(usize, &str)>, FormatError> {
    if input.trim().is_empty() {
        return Err(FormatError::Empty);
    }
    let mut out = Vec::new();
    let mut offset = 0;
    for tok in input.split(' ') {
        if tok.is_empty() {
            // The position is that of the extra space: the trailing one is the last byte.
            let (what, position) = if offset == 0 {
                ("leading space", 0)
            } else if offset == input.len() {
                ("trailing space", offset - 1)
            } else {
                ("two spaces in a row", offset)
            };
            return Err(FormatError::Spacing { what, position });
        }
        out.push((offset, tok));
        offset += tok.len() + 1;
    }
    Ok(out)
}

impl LogFormat {
    /// AWS's default (version 2) format.
    pub fn default_v2() -> LogFormat {
        LogFormat::from_fields(FIELDS.iter().filter(|f| f.version == 2).map(|f| f.id))
            .expect("the v2 fields are distinct")
    }

    /// Parses the API form, `${version} ${account-id} …`.
    pub fn parse(input: &str) -> Result<LogFormat, FormatError> {
        let mut fields = Vec::new();
        for (position, tok) in tokens(input)? {
            let name = tok
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .filter(|n| !n.contains(['$', '{', '}']))
                .ok_or_else(|| FormatError::NotAField {
                    token: tok.to_owned(),
                    position,
                })?;
            fields.push((position, name));
        }
        Self::from_named(fields, FieldId::from_name)
    }

    /// Parses the header form, `version account-id …` (the first line of S3 text files), in
    /// either spelling: AWS names or Parquet column names (`version account_id …`).
    pub fn from_header(input: &str) -> Result<LogFormat, FormatError> {
        Self::from_named(tokens(input)?, FieldId::from_name_or_column)
    }

    /// Parses either form: `${…}` tokens if the input has any, else the header form.
    pub fn parse_any(input: &str) -> Result<LogFormat, FormatError> {
        if input.contains("${") {
            Self::parse(input)
        } else {
            Self::from_header(input)
        }
    }

    /// Builds a format from field ids; fails on a duplicate or an empty list.
    pub fn from_fields(ids: impl IntoIterator<Item = FieldId>) -> Result<LogFormat, FormatError> {
        let fields: Vec<FieldId> = ids.into_iter().collect();
        if fields.is_empty() {
            return Err(FormatError::Empty);
        }
        let of_scope = |scope| fields.iter().find(|f| f.def().scope == scope);
        if let (Some(vpc), Some(tgw)) = (of_scope(Scope::Vpc), of_scope(Scope::Tgw)) {
            return Err(FormatError::MixedScopes {
                vpc: vpc.name(),
                tgw: tgw.name(),
            });
        }
        for (i, f) in fields.iter().enumerate() {
            if let Some(first) = fields[..i].iter().position(|g| g == f) {
                return Err(FormatError::Duplicate {
                    name: f.name(),
                    first,
                    position: i,
                });
            }
        }
        let version = fields.iter().map(|f| f.version()).max().unwrap_or(2);
        Ok(LogFormat { fields, version })
    }

    fn from_named(
        named: Vec<(usize, &str)>,
        lookup: fn(&str) -> Option<FieldId>,
    ) -> Result<LogFormat, FormatError> {
        let mut fields: Vec<(usize, FieldId)> = Vec::with_capacity(named.len());
        for (position, name) in named {
            let id = lookup(name).ok_or_else(|| FormatError::UnknownField {
                name: name.to_owned(),
                position,
            })?;
            if let Some((first, _)) = fields.iter().find(|(_, f)| *f == id) {
                return Err(FormatError::Duplicate {
                    name: id.name(),
                    first: *first,
                    position,
                });
            }
            fields.push((position, id));
        }
        Self::from_fields(fields.into_iter().map(|(_, f)| f))
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[FieldId] {
        &self.fields
    }

    /// Number of fields (= tokens per record line).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Always false: a format names at least one field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The record version this format implies: the highest version among its fields.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Which flow logs write lines of this format: [`Scope::Tgw`] or [`Scope::Vpc`] when it
    /// has a field of only one kind, [`Scope::Both`] when all its fields are shared.
    pub fn scope(&self) -> Scope {
        self.fields
            .iter()
            .map(|f| f.def().scope)
            .find(|s| *s != Scope::Both)
            .unwrap_or(Scope::Both)
    }

    /// The format itself when a VPC flow log can write it (no Transit Gateway field): what
    /// CreateFlowLogs and the sources that make records accept.
    pub fn vpc(self) -> Result<LogFormat, FormatError> {
        match self.fields.iter().find(|f| f.def().scope == Scope::Tgw) {
            Some(f) => Err(FormatError::TransitGatewayField { name: f.name() }),
            None => Ok(self),
        }
    }

    /// True when the format is exactly AWS's default.
    pub fn is_default(&self) -> bool {
        *self == LogFormat::default_v2()
    }

    /// Position of a field in the format, if present.
    pub fn position(&self, id: FieldId) -> Option<usize> {
        self.fields.iter().position(|f| *f == id)
    }

    /// The header line (`version account-id …`), as S3 text files start.
    pub fn header(&self) -> String {
        self.fields
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// True when `line` is a header line by [`crate::text`]'s rules (valid or not).
    pub fn is_header_line(line: &str) -> bool {
        crate::text::header(line.trim_ascii()).is_some()
    }
}

impl Default for LogFormat {
    fn default() -> Self {
        LogFormat::default_v2()
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "${{{}}}", id.name())?;
        }
        Ok(())
    }
}

impl FromStr for LogFormat {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, FormatError> {
        LogFormat::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_format_is_v2_and_prints_as_aws_writes_it() {
        let f = LogFormat::default_v2();
        assert_eq!(f.to_string(), DEFAULT_FORMAT);
        assert_eq!(f.version(), 2);
        assert_eq!(f.len(), 14);
        assert_eq!(LogFormat::parse(DEFAULT_FORMAT).unwrap(), f);
        assert!(f.is_default());
        assert_eq!(
            f.header(),
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
        );
    }

    #[test]
    fn version_is_the_highest_field_version() {
        let rows = [
            ("${srcaddr}", 2),
            ("${instance-id} ${interface-id} ${srcaddr}", 3),
            ("${version} ${region} ${srcaddr}", 4),
            ("${traffic-path} ${srcaddr}", 5),
            ("${ecs-task-id}", 7),
            ("${reject-reason} ${action}", 8),
            ("${resource-id}", 9),
            ("${encryption-status} ${srcaddr}", 10),
            ("${next-hop-vpc-id} ${version}", 11),
        ];
        for (input, v) in rows {
            assert_eq!(LogFormat::parse(input).unwrap().version(), v, "{input}");
        }
    }

    #[test]
    fn invalid_formats_are_refused_with_a_reason() {
        // One row per rejection rule (flow-log-format.md §4.2 and the list).
        let rows = [
            ("", "the format is empty: it must name at least one field"),
            (
                "   ",
                "the format is empty: it must name at least one field",
            ),
            (
                "${version} ${srcaddr} ",
                "trailing space at position 21: fields are separated by exactly one space",
            ),
            (
                " ${version}",
                "leading space at position 0: fields are separated by exactly one space",
            ),
            (
                "${version}  ${srcaddr}",
                "two spaces in a row at position 11: fields are separated by exactly one space",
            ),
            (
                "$${version} ${srcaddr}",
                "'$${version}' at position 0 is not of the form ${field}",
            ),
            (
                "${version} srcaddr",
                "'srcaddr' at position 11 is not of the form ${field}",
            ),
            (
                "${version",
                "'${version' at position 0 is not of the form ${field}",
            ),
            (
                "${version} ${src-addr}",
                "unknown field 'src-addr' at position 11, did you mean 'srcaddr'?",
            ),
            ("${nope}", "unknown field 'nope' at position 0"),
            (
                "${vpc-idd}",
                "unknown field 'vpc-idd' at position 0, did you mean 'vpc-id'?",
            ),
            (
                "${dstprt}",
                "unknown field 'dstprt' at position 0, did you mean 'dstport'?",
            ),
            (
                "${srcaddr} ${dstaddr} ${srcaddr}",
                "field 'srcaddr' appears twice (positions 0 and 22)",
            ),
            (
                "${interface-id} ${tgw-id}",
                "a format holds VPC or Transit Gateway fields, not both: 'interface-id' is a VPC field, 'tgw-id' a Transit Gateway field",
            ),
            (
                "${account_id}",
                "unknown field 'account_id' at position 0, did you mean 'account-id'?",
            ),
        ];
        for (input, want) in rows {
            let err = LogFormat::parse(input).unwrap_err();
            assert_eq!(err.to_string(), want, "input {input:?}");
        }
    }

    #[test]
    fn transit_gateway_formats_are_read_not_made() {
        let tgw =
            LogFormat::parse("${version} ${tgw-id} ${srcaddr} ${packets-lost-no-route}").unwrap();
        assert_eq!(tgw.scope(), Scope::Tgw);
        assert_eq!(tgw.version(), 6);
        assert_eq!(
            tgw.vpc().unwrap_err().to_string(),
            "'tgw-id' is a Transit Gateway flow-log field: vpcflow reads Transit Gateway flow logs but makes VPC flow logs only"
        );
        assert_eq!(LogFormat::default_v2().scope(), Scope::Vpc);
        let shared = LogFormat::parse("${srcaddr} ${dstaddr}").unwrap();
        assert_eq!(shared.scope(), Scope::Both);
        assert!(shared.vpc().is_ok());
    }

    #[test]
    fn aws_message_matches_the_api() {
        assert_eq!(
            FormatError::aws_message("${version} "),
            "1 validation error detected: Value '${version} ' at 'logFormat' has an invalid format"
        );
    }

    #[test]
    fn header_form_and_detection() {
        let f = LogFormat::from_header("instance-id interface-id srcaddr").unwrap();
        assert_eq!(f.to_string(), "${instance-id} ${interface-id} ${srcaddr}");
        assert_eq!(
            LogFormat::parse_any("instance-id interface-id srcaddr").unwrap(),
            f
        );
        assert_eq!(
            LogFormat::parse_any("${instance-id} ${interface-id} ${srcaddr}").unwrap(),
            f
        );
        assert!(LogFormat::is_header_line("version account-id\r\n"));
        assert!(!LogFormat::is_header_line(
            "2 123456789010 eni-1 - - - - - - - 1 2 - NODATA"
        ));
        assert!(!LogFormat::is_header_line(""));
    }
}
