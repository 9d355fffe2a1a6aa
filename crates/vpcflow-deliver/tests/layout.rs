//! Golden S3 object keys: every `DestinationOptions` combination with and without a prefix,
//! and keys observed in real deliveries (testdata/s3-keys.tsv).

use vpcflow_deliver::api::{DestinationOptions, FileFormat};
use vpcflow_deliver::layout::{ObjectId, object_key};

/// Unix seconds of `YYYY-MM-DDTHH:MM:SSZ`.
fn epoch(s: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as u64
}

#[test]
fn object_keys_follow_every_destination_option() {
    let text = include_str!("../testdata/s3-keys.tsv");
    let mut rows = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let c: Vec<&str> = line.split('\t').collect();
        assert_eq!(c.len(), 10, "{line}");
        let options = DestinationOptions {
            file_format: match c[5] {
                "plain-text" => FileFormat::PlainText,
                "parquet" => FileFormat::Parquet,
                other => panic!("file format {other}"),
            },
            hive_compatible_partitions: c[6] == "true",
            per_hour_partition: c[7] == "true",
        };
        let key = object_key(&ObjectId {
            prefix: if c[8] == "-" { "" } else { c[8] },
            account: c[0],
            region: c[1],
            flow_log_id: c[2],
            options,
            bucket_start: epoch(c[3]),
            hash: u32::from_str_radix(c[4], 16).unwrap(),
        });
        assert_eq!(key, c[9], "row {rows}: {line}");
        rows += 1;
    }
    assert_eq!(rows, 18, "16 combinations and 2 observed keys");
}
