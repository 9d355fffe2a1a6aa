//! Log streams made and written by request: CreateLogStream and PutLogEvents, so that producers
//! other than flow logs (agents, applications, tests) write to log groups, with CloudWatch
//! Logs' rules and messages (the API reference's PutLogEvents page): at most 10 000 events and
//! 1 048 576 bytes a batch (each event counted as its message's UTF-8 bytes plus 26), events in
//! chronological order spanning at most 24 hours, and events more than 2 hours ahead, more than
//! 14 days old or older than the group's retention set aside and reported in
//! `rejectedLogEventsInfo` while the rest are stored.
//!
//! A batch's accepted events become one segment file of event columns alone
//! ([`crate::segment::encode_events`]), written durably before its index row, so that an
//! answered PutLogEvents is never lost. Sequence tokens are answered (AWS still returns them)
//! and, as AWS has since 2023, never checked.

use std::ops::Range;

use rusqlite::{OptionalExtension as _, params};
use serde::{Deserialize, Serialize};
use vpcflow_record::arrow_array::{Int64Array, StringArray};

use super::{LogStore, LogsError, LogsErrorCode, index, manage};
use crate::segment;

/// The most events one PutLogEvents takes.
pub const MAX_EVENTS: usize = 10_000;
/// The most bytes one PutLogEvents takes, counting [`EVENT_OVERHEAD`] per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// What CloudWatch Logs counts for each event besides its message.
pub const EVENT_OVERHEAD: usize = 26;
/// The largest event, overhead included.
pub const MAX_EVENT_BYTES: usize = 1_048_576;
/// The longest log-stream name.
pub const MAX_STREAM_NAME: usize = 512;
/// How far ahead of now an event may be.
pub const TOO_NEW_MS: i64 = 2 * 3_600_000;
/// How far behind now an event may be.
pub const TOO_OLD_MS: i64 = 14 * 86_400_000;
/// The longest span of one batch.
pub const MAX_SPAN_MS: i64 = 24 * 3_600_000;

/// CreateLogStream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateLogStream {
    /// The group.
    pub log_group_name: String,
    /// 1–512 characters, no `:` or `*`.
    pub log_stream_name: String,
}

/// One event of PutLogEvents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputLogEvent {
    /// Event time, ms since the epoch.
    pub timestamp: i64,
    /// The message.
    pub message: String,
}

/// PutLogEvents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutLogEvents {
    /// The group.
    pub log_group_name: String,
    /// The stream, made by CreateLogStream (or a flow log's).
    pub log_stream_name: String,
    /// 1–10 000 events in time order.
    pub log_events: Vec<InputLogEvent>,
    /// Ignored, as AWS ignores it.
    pub sequence_token: Option<String>,
}

/// PutLogEvents' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutLogEventsAnswer {
    /// The stream's next token (informational).
    pub next_sequence_token: String,
    /// Events not stored, and why; absent when every event was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_log_events_info: Option<RejectedLogEventsInfo>,
}

/// Which events of a batch were set aside (indexes into `logEvents`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedLogEventsInfo {
    /// The first of the events too far ahead (they run to the end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_new_log_event_start_index: Option<usize>,
    /// The last of the events older than 14 days (they run from the start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub too_old_log_event_end_index: Option<usize>,
    /// The last of the events older than the group's retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_log_event_end_index: Option<usize>,
}

fn invalid(message: impl Into<String>) -> LogsError {
    LogsError::refused(LogsErrorCode::InvalidParameter, message)
}

/// A log-stream name's own rules.
pub fn check_stream_name(name: &str) -> Result<(), LogsError> {
    let n = name.chars().count();
    if n == 0 || n > MAX_STREAM_NAME {
        return Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy \
             constraint: Member must have length less than or equal to {MAX_STREAM_NAME} and \
             greater than or equal to 1"
        )));
    }
    if name.contains([':', '*']) {
        return Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [^:*]*"
        )));
    }
    Ok(())
}

impl CreateLogStream {
    /// The request's own rules, without I/O.
    pub fn check(&self) -> Result<(), LogsError> {
        manage::check_name(&self.log_group_name)?;
        check_stream_name(&self.log_stream_name)
    }
}

impl PutLogEvents {
    /// The request's own rules, without I/O: names, count, sizes, order and span.
    pub fn check(&self) -> Result<(), LogsError> {
        manage::check_name(&self.log_group_name)?;
        check_stream_name(&self.log_stream_name)?;
        let n = self.log_events.len();
        if n == 0 || n > MAX_EVENTS {
            return Err(invalid(format!(
                "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: \
                 Member must have length less than or equal to {MAX_EVENTS} and greater than or \
                 equal to 1"
            )));
        }
        let mut total = 0;
        for (i, e) in self.log_events.iter().enumerate() {
            if e.message.is_empty() {
                return Err(invalid(format!(
                    "1 validation error detected: Value '' at 'logEvents.{}.member.message' \
                     failed to satisfy constraint: Member must have length greater than or equal to 1",
                    i + 1
                )));
            }
            let size = e.message.len() + EVENT_OVERHEAD;
            if size > MAX_EVENT_BYTES {
                return Err(invalid(format!(
                    "Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}"
                )));
            }
            total += size;
        }
        if total > MAX_BATCH_BYTES {
            return Err(invalid(format!(
                "Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )));
        }
        if self
            .log_events
            .windows(2)
            .any(|w| w[1].timestamp < w[0].timestamp)
        {
            return Err(invalid(
                "Log events in a single PutLogEvents request must be in chronological order.",
            ));
        }
        let span = self.log_events[n - 1]
            .timestamp
            .saturating_sub(self.log_events[0].timestamp);
        if span > MAX_SPAN_MS {
            return Err(invalid(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
            ));
        }
        Ok(())
    }

    /// The events stored (a range: the batch is in time order) and those set aside, at
    /// `now_ms`, in a group keeping `retention_days`.
    pub fn sort_out(
        &self,
        now_ms: u64,
        retention_days: Option<u32>,
    ) -> (Range<usize>, Option<RejectedLogEventsInfo>) {
        let now = now_ms as i64;
        let times: Vec<i64> = self.log_events.iter().map(|e| e.timestamp).collect();
        let too_old = times.partition_point(|&t| t < now - TOO_OLD_MS);
        let expired = retention_days.map_or(0, |d| {
            times.partition_point(|&t| t < now - i64::from(d) * 86_400_000)
        });
        let too_new = times.partition_point(|&t| t <= now + TOO_NEW_MS);
        let start = too_old.max(expired).min(too_new);
        let last = |end: usize| end.checked_sub(1);
        let info = RejectedLogEventsInfo {
            too_new_log_event_start_index: (too_new < times.len()).then_some(too_new),
            too_old_log_event_end_index: last(too_old),
            expired_log_event_end_index: last(expired).filter(|_| expired > too_old),
        };
        let rejected = info != RejectedLogEventsInfo::default();
        (start..too_new, rejected.then_some(info))
    }
}

impl LogStore {
    /// CreateLogStream, as `account`, at `now_ms`.
    pub fn create_log_stream(
        &self,
        req: &CreateLogStream,
        account: &str,
        now_ms: u64,
    ) -> Result<(), LogsError> {
        req.check()?;
        self.owned(&req.log_group_name, account)?;
        let streams = self.db(index::streams(&self.conn, &req.log_group_name))?;
        if streams.iter().any(|s| s.name == req.log_stream_name) {
            return Err(LogsError::refused(
                LogsErrorCode::ResourceAlreadyExists,
                "The specified log stream already exists",
            ));
        }
        self.db(self.conn.execute(
            "INSERT INTO log_streams (log_group, name, created_ms) VALUES (?1, ?2, ?3)",
            params![req.log_group_name, req.log_stream_name, now_ms as i64],
        ))?;
        Ok(())
    }

    /// PutLogEvents, as `account`, at `now_ms`: the accepted events are on disk and indexed
    /// when this returns.
    pub fn put_log_events(
        &self,
        req: &PutLogEvents,
        account: &str,
        now_ms: u64,
    ) -> Result<PutLogEventsAnswer, LogsError> {
        req.check()?;
        let group = &req.log_group_name;
        self.owned(group, account)?;
        let stream_id = self.stream_row(group, &req.log_stream_name)?;
        let retention = self.db(index::group_retention(&self.conn, group))?;
        let (accepted, rejected) = req.sort_out(now_ms, retention);
        let sequence: i64 = self.db(self.conn.query_row(
            "UPDATE log_streams SET sequence = sequence + 1 WHERE id = ?1 RETURNING sequence",
            [stream_id],
            |r| r.get(0),
        ))?;
        if !accepted.is_empty() {
            let events = &req.log_events[accepted];
            self.store_events(
                group,
                &req.log_stream_name,
                events,
                stream_id,
                sequence,
                now_ms,
            )?;
        }
        Ok(PutLogEventsAnswer {
            next_sequence_token: format!("{sequence:056}"),
            rejected_log_events_info: rejected,
        })
    }

    /// The `log_streams` row of a stream that exists: one CreateLogStream made, or one a
    /// flow log's segments hold (its row made now). Otherwise `ResourceNotFoundException`.
    fn stream_row(&self, group: &str, stream: &str) -> Result<i64, LogsError> {
        let row = |s: &LogStore| {
            s.db(s
                .conn
                .query_row(
                    "SELECT id FROM log_streams WHERE log_group = ?1 AND name = ?2",
                    [group, stream],
                    |r| r.get::<_, i64>(0),
                )
                .optional())
        };
        if let Some(id) = row(self)? {
            return Ok(id);
        }
        let streams = self.db(index::streams(&self.conn, group))?;
        let Some(info) = streams.iter().find(|s| s.name == stream) else {
            return Err(LogsError::refused(
                LogsErrorCode::ResourceNotFound,
                "The specified log stream does not exist.",
            ));
        };
        self.db(self.conn.execute(
            "INSERT OR IGNORE INTO log_streams (log_group, name, created_ms) VALUES (?1, ?2, ?3)",
            params![group, stream, info.created_ms as i64],
        ))?;
        Ok(row(self)?.expect("inserted above"))
    }

    /// Writes `events` as one segment, durably, then indexes it.
    fn store_events(
        &self,
        group: &str,
        stream: &str,
        events: &[InputLogEvent],
        stream_id: i64,
        sequence: i64,
        now_ms: u64,
    ) -> Result<(), LogsError> {
        let first = events[0].timestamp;
        let last = events[events.len() - 1].timestamp;
        // Named as delivery names its segments, by the first event's second, so that a
        // group's segments list oldest first.
        let name = format!("{:012}-put-{stream_id}-{sequence}", first.max(0) / 1000);
        let payload = segment::encode_events(segment::Events {
            timestamps: Int64Array::from_iter_values(events.iter().map(|e| e.timestamp)),
            ingestion_ms: now_ms,
            streams: StringArray::from_iter_values(events.iter().map(|_| stream)),
            messages: StringArray::from_iter_values(events.iter().map(|e| e.message.as_str())),
        });
        let file = self.dir.segment(group, &name);
        let dir = self.dir.log_group(group);
        let file_name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        crate::dir::write_durably(&dir, &file_name, &payload).map_err(|source| LogsError::Io {
            path: file.display().to_string(),
            source,
        })?;
        // The index row and what the group's metric filters make of the events: one
        // transaction, so that the events count in their metrics once.
        let tx = self.db(self.conn.unchecked_transaction())?;
        self.db(tx.execute(
            "INSERT INTO segments (log_group, segment, stream, events, first_ms, last_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![group, name, stream, events.len() as i64, first, last],
        ))?;
        if let Some(mut ingest) =
            self.db(super::ingest::Ingest::for_group(&tx, group, &self.account))?
        {
            for e in events {
                ingest.event(e.timestamp, &e.message);
            }
            self.db(ingest.commit(&tx))?;
        }
        self.db(tx.commit())?;
        Ok(())
    }
}
