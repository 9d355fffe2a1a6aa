//! Fuzz `LogFormat` parsing: any string must parse or be refused without panicking, and an
//! accepted format must print to a string that parses back to itself, in both spellings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_record::LogFormat;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for parsed in [LogFormat::parse(s), LogFormat::from_header(s), LogFormat::parse_any(s)] {
        if let Ok(f) = parsed {
            assert_eq!(LogFormat::parse(&f.to_string()).as_ref(), Ok(&f));
            assert_eq!(LogFormat::from_header(&f.header()).as_ref(), Ok(&f));
            assert!(f.version() >= 2 && f.version() <= 11);
            assert!(!f.is_empty());
        }
    }
});
