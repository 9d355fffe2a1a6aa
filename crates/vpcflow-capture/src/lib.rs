//! The flow engine and its traffic sources.
//!
//! * [`flow`]: the per-ENI flow table, interval aggregation and record building
//!   ([`FlowEngine`]), fed [`Observation`]s; policy comes from `vpcflow-net`.
//! * [`scenario`]: traffic scenarios as data (TOML) and their validation.
//! * [`sim`]: the deterministic traffic simulator, which sends scenario sessions as packets
//!   through the topology into the engine.
//!
//! Packet decoding, pcap/pcapng files and live AF_PACKET capture are planned here too (the
//! capture issue); they will feed the same [`FlowEngine`].

pub mod flow;
pub mod scenario;
pub mod sim;

pub use flow::{EngineConfig, FlowEngine, Observation};
pub use scenario::Scenario;
pub use sim::{SimConfig, Simulator};
