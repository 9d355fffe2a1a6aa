//! Live capture on a real interface: a veth pair between two network namespaces this test
//! creates (and always removes), real UDP traffic, SIGINT, and the records that come out.
//! Needs root (CI has it); it fails, rather than skips, without.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Runs `ip` with `args`, panicking with its stderr on failure.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2's ip is installed");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair; removed on drop, even when the test fails.
struct Lab {
    a: String,
    b: String,
}

impl Lab {
    fn new() -> Lab {
        // Unique per process and per test in it (interface names hold 15 bytes).
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = std::process::id() % 100_000;
        let lab = Lab {
            a: format!("vft{id}{n}a"),
            b: format!("vft{id}{n}b"),
        };
        ip(&["netns", "add", &lab.a]);
        ip(&["netns", "add", &lab.b]);
        ip(&[
            "link", "add", &lab.a, "type", "veth", "peer", "name", &lab.b,
        ]);
        ip(&["link", "set", &lab.a, "netns", &lab.a]);
        ip(&["link", "set", &lab.b, "netns", &lab.b]);
        ip(&["-n", &lab.a, "addr", "add", "10.0.11.10/24", "dev", &lab.a]);
        ip(&["-n", &lab.b, "addr", "add", "10.0.11.20/24", "dev", &lab.b]);
        ip(&["-n", &lab.a, "link", "set", &lab.a, "up"]);
        ip(&["-n", &lab.b, "link", "set", &lab.b, "up"]);
        // Loopback, where `vpcflow up` inside a namespace serves its API.
        ip(&["-n", &lab.a, "link", "set", "lo", "up"]);
        ip(&["-n", &lab.b, "link", "set", "lo", "up"]);
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and so the pair.
        let _ = Command::new("ip").args(["netns", "del", &self.a]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).status();
    }
}

/// builtin:three-tier with app-1 (10.0.11.10) carried by the lab's interface.
fn lab_topology(lab: &Lab, dir: &std::path::Path) -> std::path::PathBuf {
    let topo = dir.join("lab.toml");
    let text = vpcflow_net::builtin::TOPOLOGIES[0].1.replacen(
        "name = \"app-1\"",
        &format!("name = \"app-1\"\nhost_interface = \"{}\"", lab.a),
        1,
    );
    std::fs::write(&topo, text).unwrap();
    topo
}

/// `vpcflow capture --interface` in the lab's first namespace with `args`, once it says it is
/// capturing; and the rest of its stderr.
fn start_capture(
    lab: &Lab,
    args: &[&str],
) -> (std::process::Child, BufReader<std::process::ChildStderr>) {
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.a,
            env!("CARGO_BIN_EXE_vpcflow"),
            "capture",
            "--interface",
            &lab.a,
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.starts_with(&format!(
            "vpcflow: capturing on {} (eni-0a0000000000000a2)",
            lab.a
        )),
        "{line}"
    );
    (child, stderr)
}

/// Twenty datagrams from the peer to app-1's port 5000 (its security group allows none), then
/// SIGINT to the capture: its output.
fn send_and_stop(lab: &Lab, child: std::process::Child) -> std::process::Output {
    let sent = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.b,
            "bash",
            "-c",
            "for i in $(seq 20); do echo hi > /dev/udp/10.0.11.10/5000; done",
        ])
        .status()
        .unwrap();
    assert!(sent.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait_with_output().unwrap()
}

#[test]
fn live_capture_delivers_to_the_flow_logs() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let topo = lab_topology(&lab, dir.path());
    let data = dir.path().join("data");
    let (child, _stderr) = start_capture(
        &lab,
        &[
            "--topology",
            topo.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
    );
    let out = send_and_stop(&lab, child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let page = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args([
            "logs",
            "filter-log-events",
            "--data",
            data.to_str().unwrap(),
        ])
        .args([
            "--log-group-name",
            "/vpcflow/flow-logs",
            "--filter-pattern",
            "5000",
        ])
        .output()
        .unwrap();
    assert!(
        page.status.success(),
        "{}",
        String::from_utf8_lossy(&page.stderr)
    );
    let page: serde_json::Value = serde_json::from_slice(&page.stdout).unwrap();
    // version account interface srcaddr dstaddr srcport dstport protocol packets … action status
    let packets: u64 = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["message"]
                .as_str()
                .unwrap()
                .split(' ')
                .collect::<Vec<_>>()
        })
        .filter(|f| f[3] == "10.0.11.20" && f[4] == "10.0.11.10" && f[6] == "5000")
        .inspect(|f| assert_eq!(f[12..], ["REJECT", "OK"]))
        .map(|f| f[8].parse::<u64>().unwrap())
        .sum();
    assert_eq!(packets, 20, "every datagram is in the log group: {page}");
}

#[test]
fn live_udp_is_recorded_and_sigint_writes_the_open_interval() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let topo = lab_topology(&lab, dir.path());
    let (child, mut stderr) = start_capture(
        &lab,
        &[
            "--stdout",
            "--topology",
            topo.to_str().unwrap(),
            "--interval",
            "60",
            "--format",
            "interface-id srcaddr dstaddr dstport protocol packets action flow-direction log-status",
        ],
    );
    let out = send_and_stop(&lab, child);
    assert!(out.status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();

    let udp: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" 10.0.11.20 10.0.11.10 5000 17 "))
        .collect();
    let packets: u64 = udp
        .iter()
        .map(|l| l.split(' ').nth(5).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(packets, 20, "every datagram is in a record:\n{text}");
    assert!(
        udp.iter().all(|l| l.ends_with(" REJECT ingress OK")),
        "{text}"
    );
    assert!(
        !text.contains("NODATA")
            || text
                .lines()
                .filter(|l| l.ends_with("NODATA"))
                .all(|l| l.starts_with("eni-0a0000000000000a2")),
        "NODATA only for the captured ENI:\n{text}"
    );
    assert!(rest.contains("0 dropped by the kernel"), "{rest}");
}

#[test]
fn up_captures_the_configs_interfaces_beside_its_simulated_traffic() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let topo = lab_topology(&lab, dir.path());
    let data = dir.path().join("data");
    let config = dir.path().join("vpcflow.toml");
    std::fs::write(
        &config,
        format!(
            "topology = \"{}\"\n\n[[flow_logs]]\nresource_type = \"VPC\"\n\
             resource_ids = [\"vpc-0a1b2c3d4e5f60718\"]\ntraffic_type = \"ALL\"\n\
             log_group_name = \"/lab\"\nmax_aggregation_interval = 60\n\
             deliver_logs_permission_arn = \"arn:aws:iam::123456789012:role/r\"\n\n\
             [capture]\ninterfaces = [\"{}\"]\n",
            topo.display(),
            lab.a
        ),
    )
    .unwrap();
    // The test's own clock: what separates captured records (now) from simulated ones.
    #[allow(clippy::disallowed_methods)]
    let began = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Simulated time begins long ago and runs unpaced: two seconds close many simulated
    // minutes, and no simulated record is of today.
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.a,
            env!("CARGO_BIN_EXE_vpcflow"),
            "up",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--speed", "max", "--start", "2026-01-15T14:00:00Z"])
        .args([
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    while !said.contains("capturing live on") {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "{said}");
        said.push_str(&line);
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = send_and_stop(&lab, child);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{said}{stderr}");
    assert!(
        stderr.contains(&format!("vpcflow: captured live on {}: ", lab.a)),
        "{stderr}"
    );

    let events: Vec<Vec<String>> = common::log_events(&data, "/lab")
        .iter()
        .map(|e| {
            let message = e["message"].as_str().unwrap();
            message.split(' ').map(str::to_owned).collect()
        })
        .collect();
    // app-1's records are the capture's alone, in wall time since the test began, the
    // datagrams among them; the other ENIs' are the simulation's, long ago.
    let (app, others): (Vec<_>, Vec<_>) =
        events.iter().partition(|f| f[2] == "eni-0a0000000000000a2");
    assert!(!others.is_empty(), "the simulation delivered too");
    for f in &others {
        let start: u64 = f[10].parse().unwrap();
        assert!(start < began - 86_400, "simulated: {f:?}");
    }
    assert!(!app.is_empty(), "{stderr}");
    for f in &app {
        let start: u64 = f[10].parse().unwrap();
        assert!(
            start >= began - 60,
            "app-1 has only captured records: {f:?}"
        );
    }
    let packets: u64 = app
        .iter()
        .filter(|f| f[3] == "10.0.11.20" && f[6] == "5000")
        .map(|f| f[8].parse::<u64>().unwrap())
        .sum();
    assert_eq!(packets, 20, "every datagram: {app:?}");
    let segments = std::fs::read_dir(data.join("logs").join("%2Flab")).unwrap();
    assert!(
        segments
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .any(|n| n.contains("-live")),
        "the capture's segments are its own"
    );
}
