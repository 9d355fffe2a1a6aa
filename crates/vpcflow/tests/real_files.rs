//! Real-world flow-log files read the same way by `vpcflow convert` and `vpcflow query --files`
//! (SQL and Insights): one table row per class of file that log shippers', SIEM parsers' and
//! analyzers' samples hold (repeated headers, junk and JSON-wrapped lines, whitespace, unknown
//! and underscore headers, Transit Gateway files), a seeded random test of files mixing formats
//! and bad lines, and a directory of five formats as one table. Each test makes its files.

mod common;

use std::io::Write as _;
use std::path::Path;

use common::{ok, vpcflow};
use vpcflow_record::{FIELDS, FieldId, Kind, LogFormat};

const V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
const REC: &str = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";

/// What a reader gave: (records, sum of bytes), or the error line on stderr.
type Answer = Result<(u64, u64), String>;

/// The first `error:` line of a failed run, from the file it names on (what convert and query
/// must say alike; query says first which statement failed).
fn error_of(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in {err}"));
    let line = match line.find('/') {
        Some(at) => &line[at..],
        None => line,
    };
    // convert's hint for a headerless file of a custom format names its --format flag, which
    // query has not: the error itself is what must agree.
    line.split(" (the file has no header line")
        .next()
        .unwrap_or(line)
        .to_owned()
}

/// `vpcflow convert` of `file` to JSON lines: the records and the sum of their bytes.
fn convert(file: &Path, skip_bad: bool) -> Answer {
    let mut args = vec!["convert", file.to_str().unwrap()];
    if skip_bad {
        args.push("--skip-bad");
    }
    let out = vpcflow(&args);
    if !out.status.success() {
        return Err(error_of(&out));
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let mut n = 0;
    let mut bytes = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        n += 1;
        bytes += v
            .get("bytes")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
    }
    Ok((n, bytes))
}

/// `vpcflow query --files file` with `args` (`--sql …` or `--insights …`) whose one row has the
/// columns `n` and `b`: (n, b), or the error.
fn query(file: &Path, skip_bad: bool, args: &[&str]) -> Answer {
    let mut all = vec![
        "query",
        "--files",
        file.to_str().unwrap(),
        "--output",
        "json",
    ];
    all.extend_from_slice(args);
    if skip_bad {
        all.push("--skip-bad");
    }
    let out = vpcflow(&all);
    if !out.status.success() {
        return Err(error_of(&out));
    }
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let num = |k: &str| {
        rows[0]
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    Ok((num("n"), num("b")))
}

/// The ways of asking count and sum of bytes, each with a different projection: count alone
/// reads no column, so a reader that checks only what it projects would miss a bad line.
const ASKS: &[&[&str]] = &[
    &["--sql", "SELECT count(*) AS n FROM flows"],
    &["--sql", "SELECT count(*) AS n, sum(bytes) AS b FROM flows"],
    &[
        "--sql",
        "SELECT count(srcaddr) + count(*) - count(srcaddr) AS n, sum(bytes) AS b FROM flows",
    ],
    &["--insights", "stats count(*) as n, sum(bytes) as b"],
];

/// convert and every way of querying agree on `file`: the same records and bytes (count alone:
/// the same records), or the same error, the query's naming the file and line as convert's
/// does; and with --skip-bad, the same records and bytes, having skipped the same lines.
fn agree(what: &str, file: &Path) -> Answer {
    let want = convert(file, false);
    for ask in ASKS {
        let got = query(file, false, ask);
        if ask[1].contains("count(*) AS n FROM") {
            let count = |a: &Answer| a.clone().map(|(n, _)| n);
            assert_eq!(count(&got), count(&want), "{what}: {ask:?} against convert");
        } else {
            assert_eq!(got, want, "{what}: {ask:?} against convert");
        }
    }
    let skipped = convert(file, true).unwrap_or_else(|e| panic!("{what}: convert --skip-bad: {e}"));
    for ask in &ASKS[1..] {
        let got =
            query(file, true, ask).unwrap_or_else(|e| panic!("{what}: {ask:?} --skip-bad: {e}"));
        assert_eq!(
            got, skipped,
            "{what}: {ask:?} --skip-bad against convert --skip-bad"
        );
    }
    want
}

/// The JSON rows of one query over `files`, which must succeed.
fn json_answer(files: &Path, language: &str, query: &str) -> serde_json::Value {
    let out = ok(&vpcflow(&[
        "query",
        "--files",
        files.to_str().unwrap(),
        "--output",
        "json",
        language,
        query,
    ]));
    serde_json::from_str(&out).unwrap()
}

fn write(dir: &Path, name: &str, text: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

#[test]
fn every_class_of_real_file_reads_alike_in_convert_sql_and_insights() {
    let dir = tempfile::tempdir().unwrap();
    let v3 = "version interface-id srcaddr bytes tcp-flags";
    let tgw_header = "version resource-type account-id tgw-id tgw-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status type packets-lost-no-route packets-lost-blackhole tcp-flags region flow-direction";
    let tgw_rec = "6 TransitGatewayAttachment 123456789012 tgw-0abc12345def67890 tgw-attach-0abc12345def67890 10.0.0.1 10.0.1.1 12345 443 6 10 1000 1700000000 1700000060 OK IPv4 2 0 19 us-east-1 ingress";
    // (class, file name, content, Ok((records, bytes)) or the error's end)
    type Row<'a> = (&'a str, &'a str, Vec<u8>, Result<(u64, u64), &'a str>);
    let rows: Vec<Row> = vec![
        (
            "a second header partway through",
            "repeated.log",
            format!("{V2}\n{REC}\n{V2}\n{REC}\n").into_bytes(),
            Ok((2, 8498)),
        ),
        (
            "a concatenation of files of two formats",
            "concat.log.gz",
            {
                let mut g = gzip(format!("{V2}\n{REC}\n").as_bytes());
                g.extend(gzip(
                    format!("{v3}\n3 eni-2 10.0.0.1 100 18\n3 eni-2 10.0.0.2 - 2\n").as_bytes(),
                ));
                g
            },
            Ok((3, 4349)),
        ),
        (
            "a junk line",
            "junk.log",
            format!("{V2}\n{REC}\nthis is not a record\n").into_bytes(),
            Err("junk.log:3: expected 14 fields, found 5"),
        ),
        (
            "a JSON-wrapped line",
            "wrapped.log",
            format!("{V2}\n{{\"message\":\"{REC}\"}}\n{REC}\n").into_bytes(),
            Err(
                "wrapped.log:2: a JSON object where a record line was expected (a JSON lines file holds only JSON)",
            ),
        ),
        (
            "CRLF endings, spaces around lines, blank lines",
            "whitespace.log",
            format!("{V2}\r\n\r\n  {REC}  \r\n\t{REC}\n\n   \n").into_bytes(),
            Ok((2, 8498)),
        ),
        (
            "two spaces between fields",
            "doubled.log",
            format!("{V2}\n{}\n", REC.replace(" 22 ", "  22 ")).into_bytes(),
            Err("doubled.log:2: field 7 is empty: fields are separated by exactly one space"),
        ),
        (
            "a header naming a field vpcflow does not know",
            "unknown.log",
            format!("{V2} vpc-idd\n{REC} vpc-1\n").into_bytes(),
            Err(
                "unknown.log:1: header line: unknown field 'vpc-idd' at position 115, did you mean 'vpc-id'?",
            ),
        ),
        (
            "a header spelled with the Parquet column names",
            "underscore.log",
            format!("{}\n{REC}\n", V2.replace('-', "_")).into_bytes(),
            Ok((1, 4249)),
        ),
        (
            "a bad value in a column no query here projects",
            "value.log",
            format!("{V2}\n{REC}\n{}\n", REC.replace("ACCEPT", "ALLOW")).into_bytes(),
            Err("value.log:3: field 13 (action): 'ALLOW' is not one of ACCEPT REJECT"),
        ),
        (
            "a Transit Gateway flow log",
            "tgw.log.gz",
            gzip(format!("{tgw_header}\n{tgw_rec}\n{tgw_rec}\n").as_bytes()),
            Ok((2, 2000)),
        ),
    ];
    for (class, name, content, want) in rows {
        let file = write(dir.path(), name, &content);
        let got = agree(class, &file);
        match want {
            Ok(w) => assert_eq!(got, Ok(w), "{class}"),
            Err(end) => {
                let e = got.expect_err(class);
                assert!(
                    e.ends_with(end),
                    "{class}: {e}\nwanted it to end with {end}"
                );
            }
        }
    }
}

#[test]
fn transit_gateway_fields_are_columns_and_discovered_fields() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "tgw.log",
        b"version account-id tgw-id tgw-attachment-id tgw-src-vpc-id srcaddr dstaddr packets bytes packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired start end log-status\n\
          6 123456789012 tgw-1 tgw-attach-1 vpc-a 10.0.0.1 10.0.1.1 10 1000 1 2 3 4 1700000000 1700000060 OK\n",
    );
    let f = file.to_str().unwrap();
    let sql = ok(&vpcflow(&[
        "query",
        "--files",
        f,
        "--output",
        "json",
        "--sql",
        "SELECT tgw_id, tgw_attachment_id, packets_lost_no_route + packets_lost_ttl_expired AS lost, interface_id FROM flows",
    ]));
    let rows: serde_json::Value = serde_json::from_str(&sql).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{"tgw_id": "tgw-1", "tgw_attachment_id": "tgw-attach-1", "lost": 5, "interface_id": null}])
    );
    let ins = ok(&vpcflow(&[
        "query",
        "--files",
        f,
        "--output",
        "json",
        "--insights",
        "stats sum(packetsLostBlackhole) as b by tgwSrcVpcId",
    ]));
    let rows: serde_json::Value = serde_json::from_str(&ins).unwrap();
    assert_eq!(rows, serde_json::json!([{"tgwSrcVpcId": "vpc-a", "b": 2}]));
    let json = ok(&vpcflow(&["convert", f]));
    assert!(
        json.contains(r#""tgw-id":"tgw-1""#) && json.contains(r#""packets-lost-mtu-exceeded":3"#),
        "{json}"
    );
    let fields = ok(&vpcflow(&["fields"]));
    assert!(
        fields
            .lines()
            .any(|l| l.starts_with("tgw-src-eni") && l.contains("Transit Gateway")),
        "{fields}"
    );
    // Read, not made: a VPC flow log's format takes no Transit Gateway field.
    let out = vpcflow(&[
        "simulate",
        "--stdout",
        "--duration",
        "1m",
        "--format",
        "${srcaddr} ${tgw-id}",
    ]);
    assert!(!out.status.success());
    assert!(
        error_of(&out).contains("'tgw-id' is a Transit Gateway flow-log field"),
        "{}",
        error_of(&out)
    );
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A valid token for `field` (sometimes `-`).
fn token(r: &mut Rng, field: FieldId) -> String {
    if field != FieldId::Version && r.below(8) == 0 {
        return "-".into();
    }
    let pick = |r: &mut Rng, words: &[&str]| words[r.below(words.len() as u64) as usize].to_owned();
    match field.name() {
        "srcaddr" | "dstaddr" | "pkt-srcaddr" | "pkt-dstaddr" => {
            if r.below(10) == 0 {
                format!("2001:db8::{:x}", r.below(65536))
            } else {
                format!("10.{}.{}.{}", r.below(256), r.below(256), 1 + r.below(254))
            }
        }
        "action" => pick(r, &["ACCEPT", "REJECT"]),
        "log-status" => pick(r, &["OK", "NODATA", "SKIPDATA"]),
        "flow-direction" => pick(r, &["ingress", "egress"]),
        "type" => pick(r, &["IPv4", "IPv6", "EFA"]),
        "resource-type" => pick(r, &["TransitGateway", "TransitGatewayAttachment"]),
        "traffic-path" => (1 + r.below(8)).to_string(),
        "srcport" | "dstport" => r.below(65536).to_string(),
        "version" | "protocol" | "tcp-flags" | "encryption-status" => r.below(256).to_string(),
        _ => match field.kind() {
            Kind::Int64 => r.below(1 << 40).to_string(),
            Kind::Int32 => r.below(128).to_string(),
            Kind::Utf8 => format!(
                "{}-{:x}",
                field.name().split('-').next().unwrap(),
                r.next() >> 40
            ),
        },
    }
}

/// A random format: VPC or Transit Gateway fields (never both), `bytes` among them mostly.
fn random_format(r: &mut Rng) -> LogFormat {
    let tgw = r.below(4) == 0;
    let mut fields: Vec<FieldId> = FIELDS
        .iter()
        .filter(|f| match f.scope {
            vpcflow_record::Scope::Both => true,
            vpcflow_record::Scope::Vpc => !tgw,
            vpcflow_record::Scope::Tgw => tgw,
        })
        .filter(|_| r.below(3) == 0)
        .map(|f| f.id)
        .collect();
    if r.below(5) != 0 && !fields.contains(&FieldId::Bytes) {
        fields.push(FieldId::Bytes);
    }
    if fields.is_empty() {
        fields.push(FieldId::Srcaddr);
    }
    // Shuffle: custom formats list fields in any order.
    for i in (1..fields.len()).rev() {
        fields.swap(i, r.below(i as u64 + 1) as usize);
    }
    LogFormat::from_fields(fields).unwrap()
}

/// A bad line of one of the classes real files hold.
fn bad_line(r: &mut Rng, format: &LogFormat) -> String {
    let good: Vec<String> = format.fields().iter().map(|&f| token(r, f)).collect();
    match r.below(5) {
        0 => "garbage that is no record".into(),
        1 => format!("{{\"message\":\"{}\"}}", good.join(" ")),
        2 => format!("{} extra", good.join(" ")),
        3 => good.join("  "),
        _ => {
            // A value that is not of its field's type.
            let mut bad = good;
            let i = r.below(bad.len() as u64) as usize;
            bad[i] = "!".into();
            bad.join(" ")
        }
    }
}

/// Formats at random, headers repeated at random (in either spelling), blank and padded lines,
/// and bad lines at random; convert and query agree with and without --skip-bad.
#[test]
fn random_files_of_many_formats_and_bad_lines_read_alike() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=12u64 {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x1234_5678_9abc_def1));
        let mut text = String::new();
        let mut format = LogFormat::default_v2();
        let bad_lines = r.below(3);
        for _ in 0..(20 + r.below(60)) {
            match r.below(12) {
                0 => {
                    format = random_format(&mut r);
                    let h = format.header();
                    text.push_str(&if r.below(2) == 0 {
                        h
                    } else {
                        h.replace('-', "_")
                    });
                }
                1 => text.push_str(&format.header()),
                2 => text.push_str("  \r"),
                _ => {
                    let line: Vec<String> =
                        format.fields().iter().map(|&f| token(&mut r, f)).collect();
                    text.push_str(&line.join(" "));
                    if r.below(6) == 0 {
                        text.push('\r');
                    }
                }
            }
            text.push('\n');
        }
        for _ in 0..bad_lines {
            let at = text
                .match_indices('\n')
                .nth(r.below(20) as usize)
                .map_or(0, |(i, _)| i + 1);
            let line = bad_line(&mut r, &format);
            text.insert_str(at, &format!("{line}\n"));
        }
        let name = if seed % 2 == 0 {
            format!("s{seed}.log.gz")
        } else {
            format!("s{seed}.log")
        };
        let content = if seed % 2 == 0 {
            gzip(text.as_bytes())
        } else {
            text.clone().into_bytes()
        };
        let file = write(dir.path(), &name, &content);
        let got = agree(&format!("seed {seed}"), &file);
        if bad_lines == 0 {
            assert!(got.is_ok(), "seed {seed}: {got:?}\n{text}");
        }
    }
}

/// Five formats in one directory (text.gz default, custom text, underscore header, Parquet,
/// Transit Gateway): one `flows` table whose count, sum of bytes and count of pkt_srcaddr are
/// the sums of the files'.
#[test]
fn a_directory_of_five_formats_is_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("AWSLogs");
    std::fs::create_dir(&files).unwrap();
    write(
        &files,
        "a_v2.log.gz",
        &gzip(format!("{V2}\n{REC}\n{REC}\n").as_bytes()),
    );
    let v5 = "version interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes flow-direction traffic-path";
    write(
        &files,
        "b_v5.log",
        format!("{v5}\n5 eni-1 10.0.0.1 10.0.0.2 203.0.113.5 10.0.0.2 100 ingress -\n5 eni-1 10.0.0.2 10.0.0.1 - - 50 egress 1\n").as_bytes(),
    );
    write(
        &files,
        "c_under.log",
        b"instance_id interface_id pkt_srcaddr bytes\ni-1 eni-2 10.1.1.1 7\n",
    );
    let text = dir.path().join("d.log");
    std::fs::write(
        &text,
        "version vpc-id srcaddr pkt-srcaddr bytes region\n4 vpc-1 10.0.0.9 10.0.0.9 1000 us-east-1\n4 vpc-1 10.0.0.8 - 2000 us-east-1\n",
    )
    .unwrap();
    let parquet = files.join("d_v4.parquet");
    ok(&vpcflow(&[
        "convert",
        "--output",
        "parquet",
        "-o",
        parquet.to_str().unwrap(),
        text.to_str().unwrap(),
    ]));
    write(
        &files,
        "e_tgw.log",
        b"version tgw-id srcaddr dstaddr bytes packets-lost-no-route\n6 tgw-1 10.2.0.1 10.3.0.1 3 0\n",
    );
    let (mut n, mut b, mut pkt) = (0u64, 0u64, 0u64);
    for f in std::fs::read_dir(&files).unwrap() {
        let out = ok(&vpcflow(&["convert", f.unwrap().path().to_str().unwrap()]));
        for l in out.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            n += 1;
            b += v
                .get("bytes")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            pkt += u64::from(v.get("pkt-srcaddr").is_some_and(|p| !p.is_null()));
        }
    }
    assert_eq!((n, b, pkt), (8, 8498 + 150 + 7 + 3000 + 3, 3));
    assert_eq!(
        json_answer(
            &files,
            "--sql",
            "SELECT count(*) AS n, sum(bytes) AS b, count(pkt_srcaddr) AS p FROM flows"
        ),
        serde_json::json!([{"n": n, "b": b, "p": pkt}])
    );
    assert_eq!(
        json_answer(
            &files,
            "--insights",
            "stats count(*) as n, sum(bytes) as b, count(pktSrcAddr) as p"
        ),
        serde_json::json!([{"n": n, "b": b, "p": pkt}])
    );
    // @message is each record's own line: as written for text, rebuilt in the file's format for
    // Parquet.
    assert_eq!(
        json_answer(
            &files,
            "--insights",
            "filter bytes = 7 or bytes = 2000 | fields @message | sort @message"
        ),
        serde_json::json!([{"@message": "4 vpc-1 10.0.0.8 - 2000 us-east-1"}, {"@message": "i-1 eni-2 10.1.1.1 7"}])
    );
}
