//! Fuzz the filter-pattern language: any text must parse or be refused at a character inside
//! it, without panicking, and a parsed pattern must match any event the same way whether or not
//! it extracts values, with a metric transformation applied to what it extracts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_monitor::{Event, Pattern};
use vpcflow_monitor::metric::Transformation;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (pattern, event) = s.split_once('\n').unwrap_or((s, ""));
    match Pattern::parse(pattern) {
        Ok(p) => {
            let matched = p.matched(event);
            assert_eq!(p.is_match(event), matched.is_some());
            let e = Event::new(event);
            assert_eq!(p.test(&e), matched.is_some());
            if let (Some(found), Ok(t)) = (p.found(&e), Transformation::new(&p, "$f", &[])) {
                let _ = t.apply_found(&found);
            }
        }
        Err(e) => assert!(e.at >= 1 && e.at <= pattern.chars().count() + 1),
    }
});
