//! One writer per data directory. A process that delivers (`simulate`, `capture`, `up`) holds
//! `DATA/writer.lock`: an advisory lock on the open file, which the operating system releases
//! when the process ends however it ends, so a crash never leaves a stale lock. The file says
//! who holds it (pid and command) for the error a second writer gets. Readers (`query`, `logs`,
//! `flow-logs describe`) take no lock and keep working while a writer runs.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};

use crate::DataDir;

/// The data directory's writer lock, held until dropped.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process writes to the data directory.
    #[error(
        "{dir} is being written by another vpcflow (pid {pid}: {command}); stop it, or use \
         another --data (readers such as `vpcflow query` and `vpcflow logs` may run meanwhile)"
    )]
    Held {
        /// The data directory.
        dir: String,
        /// The holder's pid, as it wrote it (`?` when it had not yet).
        pid: String,
        /// The holder's command line.
        command: String,
    },
    /// The lock file could not be opened or written.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// Takes the writer lock of `dir` for `command` (what the error of a second writer shows), or
/// says who holds it. Creates the directory if needed.
pub fn lock_writer(dir: &DataDir, command: &str) -> Result<WriterLock, LockError> {
    let path = dir.writer_lock();
    let io = |source| LockError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir.root()).map_err(io)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut said = String::new();
            let _ = file.read_to_string(&mut said);
            let mut lines = said.lines();
            return Err(LockError::Held {
                dir: dir.root().display().to_string(),
                pid: lines
                    .next()
                    .filter(|p| !p.is_empty())
                    .unwrap_or("?")
                    .to_owned(),
                command: lines.next().unwrap_or("vpcflow").to_owned(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}\n{command}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(WriterLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_told_who_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("data"));
        let held = lock_writer(&dir, "vpcflow up --speed 60").unwrap();
        let err = lock_writer(&dir, "vpcflow simulate").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "(pid {}: vpcflow up --speed 60)",
                std::process::id()
            )),
            "{text}"
        );
        drop(held);
        // Released: the next writer takes it, and says so in its turn.
        let again = lock_writer(&dir, "vpcflow simulate").unwrap();
        let said = std::fs::read_to_string(dir.writer_lock()).unwrap();
        assert!(said.ends_with("\nvpcflow simulate\n"), "{said}");
        drop(again);
    }
}
