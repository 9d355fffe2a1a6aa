//! `vpcflow convert` through the real binary: the golden AWS examples, every output format,
//! and the bad-input table (each error names the file and the line).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use flate2::Compression;
use flate2::write::GzEncoder;

fn vpcflow(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        pipe.write_all(data).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = vpcflow(args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs, expects failure, returns the (single-line) stderr.
fn fails(args: &[&str]) -> String {
    let out = vpcflow(args, None);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line of error: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err.trim_end().to_owned()
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vpcflow-record/testdata/records")
}

/// Writes a case as an S3-style text file: header line, then the records.
fn case_file(dir: &Path, case: &str) -> PathBuf {
    let src = golden_dir().join(case);
    let mut text = fs::read_to_string(src.join("format.txt")).unwrap();
    text.push_str(&fs::read_to_string(src.join("input.log")).unwrap());
    let p = dir.join(format!("{case}.log"));
    fs::write(&p, text).unwrap();
    p
}

fn gzip(path: &Path, data: &[u8]) {
    let mut e = GzEncoder::new(fs::File::create(path).unwrap(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const CASES: [&str; 5] = [
    "v2-default",
    "v3-tcp-flag-sequence",
    "custom-nat-gateway",
    "v3-transit-gateway",
    "v5-service-traffic-path",
];

#[test]
fn every_aws_example_converts_to_the_published_json() {
    let dir = tempfile::tempdir().unwrap();
    for case in CASES {
        let file = case_file(dir.path(), case);
        let want = fs::read_to_string(golden_dir().join(case).join("expected.jsonl")).unwrap();
        assert_eq!(ok(&["convert", s(&file)]), want, "{case}");
        assert_eq!(
            ok(&["convert", "--output", "jsonl", s(&file)]),
            want,
            "{case}"
        );
    }
}

#[test]
fn text_gzip_parquet_jsonl_and_stdin_agree() {
    let dir = tempfile::tempdir().unwrap();
    for case in CASES {
        let file = case_file(dir.path(), case);
        let original = fs::read_to_string(&file).unwrap();
        let want = ok(&["convert", s(&file)]);
        // text → text keeps the header and every line.
        assert_eq!(
            ok(&["convert", "--output", "text", s(&file)]),
            original,
            "{case}"
        );
        // gzip text reads the same.
        let gz = dir.path().join(format!("{case}.log.gz"));
        gzip(&gz, original.as_bytes());
        assert_eq!(ok(&["convert", s(&gz)]), want, "{case} gzip");
        // text.gz → Parquet → JSON lines is identical.
        let pq = dir.path().join(format!("{case}.parquet"));
        ok(&["convert", "--output", "parquet", "-o", s(&pq), s(&gz)]);
        assert_eq!(ok(&["convert", s(&pq)]), want, "{case} parquet");
        // JSON lines → text gives the original file back.
        let jl = dir.path().join(format!("{case}.jsonl"));
        fs::write(&jl, &want).unwrap();
        assert_eq!(
            ok(&["convert", "--output", "text", s(&jl)]),
            original,
            "{case} jsonl"
        );
        // stdin, for every kind of input.
        for input in [&file, &gz, &pq, &jl] {
            let out = vpcflow(&["convert", "-"], Some(&fs::read(input).unwrap()));
            assert!(out.status.success(), "{case} stdin {}", input.display());
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                want,
                "{case} stdin {}",
                input.display()
            );
        }
    }
}

#[test]
fn format_flag_takes_both_spellings_and_files_without_header_use_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let src = golden_dir().join("custom-nat-gateway");
    let body = dir.path().join("nat.log");
    fs::copy(src.join("input.log"), &body).unwrap();
    let want = fs::read_to_string(src.join("expected.jsonl")).unwrap();
    let header = fs::read_to_string(src.join("format.txt")).unwrap();
    let api_form: String = header
        .split_whitespace()
        .map(|f| format!("${{{f}}}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(ok(&["convert", "--format", header.trim(), s(&body)]), want);
    assert_eq!(ok(&["convert", "--format", &api_form, s(&body)]), want);
    // No header, no --format: AWS's default v2 format.
    let v2 = dir.path().join("v2.log");
    fs::copy(golden_dir().join("v2-default/input.log"), &v2).unwrap();
    let v2_want = fs::read_to_string(golden_dir().join("v2-default/expected.jsonl")).unwrap();
    assert_eq!(ok(&["convert", s(&v2)]), v2_want);
    // The nat lines do not fit the default format, and the error says how to give the file's.
    assert_eq!(
        fails(&["convert", s(&body)]),
        format!(
            "error: {}:1: expected 14 fields, found 6 (the file has no header line, so AWS's \
             default format was assumed: give the file's format with --format '${{field}} …')",
            s(&body)
        )
    );
}

#[test]
fn bad_input_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let v2 = case_file(dir.path(), "v2-default");
    let good = fs::read_to_string(&v2).unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        fs::write(&p, text).unwrap();
        p
    };
    let short = write("short.log", good.replacen(" ACCEPT OK\n", " ACCEPT\n", 1));
    let notnum = write("notnum.log", good.replacen(" 20641 ", " 2o641 ", 1));
    let badaddr = write(
        "badaddr.log",
        good.replacen("172.31.16.139", "172.31.16.1390", 1),
    );
    let trunc = dir.path().join("trunc.log.gz");
    let mut big = String::from(good.lines().next().unwrap());
    big.push('\n');
    for _ in 0..5000 {
        big.push_str(good.lines().nth(1).unwrap());
        big.push('\n');
    }
    gzip(&trunc, big.as_bytes());
    let full = fs::read(&trunc).unwrap();
    fs::write(&trunc, &full[..full.len() / 2]).unwrap();

    assert_eq!(
        fails(&["convert", s(&short)]),
        format!("error: {}:2: expected 14 fields, found 13", s(&short))
    );
    assert_eq!(
        fails(&["convert", s(&notnum)]),
        format!(
            "error: {}:2: field 6 (srcport): '2o641' is not a number",
            s(&notnum)
        )
    );
    assert_eq!(
        fails(&["convert", s(&badaddr)]),
        format!(
            "error: {}:2: field 4 (srcaddr): '172.31.16.1390' is not an IPv4 or IPv6 address",
            s(&badaddr)
        )
    );
    let err = fails(&["convert", s(&trunc)]);
    assert!(
        err.starts_with(&format!("error: {}: after line ", s(&trunc)))
            && err.contains("truncated or corrupt gzip data"),
        "{err}"
    );
    let stdin = vpcflow(
        &["convert", "-"],
        Some(b"2 1 eni-1 - - - - - - - 1 2 - NODATA extra\n"),
    );
    assert_eq!(
        String::from_utf8(stdin.stderr).unwrap(),
        "error: <stdin>:1: expected 14 fields, found 15 (the file has no header line, so AWS's \
         default format was assumed: give the file's format with --format '${field} …')\n"
    );
}

/// Writes `batch` as a Parquet file at `p`.
fn write_parquet(p: &Path, batch: &arrow_array::RecordBatch) {
    let mut w = vpcflow_record::parquet::arrow::ArrowWriter::try_new(
        fs::File::create(p).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

#[test]
fn non_flow_log_parquet_is_refused() {
    use arrow_array::{RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("people.parquet");
    let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(StringArray::from(vec!["bob"]))],
    )
    .unwrap();
    write_parquet(&p, &batch);
    assert_eq!(
        fails(&["convert", s(&p)]),
        format!(
            "error: {}: not a flow-log Parquet file: column 'name' is not a flow-log field (expected AWS column names such as 'account_id')",
            s(&p)
        )
    );
    let junk = dir.path().join("junk.parquet");
    fs::write(&junk, b"PAR1 but nothing else").unwrap();
    assert!(
        fails(&["convert", s(&junk)])
            .starts_with(&format!("error: {}: not a readable Parquet file", s(&junk)))
    );
}

#[test]
fn skip_bad_counts_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let v2 = case_file(dir.path(), "v2-default");
    let text = fs::read_to_string(&v2)
        .unwrap()
        .replacen(" 22 6 ", " x 6 ", 1)
        + "garbage\n\u{0}\n";
    fs::write(&v2, text).unwrap();
    let out = vpcflow(&["convert", "--skip-bad", s(&v2)], None);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        6,
        "7 records, 1 bad"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!(
            "skipped {}:2: field 7 (dstport): 'x' is not a number",
            s(&v2)
        )),
        "{err}"
    );
    assert!(
        err.ends_with("vpcflow: skipped 3 bad line(s); converted 6 record(s)\n"),
        "{err}"
    );
}

#[test]
fn failed_conversion_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.log");
    fs::write(&bad, "2 1 eni-1 - - - - - - - 1 2 - NODATA\nnot a record\n").unwrap();
    let out = dir.path().join("out.parquet");
    fails(&["convert", "--output", "parquet", "-o", s(&out), s(&bad)]);
    assert!(!out.exists());
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left behind"
    );
}

#[test]
fn header_lines_switch_formats_and_parquet_refuses_mixed_formats() {
    let dir = tempfile::tempdir().unwrap();
    let a = case_file(dir.path(), "v2-default");
    let b = case_file(dir.path(), "custom-nat-gateway");
    let text = ok(&["convert", "--output", "text", s(&a), s(&b)]);
    let headers: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("version ") || l.starts_with("instance-id "))
        .collect();
    assert_eq!(headers.len(), 2, "{text}");
    let out = dir.path().join("mixed.parquet");
    let err = fails(&[
        "convert",
        "--output",
        "parquet",
        "-o",
        s(&out),
        s(&a),
        s(&b),
    ]);
    assert!(err.contains("one Parquet file holds one format"), "{err}");
    // --format must agree with a header line it meets.
    let err = fails(&["convert", "--format", "srcaddr dstaddr", s(&a)]);
    assert!(
        err.starts_with(&format!("error: {}:1: the header line", s(&a))),
        "{err}"
    );
}

#[test]
fn ocsf_output_is_one_network_activity_event_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let f = case_file(dir.path(), "v5-service-traffic-path");
    let out = ok(&["convert", "--output", "ocsf", s(&f)]);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["class_uid"], 4001);
    assert_eq!(events[0]["connection_info"]["direction_id"], 1);
    assert_eq!(
        events[0]["dst_endpoint"]["interface_uid"],
        "eni-1235b8ca123456789"
    );
    assert_eq!(events[1]["connection_info"]["boundary_id"], 11);
}

#[test]
fn fields_lists_the_registry() {
    let out = ok(&["fields"]);
    // The 54 VPC fields of versions 2–11, and Transit Gateway's 18 of version 6.
    assert_eq!(out.lines().count(), 1 + 72);
    assert!(out.contains("next-hop-interface-type"));
    assert!(out.contains("packets-lost-ttl-expired"));
}

#[test]
fn unsigned_parquet_values_past_i64_are_refused_at_their_row_and_column() {
    use arrow_array::{RecordBatch, StringArray, UInt64Array};
    use arrow_schema::{DataType, Field, Schema};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("interface_id", DataType::Utf8, true),
        Field::new("bytes", DataType::UInt64, true),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from(vec!["eni-1", "eni-2"])),
            Arc::new(UInt64Array::from(vec![1500, u64::MAX])),
        ],
    )
    .unwrap();
    write_parquet(&p, &batch);
    let said = format!(
        "{}: row 2: column 'bytes': 18446744073709551615 is out of range (expected 0..=9223372036854775807)",
        s(&p)
    );
    assert_eq!(fails(&["convert", s(&p)]), format!("error: {said}"));
    // `query` refuses it in the same words, SQL and Insights alike (it failed with a cast error
    // naming no file).
    let sql = fails(&[
        "query",
        "--files",
        s(&p),
        "--sql",
        "SELECT sum(bytes) FROM flows",
    ]);
    assert_eq!(sql, format!("error: --sql: statement at line 1: {said}"));
    let insights = fails(&["query", "--files", s(&p), "--insights", "stats sum(bytes)"]);
    assert!(insights.ends_with(&said), "{insights}");
    // Values that fit are read as they are.
    let fits = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from(vec!["eni-1", "eni-2"])),
            Arc::new(UInt64Array::from(vec![1500, i64::MAX as u64])),
        ],
    )
    .unwrap();
    write_parquet(&p, &fits);
    let out = vpcflow(
        &[
            "query",
            "--files",
            s(&p),
            "--sql",
            "SELECT max(bytes) FROM flows",
            "--output",
            "csv",
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&i64::MAX.to_string()));
}
