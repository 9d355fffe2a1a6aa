//! The log-group destination: `[[log_groups]]` (retention), a flow log's segments (one per
//! 5-minute bucket of `end`: one event per record, `vpcflow_store::segment`), their spool target,
//! and the delivery that writes a segment under `DATA/logs/` and indexes it in `state.db`,
//! creating the group as its flow log's account, and expires old segments by retention.

use serde::{Deserialize, Serialize};

/// A log group's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogGroupConfig {
    /// Log group name.
    pub name: String,
    /// Retention (one of CloudWatch's values); none = never expire.
    pub retention_in_days: Option<u32>,
}

pub use vpcflow_store::retention::RETENTION_DAYS;

/// Checks `[[log_groups]]` (no I/O): every problem as (key path, reason).
pub fn check(groups: &[LogGroupConfig]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, g) in groups.iter().enumerate() {
        if !seen.insert(g.name.as_str()) {
            out.push((
                format!("log_groups[{i}].name"),
                format!("log group '{}' is declared twice", g.name),
            ));
        }
        if let Some(d) = g.retention_in_days
            && !RETENTION_DAYS.contains(&d)
        {
            out.push((
                format!("log_groups[{i}].retention_in_days"),
                format!("{d} is not one of CloudWatch's values {RETENTION_DAYS:?}"),
            ));
        }
    }
    out
}

#[cfg(feature = "runtime")]
pub use runtime::*;

#[cfg(feature = "runtime")]
mod runtime {
    use std::collections::BTreeMap;

    use vpcflow_record::arrow_array::builder::{Int64Builder, StringBuilder};
    use vpcflow_record::{FlowRecord, LogFormat, arrow, text};
    use vpcflow_store::DataDir;

    use crate::api::{Destination, FlowLog};
    use crate::deliver::{DeliveryError, write_durably};
    use crate::fanout::Subscription;
    use crate::layout;
    use crate::sinks::{Accumulator, CommitContext, Committed, SinkKey, bucket_of, ready};
    use crate::spool::{Entry, EntryHeader, Target};
    use crate::state::SegmentStream;
    use crate::state::{State, StateError};

    /// A segment to write.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    pub struct SegmentTarget {
        /// Log group.
        pub group: String,
        /// Segment name (unique within the group).
        pub segment: String,
        /// Streams in it.
        pub streams: Vec<SegmentStream>,
        /// Retention of the group, if configured.
        pub retention_days: Option<u32>,
        /// The flow log owner's account, which owns a group the delivery creates (absent in
        /// entries spooled before accounts were kept: the store's account).
        #[serde(default)]
        pub account: Option<String>,
    }

    impl SegmentTarget {
        /// The destination whose failures hold back its other entries (backoff).
        pub fn destination(&self) -> String {
            crate::sinks::destination_key("logs", &self.group)
        }
    }

    /// A flow log's segments being built, by 5-minute bucket of `end`.
    pub struct Segments {
        flow_log: FlowLog,
        format: LogFormat,
        open: BTreeMap<u64, Segment>,
        line: String,
    }

    /// One segment: an event per record (time `start` in ms, the record's line), with the
    /// format's columns alongside.
    struct Segment {
        records: u64,
        ts: Int64Builder,
        stream: StringBuilder,
        message: StringBuilder,
        fields: arrow::BatchBuilder,
        streams: BTreeMap<String, SegmentStream>,
    }

    impl Segment {
        fn new(format: &LogFormat) -> Segment {
            Segment {
                records: 0,
                ts: Int64Builder::new(),
                stream: StringBuilder::new(),
                message: StringBuilder::new(),
                fields: arrow::BatchBuilder::new(format, 1024),
                streams: BTreeMap::new(),
            }
        }

        fn append(&mut self, rec: &FlowRecord, line: &str) {
            self.records += 1;
            let stream = layout::log_stream_name(rec.interface_id.as_deref().unwrap_or("unknown"));
            let t = rec.start.map_or(0, |c| c.0) * 1000;
            let s = self.streams.entry(stream.clone()).or_insert(SegmentStream {
                stream: stream.clone(),
                events: 0,
                first_ms: t,
                last_ms: t,
            });
            s.events += 1;
            s.first_ms = s.first_ms.min(t);
            s.last_ms = s.last_ms.max(t);
            self.ts.append_value(t as i64);
            self.stream.append_value(&stream);
            self.message.append_value(line);
            self.fields.append(rec);
        }

        /// The segment file (Parquet, snappy), and its streams.
        fn finish(
            mut self,
            format: &LogFormat,
            ingestion_ms: u64,
        ) -> (Vec<u8>, Vec<SegmentStream>) {
            let events = vpcflow_store::segment::Events {
                timestamps: self.ts.finish(),
                ingestion_ms,
                streams: self.stream.finish(),
                messages: self.message.finish(),
            };
            (
                vpcflow_store::segment::encode(format, events, &self.fields.finish()),
                self.streams.into_values().collect(),
            )
        }
    }

    impl Segments {
        /// The segments of `sub`, a log-group flow log.
        pub fn new(sub: &Subscription) -> Segments {
            Segments {
                flow_log: sub.flow_log.clone(),
                format: sub.format.clone(),
                open: BTreeMap::new(),
                line: String::with_capacity(256),
            }
        }
    }

    impl Accumulator for Segments {
        fn key(&self) -> SinkKey {
            SinkKey::FlowLog(self.flow_log.flow_log_id.clone())
        }

        fn covered(&self, rec: &FlowRecord, done: u64, _last_commit: u64) -> bool {
            bucket_of(rec) < done
        }

        fn add(&mut self, _sub: &Subscription, rec: &FlowRecord) {
            let bucket = bucket_of(rec);
            self.line.clear();
            text::encode_into(&self.format, rec, &mut self.line);
            let format = &self.format;
            self.open
                .entry(bucket)
                .or_insert_with(|| Segment::new(format))
                .append(rec, &self.line);
        }

        fn commit(&mut self, ctx: &CommitContext<'_>, _done: u64) -> Committed {
            let f = &self.flow_log;
            let Destination::LogGroup { name } = &f.destination else {
                unreachable!("segments belong to a log-group flow log")
            };
            let mut out = Committed {
                done: Some(ctx.until),
                ..Committed::default()
            };
            for bucket in ready(&self.open, ctx) {
                let seg = self.open.remove(&bucket).expect("listed above");
                let records = seg.records;
                *out.records.entry(f.flow_log_id.clone()).or_default() += records;
                let (payload, streams) = seg.finish(&self.format, ctx.until * 1000);
                out.entries.push(Entry {
                    name: format!("{bucket:012}-{}{}-logs", f.flow_log_id, ctx.tag()),
                    header: EntryHeader {
                        target: Target::LogSegment(SegmentTarget {
                            group: name.clone(),
                            segment: format!("{bucket:012}-{}{}", f.flow_log_id, ctx.tag()),
                            streams,
                            retention_days: ctx.plan.retention.get(name).copied().flatten(),
                            account: Some(f.account_id.clone()),
                        }),
                        run: ctx.run.cloned(),
                        sink: self.key(),
                        window: ctx.until,
                        flow_logs: vec![f.flow_log_id.clone()],
                        records,
                        checksum: None,
                        redo_from: Some(bucket),
                    },
                    payload,
                });
            }
            out
        }
    }

    /// Writes a segment, indexes it (creating its group as `account`'s, or `default_account`'s
    /// for entries spooled before accounts were kept), and expires the group's segments older
    /// than its retention, in record time, as CloudWatch expires events.
    pub fn deliver(
        data: &DataDir,
        state: &State,
        t: &SegmentTarget,
        payload: &[u8],
        now_ms: u64,
        default_account: &str,
    ) -> Result<(), DeliveryError> {
        let group = &t.group;
        let dir = data.log_group(group);
        let file = data.segment(group, &t.segment);
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        write_durably(&dir, name, payload).map_err(|e| {
            DeliveryError::unknown(format!("log group {group}: {}: {e}", dir.display()))
        })?;
        let db = |e: StateError| DeliveryError::unknown(e.to_string());
        state
            .ensure_log_group(
                group,
                t.account.as_deref().unwrap_or(default_account),
                now_ms,
                // A retention the config sets is applied; without one, the group keeps what
                // PutRetentionPolicy set.
                t.retention_days.map(Some),
            )
            .map_err(db)?;
        let account = t.account.as_deref().unwrap_or(default_account);
        // The group's metric filters see the segment's events once: not again when a crash
        // left its entry spooled after it was indexed.
        let mut metrics = None;
        if !state.has_segment(group, &t.segment).map_err(db)?
            && let Some(mut ingest) = state.ingest(group, account).map_err(db)?
        {
            vpcflow_store::segment::each_message(&file, |t, m| ingest.event(t, m))
                .map_err(|e| DeliveryError::unknown(format!("log group {group}: {e}")))?;
            metrics = Some(ingest);
        }
        state
            .add_segment(group, &t.segment, &t.streams, metrics)
            .map_err(db)?;
        // The group's retention as it stands (the config's, or PutRetentionPolicy's).
        let retention = state.log_group_retention(group).map_err(db)?;
        if let Some(days) = retention {
            let newest = t.streams.iter().map(|s| s.last_ms).max().unwrap_or(0);
            let cutoff = newest.saturating_sub(u64::from(days) * 86_400_000);
            for old in state.segments_older_than(group, cutoff).map_err(db)? {
                let _ = std::fs::remove_file(dir.join(format!("{old}.parquet")));
                state.remove_segment(group, &old).map_err(db)?;
            }
        }
        Ok(())
    }
}
