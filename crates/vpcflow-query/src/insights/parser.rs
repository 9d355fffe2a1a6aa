//! The Logs Insights parser: recursive descent over [`Lexer`] tokens into [`Query`], then the
//! pipeline rules AWS documents (at most two `stats`, only `limit` after `dedup`, aggregates
//! only in `stats`, `bin()` only in `stats … by`, `limit` at most 10 000). Every error names
//! the token at fault.

use super::ast::{
    BinaryOp, Command, CommandKind, Expr, ExprKind, ParsePattern, Projection, Query, SortKey,
    UnaryOp,
};
use super::error::{ParseError, Span};
use super::lexer::{Lexer, Tok};
use super::registry::{self, FnKind};

/// Most rows a query may ask for (query.md §1.6).
pub const MAX_LIMIT: u32 = 10_000;
/// Longest query text (query.md §1.6).
pub const MAX_QUERY_LEN: usize = 10_000;

/// Parses and checks a query.
pub fn parse(query: &str) -> Result<Query, ParseError> {
    if query.len() > MAX_QUERY_LEN {
        return Err(ParseError::new(
            format!(
                "the query is {} characters long; at most {MAX_QUERY_LEN} are allowed",
                query.len()
            ),
            Span::new(MAX_QUERY_LEN, query.len()),
        ));
    }
    let mut p = Parser::new(query)?;
    let mut commands = Vec::new();
    loop {
        commands.push(p.command()?);
        match p.tok {
            Tok::Pipe => p.bump()?,
            Tok::Eof => break,
            _ => return Err(p.unexpected("'|' or the end of the query")),
        }
    }
    let q = Query { commands };
    check_pipeline(&q)?;
    Ok(q)
}

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    tok: Tok,
    span: Span,
    /// End of the previous token (for spans of whole nodes).
    prev_end: usize,
    /// How deeply expressions nest here (bounded, so no input can exhaust the stack).
    depth: u32,
    /// Binary operators in the current top-level expression: a chain `a + b + …` nests once
    /// per operator, and planning time grows with the square of it.
    operators: u32,
}

/// Deepest nesting of expressions (parentheses, calls, `not`, unary minus, `^`).
pub const MAX_DEPTH: u32 = 64;

/// Most binary operators in one expression (as for SQL's expressions).
pub const MAX_OPERATORS: u32 = 1000;

fn period_ms(n: u64, unit: &str) -> Option<u64> {
    let u = unit.to_ascii_lowercase();
    let per = match u.trim_end_matches('s') {
        "m" if u == "ms" => 1,
        "msec" | "millisecond" => 1,
        "" if u == "s" => 1_000,
        "sec" | "second" => 1_000,
        "m" | "min" | "minute" => 60_000,
        "h" | "hr" | "hour" => 3_600_000,
        "d" | "day" => 86_400_000,
        "w" | "week" => 7 * 86_400_000,
        "mo" | "mon" | "month" => 30 * 86_400_000,
        "q" | "qtr" | "quarter" => 90 * 86_400_000,
        "y" | "yr" | "year" => 365 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(per)
}

/// Named groups of a regex: `(?<name>…)` and `(?P<name>…)`.
fn group_names(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(i) = rest.find("(?") {
        rest = &rest[i + 2..];
        let after = rest.strip_prefix('P').unwrap_or(rest);
        if let Some(body) = after.strip_prefix('<')
            && !body.starts_with('=')
            && !body.starts_with('!')
            && let Some(end) = body.find('>')
        {
            out.push(body[..end].to_owned());
        }
    }
    out
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Parser<'a>, ParseError> {
        let mut lexer = Lexer::new(src);
        let (tok, span) = lexer.next_token()?;
        Ok(Parser {
            src,
            lexer,
            tok,
            span,
            prev_end: 0,
            depth: 0,
            operators: 0,
        })
    }

    fn bump(&mut self) -> Result<(), ParseError> {
        self.prev_end = self.span.end;
        let (tok, span) = self.lexer.next_token()?;
        self.tok = tok;
        self.span = span;
        Ok(())
    }

    fn unexpected(&self, wanted: &str) -> ParseError {
        ParseError::new(
            format!("expected {wanted}, found {}", self.tok.describe()),
            self.span,
        )
    }

    /// True (and consumed) when the token is the keyword `kw`.
    fn eat_keyword(&mut self, kw: &str) -> Result<bool, ParseError> {
        if matches!(&self.tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw)) {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn expect(&mut self, tok: &Tok, wanted: &str) -> Result<(), ParseError> {
        if &self.tok == tok {
            self.bump()
        } else {
            Err(self.unexpected(wanted))
        }
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let start = self.span;
        let Tok::Ident(word) = &self.tok else {
            return Err(self.unexpected(
                "a command (fields, filter, stats, sort, limit, parse, dedup, display)",
            ));
        };
        let word = word.to_ascii_lowercase();
        if registry::UNSUPPORTED_COMMANDS.contains(&word.as_str()) {
            return Err(ParseError::new(
                format!("the {word} command is not supported by vpcflow yet"),
                self.span,
            ));
        }
        if !registry::COMMANDS.contains(&word.as_str()) {
            return Err(ParseError::new(
                format!(
                    "unknown command '{}': expected fields, display, filter, stats, sort, limit, parse or dedup",
                    self.src[self.span.start..self.span.end].to_owned()
                ),
                self.span,
            ));
        }
        self.bump()?;
        let kind = match word.as_str() {
            "fields" => CommandKind::Fields(self.projections()?),
            "display" => CommandKind::Display(self.projections()?),
            "filter" | "where" => CommandKind::Filter(self.expr()?),
            "stats" => {
                let aggregates = self.projections()?;
                let by = if self.eat_keyword("by")? {
                    self.projections()?
                } else {
                    Vec::new()
                };
                CommandKind::Stats { aggregates, by }
            }
            "sort" => {
                self.eat_keyword("by")?;
                let mut keys = Vec::new();
                loop {
                    let expr = self.expr()?;
                    // AWS does not document the direction when none is given (query.md §1.2);
                    // ascending, as in SQL.
                    let desc = if self.eat_keyword("desc")? {
                        true
                    } else {
                        self.eat_keyword("asc")?;
                        false
                    };
                    keys.push(SortKey { expr, desc });
                    if self.tok != Tok::Comma {
                        break;
                    }
                    self.bump()?;
                }
                CommandKind::Sort(keys)
            }
            "limit" => {
                let at = self.span;
                let Tok::Num(n) = self.tok else {
                    return Err(self.unexpected("a number of rows"));
                };
                if n.fract() != 0.0 || n < 1.0 || n > f64::from(MAX_LIMIT) {
                    return Err(ParseError::new(
                        format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                        at,
                    ));
                }
                self.bump()?;
                CommandKind::Limit(n as u32)
            }
            "parse" => self.parse_command()?,
            "dedup" => {
                let mut fields = vec![self.expr()?];
                while self.tok == Tok::Comma {
                    self.bump()?;
                    fields.push(self.expr()?);
                }
                CommandKind::Dedup(fields)
            }
            _ => unreachable!("listed in COMMANDS"),
        };
        Ok(Command {
            kind,
            span: start.to(Span::new(self.prev_end, self.prev_end)),
        })
    }

    fn parse_command(&mut self) -> Result<CommandKind, ParseError> {
        // `parse "pattern" as …` parses @message; otherwise the field comes first.
        let source = if matches!(self.tok, Tok::Str(_) | Tok::Slash) {
            Expr {
                kind: ExprKind::Field("@message".into()),
                span: self.span,
            }
        } else {
            self.primary()?
        };
        match &self.tok {
            Tok::Str(glob) => {
                let glob = glob.clone();
                let at = self.span;
                self.bump()?;
                let stars = glob.matches('*').count();
                if stars == 0 {
                    return Err(ParseError::new(
                        "a parse pattern needs at least one * to capture",
                        at,
                    ));
                }
                if !self.eat_keyword("as")? {
                    return Err(self.unexpected("'as' and one name per *"));
                }
                let mut names = vec![self.name()?];
                while self.tok == Tok::Comma {
                    self.bump()?;
                    names.push(self.name()?);
                }
                if names.len() != stars {
                    return Err(ParseError::new(
                        format!(
                            "the pattern captures {stars} value(s) but {} name(s) follow 'as'",
                            names.len()
                        ),
                        at,
                    ));
                }
                Ok(CommandKind::Parse {
                    source,
                    pattern: ParsePattern::Glob {
                        pattern: glob,
                        names,
                    },
                })
            }
            Tok::Slash => {
                let (pattern, at) = self.regex()?;
                let names = group_names(&pattern);
                if names.is_empty() {
                    return Err(ParseError::new(
                        "a parse regex needs named groups, like (?<name>…)",
                        at,
                    ));
                }
                Ok(CommandKind::Parse {
                    source,
                    pattern: ParsePattern::Regex { pattern, names },
                })
            }
            _ => Err(self.unexpected("a \"glob * pattern\" or a /regex/")),
        }
    }

    /// Reads the `/regex/` at the current `/`.
    fn regex(&mut self) -> Result<(String, Span), ParseError> {
        if self.tok != Tok::Slash {
            return Err(self.unexpected("a /regular expression/"));
        }
        self.lexer.reset(self.span.start);
        let (pattern, span) = self.lexer.regex()?;
        self.span = span;
        self.bump()?;
        Ok((pattern, span))
    }

    fn name(&mut self) -> Result<String, ParseError> {
        match &self.tok {
            Tok::Ident(s) | Tok::Quoted(s) => {
                let s = s.clone();
                self.bump()?;
                Ok(s)
            }
            _ => Err(self.unexpected("a name")),
        }
    }

    fn projections(&mut self) -> Result<Vec<Projection>, ParseError> {
        let mut out = Vec::new();
        loop {
            let expr = self.expr()?;
            let alias = if self.eat_keyword("as")? {
                Some(self.name()?)
            } else {
                None
            };
            out.push(Projection { expr, alias });
            if self.tok != Tok::Comma {
                return Ok(out);
            }
            self.bump()?;
        }
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.nested(Self::or)
    }

    /// Runs `f` one level deeper, refusing input that nests beyond [`MAX_DEPTH`].
    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Expr, ParseError>,
    ) -> Result<Expr, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::new(
                format!("the expression nests more than {MAX_DEPTH} levels deep"),
                self.span,
            ));
        }
        if self.depth == 0 {
            self.operators = 0;
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// `l op r`, counting the operator against [`MAX_OPERATORS`].
    fn binary(&mut self, l: Expr, op: BinaryOp, r: Expr) -> Result<Expr, ParseError> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(ParseError::new(
                format!("the expression has more than {MAX_OPERATORS} operators"),
                r.span,
            ));
        }
        let span = l.span.to(r.span);
        Ok(Expr {
            kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
            span,
        })
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.and()?;
        while self.eat_keyword("or")? {
            let r = self.and()?;
            l = self.binary(l, BinaryOp::Or, r)?;
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.not()?;
        while self.eat_keyword("and")? {
            let r = self.not()?;
            l = self.binary(l, BinaryOp::And, r)?;
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        let start = self.span;
        if self.eat_keyword("not")? {
            let e = self.nested(Self::not)?;
            let span = start.to(e.span);
            return Ok(Expr {
                kind: ExprKind::Unary(UnaryOp::Not, Box::new(e)),
                span,
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let l = self.additive()?;
        let op = match self.tok {
            Tok::Eq => Some(BinaryOp::Eq),
            Tok::Ne => Some(BinaryOp::Ne),
            Tok::Lt => Some(BinaryOp::Lt),
            Tok::Le => Some(BinaryOp::Le),
            Tok::Gt => Some(BinaryOp::Gt),
            Tok::Ge => Some(BinaryOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump()?;
            let r = self.additive()?;
            return self.binary(l, op, r);
        }
        if self.tok == Tok::Match {
            self.bump()?;
            let (re, span) = self.regex()?;
            let span = l.span.to(span);
            return Ok(Expr {
                kind: ExprKind::Matches(Box::new(l), re),
                span,
            });
        }
        let negated = self.is_keyword("not");
        if negated {
            self.bump()?;
            if !(self.is_keyword("like") || self.is_keyword("in")) {
                return Err(self.unexpected("'like' or 'in' after 'not'"));
            }
        }
        if self.eat_keyword("like")? {
            let pattern = match &self.tok {
                Tok::Str(s) => {
                    let e = Expr {
                        kind: ExprKind::Str(s.clone()),
                        span: self.span,
                    };
                    self.bump()?;
                    e
                }
                Tok::Slash => {
                    let (re, span) = self.regex()?;
                    Expr {
                        kind: ExprKind::Regex(re),
                        span,
                    }
                }
                _ => return Err(self.unexpected("a \"string\" or a /regex/ after 'like'")),
            };
            let span = l.span.to(pattern.span);
            return Ok(Expr {
                kind: ExprKind::Like {
                    expr: Box::new(l),
                    pattern: Box::new(pattern),
                    negated,
                },
                span,
            });
        }
        if self.eat_keyword("in")? {
            self.expect(&Tok::LBracket, "'[' to start the list")?;
            let mut list = Vec::new();
            if self.tok != Tok::RBracket {
                loop {
                    list.push(self.additive()?);
                    if self.tok != Tok::Comma {
                        break;
                    }
                    self.bump()?;
                }
            }
            let end = self.span;
            self.expect(&Tok::RBracket, "',' or ']'")?;
            let span = l.span.to(end);
            return Ok(Expr {
                kind: ExprKind::In {
                    expr: Box::new(l),
                    list,
                    negated,
                },
                span,
            });
        }
        Ok(l)
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.multiplicative()?;
        loop {
            let op = match self.tok {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                _ => return Ok(l),
            };
            self.bump()?;
            let r = self.multiplicative()?;
            l = self.binary(l, op, r)?;
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.power()?;
        loop {
            let op = match self.tok {
                Tok::Star => BinaryOp::Mul,
                Tok::Slash => BinaryOp::Div,
                Tok::Percent => BinaryOp::Mod,
                _ => return Ok(l),
            };
            self.bump()?;
            let r = self.power()?;
            l = self.binary(l, op, r)?;
        }
    }

    fn power(&mut self) -> Result<Expr, ParseError> {
        let l = self.unary()?;
        if self.tok == Tok::Caret {
            self.bump()?;
            // Right-associative: 2 ^ 3 ^ 2 = 2 ^ 9.
            let r = self.nested(Self::power)?;
            return self.binary(l, BinaryOp::Pow, r);
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.tok == Tok::Minus {
            let start = self.span;
            self.bump()?;
            let e = self.nested(Self::unary)?;
            let span = start.to(e.span);
            return Ok(Expr {
                kind: ExprKind::Unary(UnaryOp::Neg, Box::new(e)),
                span,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let span = self.span;
        let kind = match &self.tok {
            Tok::Num(n) => ExprKind::Num(*n),
            Tok::Str(s) => ExprKind::Str(s.clone()),
            Tok::Period(0, unit) => {
                return Err(ParseError::new(
                    format!("the time period 0{unit} is empty: a period is at least 1{unit}"),
                    span,
                ));
            }
            Tok::Period(n, unit) => {
                let ms = period_ms(*n, unit).ok_or_else(|| {
                    ParseError::new(
                        format!("unknown time unit '{unit}': use ms, s, m, h, d, w, mo, q or y"),
                        span,
                    )
                })?;
                ExprKind::Period {
                    ms,
                    text: format!("{n}{unit}"),
                }
            }
            Tok::Quoted(s) => ExprKind::Field(s.clone()),
            Tok::LParen => {
                self.bump()?;
                let inner = self.expr()?;
                let end = self.span;
                self.expect(&Tok::RParen, "')'")?;
                return Ok(Expr {
                    span: span.to(end),
                    ..inner
                });
            }
            Tok::Slash => {
                let (re, span) = self.regex()?;
                return Ok(Expr {
                    kind: ExprKind::Regex(re),
                    span,
                });
            }
            Tok::Ident(name) => {
                let name = name.clone();
                self.bump()?;
                if self.tok == Tok::LParen {
                    return self.call(&name, span);
                }
                return Ok(Expr {
                    kind: ExprKind::Field(name),
                    span,
                });
            }
            _ => return Err(self.unexpected("a field, a value or a function")),
        };
        self.bump()?;
        Ok(Expr { kind, span })
    }

    fn call(&mut self, name: &str, name_span: Span) -> Result<Expr, ParseError> {
        let def = registry::function(name).ok_or_else(|| {
            let hint = registry::suggest(name)
                .map(|s| format!(", did you mean '{s}'?"))
                .unwrap_or_default();
            ParseError::new(format!("unknown function '{name}'{hint}"), name_span)
        })?;
        self.bump()?; // (
        let mut args = Vec::new();
        if self.tok != Tok::RParen {
            loop {
                if self.tok == Tok::Star && def.name == "count" {
                    args.push(Expr {
                        kind: ExprKind::Star,
                        span: self.span,
                    });
                    self.bump()?;
                } else {
                    args.push(self.expr()?);
                }
                if self.tok != Tok::Comma {
                    break;
                }
                self.bump()?;
            }
        }
        let end = self.span;
        self.expect(&Tok::RParen, "',' or ')'")?;
        let span = name_span.to(end);
        let n = args.len();
        if n < def.min_args || n > def.max_args {
            let want = match (def.min_args, def.max_args) {
                (a, b) if a == b => format!("{a}"),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(ParseError::new(
                format!("{} takes {want} argument(s), not {n}", def.name),
                span,
            ));
        }
        Ok(Expr {
            kind: ExprKind::Call(def.name, args),
            span,
        })
    }
}

/// Finds the first call of a kind other than scalar in `e` (kind, name, span).
fn find_special(e: &Expr) -> Option<(FnKind, &'static str, Span)> {
    match &e.kind {
        ExprKind::Call(name, args) => {
            let kind = registry::function(name).map_or(FnKind::Scalar, |d| d.kind);
            if kind != FnKind::Scalar {
                return Some((kind, name, e.span));
            }
            args.iter().find_map(find_special)
        }
        ExprKind::Unary(_, a) | ExprKind::Matches(a, _) => find_special(a),
        ExprKind::Binary(_, a, b) => find_special(a).or_else(|| find_special(b)),
        ExprKind::In { expr, list, .. } => {
            find_special(expr).or_else(|| list.iter().find_map(find_special))
        }
        ExprKind::Like { expr, pattern, .. } => {
            find_special(expr).or_else(|| find_special(pattern))
        }
        _ => None,
    }
}

/// The pipeline rules of query.md §1.2.
fn check_pipeline(q: &Query) -> Result<(), ParseError> {
    let mut stats = 0;
    let mut after_dedup = false;
    for c in &q.commands {
        if after_dedup && !matches!(c.kind, CommandKind::Limit(_)) {
            return Err(ParseError::new("only limit may follow dedup", c.span));
        }
        match &c.kind {
            CommandKind::Stats { aggregates, by } => {
                stats += 1;
                if stats > 2 {
                    return Err(ParseError::new(
                        "a query may have at most two stats commands",
                        c.span,
                    ));
                }
                for p in aggregates {
                    match find_special(&p.expr) {
                        Some((FnKind::Aggregate | FnKind::Pick, ..)) => {}
                        Some((FnKind::Bin, name, span)) => {
                            return Err(ParseError::new(
                                format!("{name}() groups: it belongs after 'by'"),
                                span,
                            ));
                        }
                        _ => {
                            return Err(ParseError::new(
                                "stats needs an aggregation here (count, sum, avg, min, max, pct, …)",
                                p.expr.span,
                            ));
                        }
                    }
                }
                for p in by {
                    if let Some((FnKind::Aggregate | FnKind::Pick, name, span)) =
                        find_special(&p.expr)
                    {
                        return Err(ParseError::new(
                            format!("{name}() aggregates: it cannot group"),
                            span,
                        ));
                    }
                }
            }
            CommandKind::Fields(ps) | CommandKind::Display(ps) => {
                for p in ps {
                    no_aggregates(&p.expr)?;
                }
            }
            CommandKind::Filter(e) => no_aggregates(e)?,
            CommandKind::Sort(keys) => {
                for k in keys {
                    no_aggregates(&k.expr)?;
                }
            }
            CommandKind::Dedup(_) => after_dedup = true,
            CommandKind::Limit(_) | CommandKind::Parse { .. } => {}
        }
    }
    Ok(())
}

fn no_aggregates(e: &Expr) -> Result<(), ParseError> {
    match find_special(e) {
        Some((FnKind::Bin, name, span)) => Err(ParseError::new(
            format!("{name}() may only group stats (stats … by {name}(…))"),
            span,
        )),
        Some((_, name, span)) => Err(ParseError::new(
            format!("{name}() aggregates: use it in stats"),
            span,
        )),
        None => Ok(()),
    }
}
