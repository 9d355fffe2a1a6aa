//! Fan-out: records of the flow engines → each flow log's subset → finished deliveries.
//!
//! Owns the [`Plan`] (which ENIs each flow log covers, which engine interval feeds it), the
//! [`Router`] that holds records until a commit window closes, and the [`Encoder`] that turns a
//! window into spool entries: S3 objects (one per flow log and 5-minute bucket of `end`), log
//! segments (one per flow log and log group), and Firehose requests (buffered across windows
//! by the stream's hints). Everything is decided from record time, so a replayed source makes
//! byte-identical entries with identical names.
//!
//! A window `T` holds the records of intervals that close at or before `T` (s). Each sink
//! (`fl-…` for S3 and log groups, `firehose:NAME` for a stream) has a checkpoint: windows at or
//! before it are already in the spool, and are dropped when a source is replayed after a crash.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use vpcflow_net::Network;
use vpcflow_net::record::{RawRecord, RecordBuilder};
use vpcflow_record::arrow_array::builder::{Int64Builder, StringBuilder};
use vpcflow_record::{Action, Count, FlowRecord, LogFormat, LogStatus, arrow, text};

use crate::api::{Destination, FileFormat, FlowLog, TrafficType, stable_hash};
use crate::config::{DeliveryConfig, DeliveryStreamConfig, StreamDestination};
use crate::layout::{self, ObjectId};
use crate::spool::{Entry, EntryHeader, Target};
use crate::state::SegmentStream;

/// One flow log, resolved against the network.
#[derive(Clone)]
pub struct Subscription {
    /// The flow log.
    pub flow_log: FlowLog,
    /// Its format.
    pub format: LogFormat,
    /// Covered ENIs, by index.
    pub members: Vec<bool>,
    /// Index of the engine (aggregation interval) that feeds it.
    pub engine: usize,
    /// Record time (s, an interval boundary) from which it delivers: 0 for a flow log that
    /// existed when its source started, the next interval for one created while it runs.
    pub from: u64,
    /// Deleted while its source runs: records that come after take no part.
    pub ended: bool,
}

impl Subscription {
    /// `flow_log` fed by engine `engine`, covering the ENIs its resource has in `net` now (a
    /// VPC or subnet flow log covers ENIs added to the topology since it was made; one whose
    /// resource has left the topology covers nothing).
    fn resolve(net: &Network, flow_log: FlowLog, engine: usize, from: u64) -> Subscription {
        let mut members = vec![false; net.enis.len()];
        if let Ok((_, enis)) =
            crate::api::resource_enis(net, flow_log.resource_type, &flow_log.resource_id)
        {
            for e in enis {
                members[e] = true;
            }
        }
        Subscription {
            format: flow_log.format(),
            flow_log,
            members,
            engine,
            from,
            ended: false,
        }
    }
}

/// A plan changed while its source runs ([`Plan::revise`]).
pub struct Revision {
    /// The new plan: the old one's subscriptions and engines at the same indexes (deleted ones
    /// ended), the new ones after them.
    pub plan: Arc<Plan>,
    /// Indexes of the subscriptions created.
    pub created: Vec<usize>,
    /// Indexes of the subscriptions ended.
    pub deleted: Vec<usize>,
    /// Indexes of the engines added (aggregation intervals not in use before).
    pub engines: Vec<usize>,
}

/// What delivers where: the flow logs, the engines they need, the streams.
#[derive(Clone)]
pub struct Plan {
    /// Flow logs.
    pub subs: Vec<Subscription>,
    /// Aggregation intervals in use (s), one engine each.
    pub intervals: Vec<u64>,
    /// Delivery streams by name.
    pub streams: BTreeMap<String, DeliveryStreamConfig>,
    /// Configured retention by log group.
    pub retention: BTreeMap<String, Option<u32>>,
    /// The network.
    pub net: Arc<Network>,
}

impl Plan {
    /// Resolves flow logs against the network (see [`Subscription`]), one engine per
    /// aggregation interval in use.
    pub fn new(net: Arc<Network>, flow_logs: Vec<FlowLog>, config: &DeliveryConfig) -> Plan {
        let mut intervals: Vec<u64> = flow_logs
            .iter()
            .map(|f| u64::from(f.max_aggregation_interval))
            .collect();
        intervals.sort_unstable();
        intervals.dedup();
        let subs = flow_logs
            .into_iter()
            .map(|f| {
                let engine = intervals
                    .iter()
                    .position(|&i| i == u64::from(f.max_aggregation_interval))
                    .expect("every interval was collected");
                Subscription::resolve(&net, f, engine, 0)
            })
            .collect();
        Plan {
            subs,
            intervals,
            streams: config
                .delivery_streams
                .iter()
                .map(|s| (s.name.clone(), s.clone()))
                .collect(),
            retention: config
                .log_groups
                .iter()
                .map(|g| (g.name.clone(), g.retention_in_days))
                .collect(),
            net,
        }
    }

    /// The plan for the flow logs that exist now, `flow_logs`, while the source runs at record
    /// time `at` (s); `None` when none was created or deleted. A flow log created delivers from
    /// `from(flow_log)` when given (a restarted service keeps where it began), else from the
    /// next boundary of its aggregation interval after `at`. Indexes stay as they were, since
    /// records and open objects in the pipeline name subscriptions and engines by index.
    pub fn revise(
        &self,
        flow_logs: &[FlowLog],
        at: u64,
        from: &dyn Fn(&FlowLog) -> Option<u64>,
    ) -> Option<Revision> {
        let mut plan = self.clone();
        let (mut created, mut deleted, mut engines) = (Vec::new(), Vec::new(), Vec::new());
        for (i, sub) in plan.subs.iter_mut().enumerate() {
            let id = &sub.flow_log.flow_log_id;
            if !sub.ended && !flow_logs.iter().any(|f| &f.flow_log_id == id) {
                sub.ended = true;
                deleted.push(i);
            }
        }
        for f in flow_logs {
            if self
                .subs
                .iter()
                .any(|s| s.flow_log.flow_log_id == f.flow_log_id)
            {
                continue;
            }
            let interval = u64::from(f.max_aggregation_interval);
            let engine = match plan.intervals.iter().position(|&i| i == interval) {
                Some(e) => e,
                None => {
                    plan.intervals.push(interval);
                    engines.push(plan.intervals.len() - 1);
                    plan.intervals.len() - 1
                }
            };
            let from = from(f).unwrap_or_else(|| at.div_ceil(interval) * interval);
            created.push(plan.subs.len());
            plan.subs
                .push(Subscription::resolve(&plan.net, f.clone(), engine, from));
        }
        (!created.is_empty() || !deleted.is_empty()).then(|| Revision {
            plan: Arc::new(plan),
            created,
            deleted,
            engines,
        })
    }

    /// ENIs an engine must report on (NODATA for silence): those its flow logs cover.
    pub fn scope(&self, engine: usize) -> Vec<usize> {
        (0..self.net.enis.len())
            .filter(|&e| {
                self.subs
                    .iter()
                    .any(|s| !s.ended && s.engine == engine && s.members[e])
            })
            .collect()
    }
}

/// What the producer sends the encoder.
pub enum Msg {
    /// Records of one engine not built yet (about 100 bytes each): the encoder builds them, so
    /// that the thread running the engines only aggregates.
    Raw {
        /// Engine index.
        engine: usize,
        /// The records.
        records: Vec<RawRecord>,
    },
    /// The flow logs changed ([`Plan::revise`]): records after this follow the new plan.
    Plan(Arc<Plan>),
    /// Every engine has emitted its records before `until` (s, a 5-minute mark); `last` ends
    /// the run (everything is flushed).
    Commit {
        /// The mark.
        until: u64,
        /// The end of the run.
        last: bool,
    },
}

/// The producer's side: turns engine progress into commit marks.
#[derive(Default)]
pub struct Router {
    last_commit: u64,
}

/// Commit marks are 5-minute marks, the S3 file period.
const COMMIT_SECS: u64 = layout::FILE_BUCKET_SECS;

impl Router {
    /// Every engine has emitted its records before `until_us`: the message that commits the
    /// 5-minute mark this passes, if any.
    pub fn closed(&mut self, until_us: u64) -> Option<Msg> {
        let until = until_us / 1_000_000;
        let mark = until - until % COMMIT_SECS;
        if mark <= self.last_commit {
            return None;
        }
        self.last_commit = mark;
        Some(Msg::Commit {
            until: mark,
            last: false,
        })
    }

    /// The end of the run at `end_us`: the last message.
    pub fn finish(&mut self, end_us: u64) -> Msg {
        let end = end_us.div_ceil(1_000_000).max(self.last_commit + 1);
        self.last_commit = end;
        Msg::Commit {
            until: end,
            last: true,
        }
    }
}

/// Turns records into spool entries as they come: S3 objects and log segments accumulate per
/// flow log and 5-minute bucket of `end` (compressed as they grow) and are finished when a
/// commit mark passes their bucket; Firehose lines accumulate per stream and are flushed by
/// the stream's buffering hints at commit marks.
pub struct Encoder {
    plan: Arc<Plan>,
    builder: RecordBuilder,
    run: Option<String>,
    checkpoints: BTreeMap<String, u64>,
    /// Per sub: the checkpoint of its sink (S3 and log groups: buckets before it are done).
    sub_done: Vec<u64>,
    accs: BTreeMap<(u64, usize), Acc>,
    buffers: BTreeMap<String, StreamBuffer>,
    last_commit: u64,
    /// Spool fill and bound: over it, records become SKIPDATA.
    pub spool_full: Box<dyn Fn() -> bool + Send>,
    full: bool,
    /// Records replaced by SKIPDATA because the spool was full.
    pub overflowed: u64,
    /// Records dropped because a checkpoint covers them (a resumed run delivered them before).
    pub replayed: u64,
    /// (flow log, ENI, interval start) of the SKIPDATA records made so far.
    skipped: rustc_hash::FxHashSet<(usize, usize, u64)>,
    line: String,
}

/// One object or segment being built.
struct Acc {
    records: u64,
    body: AccBody,
}

enum AccBody {
    Text(Box<TextAcc>),
    Parquet(Box<ParquetAcc>),
    Log(Box<LogAcc>),
}

/// A text object: lines are formatted here and compressed on a thread of the object's own, so
/// that gzip (the larger half of the work) runs beside formatting instead of after it.
struct TextAcc {
    buf: String,
    tx: std::sync::mpsc::SyncSender<String>,
    gzip: std::thread::JoinHandle<Vec<u8>>,
}

/// Bytes of text handed to the compressor at a time.
const TEXT_BLOCK: usize = 256 * 1024;

impl TextAcc {
    fn new(header: String) -> TextAcc {
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
        TextAcc {
            buf: header,
            tx,
            gzip,
        }
    }

    fn finish(self) -> Vec<u8> {
        let TextAcc { buf, tx, gzip } = self;
        // A send fails only if the compressor died; join then reports its panic.
        let _ = tx.send(buf);
        drop(tx);
        gzip.join().expect("the gzip thread does not panic")
    }
}

struct ParquetAcc {
    writer: vpcflow_record::parquet::arrow::ArrowWriter<Vec<u8>>,
    batch: arrow::BatchBuilder,
}

struct LogAcc {
    ts: Int64Builder,
    stream: StringBuilder,
    message: StringBuilder,
    fields: arrow::BatchBuilder,
    streams: BTreeMap<String, SegmentStream>,
}

#[derive(Default)]
struct StreamBuffer {
    lines: Vec<u8>,
    records: u64,
    first_window: Option<u64>,
    flow_logs: Vec<String>,
    /// The account of its first flow log: the stream's owner.
    account: Option<String>,
}

/// What one commit gave.
pub struct Encoded {
    /// Entries to spool.
    pub entries: Vec<Entry>,
    /// New checkpoints: sink → commit mark.
    pub done: BTreeMap<String, u64>,
    /// Records per flow log in the entries.
    pub records: BTreeMap<String, u64>,
}

/// Where a subscription's S3 or log-group sink is done: buckets before its checkpoint are
/// delivered already. Streams keep their own checkpoint (`firehose:NAME`).
fn sink_done(checkpoints: &BTreeMap<String, u64>, sub: &Subscription) -> u64 {
    match &sub.flow_log.destination {
        Destination::Firehose { .. } => 0,
        _ => checkpoints
            .get(&sub.flow_log.flow_log_id)
            .copied()
            .unwrap_or(0),
    }
}

/// Most bytes of records in one Firehose request.
const FIREHOSE_REQUEST_BYTES: usize = 4 << 20;
/// Rows per Parquet batch handed to the writer.
const PARQUET_BATCH: usize = 64 * 1024;

impl Encoder {
    /// An encoder; `checkpoints` are the sinks' (what they cover is dropped when replayed).
    pub fn new(
        plan: Arc<Plan>,
        run: Option<String>,
        checkpoints: BTreeMap<String, u64>,
    ) -> Encoder {
        let sub_done = plan
            .subs
            .iter()
            .map(|s| sink_done(&checkpoints, s))
            .collect();
        Encoder {
            builder: RecordBuilder::new(Arc::clone(&plan.net)),
            plan,
            run,
            checkpoints,
            sub_done,
            accs: BTreeMap::new(),
            buffers: BTreeMap::new(),
            last_commit: 0,
            spool_full: Box::new(|| false),
            full: false,
            overflowed: 0,
            replayed: 0,
            skipped: rustc_hash::FxHashSet::default(),
            line: String::with_capacity(256),
        }
    }

    /// Takes a message; a commit returns its entries.
    pub fn handle(&mut self, msg: Msg) -> Option<Encoded> {
        match msg {
            Msg::Raw { engine, records } => {
                self.full = (self.spool_full)();
                for raw in &records {
                    let mut rec = self.builder.build(raw);
                    self.add(engine, raw.eni(), &mut rec);
                }
                None
            }
            Msg::Commit { until, last } => Some(self.commit(until, last)),
            Msg::Plan(plan) => {
                self.revise(plan);
                None
            }
        }
    }

    /// Follows a revised plan: the subscriptions it adds start from their sinks' checkpoints.
    fn revise(&mut self, plan: Arc<Plan>) {
        for sub in &plan.subs[self.sub_done.len()..] {
            self.sub_done.push(sink_done(&self.checkpoints, sub));
        }
        self.plan = plan;
    }

    /// Routes one record of engine `engine` for ENI `eni` to its flow logs' accumulators.
    fn add(&mut self, engine: usize, eni: usize, rec: &mut FlowRecord) {
        let plan = Arc::clone(&self.plan);
        let iv = plan.intervals[engine];
        let start = rec.start.map_or(0, |c| c.0);
        for (i, sub) in plan.subs.iter().enumerate() {
            if sub.engine != engine
                || sub.ended
                || start < sub.from
                || !sub.members[eni]
                || !matches!(
                    (sub.flow_log.traffic_type, rec.action),
                    (TrafficType::All, _)
                        | (_, None)
                        | (TrafficType::Accept, Some(Action::Accept))
                        | (TrafficType::Reject, Some(Action::Reject))
                )
            {
                continue;
            }
            rec.version = Some(sub.format.version());
            self.route(i, sub, eni, rec, iv);
        }
    }

    fn route(&mut self, i: usize, sub: &Subscription, eni: usize, rec: &FlowRecord, iv: u64) {
        if let Destination::Firehose { stream } = &sub.flow_log.destination {
            // A record belongs to the window of the next commit; a stream whose checkpoint
            // covers that window has it already.
            if self.stream_covered(stream) {
                self.replayed += 1;
                return;
            }
            let skip;
            let rec = if self.full {
                match self.overflow(i, eni, rec, iv) {
                    Some(s) => {
                        skip = s;
                        &skip
                    }
                    None => return,
                }
            } else {
                rec
            };
            let buf = self.buffers.entry(stream.clone()).or_default();
            self.line.clear();
            text::encode_into(&sub.format, rec, &mut self.line);
            self.line.push('\n');
            buf.lines.extend_from_slice(self.line.as_bytes());
            buf.records += 1;
            if buf.first_window.is_none() {
                // The buffering interval counts in record time from the first record held.
                buf.first_window = Some(rec.end.map_or(self.last_commit, |c| c.0));
            }
            buf.account
                .get_or_insert_with(|| sub.flow_log.account_id.clone());
            if !buf.flow_logs.contains(&sub.flow_log.flow_log_id) {
                buf.flow_logs.push(sub.flow_log.flow_log_id.clone());
            }
            return;
        }
        let end = rec.end.map_or(0, |c| c.0);
        let bucket = layout::file_bucket(end);
        if bucket < self.sub_done[i] {
            self.replayed += 1;
            return;
        }
        if self.full {
            // The SKIPDATA record is filed by its own `end` (the interval's end).
            if let Some(skip) = self.overflow(i, eni, rec, iv) {
                let bucket = layout::file_bucket(skip.end.map_or(0, |c| c.0));
                self.accs
                    .entry((bucket, i))
                    .or_insert_with(|| Acc::new(sub))
                    .append(&sub.format, &skip, &mut self.line);
            }
            return;
        }
        self.accs
            .entry((bucket, i))
            .or_insert_with(|| Acc::new(sub))
            .append(&sub.format, rec, &mut self.line);
    }

    /// True when the stream's checkpoint covers the window records now arriving belong to (the
    /// next commit's): a replayed run delivered them already.
    fn stream_covered(&self, stream: &str) -> bool {
        self.checkpoints
            .get(&format!("firehose:{stream}"))
            .is_some_and(|&d| self.last_commit < d)
    }

    /// A record the full spool has no room for: counted, and turned into the SKIPDATA record of
    /// its flow log, ENI and interval the first time that interval overflows (`None` after).
    fn overflow(&mut self, i: usize, eni: usize, rec: &FlowRecord, iv: u64) -> Option<FlowRecord> {
        self.overflowed += 1;
        let start = rec.start.map_or(0, |c| c.0);
        let start = start - start % iv;
        self.skipped.insert((i, eni, start)).then(|| FlowRecord {
            version: rec.version,
            ..skipdata(rec, start, iv)
        })
    }

    /// Finishes what the mark `until` completes: objects and segments of buckets before it (all
    /// of them at the end), and Firehose buffers whose hints are met (all at the end).
    pub fn commit(&mut self, until: u64, last: bool) -> Encoded {
        let plan = Arc::clone(&self.plan);
        let mut out = Encoded {
            entries: Vec::new(),
            done: BTreeMap::new(),
            records: BTreeMap::new(),
        };
        let ready: Vec<(u64, usize)> = self
            .accs
            .keys()
            .filter(|(b, _)| last || *b < until)
            .copied()
            .collect();
        for key in ready {
            let acc = self.accs.remove(&key).expect("listed above");
            let (bucket, i) = key;
            let sub = &plan.subs[i];
            let f = &sub.flow_log;
            *out.records.entry(f.flow_log_id.clone()).or_default() += acc.records;
            let records = acc.records;
            let header = |target| EntryHeader {
                target,
                run: self.run.clone(),
                sink: f.flow_log_id.clone(),
                window: until,
                flow_logs: vec![f.flow_log_id.clone()],
                records,
            };
            match (&f.destination, acc.body) {
                (
                    Destination::S3 {
                        bucket: b,
                        prefix,
                        options,
                    },
                    body,
                ) => {
                    let hash =
                        stable_hash(&[f.flow_log_id.as_bytes(), &bucket.to_le_bytes()]) as u32;
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
                        name: format!("{bucket:012}-{}-s3", f.flow_log_id),
                        header: header(Target::Object {
                            bucket: b.clone(),
                            key,
                        }),
                        payload: body.finish(),
                    });
                }
                (Destination::LogGroup { name }, AccBody::Log(log)) => {
                    let segment = format!("{bucket:012}-{}", f.flow_log_id);
                    let (payload, streams) = log.finish(&sub.format, until * 1000);
                    out.entries.push(Entry {
                        name: format!("{bucket:012}-{}-logs", f.flow_log_id),
                        header: header(Target::LogSegment {
                            group: name.clone(),
                            segment,
                            streams,
                            retention_days: plan.retention.get(name).copied().flatten(),
                            account: Some(f.account_id.clone()),
                        }),
                        payload,
                    });
                }
                _ => unreachable!("accumulators match their destination"),
            }
        }
        for sub in &plan.subs {
            if !matches!(sub.flow_log.destination, Destination::Firehose { .. }) {
                out.done.insert(sub.flow_log.flow_log_id.clone(), until);
            }
        }
        for (name, cfg) in &plan.streams {
            if self.stream_covered(name) {
                continue;
            }
            let sink = format!("firehose:{name}");
            let buf = self.buffers.entry(name.clone()).or_default();
            let due = last
                || buf.lines.len() >= cfg.buffering_size_mb as usize * (1 << 20)
                || buf.first_window.is_some_and(|t| {
                    until.saturating_sub(t) >= u64::from(cfg.buffering_interval_seconds)
                });
            if !due {
                continue;
            }
            let buf = std::mem::take(buf);
            if buf.records > 0 {
                // Records of a stream are counted once, under its first flow log.
                if let Some(f) = buf.flow_logs.first() {
                    *out.records.entry(f.clone()).or_default() += buf.records;
                }
                out.entries.extend(firehose_entries(
                    name,
                    cfg,
                    &buf,
                    until,
                    (self.run.as_ref(), &sink),
                ));
            }
            out.done.insert(sink, until);
        }
        self.last_commit = until;
        out
    }
}

impl Acc {
    fn new(sub: &Subscription) -> Acc {
        let body = match &sub.flow_log.destination {
            Destination::S3 { options, .. } => match options.file_format {
                FileFormat::PlainText => {
                    let mut line = sub.format.header();
                    line.push('\n');
                    AccBody::Text(Box::new(TextAcc::new(line)))
                }
                FileFormat::Parquet => AccBody::Parquet(Box::new(ParquetAcc {
                    writer: vpcflow_record::parquet::writer(Vec::new(), &sub.format)
                        .expect("flow-log schemas are valid"),
                    batch: arrow::BatchBuilder::new(&sub.format, 1024),
                })),
            },
            _ => AccBody::Log(Box::new(LogAcc {
                ts: Int64Builder::new(),
                stream: StringBuilder::new(),
                message: StringBuilder::new(),
                fields: arrow::BatchBuilder::new(&sub.format, 1024),
                streams: BTreeMap::new(),
            })),
        };
        Acc { records: 0, body }
    }

    fn append(&mut self, format: &LogFormat, rec: &FlowRecord, line: &mut String) {
        self.records += 1;
        match &mut self.body {
            AccBody::Text(t) => {
                text::encode_into(format, rec, &mut t.buf);
                t.buf.push('\n');
                if t.buf.len() >= TEXT_BLOCK {
                    let block =
                        std::mem::replace(&mut t.buf, String::with_capacity(TEXT_BLOCK + 1024));
                    let _ = t.tx.send(block);
                }
            }
            AccBody::Parquet(p) => {
                p.batch.append(rec);
                if p.batch.len() >= PARQUET_BATCH {
                    p.writer
                        .write(&p.batch.finish())
                        .expect("writing to memory");
                }
            }
            AccBody::Log(l) => {
                let stream =
                    layout::log_stream_name(rec.interface_id.as_deref().unwrap_or("unknown"));
                let t = rec.start.map_or(0, |c| c.0) * 1000;
                let s = l.streams.entry(stream.clone()).or_insert(SegmentStream {
                    stream: stream.clone(),
                    events: 0,
                    first_ms: t,
                    last_ms: t,
                });
                s.events += 1;
                s.first_ms = s.first_ms.min(t);
                s.last_ms = s.last_ms.max(t);
                l.ts.append_value(t as i64);
                l.stream.append_value(&stream);
                line.clear();
                text::encode_into(format, rec, line);
                l.message.append_value(line.as_str());
                l.fields.append(rec);
            }
        }
    }
}

impl AccBody {
    fn finish(self) -> Vec<u8> {
        match self {
            AccBody::Text(t) => t.finish(),
            AccBody::Parquet(mut p) => {
                if !p.batch.is_empty() {
                    p.writer
                        .write(&p.batch.finish())
                        .expect("writing to memory");
                }
                p.writer.into_inner().expect("writing to memory")
            }
            AccBody::Log(_) => unreachable!("log segments finish with their format"),
        }
    }
}

impl LogAcc {
    /// The segment: one event per record (timestamp = `start` in ms, message = the record
    /// line), as Parquet (snappy) with the format's columns alongside.
    fn finish(mut self, format: &LogFormat, ingestion_ms: u64) -> (Vec<u8>, Vec<SegmentStream>) {
        let events = vpcflow_store::segment::Events {
            timestamps: self.ts.finish(),
            ingestion_ms,
            streams: self.stream.finish(),
            messages: self.message.finish(),
        };
        (
            vpcflow_store::segment::encode(format, events, &self.fields.finish()),
            self.streams.into_values().collect(),
        )
    }
}

/// The SKIPDATA record of an ENI and interval, from one of its records.
fn skipdata(r: &FlowRecord, start: u64, iv: u64) -> FlowRecord {
    FlowRecord {
        account_id: r.account_id.clone(),
        interface_id: r.interface_id.clone(),
        vpc_id: r.vpc_id.clone(),
        subnet_id: r.subnet_id.clone(),
        instance_id: r.instance_id.clone(),
        region: r.region.clone(),
        az_id: r.az_id.clone(),
        interface_type: r.interface_type.clone(),
        start: Some(Count(start)),
        end: Some(Count(start + iv)),
        log_status: Some(LogStatus::SkipData),
        ..FlowRecord::default()
    }
}

/// A request id in GUID form, from the stream, window and part (stable across restarts).
fn request_id(stream: &str, window: u64, part: usize) -> String {
    let a = stable_hash(&[
        stream.as_bytes(),
        &window.to_le_bytes(),
        &part.to_le_bytes(),
    ]);
    let b = stable_hash(&[&a.to_le_bytes(), b"request-id"]);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

fn firehose_entries(
    name: &str,
    cfg: &DeliveryStreamConfig,
    buf: &StreamBuffer,
    window: u64,
    (run, sink): (Option<&String>, &str),
) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut start = 0;
    let lines = &buf.lines;
    let mut part = 0;
    while start < lines.len() {
        // Cut at a line end at most FIREHOSE_REQUEST_BYTES on.
        let mut end = (start + FIREHOSE_REQUEST_BYTES).min(lines.len());
        if end < lines.len() {
            end = start
                + lines[start..end]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(end - start, |p| p + 1);
        }
        let chunk = &lines[start..end];
        let records = chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        let id = request_id(name, window, part);
        let payload = match &cfg.destination {
            StreamDestination::HttpEndpoint { .. } => {
                // Firehose's HTTP-endpoint request body: one Firehose record per flow record
                // (its line with the newline), base64 as the protocol wants.
                let b64 = base64::engine::general_purpose::STANDARD;
                let mut body = Vec::with_capacity(chunk.len() * 4 / 3 + 128);
                write!(
                    body,
                    "{{\"requestId\":\"{id}\",\"timestamp\":{},\"records\":[",
                    window * 1000
                )
                .expect("memory");
                let mut first = true;
                for line in chunk.split_inclusive(|&b| b == b'\n') {
                    if !first {
                        body.push(b',');
                    }
                    first = false;
                    body.extend_from_slice(b"{\"data\":\"");
                    body.extend_from_slice(b64.encode(line).as_bytes());
                    body.extend_from_slice(b"\"}");
                }
                body.extend_from_slice(b"]}");
                body
            }
            _ => chunk.to_vec(),
        };
        out.push(Entry {
            name: format!("{window:012}-firehose-{name}-{part:04}"),
            header: EntryHeader {
                target: Target::Firehose {
                    stream: name.to_owned(),
                    request_id: id,
                    timestamp: window,
                    records,
                    account: buf.account.clone(),
                },
                run: run.cloned(),
                sink: sink.to_owned(),
                window,
                flow_logs: buf.flow_logs.clone(),
                records,
            },
            payload,
        });
        start = end;
        part += 1;
    }
    out
}
