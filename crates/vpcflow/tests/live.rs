//! Live capture on a real interface: a veth pair between two network namespaces this test
//! creates (and always removes), real UDP traffic, SIGINT, and the records that come out.
//! Needs root (CI has it); it fails, rather than skips, without.

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
        let id = std::process::id() % 100_000;
        let lab = Lab {
            a: format!("vft{id}a"),
            b: format!("vft{id}b"),
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

#[test]
fn live_udp_is_recorded_and_sigint_writes_the_open_interval() {
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    // builtin:three-tier with app-1 (10.0.11.10) carried by the lab's interface.
    let topo = dir.path().join("lab.toml");
    let text = vpcflow_net::builtin::TOPOLOGIES[0].1.replacen(
        "name = \"app-1\"",
        &format!("name = \"app-1\"\nhost_interface = \"{}\"", lab.a),
        1,
    );
    std::fs::write(&topo, text).unwrap();

    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.a, env!("CARGO_BIN_EXE_vpcflow"), "capture", "--stdout", "--interface", &lab.a])
        .args(["--topology", topo.to_str().unwrap(), "--interval", "60"])
        .args(["--format", "interface-id srcaddr dstaddr dstport protocol packets action flow-direction log-status"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it says it is capturing.
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

    // Twenty datagrams from the peer to app-1's port 5000 (its security group allows none).
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
    let out = child.wait_with_output().unwrap();
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
