//! The log-group store's read side: segment files under `DATA/logs/<group>/` (written by the
//! delivery worker, indexed in `state.db`), read back as events.
//!
//! A segment is Parquet: `@timestamp` (ms, the record's `start`), `@ingestionTime` (ms),
//! `@logStream`, `@message` (the record line), then the flow log's format columns with AWS's
//! Parquet names, so that the query engine scans fields without parsing messages. Its key-value
//! metadata `vpcflow.log_format` holds the format.

use std::fs::File;
use std::path::{Path, PathBuf};

use vpcflow_record::arrow_array::cast::AsArray;
use vpcflow_record::arrow_array::types::Int64Type;
use vpcflow_record::parquet::arrow::ProjectionMask;
use vpcflow_record::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::layout::log_group_dir;

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

/// The file of a segment.
pub fn segment_path(data: &Path, group: &str, segment: &str) -> PathBuf {
    data.join("logs")
        .join(log_group_dir(group))
        .join(format!("{segment}.parquet"))
}

/// Reads a segment's events (optionally of one stream), in stream then time order.
pub fn read_segment(path: &Path, stream: Option<&str>) -> Result<Vec<Event>, SegmentError> {
    let fail = |message: String| SegmentError {
        path: path.display().to_string(),
        message,
    };
    let file = File::open(path).map_err(|e| fail(e.to_string()))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| fail(e.to_string()))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [0, 1, 2, 3]);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| fail(e.to_string()))?;
        if batch.num_columns() != 4 {
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
