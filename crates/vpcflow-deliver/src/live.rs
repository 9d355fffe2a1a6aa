//! The flow logs of a running service: its plan follows what `state.db` holds, so that flow
//! logs created or deleted while traffic flows take effect without a restart.
//!
//! Owns when a change takes effect: a flow log created delivers from the next boundary of its
//! aggregation interval after the service saw it; a deleted one takes no record that comes
//! after. Where each flow log began is kept (`sink_starts`), so that a restarted service, which
//! replays its source, delivers from the same place: the records of a flow log are the same
//! whenever the service stopped.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::fanout::{Plan, Revision, Subscription};
use crate::sinks;
use crate::state::{State, StateError};

/// The aggregation interval of the engine a service without flow logs runs (AWS's default).
const DEFAULT_INTERVAL: u64 = 600;

/// Where a run resumes delivering new records: the least, over `subs` (each with where it
/// began), of where each is delivered to (its sink's checkpoint, or where it began if later).
fn resume_point<'a>(
    subs: impl Iterator<Item = (&'a Subscription, u64)>,
    checkpoints: &BTreeMap<sinks::SinkKey, u64>,
) -> Option<u64> {
    subs.map(|(s, from)| {
        checkpoints
            .get(&sinks::key_of(s))
            .copied()
            .unwrap_or(0)
            .max(from)
    })
    .min()
}

/// A service's flow logs, as they change.
pub struct LiveFlowLogs {
    state: State,
    run: String,
    plan: Arc<Plan>,
}

impl LiveFlowLogs {
    /// Starts following the flow logs of `plan` (those that exist at the start) for the
    /// service's run `run`. Each delivers from where it began, as kept. One not seen before
    /// delivers from the start of the run when the run has delivered nothing yet, else from
    /// its next interval after where the run resumes.
    pub fn open(state_path: &Path, run: &str, plan: Plan) -> Result<LiveFlowLogs, StateError> {
        let mut state = State::open(state_path)?;
        let kept = state.sink_starts(run)?;
        let checkpoints = state.checkpoints(run)?;
        let mut plan = plan;
        if plan.intervals.is_empty() {
            // A service without flow logs still runs an engine: its verdicts (connection
            // tracking) are the ones flow logs created later must see.
            plan.intervals.push(DEFAULT_INTERVAL);
        }
        let resumes = resume_point(
            plan.subs
                .iter()
                .filter_map(|s| Some((s, *kept.get(&s.flow_log.flow_log_id)?))),
            &checkpoints,
        );
        let first = kept.is_empty() && checkpoints.is_empty();
        let mut new = BTreeMap::new();
        for sub in &mut plan.subs {
            let id = &sub.flow_log.flow_log_id;
            sub.from = match kept.get(id) {
                Some(&from) => from,
                None if first => 0,
                None => {
                    let iv = u64::from(sub.flow_log.max_aggregation_interval);
                    resumes.unwrap_or(0).div_ceil(iv) * iv
                }
            };
            if !kept.contains_key(id) {
                new.insert(id.clone(), sub.from);
            }
        }
        state.keep_sink_starts(run, &new)?;
        Ok(LiveFlowLogs {
            state,
            run: run.to_owned(),
            plan: Arc::new(plan),
        })
    }

    /// The plan now.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Record time (s) from which the service delivers something new: before it, every flow
    /// log's records are delivered already (or it had not begun). `None` without flow logs.
    pub fn resume(&self) -> Result<Option<u64>, StateError> {
        let checkpoints = self.state.checkpoints(&self.run)?;
        let live = self.plan.subs.iter().filter(|s| !s.ended);
        Ok(resume_point(live.map(|s| (s, s.from)), &checkpoints))
    }

    /// Goes on over `net`, a change of the network: the plan, each flow log covering what its
    /// resource has in `net` now.
    pub fn set_network(&mut self, net: Arc<vpcflow_net::Network>) -> &Arc<Plan> {
        self.plan = Arc::new(self.plan.with_network(net));
        &self.plan
    }

    /// Looks at the flow logs in `state.db` while the source is at record time `at` (s): the
    /// revision when some were created or deleted, which is then the plan.
    pub fn poll(&mut self, at: u64) -> Result<Option<Revision>, StateError> {
        let flow_logs = self.state.flow_logs()?;
        let kept = self.state.sink_starts(&self.run)?;
        let Some(revision) = self
            .plan
            .revise(&flow_logs, at, &|f| kept.get(&f.flow_log_id).copied())
        else {
            return Ok(None);
        };
        let new: BTreeMap<String, u64> = revision
            .created
            .iter()
            .map(|&i| {
                let s = &revision.plan.subs[i];
                (s.flow_log.flow_log_id.clone(), s.from)
            })
            .collect();
        self.state.keep_sink_starts(&self.run, &new)?;
        self.plan = Arc::clone(&revision.plan);
        Ok(Some(revision))
    }
}
