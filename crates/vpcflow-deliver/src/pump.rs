//! The background work that API requests leave behind, run by the service beside its server:
//! subscription filters' new events into their Firehose streams (CloudWatch Logs'
//! `DATA_MESSAGE`, gzipped, one Firehose record per log stream and chunk), delivery streams'
//! buffers to their destinations when the buffering hints say so (a local bucket, gzipped if
//! asked, under Firehose's `YYYY/MM/DD/HH/` keys; or an HTTP endpoint by Firehose's
//! HTTP-endpoint protocol), buckets' lifecycle expiration, and bucket event notifications to
//! their webhooks. Each step removes its input only once its output is durable or acknowledged,
//! so a crash repeats a step and never loses one. The services' rules are the store's
//! (`vpcflow_store::{firehose, buckets, logs::subscriptions}`); this module moves bytes.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use vpcflow_store::DataDir;
use vpcflow_store::buckets::{BucketError, Buckets};
use vpcflow_store::firehose::{Destination, Due, Firehose, FirehoseError, MAX_BATCH_RECORDS};
use vpcflow_store::logs::subscriptions::{Forward, firehose_stream};
use vpcflow_store::logs::{LogStore, LogsError};

use crate::layout;

/// A step that could not be done (it is tried again on the next).
#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    /// Firehose's store.
    #[error(transparent)]
    Firehose(#[from] FirehoseError),
    /// The log-group store.
    #[error(transparent)]
    Logs(#[from] LogsError),
    /// A bucket.
    #[error(transparent)]
    Bucket(#[from] BucketError),
    /// A destination refused or could not be reached.
    #[error("{0}")]
    Delivery(String),
}

/// The most bytes of events in one forwarded Firehose record (before gzip; Firehose takes
/// records up to 1,000 KiB).
const FORWARD_RECORD_BYTES: usize = 900 * 1024;

/// How often lifecycle expiration walks the buckets (it lists every object of a bucket with
/// rules; S3 itself applies expiration about once a day).
const EXPIRE_EVERY_MS: u64 = 60_000;

/// The stores the pump works on, each with its own connection.
pub struct Pump {
    firehose: Firehose,
    logs: LogStore,
    buckets: Buckets,
    http: reqwest::Client,
    /// When expiration last ran (ms); `None` before the first round.
    expired_at: std::cell::Cell<Option<u64>>,
}

impl Pump {
    /// The pump of `data`: `configured` are the config's local buckets, owned by `owner`.
    pub fn open(
        data: &DataDir,
        region: &str,
        owner: &str,
        configured: Vec<String>,
    ) -> Result<Pump, PumpError> {
        Ok(Pump {
            firehose: Firehose::open(data.clone(), region)?,
            logs: LogStore::open(data.clone(), region, owner)?,
            buckets: Buckets::open(data.clone(), configured, owner, region)?,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .map_err(|e| PumpError::Delivery(format!("HTTP client: {e}")))?,
            expired_at: std::cell::Cell::new(None),
        })
    }

    /// One round at `now_ms` (`flush`: every buffer now, as on a stop): what failed, each
    /// step's problem once (the rest of the round goes on).
    pub async fn step(&self, now_ms: u64, flush: bool) -> Vec<PumpError> {
        let mut problems = Vec::new();
        if let Err(e) = self.forward_subscriptions(now_ms) {
            problems.push(e);
        }
        match self.firehose.due(now_ms, flush) {
            Ok(due) => {
                for d in due {
                    if let Err(e) = self.deliver(&d, now_ms).await {
                        problems.push(e);
                    }
                }
            }
            Err(e) => problems.push(e.into()),
        }
        if flush
            || self
                .expired_at
                .get()
                .is_none_or(|t| now_ms.saturating_sub(t) >= EXPIRE_EVERY_MS)
        {
            self.expired_at.set(Some(now_ms));
            if let Err(e) = self.buckets.expire(now_ms) {
                problems.push(e.into());
            }
        }
        if let Err(e) = self.post_events().await {
            problems.push(e);
        }
        problems
    }

    /// Every subscription filter's new matching events, put to its stream.
    fn forward_subscriptions(&self, now_ms: u64) -> Result<(), PumpError> {
        for f in self.logs.to_forward()? {
            let (account, stream) = firehose_stream(&f.filter.destination_arn)
                .map(|(a, s)| (a.to_owned(), s.to_owned()))
                .unwrap_or_default();
            let records = forward_records(&f);
            for chunk in records.chunks(MAX_BATCH_RECORDS) {
                match self.firehose.put(&account, &stream, chunk, now_ms) {
                    Ok(_) => {}
                    // The stream is gone: CloudWatch Logs drops what it cannot deliver.
                    Err(FirehoseError::Refused { .. }) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            self.logs.forwarded(&f)?;
        }
        Ok(())
    }

    /// One due buffer to its destination, then out of the buffer.
    async fn deliver(&self, d: &Due, now_ms: u64) -> Result<(), PumpError> {
        let spec = &d.spec;
        match &spec.destination {
            Destination::S3 {
                bucket,
                prefix,
                gzip: gzipped,
                ..
            } => {
                let mut payload: Vec<u8> = d.records.concat();
                let mut key =
                    layout::firehose_object_key(prefix, &spec.name, d.first_ms / 1000, &d.id);
                if *gzipped {
                    payload = gzip(&payload);
                    key.push_str(".gz");
                }
                self.buckets
                    .put_object(bucket, &key, &payload, &spec.account, now_ms)?;
            }
            Destination::Http {
                url, access_key, ..
            } => {
                let records: Vec<&[u8]> = d.records.iter().map(Vec::as_slice).collect();
                let body = crate::sinks::firehose::http_body_records(&d.id, now_ms, &records);
                crate::sinks::firehose::post(
                    &self.http,
                    (&spec.name, &spec.arn),
                    url,
                    access_key.as_deref(),
                    &d.id,
                    body,
                )
                .await
                .map_err(|e| PumpError::Delivery(e.detail))?;
            }
        }
        self.firehose.delivered(d)?;
        Ok(())
    }

    /// Bucket events to their webhooks, oldest first; one that fails waits for the next round
    /// (with those after it, so that a webhook sees its bucket's events in order).
    async fn post_events(&self) -> Result<(), PumpError> {
        for e in self.buckets.pending_events()? {
            let sent = self
                .http
                .post(&e.url)
                .header("Content-Type", "application/json")
                .body(e.body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => self.buckets.event_posted(&e)?,
                Ok(r) => {
                    return Err(PumpError::Delivery(format!(
                        "bucket notification to {}: answered {}",
                        e.url,
                        r.status()
                    )));
                }
                Err(err) => {
                    return Err(PumpError::Delivery(format!(
                        "bucket notification to {}: {}",
                        e.url,
                        crate::deliver::cause(&err)
                    )));
                }
            }
        }
        Ok(())
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        Compression::default(),
    );
    enc.write_all(bytes).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

/// A filter's events as Firehose records: per log stream (in order), chunks of at most
/// [`FORWARD_RECORD_BYTES`] of messages, each CloudWatch Logs' subscription message, gzipped.
pub fn forward_records(f: &Forward) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < f.events.len() {
        let stream = &f.events[start].1.stream;
        let (mut end, mut bytes) = (start, 0);
        while end < f.events.len()
            && f.events[end].1.stream == *stream
            && (end == start || bytes + f.events[end].1.message.len() <= FORWARD_RECORD_BYTES)
        {
            bytes += f.events[end].1.message.len();
            end += 1;
        }
        let events: Vec<serde_json::Value> = f.events[start..end]
            .iter()
            .map(|(id, e)| {
                serde_json::json!({ "id": id, "timestamp": e.timestamp, "message": e.message })
            })
            .collect();
        let message = serde_json::json!({
            "messageType": "DATA_MESSAGE",
            "owner": f.owner,
            "logGroup": f.filter.log_group_name,
            "logStream": stream,
            "subscriptionFilters": [f.filter.filter_name],
            "logEvents": events,
        });
        out.push(gzip(message.to_string().as_bytes()));
        start = end;
    }
    out
}

/// Runs `pump` on its own thread until `stop` is set: a round every `every`, at `clock`'s time
/// (each problem handed to `report`), and one more round after the stop, so that what was
/// due is not left waiting for the next start.
pub fn spawn(
    pump: Pump,
    clock: std::sync::Arc<dyn vpcflow_store::Clock>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    every: std::time::Duration,
    report: Box<dyn Fn(&PumpError) + Send>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    use std::sync::atomic::Ordering;
    std::thread::Builder::new()
        .name("vpcflow-pump".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                report(&PumpError::Delivery(
                    "cannot start the pump's runtime".into(),
                ));
                return;
            };
            loop {
                let stopping = stop.load(Ordering::Relaxed);
                for p in runtime.block_on(pump.step(clock.now_ms(), false)) {
                    report(&p);
                }
                if stopping {
                    return;
                }
                // Sleeps in slices, so that a stop is seen within one.
                let slice = std::time::Duration::from_millis(50);
                let mut slept = std::time::Duration::ZERO;
                while slept < every && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(slice);
                    slept += slice;
                }
            }
        })
}
