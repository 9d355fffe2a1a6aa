//! The S3 destination: `[[buckets]]` (a local directory `DATA/s3/<bucket>` or an S3-compatible
//! endpoint), a flow log's objects (one per 5-minute bucket of `end`, text.gz or Parquet, keyed
//! by [`crate::layout`]), their spool target, and the PUT that delivers them.

use serde::{Deserialize, Serialize};

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    /// Bucket name.
    pub name: String,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); none = the local `DATA/s3/<name>`.
    pub endpoint: Option<String>,
    /// Region to sign for (endpoint buckets).
    pub region: Option<String>,
    /// Access key id (endpoint buckets).
    pub access_key_id: Option<String>,
    /// Secret access key (endpoint buckets).
    pub secret_access_key: Option<String>,
    /// Allow plain `http://` endpoints.
    #[serde(default)]
    pub allow_http: bool,
}

/// Why S3 refuses a bucket name (its general-purpose bucket naming rules), if it does: 3 to 63
/// characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter
/// or digit, no two dots side by side, not an IP address, none of the reserved prefixes and
/// suffixes. Every name allowed is one directory name under `DATA/s3/`.
pub fn name_problem(name: &str) -> Option<String> {
    let reason = if !(3..=63).contains(&name.len()) {
        "must be 3 to 63 characters long"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        "may hold only lowercase letters, digits, dots and hyphens"
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        "must begin and end with a letter or digit"
    } else if name.contains("..") {
        "must not hold two adjacent dots"
    } else if name.parse::<std::net::Ipv4Addr>().is_ok() {
        "must not be formatted as an IP address"
    } else if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
        || ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
            .iter()
            .any(|s| name.ends_with(s))
    {
        "uses a prefix or suffix S3 reserves"
    } else {
        return None;
    };
    Some(format!("'{name}' is not a valid bucket name: it {reason}"))
}

/// Checks `[[buckets]]` (no I/O): every problem as (key path, reason).
pub fn check(buckets: &[BucketConfig]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, b) in buckets.iter().enumerate() {
        if let Some(why) = name_problem(&b.name) {
            out.push((format!("buckets[{i}].name"), why));
        }
        if !seen.insert(b.name.as_str()) {
            out.push((
                format!("buckets[{i}].name"),
                format!("bucket '{}' is declared twice", b.name),
            ));
        }
        if let Some(e) = &b.endpoint
            && !(e.starts_with("https://") || (b.allow_http && e.starts_with("http://")))
        {
            out.push((
                format!("buckets[{i}].endpoint"),
                format!("'{e}' must be an https:// URL (or http:// with allow_http = true)"),
            ));
        }
    }
    out
}

#[cfg(feature = "runtime")]
pub use runtime::*;

#[cfg(feature = "runtime")]
mod runtime {
    use std::collections::BTreeMap;
    use std::io::Write as _;
    use std::path::Path;
    use std::sync::Arc;

    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
    use vpcflow_record::{FlowRecord, LogFormat, arrow, text};

    use super::BucketConfig;
    use crate::api::{Destination, FileFormat, FlowLog, stable_hash};
    use crate::deliver::{DeliveryError, SetupError, cause};
    use crate::fanout::Subscription;
    use crate::layout::{self, ObjectId};
    use crate::sinks::{Accumulator, CommitContext, Committed, SinkKey, bucket_of, ready};
    use crate::spool::{Entry, EntryHeader, Target};

    /// An object to put.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    pub struct ObjectTarget {
        /// Bucket.
        pub bucket: String,
        /// Key.
        pub key: String,
    }

    impl ObjectTarget {
        /// The destination whose failures hold back its other entries (backoff).
        pub fn destination(&self) -> String {
            crate::sinks::destination_key("s3", &self.bucket)
        }
    }

    /// Opens a bucket: a local directory under `s3_dir`, or the configured endpoint.
    pub fn open_bucket(
        b: &BucketConfig,
        s3_dir: &Path,
    ) -> Result<Arc<dyn ObjectStore>, SetupError> {
        let fail = |message: String| SetupError {
            bucket: b.name.clone(),
            message,
        };
        match &b.endpoint {
            None => {
                let dir = s3_dir.join(&b.name);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Arc::new(fs))
            }
            Some(endpoint) => {
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&b.name)
                    .with_endpoint(endpoint)
                    .with_region(b.region.as_deref().unwrap_or("us-east-1"))
                    .with_allow_http(b.allow_http)
                    .with_virtual_hosted_style_request(false)
                    // The worker retries with its own backoff and keeps the status true; the
                    // client's own retries (minutes by default) would only hide a failure.
                    .with_retry(object_store::RetryConfig {
                        max_retries: 1,
                        retry_timeout: std::time::Duration::from_secs(10),
                        ..object_store::RetryConfig::default()
                    });
                if let (Some(k), Some(s)) = (&b.access_key_id, &b.secret_access_key) {
                    builder = builder.with_access_key_id(k).with_secret_access_key(s);
                }
                Ok(Arc::new(builder.build().map_err(|e| fail(e.to_string()))?))
            }
        }
    }

    /// Puts an object (Firehose's S3 destination puts through here too).
    pub async fn put(
        buckets: &BTreeMap<String, Arc<dyn ObjectStore>>,
        bucket: &str,
        key: &str,
        payload: Vec<u8>,
    ) -> Result<(), DeliveryError> {
        let store = buckets.get(bucket).ok_or_else(|| {
            DeliveryError::unknown(format!("bucket '{bucket}' is not configured"))
        })?;
        store
            .put(&ObjectPath::from(key), PutPayload::from(payload))
            .await
            .map(|_| ())
            .map_err(|e| {
                let summary = match &e {
                    object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. } => "Access error",
                    _ => "Unknown error",
                };
                DeliveryError {
                    summary,
                    detail: format!("s3://{bucket}/{key}: {}", cause(&e)),
                }
            })
    }

    /// Delivers an object entry.
    pub async fn deliver(
        buckets: &BTreeMap<String, Arc<dyn ObjectStore>>,
        target: &ObjectTarget,
        payload: Vec<u8>,
    ) -> Result<(), DeliveryError> {
        put(buckets, &target.bucket, &target.key, payload).await
    }

    /// A flow log's objects being built, by 5-minute bucket of `end`.
    pub struct Objects {
        flow_log: FlowLog,
        format: LogFormat,
        open: BTreeMap<u64, Object>,
    }

    /// One object: its records, and its body as it grows.
    struct Object {
        records: u64,
        body: Body,
    }

    enum Body {
        Text(Box<TextBody>),
        Parquet(Box<ParquetBody>),
    }

    /// A text object: lines are formatted here and compressed on a thread of the object's own,
    /// so that gzip (the larger half of the work) runs beside formatting instead of after it.
    struct TextBody {
        buf: String,
        tx: std::sync::mpsc::SyncSender<String>,
        gzip: std::thread::JoinHandle<Vec<u8>>,
    }

    /// Bytes of text handed to the compressor at a time.
    const TEXT_BLOCK: usize = 256 * 1024;
    /// Rows per Parquet batch handed to the writer.
    const PARQUET_BATCH: usize = 64 * 1024;

    impl TextBody {
        fn new(header: String) -> TextBody {
            let (tx, rx) = std::sync::mpsc::sync_channel::<String>(4);
            let gzip = std::thread::Builder::new()
                .name("vpcflow-gzip".into())
                .spawn(move || {
                    let mut gz = flate2::write::GzEncoder::new(
                        Vec::with_capacity(1 << 20),
                        flate2::Compression::new(4),
                    );
                    for block in rx {
                        gz.write_all(block.as_bytes()).expect("writing to memory");
                    }
                    gz.finish().expect("writing to memory")
                })
                .expect("spawning a thread");
            TextBody {
                buf: header,
                tx,
                gzip,
            }
        }

        fn finish(self) -> Vec<u8> {
            let TextBody { buf, tx, gzip } = self;
            // A send fails only if the compressor died; join then reports its panic.
            let _ = tx.send(buf);
            drop(tx);
            gzip.join().expect("the gzip thread does not panic")
        }
    }

    struct ParquetBody {
        writer: vpcflow_record::parquet::arrow::ArrowWriter<Vec<u8>>,
        batch: arrow::BatchBuilder,
    }

    impl Objects {
        /// The objects of `sub`, an S3 flow log.
        pub fn new(sub: &Subscription) -> Objects {
            Objects {
                flow_log: sub.flow_log.clone(),
                format: sub.format.clone(),
                open: BTreeMap::new(),
            }
        }

        fn object(&self) -> Object {
            let body = match &self.flow_log.destination {
                Destination::S3 { options, .. } if options.file_format == FileFormat::Parquet => {
                    Body::Parquet(Box::new(ParquetBody {
                        writer: vpcflow_record::parquet::writer(Vec::new(), &self.format)
                            .expect("flow-log schemas are valid"),
                        batch: arrow::BatchBuilder::new(&self.format, 1024),
                    }))
                }
                _ => {
                    let mut line = self.format.header();
                    line.push('\n');
                    Body::Text(Box::new(TextBody::new(line)))
                }
            };
            Object { records: 0, body }
        }
    }

    impl Body {
        fn append(&mut self, format: &LogFormat, rec: &FlowRecord) {
            match self {
                Body::Text(t) => {
                    text::encode_into(format, rec, &mut t.buf);
                    t.buf.push('\n');
                    if t.buf.len() >= TEXT_BLOCK {
                        let block =
                            std::mem::replace(&mut t.buf, String::with_capacity(TEXT_BLOCK + 1024));
                        let _ = t.tx.send(block);
                    }
                }
                Body::Parquet(p) => {
                    p.batch.append(rec);
                    if p.batch.len() >= PARQUET_BATCH {
                        p.writer
                            .write(&p.batch.finish())
                            .expect("writing to memory");
                    }
                }
            }
        }

        fn finish(self) -> Vec<u8> {
            match self {
                Body::Text(t) => t.finish(),
                Body::Parquet(mut p) => {
                    if !p.batch.is_empty() {
                        p.writer
                            .write(&p.batch.finish())
                            .expect("writing to memory");
                    }
                    p.writer.into_inner().expect("writing to memory")
                }
            }
        }
    }

    impl Accumulator for Objects {
        fn key(&self) -> SinkKey {
            SinkKey::FlowLog(self.flow_log.flow_log_id.clone())
        }

        fn covered(&self, rec: &FlowRecord, done: u64, _last_commit: u64) -> bool {
            bucket_of(rec) < done
        }

        fn add(&mut self, _sub: &Subscription, rec: &FlowRecord) {
            let bucket = bucket_of(rec);
            if !self.open.contains_key(&bucket) {
                let object = self.object();
                self.open.insert(bucket, object);
            }
            let o = self.open.get_mut(&bucket).expect("inserted above");
            o.records += 1;
            o.body.append(&self.format, rec);
        }

        fn commit(&mut self, ctx: &CommitContext<'_>, _done: u64) -> Committed {
            let f = &self.flow_log;
            let Destination::S3 {
                bucket: name,
                prefix,
                options,
            } = &f.destination
            else {
                unreachable!("S3 objects belong to an S3 flow log")
            };
            let mut out = Committed {
                done: Some(ctx.until),
                ..Committed::default()
            };
            for bucket in ready(&self.open, ctx) {
                let o = self.open.remove(&bucket).expect("listed above");
                *out.records.entry(f.flow_log_id.clone()).or_default() += o.records;
                let tag = ctx.tag();
                let hash = stable_hash(&[
                    f.flow_log_id.as_bytes(),
                    &bucket.to_le_bytes(),
                    tag.as_bytes(),
                ]) as u32;
                let key = layout::object_key(&ObjectId {
                    prefix,
                    account: &f.account_id,
                    region: &f.region,
                    flow_log_id: &f.flow_log_id,
                    options: *options,
                    bucket_start: bucket,
                    hash,
                });
                out.entries.push(Entry {
                    name: format!("{bucket:012}-{}{tag}-s3", f.flow_log_id),
                    header: EntryHeader {
                        target: Target::Object(ObjectTarget {
                            bucket: name.clone(),
                            key,
                        }),
                        run: ctx.run.cloned(),
                        sink: self.key(),
                        window: ctx.until,
                        flow_logs: vec![f.flow_log_id.clone()],
                        records: o.records,
                        checksum: None,
                        redo_from: Some(bucket),
                    },
                    payload: o.body.finish(),
                });
            }
            out
        }
    }
}
