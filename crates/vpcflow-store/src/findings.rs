//! Findings of the detections (`vpcflow_monitor::detect`), kept in `state.db` (`findings`) by
//! their stable key, so that running the detections again over the same records finds nothing
//! new, and listed oldest first. [`Findings::detect`] runs the detections over the flow records
//! a data directory's log groups hold (the CLI after the fact, the service's pump as records
//! arrive), and queues a notification of each new finding to the topics its actions name, in
//! the same transaction as the finding (the alarms' queue, posted by the pump).

use std::net::IpAddr;

use rusqlite::{Connection, params};
use vpcflow_monitor::detect::{Finding, Flow, Kind};

use crate::DataDir;
use crate::db::DbError;

/// The findings of a data directory.
pub struct Findings {
    conn: Connection,
    path: String,
    dir: DataDir,
}

/// Why detections could not run.
#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    /// The database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The records could not be read.
    #[error(transparent)]
    Records(#[from] crate::logs::records::RecordsError),
}

impl Findings {
    /// Opens the findings of `dir`.
    pub fn open(dir: &DataDir) -> Result<Findings, DbError> {
        let path = dir.state_db();
        Ok(Findings {
            conn: crate::db::open(&path)?,
            path: path.display().to_string(),
            dir: dir.clone(),
        })
    }

    fn db<T>(&self, r: rusqlite::Result<T>) -> Result<T, DbError> {
        r.map_err(|source| DbError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Runs the detections over every flow record of the log groups, keeps what is new, and
    /// queues a notification of each new finding to every subscriber (`subscribers`) of every
    /// topic in `actions`. Returns the new findings and how many records were read.
    pub fn detect(
        &self,
        now_ms: u64,
        actions: &[String],
        subscribers: &dyn Fn(&str) -> Vec<String>,
    ) -> Result<(Vec<Finding>, usize), FindingsError> {
        let flows = self.flows()?;
        let found = vpcflow_monitor::detect::detect(&flows);
        let new = self.record(&found, now_ms, &|tx, f| {
            for topic in actions {
                for url in subscribers(topic) {
                    tx.execute(
                        "INSERT INTO alarm_notifications (topic, url, body) VALUES (?1, ?2, ?3)",
                        params![topic, url, notification(topic, f, now_ms)],
                    )?;
                }
            }
            Ok(())
        })?;
        Ok((new, flows.len()))
    }

    /// Whether records arrived since `since` (a segments rowid): the newest rowid.
    pub fn newest_segment(&self) -> Result<i64, DbError> {
        self.db(self
            .conn
            .query_row("SELECT COALESCE(MAX(rowid), 0) FROM segments", [], |r| {
                r.get(0)
            }))
    }

    /// Every flow record of the log groups, as the detections read them.
    fn flows(&self) -> Result<Vec<Flow>, FindingsError> {
        Ok(crate::logs::records::flow_records(&self.conn, &self.dir)?
            .into_iter()
            .filter_map(|d| flow(&d.eni, &d.record, d.line))
            .collect())
    }

    /// Keeps the findings not kept yet, at `now_ms`, each new one also handed to `also` in the
    /// same transaction; returns those that are new.
    fn record(
        &self,
        found: &[Finding],
        now_ms: u64,
        also: &dyn Fn(&Connection, &Finding) -> rusqlite::Result<()>,
    ) -> Result<Vec<Finding>, DbError> {
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
                self.db(also(&tx, f))?;
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

/// A record as the detections read it (none for a record without addresses: NODATA, SKIPDATA).
fn flow(eni: &str, r: &vpcflow_record::FlowRecord, line: String) -> Option<Flow> {
    use vpcflow_record::FieldId;
    let text = |f: FieldId| r.get(f).map(|v| v.to_string());
    let num = |f: FieldId| text(f).and_then(|t| t.parse::<u64>().ok());
    Some(Flow {
        eni: eni.to_owned(),
        src: text(FieldId::Srcaddr)?.parse::<IpAddr>().ok()?,
        dst: text(FieldId::Dstaddr)?.parse::<IpAddr>().ok()?,
        src_port: num(FieldId::Srcport).unwrap_or(0) as u16,
        dst_port: num(FieldId::Dstport).unwrap_or(0) as u16,
        protocol: num(FieldId::Protocol).unwrap_or(0) as u8,
        packets: num(FieldId::Packets).unwrap_or(0),
        bytes: num(FieldId::Bytes).unwrap_or(0),
        start: num(FieldId::Start)?,
        accepted: text(FieldId::Action).as_deref() == Some("ACCEPT"),
        line,
    })
}

/// An SNS notification of a finding: its `Message` the finding's JSON, its `MessageId` from the
/// finding's key (a retry carries the same one).
fn notification(topic: &str, f: &Finding, now_ms: u64) -> String {
    serde_json::json!({
        "Type": "Notification",
        "MessageId": crate::ids::guid(&[topic.as_bytes(), f.key().as_bytes()], b"finding"),
        "TopicArn": topic,
        "Subject": format!("vpcflow finding: {} from {}", f.kind.finding_type(), f.subject),
        "Message": f.to_json().to_string(),
        "Timestamp": crate::time::aws_xml_time(now_ms),
    })
    .to_string()
}
