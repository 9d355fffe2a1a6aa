//! Flow records of the network's ENIs as a flow engine emits them, not built yet, and how they
//! are built: the record type that capture produces and delivery consumes, below both.
//!
//! A [`RawRecord`] is a closed flow (key and counters) or an ENI's status for an interval, about
//! 100 bytes where a `FlowRecord` is about 1 KB. [`RecordBuilder`] builds it on whatever thread
//! consumes records, so the thread that runs the engine only aggregates. Building owns AWS's
//! address-reporting rules (flow-log-format.md §1.2): an egress record's `srcaddr` is the
//! ENI's primary private address when the packet's source is none of its addresses, an ingress
//! record's `dstaddr` likewise; `pkt-srcaddr`/`pkt-dstaddr` always carry the packet's.

use std::net::IpAddr;
use std::sync::Arc;

use vpcflow_record::{
    Action, Count, FlowDirection, FlowRecord, IpType, LogStatus, Protocol, TcpFlags,
};

use crate::{FiveTuple, Network};

const MICROS: u64 = 1_000_000;

/// What identifies a flow record: one direction of one 5-tuple on one ENI, with one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// The ENI (index in the network).
    pub eni: u32,
    /// Leaving the ENI.
    pub egress: bool,
    /// Rejected.
    pub reject: bool,
    /// The packets' 5-tuple (ports 0 for portless protocols).
    pub tuple: FiveTuple,
}

/// What a flow counted in its interval.
#[derive(Debug, Clone, Copy)]
pub struct FlowAcc {
    /// First packet (µs).
    pub first: u64,
    /// Last packet (µs).
    pub last: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes (IP total lengths).
    pub bytes: u64,
    /// AWS's TCP flag values, ORed.
    pub flags: u8,
}

/// A record not yet built: a closed flow or an ENI's status for an interval.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord(Raw);

#[derive(Debug, Clone, Copy)]
enum Raw {
    Flow(FlowKey, FlowAcc),
    Status(usize, u64, u64, LogStatus),
}

impl RawRecord {
    /// A closed flow.
    pub fn flow(key: FlowKey, acc: FlowAcc) -> RawRecord {
        RawRecord(Raw::Flow(key, acc))
    }

    /// ENI `eni`'s status (NODATA, SKIPDATA) for the interval `[start, end)` (µs).
    pub fn status(eni: usize, start: u64, end: u64, status: LogStatus) -> RawRecord {
        RawRecord(Raw::Status(eni, start, end, status))
    }

    /// The ENI (index in the network) the record belongs to.
    pub fn eni(&self) -> usize {
        match self.0 {
            Raw::Flow(k, _) => k.eni as usize,
            Raw::Status(eni, ..) => eni,
        }
    }

    /// When it starts (µs): a flow's first packet, a status record's interval.
    pub fn start_us(&self) -> u64 {
        match self.0 {
            Raw::Flow(_, acc) => acc.first,
            Raw::Status(_, start, ..) => start,
        }
    }
}

/// Turns [`RawRecord`]s into `FlowRecord`s: the ENI's fields and AWS's address-reporting rules
/// need the network, nothing else.
#[derive(Clone)]
pub struct RecordBuilder {
    net: Arc<Network>,
}

impl RecordBuilder {
    /// A builder for records of `net`'s ENIs.
    pub fn new(net: Arc<Network>) -> RecordBuilder {
        RecordBuilder { net }
    }

    /// Builds a record.
    pub fn build(&self, raw: &RawRecord) -> FlowRecord {
        match raw.0 {
            Raw::Flow(k, a) => self.record(&k, &a),
            Raw::Status(eni, start, end, st) => self.status_record(eni, start, end, st),
        }
    }

    /// The ENI-level fields every record of an ENI carries.
    fn eni_fields(&self, eni: usize, rec: &mut FlowRecord) {
        let e = &self.net.enis[eni];
        let subnet = &self.net.subnets[e.subnet];
        rec.account_id = Some(e.owner.as_str().into());
        rec.interface_id = Some(e.id.as_str().into());
        rec.vpc_id = Some(self.net.vpcs[e.vpc].id.as_str().into());
        rec.subnet_id = Some(subnet.id.as_str().into());
        rec.instance_id = if e.kind.requester_managed() {
            None
        } else {
            e.instance_id.as_deref().map(Into::into)
        };
        rec.region = Some(self.net.region.as_str().into());
        rec.az_id = Some(subnet.az_id.as_str().into());
        rec.interface_type = e.kind.interface_type().map(Into::into);
    }

    fn status_record(&self, eni: usize, start: u64, end: u64, status: LogStatus) -> FlowRecord {
        let mut rec = FlowRecord::default();
        self.eni_fields(eni, &mut rec);
        rec.start = Some(Count(start / MICROS));
        rec.end = Some(Count(end / MICROS));
        rec.log_status = Some(status);
        rec
    }

    fn record(&self, key: &FlowKey, acc: &FlowAcc) -> FlowRecord {
        let eni = key.eni as usize;
        let e = &self.net.enis[eni];
        let t = key.tuple;
        let mut rec = FlowRecord::default();
        self.eni_fields(eni, &mut rec);
        let reported = |ip: IpAddr| {
            if e.owns(ip) && e.public_ip != Some(ip) {
                ip
            } else {
                e.primary_ip()
            }
        };
        let (src, dst, direction) = if key.egress {
            (reported(t.src), t.dst, FlowDirection::Egress)
        } else {
            (t.src, reported(t.dst), FlowDirection::Ingress)
        };
        rec.srcaddr = Some(src);
        rec.dstaddr = Some(dst);
        rec.srcport = Some(t.src_port);
        rec.dstport = Some(t.dst_port);
        rec.protocol = Some(Protocol(t.protocol));
        rec.packets = Some(Count(acc.packets));
        rec.bytes = Some(Count(acc.bytes));
        rec.start = Some(Count(acc.first / MICROS));
        rec.end = Some(Count(acc.last / MICROS));
        rec.action = Some(if key.reject {
            Action::Reject
        } else {
            Action::Accept
        });
        rec.log_status = Some(LogStatus::Ok);
        rec.tcp_flags = Some(TcpFlags(acc.flags));
        rec.r#type = Some(if t.src.is_ipv4() {
            IpType::IPv4
        } else {
            IpType::IPv6
        });
        rec.pkt_srcaddr = Some(t.src);
        rec.pkt_dstaddr = Some(t.dst);
        rec.flow_direction = Some(direction);
        rec.traffic_path = if key.egress {
            self.net.traffic_path(eni, t.dst)
        } else {
            None
        };
        rec
    }
}
