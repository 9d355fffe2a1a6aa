//! `vpcflow diagnose --data`: gathers what the troubleshooting flowchart reads (the records the
//! data directory's log groups hold, the flow logs covering each ENI) and prints its verdict.
//! The flowchart is `vpcflow_net::troubleshoot`'s.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use vpcflow_deliver::State;
use vpcflow_net::Network;
use vpcflow_net::troubleshoot::{Observed, Question, Verdict, troubleshoot};
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
    let coverage = |eni: &str| vpcflow_deliver::coverage::coverage(net, &flow_logs, eni);
    let q = Question {
        src: args.src,
        dst: args.dst,
        port: args.port.filter(|_| matches!(protocol, 6 | 17)),
        protocol: Some(protocol),
    };
    let t = troubleshoot(net, &q, &records, &coverage);
    if args.output == "json" {
        println!("{}", serde_json::to_string_pretty(&t.to_json())?);
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
