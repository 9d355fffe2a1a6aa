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
    /// The slots with conditions (the others match any field).
    conditioned: Vec<usize>,
    /// The ellipsis, when there is exactly one: the alignment is then forced (the slots before
    /// it take the first fields, those after it the last), no search needed.
    one_ellipsis: Option<usize>,
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
            conditioned: Vec::new(),
            one_ellipsis: None,
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
        p.conditioned = (0..p.slots.len())
            .filter(|k| matches!(&p.slots[*k], Slot::Field(_, any) if !any.is_empty()))
            .collect();
        let ellipses: Vec<usize> = (0..p.slots.len())
            .filter(|k| matches!(p.slots[*k], Slot::Ellipsis))
            .collect();
        if let [one] = ellipses.as_slice() {
            p.one_ellipsis = Some(*one);
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

    /// The index of a field it names.
    pub(super) fn name_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
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
        self.align_fields(message, &event_fields(message))
    }

    /// [`Delimited::align`] on an event already split into its fields.
    pub(super) fn align_fields<'m>(
        &self,
        message: &'m str,
        fields: &[Field],
    ) -> Option<Vec<(usize, &'m str)>> {
        if !self.ellipsis {
            return self.align_direct(message, fields);
        }
        let mut bound = Vec::new();
        self.search(message, fields, Some(&mut bound))
            .then_some(bound)
    }

    /// The alignment search from the first slot and field, binding into `bound` if given.
    fn search<'m>(
        &self,
        message: &'m str,
        fields: &[Field],
        bound: Option<&mut Vec<(usize, &'m str)>>,
    ) -> bool {
        if let Some(e) = self.one_ellipsis {
            return self.forced(e, message, fields, bound);
        }
        let (s, f) = (self.slots.len(), fields.len());
        // The memo on the stack for the usual sizes (a flow-log pattern on a flow record).
        let cells = (s + 1) * (f + 1);
        let mut stack = [false; 512];
        let mut heap = Vec::new();
        let failed: &mut [bool] = if cells <= stack.len() {
            &mut stack[..cells]
        } else {
            heap.resize(cells, false);
            &mut heap
        };
        self.walk((0, 0), message, fields, failed, bound)
    }

    /// One ellipsis at slot `e`: the slots before it on the first fields, those after it on
    /// the last ones.
    fn forced<'m>(
        &self,
        e: usize,
        message: &'m str,
        fields: &[Field],
        bound: Option<&mut Vec<(usize, &'m str)>>,
    ) -> bool {
        let after = self.slots.len() - e - 1;
        if fields.len() < e + after {
            return false;
        }
        let field_of = |k: usize| {
            if k < e {
                k
            } else {
                fields.len() - (self.slots.len() - k)
            }
        };
        let ok = self.conditioned.iter().all(|&k| match &self.slots[k] {
            Slot::Field(_, any) => holds(any, fields[field_of(k)].text(message)),
            Slot::Ellipsis => true,
        });
        if ok && let Some(b) = bound {
            for (k, slot) in self.slots.iter().enumerate() {
                if let Slot::Field(index, _) = slot {
                    b.push((*index, fields[field_of(k)].text(message)));
                }
            }
        }
        ok
    }

    /// Whether an event already split into its fields matches; without an ellipsis nothing is
    /// allocated (each slot's field is found by its place), and only slots with conditions
    /// are looked at.
    pub(super) fn holds_fields(&self, message: &str, fields: &[Field]) -> bool {
        if self.ellipsis {
            return self.search(message, fields, None);
        }
        fields.len() >= self.slots.len()
            && self.conditioned.iter().all(|&k| match &self.slots[k] {
                Slot::Field(_, any) => holds(any, self.slot_text(k, message, fields)),
                Slot::Ellipsis => unreachable!("no ellipsis"),
            })
    }

    /// Whether slot `k` is name `k` (no ellipsis: the values are found by place).
    pub(super) fn positional(&self) -> bool {
        !self.ellipsis
    }

    /// How many slots it has.
    pub(super) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Slot `k`'s text without an ellipsis: field `k`, the last slot the rest of the line.
    pub(super) fn slot_text<'m>(&self, k: usize, message: &'m str, fields: &[Field]) -> &'m str {
        slot_text(self.slots.len(), k, message, fields)
    }
}

/// Slot `k` of `n` (no ellipsis): field `k`, the last slot the rest of the line.
pub(super) fn slot_text<'m>(n: usize, k: usize, message: &'m str, fields: &[Field]) -> &'m str {
    if k + 1 == n && fields.len() > n {
        message[fields[k].start..].trim_end()
    } else {
        fields[k].text(message)
    }
}

impl Delimited {
    /// No ellipsis: slot i takes field i, the last slot the rest of the line.
    fn align_direct<'m>(
        &self,
        message: &'m str,
        fields: &[Field],
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
            let text = slot_text(n, k, message, fields);
            if !holds(any, text) {
                return None;
            }
            bound.push((*index, text));
        }
        Some(bound)
    }

    /// Whether slots from `s` can take fields from `f` to the end; binds as it succeeds (with
    /// `bound`).
    fn walk<'m>(
        &self,
        (s, f): (usize, usize),
        message: &'m str,
        fields: &[Field],
        failed: &mut [bool],
        mut bound: Option<&mut Vec<(usize, &'m str)>>,
    ) -> bool {
        let key = s * (fields.len() + 1) + f;
        if failed[key] {
            return false;
        }
        let ok = match self.slots.get(s) {
            None => f == fields.len(),
            Some(Slot::Ellipsis) => (f..=fields.len())
                .any(|g| self.walk((s + 1, g), message, fields, failed, bound.as_deref_mut())),
            Some(Slot::Field(index, any)) => {
                let text = fields.get(f).map(|x| x.text(message));
                text.is_some_and(|t| holds(any, t)) && {
                    if let (Some(b), Some(t)) = (bound.as_deref_mut(), text) {
                        b.push((*index, t));
                    }
                    let rest = self.walk(
                        (s + 1, f + 1),
                        message,
                        fields,
                        failed,
                        bound.as_deref_mut(),
                    );
                    if !rest && let Some(b) = bound {
                        b.pop();
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

/// One field of an event, by its offsets in the message: its text (without `"…"` or `[…]`
/// around it) and where it starts. Offsets, not borrows, so that a buffer of them is reused from
/// one event to the next.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    from: usize,
    to: usize,
    pub(super) start: usize,
}

impl Field {
    pub(super) fn text<'m>(&self, message: &'m str) -> &'m str {
        &message[self.from..self.to]
    }
}

/// An event's fields: blank-separated, `"…"` and `[…]` each one field.
pub(super) fn event_fields(message: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    fill_fields(message, &mut fields);
    fields
}

/// [`event_fields`] into a buffer (cleared first). One pass over the bytes: this runs once per
/// event for every filter of a log group.
pub(super) fn fill_fields(message: &str, fields: &mut Vec<Field>) {
    fields.clear();
    let b = message.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let close = match c {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        if let Some(to) = close.and_then(|c| memchr::memchr(c, &b[i + 1..]).map(|k| i + 1 + k)) {
            fields.push(Field {
                from: i + 1,
                to,
                start: i,
            });
            i = to + 1;
            continue;
        }
        let start = i;
        while i < n && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(Field {
            from: start,
            to: i,
            start,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_fields_group_quotes_and_brackets() {
        let m = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#;
        let texts: Vec<&str> = event_fields(m).iter().map(|f| f.text(m)).collect();
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
        let open: Vec<&str> = event_fields("a \"b c")
            .iter()
            .map(|f| f.text("a \"b c"))
            .collect();
        assert_eq!(open, ["a", "\"b", "c"]);
    }

    #[test]
    fn many_ellipses_cost_little() {
        let pattern = format!("[{}x=zzz]", "..., ".repeat(200));
        let p = Delimited::parse(&pattern).unwrap();
        let message = "a ".repeat(500);
        assert!(p.align(&message).is_none());
        assert!(p.align(&format!("{message}zzz")).is_some());
    }
}
