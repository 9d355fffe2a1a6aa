//! The layout of a data directory (`vpcflow … --data DIR`): the one place its paths are
//! joined.
//!
//! ```text
//! DIR/state.db                 the control plane (db.rs): flow logs, log groups, catalog, …
//! DIR/spool/                   records accepted but not yet delivered (vpcflow-deliver's spool)
//! DIR/logs/<group>/<seg>.parquet  log-group segments; <group> percent-encoded (log_group_dir)
//! DIR/s3/<bucket>/<key>        local buckets, keys as AWS writes them
//! DIR/firehose/<account>/<stream>/<seq>-<ms>.batch  records put to a delivery stream, not yet
//!                              delivered (firehose.rs)
//! DIR/s3-events/<seq>.json     bucket event notifications not yet posted (buckets.rs)
//! ```

use std::path::{Path, PathBuf};

/// Writes `name` in `dir` atomically and durably: temporary file, fsync, rename, fsync dir. What
/// is written so is there after a crash, whole or not at all.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

/// A data directory. Paths only: nothing is created until a caller writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The control-plane database.
    pub fn state_db(&self) -> PathBuf {
        self.root.join("state.db")
    }

    /// The delivery spool.
    pub fn spool(&self) -> PathBuf {
        self.root.join("spool")
    }

    /// Every log group's segments.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// One log group's segments: its name percent-encoded, so that `/` and `..` in a name stay
    /// one directory under [`DataDir::logs`].
    pub fn log_group(&self, group: &str) -> PathBuf {
        self.logs().join(log_group_dir(group))
    }

    /// One segment file of a log group.
    pub fn segment(&self, group: &str, segment: &str) -> PathBuf {
        self.log_group(group).join(format!("{segment}.parquet"))
    }

    /// The writer lock (`lock`): held by the process that delivers.
    pub fn writer_lock(&self) -> PathBuf {
        self.root.join("writer.lock")
    }

    /// Where local buckets live: one directory per bucket.
    pub fn s3(&self) -> PathBuf {
        self.root.join("s3")
    }

    /// A local bucket's directory.
    pub fn bucket(&self, bucket: &str) -> PathBuf {
        self.s3().join(bucket)
    }

    /// Delivery streams' buffers: one directory per account and stream.
    pub fn firehose(&self) -> PathBuf {
        self.root.join("firehose")
    }

    /// Bucket event notifications waiting to be posted.
    pub fn s3_events(&self) -> PathBuf {
        self.root.join("s3-events")
    }
}

/// A log group's directory name: bytes other than ASCII letters, digits, `-`, `_` and `.` are
/// percent-encoded (`/vpcflow/flow-logs` → `%2Fvpcflow%2Fflow-logs`), and so is every byte of a
/// name made only of dots, which AWS allows and which would otherwise name `logs` or its parent.
pub fn log_group_dir(group: &str) -> String {
    let only_dots = group.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(group.len() + 8);
    for b in group.bytes() {
        if !only_dots && (b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_under_the_root() {
        let d = DataDir::new("/d");
        for (got, want) in [
            (d.state_db(), "/d/state.db"),
            (d.spool(), "/d/spool"),
            (d.logs(), "/d/logs"),
            (d.s3(), "/d/s3"),
            (d.firehose(), "/d/firehose"),
            (d.s3_events(), "/d/s3-events"),
            (
                d.log_group("/vpcflow/flow-logs"),
                "/d/logs/%2Fvpcflow%2Fflow-logs",
            ),
            (d.segment("a.b", "001"), "/d/logs/a.b/001.parquet"),
            (d.log_group("a#b"), "/d/logs/a%23b"),
            (d.log_group(".."), "/d/logs/%2E%2E"),
            (d.log_group("."), "/d/logs/%2E"),
        ] {
            assert_eq!(got, Path::new(want));
        }
    }
}
