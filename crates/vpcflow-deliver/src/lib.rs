//! Flow-log delivery: subscriptions with CreateFlowLogs semantics, fan-out of the flow
//! engines' records to each flow log's subset, and durable delivery to log groups, S3 layouts
//! (text.gz and Parquet) and Firehose-style delivery streams.
//!
//! Data path: [`pipeline::Pipeline`] (router → [`fanout::Encoder`] → [`spool::Spool`]) then
//! [`deliver::Worker`]. Control: [`api`] validates, [`describe`] answers DescribeFlowLogs,
//! [`state::State`] stores (`DATA/state.db`), [`live`] makes a running service's plan follow
//! the flow logs created and deleted there, [`coverage`] says which flow logs cover an ENI (for
//! troubleshooting), and [`pump`] does the work API requests leave
//! (Firehose streams' buffers, subscription filters, bucket lifecycle and notifications).
//! Each destination kind (log group, S3, Firehose) is one component of [`sinks`]: its config,
//! accumulator, spool target and delivery. Layout rules live in [`layout`] only.

//!
//! Without the default `runtime` feature only the pure part builds: [`api`], [`describe`],
//! [`config`], [`layout`] and the components' config sections ([`sinks`]).

pub mod agents;
pub mod api;
pub mod config;
pub mod coverage;
#[cfg(feature = "runtime")]
pub mod deliver;
pub mod describe;
#[cfg(feature = "runtime")]
pub mod fanout;
#[cfg(feature = "runtime")]
pub mod iam;
pub mod layout;
#[cfg(feature = "runtime")]
pub mod live;
#[cfg(feature = "runtime")]
pub mod pipeline;
#[cfg(feature = "runtime")]
pub mod pump;
#[cfg(feature = "runtime")]
pub mod reconcile;
pub mod resources;
pub mod sinks;
#[cfg(feature = "runtime")]
pub mod spool;
#[cfg(feature = "runtime")]
pub mod state;
pub mod tags;
pub mod topology;

pub use api::{ApiError, CreateFlowLogs, ERROR_CODES, ErrorKind, FlowLog};
pub use config::DeliveryConfig;
#[cfg(feature = "runtime")]
pub use fanout::Plan;
#[cfg(feature = "runtime")]
pub use pipeline::{Pipeline, PipelineOptions};
#[cfg(feature = "runtime")]
pub use state::State;
