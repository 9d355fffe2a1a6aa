//! A log group's segment, one owner for both sides: the Parquet file the delivery worker writes
//! under `DATA/logs/<group>/` (indexed in `state.db`) and what reads it back as events.
//!
//! A segment is Parquet (snappy): [`SYSTEM_COLUMNS`] — `@timestamp` (ms, the record's `start`),
//! `@ingestionTime` (ms), `@logStream`, `@message` (the record line) — then the flow log's format
//! columns with AWS's Parquet names, so that the query engine scans fields without parsing
//! messages. Its key-value metadata [`FORMAT_KEY`] holds the format.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use vpcflow_record::LogFormat;
use vpcflow_record::arrow_array::cast::AsArray;
use vpcflow_record::arrow_array::types::Int64Type;
use vpcflow_record::arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use vpcflow_record::arrow_schema::{DataType, Field, Schema};
use vpcflow_record::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use vpcflow_record::parquet::arrow::{ArrowWriter, ProjectionMask};
use vpcflow_record::parquet::basic::Compression;
use vpcflow_record::parquet::file::properties::WriterProperties;

/// The event's own columns, first in every segment, in this order.
pub const SYSTEM_COLUMNS: [&str; 4] = ["@timestamp", "@ingestionTime", "@logStream", "@message"];

/// The Parquet key-value metadata that holds the segment's log format.
pub const FORMAT_KEY: &str = "vpcflow.log_format";

/// What a segment holds besides the format's columns: one entry per event.
pub struct Events {
    /// `@timestamp`, ms.
    pub timestamps: Int64Array,
    /// `@ingestionTime` of every event, ms.
    pub ingestion_ms: u64,
    /// `@logStream`.
    pub streams: StringArray,
    /// `@message`.
    pub messages: StringArray,
}

/// The segment file of `events` and their records' `fields` (a batch in `format`'s columns, one
/// row per event).
pub fn encode(format: &LogFormat, events: Events, fields: &RecordBatch) -> Vec<u8> {
    let rows = fields.num_rows();
    let (mut cols, mut arrays) = event_columns(events, rows);
    cols.extend(fields.schema().fields().iter().map(|f| f.as_ref().clone()));
    arrays.extend(fields.columns().iter().cloned());
    let meta = HashMap::from([(FORMAT_KEY.to_owned(), format.to_string())]);
    write(Schema::new_with_metadata(cols, meta), arrays)
}

/// The segment file of events that are not flow records (PutLogEvents' messages): the event
/// columns alone, no format. Readers see its flow-log fields as null.
pub fn encode_events(events: Events) -> Vec<u8> {
    use vpcflow_record::arrow_array::Array as _;
    let rows = events.messages.len();
    let (cols, arrays) = event_columns(events, rows);
    write(Schema::new(cols), arrays)
}

fn event_columns(events: Events, rows: usize) -> (Vec<Field>, Vec<ArrayRef>) {
    let cols: Vec<Field> = vec![
        Field::new(SYSTEM_COLUMNS[0], DataType::Int64, false),
        Field::new(SYSTEM_COLUMNS[1], DataType::Int64, false),
        Field::new(SYSTEM_COLUMNS[2], DataType::Utf8, false),
        Field::new(SYSTEM_COLUMNS[3], DataType::Utf8, false),
    ];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(events.timestamps),
        Arc::new(Int64Array::from_value(events.ingestion_ms as i64, rows)),
        Arc::new(events.streams),
        Arc::new(events.messages),
    ];
    (cols, arrays)
}

fn write(schema: Schema, arrays: Vec<ArrayRef>) -> Vec<u8> {
    let schema = Arc::new(schema);
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).expect("columns follow schema");
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), schema, Some(props)).expect("schema is valid");
    w.write(&batch).expect("writing to memory");
    w.into_inner().expect("writing to memory")
}

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Event time (ms).
    pub timestamp: u64,
    /// Ingestion time (ms).
    pub ingestion_time: u64,
    /// Stream.
    pub stream: String,
    /// The record line.
    pub message: String,
}

/// A segment that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("log segment {path}: {message}")]
pub struct SegmentError {
    path: String,
    message: String,
}

impl SegmentError {
    fn at(path: &Path, message: String) -> Self {
        SegmentError {
            path: path.display().to_string(),
            message,
        }
    }
}

/// A segment file, opened as Parquet.
fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, SegmentError> {
    let file = File::open(path).map_err(|e| SegmentError::at(path, e.to_string()))?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| SegmentError::at(path, e.to_string()))
}

/// Calls `each(timestamp_ms, message)` for every event of a segment in file order, reading only
/// those two columns and copying no message (the ingest hook's read of what it indexes).
pub fn each_message(path: &Path, mut each: impl FnMut(i64, &str)) -> Result<(), SegmentError> {
    let fail = |message: String| SegmentError::at(path, message);
    let builder = open(path)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [0, 3]);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    for batch in reader {
        let batch = batch.map_err(|e| fail(e.to_string()))?;
        let ts = batch.column(0).as_primitive_opt::<Int64Type>();
        let msg = batch.column(1).as_string_opt::<i32>();
        let (Some(ts), Some(msg)) = (ts, msg) else {
            return Err(fail("columns are not those of a log segment".into()));
        };
        for i in 0..batch.num_rows() {
            each(ts.value(i), msg.value(i));
        }
    }
    Ok(())
}

/// The log format a segment's flow records were written in (`None`: PutLogEvents' events,
/// which are no flow records).
pub fn format(path: &Path) -> Result<Option<LogFormat>, SegmentError> {
    let fail = |message: String| SegmentError::at(path, message);
    let builder = open(path)?;
    let Some(text) = builder.schema().metadata().get(FORMAT_KEY) else {
        return Ok(None);
    };
    LogFormat::parse(text)
        .map(Some)
        .map_err(|e| fail(format!("its format '{text}': {e}")))
}

/// Reads a segment's events (optionally of one stream), in stream then time order.
pub fn read(path: &Path, stream: Option<&str>) -> Result<Vec<Event>, SegmentError> {
    let fail = |message: String| SegmentError::at(path, message);
    let builder = open(path)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [0, 1, 2, 3]);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| fail(e.to_string()))?;
        if batch.num_columns() != SYSTEM_COLUMNS.len() {
            return Err(fail("not a log segment".into()));
        }
        let ts = batch.column(0).as_primitive_opt::<Int64Type>();
        let ing = batch.column(1).as_primitive_opt::<Int64Type>();
        let st = batch.column(2).as_string_opt::<i32>();
        let msg = batch.column(3).as_string_opt::<i32>();
        let (Some(ts), Some(ing), Some(st), Some(msg)) = (ts, ing, st, msg) else {
            return Err(fail("columns are not those of a log segment".into()));
        };
        for i in 0..batch.num_rows() {
            if stream.is_some_and(|s| s != st.value(i)) {
                continue;
            }
            out.push(Event {
                timestamp: ts.value(i) as u64,
                ingestion_time: ing.value(i) as u64,
                stream: st.value(i).to_owned(),
                message: msg.value(i).to_owned(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_reads_back_as_its_events() {
        let format = LogFormat::parse("${srcaddr} ${bytes}").unwrap();
        let mut b = vpcflow_record::arrow::BatchBuilder::new(&format, 2);
        let mut r = vpcflow_record::FlowRecord::default();
        for bytes in [10, 20] {
            r.set_text(vpcflow_record::FieldId::Srcaddr, "10.0.0.1")
                .unwrap();
            r.set_text(vpcflow_record::FieldId::Bytes, &bytes.to_string())
                .unwrap();
            b.append(&r);
        }
        let file = encode(
            &format,
            Events {
                timestamps: Int64Array::from(vec![1000, 2000]),
                ingestion_ms: 5000,
                streams: StringArray::from(vec!["eni-1-all", "eni-2-all"]),
                messages: StringArray::from(vec!["10.0.0.1 10", "10.0.0.1 20"]),
            },
            &b.finish(),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        std::fs::write(&path, file).unwrap();
        let event = |timestamp, stream: &str, message: &str| Event {
            timestamp,
            ingestion_time: 5000,
            stream: stream.into(),
            message: message.into(),
        };
        assert_eq!(
            read(&path, None).unwrap(),
            [
                event(1000, "eni-1-all", "10.0.0.1 10"),
                event(2000, "eni-2-all", "10.0.0.1 20")
            ]
        );
        assert_eq!(
            read(&path, Some("eni-2-all")).unwrap(),
            [event(2000, "eni-2-all", "10.0.0.1 20")]
        );
        std::fs::write(&path, b"PAR1 not really").unwrap();
        let e = read(&path, None).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("log segment {}", path.display())),
            "{e}"
        );
    }
}
