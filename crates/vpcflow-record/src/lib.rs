//! The VPC flow-log record, and everything that reads or writes one.
//!
//! * [`registry`]: the single table of every field of versions 2–11 ([`FIELDS`], [`FieldId`]),
//!   Transit Gateway's version-6 fields among them ([`Scope`]), and the [`FlowRecord`] it
//!   generates.
//! * [`value`]: the typed values (addresses, enums for action / log-status / flow-direction /
//!   type, protocol numbers, TCP flags, traffic paths) and their validation.
//! * [`format`]: [`LogFormat`], the `${field}` list of a flow log, validated as the EC2 API does.
//! * [`text`], [`json`]: the line rules every reader shares (header lines wherever they appear,
//!   in either spelling; whitespace around a line and blank lines; single spaces between
//!   fields, `-` = absent) and the record line codec; JSON lines.
//! * [`arrow`], [`parquet`] (features of the same names): batches and files with AWS's Parquet
//!   column names and types.
//! * [`ocsf`]: the OCSF Network Activity (class 4001) mapping.
//!
//! This crate does no I/O, runs no async code and knows nothing of DataFusion: callers hand it
//! strings, records, `Write`rs and readers.
//!
//! ```
//! use vpcflow_record::{LogFormat, text, json};
//! let format = LogFormat::default_v2();
//! let line = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA";
//! let record = text::decode(&format, line)?;
//! assert_eq!(text::encode(&format, &record), line);
//! assert!(json::encode(&format, &record).starts_with(r#"{"version":2,"account-id":"123456789010""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "arrow")]
pub mod arrow;
pub mod format;
pub mod json;
pub mod ocsf;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod registry;
pub mod text;
pub mod value;

pub use format::{DEFAULT_FORMAT, FormatError, LogFormat};
pub use registry::{FIELDS, FieldDef, FieldId, FlowRecord, Scope};
pub use value::{
    Action, Count, FlowDirection, IpType, Kind, LogStatus, Protocol, Scalar, TcpFlags,
    TgwResourceType, TrafficPath, ValueError,
};
/// The Arrow crates this crate builds on, re-exported so that the build has one version of each.
#[cfg(feature = "arrow")]
pub use {arrow_array, arrow_schema};
