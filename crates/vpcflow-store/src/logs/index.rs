//! The log-group index in `state.db` (tables `log_groups`, `segments` and `log_streams`), read: what each
//! group and stream holds, and which segment files hold a group's (or a stream's) events. The
//! delivery worker writes these rows; everything that reads a log group reads them here.

use rusqlite::{Connection, params};

/// One log group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupInfo {
    /// Name.
    pub name: String,
    /// Creation time (ms).
    pub created_ms: u64,
    /// Retention.
    pub retention_days: Option<u32>,
    /// Events stored.
    pub events: u64,
    /// Segment files.
    pub segments: u64,
}

/// One log stream, summed over its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStreamInfo {
    /// Stream name.
    pub name: String,
    /// Events.
    pub events: u64,
    /// First event timestamp (ms); none before its first event.
    pub first_ms: Option<u64>,
    /// Last event timestamp (ms); none before its first event.
    pub last_ms: Option<u64>,
    /// When it was made: by CreateLogStream, or (a flow log's) with its first event.
    pub created_ms: u64,
}

/// Every log group, by name, with what it holds.
pub fn groups(conn: &Connection) -> rusqlite::Result<Vec<LogGroupInfo>> {
    let mut stmt = conn.prepare(
        "SELECT g.name, g.created_ms, g.retention_days, \
         COALESCE(SUM(s.events), 0), COUNT(DISTINCT s.segment) \
         FROM log_groups g LEFT JOIN segments s ON s.log_group = g.name \
         GROUP BY g.name ORDER BY g.name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(LogGroupInfo {
            name: r.get(0)?,
            created_ms: r.get::<_, i64>(1)? as u64,
            retention_days: r.get(2)?,
            events: r.get::<_, i64>(3)? as u64,
            segments: r.get::<_, i64>(4)? as u64,
        })
    })?;
    rows.collect()
}

/// The account that owns a log group (the flow log's that created it), when it was kept.
pub fn group_account(conn: &Connection, group: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension as _;
    Ok(conn
        .query_row(
            "SELECT account FROM log_groups WHERE name = ?1",
            [group],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// A log group's retention in days (`None`: forever, or no such group).
pub fn group_retention(conn: &Connection, group: &str) -> rusqlite::Result<Option<u32>> {
    use rusqlite::OptionalExtension as _;
    Ok(conn
        .query_row(
            "SELECT retention_days FROM log_groups WHERE name = ?1",
            [group],
            |r| r.get::<_, Option<u32>>(0),
        )
        .optional()?
        .flatten())
}

/// Whether a log group exists.
pub fn group_exists(conn: &Connection, group: &str) -> rusqlite::Result<bool> {
    conn.prepare("SELECT 1 FROM log_groups WHERE name = ?1")?
        .exists([group])
}

/// The streams of a log group, by name: those its segments hold events of, and those
/// CreateLogStream made (with no event yet, or with PutLogEvents' events).
pub fn streams(conn: &Connection, group: &str) -> rusqlite::Result<Vec<LogStreamInfo>> {
    let mut stmt = conn.prepare(
        "SELECT name, SUM(events), MIN(first_ms), MAX(last_ms), MIN(created) FROM ( \
           SELECT stream AS name, events, first_ms, last_ms, first_ms AS created \
             FROM segments WHERE log_group = ?1 \
           UNION ALL \
           SELECT name, 0, NULL, NULL, created_ms FROM log_streams WHERE log_group = ?1 \
         ) GROUP BY name ORDER BY name",
    )?;
    let rows = stmt.query_map([group], |r| {
        Ok(LogStreamInfo {
            name: r.get(0)?,
            events: r.get::<_, i64>(1)? as u64,
            first_ms: r.get::<_, Option<i64>>(2)?.map(|t| t as u64),
            last_ms: r.get::<_, Option<i64>>(3)?.map(|t| t as u64),
            created_ms: r.get::<_, i64>(4)? as u64,
        })
    })?;
    rows.collect()
}

/// The segments of a log group, oldest first.
pub fn segments(conn: &Connection, group: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT segment FROM segments WHERE log_group = ?1 GROUP BY segment ORDER BY segment",
    )?;
    let rows = stmt.query_map([group], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// The segments of a log group holding events in `[from_ms, to_ms]` (of `stream` only, when
/// given), oldest first: a segment outside the range is not read at all.
pub fn segments_between(
    conn: &Connection,
    group: &str,
    stream: Option<&str>,
    from_ms: i64,
    to_ms: i64,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT segment FROM segments WHERE log_group = ?1 AND (?4 IS NULL OR stream = ?4) \
         GROUP BY segment HAVING min(first_ms) <= ?3 AND max(last_ms) >= ?2 ORDER BY segment",
    )?;
    let rows = stmt.query_map(params![group, from_ms, to_ms, stream], |r| {
        r.get::<_, String>(0)
    })?;
    rows.collect()
}

/// The newest event time a segment holds (ms), of one log group or of all, if any was indexed.
pub fn newest_event_ms(conn: &Connection, group: Option<&str>) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT max(last_ms) FROM segments WHERE ?1 IS NULL OR log_group = ?1",
        [group],
        |r| r.get(0),
    )
}
