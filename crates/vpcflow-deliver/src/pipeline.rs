//! The delivery pipeline of one source run: router (caller's thread) → encoder and committer
//! (a thread) → spool → delivery worker (a thread).
//!
//! Owns the commit protocol that makes "acknowledged" mean "will be delivered exactly once":
//! a window's entries are written pending and fsynced, then the sinks' checkpoints advance in
//! `state.db`, then the entries are published to the worker. A crash before the checkpoint
//! loses only unacknowledged records, which a replayed source produces again with the same
//! names; a crash after it leaves pending entries that [`Spool::recover`] publishes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::deliver::{Clock, Destinations, Worker, WorkerStats};
use crate::fanout::{Encoder, Msg, Plan, Router};
use crate::spool::Spool;
use crate::state::{State, StateError};

/// A pipeline failure: the spool or the database (the machine's fault, not the data's).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The spool directory failed.
    #[error("spool: {0}")]
    Spool(std::io::Error),
    /// The database failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A destination's share of the spool stayed full past what the source may wait.
    #[error(transparent)]
    Full(#[from] crate::fanout::Full),
    /// The committer thread ended early (an earlier error says why).
    #[error("the delivery committer stopped")]
    Stopped,
}

impl From<std::io::Error> for PipelineError {
    fn from(e: std::io::Error) -> Self {
        PipelineError::Spool(e)
    }
}

/// What a run committed.
#[derive(Debug, Clone, Default)]
pub struct CommitStats {
    /// Records per flow log.
    pub records: BTreeMap<String, u64>,
    /// Spool entries written.
    pub entries: u64,
    /// Records replaced by SKIPDATA because the spool was full.
    pub overflowed: u64,
    /// Records not delivered again because a checkpoint covered them (a resumed run).
    pub already_delivered: u64,
}

/// Progress counters shared with whoever shows progress.
#[derive(Debug, Default)]
pub struct Progress {
    /// Records committed to the spool.
    pub committed: AtomicU64,
    /// Records delivered.
    pub delivered: AtomicU64,
    /// Records replaced by SKIPDATA because a destination's share of the spool was full.
    pub skipped: AtomicU64,
    /// The latest delivery failure while it lasts (AWS's message and the cause), for the log.
    pub failing: Mutex<Option<String>>,
}

/// Options of a pipeline.
pub struct PipelineOptions {
    /// `DATA/state.db`.
    pub state_path: PathBuf,
    /// The source run (checkpoints are kept under it); `None` when the source cannot be replayed.
    pub run_key: Option<String>,
    /// Spool bound in bytes, for each destination's share.
    pub max_spool_bytes: u64,
    /// How a source that can wait waits for room (see [`crate::fanout::Encoder::waits`]);
    /// `None`: it cannot, and what does not fit becomes SKIPDATA.
    pub waits: Option<crate::fanout::Waits>,
    /// A second source beside the run's own, named in its entries (see
    /// [`crate::sinks::CommitContext::source`]); `None` for the run's own.
    pub source: Option<String>,
}

/// A running pipeline.
pub struct Pipeline {
    router: Router,
    tx: Option<SyncSender<Msg>>,
    committer: Option<JoinHandle<Result<CommitStats, PipelineError>>>,
    /// Counters.
    pub progress: Arc<Progress>,
}

/// Opens the spool and publishes what a crash left pending under a checkpoint.
pub fn open_spool(spool_dir: &std::path::Path, state: &State) -> Result<Spool, PipelineError> {
    let spool = Spool::open(spool_dir).map_err(|e| {
        PipelineError::Spool(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", spool_dir.display()),
        ))
    })?;
    let cache: Mutex<BTreeMap<String, BTreeMap<crate::sinks::SinkKey, u64>>> = Mutex::default();
    spool.recover(&|h| match &h.run {
        None => true,
        Some(run) => {
            let mut cache = cache.lock().expect("not poisoned");
            if !cache.contains_key(run) {
                let c = state.checkpoints(run).unwrap_or_default();
                cache.insert(run.clone(), c);
            }
            cache[run].get(&h.sink).is_some_and(|&t| h.window <= t)
        }
    })?;
    Ok(spool)
}

impl Pipeline {
    /// Starts the committer for `plan`.
    pub fn start(
        plan: &Arc<Plan>,
        spool: Spool,
        options: PipelineOptions,
    ) -> Result<Pipeline, PipelineError> {
        let mut state = State::open(&options.state_path)?;
        // The source resumed from these same checkpoints (no worker of this run runs yet, so
        // none was rewound since it read them).
        let checkpoints = match &options.run_key {
            Some(run) => state.start_from_checkpoints(run)?,
            None => BTreeMap::new(),
        };
        let router = Router::default();
        let mut encoder = Encoder::new(Arc::clone(plan), options.run_key.clone(), checkpoints)
            .with_source(options.source.clone());
        let max = options.max_spool_bytes;
        let probe = spool.clone();
        encoder.spool_full = Box::new(move |destination| probe.used_by(destination) > max);
        encoder.waits = options.waits;
        let progress = Arc::new(Progress::default());
        let shared = Arc::clone(&progress);
        // Engines hand out an interval's records in one burst when it closes. The queue holds a
        // whole burst (64 × 4096 unbuilt records, ~25 MB) so that the source goes back to work
        // while the encoder builds and encodes them, instead of waiting on each chunk; beyond
        // that the source waits (bounded memory).
        let (tx, rx): (SyncSender<Msg>, Receiver<Msg>) = sync_channel(64);
        let run_key = options.run_key;
        let committer = std::thread::Builder::new()
            .name("vpcflow-commit".into())
            .spawn(move || {
                let mut stats = CommitStats::default();
                for msg in rx {
                    let Some(encoded) = encoder.handle(msg)? else {
                        continue;
                    };
                    spool.write_pending(&encoded.entries)?;
                    if let Some(run) = &run_key {
                        state.set_checkpoints(run, &encoded.done)?;
                    }
                    spool.publish(&encoded.entries)?;
                    stats.entries += encoded.entries.len() as u64;
                    let mut n = 0;
                    for (f, c) in encoded.records {
                        *stats.records.entry(f).or_default() += c;
                        n += c;
                    }
                    shared.committed.fetch_add(n, Ordering::Relaxed);
                    shared.skipped.store(encoder.overflowed, Ordering::Relaxed);
                }
                stats.overflowed = encoder.overflowed;
                stats.already_delivered = encoder.replayed;
                Ok(stats)
            })
            .map_err(PipelineError::Spool)?;
        Ok(Pipeline {
            router,
            tx: Some(tx),
            committer: Some(committer),
            progress,
        })
    }

    /// Takes a batch of engine `engine`'s records, unbuilt: the one way records come in,
    /// whatever the source (the simulator, pcap files, live capture).
    pub fn push_batch(
        &mut self,
        engine: usize,
        records: Vec<vpcflow_net::record::RawRecord>,
    ) -> Result<(), PipelineError> {
        self.send(Msg::Raw { engine, records })
    }

    /// The flow logs changed ([`crate::fanout::Plan::revise`]): records pushed from now on
    /// follow `plan`.
    pub fn revise(&mut self, plan: Arc<Plan>) -> Result<(), PipelineError> {
        self.send(Msg::Plan(plan))
    }

    /// Every engine has emitted its records before `until_us`.
    pub fn closed(&mut self, until_us: u64) -> Result<(), PipelineError> {
        if let Some(m) = self.router.closed(until_us) {
            self.send(m)?;
        }
        Ok(())
    }

    fn send(&mut self, w: Msg) -> Result<(), PipelineError> {
        let tx = self.tx.as_ref().ok_or(PipelineError::Stopped)?;
        if tx.send(w).is_err() {
            // The committer died: its own error is the one to report.
            return Err(self.join().err().unwrap_or(PipelineError::Stopped));
        }
        Ok(())
    }

    fn join(&mut self) -> Result<CommitStats, PipelineError> {
        self.tx = None;
        match self.committer.take() {
            Some(h) => h.join().map_err(|_| PipelineError::Stopped)?,
            None => Err(PipelineError::Stopped),
        }
    }

    /// Ends the run at `end_us`: the last window (buffers flushed), then waits for the committer.
    pub fn finish(mut self, end_us: u64) -> Result<CommitStats, PipelineError> {
        let m = self.router.finish(end_us);
        self.send(m)?;
        self.join()
    }

    /// Ends the run where its source stopped, before its end: what was committed stays
    /// committed, and the windows still open are not flushed, so that the same run started
    /// again (replaying its source up to its checkpoints) makes them whole, as if it had never
    /// stopped.
    pub fn stop(mut self) -> Result<CommitStats, PipelineError> {
        self.join()
    }
}

/// Runs a delivery worker on its own thread until `done` is set and the spool is empty, or
/// until `done` has been set for `give_up_ms` with entries still failing (they stay in the
/// spool for the next run). Returns its counters and the entries left.
pub fn spawn_worker(
    spool: Spool,
    state_path: PathBuf,
    dest: Destinations,
    clock: Arc<dyn Clock>,
    done: Arc<AtomicBool>,
    give_up_ms: u64,
    progress: Arc<Progress>,
) -> JoinHandle<Result<(WorkerStats, usize), PipelineError>> {
    std::thread::Builder::new()
        .name("vpcflow-deliver".into())
        .spawn(move || {
            let state = State::open(&state_path)?;
            let mut worker =
                Worker::new(spool, state, dest)?.with_drain(Arc::clone(&done), give_up_ms);
            let mut done_at: Option<u64> = None;
            loop {
                let finished = done.load(Ordering::Acquire);
                let (left, wait) = worker.pass(clock.as_ref())?;
                progress
                    .delivered
                    .store(worker.stats.records, Ordering::Relaxed);
                *progress
                    .failing
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    worker.failing().map(ToString::to_string);
                let now = clock.now_ms();
                if finished {
                    let since = *done_at.get_or_insert(now);
                    if left == 0 || now.saturating_sub(since) >= give_up_ms {
                        return Ok((std::mem::take(&mut worker.stats), left));
                    }
                }
                clock.sleep_ms(wait.unwrap_or(20).clamp(5, 200));
            }
        })
        .expect("spawning a thread")
}
