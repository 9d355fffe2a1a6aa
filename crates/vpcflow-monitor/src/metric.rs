//! What a metric filter publishes for an event its pattern matches (`reference/query.md` §2.5):
//! `metricValue` as a number or a `$field` of the pattern, and `dimensions` as `$field`s, checked
//! against the pattern once when the filter is put, then applied per event at ingest.
//!
//! A `$field` whose value in an event is not a number publishes nothing for that event (decided:
//! AWS does not say), and `defaultValue` is the store's to publish for a minute without matches.

use std::borrow::Cow;

use crate::pattern::{Found, Pattern, Reference};

/// The most dimensions a metric transformation has (AWS's quota).
pub const MAX_DIMENSIONS: usize = 3;

/// Why a metric transformation cannot go with its pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// `metricValue` is neither a number nor a `$field` the pattern extracts.
    #[error(
        "Invalid metric value '{0}': expected a number or a $field that the filter pattern names"
    )]
    MetricValue(String),
    /// A dimension's value is not a `$field` the pattern extracts.
    #[error(
        "Invalid dimension value '{value}' for '{name}': expected a $field that the filter pattern names"
    )]
    Dimension {
        /// The dimension.
        name: String,
        /// Its value.
        value: String,
    },
    /// More than [`MAX_DIMENSIONS`].
    #[error("A metric transformation has at most {MAX_DIMENSIONS} dimensions")]
    TooManyDimensions,
}

/// One metric transformation, checked against its pattern, its references resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformation {
    value: Source,
    /// (name, the reference resolved), by name.
    dimensions: Vec<(String, Reference)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    Literal(f64),
    Field(Reference),
}

impl Transformation {
    /// Checks `metric_value` and `dimensions` (name → `$field`) against `pattern` (no I/O).
    pub fn new(
        pattern: &Pattern,
        metric_value: &str,
        dimensions: &[(String, String)],
    ) -> Result<Self, TransformError> {
        let literal = metric_value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite());
        let value = match (literal, pattern.reference(metric_value)) {
            (Some(n), _) => Source::Literal(n),
            (None, Some(r)) => Source::Field(r),
            (None, None) => return Err(TransformError::MetricValue(metric_value.to_owned())),
        };
        if dimensions.len() > MAX_DIMENSIONS {
            return Err(TransformError::TooManyDimensions);
        }
        let mut resolved = Vec::new();
        for (name, v) in dimensions {
            let Some(r) = pattern.reference(v) else {
                return Err(TransformError::Dimension {
                    name: name.clone(),
                    value: v.clone(),
                });
            };
            resolved.push((name.clone(), r));
        }
        resolved.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Transformation {
            value,
            dimensions: resolved,
        })
    }

    /// What an event the pattern matched publishes, without copying its text: the value, and
    /// the dimensions' values in [`Transformation::dimension_names`]'s order; none when its
    /// fields give no number or lack a dimension.
    pub fn apply_found<'f>(&self, found: &'f Found<'_>) -> Option<(f64, Vec<Cow<'f, str>>)> {
        let value = match &self.value {
            Source::Literal(n) => *n,
            Source::Field(r) => number(&found.get(r)?)?,
        };
        let dims = self
            .dimensions
            .iter()
            .map(|(_, r)| found.get(r))
            .collect::<Option<Vec<_>>>()?;
        Some((value, dims))
    }

    /// The dimensions' names, in the order [`Transformation::apply_found`] gives their values.
    pub fn dimension_names(&self) -> impl Iterator<Item = &str> {
        self.dimensions.iter().map(|(n, _)| n.as_str())
    }

    /// Whether it needs the pattern's extracted values (else a match alone decides).
    pub fn needs_values(&self) -> bool {
        matches!(self.value, Source::Field(..)) || !self.dimensions.is_empty()
    }
}

/// A field's value as a number: digits alone (a flow record's counts) read as an integer,
/// anything else as a float.
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    if !s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().ok().map(|n| n as f64);
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Event;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).unwrap()
    }

    /// What `line` publishes through `t`: the value and the dimensions' values.
    fn publish(t: &Transformation, pattern: &Pattern, line: &str) -> Option<(f64, Vec<String>)> {
        let event = Event::new(line);
        let found = pattern.found(&event)?;
        let (v, dims) = t.apply_found(&found)?;
        Some((v, dims.into_iter().map(|d| d.into_owned()).collect()))
    }

    #[test]
    fn values_and_dimensions_come_from_the_pattern() {
        let flow = p(
            "[version, account, eni, src, dst, srcport, dstport, protocol, packets, bytes, start, end, action=REJECT, status]",
        );
        let line = "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 22 6 10 840 1 2 REJECT OK";
        let bytes =
            Transformation::new(&flow, "$bytes", &[("Port".into(), "$dstport".into())]).unwrap();
        assert_eq!(bytes.dimension_names().collect::<Vec<_>>(), ["Port"]);
        assert_eq!(
            publish(&bytes, &flow, line),
            Some((840.0, vec!["22".into()]))
        );
        let one = Transformation::new(&flow, "1", &[]).unwrap();
        assert_eq!(publish(&one, &flow, line).unwrap().0, 1.0);
        assert!(!one.needs_values());
        let words = Transformation::new(&flow, "$action", &[]).unwrap();
        assert_eq!(publish(&words, &flow, line), None, "REJECT is not a number");
        assert_eq!(
            Transformation::new(&flow, "$nope", &[]),
            Err(TransformError::MetricValue("$nope".into()))
        );
        assert!(matches!(
            Transformation::new(&p("REJECT"), "$bytes", &[]),
            Err(TransformError::MetricValue(_))
        ));
        let four: Vec<(String, String)> =
            (0..4).map(|i| (format!("d{i}"), "$src".into())).collect();
        assert_eq!(
            Transformation::new(&flow, "1", &four),
            Err(TransformError::TooManyDimensions)
        );
        assert!(matches!(
            Transformation::new(&flow, "1", &[("D".into(), "src".into())]),
            Err(TransformError::Dimension { .. })
        ));
    }

    #[test]
    fn json_values_from_any_property() {
        let pat = p("{ $.status = 200 }");
        let t = Transformation::new(&pat, "$.latency.ms", &[]).unwrap();
        let event = r#"{"status":200,"latency":{"ms":12.5}}"#;
        assert_eq!(publish(&t, &pat, event).unwrap().0, 12.5);
    }
}
