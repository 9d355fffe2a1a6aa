//! Queries on a cluster (issue 25): a `vpcflow cluster scheduler` and two executors, separate
//! processes on loopback, answer every seed query (`tests/seeds/seeds.slt`: Insights over the
//! log group, SQL over the Athena tables in place, text.gz and Parquet) through
//! `vpcflow query --cluster` exactly as one process does; an executor killed mid-query gives a
//! clear error or the right answer, never a wrong one or a hang.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::s3::free_port;
use common::seeds::{blocks, delivered_hour, root, run};
use common::{ok, vpcflow};

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A scheduler and its executors, stopped when dropped.
struct Cluster {
    scheduler: Child,
    executors: Vec<Child>,
    port: u16,
    logs: PathBuf,
}

impl Cluster {
    fn start(executors: usize, logs: &Path) -> Cluster {
        let port = free_port();
        let log = |name: &str| std::fs::File::create(logs.join(name)).unwrap();
        let scheduler = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
            .args([
                "cluster",
                "scheduler",
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--executor-timeout", "6"])
            .stdout(Stdio::null())
            .stderr(log("scheduler.log"))
            .spawn()
            .unwrap();
        let mut cluster = Cluster {
            scheduler,
            executors: Vec::new(),
            port,
            logs: logs.to_owned(),
        };
        cluster.wait_for(port, "the scheduler");
        for i in 0..executors {
            let (flight, grpc) = (free_port(), free_port());
            let child = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
                .args(["cluster", "executor", "--scheduler"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["--port", &flight.to_string()])
                .args(["--grpc-port", &grpc.to_string()])
                .args(["--concurrent-tasks", "2", "--heartbeat", "1"])
                .stdout(Stdio::null())
                .stderr(log(&format!("executor-{i}.log")))
                .spawn()
                .unwrap();
            cluster.executors.push(child);
            cluster.wait_for(flight, "an executor");
        }
        cluster
    }

    fn wait_for(&mut self, port: u16, what: &str) {
        for _ in 0..600 {
            if listening(port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{what} did not listen on {port}: {}", self.log_text());
    }

    fn url(&self) -> String {
        format!("df://127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(&self.logs).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "log") {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                out.push_str(&format!("\n--- {}\n", e.path().display()));
                for l in tail.into_iter().rev() {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.executors.iter_mut().chain([&mut self.scheduler]) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn every_seed_query_gives_the_same_answer_on_a_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let data = delivered_hour(dir.path());
    let cluster = Cluster::start(2, dir.path());
    let url = cluster.url();
    let text = std::fs::read_to_string(root().join("seeds.slt")).unwrap();
    let mut failures = Vec::new();
    let all = blocks(&text);
    for b in &all {
        let got = run(b, &["--data", data.to_str().unwrap(), "--cluster", &url]);
        // The expected answers are the ones one process gives (crates/vpcflow/tests/seeds.rs).
        if got != b.expected {
            failures.push(format!(
                "{}\n{}\nexpected:\n{}\ngot on the cluster:\n{}",
                b.header,
                b.query,
                b.expected.join("\n"),
                got.join("\n")
            ));
        }
    }
    assert!(all.len() >= 30);
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n\n"),
        cluster.log_text()
    );
    a_table_of_text_and_parquet_gives_the_same_answer(&data, dir.path(), &url);
}

/// One table of both flow logs' objects (text.gz and Parquet, `--files`): on a cluster its two
/// scans split between the tasks, and the answer is one process's.
fn a_table_of_text_and_parquet_gives_the_same_answer(data: &Path, dir: &Path, url: &str) {
    let mixed = dir.join("mixed");
    for bucket in ["flow-logs", "flow-logs-text"] {
        copy_tree(&data.join("s3").join(bucket), &mixed.join(bucket));
    }
    let sql = "SELECT srcaddr, dstaddr, sum(bytes) AS b, count(*) AS n FROM flows \
               GROUP BY srcaddr, dstaddr ORDER BY b DESC, srcaddr, dstaddr";
    let m = mixed.to_str().unwrap();
    let args = ["query", "--files", m, "--sql", sql, "--output", "csv"];
    let local = ok(&vpcflow(&args));
    assert!(local.lines().count() > 5, "{local}");
    let on_cluster = ok(&vpcflow(&[&args[..], &["--cluster", url]].concat()));
    assert_eq!(on_cluster, local);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn an_executor_killed_mid_query_is_an_error_or_the_answer_never_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = delivered_hour(dir.path());
    let mut cluster = Cluster::start(2, dir.path());
    let query = "stats sum(bytes) as bytesTransferred by srcAddr, dstAddr \
                 | sort bytesTransferred desc | limit 10";
    let d = data.to_str().unwrap().to_owned();
    let args = [
        "query",
        "--data",
        &d,
        "--insights",
        query,
        "--output",
        "csv",
    ];
    let local = ok(&vpcflow(&args));
    // Many runs of the query in one client, so that the kill lands while one is running.
    let mut client = Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args)
        .args(["--cluster", &cluster.url(), "--repeat", "100"])
        .args(["--cluster-timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        client.try_wait().unwrap().is_none(),
        "the client's queries ended before the executor could be killed: raise --repeat"
    );
    let victim = &mut cluster.executors[0];
    victim.kill().unwrap();
    victim.wait().unwrap();
    // No hang: the client ends on its own.
    let mut waited = 0;
    while client.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
        if waited > 3000 {
            let _ = client.kill();
            panic!(
                "the client still waits 300 s after the executor died (its own limit is 60 s){}",
                cluster.log_text()
            );
        }
    }
    let out = client.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // Which of the two it was, and when, for whoever reads the test's output.
    eprintln!(
        "the client ended {:.1} s after the kill: {}",
        waited as f64 / 10.0,
        if out.status.success() {
            "the answer"
        } else {
            stderr.trim()
        }
    );
    if out.status.success() {
        // Rows of equal totals may come in either order.
        let rows = |t: &str| {
            let mut l: Vec<String> = t.lines().map(str::to_owned).collect();
            l.sort();
            l
        };
        assert_eq!(
            rows(&stdout),
            rows(&local),
            "a retried success gives the right answer"
        );
    } else {
        assert!(stdout.is_empty(), "no answer with an error: {stdout}");
        assert!(
            stderr.starts_with("error: ") && stderr.lines().count() <= 3,
            "one clear error: {stderr}"
        );
        // The cluster's own error, not the client giving up on a job left waiting (published
        // Ballista 55 leaked the surviving executor's task slots here: Cargo.toml's patch).
        assert!(
            !stderr.contains("no answer in"),
            "the job was left waiting: {stderr}{}",
            cluster.log_text()
        );
    }
}
