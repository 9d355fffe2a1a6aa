//! `vpcflow up` delivers what `vpcflow simulate` delivers with the same start, seed and
//! duration, every S3 object and every log event alike, however often it is killed (SIGKILL)
//! or stopped (SIGTERM, exit 0) and started again on the same data directory.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{log_events, ok, vpcflow};

const RUN: &[&str] = &[
    "--start",
    "2026-01-15T14:00:00Z",
    "--seed",
    "5",
    "--duration",
    "2h",
];

/// Every S3 object (path and bytes), and every log event (stream, time, message, id).
type Delivered = (Vec<(String, Vec<u8>)>, serde_json::Value);

/// What `data` holds: its objects and its log events.
fn delivered(data: &Path) -> Delivered {
    let mut objects = Vec::new();
    let mut stack = vec![data.join("s3")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(data).unwrap().display().to_string();
                objects.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    objects.sort();
    let events = log_events(data, "/vpcflow/flow-logs")
        .iter()
        // Ingestion times are the wall clock's: everything else must be the same.
        .map(|e| {
            serde_json::json!([
                e["logStreamName"],
                e["timestamp"],
                e["message"],
                e["eventId"]
            ])
        })
        .collect();
    (objects, serde_json::Value::Array(events))
}

/// Panics unless `got` is `want`, naming the first object or event that differs (or is missing).
fn same(got: &Delivered, want: &Delivered, what: &str) {
    let names = |d: &Delivered| d.0.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if let Some((g, w)) = got.0.iter().zip(&want.0).find(|(g, w)| g != w) {
        panic!(
            "{what}: object {} differs from {} ({} bytes, {} wanted)",
            g.0,
            w.0,
            g.1.len(),
            w.1.len()
        );
    }
    assert_eq!(names(got), names(want), "{what}: the objects differ");
    let (g, w) = (got.1.as_array().unwrap(), want.1.as_array().unwrap());
    if let Some((a, b)) = g.iter().zip(w).find(|(a, b)| a != b) {
        panic!("{what}: event {a} where {b} was wanted");
    }
    assert_eq!(
        g.len(),
        w.len(),
        "{what}: {} events, {} wanted",
        g.len(),
        w.len()
    );
}

fn up(data: &Path, speed: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    c.args([
        "up",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        speed,
        "--data",
        data.to_str().unwrap(),
    ])
    .args(RUN)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

#[test]
fn up_delivers_what_simulate_delivers_across_kills_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let batch = dir.path().join("simulate");
    let mut args = vec!["simulate", "--data", batch.to_str().unwrap()];
    args.extend(RUN);
    ok(&vpcflow(&args));
    let want = delivered(&batch);
    assert!(want.0.len() >= 20, "two hours of 5-minute objects");
    assert!(want.1.as_array().unwrap().len() > 1000);

    // Unpaced, in one go.
    let whole = dir.path().join("whole");
    let out = up(&whole, "max").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("vpcflow up: simulated traffic from 2026-01-15T14:00:00Z"));
    assert!(stdout.contains("vpcflow logs tail /vpcflow/flow-logs --follow"));
    assert!(stdout.contains("Console on http://127.0.0.1:"), "{stdout}");
    same(
        &delivered(&whole),
        &want,
        "up --speed max differs from simulate",
    );

    // Killed three times part-way, at moments that differ, then run to the end. Paced at
    // 3000× (two hours in 2.4 s), each run catches up on what the last one delivered and then
    // gets about 20, 35 and 45 simulated minutes further before it is killed.
    let killed = dir.path().join("killed");
    for wait_ms in [400, 700, 900] {
        let mut child = up(&killed, "3000").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(up(&killed, "max").output().unwrap().status.success());
    same(
        &delivered(&killed),
        &want,
        "killed and restarted, up differs from simulate",
    );

    // Paced, stopped by SIGTERM: it exits 0 saying where it stopped; started again unpaced, it
    // finishes the same run.
    let stopped = dir.path().join("stopped");
    let child = up(&stopped, "600").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("vpcflow: stopped at 2026-01-15T14:"),
        "{stdout}"
    );
    // Paced at 600×, 2.5 s is at most 25 simulated minutes: not the end.
    assert!(delivered(&stopped).0.len() < want.0.len());
    // The console is the service's unless --no-console.
    let out = up(&stopped, "max").arg("--no-console").output().unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Console on"));
    same(
        &delivered(&stopped),
        &want,
        "stopped and restarted, up differs from simulate",
    );
}

#[test]
fn up_keeps_its_start_and_refuses_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let out = vpcflow(&[
        "up",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "fast",
        "--data",
        d,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--speed 'fast'"));
    let out = vpcflow(&["up", "--listen", "127.0.0.1:0", "--stdout", "--data", d]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("vpcflow simulate --stdout"));
    // A first run with a start, then one without: the second continues the first's run.
    let first = ok(&vpcflow(&[
        "up",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "max",
        "--duration",
        "10m",
        "--start",
        "2026-03-01T10:00:00Z",
        "--data",
        d,
    ]));
    assert!(first.contains("from 2026-03-01T10:00:00Z"), "{first}");
    let again = ok(&vpcflow(&[
        "up",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "max",
        "--duration",
        "10m",
        "--data",
        d,
    ]));
    assert!(again.contains("from 2026-03-01T10:00:00Z"), "{again}");
    assert!(again.contains("Nothing new to deliver"), "{again}");
    // Other traffic over the same time would deliver it twice: refused, naming what it runs.
    let out = vpcflow(&[
        "up",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "max",
        "--seed",
        "9",
        "--data",
        d,
    ]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("--seed 9: the service of") && e.contains("simulates --seed 1"),
        "{e}"
    );
    // A bad flag on a first start is refused before anything is kept.
    let fresh = dir.path().join("fresh");
    let f = fresh.to_str().unwrap();
    let out = vpcflow(&[
        "up",
        "--listen",
        "127.0.0.1:0",
        "--duration",
        "forever",
        "--data",
        f,
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--duration 'forever'"));
    let first = ok(&vpcflow(&[
        "up",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "max",
        "--duration",
        "1m",
        "--start",
        "2026-03-01T10:00:00Z",
        "--data",
        f,
    ]));
    assert!(first.contains("from 2026-03-01T10:00:00Z"), "{first}");
}

#[test]
fn one_writer_per_data_directory_while_readers_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let mut service = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "600",
            "--data",
            d,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut said = String::new();
    let mut stdout = std::io::BufReader::new(service.stdout.take().unwrap());
    while !said.contains("Look at it while it runs") {
        assert!(
            std::io::BufRead::read_line(&mut stdout, &mut said).unwrap() > 0,
            "{said}"
        );
    }
    // Writers are refused, naming the holder; every delivering command is a writer.
    for writer in [
        vec!["simulate", "--data", d],
        vec!["up", "--listen", "127.0.0.1:0", "--data", d],
        vec!["capture", "--pcap", "/dev/null", "--data", d],
    ] {
        let out = vpcflow(&writer);
        assert!(!out.status.success(), "{writer:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            e.contains(&format!(
                "is being written by another vpcflow (pid {}: ",
                service.id()
            )) && e.contains(" up --listen 127.0.0.1:0 --speed 600 --data "),
            "{writer:?}: {e}"
        );
    }
    // Readers go on.
    ok(&vpcflow(&["flow-logs", "describe", "--data", d]));
    ok(&vpcflow(&["logs", "describe-log-groups", "--data", d]));
    // A writer that dies, however it dies, leaves no lock behind.
    service.kill().unwrap();
    service.wait().unwrap();
    let out = ok(&vpcflow(&["simulate", "--duration", "10m", "--data", d]));
    assert!(out.contains("Delivered "), "{out}");
}
