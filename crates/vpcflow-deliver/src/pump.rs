//! The background work that API requests leave behind, run by the service beside its server:
//! subscription filters' new events into their Firehose streams (CloudWatch Logs'
//! `DATA_MESSAGE`, gzipped, one Firehose record per log stream and chunk), delivery streams'
//! buffers to their destinations when the buffering hints say so (a local bucket, gzipped if
//! asked, under Firehose's `YYYY/MM/DD/HH/` keys; or an HTTP endpoint by Firehose's
//! HTTP-endpoint protocol), buckets' lifecycle expiration, bucket event notifications to
//! their webhooks, and alarms: evaluated on the metric's time (`vpcflow_store::alarm_eval`),
//! their state changes posted to the `[[topics]]` subscribers as SNS notifications, retried
//! with backoff until acknowledged. Each step removes its input only once its output is durable or acknowledged,
//! so a crash repeats a step and never loses one. The services' rules are the store's
//! (`vpcflow_store::{firehose, buckets, logs::subscriptions}`); this module moves bytes.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use vpcflow_store::DataDir;
use vpcflow_store::alarms::{AlarmError, Alarms};
use vpcflow_store::buckets::{BucketError, Buckets};
use vpcflow_store::firehose::{
    Destination, Due, Firehose, FirehoseError, FirehoseErrorCode, MAX_BATCH_RECORDS,
    MAX_RECORD_BYTES,
};
use vpcflow_store::logs::subscriptions::{Forward, firehose_stream};
use vpcflow_store::logs::{LogStore, LogsError};
use vpcflow_store::metrics::Metrics;

use crate::config::{DetectionsConfig, TopicConfig};
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
    /// The alarms or their metrics.
    #[error(transparent)]
    Alarm(#[from] AlarmError),
    /// A destination refused or could not be reached.
    #[error("{0}")]
    Delivery(String),
}

/// The most bytes of events in one forwarded Firehose record (before gzip; Firehose takes
/// records up to 1,000 KiB).
const FORWARD_RECORD_BYTES: usize = 900 * 1024;

/// The least time between two runs of the detections (they read every record).
const DETECT_EVERY_MS: u64 = 10_000;

/// How often lifecycle expiration walks the buckets (it lists every object of a bucket with
/// rules; S3 itself applies expiration about once a day).
const EXPIRE_EVERY_MS: u64 = 60_000;

/// The stores the pump works on, each with its own connection.
pub struct Pump {
    firehose: Firehose,
    logs: LogStore,
    buckets: Buckets,
    alarms: Alarms,
    metrics: Metrics,
    topics: Vec<TopicConfig>,
    /// `[detections]`, and the findings store it runs into.
    detections: Option<(DetectionsConfig, vpcflow_store::findings::Findings)>,
    /// The newest segment the detections saw, and when they last ran (ms).
    detected: std::cell::Cell<(i64, u64)>,
    http: reqwest::Client,
    /// When expiration last ran (ms); `None` before the first round.
    expired_at: std::cell::Cell<Option<u64>>,
    /// What was done that a person may want to see (a notification delivered), drained by
    /// [`spawn`]'s log.
    done: std::cell::RefCell<Vec<String>>,
}

impl Pump {
    /// The pump of `data`: `configured` are the config's local buckets, owned by `owner`;
    /// `topics` the config's, which alarm actions name.
    pub fn open(
        data: &DataDir,
        region: &str,
        owner: &str,
        configured: Vec<String>,
        topics: Vec<TopicConfig>,
        detections: Option<DetectionsConfig>,
    ) -> Result<Pump, PumpError> {
        let detections = match detections {
            Some(d) => Some((
                d,
                vpcflow_store::findings::Findings::open(data)
                    .map_err(|e| PumpError::Delivery(e.to_string()))?,
            )),
            None => None,
        };
        Ok(Pump {
            detections,
            detected: std::cell::Cell::new((0, 0)),
            firehose: Firehose::open(data.clone(), region)?,
            logs: LogStore::open(data.clone(), region, owner)?,
            buckets: Buckets::open(data.clone(), configured, owner, region)?,
            alarms: Alarms::open(data, region)?,
            metrics: Metrics::open(data)?,
            topics,
            done: std::cell::RefCell::new(Vec::new()),
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
        if let Err(e) = self.evaluate_alarms() {
            problems.push(e);
        }
        if let Err(e) = self.detect(now_ms, flush) {
            problems.push(e);
        }
        problems.extend(self.post_notifications(now_ms).await);
        problems
    }

    /// What was done since the last call, one line each.
    pub fn done(&self) -> Vec<String> {
        std::mem::take(&mut self.done.borrow_mut())
    }

    /// The subscribers of the `[[topics]]` topic `arn` (none for a topic not configured).
    fn subscribers(&self, arn: &str) -> Vec<String> {
        self.topics
            .iter()
            .filter(|t| t.arn == arn)
            .flat_map(|t| t.subscribers.clone())
            .collect()
    }

    /// Every alarm up to the metric time, its notifications queued.
    fn evaluate_alarms(&self) -> Result<(), PumpError> {
        let Some(now) = self.alarms.metric_time()? else {
            return Ok(());
        };
        for t in self
            .alarms
            .evaluate(&self.metrics, now, &|arn| self.subscribers(arn))?
        {
            self.done.borrow_mut().push(format!(
                "alarm {} ({}): {} -> {} at {}",
                t.alarm.config.alarm_name,
                t.account,
                t.old.as_str(),
                t.new.as_str(),
                vpcflow_store::time::aws_xml_time(t.at_ms)
            ));
        }
        Ok(())
    }

    /// The detections over the log groups' records, when new records arrived and at most every
    /// [`DETECT_EVERY_MS`] (they read every record: the baselines span the whole history); each
    /// new finding is logged and its notifications queued.
    fn detect(&self, now_ms: u64, flush: bool) -> Result<(), PumpError> {
        let Some((config, findings)) = &self.detections else {
            return Ok(());
        };
        let fail = |e: &dyn std::fmt::Display| PumpError::Delivery(format!("detections: {e}"));
        let newest = findings.newest_segment().map_err(|e| fail(&e))?;
        let (seen, at) = self.detected.get();
        if newest == seen || (!flush && at != 0 && now_ms.saturating_sub(at) < DETECT_EVERY_MS) {
            return Ok(());
        }
        let (new, _) = findings
            .detect(now_ms, &config.actions, &|arn| self.subscribers(arn))
            .map_err(|e| fail(&e))?;
        self.detected.set((newest, now_ms));
        for f in new {
            self.done.borrow_mut().push(format!(
                "finding {}: {}",
                f.kind.finding_type(),
                f.summary
            ));
        }
        Ok(())
    }

    /// Due alarm notifications to their subscribers (SNS's HTTP(S) delivery: a POST with its
    /// `x-amz-sns-*` headers); one that fails is tried again after a backoff.
    async fn post_notifications(&self, now_ms: u64) -> Vec<PumpError> {
        let due = match self.alarms.due_notifications(now_ms) {
            Ok(d) => d,
            Err(e) => return vec![e.into()],
        };
        let mut problems = Vec::new();
        for n in due {
            let sent = self
                .http
                .post(&n.url)
                .header("Content-Type", "text/plain; charset=UTF-8")
                .header("x-amz-sns-message-type", "Notification")
                .header("x-amz-sns-message-id", n.message_id())
                .header("x-amz-sns-topic-arn", &n.topic)
                .body(n.body.clone())
                .send()
                .await;
            let failure = match sent {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("answered {}", r.status())),
                Err(err) => Some(crate::deliver::cause(&err)),
            };
            let recorded = match &failure {
                None => self.alarms.notified(&n),
                Some(_) => self.alarms.notify_failed(&n, now_ms),
            };
            if let Err(e) = recorded {
                problems.push(e.into());
            }
            match failure {
                None => self.done.borrow_mut().push(format!(
                    "alarm notification {} to {} ({}) delivered",
                    n.message_id(),
                    n.url,
                    n.topic
                )),
                Some(why) => problems.push(PumpError::Delivery(format!(
                    "alarm notification to {} ({}), try {}: {why}",
                    n.url,
                    n.topic,
                    n.attempts + 1
                ))),
            }
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
                    Err(FirehoseError::Refused {
                        code: FirehoseErrorCode::ResourceNotFound,
                        ..
                    }) => break,
                    // Anything else is tried again next round, the filter not moved on.
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
/// [`FORWARD_RECORD_BYTES`] of messages, each CloudWatch Logs' subscription message, gzipped; a
/// chunk whose record would still be over Firehose's record limit is split in two.
pub fn forward_records(f: &Forward) -> Vec<Vec<u8>> {
    forward_records_within(f, MAX_RECORD_BYTES)
}

/// [`forward_records`] with records of at most `limit` bytes (where a single event allows).
fn forward_records_within(f: &Forward, limit: usize) -> Vec<Vec<u8>> {
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
        forward_chunk(f, (start, end), limit, &mut out);
        start = end;
    }
    out
}

/// The record of `f.events[start..end]` (one log stream's), or of its halves when it is over
/// the record limit. A single event over it still goes (and is refused by the stream, which
/// the pump reports).
fn forward_chunk(f: &Forward, (start, end): (usize, usize), limit: usize, out: &mut Vec<Vec<u8>>) {
    let events: Vec<serde_json::Value> = f.events[start..end]
        .iter()
        .map(|(id, e)| serde_json::json!({ "id": id, "timestamp": e.timestamp, "message": e.message }))
        .collect();
    let message = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": f.owner,
        "logGroup": f.filter.log_group_name,
        "logStream": f.events[start].1.stream,
        "subscriptionFilters": [f.filter.filter_name],
        "logEvents": events,
    });
    let record = gzip(message.to_string().as_bytes());
    if record.len() > limit && end - start > 1 {
        let mid = start + (end - start) / 2;
        forward_chunk(f, (start, mid), limit, out);
        forward_chunk(f, (mid, end), limit, out);
    } else {
        out.push(record);
    }
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
    log: Box<dyn Fn(&str) + Send>,
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
                for line in pump.done() {
                    log(&line);
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

#[cfg(test)]
mod tests {
    use vpcflow_store::logs::SubscriptionFilter;
    use vpcflow_store::segment::Event;

    use super::*;

    fn forward(messages: &[(&str, String)]) -> Forward {
        Forward {
            filter: SubscriptionFilter {
                filter_name: "f".into(),
                log_group_name: "/g".into(),
                filter_pattern: String::new(),
                destination_arn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/s".into(),
                role_arn: None,
                distribution: "ByLogStream".into(),
                apply_on_transformed_logs: false,
                creation_time: 0,
            },
            owner: "123456789012".into(),
            events: messages
                .iter()
                .enumerate()
                .map(|(i, (stream, m))| {
                    let e = Event {
                        timestamp: i as u64,
                        ingestion_time: i as u64,
                        stream: (*stream).into(),
                        message: m.clone(),
                    };
                    (format!("{i:036}"), e)
                })
                .collect(),
            upto: 1,
        }
    }

    fn decoded(record: &[u8]) -> serde_json::Value {
        use std::io::Read as _;
        let mut text = String::new();
        flate2::read::GzDecoder::new(record)
            .read_to_string(&mut text)
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn one_record_per_log_stream_in_order() {
        let f = forward(&[("a", "1".into()), ("a", "2".into()), ("b", "3".into())]);
        let records = forward_records(&f);
        assert_eq!(records.len(), 2);
        let first = decoded(&records[0]);
        assert_eq!(first["messageType"], "DATA_MESSAGE");
        assert_eq!(first["logStream"], "a");
        assert_eq!(first["logEvents"].as_array().unwrap().len(), 2);
        assert_eq!(decoded(&records[1])["logEvents"][0]["message"], "3");
    }

    #[test]
    fn a_record_over_the_limit_is_split_and_every_event_goes_once() {
        // Messages that do not compress: a chunk of them is over a 4 KiB limit, so it is halved
        // until each record is under it.
        let mut x: u64 = 7;
        let mut noisy = || -> String {
            (0..1500)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'!' + (x % 90) as u8)
                })
                .collect()
        };
        let events: Vec<(&str, String)> = (0..9).map(|_| ("a", noisy())).collect();
        let records = forward_records_within(&forward(&events), 4096);
        assert!(records.len() > 1, "{}", records.len());
        assert!(records.iter().all(|r| r.len() <= 4096));
        let messages: Vec<String> = records
            .iter()
            .flat_map(|r| {
                decoded(r)["logEvents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["message"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        let want: Vec<String> = events.iter().map(|(_, m)| m.clone()).collect();
        assert_eq!(messages, want, "every event once, in order");
    }
}
