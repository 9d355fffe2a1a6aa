//! Regexes in filter patterns (`%…%`): only the characters AWS allows (letters, digits,
//! `: _ # = @ / ; , -`, the operators `^ $ ? [ ] { } | \ * + .` and blanks between words; no
//! parentheses, no multi-byte characters), then compiled by the `regex` crate, whose engine
//! runs in time linear in the event whatever the pattern.

use super::{Fail, Problem};

/// The most memory one compiled regex may take.
const SIZE_LIMIT: usize = 1 << 20;

/// A checked, compiled regex.
#[derive(Debug, Clone)]
pub(super) struct Re(regex::Regex);

impl Re {
    /// Checks and compiles `body` (the text between the `%`s).
    pub(super) fn parse(body: &str) -> Result<Self, Fail> {
        if body.is_empty() {
            return Err((0, Problem::Expected("a regex between the %s")));
        }
        if let Some((i, c)) = body.char_indices().find(|(_, c)| !allowed(*c)) {
            return Err((i, Problem::RegexCharacter(c)));
        }
        regex::RegexBuilder::new(body)
            .size_limit(SIZE_LIMIT)
            .build()
            .map(Re)
            .map_err(|e| (0, Problem::BadRegex(one_line(&e.to_string()))))
    }

    pub(super) fn is_match(&self, s: &str) -> bool {
        self.0.is_match(s)
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ' ' || ":_#=@/;,-^$?[]{}|\\*+.".contains(c)
}

/// The regex crate's error, which spans lines with a caret diagram, as one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim())
        .next()
        .unwrap_or(message.lines().last().unwrap_or(message))
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_aws_characters() {
        assert!(Re::parse("AUTHORIZED").is_ok());
        assert!(Re::parse(r"127\.0\.0\.[1-9]").is_ok());
        assert!(Re::parse(r"^\d{3}$|gr[ae]y").is_ok());
        assert_eq!(
            Re::parse("something!").unwrap_err(),
            (9, Problem::RegexCharacter('!'))
        );
        assert_eq!(
            Re::parse("(a|b)").unwrap_err(),
            (0, Problem::RegexCharacter('('))
        );
        assert_eq!(
            Re::parse("é").unwrap_err(),
            (0, Problem::RegexCharacter('é'))
        );
        assert!(matches!(
            Re::parse("a{2").unwrap_err().1,
            Problem::BadRegex(_)
        ));
        assert!(matches!(
            Re::parse("[a").unwrap_err().1,
            Problem::BadRegex(_)
        ));
    }
}
