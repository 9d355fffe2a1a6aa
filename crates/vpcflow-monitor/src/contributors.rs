//! Contributor Insights (`reference/query.md` §3): rules in AWS's JSON syntax
//! (`{"Schema": {"Name": "CloudWatchLogRule", "Version": 1}, …}`), checked without I/O, and
//! their top-N reports over log events with GetInsightRuleReport's shape. AWS computes
//! approximate values with sketches; these are exact.
//!
//! Decided where AWS is silent: `AggregateOn: "Sum"` without `ValueOf` (as AWS's own "Rejected
//! TCP connections" sample is written) sums 1 per event, a count; an event lacking a key or the
//! `ValueOf` field, or whose `ValueOf` is not a number, contributes nothing; `EqualTo` and
//! `NotEqualTo` take a number (compared numerically) or a string (compared as text).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use crate::pattern::{event_fields, json_path, json_text as text};

/// The most keys, filters and strings per filter AWS allows.
const MAX_KEYS: usize = 4;
const MAX_FILTERS: usize = 4;
const MAX_STRINGS: usize = 10;

/// Why a rule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid rule definition: {0}")]
pub struct RuleError(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError(why.into()))
}

/// A checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    groups: Vec<String>,
    json: bool,
    keys: Vec<Field>,
    key_labels: Vec<String>,
    value_of: Option<Field>,
    sum: bool,
    filters: Vec<(Field, Test)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    /// A CLF position, from 0.
    Position(usize),
    /// A JSON selector.
    Path(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    In(Vec<String>),
    NotIn(Vec<String>),
    StartsWith(Vec<String>),
    GreaterThan(f64),
    LessThan(f64),
    EqualTo(Json),
    NotEqualTo(Json),
    IsPresent(bool),
}

impl Rule {
    /// Parses and checks a rule definition (AWS's JSON syntax).
    pub fn parse(definition: &str) -> Result<Rule, RuleError> {
        let v: Json =
            serde_json::from_str(definition).map_err(|e| RuleError(format!("not JSON: {e}")))?;
        let schema = &v["Schema"];
        if schema["Name"] != "CloudWatchLogRule" || schema["Version"] != 1 {
            return refuse("Schema must be {\"Name\": \"CloudWatchLogRule\", \"Version\": 1}");
        }
        let groups = match (&v["LogGroupNames"], &v["LogGroupARNs"]) {
            (Json::Array(a), Json::Null) => strings(a, "LogGroupNames")?,
            (Json::Null, Json::Array(a)) => strings(a, "LogGroupARNs")?
                .into_iter()
                .map(|arn| arn.rsplit(":log-group:").next().unwrap_or(&arn).to_owned())
                .collect(),
            _ => return refuse("give LogGroupNames or LogGroupARNs (one of them)"),
        };
        if groups.is_empty() {
            return refuse("LogGroupNames is empty");
        }
        let json = match v["LogFormat"].as_str() {
            Some("JSON") => true,
            Some("CLF") => false,
            _ => return refuse("LogFormat must be JSON or CLF"),
        };
        let aliases = aliases(&v["Fields"], json)?;
        let field = |name: &str| resolve(name, json, &aliases);
        let c = &v["Contribution"];
        let Some(keys) = c["Keys"].as_array() else {
            return refuse("Contribution.Keys is required");
        };
        let key_labels = strings(keys, "Contribution.Keys")?;
        if key_labels.is_empty() || key_labels.len() > MAX_KEYS {
            return refuse(format!("Contribution.Keys holds 1 to {MAX_KEYS} fields"));
        }
        let keys = key_labels
            .iter()
            .map(|k| field(k))
            .collect::<Result<_, _>>()?;
        let sum = match v["AggregateOn"].as_str() {
            Some("Sum") => true,
            Some("Count") => false,
            _ => return refuse("AggregateOn must be Count or Sum"),
        };
        let value_of = match c["ValueOf"].as_str() {
            Some(_) if !sum => return refuse("ValueOf goes with AggregateOn Sum only"),
            Some(f) => Some(field(f)?),
            None => None,
        };
        let filters = match &c["Filters"] {
            Json::Null => Vec::new(),
            Json::Array(list) if list.len() <= MAX_FILTERS => list
                .iter()
                .map(|f| filter(f, &field))
                .collect::<Result<_, _>>()?,
            _ => {
                return refuse(format!(
                    "Contribution.Filters holds at most {MAX_FILTERS} filters"
                ));
            }
        };
        Ok(Rule {
            groups,
            json,
            keys,
            key_labels,
            value_of,
            sum,
            filters,
        })
    }

    /// Whether it reads the log group `name`.
    pub fn reads(&self, name: &str) -> bool {
        self.groups.iter().any(|g| match g.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => g == name,
        })
    }

    /// What one event contributes: its keys and value, if it passes the filters.
    pub fn contribution(&self, message: &str) -> Option<(Vec<String>, f64)> {
        let event = Event::of(message, self.json)?;
        for (f, test) in &self.filters {
            if !test.holds(event.get(f).as_ref()) {
                return None;
            }
        }
        let keys = self
            .keys
            .iter()
            .map(|k| event.get(k).map(|v| text(&v)))
            .collect::<Option<Vec<_>>>()?;
        let value = match &self.value_of {
            Some(f) => number(&event.get(f)?)?,
            None => 1.0,
        };
        Some((keys, value))
    }
}

fn strings(a: &[Json], what: &str) -> Result<Vec<String>, RuleError> {
    a.iter()
        .map(|s| {
            s.as_str()
                .map(str::to_owned)
                .ok_or_else(|| RuleError(format!("{what} holds strings")))
        })
        .collect()
}

/// `Fields`: alias → field.
fn aliases(fields: &Json, json: bool) -> Result<HashMap<String, Field>, RuleError> {
    let Some(map) = fields.as_object() else {
        return match fields {
            Json::Null => Ok(HashMap::new()),
            _ => refuse("Fields maps a field to its alias"),
        };
    };
    let mut out = HashMap::new();
    for (field, alias) in map {
        let Some(alias) = alias.as_str() else {
            return refuse(format!("Fields.{field}: an alias is a string"));
        };
        out.insert(alias.to_owned(), resolve(field, json, &HashMap::new())?);
    }
    Ok(out)
}

/// A field as a rule names it: an alias, a CLF position ("4"), or a JSON selector ("$.a").
fn resolve(name: &str, json: bool, aliases: &HashMap<String, Field>) -> Result<Field, RuleError> {
    if let Some(f) = aliases.get(name) {
        return Ok(f.clone());
    }
    if json {
        return match json_path(name) {
            true => Ok(Field::Path(name.to_owned())),
            false => refuse(format!(
                "'{name}' is not a JSON selector ($.a.b) or an alias of Fields"
            )),
        };
    }
    match name.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(Field::Position(n - 1)),
        _ => refuse(format!(
            "'{name}' is not a position (from 1) or an alias of Fields"
        )),
    }
}

fn filter(
    f: &Json,
    field: &dyn Fn(&str) -> Result<Field, RuleError>,
) -> Result<(Field, Test), RuleError> {
    let Some(m) = f["Match"].as_str() else {
        return refuse("a filter needs Match");
    };
    let ops: Vec<(&String, &Json)> = f
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != "Match")
        .collect();
    let [(op, operand)] = ops.as_slice() else {
        return refuse(format!("the filter on '{m}' needs exactly one operator"));
    };
    let list = |what: &str| -> Result<Vec<String>, RuleError> {
        match operand.as_array() {
            Some(a) if !a.is_empty() && a.len() <= MAX_STRINGS => a
                .iter()
                .map(|s| match s {
                    Json::String(s) => Ok(s.clone()),
                    Json::Number(n) => Ok(n.to_string()),
                    _ => refuse(format!("{what} takes strings")),
                })
                .collect(),
            _ => refuse(format!("{what} takes 1 to {MAX_STRINGS} strings")),
        }
    };
    let num = |what: &str| {
        operand
            .as_f64()
            .ok_or_else(|| RuleError(format!("{what} takes a number")))
    };
    let test = match op.as_str() {
        "In" => Test::In(list("In")?),
        "NotIn" => Test::NotIn(list("NotIn")?),
        "StartsWith" => Test::StartsWith(list("StartsWith")?),
        "GreaterThan" => Test::GreaterThan(num("GreaterThan")?),
        "LessThan" => Test::LessThan(num("LessThan")?),
        "EqualTo" | "NotEqualTo" => {
            if !(operand.is_number() || operand.is_string()) {
                return refuse(format!("{op} takes a number or a string"));
            }
            if op.as_str() == "EqualTo" {
                Test::EqualTo((*operand).clone())
            } else {
                Test::NotEqualTo((*operand).clone())
            }
        }
        "IsPresent" => Test::IsPresent(
            operand
                .as_bool()
                .ok_or_else(|| RuleError("IsPresent takes true or false".into()))?,
        ),
        other => return refuse(format!("unknown filter operator '{other}'")),
    };
    Ok((field(m)?, test))
}

impl Test {
    fn holds(&self, v: Option<&Json>) -> bool {
        let Some(v) = v else {
            return matches!(
                self,
                Test::IsPresent(false) | Test::NotIn(_) | Test::NotEqualTo(_)
            );
        };
        let t = text(v);
        match self {
            Test::In(set) => set.contains(&t),
            Test::NotIn(set) => !set.contains(&t),
            Test::StartsWith(set) => set.iter().any(|p| t.starts_with(p.as_str())),
            Test::GreaterThan(n) => number(v).is_some_and(|x| x > *n),
            Test::LessThan(n) => number(v).is_some_and(|x| x < *n),
            Test::EqualTo(want) => equal(v, want),
            Test::NotEqualTo(want) => !equal(v, want),
            Test::IsPresent(p) => *p,
        }
    }
}

fn equal(v: &Json, want: &Json) -> bool {
    match want.as_f64() {
        Some(n) => number(v) == Some(n),
        None => want.as_str() == Some(text(v).as_str()),
    }
}

fn number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        _ => None,
    }
}

/// An event, read once: its CLF fields or its JSON.
enum Event<'m> {
    Clf(Vec<&'m str>),
    Json(Json),
}

impl<'m> Event<'m> {
    fn of(message: &'m str, json: bool) -> Option<Event<'m>> {
        if json {
            let v: Json = serde_json::from_str(message.trim()).ok()?;
            return v.is_object().then_some(Event::Json(v));
        }
        Some(Event::Clf(event_fields(message)))
    }

    fn get(&self, f: &Field) -> Option<Json> {
        match (self, f) {
            (Event::Clf(fields), Field::Position(i)) => {
                fields.get(*i).map(|s| Json::String((*s).to_owned()))
            }
            (Event::Json(v), Field::Path(p)) => crate::pattern::select_first(v, p),
            _ => None,
        }
    }
}

/// GetInsightRuleReport's order: by the contributors' sums or their largest datapoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    /// `Sum` (the default).
    Sum,
    /// `Maximum`.
    Maximum,
}

/// A contributor's total and its value per period start.
type Totals = (f64, BTreeMap<u64, f64>);

/// A rule's contributions over a time range, by period.
pub struct Contributions<'r> {
    rule: &'r Rule,
    period_ms: u64,
    /// keys → (total, period start → value)
    by_key: HashMap<Vec<String>, Totals>,
    /// period start → (events, sum, min, max) of the contributing events' values
    periods: BTreeMap<u64, (f64, f64, f64, f64)>,
}

/// One contributor of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributor {
    /// Its keys' values, in the rule's order.
    pub keys: Vec<String>,
    /// Its aggregate over the range.
    pub value: f64,
    /// Its value per period (start ms, value), oldest first.
    pub datapoints: Vec<(u64, f64)>,
}

/// One period of a report (GetInsightRuleReport's `MetricDatapoints`).
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodPoint {
    /// The period's start (ms).
    pub timestamp_ms: u64,
    /// How many contributors it has.
    pub unique_contributors: u64,
    /// The largest contributor's value in it.
    pub max_contributor_value: f64,
    /// Contributing events.
    pub sample_count: f64,
    /// Their values' sum.
    pub sum: f64,
    /// The least value.
    pub minimum: f64,
    /// The greatest value.
    pub maximum: f64,
}

/// A report (GetInsightRuleReport's answer, exact).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The keys' names.
    pub key_labels: Vec<String>,
    /// `Sum` or `SampleCount`.
    pub aggregation_statistic: &'static str,
    /// Every contributor's value together.
    pub aggregate_value: f64,
    /// How many contributors there are.
    pub unique_count: u64,
    /// The top ones, largest first.
    pub contributors: Vec<Contributor>,
    /// Per period.
    pub periods: Vec<PeriodPoint>,
}

impl<'r> Contributions<'r> {
    /// Empty, with periods of `period_s` seconds (aligned to the epoch).
    pub fn new(rule: &'r Rule, period_s: u64) -> Self {
        Contributions {
            rule,
            period_ms: period_s.max(1) * 1000,
            by_key: HashMap::new(),
            periods: BTreeMap::new(),
        }
    }

    /// Adds one event (its time and message).
    pub fn event(&mut self, timestamp_ms: u64, message: &str) {
        let Some((keys, value)) = self.rule.contribution(message) else {
            return;
        };
        let period = timestamp_ms / self.period_ms * self.period_ms;
        let entry = self.by_key.entry(keys).or_default();
        entry.0 += value;
        *entry.1.entry(period).or_default() += value;
        let p = self
            .periods
            .entry(period)
            .or_insert((0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY));
        p.0 += 1.0;
        p.1 += value;
        p.2 = p.2.min(value);
        p.3 = p.3.max(value);
    }

    /// The top `max` contributors (ties by keys, ascending) and the periods.
    pub fn report(self, max: usize, order: OrderBy) -> Report {
        let rank = |(total, points): &Totals| match order {
            OrderBy::Sum => *total,
            OrderBy::Maximum => points.values().copied().fold(f64::NEG_INFINITY, f64::max),
        };
        let mut all: Vec<(&Vec<String>, &Totals)> = self.by_key.iter().collect();
        all.sort_by(|a, b| rank(b.1).total_cmp(&rank(a.1)).then_with(|| a.0.cmp(b.0)));
        let periods = self
            .periods
            .iter()
            .map(|(&t, &(count, sum, min, max))| {
                let values = self.by_key.values().filter_map(|(_, p)| p.get(&t));
                let (n, top) =
                    values.fold((0u64, f64::NEG_INFINITY), |(n, m), v| (n + 1, m.max(*v)));
                PeriodPoint {
                    timestamp_ms: t,
                    unique_contributors: n,
                    max_contributor_value: top,
                    sample_count: count,
                    sum,
                    minimum: min,
                    maximum: max,
                }
            })
            .collect();
        Report {
            key_labels: self.rule.key_labels.clone(),
            aggregation_statistic: if self.rule.sum { "Sum" } else { "SampleCount" },
            aggregate_value: self.by_key.values().map(|(t, _)| t).sum(),
            unique_count: self.by_key.len() as u64,
            contributors: all
                .into_iter()
                .take(max)
                .map(|(k, (total, points))| Contributor {
                    keys: k.clone(),
                    value: *total,
                    datapoints: points.iter().map(|(t, v)| (*t, *v)).collect(),
                })
                .collect(),
            periods,
        }
    }
}

/// AWS's sample rules for flow logs (the console's, §3.2), on a log group: name → definition.
pub fn sample(name: &str, log_group: &str) -> Option<String> {
    let (fields, contribution, aggregate) = match name {
        "byte-transfers" => (
            r#"{"4":"srcaddr","5":"dstaddr","10":"bytes"}"#,
            r#"{"Keys":["srcaddr","dstaddr"],"ValueOf":"bytes","Filters":[]}"#,
            "Sum",
        ),
        "https-requests" => (
            r#"{"5":"destination address","7":"destination port","9":"packet count"}"#,
            r#"{"Keys":["destination address"],"ValueOf":"packet count","Filters":[{"Match":"destination port","EqualTo":443}]}"#,
            "Sum",
        ),
        "rejected-tcp" => (
            r#"{"3":"interfaceID","4":"sourceAddress","8":"protocol","13":"action"}"#,
            r#"{"Keys":["interfaceID","sourceAddress"],"Filters":[{"Match":"protocol","EqualTo":6},{"Match":"action","In":["REJECT"]}]}"#,
            "Sum",
        ),
        _ => return None,
    };
    let group = serde_json::to_string(log_group).expect("strings serialize");
    Some(format!(
        r#"{{"Schema":{{"Name":"CloudWatchLogRule","Version":1}},"LogGroupNames":[{group}],"LogFormat":"CLF","Fields":{fields},"Contribution":{contribution},"AggregateOn":"{aggregate}"}}"#
    ))
}

/// The names [`sample`] knows.
pub const SAMPLES: &[&str] = &["byte-transfers", "https-requests", "rejected-tcp"];

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &[(u64, &str)] = &[
        (
            0,
            "2 123 eni-a 10.0.0.1 10.0.0.2 40000 443 6 10 1000 1 2 ACCEPT OK",
        ),
        (
            1,
            "2 123 eni-a 10.0.0.1 10.0.0.2 40001 443 6 5 500 1 2 ACCEPT OK",
        ),
        (
            2,
            "2 123 eni-b 10.0.0.3 10.0.0.2 40002 22 6 1 40 1 2 REJECT OK",
        ),
        (
            61_000,
            "2 123 eni-b 10.0.0.3 10.0.0.9 40003 22 17 1 40 1 2 REJECT OK",
        ),
        (62_000, "2 123 eni-b - - - - - - - 1 2 - NODATA"),
    ];

    fn report(name: &str) -> Report {
        let rule = Rule::parse(&sample(name, "/g").unwrap()).unwrap();
        let mut c = Contributions::new(&rule, 60);
        for (t, m) in LINES {
            c.event(*t, m);
        }
        c.report(10, OrderBy::Sum)
    }

    #[test]
    fn the_three_aws_samples() {
        let bytes = report("byte-transfers");
        assert_eq!(bytes.key_labels, ["srcaddr", "dstaddr"]);
        assert_eq!(bytes.aggregation_statistic, "Sum");
        let top: Vec<(Vec<String>, f64)> = bytes
            .contributors
            .iter()
            .map(|c| (c.keys.clone(), c.value))
            .collect();
        assert_eq!(
            top,
            [
                (vec!["10.0.0.1".into(), "10.0.0.2".into()], 1500.0),
                (vec!["10.0.0.3".into(), "10.0.0.2".into()], 40.0),
                (vec!["10.0.0.3".into(), "10.0.0.9".into()], 40.0),
            ],
            "the NODATA record's bytes are not a number: no contribution"
        );
        assert_eq!(bytes.aggregate_value, 1580.0);
        assert_eq!(bytes.periods.len(), 2);
        assert_eq!(
            (bytes.periods[0].unique_contributors, bytes.periods[0].sum),
            (2, 1540.0)
        );
        let https = report("https-requests");
        assert_eq!(https.contributors.len(), 1);
        assert_eq!(
            (
                https.contributors[0].keys[0].as_str(),
                https.contributors[0].value
            ),
            ("10.0.0.2", 15.0)
        );
        let rejected = report("rejected-tcp");
        assert_eq!(rejected.contributors.len(), 1, "the UDP reject is not TCP");
        assert_eq!(rejected.contributors[0].keys, ["eni-b", "10.0.0.3"]);
        assert_eq!(
            rejected.contributors[0].value, 1.0,
            "Sum without ValueOf counts"
        );
    }

    #[test]
    fn rules_are_checked() {
        for (bad, why) in [
            ("{}", "Schema"),
            (
                r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogFormat":"CLF","AggregateOn":"Count","Contribution":{"Keys":["1"]}}"#,
                "LogGroupNames",
            ),
            (
                r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"XML","AggregateOn":"Count","Contribution":{"Keys":["1"]}}"#,
                "LogFormat",
            ),
            (
                r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"CLF","AggregateOn":"Count","Contribution":{"Keys":["x"]}}"#,
                "'x' is not a position",
            ),
            (
                r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"CLF","AggregateOn":"Count","Contribution":{"Keys":["1","2","3","4","5"]}}"#,
                "1 to 4",
            ),
            (
                r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"CLF","AggregateOn":"Count","Contribution":{"Keys":["1"],"ValueOf":"2"}}"#,
                "ValueOf goes with",
            ),
            (
                r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"CLF","AggregateOn":"Count","Contribution":{"Keys":["1"],"Filters":[{"Match":"1","Like":"x"}]}}"#,
                "unknown filter operator",
            ),
            (
                r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"JSON","AggregateOn":"Count","Contribution":{"Keys":["user"]}}"#,
                "not a JSON selector",
            ),
        ] {
            let e = Rule::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn json_rules_and_group_prefixes() {
        let rule = Rule::parse(r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["/app/*"],"LogFormat":"JSON","Contribution":{"Keys":["$.user"],"ValueOf":"$.ms","Filters":[{"Match":"$.status","GreaterThan":499},{"Match":"$.trace","IsPresent":false}]},"AggregateOn":"Sum"}"#).unwrap();
        assert!(rule.reads("/app/web") && !rule.reads("/other"));
        assert_eq!(
            rule.contribution(r#"{"user":"a","ms":12.5,"status":503}"#),
            Some((vec!["a".into()], 12.5))
        );
        assert_eq!(
            rule.contribution(r#"{"user":"a","ms":1,"status":200}"#),
            None
        );
        assert_eq!(
            rule.contribution(r#"{"user":"a","ms":1,"status":503,"trace":"x"}"#),
            None
        );
        assert_eq!(rule.contribution("not json"), None);
    }
}
