//! Which flow logs cover an ENI, in the terms of the troubleshooting flowchart
//! (`vpcflow_net::troubleshoot::Covering`): each flow log whose resource holds the ENI now, with
//! its traffic type, interval and destination, and whether its records are among those read
//! (log groups' are; buckets' and delivery streams' are not). `vpcflow diagnose --data` and the
//! console ask it alike.

use vpcflow_net::Network;
use vpcflow_net::troubleshoot::Covering;

use crate::api::{Destination, FlowLog, resource_enis};

/// The flow logs of `flow_logs` that cover the ENI `eni` (its id).
pub fn coverage(net: &Network, flow_logs: &[FlowLog], eni: &str) -> Vec<Covering> {
    flow_logs
        .iter()
        .filter(|f| {
            resource_enis(net, f.resource_type, &f.resource_id)
                .is_ok_and(|(_, enis)| enis.iter().any(|e| net.enis[*e].id == eni))
        })
        .map(|f| {
            let (destination, read) = match &f.destination {
                Destination::LogGroup { name } => (format!("log group {name}"), true),
                Destination::S3 { bucket, .. } => (format!("bucket {bucket}"), false),
                Destination::Firehose { stream } => (format!("delivery stream {stream}"), false),
            };
            Covering {
                flow_log_id: f.flow_log_id.clone(),
                traffic_type: f.traffic_type.as_str().to_owned(),
                interval_s: f.max_aggregation_interval,
                destination,
                read,
            }
        })
        .collect()
}
