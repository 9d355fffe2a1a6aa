//! What the delivered flow logs would cost in AWS per month: the volume each destination
//! received in a time range ([`volume`]: measured on what was delivered), scaled to 30 days and
//! priced by one table ([`MONTHLY`], us-east-1 public list prices, first tier), beside the scan
//! prices of [`crate::stats::PRICES`] for querying that month once.
//!
//! What is measured:
//! * a log group: its events in the range, by Insights (`strlen(@message)` plus the line end:
//!   CloudWatch bills vended-log ingestion on the events' uncompressed bytes), and for storage
//!   the stored (compressed) bytes of the segments that hold them;
//! * a bucket: the flow-log objects whose AWS file-name time lies in the range; for gzip text
//!   the uncompressed size from the gzip trailer (what vended-log delivery to S3 bills), for
//!   Parquet the object's size (a lower bound of the bytes converted); S3 storage on the
//!   objects' sizes.

use std::path::Path;

use serde::Serialize;

use crate::stats::PRICES;
use crate::table::{FileKind, discover, name_time};

/// A gibibyte (AWS's "GB").
const GB: f64 = (1u64 << 30) as f64;
/// A month of 30 days, in ms.
pub const MONTH_MS: u64 = 30 * 24 * 3600 * 1000;

/// The month's prices, dollars per GB (storage: per GB-month).
pub struct Monthly {
    /// CloudWatch Logs vended-log ingestion ($0.50 per GB, the first 10 TB).
    pub log_ingestion: f64,
    /// CloudWatch Logs storage ($0.03 per GB-month, compressed).
    pub log_storage: f64,
    /// Vended-log delivery to S3 ($0.25 per GB, the first 10 TB).
    pub s3_delivery: f64,
    /// Conversion to Apache Parquet ($0.03 per GB).
    pub parquet_conversion: f64,
    /// S3 Standard storage ($0.023 per GB-month, the first 50 TB).
    pub s3_storage: f64,
}

/// The prices: CloudWatch's and S3's pricing pages, us-east-1, "Vended Logs" and "Standard".
pub const MONTHLY: Monthly = Monthly {
    log_ingestion: 0.50,
    log_storage: 0.03,
    s3_delivery: 0.25,
    parquet_conversion: 0.03,
    s3_storage: 0.023,
};

/// Where a flow log delivers, as the volume is measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A log group, by name.
    LogGroup(String),
    /// A local bucket's flow-log prefix (a directory).
    Bucket(std::path::PathBuf),
}

/// What one destination received in the range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Log events for a log group; objects for a bucket.
    pub items: u64,
    /// Bytes billed at delivery (uncompressed text; Parquet as stored).
    pub bytes: u64,
    /// Bytes stored (compressed).
    pub stored_bytes: u64,
    /// Bytes converted to Parquet.
    pub parquet_bytes: u64,
}

impl std::ops::Add for Volume {
    type Output = Volume;

    fn add(self, o: Volume) -> Volume {
        Volume {
            items: self.items + o.items,
            bytes: self.bytes + o.bytes,
            stored_bytes: self.stored_bytes + o.stored_bytes,
            parquet_bytes: self.parquet_bytes + o.parquet_bytes,
        }
    }
}

/// One line of the month's bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostLine {
    /// What is billed.
    pub what: String,
    /// GB in the month.
    pub gb: f64,
    /// Dollars in the month.
    pub dollars: f64,
}

/// The month's bill for what log groups and buckets received over `range_ms` of time.
pub fn monthly(log_groups: Volume, buckets: Volume, range_ms: u64) -> Vec<CostLine> {
    let scale = MONTH_MS as f64 / range_ms.max(1) as f64;
    let gb = |b: u64| b as f64 * scale / GB;
    let line = |what: &str, gb: f64, price: f64| CostLine {
        what: what.to_owned(),
        gb,
        dollars: gb * price,
    };
    let m = &MONTHLY;
    let scan = |p: &crate::stats::Price, bytes: u64| CostLine {
        what: format!("{}, the month scanned once", p.what),
        gb: gb(bytes),
        dollars: p.of((bytes as f64 * scale) as u64),
    };
    vec![
        line(
            "CloudWatch Logs ingestion (vended logs, $0.50 per GB)",
            gb(log_groups.bytes),
            m.log_ingestion,
        ),
        line(
            "CloudWatch Logs storage ($0.03 per GB-month, compressed)",
            gb(log_groups.stored_bytes),
            m.log_storage,
        ),
        line(
            "S3 delivery (vended logs, $0.25 per GB)",
            gb(buckets.bytes),
            m.s3_delivery,
        ),
        line(
            "Parquet conversion ($0.03 per GB)",
            gb(buckets.parquet_bytes),
            m.parquet_conversion,
        ),
        line(
            "S3 Standard storage ($0.023 per GB-month)",
            gb(buckets.stored_bytes),
            m.s3_storage,
        ),
        scan(&PRICES[0], log_groups.bytes),
        scan(&PRICES[1], buckets.stored_bytes),
    ]
}

/// What a bucket's flow-log objects under `root` whose file-name time lies in
/// `[start_s, end_s]` hold (nothing when `root` does not exist).
pub fn bucket_volume(root: &Path, start_s: i64, end_s: i64) -> std::io::Result<Volume> {
    let mut v = Volume::default();
    if !root.exists() {
        return Ok(v);
    }
    for f in discover(root, &[])? {
        let name = f.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name_time(name).is_some_and(|t| (start_s..=end_s).contains(&t)) {
            continue;
        }
        v.items += 1;
        v.stored_bytes += f.size;
        match f.kind {
            FileKind::Parquet => {
                v.bytes += f.size;
                v.parquet_bytes += f.size;
            }
            FileKind::Text if name.ends_with(".gz") => v.bytes += gzip_size(&f.path)?,
            FileKind::Text => v.bytes += f.size,
        }
    }
    Ok(v)
}

/// The newest file-name time (epoch s) of the flow-log objects under `root`: when the bucket
/// last received a delivery, in record time.
pub fn newest_object_s(root: &Path) -> Option<i64> {
    if !root.exists() {
        return None;
    }
    discover(root, &[])
        .ok()?
        .iter()
        .filter_map(|f| name_time(f.path.file_name()?.to_str()?))
        .max()
}

/// A gzip file's uncompressed size, from its trailer (ISIZE: the size mod 2^32, exact for
/// flow-log objects, which are far smaller).
fn gzip_size(path: &Path) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    if f.metadata()?.len() < 18 {
        return Ok(0);
    }
    f.seek(SeekFrom::End(-4))?;
    let mut b = [0u8; 4];
    f.read_exact(&mut b)?;
    Ok(u64::from(u32::from_le_bytes(b)))
}

/// The Insights query that measures a log group's events (count, and bytes with line ends).
pub const LOG_GROUP_VOLUME: &str = "stats count(*) as events, sum(strlen(@message)) as chars";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_scales_to_thirty() {
        let day = 24 * 3600 * 1000;
        let lg = Volume {
            items: 10,
            bytes: 1 << 30,
            stored_bytes: 1 << 28,
            parquet_bytes: 0,
        };
        let s3 = Volume {
            items: 2,
            bytes: 2 << 30,
            stored_bytes: 1 << 29,
            parquet_bytes: 1 << 29,
        };
        let bill = monthly(lg, s3, day);
        let dollars: Vec<(f64, f64)> = bill.iter().map(|l| (l.gb, l.dollars)).collect();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let want = [
            (30.0, 15.0),
            (7.5, 0.225),
            (60.0, 15.0),
            (15.0, 0.45),
            (15.0, 0.345),
            (30.0, 0.15),
            (15.0, 15.0 * 5.0 / 1024.0),
        ];
        for (got, want) in dollars.iter().zip(want) {
            assert!(
                close(got.0, want.0) && close(got.1, want.1),
                "{got:?} {want:?}"
            );
        }
    }

    #[test]
    fn bucket_objects_in_range_by_name_time() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &[b'x'; 1000]).unwrap();
        let gz = gz.finish().unwrap();
        // 2026-01-15 14:00 and 14:05, and one a day later.
        put(
            "123456789012_vpcflowlogs_us-east-1_fl-1_20260115T1400Z_ab.log.gz",
            &gz,
        );
        put(
            "123456789012_vpcflowlogs_us-east-1_fl-1_20260115T1405Z_cd.parquet",
            &[0; 300],
        );
        put(
            "123456789012_vpcflowlogs_us-east-1_fl-1_20260116T1400Z_ef.log.gz",
            &gz,
        );
        let start = 1_768_485_600;
        let v = bucket_volume(dir.path(), start, start + 3599).unwrap();
        assert_eq!(v.items, 2);
        assert_eq!(v.bytes, 1000 + 300);
        assert_eq!(v.parquet_bytes, 300);
        assert_eq!(v.stored_bytes, gz.len() as u64 + 300);
        assert_eq!(
            bucket_volume(&dir.path().join("none"), 0, 1).unwrap(),
            Volume::default()
        );
        assert_eq!(newest_object_s(dir.path()), Some(start + 86_400));
        assert_eq!(newest_object_s(&dir.path().join("none")), None);
    }
}
