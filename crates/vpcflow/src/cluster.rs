//! `vpcflow cluster scheduler|executor`: a Ballista scheduler and its executors from this
//! binary, for `vpcflow query --cluster`. Parses arguments and runs `vpcflow_query::cluster`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use vpcflow_query::cluster::{self, Buckets, ExecutorOptions, SchedulerOptions};

#[derive(Subcommand, Debug)]
pub(crate) enum ClusterCommand {
    /// Run a scheduler: it takes queries from `vpcflow query --cluster df://HOST:PORT`, plans
    /// them into stages and hands the stages' tasks to its executors. Runs until stopped.
    Scheduler(SchedulerArgs),
    /// Run an executor of a scheduler: it runs the tasks the scheduler hands it and serves
    /// their results and shuffle data to other executors and to the client. Runs until SIGTERM
    /// or Ctrl-C.
    Executor(ExecutorArgs),
}

/// The buckets a process may read: those of a config, opened as `vpcflow query --config`
/// opens them.
#[derive(Args, Debug)]
pub(crate) struct Reading {
    /// vpcflow.toml: the [[buckets]] with an endpoint that queries' plans name (every process
    /// of a cluster is given the same one). Without it, only files by path.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl Reading {
    fn buckets(&self) -> anyhow::Result<Buckets> {
        // Buckets at endpoints need no data directory; the argument is where local buckets
        // would be, which a cluster process does not read.
        let none = PathBuf::from("vpcflow-data");
        Ok(Buckets(crate::query::remote_buckets_of(
            self.config.as_deref(),
            &none,
        )?))
    }
}

#[derive(Args, Debug)]
#[command(after_help = "\
Example, on one host:
  vpcflow cluster scheduler --bind 127.0.0.1:50050 &
  vpcflow cluster executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1 --port 50051 --grpc-port 50052 &
  vpcflow cluster executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1 --port 50061 --grpc-port 50062 &
  vpcflow query --cluster df://127.0.0.1:50050 --insights 'stats sum(bytes) by srcAddr'")]
pub(crate) struct SchedulerArgs {
    /// Address and port to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    bind: String,
    /// Seconds an executor may be silent before it counts as lost: its tasks run again on
    /// the others (up to 4 tries), or their query fails with an error.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(2..=3600))]
    executor_timeout: u64,
    #[command(flatten)]
    reading: Reading,
}

#[derive(Args, Debug)]
pub(crate) struct ExecutorArgs {
    /// The scheduler's address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    scheduler: String,
    /// Address to listen on, and to be reached at by the scheduler, other executors and clients.
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    bind: String,
    /// Arrow Flight port: results and shuffle data.
    #[arg(long, default_value_t = 50051)]
    port: u16,
    /// gRPC port: tasks from the scheduler.
    #[arg(long, default_value_t = 50052)]
    grpc_port: u16,
    /// Tasks run at once (0: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    concurrent_tasks: usize,
    /// Directory for shuffle files (a temporary directory by default).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Seconds between the heartbeats that tell the scheduler it is alive (keep it under the
    /// scheduler's --executor-timeout).
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    heartbeat: u64,
    #[command(flatten)]
    reading: Reading,
}

/// Ballista's messages on stderr, at the level `VPCFLOW_LOG` names (error, warn, info, debug,
/// trace; warn by default): what a scheduler or executor did when a query fails.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("{} {}: {}", r.level(), r.target(), r.args());
        }
    }
    fn flush(&self) {}
}

fn start_logging() {
    let level = std::env::var("VPCFLOW_LOG")
        .ok()
        .and_then(|l| l.parse::<log::LevelFilter>().ok())
        .unwrap_or(log::LevelFilter::Warn);
    if log::set_logger(&StderrLog).is_ok() {
        log::set_max_level(level);
    }
}

pub(crate) fn run(cmd: &ClusterCommand) -> anyhow::Result<()> {
    start_logging();
    let rt = crate::query::runtime()?;
    match cmd {
        ClusterCommand::Scheduler(a) => {
            let (host, port) = split(&a.bind, "--bind")?;
            let buckets = a.reading.buckets()?;
            eprintln!("vpcflow cluster scheduler: listening on df://{host}:{port}");
            rt.block_on(cluster::run_scheduler(SchedulerOptions {
                bind_host: host,
                port,
                buckets,
                executor_timeout_s: a.executor_timeout,
            }))
            .context("scheduler")
        }
        ClusterCommand::Executor(a) => {
            let (scheduler_host, scheduler_port) = split(&a.scheduler, "--scheduler")?;
            let buckets = a.reading.buckets()?;
            eprintln!(
                "vpcflow cluster executor: {}:{} (tasks on {}), scheduler {scheduler_host}:{scheduler_port}",
                a.bind, a.port, a.grpc_port
            );
            rt.block_on(cluster::run_executor(ExecutorOptions {
                bind_host: a.bind.clone(),
                port: a.port,
                grpc_port: a.grpc_port,
                scheduler_host,
                scheduler_port,
                concurrent_tasks: a.concurrent_tasks,
                work_dir: a
                    .work_dir
                    .as_ref()
                    .map(|d| d.to_string_lossy().into_owned()),
                heartbeat_s: a.heartbeat,
                buckets,
            }))
            .context("executor")
        }
    }
}

/// `HOST:PORT` of `flag`.
fn split(addr: &str, flag: &str) -> anyhow::Result<(String, u16)> {
    cluster::parse_scheduler(addr).map_err(|e| anyhow::anyhow!("{flag} {e}"))
}
