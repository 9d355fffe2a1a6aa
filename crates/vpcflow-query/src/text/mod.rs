//! Flow-log text files as Arrow record batches: our own decoder, because DataFusion's CSV reader
//! cannot map `-` to null in typed columns (apache/datafusion#25213, query.md §5.3).
//!
//! Owns reading a file (`.gz`, one or many gzip members, or plain text; or JSON lines) into
//! exactly the columns a query needs, in line order. Lines follow the rules every vpcflow reader
//! shares ([`vpcflow_record::text`]; [`chunk`] applies them): header lines anywhere, whitespace
//! and blank lines tolerated, every field checked whatever the query projects, a bad line an
//! error naming file, line and reason unless bad lines are skipped ([`BadLines`]). A large file
//! is cut at line ends into chunks that decode in parallel; a large gzip file is decoded while it
//! inflates ([`gzip`]). No DataFusion here beyond Arrow; the table provider ([`crate::table`])
//! decides which files and columns.

pub mod chunk;
mod gzip;

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};

pub use chunk::{BAD_LINES_SHOWN, BadLines, Columns, Decoded};
use chunk::{Chunk, State};
pub use gzip::inflate;
use gzip::{RawMembers, check_members, crcs_by_member};

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
    /// A line that breaks the rules: named as `vpcflow convert` names it.
    #[error("{file}:{line}: {reason}")]
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

/// Chunks of about this many bytes decode in parallel (about 35 000 default-format records).
const CHUNK: usize = 4 << 20;

/// Where decoded batches go, in line order. `false` back means no more are wanted (a LIMIT is
/// met, or the query is gone): decoding stops there, and that is not an error.
pub type Emit<'a> = &'a (dyn Fn(RecordBatch) -> bool + Sync);

/// What reading a file needs besides its bytes.
#[derive(Clone, Copy)]
pub struct Decode<'a> {
    /// Names the file in errors.
    pub file: &'a str,
    /// How the table's columns map onto the file's lines.
    pub columns: &'a Columns,
    /// The columns to build, in order.
    pub schema: &'a SchemaRef,
    /// Threads to decode on, at most.
    pub threads: usize,
    /// Bad lines: fail, or skip and count.
    pub bad: &'a BadLines,
    /// Where the batches go.
    pub emit: Emit<'a>,
}

/// A chunk decoded again from another start: what [`InOrder`] does when a header line in an
/// earlier chunk changed the format the chunk's lines are read by.
type Redo<'a> = Box<dyn FnOnce(&State) -> Chunk + Send + 'a>;

/// Hands chunk results on in chunk order, whichever thread finishes a chunk first: batches to
/// the emitter, line counts summed so that an error names its line, skipped lines to
/// [`BadLines`]. Every chunk decodes from the file's first state; one that comes after a header
/// line changing it is decoded again from the state in force ([`Redo`]: rare, a concatenation of
/// files of different formats). After an error, or once the emitter wants no more, nothing more
/// is handed on, and [`InOrder::stopped`] says so ([`InOrder::refused`]: the emitter wants no
/// more).
struct InOrder<'a> {
    d: Decode<'a>,
    initial: State,
    pending: std::sync::Mutex<Pending<'a>>,
    stopped: AtomicBool,
    refused: AtomicBool,
}

/// [`InOrder`]'s state: the next chunk to hand on, the results that came before their turn,
/// the lines handed on so far, the state in force, and the first bad line (1-based) with what
/// was wrong.
struct Pending<'a> {
    next: usize,
    early: std::collections::BTreeMap<usize, (Chunk, Redo<'a>)>,
    lines: usize,
    state: State,
    error: Option<(usize, String)>,
}

impl<'a> InOrder<'a> {
    /// Chunk 0 starts after `lines_before` lines (skipped ones), in `initial`.
    fn new(d: Decode<'a>, initial: State, lines_before: usize) -> InOrder<'a> {
        InOrder {
            d,
            pending: std::sync::Mutex::new(Pending {
                next: 0,
                early: std::collections::BTreeMap::new(),
                lines: lines_before,
                state: initial.clone(),
                error: None,
            }),
            initial,
            stopped: AtomicBool::new(false),
            refused: AtomicBool::new(false),
        }
    }

    /// Chunk `i` is done, decoded from the initial state; `redo` decodes it from another.
    /// Emitting happens under the lock, so a slow reader holds the decoders back instead of
    /// letting finished chunks pile up.
    fn done(&self, i: usize, result: Chunk, redo: Redo<'a>) {
        let mut p = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        p.early.insert(i, (result, redo));
        while !self.stopped() {
            let next = p.next;
            let Some((mut chunk, redo)) = p.early.remove(&next) else {
                break;
            };
            p.next += 1;
            if !p.state.same(&self.initial) {
                chunk = redo(&p.state);
            }
            self.hand_on(&mut p, chunk);
        }
    }

    fn hand_on(&self, p: &mut Pending<'a>, chunk: Chunk) {
        let before = p.lines;
        if chunk.skipped > 0 {
            let first: Vec<(usize, String)> = chunk
                .skipped_first
                .into_iter()
                .map(|(within, reason)| (before + within + 1, reason))
                .collect();
            self.d.bad.add(self.d.file, chunk.skipped, &first);
        }
        if let Some((within, reason)) = chunk.error {
            p.error = Some((before + within + 1, reason));
            self.stopped.store(true, Ordering::Relaxed);
            return;
        }
        p.lines += chunk.lines;
        if let Some(end) = chunk.end {
            p.state = end;
        }
        if let Some(b) = chunk.batch
            && !(self.d.emit)(b)
        {
            self.refused.store(true, Ordering::Relaxed);
            self.stopped.store(true, Ordering::Relaxed);
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
    fn finish(self) -> Result<(), TextError> {
        let p = self
            .pending
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match p.error {
            Some((line, reason)) => Err(TextError::Line {
                file: self.d.file.to_owned(),
                line,
                reason,
            }),
            None => Ok(()),
        }
    }
}

impl<'a> Decode<'a> {
    /// Decodes a whole text file (inflated), on up to `threads` threads.
    pub fn decode(self, text: &'a [u8]) -> Result<(), TextError> {
        let (start, skipped) = header_end(text, self.columns.skip_lines());
        let text = &text[start..];
        if chunk::is_json(text) {
            return self.json(text, skipped);
        }
        let initial = self.columns.initial(text);
        // Cut at line ends.
        let mut cuts = vec![0];
        let mut at = 0;
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
        let chunks: Vec<&'a [u8]> = cuts.windows(2).map(|w| &text[w[0]..w[1]]).collect();
        let order = InOrder::new(self, initial.clone(), skipped);
        in_parallel(
            chunks.len(),
            self.threads,
            || order.stopped(),
            |i| {
                let piece = chunks[i];
                order.done(i, self.chunk(piece, &initial), self.redo(piece));
            },
        );
        order.finish()
    }

    fn chunk(&self, text: &[u8], start: &State) -> Chunk {
        chunk::decode_chunk(text, start, self.columns, self.schema, self.bad.skips())
    }

    fn redo<T: AsRef<[u8]> + Send + 'a>(self, text: T) -> Redo<'a> {
        Box::new(move |state| self.chunk(text.as_ref(), state))
    }

    /// A JSON lines file, after `skipped` lines: decoded whole, on this thread.
    fn json(self, text: &'a [u8], skipped: usize) -> Result<(), TextError> {
        let done = chunk::decode_json(text, self.columns, self.schema, self.bad.skips());
        let order = InOrder::new(self, self.columns.initial(b""), skipped);
        order.done(
            0,
            done,
            Box::new(|_| unreachable!("one chunk: never decoded again")),
        );
        order.finish()
    }

    /// A whole file's batches, handed to `emit` in line order: a gzip file of at least 2 MiB
    /// with more than one thread to use is inflated on this thread while the others decode what
    /// it has inflated so far (one large member cannot be inflated in parallel, so this
    /// overlaps the two); anything else is inflated whole ([`inflate`]), then decoded in
    /// parallel chunks ([`Decode::decode`]). Both ways give the same batches and errors.
    pub fn inflate_and_decode(self, data: &'a [u8]) -> Result<(), TextError> {
        if self.threads < 2 || data.len() < STREAM_MIN || !is_gzip(data) {
            let text = inflate(self.file, data)?;
            return self.decode(&text);
        }
        self.stream_decode(data, CHUNK)
    }
}

/// Where the data starts after `skip` lines, and how many whole lines were skipped (the text may
/// hold fewer).
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

/// Compressed files at least this large inflate while they decode
/// ([`Decode::inflate_and_decode`]); the table streams files this large from a thread of their
/// own ([`crate::text_exec`]).
pub const STREAM_MIN: usize = 2 << 20;

/// Whether `data` starts as a gzip file does.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
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

/// Whether `text` holds a whole record line (not blank, not a header line): what the first
/// state of a table read by position is taken from.
fn has_whole_record(text: &[u8]) -> bool {
    let Some(last) = memchr::memrchr(b'\n', text) else {
        return false;
    };
    text[..last]
        .split(|&b| b == b'\n')
        .map(vpcflow_record::text::trim)
        .any(|l| {
            !l.is_empty()
                && std::str::from_utf8(l)
                    .map_or(true, |s| vpcflow_record::text::header(s).is_none())
        })
}

/// A piece of inflated output for a decoding thread: (chunk number, its offset in the output,
/// its text, whether that thread computes its CRC).
type Piece = (usize, u64, Vec<u8>, bool);

/// The CRC-32s of the output's pieces: (offset, length, CRC), none across a member's end.
type Crcs = std::sync::Mutex<Vec<(u64, u64, u32)>>;

impl<'a> Decode<'a> {
    /// [`Decode::inflate_and_decode`]'s overlapped path: this thread inflates `chunk`-sized
    /// pieces cut at line ends and queues them (a bounded queue, so memory stays a few chunks);
    /// `threads - 1` others decode them, and this one joins them once the file is inflated.
    /// Batches go to `emit` in line order as they are decoded.
    fn stream_decode(self, data: &'a [u8], chunk: usize) -> Result<(), TextError> {
        // Every member; their CRCs are computed by the decoding threads and checked at the end.
        let mut reader = RawMembers::new(data);
        let (first, eof) = self.first_piece(&mut reader, chunk)?;
        let (start, skipped) = header_end(&first, self.columns.skip_lines());
        if chunk::is_json(&first[start..]) {
            // JSON lines files are small and rare: inflated whole, then read.
            let text = inflate(self.file, data)?;
            let (start, skipped) = header_end(&text, self.columns.skip_lines());
            return self.json(&text[start..], skipped);
        }
        let initial = self.columns.initial(&first[start..]);
        let crcs: Crcs = std::sync::Mutex::new(crcs_by_member(&first[..start], 0, &reader.members));
        let mut first = first;
        first.drain(..start);

        let (tx, rx) = std::sync::mpsc::sync_channel::<Piece>(2 * self.threads);
        let rx = std::sync::Mutex::new(rx);
        let order = InOrder::new(self, initial.clone(), skipped);
        let work = || {
            loop {
                let next = rx.lock().map(|r| r.recv());
                let Ok(Ok((i, at, text, check))) = next else {
                    break;
                };
                if check && !order.refused() {
                    let crc = zlib_rs::crc32::crc32(0, &text);
                    lock(&crcs).push((at, text.len() as u64, crc));
                }
                if order.stopped() {
                    continue; // the queue is drained, not decoded
                }
                let result = self.chunk(&text, &initial);
                order.done(i, result, self.redo(text));
            }
        };
        let inflated = std::thread::scope(|s| {
            let workers: Vec<_> = (1..self.threads).map(|_| s.spawn(work)).collect();
            let producer = Producer {
                d: &self,
                tx,
                order: &order,
                crcs: &crcs,
                chunk,
            };
            // The queue closes when the producer is done, and this thread decodes too.
            let produced = producer.run(&mut reader, first, start as u64, eof);
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
            check_members(&reader.members, lock(&crcs).split_off(0)).map_err(|reason| {
                TextError::Inflate {
                    file: self.file.to_owned(),
                    reason,
                }
            })?;
        }
        order.finish()
    }

    fn inflate_error(&self, e: &std::io::Error) -> TextError {
        TextError::Inflate {
            file: self.file.to_owned(),
            reason: e.to_string(),
        }
    }

    /// The first piece of output, read on until the skipped lines and the first record line
    /// are whole (a table read by position takes its layout from that line), and whether the
    /// output ended there.
    fn first_piece(
        &self,
        reader: &mut RawMembers<'_>,
        chunk: usize,
    ) -> Result<(Vec<u8>, bool), TextError> {
        let mut first = Vec::with_capacity(chunk + 4096);
        let mut eof = fill(reader, &mut first, chunk).map_err(|e| self.inflate_error(&e))?;
        loop {
            let (start, skipped) = header_end(&first, self.columns.skip_lines());
            if eof || (skipped == self.columns.skip_lines() && has_whole_record(&first[start..])) {
                return Ok((first, eof));
            }
            let want = 2 * first.len();
            eof = fill(reader, &mut first, want).map_err(|e| self.inflate_error(&e))?;
        }
    }
}

/// The inflating side of [`Decode::stream_decode`]: inflates the rest of the file onto the
/// decoding threads' queue, in `chunk`-sized pieces cut after a line end (a line longer than a
/// chunk grows it). A piece holding a member's end has its CRCs computed here, by member; so has
/// every piece after a bad line, which is inflated and checked but not decoded: a damaged file
/// is reported as damaged, whichever thread noticed first.
struct Producer<'p, 'a> {
    d: &'p Decode<'a>,
    tx: std::sync::mpsc::SyncSender<Piece>,
    order: &'p InOrder<'a>,
    crcs: &'p Crcs,
    chunk: usize,
}

impl Producer<'_, '_> {
    /// `buf` is the output so far, from offset `at`; `eof` whether the output ended there.
    fn run(
        self,
        reader: &mut RawMembers<'_>,
        mut buf: Vec<u8>,
        mut at: u64,
        mut eof: bool,
    ) -> Result<(), TextError> {
        let chunk = self.chunk;
        let mut i = 0;
        loop {
            let cut = if eof {
                buf.len()
            } else {
                match memchr::memrchr(b'\n', &buf) {
                    Some(at) => at + 1,
                    None => {
                        let want = buf.len() + chunk;
                        eof = fill(reader, &mut buf, want).map_err(|e| self.d.inflate_error(&e))?;
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
                let stopped = self.order.stopped();
                let check = !stopped
                    && !reader
                        .members
                        .iter()
                        .any(|m| m.end > at && m.end < at + len);
                if !check {
                    lock(self.crcs).extend(crcs_by_member(&buf, at, &reader.members));
                }
                if !stopped {
                    if self.tx.send((i, at, buf, check)).is_err() {
                        break;
                    }
                    i += 1;
                }
                at += len;
            }
            // A reader that wants no more ends the read.
            if eof || self.order.refused() {
                break;
            }
            buf = next;
            let want = buf.len() + chunk;
            eof = fill(reader, &mut buf, want).map_err(|e| self.d.inflate_error(&e))?;
        }
        Ok(())
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;
    use vpcflow_record::FieldId;

    /// Every batch a reading hands on, in order.
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

    fn schema(cols: &[(&str, DataType)]) -> SchemaRef {
        Arc::new(Schema::new(
            cols.iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        ))
    }

    /// Columns by position: the data columns `n` fields wide, decoded columns `decoded`.
    fn by_position(skip_lines: usize, n: usize, decoded: &[usize]) -> Columns {
        Columns::ByPosition {
            skip_lines,
            fields: vec![None; n],
            decoded: decoded.to_vec(),
        }
    }

    fn run(
        how: &str,
        data: &[u8],
        columns: &Columns,
        schema: &SchemaRef,
        threads: usize,
        bad: &BadLines,
    ) -> Result<Vec<RecordBatch>, TextError> {
        collect(|emit| {
            let d = Decode {
                file: "f",
                columns,
                schema,
                threads,
                bad,
                emit,
            };
            match how {
                "whole" => d.decode(data),
                "inflate" => d.inflate_and_decode(data),
                chunk => d.stream_decode(data, chunk.parse().unwrap()),
            }
        })
    }

    fn decoded(
        text: &[u8],
        columns: &Columns,
        schema: &SchemaRef,
        threads: usize,
    ) -> Result<Vec<RecordBatch>, TextError> {
        run(
            "whole",
            text,
            columns,
            schema,
            threads,
            &BadLines::default(),
        )
    }

    fn streamed(
        data: &[u8],
        columns: &Columns,
        schema: &SchemaRef,
        threads: usize,
        chunk: usize,
    ) -> Result<Vec<RecordBatch>, TextError> {
        run(
            &chunk.to_string(),
            data,
            columns,
            schema,
            threads,
            &BadLines::default(),
        )
    }

    fn rows(b: &[RecordBatch]) -> usize {
        b.iter().map(RecordBatch::num_rows).sum()
    }

    fn strings(b: &[RecordBatch], col: usize) -> Vec<Option<String>> {
        b.iter()
            .flat_map(|b| {
                let c = datafusion::arrow::compute::cast(b.column(col), &DataType::Utf8).unwrap();
                let s = c.as_any().downcast_ref::<StringArray>().unwrap().clone();
                (0..s.len())
                    .map(|i| s.is_valid(i).then(|| s.value(i).to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    const V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
    const REC: &str = "2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";

    fn by_header(fields: &[FieldId]) -> (Columns, SchemaRef) {
        let schema = Arc::new(Schema::new(
            fields
                .iter()
                .map(|f| Field::new(f.column(), vpcflow_record::arrow::data_type(f.kind()), true))
                .collect::<Vec<_>>(),
        ));
        (
            Columns::ByHeader(fields.iter().map(|&f| Decoded::Field(f)).collect()),
            schema,
        )
    }

    #[test]
    fn dashes_are_null_and_only_asked_columns_are_built() {
        let text = b"version srcaddr bytes\n2 10.0.0.1 100\n2 - -\r\n2 10.0.0.2 7\n";
        let (cols, s) = by_header(&[FieldId::Bytes, FieldId::Srcaddr]);
        let b = decoded(text, &cols, &s, 2).unwrap();
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
        assert_eq!(
            strings(&b, 1),
            vec![Some("10.0.0.1".into()), None, Some("10.0.0.2".into())]
        );
    }

    #[test]
    fn no_columns_still_counts_rows_and_checks_every_field() {
        let (cols, s) = by_header(&[]);
        let text = format!("{V2}\n{REC}\n{REC}\n");
        assert_eq!(rows(&decoded(text.as_bytes(), &cols, &s, 1).unwrap()), 2);
        // count(*) builds no column, and still finds a bad value in any field.
        let bad = format!("{V2}\n{REC}\n{}\n", REC.replace("ACCEPT", "ALLOW"));
        assert_eq!(
            decoded(bad.as_bytes(), &cols, &s, 1)
                .unwrap_err()
                .to_string(),
            "f:3: field 13 (action): 'ALLOW' is not one of ACCEPT REJECT"
        );
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let s = schema(&[("packets", DataType::Int64)]);
        let cols = by_position(0, 2, &[1]);
        let e = decoded(b"a 1\nb 2\nc x\n", &cols, &s, 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f:3: field 2 (packets): 'x' is not an integer"
        );
        let e = decoded(b"a 1\nb 2 3\n", &cols, &s, 1).unwrap_err();
        assert_eq!(e.to_string(), "f:2: expected 2 fields, found 3");
    }

    /// One table row per class of real-world text: what `count(*)`-style reading gives, or the
    /// error naming the first bad line, and what `--skip-bad` counts.
    #[test]
    fn the_line_rules_apply_to_every_class_of_real_file() {
        let json = format!("{{\"message\":\"{REC}\"}}");
        let v3 = "version interface-id srcaddr tcp-flags";
        let under = V2.replace('-', "_");
        // (what, text, Ok(rows) or Err(first error), skipped with --skip-bad)
        let rows_: Vec<(&str, String, Result<usize, &str>, u64)> = vec![
            (
                "repeated header",
                format!("{V2}\n{REC}\n{V2}\n{REC}\n"),
                Ok(2),
                0,
            ),
            (
                "junk line",
                format!("{V2}\n{REC}\njunk\n"),
                Err("f:3: expected 14 fields, found 1"),
                1,
            ),
            (
                "JSON-wrapped line",
                format!("{V2}\n{json}\n{REC}\n"),
                Err(
                    "f:2: a JSON object where a record line was expected (a JSON lines file holds only JSON)",
                ),
                1,
            ),
            (
                "CRLF, spaces and blank lines",
                format!("{V2}\r\n\r\n  {REC}  \r\n\t{REC}\n\n"),
                Ok(2),
                0,
            ),
            (
                "doubled space",
                format!("{REC}\n{}\n", REC.replace(" 22 ", "  22 ")),
                Err("f:2: field 7 is empty: fields are separated by exactly one space"),
                1,
            ),
            (
                "unknown header field",
                format!("{V2} tgw-bogus\n{REC}\n"),
                Err("f:1: header line: unknown field 'tgw-bogus' at position 115"),
                1,
            ),
            ("underscore header", format!("{under}\n{REC}\n"), Ok(1), 0),
            (
                "format switch",
                format!("{V2}\n{REC}\n{v3}\n3 eni-2 10.0.0.1 19\n{V2}\n{REC}\n"),
                Ok(3),
                0,
            ),
        ];
        let (cols, s) = by_header(&[FieldId::Bytes]);
        for (what, text, want, skipped) in rows_ {
            for threads in [1, 3] {
                let got = decoded(text.as_bytes(), &cols, &s, threads)
                    .map(|b| rows(&b))
                    .map_err(|e| e.to_string());
                assert_eq!(got, want.map_err(str::to_owned), "{what}");
                let bad = BadLines::skipping();
                let got = run("whole", text.as_bytes(), &cols, &s, threads, &bad).unwrap();
                assert_eq!(bad.count(), skipped, "{what}: skipped");
                if let Ok(n) = want {
                    assert_eq!(rows(&got), n, "{what}: rows when skipping");
                }
            }
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_a_bad_line() {
        let (cols, s) = by_header(&[FieldId::Bytes]);
        let mut text = format!("{REC}\n").into_bytes();
        text.extend_from_slice(b"2 \xff\n");
        text.extend_from_slice(format!("{REC}\n").as_bytes());
        assert_eq!(
            decoded(&text, &cols, &s, 1).unwrap_err().to_string(),
            "f:2: not UTF-8 text"
        );
        let bad = BadLines::skipping();
        let got = run("whole", &text, &cols, &s, 1, &bad).unwrap();
        assert_eq!((rows(&got), bad.count()), (2, 1));
        assert_eq!(bad.shown(), ["f:2: not UTF-8 text"]);
    }

    #[test]
    fn a_header_in_one_chunk_sets_the_format_of_the_chunks_after_it() {
        // Two files of different formats, concatenated and gzipped: the switch is in the first
        // chunk, and every later chunk was decoded ahead of it in the file's first format.
        let mut text = format!("{V2}\n");
        for _ in 0..50 {
            text.push_str(&format!("{REC}\n"));
        }
        text.push_str("version srcaddr bytes\n");
        for i in 0..5000 {
            text.push_str(&format!("3 10.0.0.{} {i}\n", i % 250));
        }
        let (cols, s) = by_header(&[FieldId::Bytes, FieldId::InterfaceId]);
        let want_bytes: i64 = 50 * 4249 + (0..5000).sum::<i64>();
        let gz = gzip_members(text.as_bytes(), 2);
        for how in ["whole", "inflate", "100", "4096"] {
            let b = run(
                how,
                if how == "whole" { text.as_bytes() } else { &gz },
                &cols,
                &s,
                3,
                &BadLines::default(),
            )
            .unwrap_or_else(|e| panic!("{how}: {e}"));
            let sum: i64 = b
                .iter()
                .map(|b| {
                    datafusion::arrow::compute::sum(
                        b.column(0).as_any().downcast_ref::<Int64Array>().unwrap(),
                    )
                    .unwrap_or(0)
                })
                .sum();
            assert_eq!(sum, want_bytes, "{how}");
            let enis = strings(&b, 1);
            assert_eq!(enis.iter().filter(|e| e.is_some()).count(), 50, "{how}");
        }
    }

    #[test]
    fn json_lines_files_read_as_convert_reads_them() {
        let (cols, s) = by_header(&[FieldId::Bytes, FieldId::Srcaddr, FieldId::Action]);
        let text = b"{\"version\":2,\"srcaddr\":\"10.0.0.1\",\"bytes\":40}\n\n{\"srcaddr\":\"2001:DB8::1\",\"action\":\"REJECT\"}\n";
        let b = decoded(text, &cols, &s, 1).unwrap();
        assert_eq!(rows(&b), 2);
        assert_eq!(strings(&b, 0), vec![Some("40".into()), None]);
        assert_eq!(
            strings(&b, 1),
            vec![Some("10.0.0.1".into()), Some("2001:db8::1".into())]
        );
        let bad = b"{\"bytes\":1}\n{\"nope\":2}\n";
        assert_eq!(
            decoded(bad, &cols, &s, 1).unwrap_err().to_string(),
            "f:2: unknown key 'nope': keys must be flow-log field names such as 'account-id'"
        );
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
        let cols = by_position(0, 3, &[0, 1]);
        let b = decoded(&text, &cols, &s, 3).unwrap();
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

    /// A size field that claims more than deflate can make of the file is damage: refused, and
    /// nothing of that size allocated (it allocated the 4 GiB the field said; under the test
    /// suite's address-space limit, an abort).
    #[test]
    fn a_size_past_what_deflate_can_make_is_damage_not_an_allocation() {
        let mut gz = gzip_members(&numbered(50), 1);
        let n = gz.len();
        gz[n - 4..].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let err = inflate("claims.log.gz", &gz).expect_err("the size does not match");
        assert!(err.to_string().contains("claims.log.gz"), "{err}");
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

    /// A first line `n s` (skipped), then `lines` lines `i ai`.
    fn numbered(lines: usize) -> Vec<u8> {
        let mut text = b"n s\n".to_vec();
        for i in 0..lines {
            text.extend_from_slice(format!("{i} a{i}\n").as_bytes());
        }
        text
    }

    fn n_s() -> (Columns, SchemaRef) {
        (
            by_position(1, 2, &[0, 1]),
            schema(&[("n", DataType::Int64), ("s", DataType::Utf8)]),
        )
    }

    #[test]
    fn overlapped_inflate_reports_the_same_bad_lines() {
        let (cols, sch) = n_s();
        let mut text = numbered(500);
        let good = text.clone();
        text.extend_from_slice(b"\n7 x\n8 y z\n9 w\n");
        let gz = gzip_members(&text, 3);
        let whole = decoded(&text, &cols, &sch, 1).unwrap_err();
        assert_eq!(whole.to_string(), "f:504: expected 2 fields, found 3");
        for chunk in [7, 64, 1000, 1 << 20] {
            let e = streamed(&gz, &cols, &sch, 2, chunk).unwrap_err();
            assert_eq!(e.to_string(), whole.to_string(), "chunk {chunk}");
        }
        // A damaged stream is the file's error, not a short answer.
        let mut bad = gzip_members(&good, 1);
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        bad[mid + 1] ^= 0xff;
        assert!(matches!(
            streamed(&bad, &cols, &sch, 2, 64),
            Err(TextError::Inflate { .. })
        ));
    }

    #[test]
    fn a_reader_that_wants_no_more_stops_the_decoding() {
        // More than one whole-file chunk, and a bad line at the end that a full read reports.
        let mut text = numbered(500_000);
        assert!(text.len() > CHUNK);
        text.extend_from_slice(b"1 2 3\n");
        let (cols, sch) = n_s();
        let gz = gzip_members(&text, 1);
        let bad = BadLines::default();
        fn decode<'a>(
            cols: &'a Columns,
            sch: &'a SchemaRef,
            bad: &'a BadLines,
            emit: Emit<'a>,
        ) -> Decode<'a> {
            Decode {
                file: "f",
                columns: cols,
                schema: sch,
                threads: 3,
                bad,
                emit,
            }
        }
        type Run<'r> = Box<dyn Fn(Emit<'_>) -> Result<(), TextError> + 'r>;
        let runs: [(&str, Run); 2] = [
            (
                "whole",
                Box::new(|emit| decode(&cols, &sch, &bad, emit).decode(&text)),
            ),
            (
                "overlapped",
                Box::new(|emit| decode(&cols, &sch, &bad, emit).stream_decode(&gz, 4096)),
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
                "f:500002: expected 2 fields, found 3",
                "{how}"
            );
        }
    }

    #[test]
    fn overlapped_inflate_checks_every_members_crc_and_size() {
        use std::io::Write as _;
        let (cols, sch) = n_s();
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
        let want = decoded(&text, &cols, &sch, 1).unwrap();
        for chunk in [100, 4096, 1 << 20] {
            let got = streamed(&gz, &cols, &sch, 2, chunk).unwrap();
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
                    let e = streamed(&bad, &cols, &sch, 2, chunk).unwrap_err();
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
            streamed(&trailing, &cols, &sch, 2, 100),
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
            let (_, sch) = n_s();
            let cols = by_position(usize::from(header), 2, &[0, 1]);
            let want = decoded(&text, &cols, &sch, 1).unwrap();
            let got = streamed(&gzip_members(&text, members), &cols, &sch, threads, chunk).unwrap();
            proptest::prop_assert_eq!(as_one(&sch, &got), as_one(&sch, &want));
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
            let (cols, sch) = n_s();
            let batches = decoded(&text, &cols, &sch, threads).unwrap();
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
            let _ = decoded(&bytes, &by_position(0, 3, &[0, 2]), &sch, 2);
            let (cols, sch) = by_header(&[FieldId::Bytes, FieldId::Srcaddr]);
            let _ = decoded(&bytes, &cols, &sch, 2);
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
            let (cols, sch) = n_s();
            let mut gz = gzip_members(&text, members);
            match damage {
                0 => { let i = at.index(gz.len()); gz[i] ^= flip; }
                1 => gz.truncate(at.index(gz.len())),
                _ => gz.extend_from_slice(&[flip, 0x8b, 0, 1]),
            }
            let whole = run("inflate", &gz, &cols, &sch, 1, &BadLines::default());
            if let Ok(got) = streamed(&gz, &cols, &sch, 2, chunk) {
                let whole = whole.map_err(|e| proptest::test_runner::TestCaseError::fail(format!("accepted what the whole read refuses: {e}")))?;
                proptest::prop_assert_eq!(as_one(&sch, &got), as_one(&sch, &whole));
                if damage == 0 {
                    let want = decoded(&text, &cols, &sch, 1).unwrap();
                    proptest::prop_assert_eq!(as_one(&sch, &got), as_one(&sch, &want));
                }
            }
        }
    }
}
