//! The control-plane database, `DATA/state.db` (SQLite): flow logs, client tokens, delivery
//! status, log groups and their segments, and the delivery checkpoints of sources.
//!
//! Owns these tables' statements; their schema and its migrations are `vpcflow_store::db`'s.
//! Each process thread opens its own [`State`] (SQLite connections are not shared across
//! threads); WAL mode lets the delivery worker write status while the producer commits
//! checkpoints.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use vpcflow_store::{DbError, db};

pub use crate::api::DeliveryStatus;
use crate::api::{self, ApiError, Context, CreateFlowLogs, Created, FlowLog};
use crate::sinks::SinkKey;
use vpcflow_store::logs::index;
pub use vpcflow_store::logs::index::{LogGroupInfo, LogStreamInfo};

/// A database failure: the file is unreadable, locked too long, not ours, or newer than us.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StateError(#[from] DbError);

impl StateError {
    fn sql(path: &str, source: rusqlite::Error) -> StateError {
        StateError(DbError::Sqlite {
            path: path.to_string(),
            source,
        })
    }
}

/// A failed CreateFlowLogs or DeleteFlowLogs: the request's fault, or the database's.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request was refused (EC2 error).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The database failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// What CreateFlowLogs checks a request against besides the flow logs that exist.
struct World<'a> {
    network: &'a vpcflow_net::Network,
    buckets: &'a [String],
    delivery_streams: &'a [String],
    now_ms: u64,
    caller: Option<&'a str>,
}

impl World<'_> {
    fn create(
        &self,
        req: &CreateFlowLogs,
        existing: &[FlowLog],
        next_id: &mut dyn FnMut() -> String,
    ) -> Result<Created, ApiError> {
        api::create_flow_logs(
            req,
            &mut Context {
                network: self.network,
                existing,
                buckets: self.buckets,
                delivery_streams: self.delivery_streams,
                now_ms: self.now_ms,
                next_id,
                caller: self.caller,
            },
        )
    }
}

/// One segment's share of a stream (written when the segment is delivered).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentStream {
    /// Stream name.
    pub stream: String,
    /// Events of the stream in the segment.
    pub events: u64,
    /// First timestamp (ms).
    pub first_ms: u64,
    /// Last timestamp (ms).
    pub last_ms: u64,
}

/// An open control-plane database.
pub struct State {
    conn: Connection,
    path: String,
    /// The account whose requests this handle answers ([`State::acting_for`]).
    caller: Option<String>,
}

impl State {
    /// Opens (creating) the database at `path`, its schema brought up to date
    /// (`vpcflow_store::db`).
    pub fn open(path: &Path) -> Result<State, StateError> {
        Ok(State {
            conn: db::open(path)?,
            path: path.display().to_string(),
            caller: None,
        })
    }

    /// The IAM roles of `account` (every account's: `None`), by name.
    pub fn roles(&self, account: Option<&str>) -> Result<Vec<crate::iam::Role>, StateError> {
        let sql = |e| StateError::sql(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT body FROM iam_roles WHERE ?1 IS NULL OR account = ?1 ORDER BY account, name",
            )
            .map_err(sql)?;
        let bodies = stmt
            .query_map([account], |r| r.get::<_, String>(0))
            .map_err(sql)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql)?;
        Ok(bodies
            .iter()
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect())
    }

    /// Keeps `role` (made or changed).
    pub fn put_role(&self, role: &crate::iam::Role) -> Result<(), StateError> {
        let body = serde_json::to_string(role).expect("a role serializes");
        self.conn
            .execute(
                "INSERT INTO iam_roles (account, name, body) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(account, name) DO UPDATE SET body = ?3",
                params![role.account, role.name, body],
            )
            .map(|_| ())
            .map_err(|e| StateError::sql(&self.path, e))
    }

    /// Deletes a role.
    pub fn delete_role(&self, account: &str, name: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM iam_roles WHERE account = ?1 AND name = ?2",
                params![account, name],
            )
            .map(|_| ())
            .map_err(|e| StateError::sql(&self.path, e))
    }

    /// Why the flow logs `ids` may not deliver to their log groups now (their delivery role, in
    /// `region`), if one of them may not: what AWS reports as "Access error".
    pub fn delivery_refused(
        &self,
        ids: &[String],
        region: &str,
    ) -> Result<Option<String>, StateError> {
        let flow_logs = self.flow_logs()?;
        for f in flow_logs.iter().filter(|f| ids.contains(&f.flow_log_id)) {
            let (api::Destination::LogGroup { name }, Some(arn)) =
                (&f.destination, &f.deliver_logs_permission_arn)
            else {
                continue;
            };
            let owner = arn.split(':').nth(4).unwrap_or_default();
            let roles = self.roles(Some(owner))?;
            if let Some(why) =
                crate::iam::delivery_refusal(arn, &roles, name, region, &f.account_id)
            {
                return Ok(Some(why));
            }
        }
        Ok(None)
    }

    /// The EC2 network resources the API made (`crate::resources::Made` as JSON) and their
    /// revision, if it made any.
    pub fn made_network(&self) -> Result<Option<(u64, String)>, StateError> {
        self.conn
            .query_row(
                "SELECT revision, body FROM ec2_network WHERE id = 1",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()
            .map_err(|e| StateError::sql(&self.path, e))
    }

    /// Keeps the API's network resources as of `revision`.
    pub fn keep_made_network(&self, revision: u64, body: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO ec2_network (id, revision, body) VALUES (1, ?1, ?2) \
                 ON CONFLICT(id) DO UPDATE SET revision = ?1, body = ?2",
                params![revision as i64, body],
            )
            .map(|_| ())
            .map_err(|e| StateError::sql(&self.path, e))
    }

    /// Makes the requests that follow (CreateFlowLogs, DescribeFlowLogs, DeleteFlowLogs and
    /// their checks) an account's: it sees, deletes and duplicates only its own flow logs, and
    /// another account's resource is not found, as in AWS. `None` (the default): the data
    /// directory's owner (the config, the CLI), who sees every account's.
    pub fn acting_for(&mut self, account: Option<&str>) {
        self.caller = account.map(str::to_owned);
    }

    /// The flow logs the caller may see.
    fn visible_flow_logs(&self) -> Result<Vec<FlowLog>, StateError> {
        let mut all = self.flow_logs()?;
        if let Some(c) = &self.caller {
            all.retain(|f| &f.account_id == c);
        }
        Ok(all)
    }

    fn err(&self, source: rusqlite::Error) -> StateError {
        StateError::sql(&self.path, source)
    }

    /// Every flow log, in id order.
    pub fn flow_logs(&self) -> Result<Vec<FlowLog>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT body FROM flow_logs ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for body in rows {
            let body = body.map_err(|e| self.err(e))?;
            let f: FlowLog = serde_json::from_str(&body).map_err(|e| {
                self.err(rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                ))
            })?;
            out.push(f);
        }
        Ok(out)
    }

    /// Every flow log with its `DeliverLogsStatus`, in id order: what DescribeFlowLogs pages
    /// through (`describe::describe_flow_logs`), for the CLI and the API alike.
    /// Only the caller's ([`State::acting_for`]).
    pub fn flow_logs_with_status(&self) -> Result<Vec<(FlowLog, DeliveryStatus)>, StateError> {
        self.visible_flow_logs()?
            .into_iter()
            .map(|f| {
                let status = self.status(&f.flow_log_id)?;
                Ok((f, status))
            })
            .collect()
    }

    /// CreateFlowLogs: validates against what exists and stores, in one transaction. A
    /// `ClientToken` seen before returns the flow logs it made (or a mismatch error).
    pub fn create_flow_logs(
        &mut self,
        req: &CreateFlowLogs,
        network: &vpcflow_net::Network,
        buckets: &[String],
        delivery_streams: &[String],
        now_ms: u64,
    ) -> Result<Created, RequestError> {
        let request = serde_json::to_string(req).expect("requests serialize");
        // A client token is an account's own: the same token from another account is another.
        let token_key = req.client_token.as_ref().map(|t| match &self.caller {
            Some(account) => format!("{account}:{t}"),
            None => t.clone(),
        });
        if let Some(token) = &token_key {
            let seen: Option<(String, String)> = self
                .conn
                .query_row(
                    "SELECT request, ids FROM client_tokens WHERE token = ?1",
                    [token],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some((old, ids)) = seen {
                if old != request {
                    return Err(ApiError {
                        kind: api::ErrorKind::IdempotentParameterMismatch,
                        message: format!(
                            "Client token '{}' was already used with different parameters.",
                            req.client_token.as_deref().unwrap_or_default()
                        ),
                        detail: None,
                    }
                    .into());
                }
                let ids: Vec<String> = serde_json::from_str(&ids).unwrap_or_default();
                let flow_logs = self
                    .flow_logs()?
                    .into_iter()
                    .filter(|f| ids.contains(&f.flow_log_id))
                    .collect();
                return Ok(Created {
                    flow_logs,
                    unsuccessful: Vec::new(),
                });
            }
        }
        let existing = self.visible_flow_logs()?;
        // Ids: from the client token when there is one, so that a recreated database gives the
        // same ids; else from the time and what exists.
        let seed = req
            .client_token
            .clone()
            .unwrap_or_else(|| format!("{now_ms}/{}", existing.len()));
        let mut n = 0u64;
        let mut next_id = || {
            n += 1;
            let h = api::stable_hash(&[seed.as_bytes(), &n.to_le_bytes()]);
            format!("{h:017x}")
        };
        let world = World {
            network,
            buckets,
            delivery_streams,
            now_ms,
            caller: self.caller.as_deref(),
        };
        let created = world.create(req, &existing, &mut next_id)?;
        let path = self.path.clone();
        let wrap = |source| StateError::sql(&path, source);
        let tx = self.conn.transaction().map_err(wrap)?;
        for f in &created.flow_logs {
            tx.execute(
                "INSERT INTO flow_logs (id, body, client_token) VALUES (?1, ?2, ?3)",
                params![
                    f.flow_log_id,
                    serde_json::to_string(f).expect("flow logs serialize"),
                    token_key
                ],
            )
            .map_err(wrap)?;
        }
        if let Some(token) = &token_key {
            let ids: Vec<&str> = created
                .flow_logs
                .iter()
                .map(|f| f.flow_log_id.as_str())
                .collect();
            tx.execute(
                "INSERT INTO client_tokens (token, request, ids) VALUES (?1, ?2, ?3)",
                params![token, request, serde_json::to_string(&ids).expect("ids")],
            )
            .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)?;
        Ok(created)
    }

    /// CreateFlowLogs' checks alone, against what exists (a `DryRun`): the refusal
    /// [`State::create_flow_logs`] would give, nothing stored.
    pub fn check_create_flow_logs(
        &self,
        req: &CreateFlowLogs,
        network: &vpcflow_net::Network,
        buckets: &[String],
        delivery_streams: &[String],
        now_ms: u64,
    ) -> Result<(), RequestError> {
        let world = World {
            network,
            buckets,
            delivery_streams,
            now_ms,
            caller: self.caller.as_deref(),
        };
        world.create(req, &self.visible_flow_logs()?, &mut || String::from("0"))?;
        Ok(())
    }

    /// DeleteFlowLogs' checks alone (a `DryRun`): every id must exist.
    pub fn check_delete_flow_logs(&self, ids: &[String]) -> Result<(), RequestError> {
        Ok(api::check_delete(ids, &self.visible_flow_logs()?)?)
    }

    /// DeleteFlowLogs: every id must exist. Delivered data stays (as in AWS).
    pub fn delete_flow_logs(&mut self, ids: &[String]) -> Result<(), RequestError> {
        self.check_delete_flow_logs(ids)?;
        let path = self.path.clone();
        let wrap = |source| StateError::sql(&path, source);
        let tx = self.conn.transaction().map_err(wrap)?;
        for id in ids {
            for sql in [
                "DELETE FROM flow_logs WHERE id = ?1",
                "DELETE FROM delivery_status WHERE flow_log_id = ?1",
            ] {
                tx.execute(sql, [id]).map_err(wrap)?;
            }
        }
        tx.execute(
            "DELETE FROM client_tokens WHERE NOT EXISTS \
             (SELECT 1 FROM flow_logs WHERE flow_logs.client_token = client_tokens.token)",
            [],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(())
    }

    /// CreateTags on the caller's flow logs: every id must be one, then each gets the tags, in
    /// one transaction.
    pub fn create_tags(
        &mut self,
        ids: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), RequestError> {
        self.change_flow_logs(ids, |f| crate::tags::with_tags(f, tags))
    }

    /// DeleteTags on the caller's flow logs (a key with a value only where it has that value).
    pub fn delete_tags(
        &mut self,
        ids: &[String],
        tags: &[(String, Option<String>)],
    ) -> Result<(), RequestError> {
        self.change_flow_logs(ids, |f| Ok(crate::tags::without_tags(f, tags)))
    }

    /// The checks of CreateTags or DeleteTags alone (a `DryRun`).
    pub fn check_tags(&self, ids: &[String]) -> Result<(), RequestError> {
        Ok(crate::tags::check_ids(ids, &self.visible_flow_logs()?)?)
    }

    /// The caller's flow logs, for DescribeTags.
    pub fn tagged_flow_logs(&self) -> Result<Vec<FlowLog>, StateError> {
        self.visible_flow_logs()
    }

    fn change_flow_logs(
        &mut self,
        ids: &[String],
        change: impl Fn(&FlowLog) -> Result<FlowLog, ApiError>,
    ) -> Result<(), RequestError> {
        let visible = self.visible_flow_logs()?;
        crate::tags::check_ids(ids, &visible)?;
        let changed: Vec<FlowLog> = visible
            .iter()
            .filter(|f| ids.contains(&f.flow_log_id))
            .map(&change)
            .collect::<Result<_, _>>()?;
        let path = self.path.clone();
        let wrap = |source| StateError::sql(&path, source);
        let tx = self.conn.transaction().map_err(wrap)?;
        for f in &changed {
            tx.execute(
                "UPDATE flow_logs SET body = ?2 WHERE id = ?1",
                params![
                    f.flow_log_id,
                    serde_json::to_string(f).expect("flow logs serialize")
                ],
            )
            .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)?;
        Ok(())
    }

    /// Client tokens of the stored flow logs, with the ids each made.
    pub fn client_tokens(&self) -> Result<BTreeMap<String, Vec<String>>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT client_token, id FROM flow_logs WHERE client_token IS NOT NULL")
            .map_err(|e| self.err(e))?;
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (t, id) = row.map_err(|e| self.err(e))?;
            out.entry(t).or_default().push(id);
        }
        Ok(out)
    }

    /// Records a delivery outcome for flow logs: `None` for success, else AWS's message
    /// (`Unknown error`, …) and the detail. Writes only when the status or message changes.
    pub fn set_status(
        &self,
        ids: &[String],
        failure: Option<(&str, &str)>,
    ) -> Result<(), StateError> {
        let status = if failure.is_some() {
            "FAILED"
        } else {
            "SUCCESS"
        };
        let (message, detail) = failure.unzip();
        for id in ids {
            self.conn
                .execute(
                    "INSERT INTO delivery_status (flow_log_id, status, message, detail) \
                     VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT(flow_log_id) DO UPDATE SET status = ?2, message = ?3, detail = ?4 \
                     WHERE status IS NOT ?2 OR message IS NOT ?3",
                    params![id, status, message, detail],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// `DeliverLogsStatus` of a flow log (SUCCESS until a delivery fails).
    pub fn status(&self, id: &str) -> Result<DeliveryStatus, StateError> {
        let row: Option<DeliveryStatus> = self
            .conn
            .query_row(
                "SELECT status, message, detail FROM delivery_status WHERE flow_log_id = ?1",
                [id],
                |r| {
                    Ok(DeliveryStatus {
                        status: r.get(0)?,
                        message: r.get(1)?,
                        detail: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.unwrap_or(DeliveryStatus {
            status: "SUCCESS".into(),
            message: None,
            detail: None,
        }))
    }

    /// The (name, seconds) rows `sql` selects for a run: checkpoints and starts alike.
    fn times_of_run(&self, sql: &str, run_key: &str) -> Result<Vec<(String, u64)>, StateError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run_key], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(|e| self.err(e))?;
        rows.map(|r| r.map_err(|e| self.err(e))).collect()
    }

    /// The checkpoints a run starts from ([`State::checkpoints`]), in one transaction with
    /// making the rewound ones advanceable again: this run replays from them.
    pub fn start_from_checkpoints(
        &mut self,
        run_key: &str,
    ) -> Result<BTreeMap<SinkKey, u64>, StateError> {
        let path = self.path.clone();
        let wrap = |source| StateError::sql(&path, source);
        let tx = self.conn.transaction().map_err(wrap)?;
        tx.execute(
            "UPDATE checkpoints SET rewound = 0 WHERE run_key = ?1 AND rewound = 1",
            [run_key],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        self.checkpoints(run_key)
    }

    /// Per-sink checkpoints of a source run: records of windows at or before `done_until` (s)
    /// are in the spool or delivered.
    pub fn checkpoints(&self, run_key: &str) -> Result<BTreeMap<SinkKey, u64>, StateError> {
        let rows = self.times_of_run(
            "SELECT sink, done_until FROM checkpoints WHERE run_key = ?1",
            run_key,
        )?;
        rows.into_iter()
            .map(|(sink, t)| {
                let sink: SinkKey = sink.parse().map_err(|e| {
                    self.err(rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    ))
                })?;
                Ok((sink, t))
            })
            .collect()
    }

    /// Where each flow log of a service's run began delivering (record time, s): a flow log
    /// created while the service runs delivers from its next interval, and a restarted service
    /// must start it there again.
    pub fn sink_starts(&self, run_key: &str) -> Result<BTreeMap<String, u64>, StateError> {
        Ok(self
            .times_of_run(
                "SELECT flow_log_id, from_secs FROM sink_starts WHERE run_key = ?1",
                run_key,
            )?
            .into_iter()
            .collect())
    }

    /// Keeps where flow logs began delivering ([`State::sink_starts`]); a start once kept stays.
    pub fn keep_sink_starts(
        &mut self,
        run_key: &str,
        starts: &BTreeMap<String, u64>,
    ) -> Result<(), StateError> {
        let path = self.path.clone();
        let wrap = |source| StateError::sql(&path, source);
        let tx = self.conn.transaction().map_err(wrap)?;
        for (id, t) in starts {
            tx.execute(
                "INSERT OR IGNORE INTO sink_starts (run_key, flow_log_id, from_secs) \
                 VALUES (?1, ?2, ?3)",
                params![run_key, id, *t as i64],
            )
            .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)
    }

    /// Advances checkpoints, all in one transaction.
    pub fn set_checkpoints(
        &mut self,
        run_key: &str,
        done: &BTreeMap<SinkKey, u64>,
    ) -> Result<(), StateError> {
        let path = self.path.clone();
        let wrap = |source| StateError::sql(&path, source);
        let tx = self.conn.transaction().map_err(wrap)?;
        for (sink, t) in done {
            // A rewound checkpoint is not advanced by the run that was going on when it was
            // rewound (that run began past it); the next run starts from it.
            tx.execute(
                "INSERT INTO checkpoints (run_key, sink, done_until) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(run_key, sink) DO UPDATE SET done_until = \
                 CASE WHEN rewound = 1 THEN done_until ELSE MAX(done_until, ?3) END",
                params![run_key, sink.to_string(), *t as i64],
            )
            .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)
    }

    /// Moves a run's checkpoint of `sink` back to `to` (never forward): what the sink made
    /// from there is made again by the next run of the same source, under the same names. It
    /// stays there until a run starts from it ([`State::start_from_checkpoints`]).
    pub fn rewind_checkpoint(
        &self,
        run_key: &str,
        sink: &SinkKey,
        to: u64,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "UPDATE checkpoints SET done_until = MIN(done_until, ?3), rewound = 1 \
                 WHERE run_key = ?1 AND sink = ?2",
                params![run_key, sink.to_string(), to as i64],
            )
            .map_err(|e| StateError::sql(&self.path, e))?;
        Ok(())
    }

    /// Creates a log group owned by `account` if missing (as flow-log delivery does), or sets
    /// its retention.
    pub fn ensure_log_group(
        &self,
        name: &str,
        account: &str,
        created_ms: u64,
        retention_days: Option<Option<u32>>,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO log_groups (name, created_ms, retention_days, account) \
                 VALUES (?1, ?2, NULL, ?3)",
                params![name, created_ms as i64, account],
            )
            .map_err(|e| self.err(e))?;
        if let Some(r) = retention_days {
            self.conn
                .execute(
                    "UPDATE log_groups SET retention_days = ?2 WHERE name = ?1",
                    params![name, r],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Whether a segment is indexed already (delivered before a crash, its entry still spooled).
    pub fn has_segment(&self, group: &str, segment: &str) -> Result<bool, StateError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM segments WHERE log_group = ?1 AND segment = ?2)",
                params![group, segment],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// The metric filters of `group`, to evaluate on a segment before it is indexed (`None`
    /// when it has none).
    pub fn ingest(
        &self,
        group: &str,
        default_account: &str,
    ) -> Result<Option<vpcflow_store::logs::ingest::Ingest>, StateError> {
        vpcflow_store::logs::ingest::Ingest::for_group(&self.conn, group, default_account)
            .map_err(|e| self.err(e))
    }

    /// Records a delivered segment's streams and what its group's metric filters found in it,
    /// in one transaction; a segment delivered twice counts once.
    pub fn add_segment(
        &self,
        group: &str,
        segment: &str,
        streams: &[SegmentStream],
        metrics: Option<vpcflow_store::logs::ingest::Ingest>,
    ) -> Result<(), StateError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        if self.has_segment(group, segment)? {
            return Ok(());
        }
        for s in streams {
            tx.execute(
                "INSERT INTO segments (log_group, segment, stream, events, first_ms, last_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    group,
                    segment,
                    s.stream,
                    s.events as i64,
                    s.first_ms as i64,
                    s.last_ms as i64
                ],
            )
            .map_err(|e| self.err(e))?;
        }
        if let Some(m) = metrics {
            m.commit(&tx).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Forgets segments (retention).
    pub fn remove_segment(&self, group: &str, segment: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM segments WHERE log_group = ?1 AND segment = ?2",
                params![group, segment],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Segments of a group whose newest event is older than `before_ms`.
    pub fn segments_older_than(
        &self,
        group: &str,
        before_ms: u64,
    ) -> Result<Vec<String>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT segment FROM segments WHERE log_group = ?1 GROUP BY segment \
                 HAVING MAX(last_ms) < ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![group, before_ms as i64], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Every log group, with what it holds.
    pub fn log_groups(&self) -> Result<Vec<LogGroupInfo>, StateError> {
        index::groups(&self.conn).map_err(|e| self.err(e))
    }

    /// A log group's retention as it stands (the config's, or PutRetentionPolicy's).
    pub fn log_group_retention(&self, group: &str) -> Result<Option<u32>, StateError> {
        index::group_retention(&self.conn, group).map_err(|e| self.err(e))
    }

    /// The streams of a log group.
    pub fn log_streams(&self, group: &str) -> Result<Vec<LogStreamInfo>, StateError> {
        index::streams(&self.conn, group).map_err(|e| self.err(e))
    }

    /// The segments of a log group holding events in `[from_ms, to_ms]`, oldest first (time-range
    /// pruning for queries: a segment outside the range is not read at all).
    pub fn segments_between(
        &self,
        group: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<String>, StateError> {
        index::segments_between(&self.conn, group, None, from_ms, to_ms).map_err(|e| self.err(e))
    }

    /// The segments of a log group, oldest first.
    pub fn segments(&self, group: &str) -> Result<Vec<String>, StateError> {
        index::segments(&self.conn, group).map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint rewound while a run goes on is not advanced by that run's commits (they
    /// began past it, and would skip what the rewind asks to make again); the next run starts
    /// from it, and its own commits advance it.
    #[test]
    fn a_rewound_checkpoint_waits_for_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = State::open(&dir.path().join("state.db")).unwrap();
        let sink = SinkKey::Stream("s".into());
        let at = |st: &State| st.checkpoints("run").unwrap()[&sink];
        let mark = |st: &mut State, t: u64| {
            st.set_checkpoints("run", &BTreeMap::from([(sink.clone(), t)]))
                .unwrap();
        };
        mark(&mut st, 600);
        assert_eq!(at(&st), 600);
        st.rewind_checkpoint("run", &sink, 300).unwrap();
        assert_eq!(at(&st), 300);
        mark(&mut st, 900);
        assert_eq!(at(&st), 300, "the run going on does not advance it");
        assert_eq!(st.start_from_checkpoints("run").unwrap()[&sink], 300);
        mark(&mut st, 900);
        assert_eq!(at(&st), 900, "the next run, started from it, does");
        st.rewind_checkpoint("run", &sink, 1200).unwrap();
        assert_eq!(at(&st), 900, "a rewind never moves it forward");
    }
}
