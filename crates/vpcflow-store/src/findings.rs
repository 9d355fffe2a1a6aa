//! Findings of the detections (`vpcflow_monitor::detect`), kept in `state.db` (`findings`) by
//! their stable key, so that running the detections again over the same records finds nothing
//! new, and listed oldest first.

use rusqlite::{Connection, params};
use vpcflow_monitor::detect::{Finding, Kind};

use crate::DataDir;
use crate::db::DbError;

/// The findings of a data directory.
pub struct Findings {
    conn: Connection,
    path: String,
}

impl Findings {
    /// Opens the findings of `dir`.
    pub fn open(dir: &DataDir) -> Result<Findings, DbError> {
        let path = dir.state_db();
        Ok(Findings {
            conn: crate::db::open(&path)?,
            path: path.display().to_string(),
        })
    }

    fn db<T>(&self, r: rusqlite::Result<T>) -> Result<T, DbError> {
        r.map_err(|source| DbError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Keeps the findings not kept yet, at `now_ms`; returns those that are new.
    pub fn record(&self, found: &[Finding], now_ms: u64) -> Result<Vec<Finding>, DbError> {
        let tx = self.db(self.conn.unchecked_transaction())?;
        let mut new = Vec::new();
        for f in found {
            let n = self.db(tx.execute(
                "INSERT OR IGNORE INTO findings (key, kind, window_s, subject, target, summary, \
                 counts, evidence, found_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    f.key(),
                    f.kind.finding_type(),
                    f.window as i64,
                    f.subject,
                    f.target,
                    f.summary,
                    serde_json::to_string(&f.counts).expect("numbers serialize"),
                    serde_json::to_string(&f.evidence).expect("strings serialize"),
                    now_ms as i64
                ],
            ))?;
            if n == 1 {
                new.push(f.clone());
            }
        }
        self.db(tx.commit())?;
        Ok(new)
    }

    /// Every finding kept, by window, then type, subject and target.
    pub fn list(&self) -> Result<Vec<Finding>, DbError> {
        let mut stmt = self.db(self.conn.prepare(
            "SELECT kind, window_s, subject, target, summary, counts, evidence FROM findings \
             ORDER BY window_s, kind, subject, target",
        ))?;
        let rows = self.db(stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .and_then(Iterator::collect::<Result<Vec<_>, _>>))?;
        Ok(rows
            .into_iter()
            .filter_map(
                |(kind, window, subject, target, summary, counts, evidence)| {
                    Some(Finding {
                        kind: Kind::ALL.into_iter().find(|k| k.finding_type() == kind)?,
                        window: window as u64,
                        subject,
                        target,
                        summary,
                        counts: serde_json::from_str(&counts).unwrap_or_default(),
                        evidence: serde_json::from_str(&evidence).unwrap_or_default(),
                    })
                },
            )
            .collect())
    }
}
