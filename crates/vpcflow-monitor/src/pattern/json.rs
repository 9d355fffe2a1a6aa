//! JSON patterns (§2.4): `{ $.eventType = "UpdateTrail" }`, `{ $.latency >= 60 }`,
//! `{ $.x IS NULL }`, `{ $.x NOT EXISTS }`, `{ $.flag IS TRUE }`, `{ $.arr[0] = … }`,
//! `{ $.items[*].id = 3 }`, joined by `&&` and `||` (`&&` binds tighter) with parentheses. An
//! event that is not a JSON object matches no JSON pattern.

use serde_json::Value as Json;

use super::value::{Comparison, Op, blanks, lex_value};
use super::{Fail, MAX_REGEXES, Problem};

/// The deepest nesting of parentheses.
const MAX_DEPTH: usize = 32;
/// The most wildcard selectors one pattern holds (AWS's quota).
const MAX_WILDCARDS: usize = 3;

#[derive(Debug, Clone)]
pub(super) struct JsonPattern {
    expr: Expr,
    selectors: Vec<(String, Selector)>,
}

#[derive(Debug, Clone)]
enum Expr {
    Any(Vec<Expr>),
    All(Vec<Expr>),
    Test(usize, Test),
}

#[derive(Debug, Clone)]
enum Test {
    Compare(Comparison),
    IsNull,
    IsTrue,
    IsFalse,
    NotExists,
}

/// A property selector: `$.a.b[0]`, with `*` for any key or index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selector(Vec<Step>);

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    Any,
}

/// Characters that end a bare value or a key.
const STOP: &[char] = &[
    '(', ')', '}', '=', '!', '<', '>', '&', '|', '"', '%', '.', '[', ']',
];

impl JsonPattern {
    pub(super) fn parse(text: &str) -> Result<Self, Fail> {
        let mut parser = Parser {
            text,
            i: 1,
            selectors: Vec::new(),
            regexes: 0,
        };
        let expr = parser.any(0)?;
        parser.skip();
        if !parser.rest().starts_with('}') {
            return Err((parser.i, Problem::Expected("&&, || or }")));
        }
        parser.i += 1;
        parser.skip();
        if parser.i < text.len() {
            return Err((parser.i, Problem::Trailing));
        }
        let wildcards: usize = parser.selectors.iter().map(|(_, s)| s.wildcards()).sum();
        if wildcards > MAX_WILDCARDS || parser.selectors.iter().any(|(_, s)| s.wildcards() > 1) {
            return Err((0, Problem::TooManyWildcards));
        }
        if parser.regexes > MAX_REGEXES {
            return Err((0, Problem::TooManyRegexes));
        }
        Ok(JsonPattern {
            expr,
            selectors: parser.selectors,
        })
    }

    pub(super) fn regexes(&self) -> usize {
        fn count(e: &Expr) -> usize {
            match e {
                Expr::Any(v) | Expr::All(v) => v.iter().map(count).sum(),
                Expr::Test(_, Test::Compare(c)) => usize::from(c.is_regex()),
                Expr::Test(..) => 0,
            }
        }
        count(&self.expr)
    }

    /// Whether a parsed event (a JSON object) matches.
    pub(super) fn holds_on(&self, json: &Json) -> bool {
        json.is_object() && self.holds(&self.expr, json)
    }

    /// When `message` is a JSON object the pattern matches: its selectors' values (`$.a` →
    /// text).
    pub(super) fn evaluate(&self, message: &str) -> Option<Vec<(String, String)>> {
        let json: Json = serde_json::from_str(message.trim()).ok()?;
        if !json.is_object() || !self.holds(&self.expr, &json) {
            return None;
        }
        let values = self
            .selectors
            .iter()
            .filter_map(|(name, s)| s.select(&json).first().map(|v| (name.clone(), text(v))))
            .collect();
        Some(values)
    }

    fn holds(&self, e: &Expr, json: &Json) -> bool {
        match e {
            Expr::Any(v) => v.iter().any(|e| self.holds(e, json)),
            Expr::All(v) => v.iter().all(|e| self.holds(e, json)),
            Expr::Test(s, test) => {
                let found = self.selectors[*s].1.select(json);
                match test {
                    Test::NotExists => found.is_empty(),
                    Test::IsNull => found.iter().any(|v| v.is_null()),
                    Test::IsTrue => found.iter().any(|v| v.as_bool() == Some(true)),
                    Test::IsFalse => found.iter().any(|v| v.as_bool() == Some(false)),
                    Test::Compare(c) => found.iter().any(|v| compare(c, v)),
                }
            }
        }
    }
}

fn compare(c: &Comparison, v: &Json) -> bool {
    match v {
        Json::Number(n) => n.as_f64().is_some_and(|f| c.test_number(f, &n.to_string())),
        Json::String(s) => matches!(c.op, Op::Eq | Op::Ne) && c.test_text(s),
        Json::Bool(_) | Json::Null => matches!(c.op, Op::Eq | Op::Ne) && c.test_text(&text(v)),
        Json::Array(_) | Json::Object(_) => false,
    }
}

/// A JSON value as extracted text: strings as they are, anything else as JSON.
pub(crate) fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Parser<'t> {
    text: &'t str,
    i: usize,
    selectors: Vec<(String, Selector)>,
    regexes: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.i..]
    }

    fn skip(&mut self) {
        self.i += blanks(self.rest());
    }

    fn eat(&mut self, s: &str) -> bool {
        self.skip();
        let ok = self.rest().starts_with(s);
        if ok {
            self.i += s.len();
        }
        ok
    }

    fn any(&mut self, depth: usize) -> Result<Expr, Fail> {
        let mut v = vec![self.all(depth)?];
        while self.eat("||") {
            v.push(self.all(depth)?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::Any(v)
        })
    }

    fn all(&mut self, depth: usize) -> Result<Expr, Fail> {
        let mut v = vec![self.unary(depth)?];
        while self.eat("&&") {
            v.push(self.unary(depth)?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::All(v)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, Fail> {
        if self.eat("(") {
            if depth >= MAX_DEPTH {
                return Err((self.i, Problem::TooDeep));
            }
            let e = self.any(depth + 1)?;
            if !self.eat(")") {
                return Err((self.i, Problem::Expected(")")));
            }
            return Ok(e);
        }
        self.skip();
        let at = self.i;
        let (selector, len) = Selector::lex(self.rest()).map_err(|(b, p)| (at + b, p))?;
        let name = self.rest()[..len].to_owned();
        self.i += len;
        let index = match self.selectors.iter().position(|(n, _)| *n == name) {
            Some(k) => k,
            None => {
                self.selectors.push((name, selector));
                self.selectors.len() - 1
            }
        };
        Ok(Expr::Test(index, self.test()?))
    }

    fn test(&mut self) -> Result<Test, Fail> {
        self.skip();
        if self.keyword("IS") {
            self.skip();
            for (word, test) in [
                ("NULL", Test::IsNull),
                ("TRUE", Test::IsTrue),
                ("FALSE", Test::IsFalse),
            ] {
                if self.keyword(word) {
                    return Ok(test);
                }
            }
            return Err((self.i, Problem::Expected("NULL, TRUE or FALSE after IS")));
        }
        if self.keyword("NOT") {
            self.skip();
            if self.keyword("EXISTS") {
                return Ok(Test::NotExists);
            }
            return Err((self.i, Problem::Expected("EXISTS after NOT")));
        }
        let (op, len) = Op::lex(self.rest()).ok_or((
            self.i,
            Problem::Expected("=, !=, <, <=, >, >=, IS or NOT EXISTS"),
        ))?;
        self.i += len;
        self.skip();
        let at = self.i;
        let (value, raw, len) =
            lex_value(self.rest(), &[')', '}', '&', '|']).map_err(|(b, p)| (at + b, p))?;
        let c = Comparison::new(op, value, &raw, at)?;
        self.regexes += usize::from(c.is_regex());
        self.i += len;
        Ok(Test::Compare(c))
    }

    /// A keyword followed by a blank or a character that ends it.
    fn keyword(&mut self, word: &str) -> bool {
        let rest = self.rest();
        let ends = rest[word.len().min(rest.len())..]
            .chars()
            .next()
            .is_none_or(|c| c.is_whitespace() || STOP.contains(&c));
        let ok = rest.starts_with(word) && ends;
        if ok {
            self.i += word.len();
        }
        ok
    }
}

impl Selector {
    /// A reference as a metric transformation writes it (`$.a.b`), whole.
    pub(crate) fn parse(s: &str) -> Result<Self, Fail> {
        let (sel, len) = Selector::lex(s)?;
        if len != s.len() {
            return Err((len, Problem::Trailing));
        }
        Ok(sel)
    }

    /// A selector at the start of `s`, and its length.
    fn lex(s: &str) -> Result<(Self, usize), Fail> {
        if !s.starts_with('$') {
            return Err((0, Problem::Expected("a property selector ($.name)")));
        }
        let mut steps = Vec::new();
        let mut i = 1;
        loop {
            let rest = &s[i..];
            if let Some(after) = rest.strip_prefix('.') {
                if let Some(after_star) = after.strip_prefix('*') {
                    let _ = after_star;
                    steps.push(Step::Any);
                    i += 2;
                    continue;
                }
                let end = after
                    .char_indices()
                    .find(|(_, c)| c.is_whitespace() || STOP.contains(c) || *c == '*')
                    .map_or(after.len(), |(k, _)| k);
                if end == 0 {
                    return Err((i + 1, Problem::Expected("a property name after .")));
                }
                steps.push(Step::Key(after[..end].to_owned()));
                i += 1 + end;
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or((i, Problem::Expected("]")))?;
                let inside = after[..end].trim();
                steps.push(if inside == "*" {
                    Step::Any
                } else {
                    Step::Index(
                        inside
                            .parse()
                            .map_err(|_| (i + 1, Problem::Expected("an index or * in [ ]")))?,
                    )
                });
                i += end + 2;
            } else {
                break;
            }
        }
        if steps.is_empty() {
            return Err((1, Problem::Expected("a property after $")));
        }
        Ok((Selector(steps), i))
    }

    fn wildcards(&self) -> usize {
        self.0.iter().filter(|s| **s == Step::Any).count()
    }

    /// The values it selects in `json`.
    pub(crate) fn select<'j>(&self, json: &'j Json) -> Vec<&'j Json> {
        let mut current = vec![json];
        for step in &self.0 {
            let mut next = Vec::new();
            for v in current {
                match (step, v) {
                    (Step::Key(k), Json::Object(m)) => next.extend(m.get(k)),
                    (Step::Index(n), Json::Array(a)) => next.extend(a.get(*n)),
                    (Step::Any, Json::Object(m)) => next.extend(m.values()),
                    (Step::Any, Json::Array(a)) => next.extend(a.iter()),
                    _ => {}
                }
            }
            current = next;
        }
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let json: Json = serde_json::from_str(r#"{"a":{"b":[1,{"c":"x"}]},"k-1":true}"#).unwrap();
        let get = |s: &str| -> Vec<String> {
            Selector::parse(s)
                .unwrap()
                .select(&json)
                .into_iter()
                .map(text)
                .collect()
        };
        assert_eq!(get("$.a.b[0]"), ["1"]);
        assert_eq!(get("$.a.b[1].c"), ["x"]);
        assert_eq!(get("$.a.b[*]").len(), 2);
        assert_eq!(get("$.k-1"), ["true"]);
        assert!(get("$.nope").is_empty());
        for bad in ["a", "$", "$.", "$.a[x]", "$.a[1"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }
}
