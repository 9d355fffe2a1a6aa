//! The Logs Insights parser: any text parses or is refused with a span inside the query (and
//! renders), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    match vpcflow_query::insights::parse(q) {
        Ok(parsed) => assert!(!parsed.commands.is_empty()),
        Err(e) => {
            assert!(e.span.start <= q.len());
            let _ = e.render(q);
        }
    }
});
