//! The query engine reads flow-log text by the rules `vpcflow convert` reads it by
//! ([`vpcflow_record::text::LineDecoder`]): for any file of valid records in random formats, with
//! header lines repeated at random in either spelling, blank and padded lines, and bad lines of
//! every class inserted at random, `count(*)` and `sum(bytes)` with bad lines skipped equal what
//! the line decoder reads, and without skipping the query fails naming the first bad line,
//! whatever it projects.

use std::io::Write as _;
use std::sync::Arc;

use proptest::prelude::*;
use vpcflow_query::table::{self, Place};
use vpcflow_query::text::BadLines;
use vpcflow_record::text::{Decoded, LineDecoder};
use vpcflow_record::{FIELDS, FieldId, FlowRecord, Kind, LogFormat, Scope};

/// A line of the file as generated.
#[derive(Debug, Clone)]
enum Piece {
    /// A header for fields picked by these indexes (VPC or Transit Gateway), in column spelling
    /// or not.
    Header(Vec<usize>, bool, bool),
    /// A record of the format in force: a seed for its values.
    Record(u64),
    /// Whitespace only.
    Blank,
    /// A bad line of one class.
    Bad(u8, u64),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        1 => (proptest::collection::vec(0usize..72, 1..12), any::<bool>(), any::<bool>())
            .prop_map(|(f, tgw, under)| Piece::Header(f, tgw, under)),
        8 => any::<u64>().prop_map(Piece::Record),
        1 => Just(Piece::Blank),
        1 => (0u8..5, any::<u64>()).prop_map(|(c, s)| Piece::Bad(c, s)),
    ]
}

/// The format a header piece names: its fields among those of one kind of flow log.
fn format_of(picks: &[usize], tgw: bool) -> LogFormat {
    let pool: Vec<FieldId> = FIELDS
        .iter()
        .filter(|f| f.scope != if tgw { Scope::Vpc } else { Scope::Tgw })
        .map(|f| f.id)
        .collect();
    let mut fields = Vec::new();
    for p in picks {
        let f = pool[p % pool.len()];
        if !fields.contains(&f) {
            fields.push(f);
        }
    }
    LogFormat::from_fields(fields).expect("distinct fields of one kind")
}

/// A valid token for `field` from `seed`.
fn token(field: FieldId, seed: u64) -> String {
    if field != FieldId::Version && seed.is_multiple_of(7) {
        return "-".into();
    }
    let word = |w: &[&str]| w[(seed % w.len() as u64) as usize].to_owned();
    match field.name() {
        "srcaddr" | "dstaddr" | "pkt-srcaddr" | "pkt-dstaddr" => {
            format!(
                "10.{}.{}.{}",
                seed % 256,
                (seed >> 8) % 256,
                1 + (seed >> 16) % 254
            )
        }
        "action" => word(&["ACCEPT", "REJECT"]),
        "log-status" => word(&["OK", "NODATA", "SKIPDATA"]),
        "flow-direction" => word(&["ingress", "egress"]),
        "type" => word(&["IPv4", "IPv6", "EFA"]),
        "resource-type" => word(&["TransitGateway", "TransitGatewayAttachment"]),
        "traffic-path" => (1 + seed % 8).to_string(),
        "srcport" | "dstport" => (seed % 65536).to_string(),
        _ => match field.kind() {
            Kind::Int64 => (seed % (1 << 40)).to_string(),
            Kind::Int32 => (seed % 256).to_string(),
            Kind::Utf8 => format!("id-{:x}", seed >> 20),
        },
    }
}

/// The file's text.
fn text_of(pieces: &[Piece]) -> String {
    let mut format = LogFormat::default_v2();
    let mut out = String::new();
    for p in pieces {
        let values = |format: &LogFormat, seed: u64| -> Vec<String> {
            format
                .fields()
                .iter()
                .enumerate()
                .map(|(i, &f)| token(f, seed.rotate_left(i as u32 * 7) ^ i as u64))
                .collect()
        };
        match p {
            Piece::Header(picks, tgw, under) => {
                format = format_of(picks, *tgw);
                let h = format.header();
                out.push_str(&if *under { h.replace('-', "_") } else { h });
            }
            Piece::Record(seed) => {
                out.push_str(&values(&format, *seed).join(" "));
                if seed.is_multiple_of(5) {
                    out.push('\r');
                }
            }
            Piece::Blank => out.push_str("  \t"),
            Piece::Bad(class, seed) => {
                let good = values(&format, *seed);
                out.push_str(&match class {
                    0 => "no record at all, just words".to_owned(),
                    1 => format!("{{\"message\":\"{}\"}}", good.join(" ")),
                    2 => format!("{} extra", good.join(" ")),
                    3 => format!("{} 1", good.join(" ")).replacen(' ', "  ", 1),
                    // A header naming a field nobody has.
                    _ => "version account-id no-such-field".to_owned(),
                });
            }
        }
        out.push('\n');
    }
    out
}

/// What the line decoder reads: (records, sum of bytes), the bad lines skipped, and the first
/// bad line (1-based).
fn by_the_rules(text: &str) -> ((u64, i64), u64, Option<usize>) {
    let mut d = LineDecoder::new(None);
    let mut rec = FlowRecord::default();
    let (mut n, mut bytes, mut bad, mut first) = (0, 0i64, 0, None);
    for (i, line) in text.split('\n').enumerate() {
        match d.line(line.as_bytes(), &mut rec) {
            Ok(Decoded::Record) => {
                n += 1;
                if d.format().position(FieldId::Bytes).is_some() {
                    bytes += rec.bytes.map_or(0, |b| b.0 as i64);
                }
            }
            Ok(Decoded::Header { changed: true }) => rec = FlowRecord::default(),
            Ok(_) => {}
            Err(_) => {
                bad += 1;
                first.get_or_insert(i + 1);
            }
        }
    }
    ((n, bytes), bad, first)
}

/// Runs `sql` over the file as the table `flows`: its first row's first two numbers, or the
/// error.
fn query(dir: &std::path::Path, sql: &str, bad: Arc<BadLines>) -> Result<(u64, i64), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let t = table::import(&Place::Local(dir.to_owned())).await?;
        let ctx = vpcflow_query::sql::session();
        vpcflow_query::set_bad_lines(&ctx, bad);
        ctx.register_table("flows", Arc::new(t))
            .map_err(|e| e.to_string())?;
        let batches = ctx
            .sql(sql)
            .await
            .map_err(|e| vpcflow_query::engine_message(&e))?
            .collect()
            .await
            .map_err(|e| vpcflow_query::engine_message(&e))?;
        let b = &batches[0];
        let num = |c: usize| -> i64 {
            let a = datafusion_cast(b.column(c));
            if vpcflow_query::insights::plan::datafusion_arrow::array::Array::is_null(&a, 0) {
                0
            } else {
                a.value(0)
            }
        };
        Ok((num(0) as u64, num(1)))
    })
}

fn datafusion_cast(
    a: &vpcflow_query::insights::plan::datafusion_arrow::array::ArrayRef,
) -> vpcflow_query::insights::plan::datafusion_arrow::array::Int64Array {
    use vpcflow_query::insights::plan::datafusion_arrow as arrow;
    let c = arrow::compute::cast(a, &arrow::datatypes::DataType::Int64).unwrap();
    arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&c).clone()
}

/// Each projection: `count(*)` reads no column, the others some.
const QUERIES: &[&str] = &[
    "SELECT count(*), 0 FROM flows",
    "SELECT count(*), sum(bytes) FROM flows",
    "SELECT count(srcaddr) - count(srcaddr) + count(*), sum(bytes) FROM flows",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_engine_reads_every_file_as_the_line_rules_do(
        pieces in proptest::collection::vec(piece(), 0..60),
        gzip in any::<bool>(),
    ) {
        let text = text_of(&pieces);
        let ((n, bytes), skipped, first_bad) = by_the_rules(&text);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if gzip { "f.log.gz" } else { "f.log" });
        let data = if gzip {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(text.as_bytes()).unwrap();
            e.finish().unwrap()
        } else {
            text.clone().into_bytes()
        };
        std::fs::write(&path, data).unwrap();
        let file = path.display().to_string();
        for (i, sql) in QUERIES.iter().enumerate() {
            let skipping = Arc::new(BadLines::skipping());
            let got = query(dir.path(), sql, Arc::clone(&skipping)).map_err(TestCaseError::fail)?;
            let want_bytes = if i == 0 { 0 } else { bytes };
            prop_assert_eq!(got, (n, want_bytes), "{} skipping", sql);
            prop_assert_eq!(skipping.count(), skipped, "{} skipped", sql);
            let strict = query(dir.path(), sql, Arc::new(BadLines::default()));
            match first_bad {
                None => prop_assert_eq!(strict, Ok((n, want_bytes)), "{}", sql),
                Some(line) => {
                    let e = strict.expect_err("a bad line fails the query");
                    let at = format!("{file}:{line}: ");
                    prop_assert!(e.starts_with(&at), "{}: {} does not name {}", sql, e, at);
                }
            }
        }
    }
}
