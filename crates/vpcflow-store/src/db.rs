//! The control-plane database, `DATA/state.db` (SQLite): the schema of every table, as numbered
//! migrations, and how a connection is opened. No other crate creates a table; the crates that
//! own the statements (vpcflow-deliver's `state`, vpcflow-query's catalog) open through here.
//!
//! The schema version is SQLite's `user_version`. A database at version 0 is new, or was made
//! before versions existed (by then every statement was `CREATE TABLE IF NOT EXISTS`, which is why
//! migration 1 is written the same way: it adopts those tables as they are). A database newer
//! than this binary is refused rather than misread.

use std::path::Path;
use std::time::Duration;

pub use rusqlite::Connection;
use rusqlite::TransactionBehavior;

/// One step of the schema.
#[derive(Debug)]
pub struct Migration {
    /// What it adds, for people.
    pub what: &'static str,
    /// The statements, run in one transaction.
    pub sql: &'static str,
}

/// Every migration in order: migration `i` takes the database to version `i + 1`. Append only.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        what: "flow logs, client tokens, delivery status, log groups and segments, checkpoints, \
           the Athena catalog",
        sql: "
CREATE TABLE IF NOT EXISTS flow_logs (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    client_token TEXT
);
CREATE TABLE IF NOT EXISTS client_tokens (
    token TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS delivery_status (
    flow_log_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    message TEXT,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS log_groups (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    retention_days INTEGER
);
CREATE TABLE IF NOT EXISTS segments (
    log_group TEXT NOT NULL,
    segment TEXT NOT NULL,
    stream TEXT NOT NULL,
    events INTEGER NOT NULL,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    PRIMARY KEY (log_group, segment, stream)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_key TEXT NOT NULL,
    sink TEXT NOT NULL,
    done_until INTEGER NOT NULL,
    PRIMARY KEY (run_key, sink)
);
CREATE TABLE IF NOT EXISTS athena_tables (
    name TEXT PRIMARY KEY,
    ddl TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS athena_partitions (
    table_name TEXT NOT NULL,
    spec TEXT NOT NULL,
    location TEXT NOT NULL,
    PRIMARY KEY (table_name, spec)
);
",
    },
    Migration {
        what: "settings a data directory keeps between runs (the service's simulated start)",
        sql: "
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
",
    },
    Migration {
        what: "a log group's owner account; where a service's flow logs began delivering \
           (flow logs created while it runs deliver from their next interval)",
        sql: "
ALTER TABLE log_groups ADD COLUMN account TEXT;
CREATE TABLE sink_starts (
    run_key TEXT NOT NULL,
    flow_log_id TEXT NOT NULL,
    from_secs INTEGER NOT NULL,
    PRIMARY KEY (run_key, flow_log_id)
);
",
    },
    Migration {
        what: "CloudWatch Logs' metric filters and CloudWatch's metric alarms, as the API \
           stores them (the monitoring evaluates them)",
        sql: "
CREATE TABLE metric_filters (
    log_group TEXT NOT NULL,
    name TEXT NOT NULL,
    pattern TEXT NOT NULL,
    transformations TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (log_group, name)
);
CREATE TABLE alarms (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);
",
    },
    Migration {
        what: "log streams made by CreateLogStream (a stream is also every stream a segment \
           holds events of), with the sequence of their PutLogEvents segments; log-group tags; \
           CloudWatch's metric data points (PutMetricData's statistic sets)",
        sql: "
CREATE TABLE log_streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    log_group TEXT NOT NULL,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    sequence INTEGER NOT NULL DEFAULT 0,
    UNIQUE (log_group, name)
);
ALTER TABLE log_groups ADD COLUMN tags TEXT;
CREATE TABLE metric_data (
    account TEXT NOT NULL,
    namespace TEXT NOT NULL,
    metric TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    sample_count REAL NOT NULL,
    sum REAL NOT NULL,
    minimum REAL NOT NULL,
    maximum REAL NOT NULL,
    single INTEGER NOT NULL,
    unit TEXT NOT NULL
);
CREATE INDEX metric_data_by_metric ON metric_data (account, namespace, metric, dimensions, ts_ms);
",
    },
    Migration {
        what: "Firehose delivery streams made by CreateDeliveryStream, with the sequence of \
           their PutRecord batches; subscription filters of log groups, with how far each has \
           forwarded (a segments rowid); buckets made by CreateBucket, and every local bucket's \
           policy, lifecycle and notification configurations",
        sql: "
CREATE TABLE delivery_streams (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    sequence INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, name)
);
CREATE TABLE subscription_filters (
    log_group TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    forwarded INTEGER NOT NULL,
    PRIMARY KEY (log_group, name)
);
CREATE TABLE buckets (
    name TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    policy TEXT,
    lifecycle TEXT,
    notification TEXT
);
",
    },
    Migration {
        what: "a checkpoint rewound for a damaged entry stays where it was rewound to until a \
           run starts from it (the run going on when it was rewound cannot advance it)",
        sql: "
ALTER TABLE checkpoints ADD COLUMN rewound INTEGER NOT NULL DEFAULT 0;
",
    },
    Migration {
        what: "alarm evaluation: the metric time each alarm was last evaluated at, its state \
           history (DescribeAlarmHistory), and the notifications its actions owe; Contributor \
           Insights rules; the detections' findings",
        sql: "
ALTER TABLE alarms ADD COLUMN evaluated_ms INTEGER;
CREATE TABLE alarm_history (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX alarm_history_by_alarm ON alarm_history (account, name, ts_ms);
CREATE TABLE insight_rules (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE findings (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    window_s INTEGER NOT NULL,
    subject TEXT NOT NULL,
    target TEXT NOT NULL,
    summary TEXT NOT NULL,
    counts TEXT NOT NULL,
    evidence TEXT NOT NULL,
    found_ms INTEGER NOT NULL
);
CREATE TABLE alarm_notifications (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_ms INTEGER NOT NULL DEFAULT 0
);
",
    },
    Migration {
        what: "the EC2 network resources made through the API (one document, the topology \
           file's model) and how many changes it has had; IAM roles (flow logs' delivery roles)",
        sql: "
CREATE TABLE ec2_network (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE iam_roles (
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account, name)
);
",
    },
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed: the file is unreadable, locked too long, or not a database.
    #[error("control-plane database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A newer vpcflow wrote it.
    #[error(
        "control-plane database {path}: schema version {found} is newer than this vpcflow's \
         ({SCHEMA_VERSION}); use the vpcflow that wrote it, or a newer one"
    )]
    Newer {
        /// The database file.
        path: String,
        /// Its version.
        found: u32,
    },
}

/// Opens (creating) the database at `path` and brings its schema up to date. WAL lets the
/// delivery worker write status while a producer commits checkpoints; `synchronous = FULL`
/// makes a commit durable before it is acknowledged. A busy database is waited for 30 s.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    let name = path.display().to_string();
    let wrap = |source| DbError::Sqlite {
        path: name.clone(),
        source,
    };
    let mut conn = Connection::open(path).map_err(wrap)?;
    conn.busy_timeout(Duration::from_secs(30)).map_err(wrap)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(wrap)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(wrap)?;
    migrate(&mut conn, &name)?;
    Ok(conn)
}

/// A database in memory with the current schema: a catalog that lasts for one run.
pub fn open_in_memory() -> Result<Connection, DbError> {
    let wrap = |source| DbError::Sqlite {
        path: ":memory:".into(),
        source,
    };
    let mut conn = Connection::open_in_memory().map_err(wrap)?;
    migrate(&mut conn, ":memory:")?;
    Ok(conn)
}

/// The schema version of an open database.
pub fn version(conn: &Connection) -> Result<u32, rusqlite::Error> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// A setting kept in the database, if set.
pub fn setting(conn: &Connection, key: &str) -> Result<Option<String>, rusqlite::Error> {
    use rusqlite::OptionalExtension as _;
    conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
}

/// Keeps a setting in the database.
pub fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<(), rusqlite::Error> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) \
         ON CONFLICT(key) DO UPDATE SET value = ?2",
        [key, value],
    )
    .map(|_| ())
}

/// Applies the migrations the database lacks, each in its own transaction with its version
/// bump, so that a crash leaves it at one version or the next. Concurrent openers serialise on
/// the write lock and re-read the version under it.
fn migrate(conn: &mut Connection, path: &str) -> Result<(), DbError> {
    let wrap = |source| DbError::Sqlite {
        path: path.to_string(),
        source,
    };
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(wrap)?;
        let found = version(&tx).map_err(wrap)?;
        if found > SCHEMA_VERSION {
            return Err(DbError::Newer {
                path: path.to_string(),
                found,
            });
        }
        let Some(step) = MIGRATIONS.get(found as usize) else {
            return Ok(());
        };
        tx.execute_batch(step.sql).map_err(wrap)?;
        tx.pragma_update(None, "user_version", found + 1)
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut st = conn
            // SQLite's own tables (`sqlite_sequence`, for AUTOINCREMENT) are not the schema's.
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_new_database_gets_every_table_at_the_current_version() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("state.db")).unwrap();
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(
            tables(&conn),
            [
                "alarm_history",
                "alarm_notifications",
                "alarms",
                "athena_partitions",
                "athena_tables",
                "buckets",
                "checkpoints",
                "client_tokens",
                "delivery_status",
                "delivery_streams",
                "ec2_network",
                "findings",
                "flow_logs",
                "iam_roles",
                "insight_rules",
                "log_groups",
                "log_streams",
                "metric_data",
                "metric_filters",
                "segments",
                "settings",
                "sink_starts",
                "subscription_filters"
            ]
        );
        let mem = open_in_memory().unwrap();
        assert_eq!(tables(&mem), tables(&conn));
    }

    #[test]
    fn tables_made_before_versions_are_adopted_with_their_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE log_groups (name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL,
                     retention_days INTEGER);
                 INSERT INTO log_groups VALUES ('/old', 5, 7);",
            )
            .unwrap();
        }
        let conn = open(&path).unwrap();
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        let row: (String, i64, i64) = conn
            .query_row("SELECT * FROM log_groups", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(row, ("/old".into(), 5, 7));
        drop(conn);
        // Opening again changes nothing.
        assert_eq!(version(&open(&path).unwrap()).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let e = open(&path).unwrap_err().to_string();
        assert!(
            e.contains(&format!("schema version {} is newer", SCHEMA_VERSION + 1)),
            "{e}"
        );
    }

    #[test]
    fn something_that_is_not_a_database_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        std::fs::write(
            &path,
            b"not sqlite at all, just some text that is long enough",
        )
        .unwrap();
        let e = open(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("control-plane database {}", path.display())),
            "{e}"
        );
    }
}
