//! CloudWatch Logs' filter-pattern language (AWS's "Filter pattern syntax for metric filters,
//! subscription filters, filter log events, and Live Tail"; `reference/query.md` §2.1–2.4):
//! one parser and one matcher for every feature that takes a pattern.
//!
//! A pattern is one of four forms, told apart by its first character:
//! - empty, or only blanks (`""`, `" "`): every event;
//! - `%regex%`: the event contains a match of the regex ([`regex`]'s rules: AWS's characters only);
//! - `[f1, f2=…, ...]`: space-delimited fields ([`delimited`]);
//! - `{ $.a = … }`: a JSON event's properties ([`json`]);
//! - otherwise terms: `ERROR`, `"exact phrase"`, `-excluded`, `?either ?or` ([`terms`]).
//!
//! Where AWS's page leaves a behaviour unsaid, this module decides, and the conformance table
//! (`tests/patterns.txt`, rows marked `decided`) holds each decision:
//! - a term matches where it stands as a word: the characters on either side of it in the event
//!   are not letters or digits (AWS's regex example uses `%AUTHORIZED%` to match inside
//!   `UNAUTHORIZED`, which the term does not);
//! - in an event, text in `"…"` or `[…]` is one field, given without its quotes or brackets;
//! - without `...`, an event with more fields than the pattern gives the rest of the line to the
//!   pattern's last field (AWS's "trailing blank indicator"), and one with fewer does not match;
//!   with `...`, each named field takes exactly one event field and the ellipses take the rest;
//! - `=` and `!=` with a number compare numerically when the event's field is a number, else as
//!   text; `<`, `<=`, `>`, `>=` need a number in the pattern and match only numeric fields;
//! - conditions joined by `&&`/`||` in one field of a space-delimited pattern compare that field;
//! - in a JSON pattern a comparison on a property the event lacks is false (`!=` too): absence
//!   is `NOT EXISTS`; a wildcard selector matches when any value it selects does.

mod delimited;
mod json;
mod regex;
mod terms;
mod value;

pub(crate) use json::text as json_text;

use std::collections::BTreeMap;

/// The longest pattern CloudWatch Logs accepts.
pub const MAX_LENGTH: usize = 1024;
/// The most regexes one space-delimited or JSON pattern may hold.
pub const MAX_REGEXES: usize = 2;

/// A parsed filter pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    form: Form,
}

#[derive(Debug, Clone)]
enum Form {
    Everything,
    Terms(terms::Terms),
    Regex(regex::Re),
    Delimited(delimited::Delimited),
    Json(json::JsonPattern),
}

/// Why a pattern does not parse, and where (`at`: the character, from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid filter pattern at character {at}: {problem}")]
pub struct PatternError {
    /// The character the problem is at, counted from 1.
    pub at: usize,
    /// What is wrong there.
    pub problem: Problem,
}

/// What is wrong with a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Longer than [`MAX_LENGTH`] characters.
    #[error("a filter pattern is at most {MAX_LENGTH} characters")]
    TooLong,
    /// A `"` with no closing one.
    #[error("the quoted text has no closing \"")]
    UnclosedQuote,
    /// A `%` regex with no closing `%`.
    #[error("the regex has no closing %")]
    UnclosedRegex,
    /// A character AWS's regexes do not allow.
    #[error(
        "'{0}' is not allowed in a regex (letters, digits, : _ # = @ / ; , - and the operators ^ $ ? [ ] {{ }} | \\ * + . only; no parentheses)"
    )]
    RegexCharacter(char),
    /// More regexes than [`MAX_REGEXES`].
    #[error("a filter pattern holds at most {MAX_REGEXES} regexes")]
    TooManyRegexes,
    /// The regex engine refuses it.
    #[error("the regex does not compile: {0}")]
    BadRegex(String),
    /// Something else was expected here.
    #[error("expected {0}")]
    Expected(&'static str),
    /// Text after the pattern's end.
    #[error("unexpected text after the pattern")]
    Trailing,
    /// A field named twice in a space-delimited pattern.
    #[error("the field '{0}' is named twice")]
    DuplicateField(String),
    /// A condition in one field that compares another.
    #[error(
        "a condition in the field '{0}' compares '{1}'; each field's conditions compare that field"
    )]
    OtherField(String, String),
    /// An ordering comparison with something that is not a number.
    #[error("'{0}' is not a number; <, <=, > and >= compare numbers")]
    NotANumber(String),
    /// A regex after an operator other than `=` or `!=`.
    #[error("a regex is compared with = or != only")]
    RegexOperator,
    /// More wildcard selectors than AWS allows.
    #[error("a JSON pattern holds at most 3 wildcard selectors, one per property selector")]
    TooManyWildcards,
    /// Parentheses nested too deeply.
    #[error("parentheses are nested too deeply")]
    TooDeep,
}

/// What a pattern found in one event: its named fields' values, for TestMetricFilter's
/// `extractedValues` (metric transformations read a [`Found`] instead).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matched {
    values: Vec<(String, String)>,
}

impl Matched {
    /// The extracted values by name (`$field`, or `$.path` for a JSON pattern's selectors).
    pub fn extracted(&self) -> BTreeMap<String, String> {
        self.values.iter().cloned().collect()
    }
}

impl Pattern {
    /// Parses a pattern (no I/O).
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.chars().count() > MAX_LENGTH {
            return Err(PatternError {
                at: MAX_LENGTH + 1,
                problem: Problem::TooLong,
            });
        }
        let trimmed = text.trim();
        let lead = text.len() - text.trim_start().len();
        let at = |byte: usize| PatternError::at_byte(text, lead + byte);
        let form = if trimmed.is_empty() {
            Form::Everything
        } else if trimmed.starts_with('[') {
            Form::Delimited(delimited::Delimited::parse(trimmed).map_err(|(b, p)| at(b)(p))?)
        } else if trimmed.starts_with('{') {
            Form::Json(json::JsonPattern::parse(trimmed).map_err(|(b, p)| at(b)(p))?)
        } else if trimmed.len() >= 2 && trimmed.starts_with('%') && trimmed.ends_with('%') {
            Form::Regex(
                regex::Re::parse(&trimmed[1..trimmed.len() - 1]).map_err(|(b, p)| at(b + 1)(p))?,
            )
        } else {
            let terms = terms::Terms::parse(trimmed).map_err(|(b, p)| at(b)(p))?;
            if terms.is_everything() {
                Form::Everything
            } else {
                Form::Terms(terms)
            }
        };
        Ok(Pattern {
            text: text.to_owned(),
            form,
        })
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the pattern is a regex or holds one (AWS's per-group quota counts these).
    pub fn has_regex(&self) -> bool {
        match &self.form {
            Form::Regex(_) => true,
            Form::Delimited(d) => d.regexes() > 0,
            Form::Json(j) => j.regexes() > 0,
            Form::Everything | Form::Terms(_) => false,
        }
    }

    /// Whether `message` matches.
    pub fn is_match(&self, message: &str) -> bool {
        self.test(&Event::new(message))
    }

    /// The values a match extracts, or `None` when `message` does not match.
    pub fn matched(&self, message: &str) -> Option<Matched> {
        match &self.form {
            Form::Everything => Some(Matched::default()),
            Form::Terms(t) => t.is_match(message).then(Matched::default),
            Form::Regex(r) => r.is_match(message).then(Matched::default),
            Form::Delimited(d) => d.extract(message).map(|values| Matched { values }),
            Form::Json(j) => j.evaluate(message).map(|values| Matched { values }),
        }
    }

    /// Whether `event` matches (sharing its split fields or parsed JSON with other patterns).
    pub fn test(&self, event: &Event<'_>) -> bool {
        match &self.form {
            Form::Everything => true,
            Form::Terms(t) => t.is_match(event.message),
            Form::Regex(r) => r.is_match(event.message),
            Form::Delimited(d) => d.holds_fields(event.message, event.fields()),
            Form::Json(j) => event.json().is_some_and(|v| j.holds_on(v)),
        }
    }

    /// What a match on `event` found, for a metric transformation's references.
    pub fn found<'e>(&self, event: &'e Event<'_>) -> Option<Found<'e>> {
        match &self.form {
            Form::Delimited(d) if d.positional() => {
                let fields = event.fields();
                d.holds_fields(event.message, fields).then(|| {
                    Found::Row(Row {
                        message: event.message,
                        fields,
                        slots: d.slot_count(),
                    })
                })
            }
            Form::Delimited(d) => d
                .align_fields(event.message, event.fields())
                .map(Found::Fields),
            Form::Json(j) => event.json().filter(|v| j.holds_on(v)).map(Found::Json),
            _ => self.test(event).then_some(Found::Bare),
        }
    }

    /// A `$name` or `$.path` resolved against the pattern, if it may be referred to.
    pub fn reference(&self, reference: &str) -> Option<Reference> {
        match &self.form {
            Form::Delimited(d) => reference
                .strip_prefix('$')
                .and_then(|name| d.name_index(name))
                .map(Reference::Field),
            Form::Json(_) => json::Selector::parse(reference)
                .ok()
                .map(|_| Reference::Path(reference.to_owned())),
            Form::Everything | Form::Terms(_) | Form::Regex(_) => None,
        }
    }
}

/// One event as every pattern of a set sees it, split into fields or parsed as JSON once, when
/// a pattern first asks (the ingest hook evaluates several filters per event).
pub struct Event<'m> {
    message: &'m str,
    fields: std::cell::OnceCell<Vec<delimited::Field>>,
    spare: std::cell::Cell<Vec<delimited::Field>>,
    json: std::cell::OnceCell<Option<serde_json::Value>>,
}

/// The room an [`Event`] splits its message into, handed from one event to the next so that a
/// stream of events allocates it once.
#[derive(Default)]
pub struct FieldBuffer(Vec<delimited::Field>);

impl<'m> Event<'m> {
    /// The event whose message is `message`.
    pub fn new(message: &'m str) -> Self {
        Event::reusing(message, FieldBuffer::default())
    }

    /// The same, splitting into `buffer`'s room.
    pub fn reusing(message: &'m str, buffer: FieldBuffer) -> Self {
        Event {
            message,
            fields: std::cell::OnceCell::new(),
            spare: std::cell::Cell::new(buffer.0),
            json: std::cell::OnceCell::new(),
        }
    }

    /// Its room, for the next event.
    pub fn into_buffer(self) -> FieldBuffer {
        FieldBuffer(
            self.fields
                .into_inner()
                .unwrap_or_else(|| self.spare.take()),
        )
    }

    fn fields(&self) -> &[delimited::Field] {
        self.fields.get_or_init(|| {
            let mut v = self.spare.take();
            delimited::fill_fields(self.message, &mut v);
            v
        })
    }

    fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| serde_json::from_str(self.message.trim()).ok())
            .as_ref()
    }
}

/// A match on an [`Event`], borrowing from it: what a metric transformation reads.
pub enum Found<'e> {
    /// Terms, a regex or every event: no fields.
    Bare,
    /// A space-delimited pattern without an ellipsis: its fields by place, nothing copied.
    Row(Row<'e>),
    /// A space-delimited pattern's fields: (name index, text).
    Fields(Vec<(usize, &'e str)>),
    /// A JSON event.
    Json(&'e serde_json::Value),
}

/// An event's fields as a space-delimited pattern without an ellipsis binds them.
pub struct Row<'e> {
    message: &'e str,
    fields: &'e [delimited::Field],
    slots: usize,
}

/// A reference a metric transformation resolved against its pattern once.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// A space-delimited pattern's field, by its index.
    Field(usize),
    /// A JSON property.
    Path(String),
}

impl Found<'_> {
    /// The value a resolved reference names.
    pub fn get(&self, r: &Reference) -> Option<std::borrow::Cow<'_, str>> {
        match (self, r) {
            (Found::Row(row), Reference::Field(i)) => Some(std::borrow::Cow::Borrowed(
                delimited::slot_text(row.slots, *i, row.message, row.fields),
            )),
            (Found::Fields(bound), Reference::Field(i)) => bound
                .iter()
                .find(|(k, _)| k == i)
                .map(|(_, v)| std::borrow::Cow::Borrowed(*v)),
            (Found::Json(v), Reference::Path(p)) => {
                select_first(v, p).map(|x| std::borrow::Cow::Owned(json::text(&x)))
            }
            _ => None,
        }
    }
}

/// An event's fields as space-delimited patterns (and Contributor Insights' CLF rules) see
/// them: blank-separated, `"…"` and `[…]` each one field without its quotes or brackets.
pub(crate) fn event_fields(message: &str) -> Vec<&str> {
    delimited::event_fields(message)
        .into_iter()
        .map(|f| f.text(message))
        .collect()
}

/// Whether `s` is a JSON property selector (`$.a.b[0]`).
pub(crate) fn json_path(s: &str) -> bool {
    json::Selector::parse(s).is_ok()
}

/// The first value a selector picks in `v`.
pub(crate) fn select_first(v: &serde_json::Value, selector: &str) -> Option<serde_json::Value> {
    let s = json::Selector::parse(selector).ok()?;
    s.select(v).first().map(|x| (*x).clone())
}

impl PatternError {
    /// An error at byte `byte` of `text`, counted in characters from 1.
    fn at_byte(text: &str, byte: usize) -> impl Fn(Problem) -> PatternError + '_ {
        let byte = byte.min(text.len());
        let at = text.char_indices().take_while(|(i, _)| *i < byte).count() + 1;
        move |problem| PatternError { at, problem }
    }
}

/// A parse failure inside one form: the byte (within the text that form was given) and what.
type Fail = (usize, Problem);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text is a pattern or an error at a character inside it (never a panic), and a
        /// pattern's two ways of matching agree on any event.
        #[test]
        fn parse_and_match_any_text(
            pattern in "[ -~]{0,60}",
            shaped in "[\\[{%\"?-]?[a-z$.=!<>&|*, \\]}%\"0-9]{0,40}",
            event in "[ -~]{0,60}",
        ) {
            for text in [pattern.as_str(), shaped.as_str()] {
                match Pattern::parse(text) {
                    Ok(p) => prop_assert_eq!(p.is_match(&event), p.matched(&event).is_some()),
                    Err(e) => prop_assert!(e.at >= 1 && e.at <= text.chars().count() + 1, "{e}"),
                }
            }
        }

        /// A space-delimited pattern of plain names extracts an event's words as they are.
        #[test]
        fn names_extract_words(words in proptest::collection::vec("[a-z0-9.:]{1,8}", 1..8)) {
            let names: Vec<String> = (0..words.len()).map(|i| format!("f{i}")).collect();
            let p = Pattern::parse(&format!("[{}]", names.join(", "))).unwrap();
            let got = p.matched(&words.join(" ")).unwrap().extracted();
            let want: BTreeMap<String, String> =
                names.iter().map(|n| format!("${n}")).zip(words.iter().cloned()).collect();
            prop_assert_eq!(got, want);
        }
    }
}
