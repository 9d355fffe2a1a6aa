//! Term patterns (§2.1): words and `"exact phrases"` that an event must contain, `-` ones it
//! must not, and `?` ones of which it must contain any. AWS documents that `?` terms mixed with
//! others are ignored (`?ERROR ?ARGUMENTS REQUEST` is `REQUEST`). A term is found where it
//! stands as a word (see the module above), case-sensitive.

use super::value::quoted;
use super::{Fail, Problem};

#[derive(Debug, Clone, Default)]
pub(super) struct Terms {
    required: Vec<Term>,
    excluded: Vec<Term>,
    optional: Vec<Term>,
}

/// A term and its searcher, built once.
#[derive(Debug, Clone)]
struct Term {
    text: String,
    finder: memchr::memmem::Finder<'static>,
}

impl Term {
    fn new(text: String) -> Self {
        let finder = memchr::memmem::Finder::new(text.as_bytes()).into_owned();
        Term { text, finder }
    }

    fn in_message(&self, message: &str) -> bool {
        word_found(message, &self.text, &self.finder)
    }
}

impl Terms {
    pub(super) fn parse(text: &str) -> Result<Self, Fail> {
        let mut terms = Terms::default();
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            let skip = rest.len() - rest.trim_start().len();
            if skip > 0 {
                i += skip;
                continue;
            }
            let (list, sign) = match rest.as_bytes()[0] {
                b'-' if rest.len() > 1 && !rest[1..].starts_with(char::is_whitespace) => {
                    (&mut terms.excluded, 1)
                }
                b'?' if rest.len() > 1 && !rest[1..].starts_with(char::is_whitespace) => {
                    (&mut terms.optional, 1)
                }
                _ => (&mut terms.required, 0),
            };
            let body = &rest[sign..];
            let (term, len) = if let Some(q) = body.strip_prefix('"') {
                let (t, n) = quoted(q).ok_or((i + sign, Problem::UnclosedQuote))?;
                (t, n + 1)
            } else {
                let end = body.find(char::is_whitespace).unwrap_or(body.len());
                if let Some(q) = body[..end].find('"') {
                    return Err((
                        i + sign + q,
                        Problem::Expected("a blank before a quoted phrase"),
                    ));
                }
                (body[..end].to_owned(), end)
            };
            // A phrase of blanks matches every event (AWS: `" "`), so it asks nothing.
            if !term.trim().is_empty() {
                list.push(Term::new(term));
            }
            i += sign + len;
        }
        Ok(terms)
    }

    /// Whether nothing is asked of an event (only blank phrases).
    pub(super) fn is_everything(&self) -> bool {
        self.required.is_empty() && self.excluded.is_empty() && self.optional.is_empty()
    }

    pub(super) fn is_match(&self, message: &str) -> bool {
        if self.required.is_empty() && self.excluded.is_empty() {
            return self.optional.iter().any(|t| t.in_message(message));
        }
        self.required.iter().all(|t| t.in_message(message))
            && !self.excluded.iter().any(|t| t.in_message(message))
    }
}

/// Whether `term` occurs in `message` with no letter or digit against either of its ends that
/// is itself a letter or digit.
#[cfg(test)]
fn contains_word(message: &str, term: &str) -> bool {
    word_found(message, term, &memchr::memmem::Finder::new(term.as_bytes()))
}

/// [`contains_word`] with the term's searcher built already.
fn word_found(message: &str, term: &str, finder: &memchr::memmem::Finder<'_>) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let guard_start = alnum(term.chars().next());
    let guard_end = alnum(term.chars().next_back());
    let mut from = 0;
    while let Some(found) = finder.find(&message.as_bytes()[from..]) {
        let start = from + found;
        let end = start + term.len();
        let clear_before = !guard_start || !alnum(message[..start].chars().next_back());
        let clear_after = !guard_end || !alnum(message[end..].chars().next());
        if clear_before && clear_after {
            return true;
        }
        from = start + message[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_not_parts_of_words() {
        assert!(contains_word("[ERROR 401] UNAUTHORIZED REQUEST", "ERROR"));
        assert!(!contains_word(
            "[ERROR 401] UNAUTHORIZED REQUEST",
            "AUTHORIZED"
        ));
        assert!(contains_word("aaa aa", "aa"));
        assert!(contains_word("x=10.0.0.1,", "10.0.0.1"));
        assert!(!contains_word("10.0.0.15", "10.0.0.1"));
        assert!(contains_word("a-b", "-"));
        assert!(contains_word("héllo wörld", "wörld"));
    }
}
