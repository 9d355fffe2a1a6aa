//! The flow engine: packets observed at ENIs in, AWS flow records out.
//!
//! Owns the per-ENI flow table and interval aggregation (design.md, "Record semantics"):
//! * one record = one direction of one 5-tuple on one ENI in one aggregation interval, and one
//!   action (a flow whose packets are partly accepted and partly rejected gives two records);
//! * intervals are aligned to multiples of the interval (60 or 600 s) in packet time; `start` and
//!   `end` are the first and last packet seen in the interval; records are emitted when the
//!   interval closes, which happens when a packet of a later interval arrives ([`FlowEngine::observe`])
//!   or time is advanced ([`FlowEngine::advance_to`]);
//! * `packets` counts packets, `bytes` sums IP total lengths, `tcp-flags` ORs AWS's per-packet
//!   flag values; ICMP ports are 0;
//! * ENIs in scope with no record in an interval get a NODATA record; when the table is full, new
//!   flows are counted and reported as one SKIPDATA record per ENI and interval — never silent
//!   loss, never unbounded growth;
//! * traffic AWS never logs is dropped before the table.
//!
//! Records come out unbuilt ([`RawRecord`], `vpcflow_net::record`, which owns building them and
//! AWS's address-reporting rules). Time comes only from observations (µs); nothing here reads a
//! clock.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use vpcflow_net::never_logged::never_logged;
use vpcflow_net::{Network, Packet, Policy};
use vpcflow_record::{Action, FlowDirection, FlowRecord, LogStatus, TcpFlags};

use vpcflow_net::record::{FlowAcc, FlowKey};
pub use vpcflow_net::record::{RawRecord, RecordBuilder};

use crate::table::{FlowTable, Key, Slot};

const MICROS: u64 = 1_000_000;

/// One packet seen at one ENI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// Packet time, microseconds since the Unix epoch.
    pub ts: u64,
    /// ENI index in the network.
    pub eni: usize,
    /// Direction relative to the ENI.
    pub direction: FlowDirection,
    /// The packet as seen there.
    pub packet: Packet,
    /// IP total length in bytes.
    pub len: u32,
}

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Aggregation interval in seconds: 60 or 600 (AWS's `MaxAggregationInterval`).
    pub interval_secs: u64,
    /// Most flows held per interval before new ones are counted as skipped.
    pub max_flows: usize,
    /// ENIs in scope (get NODATA records); `None` = every ENI of the network.
    pub scope: Option<Vec<usize>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            interval_secs: 600,
            max_flows: 1 << 20,
            scope: None,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// AWS accepts only 60 and 600.
    #[error("Invalid Flow Log Max Aggregation Interval: {0} (use 60 or 600)")]
    Interval(u64),
    /// A zero-sized table could hold nothing.
    #[error("max_flows must be at least 1")]
    MaxFlows,
    /// The flow table numbers ENIs in 16 bits.
    #[error("the network has {0} ENIs; the flow engine handles at most 65535")]
    TooManyEnis(usize),
    /// A change of network while closed records wait (a caller's fault: drain first).
    #[error("the network changed while closed records were not handed out (a vpcflow bug)")]
    Undrained,
}

impl EngineConfig {
    /// Checks the settings (no I/O).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.interval_secs, 60 | 600) {
            return Err(ConfigError::Interval(self.interval_secs));
        }
        if self.max_flows == 0 {
            return Err(ConfigError::MaxFlows);
        }
        Ok(())
    }
}

/// Closed intervals' output, kept compact until [`FlowEngine::drain`] turns it into records
/// one at a time (a `FlowRecord` is ~1 KB; a million of them at once would not be).
enum Closed {
    /// One interval: its flows (sorted slots of the table), its start (µs, the slots' time
    /// base), then its SKIPDATA/NODATA records as (ENI, start, end, status).
    Interval(Vec<Slot>, u64, Vec<(usize, u64, u64, LogStatus)>),
    /// Intervals `from..to` (µs) with no traffic: a NODATA record for each ENI of `scope` in
    /// each, made only as they are drained, so that a long quiet gap (a capture whose first
    /// packet is at time 0) costs its records, never memory.
    Quiet {
        from: u64,
        to: u64,
        scope: Arc<[usize]>,
    },
}

/// Records being handed out: a closed interval's (or a few quiet ones'), and where they end.
type Draining = (Box<dyn Iterator<Item = RawRecord> + Send>, u64);

/// Most records in one [`Emit::Records`].
pub const EMIT_CHUNK: usize = 4096;

/// What engines hand out as their intervals close ([`drain_in_turns`],
/// [`crate::Simulator::run_tagged`]).
#[derive(Debug)]
pub enum Emit {
    /// Records of engine `engine` whose intervals closed, unbuilt: the consumer builds them
    /// (with the engine's [`crate::RecordBuilder`]) on its own thread.
    Records {
        /// Index of the engine.
        engine: usize,
        /// The records.
        records: Vec<RawRecord>,
    },
    /// Every engine has emitted all its records of time before `until` (µs).
    Closed {
        /// µs since the epoch.
        until: u64,
    },
}

/// Hands out what `engines` closed, in vectors of at most [`EMIT_CHUNK`] records, the engines
/// taking turns, and says [`Emit::Closed`] whenever every engine's records before a later time
/// are out (`announced`: the last time said). So the consumer can finish what is complete as
/// it goes, and memory stays bounded however many records a quiet gap makes.
pub fn drain_in_turns(
    engines: &mut [&mut FlowEngine],
    announced: &mut Option<u64>,
    out: &mut dyn FnMut(Emit),
) {
    loop {
        let mut any = false;
        for (engine, e) in engines.iter_mut().enumerate() {
            let mut records = Vec::new();
            e.drain_some(EMIT_CHUNK, &mut records);
            if !records.is_empty() {
                any = true;
                out(Emit::Records { engine, records });
            }
        }
        let until = engines.iter().map(|e| e.handed_out_until()).min().flatten();
        if until > *announced
            && let Some(t) = until
        {
            *announced = until;
            out(Emit::Closed { until: t });
        }
        if !any {
            return;
        }
    }
}

/// Counters for what the engine did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Observations taken.
    pub packets: u64,
    /// Observations of traffic AWS never logs, dropped.
    pub never_logged: u64,
    /// Flows not recorded because the table was full (reported as SKIPDATA).
    pub skipped_flows: u64,
    /// Packets the capture source lost (kernel drops), reported as SKIPDATA.
    pub lost_packets: u64,
    /// Records emitted (all statuses).
    pub records: u64,
}

/// The flow table and its interval clock.
pub struct FlowEngine {
    net: Arc<Network>,
    policy: Policy,
    config: EngineConfig,
    scope: Vec<usize>,
    table: FlowTable,
    /// Start (µs) of the interval being filled; `None` before the first observation.
    interval: Option<u64>,
    skipped: FxHashMap<usize, u64>,
    closed: std::collections::VecDeque<Closed>,
    closed_until: Option<u64>,
    /// Records of closed intervals being handed out ([`FlowEngine::drain_some`]).
    draining: Option<Draining>,
    /// Every record of time before it has been handed out.
    drained_until: Option<u64>,
    stats: Stats,
}

impl FlowEngine {
    /// A new engine over `net`.
    pub fn new(net: Arc<Network>, config: EngineConfig) -> Result<FlowEngine, ConfigError> {
        config.validate()?;
        if net.enis.len() > usize::from(u16::MAX) {
            return Err(ConfigError::TooManyEnis(net.enis.len()));
        }
        let scope = config
            .scope
            .clone()
            .unwrap_or_else(|| (0..net.enis.len()).collect());
        Ok(FlowEngine {
            policy: Policy::new(Arc::clone(&net)),
            net,
            config,
            scope,
            table: FlowTable::default(),
            interval: None,
            skipped: FxHashMap::default(),
            closed: std::collections::VecDeque::new(),
            closed_until: None,
            draining: None,
            drained_until: None,
            stats: Stats::default(),
        })
    }

    /// The network.
    pub fn network(&self) -> &Arc<Network> {
        &self.net
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Goes on over `net`, a change of the network it was over (the EC2 API made or deleted
    /// resources): the open interval's flows, the connections tracked, the scope and the skipped
    /// counts kept under the ENIs' new numbers (`map`: old index to new, `None` for an ENI no
    /// longer there, whose flows are dropped). What closed before must have been handed out:
    /// those records are built over the network they were counted on.
    pub fn renumber(
        &mut self,
        net: Arc<Network>,
        map: &[Option<usize>],
    ) -> Result<(), ConfigError> {
        if !self.closed.is_empty() || self.draining.is_some() {
            return Err(ConfigError::Undrained);
        }
        if net.enis.len() > usize::from(u16::MAX) {
            return Err(ConfigError::TooManyEnis(net.enis.len()));
        }
        let through = |e: usize| map.get(e).copied().flatten();
        self.policy.renumber(Arc::clone(&net), map);
        self.table.renumber(map);
        self.scope = self.scope.iter().filter_map(|&e| through(e)).collect();
        self.skipped = std::mem::take(&mut self.skipped)
            .into_iter()
            .filter_map(|(e, n)| Some((through(e)?, n)))
            .collect();
        self.net = net;
        Ok(())
    }

    /// The ENIs that get NODATA records from the next interval that closes on (flow logs were
    /// created or deleted while the engine runs).
    pub fn set_scope(&mut self, scope: Vec<usize>) {
        self.scope = scope;
    }

    fn interval_us(&self) -> u64 {
        self.config.interval_secs * MICROS
    }

    /// Takes one observation: evaluates policy and aggregates it. Returns the verdict, or `None`
    /// for traffic AWS never logs (which is not evaluated either: no security group applies to
    /// the metadata service or the Amazon resolver).
    pub fn observe(&mut self, obs: &Observation) -> Option<Action> {
        self.advance_to(obs.ts);
        self.stats.packets += 1;
        if never_logged(&self.net, &obs.packet.tuple).is_some() {
            self.stats.never_logged += 1;
            return None;
        }
        let verdict = self
            .policy
            .evaluate(obs.eni, obs.direction, &obs.packet, obs.ts);
        self.record(obs, verdict.action);
        Some(verdict.action)
    }

    /// Counts a packet whose verdict another engine over the same network already reached
    /// (`None`: traffic AWS never logs), so that policy and connection tracking run once per
    /// packet however many aggregation intervals are in use.
    pub fn observe_decided(&mut self, obs: &Observation, decided: Option<Action>) {
        self.advance_to(obs.ts);
        self.stats.packets += 1;
        match decided {
            None => self.stats.never_logged += 1,
            Some(action) => self.record(obs, action),
        }
    }

    /// Adds a packet with its verdict to the open interval's flows.
    fn record(&mut self, obs: &Observation, action: Action) {
        let mut tuple = obs.packet.tuple;
        if !matches!(tuple.protocol, 6 | 17) {
            // AWS reports 0 for ports of ICMP and portless protocols.
            tuple.src_port = 0;
            tuple.dst_port = 0;
        }
        let key = Key::new(
            obs.eni,
            obs.direction == FlowDirection::Egress,
            action == Action::Reject,
            &tuple,
        );
        let flags = if tuple.protocol == 6 {
            TcpFlags::from_packet(obs.packet.tcp_flags).0
        } else {
            0
        };
        let base = self.interval.expect("advance_to opened an interval");
        if !self
            .table
            .add(&key, self.config.max_flows, (obs.ts, base, obs.len, flags))
        {
            *self.skipped.entry(obs.eni).or_default() += 1;
            self.stats.skipped_flows += 1;
        }
    }

    /// Records that the source lost `packets` packets of `eni` (kernel ring drops): the open
    /// interval gets a SKIPDATA record for that ENI, as AWS reports records it could not capture.
    pub fn report_loss(&mut self, eni: usize, packets: u64) {
        if packets > 0 {
            *self.skipped.entry(eni).or_default() += packets;
            self.stats.lost_packets += packets;
        }
    }

    /// Closes every interval that ends at or before `now` (µs), emitting its records.
    pub fn advance_to(&mut self, now: u64) {
        let iv = self.interval_us();
        // Nearly every packet falls in the open interval: no division for those.
        if let Some(cur) = self.interval
            && now >= cur
            && now - cur < iv
        {
            return;
        }
        let aligned = now - now % iv;
        match self.interval {
            None => self.interval = Some(aligned),
            Some(cur) if aligned > cur => {
                // Close the filled interval, then the empty ones up to `aligned` (NODATA), as
                // one quiet span made only when it is drained.
                self.flush(cur);
                if cur + iv < aligned {
                    self.quiet(cur + iv, aligned);
                }
                self.interval = Some(aligned);
                self.policy.expire(now);
            }
            Some(_) => {}
        }
    }

    /// Closes every interval that starts before `end` (µs) and opens no new one: the end of a
    /// simulation or capture of known length.
    pub fn close(&mut self, end: u64) {
        self.advance_to(end);
        if let Some(cur) = self.interval.take()
            && cur < end
        {
            self.flush(cur);
        }
    }

    /// Closes the open interval (end of input, or shutdown).
    pub fn finish(&mut self) {
        if let Some(cur) = self.interval.take() {
            self.flush(cur);
        }
    }

    /// Takes the records of the intervals closed so far, building each as it is asked for.
    pub fn drain(&mut self) -> impl Iterator<Item = FlowRecord> + '_ {
        self.drain_with_eni().map(|(_, r)| r)
    }

    /// Like [`FlowEngine::drain`], with each record's ENI index (for fan-out by ENI).
    pub fn drain_with_eni(&mut self) -> impl Iterator<Item = (usize, FlowRecord)> + '_ {
        let builder = self.builder();
        self.drain_raw().map(move |r| (r.eni(), builder.build(&r)))
    }

    /// The records of the intervals closed so far, unbuilt (see [`RawRecord`]).
    pub fn drain_raw(&mut self) -> impl Iterator<Item = RawRecord> + use<> {
        let iv = self.interval_us();
        let draining = self.draining.take().map(|(it, _)| it);
        let closed = std::mem::take(&mut self.closed);
        self.drained_until = self.closed_until;
        draining
            .into_iter()
            .chain(closed.into_iter().map(move |c| records_of(c, iv).0))
            .flatten()
    }

    /// Hands out up to `max` more records of the intervals closed so far into `out`, a quiet
    /// span a few intervals at a time (see [`drain_in_turns`]).
    pub fn drain_some(&mut self, max: usize, out: &mut Vec<RawRecord>) {
        let iv = self.interval_us();
        while out.len() < max {
            if self.draining.is_none() {
                let Some(c) = self.closed.pop_front() else {
                    break;
                };
                let c = match c {
                    // A quiet span goes out about `max` records at a time, each part ending on
                    // an interval boundary.
                    Closed::Quiet { from, to, scope } => {
                        let per = (max / scope.len().max(1)).max(1) as u64;
                        let cut = to.min(from + per * iv);
                        if cut < to {
                            self.closed.push_front(Closed::Quiet {
                                from: cut,
                                to,
                                scope: Arc::clone(&scope),
                            });
                        }
                        Closed::Quiet {
                            from,
                            to: cut,
                            scope,
                        }
                    }
                    c => c,
                };
                self.draining = Some(records_of(c, iv));
            }
            let Some((it, end)) = self.draining.as_mut() else {
                break;
            };
            let room = max - out.len();
            let before = out.len();
            out.extend(it.by_ref().take(room));
            if out.len() - before < room {
                self.drained_until = Some(*end);
                self.draining = None;
            }
        }
    }

    /// Every record of time before it (µs) has been handed out by [`FlowEngine::drain_some`].
    pub fn handed_out_until(&self) -> Option<u64> {
        if self.draining.is_none() && self.closed.is_empty() {
            self.closed_until
        } else {
            self.drained_until
        }
    }

    /// Empty intervals `from..to`: NODATA for every ENI in scope, made when drained.
    fn quiet(&mut self, from: u64, to: u64) {
        let n = (to - from) / self.interval_us();
        self.stats.records += n * self.scope.len() as u64;
        self.closed.push_back(Closed::Quiet {
            from,
            to,
            scope: self.scope.clone().into(),
        });
        self.closed_until = Some(to);
    }
}

/// A closed entry's records, and the end (µs) of the last interval they cover.
fn records_of(c: Closed, iv: u64) -> Draining {
    match c {
        Closed::Quiet { from, to, scope } => {
            let it = (from..to).step_by(iv as usize).flat_map(move |start| {
                let scope = Arc::clone(&scope);
                (0..scope.len())
                    .map(move |i| RawRecord::status(scope[i], start, start + iv, LogStatus::NoData))
            });
            (Box::new(it), to)
        }
        Closed::Interval(flows, base, status) => {
            let end = base + iv;
            let flows = flows.into_iter().map(move |s| {
                RawRecord::flow(
                    FlowKey {
                        eni: s.key.eni() as u32,
                        egress: s.key.egress(),
                        reject: s.key.reject(),
                        tuple: s.key.tuple(),
                    },
                    FlowAcc {
                        first: s.acc.first(base),
                        last: s.acc.last(base),
                        packets: s.acc.packets(),
                        bytes: s.acc.bytes(),
                        flags: s.acc.flags(),
                    },
                )
            });
            let status = status
                .into_iter()
                .map(|(eni, start, end, st)| RawRecord::status(eni, start, end, st));
            (Box::new(flows.chain(status)), end)
        }
    }
}

impl FlowEngine {
    /// A builder for this engine's raw records.
    pub fn builder(&self) -> RecordBuilder {
        RecordBuilder::new(Arc::clone(&self.net))
    }

    /// Marks an engine started while others run as holding nothing of time before `now` (µs),
    /// so that it does not hold back their progress ([`FlowEngine::closed_until`]) until its
    /// first interval closes.
    pub fn begin_at(&mut self, now: u64) {
        self.closed_until.get_or_insert(now);
    }

    /// End (µs) of the last interval closed: every record of time before it has been emitted.
    pub fn closed_until(&self) -> Option<u64> {
        self.closed_until
    }

    /// The aggregation interval in seconds.
    pub fn interval_secs(&self) -> u64 {
        self.config.interval_secs
    }

    fn flush(&mut self, start: u64) {
        let end = start + self.interval_us();
        let mut flows = self.table.take();
        // A fixed order makes the output reproducible: by ENI, then first packet, then the key
        // (direction, verdict, then the addresses, protocol and ports, as `FlowKey` orders).
        flows.sort_unstable_by(|a, b| {
            (a.key.eni(), a.acc.first_offset(), a.key.order()).cmp(&(
                b.key.eni(),
                b.acc.first_offset(),
                b.key.order(),
            ))
        });
        let mut has_record = vec![false; self.net.enis.len()];
        for s in &flows {
            has_record[s.key.eni()] = true;
        }
        let mut status = Vec::new();
        let mut skipped: Vec<(usize, u64)> = self.skipped.drain().collect();
        skipped.sort_unstable();
        for (eni, _) in skipped {
            has_record[eni] = true;
            status.push((eni, start, end, LogStatus::SkipData));
        }
        for &eni in &self.scope {
            if !has_record[eni] {
                status.push((eni, start, end, LogStatus::NoData));
            }
        }
        self.stats.records += (flows.len() + status.len()) as u64;
        self.closed
            .push_back(Closed::Interval(flows, start, status));
        self.closed_until = Some(end);
    }
}
