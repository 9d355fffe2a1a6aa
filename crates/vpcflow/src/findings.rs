//! `vpcflow findings`: runs the detections (`vpcflow_monitor::detect`) over the records a data
//! directory's log groups hold, keeps what they find (`vpcflow_store::findings`), and lists every
//! finding kept: a table, JSON, or OCSF Detection Finding events.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use vpcflow_deliver::State;
use vpcflow_monitor::detect::{self, Finding};
use vpcflow_store::Clock as _;
use vpcflow_store::DataDir;

#[derive(Args, Debug)]
#[command(after_help = "\
Detections, each a rule with a threshold (crates/vpcflow-monitor/src/detect.rs says why each):
  Recon:EC2/Portscan                  one source, >= 100 ports of one address in 10 minutes, mostly REJECTed
  Recon:EC2/PortSweep                 one outside source, >= 4 addresses of the VPC on one port in 10 minutes
  UnauthorizedAccess:EC2/BruteForce   >= 20 connections to port 22 or 3389 of one address in 10 minutes
  Behavior:EC2/TrafficVolumeUnusual   an ENI's egress to public addresses > 10x its average window and >= 10 MB
  Behavior:EC2/NetworkPortUnusual     an ENI's accepted outbound flow on a port it never used, not a common one
Only flows a client began count (source port above destination port). Findings are kept in
DATA/state.db by their window, type, subject and target: running again adds only new ones.

Examples:
  vpcflow findings
  vpcflow findings --output json | jq '.[] | select(.type == \"Recon:EC2/Portscan\")'
  vpcflow findings --output ocsf > findings.ocsf.jsonl")]
pub(crate) struct FindingsArgs {
    /// Data directory.
    #[arg(long, value_name = "DIR", default_value = "vpcflow-data")]
    data: PathBuf,
    /// table (for people), json (an array of findings with their counts and evidence) or ocsf
    /// (one OCSF Detection Finding event per line, class 2004).
    #[arg(long, default_value = "table", value_parser = ["table", "json", "ocsf"])]
    output: String,
}

pub(crate) fn run(args: &FindingsArgs) -> anyhow::Result<()> {
    let db = DataDir::new(&args.data).state_db();
    if !db.exists() {
        bail!(
            "{} has no state.db: nothing was delivered there (run `vpcflow simulate`)",
            args.data.display()
        );
    }
    let state = State::open(&db)?;
    let store = vpcflow_store::findings::Findings::open(&DataDir::new(&args.data))?;
    let (new, records) =
        store.detect(crate::delivery::SystemClock.now_ms(), &[], &|_| Vec::new())?;
    let all = store.list()?;
    let (account, region) = state
        .flow_logs()?
        .first()
        .map(|f| (f.account_id.clone(), f.region.clone()))
        .unwrap_or_default();
    match args.output.as_str() {
        "json" => {
            let list: Vec<serde_json::Value> = all.iter().map(Finding::to_json).collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        "ocsf" => {
            for f in &all {
                println!("{}", detect::to_ocsf(f, &account, &region));
            }
        }
        _ => {
            println!(
                "{:<25} {:<34} {:<22} {:<22} summary",
                "window", "type", "subject", "target"
            );
            for f in &all {
                println!(
                    "{:<25} {:<34} {:<22} {:<22} {}",
                    vpcflow_store::time::aws_xml_time(f.window * 1000),
                    f.kind.finding_type(),
                    f.subject,
                    f.target,
                    f.summary
                );
            }
            eprintln!(
                "{} findings ({} new), from {records} records",
                all.len(),
                new.len()
            );
        }
    }
    Ok(())
}
