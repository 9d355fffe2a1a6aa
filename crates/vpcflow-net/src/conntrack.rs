//! Security-group connection tracking: which connections an ENI has let through, until when.
//!
//! Owns the table and the idle timeouts. Defaults are AWS's (EC2 API
//! `ConnectionTrackingSpecification`): TCP established 432 000 s, UDP streams (more than one
//! request-response) 180 s, other UDP 30 s; protocols other than TCP, UDP and ICMP 600 s (EC2 User
//! Guide, *Security group connection tracking*). Not documented by AWS, chosen here: ICMP 30 s like
//! one-way UDP, and a closed TCP connection (RST, or FIN both ways) lingers 60 s so the last ACKs
//! of the close still pass.
//!
//! Keys are oriented to the ENI (local address/port, remote address/port), so both directions of
//! a connection find the same entry. Expiry is checked on lookup and swept by [`Conntrack::expire`],
//! which bounds the table.

use std::net::IpAddr;

use rustc_hash::FxHashMap;
use vpcflow_record::FlowDirection;

use crate::policy::FiveTuple;

const SECOND: u64 = 1_000_000;

/// Idle timeouts, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connections not yet closed.
    pub tcp_established: u64,
    /// After RST, or FIN in both directions.
    pub tcp_closed: u64,
    /// UDP flows with more than one request-response.
    pub udp_stream: u64,
    /// Other UDP flows.
    pub udp: u64,
    /// ICMP and ICMPv6.
    pub icmp: u64,
    /// Every other protocol (GRE, ESP, …).
    pub other: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp_established: 432_000 * SECOND,
            tcp_closed: 60 * SECOND,
            udp_stream: 180 * SECOND,
            udp: 30 * SECOND,
            icmp: 30 * SECOND,
            other: 600 * SECOND,
        }
    }
}

/// A connection as seen from one ENI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnKey {
    eni: u32,
    protocol: u8,
    local: IpAddr,
    remote: IpAddr,
    local_port: u16,
    remote_port: u16,
}

impl ConnKey {
    /// The key of a packet seen at `eni` travelling `dir`.
    pub fn new(eni: usize, dir: FlowDirection, p: &FiveTuple) -> ConnKey {
        let (local, local_port, remote, remote_port) = match dir {
            FlowDirection::Egress => (p.src, p.src_port, p.dst, p.dst_port),
            FlowDirection::Ingress => (p.dst, p.dst_port, p.src, p.src_port),
        };
        ConnKey {
            eni: eni as u32,
            protocol: p.protocol,
            local,
            remote,
            local_port,
            remote_port,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Conn {
    last: u64,
    /// FIN seen from the local (bit 0) and remote (bit 1) side.
    fins: u8,
    closed: bool,
    /// Changes of direction seen (a request-response is one change).
    turns: u32,
    last_dir: FlowDirection,
}

/// The tracking table.
#[derive(Debug)]
pub struct Conntrack {
    table: FxHashMap<ConnKey, Conn>,
    timeouts: Timeouts,
}

impl Conntrack {
    /// An empty table.
    pub fn new(timeouts: Timeouts) -> Conntrack {
        Conntrack {
            table: FxHashMap::default(),
            timeouts,
        }
    }

    /// The timeouts it applies.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Connections held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn timeout(t: &Timeouts, key: &ConnKey, c: &Conn) -> u64 {
        match key.protocol {
            6 if c.closed => t.tcp_closed,
            6 => t.tcp_established,
            // Request, response, request again: more than one request-response.
            17 if c.turns >= 2 => t.udp_stream,
            17 => t.udp,
            1 | 58 => t.icmp,
            _ => t.other,
        }
    }

    fn update(c: &mut Conn, dir: FlowDirection, tcp_flags: u8, now: u64) {
        c.last = now;
        if dir != c.last_dir {
            c.turns += 1;
            c.last_dir = dir;
        }
        if tcp_flags & 0x04 != 0 {
            c.closed = true;
        }
        if tcp_flags & 0x01 != 0 {
            c.fins |= if dir == FlowDirection::Egress { 1 } else { 2 };
            if c.fins == 3 {
                c.closed = true;
            }
        }
    }

    /// If `key` is tracked and alive at `now`, refreshes it and returns true.
    pub fn touch(&mut self, key: &ConnKey, dir: FlowDirection, tcp_flags: u8, now: u64) -> bool {
        if self.table.is_empty() {
            // Nothing tracked (e.g. only untracked flows so far): skip hashing the key.
            return false;
        }
        let Some(c) = self.table.get(key).copied() else {
            return false;
        };
        if now.saturating_sub(c.last) > Self::timeout(&self.timeouts, key, &c) {
            self.table.remove(key);
            return false;
        }
        let c = self.table.get_mut(key).expect("present above");
        Self::update(c, dir, tcp_flags, now);
        true
    }

    /// Starts tracking a connection a rule allowed.
    pub fn start(&mut self, key: ConnKey, dir: FlowDirection, tcp_flags: u8, now: u64) {
        let mut c = Conn {
            last: now,
            fins: 0,
            closed: false,
            turns: 0,
            last_dir: dir,
        };
        Self::update(&mut c, dir, tcp_flags, now);
        self.table.insert(key, c);
    }

    /// The same connections with each ENI index put through `map` (the network changed and
    /// its ENIs were numbered again); those of an ENI no longer there are dropped.
    pub fn renumber(&mut self, map: &[Option<usize>]) {
        let old = std::mem::take(&mut self.table);
        self.table = old
            .into_iter()
            .filter_map(|(mut k, c)| {
                let to = map.get(k.eni as usize).copied().flatten()?;
                k.eni = u32::try_from(to).ok()?;
                Some((k, c))
            })
            .collect();
    }

    /// Drops every connection idle past its timeout at `now`.
    pub fn expire(&mut self, now: u64) {
        let t = self.timeouts;
        self.table
            .retain(|k, c| now.saturating_sub(c.last) <= Self::timeout(&t, k, c));
    }
}
