//! The flow records a data directory's log groups hold, read back with the format of each
//! segment, for the commands that reason about what was delivered (`diagnose --data`,
//! `findings`).

use std::path::Path;

use anyhow::Context as _;
use vpcflow_deliver::State;
use vpcflow_net::troubleshoot::Observed;
use vpcflow_store::DataDir;

/// Every flow record of the data directory's log groups (within `since` of the newest), with
/// its event time (ms) and the ENI of its stream.
pub(crate) fn records(
    state: &State,
    data: &Path,
    since: Option<&str>,
) -> anyhow::Result<Vec<(u64, Observed)>> {
    let dir = DataDir::new(data);
    let mut all: Vec<(u64, Observed)> = Vec::new();
    for g in state.log_groups()? {
        for seg in state.segments(&g.name)? {
            let path = dir.segment(&g.name, &seg);
            let Some(format) = vpcflow_store::segment::format(&path)? else {
                continue;
            };
            for e in vpcflow_store::segment::read(&path, None)? {
                let Ok(record) = vpcflow_record::text::decode(&format, &e.message) else {
                    continue;
                };
                let eni = e
                    .stream
                    .strip_suffix("-all")
                    .unwrap_or(&e.stream)
                    .to_owned();
                all.push((
                    e.timestamp,
                    Observed {
                        eni,
                        record,
                        line: e.message,
                    },
                ));
            }
        }
    }
    if let Some(s) = since {
        let span = vpcflow_capture::scenario::parse_duration(s)
            .with_context(|| format!("--since '{s}': expected e.g. 10m, 1h, 2h30m"))?
            * 1000;
        let newest = all.iter().map(|(t, _)| *t).max().unwrap_or(0);
        all.retain(|(t, _)| *t + span >= newest);
    }
    Ok(all)
}
