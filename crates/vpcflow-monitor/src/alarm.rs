//! The metric alarm's state machine (`reference/query.md` §2.6; AWS's "Configuring how
//! CloudWatch alarms treat missing data"): from the datapoints of an evaluation range, the
//! alarm's rule and its current state, the next state. No I/O and no clock: the store gives the
//! datapoints, one per period, on the metric's own time.
//!
//! The rule, as AWS documents it and its truth tables (`tests`) check:
//! - the evaluation range holds more datapoints than `N` (`EvaluationPeriods`): here `N + 2`,
//!   the range AWS's tables use for `N = 3` (decided: AWS gives no formula);
//! - with at least `N` real datapoints in the range, the newest `N` decide, and
//!   `TreatMissingData` does not matter: `M` (`DatapointsToAlarm`) of them breaching is ALARM,
//!   else OK;
//! - with fewer, `breaching` and `notBreaching` fill as few missing datapoints as make `N`,
//!   newest first, then decide the same way;
//! - `missing`: all missing is INSUFFICIENT_DATA; otherwise the real ones decide, except the
//!   "premature alarm": when the oldest real datapoint is breaching, at least `M` periods old,
//!   and every newer one is breaching or missing, the alarm goes to ALARM;
//! - `ignore`: as `missing`, except that all missing, or a premature alarm, keeps the state.

/// An alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// The metric is within the threshold.
    Ok,
    /// The metric breached it.
    Alarm,
    /// Not enough data to say.
    InsufficientData,
}

impl State {
    /// CloudWatch's name (`StateValue`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Alarm => "ALARM",
            State::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    /// From CloudWatch's name.
    pub fn parse(s: &str) -> Option<State> {
        [State::Ok, State::Alarm, State::InsufficientData]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// How a datapoint is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `>=`.
    GreaterThanOrEqualToThreshold,
    /// `>`.
    GreaterThanThreshold,
    /// `<`.
    LessThanThreshold,
    /// `<=`.
    LessThanOrEqualToThreshold,
}

impl Comparison {
    /// The operator CloudWatch names so (the anomaly-band operators are not static thresholds).
    pub fn parse(s: &str) -> Option<Comparison> {
        Some(match s {
            "GreaterThanOrEqualToThreshold" => Comparison::GreaterThanOrEqualToThreshold,
            "GreaterThanThreshold" => Comparison::GreaterThanThreshold,
            "LessThanThreshold" => Comparison::LessThanThreshold,
            "LessThanOrEqualToThreshold" => Comparison::LessThanOrEqualToThreshold,
            _ => return None,
        })
    }

    /// Whether `value` breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

/// `TreatMissingData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingData {
    /// `missing` (the default).
    Missing,
    /// `ignore`: keep the state.
    Ignore,
    /// `breaching`.
    Breaching,
    /// `notBreaching`.
    NotBreaching,
}

impl MissingData {
    /// From CloudWatch's name; absent is `missing`.
    pub fn parse(s: Option<&str>) -> Option<MissingData> {
        Some(match s {
            None | Some("missing") => MissingData::Missing,
            Some("ignore") => MissingData::Ignore,
            Some("breaching") => MissingData::Breaching,
            Some("notBreaching") => MissingData::NotBreaching,
            Some(_) => return None,
        })
    }
}

/// What an alarm evaluates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// `N`.
    pub evaluation_periods: usize,
    /// `M` (≤ `N`).
    pub datapoints_to_alarm: usize,
    /// The threshold.
    pub threshold: f64,
    /// The comparison.
    pub comparison: Comparison,
    /// `TreatMissingData`.
    pub missing: MissingData,
}

/// Why the state is what it is, for `StateReason` and the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The state.
    pub state: State,
    /// How many of the datapoints that decided were breaching, of how many.
    pub breaching: usize,
    /// The datapoints that decided (newest last; missing ones filled as the rule says).
    pub decided_by: Vec<f64>,
}

impl Rule {
    /// The evaluation range: how many datapoints the store fetches.
    pub fn range(&self) -> usize {
        self.evaluation_periods + 2
    }

    /// The next state from the range's datapoints (oldest first; `None` missing) and the
    /// current state.
    pub fn evaluate(&self, range: &[Option<f64>], current: State) -> Outcome {
        let (n, m) = (self.evaluation_periods, self.datapoints_to_alarm);
        let breach = |v: f64| self.comparison.breaches(v, self.threshold);
        let real: Vec<f64> = range.iter().flatten().copied().collect();
        let decide = |points: Vec<f64>| {
            let breaching = points.iter().filter(|v| breach(**v)).count();
            let state = if breaching >= m {
                State::Alarm
            } else {
                State::Ok
            };
            Outcome {
                state,
                breaching,
                decided_by: points,
            }
        };
        if real.len() >= n {
            return decide(real[real.len() - n..].to_vec());
        }
        let keep = |state| Outcome {
            state,
            breaching: 0,
            decided_by: Vec::new(),
        };
        match self.missing {
            MissingData::Breaching | MissingData::NotBreaching => {
                let fill = if self.missing == MissingData::Breaching {
                    self.breaching_value()
                } else {
                    self.not_breaching_value()
                };
                decide(filled(range, n, fill))
            }
            MissingData::Missing | MissingData::Ignore if real.is_empty() => match self.missing {
                MissingData::Missing => keep(State::InsufficientData),
                _ => keep(current),
            },
            MissingData::Missing | MissingData::Ignore => {
                if self.premature(range, &breach) {
                    let state = if self.missing == MissingData::Missing {
                        State::Alarm
                    } else {
                        current
                    };
                    let breaching = real.iter().filter(|v| breach(**v)).count();
                    return Outcome {
                        state,
                        breaching,
                        decided_by: real,
                    };
                }
                decide(real)
            }
        }
    }

    /// The premature-alarm rule: the oldest real datapoint breaches, is at least `M` periods
    /// old, and nothing newer is a real datapoint that does not breach.
    fn premature(&self, range: &[Option<f64>], breach: &dyn Fn(f64) -> bool) -> bool {
        let Some(oldest) = range.iter().position(Option::is_some) else {
            return false;
        };
        let age = range.len() - oldest;
        age >= self.datapoints_to_alarm && range[oldest..].iter().flatten().all(|v| breach(*v))
    }

    fn breaching_value(&self) -> f64 {
        match self.comparison {
            Comparison::GreaterThanOrEqualToThreshold | Comparison::GreaterThanThreshold => {
                f64::INFINITY
            }
            Comparison::LessThanThreshold | Comparison::LessThanOrEqualToThreshold => {
                f64::NEG_INFINITY
            }
        }
    }

    fn not_breaching_value(&self) -> f64 {
        -self.breaching_value()
    }
}

/// Whether a percentile (`level`, 0–100) over `samples` values is too few to be statistically
/// significant (§2.6: for p in [0.5, 1), fewer than 10/(1−p) samples; below 0.5, fewer than
/// 10/p): with `EvaluateLowSampleCountPercentile: ignore` such a datapoint changes nothing.
pub fn too_few_samples(level: f64, samples: f64) -> bool {
    // 10/(1−p) and 10/p with p in percent, so that p90 needs exactly 100 samples.
    let needed = if level >= 50.0 {
        1000.0 / (100.0 - level)
    } else {
        1000.0 / level
    };
    samples < needed
}

/// The range's datapoints with its newest missing ones filled by `fill`, as few as make `n`.
fn filled(range: &[Option<f64>], n: usize, fill: f64) -> Vec<f64> {
    let real = range.iter().flatten().count();
    let mut to_fill = n.saturating_sub(real);
    let mut out: Vec<f64> = Vec::with_capacity(n);
    for slot in range.iter().rev() {
        match slot {
            Some(v) => out.push(*v),
            None if to_fill > 0 => {
                out.push(fill);
                to_fill -= 1;
            }
            None => {}
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `0` a datapoint within the threshold, `X` one breaching it, `-` a missing one; oldest
    /// first.
    fn points(s: &str) -> Vec<Option<f64>> {
        s.split_whitespace()
            .map(|p| match p {
                "0" => Some(0.0),
                "X" => Some(10.0),
                "-" => None,
                other => panic!("{other}"),
            })
            .collect()
    }

    /// One of AWS's truth tables: rows of datapoints, then the state for MISSING, IGNORE,
    /// BREACHING and NOT BREACHING (`retain`: the current state, tried from each state).
    fn table(n: usize, m: usize, rows: &[(&str, [&str; 4])]) {
        let treatments = [
            MissingData::Missing,
            MissingData::Ignore,
            MissingData::Breaching,
            MissingData::NotBreaching,
        ];
        for (range, want) in rows {
            for (t, want) in treatments.iter().zip(want) {
                let rule = Rule {
                    evaluation_periods: n,
                    datapoints_to_alarm: m,
                    threshold: 5.0,
                    comparison: Comparison::GreaterThanThreshold,
                    missing: *t,
                };
                assert_eq!(rule.range(), 5);
                for current in [State::Ok, State::Alarm, State::InsufficientData] {
                    let got = rule.evaluate(&points(range), current).state;
                    let expected = match *want {
                        "retain" => current,
                        s => State::parse(s).unwrap(),
                    };
                    assert_eq!(
                        got, expected,
                        "N={n} M={m} `{range}` {t:?} from {current:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn aws_truth_table_three_of_three() {
        table(
            3,
            3,
            &[
                ("0 - X - X", ["OK", "OK", "OK", "OK"]),
                ("0 - - - -", ["OK", "OK", "OK", "OK"]),
                ("- - - - -", ["INSUFFICIENT_DATA", "retain", "ALARM", "OK"]),
                ("0 X X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
                ("- - X - -", ["ALARM", "retain", "ALARM", "OK"]),
            ],
        );
    }

    #[test]
    fn aws_truth_table_two_of_three() {
        table(
            3,
            2,
            &[
                ("0 - X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
                ("0 0 X 0 X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
                ("0 - X - -", ["OK", "OK", "ALARM", "OK"]),
                ("- - - - 0", ["OK", "OK", "ALARM", "OK"]),
                ("- - - X -", ["ALARM", "retain", "ALARM", "OK"]),
            ],
        );
    }

    #[test]
    fn every_comparison_operator() {
        for (op, at, above, below) in [
            ("GreaterThanOrEqualToThreshold", true, true, false),
            ("GreaterThanThreshold", false, true, false),
            ("LessThanThreshold", false, false, true),
            ("LessThanOrEqualToThreshold", true, false, true),
        ] {
            let c = Comparison::parse(op).unwrap();
            assert_eq!(
                (
                    c.breaches(5.0, 5.0),
                    c.breaches(6.0, 5.0),
                    c.breaches(4.0, 5.0)
                ),
                (at, above, below),
                "{op}"
            );
            let rule = Rule {
                evaluation_periods: 1,
                datapoints_to_alarm: 1,
                threshold: 5.0,
                comparison: c,
                missing: MissingData::Breaching,
            };
            assert_eq!(
                rule.evaluate(&[None, None, None], State::Ok).state,
                State::Alarm,
                "{op}: breaching fill"
            );
        }
        assert_eq!(Comparison::parse("LessThanLowerThreshold"), None);
    }

    #[test]
    fn percentiles_over_too_few_samples() {
        for (level, enough, short) in [
            (99.0, 1000.0, 999.0),
            (90.0, 100.0, 99.0),
            (50.0, 20.0, 19.0),
            (10.0, 100.0, 99.0),
        ] {
            assert!(!too_few_samples(level, enough), "p{level} over {enough}");
            assert!(too_few_samples(level, short), "p{level} over {short}");
        }
        assert!(too_few_samples(100.0, 1e12), "p100 is never significant");
    }

    #[test]
    fn the_newest_n_real_datapoints_decide() {
        let rule = Rule {
            evaluation_periods: 2,
            datapoints_to_alarm: 2,
            threshold: 1000.0,
            comparison: Comparison::GreaterThanThreshold,
            missing: MissingData::Missing,
        };
        let o = rule.evaluate(&[Some(5.0), Some(2000.0), None, Some(3000.0)], State::Ok);
        assert_eq!(
            (o.state, o.breaching, o.decided_by),
            (State::Alarm, 2, vec![2000.0, 3000.0])
        );
        let o = rule.evaluate(&[Some(2000.0), Some(5.0), Some(3000.0), None], State::Alarm);
        assert_eq!(o.state, State::Ok);
    }
}
