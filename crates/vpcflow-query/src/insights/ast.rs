//! The Logs Insights syntax tree: a pipeline of commands over expressions, every node with the
//! span of query text it came from (so the planner's errors can point at it too).

use super::error::Span;

/// A whole query: commands in pipeline order.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The commands.
    pub commands: Vec<Command>,
}

/// One command and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// What it does.
    pub kind: CommandKind,
    /// Its text, keyword to end.
    pub span: Span,
}

/// The commands (query.md §1.2).
#[derive(Debug, Clone, PartialEq)]
pub enum CommandKind {
    /// `fields e [as a], …`
    Fields(Vec<Projection>),
    /// `display f, …` (only the last one counts).
    Display(Vec<Projection>),
    /// `filter e` (or `where e`).
    Filter(Expr),
    /// `stats agg [as a], … [by e [as b], …]`
    Stats {
        /// Aggregations.
        aggregates: Vec<Projection>,
        /// Grouping.
        by: Vec<Projection>,
    },
    /// `sort e [asc|desc], …`
    Sort(Vec<SortKey>),
    /// `limit n`
    Limit(u32),
    /// `parse field "glob * pattern" as a, b` or `parse field /(?<a>…)/`.
    Parse {
        /// The field parsed (`@message` when omitted).
        source: Expr,
        /// The pattern.
        pattern: ParsePattern,
    },
    /// `dedup f, …`
    Dedup(Vec<Expr>),
}

/// An expression with an optional alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// The expression.
    pub expr: Expr,
    /// `as name`.
    pub alias: Option<String>,
}

impl Projection {
    /// The name of the result column: the alias, the field name, or the expression's text.
    pub fn name(&self, query: &str) -> String {
        match (&self.alias, &self.expr.kind) {
            (Some(a), _) => a.clone(),
            (None, ExprKind::Field(f)) => f.clone(),
            (None, _) => query[self.expr.span.start..self.expr.span.end].to_owned(),
        }
    }
}

/// A sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// What to sort by.
    pub expr: Expr,
    /// Descending.
    pub desc: bool,
}

/// `parse`'s pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsePattern {
    /// A glob with `*` wildcards and the names of what they capture, in order.
    Glob {
        /// The pattern.
        pattern: String,
        /// One name per `*`.
        names: Vec<String>,
    },
    /// A regular expression whose named groups become fields.
    Regex {
        /// The pattern.
        pattern: String,
        /// The named groups, in order.
        names: Vec<String>,
    },
}

/// An expression and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Its text.
    pub span: Span,
}

/// Expressions (query.md §1.3).
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A field (`srcAddr`, `@timestamp`, a backticked name).
    Field(String),
    /// A string literal.
    Str(String),
    /// A number.
    Num(f64),
    /// A time period in milliseconds, with how it was written (`5m`).
    Period {
        /// Milliseconds.
        ms: u64,
        /// As written.
        text: String,
    },
    /// A `/regex/` literal.
    Regex(String),
    /// `*` (only as in `count(*)`).
    Star,
    /// `not e`, `-e`.
    Unary(UnaryOp, Box<Expr>),
    /// `a op b`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `e [not] in [v, …]`.
    In {
        /// Tested value.
        expr: Box<Expr>,
        /// The list.
        list: Vec<Expr>,
        /// `not in`.
        negated: bool,
    },
    /// `e [not] like "s"` (substring) or `like /re/`.
    Like {
        /// Tested value.
        expr: Box<Expr>,
        /// A string (substring match) or a regex.
        pattern: Box<Expr>,
        /// `not like`.
        negated: bool,
    },
    /// `e =~ /re/`.
    Matches(Box<Expr>, String),
    /// A function call (name as the registry spells it).
    Call(&'static str, Vec<Expr>),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `not`
    Not,
    /// `-`
    Neg,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
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
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
}
