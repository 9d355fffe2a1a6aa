//! Runs the filter-pattern conformance table (`tests/patterns.txt`): every row is a pattern and
//! the events it must and must not match, the values it extracts, or the error it gets.

use std::collections::BTreeMap;

use vpcflow_monitor::Pattern;

struct Case {
    line: usize,
    pattern: String,
    rows: Vec<(usize, char, String)>,
}

fn cases() -> Vec<Case> {
    let text = include_str!("patterns.txt");
    let mut cases: Vec<Case> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(p) = line.strip_prefix("pattern ") {
            cases.push(Case {
                line: n,
                pattern: p.to_owned(),
                rows: Vec::new(),
            });
            continue;
        }
        let (kind, rest) = line.split_at(1);
        let kind = kind.chars().next().unwrap();
        assert!(
            "+-=!".contains(kind),
            "patterns.txt:{n}: unknown row kind '{kind}'"
        );
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        cases
            .last_mut()
            .unwrap_or_else(|| panic!("patterns.txt:{n}: a row before any pattern"))
            .rows
            .push((n, kind, rest.to_owned()));
    }
    cases
}

#[test]
fn the_conformance_table() {
    let cases = cases();
    assert!(cases.len() > 60, "the table has {} patterns", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let parsed = Pattern::parse(&case.pattern);
        let mut last_event: Option<&str> = None;
        for (n, kind, text) in &case.rows {
            let problem = match (kind, &parsed) {
                ('!', Ok(_)) => Some("parsed, expected an error".to_owned()),
                ('!', Err(e)) => {
                    let message = e.to_string();
                    let (at, want) = match text.strip_prefix('@') {
                        Some(r) => {
                            let (at, want) = r.split_once(' ').unwrap();
                            (Some(at.parse::<usize>().unwrap()), want)
                        }
                        None => (None, text.as_str()),
                    };
                    if !message.contains(want) || at.is_some_and(|a| a != e.at) {
                        Some(format!(
                            "error '{message}' (at {}), expected '{text}'",
                            e.at
                        ))
                    } else {
                        None
                    }
                }
                (_, Err(e)) => Some(format!("does not parse: {e}")),
                ('+', Ok(p)) => {
                    last_event = Some(text);
                    (!p.is_match(text) || p.matched(text).is_none())
                        .then(|| format!("'{text}' does not match"))
                }
                ('-', Ok(p)) => (p.is_match(text) || p.matched(text).is_some())
                    .then(|| format!("'{text}' matches")),
                ('=', Ok(p)) => {
                    let event = last_event.expect("= follows a + row");
                    let want: BTreeMap<String, String> = serde_json::from_str(text).unwrap();
                    let got = p.matched(event).map(|m| m.extracted());
                    (got.as_ref() != Some(&want))
                        .then(|| format!("extracted {got:?}, expected {want:?}"))
                }
                _ => unreachable!(),
            };
            if let Some(problem) = problem {
                failures.push(format!(
                    "patterns.txt:{n} (pattern at line {}: {}): {problem}",
                    case.line, case.pattern
                ));
            }
        }
        assert!(
            !case.rows.is_empty(),
            "patterns.txt:{}: a pattern with no rows",
            case.line
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
