//! Fuzz the record line codec: any bytes, split as "format header \n line", must decode without
//! panicking, and whatever decodes must re-encode to a line that decodes to the same record
//! (and JSON lines must round-trip too). The same bytes read as a whole file by the line rules
//! (`LineDecoder`: headers anywhere, JSON lines files, whitespace) never panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_record::{FlowRecord, LogFormat, json, text};

fuzz_target!(|data: &[u8]| {
    let mut file = text::LineDecoder::new(None);
    let mut r = FlowRecord::default();
    for l in data.split(|&b| b == b'\n') {
        let _ = file.line(l, &mut r);
    }
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (head, line) = s.split_once('\n').unwrap_or(("", s));
    // The first line picks a format: a header if it is one, else the default.
    let format = LogFormat::from_header(head).unwrap_or_default();
    let Ok(rec) = text::decode(&format, line) else { return };
    let again = text::encode(&format, &rec);
    let rec2 = text::decode(&format, &again).expect("an encoded record decodes");
    assert_eq!(rec, rec2, "text round trip");
    assert_eq!(text::encode(&format, &rec2), again, "encoding is stable");
    let j = json::encode(&format, &rec);
    let (f3, rec3) = json::decode(&j).expect("JSON of a record decodes");
    assert_eq!((f3, rec3), (format, rec), "JSON round trip");
});
