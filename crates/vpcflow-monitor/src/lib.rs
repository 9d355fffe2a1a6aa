//! Monitoring over log events, without I/O or a clock: the filter-pattern language that metric
//! filters, subscription filters, FilterLogEvents, TestMetricFilter and `vpcflow logs tail
//! --filter` share ([`pattern`]), what a metric filter publishes for a matching event
//! ([`metric`]), the metric alarm's state machine ([`alarm`]), Contributor Insights' rules and
//! reports ([`contributors`]), and detections on flow records ([`detect`]). The store calls
//! these at ingest and when it evaluates alarms; the API and the binary only parse and print.

pub mod alarm;
pub mod contributors;
pub mod detect;
pub mod metric;
pub mod pattern;

pub use pattern::{Event, FieldBuffer, Found, Matched, Pattern, PatternError, Problem, Reference};
