//! `vpcflow capture`: packets from pcap/pcapng files or live interfaces → flow records.
//!
//! Owns the command's wiring only; decoding, ENI mapping and aggregation live in
//! `vpcflow-capture`.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use vpcflow_capture::FlowEngine;
use vpcflow_capture::pcap::{self, CaptureStats, EniMap};

use crate::simulate::{EngineArgs, RecordWriter, engine_summary};

#[derive(Args, Debug)]
#[command(after_help = "\
Reads pcap or pcapng files (any link type Ethernet/VLAN, Linux cooked, raw IP, loopback) in packet
time and prints the flow records the topology's ENIs would log, header line first. A packet goes
to the ENI that sends it (egress) and the ENI that receives it (ingress), by address, or to the ENI
whose host_interface names the pcapng interface; --eni puts a whole file on one ENI.

--interface captures live (AF_PACKET, needs CAP_NET_RAW) until SIGINT or SIGTERM, then closes the
open interval. Each interface is an ENI's host_interface (or --eni); packets the kernel drops are
reported as SKIPDATA.

Examples:
  vpcflow capture --pcap trace.pcapng --topology my-vpc.toml
  vpcflow capture --pcap web.pcap --eni app-1 --interval 60 --format 'srcaddr dstaddr packets bytes action'
  vpcflow capture --interface veth-app1 --topology lab.toml --interval 60")]
#[command(group = clap::ArgGroup::new("source").required(true).args(["pcaps", "interfaces"]))]
pub(crate) struct CaptureArgs {
    /// pcap or pcapng files, read in order.
    #[arg(long = "pcap", value_name = "FILE", num_args = 1..)]
    pcaps: Vec<String>,
    /// Live interfaces (AF_PACKET), captured until SIGINT/SIGTERM.
    #[arg(long = "interface", value_name = "NAME", num_args = 1..)]
    interfaces: Vec<String>,
    #[command(flatten)]
    engine: EngineArgs,
    /// Every packet was captured on this ENI (name or id).
    #[arg(long, value_name = "NAME")]
    eni: Option<String>,
}

pub(crate) fn run(args: &CaptureArgs) -> anyhow::Result<()> {
    let (format, config, net) = args.engine.resolve(|net| match &args.eni {
        Some(name) => match net.eni_by_name(name) {
            Some(e) => Ok(Some(vec![e])),
            None => bail!("--eni '{name}': no such ENI in {}", args.engine.topology),
        },
        None => Ok(None),
    })?;
    if !args.interfaces.is_empty() {
        return run_live(args, &format, &config, &net);
    }
    let map = match config.scope.as_deref() {
        Some([e]) => EniMap::One(*e),
        _ => EniMap::Auto,
    };
    // Open every file first: a typo in the last name should not cost a long run.
    let files = args
        .pcaps
        .iter()
        .map(|p| {
            File::open(p)
                .with_context(|| format!("cannot open {p}"))
                .map(|f| (p, f))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut engine = FlowEngine::new(Arc::clone(&net), config)?;
    let mut out = RecordWriter::stdout(format)?;
    let mut stats = CaptureStats::default();
    let mut packets = 0;
    for (name, file) in files {
        packets += pcap::feed(
            BufReader::with_capacity(1 << 20, file),
            &map,
            &mut engine,
            &mut stats,
        )
        .with_context(|| name.clone())?;
        for r in engine.drain() {
            out.write(r);
        }
    }
    engine.finish();
    for r in engine.drain() {
        out.write(r);
    }
    out.finish()?;
    let d = stats.decode;
    eprintln!(
        "vpcflow: {packets} frames: {} IP packets, {} non-IP, {} truncated, {} malformed, {} unsupported link, {} on no ENI; {}",
        d.decoded,
        d.non_ip,
        d.truncated,
        d.malformed,
        stats.unsupported_link,
        stats.unmapped,
        engine_summary(&engine.stats())
    );
    Ok(())
}

/// The live clock: the one place wall-clock time enters vpcflow (design.md: "the live capture
/// source and the server inject a real clock").
#[allow(clippy::disallowed_methods)]
fn wall_clock_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn run_live(
    args: &CaptureArgs,
    format: &vpcflow_record::LogFormat,
    config: &vpcflow_capture::EngineConfig,
    net: &Arc<vpcflow_net::Network>,
) -> anyhow::Result<()> {
    use std::sync::atomic::AtomicBool;
    use vpcflow_capture::live::{LiveCapture, LiveInterface, RingConfig};
    let fixed = config.scope.as_deref().and_then(|s| s.first().copied());
    let interfaces = args
        .interfaces
        .iter()
        .map(|name| {
            let eni = fixed
                .or_else(|| net.enis.iter().position(|e| e.host_interface.as_deref() == Some(name.as_str())))
                .with_context(|| format!("--interface {name}: no ENI of {} has host_interface = \"{name}\" (or use --eni)", args.engine.topology))?;
            Ok(LiveInterface { name: name.clone(), eni })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the signal handler")?;
    }
    // NODATA is owed only by the ENIs being captured.
    let mut scope: Vec<usize> = interfaces.iter().map(|i| i.eni).collect();
    scope.sort_unstable();
    scope.dedup();
    let config = vpcflow_capture::EngineConfig {
        interval_secs: config.interval_secs,
        max_flows: config.max_flows,
        scope: Some(scope),
    };
    let mut engine = FlowEngine::new(Arc::clone(net), config)?;
    let rings = LiveCapture::open(&interfaces, RingConfig::default())?;
    let mut out = RecordWriter::stdout(format.clone())?;
    eprintln!(
        "vpcflow: capturing on {} ({}); SIGINT or SIGTERM stops and writes the open interval",
        args.interfaces.join(", "),
        interfaces
            .iter()
            .map(|i| net.enis[i.eni].id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let stats = rings.run(&mut engine, &stop, &wall_clock_micros, &mut |r| {
        out.write(r)
    })?;
    out.finish()?;
    let d = stats.decode;
    eprintln!(
        "vpcflow: {} frames: {} IP packets, {} non-IP, {} truncated, {} malformed, {} dropped by the kernel (SKIPDATA); {}",
        stats.frames,
        d.decoded,
        d.non_ip,
        d.truncated,
        d.malformed,
        stats.kernel_drops,
        engine_summary(&engine.stats())
    );
    Ok(())
}
