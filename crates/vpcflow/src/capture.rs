//! `vpcflow capture`: packets from pcap/pcapng files or live interfaces → flow records.
//!
//! Owns the command's wiring only; decoding, ENI mapping and aggregation live in
//! `vpcflow-capture`.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use vpcflow_capture::pcap::{self, CaptureStats, EniMap};
use vpcflow_capture::{Emit, FlowEngine};

use crate::delivery::{self, DeliveryArgs, load_config};
use crate::simulate::{EngineArgs, RecordWriter, engine_summary};

#[derive(Args, Debug)]
#[command(after_help = "\
Reads pcap or pcapng files (any link type Ethernet/VLAN, Linux cooked, raw IP, loopback) in packet
time and delivers the flow records the topology's ENIs would log to the flow logs (--config's
[[flow_logs]], else the built-in default) under --data; --stdout prints them instead, header line
first. A packet goes to the ENI that sends it (egress) and the ENI that receives it (ingress), by
address, or to the ENI whose host_interface names the pcapng interface; --eni puts a whole file on
one ENI. Reading the same files again delivers nothing twice.

--interface captures live (AF_PACKET, needs CAP_NET_RAW) until SIGINT or SIGTERM, then closes the
open interval. Each interface is an ENI's host_interface (or --eni); packets the kernel drops are
reported as SKIPDATA.

Examples:
  vpcflow capture --pcap trace.pcapng --topology my-vpc.toml
  vpcflow capture --pcap trace.pcapng --config vpcflow.toml --data ./vpcflow-data
  vpcflow capture --pcap web.pcap --eni app-1 --stdout --interval 60 --format 'srcaddr dstaddr packets bytes action'
  vpcflow capture --interface veth-app1 --topology lab.toml --stdout --interval 60")]
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
    #[command(flatten)]
    delivery: DeliveryArgs,
    /// Every packet was captured on this ENI (name or id).
    #[arg(long, value_name = "NAME")]
    eni: Option<String>,
}

pub(crate) fn run(args: &CaptureArgs) -> anyhow::Result<()> {
    let file = load_config(args.delivery.config.as_deref())?;
    if !args.delivery.stdout {
        args.engine.check_delivery_mode()?;
    }
    let topology = args.engine.topology_spec(&file);
    let (format, config, net) = args.engine.resolve(&file, |net| match &args.eni {
        Some(name) => match net.eni_by_name(name) {
            Some(e) => Ok(Some(vec![e])),
            None => bail!("--eni '{name}': no such ENI in {topology}"),
        },
        None => Ok(None),
    })?;
    if !args.interfaces.is_empty() {
        return run_live(args, &file, &format, &config, &net);
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
    let mut stats = CaptureStats::default();
    let mut packets = 0;
    if args.delivery.stdout {
        let mut engine = FlowEngine::new(Arc::clone(&net), config)?;
        let mut out = RecordWriter::stdout(format)?;
        let mut cut_short = None;
        for (name, file) in files {
            let read = pcap::feed(
                BufReader::with_capacity(pcap::READ_BUFFER, file),
                &map,
                &mut engine,
                &mut stats,
            );
            let stop = kept_until_damage(read, name, &mut packets, "printed")?;
            // A reader that went away (`| head`) ends the run: a quiet gap's records are not
            // all made for nobody.
            for r in engine.drain() {
                out.write(r);
                if out.failed() {
                    return Ok(out.finish()?);
                }
            }
            if stop.is_some() {
                cut_short = stop;
                break;
            }
        }
        engine.finish();
        for r in engine.drain() {
            out.write(r);
            if out.failed() {
                break;
            }
        }
        out.finish()?;
        eprintln!("{}", pcap_summary(packets, &stats, &engine.stats()));
        return cut_short.map_or(Ok(()), Err);
    }

    let prepared = delivery::prepare(&args.delivery, &file, &net, &net)?;
    if prepared.plan.subs.is_empty() {
        bail!(
            "there is no flow log to deliver to: add [[flow_logs]] to the config, or use --stdout"
        );
    }
    // A replayable source: the files' contents, the topology and the ENI mapping.
    let mut key_parts = vec![
        "capture".to_owned(),
        topology.clone(),
        format!("{:?}", args.eni),
    ];
    if let Some(agent) = &args.delivery.agent {
        vpcflow_deliver::agents::check_mapped(
            &prepared.config.agents,
            agent,
            // --eni: every packet is that ENI's, which must be the agent's. Otherwise packets
            // map by address, and the plan keeps the agent's ENIs only.
            match &map {
                EniMap::One(e) => Some(net.enis[*e].id.as_str()),
                _ => None,
            },
        )?;
        key_parts.push(vpcflow_deliver::agents::run_key_part(agent));
    }
    for (name, f) in &files {
        key_parts.push(content_digest(f).with_context(|| format!("cannot read {name}"))?);
    }
    let key = delivery::run_key(&key_parts.iter().map(String::as_str).collect::<Vec<_>>());
    let mut run = delivery::Run::start(&prepared, Some(key), args.delivery.drain_timeout)?;
    // One engine per interval in use, fed together in one pass over the files (policy once per
    // packet); each interval's records are committed as its engine closes them.
    let mut engines = delivery::engines(&prepared, &net, &config)?;
    let mut cut_short = None;
    let mut announced = None;
    for (name, _) in &files {
        let f = File::open(name).with_context(|| format!("cannot open {name}"))?;
        let read = pcap::feed_all(
            BufReader::with_capacity(pcap::READ_BUFFER, f),
            &map,
            &mut engines,
            &mut stats,
        );
        let stop = kept_until_damage(read, name, &mut packets, "delivered")?;
        hand_over(&mut engines, &mut announced, &mut run);
        if stop.is_some() {
            cut_short = stop;
            break;
        }
    }
    let mut end_us = 0;
    for engine in engines.iter_mut() {
        engine.finish();
        end_us = end_us.max(engine.closed_until().unwrap_or(0));
    }
    hand_over(&mut engines, &mut announced, &mut run);
    let summary = pcap_summary(packets, &stats, &engines[0].stats());
    let outcome = run.finish(end_us)?;
    eprintln!("{summary}");
    outln!("{}", delivery::summary(&prepared, &outcome));
    cut_short.map_or(Ok(()), Err)
}

/// What the engines closed goes to the run in turns (`drain_in_turns`), each complete time
/// said as it is, so that a long quiet gap streams through in bounded memory.
fn hand_over(engines: &mut [FlowEngine], announced: &mut Option<u64>, run: &mut delivery::Run) {
    let mut all: Vec<&mut FlowEngine> = engines.iter_mut().collect();
    vpcflow_capture::flow::drain_in_turns(&mut all, announced, &mut |e| match e {
        Emit::Records { engine, records } => run.push_batch(engine, records),
        Emit::Closed { until } => run.closed(until),
    });
}

/// A file read whole, or cut short by damage after some packets: those were observed and go
/// where the rest would have (`done`: printed, delivered), and the damage is the run's error,
/// returned once they have. A file that is no capture at all is the error at once.
fn kept_until_damage(
    read: Result<u64, pcap::PcapFileError>,
    name: &str,
    packets: &mut u64,
    done: &str,
) -> anyhow::Result<Option<anyhow::Error>> {
    match read {
        Ok(n) => {
            *packets += n;
            Ok(None)
        }
        Err(
            e
            @ (pcap::PcapFileError::Truncated(n) | pcap::PcapFileError::Damaged { packet: n, .. }),
        ) => {
            *packets += n;
            Ok(Some(anyhow::anyhow!(
                "{name}: {e}; the {n} packets before it were {done}"
            )))
        }
        Err(e) => Err(anyhow::Error::new(e).context(name.to_owned())),
    }
}

/// What identifies a capture file as an input (README: "Captures"): its size and a hash of its
/// first and last MiB. Another capture of the same name and size is another input; the same
/// file renamed, copied or touched is the same one, delivered once.
fn content_digest(f: &File) -> std::io::Result<String> {
    use std::os::unix::fs::FileExt as _;
    const BLOCK: u64 = 1 << 20;
    let size = f.metadata()?.len();
    let mut head = vec![0; BLOCK.min(size) as usize];
    f.read_exact_at(&mut head, 0)?;
    let tail_len = BLOCK.min(size.saturating_sub(BLOCK));
    let mut tail = vec![0; tail_len as usize];
    f.read_exact_at(&mut tail, size - tail_len)?;
    let hash = vpcflow_deliver::api::stable_hash(&[&size.to_le_bytes(), &head, &tail]);
    Ok(format!("{size}:{hash:016x}"))
}

fn pcap_summary(packets: u64, stats: &CaptureStats, e: &vpcflow_capture::flow::Stats) -> String {
    let d = stats.decode;
    format!(
        "vpcflow: {packets} frames: {} IP packets, {} non-IP, {} truncated, {} malformed, {} unsupported link, {} on no ENI; {}",
        d.decoded,
        d.non_ip,
        d.truncated,
        d.malformed,
        stats.unsupported_link,
        stats.unmapped,
        engine_summary(e)
    )
}

/// The ENI each host interface carries: `fixed` (`--eni`), else the topology's ENI whose
/// `host_interface` names it. `what` says where the names came from, for the error.
pub(crate) fn live_interfaces(
    names: &[String],
    net: &vpcflow_net::Network,
    fixed: Option<usize>,
    what: &str,
) -> anyhow::Result<Vec<vpcflow_capture::live::LiveInterface>> {
    names
        .iter()
        .map(|name| {
            let eni = fixed
                .or_else(|| {
                    net.enis
                        .iter()
                        .position(|e| e.host_interface.as_deref() == Some(name.as_str()))
                })
                .with_context(|| {
                    format!("{what}: {name}: no ENI has host_interface = \"{name}\" (or use --eni)")
                })?;
            Ok(vpcflow_capture::live::LiveInterface {
                name: name.clone(),
                eni,
            })
        })
        .collect()
}

/// The live clock: the one place wall-clock time enters vpcflow (design.md: "the live capture
/// source and the server inject a real clock").
#[allow(clippy::disallowed_methods)]
pub(crate) fn wall_clock_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn run_live(
    args: &CaptureArgs,
    file: &delivery::FileConfig,
    format: &vpcflow_record::LogFormat,
    config: &vpcflow_capture::EngineConfig,
    net: &Arc<vpcflow_net::Network>,
) -> anyhow::Result<()> {
    use std::sync::atomic::AtomicBool;
    use vpcflow_capture::live::{LiveCapture, RingConfig};
    let fixed = config.scope.as_deref().and_then(|s| s.first().copied());
    let interfaces = live_interfaces(
        &args.interfaces,
        net,
        fixed,
        &format!("--interface (topology {})", args.engine.topology_spec(file)),
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the signal handler")?;
    }
    // NODATA is owed only by the ENIs being captured.
    let mut scope: Vec<usize> = interfaces.iter().map(|i| i.eni).collect();
    scope.sort_unstable();
    scope.dedup();
    let (interval_secs, prepared) = if args.delivery.stdout {
        (config.interval_secs, None)
    } else {
        let prepared = delivery::prepare(&args.delivery, file, net, net)?;
        match prepared.plan.intervals.as_slice() {
            [] => bail!(
                "there is no flow log to deliver to: add [[flow_logs]] to the config, or use --stdout"
            ),
            [iv] => (*iv, Some(prepared)),
            _ => bail!(
                "live capture delivers to flow logs of one max_aggregation_interval at a time; \
                 the config mixes 60 and 600 (capture twice, or use one interval)"
            ),
        }
    };
    let config = vpcflow_capture::EngineConfig {
        interval_secs,
        max_flows: config.max_flows,
        scope: Some(scope),
    };
    let mut engine = FlowEngine::new(Arc::clone(net), config)?;
    let rings = LiveCapture::open(&interfaces, RingConfig::default())?;
    eprintln!(
        "vpcflow: capturing on {} ({}); SIGINT or SIGTERM stops and writes the open interval",
        args.interfaces.join(", "),
        interfaces
            .iter()
            .map(|i| net.enis[i.eni].id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let stats = match &prepared {
        None => {
            let mut out = RecordWriter::stdout(format.clone())?;
            let builder = engine.builder();
            let stats = rings.run(&mut engine, &stop, &wall_clock_micros, &mut |e| {
                if let Emit::Records { records, .. } = e {
                    for r in &records {
                        out.write(builder.build(r));
                    }
                }
            })?;
            out.finish()?;
            stats
        }
        Some(p) => {
            // Live traffic cannot be replayed: no run key, and what the engine holds when the
            // process dies is lost, as in AWS; what reached the spool is not.
            let mut run = delivery::Run::start(p, None, args.delivery.drain_timeout)?;
            let stats = rings.run(&mut engine, &stop, &wall_clock_micros, &mut |e| match e {
                Emit::Records { engine, records } => run.push_batch(engine, records),
                Emit::Closed { until } => run.closed(until),
            })?;
            let outcome = run.finish(wall_clock_micros())?;
            outln!("{}", delivery::summary(p, &outcome));
            stats
        }
    };
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
