//! Queries on a cluster: Apache DataFusion Ballista's scheduler and executors, run from this
//! crate so that `vpcflow cluster scheduler|executor` needs no other install, and the client
//! session that `vpcflow query --cluster df://HOST:PORT` plans in.
//!
//! The three processes agree on vpcflow's plan pieces through [`codec`]: the client sends a
//! logical plan holding our table providers; the scheduler plans it (our tables' `scan`, so
//! pruning by partitions and file times happens there) into stages of physical plans holding
//! our text reader; executors run the stages. Our functions are in every process's registry
//! and in the codecs. Each process opens the buckets of its own `--config` ([`Buckets`]); a
//! plan names a bucket and a key, never credentials. Local files (log-group segments, a data
//! directory's buckets, `--files` paths) are read by their paths: on one host, or where every
//! executor mounts the same paths.
//!
//! The scheduler's physical planning leaves out [`crate::view_eq`]'s rule: its comparison node
//! is a faster form of an equality, and the plain equality travels in DataFusion's own codec.

pub mod codec;

use std::sync::Arc;

use ballista_core::extension::{SessionConfigExt as _, SessionStateExt as _};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

pub use codec::{Buckets, LogicalCodec, PhysicalCodec};

/// The scheduler port Ballista's clients and executors assume.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// `df://HOST:PORT` (or `HOST:PORT`): the scheduler's host and port.
pub fn parse_scheduler(url: &str) -> std::result::Result<(String, u16), String> {
    let rest = url.strip_prefix("df://").unwrap_or(url);
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("'{url}': the port '{p}' is not a number from 0 to 65535"))?,
        ),
        None => (rest, DEFAULT_SCHEDULER_PORT),
    };
    if host.is_empty() || host.contains('/') {
        return Err(format!(
            "'{url}' is not a scheduler address: expected df://HOST:PORT"
        ));
    }
    Ok((host.to_owned(), port))
}

fn with_codecs(config: SessionConfig, buckets: &Buckets) -> SessionConfig {
    config
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::new(buckets.clone())))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::new(buckets.clone())))
}

/// Our functions and `buckets`' object stores in `state`.
fn equip(state: SessionState, buckets: &Buckets) -> SessionState {
    let ctx = SessionContext::new_with_state(state);
    crate::udf::register(&ctx);
    register_buckets(ctx.runtime_env().as_ref(), buckets);
    ctx.state()
}

/// Each bucket's store at `s3://BUCKET`, where the scans of its objects look it up.
fn register_buckets(runtime: &RuntimeEnv, buckets: &Buckets) {
    for b in &buckets.0 {
        // A bucket name is a host name (S3's naming rules): the URL parses.
        if let Ok(url) = ObjectStoreUrl::parse(format!("s3://{}", b.name)) {
            runtime.register_object_store(url.as_ref(), Arc::clone(&b.store));
        }
    }
}

/// A session whose queries run on the Ballista scheduler at `url` (`df://HOST:PORT`), with
/// `config`'s settings, vpcflow's functions and codecs, and the remote files of `buckets`.
pub fn remote(url: &str, config: SessionConfig, buckets: &Buckets) -> Result<SessionContext> {
    let (host, port) = parse_scheduler(url).map_err(DataFusionError::Configuration)?;
    let local = crate::session(with_codecs(config, buckets));
    let state = equip(local.state(), buckets);
    // Ballista's client: its query planner sends the logical plan to the scheduler.
    let ctx = SessionContext::new_with_state(
        state.upgrade_for_ballista(format!("http://{host}:{port}"))?,
    );
    // Ballista's upgrade of the session sets its own function list: ours go back in.
    crate::udf::register(&ctx);
    // The static planner: Ballista 55's adaptive one loses a job whose executor dies while a
    // later stage runs ("Can't find active stage"), and its client then waits for ever; the
    // static one runs the lost tasks again on the executors left.
    ctx.state_ref().write().config_mut().options_mut().set(
        ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED,
        "false",
    )?;
    Ok(ctx)
}

/// What a scheduler runs with.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Address to listen on.
    pub bind_host: String,
    /// Port to listen on.
    pub port: u16,
    /// Buckets at S3-compatible endpoints that plans may name.
    pub buckets: Buckets,
    /// How long an executor may be silent (s) before it counts as lost: its tasks then run
    /// again elsewhere, or their query fails.
    pub executor_timeout_s: u64,
}

/// Runs a scheduler until the process ends.
pub async fn run_scheduler(o: SchedulerOptions) -> std::result::Result<(), ClusterError> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let buckets = o.buckets.clone();
    let session_builder: ballista_scheduler::scheduler_server::SessionBuilder =
        Arc::new(move |config: SessionConfig| {
            // Text scans as file scans: Ballista splits only the scans it knows between a
            // stage's tasks (`text_exec::FileScans`).
            let config = config.with_extension(Arc::new(crate::text_exec::FileScans));
            let state = ballista_core::utils::default_session_builder(config)?;
            Ok(equip(state, &buckets))
        });
    let config = SchedulerConfig {
        bind_host: o.bind_host.clone(),
        bind_port: o.port,
        external_host: o.bind_host.clone(),
        override_logical_codec: Some(Arc::new(LogicalCodec::new(o.buckets.clone()))),
        override_physical_codec: Some(Arc::new(PhysicalCodec::new(o.buckets.clone()))),
        override_session_builder: Some(session_builder),
        executor_timeout_seconds: o.executor_timeout_s,
        no_executors_grace_period_seconds: o.executor_timeout_s,
        expire_dead_executor_interval_seconds: (o.executor_timeout_s / 4).clamp(1, 15),
        ..Default::default()
    };
    let addr: std::net::SocketAddr = format!("{}:{}", o.bind_host, o.port)
        .parse()
        .map_err(|e| ClusterError::Address(format!("{}:{}: {e}", o.bind_host, o.port)))?;
    let cluster = BallistaCluster::new_from_config(&config).await?;
    ballista_scheduler::scheduler_process::start_server(cluster, addr, Arc::new(config)).await?;
    Ok(())
}

/// What an executor runs with.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Address to listen on (and to be reached at).
    pub bind_host: String,
    /// Arrow Flight port: where results and shuffle data are fetched.
    pub port: u16,
    /// gRPC port: where the scheduler sends tasks.
    pub grpc_port: u16,
    /// The scheduler.
    pub scheduler_host: String,
    /// The scheduler's port.
    pub scheduler_port: u16,
    /// Tasks run at once (0: one per core).
    pub concurrent_tasks: usize,
    /// Where shuffle files go (a temporary directory when `None`).
    pub work_dir: Option<String>,
    /// How often it tells the scheduler it is alive (s).
    pub heartbeat_s: u64,
    /// Buckets at S3-compatible endpoints that plans may name.
    pub buckets: Buckets,
}

/// Runs an executor until SIGTERM or Ctrl-C.
pub async fn run_executor(o: ExecutorOptions) -> std::result::Result<(), ClusterError> {
    use ballista_core::registry::BallistaFunctionRegistry;
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    let mut functions = BallistaFunctionRegistry::default();
    for f in crate::udf::all() {
        functions
            .scalar_functions
            .insert(f.name().to_owned(), Arc::new(f));
    }
    let work_dir = match &o.work_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().to_string_lossy().into_owned(),
    };
    let buckets = o.buckets.clone();
    let temp = work_dir.clone();
    let runtime: ballista_core::RuntimeProducer = Arc::new(move |_config: &SessionConfig| {
        let runtime = RuntimeEnvBuilder::new()
            .with_temp_file_path(temp.clone())
            .build()?;
        register_buckets(&runtime, &buckets);
        Ok(Arc::new(runtime))
    });
    let config = ExecutorProcessConfig {
        bind_host: o.bind_host.clone(),
        external_host: Some(o.bind_host.clone()),
        port: o.port,
        grpc_port: o.grpc_port,
        scheduler_host: o.scheduler_host.clone(),
        scheduler_port: o.scheduler_port,
        vcores: o.concurrent_tasks,
        work_dir: o.work_dir.clone(),
        print_thread_info: false,
        executor_heartbeat_interval_seconds: o.heartbeat_s,
        override_function_registry: Some(Arc::new(functions)),
        override_runtime_producer: Some(runtime),
        override_logical_codec: Some(Arc::new(LogicalCodec::new(o.buckets.clone()))),
        override_physical_codec: Some(Arc::new(PhysicalCodec::new(o.buckets.clone()))),
        ..Default::default()
    };
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

/// Why a scheduler or executor stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The address to listen on is not one.
    #[error("cannot listen on {0}")]
    Address(String),
    /// Ballista stopped with an error (a port in use, a scheduler that cannot be reached, …).
    #[error("{0}")]
    Ballista(#[from] ballista_core::error::BallistaError),
}

#[cfg(test)]
mod tests {
    use super::parse_scheduler;

    #[test]
    fn a_scheduler_address_is_host_and_port() {
        assert_eq!(
            parse_scheduler("df://10.0.0.5:50050"),
            Ok(("10.0.0.5".to_owned(), 50050))
        );
        assert_eq!(
            parse_scheduler("sched.example:7"),
            Ok(("sched.example".to_owned(), 7))
        );
        assert_eq!(
            parse_scheduler("df://sched"),
            Ok(("sched".to_owned(), super::DEFAULT_SCHEDULER_PORT))
        );
        assert_eq!(
            parse_scheduler("df://h:99999").unwrap_err(),
            "'df://h:99999': the port '99999' is not a number from 0 to 65535"
        );
        assert!(parse_scheduler("df://:1").is_err());
        assert!(parse_scheduler("http://h/x:1").is_err());
    }
}
