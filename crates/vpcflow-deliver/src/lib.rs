//! Flow-log delivery: subscriptions with CreateFlowLogs semantics, fan-out of the flow
//! engines' records to each flow log's subset, and durable delivery to log groups, S3 layouts
//! (text.gz and Parquet) and Firehose-style delivery streams.
//!
//! Data path: [`pipeline::Pipeline`] (router → [`fanout::Encoder`] → [`spool::Spool`]) then
//! [`deliver::Worker`]. Control: [`api`] validates, [`state::State`] stores (`DATA/state.db`).
//! Layout rules live in [`layout`] only.

pub mod api;
pub mod config;
pub mod deliver;
pub mod fanout;
pub mod layout;
pub mod logstore;
pub mod pipeline;
pub mod spool;
pub mod state;

pub use api::{ApiError, CreateFlowLogs, ERROR_CODES, ErrorKind, FlowLog};
pub use config::DeliveryConfig;
pub use fanout::Plan;
pub use pipeline::{Pipeline, PipelineOptions};
pub use state::State;
