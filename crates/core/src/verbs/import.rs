//! `import`: rows from a CSV or NDJSON file into users, pipelines or jobs, through the one ritual.
//!
//! The file is untrusted. The plan reads it whole (streamed): every row is typed by its column,
//! checked against the schema's own constraints (inserted into an in-memory copy of the schema,
//! rolled back), looked up by natural key — `users.username` and `users.email` (case-insensitive),
//! `pipelines.name`, `jobs.session_id`, and `id` when given — in the env and earlier in the file,
//! and, for jobs, its user and pipeline looked up in the env. A row that breaks a rule refuses the
//! whole file, naming its line, column and rule. Duplicates are refused too (the policy; nothing
//! is skipped or overwritten), as are references to missing rows. Then, like every change:
//! confirmation (y/N, the typed name on a protected env), lock, the plan again (the file's sha256
//! must be the one planned), a verified backup, every row inserted in one transaction with the
//! constraints enforced, the foreign-key check, commit — or nothing.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result};
use crate::progress::{Observer, Progress};
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{self, BackupStep, Plan, Promises, TableRows};
use crate::safety::ritual::{self, Change};
use crate::safety::session;
use crate::schema::{migrations, tag};
use crate::storage::db;
use crate::verb::Verb;
use crate::workbench::input::{CsvReader, InputError, LineReader};
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

/// The tables `import` writes.
pub const TABLES: [&str; 3] = ["users", "pipelines", "jobs"];
/// Problems of each kind listed in a plan (all are counted).
const LISTED: usize = 20;
/// Rows checked against the in-memory schema between two rollbacks (bounded memory).
const VALIDATE_BATCH: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    Csv,
    Ndjson,
}

impl InputFormat {
    /// From the file's extension (`.csv`, `.ndjson`, `.jsonl`).
    pub fn from_path(p: &Path) -> Option<InputFormat> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(InputFormat::Csv),
            "ndjson" | "jsonl" => Some(InputFormat::Ndjson),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub env: String,
    pub table: String,
    pub file: PathBuf,
    /// `None`: from the file's extension.
    pub format: Option<InputFormat>,
}

/// One row that cannot be imported as it is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RowIssue {
    pub line: u64,
    pub column: String,
    pub value: String,
    pub rule: String,
}

impl std::fmt::Display for RowIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {} ({}): {}",
            self.line, self.column, self.value, self.rule
        )
    }
}

/// What an import will do.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportPlan {
    #[cfg_attr(feature = "ts", ts(type = "\"import\""))]
    pub verb: Verb,
    pub env: String,
    pub path: PathBuf,
    pub table: String,
    pub file: PathBuf,
    pub format: InputFormat,
    pub file_bytes: u64,
    pub file_sha256: String,
    /// The file's columns, in its order.
    pub columns: Vec<String>,
    /// Rows the file holds, all to be added.
    pub rows: u64,
    /// Rows whose natural key (or id) is already in the env or earlier in the file.
    pub duplicates: Vec<RowIssue>,
    pub duplicate_count: u64,
    /// Rows referring to a user or pipeline the env does not have.
    pub missing_references: Vec<RowIssue>,
    pub missing_reference_count: u64,
    /// What happens to duplicates: the whole file is refused.
    pub duplicate_policy: String,
    /// Rows per table of the env now.
    pub tables: Vec<TableRows>,
    pub backup: Option<BackupStep>,
    pub confirmation: Confirmation,
    pub notes: Vec<String>,
}

impl Plan for ImportPlan {
    crate::safety::plan::plan_basics!(Verb::Import);
    fn summary(&self) -> String {
        format!(
            "import {} rows into {} from {}",
            self.rows,
            self.table,
            self.file.display()
        )
    }
    fn promises(&self) -> Promises {
        Promises::new(Verb::Import, &self.env)
            .file("file", &self.path)
            .item("confirmation", format!("{:?}", self.confirmation))
            .rows("env", &self.tables)
            .backup(self.backup.as_ref())
            .item("table", &self.table)
            .item("input", self.file.display())
            .item("input sha256", &self.file_sha256)
            .item("rows", self.rows)
            .item("duplicates", self.duplicate_count)
            .item("missing references", self.missing_reference_count)
    }
    fn backup_step(&self) -> Option<&BackupStep> {
        self.backup.as_ref()
    }
    fn backup_step_mut(&mut self) -> Option<&mut BackupStep> {
        self.backup.as_mut()
    }
    fn why_confirm(&self) -> Option<String> {
        Some(format!(
            "an import writes rows from {} into {}",
            self.file.display(),
            self.env
        ))
    }
}

impl ImportPlan {
    /// The refusal when the file cannot be imported into the env as it is now.
    pub fn refusal(&self) -> Option<Error> {
        if self.duplicate_count == 0 && self.missing_reference_count == 0 {
            return None;
        }
        let mut parts = vec![];
        if self.duplicate_count > 0 {
            parts.push(format!(
                "{} duplicate keys (duplicates are refused): {}",
                self.duplicate_count,
                listed(&self.duplicates, self.duplicate_count)
            ));
        }
        if self.missing_reference_count > 0 {
            parts.push(format!(
                "{} references to rows {} does not have: {}",
                self.missing_reference_count,
                self.env,
                listed(&self.missing_references, self.missing_reference_count)
            ));
        }
        Some(Error::BadInput {
            path: self.file.clone(),
            detail: parts.join("; "),
        })
    }

    pub fn require_importable(&self) -> Result<()> {
        self.refusal().map_or(Ok(()), Err)
    }
}

fn listed(issues: &[RowIssue], count: u64) -> String {
    let mut s: Vec<String> = issues.iter().take(5).map(|i| i.to_string()).collect();
    if count > s.len() as u64 {
        s.push(format!("and {} more", count - s.len() as u64));
    }
    s.join("; ")
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportOutcome {
    /// The plan as re-made under the lock: what was done.
    pub plan: ImportPlan,
    pub inserted: u64,
    pub backup: Option<BackupRecord>,
    pub duration_ms: u64,
    /// The automatic retention pass after its backup: what it deleted, kept, and could not meet.
    pub retention: Option<crate::safety::retention::RetentionReport>,
}

/// Plans an import: reads the env read-only and the whole file. A malformed file (a row that
/// cannot be read, typed or that breaks a constraint) is refused here; duplicates and missing
/// references are listed in the plan, which [`ImportPlan::refusal`] then refuses.
pub fn plan(ws: &Workspace, req: &ImportRequest) -> Result<ImportPlan> {
    let target = ws.env(&req.env)?;
    if !TABLES.contains(&req.table.as_str()) {
        return Err(Error::InvalidInput(format!(
            "import writes {}; not `{}`",
            TABLES.join(", "),
            req.table
        )));
    }
    let format = req
        .format
        .or_else(|| InputFormat::from_path(&req.file))
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "cannot tell the format of {} from its name; pass --format csv or --format ndjson",
                req.file.display()
            ))
        })?;
    let file = crate::backups::names::check_input_path(&req.file)?;
    let conn = session::inspect_for_change(ws, &target)?.ok_or_else(|| Error::Missing {
        path: target.path.clone(),
        next: format!(
            "create it first with `pipeline-db migrate {}`; nothing was imported",
            target.name
        ),
    })?;
    tag::require_identity(&conn, &target)?;
    let pending = migrations::pending_or_refuse(&conn, &target.path, &target.name)?;
    if !pending.is_empty() {
        return Err(Error::Refused(format!(
            "{} has {} pending migrations; run `pipeline-db migrate {}` first",
            target.name,
            pending.len(),
            target.name
        )));
    }
    let table = Table::read(&conn, &req.table)?;
    let (file_bytes, file_sha256) = file_facts(&file)?;
    let mut p = ImportPlan {
        verb: Verb::Import,
        env: target.name.clone(),
        path: target.path.clone(),
        table: req.table.clone(),
        file: file.clone(),
        format,
        file_bytes,
        file_sha256,
        columns: vec![],
        rows: 0,
        duplicates: vec![],
        duplicate_count: 0,
        missing_references: vec![],
        missing_reference_count: 0,
        duplicate_policy: "refuse: a row whose id or natural key is already in the env (or earlier in the file) refuses the whole file; nothing is skipped or overwritten".into(),
        tables: vec![],
        backup: None,
        confirmation: Confirmation::for_target(&target, true),
        notes: vec![],
    };
    describe_env(&target, &conn, &mut p)?;
    analyse(&conn, &table, &mut p)?;
    Ok(p)
}

fn file_facts(file: &Path) -> Result<(u64, String)> {
    let bytes = std::fs::metadata(file)
        .map_err(Error::io("reading", file))?
        .len();
    Ok((bytes, crate::storage::hash::file(file)?))
}

/// The env's side of the plan: rows per table, the backup.
fn describe_env(target: &EnvTarget, c: &Connection, p: &mut ImportPlan) -> Result<()> {
    p.tables = plan::table_rows(&db::row_counts(c)?);
    p.backup = p
        .tables
        .iter()
        .any(|t| t.rows > 0)
        .then(|| BackupStep::new(target, Reason::PreImport, true, "the database holds data"));
    Ok(())
}

/// Reads the whole file: every row typed and checked against the schema, duplicates and missing
/// references counted. A malformed row is an error.
fn analyse(c: &Connection, table: &Table, p: &mut ImportPlan) -> Result<()> {
    let validator = Validator::new(&p.table)?;
    let mut keys = Keys::default();
    let mut lookups = Lookups::new(c);
    let mut rows = open_rows(&p.file, p.format, table)?;
    p.columns = rows.columns().to_vec();
    let mut batch = 0usize;
    validator.begin()?;
    while let Some(row) = rows.next_row(&p.file)? {
        p.rows += 1;
        for issue in lookups.duplicates(table, &row, &mut keys)? {
            p.duplicate_count += 1;
            if p.duplicates.len() < LISTED {
                p.duplicates.push(issue);
            }
        }
        for issue in lookups.missing_references(table, &row)? {
            p.missing_reference_count += 1;
            if p.missing_references.len() < LISTED {
                p.missing_references.push(issue);
            }
        }
        validator
            .check(table, &row)
            .map_err(|issue| bad(&p.file, issue))?;
        batch += 1;
        if batch == VALIDATE_BATCH {
            validator.rollback()?;
            validator.begin()?;
            batch = 0;
        }
    }
    validator.rollback()?;
    if p.rows == 0 {
        return Err(Error::BadInput {
            path: p.file.clone(),
            detail: "it holds no rows".into(),
        });
    }
    Ok(())
}

fn bad(file: &Path, issue: RowIssue) -> Error {
    Error::BadInput {
        path: file.to_path_buf(),
        detail: issue.to_string(),
    }
}

/// Imports the rows of `shown` through the change ritual, in one transaction.
pub fn execute(
    ws: &Workspace,
    shown: &ImportPlan,
    confirmed: &Confirmed,
    obs: &dyn Observer,
) -> Result<ImportOutcome> {
    let target = ws.env(&shown.env)?;
    let change = Import {
        target: &target,
        shown,
    };
    let done = ritual::run(ws, &target, shown, confirmed, obs, &change)?;
    Ok(ImportOutcome {
        plan: done.plan,
        inserted: done.out,
        backup: done.backup,
        duration_ms: done.duration_ms,
        retention: done.retention,
    })
}

struct Import<'a> {
    target: &'a EnvTarget,
    shown: &'a ImportPlan,
}

impl Change for Import<'_> {
    type Plan = ImportPlan;
    type Out = u64;

    /// Under the lock: the env again, and the file by its sha256 — the same bytes give the same
    /// rows, and everything else about them is enforced again while they are inserted.
    fn replan(&self, conn: Option<&Connection>) -> Result<ImportPlan> {
        let c = conn.ok_or_else(|| Error::Missing {
            path: self.target.path.clone(),
            next: format!("create it with `pipeline-db migrate {}`", self.target.name),
        })?;
        let mut p = self.shown.clone();
        p.confirmation = Confirmation::for_target(self.target, true);
        (p.file_bytes, p.file_sha256) = file_facts(&p.file)?;
        describe_env(self.target, c, &mut p)?;
        p.require_importable()?;
        Ok(p)
    }

    fn apply(&self, c: &Connection, p: &ImportPlan, obs: &dyn Observer) -> Result<u64> {
        let table = Table::read(c, &p.table)?;
        let mut lookups = Lookups::new(c);
        let mut rows = open_rows(&p.file, p.format, &table)?;
        obs.stage("importing");
        let mut n = 0u64;
        while let Some(row) = rows.next_row(&p.file)? {
            if let Some(issue) = lookups.missing_references(&table, &row)?.into_iter().next() {
                return Err(bad(&p.file, issue));
            }
            insert(c, &table, &row).map_err(|issue| bad(&p.file, issue))?;
            n += 1;
            if n.is_multiple_of(10_000) {
                obs.progress(&Progress {
                    stage: "importing",
                    done: n,
                    total: p.rows,
                });
                if obs.cancelled() {
                    return Err(Error::Cancelled);
                }
            }
        }
        if n != p.rows {
            return Err(Error::Internal(format!(
                "read {n} rows from the file, the plan said {}",
                p.rows
            )));
        }
        tag::write_tag(c, &self.target.name, None, "import")?;
        Ok(n)
    }
}

// ---------- the table ----------

/// A table's columns and their declared types, read from the env.
struct Table {
    name: String,
    columns: Vec<(String, String)>,
}

impl Table {
    fn read(c: &Connection, name: &str) -> Result<Table> {
        let mut stmt = c
            .prepare("SELECT name, upper(type) FROM pragma_table_info(?1) ORDER BY cid")
            .map_err(Error::sql("reading the table's columns"))?;
        let columns = stmt
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<(String, String)>>>())
            .map_err(Error::sql("reading the table's columns"))?;
        if columns.is_empty() {
            return Err(Error::Refused(format!(
                "the database has no table {name}; run `pipeline-db migrate`"
            )));
        }
        Ok(Table {
            name: name.to_string(),
            columns,
        })
    }

    fn index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == column)
    }

    fn is_json(&self, i: usize) -> bool {
        crate::workbench::format::JSON_COLUMNS.contains(&(self.name.as_str(), &self.columns[i].0))
    }
}

/// One row of the file: its line and (column index, value) for each column it gives.
struct Row {
    line: u64,
    values: Vec<(usize, Value)>,
}

impl Row {
    fn get(&self, i: Option<usize>) -> Option<&Value> {
        let i = i?;
        self.values.iter().find(|(c, _)| *c == i).map(|(_, v)| v)
    }
}

fn show(v: &Value) -> String {
    let s = match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(t) => format!("{t:?}"),
        Value::Blob(b) => format!("{} bytes", b.len()),
    };
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

// ---------- reading rows ----------

enum Rows {
    Csv {
        r: CsvReader<BufReader<std::fs::File>>,
        columns: Vec<String>,
        index: Vec<usize>,
        types: Vec<String>,
    },
    Ndjson {
        r: LineReader<BufReader<std::fs::File>>,
        columns: Vec<String>,
        table: Vec<(String, String)>,
        json: Vec<bool>,
    },
}

fn open_rows(file: &Path, format: InputFormat, table: &Table) -> Result<Rows> {
    let f = std::fs::File::open(file).map_err(Error::io("opening", file))?;
    let bad_line = |e: InputError| Error::BadInput {
        path: file.to_path_buf(),
        detail: e.to_string(),
    };
    let r = BufReader::with_capacity(1 << 16, f);
    match format {
        InputFormat::Csv => {
            let mut r = CsvReader::new(r);
            let Some((line, header)) = r.next_record().map_err(bad_line)? else {
                return Err(bad_line(InputError {
                    line: 1,
                    message: "the file is empty (a header line is needed)".into(),
                }));
            };
            let mut index = vec![];
            let mut columns: Vec<String> = vec![];
            for f in header {
                let i = table.index(&f.text).ok_or_else(|| {
                    bad_line(InputError {
                        line,
                        message: format!(
                            "unknown column `{}` for {}; its columns: {}",
                            f.text,
                            table.name,
                            table
                                .columns
                                .iter()
                                .map(|c| c.0.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    })
                })?;
                if index.contains(&i) {
                    return Err(bad_line(InputError {
                        line,
                        message: format!("column `{}` appears twice in the header", f.text),
                    }));
                }
                index.push(i);
                columns.push(f.text);
            }
            let types = table.columns.iter().map(|c| c.1.clone()).collect();
            Ok(Rows::Csv {
                r,
                columns,
                index,
                types,
            })
        }
        InputFormat::Ndjson => Ok(Rows::Ndjson {
            r: LineReader::new(r),
            columns: table.columns.iter().map(|c| c.0.clone()).collect(),
            table: table.columns.clone(),
            json: (0..table.columns.len()).map(|i| table.is_json(i)).collect(),
        }),
    }
}

impl Rows {
    fn columns(&self) -> &[String] {
        match self {
            Rows::Csv { columns, .. } | Rows::Ndjson { columns, .. } => columns,
        }
    }

    fn file_error(line: u64, message: String) -> InputError {
        InputError { line, message }
    }

    /// The next row, typed by its columns; `Err(BadInput)` names the line.
    fn next_row(&mut self, file: &Path) -> Result<Option<Row>> {
        self.next_inner().map_err(|e| Error::BadInput {
            path: file.to_path_buf(),
            detail: e.to_string(),
        })
    }

    fn next_inner(&mut self) -> Result<Option<Row>, InputError> {
        match self {
            Rows::Csv {
                r,
                columns,
                index,
                types,
            } => {
                let Some((line, fields)) = r.next_record()? else {
                    return Ok(None);
                };
                if fields.len() != index.len() {
                    return Err(Self::file_error(
                        line,
                        format!(
                            "{} fields, but the header has {} columns",
                            fields.len(),
                            index.len()
                        ),
                    ));
                }
                let mut values = Vec::with_capacity(fields.len());
                for ((f, &i), name) in fields.into_iter().zip(index.iter()).zip(columns.iter()) {
                    let v = if f.text.is_empty() && !f.quoted {
                        Value::Null
                    } else {
                        typed_text(f.text, &types[i]).map_err(|why| {
                            Self::file_error(line, format!("column {name}: {why}"))
                        })?
                    };
                    values.push((i, v));
                }
                Ok(Some(Row { line, values }))
            }
            Rows::Ndjson { r, table, json, .. } => {
                let Some((line, text)) = r.next_line()? else {
                    return Ok(None);
                };
                let object: std::collections::BTreeMap<String, &serde_json::value::RawValue> =
                    serde_json::from_str(&text)
                        .map_err(|e| Self::file_error(line, format!("not a JSON object: {e}")))?;
                let mut values = Vec::with_capacity(object.len());
                for (k, raw) in object {
                    let i = table
                        .iter()
                        .position(|c| c.0 == k)
                        .ok_or_else(|| Self::file_error(line, format!("unknown column `{k}`")))?;
                    let v = typed_json(raw.get(), &table[i].1, json[i])
                        .map_err(|why| Self::file_error(line, format!("column {k}: {why}")))?;
                    values.push((i, v));
                }
                Ok(Some(Row { line, values }))
            }
        }
    }
}

/// A CSV field's text as a value of the column's declared type.
fn typed_text(text: String, decl: &str) -> std::result::Result<Value, String> {
    match decl {
        "INTEGER" | "INT" => text
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("{text:?} is not an integer")),
        "REAL" => text
            .parse::<f64>()
            .map(Value::Real)
            .map_err(|_| format!("{text:?} is not a number")),
        _ => Ok(Value::Text(text)),
    }
}

/// An NDJSON value as a value of the column's declared type. A JSON column takes nested JSON
/// (stored as its text, verbatim) or a string holding JSON text.
fn typed_json(raw: &str, decl: &str, json_column: bool) -> std::result::Result<Value, String> {
    let integer = matches!(decl, "INTEGER" | "INT");
    let real = decl == "REAL";
    match raw.as_bytes().first() {
        Some(b'n') => Ok(Value::Null),
        Some(b't') if integer => Ok(Value::Integer(1)),
        Some(b'f') if integer => Ok(Value::Integer(0)),
        Some(b'"') if !integer && !real => serde_json::from_str::<String>(raw)
            .map(Value::Text)
            .map_err(|e| e.to_string()),
        Some(b'{' | b'[') if json_column => Ok(Value::Text(raw.to_string())),
        Some(b'-' | b'0'..=b'9') if integer => raw
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("{raw} is not an integer")),
        Some(b'-' | b'0'..=b'9') if real => raw
            .parse::<f64>()
            .map(Value::Real)
            .map_err(|_| format!("{raw} is not a number")),
        _ => {
            let want = if integer {
                "an integer"
            } else if real {
                "a number"
            } else if json_column {
                "a JSON object or a string"
            } else {
                "a string"
            };
            let shown: String = raw.chars().take(40).collect();
            Err(format!("{shown} is not {want}"))
        }
    }
}

// ---------- rules ----------

/// The natural keys of each table (besides `id`); `true`: compared case-insensitively.
fn natural_keys(table: &str) -> &'static [(&'static str, bool)] {
    match table {
        "users" => &[("username", true), ("email", true)],
        "pipelines" => &[("name", false)],
        "jobs" => &[("session_id", false)],
        _ => &[],
    }
}

/// Foreign keys of each table: (column, referenced table).
fn references(table: &str) -> &'static [(&'static str, &'static str)] {
    match table {
        "jobs" => &[("user_id", "users"), ("pipeline_id", "pipelines")],
        _ => &[],
    }
}

/// Keys seen earlier in the file, as 128-bit hashes (bounded memory: 16 bytes a key).
#[derive(Default)]
struct Keys(HashSet<u128>);

impl Keys {
    /// false: seen before.
    fn insert(&mut self, column: &str, value: &str) -> bool {
        let h = |salt: u8| {
            let mut s = std::hash::DefaultHasher::new();
            (salt, column, value).hash(&mut s);
            s.finish() as u128
        };
        self.0.insert(h(1) << 64 | h(2))
    }
}

/// Prepared look-ups in the env.
struct Lookups<'c> {
    c: &'c Connection,
    known: HashSet<(&'static str, i64)>,
}

impl<'c> Lookups<'c> {
    fn new(c: &'c Connection) -> Lookups<'c> {
        Lookups {
            c,
            known: HashSet::new(),
        }
    }

    fn exists(&self, table: &str, column: &str, v: &Value, nocase: bool) -> Result<bool> {
        let collate = if nocase { " COLLATE NOCASE" } else { "" };
        let sql = format!(
            "SELECT 1 FROM {} WHERE {} = ?1{collate} LIMIT 1",
            db::quote_ident(table),
            db::quote_ident(column)
        );
        let mut stmt = self
            .c
            .prepare_cached(&sql)
            .map_err(Error::sql("looking up a key"))?;
        stmt.exists([v]).map_err(Error::sql("looking up a key"))
    }

    fn duplicates(&mut self, table: &Table, row: &Row, keys: &mut Keys) -> Result<Vec<RowIssue>> {
        let mut out = vec![];
        let id = std::iter::once(("id", false));
        for (col, nocase) in id.chain(natural_keys(&table.name).iter().copied()) {
            let Some(v) = row.get(table.index(col)) else {
                continue;
            };
            let text = match v {
                Value::Null => continue,
                Value::Text(t) if nocase => t.to_ascii_lowercase(),
                other => show(other),
            };
            let issue = |rule: String| RowIssue {
                line: row.line,
                column: col.to_string(),
                value: show(v),
                rule,
            };
            if self.exists(&table.name, col, v, nocase)? {
                out.push(issue(format!(
                    "{} already has a row with this {col}",
                    table.name
                )));
            } else if !keys.insert(col, &text) {
                out.push(issue(format!("an earlier line of the file has this {col}")));
            }
        }
        Ok(out)
    }

    fn missing_references(&mut self, table: &Table, row: &Row) -> Result<Vec<RowIssue>> {
        let mut out = vec![];
        for &(col, parent) in references(&table.name) {
            let Some(Value::Integer(id)) = row.get(table.index(col)) else {
                continue;
            };
            if self.known.contains(&(parent, *id)) {
                continue;
            }
            if self.exists(parent, "id", &Value::Integer(*id), false)? {
                self.known.insert((parent, *id));
            } else {
                out.push(RowIssue {
                    line: row.line,
                    column: col.to_string(),
                    value: id.to_string(),
                    rule: format!("no row of {parent} has id {id} (foreign key)"),
                });
            }
        }
        Ok(out)
    }
}

/// Inserts one row (the columns it gives; the others take their defaults).
fn insert(c: &Connection, table: &Table, row: &Row) -> std::result::Result<(), RowIssue> {
    let cols: Vec<String> = row
        .values
        .iter()
        .map(|(i, _)| db::quote_ident(&table.columns[*i].0))
        .collect();
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        db::quote_ident(&table.name),
        cols.join(", "),
        marks.join(", ")
    );
    let result = c.prepare_cached(&sql).and_then(|mut stmt| {
        stmt.execute(rusqlite::params_from_iter(
            row.values.iter().map(|(_, v)| v),
        ))
    });
    result.map(|_| ()).map_err(|e| issue_of(table, row, &e))
}

/// The column a constraint failure is about, from SQLite's message.
fn issue_of(table: &Table, row: &Row, e: &rusqlite::Error) -> RowIssue {
    let msg = match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    };
    let mentioned: Vec<usize> = (0..table.columns.len())
        .filter(|&i| {
            let name = &table.columns[i].0;
            msg.match_indices(name.as_str()).any(|(at, _)| {
                let before = msg[..at].chars().last();
                let after = msg[at + name.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !word(before) && !word(after)
            })
        })
        .collect();
    let column = if mentioned.is_empty() {
        "(row)".to_string()
    } else {
        mentioned
            .iter()
            .map(|&i| table.columns[i].0.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let value = mentioned
        .first()
        .and_then(|&i| row.get(Some(i)))
        .map(show)
        .unwrap_or_else(|| "-".into());
    RowIssue {
        line: row.line,
        column,
        value,
        rule: msg,
    }
}

/// The schema's own constraints, checked on an in-memory database built from the embedded
/// migrations: rows are inserted and rolled back in batches.
struct Validator {
    c: Connection,
}

impl Validator {
    fn new(table: &str) -> Result<Validator> {
        let c = Connection::open_in_memory().map_err(Error::sql("opening the validator"))?;
        c.pragma_update(None, "foreign_keys", false)
            .map_err(Error::sql("validator"))?;
        migrations::apply_pending(&c, Path::new(":memory:"), "validator")?;
        // Its own summary triggers would only slow it down.
        if table == "jobs" {
            for t in [
                "job_daily_stats_insert",
                "job_daily_stats_delete",
                "job_daily_stats_update",
            ] {
                c.execute_batch(&format!("DROP TRIGGER IF EXISTS {t}"))
                    .map_err(Error::sql("validator"))?;
            }
        }
        // Uniqueness is checked against the env and the file, not this empty copy.
        let indexes: Vec<String> = c
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL")
            .and_then(|mut s| {
                s.query_map([table], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(Error::sql("validator"))?;
        for i in indexes {
            c.execute_batch(&format!("DROP INDEX {}", db::quote_ident(&i)))
                .map_err(Error::sql("validator"))?;
        }
        Ok(Validator { c })
    }

    fn begin(&self) -> Result<()> {
        self.c
            .execute_batch("BEGIN")
            .map_err(Error::sql("validator"))
    }

    fn rollback(&self) -> Result<()> {
        self.c
            .execute_batch("ROLLBACK")
            .map_err(Error::sql("validator"))
    }

    fn check(&self, table: &Table, row: &Row) -> std::result::Result<(), RowIssue> {
        // UNIQUE columns (username, email, name, session_id) keep their inline unique indexes,
        // which cannot be dropped: the row goes in under a fresh id and is deleted again.
        let r = insert(&self.c, table, row);
        let _ = self
            .c
            .execute_batch(&format!("DELETE FROM {}", db::quote_ident(&table.name)));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_typed_by_column() {
        assert_eq!(typed_json("null", "TEXT", false), Ok(Value::Null));
        assert_eq!(typed_json("12", "INTEGER", false), Ok(Value::Integer(12)));
        assert_eq!(typed_json("true", "INTEGER", false), Ok(Value::Integer(1)));
        assert_eq!(
            typed_json("\"a\\nb\"", "TEXT", false),
            Ok(Value::Text("a\nb".into()))
        );
        assert_eq!(
            typed_json("{\"b\": 1,\"a\":2}", "TEXT", true),
            Ok(Value::Text("{\"b\": 1,\"a\":2}".into()))
        );
        assert!(typed_json("1.5", "INTEGER", false).is_err());
        assert!(typed_json("\"1\"", "INTEGER", false).is_err());
        assert!(typed_json("{}", "TEXT", false).is_err());
        assert!(typed_json("3", "TEXT", false).is_err());
    }

    #[test]
    fn keys_remember_what_they_saw() {
        let mut k = Keys::default();
        assert!(k.insert("name", "a"));
        assert!(k.insert("email", "a"));
        assert!(!k.insert("name", "a"));
    }
}
