//! Helpers the binary's integration tests share: run `vpcflow`, insist it succeeded.

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
