//! SQL as Athena users write it: AWS's documented DDL for flow-log tables (query.md §4.2) runs
//! unchanged, and every other statement is DataFusion SQL with the Presto functions of AWS's
//! samples added ([`crate::udf`]).
//!
//! Owns the statements DataFusion does not know: `CREATE EXTERNAL TABLE` with Hive's `ROW FORMAT
//! DELIMITED`, `STORED AS`/`INPUTFORMAT`, `PARTITIONED BY`, `LOCATION` and `TBLPROPERTIES`
//! (`skip.header.line.count`, partition projection); `MSCK REPAIR TABLE`; `ALTER TABLE … ADD
//! PARTITION`; `DROP TABLE`; `SHOW TABLES`/`SHOW PARTITIONS`. Parsing them ([`parse`]) does no
//! I/O; the [`Catalog`] keeps tables and partitions in `DATA/state.db` (Athena's catalog
//! persists between queries), and [`Catalog::table`] builds a [`FlowTable`] from a definition
//! by listing files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::ScalarValue;

use crate::table::{self, FlowFile, FlowTable, TextColumns};

/// Why a statement failed, with the statement's position in the script.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The statement is wrong, at a byte offset of the script.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The catalog or the files.
    #[error("{0}")]
    Catalog(String),
    /// The catalog's database.
    #[error("catalog (state.db): {0}")]
    Db(#[from] rusqlite::Error),
}

/// One statement of a script and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<'a> {
    /// Byte offset in the script.
    pub offset: usize,
    /// The text, without the `;`.
    pub text: &'a str,
}

/// Splits a script at `;` outside quotes and comments; empty statements are dropped.
pub fn split(script: &str) -> Vec<Located<'_>> {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b';' => {
                push(script, start, i, &mut out);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    push(script, start, b.len(), &mut out);
    out
}

fn push<'a>(script: &'a str, a: usize, b: usize, out: &mut Vec<Located<'a>>) {
    let text = &script[a..b.min(script.len())];
    let meaningful = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
    if meaningful {
        let lead = text.len() - text.trim_start().len();
        out.push(Located {
            offset: a + lead,
            text: text.trim(),
        });
    }
}

/// Where a table's files are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// `ROW FORMAT DELIMITED` text (LazySimpleSerDe).
    Text,
    /// Parquet (`STORED AS PARQUET`, `ParquetHiveSerDe`).
    Parquet,
}

/// A `CREATE EXTERNAL TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    /// Table name (lower case, as Athena stores it).
    pub name: String,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// Data columns: name and Hive type (lower case).
    pub columns: Vec<(String, String)>,
    /// `PARTITIONED BY` columns.
    pub partitions: Vec<(String, String)>,
    /// Storage.
    pub storage: Storage,
    /// `LOCATION`.
    pub location: String,
    /// `TBLPROPERTIES`, in order.
    pub properties: Vec<(String, String)>,
}

impl TableDef {
    /// A property's value.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn projection(&self) -> bool {
        self.property("projection.enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// One partition of `ALTER TABLE … ADD PARTITION`: its `(column, value)`s and `LOCATION`.
pub type PartitionSpec = (Vec<(String, String)>, Option<String>);

/// The statements handled here; anything else is [`Statement::Query`].
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE EXTERNAL TABLE …`
    CreateTable(TableDef),
    /// `MSCK REPAIR TABLE name`
    Repair(String),
    /// `ALTER TABLE name ADD [IF NOT EXISTS] PARTITION (k = 'v', …) [LOCATION '…']`, one or more.
    AddPartitions {
        /// Table.
        table: String,
        /// Each partition's values and location.
        partitions: Vec<PartitionSpec>,
    },
    /// `DROP TABLE [IF EXISTS] name`
    Drop {
        /// Table.
        table: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `SHOW TABLES`
    ShowTables,
    /// `SHOW PARTITIONS name`
    ShowPartitions(String),
    /// Anything else: DataFusion SQL.
    Query,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Punct(char),
}

struct Lexer<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    text: &'a str,
    base: usize,
    script: &'a str,
}

impl<'a> Lexer<'a> {
    fn new(script: &'a str, stmt: &Located<'a>) -> Result<Lexer<'a>, SqlError> {
        let text = stmt.text;
        let b = text.as_bytes();
        let mut toks = Vec::new();
        let mut i = 0;
        let err = |at: usize, m: &str| error_at(script, stmt.offset + at, m.to_owned());
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_whitespace() {
                i += 1;
            } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            } else if c == b'\'' || c == b'"' || c == b'`' {
                let start = i;
                i += 1;
                let mut s = String::new();
                loop {
                    match b.get(i) {
                        None => return Err(err(start, "unterminated quote")),
                        Some(&q) if q == c => {
                            if b.get(i + 1) == Some(&c) {
                                s.push(c as char);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(_) => {
                            let ch = text[i..].chars().next().unwrap_or(' ');
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                toks.push((
                    if c == b'\'' {
                        Tok::Str(s)
                    } else {
                        Tok::Quoted(s)
                    },
                    start,
                ));
            } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'$' {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b'$' | b'-'))
                {
                    i += 1;
                }
                toks.push((Tok::Word(text[start..i].to_owned()), start));
            } else {
                toks.push((Tok::Punct(c as char), i));
                i += 1;
            }
        }
        Ok(Lexer {
            toks,
            pos: 0,
            text,
            base: stmt.offset,
            script,
        })
    }

    fn at(&self) -> usize {
        self.base + self.toks.get(self.pos).map_or(self.text.len(), |(_, o)| *o)
    }

    fn fail<T>(&self, m: impl Into<String>) -> Result<T, SqlError> {
        Err(error_at(self.script, self.at(), m.into()))
    }

    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.toks.get(self.pos), Some((Tok::Word(w), _)) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn kw(&mut self, kw: &str) -> Result<(), SqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            self.fail(format!("expected {}", kw.to_uppercase()))
        }
    }

    fn punct(&mut self, c: char) -> Result<(), SqlError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.fail(format!("expected '{c}'"))
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if matches!(self.toks.get(self.pos), Some((Tok::Punct(p), _)) if *p == c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, SqlError> {
        match self.toks.get(self.pos) {
            Some((Tok::Word(w) | Tok::Quoted(w), _)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => self.fail(format!("expected {what}")),
        }
    }

    fn string(&mut self, what: &str) -> Result<String, SqlError> {
        match self.toks.get(self.pos) {
            // Hive reads "double-quoted" strings too (AWS's DDL uses both).
            Some((Tok::Str(s) | Tok::Quoted(s), _)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => self.fail(format!("expected {what} as a quoted string")),
        }
    }

    /// A Hive type: a word, possibly with arguments (`decimal(10,2)`, `array<string>`).
    fn hive_type(&mut self) -> Result<String, SqlError> {
        let mut t = self.ident("a column type")?.to_lowercase();
        if self.eat_punct('(') {
            t.push('(');
            while !self.eat_punct(')') {
                match self.toks.get(self.pos) {
                    Some((Tok::Word(w), _)) => t.push_str(w),
                    Some((Tok::Punct(p), _)) => t.push(*p),
                    _ => return self.fail("expected ')'"),
                }
                self.pos += 1;
            }
            t.push(')');
        }
        Ok(t)
    }

    fn columns(&mut self) -> Result<Vec<(String, String)>, SqlError> {
        self.punct('(')?;
        let mut cols = Vec::new();
        loop {
            let name = self.ident("a column name")?.to_lowercase();
            let ty = self.hive_type()?;
            if self.eat_kw("comment") {
                self.string("a comment")?;
            }
            cols.push((name, ty));
            if self.eat_punct(')') {
                return Ok(cols);
            }
            self.punct(',')?;
        }
    }

    fn done(&self) -> Result<(), SqlError> {
        if self.pos < self.toks.len() {
            return self.fail("unexpected text after the statement");
        }
        Ok(())
    }

    fn table_name(&mut self) -> Result<String, SqlError> {
        let n = self.ident("a table name")?.to_lowercase();
        // `db.table`: one database here, the name is what counts.
        Ok(n.rsplit('.').next().unwrap_or(&n).to_owned())
    }
}

fn error_at(script: &str, offset: usize, message: String) -> SqlError {
    let before = &script[..offset.min(script.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    SqlError::Syntax {
        line,
        column,
        message,
    }
}

/// Classifies and parses one statement (no I/O).
pub fn parse(script: &str, stmt: &Located<'_>) -> Result<Statement, SqlError> {
    let mut l = Lexer::new(script, stmt)?;
    if l.eat_kw("create") {
        if !l.eat_kw("external") {
            return Ok(Statement::Query);
        }
        l.kw("table")?;
        let if_not_exists = if l.eat_kw("if") {
            l.kw("not")?;
            l.kw("exists")?;
            true
        } else {
            false
        };
        let name = l.table_name()?;
        let columns = l.columns()?;
        let mut def = TableDef {
            name,
            if_not_exists,
            columns,
            partitions: Vec::new(),
            storage: Storage::Text,
            location: String::new(),
            properties: Vec::new(),
        };
        let mut delimiter = None;
        while l.pos < l.toks.len() {
            if l.eat_kw("partitioned") {
                l.kw("by")?;
                def.partitions = l.columns()?;
            } else if l.eat_kw("row") {
                l.kw("format")?;
                if l.eat_kw("delimited") {
                    while l.eat_kw("fields")
                        || l.eat_kw("lines")
                        || l.eat_kw("collection")
                        || l.eat_kw("map")
                    {
                        let field = l.toks[l.pos - 1].0 == Tok::Word("fields".into())
                            || matches!(&l.toks[l.pos - 1].0, Tok::Word(w) if w.eq_ignore_ascii_case("fields"));
                        if !l.eat_kw("terminated") {
                            l.eat_kw("items");
                            l.eat_kw("keys");
                            l.kw("terminated")?;
                        }
                        l.kw("by")?;
                        let d = l.string("a delimiter")?;
                        if field {
                            delimiter = Some(d);
                        }
                    }
                } else {
                    l.kw("serde")?;
                    let serde = l.string("a SerDe class")?;
                    if serde.to_lowercase().contains("parquet") {
                        def.storage = Storage::Parquet;
                    }
                    if l.eat_kw("with") {
                        l.kw("serdeproperties")?;
                        properties(&mut l)?;
                    }
                }
            } else if l.eat_kw("stored") {
                l.kw("as")?;
                if l.eat_kw("inputformat") {
                    let f = l.string("an input format class")?;
                    if f.to_lowercase().contains("parquet") {
                        def.storage = Storage::Parquet;
                    }
                    l.kw("outputformat")?;
                    l.string("an output format class")?;
                } else {
                    let f = l.ident("a storage format")?;
                    match f.to_lowercase().as_str() {
                        "parquet" => def.storage = Storage::Parquet,
                        "textfile" => def.storage = Storage::Text,
                        other => {
                            l.pos -= 1;
                            return l.fail(format!(
                                "STORED AS {}: flow-log tables are TEXTFILE or PARQUET",
                                other.to_uppercase()
                            ));
                        }
                    }
                }
            } else if l.eat_kw("location") {
                def.location = l.string("the LOCATION")?;
            } else if l.eat_kw("tblproperties") {
                def.properties = properties(&mut l)?;
            } else if l.eat_kw("comment") {
                l.string("a comment")?;
            } else {
                return l.fail(
                    "expected PARTITIONED BY, ROW FORMAT, STORED AS, LOCATION or TBLPROPERTIES",
                );
            }
        }
        if def.location.is_empty() {
            return l.fail("CREATE EXTERNAL TABLE needs a LOCATION");
        }
        if def.storage == Storage::Text && delimiter.as_deref().is_some_and(|d| d != " ") {
            return Err(SqlError::Catalog(format!(
                "table {}: flow-log text fields are terminated by ' ', not '{}'",
                def.name,
                delimiter.unwrap_or_default()
            )));
        }
        return Ok(Statement::CreateTable(def));
    }
    if l.eat_kw("msck") {
        l.kw("repair")?;
        l.kw("table")?;
        let t = l.table_name()?;
        l.done()?;
        return Ok(Statement::Repair(t));
    }
    if l.eat_kw("alter") {
        l.kw("table")?;
        let table = l.table_name()?;
        l.kw("add")?;
        if l.eat_kw("if") {
            l.kw("not")?;
            l.kw("exists")?;
        }
        let mut partitions = Vec::new();
        while l.eat_kw("partition") {
            l.punct('(')?;
            let mut values = Vec::new();
            loop {
                let k = l.ident("a partition column")?.to_lowercase();
                l.punct('=')?;
                let v = l.string("a partition value")?;
                values.push((k, v));
                if l.eat_punct(')') {
                    break;
                }
                l.punct(',')?;
            }
            let location = if l.eat_kw("location") {
                Some(l.string("the LOCATION")?)
            } else {
                None
            };
            partitions.push((values, location));
        }
        if partitions.is_empty() {
            return l.fail("expected PARTITION");
        }
        l.done()?;
        return Ok(Statement::AddPartitions { table, partitions });
    }
    if l.eat_kw("drop") {
        l.kw("table")?;
        let if_exists = if l.eat_kw("if") {
            l.kw("exists")?;
            true
        } else {
            false
        };
        let table = l.table_name()?;
        l.done()?;
        return Ok(Statement::Drop { table, if_exists });
    }
    if l.eat_kw("show") {
        if l.eat_kw("tables") {
            l.done()?;
            return Ok(Statement::ShowTables);
        }
        if l.eat_kw("partitions") {
            let t = l.table_name()?;
            l.done()?;
            return Ok(Statement::ShowPartitions(t));
        }
    }
    Ok(Statement::Query)
}

fn properties(l: &mut Lexer<'_>) -> Result<Vec<(String, String)>, SqlError> {
    l.punct('(')?;
    let mut out = Vec::new();
    loop {
        let k = l.string("a property name")?;
        l.punct('=')?;
        let v = l.string("a property value")?;
        out.push((k, v));
        if l.eat_punct(')') {
            return Ok(out);
        }
        l.punct(',')?;
    }
}

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
    db: rusqlite::Connection,
    /// Where `s3://bucket/…` locations live: `DATA/s3`.
    s3_root: PathBuf,
}

fn db_err(e: rusqlite::Error) -> SqlError {
    SqlError::Db(e)
}

impl Catalog {
    /// Opens (creating) the catalog in `data`'s `state.db`.
    pub fn open(data: &Path) -> Result<Catalog, SqlError> {
        std::fs::create_dir_all(data)
            .map_err(|e| SqlError::Catalog(format!("{}: {e}", data.display())))?;
        let db = rusqlite::Connection::open(data.join("state.db")).map_err(db_err)?;
        db.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_err)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS athena_tables (name TEXT PRIMARY KEY, ddl TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS athena_partitions (
                 table_name TEXT NOT NULL, spec TEXT NOT NULL, location TEXT NOT NULL,
                 PRIMARY KEY (table_name, spec));",
        )
        .map_err(db_err)?;
        Ok(Catalog {
            db,
            s3_root: data.join("s3"),
        })
    }

    /// Every table's name and definition.
    pub fn tables(&self) -> Result<Vec<TableDef>, SqlError> {
        let mut st = self
            .db
            .prepare("SELECT ddl FROM athena_tables ORDER BY name")
            .map_err(db_err)?;
        let ddls: Vec<String> = st
            .query_map([], |r| r.get(0))
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)?;
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
    pub fn execute(&self, stmt: Statement, text: &str) -> Result<Vec<String>, SqlError> {
        match stmt {
            Statement::CreateTable(def) => {
                self.local(&def.location)?;
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
                if !exists {
                    self.db
                        .execute(
                            "INSERT INTO athena_tables (name, ddl) VALUES (?1, ?2)",
                            (&def.name, text),
                        )
                        .map_err(db_err)?;
                }
                Ok(vec![format!("Table {} created", def.name)])
            }
            Statement::Drop { table, if_exists } => {
                let n = self
                    .db
                    .execute("DELETE FROM athena_tables WHERE name = ?1", [&table])
                    .map_err(db_err)?;
                self.db
                    .execute(
                        "DELETE FROM athena_partitions WHERE table_name = ?1",
                        [&table],
                    )
                    .map_err(db_err)?;
                if n == 0 && !if_exists {
                    return Err(SqlError::Catalog(format!("Table not found {table}")));
                }
                Ok(vec![format!("Table {table} dropped")])
            }
            Statement::Repair(table) => self.repair(&table),
            Statement::AddPartitions { table, partitions } => {
                let def = self.get(&table)?;
                let mut out = Vec::new();
                for (values, location) in partitions {
                    let spec = spec_of(&def, &values)?;
                    let location = location.unwrap_or_else(|| {
                        format!("{}/{}", def.location.trim_end_matches('/'), spec)
                    });
                    self.local(&location)?;
                    self.db
                        .execute(
                            "INSERT OR REPLACE INTO athena_partitions VALUES (?1, ?2, ?3)",
                            (&table, &spec, &location),
                        )
                        .map_err(db_err)?;
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
            Statement::Query => Ok(Vec::new()),
        }
    }

    fn partitions(&self, table: &str) -> Result<Vec<(String, String)>, SqlError> {
        let mut st = self
            .db
            .prepare(
                "SELECT spec, location FROM athena_partitions WHERE table_name = ?1 ORDER BY spec",
            )
            .map_err(db_err)?;
        st.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    /// `MSCK REPAIR TABLE`: every directory under the location whose path spells all the
    /// partition keys (`key=value/…`, Hive style) becomes a partition.
    fn repair(&self, table: &str) -> Result<Vec<String>, SqlError> {
        let def = self.get(table)?;
        let root = self.local(&def.location)?;
        let keys: Vec<&str> = def.partitions.iter().map(|(k, _)| k.as_str()).collect();
        let files = if root.exists() {
            table::discover(&root, &[])
                .map_err(|e| SqlError::Catalog(format!("{}: {e}", root.display())))?
        } else {
            Vec::new()
        };
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
            self.db
                .execute(
                    "INSERT OR REPLACE INTO athena_partitions VALUES (?1, ?2, ?3)",
                    (table, &spec, &location),
                )
                .map_err(db_err)?;
            out.push(format!(
                "Repair: Added partition to metastore {table}:{spec}"
            ));
        }
        if out.is_empty() {
            out.push(format!("Partitions not in metastore: none ({table})"));
        }
        Ok(out)
    }

    /// The local directory of a location: `s3://bucket/key` under `DATA/s3`, a path as is.
    pub fn local(&self, location: &str) -> Result<PathBuf, SqlError> {
        let p = self.local_relative(location)?;
        std::path::absolute(&p)
            .map_err(|e| SqlError::Catalog(format!("LOCATION '{location}': {e}")))
    }

    fn local_relative(&self, location: &str) -> Result<PathBuf, SqlError> {
        if let Some(rest) = location
            .strip_prefix("s3://")
            .or_else(|| location.strip_prefix("s3a://"))
        {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            let dir = self.s3_root.join(bucket);
            if !dir.is_dir() {
                return Err(SqlError::Catalog(format!(
                    "LOCATION '{location}': bucket '{bucket}' is not a bucket of this vpcflow \
                     ({} does not exist; buckets are named in the config's [[buckets]] and flow logs)",
                    dir.display()
                )));
            }
            Ok(dir.join(key.trim_end_matches('/')))
        } else if let Some(p) = location.strip_prefix("file://") {
            Ok(PathBuf::from(p))
        } else {
            Ok(PathBuf::from(location))
        }
    }

    /// A queryable table for `def`: its files, with partition values from the registered
    /// partitions, from partition projection, or none.
    pub fn table(&self, def: &TableDef) -> Result<FlowTable, SqlError> {
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
        let root = self.local(&def.location)?;
        let list = |dir: &Path| -> Result<Vec<FlowFile>, SqlError> {
            if !dir.exists() {
                return Ok(Vec::new());
            }
            table::discover(dir, &[])
                .map_err(|e| SqlError::Catalog(format!("{}: {e}", dir.display())))
        };
        let with_values = |mut f: FlowFile, values: &[String]| -> Result<FlowFile, SqlError> {
            f.partition = part_cols
                .iter()
                .zip(values)
                .map(|(c, v)| {
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
            files = list(&root)?;
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
            for f in list(&root)? {
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
                for f in list(&self.local(&location)?)? {
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

    fn one(s: &str) -> Result<Statement, SqlError> {
        let st = split(s);
        parse(s, &st[0])
    }

    #[test]
    fn scripts_split_at_semicolons_outside_quotes_and_comments() {
        let s = "SELECT 'a;b';\n-- a comment; here\nSELECT \"x;\" FROM t ;  ;\n";
        let parts: Vec<&str> = split(s).iter().map(|l| l.text).collect();
        assert_eq!(
            parts,
            vec!["SELECT 'a;b'", "-- a comment; here\nSELECT \"x;\" FROM t"]
        );
    }

    #[test]
    fn athena_ddl_parses() {
        let ddl = "CREATE EXTERNAL TABLE IF NOT EXISTS `vpc_flow_logs` (
  `version` int, `account_id` string, `interface_id` string, `srcaddr` string, `dstaddr` string,
  `srcport` int, `dstport` int, `protocol` bigint, `packets` bigint, `bytes` bigint,
  `start` bigint, `end` bigint, `action` string, `log_status` string)
PARTITIONED BY (`date` date)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ' '
LOCATION 's3://amzn-s3-demo-bucket/prefix/AWSLogs/123456789012/vpcflowlogs/us-east-1/'
TBLPROPERTIES (\"skip.header.line.count\"=\"1\")";
        // Athena accepts double-quoted property names; so do we.
        let Statement::CreateTable(d) = one(&ddl.replace('"', "'")).unwrap() else {
            panic!("not a table")
        };
        assert_eq!(d.name, "vpc_flow_logs");
        assert_eq!(d.columns.len(), 14);
        assert_eq!(d.columns[11], ("end".into(), "bigint".into()));
        assert_eq!(d.partitions, vec![("date".into(), "date".into())]);
        assert_eq!(d.storage, Storage::Text);
        assert_eq!(d.property("skip.header.line.count"), Some("1"));
        let parquet = "CREATE EXTERNAL TABLE t (a int) PARTITIONED BY (`aws-account-id` string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION 's3://b/AWSLogs/' TBLPROPERTIES ('EXTERNAL'='true')";
        let Statement::CreateTable(d) = one(parquet).unwrap() else {
            panic!()
        };
        assert_eq!(d.storage, Storage::Parquet);
        assert_eq!(d.partitions[0].0, "aws-account-id");
    }

    #[test]
    fn other_statements_and_errors_with_positions() {
        assert_eq!(
            one("MSCK REPAIR TABLE db.Flows").unwrap(),
            Statement::Repair("flows".into())
        );
        assert_eq!(one("select 1").unwrap(), Statement::Query);
        assert!(matches!(
            one("ALTER TABLE t ADD PARTITION (`date`='2020-05-04') LOCATION 's3://b/x'").unwrap(),
            Statement::AddPartitions { partitions, .. } if partitions.len() == 1
        ));
        let e = one("CREATE EXTERNAL TABLE t (a int)\nLOCATIN 's3://b/'").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column 1: expected PARTITIONED BY, ROW FORMAT, STORED AS, LOCATION or TBLPROPERTIES"
        );
        let e =
            one("CREATE EXTERNAL TABLE t (a int) STORED AS ORC LOCATION 's3://b/'").unwrap_err();
        assert!(e.to_string().contains("column 43"), "{e}");
    }

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
}

/// What a statement gave.
#[derive(Debug)]
pub enum Output {
    /// Lines of a catalog statement (`Table t created`, repaired partitions, …).
    Message(Vec<String>),
    /// The rows of a query.
    Rows(Vec<datafusion::arrow::record_batch::RecordBatch>),
}

/// Why a script stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A statement is wrong or its table is.
    #[error("{0}")]
    Sql(#[from] SqlError),
    /// DataFusion refused or failed a statement (starting at `line`).
    #[error("statement at line {line}: {error}")]
    Engine {
        /// 1-based line where the statement starts.
        line: usize,
        /// The engine's error.
        error: datafusion::error::DataFusionError,
    },
}

/// A session with vpcflow's functions (and the catalog's tables, per statement).
pub fn session() -> datafusion::prelude::SessionContext {
    let config = datafusion::prelude::SessionConfig::new()
        .with_information_schema(true)
        .set_bool("datafusion.sql_parser.enable_ident_normalization", true);
    let ctx = datafusion::prelude::SessionContext::new_with_config(config);
    crate::udf::register(&ctx);
    ctx
}

/// Runs every statement of `script` in order. `extra` tables (an import) are registered
/// beside the catalog's.
pub async fn run_script(
    ctx: &datafusion::prelude::SessionContext,
    catalog: &Catalog,
    script: &str,
    extra: &[(String, Arc<FlowTable>)],
) -> Result<Vec<Output>, RunError> {
    let mut out = Vec::new();
    for stmt in split(script) {
        let line = script[..stmt.offset].matches('\n').count() + 1;
        match parse(script, &stmt)? {
            Statement::Query => {
                let engine = |error| RunError::Engine { line, error };
                // Only the tables the statement names are built (each lists its files).
                let words: Vec<String> = stmt
                    .text
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map(str::to_lowercase)
                    .collect();
                for def in catalog.tables()? {
                    if !words.contains(&def.name) {
                        continue;
                    }
                    let t = catalog.table(&def)?;
                    ctx.deregister_table(def.name.as_str()).map_err(engine)?;
                    ctx.register_table(def.name.as_str(), Arc::new(t))
                        .map_err(engine)?;
                }
                for (name, t) in extra {
                    ctx.deregister_table(name.as_str()).map_err(engine)?;
                    ctx.register_table(name.as_str(), Arc::clone(t) as _)
                        .map_err(engine)?;
                }
                let df = ctx.sql(stmt.text).await.map_err(engine)?;
                out.push(Output::Rows(df.collect().await.map_err(engine)?));
            }
            other => out.push(Output::Message(catalog.execute(other, stmt.text)?)),
        }
    }
    Ok(out)
}
