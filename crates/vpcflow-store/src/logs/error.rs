//! CloudWatch Logs' errors: the one table of codes the log-group services and the Insights job
//! answer with (the API speaks them as `{"__type": CODE, "message": …}`), and the error type.

use crate::db::DbError;
use crate::segment::SegmentError;

/// One CloudWatch Logs error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogsErrorCode {
    /// A log group, stream or query that does not exist.
    ResourceNotFound,
    /// A parameter out of its range, or parameters that cannot go together.
    InvalidParameter,
    /// Too many of something at once (concurrent queries).
    LimitExceeded,
    /// An Insights query that does not parse.
    MalformedQuery,
    /// A log group (or other resource) that exists already.
    ResourceAlreadyExists,
}

/// A row of [`LOGS_ERRORS`].
#[derive(Debug)]
pub struct LogsErrorDef {
    /// Which.
    pub code: LogsErrorCode,
    /// The `__type` on the wire.
    pub name: &'static str,
    /// HTTP status.
    pub status: u16,
    /// When it is returned.
    pub meaning: &'static str,
}

/// Every code, once.
pub const LOGS_ERRORS: &[LogsErrorDef] = &[
    LogsErrorDef {
        code: LogsErrorCode::ResourceNotFound,
        name: "ResourceNotFoundException",
        status: 400,
        meaning: "The log group, log stream or query does not exist.",
    },
    LogsErrorDef {
        code: LogsErrorCode::InvalidParameter,
        name: "InvalidParameterException",
        status: 400,
        meaning: "A parameter is out of its range, or parameters contradict each other.",
    },
    LogsErrorDef {
        code: LogsErrorCode::LimitExceeded,
        name: "LimitExceededException",
        status: 400,
        meaning: "Too many concurrent queries.",
    },
    LogsErrorDef {
        code: LogsErrorCode::MalformedQuery,
        name: "MalformedQueryException",
        status: 400,
        meaning: "The query string does not parse; the message says where.",
    },
    LogsErrorDef {
        code: LogsErrorCode::ResourceAlreadyExists,
        name: "ResourceAlreadyExistsException",
        status: 400,
        meaning: "The log group (or other resource) exists already.",
    },
];

impl LogsErrorCode {
    /// This code's row.
    pub fn def(self) -> &'static LogsErrorDef {
        LOGS_ERRORS
            .iter()
            .find(|d| d.code == self)
            .expect("every code has a row")
    }
}

/// A request the log-group services refuse, or a store that failed them.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// The request's fault: CloudWatch Logs' code and message.
    #[error("{} (the request is at fault): {message}", code.def().name)]
    Refused {
        /// Which error.
        code: LogsErrorCode,
        /// AWS's message.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A segment file could not be read.
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// A log group's files could not be removed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl LogsError {
    /// A refusal.
    pub fn refused(code: LogsErrorCode, message: impl Into<String>) -> LogsError {
        LogsError::Refused {
            code,
            message: message.into(),
        }
    }

    /// `ResourceNotFoundException` for a log group.
    pub fn no_group() -> LogsError {
        LogsError::refused(
            LogsErrorCode::ResourceNotFound,
            "The specified log group does not exist.",
        )
    }

    /// The validation message of a number outside `min..=max`, as AWS words it.
    pub fn out_of_range(what: &str, value: i64, min: i64, max: i64) -> LogsError {
        let constraint = if value < min {
            format!("greater than or equal to {min}")
        } else {
            format!("less than or equal to {max}")
        };
        LogsError::refused(
            LogsErrorCode::InvalidParameter,
            format!(
                "1 validation error detected: Value '{value}' at '{what}' failed to satisfy \
                 constraint: Member must have value {constraint}"
            ),
        )
    }

    /// The code, when the request is at fault.
    pub fn code(&self) -> Option<LogsErrorCode> {
        match self {
            LogsError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_row() {
        for code in [
            LogsErrorCode::ResourceNotFound,
            LogsErrorCode::InvalidParameter,
            LogsErrorCode::LimitExceeded,
            LogsErrorCode::MalformedQuery,
        ] {
            assert_eq!(LOGS_ERRORS.iter().filter(|d| d.code == code).count(), 1);
        }
    }
}
