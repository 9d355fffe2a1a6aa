//! Athena's statements as AWS documents them for flow logs (query.md §4.2), parsed without I/O
//! and without the engine (so they are fuzzed with the other parsers): scripts split at `;`,
//! `CREATE EXTERNAL TABLE` with Hive's `ROW FORMAT DELIMITED`, `STORED AS`/`INPUTFORMAT`,
//! `PARTITIONED BY`, `LOCATION` and `TBLPROPERTIES`; `MSCK REPAIR TABLE`; `ALTER TABLE … ADD
//! PARTITION`; `DROP TABLE`; `SHOW TABLES`/`SHOW PARTITIONS`. Anything else is a query for the
//! engine ([`Statement::Query`]). Errors give the line and column in the script.

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

    /// Partition projection is on (`projection.enabled`).
    pub fn projection(&self) -> bool {
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
    /// `SHOW CREATE TABLE name`: the table's DDL as stored.
    ShowCreateTable(String),
    /// `DESCRIBE [EXTENDED|FORMATTED] name` (or `DESC`): the columns with their Hive types.
    Describe(String),
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
        if l.eat_kw("create") {
            l.kw("table")?;
            let t = l.table_name()?;
            l.done()?;
            return Ok(Statement::ShowCreateTable(t));
        }
    }
    if l.eat_kw("describe") || l.eat_kw("desc") {
        let _ = l.eat_kw("extended") || l.eat_kw("formatted");
        let t = l.table_name()?;
        l.done()?;
        return Ok(Statement::Describe(t));
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

    proptest::proptest! {
        /// Any script splits into statements inside it, and each parses or is refused with a
        /// position inside the script.
        #[test]
        fn any_script_parses_or_is_refused_in_bounds(script in "(CREATE EXTERNAL TABLE t \\(a int\\) |MSCK REPAIR TABLE |ALTER TABLE t ADD PARTITION \\(|LOCATION 's3://b/'|TBLPROPERTIES \\('a'='b'\\)|[a-z`'\"(),;= \n-]){0,24}") {
            for stmt in split(&script) {
                proptest::prop_assert!(stmt.offset + stmt.text.len() <= script.len());
                if let Err(SqlError::Syntax { line, column, .. }) = parse(&script, &stmt) {
                    proptest::prop_assert!(line >= 1 && line <= script.lines().count() + 1);
                    proptest::prop_assert!(column >= 1);
                }
            }
        }
    }
}
