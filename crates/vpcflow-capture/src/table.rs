//! The flow table: open addressing over 64-byte slots, one cache line each.
//!
//! Owns the compact form of a flow (key and counters in one slot) and its lookup. The flow
//! table is probed once per packet, and with a general map (a hash index beside an entry
//! vector) that probe cost three cache misses; here it costs one. Closing an interval compacts
//! the slots and sorts them, so a million flows exist twice in memory only for that moment
//! (1 M flows: 2^21 slots, 128 MiB, and 192 MiB while growing into them). Arrays of 1 MiB and
//! more are mapped from the OS and unmapped when dropped ([`Storage`]): through the allocator,
//! every generation of a growing table stayed counted for a while after it was freed (mimalloc
//! keeps freed memory for a second), 298 MB at 1 M flows where the arrays need 192.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vpcflow_net::FiveTuple;

const EGRESS: u8 = 1;
const REJECT: u8 = 2;
const V6: u8 = 4;
const USED: u8 = 8;

/// A flow's identity, compact: addresses in 16 bytes each (IPv4 in the last four), the ENI, the
/// protocol, direction/verdict/family bits, ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub(crate) struct Key {
    src: [u8; 16],
    dst: [u8; 16],
    eni: u16,
    proto: u8,
    bits: u8,
    sport: u16,
    dport: u16,
}

/// A flow's counters: first and last packet as signed µs offsets from the interval's start
/// (late packets up to 35 minutes before it keep their time; older ones count from that
/// bound), packets with the OR of TCP flags in the top byte, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub(crate) struct Acc {
    first: i32,
    last: i32,
    packets_flags: u64,
    bytes: u64,
}

/// One slot: a flow, or empty (`USED` clear; all zeros is empty).
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub(crate) struct Slot {
    pub(crate) key: Key,
    pub(crate) acc: Acc,
}

/// A table's slot array: on the heap when small, mapped from the OS (zeroed: every slot empty)
/// when 1 MiB or more, so that dropping it returns the memory at once.
enum Storage {
    Heap(Vec<Slot>),
    Mapped(memmap2::MmapMut),
}

/// Arrays from this size on are mapped.
const MAP_BYTES: usize = 1 << 20;

impl Storage {
    fn empty(n: usize) -> Storage {
        let bytes = n * size_of::<Slot>();
        if bytes >= MAP_BYTES
            && let Ok(map) = memmap2::MmapMut::map_anon(bytes)
        {
            return Storage::Mapped(map);
        }
        Storage::Heap(vec![Slot::default(); n])
    }
}

impl std::ops::Deref for Storage {
    type Target = [Slot];
    fn deref(&self) -> &[Slot] {
        match self {
            Storage::Heap(v) => v,
            Storage::Mapped(m) => bytemuck::cast_slice(m),
        }
    }
}

impl std::ops::DerefMut for Storage {
    fn deref_mut(&mut self) -> &mut [Slot] {
        match self {
            Storage::Heap(v) => v,
            Storage::Mapped(m) => bytemuck::cast_slice_mut(m),
        }
    }
}

const PACKETS: u64 = (1 << 56) - 1;

fn octets(ip: IpAddr) -> ([u8; 16], bool) {
    match ip {
        IpAddr::V4(v4) => {
            let mut o = [0; 16];
            o[12..].copy_from_slice(&v4.octets());
            (o, false)
        }
        IpAddr::V6(v6) => (v6.octets(), true),
    }
}

fn addr(o: [u8; 16], v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(o))
    } else {
        IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
    }
}

fn offset(ts: u64, base: u64) -> i32 {
    (ts as i64 - base as i64).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

impl Key {
    /// The key of a packet's flow. ENI indexes fit 16 bits (checked when the engine is made).
    pub(crate) fn new(eni: usize, egress: bool, reject: bool, t: &FiveTuple) -> Key {
        let (src, v6) = octets(t.src);
        let (dst, _) = octets(t.dst);
        Key {
            src,
            dst,
            eni: eni as u16,
            proto: t.protocol,
            bits: USED
                | if egress { EGRESS } else { 0 }
                | if reject { REJECT } else { 0 }
                | if v6 { V6 } else { 0 },
            sport: t.src_port,
            dport: t.dst_port,
        }
    }

    pub(crate) fn eni(&self) -> usize {
        usize::from(self.eni)
    }

    pub(crate) fn egress(&self) -> bool {
        self.bits & EGRESS != 0
    }

    pub(crate) fn reject(&self) -> bool {
        self.bits & REJECT != 0
    }

    pub(crate) fn tuple(&self) -> FiveTuple {
        let v6 = self.bits & V6 != 0;
        FiveTuple {
            src: addr(self.src, v6),
            dst: addr(self.dst, v6),
            protocol: self.proto,
            src_port: self.sport,
            dst_port: self.dport,
        }
    }

    /// What orders keys as `FlowKey`'s derived order does: direction, verdict, then the
    /// tuple's addresses (IPv4 before IPv6, then by octets), protocol and ports.
    pub(crate) fn order(&self) -> (u8, u8, u8, [u8; 16], [u8; 16], u8, u16, u16) {
        (
            self.bits & EGRESS,
            self.bits & REJECT,
            self.bits & V6,
            self.src,
            self.dst,
            self.proto,
            self.sport,
            self.dport,
        )
    }

    /// A well-mixed 64-bit hash; the table uses its top bits.
    fn hash(&self) -> u64 {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let word = |b: &[u8; 16], at: usize| {
            u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
        };
        let meta = u64::from(self.eni)
            | u64::from(self.proto) << 16
            | u64::from(self.bits) << 24
            | u64::from(self.sport) << 32
            | u64::from(self.dport) << 48;
        let mut h = meta.wrapping_mul(K);
        h = (h.rotate_left(29) ^ word(&self.src, 8)).wrapping_mul(K);
        h = (h.rotate_left(29) ^ word(&self.dst, 8)).wrapping_mul(K);
        if self.bits & V6 != 0 {
            h = (h.rotate_left(29) ^ word(&self.src, 0)).wrapping_mul(K);
            h = (h.rotate_left(29) ^ word(&self.dst, 0)).wrapping_mul(K);
        }
        h ^ h >> 31
    }
}

impl Acc {
    fn new(ts: u64, base: u64, len: u32, flags: u8) -> Acc {
        let at = offset(ts, base);
        Acc {
            first: at,
            last: at,
            packets_flags: 1 | u64::from(flags) << 56,
            bytes: u64::from(len),
        }
    }

    fn add(&mut self, ts: u64, base: u64, len: u32, flags: u8) {
        let at = offset(ts, base);
        self.first = self.first.min(at);
        self.last = self.last.max(at);
        let packets = (self.packets_flags & PACKETS) + 1;
        let flags = (self.packets_flags >> 56) as u8 | flags;
        self.packets_flags = packets.min(PACKETS) | u64::from(flags) << 56;
        self.bytes += u64::from(len);
    }

    /// First packet, µs since the epoch, for an interval starting at `base`.
    pub(crate) fn first(&self, base: u64) -> u64 {
        base.saturating_add_signed(i64::from(self.first))
    }

    /// Last packet, µs since the epoch.
    pub(crate) fn last(&self, base: u64) -> u64 {
        base.saturating_add_signed(i64::from(self.last))
    }

    pub(crate) fn packets(&self) -> u64 {
        self.packets_flags & PACKETS
    }

    pub(crate) fn flags(&self) -> u8 {
        (self.packets_flags >> 56) as u8
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The sort key within an interval.
    pub(crate) fn first_offset(&self) -> i32 {
        self.first
    }
}

/// The table.
pub(crate) struct FlowTable {
    slots: Storage,
    len: usize,
    shift: u32,
}

const INITIAL_BITS: u32 = 10;

impl Default for FlowTable {
    fn default() -> FlowTable {
        FlowTable::with_bits(INITIAL_BITS)
    }
}

impl FlowTable {
    fn with_bits(bits: u32) -> FlowTable {
        FlowTable {
            slots: Storage::empty(1 << bits),
            len: 0,
            shift: 64 - bits,
        }
    }

    /// Flows held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds a packet to its flow, making the flow if there is room (`limit` flows); false when
    /// the flow is new and the table is full.
    pub(crate) fn add(
        &mut self,
        key: &Key,
        limit: usize,
        (ts, base, len, flags): (u64, u64, u32, u8),
    ) -> bool {
        // Grow at 3/4 full: linear probing stays short below that.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = (key.hash() >> self.shift) as usize;
        loop {
            let slot = &mut self.slots[i];
            if slot.key.bits & USED == 0 {
                if self.len >= limit {
                    return false;
                }
                *slot = Slot {
                    key: *key,
                    acc: Acc::new(ts, base, len, flags),
                };
                self.len += 1;
                return true;
            }
            if slot.key == *key {
                slot.acc.add(ts, base, len, flags);
                return true;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let bits = 64 - self.shift + 1;
        let old = std::mem::replace(self, FlowTable::with_bits(bits));
        let mask = self.slots.len() - 1;
        for &s in old.slots.iter().filter(|s| s.key.bits & USED != 0) {
            let mut i = (s.key.hash() >> self.shift) as usize;
            while self.slots[i].key.bits & USED != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
            self.len += 1;
        }
    }

    /// The same flows with each ENI index put through `map` (the network changed and its
    /// ENIs were numbered again); flows of an ENI no longer there are dropped.
    pub(crate) fn renumber(&mut self, map: &[Option<usize>]) {
        let bits = 64 - self.shift;
        let old = std::mem::replace(self, FlowTable::with_bits(bits));
        let mask = self.slots.len() - 1;
        for &s in old.slots.iter().filter(|s| s.key.bits & USED != 0) {
            let Some(to) = map.get(s.key.eni()).copied().flatten() else {
                continue;
            };
            let mut slot = s;
            slot.key.eni = u16::try_from(to).expect("the engine refuses networks of more ENIs");
            let mut i = (slot.key.hash() >> self.shift) as usize;
            while self.slots[i].key.bits & USED != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
            self.len += 1;
        }
    }

    /// Takes every flow out (the table starts afresh): the slots compacted in place, in a
    /// vector no larger than they need when few (closed intervals wait in memory until drained,
    /// and a long quiet gap closes many of them: each must cost its flows, not the table).
    pub(crate) fn take(&mut self) -> Vec<Slot> {
        if self.len == 0 {
            return Vec::new();
        }
        let len = self.len;
        match std::mem::take(self).slots {
            Storage::Heap(mut slots) => {
                slots.retain(|s| s.key.bits & USED != 0);
                if slots.capacity() > 4 * slots.len() {
                    slots.shrink_to_fit();
                }
                slots
            }
            // The flows copied out into a vector of their size (grown by doubling, it would
            // free each smaller one on the way), the mapping returned.
            Storage::Mapped(map) => {
                let mut flows = Vec::with_capacity(len);
                let slots = bytemuck::cast_slice::<u8, Slot>(&map);
                flows.extend(slots.iter().filter(|s| s.key.bits & USED != 0).copied());
                flows
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn tuple(a: u8, b: u8, v6: bool, sport: u16) -> FiveTuple {
        let ip = |x: u8| -> IpAddr {
            if v6 {
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(x)))
            } else {
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, x))
            }
        };
        FiveTuple {
            src: ip(a),
            dst: ip(b),
            protocol: 6,
            src_port: sport,
            dst_port: 443,
        }
    }

    #[test]
    fn slots_are_one_cache_line() {
        assert_eq!(size_of::<Slot>(), 64);
    }

    /// A table that grows past 1 MiB moves to mapped storage and keeps every flow, and taking
    /// them out gives each once.
    #[test]
    fn a_large_table_is_mapped_and_keeps_every_flow() {
        let mut t = FlowTable::default();
        let n = 40_000u16;
        for i in 0..n {
            let key = Key::new(0, false, false, &tuple((i >> 8) as u8, i as u8, false, i));
            assert!(t.add(&key, usize::MAX, (1, 0, 40, 0)));
            assert!(
                t.add(&key, usize::MAX, (2, 0, 60, 0)),
                "the same flow again"
            );
        }
        assert!(
            matches!(t.slots, Storage::Mapped(_)),
            "{} slots",
            t.slots.len()
        );
        assert_eq!(t.len(), usize::from(n));
        let flows = t.take();
        assert_eq!(flows.len(), usize::from(n));
        assert!(
            flows
                .iter()
                .all(|s| s.acc.packets() == 2 && s.acc.bytes() == 100)
        );
        let mut ports: Vec<u16> = flows.iter().map(|s| s.key.tuple().src_port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), usize::from(n));
        assert!(
            matches!(t.slots, Storage::Heap(_)),
            "a fresh table after take"
        );
    }

    /// The map the table is checked against: flow → (first, last, packets, bytes, flags).
    type Model = HashMap<(usize, bool, bool, FiveTuple), (u64, u64, u64, u64, u8)>;

    proptest! {
        /// The table agrees with a plain map on any packet sequence, through growth, with a
        /// limit; keys and counters come back out intact.
        #[test]
        fn agrees_with_a_map(
            packets in proptest::collection::vec(
                (0..3usize, any::<bool>(), any::<bool>(), 0..40u8, 0..40u8, any::<bool>(), 0..3u16, 0..5_000_000u64, 40..1500u32, any::<u8>()),
                1..3000,
            ),
            limit in 1..2500usize,
        ) {
            let base = 1_700_000_000_000_000u64;
            let mut table = FlowTable::default();
            let mut map = Model::new();
            for &(eni, egress, reject, a, b, v6, sport, dt, len, flags) in &packets {
                let t = tuple(a, b, v6, sport);
                let ts = base + dt;
                let added = table.add(&Key::new(eni, egress, reject, &t), limit, (ts, base, len, flags));
                let k = (eni, egress, reject, t);
                if let Some(e) = map.get_mut(&k) {
                    prop_assert!(added);
                    e.0 = e.0.min(ts);
                    e.1 = e.1.max(ts);
                    e.2 += 1;
                    e.3 += u64::from(len);
                    e.4 |= flags;
                } else if map.len() < limit {
                    prop_assert!(added);
                    map.insert(k, (ts, ts, 1, u64::from(len), flags));
                } else {
                    prop_assert!(!added, "a new flow beyond the limit is refused");
                }
            }
            prop_assert_eq!(table.len(), map.len());
            let out = table.take();
            prop_assert_eq!(out.len(), map.len());
            for s in out {
                let k = (s.key.eni(), s.key.egress(), s.key.reject(), s.key.tuple());
                let want = map[&k];
                let got = (s.acc.first(base), s.acc.last(base), s.acc.packets(), s.acc.bytes(), s.acc.flags());
                prop_assert_eq!(got, want);
            }
            prop_assert_eq!(table.len(), 0);
        }
    }
}
