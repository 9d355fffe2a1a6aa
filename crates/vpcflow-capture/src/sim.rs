//! The traffic simulator: scenario sessions → packets → the flow engine.
//!
//! Owns a discrete-event simulation in simulated time (no clock is read; `--duration 1h` runs
//! as fast as the CPU allows) and the "fabric" that carries each packet across the topology: out
//! of the sender's ENI, through the NAT gateway's ENI (with address and port translation) or the
//! internet gateway (public ↔ private address), into the receiver's ENI. Every ENI on the way
//! observes the packet through [`FlowEngine::observe`], which applies policy; a REJECT ends the
//! packet's journey, so a refused SYN gets no SYN-ACK and a scanner's probe dies where the ACL or
//! security group stops it. Sessions react to delivery (TCP retransmits a lost SYN twice; scans
//! do not), so the records show what really happened.
//!
//! Deterministic: one SplitMix64 stream per traffic entry, seeded from `--seed` and the entry's
//! position; events are ordered by (time, sequence number).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use vpcflow_net::model::{EniType, GatewayType};
use vpcflow_net::network::RouteTarget;
use vpcflow_net::{FiveTuple, Network, Packet};
use vpcflow_record::{Action, FlowDirection, FlowRecord};

pub use crate::flow::{EMIT_CHUNK, Emit};
use crate::flow::{FlowEngine, Observation};
use crate::scenario::{Endpoint, Proto, Resolved, ResolvedTraffic};

const MS: u64 = 1_000;
const SECOND: u64 = 1_000_000;

/// SplitMix64: small, fast, and stable across releases (unlike a library RNG's algorithm choice).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi]`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Simulation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Start, Unix seconds.
    pub start: u64,
    /// Length in seconds.
    pub duration: u64,
    /// Seed.
    pub seed: u64,
}

/// What a simulation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Sessions started.
    pub sessions: u64,
    /// Packets sent by endpoints.
    pub packets: u64,
    /// Packets that reached their destination.
    pub delivered: u64,
}

/// Does the RFC space list say `ip` is a plausible public internet address for a random client?
fn is_public_client(ip: Ipv4Addr, net: &Network) -> bool {
    let o = ip.octets();
    !(o[0] == 0
        || o[0] == 10
        || o[0] == 127
        || o[0] >= 224
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 169 && o[1] == 254)
        || (o[0] == 172 && (16..32).contains(&o[1]))
        || (o[0] == 192 && o[1] == 168)
        || (o[0] == 198 && (18..20).contains(&o[1]))
        || (o[..3] == [192, 0, 2] || o[..3] == [198, 51, 100] || o[..3] == [203, 0, 113])
        || net.eni_by_public_ip(IpAddr::V4(ip)).is_some())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Syn(u8),
    SynAck,
    Ack,
    ClientData(u32),
    ServerData(u32),
    ClientFin,
    ServerFin,
    LastAck,
    Rst,
    Ping(u32),
    Pong(u32),
}

#[derive(Debug, Clone)]
struct Session {
    /// The session's number in the run (its slot may be reused; this never is).
    serial: u64,
    proto: Proto,
    /// Client's address and port as it sends.
    client: (IpAddr, u16),
    /// Server's address and port as the client addresses it.
    server: (IpAddr, u16),
    /// The address the server sends from (its private one, if it is an ENI).
    server_src: IpAddr,
    /// The client as the server sees it (after NAT / internet gateway), once delivered.
    client_seen: Option<(IpAddr, u16)>,
    request: u32,
    response: u32,
    bytes: (u32, u32),
    scan: bool,
    rtt: u64,
    gap: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Start(usize),
    Send(usize, StepKey),
}

/// `Step` with a total order for the heap (only ties on the same time and sequence compare it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StepKey(u32, u32);

impl StepKey {
    fn of(s: Step) -> StepKey {
        match s {
            Step::Syn(n) => StepKey(0, u32::from(n)),
            Step::SynAck => StepKey(1, 0),
            Step::Ack => StepKey(2, 0),
            Step::ClientData(n) => StepKey(3, n),
            Step::ServerData(n) => StepKey(4, n),
            Step::ClientFin => StepKey(5, 0),
            Step::ServerFin => StepKey(6, 0),
            Step::LastAck => StepKey(7, 0),
            Step::Rst => StepKey(8, 0),
            Step::Ping(n) => StepKey(9, n),
            Step::Pong(n) => StepKey(10, n),
        }
    }
    fn step(self) -> Step {
        match self.0 {
            0 => Step::Syn(self.1 as u8),
            1 => Step::SynAck,
            2 => Step::Ack,
            3 => Step::ClientData(self.1),
            4 => Step::ServerData(self.1),
            5 => Step::ClientFin,
            6 => Step::ServerFin,
            7 => Step::LastAck,
            8 => Step::Rst,
            9 => Step::Ping(self.1),
            _ => Step::Pong(self.1),
        }
    }
}

/// NAT gateway translation state.
#[derive(Default)]
struct Nat {
    out: FxHashMap<FiveTuple, u16>,
    back: FxHashMap<(u8, u16, IpAddr, u16), (IpAddr, u16)>,
    next_port: u16,
}

/// A running simulation.
pub struct Simulator {
    net: Arc<Network>,
    engine: FlowEngine,
    /// Further engines (other aggregation intervals) fed the same observations.
    others: Vec<FlowEngine>,
    /// The last `closed_until` handed out as [`Emit::Closed`].
    announced: Option<u64>,
    traffic: Vec<ResolvedTraffic>,
    rngs: Vec<Rng>,
    counters: Vec<u64>,
    sessions: Vec<Option<Session>>,
    /// Slots of ended sessions, for reuse.
    free: Vec<usize>,
    heap: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    nat: FxHashMap<usize, Nat>,
    pool: Vec<IpAddr>,
    start_us: u64,
    end_us: u64,
    stats: SimStats,
    /// The run's seed, which each traffic entry's random stream is made from.
    seed_base: u64,
}

impl Simulator {
    /// Sets up a simulation of `scenario` over the engine's network.
    pub fn new(engine: FlowEngine, scenario: &Resolved, config: &SimConfig) -> Simulator {
        Simulator::with_engines(vec![engine], scenario, config)
    }

    /// Sets up a simulation whose observations feed several engines over one network (one per
    /// aggregation interval in use). Verdicts come from the first; all agree, as policy is
    /// deterministic. Panics if `engines` is empty.
    pub fn with_engines(
        mut engines: Vec<FlowEngine>,
        scenario: &Resolved,
        config: &SimConfig,
    ) -> Simulator {
        let engine = engines.remove(0);
        let others = engines;
        let net = Arc::clone(engine.network());
        let mut pool_rng = Rng::new(config.seed ^ 0x1f0c_a1b0_0000_0001);
        let mut pool = Vec::with_capacity(1024);
        while pool.len() < 1024 {
            let ip = Ipv4Addr::from((pool_rng.next_u64() >> 32) as u32);
            if is_public_client(ip, &net) {
                pool.push(IpAddr::V4(ip));
            }
        }
        let start_us = config.start * SECOND;
        let mut sim = Simulator {
            net,
            engine,
            others,
            announced: None,
            traffic: scenario.traffic.clone(),
            rngs: (0..scenario.traffic.len())
                .map(|i| {
                    Rng::new(
                        config.seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
                            ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9),
                    )
                })
                .collect(),
            counters: vec![0; scenario.traffic.len()],
            sessions: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            seq: 0,
            nat: FxHashMap::default(),
            pool,
            start_us,
            end_us: start_us + config.duration * SECOND,
            stats: SimStats::default(),
            seed_base: config.seed,
        };
        for i in 0..sim.traffic.len() {
            let first = sim.next_arrival(i, start_us);
            sim.push(first, Event::Start(i));
        }
        sim
    }

    /// Counters so far.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// The engine (for its statistics).
    pub fn engine(&self) -> &FlowEngine {
        &self.engine
    }

    fn push(&mut self, ts: u64, ev: Event) {
        self.seq += 1;
        self.heap.push(Reverse((ts, self.seq, ev)));
    }

    /// Next session start of traffic `i` after `now`: Poisson arrivals at the entry's rate,
    /// times the diurnal factor, inside its window.
    fn next_arrival(&mut self, i: usize, now: u64) -> u64 {
        let t = &self.traffic[i];
        let (w0, w1) = t.window;
        let win_start = self.start_us.saturating_add(w0.saturating_mul(SECOND));
        let win_end = self.start_us.saturating_add(w1.saturating_mul(SECOND));
        let now = now.max(win_start);
        let hour = ((now / SECOND) % 86_400) as f64 / 3600.0;
        let shape = if t.spec.diurnal {
            0.55 - 0.45 * (2.0 * std::f64::consts::PI * (hour - 15.0) / 24.0).cos()
        } else {
            1.0
        };
        let per_us = t.spec.rate * shape / 60.0 / SECOND as f64;
        let u = self.rngs[i].unit();
        let gap = (-(1.0 - u).ln() / per_us).min(1e15) as u64;
        let next = now + gap.max(1);
        if next >= win_end { u64::MAX } else { next }
    }

    fn pick(&mut self, i: usize, side: &[Endpoint], sweep: bool) -> Endpoint {
        let n = side.len() as u64;
        let ix = if sweep {
            self.counters[i] % n
        } else {
            self.rngs[i].range(0, n - 1)
        };
        side[ix as usize].clone()
    }

    fn start_session(&mut self, i: usize, ts: u64) {
        let t = self.traffic[i].clone();
        let from = self.pick(i, &t.from, false);
        let to = self.pick(i, &t.to, t.spec.sweep);
        let count = self.counters[i];
        self.counters[i] += 1;
        let rng = &mut self.rngs[i];
        let client_ip = match from {
            Endpoint::Internet => {
                self.pool
                    [rng.range(0, u64::from(t.spec.clients.max(1)) - 1) as usize % self.pool.len()]
            }
            Endpoint::Ip(ip) => ip,
            Endpoint::Eni(e) => self.net.enis[e].primary_ip(),
            Endpoint::VpcDns(ip) => ip,
            Endpoint::Metadata => IpAddr::from([169, 254, 169, 254]),
        };
        let client_inside = matches!(from, Endpoint::Eni(_));
        let (server_ip, server_src) = match to {
            Endpoint::Internet => {
                let ip = self.pool
                    [rng.range(0, u64::from(t.spec.clients.max(1)) - 1) as usize % self.pool.len()];
                (ip, ip)
            }
            Endpoint::Ip(ip) | Endpoint::VpcDns(ip) => (ip, ip),
            Endpoint::Metadata => (
                IpAddr::from([169, 254, 169, 254]),
                IpAddr::from([169, 254, 169, 254]),
            ),
            Endpoint::Eni(e) => {
                let eni = &self.net.enis[e];
                let addressed = if client_inside {
                    eni.primary_ip()
                } else {
                    eni.public_ip.unwrap_or(eni.primary_ip())
                };
                (addressed, eni.primary_ip())
            }
        };
        let (lo, hi) = t.ports;
        let port = if t.spec.scan && hi > lo && t.spec.sweep {
            lo
        } else if t.spec.scan && hi > lo && matches!(from, Endpoint::Ip(_)) {
            // A scanner walks the range in order.
            lo + (count % u64::from(hi - lo + 1)) as u16
        } else {
            rng.range(u64::from(lo), u64::from(hi)) as u16
        };
        let internal = client_inside && matches!(to, Endpoint::Eni(_));
        let session = Session {
            serial: self.stats.sessions,
            proto: t.spec.protocol,
            client: (
                client_ip,
                if t.spec.protocol == Proto::Icmp {
                    0
                } else {
                    rng.range(32768, 60999) as u16
                },
            ),
            server: (server_ip, port),
            server_src,
            client_seen: None,
            request: rng.range(
                u64::from(t.spec.request_packets[0]),
                u64::from(t.spec.request_packets[1]),
            ) as u32,
            response: rng.range(
                u64::from(t.spec.response_packets[0]),
                u64::from(t.spec.response_packets[1]),
            ) as u32,
            bytes: (t.spec.packet_bytes[0], t.spec.packet_bytes[1]),
            scan: t.spec.scan,
            rtt: if internal {
                rng.range(300, 1500)
            } else {
                rng.range(10 * MS, 80 * MS)
            },
            gap: t.spec.gap_ms * MS,
        };
        let first = match session.proto {
            Proto::Tcp => Step::Syn(0),
            Proto::Udp => Step::ClientData(session.request.max(1)),
            Proto::Icmp => Step::Ping(session.request.max(1)),
        };
        // Slots of ended sessions are reused: a day of short sessions would otherwise keep
        // millions of empty slots.
        let id = match self.free.pop() {
            Some(id) => {
                self.sessions[id] = Some(session);
                id
            }
            None => {
                self.sessions.push(Some(session));
                self.sessions.len() - 1
            }
        };
        self.stats.sessions += 1;
        self.push(ts, Event::Send(id, StepKey::of(first)));
    }

    /// Runs to the end, handing every record to `out` as its interval closes.
    pub fn run(&mut self, out: &mut dyn FnMut(FlowRecord)) {
        self.run_with(&mut |sim| {
            for e in std::iter::once(&mut sim.engine).chain(&mut sim.others) {
                for r in e.drain() {
                    out(r);
                }
            }
        });
    }

    /// Adds an engine (an aggregation interval a flow log created while the simulation runs
    /// needs); it counts packets from the next event on, with the first engine's verdicts.
    /// Returns its index, as [`Emit::Records`] names it.
    pub fn add_engine(&mut self, mut engine: FlowEngine) -> usize {
        engine.begin_at(self.announced.unwrap_or(self.start_us));
        self.others.push(engine);
        self.others.len()
    }

    /// Goes on from `now_us` over `net`, a change of the network (the EC2 API made or deleted
    /// resources): every engine keeps its open interval and connections under the ENIs' new
    /// numbers ([`FlowEngine::renumber`]), and the traffic becomes `traffic`, which must be
    /// the old traffic revised ([`crate::scenario::Resolved::revise`]): entries keep their
    /// place, random stream and counter; new ones start arriving from `now_us`. Sessions under
    /// way go on by address. What the engines closed must have been handed out.
    pub fn renumber(
        &mut self,
        net: Arc<Network>,
        traffic: &Resolved,
        now_us: u64,
    ) -> Result<(), crate::flow::ConfigError> {
        let map = self.net.renumbering(&net);
        for e in std::iter::once(&mut self.engine).chain(&mut self.others) {
            e.renumber(Arc::clone(&net), &map)?;
        }
        self.nat = std::mem::take(&mut self.nat)
            .into_iter()
            .filter_map(|(e, n)| Some((map.get(e).copied().flatten()?, n)))
            .collect();
        self.net = net;
        let known = self.traffic.len();
        self.traffic = traffic.traffic.clone();
        for i in known..self.traffic.len() {
            self.rngs.push(Rng::new(
                self.seed_base.wrapping_mul(0x2545_f491_4f6c_dd1d)
                    ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9),
            ));
            self.counters.push(0);
            let first = self.next_arrival(i, now_us.max(self.start_us));
            if first < self.end_us {
                self.push(first, Event::Start(i));
            }
        }
        Ok(())
    }

    /// Engine `index`, to change (its scope) while the simulation runs.
    pub fn engine_mut(&mut self, index: usize) -> Option<&mut FlowEngine> {
        match index {
            0 => Some(&mut self.engine),
            i => self.others.get_mut(i - 1),
        }
    }

    /// Every engine, the first one first.
    pub fn engines(&self) -> impl Iterator<Item = &FlowEngine> {
        std::iter::once(&self.engine).chain(&self.others)
    }

    /// Hands out what the engines closed, the engines taking turns
    /// ([`crate::flow::drain_in_turns`]).
    fn drain_tagged(&mut self, out: &mut dyn FnMut(Emit)) {
        let mut engines: Vec<&mut FlowEngine> = std::iter::once(&mut self.engine)
            .chain(&mut self.others)
            .collect();
        crate::flow::drain_in_turns(&mut engines, &mut self.announced, out);
    }

    /// Runs to the end, handing every record (with its engine and ENI) to `out` as its interval
    /// closes, and saying when every engine has closed its intervals up to a time.
    pub fn run_tagged(&mut self, out: &mut dyn FnMut(Emit)) {
        self.run_with(&mut |sim| sim.drain_tagged(out));
        out(Emit::Closed { until: self.end_us });
    }

    /// Runs the events before `until_us` (µs; the end at most), handing out what closes as
    /// [`Simulator::run_tagged`] does, and stops there without closing the open intervals: a
    /// service paces the simulation by calling this slice by slice, then
    /// [`Simulator::run_tagged`] for the rest. The records are those of one whole run.
    pub fn run_tagged_until(&mut self, until_us: u64, out: &mut dyn FnMut(Emit)) {
        self.events_until(until_us.min(self.end_us), &mut |sim| sim.drain_tagged(out));
    }

    /// The time (µs) the simulation ends.
    pub fn end_us(&self) -> u64 {
        self.end_us
    }

    /// The events before `until` (µs); `drain` takes what the engines closed after each.
    fn events_until(&mut self, until: u64, drain: &mut dyn FnMut(&mut Simulator)) {
        while let Some(Reverse((ts, _, _))) = self.heap.peek() {
            if *ts >= until {
                break;
            }
            let Some(Reverse((ts, _, ev))) = self.heap.pop() else {
                break;
            };
            match ev {
                // An entry the network no longer has a place for starts nothing.
                Event::Start(i)
                    if self.traffic[i].from.is_empty() || self.traffic[i].to.is_empty() => {}
                Event::Start(i) => {
                    self.start_session(i, ts);
                    let next = self.next_arrival(i, ts);
                    if next < self.end_us {
                        self.push(next, Event::Start(i));
                    }
                }
                Event::Send(id, key) => self.step(id, key.step(), ts),
            }
            drain(self);
        }
    }

    /// The event loop; `drain` takes what the engines closed after each event and at the end.
    fn run_with(&mut self, drain: &mut dyn FnMut(&mut Simulator)) {
        self.events_until(self.end_us, drain);
        self.engine.close(self.end_us);
        for e in &mut self.others {
            e.close(self.end_us);
        }
        drain(self);
    }

    fn size(&mut self, id: usize) -> u32 {
        let s = self.sessions[id].as_ref().expect("live session");
        let (lo, hi) = s.bytes;
        // Sessions draw sizes from their own stream via a cheap hash of their number and time.
        let mut r = Rng::new(s.serial << 20 ^ self.seq);
        r.range(u64::from(lo), u64::from(hi)) as u32
    }

    /// Sends the packet of `step` and schedules what follows.
    fn step(&mut self, id: usize, step: Step, ts: u64) {
        let Some(s) = self.sessions[id].clone() else {
            return;
        };
        let proto = match s.proto {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Icmp => 1,
        };
        let from_client = matches!(
            step,
            Step::Syn(_)
                | Step::Ack
                | Step::ClientData(_)
                | Step::ClientFin
                | Step::LastAck
                | Step::Rst
                | Step::Ping(_)
        );
        let (flags, len) = match step {
            Step::Syn(_) => (0x02, 60),
            Step::SynAck => (0x12, 60),
            Step::Ack | Step::LastAck => (0x10, 52),
            Step::ClientFin | Step::ServerFin => (0x11, 52),
            Step::Rst => (0x04, 40),
            Step::ClientData(_) | Step::ServerData(_) => {
                (if proto == 6 { 0x18 } else { 0 }, self.size(id))
            }
            Step::Ping(_) | Step::Pong(_) => (0, self.size(id)),
        };
        let tuple = if from_client {
            FiveTuple {
                src: s.client.0,
                dst: s.server.0,
                protocol: proto,
                src_port: s.client.1,
                dst_port: s.server.1,
            }
        } else {
            let Some(seen) = s.client_seen else { return };
            FiveTuple {
                src: s.server_src,
                dst: seen.0,
                protocol: proto,
                src_port: s.server.1,
                dst_port: seen.1,
            }
        };
        self.stats.packets += 1;
        let delivered = self.deliver(
            ts,
            Packet {
                tuple,
                tcp_flags: flags,
            },
            len,
        );
        if let Some(seen) = delivered {
            self.stats.delivered += 1;
            if from_client && let Some(sess) = self.sessions[id].as_mut() {
                sess.client_seen = Some(seen);
            }
        }
        let half = s.rtt / 2;
        let gap = s.gap;
        let next = match (step, delivered.is_some()) {
            (Step::Syn(n), false) if !s.scan && n < 2 => {
                Some((Step::Syn(n + 1), ts + (SECOND << n)))
            }
            (Step::Syn(_), true) => Some((Step::SynAck, ts + half)),
            (Step::SynAck, true) if s.scan => Some((Step::Rst, ts + half)),
            (Step::SynAck, true) => Some((Step::Ack, ts + half)),
            (Step::Ack, _) => Some((Step::ClientData(s.request.max(1)), ts + gap)),
            (Step::ClientData(n), _) if n > 1 => Some((Step::ClientData(n - 1), ts + gap)),
            (Step::ClientData(_), true) => Some((Step::ServerData(s.response.max(1)), ts + half)),
            (Step::ServerData(n), _) if n > 1 => Some((Step::ServerData(n - 1), ts + gap)),
            (Step::ServerData(_), _) if proto == 6 => Some((Step::ClientFin, ts + half)),
            (Step::ClientFin, true) => Some((Step::ServerFin, ts + half)),
            (Step::ServerFin, true) => Some((Step::LastAck, ts + half)),
            (Step::Ping(n), true) => Some((Step::Pong(n), ts + half)),
            (Step::Ping(n), false) | (Step::Pong(n), _) if n > 1 => {
                Some((Step::Ping(n - 1), ts + SECOND))
            }
            _ => None,
        };
        match next {
            Some((step, at)) => self.push(at, Event::Send(id, StepKey::of(step))),
            None => {
                self.sessions[id] = None;
                self.free.push(id);
            }
        }
    }

    fn observe(
        &mut self,
        ts: u64,
        eni: usize,
        direction: FlowDirection,
        tuple: FiveTuple,
        flags: u8,
        len: u32,
    ) -> Option<Action> {
        let obs = Observation {
            ts,
            eni,
            direction,
            packet: Packet {
                tuple,
                tcp_flags: flags,
            },
            len,
        };
        // Policy and connection tracking once, in the first engine; the others count the
        // packet with its verdict.
        let decided = self.engine.observe(&obs);
        for e in &mut self.others {
            e.observe_decided(&obs, decided);
        }
        decided
    }

    /// Carries a packet from its sender to its receiver; returns how the receiver sees the
    /// sender (address, port) if it arrived.
    fn deliver(&mut self, ts: u64, p: Packet, len: u32) -> Option<(IpAddr, u16)> {
        let net = Arc::clone(&self.net);
        let t = p.tuple;
        let f = p.tcp_flags;
        let rejected = |a: Option<Action>| a == Some(Action::Reject);
        if let Some(src) = net.eni_by_private_ip(t.src) {
            let verdict = self.observe(ts, src, FlowDirection::Egress, t, f, len);
            if rejected(verdict) {
                return None;
            }
            if let Some(dst) = net.eni_by_private_ip(t.dst) {
                let v = self.observe(ts, dst, FlowDirection::Ingress, t, f, len);
                return (!rejected(v)).then_some((t.src, t.src_port));
            }
            if verdict.is_none() {
                // Never-logged services (metadata, the Amazon resolver) answer.
                return Some((t.src, t.src_port));
            }
            return match net.route(src, t.dst) {
                Some(RouteTarget::Gateway(g)) if net.gateways[g].kind == GatewayType::Nat => {
                    let nat_eni = net.gateways[g].eni?;
                    if rejected(self.observe(ts, nat_eni, FlowDirection::Ingress, t, f, len)) {
                        return None;
                    }
                    let nat_ip = net.enis[nat_eni].primary_ip();
                    let table = self.nat.entry(nat_eni).or_default();
                    let port = match table.out.get(&t) {
                        Some(p) => *p,
                        None => {
                            let port = if t.protocol == 1 {
                                0
                            } else {
                                1024 + table.next_port % 64000
                            };
                            table.next_port = table.next_port.wrapping_add(1);
                            table.out.insert(t, port);
                            table
                                .back
                                .insert((t.protocol, port, t.dst, t.dst_port), (t.src, t.src_port));
                            port
                        }
                    };
                    let q = FiveTuple {
                        src: nat_ip,
                        src_port: port,
                        ..t
                    };
                    if rejected(self.observe(ts, nat_eni, FlowDirection::Egress, q, f, len)) {
                        return None;
                    }
                    Some((net.enis[nat_eni].public_ip.unwrap_or(nat_ip), port))
                }
                Some(RouteTarget::Gateway(g)) if net.gateways[g].kind == GatewayType::Internet => {
                    net.enis[src].public_ip.map(|ip| (ip, t.src_port))
                }
                _ => None,
            };
        }
        // From outside the VPC (or a VPC service answering).
        if let Some(dst) = net.eni_by_private_ip(t.dst) {
            let v = self.observe(ts, dst, FlowDirection::Ingress, t, f, len);
            return (!rejected(v)).then_some((t.src, t.src_port));
        }
        let dst = net.eni_by_public_ip(t.dst)?;
        let private = net.enis[dst].primary_ip();
        let q = FiveTuple { dst: private, ..t };
        if net.enis[dst].kind == EniType::NatGateway {
            let back = self.nat.get(&dst).and_then(|n| {
                n.back
                    .get(&(t.protocol, t.dst_port, t.src, t.src_port))
                    .copied()
            });
            let v = self.observe(ts, dst, FlowDirection::Ingress, q, f, len);
            // Unsolicited traffic is seen (and accepted) at the NAT ENI, then dropped.
            let (orig_ip, orig_port) = back?;
            if rejected(v) {
                return None;
            }
            let r = FiveTuple {
                dst: orig_ip,
                dst_port: orig_port,
                ..q
            };
            if rejected(self.observe(ts, dst, FlowDirection::Egress, r, f, len)) {
                return None;
            }
            let inside = net.eni_by_private_ip(orig_ip)?;
            let v = self.observe(ts, inside, FlowDirection::Ingress, r, f, len);
            return (!rejected(v)).then_some((t.src, t.src_port));
        }
        let v = self.observe(ts, dst, FlowDirection::Ingress, q, f, len);
        (!rejected(v)).then_some((t.src, t.src_port))
    }
}
