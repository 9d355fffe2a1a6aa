//! The flow records the log groups hold, read back with each segment's own format (segments of
//! PutLogEvents' events, which are no flow records, are passed over): what the commands that
//! reason about delivered traffic read (`diagnose --data`, the detections).

use rusqlite::Connection;
use vpcflow_record::FlowRecord;

use super::index;
use crate::DataDir;
use crate::segment::{self, SegmentError};

/// One delivered flow record.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    /// Its event time (ms).
    pub timestamp: u64,
    /// The ENI of its stream (`<eni>-all`).
    pub eni: String,
    /// The record.
    pub record: FlowRecord,
    /// Its line, as the event's message.
    pub line: String,
}

/// Every flow record of every log group of `dir`, group by group, oldest segment first.
pub fn flow_records(conn: &Connection, dir: &DataDir) -> Result<Vec<Delivered>, RecordsError> {
    flow_records_between(conn, dir, None, i64::MIN, i64::MAX)
}

/// The flow records of the log groups `only` names (all of `dir`'s without it) whose event time
/// lies in `[from_ms, to_ms]` (only the segments holding such events are read).
pub fn flow_records_between(
    conn: &Connection,
    dir: &DataDir,
    only: Option<&[String]>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Delivered>, RecordsError> {
    let mut out = Vec::new();
    let within = |t: u64| i64::try_from(t).is_ok_and(|t| (from_ms..=to_ms).contains(&t));
    let named = |g: &str| only.is_none_or(|names| names.iter().any(|n| n == g));
    for g in index::groups(conn)?.into_iter().filter(|g| named(&g.name)) {
        for seg in index::segments_between(conn, &g.name, None, from_ms, to_ms)? {
            let path = dir.segment(&g.name, &seg);
            let Some(format) = segment::format(&path)? else {
                continue;
            };
            for e in segment::read(&path, None)? {
                if !within(e.timestamp) {
                    continue;
                }
                let Ok(record) = vpcflow_record::text::decode(&format, &e.message) else {
                    continue;
                };
                out.push(Delivered {
                    timestamp: e.timestamp,
                    eni: e
                        .stream
                        .strip_suffix("-all")
                        .unwrap_or(&e.stream)
                        .to_owned(),
                    record,
                    line: e.message,
                });
            }
        }
    }
    Ok(out)
}

/// Why the records could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The index.
    #[error("control-plane database: {0}")]
    Db(#[from] rusqlite::Error),
    /// A segment.
    #[error(transparent)]
    Segment(#[from] SegmentError),
}
