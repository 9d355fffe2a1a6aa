//! Wiring of flow-log delivery for `simulate` and `capture`: the config file, the data
//! directory, syncing `[[flow_logs]]` into `state.db`, and running a source through the
//! delivery pipeline with a progress bar. Also `vpcflow flow-logs describe`.
//!
//! Subscriptions, fan-out, the spool and destinations are `vpcflow-deliver`'s; this module
//! only opens them and reports.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};
use clap::Args;
use vpcflow_deliver::api::stable_hash;
use vpcflow_deliver::config::{DeliveryConfig, SimulationDefaults};
use vpcflow_deliver::deliver::{Clock, Destinations};
use vpcflow_deliver::describe::{DescribeFlowLogs, Filter, describe_flow_logs};
use vpcflow_deliver::fanout::Waits;
use vpcflow_deliver::pipeline::{self, CommitStats, Pipeline, PipelineOptions, Progress};
use vpcflow_deliver::reconcile::{ReconcileError, reconcile};
use vpcflow_deliver::{FlowLog, Plan, State};
use vpcflow_net::Network;
use vpcflow_store::DataDir;

/// Flags of the commands that deliver.
#[derive(Args, Debug, Clone)]
pub(crate) struct DeliveryArgs {
    /// vpcflow.toml: topology, [simulation], [[flow_logs]], [[buckets]], [[delivery_streams]],
    /// [[log_groups]], [spool]. [default: built-in: the VPC's ALL flow logs to the log group
    /// /vpcflow/flow-logs and to the bucket flow-logs as Parquet, Hive, per hour]
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory: state.db, logs/, s3/<bucket>/, spool/.
    #[arg(long, value_name = "DIR", default_value = "vpcflow-data")]
    pub(crate) data: PathBuf,
    /// Print the records (header line first) instead of delivering them to flow logs.
    #[arg(long)]
    pub(crate) stdout: bool,
    /// After the source ends, how long to keep retrying deliveries that fail (seconds); what is
    /// still undelivered stays in the spool for the next run. Also how long a pcap or simulated
    /// source waits for room when a destination's share of the spool is full before the run
    /// stops (running it again resumes).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub(crate) drain_timeout: u64,
    /// Run as this capture agent of the config's [[agents]]: make the records of the ENIs it
    /// owns only, under object names no other agent makes, so that agents on many hosts
    /// deliver the same flow logs into one bucket (docs/scale.md).
    #[arg(long, value_name = "NAME")]
    pub(crate) agent: Option<String>,
}

/// `vpcflow.toml`, parsed.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileConfig {
    pub(crate) topology: Option<String>,
    pub(crate) simulation: SimulationDefaults,
    /// `None` when no config file was given: the built-in default applies.
    pub(crate) delivery: Option<DeliveryConfig>,
}

/// Reads and checks `vpcflow.toml`; every problem is listed (file, key, reason).
pub(crate) fn load_config(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    let delivery = vpcflow_deliver::config::parse(&text, &name)?;
    // A relative topology path is relative to the config file.
    let topology = delivery.topology.as_ref().map(|s| {
        if s.starts_with("builtin:") || Path::new(s).is_absolute() {
            s.clone()
        } else {
            let base = path.parent().unwrap_or(Path::new("."));
            base.join(s).display().to_string()
        }
    });
    let simulation = delivery.simulation.clone();
    let problems = delivery.problems();
    if !problems.is_empty() {
        bail!(
            "{name} has {} problem(s):\n  {}",
            problems.len(),
            problems
                .iter()
                .map(|(at, why)| format!("{at}: {why}"))
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    Ok(FileConfig {
        topology,
        simulation,
        delivery: Some(delivery),
    })
}

/// The wall clock (the binary injects it; domain code reads none).
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn sleep_ms(&self, ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Takes the data directory's writer lock (`vpcflow_store::lock`) for the rest of the process,
/// once: a command writes one data directory, and `up` takes it before its first write while
/// the delivery it then runs finds it held already. A second process gets the holder's pid and
/// command in its error.
pub(crate) fn hold_writer_lock(data: &Path) -> anyhow::Result<()> {
    static HELD: std::sync::Mutex<Vec<(PathBuf, vpcflow_store::lock::WriterLock)>> =
        std::sync::Mutex::new(Vec::new());
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    let path = std::fs::canonicalize(data)
        .with_context(|| format!("cannot resolve the data directory {}", data.display()))?;
    let mut held = HELD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if held.iter().any(|(p, _)| *p == path) {
        return Ok(());
    }
    let command: Vec<String> = std::env::args().collect();
    let lock = vpcflow_store::lock::lock_writer(&DataDir::new(data), &command.join(" "))?;
    held.push((path, lock));
    Ok(())
}

/// A data directory with its flow logs synced from the config.
pub(crate) struct Prepared {
    pub(crate) data: PathBuf,
    pub(crate) config: DeliveryConfig,
    pub(crate) plan: Arc<Plan>,
    pub(crate) state: State,
    /// `--agent`: part of every name this run's sources deliver under.
    pub(crate) agent: Option<String>,
}

/// Opens the data directory and makes `state.db` hold the config's flow logs
/// (`vpcflow_deliver::reconcile`), listing the entries AWS would refuse. Without a config, the
/// built-in default's flow logs cover the VPCs of the topology file `base` (not those the EC2
/// API made since: a default that followed them would be a new flow log at each start); they
/// are checked against the network `net` runs on.
pub(crate) fn prepare(
    args: &DeliveryArgs,
    file: &FileConfig,
    base: &Network,
    net: &Arc<Network>,
) -> anyhow::Result<Prepared> {
    let config = file
        .delivery
        .clone()
        .unwrap_or_else(|| DeliveryConfig::builtin_default(base));
    hold_writer_lock(&args.data)?;
    let mut state = State::open(&DataDir::new(&args.data).state_db())?;
    // Before anything reads a checkpoint: what was damaged since the last run is made again by
    // this one.
    let spool_dir = DataDir::new(&args.data).spool();
    vpcflow_deliver::deliver::set_aside_damaged(&spool_dir, &state)
        .with_context(|| format!("cannot check the spool {}", spool_dir.display()))?;
    let flow_logs = match reconcile(&mut state, &config, net, SystemClock.now_ms()) {
        Ok(flow_logs) => flow_logs,
        Err(ReconcileError::Refused(refused)) => bail!(
            "the flow logs of {} were refused:\n  {}",
            args.config
                .as_ref()
                .map_or("the built-in default".to_owned(), |p| p
                    .display()
                    .to_string()),
            refused
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        ),
        Err(e) => return Err(e.into()),
    };
    let mut plan = Plan::new(Arc::clone(net), flow_logs, &config);
    if let Some(agent) = &args.agent {
        plan = plan.owned(vpcflow_deliver::agents::owned(&config.agents, agent, net)?);
    }
    let plan = Arc::new(plan);
    Ok(Prepared {
        data: args.data.clone(),
        config,
        plan,
        state,
        agent: args.agent.clone(),
    })
}

/// One flow engine per aggregation interval the flow logs use, each scoped to the ENIs its flow
/// logs cover (or to `config.scope`, when the source watches fewer), with `config`'s table size.
pub(crate) fn engines(
    prepared: &Prepared,
    net: &Arc<Network>,
    config: &vpcflow_capture::EngineConfig,
) -> anyhow::Result<Vec<vpcflow_capture::FlowEngine>> {
    Ok(prepared
        .plan
        .intervals
        .iter()
        .enumerate()
        .map(|(i, &interval_secs)| {
            vpcflow_capture::FlowEngine::new(
                Arc::clone(net),
                vpcflow_capture::EngineConfig {
                    interval_secs,
                    max_flows: config.max_flows,
                    scope: Some(
                        config
                            .scope
                            .clone()
                            .unwrap_or_else(|| prepared.plan.scope(i)),
                    ),
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?)
}

/// A source run through the pipeline, with the delivery worker alongside.
pub(crate) struct Run {
    pipeline: Pipeline,
    agent: Option<String>,
    spool: vpcflow_deliver::spool::Spool,
    state_path: PathBuf,
    max_spool_bytes: u64,
    worker: std::thread::JoinHandle<
        Result<(vpcflow_deliver::deliver::WorkerStats, usize), pipeline::PipelineError>,
    >,
    done: Arc<AtomicBool>,
    pub(crate) progress: Arc<Progress>,
    error: Option<pipeline::PipelineError>,
    drain_timeout_s: u64,
}

impl Run {
    /// Starts delivery of a source run. `run_key` names a replayable source (its checkpoints
    /// let a restarted run skip what was acknowledged).
    pub(crate) fn start(
        p: &Prepared,
        run_key: Option<String>,
        drain_timeout_s: u64,
    ) -> anyhow::Result<Run> {
        let spool = pipeline::open_spool(&DataDir::new(&p.data).spool(), &p.state)?;
        let account = p
            .plan
            .subs
            .first()
            .map(|s| s.flow_log.account_id.clone())
            .unwrap_or_default();
        let dest = Destinations::open(&p.config, &p.data, &p.plan.net.region, &account)?;
        let spool_for_sources = spool.clone();
        let pipeline = Pipeline::start(
            &p.plan,
            spool.clone(),
            PipelineOptions {
                state_path: DataDir::new(&p.data).state_db(),
                source: run_key.is_none().then(|| {
                    unrepeatable(&vpcflow_deliver::agents::source_name(
                        p.agent.as_deref(),
                        "live",
                    ))
                }),
                // A source that can be replayed waits for room in the spool (up to the drain
                // timeout); live traffic cannot, and what does not fit becomes SKIPDATA.
                waits: run_key.is_some().then(|| Waits {
                    clock: Arc::new(SystemClock),
                    give_up_ms: drain_timeout_s * 1000,
                }),
                run_key,
                max_spool_bytes: p.config.spool.max_bytes,
            },
        )?;
        let done = Arc::new(AtomicBool::new(false));
        let progress = Arc::clone(&pipeline.progress);
        let worker = pipeline::spawn_worker(
            spool,
            DataDir::new(&p.data).state_db(),
            dest,
            Arc::new(SystemClock),
            Arc::clone(&done),
            drain_timeout_s * 1000,
            Arc::clone(&progress),
        );
        Ok(Run {
            pipeline,
            agent: p.agent.clone(),
            spool: spool_for_sources,
            state_path: DataDir::new(&p.data).state_db(),
            max_spool_bytes: p.config.spool.max_bytes,
            worker,
            done,
            progress,
            error: None,
            drain_timeout_s,
        })
    }

    /// A second source of this run's flow logs, named `source` in what it delivers (live
    /// capture beside a service's simulation): a pipeline of its own for `plan` on the same
    /// spool, delivered by the same worker. It cannot be replayed: it keeps no checkpoints.
    pub(crate) fn second_source(&self, plan: &Arc<Plan>, source: &str) -> anyhow::Result<Pipeline> {
        Ok(Pipeline::start(
            plan,
            self.spool.clone(),
            PipelineOptions {
                state_path: self.state_path.clone(),
                run_key: None,
                max_spool_bytes: self.max_spool_bytes,
                source: Some(unrepeatable(&vpcflow_deliver::agents::source_name(
                    self.agent.as_deref(),
                    source,
                ))),
                waits: None,
            },
        )?)
    }

    /// A batch of engine `engine`'s records, unbuilt.
    pub(crate) fn push_batch(&mut self, engine: usize, records: Vec<vpcflow_capture::RawRecord>) {
        if self.error.is_none()
            && let Err(e) = self.pipeline.push_batch(engine, records)
        {
            self.error = Some(e);
        }
    }

    /// The flow logs changed: records pushed from now on follow `plan`.
    pub(crate) fn revise(&mut self, plan: Arc<Plan>) {
        if self.error.is_none()
            && let Err(e) = self.pipeline.revise(plan)
        {
            self.error = Some(e);
        }
    }

    /// Every engine has emitted its records before `until_us`.
    pub(crate) fn closed(&mut self, until_us: u64) {
        if self.error.is_none()
            && let Err(e) = self.pipeline.closed(until_us)
        {
            self.error = Some(e);
        }
    }

    /// Ends the source at `end_us`, then waits for delivery (up to the drain timeout).
    pub(crate) fn finish(self, end_us: u64) -> anyhow::Result<Outcome> {
        self.end(Some(end_us))
    }

    /// Stops the source before its end (`Pipeline::stop`: the open windows are made whole by
    /// the next run), then waits for delivery of what was committed.
    pub(crate) fn stop(self) -> anyhow::Result<Outcome> {
        self.end(None)
    }

    fn end(self, at_us: Option<u64>) -> anyhow::Result<Outcome> {
        if let Some(e) = self.error {
            self.done.store(true, Ordering::Release);
            return Err(e.into());
        }
        let commit = match at_us {
            Some(end_us) => self.pipeline.finish(end_us),
            None => self.pipeline.stop(),
        };
        self.done.store(true, Ordering::Release);
        // While deliveries still go out, say why the run waits, rather than wait in silence.
        let mut said = false;
        while !self.worker.is_finished() {
            let failing = self
                .progress
                .failing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            if let (false, Some(why)) = (said, failing) {
                eprintln!(
                    "vpcflow: a destination is failing ({why}); retrying it for up to {} s (--drain-timeout)",
                    self.drain_timeout_s
                );
                said = true;
            }
            SystemClock.sleep_ms(50);
        }
        let worker = self
            .worker
            .join()
            .map_err(|_| anyhow::anyhow!("the delivery worker panicked"))?;
        let commit = commit?;
        let (worker, left) = worker?;
        Ok(Outcome {
            commit,
            left,
            worker,
            // Read from the run's own spool, whose entries it already knows.
            waiting: self.spool.waiting().unwrap_or_default(),
        })
    }
}

/// What a run made and what became of it.
pub(crate) struct Outcome {
    /// Records made per flow log, and what the pipeline skipped.
    pub(crate) commit: CommitStats,
    /// Entries still in the spool when the run ended.
    pub(crate) left: usize,
    /// What the worker delivered or set aside, per flow log.
    pub(crate) worker: vpcflow_deliver::deliver::WorkerStats,
    /// Records still waiting in the spool when the run ended, per flow log.
    pub(crate) waiting: std::collections::BTreeMap<String, u64>,
}

/// The name of a run that cannot be replayed (live traffic): `what` and when it started, in
/// ms, so that no later run's entries land where its did.
fn unrepeatable(what: &str) -> String {
    format!("{what}{:x}", SystemClock.now_ms())
}

/// The damaged spool entries of `data` set aside in its quarantine, if any: what to say of
/// them, and their names.
fn set_aside(data: &Path) -> Option<(String, Vec<String>)> {
    let spool = DataDir::new(data).spool();
    let names = vpcflow_deliver::spool::quarantined_in(&spool).ok()?;
    (!names.is_empty()).then(|| {
        let said = format!(
            "{} damaged spool entries are set aside in {}, not delivered",
            names.len(),
            spool.join(vpcflow_deliver::spool::QUARANTINE).display()
        );
        (said, names)
    })
}

/// A key naming a replayable source run: the same inputs give the same key.
pub(crate) fn run_key(parts: &[&str]) -> String {
    let bytes: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    format!("{:016x}", stable_hash(&bytes))
}

/// The closing summary: a headline that calls records delivered only when they all went out,
/// then each flow log ([`report`]).
pub(crate) fn summary(p: &Prepared, o: &Outcome) -> String {
    let (commit, left) = (&o.commit, o.left);
    let total: u64 = commit.records.values().sum();
    let (n, data) = (p.plan.subs.len(), p.data.display());
    let head = if left > 0 {
        format!(
            "Made {total} records for {n} flow log(s) in {data}; some could not be delivered yet:"
        )
    } else {
        format!("Delivered {total} records to {n} flow log(s) in {data}:")
    };
    format!("{head}\n{}", report(p, o).trim_end())
}

/// The closing report: each flow log, where its records went, and how many were made,
/// delivered (this run, of this run's or an earlier one's), waiting in the spool, and failed
/// (set aside damaged).
pub(crate) fn report(p: &Prepared, o: &Outcome) -> String {
    let (commit, left) = (&o.commit, o.left);
    let endpoints: std::collections::BTreeMap<&str, &str> = p
        .config
        .buckets
        .iter()
        .filter_map(|b| Some((b.name.as_str(), b.endpoint.as_deref()?)))
        .collect();
    use std::fmt::Write as _;
    let mut s = String::new();
    let waiting = &o.waiting;
    for sub in &p.plan.subs {
        let f = &sub.flow_log;
        let n = commit.records.get(&f.flow_log_id).copied().unwrap_or(0);
        let done = o
            .worker
            .by_flow_log
            .get(&f.flow_log_id)
            .copied()
            .unwrap_or_default();
        let waits = waiting.get(&f.flow_log_id).copied().unwrap_or(0);
        // A failing destination says so, with AWS's message and the cause.
        let failed = p
            .state
            .status(&f.flow_log_id)
            .ok()
            .filter(|st| st.status == "FAILED")
            .map(|st| {
                format!(
                    " (FAILED: {}: {})",
                    st.message.unwrap_or_default(),
                    st.detail.unwrap_or_default()
                )
            })
            .unwrap_or_default();
        let _ = write!(
            s,
            "  {} {} {:<6} → {}: {n} records made, {} delivered, {waits} waiting in the \
             spool, {} failed{failed}",
            f.flow_log_id,
            f.resource_id,
            f.traffic_type.as_str(),
            describe_destination(&p.data, &endpoints, f),
            done.delivered,
            done.failed,
        );
        s.push('\n');
    }
    if commit.already_delivered > 0 {
        let _ = writeln!(
            s,
            "  (resumed: {} records were delivered by an earlier run of the same source)",
            commit.already_delivered
        );
    }
    if commit.overflowed > 0 {
        let _ = writeln!(
            s,
            "  the spool was full: {} records were replaced by SKIPDATA records",
            commit.overflowed
        );
    }
    if let Some((said, names)) = set_aside(&p.data) {
        let _ = writeln!(s, "  {said}: {}", names.join(", "));
    }
    if left > 0 {
        let _ = writeln!(
            s,
            "  {left} deliveries are still failing; they stay in {} and go out on the next run \
             (see `vpcflow flow-logs describe`)",
            DataDir::new(&p.data).spool().display()
        );
    }
    s
}

fn describe_destination(
    data: &Path,
    endpoints: &std::collections::BTreeMap<&str, &str>,
    f: &FlowLog,
) -> String {
    use vpcflow_deliver::api::{Destination, FileFormat};
    match &f.destination {
        Destination::LogGroup { name } => format!("log group {name}"),
        Destination::S3 {
            bucket,
            prefix,
            options,
        } => {
            let kind = match options.file_format {
                FileFormat::PlainText => "text.gz",
                FileFormat::Parquet => "Parquet",
            };
            let place = match endpoints.get(bucket.as_str()) {
                Some(endpoint) => format!("at {endpoint}"),
                None => DataDir::new(data)
                    .s3()
                    .join(bucket)
                    .join(prefix)
                    .display()
                    .to_string(),
            };
            format!("s3://{bucket}/{prefix} ({kind}, {place})")
        }
        Destination::Firehose { stream } => format!("delivery stream {stream}"),
    }
}

/// `vpcflow flow-logs …`.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum FlowLogsCommand {
    /// The flow logs in the data directory, as `aws ec2 describe-flow-logs` prints them (JSON),
    /// with DeliverLogsStatus. Filters are ANDed, a filter's values ORed, `*` and `?` are
    /// wildcards.
    Describe {
        /// Data directory.
        #[arg(long, value_name = "DIR", default_value = "vpcflow-data")]
        data: PathBuf,
        /// Only these flow logs.
        #[arg(long, value_name = "ID", num_args = 1..)]
        flow_log_ids: Vec<String>,
        /// `Name=NAME,Values=V1,V2`, NAME one of deliver-log-status, log-destination-type,
        /// flow-log-id, log-group-name, resource-id, traffic-type, tag:KEY, tag-key. Repeatable.
        #[arg(long, value_name = "Name=…,Values=…")]
        filter: Vec<String>,
        /// At most this many (5–1000), with a NextToken for the rest.
        #[arg(long, value_name = "N")]
        max_results: Option<i64>,
        /// The NextToken of the previous page.
        #[arg(long, value_name = "TOKEN")]
        next_token: Option<String>,
    },
}

/// `Name=resource-id,Values=vpc-1,vpc-2`, the AWS CLI's shorthand for one filter.
fn parse_filter(text: &str) -> anyhow::Result<Filter> {
    let bad = || {
        anyhow::anyhow!(
            "--filter {text:?}: expected Name=NAME,Values=VALUE[,VALUE…] (the AWS CLI's shorthand)"
        )
    };
    let rest = text.strip_prefix("Name=").ok_or_else(bad)?;
    let (name, values) = rest.split_once(",Values=").ok_or_else(bad)?;
    if name.is_empty() || values.is_empty() {
        return Err(bad());
    }
    Ok(Filter {
        name: name.to_owned(),
        values: values.split(',').map(str::to_owned).collect(),
    })
}

pub(crate) fn run_flow_logs(cmd: &FlowLogsCommand) -> anyhow::Result<()> {
    let FlowLogsCommand::Describe {
        data,
        flow_log_ids,
        filter,
        max_results,
        next_token,
    } = cmd;
    let request = DescribeFlowLogs {
        flow_log_ids: flow_log_ids.clone(),
        filters: filter
            .iter()
            .map(|f| parse_filter(f))
            .collect::<anyhow::Result<_>>()?,
        max_results: *max_results,
        next_token: next_token.clone(),
    };
    let path = DataDir::new(data).state_db();
    if !path.exists() {
        bail!(
            "{} has no state.db: nothing was delivered there yet",
            data.display()
        );
    }
    let state = State::open(&path)?;
    let page = describe_flow_logs(&request, &state.flow_logs_with_status()?)?;
    let doc = serde_json::to_value(&page)?;
    if let Some((said, _)) = set_aside(data) {
        eprintln!("vpcflow: {said}");
    }
    use std::io::Write as _;
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&doc)?
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_in_the_aws_clis_shorthand() {
        let f = parse_filter("Name=resource-id,Values=vpc-1,vpc-2").unwrap();
        assert_eq!(f.name, "resource-id");
        assert_eq!(f.values, ["vpc-1", "vpc-2"]);
        assert_eq!(
            parse_filter("Name=tag:Team,Values=a").unwrap().name,
            "tag:Team"
        );
        for bad in [
            "resource-id=vpc-1",
            "Name=,Values=x",
            "Name=x,Values=",
            "Name=x",
        ] {
            let e = parse_filter(bad).unwrap_err().to_string();
            assert!(e.contains("Name=NAME,Values=VALUE"), "{bad}: {e}");
        }
    }
}
