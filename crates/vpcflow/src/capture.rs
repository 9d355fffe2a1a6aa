//! `vpcflow capture`: packets from pcap/pcapng files (live interfaces: planned) → flow records.
//!
//! Owns the command's wiring only; decoding, ENI mapping and aggregation live in
//! `vpcflow-capture`.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use vpcflow_capture::pcap::{self, CaptureStats, EniMap};
use vpcflow_capture::{EngineConfig, FlowEngine};
use vpcflow_net::builtin;

use crate::simulate::{RecordWriter, engine_summary, record_format};

#[derive(Args, Debug)]
#[command(after_help = "\
Reads pcap or pcapng files (any link type Ethernet/VLAN, Linux cooked, raw IP, loopback) in packet
time and prints the flow records the topology's ENIs would log, header line first. A packet goes
to the ENI that sends it (egress) and the ENI that receives it (ingress), by address, or to the ENI
whose host_interface names the pcapng interface; --eni puts a whole file on one ENI.

Examples:
  vpcflow capture --pcap trace.pcapng --topology my-vpc.toml
  vpcflow capture --pcap web.pcap --eni app-1 --interval 60 --format 'srcaddr dstaddr packets bytes action'")]
pub(crate) struct CaptureArgs {
    /// pcap or pcapng files, read in order.
    #[arg(long = "pcap", value_name = "FILE", required = true, num_args = 1..)]
    pcaps: Vec<String>,
    /// Topology: a TOML file, or builtin:NAME.
    #[arg(
        long,
        value_name = "FILE|builtin:NAME",
        default_value = "builtin:three-tier"
    )]
    topology: String,
    /// Every packet was captured on this ENI (name or id).
    #[arg(long, value_name = "NAME")]
    eni: Option<String>,
    /// Record format (`${a} ${b}` or `a b`). [default: AWS's default v2 format]
    #[arg(long, value_name = "FMT")]
    format: Option<String>,
    /// Aggregation interval in seconds: 60 or 600.
    #[arg(long, default_value_t = 600)]
    interval: u64,
    /// Most flows held per interval; beyond it flows are counted and reported as SKIPDATA.
    #[arg(long, default_value_t = 1 << 20)]
    max_flows: usize,
}

pub(crate) fn run(args: &CaptureArgs) -> anyhow::Result<()> {
    let format = record_format(args.format.as_deref())?;
    let net = Arc::new(builtin::load(&args.topology)?);
    let map = match &args.eni {
        Some(name) => match net.eni_by_name(name) {
            Some(e) => EniMap::One(e),
            None => bail!("--eni '{name}': no such ENI in {}", args.topology),
        },
        None => EniMap::Auto,
    };
    let scope = match map {
        EniMap::One(e) => Some(vec![e]),
        EniMap::Auto => None,
    };
    let config = EngineConfig {
        interval_secs: args.interval,
        max_flows: args.max_flows,
        scope,
    };
    config.validate().context("--interval/--max-flows")?;
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
