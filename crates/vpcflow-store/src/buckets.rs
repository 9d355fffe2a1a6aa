//! Local buckets as a service: who owns each (the configured `[[buckets]]` are the data
//! directory's owner's, CreateBucket's are kept in `state.db`'s `buckets`), CreateBucket with
//! S3's naming rules and errors, PutObject and DeleteObject on the files under `DATA/s3/`, and
//! each bucket's policy, lifecycle and notification configurations. Lifecycle expiration is
//! applied here ([`Buckets::expire`], by a pump, with the time it is given); an object created
//! or removed with a notification configuration leaves an S3 event in `DATA/s3-events/`
//! (written durably before the request is answered) for a pump to post to the webhook
//! ([`Buckets::pending_events`], [`Buckets::event_posted`]).
//!
//! Keys map to files only through plain path segments ([`object_path`]): no key reaches outside
//! its bucket. The XML of the configurations is the API's; the rules are here.

use std::path::{Path, PathBuf};

use crate::DataDir;
use crate::bucket_config::mtime_ms;
pub use crate::bucket_config::{LifecycleRule, NotificationTarget, object_path};
use crate::db::DbError;
use crate::time::Civil;
use rusqlite::{Connection, OptionalExtension as _, params};

/// An S3 error: status, code and message, as S3 answers them.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// The request's fault.
    #[error("{code} (the request is at fault): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// S3's code.
        code: &'static str,
        /// S3's message.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A file could not be written or removed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl BucketError {
    fn refused(status: u16, code: &'static str, message: impl Into<String>) -> BucketError {
        BucketError::Refused {
            status,
            code,
            message: message.into(),
        }
    }

    /// `NoSuchBucket`.
    pub fn no_bucket() -> BucketError {
        BucketError::refused(404, "NoSuchBucket", "The specified bucket does not exist")
    }
}

/// The configurations kept per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Config {
    /// The bucket policy (JSON).
    Policy,
    /// Lifecycle rules (JSON of [`LifecycleRule`]s).
    Lifecycle,
    /// Notification targets (JSON of [`NotificationTarget`]s).
    Notification,
}

impl Config {
    fn column(self) -> &'static str {
        match self {
            Config::Policy => "policy",
            Config::Lifecycle => "lifecycle",
            Config::Notification => "notification",
        }
    }
}

/// An S3 event waiting to be posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// The file it is kept in.
    pub path: PathBuf,
    /// Where it goes.
    pub url: String,
    /// The body (S3's event notification JSON).
    pub body: String,
}

/// The local buckets of one data directory.
pub struct Buckets {
    conn: Connection,
    dir: DataDir,
    configured: Vec<String>,
    owner: String,
    region: String,
}

fn db(e: rusqlite::Error) -> BucketError {
    BucketError::Db(DbError::Sqlite {
        path: "state.db".into(),
        source: e,
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BucketError + '_ {
    move |source| BucketError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Whether `name` is a bucket name S3 takes: 3–63 of lowercase letters, digits, `.` and `-`,
/// starting and ending with a letter or digit, no `..`, not an IPv4 address.
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// Whether an event name (`ObjectCreated:Put`) is among a target's (`s3:ObjectCreated:*`).
fn subscribed(events: &[String], event: &str) -> bool {
    let (kind, _) = event.split_once(':').unwrap_or((event, ""));
    events.iter().any(|e| {
        let e = e.strip_prefix("s3:").unwrap_or(e);
        e == event || e.strip_suffix(":*").is_some_and(|k| k == kind)
    })
}

impl Buckets {
    /// The buckets of `dir`: `configured` ones owned by `owner`, and those CreateBucket made.
    pub fn open(
        dir: DataDir,
        configured: Vec<String>,
        owner: &str,
        region: &str,
    ) -> Result<Buckets, BucketError> {
        Ok(Buckets {
            conn: crate::db::open(&dir.state_db())?,
            dir,
            configured,
            owner: owner.to_owned(),
            region: region.to_owned(),
        })
    }

    /// A bucket's directory.
    pub fn root(&self, bucket: &str) -> PathBuf {
        self.dir.bucket(bucket)
    }

    /// Who owns `bucket`, if it exists.
    pub fn owner_of(&self, bucket: &str) -> Result<Option<String>, BucketError> {
        if self.configured.iter().any(|b| b == bucket) {
            return Ok(Some(self.owner.clone()));
        }
        self.conn
            .query_row(
                "SELECT account FROM buckets WHERE name = ?1",
                [bucket],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
    }

    /// The bucket's directory, if `account` owns it; `AccessDenied` when another account does
    /// (bucket names are one namespace, as in S3), else `NoSuchBucket`.
    pub fn owned(&self, bucket: &str, account: &str) -> Result<PathBuf, BucketError> {
        match self.owner_of(bucket)? {
            Some(o) if o == account => Ok(self.root(bucket)),
            Some(_) => Err(BucketError::refused(403, "AccessDenied", "Access Denied")),
            None => Err(BucketError::no_bucket()),
        }
    }

    /// The buckets `account` owns, by name, with their creation times (ms; configured ones 0).
    pub fn list(&self, account: &str) -> Result<Vec<(String, u64)>, BucketError> {
        let mut out: Vec<(String, u64)> = if account == self.owner {
            self.configured.iter().map(|b| (b.clone(), 0)).collect()
        } else {
            Vec::new()
        };
        let mut st = self
            .conn
            .prepare("SELECT name, created_ms FROM buckets WHERE account = ?1")
            .map_err(db)?;
        let made: Vec<(String, i64)> = st
            .query_map([account], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        out.extend(made.into_iter().map(|(n, t)| (n, t as u64)));
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        Ok(out)
    }

    /// CreateBucket.
    pub fn create(&self, bucket: &str, account: &str, now_ms: u64) -> Result<(), BucketError> {
        if !valid_bucket_name(bucket) {
            return Err(BucketError::refused(
                400,
                "InvalidBucketName",
                "The specified bucket is not valid.",
            ));
        }
        match self.owner_of(bucket)? {
            Some(o) if o == account => {
                return Err(BucketError::refused(
                    409,
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already \
                     own it.",
                ));
            }
            Some(_) => {
                return Err(BucketError::refused(
                    409,
                    "BucketAlreadyExists",
                    "The requested bucket name is not available. The bucket namespace is shared \
                     by all users of the system. Please select a different name and try again.",
                ));
            }
            None => {}
        }
        let root = self.root(bucket);
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        self.conn
            .execute(
                "INSERT INTO buckets (name, account, created_ms) VALUES (?1, ?2, ?3)",
                params![bucket, account, now_ms as i64],
            )
            .map_err(db)?;
        Ok(())
    }

    /// PutObject: the object written durably (whole or not at all), then its event; its ETag.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        account: &str,
        now_ms: u64,
    ) -> Result<String, BucketError> {
        let root = self.owned(bucket, account)?;
        let path = object_path(&root, key).ok_or_else(|| {
            BucketError::refused(
                400,
                "InvalidArgument",
                format!(
                    "The key '{key}' has an empty, '.' or '..' segment, which a local bucket \
                     cannot keep"
                ),
            )
        })?;
        let (parent, name) = (
            path.parent().unwrap_or(&root).to_path_buf(),
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        if parent.is_file() || path.is_dir() {
            return Err(BucketError::refused(
                400,
                "InvalidArgument",
                format!(
                    "The key '{key}' is both an object and a prefix of other keys, which a local \
                     bucket cannot keep"
                ),
            ));
        }
        crate::dir::write_durably(&parent, &name, body).map_err(io(&path))?;
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        let etag = crate::bucket_config::etag(&meta);
        self.notify(
            bucket,
            key,
            "ObjectCreated:Put",
            Some((body.len(), &etag)),
            now_ms,
        )?;
        Ok(etag)
    }

    /// An object that delivery wrote into a local bucket (a flow log's, a stream's): its
    /// `ObjectCreated:Put` event, if the bucket's notification configuration takes it.
    pub fn object_created(&self, bucket: &str, key: &str, now_ms: u64) -> Result<(), BucketError> {
        let Some(path) = object_path(&self.root(bucket), key) else {
            return Ok(());
        };
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        let etag = crate::bucket_config::etag(&meta);
        self.notify(
            bucket,
            key,
            "ObjectCreated:Put",
            Some((meta.len() as usize, &etag)),
            now_ms,
        )
    }

    /// DeleteObject (an absent key is no error, as in S3).
    pub fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        account: &str,
        now_ms: u64,
    ) -> Result<(), BucketError> {
        let root = self.owned(bucket, account)?;
        let Some(path) = object_path(&root, key) else {
            return Ok(());
        };
        match std::fs::remove_file(&path) {
            Ok(()) => self.notify(bucket, key, "ObjectRemoved:Delete", None, now_ms),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// A configuration of a bucket `account` owns, as kept (JSON), if set.
    pub fn config(
        &self,
        bucket: &str,
        account: &str,
        which: Config,
    ) -> Result<Option<String>, BucketError> {
        self.owned(bucket, account)?;
        self.config_of(bucket, which)
    }

    fn config_of(&self, bucket: &str, which: Config) -> Result<Option<String>, BucketError> {
        let got: Option<Option<String>> = self
            .conn
            .query_row(
                &format!("SELECT {} FROM buckets WHERE name = ?1", which.column()),
                [bucket],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        Ok(got.flatten())
    }

    /// Sets (or with `None` removes) a configuration of a bucket `account` owns.
    pub fn set_config(
        &self,
        bucket: &str,
        account: &str,
        which: Config,
        value: Option<&str>,
    ) -> Result<(), BucketError> {
        self.owned(bucket, account)?;
        if which == Config::Policy
            && let Some(p) = value
            && (!p.trim_start().starts_with('{')
                || serde_json::from_str::<serde_json::Value>(p).is_err())
        {
            return Err(BucketError::refused(
                400,
                "MalformedPolicy",
                "Policies must be valid JSON and the first byte must be '{'",
            ));
        }
        // A configured bucket gets its row the first time one of its configurations is set.
        self.conn
            .execute(
                "INSERT OR IGNORE INTO buckets (name, account, created_ms) VALUES (?1, ?2, 0)",
                params![bucket, account],
            )
            .map_err(db)?;
        self.conn
            .execute(
                &format!("UPDATE buckets SET {} = ?2 WHERE name = ?1", which.column()),
                params![bucket, value],
            )
            .map_err(db)?;
        Ok(())
    }

    /// GetBucketPolicy: the policy, or S3's `NoSuchBucketPolicy`.
    pub fn policy(&self, bucket: &str, account: &str) -> Result<String, BucketError> {
        self.config(bucket, account, Config::Policy)?
            .ok_or_else(|| {
                BucketError::refused(
                    404,
                    "NoSuchBucketPolicy",
                    "The bucket policy does not exist",
                )
            })
    }

    /// GetBucketLifecycleConfiguration: the rules, or S3's `NoSuchLifecycleConfiguration`.
    pub fn lifecycle(
        &self,
        bucket: &str,
        account: &str,
    ) -> Result<Vec<LifecycleRule>, BucketError> {
        let kept = self
            .config(bucket, account, Config::Lifecycle)?
            .ok_or_else(|| {
                BucketError::refused(
                    404,
                    "NoSuchLifecycleConfiguration",
                    "The lifecycle configuration does not exist",
                )
            })?;
        Ok(serde_json::from_str(&kept).unwrap_or_default())
    }

    /// PutBucketLifecycleConfiguration (`None`: DeleteBucketLifecycle).
    pub fn set_lifecycle(
        &self,
        bucket: &str,
        account: &str,
        rules: Option<&[LifecycleRule]>,
    ) -> Result<(), BucketError> {
        let kept = rules.map(|r| serde_json::to_string(r).expect("rules serialize"));
        self.set_config(bucket, account, Config::Lifecycle, kept.as_deref())
    }

    /// GetBucketNotificationConfiguration: the targets (none when never set).
    pub fn notification(
        &self,
        bucket: &str,
        account: &str,
    ) -> Result<Vec<NotificationTarget>, BucketError> {
        Ok(self
            .config(bucket, account, Config::Notification)?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    /// PutBucketNotificationConfiguration (no targets: none kept).
    pub fn set_notification(
        &self,
        bucket: &str,
        account: &str,
        targets: &[NotificationTarget],
    ) -> Result<(), BucketError> {
        let kept = (!targets.is_empty())
            .then(|| serde_json::to_string(targets).expect("targets serialize"));
        self.set_config(bucket, account, Config::Notification, kept.as_deref())
    }

    /// Leaves an event for each notification target of `bucket` that takes `event` for `key`.
    fn notify(
        &self,
        bucket: &str,
        key: &str,
        event: &str,
        object: Option<(usize, &str)>,
        now_ms: u64,
    ) -> Result<(), BucketError> {
        let Some(targets) = self.config_of(bucket, Config::Notification)? else {
            return Ok(());
        };
        let targets: Vec<NotificationTarget> = serde_json::from_str(&targets).unwrap_or_default();
        for t in targets.iter().filter(|t| {
            subscribed(&t.events, event) && key.starts_with(&t.prefix) && key.ends_with(&t.suffix)
        }) {
            let body = self.event_body(bucket, key, event, object, &t.id, now_ms);
            let seq: i64 = self
                .conn
                .query_row(
                    "INSERT INTO settings (key, value) VALUES ('s3.event_seq', '1') \
                     ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 \
                     RETURNING CAST(value AS INTEGER)",
                    [],
                    |r| r.get(0),
                )
                .map_err(db)?;
            let doc = serde_json::json!({ "url": t.url, "body": body });
            let dir = self.dir.s3_events();
            crate::dir::write_durably(&dir, &format!("{seq:016}.json"), doc.to_string().as_bytes())
                .map_err(io(&dir))?;
        }
        Ok(())
    }

    /// S3's event notification message (event structure version 2.1).
    fn event_body(
        &self,
        bucket: &str,
        key: &str,
        event: &str,
        object: Option<(usize, &str)>,
        configuration: &str,
        now_ms: u64,
    ) -> String {
        let c = Civil::of_secs(now_ms / 1000);
        let time = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            now_ms % 1000
        );
        let owner = self.owner_of(bucket).ok().flatten().unwrap_or_default();
        let encoded: String = form_encode(key);
        let mut obj = serde_json::json!({ "key": encoded, "sequencer": format!("{now_ms:016X}") });
        if let Some((size, etag)) = object {
            obj["size"] = size.into();
            obj["eTag"] = etag.trim_matches('"').into();
        }
        serde_json::json!({ "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": self.region,
            "eventTime": time,
            "eventName": event,
            "userIdentity": { "principalId": owner },
            "requestParameters": { "sourceIPAddress": "127.0.0.1" },
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": configuration,
                "bucket": {
                    "name": bucket,
                    "ownerIdentity": { "principalId": owner },
                    "arn": format!("arn:aws:s3:::{bucket}"),
                },
                "object": obj,
            },
        }]})
        .to_string()
    }

    /// The events waiting to be posted, oldest first.
    pub fn pending_events(&self) -> Result<Vec<PendingEvent>, BucketError> {
        let dir = self.dir.s3_events();
        let mut names: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir)(e)),
        };
        names.sort();
        let mut out = Vec::new();
        for path in names {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if let (Some(url), Some(body)) = (doc["url"].as_str(), doc["body"].as_str()) {
                out.push(PendingEvent {
                    url: url.to_owned(),
                    body: body.to_owned(),
                    path,
                });
            }
        }
        Ok(out)
    }

    /// Removes an event once its webhook took it.
    pub fn event_posted(&self, e: &PendingEvent) -> Result<(), BucketError> {
        match std::fs::remove_file(&e.path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(io(&e.path)(err)),
            _ => Ok(()),
        }
    }

    /// Applies every bucket's lifecycle expiration at `now_ms`: an object expires at the first
    /// midnight UTC at least `Days` days after it was last written (S3 rounds so), and is
    /// removed (with its `ObjectRemoved:Delete` event... S3 sends `LifecycleExpiration:Delete`).
    /// The keys removed, by bucket.
    pub fn expire(&self, now_ms: u64) -> Result<Vec<(String, String)>, BucketError> {
        let mut st = self
            .conn
            .prepare("SELECT name, lifecycle FROM buckets WHERE lifecycle IS NOT NULL")
            .map_err(db)?;
        let rows: Vec<(String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        let mut removed = Vec::new();
        for (bucket, rules) in rows {
            let rules: Vec<LifecycleRule> = serde_json::from_str(&rules).unwrap_or_default();
            let root = self.root(&bucket);
            let all = crate::bucket_config::objects(&root).map_err(io(&root))?;
            for (key, written_ms) in all.iter().map(|(k, m)| (k, mtime_ms(m))) {
                let expired = rules.iter().any(|r| {
                    r.enabled
                        && key.starts_with(r.prefix.as_str())
                        && r.expiration_days
                            .is_some_and(|d| expires_at(written_ms, d) <= now_ms)
                });
                if expired {
                    let path = root.join(key);
                    match std::fs::remove_file(&path) {
                        Ok(()) => {
                            self.notify(&bucket, key, "LifecycleExpiration:Delete", None, now_ms)?;
                            removed.push((bucket.clone(), key.clone()));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io(&path)(e)),
                    }
                }
            }
        }
        Ok(removed)
    }
}

/// When an object written at `written_ms` expires after `days`: the midnight UTC that follows
/// `written + days` (or is it).
pub fn expires_at(written_ms: u64, days: u32) -> u64 {
    const DAY_MS: u64 = 86_400_000;
    let t = written_ms + u64::from(days) * DAY_MS;
    t.div_ceil(DAY_MS) * DAY_MS
}

/// Keys in event messages are URL-encoded as a form (`+` for space).
fn form_encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3() {
        for ok in ["abc", "flow-logs", "a.b-c.1", &"a".repeat(63)] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "192.168.1.1",
            &"a".repeat(64),
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn events_and_expiry() {
        let ev = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(subscribed(
            &ev(&["s3:ObjectCreated:*"]),
            "ObjectCreated:Put"
        ));
        assert!(subscribed(
            &ev(&["s3:ObjectRemoved:Delete"]),
            "ObjectRemoved:Delete"
        ));
        assert!(!subscribed(
            &ev(&["s3:ObjectCreated:*"]),
            "ObjectRemoved:Delete"
        ));
        assert!(subscribed(
            &ev(&["s3:LifecycleExpiration:*"]),
            "LifecycleExpiration:Delete"
        ));
        // Written 2026-01-15 14:00 with 1 day: expires 2026-01-17 00:00 UTC.
        let written = 1_768_485_600_000;
        assert_eq!(expires_at(written, 1), 1_768_608_000_000);
        assert_eq!(expires_at(1_768_435_200_000, 1), 1_768_521_600_000);
        assert_eq!(form_encode("a b/c+d"), "a+b/c%2Bd");
    }
}
