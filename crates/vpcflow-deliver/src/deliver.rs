//! The delivery worker: takes published spool entries to their destinations, retrying with
//! backoff while a destination is down, and keeps `DeliverLogsStatus` true.
//!
//! Owns the destinations' clients (buckets through `object_store`, the data directory, the HTTP
//! client) and hands each entry to its target's component in [`crate::sinks`], which delivers
//! it; and the retry policy and `DeliverLogsStatus` bookkeeping around them. Every delivery is
//! idempotent (same key, same segment name, same request id), so an entry delivered
//! just before a crash and delivered again after it changes nothing. Time comes from a
//! [`Clock`] the caller passes in.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use object_store::ObjectStore;

use crate::config::{DeliveryConfig, StreamDestination};
use crate::sinks::{firehose, log_group, s3};
use crate::spool::{EntryHeader, ReadError, Spool, Target};
use crate::state::State;
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
    pub(crate) fn unknown(detail: String) -> DeliveryError {
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
    pub(crate) bucket: String,
    pub(crate) message: String,
}

/// The destinations a worker delivers to.
pub struct Destinations {
    buckets: BTreeMap<String, Arc<dyn ObjectStore>>,
    streams: BTreeMap<String, StreamDestination>,
    data: DataDir,
    http: reqwest::Client,
    region: String,
    account: String,
    /// The local buckets' service: events of the objects delivered into them.
    local: vpcflow_store::buckets::Buckets,
    /// Delivery streams made by CreateDeliveryStream: flow logs' requests to one of them are
    /// put into its buffer, which the pump delivers by its own hints.
    made_streams: vpcflow_store::firehose::Firehose,
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
            buckets.insert(b.name.clone(), s3::open_bucket(b, &data.s3())?);
        }
        let data_dir = data.clone();
        let local = vpcflow_store::buckets::Buckets::open(
            data.clone(),
            config
                .buckets
                .iter()
                .filter(|b| b.endpoint.is_none())
                .map(|b| b.name.clone())
                .collect(),
            account,
            region,
        )
        .map_err(|e| SetupError {
            bucket: String::new(),
            message: e.to_string(),
        })?;

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
            local,
            made_streams: vpcflow_store::firehose::Firehose::open(data_dir, region).map_err(
                |e| SetupError {
                    bucket: String::new(),
                    message: e.to_string(),
                },
            )?,
        })
    }

    /// Delivers one entry, by its target's component.
    pub async fn deliver(
        &self,
        header: &EntryHeader,
        payload: Vec<u8>,
        state: &State,
        now_ms: u64,
    ) -> Result<(), DeliveryError> {
        match &header.target {
            Target::Object(t) => {
                s3::deliver(&self.buckets, t, payload).await?;
                // An event for the bucket's webhooks, if it has any (a local bucket's only).
                self.local
                    .object_created(&t.bucket, &t.key, now_ms)
                    .or_else(|e| match e {
                        vpcflow_store::buckets::BucketError::Io { .. } => Ok(()),
                        other => Err(DeliveryError::unknown(format!(
                            "bucket {}: its notification: {other}",
                            t.bucket
                        ))),
                    })
            }
            Target::LogSegment(t) => {
                log_group::deliver(&self.data, state, t, &payload, now_ms, &self.account)
            }
            Target::Firehose(t) if !self.streams.contains_key(&t.stream) => {
                self.put_into_made_stream(t, &payload, now_ms)
            }
            Target::Firehose(t) => {
                let streams = firehose::Streams {
                    streams: &self.streams,
                    buckets: &self.buckets,
                    http: &self.http,
                    region: &self.region,
                    default_account: &self.account,
                };
                firehose::deliver(&streams, t, payload).await
            }
        }
    }
}

impl Destinations {
    /// A flow logs' request to a stream CreateDeliveryStream made: its records (a flow record's
    /// line each) put into the stream's buffer, as Firehose takes records from flow logs. A
    /// stream that is gone fails as an unconfigured one does.
    fn put_into_made_stream(
        &self,
        t: &firehose::RequestTarget,
        payload: &[u8],
        now_ms: u64,
    ) -> Result<(), DeliveryError> {
        let account = t.account.as_deref().unwrap_or(&self.account);
        let records: Vec<Vec<u8>> = payload
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        for chunk in records.chunks(vpcflow_store::firehose::MAX_BATCH_RECORDS) {
            self.made_streams
                .put(account, &t.stream, chunk, now_ms)
                .map_err(|e| {
                    DeliveryError::unknown(format!("delivery stream {}: {e}", t.stream))
                })?;
        }
        Ok(())
    }
}

/// Sets a damaged entry aside in the spool's quarantine; the flow logs its header names (when it
/// reads) say so in their status, and a source that can be replayed has its sink's checkpoint
/// rewound, so that its next run makes the entry again: nothing is lost.
fn set_aside(
    spool: &Spool,
    state: &State,
    name: &str,
    why: &std::io::Error,
    header: Option<&EntryHeader>,
) -> std::io::Result<()> {
    let to = spool.quarantine(name)?;
    if let Some(h) = header {
        let remade = match (&h.run, h.redo_from) {
            (Some(run), Some(from)) => state.rewind_checkpoint(run, &h.sink, from).is_ok(),
            _ => false,
        };
        let detail = format!(
            "{why}; set aside in {}, not delivered{}",
            to.display(),
            if remade {
                "; the next run of the same source makes it again"
            } else {
                ""
            }
        );
        let _ = state.set_status(&h.flow_logs, Some(("Unknown error", &detail)));
    }
    Ok(())
}

/// Sets aside every damaged entry of the spool in `spool_dir` (their checkpoints rewound), for a
/// run to call before it reads its checkpoints. A worker sets aside what it finds damaged as it
/// delivers, but a checkpoint it rewinds while a run goes on is advanced again by that run's
/// own commits (they began past the rewound point); damage found before the run starts is
/// replayed by the run itself. Returns how many were set aside.
pub fn set_aside_damaged(spool_dir: &Path, state: &State) -> std::io::Result<usize> {
    if !spool_dir.exists() {
        return Ok(0);
    }
    let spool = Spool::open(spool_dir)?;
    let mut n = 0;
    for name in spool.list()? {
        if let Err(ReadError::Io(e, header)) = spool.read(&name) {
            match e.kind() {
                std::io::ErrorKind::NotFound => {}
                std::io::ErrorKind::InvalidData => {
                    set_aside(&spool, state, &name, &e, header.as_deref())?;
                    n += 1;
                }
                _ => return Err(e),
            }
        }
    }
    Ok(n)
}

/// The chain of an error's causes, named by kind where a person can act on it.
pub(crate) fn cause(e: &(dyn std::error::Error + 'static)) -> String {
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

pub(crate) use vpcflow_store::dir::write_durably;

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Entries delivered.
    pub delivered: u64,
    /// Records in them.
    pub records: u64,
    /// Failed attempts.
    pub failures: u64,
    /// Damaged entries set aside in the spool's quarantine.
    pub quarantined: u64,
    /// Per flow log (an entry's first, as [`crate::spool::Spool::waiting`] counts it): records
    /// delivered, and records set aside damaged (failed for good; a torn header names no flow
    /// log, so its records are counted only in `quarantined`).
    pub by_flow_log: BTreeMap<String, FlowLogCounts>,
}

/// What became of one flow log's records in a worker's passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowLogCounts {
    /// Delivered.
    pub delivered: u64,
    /// Set aside damaged, or refused by the flow log's delivery role: never delivered.
    pub failed: u64,
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
    /// When set ([`Worker::with_drain`]): the producer's end flag and the drain timeout.
    drain: Option<(Arc<AtomicBool>, u64)>,
    /// When the worker first saw the producer's end (clock ms).
    done_seen: Option<u64>,
    /// Counters.
    pub stats: WorkerStats,
}

/// How often a delivery in flight looks at the drain timeout.
const WATCH_MS: u64 = 50;

/// A delivery in flight, watched for the drain timeout.
struct Drain<'a> {
    done: &'a AtomicBool,
    give_up_ms: u64,
    seen: &'a mut Option<u64>,
    clock: &'a dyn Clock,
}

impl Drain<'_> {
    /// True once the producer has ended `give_up_ms` ago.
    fn expired(&mut self) -> bool {
        if !self.done.load(Ordering::Acquire) {
            return false;
        }
        let now = self.clock.now_ms();
        now.saturating_sub(*self.seen.get_or_insert(now)) >= self.give_up_ms
    }

    /// The delivery's outcome, or a timeout once the drain timeout has passed.
    async fn race(
        mut self,
        delivery: impl Future<Output = Result<(), DeliveryError>>,
        destination: &str,
    ) -> Result<(), DeliveryError> {
        let mut delivery = std::pin::pin!(delivery);
        loop {
            let tick = std::time::Duration::from_millis(WATCH_MS);
            if let Ok(done) = tokio::time::timeout(tick, delivery.as_mut()).await {
                return done;
            }
            if self.expired() {
                return Err(DeliveryError::unknown(format!(
                    "{destination}: timed out: no answer before the drain timeout ({} s); the \
                     entry stays in the spool for the next run",
                    self.give_up_ms / 1000
                )));
            }
        }
    }
}

impl Worker {
    /// A log-group entry whose flow log's delivery role does not let flow logs write there
    /// (missing, not trusting `vpc-flow-logs.amazonaws.com`, or without the logs permissions):
    /// dropped, as AWS delivers nothing then, and the flow log FAILED with "Access error".
    /// `checked`: the verdicts of this pass, by the entry's flow logs (a pass reads each flow
    /// log's role once, however many of its entries wait).
    fn refused_by_role(
        &mut self,
        name: &str,
        header: &EntryHeader,
        checked: &mut BTreeMap<Vec<String>, Option<String>>,
    ) -> std::io::Result<bool> {
        if !matches!(header.target, Target::LogSegment(_)) {
            return Ok(false);
        }
        let why = checked
            .entry(header.flow_logs.clone())
            .or_insert_with(|| {
                // A check that could not be made lets the delivery go on; it meets the same
                // store.
                self.state
                    .delivery_refused(&header.flow_logs, &self.dest.region)
                    .unwrap_or_default()
            })
            .clone();
        let Some(why) = why else {
            return Ok(false);
        };
        self.spool.remove(name)?;
        if let Some(f) = header.flow_logs.first() {
            self.stats.by_flow_log.entry(f.clone()).or_default().failed += header.records;
        }
        let detail = format!("{why}; {} records not delivered", header.records);
        let _ = self
            .state
            .set_status(&header.flow_logs, Some((crate::iam::ACCESS_ERROR, &detail)));
        Ok(true)
    }

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
            drain: None,
            done_seen: None,
            stats: WorkerStats::default(),
        })
    }

    /// Deliveries in flight are abandoned once `done` (the producer's end) has been set for
    /// `give_up_ms` (the drain timeout): an endpoint that takes a request and never answers
    /// cannot hold a run past it. The entry stays in the spool, and its flow logs say it timed out.
    pub fn with_drain(mut self, done: Arc<AtomicBool>, give_up_ms: u64) -> Worker {
        self.drain = Some((done, give_up_ms));
        self
    }

    /// A damaged entry is not delivered, and does not stop the others: it goes to the spool's
    /// quarantine ([`set_aside`]).
    fn set_aside(
        &mut self,
        name: &str,
        why: &std::io::Error,
        header: Option<&EntryHeader>,
    ) -> std::io::Result<()> {
        set_aside(&self.spool, &self.state, name, why, header)?;
        self.stats.quarantined += 1;
        if let Some(f) = header.and_then(|h| h.flow_logs.first()) {
            self.stats.by_flow_log.entry(f.clone()).or_default().failed +=
                header.map_or(0, |h| h.records);
        }
        Ok(())
    }

    /// One pass over the spool, oldest first, each destination in order: an entry whose
    /// destination failed waits for its backoff, and the entries behind it for that destination
    /// wait with it. Returns (entries left, milliseconds until the next retry is due).
    pub fn pass(&mut self, clock: &dyn Clock) -> std::io::Result<(usize, Option<u64>)> {
        let names = self.spool.list()?;
        let mut blocked: Vec<String> = Vec::new();
        let mut left = 0;
        let mut roles_checked = BTreeMap::new();
        for name in names {
            let (header, payload) = match self.spool.read(&name) {
                Ok(x) => x,
                Err(ReadError::Io(e, header)) => match e.kind() {
                    // Removed meanwhile by another worker: nothing to do.
                    std::io::ErrorKind::NotFound => continue,
                    std::io::ErrorKind::InvalidData => {
                        self.set_aside(&name, &e, header.as_deref())?;
                        continue;
                    }
                    _ => return Err(e),
                },
            };
            let key = header.target.destination();
            let now = clock.now_ms();
            if blocked.contains(&key) || self.backoff.get(&key).is_some_and(|b| b.next_ms > now) {
                blocked.push(key);
                left += 1;
                continue;
            }
            if self.refused_by_role(&name, &header, &mut roles_checked)? {
                continue;
            }
            let delivery = self.dest.deliver(&header, payload, &self.state, now);
            let result = match &self.drain {
                None => self.runtime.block_on(delivery),
                Some((done, give_up_ms)) => {
                    let watch = Drain {
                        done,
                        give_up_ms: *give_up_ms,
                        seen: &mut self.done_seen,
                        clock,
                    };
                    self.runtime.block_on(watch.race(delivery, &key))
                }
            };
            match result {
                Ok(()) => {
                    self.spool.remove(&name)?;
                    self.backoff.remove(&key);
                    self.failing.remove(&key);
                    self.stats.delivered += 1;
                    self.stats.records += header.records;
                    if let Some(f) = header.flow_logs.first() {
                        self.stats
                            .by_flow_log
                            .entry(f.clone())
                            .or_default()
                            .delivered += header.records;
                    }
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
