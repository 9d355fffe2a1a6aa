//! The network model: what a flow log describes, and the rules that decide ACCEPT or REJECT.
//!
//! * [`model`]: the topology file format (TOML), as users write it.
//! * [`network`]: validation (every problem at once) and the compiled [`Network`]: lookups,
//!   routing and `traffic-path`.
//! * [`policy`]: network ACLs (stateless) and security groups (stateful) → [`Verdict`];
//!   [`conntrack`] holds the tracked connections.
//! * [`never_logged`]: traffic AWS never logs.
//! * [`record`]: flow records of the ENIs as engines emit them, unbuilt, and how they are built
//!   (the type capture produces and delivery consumes).
//! * [`builtin`]: topologies shipped with vpcflow (`builtin:three-tier`).
//! * [`diagnose`]: explains from the topology alone whether a connection would pass.
//! * [`troubleshoot`]: the troubleshooting flowchart on delivered records (what happened to a
//!   connection, and which rule or flow-log setting explains it).
//! * [`nft`]: nftables rulesets that make the kernel enforce the policy (the lab).
//!
//! No I/O beyond reading a topology file, no clock: time comes in as values.

pub mod builtin;
pub mod conntrack;
pub mod diagnose;
pub mod map;
pub mod model;
pub mod network;
pub mod never_logged;
pub mod nft;
pub mod policy;
pub mod record;
pub mod troubleshoot;

pub use network::{LoadError, Network, Problem, Problems};
pub use policy::{FiveTuple, Packet, Policy, Verdict};
