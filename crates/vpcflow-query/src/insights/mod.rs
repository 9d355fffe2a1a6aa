//! The CloudWatch Logs Insights language (query.md §1): [`lexer`], [`parser`] into [`ast`],
//! the function [`registry`], and [`error`]s that point at the token at fault.

pub mod ast;
pub mod error;
pub mod lexer;
pub mod parser;
pub mod registry;

pub use error::{ParseError, Span};
pub use parser::parse;
