//! Fan-out: records of the flow engines → each flow log's subset → finished deliveries.
//!
//! Owns the [`Plan`] (which ENIs each flow log covers, which engine interval feeds it), the
//! [`Router`] that turns engine progress into commit marks, and the [`Encoder`] that routes each
//! record to its flow logs' sinks ([`crate::sinks`]: S3 objects and log segments per flow log
//! and 5-minute bucket of `end`, Firehose requests buffered across windows by the stream's
//! hints) and collects what a commit mark completes. Everything is decided from record time,
//! so a replayed source makes byte-identical entries with identical names.
//!
//! A window `T` holds the records of intervals that close at or before `T` (s). Each sink
//! ([`SinkKey`]: a flow log's own, or a stream) has a checkpoint: windows at or before it are
//! already in the spool, and are dropped when a source is replayed after a crash.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use vpcflow_net::Network;
use vpcflow_net::record::{RawRecord, RecordBuilder};
use vpcflow_record::{Action, Count, FlowRecord, LogFormat, LogStatus};

use crate::api::{FlowLog, TrafficType};
use crate::config::{DeliveryConfig, DeliveryStreamConfig};
use crate::layout;
use crate::sinks::{self, Accumulator, CommitContext, SinkKey};
use crate::spool::Entry;

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
    fn resolve(
        net: &Network,
        flow_log: FlowLog,
        engine: usize,
        from: u64,
        agent: Option<&BTreeSet<String>>,
    ) -> Subscription {
        let mut members = vec![false; net.enis.len()];
        if let Ok((_, enis)) =
            crate::api::resource_enis(net, flow_log.resource_type, &flow_log.resource_id)
        {
            for e in enis {
                members[e] = agent.is_none_or(|a| a.contains(&net.enis[e].id));
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
    /// The ENIs this process records, when it is one capture agent of several
    /// ([`crate::agents`]): every flow log covers only those of its ENIs, now and after a
    /// revision.
    pub agent: Option<Arc<BTreeSet<String>>>,
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
                Subscription::resolve(&net, f, engine, 0, None)
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
            agent: None,
        }
    }

    /// The plan of capture agent that records only the ENIs `owned`.
    pub fn owned(&self, owned: BTreeSet<String>) -> Plan {
        let mut plan = self.clone();
        plan.agent = Some(Arc::new(owned));
        plan.with_network(Arc::clone(&self.net))
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
            plan.subs.push(Subscription::resolve(
                &plan.net,
                f.clone(),
                engine,
                from,
                plan.agent.as_deref(),
            ));
        }
        (!created.is_empty() || !deleted.is_empty()).then(|| Revision {
            plan: Arc::new(plan),
            created,
            deleted,
            engines,
        })
    }

    /// The plan of a source that sees only the ENIs `keep` accepts: each flow log covers the
    /// ENIs it covers that the source sees (a service's simulation and its live capture split
    /// the ENIs between them). Indexes stay as they are.
    pub fn masked(&self, keep: &dyn Fn(usize) -> bool) -> Plan {
        let mut plan = self.clone();
        for sub in &mut plan.subs {
            for (eni, member) in sub.members.iter_mut().enumerate() {
                *member = *member && keep(eni);
            }
        }
        plan
    }

    /// The same flow logs over `net`, a change of the network (the EC2 API made or deleted
    /// resources): each covers the ENIs its resource has in `net` now.
    pub fn with_network(&self, net: Arc<Network>) -> Plan {
        let mut plan = self.clone();
        for sub in &mut plan.subs {
            let resolved = Subscription::resolve(
                &net,
                sub.flow_log.clone(),
                sub.engine,
                sub.from,
                self.agent.as_deref(),
            );
            sub.members = resolved.members;
        }
        plan.net = net;
        plan
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

/// Turns records into spool entries as they come: each subscription's records go to its
/// sink's accumulator ([`crate::sinks`]: a flow log's S3 objects or log segments, or the
/// stream it shares), and a commit mark collects what each sink completes. Routing, replay
/// (what checkpoints cover is dropped) and overflow (a full spool turns records into SKIPDATA)
/// are the same for every destination, and live here.
pub struct Encoder {
    plan: Arc<Plan>,
    builder: RecordBuilder,
    run: Option<String>,
    /// A second source of the same flow logs ([`CommitContext::source`]).
    source: Option<String>,
    checkpoints: BTreeMap<SinkKey, u64>,
    /// The sinks, with their checkpoints: one per S3 or log-group flow log, one per stream.
    sinks: Vec<(Box<dyn Accumulator>, u64)>,
    /// Per subscription: its sink's index.
    sub_sink: Vec<usize>,
    last_commit: u64,
    /// Whether a destination's share of the spool is full (by [`sinks::destination_of`]).
    pub spool_full: Box<dyn Fn(&str) -> bool + Send>,
    /// For a source that can wait (it can be replayed: pcap files, the simulator), how it
    /// waits for room: a full share holds it back, up to the time given, and only then stops
    /// it ([`Full`]). `None` for a source that cannot wait (live traffic): what does not fit
    /// becomes SKIPDATA, as in AWS.
    pub waits: Option<Waits>,
    /// Per subscription: whether its destination's share was full at the last batch.
    full: Vec<bool>,
    /// Records replaced by SKIPDATA because the spool was full.
    pub overflowed: u64,
    /// Records dropped because a checkpoint covers them (a resumed run delivered them before).
    pub replayed: u64,
    /// (flow log, ENI, interval start) of the SKIPDATA records made so far.
    skipped: rustc_hash::FxHashSet<(usize, usize, u64)>,
}

/// How a source that can wait waits for room in the spool.
pub struct Waits {
    /// Time, and sleeping while waiting.
    pub clock: Arc<dyn crate::deliver::Clock>,
    /// The longest a full share may hold the source back (ms) before the run stops.
    pub give_up_ms: u64,
}

/// A destination's share of the spool stayed full longer than a waiting source may wait.
#[derive(Debug, thiserror::Error)]
#[error(
    "the spool's share of {destination} stayed full for {waited_ms} ms (it accepts nothing): \
     the run stops here, and running it again resumes where it stopped; nothing made is lost"
)]
pub struct Full {
    /// The destination (`s3:BUCKET`, `logs:GROUP`, `firehose:STREAM`).
    pub destination: String,
    /// How long the source waited.
    pub waited_ms: u64,
}

/// What one commit gave.
pub struct Encoded {
    /// Entries to spool.
    pub entries: Vec<Entry>,
    /// New checkpoints: sink → commit mark.
    pub done: BTreeMap<SinkKey, u64>,
    /// Records per flow log in the entries.
    pub records: BTreeMap<String, u64>,
}

impl Encoder {
    /// An encoder; `checkpoints` are the sinks' (what they cover is dropped when replayed).
    pub fn new(
        plan: Arc<Plan>,
        run: Option<String>,
        checkpoints: BTreeMap<SinkKey, u64>,
    ) -> Encoder {
        let mut encoder = Encoder {
            builder: RecordBuilder::new(Arc::clone(&plan.net)),
            plan: Arc::new(Plan {
                subs: Vec::new(),
                ..(*plan).clone()
            }),
            run,
            source: None,
            checkpoints,
            sinks: Vec::new(),
            sub_sink: Vec::new(),
            last_commit: 0,
            spool_full: Box::new(|_| false),
            waits: None,
            full: Vec::new(),
            overflowed: 0,
            replayed: 0,
            skipped: rustc_hash::FxHashSet::default(),
        };
        encoder.revise(plan);
        encoder
    }

    /// The encoder of a second source of the same flow logs, named `source` in what it makes.
    pub fn with_source(mut self, source: Option<String>) -> Encoder {
        self.source = source;
        self
    }

    /// Takes a message; a commit returns its entries. A source that can wait is held back
    /// here while a destination's share of the spool is full.
    pub fn handle(&mut self, msg: Msg) -> Result<Option<Encoded>, Full> {
        Ok(match msg {
            Msg::Raw { engine, records } => {
                self.wait_for_room()?;
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
        })
    }

    /// Looks at each subscription's share of the spool; a source that can wait sleeps until
    /// every share has room, or gives up.
    fn wait_for_room(&mut self) -> Result<(), Full> {
        let mut waited_ms = 0;
        loop {
            let full_one = self.look_at_shares();
            let (Some(destination), Some(w)) = (full_one, &self.waits) else {
                return Ok(());
            };
            if waited_ms >= w.give_up_ms {
                return Err(Full {
                    destination,
                    waited_ms,
                });
            }
            w.clock.sleep_ms(20);
            waited_ms += 20;
        }
    }

    /// Sets which subscriptions' destinations are full; returns one of them, if any.
    fn look_at_shares(&mut self) -> Option<String> {
        let mut one = None;
        self.full = self
            .plan
            .subs
            .iter()
            .map(|sub| {
                let d = sinks::destination_of(sub);
                let full = (self.spool_full)(&d);
                if full {
                    one = Some(d);
                }
                full
            })
            .collect();
        one
    }

    /// Follows a (revised) plan: the subscriptions it adds get their sinks, which start from
    /// their checkpoints; a stream's sink is shared by its flow logs.
    fn revise(&mut self, plan: Arc<Plan>) {
        for sub in &plan.subs[self.sub_sink.len()..] {
            let key = sinks::key_of(sub);
            let shared = match &key {
                SinkKey::Stream(_) => self.sinks.iter().position(|(s, _)| s.key() == key),
                SinkKey::FlowLog(_) => None,
            };
            let index = shared.unwrap_or_else(|| {
                let done = self.checkpoints.get(&key).copied().unwrap_or(0);
                self.sinks.push((sinks::open(sub, &plan), done));
                self.sinks.len() - 1
            });
            self.sub_sink.push(index);
        }
        // A plan over a changed network builds the records that follow over it.
        if !Arc::ptr_eq(&plan.net, &self.plan.net) {
            self.builder = RecordBuilder::new(Arc::clone(&plan.net));
        }
        self.plan = plan;
    }

    /// Routes one record of engine `engine` for ENI `eni` to its flow logs' sinks.
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
        let index = self.sub_sink[i];
        let (sink, done) = &self.sinks[index];
        if sink.covered(rec, *done, self.last_commit) {
            self.replayed += 1;
            return;
        }
        if self.full.get(i).copied().unwrap_or(false) {
            if let Some(skip) = self.overflow(i, eni, rec, iv) {
                self.sinks[index].0.add(sub, &skip);
            }
            return;
        }
        self.sinks[index].0.add(sub, rec);
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

    /// Finishes what the mark `until` completes in every sink: objects and segments of buckets
    /// before it (all of them at the end), and stream buffers whose hints are met (all at the
    /// end).
    pub fn commit(&mut self, until: u64, last: bool) -> Encoded {
        let plan = Arc::clone(&self.plan);
        let ctx = CommitContext {
            until,
            last,
            run: self.run.as_ref(),
            plan: &plan,
            source: self.source.as_deref(),
        };
        let mut out = Encoded {
            entries: Vec::new(),
            done: BTreeMap::new(),
            records: BTreeMap::new(),
        };
        for (sink, done) in &mut self.sinks {
            let c = sink.commit(&ctx, *done);
            out.entries.extend(c.entries);
            for (f, n) in c.records {
                *out.records.entry(f).or_default() += n;
            }
            if let Some(d) = c.done {
                out.done.insert(sink.key(), d);
                *done = (*done).max(d);
            }
        }
        self.last_commit = until;
        out
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
