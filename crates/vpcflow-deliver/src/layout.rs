//! Where AWS puts delivered records: S3 object keys and file names, the 5-minute file buckets,
//! log stream names, and Firehose's S3 keys (flow-log-format.md §6.1–6.3). Pure functions.

use vpcflow_store::time::Civil;

use crate::api::DestinationOptions;

/// S3 files hold the records whose `end` falls in one 5-minute bucket.
pub const FILE_BUCKET_SECS: u64 = 300;

/// Start of the 5-minute bucket of a record's `end` (seconds).
pub fn file_bucket(end_secs: u64) -> u64 {
    end_secs - end_secs % FILE_BUCKET_SECS
}

/// What names one S3 object of a flow log.
#[derive(Debug, Clone, Copy)]
pub struct ObjectId<'a> {
    /// Prefix (subfolder) without slashes at its ends; empty for none.
    pub prefix: &'a str,
    /// The flow log owner's account.
    pub account: &'a str,
    /// The resource's region.
    pub region: &'a str,
    /// `fl-…`.
    pub flow_log_id: &'a str,
    /// Options: format and partitions.
    pub options: DestinationOptions,
    /// Start of the 5-minute bucket of the records' `end` (seconds).
    pub bucket_start: u64,
    /// The 8-hex-digit hash that tells files of the same bucket apart.
    pub hash: u32,
}

/// The object's key inside the bucket (§6.2): folders, then the file name.
pub fn object_key(o: &ObjectId<'_>) -> String {
    let Civil {
        year: y,
        month: mo,
        day: d,
        hour: h,
        minute: mi,
        ..
    } = Civil::of_secs(o.bucket_start);
    let mut key = String::with_capacity(160);
    if !o.prefix.is_empty() {
        key.push_str(o.prefix);
        key.push('/');
    }
    let (account, region) = (o.account, o.region);
    if o.options.hive_compatible_partitions {
        key.push_str(&format!(
            "AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region={region}/year={y:04}/month={mo:02}/day={d:02}/"
        ));
        if o.options.per_hour_partition {
            key.push_str(&format!("hour={h:02}/"));
        }
    } else {
        key.push_str(&format!(
            "AWSLogs/{account}/vpcflowlogs/{region}/{y:04}/{mo:02}/{d:02}/"
        ));
        if o.options.per_hour_partition {
            key.push_str(&format!("{h:02}/"));
        }
    }
    let ext = match o.options.file_format {
        crate::api::FileFormat::PlainText => "log.gz",
        // Not documented by AWS (§10 q5); `.log.parquet` is what third-party readers expect.
        crate::api::FileFormat::Parquet => "log.parquet",
    };
    key.push_str(&format!(
        "{account}_vpcflowlogs_{region}_{}_{y:04}{mo:02}{d:02}T{h:02}{mi:02}Z_{:08x}.{ext}",
        o.flow_log_id, o.hash
    ));
    key
}

/// The log stream of an ENI. AWS's observed name for ALL flow logs is `<eni-id>-all`; names for
/// ACCEPT- or REJECT-only flow logs are unconfirmed (§10 q3), and AWS documents that several flow
/// logs of one ENI publishing to one log group share one combined stream. So every flow log uses
/// `<eni-id>-all`, which makes the combined stream fall out by construction.
pub fn log_stream_name(eni_id: &str) -> String {
    format!("{eni_id}-all")
}

/// Firehose's default S3 key for a delivery: `prefix` then `YYYY/MM/DD/HH/` (UTC) then
/// `<stream>-1-YYYY-MM-DD-HH-MM-SS-<id>`.
pub fn firehose_object_key(prefix: &str, stream: &str, secs: u64, id: &str) -> String {
    let Civil {
        year: y,
        month: mo,
        day: d,
        hour: h,
        minute: mi,
        second: s,
    } = Civil::of_secs(secs);
    format!(
        "{prefix}{y:04}/{mo:02}/{d:02}/{h:02}/{stream}-1-{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}-{s:02}-{id}"
    )
}

/// Why a key prefix (a flow log's S3 subfolder, a stream's prefix) cannot be stored as given,
/// if it cannot: a `.`, `..` or empty segment. S3 keeps such keys as they are, but a bucket
/// kept as a directory would fold `a/./b` and `a//b` into `a/b`, one object over another; so
/// they are refused, and every prefix taken maps to its own place inside its bucket.
pub fn prefix_problem(prefix: &str) -> Option<String> {
    let trimmed = prefix.trim_matches('/');
    (!trimmed.is_empty() && trimmed.split('/').any(|s| matches!(s, "" | "." | "..")))
        .then(|| format!("'{prefix}' has an empty, '.' or '..' segment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_five_minutes_of_end() {
        assert_eq!(file_bucket(1_529_511_600), 1_529_511_600);
        assert_eq!(file_bucket(1_529_511_600 + 299), 1_529_511_600);
        assert_eq!(file_bucket(1_529_511_600 + 300), 1_529_511_900);
    }
}
