//! Log groups made and changed by request: CreateLogGroup, DeleteLogGroup, PutRetentionPolicy
//! and DeleteRetentionPolicy, with CloudWatch Logs' validation and messages. Delivery creates
//! the groups of flow logs itself (as AWS's flow logs do); these are the API's and the CLI's.

use rusqlite::params;
use serde::Deserialize;

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
        let inserted = self.db(self.conn.execute(
            "INSERT OR IGNORE INTO log_groups (name, created_ms, retention_days, account) \
             VALUES (?1, ?2, NULL, ?3)",
            params![req.log_group_name, now_ms as i64, account],
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
        for table in ["segments", "metric_filters"] {
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
