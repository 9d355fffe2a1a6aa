//! The delivery worker: takes published spool entries to their destinations, retrying with
//! backoff while a destination is down, and keeps `DeliverLogsStatus` true.
//!
//! Owns the destinations' clients: buckets through `object_store` (a local directory
//! `DATA/s3/<bucket>`, or an S3-compatible endpoint), the log-group store (segment files under
//! `DATA/logs/`), and Firehose streams (HTTP endpoint protocol, S3 or a directory). Every
//! delivery is idempotent (same key, same segment name, same request id), so an entry delivered
//! just before a crash and delivered again after it changes nothing. Time comes from a
//! [`Clock`] the caller passes in.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

use crate::config::{BucketConfig, DeliveryConfig, StreamDestination};
use crate::layout;
use crate::spool::{EntryHeader, Spool, Target};
use crate::state::{State, StateError};
use vpcflow_store::DataDir;

/// Wall time for backoff and ingestion (the store's: one clock for every crate).
pub use vpcflow_store::Clock;

/// Why a delivery failed: AWS's `DeliverLogsErrorMessage` and the detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{summary}: {detail}")]
pub struct DeliveryError {
    /// `Access error`, `Rate limited` or `Unknown error` (AWS's three messages).
    pub summary: &'static str,
    /// What happened, naming the destination.
    pub detail: String,
}

impl DeliveryError {
    fn unknown(detail: String) -> DeliveryError {
        DeliveryError {
            summary: "Unknown error",
            detail,
        }
    }
}

/// A failure to set up destinations (the configuration's fault).
#[derive(Debug, thiserror::Error)]
#[error("bucket '{bucket}': {message}")]
pub struct SetupError {
    bucket: String,
    message: String,
}

/// The destinations a worker delivers to.
pub struct Destinations {
    buckets: BTreeMap<String, Arc<dyn ObjectStore>>,
    streams: BTreeMap<String, StreamDestination>,
    data: DataDir,
    http: reqwest::Client,
    region: String,
    account: String,
}

/// Opens a bucket: a local directory under `s3_dir`, or the configured endpoint.
pub fn open_bucket(b: &BucketConfig, s3_dir: &Path) -> Result<Arc<dyn ObjectStore>, SetupError> {
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

impl Destinations {
    /// Opens every configured destination under the data directory.
    pub fn open(
        config: &DeliveryConfig,
        data: &Path,
        region: &str,
        account: &str,
    ) -> Result<Destinations, SetupError> {
        let data = DataDir::new(data);
        let mut buckets = BTreeMap::new();
        for b in &config.buckets {
            buckets.insert(b.name.clone(), open_bucket(b, &data.s3())?);
        }
        Ok(Destinations {
            buckets,
            streams: config
                .delivery_streams
                .iter()
                .map(|s| (s.name.clone(), s.destination.clone()))
                .collect(),
            data,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(180))
                .build()
                .map_err(|e| SetupError {
                    bucket: String::new(),
                    message: e.to_string(),
                })?,
            region: region.to_owned(),
            account: account.to_owned(),
        })
    }

    /// Delivers one entry.
    pub async fn deliver(
        &self,
        header: &EntryHeader,
        payload: Vec<u8>,
        state: &State,
        now_ms: u64,
    ) -> Result<(), DeliveryError> {
        match &header.target {
            Target::Object { bucket, key } => self.put(bucket, key, payload).await,
            Target::LogSegment {
                group,
                segment,
                streams,
                retention_days,
                account,
            } => {
                let dir = self.data.log_group(group);
                let file = self.data.segment(group, segment);
                let name = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                write_durably(&dir, name, &payload).map_err(|e| {
                    DeliveryError::unknown(format!("log group {group}: {}: {e}", dir.display()))
                })?;
                let db = |e: StateError| DeliveryError::unknown(e.to_string());
                state
                    .ensure_log_group(
                        group,
                        account.as_deref().unwrap_or(&self.account),
                        now_ms,
                        Some(*retention_days),
                    )
                    .map_err(db)?;
                state.add_segment(group, segment, streams).map_err(db)?;
                if let Some(days) = retention_days {
                    // Retention in record time: segments whose newest event is older than the
                    // newest delivered event minus the retention go, as CloudWatch expires them.
                    let newest = streams.iter().map(|s| s.last_ms).max().unwrap_or(0);
                    let cutoff = newest.saturating_sub(u64::from(*days) * 86_400_000);
                    for old in state.segments_older_than(group, cutoff).map_err(db)? {
                        let _ = std::fs::remove_file(dir.join(format!("{old}.parquet")));
                        state.remove_segment(group, &old).map_err(db)?;
                    }
                }
                Ok(())
            }
            Target::Firehose {
                stream,
                request_id,
                timestamp,
                account,
                ..
            } => match self.streams.get(stream) {
                None => Err(DeliveryError::unknown(format!(
                    "delivery stream '{stream}' is not configured"
                ))),
                Some(StreamDestination::HttpEndpoint { url, access_key }) => {
                    let account = account.as_deref().unwrap_or(&self.account);
                    let source = format!(
                        "arn:aws:firehose:{}:{account}:deliverystream/{stream}",
                        self.region
                    );
                    self.post(
                        (stream, &source),
                        url,
                        access_key.as_deref(),
                        request_id,
                        payload,
                    )
                    .await
                }
                Some(StreamDestination::S3 { bucket, prefix }) => {
                    let key = layout::firehose_object_key(prefix, stream, *timestamp, request_id);
                    self.put(bucket, &key, payload).await
                }
                Some(StreamDestination::Directory { path }) => write_durably(
                    Path::new(path),
                    &format!("{stream}-{request_id}.log"),
                    &payload,
                )
                .map_err(|e| {
                    DeliveryError::unknown(format!("delivery stream {stream}: {path}: {e}"))
                }),
            },
        }
    }

    async fn put(&self, bucket: &str, key: &str, payload: Vec<u8>) -> Result<(), DeliveryError> {
        let store = self.buckets.get(bucket).ok_or_else(|| {
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

    /// POSTs a Firehose request of `stream`, whose ARN is `source`.
    async fn post(
        &self,
        (stream, source): (&str, &str),
        url: &str,
        access_key: Option<&str>,
        request_id: &str,
        body: Vec<u8>,
    ) -> Result<(), DeliveryError> {
        let mut req = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-Amz-Firehose-Protocol-Version", "1.0")
            .header("X-Amz-Firehose-Request-Id", request_id)
            .header("X-Amz-Firehose-Source-Arn", source)
            .body(body);
        if let Some(k) = access_key {
            req = req.header("X-Amz-Firehose-Access-Key", k);
        }
        let resp = req.send().await.map_err(|e| {
            DeliveryError::unknown(format!(
                "delivery stream {stream}: POST {url}: {}",
                cause(&e)
            ))
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let summary = match status {
            200 => {
                // A success must echo the request id (Firehose treats anything else as failure).
                let echoed = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.get("requestId")?.as_str().map(str::to_owned));
                if echoed.as_deref() == Some(request_id) {
                    return Ok(());
                }
                "Unknown error"
            }
            401 | 403 => "Access error",
            429 => "Rate limited",
            _ => "Unknown error",
        };
        Err(DeliveryError {
            summary,
            detail: format!(
                "delivery stream {stream}: POST {url} answered {status}: {}",
                text.chars().take(200).collect::<String>()
            ),
        })
    }
}

/// Why a request failed, in words a person acts on: the kind (DNS, connection refused,
/// timeout, TLS) and the innermost error's own message, which a client's top-level message
/// ("error sending request") hides.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let all = chain.join(": ").to_lowercase();
    let root = chain.last().cloned().unwrap_or_default();
    let kind = if all.contains("dns error")
        || all.contains("failed to lookup address")
        || all.contains("name or service not known")
    {
        "DNS: the host does not resolve"
    } else if all.contains("connection refused") {
        "connection refused"
    } else if all.contains("timed out") || all.contains("timeout") {
        "timed out"
    } else if all.contains("certificate") || all.contains("tls") || all.contains("ssl") {
        "TLS"
    } else {
        return chain.join(": ");
    };
    format!("{kind} ({root})")
}

/// Writes `name` in `dir` atomically and durably: temporary file, fsync, rename, fsync dir.
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

/// Backoff of one destination after failures.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    next_ms: u64,
}

/// Delay before retry `n` (1-based): 100 ms doubling, capped at 10 s.
pub fn backoff_ms(n: u32) -> u64 {
    (100u64 << n.saturating_sub(1).min(7)).min(10_000)
}

/// Counters of a worker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Entries delivered.
    pub delivered: u64,
    /// Records in them.
    pub records: u64,
    /// Failed attempts.
    pub failures: u64,
}

/// Delivers the spool's entries.
pub struct Worker {
    spool: Spool,
    state: State,
    dest: Destinations,
    runtime: tokio::runtime::Runtime,
    backoff: BTreeMap<String, Backoff>,
    /// The latest failure of each destination still failing.
    failing: BTreeMap<String, DeliveryError>,
    /// Counters.
    pub stats: WorkerStats,
}

fn destination_key(t: &Target) -> String {
    match t {
        Target::Object { bucket, .. } => format!("s3:{bucket}"),
        Target::LogSegment { group, .. } => format!("logs:{group}"),
        Target::Firehose { stream, .. } => format!("firehose:{stream}"),
    }
}

impl Worker {
    /// A failure of a destination that is still failing, if any: what the log says.
    pub fn failing(&self) -> Option<&DeliveryError> {
        self.failing.values().next()
    }

    /// A worker over a spool, with its own database connection.
    pub fn new(spool: Spool, state: State, dest: Destinations) -> std::io::Result<Worker> {
        Ok(Worker {
            spool,
            state,
            dest,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            backoff: BTreeMap::new(),
            failing: BTreeMap::new(),
            stats: WorkerStats::default(),
        })
    }

    /// One pass over the spool, oldest first, each destination in order: an entry whose
    /// destination failed waits for its backoff, and the entries behind it for that destination
    /// wait with it. Returns (entries left, milliseconds until the next retry is due).
    pub fn pass(&mut self, clock: &dyn Clock) -> std::io::Result<(usize, Option<u64>)> {
        let names = self.spool.list()?;
        let mut blocked: Vec<String> = Vec::new();
        let mut left = 0;
        for name in names {
            let (header, payload) = match self.spool.read(&name) {
                Ok(x) => x,
                // Removed meanwhile by another worker: nothing to do.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let key = destination_key(&header.target);
            let now = clock.now_ms();
            if blocked.contains(&key) || self.backoff.get(&key).is_some_and(|b| b.next_ms > now) {
                blocked.push(key);
                left += 1;
                continue;
            }
            let result =
                self.runtime
                    .block_on(self.dest.deliver(&header, payload, &self.state, now));
            match result {
                Ok(()) => {
                    self.spool.remove(&name)?;
                    self.backoff.remove(&key);
                    self.failing.remove(&key);
                    self.stats.delivered += 1;
                    self.stats.records += header.records;
                    let _ = self.state.set_status(&header.flow_logs, None);
                }
                Err(e) => {
                    self.stats.failures += 1;
                    let b = self.backoff.entry(key.clone()).or_insert(Backoff {
                        failures: 0,
                        next_ms: 0,
                    });
                    b.failures += 1;
                    b.next_ms = now + backoff_ms(b.failures);
                    let _ = self
                        .state
                        .set_status(&header.flow_logs, Some((e.summary, &e.detail)));
                    self.failing.insert(key.clone(), e);
                    blocked.push(key);
                    left += 1;
                }
            }
        }
        let now = clock.now_ms();
        let wait = self
            .backoff
            .values()
            .map(|b| b.next_ms.saturating_sub(now))
            .min();
        Ok((left, wait))
    }
}
