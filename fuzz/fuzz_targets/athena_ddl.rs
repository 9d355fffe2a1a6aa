//! Athena's statements: any script splits into statements inside it, and each parses or is
//! refused with a line and column inside the script, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_query::athena::{SqlError, parse, split};

fuzz_target!(|data: &[u8]| {
    let Ok(script) = std::str::from_utf8(data) else {
        return;
    };
    for stmt in split(script) {
        assert!(stmt.offset + stmt.text.len() <= script.len());
        if let Err(SqlError::Syntax { line, column, .. }) = parse(script, &stmt) {
            assert!(line >= 1 && line <= script.lines().count().max(1) + 1);
            assert!(column >= 1);
        }
    }
});
