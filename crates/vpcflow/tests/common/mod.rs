//! Helpers the binary's integration tests share: run `vpcflow`, insist it succeeded.

pub(crate) mod s3;
pub(crate) mod seeds;

use std::process::{Command, Output};

/// Runs the binary with `args`.
pub(crate) fn vpcflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args)
        .output()
        .unwrap()
}

/// Its stdout, after checking it exited 0 (else both streams are shown).
pub(crate) fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Every event of log group `group` under `data`, page after page, as FilterLogEvents gives
/// them (not every test binary reads log groups).
#[allow(dead_code)]
pub(crate) fn log_events(data: &std::path::Path, group: &str) -> Vec<serde_json::Value> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut args = vec![
            "logs",
            "filter-log-events",
            "--data",
            data.to_str().unwrap(),
            "--log-group-name",
            group,
        ];
        if let Some(t) = &token {
            args.extend(["--next-token", t.as_str()]);
        }
        let page: serde_json::Value = serde_json::from_str(&ok(&vpcflow(&args))).unwrap();
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return events,
        }
    }
}
