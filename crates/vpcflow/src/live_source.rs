//! Live capture beside `vpcflow up`'s simulated traffic: the interfaces of the config's
//! `[capture]`, captured in wall-clock time on a thread of their own into a second pipeline of
//! the same run (`Run::second_source`: same spool, same worker, names of their own). The ENIs
//! those interfaces carry get their records from the capture, not from the simulation: the two
//! sources' plans are the service's plan split by ENI (`Plan::masked`), and follow its
//! revisions alike.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context as _, bail};
use vpcflow_capture::live::{LiveCapture, LiveStats, RingConfig};
use vpcflow_capture::{Emit, EngineConfig, FlowEngine};
use vpcflow_deliver::Plan;
use vpcflow_deliver::pipeline::{CommitStats, Pipeline, PipelineError};

use crate::capture::{live_interfaces, wall_clock_micros};
use crate::delivery::Run;

/// The source name live capture's entries carry.
const SOURCE: &str = "live";

/// What the capture thread ends with.
type Ended = anyhow::Result<(CommitStats, LiveStats, vpcflow_capture::flow::Stats)>;

/// The ENIs a service captures live, by index: which source sees which ENI.
#[derive(Debug, Clone)]
pub(crate) struct LiveEnis(Vec<bool>);

impl LiveEnis {
    /// The ENIs the config's `[capture]` interfaces carry (none without one).
    pub(crate) fn of(names: &[String], net: &vpcflow_net::Network) -> anyhow::Result<LiveEnis> {
        let mut live = vec![false; net.enis.len()];
        for i in live_interfaces(names, net, None, "[capture] interfaces")? {
            live[i.eni] = true;
        }
        Ok(LiveEnis(live))
    }

    /// The plan of the simulated traffic: every ENI but the captured ones.
    pub(crate) fn simulated(&self, plan: &Plan) -> Plan {
        plan.masked(&|e| !self.0[e])
    }

    /// The plan of the live capture: the captured ENIs only.
    pub(crate) fn captured(&self, plan: &Plan) -> Plan {
        plan.masked(&|e| self.0[e])
    }

    fn list(&self) -> Vec<usize> {
        (0..self.0.len()).filter(|&e| self.0[e]).collect()
    }
}

/// Live capture running beside the simulation.
pub(crate) struct LiveSource {
    enis: LiveEnis,
    plans: Sender<Arc<Plan>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Ended>,
    names: String,
}

impl LiveSource {
    /// Opens the rings of `names` and starts capturing into a second pipeline of `run`, for
    /// `plan` (the service's, whole). Its flow logs must share one aggregation interval.
    pub(crate) fn start(
        names: &[String],
        enis: LiveEnis,
        plan: &Plan,
        run: &Run,
        max_flows: usize,
    ) -> anyhow::Result<LiveSource> {
        let captured = Arc::new(enis.captured(plan));
        let engine = engine_index(&captured)?;
        let interfaces = live_interfaces(names, &plan.net, None, "[capture] interfaces")?;
        let mut flow = FlowEngine::new(
            Arc::clone(&plan.net),
            EngineConfig {
                interval_secs: captured.intervals[engine],
                max_flows,
                scope: Some(enis.list()),
            },
        )?;
        let rings = LiveCapture::open(&interfaces, RingConfig::default())
            .context("[capture] needs to open AF_PACKET sockets (root or CAP_NET_RAW)")?;
        let pipeline = run.second_source(&captured, SOURCE)?;
        let (plans, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("vpcflow-live".into())
            .spawn(move || -> Ended {
                let (commit, stats) = capture(rings, &mut flow, pipeline, (engine, &rx), &flag)?;
                Ok((commit, stats, flow.stats()))
            })
            .context("cannot start the live capture thread")?;
        Ok(LiveSource {
            enis,
            plans,
            stop,
            thread,
            names: names.join(", "),
        })
    }

    /// The service's flow logs changed: the capture follows its share of `plan`.
    pub(crate) fn revise(&self, plan: &Plan) {
        // A send fails only when the thread ended; `finish` reports why.
        let _ = self.plans.send(Arc::new(self.enis.captured(plan)));
    }

    /// Stops capturing: the open interval is closed and delivered with the rest. Says what
    /// the capture did.
    pub(crate) fn finish(self) -> anyhow::Result<String> {
        self.stop.store(true, Ordering::Release);
        let (commit, stats, engine) = self
            .thread
            .join()
            .map_err(|_| anyhow::anyhow!("the live capture thread panicked"))??;
        let records: u64 = commit.records.values().sum();
        Ok(format!(
            "vpcflow: captured live on {}: {} frames ({} dropped by the kernel, SKIPDATA), {}; \
             {records} records committed",
            self.names,
            stats.frames,
            stats.kernel_drops,
            crate::simulate::engine_summary(&engine),
        ))
    }
}

/// The engine (aggregation interval) the capture feeds: the interval of the flow logs that
/// cover a captured ENI, which must be one (as for `vpcflow capture --interface`).
fn engine_index(plan: &Plan) -> anyhow::Result<usize> {
    let mut used: Vec<usize> = plan
        .subs
        .iter()
        .filter(|s| !s.ended && s.members.iter().any(|&m| m))
        .map(|s| s.engine)
        .collect();
    used.sort_unstable();
    used.dedup();
    match used.as_slice() {
        [] => Ok(0),
        [one] => Ok(*one),
        _ => bail!(
            "[capture]: the flow logs of the captured ENIs mix 60 and 600 s aggregation \
             intervals; live capture feeds one interval at a time"
        ),
    }
}

/// The capture loop: records into the pipeline as intervals close, revised plans as they come;
/// at the stop, the last interval, then the pipeline's end.
fn capture(
    rings: LiveCapture,
    flow: &mut FlowEngine,
    mut pipeline: Pipeline,
    (engine, plans): (usize, &Receiver<Arc<Plan>>),
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<(CommitStats, LiveStats)> {
    let failed: Mutex<Option<PipelineError>> = Mutex::default();
    let keep = |r: Result<(), PipelineError>| {
        if let Err(e) = r {
            failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get_or_insert(e);
        }
    };
    let stats = rings.run(flow, stop, &wall_clock_micros, &mut |e| {
        while let Ok(plan) = plans.try_recv() {
            keep(pipeline.revise(plan));
        }
        keep(match e {
            Emit::Records { records, .. } => pipeline.push_batch(engine, records),
            Emit::Closed { until } => pipeline.closed(until),
        });
    })?;
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e.into());
    }
    Ok((pipeline.finish(wall_clock_micros())?, stats))
}
