//! The CloudWatch Logs Insights language (query.md §1): [`lexer`], [`parser`] into [`ast`], the
//! function [`registry`], the names of discovered flow-log [`fields`], the documented [`sort`]
//! order, and [`error`]s that point at the token at fault.

pub mod ast;
pub mod error;
pub mod fields;
pub mod lexer;
pub mod parser;
#[cfg(feature = "engine")]
pub mod plan;
pub mod registry;
pub mod sort;

pub use error::{ParseError, Span};
pub use parser::parse;
