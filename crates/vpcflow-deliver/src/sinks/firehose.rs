//! The Firehose destination: `[[delivery_streams]]` (Direct PUT streams with buffering hints,
//! delivering to an HTTP endpoint, a bucket or a directory), a stream's buffer (the records of
//! every flow log that delivers to it, flushed by the hints in record time), its requests'
//! spool target, and the delivery: Firehose's HTTP-endpoint protocol, or an object, or a file.

use serde::{Deserialize, Serialize};

use super::s3::BucketConfig;

/// A Firehose-style delivery stream (Direct PUT source).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryStreamConfig {
    /// Stream name (the `deliverystream:NAME` of the flow log's ARN).
    pub name: String,
    /// Buffering hint: size in MiB (1–128, Firehose's default 5).
    #[serde(default = "default_buffer_mb")]
    pub buffering_size_mb: u32,
    /// Buffering hint: seconds of record time (0–900, Firehose's default 300).
    #[serde(default = "default_buffer_secs")]
    pub buffering_interval_seconds: u32,
    /// Where the stream delivers.
    pub destination: StreamDestination,
}

fn default_buffer_mb() -> u32 {
    5
}

fn default_buffer_secs() -> u32 {
    300
}

/// Where a delivery stream delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum StreamDestination {
    /// An HTTP endpoint speaking Firehose's HTTP-endpoint request/response protocol.
    #[serde(rename = "http_endpoint")]
    HttpEndpoint {
        /// URL to POST to.
        url: String,
        /// Sent as `X-Amz-Firehose-Access-Key`.
        access_key: Option<String>,
    },
    /// A bucket, with Firehose's `YYYY/MM/DD/HH/` keys under `prefix`.
    #[serde(rename = "s3")]
    S3 {
        /// Bucket (one of `[[buckets]]`).
        bucket: String,
        /// Key prefix.
        #[serde(default)]
        prefix: String,
    },
    /// A local directory: one file per delivery, named by its request id.
    #[serde(rename = "directory")]
    Directory {
        /// The directory.
        path: String,
    },
}

/// Checks `[[delivery_streams]]` against `[[buckets]]` (no I/O): every problem as (key path,
/// reason).
pub fn check(streams: &[DeliveryStreamConfig], buckets: &[BucketConfig]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in streams.iter().enumerate() {
        let at = format!("delivery_streams[{i}]");
        if !seen.insert(s.name.as_str()) {
            out.push((
                format!("{at}.name"),
                format!("delivery stream '{}' is declared twice", s.name),
            ));
        }
        if !(1..=128).contains(&s.buffering_size_mb) {
            out.push((
                format!("{at}.buffering_size_mb"),
                format!("{} is outside 1..=128", s.buffering_size_mb),
            ));
        }
        if s.buffering_interval_seconds > 900 {
            out.push((
                format!("{at}.buffering_interval_seconds"),
                format!("{} is outside 0..=900", s.buffering_interval_seconds),
            ));
        }
        match &s.destination {
            StreamDestination::HttpEndpoint { url, .. } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    out.push((
                        format!("{at}.destination.url"),
                        format!("'{url}' is not an http:// or https:// URL"),
                    ));
                }
            }
            StreamDestination::S3 { bucket, prefix } => {
                if !buckets.iter().any(|b| b.name == *bucket) {
                    out.push((
                        format!("{at}.destination.bucket"),
                        format!("bucket '{bucket}' is not among [[buckets]]"),
                    ));
                }
                if let Some(why) = crate::layout::prefix_problem(prefix) {
                    out.push((format!("{at}.destination.prefix"), why));
                }
            }
            StreamDestination::Directory { path } => {
                if path.is_empty() {
                    out.push((
                        format!("{at}.destination.path"),
                        "the directory is empty".to_owned(),
                    ));
                }
            }
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

    use base64::Engine as _;
    use object_store::ObjectStore;
    use vpcflow_record::{FlowRecord, text};

    use super::{DeliveryStreamConfig, StreamDestination};
    use crate::deliver::{DeliveryError, cause, write_durably};
    use crate::fanout::{Plan, Subscription};
    use crate::layout;
    use crate::sinks::{Accumulator, CommitContext, Committed, SinkKey};
    use crate::spool::{Entry, EntryHeader, Target};

    /// A request of a delivery stream.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    pub struct RequestTarget {
        /// Stream.
        pub stream: String,
        /// `X-Amz-Firehose-Request-Id` (stable across retries and restarts).
        pub request_id: String,
        /// Record time of the delivery (s).
        pub timestamp: u64,
        /// Records in it.
        pub records: u64,
        /// The account of the stream's flow logs, in `X-Amz-Firehose-Source-Arn` (absent in
        /// entries spooled before accounts were kept: the store's account).
        #[serde(default)]
        pub account: Option<String>,
    }

    impl RequestTarget {
        /// The destination whose failures hold back its other entries (backoff).
        pub fn destination(&self) -> String {
            crate::sinks::destination_key("firehose", &self.stream)
        }
    }

    /// Most bytes of records in one Firehose request.
    const REQUEST_BYTES: usize = 4 << 20;

    /// A stream's records waiting for its buffering hints.
    pub struct Buffer {
        name: String,
        /// `None` when the stream is not configured: its requests fail to deliver, and say so.
        config: Option<DeliveryStreamConfig>,
        lines: Vec<u8>,
        records: u64,
        /// Record time the buffering interval counts from: the first record held.
        first_window: Option<u64>,
        flow_logs: Vec<String>,
        /// The account of its first flow log: the stream's owner.
        account: Option<String>,
        last_commit: u64,
        /// The commit mark when the first record held arrived: a checkpoint there makes a
        /// replayed run hold them again.
        held_since: u64,
    }

    impl Buffer {
        /// The buffer of stream `name`, with its hints from the plan.
        pub fn new(name: &str, plan: &Plan) -> Buffer {
            Buffer::empty(name.to_owned(), plan.streams.get(name).cloned(), 0)
        }

        /// A buffer holding nothing, its hints `config`, after commit mark `last_commit`.
        fn empty(name: String, config: Option<DeliveryStreamConfig>, last_commit: u64) -> Buffer {
            Buffer {
                name,
                config,
                lines: Vec::new(),
                records: 0,
                first_window: None,
                flow_logs: Vec::new(),
                account: None,
                last_commit,
                held_since: last_commit,
            }
        }

        fn due(&self, ctx: &CommitContext<'_>) -> bool {
            let (size_mb, interval) = self.config.as_ref().map_or((5, 300), |c| {
                (c.buffering_size_mb, c.buffering_interval_seconds)
            });
            ctx.last
                || self.lines.len() >= size_mb as usize * (1 << 20)
                || self
                    .first_window
                    .is_some_and(|t| ctx.until.saturating_sub(t) >= u64::from(interval))
        }

        /// The held records as requests of at most [`REQUEST_BYTES`], cut at line ends.
        fn requests(&self, ctx: &CommitContext<'_>) -> Vec<Entry> {
            let mut out = Vec::new();
            let (mut start, mut part) = (0, 0);
            let lines = &self.lines;
            while start < lines.len() {
                let mut end = (start + REQUEST_BYTES).min(lines.len());
                if end < lines.len() {
                    end = start
                        + lines[start..end]
                            .iter()
                            .rposition(|&b| b == b'\n')
                            .map_or(end - start, |p| p + 1);
                }
                let chunk = &lines[start..end];
                let records = chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                let id = request_id(&format!("{}{}", self.name, ctx.tag()), ctx.until, part);
                let payload = match self.config.as_ref().map(|c| &c.destination) {
                    Some(StreamDestination::HttpEndpoint { .. }) => {
                        http_body(&id, ctx.until, chunk)
                    }
                    _ => chunk.to_vec(),
                };
                out.push(Entry {
                    name: format!(
                        "{:012}-firehose-{}{}-{part:04}",
                        ctx.until,
                        self.name,
                        ctx.tag()
                    ),
                    header: EntryHeader {
                        target: Target::Firehose(RequestTarget {
                            stream: self.name.clone(),
                            request_id: id,
                            timestamp: ctx.until,
                            records,
                            account: self.account.clone(),
                        }),
                        run: ctx.run.cloned(),
                        sink: self.key(),
                        window: ctx.until,
                        flow_logs: self.flow_logs.clone(),
                        records,
                        checksum: None,
                        redo_from: Some(self.held_since),
                    },
                    payload,
                });
                start = end;
                part += 1;
            }
            out
        }
    }

    impl Accumulator for Buffer {
        fn key(&self) -> SinkKey {
            SinkKey::Stream(self.name.clone())
        }

        /// A record belongs to the window of the next commit; a stream whose checkpoint covers
        /// that window has it already.
        fn covered(&self, _rec: &FlowRecord, done: u64, _last_commit: u64) -> bool {
            self.last_commit < done
        }

        fn add(&mut self, sub: &Subscription, rec: &FlowRecord) {
            let mut line = String::with_capacity(256);
            text::encode_into(&sub.format, rec, &mut line);
            line.push('\n');
            self.lines.extend_from_slice(line.as_bytes());
            self.records += 1;
            if self.records == 1 {
                self.held_since = self.last_commit;
            }
            if self.first_window.is_none() {
                // The buffering interval counts in record time from the first record held.
                self.first_window = Some(rec.end.map_or(self.last_commit, |c| c.0));
            }
            self.account
                .get_or_insert_with(|| sub.flow_log.account_id.clone());
            if !self.flow_logs.contains(&sub.flow_log.flow_log_id) {
                self.flow_logs.push(sub.flow_log.flow_log_id.clone());
            }
        }

        fn commit(&mut self, ctx: &CommitContext<'_>, done: u64) -> Committed {
            let mut out = Committed::default();
            // While the checkpoint covers the window (a replayed run), it was flushed before.
            if done <= self.last_commit && self.due(ctx) {
                if self.records > 0 {
                    out.entries = self.requests(ctx);
                    // Records of a stream are counted once, under its first flow log.
                    if let Some(f) = self.flow_logs.first() {
                        out.records.insert(f.clone(), self.records);
                    }
                }
                *self = Buffer::empty(std::mem::take(&mut self.name), self.config.take(), 0);
                out.done = Some(ctx.until);
            }
            self.last_commit = ctx.until;
            out
        }
    }

    /// Firehose's HTTP-endpoint request body: one Firehose record per flow record (its line
    /// with the newline).
    fn http_body(id: &str, window: u64, chunk: &[u8]) -> Vec<u8> {
        let lines: Vec<&[u8]> = chunk.split_inclusive(|&b| b == b'\n').collect();
        http_body_records(id, window * 1000, &lines)
    }

    /// Firehose's HTTP-endpoint request body of `records` (base64, as the protocol wants), sent
    /// at `timestamp_ms`.
    pub fn http_body_records(id: &str, timestamp_ms: u64, records: &[&[u8]]) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let size: usize = records.iter().map(|r| r.len() * 4 / 3 + 16).sum();
        let mut body = Vec::with_capacity(size + 128);
        write!(
            body,
            "{{\"requestId\":\"{id}\",\"timestamp\":{timestamp_ms},\"records\":["
        )
        .expect("memory");
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(b"{\"data\":\"");
            body.extend_from_slice(b64.encode(record).as_bytes());
            body.extend_from_slice(b"\"}");
        }
        body.extend_from_slice(b"]}");
        body
    }

    /// A request id in GUID form, from the stream, window and part (stable across restarts).
    fn request_id(stream: &str, window: u64, part: usize) -> String {
        vpcflow_store::ids::guid(
            &[
                stream.as_bytes(),
                &window.to_le_bytes(),
                &part.to_le_bytes(),
            ],
            b"request-id",
        )
    }

    /// What delivering a request needs of the worker's destinations.
    pub struct Streams<'a> {
        /// The configured streams' destinations.
        pub streams: &'a BTreeMap<String, StreamDestination>,
        /// Buckets, for streams that deliver to one.
        pub buckets: &'a BTreeMap<String, Arc<dyn ObjectStore>>,
        /// The HTTP client.
        pub http: &'a reqwest::Client,
        /// The region of the stream's ARN.
        pub region: &'a str,
        /// The account of entries spooled before accounts were kept.
        pub default_account: &'a str,
    }

    /// Delivers a request to its stream's destination.
    pub async fn deliver(
        d: &Streams<'_>,
        t: &RequestTarget,
        payload: Vec<u8>,
    ) -> Result<(), DeliveryError> {
        let stream = &t.stream;
        match d.streams.get(stream) {
            None => Err(DeliveryError::unknown(format!(
                "delivery stream '{stream}' is not configured"
            ))),
            Some(StreamDestination::HttpEndpoint { url, access_key }) => {
                let account = t.account.as_deref().unwrap_or(d.default_account);
                let source = format!(
                    "arn:aws:firehose:{}:{account}:deliverystream/{stream}",
                    d.region
                );
                post(
                    d.http,
                    (stream, &source),
                    url,
                    access_key.as_deref(),
                    &t.request_id,
                    payload,
                )
                .await
            }
            Some(StreamDestination::S3 { bucket, prefix }) => {
                let key = layout::firehose_object_key(prefix, stream, t.timestamp, &t.request_id);
                crate::sinks::s3::put(d.buckets, bucket, &key, payload).await
            }
            Some(StreamDestination::Directory { path }) => write_durably(
                Path::new(path),
                &format!("{stream}-{}.log", t.request_id),
                &payload,
            )
            .map_err(|e| DeliveryError::unknown(format!("delivery stream {stream}: {path}: {e}"))),
        }
    }

    /// POSTs a request of `stream`, whose ARN is `source`, by the HTTP-endpoint protocol.
    pub(crate) async fn post(
        http: &reqwest::Client,
        (stream, source): (&str, &str),
        url: &str,
        access_key: Option<&str>,
        request_id: &str,
        body: Vec<u8>,
    ) -> Result<(), DeliveryError> {
        let mut req = http
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
