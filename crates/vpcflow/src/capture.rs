//! `vpcflow capture`: packets from pcap/pcapng files (live interfaces: planned) → flow records.
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

Examples:
  vpcflow capture --pcap trace.pcapng --topology my-vpc.toml
  vpcflow capture --pcap web.pcap --eni app-1 --interval 60 --format 'srcaddr dstaddr packets bytes action'")]
pub(crate) struct CaptureArgs {
    /// pcap or pcapng files, read in order.
    #[arg(long = "pcap", value_name = "FILE", required = true, num_args = 1..)]
    pcaps: Vec<String>,
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
