//! The values conditions compare, shared by space-delimited and JSON patterns: the lexing of a
//! value (quoted text, `%regex%`, a bare word), wildcards, numbers, and the comparison
//! operators.

use super::regex::Re;
use super::{Fail, Problem};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// The operator at the start of `s`, and its length.
    pub(super) fn lex(s: &str) -> Option<(Op, usize)> {
        let two = s.get(..2);
        Some(match (two, s.as_bytes().first()) {
            (Some("!="), _) => (Op::Ne, 2),
            (Some("<="), _) => (Op::Le, 2),
            (Some(">="), _) => (Op::Ge, 2),
            (_, Some(b'=')) => (Op::Eq, 1),
            (_, Some(b'<')) => (Op::Lt, 1),
            (_, Some(b'>')) => (Op::Gt, 1),
            _ => return None,
        })
    }
}

/// What a condition compares with.
#[derive(Debug, Clone)]
pub(super) enum Value {
    /// Text, with `*` matching any run of characters.
    Text(Glob),
    /// A number written bare: compared numerically with a numeric field, else as text.
    Number(f64, Glob),
    /// `%regex%`: the field contains a match.
    Regex(Re),
}

/// A comparison: the operator and its value (checked: ordering only with numbers, regexes only
/// with `=`/`!=`).
#[derive(Debug, Clone)]
pub(super) struct Comparison {
    pub(super) op: Op,
    pub(super) value: Value,
}

impl Comparison {
    /// Builds one, refusing an operator the value cannot take (`at`: the value's byte).
    pub(super) fn new(op: Op, value: Value, raw: &str, at: usize) -> Result<Self, Fail> {
        match (&value, op) {
            (Value::Regex(_), Op::Eq | Op::Ne) => {}
            (Value::Regex(_), _) => return Err((at, Problem::RegexOperator)),
            (Value::Text(_), Op::Lt | Op::Le | Op::Gt | Op::Ge) => {
                return Err((at, Problem::NotANumber(raw.to_owned())));
            }
            _ => {}
        }
        Ok(Comparison { op, value })
    }

    /// Whether a field's text satisfies it.
    pub(super) fn test_text(&self, field: &str) -> bool {
        let number = || number(field);
        match (&self.value, self.op) {
            (Value::Regex(re), Op::Eq) => re.is_match(field),
            (Value::Regex(re), _) => !re.is_match(field),
            (Value::Text(g), Op::Eq) => g.is_match(field),
            (Value::Text(g), _) => !g.is_match(field),
            (Value::Number(n, g), op) => match number() {
                Some(f) => order(f, op, *n),
                None => match op {
                    Op::Eq => g.is_match(field),
                    Op::Ne => !g.is_match(field),
                    _ => false,
                },
            },
        }
    }

    /// Whether a number satisfies it (a JSON number).
    pub(super) fn test_number(&self, field: f64, text: &str) -> bool {
        match &self.value {
            Value::Number(n, _) => order(field, self.op, *n),
            Value::Text(_) | Value::Regex(_) => self.test_text(text),
        }
    }

    /// Whether it holds a regex.
    pub(super) fn is_regex(&self) -> bool {
        matches!(self.value, Value::Regex(_))
    }
}

fn order(field: f64, op: Op, value: f64) -> bool {
    match op {
        Op::Eq => field == value,
        Op::Ne => field != value,
        Op::Lt => field < value,
        Op::Le => field <= value,
        Op::Gt => field > value,
        Op::Ge => field >= value,
    }
}

/// A number as a field spells it: an optional sign, digits with at most one `.`, an optional
/// exponent (no `inf`, `NaN` or hex: those are words).
pub(super) fn number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits_from = i;
    let mut dot = false;
    while i < b.len() && (b[i].is_ascii_digit() || (b[i] == b'.' && !dot)) {
        dot |= b[i] == b'.';
        i += 1;
    }
    let mantissa = &b[digits_from..i];
    if !mantissa.iter().any(u8::is_ascii_digit) {
        return None;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        let from = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == from {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse().ok()
}

/// Text with `*` wildcards.
#[derive(Debug, Clone)]
pub(super) struct Glob {
    parts: Vec<String>,
}

impl Glob {
    pub(super) fn new(text: &str) -> Self {
        Glob {
            parts: text.split('*').map(str::to_owned).collect(),
        }
    }

    pub(super) fn is_match(&self, s: &str) -> bool {
        let [first, middle @ .., last] = self.parts.as_slice() else {
            return self.parts.first().is_some_and(|p| p == s);
        };
        let Some(mut rest) = s.strip_prefix(first.as_str()) else {
            return false;
        };
        for part in middle {
            match rest.find(part.as_str()) {
                Some(i) => rest = &rest[i + part.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last.as_str())
    }
}

/// A value lexed from the start of `s` (after an operator and blanks), its raw text, and its
/// length in bytes. A bare value ends at a blank or at any of `stop`'s characters, or at `&&`
/// or `||`.
pub(super) fn lex_value(s: &str, stop: &[char]) -> Result<(Value, String, usize), Fail> {
    if let Some(body) = s.strip_prefix('"') {
        let (text, len) = quoted(body).ok_or((0, Problem::UnclosedQuote))?;
        let value = Value::Text(Glob::new(&text));
        return Ok((value, text, len + 1));
    }
    if let Some(body) = s.strip_prefix('%') {
        let end = body.find('%').ok_or((0, Problem::UnclosedRegex))?;
        let re = Re::parse(&body[..end]).map_err(|(b, p)| (b + 1, p))?;
        return Ok((Value::Regex(re), body[..end].to_owned(), end + 2));
    }
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if c.is_whitespace()
            || stop.contains(&c)
            || s[i..].starts_with("&&")
            || s[i..].starts_with("||")
        {
            break;
        }
        end = i + c.len_utf8();
    }
    if end == 0 {
        return Err((0, Problem::Expected("a value")));
    }
    let raw = &s[..end];
    let value = match number(raw) {
        Some(n) => Value::Number(n, Glob::new(raw)),
        None => Value::Text(Glob::new(raw)),
    };
    Ok((value, raw.to_owned(), end))
}

/// The text of a quoted string whose opening `"` is already read (`\"` and `\\` escape), and
/// the bytes read including the closing `"`.
pub(super) fn quoted(body: &str) -> Option<(String, usize)> {
    let mut text = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((text, i + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => text.push(e),
                Some((_, e)) => {
                    text.push('\\');
                    text.push(e);
                }
                None => return None,
            },
            c => text.push(c),
        }
    }
    None
}

/// Bytes of leading blanks.
pub(super) fn blanks(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (g, s, yes) in [
            ("4*", "404", true),
            ("4*", "500", false),
            ("*.html*", "/index.html?x", true),
            ("*.html*", "/index.htm", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "ab", false),
            ("ab*ba", "aba", false),
            ("*", "", true),
            ("x", "x", true),
            ("x", "xx", false),
        ] {
            assert_eq!(Glob::new(g).is_match(s), yes, "{g} {s}");
        }
    }

    #[test]
    fn numbers_are_spelled_as_numbers() {
        for (s, n) in [
            ("22", Some(22.0)),
            ("-1.5", Some(-1.5)),
            ("1e3", Some(1000.0)),
            (".5", Some(0.5)),
        ] {
            assert_eq!(number(s), n, "{s}");
        }
        for s in ["", "-", "inf", "NaN", "1e", "0x10", "1.2.3", "12a", "."] {
            assert_eq!(number(s), None, "{s}");
        }
    }
}
