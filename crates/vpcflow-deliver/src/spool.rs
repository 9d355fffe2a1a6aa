//! The durable spool, `DATA/spool/`: finished deliveries (objects, log segments, Firehose
//! requests) waiting for their destination.
//!
//! An entry is one file: a JSON header line ([`EntryHeader`]) then the payload. It is written in
//! two steps so that nothing is acknowledged twice or lost: `write_pending` writes `NAME.tmp` and
//! fsyncs it; the producer then advances its checkpoint in `state.db`; `publish` renames the
//! file to `NAME.entry` (and fsyncs the directory), which makes it visible to the delivery
//! worker. At start, [`Spool::recover`] publishes the `.tmp` files a checkpoint covers (their
//! records will not be produced again) and deletes the others (they will be). Entry names are
//! deterministic, so a replayed window rewrites the same names and keys.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::sinks::SinkKey;
use crate::sinks::firehose::RequestTarget;
use crate::sinks::log_group::SegmentTarget;
use crate::sinks::s3::ObjectTarget;

/// Where an entry goes: a target of one of the destination components ([`crate::sinks`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// An object in a bucket.
    Object(ObjectTarget),
    /// A segment of a log group.
    LogSegment(SegmentTarget),
    /// A request of a delivery stream.
    Firehose(RequestTarget),
}

/// The header line of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryHeader {
    /// Destination.
    pub target: Target,
    /// The source run whose checkpoints cover this entry (none for sources that cannot be
    /// replayed, such as live capture).
    pub run: Option<String>,
    /// The sink whose checkpoint covers this entry.
    pub sink: SinkKey,
    /// The commit window (s) that produced it.
    pub window: u64,
    /// Flow logs whose `DeliverLogsStatus` this delivery decides.
    pub flow_logs: Vec<String>,
    /// Records in the payload.
    pub records: u64,
    /// CRC-32 of the payload, set when the entry is written (entries spooled before checksums
    /// have none): a damaged entry is set aside, not delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<u32>,
    /// The checkpoint of its sink that makes a replayed run make this entry again (and what
    /// its sink made after it, under the same names): where a damaged entry's run is rewound
    /// so that nothing is lost ([`crate::state::State::rewind_checkpoint`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redo_from: Option<u64>,
}

/// An entry to write.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Deterministic name (sortable: window first).
    pub name: String,
    /// Header.
    pub header: EntryHeader,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

/// A spool directory.
#[derive(Clone)]
pub struct Spool {
    dir: PathBuf,
    used: Arc<AtomicU64>,
    /// What each entry (published or pending) takes, and of whose destination: each
    /// destination's share is bounded on its own ([`Spool::used_by`]), so one that fails cannot
    /// take the room of the others.
    shares: Arc<std::sync::Mutex<Shares>>,
}

/// Bytes in the spool by destination key, and each entry's.
#[derive(Default)]
struct Shares {
    by_destination: std::collections::HashMap<String, u64>,
    by_entry: std::collections::HashMap<String, (String, u64)>,
}

impl Shares {
    /// An entry written (again: a replayed run rewrites an entry under its name, which then
    /// counts once, at its new size).
    fn add(&mut self, name: &str, destination: String, len: u64) {
        self.take(name);
        *self.by_destination.entry(destination.clone()).or_default() += len;
        self.by_entry.insert(name.to_owned(), (destination, len));
    }

    fn take(&mut self, name: &str) {
        if let Some((d, len)) = self.by_entry.remove(name)
            && let Some(used) = self.by_destination.get_mut(&d)
        {
            *used = used.saturating_sub(len);
        }
    }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Spool {
    /// Opens (creating) the spool in `dir`.
    pub fn open(dir: &Path) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let mut used = 0;
        let mut shares = Shares::default();
        for e in fs::read_dir(dir)? {
            let e = e?;
            let meta = e.metadata()?;
            if meta.is_file() {
                used += meta.len();
                let path = e.path();
                let name = path
                    .file_stem()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                // A damaged header counts against no destination; delivery sets it aside.
                if let Ok(h) = read_header(&path) {
                    shares.add(name, h.target.destination(), meta.len());
                }
            }
        }
        Ok(Spool {
            dir: dir.to_owned(),
            used: Arc::new(AtomicU64::new(used)),
            shares: Arc::new(std::sync::Mutex::new(shares)),
        })
    }

    /// Bytes waiting.
    pub fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Bytes waiting for one destination ([`Target::destination`]).
    pub fn used_by(&self, destination: &str) -> u64 {
        self.shares()
            .by_destination
            .get(destination)
            .copied()
            .unwrap_or(0)
    }

    fn shares(&self) -> std::sync::MutexGuard<'_, Shares> {
        self.shares
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// After a crash: publishes pending entries whose window `covered(header)` says is
    /// checkpointed, deletes the rest. Returns (published, deleted).
    pub fn recover(&self, covered: &dyn Fn(&EntryHeader) -> bool) -> io::Result<(usize, usize)> {
        let (mut published, mut deleted) = (0, 0);
        for e in fs::read_dir(&self.dir)? {
            let path = e?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".tmp") else {
                continue;
            };
            let header = read_header(&path).ok();
            match header {
                Some(h) if covered(&h) => {
                    fs::rename(&path, self.dir.join(format!("{stem}.entry")))?;
                    published += 1;
                }
                _ => {
                    let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    fs::remove_file(&path)?;
                    self.used.fetch_sub(len, Ordering::Relaxed);
                    self.shares().take(stem);
                    deleted += 1;
                }
            }
        }
        fsync_dir(&self.dir)?;
        Ok((published, deleted))
    }

    /// Writes entries as pending (`.tmp`), each fsynced; not yet visible to delivery.
    pub fn write_pending(&self, entries: &[Entry]) -> io::Result<()> {
        for e in entries {
            let path = self.dir.join(format!("{}.tmp", e.name));
            let mut f = File::create(&path)?;
            let checked = EntryHeader {
                checksum: Some(crc32(&e.payload)),
                ..e.header.clone()
            };
            let mut header = serde_json::to_vec(&checked).expect("headers serialize");
            header.push(b'\n');
            f.write_all(&header)?;
            f.write_all(&e.payload)?;
            f.sync_all()?;
            let len = (header.len() + e.payload.len()) as u64;
            self.used.fetch_add(len, Ordering::Relaxed);
            self.shares()
                .add(&e.name, e.header.target.destination(), len);
        }
        Ok(())
    }

    /// Makes pending entries visible to delivery.
    pub fn publish(&self, entries: &[Entry]) -> io::Result<()> {
        for e in entries {
            fs::rename(
                self.dir.join(format!("{}.tmp", e.name)),
                self.dir.join(format!("{}.entry", e.name)),
            )?;
        }
        if !entries.is_empty() {
            fsync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Published entries, in name order (oldest window first).
    pub fn list(&self) -> io::Result<Vec<String>> {
        let mut out: Vec<String> = fs::read_dir(&self.dir)?
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".entry").map(str::to_owned)
            })
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Reads a published entry. One whose header does not read, or whose payload does not
    /// match its checksum, is [`io::ErrorKind::InvalidData`], with the header when it read.
    pub fn read(&self, name: &str) -> Result<(EntryHeader, Vec<u8>), ReadError> {
        let path = self.dir.join(format!("{name}.entry"));
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| ReadError::Io(e, None))?;
        let damaged = |why: String, header| {
            ReadError::Io(
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {why}", path.display()),
                ),
                header,
            )
        };
        let split = bytes.iter().position(|&b| b == b'\n');
        let (line, payload) = match split {
            Some(i) => (&bytes[..i], bytes[i + 1..].to_vec()),
            None => return Err(damaged("no header line".into(), None)),
        };
        let header: EntryHeader = serde_json::from_slice(line)
            .map_err(|e| damaged(format!("the header does not read: {e}"), None))?;
        if let Some(want) = header.checksum
            && crc32(&payload) != want
        {
            return Err(damaged(
                "the payload does not match its checksum".into(),
                Some(Box::new(header)),
            ));
        }
        Ok((header, payload))
    }

    /// Records waiting for delivery, by flow log (a stream's under its first flow log, as
    /// commits count them). An entry whose header does not read is not counted.
    pub fn waiting(&self) -> io::Result<std::collections::BTreeMap<String, u64>> {
        let mut out = std::collections::BTreeMap::new();
        for name in self.list()? {
            let Ok(h) = read_header(&self.dir.join(format!("{name}.entry"))) else {
                continue;
            };
            if let Some(f) = h.flow_logs.first() {
                *out.entry(f.clone()).or_insert(0) += h.records;
            }
        }
        Ok(out)
    }

    /// Sets a damaged entry aside under `spool/quarantine/`, where it stays for a person to
    /// look at; it is not delivered. Returns where it went.
    pub fn quarantine(&self, name: &str) -> io::Result<PathBuf> {
        let from = self.dir.join(format!("{name}.entry"));
        let dir = self.dir.join(QUARANTINE);
        fs::create_dir_all(&dir)?;
        let to = dir.join(format!("{name}.entry"));
        let len = fs::metadata(&from).map(|m| m.len()).unwrap_or(0);
        fs::rename(&from, &to)?;
        fsync_dir(&self.dir)?;
        self.used.fetch_sub(len, Ordering::Relaxed);
        self.shares().take(name);
        Ok(to)
    }

    /// The entries set aside as damaged ([`Spool::quarantine`]), by name.
    pub fn quarantined(&self) -> io::Result<Vec<String>> {
        quarantined_in(&self.dir)
    }

    /// Removes a delivered entry.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let path = self.dir.join(format!("{name}.entry"));
        let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        fs::remove_file(&path)?;
        self.used.fetch_sub(len, Ordering::Relaxed);
        self.shares().take(name);
        Ok(())
    }
}

impl Target {
    /// The destination it is delivered to, as the spool's shares and the worker's backoff key
    /// it: `s3:BUCKET`, `logs:GROUP`, `firehose:STREAM`.
    pub fn destination(&self) -> String {
        match self {
            Target::Object(t) => t.destination(),
            Target::LogSegment(t) => t.destination(),
            Target::Firehose(t) => t.destination(),
        }
    }
}

/// The entries set aside as damaged in the spool at `dir` ([`Spool::quarantine`]), by name,
/// without opening the spool (readers create nothing).
pub fn quarantined_in(dir: &Path) -> io::Result<Vec<String>> {
    let mut out: Vec<String> = match fs::read_dir(dir.join(QUARANTINE)) {
        Ok(entries) => entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".entry").map(str::to_owned)
            })
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    out.sort_unstable();
    Ok(out)
}

/// Where damaged entries are set aside, under the spool.
pub const QUARANTINE: &str = "quarantine";

/// An entry that could not be read: the system's error, and for a damaged payload the header
/// (which names the flow logs whose status it decides).
#[derive(Debug)]
pub enum ReadError {
    /// What failed; `InvalidData` when the entry is damaged.
    Io(io::Error, Option<Box<EntryHeader>>),
}

impl ReadError {
    /// The system's error.
    pub fn io(&self) -> &io::Error {
        let ReadError::Io(e, _) = self;
        e
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

fn read_header(path: &Path) -> io::Result<EntryHeader> {
    let mut r = BufReader::new(File::open(path)?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    serde_json::from_str(&line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
