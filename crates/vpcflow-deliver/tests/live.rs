//! A running service's plan follows the flow logs in `state.db` ([`Plan::revise`],
//! [`LiveFlowLogs`]): created ones deliver from their next interval (or where they began, when
//! the service restarts), deleted ones end, and indexes stay where they were.

use std::sync::Arc;

use vpcflow_deliver::api::CreateFlowLogs;
use vpcflow_deliver::config::DeliveryConfig;
use vpcflow_deliver::fanout::Plan;
use vpcflow_deliver::live::LiveFlowLogs;
use vpcflow_deliver::sinks::SinkKey;
use vpcflow_deliver::state::State;

const VPC: &str = "vpc-0a1b2c3d4e5f60718";
const APP_SUBNET: &str = "subnet-0a2a000000000002a";

fn group(resource_type: &str, id: &str, interval: u32, token: &str) -> CreateFlowLogs {
    toml::from_str(&format!(
        "resource_type = \"{resource_type}\"\nresource_ids = [\"{id}\"]\ntraffic_type = \"ALL\"\n\
         log_group_name = \"/g\"\nmax_aggregation_interval = {interval}\n\
         deliver_logs_permission_arn = \"arn:aws:iam::123456789012:role/r\"\n\
         client_token = \"{token}\""
    ))
    .unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    net: Arc<vpcflow_net::Network>,
    state: State,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        World {
            state: State::open(&path).unwrap(),
            path,
            _dir: dir,
            net: Arc::new(vpcflow_net::builtin::load("builtin:three-tier").unwrap()),
        }
    }

    fn create(&mut self, req: &CreateFlowLogs) -> String {
        let c = self
            .state
            .create_flow_logs(req, &self.net, &[], &[], 1)
            .unwrap();
        c.flow_logs[0].flow_log_id.clone()
    }

    fn plan(&self) -> Plan {
        Plan::new(
            Arc::clone(&self.net),
            self.state.flow_logs().unwrap(),
            &DeliveryConfig::default(),
        )
    }
}

#[test]
fn a_revised_plan_keeps_indexes_and_starts_new_flow_logs_at_their_next_interval() {
    let mut w = World::new();
    let vpc = w.create(&group("VPC", VPC, 600, "a"));
    let plan = w.plan();
    assert!(
        plan.revise(&w.state.flow_logs().unwrap(), 5000, &|_| None)
            .is_none(),
        "nothing changed"
    );
    let subnet = w.create(&group("Subnet", APP_SUBNET, 60, "b"));
    let now = w.state.flow_logs().unwrap();
    // (record time, kept start) → where the new flow log begins.
    for (at, kept, want) in [
        (1_000, None, 1_020),
        (1_020, None, 1_020),
        (1_021, None, 1_080),
        (1_021, Some(600), 600),
    ] {
        let rev = plan.revise(&now, at, &|_| kept).unwrap();
        assert_eq!(rev.created, [1]);
        assert!(rev.deleted.is_empty());
        assert_eq!(rev.engines, [1], "60 s is a new engine");
        assert_eq!(rev.plan.intervals, [600, 60]);
        let sub = &rev.plan.subs[1];
        assert_eq!(sub.flow_log.flow_log_id, subnet);
        assert_eq!((sub.from, sub.engine, sub.ended), (want, 1, false), "{at}");
        assert_eq!(rev.plan.subs[0].flow_log.flow_log_id, vpc);
        // The subnet's one ENI is the new engine's whole scope.
        assert_eq!(rev.plan.scope(1).len(), 1);
    }

    // Deleting the VPC's flow log ends it where it is; its engine stays, with nothing to
    // report NODATA for.
    let rev = plan.revise(&now, 1_000, &|_| None).unwrap();
    w.state.delete_flow_logs(&[vpc]).unwrap();
    let rev2 = rev
        .plan
        .revise(&w.state.flow_logs().unwrap(), 2_000, &|_| None)
        .unwrap();
    assert_eq!((rev2.created.len(), rev2.deleted.as_slice()), (0, &[0][..]));
    assert!(rev2.engines.is_empty());
    assert!(rev2.plan.subs[0].ended);
    assert!(rev2.plan.scope(0).is_empty());
    assert_eq!(rev2.plan.scope(1).len(), 1);
    assert!(
        rev2.plan
            .revise(&w.state.flow_logs().unwrap(), 3_000, &|_| None)
            .is_none(),
        "an ended flow log is not deleted twice"
    );
}

#[test]
fn a_service_keeps_where_each_flow_log_began_across_restarts() {
    let mut w = World::new();
    let run = "run-1";
    let first = w.create(&group("VPC", VPC, 600, "a"));
    // First start: everything from the beginning.
    let mut live = LiveFlowLogs::open(&w.path, run, w.plan()).unwrap();
    assert_eq!(live.plan().subs[0].from, 0);
    assert_eq!(live.resume().unwrap(), Some(0));
    // Created while it runs, at 1 030 s: from the next minute.
    let second = w.create(&group("Subnet", APP_SUBNET, 60, "b"));
    let rev = live.poll(1_030).unwrap().unwrap();
    assert_eq!(rev.plan.subs[1].from, 1_080);
    assert!(live.poll(1_100).unwrap().is_none());
    // The first flow log's sink delivered up to 1 200 s.
    let mut checkpoints = std::collections::BTreeMap::new();
    checkpoints.insert(SinkKey::FlowLog(first.clone()), 1_200);
    checkpoints.insert(SinkKey::FlowLog(second.clone()), 1_500);
    w.state.set_checkpoints(run, &checkpoints).unwrap();
    drop(live);

    // Created while the service was stopped: from the next interval after where the restarted
    // service resumes (1 200 s, the least checkpoint); the others where they began.
    let third = w.create(&group("VPC", VPC, 60, "c"));
    let live = LiveFlowLogs::open(&w.path, run, w.plan()).unwrap();
    let from = |id: &str| {
        live.plan()
            .subs
            .iter()
            .find(|s| s.flow_log.flow_log_id == id)
            .unwrap()
            .from
    };
    assert_eq!(
        (from(&first), from(&second), from(&third)),
        (0, 1_080, 1_200)
    );
    assert_eq!(live.resume().unwrap(), Some(1_200));

    // Another run of the same data directory starts everything from its beginning.
    let other = LiveFlowLogs::open(&w.path, "run-2", w.plan()).unwrap();
    assert!(other.plan().subs.iter().all(|s| s.from == 0));
}

#[test]
fn a_service_without_flow_logs_keeps_an_engine() {
    let w = World::new();
    let live = LiveFlowLogs::open(&w.path, "run", w.plan()).unwrap();
    assert_eq!(live.plan().intervals, [600]);
    assert!(live.plan().subs.is_empty());
    assert_eq!(live.resume().unwrap(), None);
}
