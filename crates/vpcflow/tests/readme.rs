//! The README's commands, run as written: every fenced ```` ```sh ```` block of README.md, in
//! order, in one temporary directory holding a copy of `examples/`, with the built binary first on
//! `PATH`. So a README edit that breaks a command fails CI.
//!
//! A block's info string says how it runs:
//! * `sh`: every command runs, and must succeed (`set -e`);
//! * `sh root`: the same where the suite runs as root (as CI does; `sudo` is then the command
//!   itself), skipped, and said so, otherwise;
//! * `sh setup` and `sh bench`: the set-up commands (they build, and `scripts/test` would run
//!   this very test) and the benchmarks (release builds and peers, run by hand): each command's
//!   script or bench target must exist.
//!
//! A command marked `# runs until Ctrl-C` is interrupted (SIGINT) after a few seconds, as a
//! person would.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The README's shell blocks: (info words after `sh`, the block's text).
fn blocks(readme: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut current: Option<(Vec<String>, String)> = None;
    for line in readme.lines() {
        match &mut current {
            None => {
                if let Some(info) = line.strip_prefix("```sh") {
                    let words = info.split_whitespace().map(str::to_owned).collect();
                    current = Some((words, String::new()));
                }
            }
            Some((_, text)) if line.starts_with("```") => {
                let _ = text;
                out.extend(current.take());
            }
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    out
}

/// The commands of a block (continuation lines joined, comments and blank lines dropped).
fn commands(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in block.lines() {
        let t = line.trim();
        if pending.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            pending.push_str(head.trim_end());
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        out.push(std::mem::take(&mut pending));
    }
    out
}

/// A set-up or benchmark command names something that exists: a script of the repository, or a
/// crate's bench target.
fn check_exists(command: &str) {
    let words: Vec<&str> = command
        .split_whitespace()
        .skip_while(|w| *w == "sudo")
        .collect();
    let first = words[0];
    if first == "cargo" {
        let arg = |flag: &str| {
            words
                .iter()
                .position(|w| *w == flag)
                .and_then(|i| words.get(i + 1))
                .copied()
        };
        let krate = arg("-p").unwrap_or_else(|| panic!("{command}: no -p"));
        let dir = root().join("crates").join(krate);
        assert!(
            dir.join("Cargo.toml").exists(),
            "{command}: no crate {krate}"
        );
        if let Some(bench) = arg("--bench") {
            assert!(
                dir.join("benches").join(format!("{bench}.rs")).exists(),
                "{command}: no bench {bench}"
            );
        }
        return;
    }
    let script = root().join(first);
    let meta = std::fs::metadata(&script).unwrap_or_else(|e| panic!("{command}: {e}"));
    use std::os::unix::fs::PermissionsExt as _;
    assert!(
        meta.permissions().mode() & 0o111 != 0,
        "{command}: {first} is not executable"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The script a block runs as: stop at the first failing command; a command that runs until
/// Ctrl-C gets SIGINT after 3 s (`timeout` then says 124, which is what was meant).
fn script(block: &str, root_block: bool) -> String {
    let mut s = String::from("set -e\n");
    if root_block {
        s.push_str("sudo() { \"$@\"; }\n");
    }
    for c in commands(block) {
        // Anything after the mark would run the command with no end, and hang the suite.
        assert!(
            !c.contains("# runs until Ctrl-C") || c.ends_with("# runs until Ctrl-C"),
            "`# runs until Ctrl-C` must end the line: {c}"
        );
        if let Some(cmd) = c.strip_suffix("# runs until Ctrl-C") {
            s.push_str(&format!(
                "timeout -s INT 3 {} || [ $? -eq 124 ]\n",
                cmd.trim_end().trim_start_matches("sudo ")
            ));
        } else {
            s.push_str(&c);
            s.push('\n');
        }
    }
    s
}

/// Takes the lab down whatever happens.
struct LabDown(PathBuf);

impl Drop for LabDown {
    fn drop(&mut self) {
        let _ = Command::new(&self.0).args(["lab", "down"]).output();
    }
}

#[test]
fn every_command_of_the_readme_runs_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = blocks(&readme);
    assert!(
        blocks.len() >= 10,
        "README.md has {} shell blocks",
        blocks.len()
    );
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_vpcflow"));
    let _lab = LabDown(bin.clone());
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("examples"), &dir.path().join("examples"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let root_user = is_root();
    let mut ran = 0;
    for (i, (info, text)) in blocks.iter().enumerate() {
        let kind = |w: &str| info.iter().any(|i| i == w);
        if kind("setup") || kind("bench") {
            commands(text).iter().for_each(|c| check_exists(c));
            continue;
        }
        if kind("root") && !root_user {
            eprintln!("README block {i} needs root: skipped");
            continue;
        }
        let out = Command::new("bash")
            .arg("-c")
            .arg(script(text, kind("root")))
            .current_dir(dir.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README block {i} failed:\n{text}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += commands(text).len();
    }
    assert!(ran >= 30, "only {ran} commands ran");
}

#[test]
fn commands_and_scripts_are_read_as_written() {
    let text = "# a comment\nvpcflow a \\\n  --b c\n\nvpcflow d   # runs until Ctrl-C\n";
    assert_eq!(
        commands(text),
        ["vpcflow a --b c", "vpcflow d   # runs until Ctrl-C"]
    );
    assert_eq!(
        script(text, true),
        "set -e\nsudo() { \"$@\"; }\nvpcflow a --b c\ntimeout -s INT 3 vpcflow d || [ $? -eq 124 ]\n"
    );
    let b = blocks("x\n```sh root\nsudo a\n```\n```toml\nk = 1\n```\n```sh\nb\n```\n");
    assert_eq!(
        b,
        [
            (vec!["root".to_owned()], "sudo a\n".to_owned()),
            (vec![], "b\n".to_owned())
        ]
    );
}
