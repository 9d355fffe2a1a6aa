//! Live capture from Linux interfaces: AF_PACKET TPACKET_V3 rings (through `netring`, pure Rust,
//! no libpcap), batched, with an explicit ring size.
//!
//! Owns the capture loop. Packet time is the kernel's timestamp of each packet; a clock injected
//! by the caller closes intervals while an interface is idle. Kernel ring drops, read from the
//! socket's counters once a second, become SKIPDATA for the interface's ENI — loss is reported,
//! never silent. The loop ends when the caller's stop flag is set (SIGINT/SIGTERM in the CLI),
//! and then closes the open interval so nothing captured is left unwritten.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use netring::Capture;

use crate::decode::{DecodeStats, Decoder, LinkType};
use crate::flow::{FlowEngine, Observation};
use crate::pcap::place;
use crate::sim::Emit;

/// One interface to capture, and the ENI it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveInterface {
    /// Host interface name (e.g. a veth).
    pub name: String,
    /// ENI index in the engine's network.
    pub eni: usize,
}

/// Ring settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    /// Bytes per ring block.
    pub block_size: usize,
    /// Blocks per ring.
    pub block_count: usize,
    /// The kernel hands over a partly filled block after this many milliseconds.
    pub block_timeout_ms: u32,
}

impl Default for RingConfig {
    fn default() -> Self {
        // 64 blocks of 1 MiB: 64 MiB per interface, enough for a 300 k pps burst.
        RingConfig {
            block_size: 1 << 20,
            block_count: 64,
            block_timeout_ms: 50,
        }
    }
}

/// Why live capture failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// Opening or reading an interface failed (missing interface, no CAP_NET_RAW, …).
    #[error("interface {interface}: {message}")]
    Interface {
        /// The interface.
        interface: String,
        /// What the kernel said.
        message: String,
    },
}

/// What a live run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Frames read from the rings.
    pub frames: u64,
    /// Decoding counters.
    pub decode: DecodeStats,
    /// Packets the kernel dropped (ring full), reported as SKIPDATA.
    pub kernel_drops: u64,
}

/// Open capture rings, ready to run (packets arriving from now on are kept by the kernel).
pub struct LiveCapture {
    captures: Vec<(LiveInterface, Capture)>,
}

impl LiveCapture {
    /// Opens one ring per interface.
    pub fn open(interfaces: &[LiveInterface], ring: RingConfig) -> Result<LiveCapture, LiveError> {
        let mut captures = Vec::with_capacity(interfaces.len());
        for iface in interfaces {
            let cap = Capture::builder()
                .interface(&iface.name)
                .block_size(ring.block_size)
                .block_count(ring.block_count)
                .block_timeout_ms(ring.block_timeout_ms)
                .build()
                .map_err(|e| LiveError::Interface {
                    interface: iface.name.clone(),
                    message: e.to_string(),
                })?;
            // Start the drop counters from zero (reading them resets them).
            let _ = cap.stats();
            captures.push((iface.clone(), cap));
        }
        Ok(LiveCapture { captures })
    }

    /// Captures until `stop` is set; `now` gives the current time in µs since the epoch. Records
    /// go to `out` unbuilt as their intervals close, each time followed by how far they are
    /// complete, as the simulator hands them out ([`Emit`], engine 0); the open interval is
    /// closed at the end.
    pub fn run(
        mut self,
        engine: &mut FlowEngine,
        stop: &Arc<AtomicBool>,
        now: &dyn Fn() -> u64,
        out: &mut dyn FnMut(Emit),
    ) -> Result<LiveStats, LiveError> {
        let net = Arc::clone(engine.network());
        let mut decoder = Decoder::new();
        let mut stats = LiveStats::default();
        let mut last_stats = now();
        let mut announced = None;
        while !stop.load(Ordering::Relaxed) {
            self.poll(
                engine,
                &net,
                &mut decoder,
                &mut stats,
                Duration::from_millis(20),
            )?;
            let t = now();
            if t.saturating_sub(last_stats) >= 1_000_000 {
                last_stats = t;
                self.read_drops(engine, &mut stats);
            }
            engine.advance_to(t);
            crate::flow::drain_in_turns(&mut [&mut *engine], &mut announced, out);
        }
        // Stopping must not lose what the kernel already holds: drain every ring until a pass
        // longer than the block timeout finds nothing more.
        while self.poll(
            engine,
            &net,
            &mut decoder,
            &mut stats,
            Duration::from_millis(80),
        )? > 0
        {}
        self.read_drops(engine, &mut stats);
        engine.finish();
        crate::flow::drain_in_turns(&mut [&mut *engine], &mut announced, out);
        stats.decode = decoder.stats();
        Ok(stats)
    }

    /// One pass over every ring, waiting up to `wait` for each; returns the frames read.
    fn poll(
        &mut self,
        engine: &mut FlowEngine,
        net: &vpcflow_net::Network,
        decoder: &mut Decoder,
        stats: &mut LiveStats,
        wait: Duration,
    ) -> Result<u64, LiveError> {
        let mut frames = 0;
        for (iface, cap) in &mut self.captures {
            let batch = cap
                .next_batch_blocking(wait)
                .map_err(|e| LiveError::Interface {
                    interface: iface.name.clone(),
                    message: e.to_string(),
                })?;
            let Some(batch) = batch else { continue };
            for pkt in &batch {
                frames += 1;
                let t = pkt.timestamp();
                let ts = u64::from(t.sec) * 1_000_000 + u64::from(t.nsec) / 1000;
                if let Some(d) = decoder.decode(LinkType::Ethernet, pkt.data()) {
                    let tuple = d.packet.tuple;
                    place(
                        net,
                        Some(iface.eni),
                        tuple.src,
                        tuple.dst,
                        |eni, direction| {
                            engine.observe(&Observation {
                                ts,
                                eni,
                                direction,
                                packet: d.packet,
                                len: d.ip_len,
                            });
                        },
                    );
                }
            }
        }
        stats.frames += frames;
        Ok(frames)
    }

    /// Moves the kernel's drop counters into SKIPDATA for each interface's ENI.
    fn read_drops(&self, engine: &mut FlowEngine, stats: &mut LiveStats) {
        for (iface, cap) in &self.captures {
            if let Ok(s) = cap.stats() {
                stats.kernel_drops += u64::from(s.drops);
                engine.report_loss(iface.eni, u64::from(s.drops));
            }
        }
    }
}
