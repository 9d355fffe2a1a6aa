//! `vpcflow up`'s API server, wired: the listen address and credentials from the flags and
//! `[server]`, the services opened on the data directory, the server on its own tokio runtime
//! beside the simulation, request logs to `DATA/api.log`, and a stop that answers what is in
//! flight. What the server does is `vpcflow-api`'s.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use clap::Args;
use vpcflow_api::server::{Api, Auth, Opening, Services};
use vpcflow_api::sigv4::Credential;
use vpcflow_deliver::config::{DEFAULT_LISTEN, DeliveryConfig, ServerConfig};
use vpcflow_deliver::resources::live::LiveNetwork;
use vpcflow_net::Network;
use vpcflow_store::DataDir;

use crate::delivery::SystemClock;

/// The server's flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct ServeArgs {
    /// Where the AWS-compatible API listens (HOST:PORT; port 0 picks a free one). [default:
    /// [server] listen, else 127.0.0.1:4599]
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<String>,
    /// Accept any credentials without checking signatures (as LocalStack does): a 12-digit
    /// access key is its account, any other key the topology's first account. Insecure: for
    /// throw-away local use only.
    #[arg(long)]
    pub(crate) insecure_any_credentials: bool,
    /// Serve no console (the web UI under /ui on the API's port).
    #[arg(long)]
    pub(crate) no_console: bool,
}

/// Where the run publishes its delivery counters once its pipeline starts (after the server).
#[derive(Clone, Default)]
pub(crate) struct ProgressSlot(Arc<Mutex<Option<Arc<vpcflow_deliver::pipeline::Progress>>>>);

impl ProgressSlot {
    pub(crate) fn publish(&self, p: Arc<vpcflow_deliver::pipeline::Progress>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(p);
    }

    fn get(&self) -> Option<Arc<vpcflow_deliver::pipeline::Progress>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The delivery's figures for `/metrics`, gathered at each scrape: the run's counters, the
/// spool's waiting entries and each flow log's delivery status.
fn delivery_figures(slot: ProgressSlot, data: DataDir) -> vpcflow_api::metrics::Extra {
    use std::sync::atomic::Ordering::Relaxed;
    Box::new(move |out: &mut String| {
        let mut f = vpcflow_api::metrics::DeliveryFigures::default();
        if let Some(p) = slot.get() {
            f.committed = p.committed.load(Relaxed);
            f.delivered = p.delivered.load(Relaxed);
            f.skipped = p.skipped.load(Relaxed);
        }
        if let Ok(spool) = vpcflow_deliver::spool::Spool::open(&data.spool()) {
            f.spool_bytes = spool.used_bytes();
            f.waiting = spool.waiting().unwrap_or_default();
        }
        if let Ok(state) = vpcflow_deliver::State::open(&data.state_db())
            && let Ok(all) = state.flow_logs_with_status()
        {
            f.destinations = all
                .iter()
                .map(|(fl, st)| {
                    (
                        fl.flow_log_id.clone(),
                        fl.destination.arn(&fl.region, &fl.account_id),
                        st.status == "FAILED",
                    )
                })
                .collect();
        }
        f.render(out);
    })
}

/// A running server.
pub(crate) struct Server {
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The address it listens on.
    pub(crate) addr: SocketAddr,
    /// The credentials it takes.
    pub(crate) credentials: Vec<Credential>,
    /// The region clients should sign for.
    pub(crate) region: String,
    /// Where the run publishes its delivery counters.
    pub(crate) progress: ProgressSlot,
    /// Whether the console is served.
    pub(crate) console: bool,
    /// The network the API serves and changes: the topology file's and what the API made.
    pub(crate) network: Arc<LiveNetwork>,
    /// The pump's stop flag and thread.
    pump: (
        Arc<std::sync::atomic::AtomicBool>,
        Option<std::thread::JoinHandle<()>>,
    ),
}

fn credentials(server: &ServerConfig, net: &Network) -> Vec<Credential> {
    let configured = if server.credentials.is_empty() {
        ServerConfig::builtin_credentials(net)
    } else {
        server.credentials.clone()
    };
    configured
        .into_iter()
        .map(|c| Credential {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            account_id: c.account_id,
        })
        .collect()
}

/// Request logs: one structured line per request, to `path`.
fn log_requests(path: &std::path::Path) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the request log {}", path.display()))?;
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .try_init();
    Ok(())
}

/// Binds and starts the server (the port is taken before this returns, or the error says why).
pub(crate) fn start(
    args: &ServeArgs,
    config: &DeliveryConfig,
    net: &Arc<Network>,
    data: &DataDir,
) -> anyhow::Result<Server> {
    let listen = args
        .listen
        .clone()
        .or_else(|| config.server.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let addr: SocketAddr = listen.parse().with_context(|| {
        format!("--listen '{listen}': expected HOST:PORT with an IP address, e.g. {DEFAULT_LISTEN}")
    })?;
    let credentials = credentials(&config.server, net);
    let default_account = credentials[0].account_id.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vpcflow-api")
        .enable_io()
        .enable_time()
        .build()
        .context("cannot start the API server's runtime")?;
    let std_listener = std::net::TcpListener::bind(addr).with_context(|| {
        format!("cannot listen on {addr} (another vpcflow up? use --listen to pick another)")
    })?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    log_requests(&data.root().join("api.log"))?;
    let clock: Arc<dyn vpcflow_store::Clock> = Arc::new(SystemClock);
    let progress = ProgressSlot::default();
    let local_buckets: Vec<String> = config
        .buckets
        .iter()
        .filter(|b| b.endpoint.is_none())
        .map(|b| b.name.clone())
        .collect();
    let pump = start_pump(
        data,
        net,
        &default_account,
        &local_buckets,
        &config.topics,
        config.detections.as_ref(),
        &clock,
    )?;
    let network = {
        let state = vpcflow_deliver::State::open(&data.state_db())?;
        Arc::new(LiveNetwork::open(Arc::clone(net), &state)?)
    };
    let services = Services::open(Opening {
        data,
        network: Arc::clone(&network),
        buckets: config.buckets.iter().map(|b| b.name.clone()).collect(),
        local_buckets,
        delivery_streams: config
            .delivery_streams
            .iter()
            .map(|s| s.name.clone())
            .collect(),
        owner: &default_account,
        runtime: runtime.handle().clone(),
        clock: Arc::clone(&clock),
    })?;
    let mut api = Api::new(
        Auth {
            credentials: credentials.clone(),
            any_credentials: args.insecure_any_credentials,
            default_account: default_account.clone(),
        },
        services,
        clock,
        Some(delivery_figures(progress.clone(), data.clone())),
    );
    if !args.no_console {
        api = api.with_console(vpcflow_api::console::Console::new(
            data.clone(),
            runtime.handle().clone(),
        ));
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let _guard = runtime.enter();
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        runtime.spawn(vpcflow_api::server::serve(
            listener,
            Arc::new(api),
            async move {
                let _ = rx.await;
            },
        ))
    };
    Ok(Server {
        runtime,
        stop: Some(tx),
        task,
        addr,
        credentials,
        region: net.region.clone(),
        progress,
        console: !args.no_console,
        network,
        pump,
    })
}

/// Starts the pump beside the server: Firehose streams' buffers, subscription filters, bucket
/// lifecycle and notifications, a round a second; problems go to the request log.
fn start_pump(
    data: &DataDir,
    net: &Network,
    owner: &str,
    local_buckets: &[String],
    topics: &[vpcflow_deliver::config::TopicConfig],
    detections: Option<&vpcflow_deliver::config::DetectionsConfig>,
    clock: &Arc<dyn vpcflow_store::Clock>,
) -> anyhow::Result<(
    Arc<std::sync::atomic::AtomicBool>,
    Option<std::thread::JoinHandle<()>>,
)> {
    let pump = vpcflow_deliver::pump::Pump::open(
        data,
        &net.region,
        owner,
        local_buckets.to_vec(),
        topics.to_vec(),
        detections.cloned(),
    )
    .context("cannot open the stores the API's background work runs on")?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handle = vpcflow_deliver::pump::spawn(
        pump,
        Arc::clone(clock),
        Arc::clone(&stop),
        std::time::Duration::from_secs(1),
        Box::new(|p| tracing::warn!(problem = %p, "background delivery")),
        Box::new(|line| tracing::info!(what = %line, "monitoring")),
    )
    .context("cannot start the API's background work")?;
    Ok((stop, Some(handle)))
}

impl Server {
    /// What `vpcflow up` prints: the endpoint, the credentials and commands to try.
    pub(crate) fn banner(&self, any_credentials: bool) -> String {
        let c = &self.credentials[0];
        let url = format!("http://{}", self.addr);
        let mut out = format!(
            "AWS API on {url} (EC2 flow logs, tags and the network, CloudWatch Logs, CloudWatch \
             alarms and metrics, S3, Firehose, IAM roles, STS):\n"
        );
        if self.console {
            out = format!(
                "Console on {url}/ui (sign in with the access key and secret below)\n{out}"
            );
        }
        if any_credentials {
            out.push_str(
                "  WARNING: --insecure-any-credentials is on: signatures are NOT checked and any \
                 key is let in.\n",
            );
        }
        out.push_str(&format!(
            "  export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_DEFAULT_REGION={}\n  \
             aws --endpoint-url {url} ec2 describe-flow-logs\n  \
             aws --endpoint-url {url} logs filter-log-events --log-group-name /vpcflow/flow-logs --filter-pattern REJECT --max-items 5\n  \
             aws --endpoint-url {url} logs start-query --log-group-name /vpcflow/flow-logs \
             --start-time 0 --end-time 4102444800 --query-string 'stats count(*) by action'",
            c.access_key_id,
            // A configured secret is the operator's: not printed.
            if c.access_key_id == vpcflow_deliver::config::BUILTIN_ACCESS_KEY_ID {
                c.secret_access_key.as_str()
            } else {
                "<its secret in [server] credentials>"
            },
            self.region
        ));
        out
    }

    /// Stops taking requests, answers those in flight, and ends the runtime.
    pub(crate) fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.pump
            .0
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.pump.1.take() {
            let _ = h.join();
        }
        let result = self.runtime.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(10), self.task).await
        });
        self.runtime
            .shutdown_timeout(std::time::Duration::from_secs(1));
        match result {
            Ok(Ok(Ok(()))) | Err(_) => Ok(()),
            Ok(Ok(Err(e))) => Err(e).context("the API server failed"),
            Ok(Err(e)) => Err(anyhow::anyhow!("the API server failed: {e}")),
        }
    }
}
