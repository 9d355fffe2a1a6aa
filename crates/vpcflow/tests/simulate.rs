//! `vpcflow simulate` and `vpcflow diagnose` through the real binary.

mod common;

use std::process::{Command, Output};

fn vpcflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args)
        .output()
        .unwrap()
}

fn err_line(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(!e.contains("panicked"), "{e}");
    e
}

#[test]
fn an_hour_is_deterministic_per_seed_and_starts_with_a_header() {
    let a = vpcflow(&["simulate", "--stdout", "--seed", "3"]);
    let b = vpcflow(&["simulate", "--stdout", "--seed", "3"]);
    let c = vpcflow(&["simulate", "--stdout", "--seed", "4"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout, "same seed, same bytes");
    assert_ne!(a.stdout, c.stdout);
    let text = String::from_utf8(a.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
        )
    );
    assert!(lines.clone().count() > 1000);
    assert!(lines.all(|l| l.starts_with("2 123456789012 eni-")));
    assert!(
        String::from_utf8(a.stderr)
            .unwrap()
            .starts_with("vpcflow: simulated 1h of 'default' on builtin:three-tier: ")
    );
}

#[test]
fn custom_formats_and_intervals() {
    let out = vpcflow(&[
        "simulate",
        "--stdout",
        "--duration",
        "10m",
        "--interval",
        "60",
        "--format",
        "${version} ${interface-id} ${tcp-flags} ${flow-direction} ${traffic-path}",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().skip(1).all(|l| l.starts_with("5 eni-")),
        "version 5 for a v5 field"
    );
    assert!(
        text.lines().any(|l| l.ends_with(" egress 8")),
        "egress through the internet gateway"
    );
}

#[test]
fn bad_flags_are_refused_before_anything_runs() {
    let rows: [(&[&str], &str); 6] = [
        (
            &["simulate", "--stdout", "--duration", "5x"],
            "error: --duration '5x': expected e.g. 90s, 10m, 1h, 1h30m",
        ),
        (
            &["simulate", "--stdout", "--start", "noon"],
            "error: --start 'noon': expected an RFC 3339 time such as 2026-01-15T14:00:00Z",
        ),
        (
            &["simulate", "--stdout", "--interval", "300"],
            "error: --interval/--max-flows: Invalid Flow Log Max Aggregation Interval: 300 (use 60 or 600)",
        ),
        (
            &["simulate", "--stdout", "--format", "${nope}"],
            "error: --format '${nope}': unknown field 'nope' at position 0",
        ),
        (
            &["simulate", "--stdout", "--topology", "builtin:nope"],
            "error: builtin:nope: no built-in topology 'nope' (there is: builtin:three-tier)",
        ),
        (
            &["simulate", "--stdout", "--topology", "/nonexistent.toml"],
            "error: cannot read /nonexistent.toml: No such file or directory (os error 2)",
        ),
    ];
    for (args, want) in rows {
        let e = err_line(&vpcflow(args));
        assert_eq!(e.trim_end(), want, "{args:?}");
    }
    let e = err_line(&vpcflow(&["simulate", "--stdout", "--scenario", "nope"]));
    assert!(
        e.starts_with("error: no built-in scenario 'nope' (there is: default)"),
        "{e}"
    );
}

#[test]
fn diagnose_explains_the_ping_asymmetry_and_a_clean_path() {
    let out = vpcflow(&[
        "diagnose",
        "--src",
        "198.51.100.20",
        "--dst",
        "54.210.0.30",
        "--protocol",
        "icmp",
    ]);
    // A REJECT is exit status 2, for scripts.
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("acl-0a1a000000000001a outbound rule 90 DENIES it"),
        "{text}"
    );
    assert!(text.ends_with("=> REJECT: the reply is dropped at eni-0a0000000000000a3 (egress); its flow-log record there says REJECT.\n"), "{text}");
    let out = vpcflow(&[
        "diagnose",
        "--src",
        "192.0.2.10",
        "--dst",
        "54.210.0.30",
        "--port",
        "22",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout).unwrap().contains("=> ACCEPT"));
    let e = err_line(&vpcflow(&[
        "diagnose",
        "--src",
        "1.2.3.4",
        "--dst",
        "10.0.1.30",
        "--protocol",
        "bogus",
    ]));
    assert_eq!(
        e.trim_end(),
        "error: --protocol 'bogus': expected tcp, udp, icmp or a number"
    );
}

#[test]
fn users_bring_their_own_topology_and_scenario_files() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("vpc.toml");
    // The built-in topology, as a user's file, with SSH opened to the whole internet on the ACL.
    let text = vpcflow_net::builtin::TOPOLOGIES[0].1.replace(
        "{ rule = 120, protocol = \"tcp\", ports = 22, cidr = \"192.0.2.10/32\", action = \"allow\" }",
        "{ rule = 120, protocol = \"tcp\", ports = 22, cidr = \"0.0.0.0/0\", action = \"allow\" }",
    );
    std::fs::write(&topo, text).unwrap();
    let scen = dir.path().join("ssh.toml");
    std::fs::write(
        &scen,
        "name = \"ssh\"\n[[traffic]]\nname = \"knock\"\nprotocol = \"tcp\"\nfrom = \"ip:198.18.1.1\"\nto = \"public:bastion\"\nport = 22\nrate = 10\n",
    )
    .unwrap();
    let out = vpcflow(&[
        "simulate",
        "--stdout",
        "--topology",
        topo.to_str().unwrap(),
        "--scenario",
        scen.to_str().unwrap(),
        "--duration",
        "5m",
        "--format",
        "srcaddr dstport action flow-direction",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // The ACL now lets it through, and the bastion's security group (office only) refuses it.
    assert!(
        text.lines().any(|l| l == "198.18.1.1 22 REJECT ingress"),
        "{text}"
    );
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "name = \"x\"\n[[traffic]]\nname = \"y\"\nprotocol = \"tcp\"\nfrom = \"eni:ghost\"\nto = \"internet\"\nport = 1\nrate = 1\n").unwrap();
    let e = err_line(&vpcflow(&[
        "simulate",
        "--stdout",
        "--scenario",
        broken.to_str().unwrap(),
    ]));
    assert!(
        e.contains("does not fit the topology:\n  traffic[0] (y): no ENI named 'ghost'"),
        "{e}"
    );
}

/// Files under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .map(|p| if p.is_dir() { files_under(&p) } else { 1 })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn runs_of_other_inputs_over_the_same_time_keep_each_others_records() {
    let dir = tempfile::tempdir().unwrap();
    let run = |data: &std::path::Path, seed: &str| {
        let d = data.to_str().unwrap();
        common::ok(&common::vpcflow(&[
            "simulate",
            "--duration",
            "10m",
            "--seed",
            seed,
            "--data",
            d,
        ]));
        (
            common::log_events(data, "/vpcflow/flow-logs").len(),
            files_under(&data.join("s3")),
        )
    };
    let (one, one_objects) = run(&dir.path().join("one"), "1");
    let (two, two_objects) = run(&dir.path().join("two"), "2");
    // Both runs into one data directory, over the same ten minutes: nothing replaced.
    let both = dir.path().join("both");
    run(&both, "1");
    let (events, objects) = run(&both, "2");
    assert_eq!(events, one + two);
    assert_eq!(objects, one_objects + two_objects);
}

/// An error says each cause once, and where: a spool that cannot be made names its path and
/// says the system's reason one time (it said "spool: File exists (os error 17): File exists
/// (os error 17)").
#[test]
fn an_error_says_its_cause_once_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("spool"), "not a directory").unwrap();
    let out = vpcflow(&[
        "simulate",
        "--data",
        data.to_str().unwrap(),
        "--duration",
        "2m",
    ]);
    assert!(!out.status.success());
    let line = err_line(&out);
    assert_eq!(line.matches("File exists").count(), 1, "{line}");
    assert!(
        line.contains(&data.join("spool").display().to_string()),
        "{line}"
    );
}
