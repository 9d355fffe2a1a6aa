//! Query over flow logs: the CloudWatch Logs Insights language, and (next) SQL with Athena's
//! DDL, both to be planned onto Apache DataFusion.
//!
//! Built so far: the Insights front end ([`insights`]): lexer, parser into a typed AST with the
//! source span of every node, and the registry of commands and functions that validates a query
//! before anything runs. Errors point at the offending token.

pub mod insights;
#[cfg(feature = "engine")]
pub mod sql;
#[cfg(feature = "engine")]
pub mod table;
#[cfg(feature = "engine")]
pub mod text;
#[cfg(feature = "engine")]
pub mod udf;
