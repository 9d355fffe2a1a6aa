//! The log groups of a data directory as query sources, found by name: which exist (the index in
//! `state.db`, read through `vpcflow_store::logs::index`), and which segment files hold a
//! group's events, only those holding events in a time range when one is given. SQL's
//! [`crate::sql::StoreSchema`] and Insights' jobs ([`crate::jobs`]) both find log groups here.

use vpcflow_store::DataDir;
use vpcflow_store::logs::{LogsError, LogsErrorCode, index};

/// The log groups of one data directory.
#[derive(Debug, Clone)]
pub struct LogGroups {
    dir: DataDir,
}

impl LogGroups {
    /// The log groups under `dir`.
    pub fn new(dir: DataDir) -> LogGroups {
        LogGroups { dir }
    }

    fn open(&self) -> Result<Option<vpcflow_store::db::Connection>, LogsError> {
        let path = self.dir.state_db();
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(vpcflow_store::db::open(&path)?))
    }

    fn db(&self, source: rusqlite::Error) -> LogsError {
        LogsError::Db(vpcflow_store::DbError::Sqlite {
            path: self.dir.state_db().display().to_string(),
            source,
        })
    }

    /// Every group's name, in order (none before anything was delivered).
    pub fn names(&self) -> Result<Vec<String>, LogsError> {
        let Some(conn) = self.open()? else {
            return Ok(Vec::new());
        };
        let groups = index::groups(&conn).map_err(|e| self.db(e))?;
        Ok(groups.into_iter().map(|g| g.name).collect())
    }

    /// What to read for group `name`: its directory, or with `range` (ms, both ends included)
    /// only the segment files holding events in it. `None` when there is no such group.
    pub fn sources(
        &self,
        name: &str,
        range: Option<(i64, i64)>,
    ) -> Result<Option<Vec<String>>, LogsError> {
        let Some(conn) = self.open()? else {
            return Ok(None);
        };
        let exists = index::group_exists(&conn, name).map_err(|e| self.db(e))?;
        if !exists || !self.dir.log_group(name).is_dir() {
            return Ok(None);
        }
        if let Some((start, end)) = range {
            let segments =
                index::segments_between(&conn, name, None, start, end).map_err(|e| self.db(e))?;
            if !segments.is_empty() {
                return Ok(Some(
                    segments
                        .iter()
                        .map(|s| self.dir.segment(name, s).display().to_string())
                        .collect(),
                ));
            }
        }
        Ok(Some(vec![format!(
            "{}/",
            self.dir.log_group(name).display()
        )]))
    }

    /// [`LogGroups::sources`], where a missing group is CloudWatch Logs' error.
    pub fn sources_of(
        &self,
        name: &str,
        range: Option<(i64, i64)>,
    ) -> Result<Vec<String>, LogsError> {
        self.sources(name, range)?.ok_or_else(|| {
            LogsError::refused(
                LogsErrorCode::ResourceNotFound,
                format!("Log group '{name}' does not exist."),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_found_by_name_and_pruned_by_time() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path());
        let groups = LogGroups::new(dir.clone());
        assert!(groups.names().unwrap().is_empty(), "nothing delivered yet");
        assert_eq!(groups.sources("/g", None).unwrap(), None);
        let conn = vpcflow_store::db::open(&dir.state_db()).unwrap();
        conn.execute_batch(
            "INSERT INTO log_groups (name, created_ms, retention_days, account) VALUES ('/g', 1, NULL, NULL);
             INSERT INTO segments VALUES ('/g', 's1', 'eni-a-all', 3, 1000, 2000);
             INSERT INTO segments VALUES ('/g', 's2', 'eni-a-all', 3, 5000, 6000);",
        )
        .unwrap();
        // Indexed but without its directory: not there to read.
        assert_eq!(groups.sources("/g", None).unwrap(), None);
        std::fs::create_dir_all(dir.log_group("/g")).unwrap();
        assert_eq!(groups.names().unwrap(), ["/g"]);
        let whole = format!("{}/", dir.log_group("/g").display());
        let seg = |s: &str| dir.segment("/g", s).display().to_string();
        let rows = [
            (None, vec![whole.clone()]),
            (Some((0, 1500)), vec![seg("s1")]),
            (Some((1500, 5500)), vec![seg("s1"), seg("s2")]),
            // No segment holds events then: the group as a whole (an empty answer).
            (Some((3000, 4000)), vec![whole]),
        ];
        for (range, want) in rows {
            assert_eq!(
                groups.sources("/g", range).unwrap(),
                Some(want),
                "{range:?}"
            );
        }
        let e = groups.sources_of("/nope", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ResourceNotFoundException (the request is at fault): Log group '/nope' does not exist."
        );
    }
}
