//! Firehose delivery streams as a service (Direct PUT): CreateDeliveryStream,
//! DescribeDeliveryStream, ListDeliveryStreams and DeleteDeliveryStream with Firehose's
//! validation and errors, kept in `state.db` (`delivery_streams`); PutRecord and PutRecordBatch,
//! whose records are written durably (`DATA/firehose/<account>/<stream>/<seq>-<ms>.batch`)
//! before the call is answered; and the streams' buffers, which a pump drains ([`Firehose::due`]
//! hands out what a stream's buffering hints make due, [`Firehose::delivered`] removes it once
//! it is at the destination). Delivery itself (buckets, HTTP endpoints) is the delivery crate's.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension as _, params};
use serde::{Deserialize, Serialize};

use crate::DataDir;
use crate::db::DbError;

/// The largest record (Firehose's quota: 1,000 KiB before base64).
pub const MAX_RECORD_BYTES: usize = 1_024_000;
/// The most records one PutRecordBatch takes.
pub const MAX_BATCH_RECORDS: usize = 500;
/// The most bytes of records one PutRecordBatch takes.
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// ListDeliveryStreams' largest page, and its default.
pub const LIST_LIMIT: usize = 10_000;

/// One Firehose error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirehoseErrorCode {
    /// The stream does not exist (for the caller).
    ResourceNotFound,
    /// A stream of that name exists already.
    ResourceInUse,
    /// A value the service cannot take.
    InvalidArgument,
    /// A member outside its constraints.
    Validation,
    /// Too many streams.
    LimitExceeded,
}

/// A row of [`FIREHOSE_ERRORS`].
#[derive(Debug)]
pub struct FirehoseErrorDef {
    /// Which.
    pub code: FirehoseErrorCode,
    /// The `__type` on the wire.
    pub name: &'static str,
    /// HTTP status.
    pub status: u16,
}

/// Every code, once.
pub const FIREHOSE_ERRORS: &[FirehoseErrorDef] = &[
    FirehoseErrorDef {
        code: FirehoseErrorCode::ResourceNotFound,
        name: "ResourceNotFoundException",
        status: 400,
    },
    FirehoseErrorDef {
        code: FirehoseErrorCode::ResourceInUse,
        name: "ResourceInUseException",
        status: 400,
    },
    FirehoseErrorDef {
        code: FirehoseErrorCode::InvalidArgument,
        name: "InvalidArgumentException",
        status: 400,
    },
    FirehoseErrorDef {
        code: FirehoseErrorCode::Validation,
        name: "ValidationException",
        status: 400,
    },
    FirehoseErrorDef {
        code: FirehoseErrorCode::LimitExceeded,
        name: "LimitExceededException",
        status: 400,
    },
];

impl FirehoseErrorCode {
    /// This code's row.
    pub fn def(self) -> &'static FirehoseErrorDef {
        FIREHOSE_ERRORS
            .iter()
            .find(|d| d.code == self)
            .expect("every code has a row")
    }
}

/// A request Firehose refuses, or a store that failed it.
#[derive(Debug, thiserror::Error)]
pub enum FirehoseError {
    /// The request's fault.
    #[error("{} (the request is at fault): {message}", code.def().name)]
    Refused {
        /// Which error.
        code: FirehoseErrorCode,
        /// The message.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A buffer file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl FirehoseError {
    fn refused(code: FirehoseErrorCode, message: impl Into<String>) -> FirehoseError {
        FirehoseError::Refused {
            code,
            message: message.into(),
        }
    }

    fn not_found(name: &str, account: &str) -> FirehoseError {
        FirehoseError::refused(
            FirehoseErrorCode::ResourceNotFound,
            format!("Firehose stream {name} under account {account} not found."),
        )
    }

    fn validation(value: &str, member: &str, constraint: &str) -> FirehoseError {
        FirehoseError::refused(
            FirehoseErrorCode::Validation,
            format!(
                "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
                 constraint: {constraint}"
            ),
        )
    }
}

/// Buffering hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BufferingHints {
    /// MiB (1–128; Firehose's default 5).
    #[serde(rename = "SizeInMBs")]
    pub size_in_mbs: Option<u32>,
    /// Seconds (0–900; default 300).
    pub interval_in_seconds: Option<u32>,
}

/// An S3 destination as CreateDeliveryStream gives it (`S3DestinationConfiguration`,
/// `ExtendedS3DestinationConfiguration`, an HTTP endpoint's `S3Configuration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Configuration {
    /// The role Firehose would assume.
    #[serde(rename = "RoleARN")]
    pub role_arn: String,
    /// `arn:aws:s3:::BUCKET`.
    #[serde(rename = "BucketARN")]
    pub bucket_arn: String,
    /// Key prefix (before `YYYY/MM/DD/HH/`).
    pub prefix: Option<String>,
    /// Prefix of failed records.
    pub error_output_prefix: Option<String>,
    /// Buffering hints.
    pub buffering_hints: Option<BufferingHints>,
    /// `UNCOMPRESSED` (default) or `GZIP`.
    pub compression_format: Option<String>,
}

/// An HTTP endpoint's URL, name and access key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointConfiguration {
    /// `https://…` (Firehose wants HTTPS; `http://` is taken here, for local receivers).
    pub url: String,
    /// A name for it.
    pub name: Option<String>,
    /// Sent as `X-Amz-Firehose-Access-Key`.
    pub access_key: Option<String>,
}

/// `HttpEndpointDestinationConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpEndpointConfiguration {
    /// The endpoint.
    pub endpoint_configuration: EndpointConfiguration,
    /// Buffering hints.
    pub buffering_hints: Option<BufferingHints>,
    /// The backup bucket (required by Firehose).
    #[serde(rename = "S3Configuration")]
    pub s3_configuration: S3Configuration,
    /// The role.
    #[serde(rename = "RoleARN")]
    pub role_arn: Option<String>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: Option<String>,
}

/// CreateDeliveryStream. Members of other destinations and sources are collected so that
/// they are refused by name rather than ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDeliveryStream {
    /// 1–64 of `[a-zA-Z0-9_.-]`.
    pub delivery_stream_name: String,
    /// `DirectPut` (the default) only.
    pub delivery_stream_type: Option<String>,
    /// S3.
    pub s3_destination_configuration: Option<S3Configuration>,
    /// S3, extended.
    pub extended_s3_destination_configuration: Option<S3Configuration>,
    /// An HTTP endpoint.
    pub http_endpoint_destination_configuration: Option<HttpEndpointConfiguration>,
    /// Tags.
    pub tags: Option<Vec<Tag>>,
    /// Everything else given.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// Where a stream delivers, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Destination {
    /// A local bucket.
    S3 {
        /// `ExtendedS3…` or plain `S3…`, as created (Describe answers in the same words).
        extended: bool,
        /// The role.
        role_arn: String,
        /// The bucket.
        bucket: String,
        /// Key prefix.
        prefix: String,
        /// Failed records' prefix.
        error_output_prefix: Option<String>,
        /// Whether objects are gzipped.
        gzip: bool,
    },
    /// An HTTP endpoint (Firehose's HTTP-endpoint delivery protocol).
    Http {
        /// URL.
        url: String,
        /// Name.
        name: Option<String>,
        /// Access key.
        access_key: Option<String>,
        /// The backup bucket, as given.
        backup_bucket: String,
        /// The backup role.
        backup_role_arn: String,
    },
}

/// A delivery stream as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Owner.
    pub account: String,
    /// Where it delivers.
    pub destination: Destination,
    /// Buffering size (MiB).
    pub size_mb: u32,
    /// Buffering interval (s).
    pub interval_secs: u32,
    /// Tags.
    pub tags: Vec<Tag>,
    /// When it was created (ms).
    pub created_ms: u64,
}

/// ListDeliveryStreams.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDeliveryStreams {
    /// Page size (1–10000).
    pub limit: Option<i64>,
    /// `DirectPut`, `KinesisStreamAsSource`, …
    pub delivery_stream_type: Option<String>,
    /// Names after this one.
    pub exclusive_start_delivery_stream_name: Option<String>,
}

/// ListDeliveryStreams' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryStreamNames {
    /// Names, in order.
    pub delivery_stream_names: Vec<String>,
    /// Whether more follow.
    pub has_more_delivery_streams: bool,
}

/// A buffer's contents due for delivery: whole batches, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The stream.
    pub spec: StreamSpec,
    /// Its records, in order.
    pub records: Vec<Vec<u8>>,
    /// A stable id for the delivery (the same after a crash and retry): a GUID's shape.
    pub id: String,
    /// When its first batch was put (ms).
    pub first_ms: u64,
    /// The batch files it empties.
    pub files: Vec<PathBuf>,
}

/// The most delivery streams an account holds (Firehose's default quota).
pub const MAX_STREAMS: usize = 5000;

/// The Firehose service over one data directory.
pub struct Firehose {
    conn: Connection,
    dir: DataDir,
    region: String,
}

fn db(e: rusqlite::Error) -> FirehoseError {
    FirehoseError::Db(DbError::Sqlite {
        path: "state.db".into(),
        source: e,
    })
}

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> FirehoseError + '_ {
    move |source| FirehoseError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl CreateDeliveryStream {
    /// Checks the request with no I/O: name, source type, exactly one destination of the kinds
    /// served, its hints; the stream as it would be kept (its bucket not yet checked).
    pub fn check(
        &self,
        account: &str,
        region: &str,
        now_ms: u64,
    ) -> Result<StreamSpec, FirehoseError> {
        check_name(&self.delivery_stream_name)?;
        match self.delivery_stream_type.as_deref() {
            None | Some("DirectPut") => {}
            Some(t @ ("KinesisStreamAsSource" | "MSKAsSource" | "DatabaseAsSource")) => {
                return Err(FirehoseError::refused(
                    FirehoseErrorCode::InvalidArgument,
                    format!(
                        "DeliveryStreamType {t} is not served here: vpcflow's Firehose streams \
                         are Direct PUT (PutRecord, PutRecordBatch, subscription filters)"
                    ),
                ));
            }
            Some(t) => {
                return Err(FirehoseError::validation(
                    t,
                    "deliveryStreamType",
                    "Member must satisfy enum value set: [DatabaseAsSource, DirectPut, \
                     KinesisStreamAsSource, MSKAsSource]",
                ));
            }
        }
        if let Some(other) = self.other.keys().find(|k| k.ends_with("Configuration")) {
            return Err(FirehoseError::refused(
                FirehoseErrorCode::InvalidArgument,
                format!(
                    "{other} is not served here: vpcflow's Firehose delivers to S3 \
                     (ExtendedS3DestinationConfiguration, S3DestinationConfiguration) and HTTP \
                     endpoints (HttpEndpointDestinationConfiguration)"
                ),
            ));
        }
        let given = [
            self.s3_destination_configuration.is_some(),
            self.extended_s3_destination_configuration.is_some(),
            self.http_endpoint_destination_configuration.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(FirehoseError::refused(
                FirehoseErrorCode::InvalidArgument,
                "Exactly one destination configuration is supported for a Firehose stream",
            ));
        }
        let (destination, hints) = self.destination()?;
        let size_mb = hints.and_then(|h| h.size_in_mbs).unwrap_or(5);
        let interval_secs = hints.and_then(|h| h.interval_in_seconds).unwrap_or(300);
        if !(1..=128).contains(&size_mb) {
            return Err(FirehoseError::validation(
                &size_mb.to_string(),
                "bufferingHints.sizeInMBs",
                "Member must have value between 1 and 128",
            ));
        }
        if interval_secs > 900 {
            return Err(FirehoseError::validation(
                &interval_secs.to_string(),
                "bufferingHints.intervalInSeconds",
                "Member must have value less than or equal to 900",
            ));
        }
        let tags = self.tags.clone().unwrap_or_default();
        if tags.len() > 50 {
            return Err(FirehoseError::validation(
                &tags.len().to_string(),
                "tags",
                "Member must have length less than or equal to 50",
            ));
        }
        let name = self.delivery_stream_name.clone();
        Ok(StreamSpec {
            arn: format!("arn:aws:firehose:{region}:{account}:deliverystream/{name}"),
            name,
            account: account.to_owned(),
            destination,
            size_mb,
            interval_secs,
            tags,
            created_ms: now_ms,
        })
    }

    fn destination(&self) -> Result<(Destination, Option<BufferingHints>), FirehoseError> {
        if let Some(h) = &self.http_endpoint_destination_configuration {
            let url = &h.endpoint_configuration.url;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(FirehoseError::validation(
                    url,
                    "httpEndpointDestinationConfiguration.endpointConfiguration.url",
                    "Member must satisfy regular expression pattern: https://.*",
                ));
            }
            let backup = bucket_of(&h.s3_configuration.bucket_arn)?;
            return Ok((
                Destination::Http {
                    url: url.clone(),
                    name: h.endpoint_configuration.name.clone(),
                    access_key: h.endpoint_configuration.access_key.clone(),
                    backup_bucket: backup,
                    backup_role_arn: h.s3_configuration.role_arn.clone(),
                },
                h.buffering_hints,
            ));
        }
        let (extended, c) = match (
            &self.extended_s3_destination_configuration,
            &self.s3_destination_configuration,
        ) {
            (Some(c), _) => (true, c),
            (None, Some(c)) => (false, c),
            (None, None) => unreachable!("one destination is given"),
        };
        let gzip = match c.compression_format.as_deref() {
            None | Some("UNCOMPRESSED") => false,
            Some("GZIP") => true,
            Some(other) => {
                return Err(FirehoseError::refused(
                    FirehoseErrorCode::InvalidArgument,
                    format!("CompressionFormat {other} is not served here: UNCOMPRESSED or GZIP"),
                ));
            }
        };
        let prefix = c.prefix.clone().unwrap_or_default();
        if prefix.split('/').any(|s| s == "." || s == "..") || prefix.contains("//") {
            return Err(FirehoseError::refused(
                FirehoseErrorCode::InvalidArgument,
                format!("Prefix '{prefix}' has an empty, '.' or '..' segment"),
            ));
        }
        Ok((
            Destination::S3 {
                extended,
                role_arn: c.role_arn.clone(),
                bucket: bucket_of(&c.bucket_arn)?,
                prefix,
                error_output_prefix: c.error_output_prefix.clone(),
                gzip,
            },
            c.buffering_hints,
        ))
    }
}

/// The bucket of `arn:aws:s3:::BUCKET`.
fn bucket_of(arn: &str) -> Result<String, FirehoseError> {
    match arn.strip_prefix("arn:aws:s3:::") {
        Some(b) if !b.is_empty() && !b.contains('/') => Ok(b.to_owned()),
        _ => Err(FirehoseError::validation(
            arn,
            "bucketARN",
            "Member must satisfy regular expression pattern: arn:.*:s3:::[\\w\\.\\-]{1,255}",
        )),
    }
}

/// A stream name: 1–64 of `[a-zA-Z0-9_.-]`.
pub fn check_name(name: &str) -> Result<(), FirehoseError> {
    if name.is_empty() || name.len() > 64 {
        return Err(FirehoseError::validation(
            name,
            "deliveryStreamName",
            "Member must have length between 1 and 64",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(FirehoseError::validation(
            name,
            "deliveryStreamName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

/// Checks a PutRecordBatch's records (no I/O): 1–500, each at most 1,000 KiB, 4 MiB in all.
pub fn check_records(records: &[Vec<u8>]) -> Result<(), FirehoseError> {
    if records.is_empty() || records.len() > MAX_BATCH_RECORDS {
        return Err(FirehoseError::validation(
            &format!("{} records", records.len()),
            "records",
            "Member must have length between 1 and 500",
        ));
    }
    if let Some(big) = records.iter().find(|r| r.len() > MAX_RECORD_BYTES) {
        return Err(FirehoseError::validation(
            &format!("{} bytes", big.len()),
            "record.data",
            "Member must have length less than or equal to 1024000",
        ));
    }
    let total: usize = records.iter().map(Vec::len).sum();
    if total > MAX_BATCH_BYTES {
        return Err(FirehoseError::refused(
            FirehoseErrorCode::InvalidArgument,
            format!("The records total {total} bytes; a batch takes at most 4 MiB"),
        ));
    }
    Ok(())
}

/// A batch file's name: its sequence and when it was put.
fn batch_name(seq: u64, ms: u64) -> String {
    format!("{seq:012}-{ms:013}.batch")
}

/// Records framed for a batch file: each a little-endian u32 length, then its bytes.
fn frame(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| r.len() + 4).sum());
    for r in records {
        out.extend_from_slice(&(r.len() as u32).to_le_bytes());
        out.extend_from_slice(r);
    }
    out
}

/// A batch file's records; `None` when it is not whole.
fn unframe(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_at_checked(4)?;
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let (record, rest) = rest.split_at_checked(len)?;
        out.push(record.to_vec());
        bytes = rest;
    }
    Some(out)
}

impl Firehose {
    /// The service over `dir` (its own connection to `state.db`), naming ARNs in `region`.
    pub fn open(dir: DataDir, region: &str) -> Result<Firehose, FirehoseError> {
        Ok(Firehose {
            conn: crate::db::open(&dir.state_db())?,
            dir,
            region: region.to_owned(),
        })
    }

    fn buffer_dir(&self, account: &str, name: &str) -> PathBuf {
        self.dir.firehose().join(account).join(name)
    }

    /// CreateDeliveryStream: the stream's ARN. `bucket_exists` says whether the account has a
    /// local bucket of a name.
    pub fn create(
        &self,
        req: &CreateDeliveryStream,
        account: &str,
        now_ms: u64,
        bucket_exists: &dyn Fn(&str) -> bool,
    ) -> Result<String, FirehoseError> {
        let spec = req.check(account, &self.region, now_ms)?;
        let bucket = match &spec.destination {
            Destination::S3 { bucket, .. } => bucket,
            Destination::Http { backup_bucket, .. } => backup_bucket,
        };
        if !bucket_exists(bucket) {
            return Err(FirehoseError::refused(
                FirehoseErrorCode::InvalidArgument,
                format!(
                    "Bucket {bucket} does not exist in account {account}: Firehose delivers to \
                     local buckets (CreateBucket, or [[buckets]] in vpcflow.toml)"
                ),
            ));
        }
        let count: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM delivery_streams WHERE account = ?1",
                [account],
                |r| r.get(0),
            )
            .map_err(db)?;
        if count as usize >= MAX_STREAMS {
            return Err(FirehoseError::refused(
                FirehoseErrorCode::LimitExceeded,
                format!("You have already consumed your firehose quota of {MAX_STREAMS} hoses."),
            ));
        }
        let body = serde_json::to_string(&spec).expect("specs serialize");
        let inserted = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO delivery_streams (account, name, body, created_ms) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![account, spec.name, body, now_ms as i64],
            )
            .map_err(db)?;
        if inserted == 0 {
            return Err(FirehoseError::refused(
                FirehoseErrorCode::ResourceInUse,
                format!(
                    "Firehose stream {} under account {account} already exists.",
                    spec.name
                ),
            ));
        }
        Ok(spec.arn)
    }

    /// A stream of `account`.
    pub fn get(&self, account: &str, name: &str) -> Result<StreamSpec, FirehoseError> {
        let body: Option<String> = self
            .conn
            .query_row(
                "SELECT body FROM delivery_streams WHERE account = ?1 AND name = ?2",
                [account, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        body.and_then(|b| serde_json::from_str(&b).ok())
            .ok_or_else(|| FirehoseError::not_found(name, account))
    }

    /// Every stream of every account.
    pub fn all(&self) -> Result<Vec<StreamSpec>, FirehoseError> {
        let mut st = self
            .conn
            .prepare("SELECT body FROM delivery_streams ORDER BY account, name")
            .map_err(db)?;
        let bodies: Vec<String> = st
            .query_map([], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        Ok(bodies
            .iter()
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect())
    }

    /// ListDeliveryStreams.
    pub fn list(
        &self,
        req: &ListDeliveryStreams,
        account: &str,
    ) -> Result<DeliveryStreamNames, FirehoseError> {
        let limit = match req.limit {
            None => LIST_LIMIT,
            Some(n) if (1..=LIST_LIMIT as i64).contains(&n) => n as usize,
            Some(n) => {
                return Err(FirehoseError::validation(
                    &n.to_string(),
                    "limit",
                    "Member must have value between 1 and 10000",
                ));
            }
        };
        let names: Vec<String> = if matches!(
            req.delivery_stream_type.as_deref(),
            None | Some("DirectPut")
        ) {
            let mut st = self
                .conn
                .prepare(
                    "SELECT name FROM delivery_streams WHERE account = ?1 AND name > ?2 \
                     ORDER BY name",
                )
                .map_err(db)?;
            st.query_map(
                params![
                    account,
                    req.exclusive_start_delivery_stream_name
                        .as_deref()
                        .unwrap_or("")
                ],
                |r| r.get(0),
            )
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?
        } else {
            Vec::new()
        };
        Ok(DeliveryStreamNames {
            has_more_delivery_streams: names.len() > limit,
            delivery_stream_names: names.into_iter().take(limit).collect(),
        })
    }

    /// DeleteDeliveryStream: the stream and what its buffer held.
    pub fn delete(&self, account: &str, name: &str) -> Result<(), FirehoseError> {
        check_name(name)?;
        let gone = self
            .conn
            .execute(
                "DELETE FROM delivery_streams WHERE account = ?1 AND name = ?2",
                [account, name],
            )
            .map_err(db)?;
        if gone == 0 {
            return Err(FirehoseError::not_found(name, account));
        }
        let dir = self.buffer_dir(account, name);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&dir)(e)),
            _ => Ok(()),
        }
    }

    /// PutRecord and PutRecordBatch: the records, written durably, and their record ids.
    pub fn put(
        &self,
        account: &str,
        name: &str,
        records: &[Vec<u8>],
        now_ms: u64,
    ) -> Result<Vec<String>, FirehoseError> {
        check_records(records)?;
        // The stream's row is found and its sequence taken in one statement.
        let seq: i64 = self
            .conn
            .query_row(
                "UPDATE delivery_streams SET sequence = sequence + 1 \
                 WHERE account = ?1 AND name = ?2 RETURNING sequence",
                [account, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?
            .ok_or_else(|| FirehoseError::not_found(name, account))?;
        let dir = self.buffer_dir(account, name);
        crate::dir::write_durably(&dir, &batch_name(seq as u64, now_ms), &frame(records))
            .map_err(io(&dir))?;
        Ok((0..records.len())
            .map(|i| record_id(name, seq as u64, i))
            .collect())
    }

    /// Every stream's buffered batches that its hints make due at `now_ms`: all of a stream's
    /// when they reach its size, or when its oldest has waited its interval (`flush`: all of
    /// every stream's, on a stop). At most one delivery per stream, of at most its size.
    pub fn due(&self, now_ms: u64, flush: bool) -> Result<Vec<Due>, FirehoseError> {
        let mut out = Vec::new();
        for spec in self.all()? {
            let dir = self.buffer_dir(&spec.account, &spec.name);
            let batches = batches(&dir)?;
            let Some((_, first_ms, _)) = batches.first() else {
                continue;
            };
            let first_ms = *first_ms;
            let limit = spec.size_mb as u64 * (1 << 20);
            let total: u64 = batches.iter().map(|(_, _, len)| len).sum();
            let waited = now_ms.saturating_sub(first_ms) >= u64::from(spec.interval_secs) * 1000;
            if !(flush || waited || total >= limit) {
                continue;
            }
            let (mut records, mut files, mut bytes) = (Vec::new(), Vec::new(), 0);
            for (path, _, len) in &batches {
                if !files.is_empty() && bytes + len > limit {
                    break;
                }
                let data = std::fs::read(path).map_err(io(path))?;
                // A batch that is not whole was never acknowledged (it is renamed into place
                // whole): it is dropped with the delivery.
                records.extend(unframe(&data).unwrap_or_default());
                files.push(path.clone());
                bytes += len;
            }
            let id = delivery_id(&spec.arn, &files[0]);
            out.push(Due {
                spec,
                records,
                id,
                first_ms,
                files,
            });
        }
        Ok(out)
    }

    /// Removes a delivery's batches once its destination has them.
    pub fn delivered(&self, due: &Due) -> Result<(), FirehoseError> {
        for f in &due.files {
            match std::fs::remove_file(f) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(f)(e)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// A buffer's batch files in order: (path, put time ms, bytes).
fn batches(dir: &std::path::Path) -> Result<Vec<(PathBuf, u64, u64)>, FirehoseError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((_, ms)) = name
            .strip_suffix(".batch")
            .and_then(|stem| stem.split_once('-'))
        else {
            continue;
        };
        let Ok(ms) = ms.parse::<u64>() else { continue };
        let len = entry.metadata().map_err(io(dir))?.len();
        out.push((entry.path(), ms, len));
    }
    out.sort();
    Ok(out)
}

/// A record id: opaque and unique per stream, as Firehose's are.
fn record_id(stream: &str, seq: u64, index: usize) -> String {
    let h = crate::ids::stable_hash(&[stream.as_bytes(), &seq.to_le_bytes()]);
    format!("{h:016x}{seq:024x}{index:08x}")
}

/// A delivery's id in a GUID's shape, from the stream and its first batch (stable across
/// retries, so a redelivered object lands on the same key).
fn delivery_id(arn: &str, first: &std::path::Path) -> String {
    let name = first
        .file_name()
        .map(|n| n.as_encoded_bytes())
        .unwrap_or_default();
    crate::ids::guid(&[arn.as_bytes(), name], b"delivery")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_a_cut_batch_is_not_whole() {
        let records = vec![b"a".to_vec(), Vec::new(), vec![0u8; 300]];
        let framed = frame(&records);
        assert_eq!(unframe(&framed), Some(records));
        assert_eq!(unframe(&framed[..framed.len() - 1]), None);
        assert_eq!(unframe(&[1, 0]), None);
    }

    #[test]
    fn names_and_record_counts_are_checked() {
        for bad in ["", "a b", "x/y", &"n".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        check_name("flow-logs_1.a").unwrap();
        assert!(check_records(&[]).is_err());
        assert!(check_records(&vec![vec![1]; 501]).is_err());
        assert!(check_records(&[vec![0; MAX_RECORD_BYTES + 1]]).is_err());
        assert!(check_records(&vec![vec![0; 1_000_000]; 5]).is_err());
        check_records(&vec![vec![0; 1000]; 500]).unwrap();
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(record_id("s", 1, 0), record_id("s", 1, 0));
        assert_ne!(record_id("s", 1, 0), record_id("s", 1, 1));
        assert_ne!(record_id("s", 1, 0), record_id("s", 2, 0));
        let p = std::path::Path::new("000000000001-0000000000001.batch");
        assert_eq!(delivery_id("arn", p), delivery_id("arn", p));
        assert_eq!(delivery_id("arn", p).len(), 36);
    }
}
