//! Opening flow-log inputs: files or stdin (`-`), sniffed by content rather than by name.
//!
//! Owns: telling gzip (magic `1f 8b`), Parquet (magic `PAR1`) and plain text apart; inflating
//! gzip (all members, as `zcat` does, since concatenated `.gz` files are common); reading lines
//! as bytes so that a bad line (invalid UTF-8) is reported with its number instead of ending
//! the stream; and counting consumed bytes for the progress bar.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use flate2::read::MultiGzDecoder;

/// What an input turned out to be.
pub(crate) enum Opened {
    /// Lines of text (plain or inflated from gzip).
    Lines(LineReader),
    /// A whole Parquet file in memory or on disk.
    Parquet(ParquetInput),
}

/// A Parquet input: files are read in place, stdin is buffered whole (Parquet needs seeking).
pub(crate) enum ParquetInput {
    /// A file on disk.
    File(File),
    /// Bytes read from stdin.
    Bytes(bytes::Bytes),
}

/// Shared counter of raw (compressed) bytes read, for the progress bar.
#[derive(Clone, Default)]
pub(crate) struct Progress(Arc<AtomicU64>);

impl Progress {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Counting<R> {
    inner: R,
    progress: Progress,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads lines as bytes, numbering them from 1, and tells gzip damage apart from bad lines.
pub(crate) struct LineReader {
    inner: Box<dyn BufRead>,
    gzip: bool,
    line_no: u64,
}

impl LineReader {
    /// Reads the next line (without its `\n`) into `buf`; `Ok(false)` at the end.
    pub(crate) fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.clear();
        let n = self.inner.read_until(b'\n', buf).map_err(|e| {
            if self.gzip
                && matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::InvalidInput
                        | io::ErrorKind::InvalidData
                )
            {
                io::Error::new(e.kind(), format!("truncated or corrupt gzip data: {e}"))
            } else {
                e
            }
        })?;
        if n == 0 {
            return Ok(false);
        }
        self.line_no += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        Ok(true)
    }

    /// Number of the line last returned (1-based).
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }
}

/// Total size of the named files (stdin counts 0), for sizing the progress bar.
pub(crate) fn total_size(paths: &[String]) -> u64 {
    paths
        .iter()
        .filter(|p| p.as_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Opens `path` (`-` = stdin) and sniffs what it holds.
pub(crate) fn open(path: &str, progress: &Progress) -> anyhow::Result<Opened> {
    let raw: Box<dyn Read> = if path == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).with_context(|| format!("cannot open {path}"))?)
    };
    let mut reader = BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: raw,
            progress: progress.clone(),
        },
    );
    let head = reader
        .fill_buf()
        .with_context(|| format!("cannot read {path}"))?;
    if head.starts_with(b"PAR1") {
        return Ok(Opened::Parquet(if path == "-" {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).context("cannot read stdin")?;
            ParquetInput::Bytes(bytes::Bytes::from(all))
        } else {
            ParquetInput::File(File::open(path).with_context(|| format!("cannot open {path}"))?)
        }));
    }
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let inner: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    };
    Ok(Opened::Lines(LineReader {
        inner,
        gzip,
        line_no: 0,
    }))
}
