//! The lab, end to end: `vpcflow lab up` builds `tests/data/lab.toml` as namespaces with
//! nftables enforcing its security groups and ACLs; a real client connects to a real listener;
//! `vpcflow capture --interface` records it; `vpcflow lab down` removes everything, even when an
//! assertion fails. Three things are checked:
//! * the connection the security group refuses (3306) really fails, the allowed one (5432) works;
//! * the flow log says REJECT for the refused one and ACCEPT for the other, with packet counts
//!   that agree between the two ENIs;
//! * the REJECTed packets are exactly the ones nftables logged (nflog group 1, via tcpdump).
//!
//! Needs root, iproute2, nftables, tcpdump and python3 (`scripts/setup-test-env` installs them).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const PREFIX: &str = "vflt";

fn vpcflow() -> &'static str {
    env!("CARGO_BIN_EXE_vpcflow")
}

fn topology() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/lab.toml")
        .to_string_lossy()
        .into_owned()
}

/// The lab; `vpcflow lab down` on drop.
struct Lab;

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(vpcflow())
            .args(["lab", "down", "--prefix", PREFIX])
            .output();
    }
}

/// Starts `cmd` in namespace `ns`, and waits until its `stream` prints a line containing `ready`.
fn start(ns: &str, cmd: &[&str], ready: &str, on_stderr: bool) -> (Child, Vec<String>) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut seen = Vec::new();
    let stream: Box<dyn Read + Send> = if on_stderr {
        Box::new(child.stderr.take().unwrap())
    } else {
        Box::new(child.stdout.take().unwrap())
    };
    let mut lines = BufReader::new(stream);
    loop {
        let mut line = String::new();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "{cmd:?} ended before '{ready}': {seen:?}"
        );
        let done = line.contains(ready);
        seen.push(line);
        if done {
            break;
        }
    }
    // Keep draining the stream in the background so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = lines.read_to_string(&mut rest);
    });
    (child, seen)
}

fn interrupt(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

const LISTENER: &str = r#"
import socket, threading, sys
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(8)
    while True:
        c, _ = s.accept(); c.recv(100); c.sendall(b"ok"); c.close()
for p in (5432, 3306):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait(30)
"#;

const CLIENT: &str = r#"
import socket
for port, timeout in ((5432, 3.0), (3306, 1.5)):
    try:
        s = socket.create_connection(("10.9.2.10", port), timeout=timeout)
        s.sendall(b"hello"); reply = s.recv(10); s.close()
        print(port, "ok" if reply == b"ok" else "bad reply")
    except OSError as e:
        print(port, "failed", type(e).__name__)
"#;

#[test]
fn the_kernel_and_the_flow_log_agree() {
    let topo = topology();
    let up = Command::new(vpcflow())
        .args(["lab", "up", "--topology", &topo, "--prefix", PREFIX])
        .output()
        .unwrap();
    let _lab = Lab;
    assert!(
        up.status.success(),
        "lab up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let router = format!("{PREFIX}-vpc");
    let app = format!("{PREFIX}-e0");
    let db = format!("{PREFIX}-e1");
    let dir = tempfile::tempdir().unwrap();
    let nflog = dir.path().join("nflog.pcap");

    let format = "interface-id srcaddr dstaddr srcport dstport protocol packets action flow-direction log-status";
    let (capture, _) = start(
        &router,
        &[
            vpcflow(),
            "capture",
            "--stdout",
            "--topology",
            &topo,
            "--interval",
            "60",
            "--format",
            format,
            "--interface",
            "vflt-app",
            "vflt-db",
        ],
        "capturing on",
        true,
    );
    let capture_out = capture;
    let (tcpdump, _) = start(
        &db,
        &[
            "tcpdump",
            "-i",
            "nflog:1",
            "-U",
            "-w",
            nflog.to_str().unwrap(),
        ],
        "listening on",
        true,
    );
    let (listener, _) = start(&db, &["python3", "-c", LISTENER], "ready", false);

    let client = Command::new("ip")
        .args(["netns", "exec", &app, "python3", "-c", CLIENT])
        .output()
        .unwrap();
    let said = String::from_utf8(client.stdout).unwrap();
    // The kernel hands nflog messages over in batches, flushed at least once a second.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    interrupt(&tcpdump);
    interrupt(&capture_out);
    let mut listener = listener;
    let _ = listener.kill();
    let _ = listener.wait();
    let out = capture_out.wait_with_output().unwrap();
    let _ = tcpdump.wait_with_output();
    assert!(out.status.success());
    let records = String::from_utf8(out.stdout).unwrap();

    // 1. The kernel: the allowed connection works, the refused one fails.
    assert!(said.contains("5432 ok"), "client said: {said}");
    assert!(said.contains("3306 failed"), "client said: {said}");

    // 2. The flow log.
    let rows: Vec<Vec<&str>> = records
        .lines()
        .skip(1)
        .map(|l| l.split(' ').collect())
        .collect();
    let packets = |eni: &str, dport: &str, dir: &str, action: &str| -> u64 {
        rows.iter()
            .filter(|r| r[0] == eni && r[4] == dport && r[8] == dir && r[7] == action)
            .map(|r| r[6].parse::<u64>().unwrap())
            .sum()
    };
    let (app_eni, db_eni) = ("eni-0cccccccccccccc01", "eni-0cccccccccccccc02");
    let refused = packets(db_eni, "3306", "ingress", "REJECT");
    assert!(
        refused >= 1,
        "the refused SYNs are REJECT at the database:\n{records}"
    );
    assert_eq!(packets(db_eni, "3306", "ingress", "ACCEPT"), 0, "{records}");
    assert_eq!(
        packets(app_eni, "3306", "egress", "ACCEPT"),
        refused,
        "the same SYNs left the app:\n{records}"
    );
    let to_db = packets(db_eni, "5432", "ingress", "ACCEPT");
    assert!(
        to_db >= 3,
        "handshake, data and close reach the database:\n{records}"
    );
    assert_eq!(
        packets(app_eni, "5432", "egress", "ACCEPT"),
        to_db,
        "{records}"
    );
    let replies = |eni: &str, dir: &str| -> u64 {
        rows.iter()
            .filter(|r| r[0] == eni && r[3] == "5432" && r[8] == dir && r[7] == "ACCEPT")
            .map(|r| r[6].parse::<u64>().unwrap())
            .sum()
    };
    let back = replies(db_eni, "egress");
    assert!(back >= 2, "{records}");
    assert_eq!(replies(app_eni, "ingress"), back, "{records}");
    assert!(
        !records.contains(" REJECT egress"),
        "nothing leaves REJECTed:\n{records}"
    );

    // 3. nftables' own log: exactly the REJECTed packets to 3306.
    let mut decoder = vpcflow_capture::decode::Decoder::new();
    let mut logged = 0u64;
    vpcflow_capture::pcap::read_frames(
        std::fs::File::open(&nflog).unwrap(),
        &mut |_, _| {},
        &mut |_, frame| {
            if let Some(ip) = nflog_payload(frame)
                && let Some(d) = decoder.decode(vpcflow_capture::decode::LinkType::Raw, ip)
                && d.packet.tuple.protocol == 6
                && d.packet.tuple.dst_port == 3306
            {
                logged += 1;
            }
        },
    )
    .unwrap();
    assert_eq!(
        logged, refused,
        "nflog has {logged} drops to 3306, the flow log {refused} REJECTed packets:\n{records}"
    );
}

/// The logged packet inside an NFLOG frame (link type 239): a 4-byte header, then TLVs of
/// (length, type) in host byte order, padded to 4; type 9 is the payload.
fn nflog_payload(frame: &[u8]) -> Option<&[u8]> {
    let mut at = 4;
    while at + 4 <= frame.len() {
        let len = usize::from(u16::from_ne_bytes([frame[at], frame[at + 1]]));
        let kind = u16::from_ne_bytes([frame[at + 2], frame[at + 3]]);
        if len < 4 {
            return None;
        }
        if kind == 9 {
            return frame.get(at + 4..at + len);
        }
        at += (len + 3) & !3;
    }
    None
}
