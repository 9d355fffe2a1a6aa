//! Query over flow logs: the CloudWatch Logs Insights language and SQL with Athena's DDL, both
//! planned onto Apache DataFusion.
//!
//! Without the default `engine` feature the crate is the language front ends only (what the
//! fuzz targets build, in seconds): [`insights`] (lexer, parser into a typed AST with spans, the
//! function registry, the natural sort order) and [`athena`] (the DDL statements). With it:
//! `insights::plan` (Insights onto DataFrames), `sql` (the catalog and scripts), `table` (the
//! table provider over flow-log files), `text` (the flow-log text decoder) and `udf`.

pub mod athena;
pub mod insights;
#[cfg(feature = "engine")]
pub mod sql;
#[cfg(feature = "engine")]
pub mod table;
#[cfg(feature = "engine")]
pub mod text;
#[cfg(feature = "engine")]
pub mod udf;
