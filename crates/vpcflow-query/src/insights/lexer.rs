//! Logs Insights tokens (query.md §1.1): identifiers (`@`, `.`, `_` allowed; backticks quote
//! anything else), strings in single or double quotes, `/regex/` literals, numbers, time periods
//! (`5m`, `1h`), punctuation and operators; `#` starts a comment to the end of the line.
//!
//! A `/` is a regex only where the parser expects one (after `like`, `=~`, in `parse`), so the
//! parser asks for it with [`Lexer::regex`]; everywhere else it is division.

use super::error::{ParseError, Span};

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A field or keyword name (`srcAddr`, `@timestamp`, `stats`), or a backticked name.
    Ident(String),
    /// A backtick-quoted name: never a keyword.
    Quoted(String),
    /// A string literal's value.
    Str(String),
    /// A number.
    Num(f64),
    /// A time period: amount and unit as written (`5`, `m`).
    Period(u64, String),
    /// `|`
    Pipe,
    /// `,`
    Comma,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=~`
    Match,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `^`
    Caret,
    /// `%`
    Percent,
    /// End of the query.
    Eof,
}

impl Tok {
    /// How the token is named in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Quoted(s) => format!("'{s}'"),
            Tok::Str(s) => format!("the string \"{s}\""),
            Tok::Num(n) => format!("the number {n}"),
            Tok::Period(n, u) => format!("the time period {n}{u}"),
            Tok::Eof => "the end of the query".to_owned(),
            other => format!("'{}'", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Pipe => "|",
            Tok::Comma => ",",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Eq => "=",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Match => "=~",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Caret => "^",
            Tok::Percent => "%",
            _ => "",
        }
    }
}

/// A cursor over the query text.
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '@' | '.' | '_')
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer { src, pos: 0 }
    }

    /// Current byte offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back to `pos` (the parser re-reads a `/` as a regex).
    pub fn reset(&mut self, pos: usize) {
        self.pos = pos;
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn skip_space_and_comments(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with('#') {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else {
                return;
            }
        }
    }

    /// The next token and its span.
    pub fn next_token(&mut self) -> Result<(Tok, Span), ParseError> {
        self.skip_space_and_comments();
        let start = self.pos;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok((Tok::Eof, Span::new(start, start)));
        };
        let two = rest.get(..2).unwrap_or("");
        let (tok, len) = match two {
            "!=" => (Tok::Ne, 2),
            "<=" => (Tok::Le, 2),
            ">=" => (Tok::Ge, 2),
            "=~" => (Tok::Match, 2),
            _ => match c {
                '|' => (Tok::Pipe, 1),
                ',' => (Tok::Comma, 1),
                '(' => (Tok::LParen, 1),
                ')' => (Tok::RParen, 1),
                '[' => (Tok::LBracket, 1),
                ']' => (Tok::RBracket, 1),
                '=' => (Tok::Eq, 1),
                '<' => (Tok::Lt, 1),
                '>' => (Tok::Gt, 1),
                '+' => (Tok::Plus, 1),
                '-' => (Tok::Minus, 1),
                '*' => (Tok::Star, 1),
                '/' => (Tok::Slash, 1),
                '^' => (Tok::Caret, 1),
                '%' => (Tok::Percent, 1),
                '"' | '\'' => return self.string(c),
                '`' => return self.quoted(),
                c if c.is_ascii_digit() => return self.number(),
                c if ident_char(c) => {
                    let len = rest.find(|c: char| !ident_char(c)).unwrap_or(rest.len());
                    (Tok::Ident(rest[..len].to_owned()), len)
                }
                other => {
                    return Err(ParseError::new(
                        format!("unexpected character '{other}'"),
                        Span::new(start, start + other.len_utf8()),
                    ));
                }
            },
        };
        self.pos += len;
        Ok((tok, Span::new(start, self.pos)))
    }

    fn string(&mut self, quote: char) -> Result<(Tok, Span), ParseError> {
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok((Tok::Str(out), Span::new(start, self.pos)));
                }
                c => out.push(c),
            }
        }
        Err(ParseError::new(
            format!("this string has no closing {quote}"),
            Span::new(start, self.src.len()),
        ))
    }

    fn quoted(&mut self) -> Result<(Tok, Span), ParseError> {
        let start = self.pos;
        match self.rest()[1..].find('`') {
            Some(end) => {
                let name = self.rest()[1..1 + end].to_owned();
                self.pos += end + 2;
                if name.is_empty() {
                    return Err(ParseError::new(
                        "an empty `` name",
                        Span::new(start, self.pos),
                    ));
                }
                Ok((Tok::Quoted(name), Span::new(start, self.pos)))
            }
            None => Err(ParseError::new(
                "this name has no closing `",
                Span::new(start, self.src.len()),
            )),
        }
    }

    fn number(&mut self) -> Result<(Tok, Span), ParseError> {
        let start = self.pos;
        let rest = self.rest();
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let text = &rest[..digits];
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        if unit_len > 0 && !text.contains('.') {
            // A time period: `5m`, `1h`, `300s`.
            let unit = &after[..unit_len];
            self.pos += digits + unit_len;
            let n = text.parse().map_err(|_| {
                ParseError::new("this number is too large", Span::new(start, self.pos))
            })?;
            return Ok((Tok::Period(n, unit.to_owned()), Span::new(start, self.pos)));
        }
        self.pos += digits;
        let span = Span::new(start, self.pos);
        let n: f64 = text
            .parse()
            .map_err(|_| ParseError::new(format!("'{text}' is not a number"), span))?;
        Ok((Tok::Num(n), span))
    }

    /// Reads a `/regex/` starting at the current `/`: its pattern, with `\/` for a slash.
    pub fn regex(&mut self) -> Result<(String, Span), ParseError> {
        self.skip_space_and_comments();
        let start = self.pos;
        let rest = self.rest();
        debug_assert!(rest.starts_with('/'));
        let mut out = String::new();
        let mut chars = rest.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, '/')) => out.push('/'),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => break,
                },
                '/' => {
                    self.pos += i + 1;
                    return Ok((out, Span::new(start, self.pos)));
                }
                c => out.push(c),
            }
        }
        Err(ParseError::new(
            "this regular expression has no closing /",
            Span::new(start, self.src.len()),
        ))
    }
}
