//! `vpcflow simulate` and `vpcflow diagnose`: wiring of the simulator and the policy explainer.
//!
//! Owns flag parsing (durations, RFC 3339 start times, protocols) and output; the simulation
//! and the policy live in `vpcflow-capture` and `vpcflow-net`.

use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use vpcflow_capture::scenario::parse_duration;
use vpcflow_capture::{Emit, EngineConfig, FlowEngine, Scenario, SimConfig, Simulator};
use vpcflow_deliver::live::LiveFlowLogs;
use vpcflow_deliver::resources::live::LiveNetwork;
use vpcflow_net::builtin;
use vpcflow_record::{LogFormat, text};
use vpcflow_store::Clock as _;

use crate::delivery::{self, DeliveryArgs, FileConfig, load_config};
use crate::live_source::{LiveEnis, LiveSource};

/// Default start: a weekday afternoon, when the diurnal shape is near its peak.
const DEFAULT_START: &str = "2026-01-15T14:00:00Z";

#[derive(Args, Debug)]
#[command(after_help = "\
Runs a scenario's traffic through the topology in simulated time (an hour takes seconds) and
delivers the flow records to the flow logs: those of --config's [[flow_logs]], else the built-in
default (the VPC's ALL flow logs to the log group /vpcflow/flow-logs and to the bucket flow-logs as
Parquet with Hive-compatible, per-hour partitions), under --data. Records go through a durable
spool first; a run killed and started again with the same arguments resumes and delivers each
record exactly once. The same seed gives the same records. Traffic AWS never logs (Amazon DNS,
instance metadata) leaves no record.

--stdout prints the records instead (header line first), in --format at --interval.

Examples:
  vpcflow simulate                                     # builtin:three-tier, default scenario, 1 h
  vpcflow simulate --config vpcflow.toml --duration 24h
  vpcflow logs tail /vpcflow/flow-logs                 # what was delivered
  vpcflow simulate --stdout --interval 60 --duration 10m --seed 7
  vpcflow simulate --stdout --format '${interface-id} ${srcaddr} ${dstaddr} ${dstport} ${action}'")]
pub(crate) struct SimulateArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    #[command(flatten)]
    pub(crate) delivery: DeliveryArgs,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// What simulated traffic a run makes (`simulate` and `up`).
#[derive(Args, Debug, Clone)]
pub(crate) struct RunArgs {
    /// Scenario: a built-in name or a TOML file. [default: [simulation] scenario, else default]
    #[arg(long)]
    pub(crate) scenario: Option<String>,
    /// Simulated time to cover, e.g. 90s, 10m, 1h, 1h30m. [default: [simulation] duration, else
    /// 1h; `up`: without end]
    #[arg(long)]
    pub(crate) duration: Option<String>,
    /// Simulated start time (RFC 3339). [default: [simulation] start, else
    /// 2026-01-15T14:00:00Z; `up`: the start of its first run in this data directory, else now]
    #[arg(long, value_name = "RFC3339")]
    pub(crate) start: Option<String>,
    /// Seed: the same seed gives the same records. [default: [simulation] seed, else 1]
    #[arg(long)]
    pub(crate) seed: Option<u64>,
}

/// How a delivering simulation is driven: at once (`simulate`), or paced against the wall
/// clock and stoppable (`up`).
pub(crate) struct Drive {
    /// Simulated seconds per wall second; `None`: as fast as it goes.
    pub(crate) speed: Option<f64>,
    /// Set from outside (SIGINT, SIGTERM): stop after the current slice, keeping what was
    /// committed.
    pub(crate) stop: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// A service: no progress bar, and no first questions at the end.
    pub(crate) service: bool,
    /// Where the run's delivery counters are published once it starts (the API's `/metrics`).
    pub(crate) progress: Option<crate::serve::ProgressSlot>,
    /// A service's network, which the EC2 API changes while it runs: simulated as it is at
    /// the start, and followed as it changes.
    pub(crate) network: Option<Arc<LiveNetwork>>,
}

/// The flags every record-producing command shares: where the network comes from, how records
/// are written, and how the flow engine aggregates.
#[derive(Args, Debug, Clone)]
pub(crate) struct EngineArgs {
    /// Topology: a TOML file, or builtin:NAME. [default: the config's topology, else
    /// builtin:three-tier]
    #[arg(long, value_name = "FILE|builtin:NAME")]
    pub(crate) topology: Option<String>,
    /// With --stdout: record format (`${a} ${b}` or `a b`). [default: AWS's default v2 format]
    #[arg(long, value_name = "FMT")]
    pub(crate) format: Option<String>,
    /// With --stdout: aggregation interval in seconds, 60 or 600 (MaxAggregationInterval).
    /// [default: 600]
    #[arg(long)]
    pub(crate) interval: Option<u64>,
    /// Most flows held per interval; beyond it flows are counted and reported as SKIPDATA.
    #[arg(long, default_value_t = 1 << 20)]
    pub(crate) max_flows: usize,
}

impl EngineArgs {
    /// The topology spec: the flag, else the config's, else the built-in default.
    pub(crate) fn topology_spec(&self, file: &FileConfig) -> String {
        self.topology
            .clone()
            .or_else(|| file.topology.clone())
            .unwrap_or_else(|| "builtin:three-tier".to_owned())
    }

    /// Refuses the print-only flags when records are delivered (flow logs carry their own).
    pub(crate) fn check_delivery_mode(&self) -> anyhow::Result<()> {
        if self.format.is_some() {
            bail!(
                "--format applies to --stdout; a flow log's format is its log_format in [[flow_logs]]"
            );
        }
        if self.interval.is_some() {
            bail!(
                "--interval applies to --stdout; a flow log's interval is its max_aggregation_interval in [[flow_logs]]"
            );
        }
        Ok(())
    }

    /// Checks the flags (no I/O) and loads the topology: format, engine settings, network.
    pub(crate) fn resolve(
        &self,
        file: &FileConfig,
        scope: impl FnOnce(&vpcflow_net::Network) -> anyhow::Result<Option<Vec<usize>>>,
    ) -> anyhow::Result<(LogFormat, EngineConfig, Arc<vpcflow_net::Network>)> {
        let format = record_format(self.format.as_deref())?;
        let probe = EngineConfig {
            interval_secs: self.interval.unwrap_or(600),
            max_flows: self.max_flows,
            scope: None,
        };
        probe.validate().context("--interval/--max-flows")?;
        let net = Arc::new(builtin::load(&self.topology_spec(file))?);
        let config = EngineConfig {
            scope: scope(&net)?,
            ..probe
        };
        Ok((format, config, net))
    }
}

#[derive(Args, Debug)]
#[command(after_help = "\
Explains, from the topology alone, whether a connection would be accepted: every ENI on the path
(the NAT gateway's too), the security-group and network-ACL rule that decides at each, for the
request and for the reply. Security groups are stateful (replies pass); network ACLs are not.

With --data, follows the troubleshooting flowchart on what was delivered instead: the records
of the connection in the data directory's log groups (both ways, within --since), then: no
records (is a flow log on those ENIs, does its traffic type keep them, has its interval been
delivered?), the request REJECTed (the deciding security-group or network-ACL rule), the reply
REJECTed (the network ACL's stateless return rule), unsolicited inbound at a NAT gateway, no
reply, or ACCEPT both ways (the network allowed it: look at the application, routing or DNS).
The evidence records are printed with the verdict (--output json: verdict, reasons, records).

Exit status: 0 when the connection is accepted both ways (with --data: when the network let it
through), 2 when a request or reply is REJECTed, 3 when neither address is an ENI's (no flow log
would see it; with --data: no records), 1 on an error.

Examples:
  vpcflow diagnose --src 198.51.100.20 --dst 54.210.0.30 --protocol icmp
  vpcflow diagnose --src 10.0.11.10 --dst 10.0.21.10 --port 3306
  vpcflow diagnose --data vpcflow-data --src 198.51.100.20 --dst 54.210.0.30 --protocol icmp --since 1h")]
pub(crate) struct DiagnoseArgs {
    /// Client address.
    #[arg(long)]
    pub(crate) src: IpAddr,
    /// Server address (private, or an ENI's public address).
    #[arg(long)]
    pub(crate) dst: IpAddr,
    /// Server port (tcp and udp) [default: 443; with --data: any].
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// The client's source port.
    #[arg(long, default_value_t = 49152)]
    src_port: u16,
    /// tcp, udp, icmp or a protocol number.
    #[arg(long, default_value = "tcp")]
    protocol: String,
    /// Topology: a TOML file, or builtin:NAME.
    #[arg(
        long,
        value_name = "FILE|builtin:NAME",
        default_value = "builtin:three-tier"
    )]
    topology: String,
    /// text (for people) or json (the verdict and every evaluation point, for scripts).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub(crate) output: String,
    /// Follow the troubleshooting flowchart on the records this data directory's log groups
    /// hold (and its flow logs), not on the topology alone.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// With --data: only records that start within this long before the newest one (e.g. 30m).
    #[arg(long, value_name = "DURATION", requires = "data")]
    pub(crate) since: Option<String>,
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` into Unix seconds.
pub(crate) fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    let t =
        vpcflow_store::time::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    u64::try_from(t).ok()
}

/// Hash input for a file-or-name spec: the name, and the file's text when it is a file, so
/// that an edited topology or scenario is a new run.
fn spec_digest(spec: &str) -> String {
    match std::fs::read_to_string(spec) {
        Ok(text) => format!("{spec}\n{text}"),
        Err(_) => spec.to_owned(),
    }
}

pub(crate) fn run_simulate(args: &SimulateArgs) -> anyhow::Result<()> {
    let file = load_config(args.delivery.config.as_deref())?;
    simulate(
        args,
        &file,
        &Drive {
            progress: None,
            speed: None,
            stop: None,
            service: false,
            network: None,
        },
    )
}

/// Runs a simulation: printed (`--stdout`), or delivered as `drive` says.
pub(crate) fn simulate(
    args: &SimulateArgs,
    file: &FileConfig,
    drive: &Drive,
) -> anyhow::Result<()> {
    // Check every flag before doing any work.
    let sim = &file.simulation;
    let run = &args.run;
    let scenario_spec = run
        .scenario
        .clone()
        .or_else(|| sim.scenario.clone())
        .unwrap_or_else(|| "default".to_owned());
    let duration_spec = run
        .duration
        .clone()
        .or_else(|| sim.duration.clone())
        .unwrap_or_else(|| "1h".to_owned());
    let start_spec = run
        .start
        .clone()
        .or_else(|| sim.start.clone())
        .unwrap_or_else(|| DEFAULT_START.to_owned());
    let seed = run.seed.or(sim.seed).unwrap_or(1);
    let duration = parse_duration(&duration_spec)
        .filter(|d| *d > 0)
        .with_context(|| {
            format!("--duration '{duration_spec}': expected e.g. 90s, 10m, 1h, 1h30m")
        })?;
    let start = parse_rfc3339(&start_spec).with_context(|| {
        format!("--start '{start_spec}': expected an RFC 3339 time such as {DEFAULT_START}")
    })?;
    if !args.delivery.stdout {
        args.engine.check_delivery_mode()?;
    }
    let topology = args.engine.topology_spec(file);
    let (format, config, base) = args.engine.resolve(file, |_| Ok(None))?;
    let net = drive
        .network
        .as_ref()
        .map_or_else(|| Arc::clone(&base), |l| l.network());
    let scenario = Scenario::load(&scenario_spec).map_err(anyhow::Error::msg)?;
    let resolved = scenario.resolve_with_derived(&net).map_err(|problems| {
        anyhow::anyhow!(
            "scenario '{scenario_spec}' does not fit the topology:\n  {}",
            problems.join("\n  ")
        )
    })?;
    let sim_config = SimConfig {
        start,
        duration,
        seed,
    };
    // A service says what it simulated this time, not the length of its whole run.
    let span = if drive.service {
        "since this start,".to_owned()
    } else {
        format!("{duration_spec} of")
    };
    let closing = |sim: &Simulator| {
        let s = sim.stats();
        format!(
            "vpcflow: simulated {span} '{}' on {topology}: {} sessions, {} packets, {}{}",
            resolved.name,
            s.sessions,
            s.packets,
            engine_summary(&sim.engine().stats()),
            per_interval(sim)
        )
    };

    if args.delivery.stdout {
        let engine = FlowEngine::new(Arc::clone(&net), config)?;
        let mut sim = Simulator::new(engine, &resolved, &sim_config);
        let mut out = RecordWriter::stdout(format)?;
        sim.run(&mut |rec| out.write(rec));
        out.finish()?;
        eprintln!("{}", closing(&sim));
        return Ok(());
    }

    let mut prepared = delivery::prepare(&args.delivery, file, &base, &net)?;
    if prepared.plan.subs.is_empty() && !drive.service {
        bail!(
            "there is no flow log to deliver to: add [[flow_logs]] to the config, or use --stdout"
        );
    }
    // An agent's name is part of its run (so of its object names): agents of one scenario never
    // write one key. Without one, the key is what it always was.
    let mut key_parts = vec![
        "simulate".to_owned(),
        spec_digest(&topology),
        spec_digest(&scenario_spec),
        seed.to_string(),
        start.to_string(),
        duration.to_string(),
    ];
    key_parts.extend(
        args.delivery
            .agent
            .iter()
            .map(|a| vpcflow_deliver::agents::run_key_part(a)),
    );
    let key = delivery::run_key(&key_parts.iter().map(String::as_str).collect::<Vec<_>>());
    // A service follows the flow logs created and deleted while it runs.
    let mut live = if drive.service {
        let mut follow = Follow::open(&mut prepared, &key, &net, config.max_flows)?;
        if let Some(network) = &drive.network {
            follow.network = Some(Network {
                live: Arc::clone(network),
                revision: network.revision(),
                scenario: scenario.clone(),
                traffic: resolved.clone(),
            });
        }
        Some(follow)
    } else {
        None
    };
    let engines = delivery::engines(&prepared, &net, &config)?;
    let mut sim = Simulator::with_engines(engines, &resolved, &sim_config);
    let resume_us = match &live {
        Some(f) => f.live.resume()?.map_or(start, |s| s.max(start)) * 1_000_000,
        None => prepared
            .state
            .checkpoints(&key)?
            .values()
            .min()
            .map_or(start * 1_000_000, |s| s * 1_000_000),
    };
    let mut run = delivery::Run::start(&prepared, Some(key), args.delivery.drain_timeout)?;
    if let Some(slot) = &drive.progress {
        slot.publish(Arc::clone(&run.progress));
    }
    if let Some(f) = live.as_mut() {
        f.capture_live(&prepared.config.capture.interfaces, &run)?;
    }
    let stopped = drive_simulation(
        &mut sim,
        &mut run,
        drive,
        (start, duration, resume_us),
        live.as_mut(),
    );
    // The capture ends first, so that its last interval is delivered with the rest.
    let captured = live
        .as_mut()
        .and_then(|f| f.capture.take())
        .map(LiveSource::finish);
    let stopped = stopped?;
    if let Some(f) = &live {
        prepared.plan = Arc::clone(f.live.plan());
    }
    let outcome = match stopped {
        Some(at_us) => {
            let done = run.stop()?;
            outln!(
                "vpcflow: stopped at {} (simulated); what closed before it is delivered, and \
                 `vpcflow up` with the same data directory continues from there",
                vpcflow_store::time::aws_cli_time(at_us / 1000)
            );
            done
        }
        None => run.finish((start + duration) * 1_000_000)?,
    };
    eprintln!("{}", closing(&sim));
    if let Some(said) = captured {
        eprintln!("{}", said?);
    }
    let (commit, delivered) = (&outcome.commit, outcome.worker.records);
    let total: u64 = commit.records.values().sum();
    if total == 0 && commit.already_delivered > 0 && delivered > 0 {
        outln!(
            "Nothing new to make: this simulation was made before; {delivered} records it left \
             in the spool of {} were delivered now.",
            prepared.data.display()
        );
        outln!("{}", delivery::report(&prepared, &outcome).trim_end());
    } else if total == 0 && commit.already_delivered > 0 {
        outln!(
            "Nothing new to deliver: this simulation was already delivered to {} (same topology, scenario, seed, start and duration).",
            prepared.data.display()
        );
    } else {
        outln!("{}", delivery::summary(&prepared, &outcome));
    }
    if drive.service {
        return Ok(());
    }
    let data = prepared.data.display();
    outln!("Look at them:");
    for g in prepared
        .plan
        .subs
        .iter()
        .filter_map(|s| match &s.flow_log.destination {
            vpcflow_deliver::api::Destination::LogGroup { name } => Some(name),
            _ => None,
        })
    {
        outln!("  vpcflow logs tail {g} --data {data}");
    }
    outln!("  vpcflow flow-logs describe --data {data}");
    answer_first_questions(&prepared)
}

/// A service's flow logs as they change ([`LiveFlowLogs`]), applied to the simulation's
/// engines and the delivery pipeline as the simulation goes.
struct Follow {
    live: LiveFlowLogs,
    max_flows: usize,
    /// When `state.db` was last looked at (wall ms).
    polled_ms: u64,
    /// Which ENIs the simulation leaves to live capture.
    split: LiveEnis,
    /// The live capture of the config's `[capture]`, if any.
    capture: Option<LiveSource>,
    /// The network the EC2 API changes, if this service serves it.
    network: Option<Network>,
}

/// A service's network as the simulation follows it.
struct Network {
    live: Arc<LiveNetwork>,
    /// The revision the simulation runs on.
    revision: u64,
    /// The scenario, resolved again (with traffic derived anew) on every change.
    scenario: Scenario,
    /// The traffic the simulation runs.
    traffic: vpcflow_capture::scenario::Resolved,
}

/// How often a service looks for flow logs created or deleted (wall ms).
const POLL_MS: u64 = 250;

impl Follow {
    /// Follows the flow logs of `prepared`'s service run `key`, whose plan becomes the
    /// simulation's: every ENI but those of the config's live interfaces, left to their capture.
    fn open(
        prepared: &mut delivery::Prepared,
        key: &str,
        net: &vpcflow_net::Network,
        max_flows: usize,
    ) -> anyhow::Result<Follow> {
        let live = LiveFlowLogs::open(
            &vpcflow_store::DataDir::new(&prepared.data).state_db(),
            key,
            (*prepared.plan).clone(),
        )?;
        let split = LiveEnis::of(&prepared.config.capture.interfaces, net)?;
        prepared.plan = Arc::new(split.simulated(live.plan()));
        Ok(Follow {
            live,
            max_flows,
            polled_ms: 0,
            split,
            capture: None,
            network: None,
        })
    }

    /// Applies a change of the network (the EC2 API made or deleted resources) at simulated
    /// time `at_us`: the simulation goes on over it with its traffic derived anew, and the flow
    /// logs cover what their resources have now. A service capturing live interfaces keeps
    /// the network it started with (its capture's ENIs are numbered in it).
    fn follow_network(
        &mut self,
        sim: &mut Simulator,
        run: &mut delivery::Run,
        at_us: u64,
    ) -> anyhow::Result<()> {
        let Some(n) = self.network.as_mut() else {
            return Ok(());
        };
        let (revision, net) = n.live.snapshot();
        if revision == n.revision {
            return Ok(());
        }
        n.revision = revision;
        if self.capture.is_some() {
            outln!(
                "vpcflow up: the network changed through the API; a service capturing live \
                 interfaces simulates it from its next start"
            );
            return Ok(());
        }
        let next = n.scenario.resolve_with_derived(&net).map_err(|problems| {
            anyhow::anyhow!(
                "the scenario no longer fits the network the API changed:\n  {}",
                problems.join("\n  ")
            )
        })?;
        n.traffic = n.traffic.revise(next);
        sim.renumber(Arc::clone(&net), &n.traffic, at_us)?;
        self.split = LiveEnis::of(&[], &net)?;
        let plan = Arc::new(self.split.simulated(self.live.set_network(net)));
        for i in 0..plan.intervals.len() {
            if let Some(e) = sim.engine_mut(i) {
                e.set_scope(plan.scope(i));
            }
        }
        run.revise(plan);
        outln!(
            "vpcflow up: the network changed through the API (revision {revision}); simulated \
             from {} on",
            vpcflow_store::time::aws_cli_time(at_us / 1000)
        );
        Ok(())
    }

    /// Starts capturing the config's live `interfaces` (none: nothing) beside the simulation,
    /// into a second source of `run`.
    fn capture_live(&mut self, interfaces: &[String], run: &delivery::Run) -> anyhow::Result<()> {
        if interfaces.is_empty() {
            return Ok(());
        }
        let source = LiveSource::start(
            interfaces,
            self.split.clone(),
            self.live.plan(),
            run,
            self.max_flows,
        )?;
        outln!(
            "vpcflow up: capturing live on {} beside the simulated traffic (their ENIs' \
             records come from the capture)",
            interfaces.join(", ")
        );
        self.capture = Some(source);
        Ok(())
    }

    /// Looks for changed flow logs at simulated time `at_us`, at most every [`POLL_MS`], and
    /// applies them: engines for new aggregation intervals, the ENIs each engine reports
    /// NODATA for, and the pipeline's plan. Says what changed.
    fn poll(
        &mut self,
        sim: &mut Simulator,
        run: &mut delivery::Run,
        at_us: u64,
        now_ms: u64,
    ) -> anyhow::Result<()> {
        if now_ms.saturating_sub(self.polled_ms) < POLL_MS {
            return Ok(());
        }
        self.polled_ms = now_ms;
        // The network first: a flow log created on a new VPC covers its ENIs.
        self.follow_network(sim, run, at_us)?;
        let Some(rev) = self.live.poll(at_us / 1_000_000)? else {
            return Ok(());
        };
        if let Some(capture) = &self.capture {
            capture.revise(&rev.plan);
        }
        let plan = &Arc::new(self.split.simulated(&rev.plan));
        for (i, &interval_secs) in plan.intervals.iter().enumerate() {
            let scope = plan.scope(i);
            if rev.engines.contains(&i) {
                let engine = FlowEngine::new(
                    Arc::clone(&plan.net),
                    EngineConfig {
                        interval_secs,
                        max_flows: self.max_flows,
                        scope: Some(scope),
                    },
                )?;
                let index = sim.add_engine(engine);
                debug_assert_eq!(index, i, "engines and intervals keep one order");
            } else if let Some(e) = sim.engine_mut(i) {
                e.set_scope(scope);
            }
        }
        run.revise(Arc::clone(plan));
        let time = |secs: u64| vpcflow_store::time::aws_cli_time(secs * 1000);
        for &i in &rev.created {
            let f = &plan.subs[i].flow_log;
            outln!(
                "vpcflow up: flow log {} ({}, account {}) created: it delivers the records of \
                 intervals from {} on",
                f.flow_log_id,
                f.resource_id,
                f.account_id,
                time(plan.subs[i].from)
            );
        }
        for &i in &rev.deleted {
            outln!(
                "vpcflow up: flow log {} deleted at {}: records of intervals that close after \
                 it are not delivered",
                plan.subs[i].flow_log.flow_log_id,
                time(at_us / 1_000_000)
            );
        }
        Ok(())
    }
}

/// Runs the simulation into `run` as `drive` says; the simulated time (µs) where it stopped,
/// if it was stopped before its end. Paced runs go slice by slice, sleeping until the wall
/// clock catches up, except over what an earlier run already delivered (up to `resume_us`).
/// A service (`follow`) applies flow logs created and deleted between slices.
fn drive_simulation(
    sim: &mut Simulator,
    run: &mut delivery::Run,
    drive: &Drive,
    (start, duration, resume_us): (u64, u64, u64),
    mut follow: Option<&mut Follow>,
) -> anyhow::Result<Option<u64>> {
    let bar = if drive.service {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(duration)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} simulated {pos}/{len} s [{bar:30}] {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let clock = delivery::SystemClock;
    let t0 = clock.now_ms();
    let progress = Arc::clone(&run.progress);
    let take = |run: &mut delivery::Run, e: Emit| match e {
        Emit::Records { engine, records } => run.push_batch(engine, records),
        Emit::Closed { until } => {
            run.closed(until);
            let secs = (until / 1_000_000).saturating_sub(start).min(duration);
            bar.set_position(secs);
            let elapsed = clock.now_ms().saturating_sub(t0);
            let committed = progress
                .committed
                .load(std::sync::atomic::Ordering::Relaxed);
            bar.set_message(format!(
                "{committed} records, {:.0} records/s",
                committed as f64 * 1000.0 / elapsed.max(1) as f64
            ));
        }
    };
    let stop = || {
        drive
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
    };
    if drive.stop.is_some() || drive.speed.is_some() {
        // One simulated second a slice when paced (so a stop is prompt), a minute when not.
        let slice = if drive.speed.is_some() { 1 } else { 60 } * 1_000_000;
        let mut t = start * 1_000_000;
        let mut paced_from: Option<(u64, u64)> = None;
        while t < sim.end_us() {
            if stop() {
                bar.finish_and_clear();
                return Ok(Some(t));
            }
            if let Some(f) = follow.as_deref_mut() {
                f.poll(sim, run, t, clock.now_ms())?;
            }
            t = (t + slice).min(sim.end_us());
            sim.run_tagged_until(t, &mut |e| take(run, e));
            if let Some(speed) = drive.speed
                && t > resume_us
            {
                let (wall0, sim0) = *paced_from.get_or_insert((clock.now_ms(), t));
                let due = wall0 + ((t - sim0) as f64 / 1000.0 / speed) as u64;
                let now = clock.now_ms();
                if due > now {
                    clock.sleep_ms(due - now);
                }
            }
        }
    }
    sim.run_tagged(&mut |e| take(run, e));
    bar.finish_and_clear();
    Ok(None)
}

/// The seeds' first questions, asked of the first log group just delivered to.
const FIRST_QUESTIONS: &[(&str, &str)] = &[
    (
        "Top talkers",
        "stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 5",
    ),
    (
        "Rejected traffic by hour",
        "filter action = \"REJECT\" | stats count(*) as rejects by bin(1h) as hour | sort hour",
    ),
    (
        "SSH attempts",
        "filter dstPort = 22 | stats count(*) as attempts by srcAddr, action | sort attempts desc | limit 5",
    ),
];

fn answer_first_questions(prepared: &delivery::Prepared) -> anyhow::Result<()> {
    let Some(group) = prepared
        .plan
        .subs
        .iter()
        .find_map(|s| match &s.flow_log.destination {
            vpcflow_deliver::api::Destination::LogGroup { name } => Some(name.clone()),
            _ => None,
        })
    else {
        return Ok(());
    };
    let rt = crate::query::runtime()?;
    for (title, q) in FIRST_QUESTIONS {
        outln!("\n{title} ({group}):");
        let rows = crate::query::insights_rows(
            &crate::query::Engine::local(&rt),
            &prepared.data,
            q,
            std::slice::from_ref(&group),
            None,
            None,
            Default::default(),
        )?;
        crate::query::print(&rows, "table")?;
    }
    let data = prepared.data.display();
    outln!("\nAsk more with Logs Insights or SQL, for example:");
    outln!(
        "  vpcflow query --data {data} --insights '{}'",
        FIRST_QUESTIONS[0].1
    );
    outln!(
        "  vpcflow query --data {data} --insights 'filter action = \"REJECT\" | stats count(*) as n by dstPort | sort n desc | limit 10' --output json"
    );
    outln!(
        "  vpcflow query --data {data} --sql \"SELECT ...\"   (Athena DDL works: see vpcflow query --help)"
    );
    Ok(())
}

/// When flow logs use several aggregation intervals, the records each made: a flow active over
/// several minutes is one record per interval, so a 60 s flow log has more records than a 600 s
/// one of the same traffic.
fn per_interval(sim: &Simulator) -> String {
    let engines: Vec<_> = sim.engines().collect();
    if engines.len() < 2 {
        return String::new();
    }
    let each: Vec<String> = engines
        .iter()
        .map(|e| format!("{} at {} s", e.stats().records, e.interval_secs()))
        .collect();
    format!(
        "\nvpcflow: records per aggregation interval: {} (a flow is one record per interval it is \
         active in, so shorter intervals make more records; each flow log gets those of its \
         interval)",
        each.join(", ")
    )
}

/// `--format` of a record-printing command: either spelling, else AWS's default. Records made
/// here are VPC flow-log records, so Transit Gateway fields are refused.
pub(crate) fn record_format(flag: Option<&str>) -> anyhow::Result<LogFormat> {
    match flag {
        Some(f) => LogFormat::parse_any(f)
            .and_then(LogFormat::vpc)
            .with_context(|| format!("--format '{f}'")),
        None => Ok(LogFormat::default_v2()),
    }
}

/// The engine's part of a command's closing summary line.
pub(crate) fn engine_summary(e: &vpcflow_capture::flow::Stats) -> String {
    let skipped = if e.skipped_flows > 0 {
        format!(", {} flows skipped (SKIPDATA)", e.skipped_flows)
    } else {
        String::new()
    };
    format!(
        "{} observations ({} never logged), {} records{skipped}",
        e.packets, e.never_logged, e.records
    )
}

/// Prints records in a format, header line first, stamping `version` from the format.
pub(crate) struct RecordWriter {
    format: LogFormat,
    out: BufWriter<io::StdoutLock<'static>>,
    line: String,
    error: Option<io::Error>,
}

impl RecordWriter {
    /// A writer to stdout; writes the header line at once.
    pub(crate) fn stdout(format: LogFormat) -> io::Result<RecordWriter> {
        let mut out = BufWriter::with_capacity(256 * 1024, io::stdout().lock());
        writeln!(out, "{}", format.header())?;
        Ok(RecordWriter {
            format,
            out,
            line: String::with_capacity(256),
            error: None,
        })
    }

    /// Writes one record (the first write error is kept for [`RecordWriter::finish`]).
    pub(crate) fn write(&mut self, mut rec: vpcflow_record::FlowRecord) {
        if self.error.is_some() {
            return;
        }
        rec.version = Some(self.format.version());
        self.line.clear();
        text::encode_into(&self.format, &rec, &mut self.line);
        self.line.push('\n');
        if let Err(e) = self.out.write_all(self.line.as_bytes()) {
            self.error = Some(e);
        }
    }

    /// Whether a write failed (the reader went away): nothing more need be made.
    pub(crate) fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Flushes, or returns the first write error.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

pub(crate) fn run_diagnose(args: &DiagnoseArgs) -> anyhow::Result<ExitCode> {
    let protocol = vpcflow_record::Protocol::from_name(&args.protocol).with_context(|| {
        format!(
            "--protocol '{}': expected tcp, udp, icmp or a number",
            args.protocol
        )
    })?;
    if protocol.0 == 0 {
        bail!("--protocol 0 is not a transport protocol");
    }
    let net = builtin::load(&args.topology)?;
    if let Some(data) = &args.data {
        return crate::troubleshoot::run(args, data, &net, protocol.0);
    }
    let d = vpcflow_net::diagnose::diagnose(
        &net,
        args.src,
        args.dst,
        protocol.0,
        args.src_port,
        args.port.unwrap_or(443),
    );
    if args.output == "json" {
        println!("{}", serde_json::to_string_pretty(&d.to_json(&net))?);
    } else {
        print!("{}", d.explain(&net));
    }
    // Scripts read the verdict from the exit status.
    Ok(match d.conclusion() {
        vpcflow_net::diagnose::Conclusion::Accept => ExitCode::SUCCESS,
        vpcflow_net::diagnose::Conclusion::Reject => ExitCode::from(2),
        vpcflow_net::diagnose::Conclusion::NotCovered => ExitCode::from(3),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn rfc3339_rows() {
        let rows = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2026-01-15T14:00:00Z", Some(1_768_485_600)),
            ("2026-01-15T15:00:00+01:00", Some(1_768_485_600)),
            ("2026-01-15T14:00:00.250Z", Some(1_768_485_600)),
            ("2019-08-26T19:47:55Z", Some(1_566_848_875)),
            ("2026-13-01T00:00:00Z", None),
            ("2026-01-15 14:00", None),
            ("yesterday", None),
        ];
        for (s, want) in rows {
            assert_eq!(parse_rfc3339(s), want, "{s}");
        }
    }
}
