//! Space-delimited patterns (§2.3), the form flow logs use:
//! `[version, account, eni, source, destination, srcport, destport="22", …, action="REJECT", …]`.
//! Each comma-separated slot names one field of the event, optionally with conditions joined
//! by `&&` and `||` (`&&` binds tighter); `...` stands for any number of fields.
//!
//! Matching aligns slots with the event's fields: without an ellipsis directly (the last slot
//! taking the rest of the line); with one, by dynamic programming over (slot, field), so that
//! any number of ellipses costs at most slots × fields steps.

use super::value::{Comparison, Op, blanks, lex_value};
use super::{Fail, MAX_REGEXES, Problem};

#[derive(Debug, Clone)]
pub(super) struct Delimited {
    slots: Vec<Slot>,
    names: Vec<String>,
    ellipsis: bool,
}

#[derive(Debug, Clone)]
enum Slot {
    Ellipsis,
    /// A field: its index in `names`, and its condition (any of all of).
    Field(usize, Vec<Vec<Comparison>>),
}

/// Characters that end a bare name or value inside `[…]`.
const STOP: &[char] = &[',', ']', '[', '=', '!', '<', '>', '"', '%', '&', '|'];

impl Delimited {
    /// Parses `[…]` (the text starts with `[`).
    pub(super) fn parse(text: &str) -> Result<Self, Fail> {
        let mut p = Delimited {
            slots: Vec::new(),
            names: Vec::new(),
            ellipsis: false,
        };
        let mut i = 1;
        loop {
            i += blanks(&text[i..]);
            let rest = &text[i..];
            if rest.starts_with("...") {
                p.slots.push(Slot::Ellipsis);
                p.ellipsis = true;
                i += 3;
            } else {
                i = p.slot(text, i)?;
            }
            i += blanks(&text[i..]);
            match text[i..].chars().next() {
                Some(',') => i += 1,
                Some(']') => {
                    i += 1;
                    break;
                }
                _ => return Err((i, Problem::Expected(", or ]"))),
            }
        }
        i += blanks(&text[i..]);
        if i < text.len() {
            return Err((i, Problem::Trailing));
        }
        if p.regexes() > MAX_REGEXES {
            return Err((0, Problem::TooManyRegexes));
        }
        Ok(p)
    }

    /// One named slot from byte `i`: its name, then any conditions. Returns where it ends.
    fn slot(&mut self, text: &str, mut i: usize) -> Result<usize, Fail> {
        let name = field_name(&text[i..]).ok_or((i, Problem::Expected("a field name or ...")))?;
        if self.names.iter().any(|n| n == name) {
            return Err((i, Problem::DuplicateField(name.to_owned())));
        }
        self.names.push(name.to_owned());
        let index = self.names.len() - 1;
        let mut any_of: Vec<Vec<Comparison>> = Vec::new();
        let mut all_of: Vec<Comparison> = Vec::new();
        let mut subject = name;
        loop {
            i += subject.len();
            i += blanks(&text[i..]);
            let Some((op, len)) = Op::lex(&text[i..]) else {
                if all_of.is_empty() && any_of.is_empty() {
                    break;
                }
                return Err((i, Problem::Expected("=, !=, <, <=, > or >=")));
            };
            i += len;
            i += blanks(&text[i..]);
            let (value, raw, len) = lex_value(&text[i..], STOP).map_err(|(b, p)| (i + b, p))?;
            all_of.push(Comparison::new(op, value, &raw, i)?);
            i += len;
            i += blanks(&text[i..]);
            let rest = &text[i..];
            let joiner = if rest.starts_with("&&") {
                false
            } else if rest.starts_with("||") {
                true
            } else {
                any_of.push(std::mem::take(&mut all_of));
                break;
            };
            if joiner {
                any_of.push(std::mem::take(&mut all_of));
            }
            i += 2;
            i += blanks(&text[i..]);
            let next = field_name(&text[i..]).ok_or((i, Problem::Expected("a field name")))?;
            if next != self.names[index] {
                return Err((
                    i,
                    Problem::OtherField(self.names[index].clone(), next.to_owned()),
                ));
            }
            subject = next;
        }
        self.slots.push(Slot::Field(index, any_of));
        Ok(i)
    }

    /// The fields it names.
    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub(super) fn regexes(&self) -> usize {
        self.slots
            .iter()
            .map(|s| match s {
                Slot::Ellipsis => 0,
                Slot::Field(_, any) => any.iter().flatten().filter(|c| c.is_regex()).count(),
            })
            .sum()
    }

    pub(super) fn is_match(&self, message: &str) -> bool {
        self.align(message).is_some()
    }

    /// The named fields' values (`$name` → text) when the event matches.
    pub(super) fn extract(&self, message: &str) -> Option<Vec<(String, String)>> {
        let bound = self.align(message)?;
        Some(
            bound
                .into_iter()
                .map(|(i, v)| (format!("${}", self.names[i]), v.to_owned()))
                .collect(),
        )
    }

    /// Each named slot's field (by name index) in an alignment that satisfies every condition.
    fn align<'m>(&self, message: &'m str) -> Option<Vec<(usize, &'m str)>> {
        let fields = event_fields(message);
        if !self.ellipsis {
            return self.align_direct(message, &fields);
        }
        let (s, f) = (self.slots.len(), fields.len());
        let mut failed = vec![false; (s + 1) * (f + 1)];
        let mut bound = Vec::new();
        self.walk(0, 0, &fields, &mut failed, &mut bound)
            .then_some(bound)
    }

    /// No ellipsis: slot i takes field i, the last slot the rest of the line.
    fn align_direct<'m>(
        &self,
        message: &'m str,
        fields: &[Field<'m>],
    ) -> Option<Vec<(usize, &'m str)>> {
        let n = self.slots.len();
        if fields.len() < n {
            return None;
        }
        let mut bound = Vec::with_capacity(n);
        for (k, slot) in self.slots.iter().enumerate() {
            let Slot::Field(index, any) = slot else {
                unreachable!("no ellipsis")
            };
            let text = if k + 1 == n && fields.len() > n {
                message[fields[k].start..].trim_end()
            } else {
                fields[k].text
            };
            if !holds(any, text) {
                return None;
            }
            bound.push((*index, text));
        }
        Some(bound)
    }

    /// Whether slots from `s` can take fields from `f` to the end; binds as it succeeds.
    fn walk<'m>(
        &self,
        s: usize,
        f: usize,
        fields: &[Field<'m>],
        failed: &mut [bool],
        bound: &mut Vec<(usize, &'m str)>,
    ) -> bool {
        let key = s * (fields.len() + 1) + f;
        if failed[key] {
            return false;
        }
        let ok = match self.slots.get(s) {
            None => f == fields.len(),
            Some(Slot::Ellipsis) => {
                (f..=fields.len()).any(|g| self.walk(s + 1, g, fields, failed, bound))
            }
            Some(Slot::Field(index, any)) => {
                f < fields.len() && holds(any, fields[f].text) && {
                    bound.push((*index, fields[f].text));
                    let rest = self.walk(s + 1, f + 1, fields, failed, bound);
                    if !rest {
                        bound.pop();
                    }
                    rest
                }
            }
        };
        if !ok {
            failed[key] = true;
        }
        ok
    }
}

/// A slot's condition: none, or any of its `&&` groups all hold.
fn holds(any: &[Vec<Comparison>], text: &str) -> bool {
    any.is_empty() || any.iter().any(|all| all.iter().all(|c| c.test_text(text)))
}

/// A name at the start of `s`: up to a blank or a character that ends names.
fn field_name(s: &str) -> Option<&str> {
    let end = s
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || STOP.contains(c))
        .map_or(s.len(), |(i, _)| i);
    (end > 0 && &s[..end] != "...").then(|| &s[..end])
}

/// One field of an event: its text (without `"…"` or `[…]` around it) and where it starts.
#[derive(Debug, Clone, Copy)]
struct Field<'m> {
    text: &'m str,
    start: usize,
}

/// An event's fields: blank-separated, `"…"` and `[…]` each one field.
fn event_fields(message: &str) -> Vec<Field<'_>> {
    let mut fields = Vec::new();
    let mut i = 0;
    let b = message.as_bytes();
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let close = match b[i] {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        let enclosed = close.and_then(|c| {
            message[i + 1..]
                .bytes()
                .position(|x| x == c)
                .map(|n| (i + 1, i + 1 + n))
        });
        match enclosed {
            Some((from, to)) => {
                fields.push(Field {
                    text: &message[from..to],
                    start: i,
                });
                i = to + 1;
            }
            None => {
                let end = message[i..]
                    .find(|c: char| c.is_ascii_whitespace())
                    .map_or(message.len(), |n| i + n);
                fields.push(Field {
                    text: &message[i..end],
                    start: i,
                });
                i = end;
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_fields_group_quotes_and_brackets() {
        let m = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#;
        let texts: Vec<&str> = event_fields(m).iter().map(|f| f.text).collect();
        assert_eq!(
            texts,
            [
                "127.0.0.1",
                "-",
                "frank",
                "10/Oct/2000:13:25:15 -0700",
                "GET /apache_pb.gif HTTP/1.0",
                "200",
                "1534"
            ]
        );
        let open: Vec<&str> = event_fields("a \"b c").iter().map(|f| f.text).collect();
        assert_eq!(open, ["a", "\"b", "c"]);
    }

    #[test]
    fn many_ellipses_cost_little() {
        let pattern = format!("[{}x=zzz]", "..., ".repeat(200));
        let p = Delimited::parse(&pattern).unwrap();
        let message = "a ".repeat(500);
        assert!(!p.is_match(&message));
        assert!(p.is_match(&format!("{message}zzz")));
    }
}
