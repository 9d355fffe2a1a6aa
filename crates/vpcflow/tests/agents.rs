//! Capture agents into one bucket (issue 25): four `vpcflow simulate --agent` processes, each
//! recording the ENIs the config's `[[agents]]` gives it, deliver the seeds' flow logs
//! (Parquet with Hive partitions, and text) into the buckets of one S3-compatible endpoint
//! (moto's server). One is SIGKILLed mid-run and started again. Every seed query over the
//! buckets then gives exactly the answer that one process, recording every ENI, gives over its
//! own endpoint: no record lost, none twice, no object overwritten by another agent.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::s3::S3Server;
use common::seeds::{blocks, root, run};
use common::vpcflow;

/// The built-in three-tier topology's ENIs, two per agent.
const ENIS: [&str; 8] = [
    "eni-0a0000000000000a1",
    "eni-0b0000000000000b1",
    "eni-0a0000000000000a5",
    "eni-0a0000000000000a3",
    "eni-0a0000000000000a2",
    "eni-0b0000000000000b2",
    "eni-0a0000000000000a4",
    "eni-0b0000000000000b4",
];

/// Simulated time: long enough that an agent is still running when its first objects land.
const DURATION: &str = "1h";

/// The seeds' config (`tests/seeds/vpcflow.toml`: its two buckets and flow logs) with the
/// buckets at `endpoint`, and the agents' table.
fn config(endpoint: u16) -> String {
    let seeds = std::fs::read_to_string(root().join("vpcflow.toml")).unwrap();
    let mut out = String::from("topology = \"builtin:three-tier\"\n");
    for line in seeds.lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("name = \"flow-logs") {
            out.push_str(&format!(
                "endpoint = \"http://127.0.0.1:{endpoint}\"\nallow_http = true\n\
                 access_key_id = \"testing\"\nsecret_access_key = \"testing\"\n"
            ));
        }
    }
    for (i, pair) in ENIS.chunks(2).enumerate() {
        out.push_str(&format!(
            "[[agents]]\nname = \"host-{i}\"\nenis = [\"{}\", \"{}\"]\n",
            pair[0], pair[1]
        ));
    }
    out
}

fn endpoint_with_buckets() -> S3Server {
    let s3 = S3Server::start();
    for b in ["flow-logs", "flow-logs-text"] {
        assert_eq!(s3.request("PUT", &format!("/{b}")).0, 200, "bucket {b}");
    }
    s3
}

fn simulate(config: &Path, data: &Path, agent: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    c.args(["simulate", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .args(["--duration", DURATION])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(a) = agent {
        c.args(["--agent", a]);
    }
    c
}

fn finished(child: Child, what: &str) {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Keys in a bucket (one page: the test's buckets hold fewer than 1000).
fn keys(s3: &S3Server, bucket: &str) -> Vec<String> {
    let (status, body) = s3.request("GET", &format!("/{bucket}?list-type=2"));
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    body.split("<Key>")
        .skip(1)
        .map(|k| k.split("</Key>").next().unwrap().to_owned())
        .collect()
}

/// The block asking for every row its query finds, as a set: a `limit` of a sorted answer
/// picks among tied rows by the order the files are read in, which agents' objects change, so
/// the whole answer is compared (which also compares the top rows).
fn whole(b: &common::seeds::Block) -> common::seeds::Block {
    let mut query = b.query.trim_end().to_owned();
    let lower = query.to_ascii_lowercase();
    if let Some(at) = lower.rfind("limit ")
        && lower[at + 6..].trim().chars().all(|c| c.is_ascii_digit())
    {
        query.truncate(at);
        let kept = query.trim_end().trim_end_matches('|').trim_end().len();
        query.truncate(kept);
    }
    let mut words: Vec<&str> = b.header.split_whitespace().take(2).collect();
    words.push(if b.header.ends_with("rowcount") {
        "rowcount"
    } else {
        "rowsort"
    });
    common::seeds::Block {
        header: words.join(" "),
        query,
        duckdb: None,
        spark: None,
        expected: Vec::new(),
        expected_at: (0, 0),
    }
}

#[test]
fn four_agents_one_killed_give_the_answers_of_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let (agents, single) = (endpoint_with_buckets(), endpoint_with_buckets());
    let agents_config = dir.path().join("agents.toml");
    let single_config = dir.path().join("single.toml");
    std::fs::write(&agents_config, config(agents.port)).unwrap();
    std::fs::write(&single_config, config(single.port)).unwrap();

    let data = |name: &str| dir.path().join(name);
    let mut running: Vec<Child> = (0..4)
        .map(|i| {
            simulate(
                &agents_config,
                &data(&format!("agent-{i}")),
                Some(&format!("host-{i}")),
            )
            .spawn()
            .unwrap()
        })
        .collect();
    // Agent 1 dies (SIGKILL: no flush, no drain) once objects are landing in the bucket.
    let mut waited = 0;
    while keys(&agents, "flow-logs").is_empty() {
        std::thread::sleep(Duration::from_millis(20));
        waited += 1;
        assert!(waited < 15_000, "no agent delivered anything");
    }
    assert!(
        running[1].try_wait().unwrap().is_none(),
        "agent host-1 ended before it could be killed mid-run: make DURATION longer"
    );
    running[1].kill().unwrap();
    running[1].wait().unwrap();
    let restarted = simulate(&agents_config, &data("agent-1"), Some("host-1"))
        .spawn()
        .unwrap();
    running[1] = restarted;
    for (i, child) in running.into_iter().enumerate() {
        finished(child, &format!("agent host-{i}"));
    }
    finished(
        simulate(&single_config, &data("single"), None)
            .spawn()
            .unwrap(),
        "the single process",
    );
    // Agents write more, smaller objects, none of them under a name the single process uses.
    let (a, s) = (keys(&agents, "flow-logs"), keys(&single, "flow-logs"));
    assert!(a.len() > s.len(), "{} objects against {}", a.len(), s.len());

    // Every seed query, over each endpoint's buckets: the Athena tables in place (SQL: the
    // Parquet flow log's and the text one's), and the text objects as Insights events
    // (`--files`; the Parquet objects hold the same records, which the SQL already compares).
    let text = std::fs::read_to_string(root().join("seeds.slt")).unwrap();
    let mut compared = 0;
    let mut failures = Vec::new();
    for b in blocks(&text).iter().map(whole) {
        let sources: &[Option<&str>] = if b.header.contains("insights") {
            &[Some("s3://flow-logs-text/AWSLogs/")]
        } else {
            &[None]
        };
        for files in sources {
            let answer = |config: &Path, data: &Path| {
                let (c, d) = (config.to_str().unwrap(), data.to_str().unwrap());
                let mut args = vec!["--config", c, "--data", d];
                if let Some(f) = files {
                    args.extend(["--files", f]);
                }
                run(&b, &args)
            };
            let got = answer(&agents_config, &data("query-agents"));
            let want = answer(&single_config, &data("query-single"));
            if got != want {
                failures.push(format!(
                    "{} {files:?}\n{}\nagents:\n{}\none process:\n{}",
                    b.header,
                    b.query,
                    got.join("\n"),
                    want.join("\n")
                ));
            }
            // An answer of rows (or of a count), not just a header.
            if got.len() > 1 || got.first().is_some_and(|l| l.starts_with("rows=")) {
                compared += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(compared >= 25, "only {compared} answers with rows compared");
}

#[test]
fn an_eni_claimed_by_two_agents_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vpcflow.toml");
    std::fs::write(
        &config,
        format!(
            "[[agents]]\nname = \"host-a\"\nenis = [\"{}\"]\n\
             [[agents]]\nname = \"host-b\"\nenis = [\"{}\", \"{}\"]\n",
            ENIS[0], ENIS[1], ENIS[0]
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let as_agent = |agent: &str| {
        vpcflow(&[
            "simulate",
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--agent",
            agent,
        ])
    };
    let out = as_agent("host-a");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "agents[1].enis[1]: '{}' is claimed by agent 'host-a' (agents[0]) and agent 'host-b'",
            ENIS[0]
        )),
        "{err}"
    );
    // An agent the table does not name.
    std::fs::write(
        &config,
        format!("[[agents]]\nname = \"host-a\"\nenis = [\"{}\"]\n", ENIS[0]),
    )
    .unwrap();
    let out = as_agent("host-z");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--agent host-z: no such agent in the config's [[agents]] (it has: host-a)"),
        "{err}"
    );
}
