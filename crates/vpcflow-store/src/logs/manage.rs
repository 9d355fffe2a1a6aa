//! Log groups made and changed by request: CreateLogGroup, DeleteLogGroup, PutRetentionPolicy,
//! DeleteRetentionPolicy and the group's tags (TagResource, UntagResource, ListTagsForResource
//! and their older forms TagLogGroup, UntagLogGroup, ListTagsLogGroup), with CloudWatch Logs'
//! validation and messages. Delivery creates
//! the groups of flow logs itself (as AWS's flow logs do); these are the API's and the CLI's.

use std::collections::BTreeMap;

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{LogStore, LogsError, LogsErrorCode, index};

pub use crate::retention::RETENTION_DAYS;

/// The longest log-group name.
pub const MAX_NAME: usize = 512;

/// CreateLogGroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateLogGroup {
    /// 1–512 of `[.\-_/#A-Za-z0-9]`.
    pub log_group_name: String,
    /// Encryption key (kept by AWS; vpcflow stores segments unencrypted and refuses it).
    pub kms_key_id: Option<String>,
    /// `STANDARD` (the only class vpcflow keeps).
    pub log_group_class: Option<String>,
    /// Its tags.
    pub tags: Option<BTreeMap<String, String>>,
}

/// The most tags a log group carries.
pub const MAX_TAGS: usize = 50;

/// TagResource (`resourceArn`, `tags`) and TagLogGroup (`logGroupName`, `tags`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagRequest {
    /// The group's ARN (TagResource).
    pub resource_arn: Option<String>,
    /// The group's name (TagLogGroup).
    pub log_group_name: Option<String>,
    /// Tags to set.
    pub tags: BTreeMap<String, String>,
}

/// UntagResource (`resourceArn`, `tagKeys`) and UntagLogGroup (`logGroupName`, `tags`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagRequest {
    /// The group's ARN (UntagResource).
    pub resource_arn: Option<String>,
    /// The group's name (UntagLogGroup).
    pub log_group_name: Option<String>,
    /// Keys to remove (UntagResource).
    pub tag_keys: Option<Vec<String>>,
    /// Keys to remove (UntagLogGroup).
    pub tags: Option<Vec<String>>,
}

/// ListTagsForResource (`resourceArn`) and ListTagsLogGroup (`logGroupName`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsRequest {
    /// The group's ARN.
    pub resource_arn: Option<String>,
    /// The group's name.
    pub log_group_name: Option<String>,
}

/// A group's tags, as both list operations answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tags {
    /// Key to value.
    pub tags: BTreeMap<String, String>,
}

/// A tag's own rules (CloudWatch Logs' TagResource: keys 1–128 characters not starting
/// `aws:`, values up to 256).
pub fn check_tag(key: &str, value: &str) -> Result<(), LogsError> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(validation(
            key,
            "tags",
            "Member must have length less than or equal to 128 and greater than or equal to 1",
        ));
    }
    if key.starts_with("aws:") {
        return Err(LogsError::refused(
            LogsErrorCode::InvalidParameter,
            "Tag keys may not start with the reserved prefix aws:",
        ));
    }
    if value.chars().count() > 256 {
        return Err(validation(
            value,
            "tags",
            "Member must have length less than or equal to 256",
        ));
    }
    Ok(())
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), LogsError> {
    for (k, v) in tags {
        check_tag(k, v)?;
    }
    if tags.len() > MAX_TAGS {
        return Err(LogsError::refused(
            LogsErrorCode::InvalidParameter,
            format!("A log group can have at most {MAX_TAGS} tags."),
        ));
    }
    Ok(())
}

/// The group a tag request names: by name, or by ARN (`arn:aws:logs:R:A:log-group:NAME`).
fn tagged_group<'a>(arn: Option<&'a str>, name: Option<&'a str>) -> Result<&'a str, LogsError> {
    match (arn, name) {
        (Some(arn), _) => arn
            .split_once(":log-group:")
            .map(|(_, g)| g.strip_suffix(":*").unwrap_or(g))
            .filter(|g| !g.is_empty())
            .ok_or_else(|| {
                LogsError::refused(
                    LogsErrorCode::InvalidParameter,
                    format!("Invalid resource ARN: {arn}; a log group's is arn:aws:logs:REGION:ACCOUNT:log-group:NAME"),
                )
            }),
        (None, Some(name)) => Ok(name),
        (None, None) => Err(LogsError::refused(
            LogsErrorCode::InvalidParameter,
            "Either resourceArn or logGroupName must be given.",
        )),
    }
}

/// DeleteLogGroup and DeleteRetentionPolicy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroupRequest {
    /// The group.
    pub log_group_name: String,
}

/// PutRetentionPolicy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRetentionPolicy {
    /// The group.
    pub log_group_name: String,
    /// One of [`RETENTION_DAYS`].
    pub retention_in_days: i64,
}

fn validation(value: &str, member: &str, constraint: &str) -> LogsError {
    LogsError::refused(
        LogsErrorCode::InvalidParameter,
        format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: {constraint}"
        ),
    )
}

/// A log-group name's own rules (AWS's pattern and length), without I/O.
pub fn check_name(name: &str) -> Result<(), LogsError> {
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(validation(
            name,
            "logGroupName",
            &format!(
                "Member must have length less than or equal to {MAX_NAME} and greater than or equal to 1"
            ),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#');
    if !name.chars().all(allowed) {
        return Err(validation(
            name,
            "logGroupName",
            "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
        ));
    }
    Ok(())
}

/// A retention value's own rule, without I/O.
pub fn check_retention(days: i64) -> Result<u32, LogsError> {
    u32::try_from(days)
        .ok()
        .filter(|d| RETENTION_DAYS.contains(d))
        .ok_or_else(|| {
            validation(
                &days.to_string(),
                "retentionInDays",
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    RETENTION_DAYS
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
}

impl CreateLogGroup {
    /// The request's own rules, without I/O.
    pub fn check(&self) -> Result<(), LogsError> {
        check_name(&self.log_group_name)?;
        if self.kms_key_id.is_some() {
            return Err(LogsError::refused(
                LogsErrorCode::InvalidParameter,
                "kmsKeyId: vpcflow keeps log groups unencrypted; create the group without a KMS key",
            ));
        }
        match self.log_group_class.as_deref() {
            None | Some("STANDARD") => Ok(()),
            Some(c @ ("INFREQUENT_ACCESS" | "DELIVERY")) => Err(LogsError::refused(
                LogsErrorCode::InvalidParameter,
                format!("logGroupClass {c}: vpcflow keeps STANDARD log groups only"),
            )),
            Some(other) => Err(validation(
                other,
                "logGroupClass",
                "Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]",
            )),
        }
    }
}

impl LogStore {
    /// The owner of an existing group, or `ResourceNotFoundException`; a group of another
    /// account is not found, as in AWS.
    pub(super) fn owned(&self, group: &str, account: &str) -> Result<(), LogsError> {
        if !self.db(index::group_exists(&self.conn, group))? {
            return Err(LogsError::no_group());
        }
        let owner = self.db(index::group_account(&self.conn, group))?;
        if owner.as_deref().unwrap_or(&self.account) == account {
            Ok(())
        } else {
            Err(LogsError::no_group())
        }
    }

    /// CreateLogGroup, as `account`, at `now_ms`.
    pub fn create_log_group(
        &self,
        req: &CreateLogGroup,
        account: &str,
        now_ms: u64,
    ) -> Result<(), LogsError> {
        req.check()?;
        let tags = req.tags.clone().unwrap_or_default();
        check_tags(&tags)?;
        let inserted = self.db(self.conn.execute(
            "INSERT OR IGNORE INTO log_groups (name, created_ms, retention_days, account, tags) \
             VALUES (?1, ?2, NULL, ?3, ?4)",
            params![req.log_group_name, now_ms as i64, account, tags_json(&tags)],
        ))?;
        if inserted == 0 {
            return Err(LogsError::refused(
                LogsErrorCode::ResourceAlreadyExists,
                "The specified log group already exists",
            ));
        }
        // Its directory too, as delivery makes it: readers take a group as its row and its
        // directory (an empty group is queried as one with no events).
        let dir = self.dir.log_group(&req.log_group_name);
        std::fs::create_dir_all(&dir).map_err(|e| LogsError::Io {
            path: dir.display().to_string(),
            source: e,
        })
    }

    /// DeleteLogGroup: the group, its index rows and its segment files. A flow log still
    /// delivering to it creates it again, as AWS's do.
    pub fn delete_log_group(&self, req: &LogGroupRequest, account: &str) -> Result<(), LogsError> {
        check_name(&req.log_group_name)?;
        self.owned(&req.log_group_name, account)?;
        for table in [
            "segments",
            "metric_filters",
            "log_streams",
            "subscription_filters",
        ] {
            self.db(self.conn.execute(
                &format!("DELETE FROM {table} WHERE log_group = ?1"),
                [&req.log_group_name],
            ))?;
        }
        self.db(self.conn.execute(
            "DELETE FROM log_groups WHERE name = ?1",
            [&req.log_group_name],
        ))?;
        // The files go after the rows: a reader never finds a row without its file.
        let dir = self.dir.log_group(&req.log_group_name);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LogsError::Io {
                path: dir.display().to_string(),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// PutRetentionPolicy.
    pub fn put_retention_policy(
        &self,
        req: &PutRetentionPolicy,
        account: &str,
    ) -> Result<(), LogsError> {
        check_name(&req.log_group_name)?;
        let days = check_retention(req.retention_in_days)?;
        self.owned(&req.log_group_name, account)?;
        self.set_retention(&req.log_group_name, Some(days))
    }

    /// DeleteRetentionPolicy: events are kept forever again.
    pub fn delete_retention_policy(
        &self,
        req: &LogGroupRequest,
        account: &str,
    ) -> Result<(), LogsError> {
        check_name(&req.log_group_name)?;
        self.owned(&req.log_group_name, account)?;
        self.set_retention(&req.log_group_name, None)
    }

    fn set_retention(&self, group: &str, days: Option<u32>) -> Result<(), LogsError> {
        self.db(self.conn.execute(
            "UPDATE log_groups SET retention_days = ?2 WHERE name = ?1",
            params![group, days],
        ))?;
        Ok(())
    }
}

fn tags_json(tags: &BTreeMap<String, String>) -> Option<String> {
    (!tags.is_empty()).then(|| serde_json::to_string(tags).expect("a map of strings"))
}

impl LogStore {
    /// A group's tags (the caller's group).
    fn group_tags(&self, group: &str) -> Result<BTreeMap<String, String>, LogsError> {
        let text: Option<String> = self.db(self.conn.query_row(
            "SELECT tags FROM log_groups WHERE name = ?1",
            [group],
            |r| r.get(0),
        ))?;
        Ok(text
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    fn set_tags(&self, group: &str, tags: &BTreeMap<String, String>) -> Result<(), LogsError> {
        self.db(self.conn.execute(
            "UPDATE log_groups SET tags = ?2 WHERE name = ?1",
            params![group, tags_json(tags)],
        ))?;
        Ok(())
    }

    /// TagResource and TagLogGroup: the tags are set (a key already there takes the new value).
    pub fn tag_log_group(&self, req: &TagRequest, account: &str) -> Result<(), LogsError> {
        let group = tagged_group(req.resource_arn.as_deref(), req.log_group_name.as_deref())?;
        for (k, v) in &req.tags {
            check_tag(k, v)?;
        }
        self.owned(group, account)?;
        let mut tags = self.group_tags(group)?;
        tags.extend(req.tags.clone());
        check_tags(&tags)?;
        self.set_tags(group, &tags)
    }

    /// UntagResource and UntagLogGroup: the keys are removed (a key not there is no error).
    pub fn untag_log_group(&self, req: &UntagRequest, account: &str) -> Result<(), LogsError> {
        let group = tagged_group(req.resource_arn.as_deref(), req.log_group_name.as_deref())?;
        self.owned(group, account)?;
        let mut tags = self.group_tags(group)?;
        for k in req.tag_keys.iter().chain(req.tags.iter()).flatten() {
            tags.remove(k);
        }
        self.set_tags(group, &tags)
    }

    /// ListTagsForResource and ListTagsLogGroup.
    pub fn list_log_group_tags(
        &self,
        req: &ListTagsRequest,
        account: &str,
    ) -> Result<Tags, LogsError> {
        let group = tagged_group(req.resource_arn.as_deref(), req.log_group_name.as_deref())?;
        self.owned(group, account)?;
        Ok(Tags {
            tags: self.group_tags(group)?,
        })
    }
}
