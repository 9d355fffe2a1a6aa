//! The flow engine and its traffic sources.
//!
//! * [`flow`]: the per-ENI flow table, interval aggregation and record building
//!   ([`FlowEngine`]), fed [`Observation`]s; policy comes from `vpcflow-net`.
//! * [`scenario`]: traffic scenarios as data (TOML) and their validation; [`derive`]: traffic
//!   derived from a topology's rules and routes for the VPCs no scenario describes.
//! * [`sim`]: the deterministic traffic simulator, which sends scenario sessions as packets
//!   through the topology into the engine.
//! * [`decode`]: link frames → 5-tuple, TCP flags, IP length; [`pcap`]: pcap/pcapng files and
//!   the mapping of packets to ENIs.
//!
//! * [`live`]: live capture from Linux interfaces (AF_PACKET TPACKET_V3), into the same
//!   [`FlowEngine`].

pub mod decode;
pub mod derive;
pub mod flow;
pub mod live;
pub mod pcap;
pub mod scenario;
pub mod sim;
mod table;

pub use flow::{EngineConfig, FlowEngine, Observation, RawRecord, RecordBuilder};
pub use scenario::Scenario;
pub use sim::{Emit, SimConfig, Simulator};
