//! Logs Insights' documented sort order (query.md §1.2, `CWL_QuerySyntax-Sort.html`): a
//! natural sort. Ascending puts every non-number value before every number value (a number
//! value is digits only); non-number values are split into runs of digits and of non-digits,
//! non-digit runs compare by code point, digit runs by length and then value. Descending is the
//! exact reverse.

use std::cmp::Ordering;

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Runs of digits and of non-digits.
fn runs(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let digit = first.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

/// Digit strings by value: leading zeros aside, longer is larger.
fn cmp_digits(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
}

/// Compares two values in Insights' ascending order.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    match (is_number(a), is_number(b)) {
        (false, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
        (true, true) => cmp_digits(a, b).then_with(|| a.cmp(b)),
        (false, false) => {
            let (mut ra, mut rb) = (runs(a), runs(b));
            loop {
                match (ra.next(), rb.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(x), Some(y)) => {
                        let both_digits =
                            x.as_bytes()[0].is_ascii_digit() && y.as_bytes()[0].is_ascii_digit();
                        let o = if both_digits {
                            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
                        } else {
                            x.cmp(y)
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                }
            }
        }
    }
}

/// Appends a byte key whose byte-wise order is [`natural_cmp`]'s, so that an engine sorting
/// bytes sorts as Insights does: numbers after non-numbers; digit runs as a length, then the
/// digits; other runs as their UTF-8 bytes ended by a 0 byte (flow-log values hold no NUL).
pub fn natural_key(s: &str, out: &mut Vec<u8>) {
    let digits = |run: &str, out: &mut Vec<u8>| {
        out.push(b'0');
        out.extend_from_slice(&(run.len() as u32).to_be_bytes());
        out.extend_from_slice(run.as_bytes());
    };
    if is_number(s) {
        out.push(2);
        let t = s.trim_start_matches('0');
        out.extend_from_slice(&(t.len() as u32).to_be_bytes());
        out.extend_from_slice(t.as_bytes());
        out.push(0);
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(1);
    for run in runs(s) {
        if run.as_bytes()[0].is_ascii_digit() {
            digits(run, out);
        } else {
            out.extend_from_slice(run.as_bytes());
            out.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// AWS's documented ascending example, in order.
    const DOCUMENTED: &[&str] = &[
        "!:",
        "#",
        "*%04",
        "0#",
        "5A",
        "111A",
        "2345_",
        "@",
        "@_",
        "A",
        "A9876fghj",
        "a12345hfh",
        "0",
        "01",
        "1",
        "2",
        "3",
    ];

    #[test]
    fn the_documented_example_sorts_as_documented() {
        let mut v: Vec<&str> = DOCUMENTED.iter().rev().copied().collect();
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, DOCUMENTED);
        v.sort_by(|a, b| natural_cmp(b, a));
        let mut reversed = DOCUMENTED.to_vec();
        reversed.reverse();
        assert_eq!(v, reversed, "descending is the exact reverse");
    }

    fn key(s: &str) -> Vec<u8> {
        let mut k = Vec::new();
        natural_key(s, &mut k);
        k
    }

    #[test]
    fn the_documented_example_sorts_as_documented_by_key() {
        let mut v: Vec<&str> = DOCUMENTED.iter().rev().copied().collect();
        v.sort_by_key(|s| key(s));
        assert_eq!(v, DOCUMENTED);
    }

    proptest! {
        /// Keys order exactly as the comparison does.
        #[test]
        fn keys_order_as_natural_cmp(a in "[0-9a-cA-C#@_. é]{0,8}", b in "[0-9a-cA-C#@_. é]{0,8}") {
            prop_assert_eq!(key(&a).cmp(&key(&b)), natural_cmp(&a, &b));
        }

        /// A total order: antisymmetric and transitive on any strings.
        #[test]
        fn a_total_order(a in "[0-9a-cA-C#@_]{0,6}", b in "[0-9a-cA-C#@_]{0,6}", c in "[0-9a-cA-C#@_]{0,6}") {
            prop_assert_eq!(natural_cmp(&a, &b), natural_cmp(&b, &a).reverse());
            if natural_cmp(&a, &b) != Ordering::Greater && natural_cmp(&b, &c) != Ordering::Greater {
                prop_assert_ne!(natural_cmp(&a, &c), Ordering::Greater);
            }
        }
    }
}
