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

/// `vpcflow diagnose --data`: the troubleshooting flowchart on records the simulator delivered
/// (the default scenario, 45 minutes), for each of its cases, as table rows: the SG-vs-NACL ping
/// (the reply REJECTed by the network ACL's return rule), SSH from the internet (the request
/// REJECTed by the network ACL) and RDP (by the security group), the wrong database port (the
/// database's security group), unsolicited inbound at the NAT gateway, traffic accepted both
/// ways, and no records (which flow logs cover the ENIs, and what they keep).
#[test]
fn diagnose_follows_the_troubleshooting_flowchart_on_delivered_records() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    common::ok(&common::vpcflow(&[
        "simulate",
        "--data",
        data,
        "--duration",
        "45m",
    ]));
    // The first record the log group holds for a space-delimited pattern, as its fields.
    let first = |pattern: &str| -> Vec<String> {
        let out = common::ok(&common::vpcflow(&[
            "logs",
            "filter-log-events",
            "--data",
            data,
            "--log-group-name",
            "/vpcflow/flow-logs",
            "--filter-pattern",
            pattern,
            "--limit",
            "1",
        ]));
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let line = json["events"][0]["message"].as_str().unwrap();
        line.split(' ').map(str::to_owned).collect()
    };
    let ssh = first("[v, a, eni, src, dst=10.0.1.30, sp, dp=22, ...]")[3].clone();
    let rdp = first("[v, a, eni, src, dst=10.0.1.30, sp, dp=3389, ...]")[3].clone();
    let knock = first("[v, a, eni, src, dst=10.0.1.20, sp, dp>=8000 && dp<=9000, ...]");
    let ping = [
        "--src",
        "198.51.100.20",
        "--dst",
        "54.210.0.30",
        "--protocol",
        "icmp",
    ];
    let rows: Vec<(Vec<&str>, i32, &str, &[&str])> = vec![
        (
            ping.to_vec(),
            2,
            "REPLY_REJECTED",
            &["outbound rule 90 DENIES"],
        ),
        (
            vec!["--src", &ssh, "--dst", "54.210.0.30", "--port", "22"],
            2,
            "REQUEST_REJECTED",
            &["inbound rule", "DENIES"],
        ),
        (
            vec!["--src", &rdp, "--dst", "54.210.0.30", "--port", "3389"],
            2,
            "REQUEST_REJECTED",
            &["no inbound rule of sg-"],
        ),
        (
            vec![
                "--src",
                "10.0.12.10",
                "--dst",
                "10.0.21.10",
                "--port",
                "3306",
            ],
            2,
            "REQUEST_REJECTED",
            &["db-primary"],
        ),
        (
            vec![
                "--src",
                &knock[3],
                "--dst",
                "54.210.0.20",
                "--port",
                &knock[6],
            ],
            0,
            "NAT_UNSOLICITED_INBOUND",
            &["drops"],
        ),
        (
            vec![
                "--src",
                "10.0.11.10",
                "--dst",
                "10.0.21.10",
                "--port",
                "5432",
            ],
            0,
            "ACCEPTED",
            &["application"],
        ),
        (
            vec![
                "--src",
                "10.0.11.10",
                "--dst",
                "10.0.12.10",
                "--port",
                "8080",
            ],
            3,
            "NO_RECORDS",
            &[
                "(app-1) is covered by fl-",
                "log group /vpcflow/flow-logs",
                "delivers to bucket flow-logs (not read here)",
            ],
        ),
    ];
    let diagnose = |args: &[&str]| -> (i32, serde_json::Value) {
        let mut all = vec!["diagnose", "--data", data, "--output", "json"];
        all.extend_from_slice(args);
        let out = common::vpcflow(&all);
        let json = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap(), json)
    };
    for (args, code, verdict, reasons) in &rows {
        let (got, j) = diagnose(args);
        assert_eq!(
            (got, j["verdict"].as_str()),
            (*code, Some(*verdict)),
            "{args:?}: {j}"
        );
        for r in *reasons {
            assert!(
                j["reasons"].to_string().contains(r),
                "{args:?}: '{r}' in {j}"
            );
        }
        // The records that decide come first.
        if *verdict == "REQUEST_REJECTED" {
            let first = j["requestRecords"][0]["message"].as_str().unwrap();
            assert!(first.ends_with("REJECT OK"), "{args:?}: {first}");
        }
    }
    let (_, j) = diagnose(&ping);
    assert!(
        j["requestRecords"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("ACCEPT OK")
    );
    assert!(
        j["replyRecords"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("REJECT OK")
    );
    // --since keeps the records within that span of the newest one.
    let count = |extra: &[&str]| {
        let mut args = vec![
            "--src",
            "10.0.12.10",
            "--dst",
            "10.0.21.10",
            "--port",
            "3306",
        ];
        args.extend_from_slice(extra);
        diagnose(&args).1["requestRecords"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert!(count(&["--since", "10m"]) < count(&[]));
}

/// The default scenario with its attacks left out: what a normal day of this VPC looks like.
fn normal_day_scenario() -> String {
    const ATTACKS: [&str; 3] = ["port-scan", "ssh-sweep", "exfiltration"];
    let default = include_str!("../../vpcflow-capture/scenarios/default.toml");
    let mut blocks = default.split("\n[[traffic]]\n");
    let mut out = blocks
        .next()
        .unwrap()
        .replace("name = \"default\"", "name = \"normal-day\"");
    for b in blocks {
        let name = b
            .lines()
            .find_map(|l| l.strip_prefix("name = "))
            .unwrap_or_default();
        if !ATTACKS.contains(&name.trim_matches('"')) {
            out.push_str("\n[[traffic]]\n");
            out.push_str(b);
        }
    }
    out
}

/// Each detection fires on the scenario made for it and stays quiet on a simulated day of
/// normal traffic (`vpcflow findings`, table, JSON with evidence, OCSF).
#[test]
fn findings_fire_on_attacks_and_stay_quiet_on_a_normal_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let findings = |data: &std::path::Path| -> Vec<serde_json::Value> {
        let out = common::ok(&common::vpcflow(&[
            "findings",
            "--data",
            &path(data),
            "--output",
            "json",
        ]));
        serde_json::from_str(&out).unwrap()
    };
    let types = |f: &[serde_json::Value]| -> Vec<(String, String)> {
        f.iter()
            .map(|x| {
                (
                    x["type"].as_str().unwrap().to_owned(),
                    x["subject"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // A normal day: no finding.
    let normal = dir.path().join("normal.toml");
    std::fs::write(&normal, normal_day_scenario()).unwrap();
    let quiet = dir.path().join("quiet");
    common::ok(&common::vpcflow(&[
        "simulate",
        "--data",
        &path(&quiet),
        "--scenario",
        &path(&normal),
        "--duration",
        "24h",
    ]));
    assert_eq!(
        types(&findings(&quiet)),
        Vec::<(String, String)>::new(),
        "a normal day is quiet"
    );
    // The default scenario's attacks, and two more: brute force and an unusual port.
    let attacks = dir.path().join("attacks.toml");
    std::fs::write(
        &attacks,
        include_str!("../../vpcflow-capture/scenarios/default.toml").to_owned()
            + "\n[[traffic]]\nname = \"ssh-brute-force\"\nprotocol = \"tcp\"\nfrom = \"ip:203.0.113.66\"\n\
               to = \"public:bastion\"\nport = 22\nrate = 6\nwindow = [\"10m\", \"20m\"]\n\
               \n[[traffic]]\nname = \"irc-callback\"\nprotocol = \"tcp\"\nfrom = \"eni:app-1\"\n\
               to = \"ip:198.51.100.99\"\nport = 6667\nrate = 1\nwindow = [\"50m\", \"55m\"]\n",
    )
    .unwrap();
    let loud = dir.path().join("loud");
    common::ok(&common::vpcflow(&[
        "simulate",
        "--data",
        &path(&loud),
        "--scenario",
        &path(&attacks),
        "--duration",
        "1h",
    ]));
    let found = findings(&loud);
    let got = types(&found);
    for (kind, subject) in [
        ("Recon:EC2/Portscan", "185.220.101.7"),
        ("Recon:EC2/PortSweep", "45.146.164.110"),
        ("UnauthorizedAccess:EC2/BruteForce", "203.0.113.66"),
        ("Behavior:EC2/TrafficVolumeUnusual", "eni-0b0000000000000b2"),
        ("Behavior:EC2/NetworkPortUnusual", "eni-0a0000000000000a2"),
    ] {
        assert!(
            got.contains(&(kind.into(), subject.into())),
            "{kind} on {subject}: {got:?}"
        );
    }
    let scan = found
        .iter()
        .find(|f| f["type"] == "Recon:EC2/Portscan")
        .unwrap();
    assert!(
        scan["counts"]["distinctPorts"].as_f64().unwrap() >= 1000.0,
        "{scan}"
    );
    assert_eq!(scan["evidence"].as_array().unwrap().len(), 20);
    assert!(
        scan["evidence"][0]
            .as_str()
            .unwrap()
            .contains("185.220.101.7")
    );
    // Run again: the same findings, none added.
    assert_eq!(findings(&loud).len(), found.len());
    let ocsf = common::ok(&common::vpcflow(&[
        "findings",
        "--data",
        &path(&loud),
        "--output",
        "ocsf",
    ]));
    let first: serde_json::Value = serde_json::from_str(ocsf.lines().next().unwrap()).unwrap();
    assert_eq!(first["class_uid"], 2004);
    assert_eq!(ocsf.lines().count(), found.len());
}
