//! The data directory and what every crate agrees on about it: where each thing lives
//! ([`dir`]), who may write it ([`lock`]: one writer at a time), the control-plane database's
//! schema and its migrations ([`db`]), the log-group
//! segment file, written and read (`segment`), log groups as a service (`logs`: DescribeLogGroups,
//! DescribeLogStreams, GetLogEvents, FilterLogEvents, …), CloudWatch's alarms (`alarms`), their
//! evaluation on the metric's time (`alarm_eval`), Contributor Insights rules and reports
//! (`insight_rules`), the detections' findings (`findings`) and metric data (`metrics`), Firehose delivery streams and their buffers (`firehose`), local buckets' writes and
//! configurations (`buckets`), the stable hash ids derive from (`ids`), and time: the
//! injected [`time::Clock`] and the one copy of the calendar arithmetic ([`time`]).
//!
//! The crates above (delivery, query, the binary) open paths and the database only through
//! here, so that a layout or schema change is made, and migrated, in one place.

#[cfg(feature = "db")]
pub mod alarm_eval;
#[cfg(feature = "db")]
pub mod alarms;
pub mod bucket_config;
#[cfg(feature = "db")]
pub mod buckets;
#[cfg(feature = "db")]
pub mod db;
pub mod dir;
#[cfg(all(feature = "db", feature = "segment"))]
pub mod findings;
#[cfg(feature = "db")]
pub mod firehose;
pub mod ids;
#[cfg(all(feature = "db", feature = "segment"))]
pub mod insight_rules;
pub mod lock;
#[cfg(all(feature = "db", feature = "segment"))]
pub mod logs;
#[cfg(feature = "db")]
pub mod metrics;
pub mod retention;
#[cfg(feature = "segment")]
pub mod segment;
pub mod time;

#[cfg(feature = "db")]
pub use db::{DbError, SCHEMA_VERSION};
pub use dir::DataDir;
pub use time::Clock;
