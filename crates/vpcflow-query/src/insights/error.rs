//! Where a query went wrong: a byte span of the query text and a message, rendered with the
//! query line and a caret under the offending token.

use std::fmt;

/// A byte range of the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The range `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// From the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start, other.end.max(self.end))
    }
}

/// A query the parser refused: the query is at fault, at `span`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {})", span.start)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
}

impl ParseError {
    /// An error at `span`.
    pub fn new(message: impl Into<String>, span: Span) -> ParseError {
        ParseError {
            message: message.into(),
            span,
        }
    }

    /// The message with the query line and a caret under the span:
    ///
    /// ```text
    /// line 1, column 22: unknown function 'sumx', did you mean 'sum'?
    ///   stats count(*) by sumx(bytes)
    ///                     ^^^^
    /// ```
    pub fn render(&self, query: &str) -> String {
        let start = self.span.start.min(query.len());
        let line_start = query[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = query[start..].find('\n').map_or(query.len(), |i| start + i);
        let line_no = query[..start].matches('\n').count() + 1;
        let col = query[line_start..start].chars().count() + 1;
        let width = query[start..self.span.end.clamp(start, line_end)]
            .chars()
            .count()
            .max(1);
        format!(
            "line {line_no}, column {col}: {}\n  {}\n  {}{}",
            self.message,
            &query[line_start..line_end],
            " ".repeat(col - 1),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}
