//! Gzip for flow-log text: inflating a whole file ([`inflate`]: libdeflate for one member, every
//! member otherwise), and the members of a large file one after another as raw deflate streams
//! ([`RawMembers`]), whose CRC-32s the decoding threads compute and [`check_members`] checks, so
//! that the thread the whole read waits on only inflates.

use std::borrow::Cow;
use std::io::Read;

use super::{TextError, is_gzip};

/// The bytes of a file as text: inflated when it starts with the gzip magic, as is otherwise.
pub fn inflate<'a>(file: &str, data: &'a [u8]) -> Result<Cow<'a, [u8]>, TextError> {
    if data.len() < 18 || !is_gzip(data) {
        return Ok(Cow::Borrowed(data));
    }
    // Fast path: libdeflate inflates a whole member at once, about twice zlib's speed, and
    // checks that member's CRC and size against its own trailer. The file is that one member
    // only when its trailer is the file's last 8 bytes: the output is as long as the file's
    // last size field says, and no second member starts after a trailer of that size (a member
    // starts with 1f 8b 08 right after the 4-byte size that ends the one before it). Files of
    // several members (bgzip, `cat a.gz b.gz`, even two identical members) take the streaming
    // path, so that nothing is silently dropped.
    let n = data.len();
    let size = u32::from_le_bytes([data[n - 4], data[n - 3], data[n - 2], data[n - 1]]) as usize;
    // The size field is the file's word, not a fact: deflate cannot expand n bytes past about
    // 1032 n, so a larger claim is damage, and nothing that large is allocated for it.
    let plausible = size <= n.saturating_mul(MAX_DEFLATE_RATIO);
    if plausible {
        let mut out = vec![0u8; size];
        let mut d = libdeflater::Decompressor::new();
        if let Ok(len) = d.gzip_decompress(data, &mut out)
            && len == size
        {
            let mut next_member = (size as u32).to_le_bytes().to_vec();
            next_member.extend_from_slice(&[0x1f, 0x8b, 0x08]);
            if memchr::memmem::find(&data[10..n - 8], &next_member).is_none() {
                return Ok(Cow::Owned(out));
            }
        }
    }
    let mut out = Vec::with_capacity(if plausible { size.max(n * 4) } else { n * 4 });
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| TextError::Inflate {
            file: file.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(Cow::Owned(out))
}

/// The most deflate can expand its input (258-byte matches from 2-bit codes: about 1032:1).
const MAX_DEFLATE_RATIO: usize = 1032;

/// One gzip member as inflated: its output range, and its trailer's CRC-32 and size.
#[derive(Debug, Clone, Copy)]
pub(super) struct Member {
    start: u64,
    pub(super) end: u64,
    crc: u32,
    size: u32,
}

/// The members of a gzip file, inflated one after another as raw deflate streams. Unlike
/// flate2's `MultiGzDecoder` it does not compute the CRC-32 itself: it records where each
/// member's output ends and what its trailer says, so that the CRCs can be computed on the
/// decoding threads, off the inflating thread that the whole read waits on.
pub(super) struct RawMembers<'a> {
    /// Compressed bytes not consumed yet.
    rest: &'a [u8],
    inflater: flate2::Decompress,
    in_member: bool,
    /// Bytes produced so far.
    out: u64,
    member_start: u64,
    /// The members ended so far.
    pub(super) members: Vec<Member>,
}

impl<'a> RawMembers<'a> {
    pub(super) fn new(data: &'a [u8]) -> RawMembers<'a> {
        RawMembers {
            rest: data,
            inflater: flate2::Decompress::new(false),
            in_member: false,
            out: 0,
            member_start: 0,
            members: Vec::new(),
        }
    }

    /// Skips a member's header (RFC 1952 §2.3) at the start of `rest`.
    fn skip_header(&mut self) -> std::io::Result<()> {
        let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
        let d = self.rest;
        if d.len() < 10 || !is_gzip(d) {
            return Err(bad("a gzip member does not start with the gzip magic"));
        }
        if d[2] != 8 || d[3] & 0xe0 != 0 {
            return Err(bad("invalid gzip header"));
        }
        let flags = d[3];
        let mut at = 10;
        if flags & 0x04 != 0 {
            let n = d
                .get(at..at + 2)
                .map(|x| usize::from(u16::from_le_bytes([x[0], x[1]])))
                .ok_or_else(|| bad("truncated gzip header"))?;
            at += 2 + n;
        }
        for flag in [0x08, 0x10] {
            if flags & flag != 0 {
                let n = d
                    .get(at..)
                    .and_then(|x| memchr::memchr(0, x))
                    .ok_or_else(|| bad("truncated gzip header"))?;
                at += n + 1;
            }
        }
        if flags & 0x02 != 0 {
            at += 2;
        }
        self.rest = d.get(at..).ok_or_else(|| bad("truncated gzip header"))?;
        Ok(())
    }
}

impl Read for RawMembers<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if !self.in_member {
                if self.rest.is_empty() {
                    return Ok(0);
                }
                self.skip_header()?;
                self.inflater.reset(false);
                self.in_member = true;
                self.member_start = self.out;
            }
            let (in0, out0) = (self.inflater.total_in(), self.inflater.total_out());
            let status = self
                .inflater
                .decompress(self.rest, buf, flate2::FlushDecompress::None)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let used = (self.inflater.total_in() - in0) as usize;
            let made = (self.inflater.total_out() - out0) as usize;
            self.rest = &self.rest[used..];
            self.out += made as u64;
            if status == flate2::Status::StreamEnd {
                let t = self.rest.get(..8).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the gzip data ends inside a member's trailer",
                    )
                })?;
                self.members.push(Member {
                    start: self.member_start,
                    end: self.out,
                    crc: u32::from_le_bytes([t[0], t[1], t[2], t[3]]),
                    size: u32::from_le_bytes([t[4], t[5], t[6], t[7]]),
                });
                self.rest = &self.rest[8..];
                self.in_member = false;
            } else if made == 0 && used == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the gzip data ends inside a member",
                ));
            }
            if made > 0 {
                return Ok(made);
            }
        }
    }
}

/// The CRC-32s of `bytes` (the output from offset `at` on), in pieces cut where a member in
/// `members` ends: (offset, length, CRC), none empty.
pub(super) fn crcs_by_member(bytes: &[u8], at: u64, members: &[Member]) -> Vec<(u64, u64, u32)> {
    let end = at + bytes.len() as u64;
    let mut cuts: Vec<u64> = members
        .iter()
        .map(|m| m.end)
        .filter(|&e| e > at && e < end)
        .collect();
    cuts.push(end);
    let mut from = at;
    cuts.into_iter()
        .filter_map(|to| {
            let piece = &bytes[(from - at) as usize..(to - at) as usize];
            let crc = (from, to - from, zlib_rs::crc32::crc32(0, piece));
            from = to;
            // Empty pieces are left out: sorted by offset, one would tie with the next.
            (!piece.is_empty()).then_some(crc)
        })
        .collect()
}

/// Checks each member's CRC-32 and size against its trailer, from the CRCs of the pieces of
/// output (offset, length, CRC; none across a member's end) that cover it.
pub(super) fn check_members(
    members: &[Member],
    mut pieces: Vec<(u64, u64, u32)>,
) -> Result<(), String> {
    pieces.sort_unstable_by_key(|p| p.0);
    let mut pieces = pieces.into_iter().peekable();
    for (n, m) in members.iter().enumerate() {
        let (mut crc, mut covered) = (0u32, m.start);
        while let Some(&(at, len, c)) = pieces.peek() {
            if at >= m.end {
                break;
            }
            if at != covered || at + len > m.end {
                return Err(format!("gzip member {} was not checked whole", n + 1));
            }
            crc = zlib_rs::crc32::crc32_combine(crc, c, len);
            covered += len;
            pieces.next();
        }
        if covered != m.end || crc != m.crc {
            return Err(format!("gzip member {}: CRC-32 does not match", n + 1));
        }
        if (m.end - m.start) as u32 != m.size {
            return Err(format!("gzip member {}: length does not match", n + 1));
        }
    }
    Ok(())
}
