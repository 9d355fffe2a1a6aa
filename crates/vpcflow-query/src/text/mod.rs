//! Flow-log text files as Arrow record batches: our own decoder, because DataFusion's CSV reader
//! cannot map `-` to null in typed columns (apache/datafusion#25213, query.md §5.3).
//!
//! Owns inflating a file (`.gz`, one or many gzip members, or plain text) and decoding its lines
//! into exactly the columns a query needs. Lines are split on single spaces, `-` is null, and
//! integers are parsed straight into Arrow buffers. A large file is cut at line ends into chunks
//! that decode in parallel; a large gzip file is decoded while it inflates
//! ([`inflate_and_decode`]). No DataFusion here beyond Arrow; the table provider ([`crate::table`])
//! decides which files and columns.

use std::borrow::Cow;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use datafusion::arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, SchemaRef};

/// Why a text file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The file says gzip but does not inflate.
    #[error("{file}: not a valid gzip file: {reason}")]
    Inflate {
        /// The file.
        file: String,
        /// What went wrong.
        reason: String,
    },
    /// A line does not fit the table's columns.
    #[error("{file}, line {line}: {reason}")]
    Line {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A column type the text decoder does not build.
    #[error("column '{column}' has type {ty}; flow-log text columns are int, bigint or string")]
    ColumnType {
        /// The column.
        column: String,
        /// Its type.
        ty: DataType,
    },
}

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
    let mut out = Vec::with_capacity(size.max(n * 4));
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| TextError::Inflate {
            file: file.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(Cow::Owned(out))
}

/// How a file's lines map onto the columns to build.
#[derive(Debug, Clone)]
pub struct LineLayout {
    /// Fields on every line.
    pub fields: usize,
    /// For each output column: the 0-based field position on the line, or `None` (the file has
    /// no such field: the column is all null).
    pub positions: Vec<Option<usize>>,
    /// Leading lines to skip (header lines).
    pub skip_lines: usize,
}

/// Column builders for one chunk.
enum Builder {
    I32(Vec<i32>, Vec<bool>),
    I64(Vec<i64>, Vec<bool>),
    Str(Vec<u8>, Vec<i32>, Vec<bool>, bool),
}

impl Builder {
    fn new(ty: &DataType, column: &str, rows: usize) -> Result<Builder, TextError> {
        Ok(match ty {
            DataType::Int32 => Builder::I32(Vec::with_capacity(rows), Vec::with_capacity(rows)),
            DataType::Int64 => Builder::I64(Vec::with_capacity(rows), Vec::with_capacity(rows)),
            DataType::Utf8 | DataType::Utf8View => {
                let mut offsets = Vec::with_capacity(rows + 1);
                offsets.push(0);
                Builder::Str(
                    Vec::with_capacity(rows * 12),
                    offsets,
                    Vec::with_capacity(rows),
                    *ty == DataType::Utf8View,
                )
            }
            other => {
                return Err(TextError::ColumnType {
                    column: column.to_owned(),
                    ty: other.clone(),
                });
            }
        })
    }

    fn null(&mut self) {
        match self {
            Builder::I32(v, n) => {
                v.push(0);
                n.push(false);
            }
            Builder::I64(v, n) => {
                v.push(0);
                n.push(false);
            }
            Builder::Str(b, o, n, _) => {
                o.push(b.len() as i32);
                n.push(false);
            }
        }
    }

    /// Appends one token; `Err` names what is wrong with it.
    fn push(&mut self, token: &[u8]) -> Result<(), &'static str> {
        if token == b"-" {
            self.null();
            return Ok(());
        }
        match self {
            Builder::I32(v, n) => {
                let x = parse_int(token).ok_or("not an integer")?;
                v.push(i32::try_from(x).map_err(|_| "out of range for int")?);
                n.push(true);
            }
            Builder::I64(v, n) => {
                v.push(parse_int(token).ok_or("not an integer")?);
                n.push(true);
            }
            Builder::Str(b, o, n, _) => {
                b.extend_from_slice(token);
                o.push(b.len() as i32);
                n.push(true);
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<ArrayRef, &'static str> {
        let nulls = |n: Vec<bool>| {
            let b = NullBuffer::from(n);
            (b.null_count() > 0).then_some(b)
        };
        Ok(match self {
            Builder::I32(v, n) => Arc::new(Int32Array::new(ScalarBuffer::from(v), nulls(n))),
            Builder::I64(v, n) => Arc::new(Int64Array::new(ScalarBuffer::from(v), nulls(n))),
            Builder::Str(b, o, n, view) => {
                let a = StringArray::try_new(
                    OffsetBuffer::new(ScalarBuffer::from(o)),
                    b.into(),
                    nulls(n),
                )
                .map_err(|_| "a value is not UTF-8")?;
                if view {
                    // Views share the value buffer; DataFusion groups and compares them faster.
                    Arc::new(datafusion::arrow::array::StringViewArray::from(&a))
                } else {
                    Arc::new(a)
                }
            }
        })
    }
}

fn parse_int(t: &[u8]) -> Option<i64> {
    let (neg, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if neg { -v } else { v })
}

/// Chunks of about this many bytes decode in parallel (about 35 000 default-format records).
const CHUNK: usize = 4 << 20;

/// Where decoded batches go, in line order. `false` back means no more are wanted (a LIMIT is
/// met, or the query is gone): decoding stops there, and that is not an error.
pub type Emit<'a> = &'a (dyn Fn(RecordBatch) -> bool + Sync);

/// Hands chunk results on in chunk order, whichever thread finishes a chunk first: batches to
/// the emitter, line counts summed so that an error names its line. After an error, or once
/// the emitter wants no more, nothing more is handed on, and [`InOrder::stopped`] says so
/// ([`InOrder::refused`]: the emitter wants no more).
struct InOrder<'a> {
    emit: Emit<'a>,
    pending: std::sync::Mutex<Pending>,
    stopped: AtomicBool,
    refused: AtomicBool,
}

/// [`InOrder`]'s state: the next chunk to hand on, the results that came before their turn,
/// the lines handed on so far, and the first bad line (1-based) with what was wrong.
struct Pending {
    next: usize,
    early: std::collections::BTreeMap<usize, ChunkResult>,
    lines: usize,
    error: Option<(usize, String)>,
}

impl<'a> InOrder<'a> {
    /// Chunk 0 starts after `lines_before` lines (the header lines).
    fn new(emit: Emit<'a>, lines_before: usize) -> InOrder<'a> {
        InOrder {
            emit,
            pending: std::sync::Mutex::new(Pending {
                next: 0,
                early: std::collections::BTreeMap::new(),
                lines: lines_before,
                error: None,
            }),
            stopped: AtomicBool::new(false),
            refused: AtomicBool::new(false),
        }
    }

    /// Chunk `i` is done. Emitting happens under the lock, so a slow reader holds the decoders
    /// back instead of letting finished chunks pile up.
    fn done(&self, i: usize, result: ChunkResult) {
        let mut p = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        p.early.insert(i, result);
        while !self.stopped() {
            let next = p.next;
            let Some(r) = p.early.remove(&next) else {
                break;
            };
            p.next += 1;
            match r {
                Ok((batch, lines)) => {
                    p.lines += lines;
                    if let Some(b) = batch
                        && !(self.emit)(b)
                    {
                        self.refused.store(true, Ordering::Relaxed);
                        self.stopped.store(true, Ordering::Relaxed);
                    }
                }
                Err((within, reason)) => {
                    p.error = Some((p.lines + within + 1, reason));
                    self.stopped.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// Whether nothing more will be handed on: work not started need not be.
    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Whether the emitter wants no more: nothing that follows matters, not even its checks.
    fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// The first bad line, if any, as the file's error.
    fn finish(self, file: &str) -> Result<(), TextError> {
        let p = self
            .pending
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match p.error {
            Some((line, reason)) => Err(TextError::Line {
                file: file.to_owned(),
                line,
                reason,
            }),
            None => Ok(()),
        }
    }
}

/// Decodes a whole text file into batches of `schema` (the columns to build, in order), using
/// up to `threads` threads, and hands them to `emit` in line order. `file` names the file in
/// errors.
pub fn decode(
    file: &str,
    text: &[u8],
    layout: &LineLayout,
    schema: &SchemaRef,
    threads: usize,
    emit: Emit<'_>,
) -> Result<(), TextError> {
    let (start, header_lines) = header_end(text, layout.skip_lines);
    // Cut at line ends.
    let mut cuts = vec![start];
    let mut at = start;
    while text.len() - at > CHUNK {
        match memchr::memchr(b'\n', &text[at + CHUNK..]) {
            Some(i) => {
                at += CHUNK + i + 1;
                cuts.push(at);
            }
            None => break,
        }
    }
    cuts.push(text.len());
    let chunks: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let order = InOrder::new(emit, header_lines);
    in_parallel(
        chunks.len(),
        threads,
        || order.stopped(),
        |i| {
            let (a, b) = chunks[i];
            order.done(i, decode_chunk(&text[a..b], layout, schema));
        },
    );
    order.finish(file)
}

/// Where the data starts after `skip` header lines, and how many whole lines were skipped (the
/// text may hold fewer).
pub(crate) fn header_end(text: &[u8], skip: usize) -> (usize, usize) {
    let mut start = 0;
    for skipped in 0..skip {
        match memchr::memchr(b'\n', &text[start..]) {
            Some(i) => start += i + 1,
            None => return (text.len(), skipped),
        }
    }
    (start, skip)
}

/// Compressed files at least this large inflate while they decode ([`inflate_and_decode`]);
/// the table streams files this large from a thread of their own ([`crate::text_exec`]).
pub const STREAM_MIN: usize = 2 << 20;

/// Whether `data` starts as a gzip file does.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

/// A whole file's batches, handed to `emit` in line order: a gzip file of at least 2 MiB
/// with more than one thread to use is inflated on this thread while the others decode what it
/// has inflated so far (one large member cannot be inflated in parallel, so this overlaps the
/// two); anything else is inflated whole ([`inflate`]), then decoded in parallel chunks
/// ([`decode`]). `layout_of` reads the layout from the text's start (its header line). Both
/// ways give the same batches and errors.
pub fn inflate_and_decode(
    file: &str,
    data: &[u8],
    layout_of: impl Fn(&[u8]) -> LineLayout,
    schema: &SchemaRef,
    threads: usize,
    emit: Emit<'_>,
) -> Result<(), TextError> {
    if threads < 2 || data.len() < STREAM_MIN || !is_gzip(data) {
        let text = inflate(file, data)?;
        let layout = layout_of(&text);
        return decode(file, &text, &layout, schema, threads, emit);
    }
    stream_decode(file, data, layout_of, schema, threads, CHUNK, emit)
}

/// Reads from `reader` onto `buf` until it holds `want` bytes or the stream ends (true).
fn fill(reader: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    while buf.len() < want {
        let n = reader
            .by_ref()
            .take((want - buf.len()) as u64)
            .read_to_end(buf)?;
        if n == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One gzip member as inflated: its output range, and its trailer's CRC-32 and size.
#[derive(Debug, Clone, Copy)]
struct Member {
    start: u64,
    end: u64,
    crc: u32,
    size: u32,
}

/// The members of a gzip file, inflated one after another as raw deflate streams. Unlike
/// flate2's `MultiGzDecoder` it does not compute the CRC-32 itself: it records where each
/// member's output ends and what its trailer says, so that the CRCs can be computed on the
/// decoding threads, off the inflating thread that the whole read waits on.
struct RawMembers<'a> {
    /// Compressed bytes not consumed yet.
    rest: &'a [u8],
    inflater: flate2::Decompress,
    in_member: bool,
    /// Bytes produced so far.
    out: u64,
    member_start: u64,
    /// The members ended so far.
    members: Vec<Member>,
}

impl<'a> RawMembers<'a> {
    fn new(data: &'a [u8]) -> RawMembers<'a> {
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
fn crcs_by_member(bytes: &[u8], at: u64, members: &[Member]) -> Vec<(u64, u64, u32)> {
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
fn check_members(members: &[Member], mut pieces: Vec<(u64, u64, u32)>) -> Result<(), String> {
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

/// What a decoder thread made of a chunk: its batch and how many lines it held, or how many
/// lines of it came before the bad one, and what was wrong.
type ChunkResult = Result<(Option<RecordBatch>, usize), (usize, String)>;

/// [`inflate_and_decode`]'s overlapped path: this thread inflates `chunk`-sized pieces cut at
/// line ends and queues them (a bounded queue, so memory stays a few chunks); `threads - 1`
/// others decode them, and this one joins them once the file is inflated. Batches go to `emit`
/// in line order as they are decoded.
fn stream_decode(
    file: &str,
    data: &[u8],
    layout_of: impl Fn(&[u8]) -> LineLayout,
    schema: &SchemaRef,
    threads: usize,
    chunk: usize,
    emit: Emit<'_>,
) -> Result<(), TextError> {
    let inflate_error = |e: std::io::Error| TextError::Inflate {
        file: file.to_owned(),
        reason: e.to_string(),
    };
    // Every member; their CRCs are computed by the decoding threads and checked at the end.
    let mut reader = RawMembers::new(data);
    let mut first = Vec::with_capacity(chunk + 4096);
    let mut eof = fill(&mut reader, &mut first, chunk).map_err(inflate_error)?;
    // The layout is read from the header lines and the first data line: read on until they
    // are whole.
    let layout = loop {
        let layout = layout_of(&first);
        let whole = memchr::memchr_iter(b'\n', &first)
            .take(layout.skip_lines + 1)
            .count();
        if eof || whole > layout.skip_lines {
            break layout;
        }
        let want = 2 * first.len();
        eof = fill(&mut reader, &mut first, want).map_err(inflate_error)?;
    };
    // The header lines are not data; they count for line numbers.
    let (start, header_lines) = header_end(&first, layout.skip_lines);
    // The CRC-32s of the output's pieces: (offset, length, CRC), none across a member's end.
    let crcs = std::sync::Mutex::new(crcs_by_member(&first[..start], 0, &reader.members));
    first.drain(..start);

    // (chunk number, its offset in the output, its text, whether its decoder computes its CRC)
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, u64, Vec<u8>, bool)>(2 * threads);
    let rx = std::sync::Mutex::new(rx);
    let order = InOrder::new(emit, header_lines);
    let work = || {
        loop {
            let next = rx.lock().map(|r| r.recv());
            let Ok(Ok((i, at, text, check))) = next else {
                break;
            };
            if check && !order.refused() {
                let crc = zlib_rs::crc32::crc32(0, &text);
                crcs.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((at, text.len() as u64, crc));
            }
            if order.stopped() {
                continue; // the queue is drained, not decoded
            }
            order.done(i, decode_chunk(&text, &layout, schema));
        }
    };
    let inflated = std::thread::scope(|s| {
        let workers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let produced = (|| -> Result<(), TextError> {
            let mut buf = first;
            let mut i = 0;
            let mut at = start as u64;
            loop {
                // Cut after the last complete line; a line longer than a chunk grows it.
                let cut = if eof {
                    buf.len()
                } else {
                    match memchr::memrchr(b'\n', &buf) {
                        Some(at) => at + 1,
                        None => {
                            let want = buf.len() + chunk;
                            eof = fill(&mut reader, &mut buf, want).map_err(inflate_error)?;
                            continue;
                        }
                    }
                };
                let mut next = Vec::with_capacity(chunk + 4096);
                next.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                // Chunk numbers have no gaps: [`InOrder`] waits for each in turn.
                if !buf.is_empty() {
                    let len = buf.len() as u64;
                    // A chunk holding a member's end has its CRCs computed here, by member;
                    // so has every chunk after a bad line, which is inflated and checked but
                    // not decoded: a damaged file is reported as damaged, whichever thread
                    // noticed first.
                    let stopped = order.stopped();
                    let check = !stopped
                        && !reader
                            .members
                            .iter()
                            .any(|m| m.end > at && m.end < at + len);
                    if !check {
                        crcs.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .extend(crcs_by_member(&buf, at, &reader.members));
                    }
                    if !stopped {
                        if tx.send((i, at, buf, check)).is_err() {
                            break;
                        }
                        i += 1;
                    }
                    at += len;
                }
                // A reader that wants no more ends the read.
                if eof || order.refused() {
                    break;
                }
                buf = next;
                let want = buf.len() + chunk;
                eof = fill(&mut reader, &mut buf, want).map_err(inflate_error)?;
            }
            Ok(())
        })();
        drop(tx);
        work();
        for w in workers {
            w.join().expect("a decoder thread panicked");
        }
        produced
    });
    inflated?;
    // A read to the end checks every member before any bad line is reported; one whose
    // reader wanted no more has nothing to check.
    if !order.refused() {
        let crcs = crcs
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        check_members(&reader.members, crcs).map_err(|reason| TextError::Inflate {
            file: file.to_owned(),
            reason,
        })?;
    }
    order.finish(file)
}

/// Runs `work(i)` for `i` in `0..n` on up to `threads` scoped threads, each taking the next
/// index; stops handing out work once `stop()` says so.
fn in_parallel(
    n: usize,
    threads: usize,
    stop: impl Fn() -> bool + Sync,
    work: impl Fn(usize) + Sync,
) {
    if threads <= 1 || n <= 1 {
        // No thread to start for one worker (a file per thread, or one chunk).
        (0..n).take_while(|_| !stop()).for_each(work);
        return;
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.min(n) {
            s.spawn(|| {
                while !stop() {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    work(i);
                }
            });
        }
    });
}

/// The positions of every space and line feed in a buffer, found eight bytes at a time
/// (SWAR): tokens are short (about 8 bytes), so a per-match search call would cost more than
/// the bytes it skips.
struct Delimiters<'a> {
    buf: &'a [u8],
    /// Offset of the current word.
    base: usize,
    /// High bit set in each byte of the current word that is a delimiter.
    mask: u64,
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// High bit of each byte of `w` that equals `c` (exact: no false positives).
#[inline]
fn bytes_equal(w: u64, c: u8) -> u64 {
    let x = w ^ (LO * u64::from(c));
    !(((x & HI7) + HI7) | x | HI7)
}

impl<'a> Delimiters<'a> {
    fn new(buf: &'a [u8]) -> Delimiters<'a> {
        let mut d = Delimiters {
            buf,
            base: 0,
            mask: 0,
        };
        d.mask = d.word_mask(0);
        d
    }

    #[inline]
    fn word_mask(&self, at: usize) -> u64 {
        let w = match self.buf.get(at..at + 8) {
            Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
            None => {
                let mut tail = [0u8; 8];
                let rest = self.buf.get(at..).unwrap_or(&[]);
                tail[..rest.len()].copy_from_slice(rest);
                // Zero bytes past the end are never delimiters.
                u64::from_le_bytes(tail)
            }
        };
        bytes_equal(w, b' ') | bytes_equal(w, b'\n')
    }
}

impl Iterator for Delimiters<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += 8;
            if self.base >= self.buf.len() {
                return None;
            }
            self.mask = self.word_mask(self.base);
        }
        let at = self.base + (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// Decodes the lines of `chunk`, and counts them (empty ones too): a [`ChunkResult`].
fn decode_chunk(chunk: &[u8], layout: &LineLayout, schema: &SchemaRef) -> ChunkResult {
    let rows_guess = chunk.len() / 100 + 16;
    let mut builders = schema
        .fields()
        .iter()
        .map(|f| Builder::new(f.data_type(), f.name(), rows_guess))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| (0, e.to_string()))?;
    // Which output column each field position feeds (u16::MAX: none).
    let mut target = vec![u16::MAX; layout.fields];
    let mut absent = Vec::new();
    for (c, p) in layout.positions.iter().enumerate() {
        match p {
            Some(p) if *p < layout.fields => target[*p] = c as u16,
            _ => absent.push(c),
        }
    }
    let mut rows = 0usize;
    let mut lines = 0usize;
    let mut tok_start = 0usize;
    let mut field = 0usize;
    // One pass over the chunk finds every space and line end, eight bytes at a time; each token
    // is handled once.
    let ends = Delimiters::new(chunk).chain(std::iter::once(chunk.len()));
    for d in ends {
        if d == chunk.len() && tok_start >= chunk.len() {
            break; // the chunk ended with its line end
        }
        let eol = d == chunk.len() || chunk[d] == b'\n';
        let mut token = &chunk[tok_start..d];
        if eol && let [rest @ .., b'\r'] = token {
            token = rest;
        }
        if eol && field == 0 && token.is_empty() {
            // An empty line.
            lines += 1;
            tok_start = d + 1;
            continue;
        }
        if field < layout.fields {
            let t = target[field];
            if t != u16::MAX {
                builders[t as usize].push(token).map_err(|r| {
                    (
                        lines,
                        format!(
                            "field {} ('{}'): {r}",
                            field + 1,
                            String::from_utf8_lossy(token)
                        ),
                    )
                })?;
            }
        }
        field += 1;
        if eol {
            if field != layout.fields {
                return Err((
                    lines,
                    format!("expected {} fields, found {field}", layout.fields),
                ));
            }
            for &c in &absent {
                builders[c].null();
            }
            rows += 1;
            lines += 1;
            field = 0;
        }
        tok_start = d + 1;
    }
    if rows == 0 {
        return Ok((None, lines));
    }
    let columns = builders
        .into_iter()
        // A value that is not UTF-8 is named by the chunk's first line.
        .map(|b| b.finish().map_err(|e| (0, e.to_owned())))
        .collect::<Result<Vec<_>, _>>()?;
    // `count(*)` asks for no columns: the batch is only a row count.
    let options = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
        .map(|b| (Some(b), lines))
        .map_err(|e| (0, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Array;
    use datafusion::arrow::datatypes::{Field, Schema};

    /// Every batch a decoding hands on, in order.
    fn collect(
        run: impl FnOnce(Emit<'_>) -> Result<(), TextError>,
    ) -> Result<Vec<RecordBatch>, TextError> {
        let out = std::sync::Mutex::new(Vec::new());
        run(&|b| {
            out.lock().unwrap().push(b);
            true
        })?;
        Ok(out.into_inner().unwrap())
    }

    fn decoded(
        file: &str,
        text: &[u8],
        layout: &LineLayout,
        schema: &SchemaRef,
        threads: usize,
    ) -> Result<Vec<RecordBatch>, TextError> {
        collect(|emit| decode(file, text, layout, schema, threads, emit))
    }

    fn streamed(
        file: &str,
        data: &[u8],
        layout_of: impl Fn(&[u8]) -> LineLayout,
        schema: &SchemaRef,
        threads: usize,
        chunk: usize,
    ) -> Result<Vec<RecordBatch>, TextError> {
        collect(|emit| stream_decode(file, data, layout_of, schema, threads, chunk, emit))
    }

    fn schema(cols: &[(&str, DataType)]) -> SchemaRef {
        Arc::new(Schema::new(
            cols.iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn dashes_are_null_and_only_asked_columns_are_built() {
        let text = b"version srcaddr bytes\n2 10.0.0.1 100\n2 - -\r\n2 10.0.0.2 7\n";
        let s = schema(&[("bytes", DataType::Int64), ("srcaddr", DataType::Utf8)]);
        let layout = LineLayout {
            fields: 3,
            positions: vec![Some(2), Some(1)],
            skip_lines: 1,
        };
        let b = decoded("f", text, &layout, &s, 2).unwrap();
        assert_eq!(b.len(), 1);
        let bytes = b[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(
            bytes.iter().collect::<Vec<_>>(),
            vec![Some(100), None, Some(7)]
        );
        let src = b[0]
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(
            src.iter().collect::<Vec<_>>(),
            vec![Some("10.0.0.1"), None, Some("10.0.0.2")]
        );
    }

    #[test]
    fn no_columns_still_counts_rows() {
        let s = schema(&[]);
        let layout = LineLayout {
            fields: 2,
            positions: vec![],
            skip_lines: 1,
        };
        let b = decoded("f", b"a b\n1 2\n3 4\n", &layout, &s, 1).unwrap();
        assert_eq!(b.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let s = schema(&[("packets", DataType::Int64)]);
        let layout = LineLayout {
            fields: 2,
            positions: vec![Some(1)],
            skip_lines: 0,
        };
        let e = decoded("x.log", b"a 1\nb 2\nc x\n", &layout, &s, 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.log, line 3: field 2 ('x'): not an integer"
        );
        let e = decoded("x.log", b"a 1\nb 2 3\n", &layout, &s, 1).unwrap_err();
        assert_eq!(e.to_string(), "x.log, line 2: expected 2 fields, found 3");
    }

    #[test]
    fn chunks_cut_at_line_ends_keep_every_row_in_order() {
        let mut text = Vec::new();
        for i in 0..400_000u64 {
            text.extend_from_slice(
                format!("{i} eni-{i:08x} 10.0.{}.{}\n", i % 250, i % 7).as_bytes(),
            );
        }
        let s = schema(&[("n", DataType::Int64), ("eni", DataType::Utf8)]);
        let layout = LineLayout {
            fields: 3,
            positions: vec![Some(0), Some(1)],
            skip_lines: 0,
        };
        let b = decoded("big", &text, &layout, &s, 3).unwrap();
        assert!(b.len() > 1, "the file is cut into chunks");
        let mut expect = 0i64;
        for batch in &b {
            let n = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            for v in n.iter() {
                assert_eq!(v, Some(expect));
                expect += 1;
            }
        }
        assert_eq!(expect, 400_000);
        assert_eq!(b.iter().map(|b| b.column(1).null_count()).sum::<usize>(), 0);
    }

    #[test]
    fn gzip_single_and_multi_member_inflate_whole() {
        use std::io::Write as _;
        let gz = |s: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(s).unwrap();
            e.finish().unwrap()
        };
        let one = gz(b"version\n2\n");
        assert_eq!(&*inflate("a", &one).unwrap(), b"version\n2\n");
        let mut two = gz(b"line one\n");
        two.extend(gz(b"line two\n"));
        assert_eq!(&*inflate("b", &two).unwrap(), b"line one\nline two\n");
        // Two identical members: the first alone has the last member's size and CRC.
        let mut twice = one.clone();
        twice.extend_from_slice(&one);
        assert_eq!(&*inflate("e", &twice).unwrap(), b"version\n2\nversion\n2\n");
        assert_eq!(&*inflate("c", b"plain text\n").unwrap(), b"plain text\n");
        let mut bad = one.clone();
        bad.truncate(one.len() - 3);
        bad.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(inflate("d", &bad).is_err());
    }

    fn gzip_members(text: &[u8], members: usize) -> Vec<u8> {
        use std::io::Write as _;
        let mut out = Vec::new();
        let step = text.len().div_ceil(members.max(1)).max(1);
        let parts: Vec<&[u8]> = if text.is_empty() {
            vec![&[]]
        } else {
            text.chunks(step).collect()
        };
        for part in parts {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            out.extend(e.finish().unwrap());
        }
        out
    }

    /// Batches as one, to compare what two readings gave whatever their batch cuts.
    fn as_one(schema: &SchemaRef, batches: &[RecordBatch]) -> RecordBatch {
        datafusion::arrow::compute::concat_batches(schema, batches).unwrap()
    }

    /// A header line `n s`, then `lines` lines `i ai`.
    fn numbered(lines: usize) -> Vec<u8> {
        let mut text = b"n s\n".to_vec();
        for i in 0..lines {
            text.extend_from_slice(format!("{i} a{i}\n").as_bytes());
        }
        text
    }

    fn n_s_layout(bytes: &[u8]) -> LineLayout {
        // As the table does: a header line is skipped.
        LineLayout {
            fields: 2,
            positions: vec![Some(0), Some(1)],
            skip_lines: usize::from(bytes.starts_with(b"n s\n")),
        }
    }

    #[test]
    fn overlapped_inflate_reports_the_same_bad_lines() {
        let sch = schema(&[("n", DataType::Int64), ("s", DataType::Utf8)]);
        let mut text = numbered(500);
        let good = text.clone();
        text.extend_from_slice(b"\n7 x\n8 y z\n9 w\n");
        let gz = gzip_members(&text, 3);
        let whole = decoded("f", &text, &n_s_layout(&text), &sch, 1).unwrap_err();
        assert_eq!(whole.to_string(), "f, line 504: expected 2 fields, found 3");
        for chunk in [7, 64, 1000, 1 << 20] {
            let e = streamed("f", &gz, n_s_layout, &sch, 2, chunk).unwrap_err();
            assert_eq!(e.to_string(), whole.to_string(), "chunk {chunk}");
        }
        // A damaged stream is the file's error, not a short answer.
        let mut bad = gzip_members(&good, 1);
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        bad[mid + 1] ^= 0xff;
        assert!(matches!(
            streamed("f", &bad, n_s_layout, &sch, 2, 64),
            Err(TextError::Inflate { .. })
        ));
    }

    #[test]
    fn a_reader_that_wants_no_more_stops_the_decoding() {
        // More than one whole-file chunk, and a bad line at the end that a full read reports.
        let mut text = numbered(500_000);
        assert!(text.len() > CHUNK);
        text.extend_from_slice(b"1 2 3\n");
        let sch = schema(&[("n", DataType::Int64), ("s", DataType::Utf8)]);
        let gz = gzip_members(&text, 1);
        type Run<'r> = Box<dyn Fn(Emit<'_>) -> Result<(), TextError> + 'r>;
        let runs: [(&str, Run); 2] = [
            (
                "whole",
                Box::new(|emit| decode("f", &text, &n_s_layout(&text), &sch, 3, emit)),
            ),
            (
                "overlapped",
                Box::new(|emit| stream_decode("f", &gz, n_s_layout, &sch, 3, 4096, emit)),
            ),
        ];
        for (how, run) in runs {
            let first = std::sync::Mutex::new(Vec::new());
            run(&|b| {
                first.lock().unwrap().push(b);
                false
            })
            .unwrap_or_else(|e| panic!("{how}: {e}"));
            let first = first.into_inner().unwrap();
            assert_eq!(first.len(), 1, "{how}: one batch, then no more");
            let n = first[0]
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            assert_eq!(n.value(0), 0, "{how}: the first batch is the file's start");
            // Read to the end, the same file fails at its last line.
            let e = collect(|emit| run(emit)).unwrap_err();
            assert_eq!(
                e.to_string(),
                "f, line 500002: expected 2 fields, found 3",
                "{how}"
            );
        }
    }

    #[test]
    fn overlapped_inflate_checks_every_members_crc_and_size() {
        use std::io::Write as _;
        let sch = schema(&[("n", DataType::Int64), ("s", DataType::Utf8)]);
        let text = numbered(3000);
        // Members with a name, an extra field and a comment, cut mid-line.
        let mut gz = Vec::new();
        for part in text.chunks(7000) {
            let mut e = flate2::GzBuilder::new()
                .filename("x.log")
                .extra(vec![1, 2, 3])
                .comment("c")
                .write(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let want = decoded("f", &text, &n_s_layout(&text), &sch, 1).unwrap();
        for chunk in [100, 4096, 1 << 20] {
            let got = streamed("f", &gz, n_s_layout, &sch, 2, chunk).unwrap();
            assert_eq!(as_one(&sch, &got), as_one(&sch, &want), "chunk {chunk}");
        }
        // A member whose trailer disagrees with its data is the file's error: its CRC, or its
        // length, in the first, a middle or the last member.
        let one = gzip_members(&text, 1);
        let three = gzip_members(&text, 3);
        let ends: Vec<usize> = {
            let mut ends = Vec::new();
            let mut at = 0;
            for part in text.chunks(text.len().div_ceil(3)) {
                at += gzip_members(part, 1).len();
                ends.push(at);
            }
            ends
        };
        assert_eq!(*ends.last().unwrap(), three.len());
        for (file, trailer_end) in [
            (&one, one.len()),
            (&three, ends[0]),
            (&three, ends[1]),
            (&three, ends[2]),
        ] {
            for (field, what) in [(8, "CRC-32"), (4, "length")] {
                let mut bad = file.clone();
                bad[trailer_end - field] ^= 1;
                for chunk in [100, 1 << 20] {
                    let e = streamed("f", &bad, n_s_layout, &sch, 2, chunk).unwrap_err();
                    assert!(
                        matches!(&e, TextError::Inflate { reason, .. } if reason.contains(what)),
                        "{what}, chunk {chunk}: {e}"
                    );
                }
            }
        }
        // Bytes after the last member that are not a member.
        let mut trailing = one.clone();
        trailing.extend_from_slice(b"junk at the end");
        assert!(matches!(
            streamed("f", &trailing, n_s_layout, &sch, 2, 100),
            Err(TextError::Inflate { .. })
        ));
    }

    proptest::proptest! {
        /// Inflating while decoding gives exactly the batches of inflating first: any cut of
        /// the text into chunks (lines longer than a chunk too), any number of gzip members
        /// and threads.
        #[test]
        fn overlapped_inflate_decodes_what_whole_inflate_does(
            rows in proptest::collection::vec((proptest::option::of(0i64..1_000_000), proptest::option::of("[a-z0-9.]{1,40}")), 0..200),
            header in proptest::bool::ANY,
            members in 1usize..4,
            chunk in 1usize..300,
            threads in 2usize..4,
        ) {
            let mut text = if header { b"n s\n".to_vec() } else { Vec::new() };
            for (n, s) in &rows {
                let n = n.map_or("-".to_owned(), |n| n.to_string());
                let s = s.clone().unwrap_or_else(|| "-".to_owned());
                text.extend_from_slice(format!("{n} {s}\n").as_bytes());
            }
            let sch = schema(&[("n", DataType::Int64), ("s", DataType::Utf8)]);
            let want = decoded("p", &text, &n_s_layout(&text), &sch, 1).unwrap();
            let got = streamed("p", &gzip_members(&text, members), n_s_layout, &sch, threads, chunk).unwrap();
            proptest::prop_assert_eq!(as_one(&sch, &got), as_one(&sch, &want));
        }

        /// The word-at-a-time search finds exactly the spaces and line feeds.
        #[test]
        fn delimiters_are_exactly_spaces_and_line_feeds(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let want: Vec<usize> = bytes.iter().enumerate().filter(|(_, b)| **b == b' ' || **b == b'\n').map(|(i, _)| i).collect();
            proptest::prop_assert_eq!(Delimiters::new(&bytes).collect::<Vec<_>>(), want);
        }

        /// Records written as lines (any mix of values and `-`) decode to the same values, in
        /// order, whatever the chunking and thread count.
        #[test]
        fn lines_decode_to_their_values(
            rows in proptest::collection::vec((proptest::option::of(0i64..1_000_000_000_000), proptest::option::of("[a-z0-9.:]{1,12}")), 0..300),
            threads in 1usize..4,
        ) {
            let mut text = b"n s\n".to_vec();
            for (n, s) in &rows {
                let n = n.map_or("-".to_owned(), |n| n.to_string());
                let s = s.clone().unwrap_or_else(|| "-".to_owned());
                text.extend_from_slice(format!("{n} {s}\n").as_bytes());
            }
            let sch = schema(&[("n", DataType::Int64), ("s", DataType::Utf8)]);
            let layout = LineLayout { fields: 2, positions: vec![Some(0), Some(1)], skip_lines: 1 };
            let batches = decoded("p", &text, &layout, &sch, threads).unwrap();
            let mut got = Vec::new();
            for b in &batches {
                let n = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                let s = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
                for i in 0..b.num_rows() {
                    got.push((n.is_valid(i).then(|| n.value(i)), s.is_valid(i).then(|| s.value(i).to_owned())));
                }
            }
            proptest::prop_assert_eq!(got, rows);
        }

        /// Any bytes decode or fail with an error, never a panic.
        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let sch = schema(&[("a", DataType::Int32), ("b", DataType::Utf8View)]);
            let layout = LineLayout { fields: 3, positions: vec![Some(0), Some(2)], skip_lines: 0 };
            let _ = decoded("q", &bytes, &layout, &sch, 2);
            let _ = inflate("q", &bytes);
        }

        /// A gzip file with any byte changed, any cut, or junk after it, read while it
        /// inflates, is an error, or the rows that inflating it whole first reads (a cut right
        /// after a member leaves a valid, shorter file); with a byte changed, those are exactly
        /// the file's rows: the members' CRCs and lengths let nothing else through.
        #[test]
        fn damaged_gzip_is_an_error_or_the_right_rows(
            lines in 0usize..400,
            members in 1usize..4,
            at in proptest::prelude::any::<proptest::sample::Index>(),
            flip in 1u8..=255,
            damage in 0u8..3,
            chunk in 16usize..200,
        ) {
            let text = numbered(lines);
            let sch = schema(&[("n", DataType::Int64), ("s", DataType::Utf8)]);
            let mut gz = gzip_members(&text, members);
            match damage {
                0 => { let i = at.index(gz.len()); gz[i] ^= flip; }
                1 => gz.truncate(at.index(gz.len())),
                _ => gz.extend_from_slice(&[flip, 0x8b, 0, 1]),
            }
                let whole = collect(|emit| inflate_and_decode("d", &gz, n_s_layout, &sch, 1, emit));
            if let Ok(got) = streamed("d", &gz, n_s_layout, &sch, 2, chunk) {
                let whole = whole.map_err(|e| proptest::test_runner::TestCaseError::fail(format!("accepted what the whole read refuses: {e}")))?;
                proptest::prop_assert_eq!(as_one(&sch, &got), as_one(&sch, &whole));
                if damage == 0 {
                    let want = decoded("d", &text, &n_s_layout(&text), &sch, 1).unwrap();
                    proptest::prop_assert_eq!(as_one(&sch, &got), as_one(&sch, &want));
                }
            }
        }
    }
}
