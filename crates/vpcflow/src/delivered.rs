//! The flow records a data directory's log groups hold (`vpcflow_store::logs::records`), as
//! `diagnose --data` reads them, within `--since`.

use std::path::Path;

use anyhow::Context as _;
use vpcflow_net::troubleshoot::Observed;
use vpcflow_store::DataDir;

/// Every flow record of the data directory's log groups (within `since` of the newest), with
/// its event time (ms) and the ENI of its stream.
pub(crate) fn records(data: &Path, since: Option<&str>) -> anyhow::Result<Vec<(u64, Observed)>> {
    let conn = vpcflow_store::db::open(&DataDir::new(data).state_db())?;
    let mut all: Vec<(u64, Observed)> =
        vpcflow_store::logs::records::flow_records(&conn, &DataDir::new(data))?
            .into_iter()
            .map(|d| {
                let o = Observed {
                    eni: d.eni,
                    record: d.record,
                    line: d.line,
                };
                (d.timestamp, o)
            })
            .collect();
    if let Some(s) = since {
        let span = vpcflow_capture::scenario::parse_duration(s)
            .with_context(|| format!("--since '{s}': expected e.g. 10m, 1h, 2h30m"))?
            * 1000;
        let newest = all.iter().map(|(t, _)| *t).max().unwrap_or(0);
        all.retain(|(t, _)| *t + span >= newest);
    }
    Ok(all)
}
