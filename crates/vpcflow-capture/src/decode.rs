//! Packet decoding: link frame → the 5-tuple, TCP flags and IP length the flow engine needs.
//!
//! Owns: link types (Ethernet with VLAN/QinQ tags and PPPoE sessions, Linux cooked v1/v2, raw IP,
//! BSD null), IPv4
//! and IPv6 (hop-by-hop, routing, destination-options and fragment extension headers), TCP, UDP,
//! ICMP, ICMPv6, GRE, ESP, AH. Non-first fragments carry no ports: they get the ports of their
//! first fragment when it was seen (a small bounded cache keyed by addresses, protocol and
//! fragment id), else 0. `bytes` is the IP total length from the header (NetFlow's and AWS's
//! convention), not the captured frame size.
//!
//! Written by hand rather than with a header library: the flow engine needs eight fields from
//! fixed offsets, and a direct decoder is the cheapest part of a multi-million-packet-per-second
//! path. Nothing here panics on input: short or malformed frames are counted and skipped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustc_hash::FxHashMap;
use vpcflow_net::{FiveTuple, Packet};

/// Link-layer types (pcap `LINKTYPE_*` numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// BSD loopback (0): a 4-byte address family.
    Null,
    /// Ethernet (1).
    Ethernet,
    /// Raw IP (101; 12 and 14 on some systems).
    Raw,
    /// Linux cooked capture v1 (113).
    LinuxSll,
    /// Linux cooked capture v2 (276).
    LinuxSll2,
}

impl LinkType {
    /// From a pcap link-type number; `None` for the ones we do not decode.
    pub fn from_pcap(n: u32) -> Option<LinkType> {
        Some(match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }
}

/// One decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Addressing and TCP flags.
    pub packet: Packet,
    /// IP total length (header + payload) in bytes.
    pub ip_len: u32,
}

/// What happened to the frames given to [`Decoder::decode`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames seen.
    pub frames: u64,
    /// Frames decoded to an IP packet.
    pub decoded: u64,
    /// Frames that carry no IP (ARP, LLDP, …): not flow traffic.
    pub non_ip: u64,
    /// Frames cut short before the headers we need ended.
    pub truncated: u64,
    /// Frames whose headers make no sense (bad version, lengths).
    pub malformed: u64,
    /// Non-first fragments whose first fragment was not seen (ports reported as 0).
    pub orphan_fragments: u64,
}

const FRAGMENT_CACHE: usize = 65_536;

type FragKey = (IpAddr, IpAddr, u8, u32);

/// A decoder with its fragment cache and counters.
#[derive(Debug, Default)]
pub struct Decoder {
    fragments: FxHashMap<FragKey, (u16, u16)>,
    stats: DecodeStats,
}

enum Fail {
    NonIp,
    Truncated,
    Malformed,
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

impl Decoder {
    /// A fresh decoder.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Counters so far.
    pub fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// Decodes one frame; `None` (counted) when it is not a decodable IP packet.
    pub fn decode(&mut self, link: LinkType, frame: &[u8]) -> Option<Decoded> {
        self.stats.frames += 1;
        match self.decode_inner(link, frame) {
            Ok(d) => {
                self.stats.decoded += 1;
                Some(d)
            }
            Err(Fail::NonIp) => {
                self.stats.non_ip += 1;
                None
            }
            Err(Fail::Truncated) => {
                self.stats.truncated += 1;
                None
            }
            Err(Fail::Malformed) => {
                self.stats.malformed += 1;
                None
            }
        }
    }

    fn decode_inner(&mut self, link: LinkType, f: &[u8]) -> Result<Decoded, Fail> {
        let (ethertype, ip) = match link {
            LinkType::Ethernet => {
                let mut et = be16(f, 12).ok_or(Fail::Truncated)?;
                let mut at = 14;
                // 802.1Q, 802.1ad (QinQ) and the old 0x9100 tag, stacked.
                while matches!(et, 0x8100 | 0x88a8 | 0x9100) {
                    et = be16(f, at + 2).ok_or(Fail::Truncated)?;
                    at += 4;
                }
                // PPPoE session: 6-byte PPPoE header, then the PPP protocol (IPv4 0x21, IPv6 0x57).
                if et == 0x8864 {
                    et = match be16(f, at + 6).ok_or(Fail::Truncated)? {
                        0x0021 => 0x0800,
                        0x0057 => 0x86dd,
                        _ => return Err(Fail::NonIp),
                    };
                    at += 8;
                }
                (Some(et), f.get(at..).ok_or(Fail::Truncated)?)
            }
            LinkType::LinuxSll => (
                Some(be16(f, 14).ok_or(Fail::Truncated)?),
                f.get(16..).ok_or(Fail::Truncated)?,
            ),
            LinkType::LinuxSll2 => (
                Some(be16(f, 0).ok_or(Fail::Truncated)?),
                f.get(20..).ok_or(Fail::Truncated)?,
            ),
            LinkType::Raw => (None, f),
            LinkType::Null => {
                let fam = f.get(..4).ok_or(Fail::Truncated)?;
                // The family is in the capturing host's byte order; accept both.
                let v = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]])
                    .min(u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]));
                let et = match v {
                    2 => 0x0800,
                    24 | 28 | 30 => 0x86dd,
                    _ => return Err(Fail::NonIp),
                };
                (Some(et), &f[4..])
            }
        };
        let version = ip.first().ok_or(Fail::Truncated)? >> 4;
        match (ethertype, version) {
            (Some(0x0800) | None, 4) => self.ipv4(ip),
            (Some(0x86dd) | None, 6) => self.ipv6(ip),
            (Some(0x0800 | 0x86dd), _) | (None, _) => Err(Fail::Malformed),
            _ => Err(Fail::NonIp),
        }
    }

    fn ipv4(&mut self, d: &[u8]) -> Result<Decoded, Fail> {
        if d.len() < 20 {
            return Err(Fail::Truncated);
        }
        let ihl = usize::from(d[0] & 0x0f) * 4;
        let total = u16::from_be_bytes([d[2], d[3]]);
        if ihl < 20 || usize::from(total) < ihl {
            return Err(Fail::Malformed);
        }
        let id = u32::from(u16::from_be_bytes([d[4], d[5]]));
        let frag = u16::from_be_bytes([d[6], d[7]]);
        let more = frag & 0x2000 != 0;
        let offset = frag & 0x1fff;
        let proto = d[9];
        // Whole-word loads: addresses assembled byte by byte and then copied as a block stall
        // store forwarding, and this is the hottest line of a capture.
        let src = IpAddr::V4(Ipv4Addr::from(u32::from_be_bytes([
            d[12], d[13], d[14], d[15],
        ])));
        let dst = IpAddr::V4(Ipv4Addr::from(u32::from_be_bytes([
            d[16], d[17], d[18], d[19],
        ])));
        let l4 = d.get(ihl..).ok_or(Fail::Truncated)?;
        self.finish(
            src,
            dst,
            proto,
            l4,
            u32::from(total),
            (more, offset != 0, id),
        )
    }

    fn ipv6(&mut self, d: &[u8]) -> Result<Decoded, Fail> {
        if d.len() < 40 {
            return Err(Fail::Truncated);
        }
        let payload = u32::from(u16::from_be_bytes([d[4], d[5]]));
        let mut next = d[6];
        let mut a = [0u8; 16];
        a.copy_from_slice(&d[8..24]);
        let src = IpAddr::V6(Ipv6Addr::from(a));
        a.copy_from_slice(&d[24..40]);
        let dst = IpAddr::V6(Ipv6Addr::from(a));
        let mut at = 40;
        let mut frag = (false, false, 0u32);
        // Walk extension headers (bounded: a crafted chain cannot loop forever).
        for _ in 0..16 {
            match next {
                0 | 43 | 60 => {
                    let h = d.get(at..at + 2).ok_or(Fail::Truncated)?;
                    next = h[0];
                    at += (usize::from(h[1]) + 1) * 8;
                }
                44 => {
                    let h = d.get(at..at + 8).ok_or(Fail::Truncated)?;
                    next = h[0];
                    let off = u16::from_be_bytes([h[2], h[3]]);
                    frag = (
                        off & 1 != 0,
                        off >> 3 != 0,
                        u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    );
                    at += 8;
                }
                _ => break,
            }
        }
        let l4 = d.get(at..).ok_or(Fail::Truncated)?;
        self.finish(src, dst, next, l4, 40 + payload, frag)
    }

    /// Reads ports and flags; `frag` = (more fragments, not the first fragment, id). Inlined so
    /// that the addresses are written once, into the result, rather than copied through the stack.
    #[inline(always)]
    fn finish(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        l4: &[u8],
        ip_len: u32,
        frag: (bool, bool, u32),
    ) -> Result<Decoded, Fail> {
        let (more, later, id) = frag;
        let (mut sport, mut dport, mut flags) = (0, 0, 0);
        if matches!(proto, 6 | 17) {
            if later {
                match self.fragments.get(&(src, dst, proto, id)) {
                    Some(&(s, d)) => (sport, dport) = (s, d),
                    None => self.stats.orphan_fragments += 1,
                }
            } else {
                sport = be16(l4, 0).ok_or(Fail::Truncated)?;
                dport = be16(l4, 2).ok_or(Fail::Truncated)?;
                if proto == 6 {
                    flags = *l4.get(13).ok_or(Fail::Truncated)?;
                }
                if more {
                    if self.fragments.len() >= FRAGMENT_CACHE {
                        // Bounded: forgetting old fragment ids only costs ports on stragglers.
                        self.fragments.clear();
                    }
                    self.fragments.insert((src, dst, proto, id), (sport, dport));
                }
            }
        }
        Ok(Decoded {
            packet: Packet {
                tuple: FiveTuple {
                    src,
                    dst,
                    protocol: proto,
                    src_port: sport,
                    dst_port: dport,
                },
                tcp_flags: flags,
            },
            ip_len,
        })
    }
}
