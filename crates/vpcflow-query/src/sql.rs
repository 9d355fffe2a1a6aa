//! SQL as Athena users write it: AWS's documented DDL for flow-log tables (query.md §4.2) runs
//! unchanged, and every other statement is DataFusion SQL with the Presto functions of AWS's
//! samples added ([`crate::udf`]).
//!
//! Parsing the statements DataFusion does not know is [`crate::athena`]'s (no I/O). This module
//! runs them: the [`Catalog`] keeps tables and partitions in `DATA/state.db` (Athena's catalog
//! persists between queries), [`Catalog::table`] builds a [`FlowTable`] from a definition by
//! listing files (registered partitions, partition projection), and [`run_script`] runs a
//! script statement by statement.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::ScalarValue;

pub use crate::athena::{
    Located, PartitionSpec, SqlError, Statement, Storage, TableDef, parse, split,
};
use vpcflow_store::DataDir;

use crate::table::{self, FlowFile, FlowTable, Place, RemoteBucket, TextColumns};
/// The Arrow type of a Hive column type.
pub fn arrow_type(hive: &str) -> Option<DataType> {
    Some(match hive {
        "int" | "integer" | "smallint" | "tinyint" => DataType::Int32,
        "bigint" => DataType::Int64,
        "string" | "varchar" | "char" => DataType::Utf8,
        t if t.starts_with("varchar(") || t.starts_with("char(") => DataType::Utf8,
        "date" => DataType::Date32,
        "double" => DataType::Float64,
        "float" => DataType::Float32,
        "boolean" => DataType::Boolean,
        _ => return None,
    })
}

/// Tables and partitions, kept in `DATA/state.db`.
pub struct Catalog {
    /// Locked per statement, never across an await, so that a catalog can be shared with the
    /// session's schema ([`StoreSchema`]).
    db: std::sync::Mutex<rusqlite::Connection>,
    /// Where `s3://bucket/…` locations live: `DATA/s3`.
    s3_root: PathBuf,
    /// Buckets at S3-compatible endpoints, read in place.
    remote: Vec<Arc<RemoteBucket>>,
    /// Whether a new LOCATION may be a local path (`file://…` or a path): only in a script run
    /// over files read in place (`query --files`, as the README and examples/athena-text.sql
    /// say); otherwise tables are in buckets.
    local_locations: bool,
}

fn db_err(e: &rusqlite::Error) -> SqlError {
    SqlError::Catalog(format!("catalog (state.db): {e}"))
}

impl Catalog {
    /// Opens (creating) the catalog in `data`'s `state.db`.
    pub fn open(data: &Path) -> Result<Catalog, SqlError> {
        std::fs::create_dir_all(data)
            .map_err(|e| SqlError::Catalog(format!("{}: {e}", data.display())))?;
        let dir = DataDir::new(data);
        let db = vpcflow_store::db::open(&dir.state_db())
            .map_err(|e| SqlError::Catalog(e.to_string()))?;
        Ok(Catalog::with(db, &dir))
    }

    /// A catalog that lasts for one script (no data directory to keep it in: querying files
    /// in place should not create one).
    pub fn transient(data: &Path) -> Result<Catalog, SqlError> {
        let db =
            vpcflow_store::db::open_in_memory().map_err(|e| SqlError::Catalog(e.to_string()))?;
        Ok(Catalog {
            local_locations: true,
            ..Catalog::with(db, &DataDir::new(data))
        })
    }

    fn with(db: rusqlite::Connection, data: &DataDir) -> Catalog {
        Catalog {
            db: std::sync::Mutex::new(db),
            s3_root: data.s3(),
            remote: Vec::new(),
            local_locations: false,
        }
    }

    fn db(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The catalog with `buckets` (at S3-compatible endpoints) as the places of their
    /// `s3://` locations, instead of directories under `DATA/s3`.
    pub fn with_remote(mut self, buckets: Vec<Arc<RemoteBucket>>) -> Catalog {
        self.remote = buckets;
        self
    }

    /// Every table's name and definition.
    pub fn tables(&self) -> Result<Vec<TableDef>, SqlError> {
        let ddls: Vec<String> = {
            let db = self.db();
            let mut st = db
                .prepare("SELECT ddl FROM athena_tables ORDER BY name")
                .map_err(|e| db_err(&e))?;
            st.query_map([], |r| r.get(0))
                .map_err(|e| db_err(&e))?
                .collect::<Result<_, _>>()
                .map_err(|e| db_err(&e))?
        };
        ddls.iter()
            .map(|ddl| {
                match parse(
                    ddl,
                    &Located {
                        offset: 0,
                        text: ddl,
                    },
                )? {
                    Statement::CreateTable(d) => Ok(d),
                    _ => Err(SqlError::Catalog(
                        "catalog: a stored definition is not a table".into(),
                    )),
                }
            })
            .collect()
    }

    fn get(&self, name: &str) -> Result<TableDef, SqlError> {
        self.tables()?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| {
                SqlError::Catalog(format!(
                    "Table not found {name} (create it with CREATE EXTERNAL TABLE)"
                ))
            })
    }

    /// Runs a catalog statement; returns the lines to show.
    pub async fn execute(&self, stmt: Statement, text: &str) -> Result<Vec<String>, SqlError> {
        match stmt {
            Statement::CreateTable(def) => {
                self.new_place(&def.location)?;
                for (c, t) in def.columns.iter().chain(&def.partitions) {
                    if arrow_type(t).is_none() {
                        return Err(SqlError::Catalog(format!(
                            "column {c}: type {t} is not supported (int, bigint, string, date, double, boolean)"
                        )));
                    }
                }
                let exists = self.get(&def.name).is_ok();
                if exists && !def.if_not_exists {
                    return Err(SqlError::Catalog(format!(
                        "Table already exists: {} (use IF NOT EXISTS, or DROP TABLE first)",
                        def.name
                    )));
                }
                // A table that cannot be read (its listing fails, its projection is wrong) is
                // refused now, not kept to fail every query after.
                if !exists {
                    self.table(&def).await?;
                }
                if !exists {
                    self.db()
                        .execute(
                            "INSERT INTO athena_tables (name, ddl) VALUES (?1, ?2)",
                            (&def.name, text),
                        )
                        .map_err(|e| db_err(&e))?;
                }
                Ok(vec![format!("Table {} created", def.name)])
            }
            Statement::Drop { table, if_exists } => {
                let n = self
                    .db()
                    .execute("DELETE FROM athena_tables WHERE name = ?1", [&table])
                    .map_err(|e| db_err(&e))?;
                self.db()
                    .execute(
                        "DELETE FROM athena_partitions WHERE table_name = ?1",
                        [&table],
                    )
                    .map_err(|e| db_err(&e))?;
                if n == 0 && !if_exists {
                    return Err(SqlError::Catalog(format!("Table not found {table}")));
                }
                Ok(vec![if n == 0 {
                    format!("Table {table} does not exist: nothing dropped")
                } else {
                    format!("Table {table} dropped")
                }])
            }
            Statement::Repair(table) => self.repair(&table).await,
            Statement::AddPartitions { table, partitions } => {
                let def = self.get(&table)?;
                let mut out = Vec::new();
                for (values, location) in partitions {
                    let spec = spec_of(&def, &values)?;
                    let location = location.unwrap_or_else(|| {
                        format!("{}/{}", def.location.trim_end_matches('/'), spec)
                    });
                    self.new_place(&location)?;
                    self.db()
                        .execute(
                            "INSERT OR REPLACE INTO athena_partitions VALUES (?1, ?2, ?3)",
                            (&table, &spec, &location),
                        )
                        .map_err(|e| db_err(&e))?;
                    out.push(format!("Partition {spec} added"));
                }
                Ok(out)
            }
            Statement::ShowTables => Ok(self.tables()?.into_iter().map(|t| t.name).collect()),
            Statement::ShowPartitions(table) => {
                self.get(&table)?;
                self.partitions(&table)
                    .map(|p| p.into_iter().map(|(spec, _)| spec).collect())
            }
            // As Athena stores it: the statement that created the table.
            Statement::ShowCreateTable(table) => {
                self.get(&table)?;
                let ddl: String = self
                    .db()
                    .query_row(
                        "SELECT ddl FROM athena_tables WHERE name = ?1",
                        [&table],
                        |r| r.get(0),
                    )
                    .map_err(|e| db_err(&e))?;
                Ok(ddl.lines().map(str::to_owned).collect())
            }
            Statement::Query | Statement::Describe(_) => Ok(Vec::new()),
        }
    }

    fn partitions(&self, table: &str) -> Result<Vec<(String, String)>, SqlError> {
        let db = self.db();
        let mut st = db
            .prepare(
                "SELECT spec, location FROM athena_partitions WHERE table_name = ?1 ORDER BY spec",
            )
            .map_err(|e| db_err(&e))?;
        st.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| db_err(&e))?
            .collect::<Result<_, _>>()
            .map_err(|e| db_err(&e))
    }

    /// `MSCK REPAIR TABLE`: every directory under the location whose path spells all the
    /// partition keys (`key=value/…`, Hive style) becomes a partition.
    async fn repair(&self, table: &str) -> Result<Vec<String>, SqlError> {
        let def = self.get(table)?;
        let place = self.place(&def.location)?;
        let root = place.path();
        let keys: Vec<&str> = def.partitions.iter().map(|(k, _)| k.as_str()).collect();
        let files = list(&place).await?;
        let mut found: Vec<(String, String)> = Vec::new();
        for f in &files {
            let rel = f.path.strip_prefix(&root).unwrap_or(&f.path);
            let Some(dir) = rel.parent() else { continue };
            let mut values = Vec::new();
            let mut prefix = Vec::new();
            for seg in dir.components() {
                let seg = seg.as_os_str().to_string_lossy().into_owned();
                prefix.push(seg.clone());
                if let Some((k, v)) = seg.split_once('=')
                    && keys
                        .get(values.len())
                        .is_some_and(|want| want.eq_ignore_ascii_case(k))
                {
                    values.push(v.to_owned());
                    if values.len() == keys.len() {
                        break;
                    }
                }
            }
            if values.len() == keys.len() && !keys.is_empty() {
                let spec = keys
                    .iter()
                    .zip(&values)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("/");
                let location = format!(
                    "{}/{}",
                    def.location.trim_end_matches('/'),
                    prefix.join("/")
                );
                if !found.iter().any(|(s, _)| *s == spec) {
                    found.push((spec, location));
                }
            }
        }
        let known: Vec<String> = self
            .partitions(table)?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let mut out = Vec::new();
        for (spec, location) in found {
            if known.contains(&spec) {
                continue;
            }
            self.db()
                .execute(
                    "INSERT OR REPLACE INTO athena_partitions VALUES (?1, ?2, ?3)",
                    (table, &spec, &location),
                )
                .map_err(|e| db_err(&e))?;
            out.push(format!(
                "Repair: Added partition to metastore {table}:{spec}"
            ));
        }
        if out.is_empty() {
            out.push(format!("Partitions not in metastore: none ({table})"));
        }
        Ok(out)
    }

    /// The place of a location (see [`Place::resolve`]): a bucket's, or a local path's, each
    /// resolved and checked.
    pub fn place(&self, location: &str) -> Result<Place, SqlError> {
        Place::resolve(location, &self.s3_root, &self.remote)
            .map_err(|m| SqlError::Catalog(format!("LOCATION '{location}': {m}")))
    }

    /// The place of a location a statement gives (CREATE, ADD PARTITION): a bucket's, or a
    /// local path's where this catalog takes them ([`Catalog::with_local_locations`]).
    fn new_place(&self, location: &str) -> Result<Place, SqlError> {
        let in_bucket = ["s3://", "s3a://"].iter().any(|p| location.starts_with(p));
        if !in_bucket && !self.local_locations {
            return Err(SqlError::Catalog(format!(
                "LOCATION '{location}': a table's location is a bucket of this vpcflow \
                 (s3://BUCKET/PREFIX); local paths are taken only with --files"
            )));
        }
        self.place(location)
    }

    /// Takes local paths as new locations too: a script run over files read in place
    /// (`query --files`), as the README and examples/athena-text.sql show.
    pub fn with_local_locations(mut self, yes: bool) -> Catalog {
        self.local_locations = yes;
        self
    }

    /// A queryable table for `def`: its files, with partition values from the registered
    /// partitions, from partition projection, or none.
    pub async fn table(&self, def: &TableDef) -> Result<FlowTable, SqlError> {
        let data = Schema::new(
            def.columns
                .iter()
                .map(|(n, t)| Field::new(n, arrow_type(t).unwrap_or(DataType::Utf8), true))
                .collect::<Vec<_>>(),
        );
        let part_cols: Vec<FieldRef> = def
            .partitions
            .iter()
            .map(|(n, t)| Arc::new(Field::new(n, arrow_type(t).unwrap_or(DataType::Utf8), true)))
            .collect();
        let place = self.place(&def.location)?;
        let root = place.path();
        let with_values = |mut f: FlowFile, values: &[String]| -> Result<FlowFile, SqlError> {
            f.partition = part_cols
                .iter()
                .zip(values)
                .map(|(c, v)| {
                    // A date projected as `yyyy/MM/dd` (S3's default layout) is that date.
                    let v = match c.data_type() {
                        DataType::Date32 => v.replace('/', "-"),
                        _ => v.clone(),
                    };
                    ScalarValue::Utf8(Some(v.clone()))
                        .cast_to(c.data_type())
                        .map_err(|e| {
                            SqlError::Catalog(format!("partition {}='{v}': {e}", c.name()))
                        })
                })
                .collect::<Result<_, _>>()?;
            Ok(f)
        };
        let mut files = Vec::new();
        if def.partitions.is_empty() {
            files = list(&place).await?;
        } else if def.projection() {
            let template = def
                .property("storage.location.template")
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    let mut t = def.location.trim_end_matches('/').to_owned();
                    for (k, _) in &def.partitions {
                        t.push_str(&format!("/{k}=${{{k}}}"));
                    }
                    t
                });
            let matcher = Projection::new(def, &template)?;
            for f in list(&place).await? {
                let rel = f.path.strip_prefix(&root).unwrap_or(&f.path);
                let rel = rel
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if let Some(values) = matcher.values(&rel) {
                    files.push(with_values(f, &values)?);
                }
            }
        } else {
            for (spec, location) in self.partitions(&def.name)? {
                let values: Vec<String> = spec
                    .split('/')
                    .map(|kv| {
                        kv.split_once('=')
                            .map_or(String::new(), |(_, v)| v.to_owned())
                    })
                    .collect();
                for f in list(&self.place(&location)?).await? {
                    files.push(with_values(f, &values)?);
                }
            }
        }
        let text = match def.storage {
            Storage::Parquet => TextColumns::ByHeader,
            Storage::Text => TextColumns::ByPosition {
                skip_lines: def
                    .property("skip.header.line.count")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0),
            },
        };
        // A Parquet table reads only Parquet files, a text table only text files.
        files.retain(|f| (f.kind == table::FileKind::Parquet) == (def.storage == Storage::Parquet));
        Ok(FlowTable::new(&data, part_cols, files, text))
    }
}

/// The files of a place; a local directory that does not exist (yet) has none.
async fn list(place: &Place) -> Result<Vec<FlowFile>, SqlError> {
    if let Place::Local(dir) = place
        && !dir.exists()
    {
        return Ok(Vec::new());
    }
    place
        .list(&[])
        .await
        .map_err(|e| SqlError::Catalog(format!("{}: {e}", place.path().display())))
}

fn spec_of(def: &TableDef, values: &[(String, String)]) -> Result<String, SqlError> {
    let mut parts = Vec::new();
    for (k, _) in &def.partitions {
        let v = values.iter().find(|(vk, _)| vk == k).ok_or_else(|| {
            SqlError::Catalog(format!("partition spec is missing the column {k}"))
        })?;
        parts.push(format!("{k}={}", v.1));
    }
    Ok(parts.join("/"))
}

/// Partition projection: `storage.location.template` matched against a file's directory.
struct Projection {
    /// Literal path segments and `${column}` slots after the location.
    pieces: Vec<Piece>,
    columns: Vec<String>,
}

enum Piece {
    Literal(String),
    /// A column and how many path segments its value spans (a `yyyy/MM/dd` date spans 3).
    Slot(usize, usize, Option<Vec<String>>),
}

impl Projection {
    fn new(def: &TableDef, template: &str) -> Result<Projection, SqlError> {
        let loc = def.location.trim_end_matches('/');
        let rest = template.strip_prefix(loc).ok_or_else(|| {
            SqlError::Catalog(format!(
                "storage.location.template '{template}' does not start with the LOCATION '{loc}'"
            ))
        })?;
        let columns: Vec<String> = def.partitions.iter().map(|(k, _)| k.clone()).collect();
        let mut pieces = Vec::new();
        for seg in rest.split('/').filter(|s| !s.is_empty()) {
            if let Some(name) = seg.strip_prefix("${").and_then(|s| s.strip_suffix('}')) {
                let Some(i) = columns.iter().position(|c| c == name) else {
                    // `${account_id}` and the like are literal parts of the user's template.
                    return Err(SqlError::Catalog(format!(
                        "storage.location.template: ${{{name}}} is not a partition column"
                    )));
                };
                let ty = def
                    .property(&format!("projection.{name}.type"))
                    .unwrap_or("injected");
                let span = if ty.eq_ignore_ascii_case("date") {
                    def.property(&format!("projection.{name}.format"))
                        .map_or(1, |f| f.matches('/').count() + 1)
                } else {
                    1
                };
                let values = ty.eq_ignore_ascii_case("enum").then(|| {
                    def.property(&format!("projection.{name}.values"))
                        .unwrap_or("")
                        .split(',')
                        .map(|v| v.trim().to_owned())
                        .collect()
                });
                pieces.push(Piece::Slot(i, span, values));
            } else {
                pieces.push(Piece::Literal(seg.to_owned()));
            }
        }
        Ok(Projection { pieces, columns })
    }

    /// The partition values a directory (relative to the location) spells, in column order.
    fn values(&self, dir: &str) -> Option<Vec<String>> {
        let segs: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
        let mut values = vec![String::new(); self.columns.len()];
        let mut at = 0;
        for p in &self.pieces {
            match p {
                Piece::Literal(l) => {
                    if segs.get(at) != Some(&l.as_str()) {
                        return None;
                    }
                    at += 1;
                }
                Piece::Slot(i, span, allowed) => {
                    let v = segs.get(at..at + span)?.join("/");
                    if allowed.as_ref().is_some_and(|a| !a.contains(&v)) {
                        return None;
                    }
                    values[*i] = v;
                    at += span;
                }
            }
        }
        Some(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_templates_match_directories() {
        let d = TableDef {
            name: "t".into(),
            if_not_exists: false,
            columns: vec![],
            partitions: vec![
                ("region".into(), "string".into()),
                ("day".into(), "string".into()),
            ],
            storage: Storage::Text,
            location: "s3://b/AWSLogs/1/vpcflowlogs/".into(),
            properties: vec![
                ("projection.region.type".into(), "enum".into()),
                (
                    "projection.region.values".into(),
                    "us-east-1,eu-west-1".into(),
                ),
                ("projection.day.type".into(), "date".into()),
                ("projection.day.format".into(), "yyyy/MM/dd".into()),
            ],
        };
        let p = Projection::new(&d, "s3://b/AWSLogs/1/vpcflowlogs/${region}/${day}").unwrap();
        assert_eq!(
            p.values("us-east-1/2021/02/03"),
            Some(vec!["us-east-1".into(), "2021/02/03".into()])
        );
        assert_eq!(p.values("ap-south-1/2021/02/03"), None);
        assert_eq!(p.values("us-east-1/2021/02"), None);
    }

    /// A call no form of a function takes says the call and each form once, by kind.
    #[test]
    fn a_call_no_form_takes_is_said_once() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = rt
            .block_on(plan_query(&session(), "SELECT date_bin('xx', 1)", 1))
            .expect_err("date_bin takes an interval");
        let said = err.to_string();
        assert_eq!(
            said,
            "statement at line 1: no form of the function takes date_bin(string, integer); it \
             takes: date_bin(interval, timestamp, timestamp), date_bin(interval, timestamp), \
             date_bin(interval, time, time), date_bin(interval, time)"
        );
    }
}

/// What a statement gave.
#[derive(Debug)]
pub enum Output {
    /// Lines of a catalog statement (`Table t created`, repaired partitions, …).
    Message(Vec<String>),
    /// The rows of a query.
    Rows(crate::Rows),
}

/// A statement that answers with no columns (`SET x = y`), said back in one line.
fn statement_echo(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.first() {
        Some(w) if w.eq_ignore_ascii_case("set") => vec![words.join(" ")],
        _ => Vec::new(),
    }
}

/// `DESCRIBE t`: the columns with the Hive types Athena shows, partition keys last (marked so in
/// `comment`). A catalog table's types are those of its DDL; another table's (`flows`, a log
/// group) are its Arrow types in Hive's words.
async fn describe(
    ctx: &datafusion::prelude::SessionContext,
    catalog: &Catalog,
    table: &str,
) -> Result<crate::Rows, Failed> {
    let mut rows: Vec<(String, String, &str)> = Vec::new();
    if let Some(def) = catalog.tables()?.into_iter().find(|t| t.name == table) {
        rows.extend(def.columns.into_iter().map(|(c, t)| (c, t, "")));
        rows.extend(
            def.partitions
                .into_iter()
                .map(|(c, t)| (c, t, "partition key")),
        );
    } else {
        let t = ctx.table(table).await?;
        rows.extend(
            t.schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), hive_type(f.data_type()), "")),
        );
    }
    use datafusion::arrow::array::StringArray;
    let schema = Arc::new(Schema::new(
        ["col_name", "data_type", "comment"]
            .map(|n| Field::new(n, DataType::Utf8, false))
            .to_vec(),
    ));
    let column = |f: &dyn Fn(&(String, String, &str)) -> String| {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
            as datafusion::arrow::array::ArrayRef
    };
    let batch = datafusion::arrow::record_batch::RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            column(&|r| r.0.clone()),
            column(&|r| r.1.clone()),
            column(&|r| r.2.to_owned()),
        ],
    )?;
    Ok(crate::Rows {
        schema,
        batches: vec![batch],
        stats: Default::default(),
    })
}

/// An Arrow type in the words of Hive's DDL (what Athena's DESCRIBE shows).
fn hive_type(t: &DataType) -> String {
    match t {
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "string".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(..) => "timestamp".into(),
        other => other.to_string().to_lowercase(),
    }
}

/// A statement's failure before its line is known.
#[derive(Debug)]
enum Failed {
    Sql(SqlError),
    Engine(datafusion::error::DataFusionError),
}

impl From<SqlError> for Failed {
    fn from(e: SqlError) -> Failed {
        Failed::Sql(e)
    }
}

impl From<datafusion::error::DataFusionError> for Failed {
    fn from(e: datafusion::error::DataFusionError) -> Failed {
        Failed::Engine(e)
    }
}

impl From<datafusion::arrow::error::ArrowError> for Failed {
    fn from(e: datafusion::arrow::error::ArrowError) -> Failed {
        Failed::Engine(e.into())
    }
}

impl Failed {
    fn at(self, line: usize) -> RunError {
        match self {
            Failed::Sql(e) => RunError::Sql(e),
            Failed::Engine(error) => RunError::Engine { line, error },
        }
    }
}

/// Why a script stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A statement is wrong or its table is.
    #[error("{0}")]
    Sql(#[from] SqlError),
    /// DataFusion refused or failed a statement (starting at `line`), said once by its innermost
    /// cause.
    #[error("statement at line {line}: {}", crate::engine_message(error))]
    Engine {
        /// 1-based line where the statement starts.
        line: usize,
        /// The engine's error.
        error: datafusion::error::DataFusionError,
    },
}

/// A session with vpcflow's functions (and the catalog's tables, per statement).
pub fn session() -> datafusion::prelude::SessionContext {
    crate::session(config())
}

/// The settings SQL runs with (here or on a cluster).
pub fn config() -> datafusion::prelude::SessionConfig {
    datafusion::prelude::SessionConfig::new()
        .with_information_schema(true)
        .set_bool("datafusion.sql_parser.enable_ident_normalization", true)
}

/// The session's tables, found by name when a statement names them: those registered (an
/// import as `flows`, views), the catalog's (each built by listing its files, so only those
/// named), and the log groups of the data directory by their names (`"/vpcflow/flow-logs"`).
/// Nothing scans a statement's text for table names.
#[derive(Debug)]
pub struct StoreSchema {
    catalog: Arc<Catalog>,
    groups: Option<crate::groups::LogGroups>,
    registered: std::sync::Mutex<
        std::collections::HashMap<String, Arc<dyn datafusion::catalog::TableProvider>>,
    >,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("s3_root", &self.s3_root)
            .finish_non_exhaustive()
    }
}

impl StoreSchema {
    /// The tables of `catalog`, and the log groups of `data` (none without one).
    pub fn new(catalog: Arc<Catalog>, data: Option<DataDir>) -> StoreSchema {
        StoreSchema {
            catalog,
            groups: data.map(crate::groups::LogGroups::new),
            registered: Default::default(),
        }
    }

    fn registered(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<String, Arc<dyn datafusion::catalog::TableProvider>>,
    > {
        self.registered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The log groups of the data directory (none when it cannot be read: a table that is not
    /// there is the statement's error).
    fn log_groups(&self) -> Vec<String> {
        self.groups
            .as_ref()
            .and_then(|g| g.names().ok())
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl datafusion::catalog::SchemaProvider for StoreSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.registered().keys().cloned().collect();
        names.extend(
            self.catalog
                .tables()
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.name),
        );
        names.extend(self.log_groups());
        names.sort();
        names.dedup();
        names
    }

    async fn table(
        &self,
        name: &str,
    ) -> datafusion::error::Result<Option<Arc<dyn datafusion::catalog::TableProvider>>> {
        let found = self.registered().get(name).cloned();
        if let Some(t) = found {
            return Ok(Some(t));
        }
        let def = self
            .catalog
            .tables()
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?
            .into_iter()
            .find(|d| d.name == name);
        if let Some(def) = def {
            let t = self
                .catalog
                .table(&def)
                .await
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            return Ok(Some(Arc::new(t)));
        }
        let sources = match &self.groups {
            Some(groups) => groups
                .sources(name, None)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
            None => None,
        };
        match sources {
            Some(paths) => Ok(Some(log_group_table(&session(), paths).await?)),
            None => Ok(None),
        }
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn datafusion::catalog::TableProvider>,
    ) -> datafusion::error::Result<Option<Arc<dyn datafusion::catalog::TableProvider>>> {
        Ok(self.registered().insert(name, table))
    }

    fn deregister_table(
        &self,
        name: &str,
    ) -> datafusion::error::Result<Option<Arc<dyn datafusion::catalog::TableProvider>>> {
        Ok(self.registered().remove(name))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.registered().contains_key(name)
            || self
                .catalog
                .tables()
                .is_ok_and(|ts| ts.iter().any(|t| t.name == name))
            || self.log_groups().iter().any(|g| g == name)
    }
}

/// Runs every statement of `script` in order over `schema`'s tables (see [`StoreSchema`]),
/// with `extra` tables (an import as `flows`) registered beside them.
pub async fn run_script(
    ctx: &datafusion::prelude::SessionContext,
    schema: Arc<StoreSchema>,
    script: &str,
    extra: &[(String, Arc<dyn datafusion::catalog::TableProvider>)],
) -> Result<Vec<Output>, RunError> {
    let catalog = Arc::clone(&schema.catalog);
    let catalog = catalog.as_ref();
    ctx.catalog("datafusion")
        .expect("the session's default catalog")
        .register_schema("public", Arc::clone(&schema) as _)
        .map_err(|error| RunError::Engine { line: 1, error })?;
    for (name, t) in extra {
        ctx.register_table(name.as_str(), Arc::clone(t))
            .map_err(|error| RunError::Engine { line: 1, error })?;
    }
    let mut out = Vec::new();
    for stmt in split(script) {
        let line = script[..stmt.offset].matches('\n').count() + 1;
        match parse(script, &stmt)? {
            Statement::Query => {
                let engine = |error| RunError::Engine { line, error };
                let df = plan_query(ctx, stmt.text, line).await?;
                out.push(if df.schema().fields().is_empty() {
                    // SET and the like: what was done, in one line.
                    Output::Message(statement_echo(stmt.text))
                } else {
                    Output::Rows(crate::Rows::of(df).await.map_err(engine)?)
                });
            }
            Statement::Describe(table) => {
                let rows = describe(ctx, catalog, &table)
                    .await
                    .map_err(|e| e.at(line))?;
                out.push(Output::Rows(rows));
            }
            other => out.push(Output::Message(catalog.execute(other, stmt.text).await?)),
        }
    }
    Ok(out)
}

/// Plans one query statement (line `line` of its script) without running it. SQL reads; it
/// never writes a file (COPY, INSERT): no statement reaches the store's own files, or any other
/// path the process could write.
pub async fn plan_query(
    ctx: &datafusion::prelude::SessionContext,
    sql: &str,
    line: usize,
) -> Result<datafusion::prelude::DataFrame, RunError> {
    check_depth(sql, line)?;
    let reads_only = datafusion::execution::context::SQLOptions::new().with_allow_dml(false);
    match ctx.sql_with_options(sql, reads_only).await {
        Err(error) if error.to_string().contains("DML not supported") => {
            Err(RunError::Sql(SqlError::Syntax {
                line,
                column: 1,
                message: "COPY, INSERT, UPDATE and DELETE are refused: vpcflow's SQL reads flow \
                          logs and writes nothing"
                    .to_owned(),
            }))
        }
        other => other.map_err(|error| RunError::Engine { line, error }),
    }
}

/// The deepest an expression of a SQL statement may nest (`1+1+…` nests once per operator):
/// planning time and stack grow with the depth, so deeper ones are refused before planning.
pub const MAX_EXPR_DEPTH: usize = 1000;

/// Refuses a statement whose expressions nest deeper than [`MAX_EXPR_DEPTH`], naming its line.
/// One the parser refuses is left to the engine, which says why.
fn check_depth(sql: &str, line: usize) -> Result<(), RunError> {
    use datafusion::sql::sqlparser::ast::{Expr, Visit, Visitor};
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    use std::ops::ControlFlow;

    struct Depth(usize);
    impl Visitor for Depth {
        type Break = ();
        fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.0 += 1;
            if self.0 > MAX_EXPR_DEPTH {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
        fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.0 -= 1;
            ControlFlow::Continue(())
        }
    }
    let Ok(statements) = Parser::parse_sql(&GenericDialect {}, sql) else {
        return Ok(());
    };
    if statements.visit(&mut Depth(0)).is_break() {
        return Err(RunError::Sql(SqlError::Syntax {
            line,
            column: 1,
            message: format!(
                "an expression nests more than {MAX_EXPR_DEPTH} levels deep (each operator is \
                 one); split it, or use a function such as SUM over rows"
            ),
        }));
    }
    Ok(())
}

/// A log group's segments as a SQL table: the system columns (`@timestamp` and
/// `@ingestionTime` as timestamps, `@logStream`, `@message`) and the flow-log columns with AWS's
/// names.
pub async fn log_group_table(
    ctx: &datafusion::prelude::SessionContext,
    paths: Vec<String>,
) -> datafusion::error::Result<Arc<dyn datafusion::catalog::TableProvider>> {
    use datafusion::logical_expr::{cast, col};
    let df = table::read_log_group(ctx, paths).await?;
    let select: Vec<_> = df
        .schema()
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            n @ ("@timestamp" | "@ingestionTime") => cast(
                col(format!("\"{n}\"")),
                DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Millisecond, None),
            )
            .alias(n),
            n => col(format!("\"{n}\"")),
        })
        .collect();
    Ok(df.select(select)?.into_view())
}
