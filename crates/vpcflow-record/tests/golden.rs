//! Golden records: every example in flow-log-format.md §9.3 (AWS's *Flow log record examples*)
//! decodes to exactly the JSON listed there and re-encodes to the same line.
//!
//! Data lives in `testdata/records/<case>/{format.txt,input.log,expected.jsonl,SOURCE.md}`.

use std::fs;
use std::path::Path;

use vpcflow_record::{LogFormat, json, ocsf, text};

fn cases() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/records");
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert_eq!(v.len(), 5, "five example groups in §9.3");
    v
}

#[test]
fn aws_examples_convert_to_the_published_json() {
    let mut lines_checked = 0;
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let header = fs::read_to_string(case.join("format.txt")).unwrap();
        let format = LogFormat::from_header(header.trim_end()).unwrap();
        let input = fs::read_to_string(case.join("input.log")).unwrap();
        let expected = fs::read_to_string(case.join("expected.jsonl")).unwrap();
        assert_eq!(input.lines().count(), expected.lines().count(), "{name}");
        for (i, (line, want)) in input.lines().zip(expected.lines()).enumerate() {
            let rec =
                text::decode(&format, line).unwrap_or_else(|e| panic!("{name}:{}: {e}", i + 1));
            // Byte-exact: same keys, same order, same number/string/null typing.
            assert_eq!(json::encode(&format, &rec), want, "{name}:{}", i + 1);
            assert_eq!(
                text::encode(&format, &rec),
                line,
                "{name}:{} text round trip",
                i + 1
            );
            // And every golden record maps to a Network Activity event.
            assert_eq!(ocsf::to_ocsf(&rec)["class_uid"], 4001);
            lines_checked += 1;
        }
    }
    assert_eq!(
        lines_checked, 27,
        "§9.1: 27 example lines from the AWS page"
    );
}

#[test]
fn version_field_matches_the_format_version() {
    // AWS: `version` is the highest version among the format's fields (§2).
    for case in cases() {
        let header = fs::read_to_string(case.join("format.txt")).unwrap();
        let format = LogFormat::from_header(header.trim_end()).unwrap();
        let input = fs::read_to_string(case.join("input.log")).unwrap();
        for line in input.lines() {
            let rec = text::decode(&format, line).unwrap();
            if let Some(v) = rec.version {
                assert_eq!(v, format.version(), "{}", case.display());
            }
        }
    }
}
