//! Monitoring over log events, without I/O or a clock: the filter-pattern language that metric
//! filters, subscription filters, FilterLogEvents, TestMetricFilter and `vpcflow logs tail
//! --filter` share ([`pattern`]), and what a metric filter publishes for a matching event
//! ([`metric`]), and the metric alarm's state machine ([`alarm`]). The store calls these at
//! ingest and when it evaluates alarms; the API and the binary only parse and print.

pub mod alarm;
pub mod metric;
pub mod pattern;

pub use pattern::{Matched, Pattern, PatternError, Problem};
