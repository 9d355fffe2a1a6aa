//! Decoding a chunk of flow-log text (whole lines) into Arrow columns, by the line rules of
//! [`vpcflow_record::text`]: whitespace around a line and blank lines are ignored, header lines
//! may appear anywhere and set the format of the lines after them, and every field of every
//! record line is checked for its type ([`vpcflow_record::FieldId::parse_token`]) whether or not
//! the query projects it. So `count(*)` counts exactly the lines that `vpcflow convert` reads,
//! and a bad line is found whatever the query asks for.
//!
//! Owns [`Columns`] (how the table's columns map onto a file's lines: by the header's names, or
//! by position as Athena's `ROW FORMAT DELIMITED`), the per-format [`LineLayout`], the column
//! builders, and JSON lines files (records as `vpcflow convert --to jsonl` writes them).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, RecordBatchOptions, StringArray, StringViewArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use vpcflow_record::text::{LineError, Spaces, Tokens};
use vpcflow_record::{FieldId, LogFormat, Scalar};

/// What a decoded column read by name holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A flow-log field.
    Field(FieldId),
    /// The record's line as the file has it, without the whitespace around it (Insights'
    /// `@message`).
    Line,
}

/// How the table's decoded columns map onto the lines of its files.
#[derive(Debug, Clone)]
pub enum Columns {
    /// By name, as AWS's files carry a header line: what each decoded column holds. Lines
    /// follow the latest header line (AWS's default v2 format before any); a field the format
    /// lacks is null.
    ByHeader(Vec<Decoded>),
    /// By position, as Athena's `ROW FORMAT DELIMITED` reads: field i of a line is the table's
    /// data column i. Header lines are skipped, not followed.
    ByPosition {
        /// Leading lines to skip (`skip.header.line.count`), whatever they hold.
        skip_lines: usize,
        /// The flow-log field of each data column, where its name is one (checked as that
        /// field); other columns are checked by their type only.
        fields: Vec<Option<FieldId>>,
        /// The data column of each decoded column.
        decoded: Vec<usize>,
    },
}

/// How one format's record lines are read.
#[derive(Debug)]
pub struct LineLayout {
    /// Per field on a line: its check, and the decoded column it feeds.
    slots: Vec<Slot>,
    /// The decoded column that holds the line itself.
    line: Option<usize>,
    /// Decoded columns nothing feeds: null on every row read by this layout.
    absent: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The flow-log field the token must be; `None`: only the column's type applies.
    field: Option<FieldId>,
    /// The decoded column, if the query wants the field.
    column: Option<usize>,
}

impl LineLayout {
    fn new(slots: Vec<Slot>, line: Option<usize>, columns: usize) -> LineLayout {
        let absent = (0..columns)
            .filter(|c| line != Some(*c) && !slots.iter().any(|s| s.column == Some(*c)))
            .collect();
        LineLayout {
            slots,
            line,
            absent,
        }
    }
}

/// The layout in force at a point of a file: the format of the latest header line (`None`
/// before any), and how lines are read under it.
#[derive(Debug, Clone)]
pub struct State {
    format: Option<LogFormat>,
    layout: Arc<LineLayout>,
}

impl State {
    /// Whether two states read lines alike. No header yet reads lines as AWS's default format
    /// does, so a file whose first header names that format changes nothing, and its later
    /// chunks, decoded before the header was seen, stand.
    pub fn same(&self, other: &State) -> bool {
        let effective = |s: &State| s.format.clone().unwrap_or_default();
        self.format == other.format || effective(self) == effective(other)
    }
}

impl Columns {
    /// Leading lines skipped whatever they hold.
    pub fn skip_lines(&self) -> usize {
        match self {
            Columns::ByHeader(_) => 0,
            Columns::ByPosition { skip_lines, .. } => *skip_lines,
        }
    }

    /// The state a file starts in. `head` is the file's text after the skipped lines (as much
    /// as is at hand): read by position, the first record line says how many fields lines have.
    pub fn initial(&self, head: &[u8]) -> State {
        match self {
            Columns::ByHeader(_) => self.for_format(None),
            Columns::ByPosition {
                fields, decoded, ..
            } => {
                let n = first_record_fields(head).unwrap_or(fields.len());
                let slots = (0..n)
                    .map(|i| Slot {
                        field: fields.get(i).copied().flatten(),
                        column: decoded.iter().position(|&d| d == i),
                    })
                    .collect();
                State {
                    format: None,
                    layout: Arc::new(LineLayout::new(slots, None, decoded.len())),
                }
            }
        }
    }

    /// The state after a header line naming `format`; `None` when it does not change how lines
    /// are read (the same format, or columns by position).
    fn after_header(&self, format: LogFormat, now: &State) -> Option<State> {
        match self {
            Columns::ByHeader(_) if now.format.as_ref() != Some(&format) => {
                Some(self.for_format(Some(format)))
            }
            _ => None,
        }
    }

    fn for_format(&self, format: Option<LogFormat>) -> State {
        let Columns::ByHeader(wanted) = self else {
            unreachable!("only columns by header follow formats")
        };
        let fields = format.clone().unwrap_or_default();
        let slots = fields
            .fields()
            .iter()
            .map(|&f| Slot {
                field: Some(f),
                column: wanted.iter().position(|&w| w == Decoded::Field(f)),
            })
            .collect();
        let line = wanted.iter().position(|&w| w == Decoded::Line);
        State {
            format,
            layout: Arc::new(LineLayout::new(slots, line, wanted.len())),
        }
    }

    /// Whether header lines that do not parse are errors (by header) or skipped (by position:
    /// the table's columns decide, and a header line is not data either way).
    fn strict_headers(&self) -> bool {
        matches!(self, Columns::ByHeader(_))
    }
}

/// The number of fields on the first record line of `text` (not blank, not a header line).
fn first_record_fields(text: &[u8]) -> Option<usize> {
    text.split(|&b| b == b'\n')
        .map(vpcflow_record::text::trim)
        .filter(|l| !l.is_empty())
        .find(|l| {
            std::str::from_utf8(l).map_or(true, |s| vpcflow_record::text::header(s).is_none())
        })
        .map(|l| memchr::memchr_iter(b' ', l).count() + 1)
}

/// What to do with bad lines: fail at the first (the default), or skip and count them
/// (`--skip-bad`). Shared by every file a query reads; a session carries one as a config
/// extension (`SessionConfig::with_extension`), read by the text scan when it runs.
#[derive(Debug, Default)]
pub struct BadLines {
    skip: bool,
    count: std::sync::atomic::AtomicU64,
    shown: std::sync::Mutex<Vec<String>>,
}

/// How many skipped lines [`BadLines`] describes; the rest are only counted.
pub const BAD_LINES_SHOWN: usize = 5;

impl BadLines {
    /// Bad lines are skipped and counted.
    pub fn skipping() -> BadLines {
        BadLines {
            skip: true,
            ..BadLines::default()
        }
    }

    /// Whether bad lines are skipped.
    pub fn skips(&self) -> bool {
        self.skip
    }

    /// Lines skipped so far.
    pub fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The first few skipped lines, as `file:line: reason`.
    pub fn shown(&self) -> Vec<String> {
        self.shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Counts skipped lines of `file`: `first` are the first few, (1-based line, reason).
    pub(crate) fn add(&self, file: &str, count: u64, first: &[(usize, String)]) {
        self.count
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        let mut shown = self
            .shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (line, reason) in first {
            if shown.len() < BAD_LINES_SHOWN {
                shown.push(format!("{file}:{line}: {reason}"));
            }
        }
    }
}

/// What decoding a chunk gave.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Its rows (none when it held no record, or failed).
    pub batch: Option<RecordBatch>,
    /// Lines in it, blank and header lines included (for line numbers).
    pub lines: usize,
    /// The state at its end, when a header line changed it.
    pub end: Option<State>,
    /// Lines skipped (with `--skip-bad`): how many, and the first few (line within the chunk,
    /// 0-based, and reason).
    pub skipped: u64,
    /// The first few skipped lines.
    pub skipped_first: Vec<(usize, String)>,
    /// The first bad line when bad lines are not skipped: its line within the chunk (0-based)
    /// and what was wrong. The chunk's rows are not given then.
    pub error: Option<(usize, String)>,
}

impl Chunk {
    /// A bad line (0-based within the chunk): skipped and counted, or the chunk's error;
    /// `false` when the chunk stops there.
    fn bad(&mut self, line: usize, reason: String, skip: bool) -> bool {
        if !skip {
            self.error = Some((line, reason));
            return false;
        }
        self.skipped += 1;
        if self.skipped_first.len() < BAD_LINES_SHOWN {
            self.skipped_first.push((line, reason));
        }
        true
    }
}

/// Decodes the lines of `chunk` (whole lines) into batches of `schema`, starting in `start`.
pub fn decode_chunk(
    chunk: &[u8],
    start: &State,
    columns: &Columns,
    schema: &SchemaRef,
    skip_bad: bool,
) -> Chunk {
    let mut out = Chunk::default();
    let mut reader = match ChunkReader::new(columns, schema, start, chunk.len() / 100 + 16) {
        Ok(r) => r,
        Err(e) => {
            out.error = Some((0, e));
            return out;
        }
    };
    let mut at = 0;
    while at < chunk.len() {
        let end = memchr::memchr(b'\n', &chunk[at..]).map_or(chunk.len(), |i| at + i);
        let raw = &chunk[at..end];
        at = end + 1;
        let line = out.lines;
        out.lines += 1;
        if let Err(reason) = reader.line(raw)
            && !out.bad(line, reason, skip_bad)
        {
            return out;
        }
    }
    if !reader.state.same(start) {
        out.end = Some(reader.state.clone());
    }
    if reader.rows > 0 {
        match finish(reader.builders, schema, reader.rows) {
            Ok(b) => out.batch = Some(b),
            // A value that is not UTF-8 is named by the chunk's first line.
            Err(e) => out.error = Some((0, e)),
        }
    }
    out
}

/// A chunk being read: the columns being built, the state in force, and what one line needs
/// (reused from line to line).
struct ChunkReader<'c> {
    columns: &'c Columns,
    schema: &'c SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
    state: State,
    spaces: Spaces,
    /// A record's projected values, checked, before any is stored: (column, token, value).
    values: Vec<(usize, &'c str, Option<Scalar<'c>>)>,
}

impl<'c> ChunkReader<'c> {
    fn new(
        columns: &'c Columns,
        schema: &'c SchemaRef,
        start: &State,
        rows: usize,
    ) -> Result<ChunkReader<'c>, String> {
        Ok(ChunkReader {
            columns,
            schema,
            builders: builders(schema, rows)?,
            rows: 0,
            state: start.clone(),
            spaces: [0; vpcflow_record::text::MAX_FIELDS],
            values: Vec::with_capacity(schema.fields().len()),
        })
    }

    /// Reads one line (without its line feed): a record is appended to the builders, a header
    /// may change the state, a blank line is nothing; a bad line leaves the builders as they
    /// were.
    fn line(&mut self, raw: &'c [u8]) -> Result<(), String> {
        let trimmed = vpcflow_record::text::trim(raw);
        if trimmed.is_empty() {
            return Ok(());
        }
        let line = std::str::from_utf8(trimmed).map_err(|_| LineError::NotUtf8.to_string())?;
        if let Some(header) = vpcflow_record::text::header(line) {
            match header {
                Ok(format) => {
                    if let Some(next) = self.columns.after_header(format, &self.state) {
                        self.state = next;
                    }
                }
                Err(e) if self.columns.strict_headers() => {
                    return Err(LineError::Header(e).to_string());
                }
                Err(_) => {}
            }
            return Ok(());
        }
        self.record(line)
    }

    /// A record line: every field is checked before any is stored.
    fn record(&mut self, line: &'c str) -> Result<(), String> {
        let layout = &*self.state.layout;
        let bad = |e: LineError| vpcflow_record::text::explain(line, e).to_string();
        let tokens = Tokens::split(line, layout.slots.len(), &mut self.spaces).map_err(bad)?;
        self.values.clear();
        for (i, (slot, token)) in layout.slots.iter().zip(tokens.iter()).enumerate() {
            let value = match slot.field {
                Some(field) => vpcflow_record::text::value(field, i + 1, token).map_err(bad)?,
                None => (token != "-").then_some(Scalar::Str(token)),
            };
            if let Some(c) = slot.column {
                self.builders[c].fits(value).map_err(|reason| {
                    format!(
                        "field {} ({}): '{token}' {reason}",
                        i + 1,
                        self.schema.field(c).name()
                    )
                })?;
                self.values.push((c, token, value));
            }
        }
        for &(c, token, value) in &self.values {
            self.builders[c].push(token.as_bytes(), value);
        }
        if let Some(c) = layout.line {
            self.builders[c].push(line.as_bytes(), Some(Scalar::Str(line)));
        }
        for &c in &layout.absent {
            self.builders[c].null();
        }
        self.rows += 1;
        Ok(())
    }
}

/// Decodes a JSON lines file (one record object per line, as `vpcflow convert --to jsonl` writes):
/// its batches of `schema`, or the first bad line. Only tables whose columns are read by name
/// take JSON.
pub fn decode_json(text: &[u8], columns: &Columns, schema: &SchemaRef, skip_bad: bool) -> Chunk {
    let mut out = Chunk::default();
    let Columns::ByHeader(wanted) = columns else {
        out.error = Some((
            0,
            "a JSON lines file in a table whose columns are read by position".to_owned(),
        ));
        return out;
    };
    let mut builders = match builders(schema, text.len() / 200 + 16) {
        Ok(b) => b,
        Err(e) => {
            out.error = Some((0, e));
            return out;
        }
    };
    let mut rows = 0;
    for raw in text.split(|&b| b == b'\n') {
        let line = out.lines;
        out.lines += 1;
        let trimmed = vpcflow_record::text::trim(raw);
        if trimmed.is_empty() {
            continue;
        }
        match json_record(trimmed, wanted, &mut builders) {
            Ok(()) => rows += 1,
            Err(reason) => {
                if !out.bad(line, reason, skip_bad) {
                    return out;
                }
            }
        }
    }
    // The split counts one line after a final line feed.
    if text.ends_with(b"\n") {
        out.lines -= 1;
    }
    if rows > 0 {
        match finish(builders, schema, rows) {
            Ok(b) => out.batch = Some(b),
            Err(e) => out.error = Some((0, e)),
        }
    }
    out
}

/// One JSON record into the builders: each wanted field's value, null where the object has none;
/// the line itself where it is wanted.
fn json_record(line: &[u8], wanted: &[Decoded], builders: &mut [Builder]) -> Result<(), String> {
    let line = std::str::from_utf8(line).map_err(|_| LineError::NotUtf8.to_string())?;
    let (_, rec) = vpcflow_record::json::decode(line).map_err(|e| e.to_string())?;
    let value = |w: &Decoded| match *w {
        Decoded::Field(f) => rec.get(f),
        Decoded::Line => Some(Scalar::Str(line)),
    };
    for (c, w) in wanted.iter().enumerate() {
        builders[c]
            .fits(value(w))
            .map_err(|reason| format!("{w:?}: {reason}"))?;
    }
    let mut text = String::new();
    for (c, w) in wanted.iter().enumerate() {
        match value(w) {
            None => builders[c].null(),
            Some(v) => {
                text.clear();
                v.push_text(&mut text);
                builders[c].push(text.as_bytes(), Some(v));
            }
        }
    }
    Ok(())
}

/// Whether a text's first line that is not blank starts a JSON object.
pub fn is_json(text: &[u8]) -> bool {
    text.split(|&b| b == b'\n')
        .map(vpcflow_record::text::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.starts_with(b"{"))
}

/// Column builders for one chunk.
enum Builder {
    I32(Vec<i32>, Vec<bool>),
    I64(Vec<i64>, Vec<bool>),
    Str(Vec<u8>, Vec<i32>, Vec<bool>, bool),
}

fn builders(schema: &SchemaRef, rows: usize) -> Result<Vec<Builder>, String> {
    schema
        .fields()
        .iter()
        .map(|f| Builder::new(f.data_type(), f.name(), rows))
        .collect()
}

impl Builder {
    fn new(ty: &DataType, column: &str, rows: usize) -> Result<Builder, String> {
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
                return Err(super::TextError::ColumnType {
                    column: column.to_owned(),
                    ty: other.clone(),
                }
                .to_string());
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

    /// Whether [`Builder::push`] can store `value`; what is wrong with it if not.
    fn fits(&self, value: Option<Scalar<'_>>) -> Result<(), &'static str> {
        let int = |v: Option<Scalar<'_>>| match v {
            None => Ok(None),
            Some(Scalar::Int(i)) => Ok(Some(i)),
            Some(Scalar::Str(s)) => parse_int(s.as_bytes()).map(Some).ok_or("is not an integer"),
            Some(Scalar::Addr(_)) => Err("is not an integer"),
        };
        match self {
            Builder::I32(..) => match int(value)? {
                Some(i) if i32::try_from(i).is_err() => Err("is out of range for int"),
                _ => Ok(()),
            },
            Builder::I64(..) => int(value).map(|_| ()),
            Builder::Str(..) => Ok(()),
        }
    }

    /// Appends a value that [`Builder::fits`] accepted; `token` is its text on the line.
    fn push(&mut self, token: &[u8], value: Option<Scalar<'_>>) {
        let Some(value) = value else {
            self.null();
            return;
        };
        let int = || match value {
            Scalar::Int(i) => i,
            _ => parse_int(token).unwrap_or_default(),
        };
        match self {
            Builder::I32(v, n) => {
                v.push(int() as i32);
                n.push(true);
            }
            Builder::I64(v, n) => {
                v.push(int());
                n.push(true);
            }
            Builder::Str(b, o, n, _) => {
                match value {
                    // An IPv6 address as AWS writes it (RFC 5952), however the line spelled it.
                    Scalar::Addr(a @ std::net::IpAddr::V6(_)) => {
                        let mut s = String::new();
                        Scalar::Addr(a).push_text(&mut s);
                        b.extend_from_slice(s.as_bytes());
                    }
                    _ => b.extend_from_slice(token),
                }
                o.push(b.len() as i32);
                n.push(true);
            }
        }
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
                    Arc::new(StringViewArray::from(&a))
                } else {
                    Arc::new(a)
                }
            }
        })
    }
}

fn finish(builders: Vec<Builder>, schema: &SchemaRef, rows: usize) -> Result<RecordBatch, String> {
    let columns = builders
        .into_iter()
        .map(|b| b.finish().map_err(str::to_owned))
        .collect::<Result<Vec<_>, _>>()?;
    // `count(*)` asks for no columns: the batch is only a row count.
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
        .map_err(|e| e.to_string())
}

/// A signed decimal integer of at most 18 digits (what an `int`/`bigint` column of a table read
/// by position holds).
pub(crate) fn parse_int(t: &[u8]) -> Option<i64> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, Schema};

    const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
    const RECORD: &str = "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1 2 ACCEPT OK";

    /// Chunks after the first are decoded before its header is seen; when that header names
    /// the format lines were already read by (AWS's default), they must stand, not be decoded
    /// a second time, one after another.
    #[test]
    fn a_header_naming_the_default_format_leaves_the_state_as_it_was() {
        let columns = Columns::ByHeader(vec![Decoded::Field(FieldId::Bytes)]);
        let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new(
            "bytes",
            DataType::Int64,
            true,
        )]));
        let start = columns.initial(b"");
        let read = |text: &str| decode_chunk(text.as_bytes(), &start, &columns, &schema, false);
        let default = read(&format!("{HEADER}\n{RECORD}\n"));
        assert_eq!(default.error, None);
        assert!(
            default.end.is_none(),
            "the default format's header is no change"
        );
        assert_eq!(default.batch.map(|b| b.num_rows()), Some(1));
        let other = read("srcaddr bytes\n10.0.0.1 40\n");
        assert_eq!(other.error, None);
        assert!(other.end.is_some(), "another format's header is a change");
    }
}
