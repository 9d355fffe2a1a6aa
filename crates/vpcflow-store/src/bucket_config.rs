//! A bucket's lifecycle rules and notification targets as the buckets service keeps them:
//! the types the S3 protocol's documents are read into (`vpcflow-api`) and the service applies
//! (`buckets`). Plain data, built without the database, so that the protocol's readers fuzz
//! on their own.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file of `key` under a bucket directory: only plain segments (no `.`, `..`, empty
/// segment or NUL), so that no key names a file outside the bucket.
pub fn object_path(bucket_dir: &Path, key: &str) -> Option<PathBuf> {
    if key.is_empty()
        || key.contains('\0')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return None;
    }
    Some(bucket_dir.join(key))
}

/// Every object of a bucket directory: its key (relative path, `/`-separated) and its file's
/// metadata, sorted by key. Files being written (`.tmp`) are not objects yet; a bucket whose
/// directory does not exist has none.
pub fn objects(root: &Path) -> std::io::Result<Vec<(String, std::fs::Metadata)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            // The bucket has no directory yet, or a prefix went meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                // Deleted since the directory was read.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file()
                && let Ok(rel) = entry.path().strip_prefix(root)
                && let Some(k) = rel.to_str()
                && !k.ends_with(".tmp")
            {
                out.push((k.replace(std::path::MAIN_SEPARATOR, "/"), meta));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// When a file was last written (ms since the epoch; 0 when unknown).
pub fn mtime_ms(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

/// An object's ETag: a digest of its file's size and last write, quoted (stable while the file
/// is unchanged, and cheap to list; S3's is the MD5 of the bytes, which no client here checks).
pub fn etag(meta: &std::fs::Metadata) -> String {
    use md5::Digest as _;
    let digest = md5::Md5::digest(format!("{}/{}", meta.len(), mtime_ms(meta)).as_bytes());
    format!("\"{digest:x}\"")
}

/// One lifecycle rule (the expiration part, which is what applies to local buckets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    /// `ID`.
    pub id: Option<String>,
    /// `Filter/Prefix` (or the legacy `Prefix`).
    pub prefix: String,
    /// `Status` is `Enabled`.
    pub enabled: bool,
    /// `Expiration/Days`.
    pub expiration_days: Option<u32>,
}

/// One webhook a bucket notifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationTarget {
    /// `Topic`, `Queue` or `CloudFunction`: the configuration it was given in (and is read
    /// back in).
    #[serde(default)]
    pub kind: String,
    /// `Id`.
    pub id: String,
    /// The `http://` or `https://` URL given as the target (where AWS takes a topic, queue or
    /// function ARN).
    pub url: String,
    /// `Event`s: `s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`, …
    pub events: Vec<String>,
    /// `Filter/S3Key/FilterRule` prefix.
    pub prefix: String,
    /// … and suffix.
    pub suffix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_in_their_bucket() {
        let root = Path::new("/d/s3/b");
        assert_eq!(object_path(root, "a/b.gz"), Some(root.join("a/b.gz")));
        for bad in ["", "../x", "a/../../x", "a//b", "./a", "a/", "a\0b"] {
            assert_eq!(object_path(root, bad), None, "{bad:?}");
        }
    }
}
