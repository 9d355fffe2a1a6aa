//! Destinations as components: one module per kind owns its config (a `vpcflow.toml` section and
//! its checks), its accumulator (a flow log's or stream's records of commit windows → spool
//! entries), its spool target and its delivery. [`log_group`], [`s3`], [`firehose`].
//!
//! The encoder ([`crate::fanout`]) routes each record to its subscription's [`Accumulator`] and
//! collects what a commit completes; the worker ([`crate::deliver`]) hands each entry to its
//! target's component. Adding a kind is its module, a line in [`open`] and in
//! [`crate::spool::Target`], and its `LogDestinationType` in the API's
//! [`crate::api::Destination`].

pub mod firehose;
pub mod log_group;
pub mod s3;

use serde::{Deserialize, Serialize};

/// What a checkpoint covers: a flow log's own sink (S3 objects, log segments), or a delivery
/// stream, which flow logs share. Kept in `state.db` and in spool headers as text: the flow
/// log's id, or `firehose:NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum SinkKey {
    /// The objects or segments of one flow log (`fl-…`).
    FlowLog(String),
    /// A delivery stream, by name.
    Stream(String),
}

const STREAM_PREFIX: &str = "firehose:";

impl std::fmt::Display for SinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SinkKey::FlowLog(id) => f.write_str(id),
            SinkKey::Stream(name) => write!(f, "{STREAM_PREFIX}{name}"),
        }
    }
}

/// Text that names no sink.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' names no sink (expected fl-… or firehose:NAME)")]
pub struct BadSinkKey(pub String);

impl std::str::FromStr for SinkKey {
    type Err = BadSinkKey;

    fn from_str(s: &str) -> Result<SinkKey, BadSinkKey> {
        match s.strip_prefix(STREAM_PREFIX) {
            Some(name) if !name.is_empty() => Ok(SinkKey::Stream(name.to_owned())),
            None if s.starts_with("fl-") => Ok(SinkKey::FlowLog(s.to_owned())),
            _ => Err(BadSinkKey(s.to_owned())),
        }
    }
}

impl From<SinkKey> for String {
    fn from(k: SinkKey) -> String {
        k.to_string()
    }
}

impl TryFrom<String> for SinkKey {
    type Error = BadSinkKey;

    fn try_from(s: String) -> Result<SinkKey, BadSinkKey> {
        s.parse()
    }
}

#[cfg(feature = "runtime")]
pub use runtime::*;

#[cfg(feature = "runtime")]
mod runtime {
    use std::collections::BTreeMap;

    use vpcflow_record::FlowRecord;

    use super::{SinkKey, firehose, log_group, s3};
    use crate::api::Destination;
    use crate::fanout::{Plan, Subscription};
    use crate::spool::Entry;

    /// What a commit of one sink gave.
    #[derive(Default)]
    pub struct Committed {
        /// Entries to spool.
        pub entries: Vec<Entry>,
        /// Records in them, by flow log.
        pub records: BTreeMap<String, u64>,
        /// The sink's new checkpoint, when it moved.
        pub done: Option<u64>,
    }

    /// What a commit needs to know besides the records.
    pub struct CommitContext<'a> {
        /// The commit mark (s): windows before it are complete.
        pub until: u64,
        /// The end of the run: flush everything.
        pub last: bool,
        /// The source run, for the entries' headers.
        pub run: Option<&'a String>,
        /// The plan (retention of log groups, streams' hints).
        pub plan: &'a Plan,
        /// A second source of the same flow logs (live capture beside a service's simulated
        /// traffic), or a source that cannot be replayed, named uniquely by its caller.
        pub source: Option<&'a str>,
    }

    impl CommitContext<'_> {
        /// What the names, keys and request ids of this run's entries carry: its run key (the
        /// inputs), then its source. Two runs of other inputs over the same time never share a
        /// name, so neither replaces what the other delivered; a replay of the same inputs
        /// makes the same names, which exactly-once rests on.
        pub fn tag(&self) -> String {
            let mut tag = String::new();
            for part in [self.run.map(String::as_str), self.source]
                .into_iter()
                .flatten()
            {
                tag.push('-');
                tag.push_str(part);
            }
            tag
        }
    }

    /// A sink's records on their way to the spool.
    pub trait Accumulator: Send {
        /// Its checkpoint key.
        fn key(&self) -> SinkKey;
        /// True when a replayed run delivered `rec` already: its checkpoint `done` covers
        /// where it files `rec` (records now arriving belong after commit mark `last_commit`).
        fn covered(&self, rec: &FlowRecord, done: u64, last_commit: u64) -> bool;
        /// Takes a record of `sub`, in its format's version.
        fn add(&mut self, sub: &Subscription, rec: &FlowRecord);
        /// Finishes what the mark completes; `done` is the sink's checkpoint (a replayed run
        /// makes nothing it covers).
        fn commit(&mut self, ctx: &CommitContext<'_>, done: u64) -> Committed;
    }

    /// The 5-minute bucket of `end` a flow log's own sink (objects, segments) files `rec` under.
    pub(crate) fn bucket_of(rec: &FlowRecord) -> u64 {
        crate::layout::file_bucket(rec.end.map_or(0, |c| c.0))
    }

    /// The open buckets of a flow log's own sink that a commit completes: those before the
    /// mark, or all of them at the end.
    pub(crate) fn ready<T>(open: &BTreeMap<u64, T>, ctx: &CommitContext<'_>) -> Vec<u64> {
        open.keys()
            .filter(|&&b| ctx.last || b < ctx.until)
            .copied()
            .collect()
    }

    /// The registry: the accumulator of `sub`'s destination (a stream's is shared by its flow
    /// logs: the caller keeps one per stream).
    pub fn open(sub: &Subscription, plan: &Plan) -> Box<dyn Accumulator> {
        match &sub.flow_log.destination {
            Destination::S3 { .. } => Box::new(s3::Objects::new(sub)),
            Destination::LogGroup { .. } => Box::new(log_group::Segments::new(sub)),
            Destination::Firehose { stream } => Box::new(firehose::Buffer::new(stream, plan)),
        }
    }

    /// The destination a target or a flow log delivers to, as the spool's shares and the
    /// worker's backoff key it: `s3:BUCKET`, `logs:GROUP`, `firehose:STREAM`.
    pub fn destination_key(kind: &str, name: &str) -> String {
        format!("{kind}:{name}")
    }

    /// The destination key of `sub`'s flow log (see [`destination_key`]).
    pub fn destination_of(sub: &Subscription) -> String {
        match &sub.flow_log.destination {
            Destination::S3 { bucket, .. } => destination_key("s3", bucket),
            Destination::LogGroup { name } => destination_key("logs", name),
            Destination::Firehose { stream } => destination_key("firehose", stream),
        }
    }

    /// The sink `sub` delivers to.
    pub fn key_of(sub: &Subscription) -> SinkKey {
        match &sub.flow_log.destination {
            Destination::Firehose { stream } => SinkKey::Stream(stream.clone()),
            _ => SinkKey::FlowLog(sub.flow_log.flow_log_id.clone()),
        }
    }
}

#[cfg(all(test, feature = "runtime"))]
mod tests {
    use super::*;

    #[test]
    fn sink_keys_read_back_as_written() {
        for (text, key) in [
            (
                "fl-0123456789abcdef0",
                SinkKey::FlowLog("fl-0123456789abcdef0".into()),
            ),
            ("firehose:s", SinkKey::Stream("s".into())),
        ] {
            assert_eq!(text.parse::<SinkKey>().unwrap(), key);
            assert_eq!(key.to_string(), text);
            let json = serde_json::to_string(&key).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<SinkKey>(&json).unwrap(), key);
        }
        for bad in ["", "firehose:", "logs:/g", "s3:b"] {
            assert!(bad.parse::<SinkKey>().is_err(), "{bad}");
        }
    }
}
