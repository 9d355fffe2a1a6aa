//! pcap and pcapng files as a packet source, and the mapping of packets to ENIs.
//!
//! Owns reading (through `pcap-parser`: streaming, both formats, any timestamp resolution),
//! turning each frame into [`Observation`]s, and feeding the [`FlowEngine`]. Which ENI sees a
//! packet, and in which direction:
//! * a capture interface mapped to an ENI (pcapng interface name = the ENI's `host_interface`, or
//!   `--eni` for the whole file): egress when the ENI owns the source address, ingress when it
//!   owns the destination; for traffic it forwards (a NAT gateway), ingress when the source is
//!   inside the VPC, egress otherwise;
//! * otherwise by address: an ENI owning the source sees it egress, an ENI owning the destination
//!   (private or public address) sees it ingress — both, for traffic between two ENIs.
//!
//! Time is the packets' own (µs); a damaged or truncated file is an error naming the packet.

use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;

use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};
use vpcflow_net::Network;
use vpcflow_net::network::prefix_contains;
use vpcflow_record::FlowDirection;

use crate::decode::{DecodeStats, Decoder, LinkType};
use crate::flow::{FlowEngine, Observation};

/// Why a capture file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PcapFileError {
    /// Neither pcap nor pcapng.
    #[error("not a pcap or pcapng file")]
    NotPcap,
    /// The file ends in the middle of a packet.
    #[error("truncated after packet {0}")]
    Truncated(u64),
    /// A block that does not parse.
    #[error("damaged after packet {packet}: {message}")]
    Damaged {
        /// Packets read before the damage.
        packet: u64,
        /// The parser's words.
        message: String,
    },
}

/// A pcapng Section Header Block's type (the same bytes in either byte order).
const SHB_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The length of the pcapng block at the start of `data` when it is below the 12 bytes every
/// block has (the parser would underflow on it), following the byte order of the section
/// (`big_endian`, set at each Section Header Block).
fn block_too_short(data: &[u8], big_endian: &mut bool) -> Option<u32> {
    let word = |b: &[u8]| -> [u8; 4] { [b[0], b[1], b[2], b[3]] };
    if data.len() < 8 {
        return None;
    }
    if data.starts_with(&SHB_TYPE) && data.len() >= 12 {
        *big_endian = data[8..12] == [0x1a, 0x2b, 0x3c, 0x4d];
    }
    let len = if *big_endian {
        u32::from_be_bytes(word(&data[4..8]))
    } else {
        u32::from_le_bytes(word(&data[4..8]))
    };
    (len < 12).then_some(len)
}

/// The latest time a packet may carry (the end of the year 9999, s): beyond it, interval
/// arithmetic in µs would overflow long before, and no clock writes it.
const LAST_SECOND: u64 = 253_402_300_799;

/// `secs` and a fraction `frac / res` of a second as µs since 1970, if not past
/// [`LAST_SECOND`].
fn micros_since_epoch(secs: u64, frac: u64, res: u64) -> Option<u64> {
    if secs > LAST_SECOND {
        return None;
    }
    let micros = (u128::from(frac) * 1_000_000 / u128::from(res.max(1))) as u64;
    Some(secs * 1_000_000 + micros)
}

/// What a pcapng parser error means for a person: what is wrong with the file, not the
/// parser's internals (its input bytes, its combinator's name).
fn parser_words<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::NomError(..) | PcapError::OwnedNomError(..) => {
            "a block does not parse (its type or length fields are not pcapng's)".to_owned()
        }
        PcapError::ReadError => "the file could not be read".to_owned(),
        PcapError::BufferTooSmall => "a block larger than the read buffer".to_owned(),
        PcapError::UnexpectedEof | PcapError::Incomplete(_) | PcapError::Eof => {
            "the file ends inside a block".to_owned()
        }
        PcapError::HeaderNotRecognized => "a block header is not pcapng's".to_owned(),
    }
}

/// Where packets of a capture go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EniMap {
    /// Every packet was captured on this ENI's interface.
    One(usize),
    /// By pcapng interface name (an ENI's `host_interface`), else by address.
    Auto,
}

/// What a capture run read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames decoded, counted, skipped.
    pub decode: DecodeStats,
    /// Frames of link types we do not decode.
    pub unsupported_link: u64,
    /// IP packets no ENI of the topology sends or receives.
    pub unmapped: u64,
}

/// The observations of one decoded packet: calls `out(eni, direction)` for each ENI that sees
/// it; false when none does.
pub(crate) fn place(
    net: &Network,
    iface_eni: Option<usize>,
    src: IpAddr,
    dst: IpAddr,
    mut out: impl FnMut(usize, FlowDirection),
) -> bool {
    if let Some(e) = iface_eni {
        let eni = &net.enis[e];
        // Its own source: egress. Otherwise ingress when addressed to it, or when forwarded
        // traffic comes from inside the VPC (a NAT gateway's requests); egress for the rest.
        let from_vpc = || {
            net.vpcs[eni.vpc]
                .cidrs
                .iter()
                .any(|c| prefix_contains(c, src))
        };
        let dir = if !eni.owns(src) && (eni.owns(dst) || from_vpc()) {
            FlowDirection::Ingress
        } else {
            FlowDirection::Egress
        };
        out(e, dir);
        return true;
    }
    let mut any = false;
    if let Some(e) = net.eni_by_private_ip(src) {
        out(e, FlowDirection::Egress);
        any = true;
    }
    if let Some(e) = net
        .eni_by_private_ip(dst)
        .or_else(|| net.eni_by_public_ip(dst))
    {
        out(e, FlowDirection::Ingress);
        any = true;
    }
    any
}

/// One frame's context, as the file describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    /// Capture time, microseconds since the Unix epoch.
    pub ts: u64,
    /// Interface index (always 0 in classic pcap).
    pub interface: usize,
    /// Link type, if it is one we decode.
    pub link: Option<LinkType>,
}

/// Reads every frame of a pcap or pcapng stream. `on_interface(index, name)` is called for each
/// interface as it is declared (classic pcap: one, unnamed); `on_frame` for each frame.
pub fn read_frames<R: Read + Send>(
    input: R,
    on_interface: &mut dyn FnMut(usize, Option<&str>),
    on_frame: &mut dyn FnMut(&FrameMeta, &[u8]),
) -> Result<u64, PcapFileError> {
    // Slow sources (pipes) may hand out a few bytes per read: `Full` makes every read as full
    // as the source allows, so sniffing and the block parser see whole headers.
    let mut input = Full(input);
    let mut magic = [0u8; 4];
    let n = input.read(&mut magic).map_err(|e| PcapFileError::Damaged {
        packet: 0,
        message: e.to_string(),
    })?;
    // 128 KiB: frames are decoded where they lie in this buffer, right after the kernel copied
    // them in, so the buffer should stay in the core's L2 cache; with 1 MiB it did not, and
    // capture ran 1.7 times slower (bench/capture.sh).
    let input = BufReader::with_capacity(
        READ_BUFFER,
        std::io::Cursor::new(magic[..n].to_vec()).chain(input),
    );
    if n == 4 && CLASSIC_MAGICS.contains(&magic) {
        read_classic(input, on_interface, on_frame)
    } else {
        read_blocks(Full(input), on_interface, on_frame)
    }
}

/// Bytes read from a capture file at a time (see [`read_frames`]).
pub const READ_BUFFER: usize = 1 << 17;

/// A reader whose reads return as many bytes as asked for, unless the source has ended.
struct Full<R>(R);

impl<R: Read> Read for Full<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

/// Reads a pcap or pcapng stream into `engine`; returns the number of frames read.
pub fn feed<R: Read + Send>(
    input: R,
    map: &EniMap,
    engine: &mut FlowEngine,
    stats: &mut CaptureStats,
) -> Result<u64, PcapFileError> {
    feed_all(input, map, std::slice::from_mut(engine), stats)
}

/// [`feed`] into several engines over one network (one per aggregation interval in use) in one
/// pass over the file: policy and connection tracking run once per packet, in the first engine,
/// and the others count the packet with its verdict. Panics if `engines` is empty.
pub fn feed_all<R: Read + Send>(
    input: R,
    map: &EniMap,
    engines: &mut [FlowEngine],
    stats: &mut CaptureStats,
) -> Result<u64, PcapFileError> {
    let net = std::sync::Arc::clone(engines[0].network());
    let fixed = match map {
        EniMap::One(e) => Some(*e),
        EniMap::Auto => None,
    };
    // Interface index → ENI (by host_interface name), filled as interfaces are declared.
    // Shared by the two callbacks (interfaces are declared before their frames).
    let iface_eni: std::cell::RefCell<Vec<Option<usize>>> = std::cell::RefCell::default();
    let mut decoder = Decoder::new();
    let result = read_frames(
        input,
        &mut |index, name| {
            let mut map = iface_eni.borrow_mut();
            if map.len() <= index {
                map.resize(index + 1, None);
            }
            map[index] = fixed.or_else(|| {
                name.and_then(|n| {
                    net.enis
                        .iter()
                        .position(|e| e.host_interface.as_deref() == Some(n))
                })
            });
        },
        &mut |meta, data| {
            let Some(link) = meta.link else {
                stats.unsupported_link += 1;
                return;
            };
            let Some(d) = decoder.decode(link, data) else {
                return;
            };
            let t = d.packet.tuple;
            let eni = iface_eni
                .borrow()
                .get(meta.interface)
                .copied()
                .flatten()
                .or(fixed);
            let placed = place(&net, eni, t.src, t.dst, |eni, direction| {
                let obs = Observation {
                    ts: meta.ts,
                    eni,
                    direction,
                    packet: d.packet,
                    len: d.ip_len,
                };
                let (first, rest) = engines.split_first_mut().expect("at least one engine");
                let decided = first.observe(&obs);
                for e in rest {
                    e.observe_decided(&obs, decided);
                }
            });
            if !placed {
                stats.unmapped += 1;
            }
        },
    );
    let d = decoder.stats();
    let s = &mut stats.decode;
    s.frames += d.frames;
    s.decoded += d.decoded;
    s.non_ip += d.non_ip;
    s.truncated += d.truncated;
    s.malformed += d.malformed;
    s.orphan_fragments += d.orphan_fragments;
    result
}

/// Frames larger than this are damage, not data (the largest snap length tools use is 256 KiB).
const MAX_FRAME: usize = 1 << 18;

/// Classic pcap magics: micro- and nanosecond resolution, little- and big-endian.
const CLASSIC_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];

/// Classic pcap, read directly: a 24-byte header, then a 16-byte header per frame. This is the
/// hot path for big captures (the generic block parser costs more than decoding does).
fn read_classic<R: Read>(
    mut input: BufReader<R>,
    on_interface: &mut dyn FnMut(usize, Option<&str>),
    on_frame: &mut dyn FnMut(&FrameMeta, &[u8]),
) -> Result<u64, PcapFileError> {
    let mut header = [0u8; 24];
    input
        .read_exact(&mut header)
        .map_err(|_| PcapFileError::NotPcap)?;
    let little = header[0] == 0xd4 || header[0] == 0x4d;
    let nanos = header[..4] == [0x4d, 0x3c, 0xb2, 0xa1] || header[..4] == [0xa1, 0xb2, 0x3c, 0x4d];
    let word = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let link = LinkType::from_pcap(word(&header[20..24]));
    on_interface(0, None);
    // A record header: seconds, fraction (µs or ns), captured length, original length.
    let record = |h: &[u8]| {
        let frac = u64::from(word(&h[4..8]));
        let micros = if nanos { frac / 1000 } else { frac };
        let ts = u64::from(word(&h[0..4])) * 1_000_000 + micros;
        (
            FrameMeta {
                ts,
                interface: 0,
                link,
            },
            word(&h[8..12]) as usize,
        )
    };
    let mut rec = [0u8; 16];
    let mut frame = vec![0u8; 65_536];
    let mut packets = 0u64;
    loop {
        // A clean end is an end exactly between two frames.
        let buffered = match input.fill_buf() {
            Ok([]) => break,
            Ok(b) => b,
            Err(e) => {
                return Err(PcapFileError::Damaged {
                    packet: packets,
                    message: e.to_string(),
                });
            }
        };
        // Fast path: the whole record is in the reader's buffer, so decode it where it lies
        // rather than copying it out first. Records that straddle a refill take the slow path.
        if buffered.len() >= 16 {
            let (meta, caplen) = record(&buffered[..16]);
            if caplen <= MAX_FRAME && buffered.len() >= 16 + caplen {
                packets += 1;
                on_frame(&meta, &buffered[16..16 + caplen]);
                input.consume(16 + caplen);
                continue;
            }
        }
        input
            .read_exact(&mut rec)
            .map_err(|_| PcapFileError::Truncated(packets))?;
        let (meta, caplen) = record(&rec);
        if caplen > MAX_FRAME {
            return Err(PcapFileError::Damaged {
                packet: packets,
                message: format!("frame of {caplen} bytes"),
            });
        }
        if frame.len() < caplen {
            frame.resize(caplen, 0);
        }
        input
            .read_exact(&mut frame[..caplen])
            .map_err(|_| PcapFileError::Truncated(packets))?;
        packets += 1;
        on_frame(&meta, &frame[..caplen]);
    }
    Ok(packets)
}

struct Iface {
    link: Option<LinkType>,
    /// Units per second of this interface's timestamps.
    resolution: u64,
    offset: i64,
}

/// pcapng (and anything else `pcap-parser` reads), block by block.
fn read_blocks<R: Read + Send>(
    input: R,
    on_interface: &mut dyn FnMut(usize, Option<&str>),
    on_frame: &mut dyn FnMut(&FrameMeta, &[u8]),
) -> Result<u64, PcapFileError> {
    let mut reader = create_reader(1 << 20, input).map_err(|e| match e {
        PcapError::Eof | PcapError::HeaderNotRecognized | PcapError::Incomplete(_) => {
            PcapFileError::NotPcap
        }
        other => PcapFileError::Damaged {
            packet: 0,
            message: parser_words(&other),
        },
    })?;
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut packets = 0u64;
    let mut stalled = false;
    let ng = reader.data().starts_with(&SHB_TYPE);
    let mut big_endian = false;
    loop {
        if ng && let Some(len) = block_too_short(reader.data(), &mut big_endian) {
            return Err(PcapFileError::Damaged {
                packet: packets,
                message: format!("a block's length ({len}) is below pcapng's least, 12"),
            });
        }
        match reader.next() {
            Ok((offset, block)) => {
                stalled = false;
                let frame: Option<(u64, usize, &[u8])> = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        let resolution = if h.is_nanosecond_precision() {
                            1_000_000_000
                        } else {
                            1_000_000
                        };
                        ifaces.push(Iface {
                            link: LinkType::from_pcap(h.network.0 as u32),
                            resolution,
                            offset: 0,
                        });
                        on_interface(0, None);
                        None
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let res = ifaces.first().map_or(1_000_000, |i| i.resolution);
                        let frac = u64::from(b.ts_usec) * 1_000_000 / res;
                        Some((u64::from(b.ts_sec) * 1_000_000 + frac, 0, b.data))
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        // Interface numbering restarts with every section.
                        ifaces.clear();
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let name = idb.if_name().and_then(Result::ok);
                        on_interface(ifaces.len(), name);
                        ifaces.push(Iface {
                            link: LinkType::from_pcap(idb.linktype.0 as u32),
                            resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                            offset: idb.ts_offset(),
                        });
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let i = epb.if_id as usize;
                        let (res, off) = ifaces
                            .get(i)
                            .map_or((1_000_000, 0), |f| (f.resolution, f.offset));
                        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let secs = (raw / res).saturating_add_signed(off);
                        let Some(ts) = micros_since_epoch(secs, raw % res, res) else {
                            return Err(PcapFileError::Damaged {
                                packet: packets,
                                message: format!(
                                    "the next packet's time ({secs} s since 1970) is past the \
                                     year 9999"
                                ),
                            });
                        };
                        let len = (epb.caplen as usize).min(epb.data.len());
                        Some((ts, i, &epb.data[..len]))
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => Some((0, 0, spb.data)),
                    PcapBlockOwned::NG(_) => None,
                };
                if let Some((ts, interface, data)) = frame {
                    packets += 1;
                    let link = ifaces.get(interface).and_then(|f| f.link);
                    on_frame(
                        &FrameMeta {
                            ts,
                            interface,
                            link,
                        },
                        data,
                    );
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::UnexpectedEof) => return Err(PcapFileError::Truncated(packets)),
            Err(PcapError::Incomplete(_)) => {
                if reader.reader_exhausted() {
                    // The input ended inside a block.
                    return Err(PcapFileError::Truncated(packets));
                }
                let before = reader.data().len();
                reader.refill().map_err(|e| PcapFileError::Damaged {
                    packet: packets,
                    message: parser_words(&e),
                })?;
                if reader.data().len() == before && !reader.reader_exhausted() {
                    // A block larger than the buffer: grow it, within reason.
                    if stalled || !reader.grow(64 << 20) {
                        return Err(PcapFileError::Damaged {
                            packet: packets,
                            message: "a block larger than 64 MiB".into(),
                        });
                    }
                    stalled = true;
                }
            }
            Err(e) => {
                return Err(PcapFileError::Damaged {
                    packet: packets,
                    message: parser_words(&e),
                });
            }
        }
    }
    Ok(packets)
}
