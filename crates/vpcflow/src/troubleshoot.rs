//! `vpcflow diagnose --data`: gathers what the troubleshooting flowchart reads (the records the
//! data directory's log groups hold, the flow logs covering each ENI) and prints its verdict.
//! The flowchart is `vpcflow_net::troubleshoot`'s.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use vpcflow_deliver::State;
use vpcflow_net::Network;
use vpcflow_net::troubleshoot::{Covering, Observed, Question, Verdict, troubleshoot};
use vpcflow_store::DataDir;

use crate::simulate::DiagnoseArgs;

pub(crate) fn run(
    args: &DiagnoseArgs,
    data: &Path,
    net: &Network,
    protocol: u8,
) -> anyhow::Result<ExitCode> {
    let db = DataDir::new(data).state_db();
    if !db.exists() {
        bail!(
            "{} has no state.db: nothing was delivered there (run `vpcflow simulate`)",
            data.display()
        );
    }
    let state = State::open(&db)?;
    let records: Vec<Observed> = crate::delivered::records(data, args.since.as_deref())?
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    let flow_logs = state.flow_logs()?;
    let coverage = |eni: &str| -> Vec<Covering> {
        flow_logs
            .iter()
            .filter(|f| {
                vpcflow_deliver::api::resource_enis(net, f.resource_type, &f.resource_id)
                    .is_ok_and(|(_, enis)| enis.iter().any(|e| net.enis[*e].id == eni))
            })
            .map(|f| {
                use vpcflow_deliver::api::Destination;
                let (destination, read) = match &f.destination {
                    Destination::LogGroup { name } => (format!("log group {name}"), true),
                    Destination::S3 { bucket, .. } => (format!("bucket {bucket}"), false),
                    Destination::Firehose { stream } => {
                        (format!("delivery stream {stream}"), false)
                    }
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
    };
    let q = Question {
        src: args.src,
        dst: args.dst,
        port: args.port.filter(|_| matches!(protocol, 6 | 17)),
        protocol: Some(protocol),
    };
    let t = troubleshoot(net, &q, &records, &coverage);
    if args.output == "json" {
        let lines = |v: &[Observed]| -> Vec<serde_json::Value> {
            v.iter()
                .map(|o| serde_json::json!({"interfaceId": o.eni, "message": o.line}))
                .collect()
        };
        let json = serde_json::json!({
            "verdict": t.verdict.as_str(),
            "reasons": t.reasons,
            "requestRecords": lines(&t.request),
            "replyRecords": lines(&t.reply),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("verdict: {}", t.verdict.as_str());
        for r in &t.reasons {
            println!("  {r}");
        }
        for (what, v) in [("request", &t.request), ("reply", &t.reply)] {
            if !v.is_empty() {
                println!("{what} records ({}):", v.len());
            }
            for o in v.iter().take(10) {
                println!("  {}", o.line);
            }
            if v.len() > 10 {
                println!("  … and {} more", v.len() - 10);
            }
        }
    }
    Ok(match t.verdict {
        Verdict::Accepted | Verdict::NoReply | Verdict::NatUnsolicited => ExitCode::SUCCESS,
        Verdict::RequestRejected | Verdict::ReplyRejected => ExitCode::from(2),
        Verdict::NoRecords => ExitCode::from(3),
    })
}
