//! `import`: rows from a CSV or NDJSON file into users, pipelines or jobs, through the one ritual.
//!
//! The file is untrusted. The plan reads it whole (streamed, in memory that does not grow with
//! the rows): every row is typed by its column, checked against the schema's own constraints
//! (inserted into an in-memory copy of the schema, rolled back), looked up by natural key —
//! `users.username` and `users.email` (case-insensitive), `pipelines.name`, `jobs.session_id`, and
//! `id` when given — in the env and earlier in the file, and, for jobs, its user and pipeline
//! looked up in the env. Rows that break a rule, duplicates (nothing is skipped or overwritten)
//! and references to missing rows are listed in the plan, which then says the import cannot run.
//! Otherwise, like every change: confirmation (y/N, the typed name on a protected env), lock, the
//! plan again (the file opened once, and still the planned file), a verified backup, every row
//! inserted in one transaction with the constraints enforced — read from that open file, whose
//! bytes must have the planned sha256 —, the foreign-key check, commit — or nothing.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result};
use crate::progress::{Observer, Progress};
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{self, BackupStep, Plan, Promises, TableRows};
use crate::safety::ritual::{self, Change};
use crate::safety::session;
use crate::schema::stats::{self, Tally};
use crate::schema::{migrations, tag};
use crate::storage::db;
use crate::verb::Verb;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

/// The tables `import` writes.
pub const TABLES: [&str; 3] = ["users", "pipelines", "jobs"];
mod checks;
mod file;
mod rows;

use checks::{same_columns, Inserter, Lookups, SeenKeys, Validator, ROWS_PER_INSERT};
use rows::{Read, Row, Rows, Table};

/// What the input is called in messages.
const INPUT: &str = "import file";

/// Problems of each kind listed in a plan (all are counted).
pub const LISTED: usize = 20;

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
    /// Which file was at `path` when the plan was made (device, inode), or `missing`: the plan
    /// re-made under the lock refuses another file there.
    pub file_id: String,
    pub table: String,
    pub file: PathBuf,
    pub format: InputFormat,
    /// The size and sha256 of the bytes the plan read (and analysed), in that one read.
    pub file_bytes: u64,
    pub file_sha256: String,
    /// The file as the plan opened it (device, file number, size, modification time): the import
    /// refuses another one before its backup; the sha256 of the bytes it inserts is the proof.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub(crate) identity: file::Identity,
    /// The file's columns, in its order.
    pub columns: Vec<String>,
    /// Rows of the file that meet every check (their type, the schema's rules, no duplicate key, no
    /// missing reference): all of them are added when the plan is importable. The others are
    /// counted apart, as bad rows, duplicates or missing references. Blank lines are no rows.
    pub rows: u64,
    /// Rows that cannot be imported as they are: a value not of its column's type, a wrong
    /// number of fields, a rule of the schema broken (the first few; all are counted). A file that
    /// cannot be read on (a quote never closed, bytes not UTF-8) ends the list with that line.
    pub bad_rows: Vec<RowIssue>,
    pub bad_row_count: u64,
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
    /// Whether the import can run: no bad rows, duplicates or missing references (otherwise
    /// [`ImportPlan::refusal`] says why).
    pub importable: bool,
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
            .file("file", &self.file_id)
            .item("confirmation", format!("{:?}", self.confirmation))
            .rows("env", &self.tables)
            .backup(self.backup.as_ref())
            .item("table", &self.table)
            .item("input", self.file.display())
            .item("input sha256", &self.file_sha256)
            .item("rows", self.rows)
            .item("bad rows", self.bad_row_count)
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
        let mut parts = vec![];
        if self.bad_row_count > 0 {
            parts.push(format!(
                "{} rows break a rule: {}",
                self.bad_row_count,
                listed(&self.bad_rows, self.bad_row_count)
            ));
        }
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
        if parts.is_empty() {
            return None;
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

/// Plans an import: reads the env read-only (one read transaction) and the whole file — opened
/// once, hashed (on a second thread) as it is read, so the sha256 is that of the bytes analysed. A file that cannot be planned at all (no
/// header, an unknown column, no rows) is refused here; bad rows, duplicates and missing
/// references are listed in the plan, which [`ImportPlan::refusal`] then refuses.
/// Refuses a table an import does not write (before anything is asked or read).
pub fn check_table(table: &str) -> Result<()> {
    match TABLES.contains(&table) {
        true => Ok(()),
        false => Err(Error::InvalidInput(format!(
            "import writes {}; not `{}`",
            TABLES.join(", "),
            crate::storage::text::echo(table)
        ))),
    }
}

pub fn plan(ws: &Workspace, req: &ImportRequest) -> Result<ImportPlan> {
    let target = ws.env(&req.env)?;
    check_table(&req.table)?;
    let format = req
        .format
        .or_else(|| InputFormat::from_path(&req.file))
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "cannot tell the format of {} from its name; pass --format csv or --format ndjson",
                req.file.display()
            ))
        })?;
    let file = crate::backups::names::check_input_path(&req.file, INPUT)?;
    if let Some(t) = ws.env_of_file(&file) {
        // Rows come from a CSV or NDJSON file; and reading an env's own files as files while its
        // connections are open would drop their locks.
        return Err(Error::InvalidInput(format!(
            "{} is {}'s database (or one of its files), not rows to import; `pipeline-db export {}` writes rows as CSV or NDJSON; nothing was imported",
            req.file.display(),
            t.name,
            t.name
        )));
    }
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
    let mut p = empty_plan(&target, req, file.clone(), format);
    let input = file::open(&file)?;
    p.identity = input.identity.clone();
    read_env_and_file(&target, &conn, &mut p, input)?;
    Ok(p)
}

fn empty_plan(
    target: &EnvTarget,
    req: &ImportRequest,
    file: PathBuf,
    format: InputFormat,
) -> ImportPlan {
    ImportPlan {
        verb: Verb::Import,
        env: target.name.clone(),
        path: target.path.clone(),
        file_id: crate::safety::plan::file_id(&target.path),
        table: req.table.clone(),
        file,
        format,
        file_bytes: 0,
        file_sha256: String::new(),
        identity: file::Identity::default(),
        columns: vec![],
        rows: 0,
        bad_rows: vec![],
        bad_row_count: 0,
        duplicates: vec![],
        duplicate_count: 0,
        missing_references: vec![],
        missing_reference_count: 0,
        duplicate_policy: "refuse: a row whose id or natural key is already in the env (or earlier in the file) refuses the whole file; nothing is skipped or overwritten".into(),
        tables: vec![],
        importable: false,
        backup: None,
        confirmation: Confirmation::for_target(target, true),
        notes: vec![],
    }
}

/// The env's side of the plan and the file's rows, in one read transaction of the env.
fn read_env_and_file(
    target: &EnvTarget,
    conn: &Connection,
    p: &mut ImportPlan,
    input: file::Opened,
) -> Result<()> {
    conn.execute_batch("BEGIN")
        .map_err(Error::sql("starting a read transaction"))?;
    let read = Table::read(conn, &p.table).and_then(|table| {
        describe_env(target, conn, p)?;
        analyse(conn, &table, p, input)
    });
    let _ = conn.execute_batch("ROLLBACK");
    read
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

/// Keeps the first [`LISTED`] issues and counts them all.
fn note(list: &mut Vec<RowIssue>, count: &mut u64, issues: impl IntoIterator<Item = RowIssue>) {
    for issue in issues {
        *count += 1;
        if list.len() < LISTED {
            list.push(issue);
        }
    }
}

/// Rows handed to the validator's (or the inserter's) thread at a time: 512, or fewer when they
/// hold 4 MiB already — 16 batches wait at most, so rows of 1 MiB (the longest a record may be)
/// took 2 GB for a 3 GB file.
const BATCH: usize = 512;
const BATCH_BYTES: usize = 4 << 20;

/// Rows for the validator, and the lines among them that a look-up already refused (a duplicate,
/// a missing reference; in file order): those are not counted as rows to add whatever the
/// validator says.
#[derive(Default)]
struct ToCheck {
    rows: Vec<Row>,
    refused: Vec<u64>,
}

/// Reads the whole file: every row typed and checked against the schema (on a second thread),
/// bad rows, duplicates and missing references counted (the first few listed).
fn analyse(c: &Connection, table: &Table, p: &mut ImportPlan, input: file::Opened) -> Result<()> {
    let name = p.table.clone();
    let (to_check, checking) = std::sync::mpsc::sync_channel::<ToCheck>(16);
    let (rows_read, (mut broken, broken_count, broken_unrefused)) = std::thread::scope(|s| {
        let validating = s.spawn(move || validate(&name, table, checking));
        let read = read_rows(c, table, p, input, &to_check);
        drop(to_check);
        let broken = validating
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the validator thread panicked".into())));
        read.and_then(|n| Ok((n, broken?)))
    })?;
    p.rows -= broken_unrefused;
    p.bad_row_count += broken_count;
    broken.append(&mut p.bad_rows);
    broken.sort_by_key(|i| i.line);
    broken.truncate(LISTED);
    p.bad_rows = broken;
    if rows_read == 0 && p.bad_row_count == 0 {
        return Err(Error::BadInput {
            path: p.file.clone(),
            detail: "it holds no rows".into(),
        });
    }
    p.importable = p.refusal().is_none();
    Ok(())
}

/// The file's rows: typed, looked up, then sent to the validator in batches; then the size and
/// sha256 of every byte read. Counts as rows to add those no check refused yet (the validator's
/// refusals are taken off by the caller); returns how many rows were read.
fn read_rows(
    c: &Connection,
    table: &Table,
    p: &mut ImportPlan,
    input: file::Opened,
    to_check: &std::sync::mpsc::SyncSender<ToCheck>,
) -> Result<u64> {
    let env_has_rows = p.tables.iter().any(|t| t.name == p.table && t.rows > 0);
    let seen = SeenKeys::new(table)?;
    let mut lookups = Lookups::new(c, table, env_has_rows);
    let mut rows = Rows::new(input.hashed()?, p.format, table);
    rows.header(&p.file, table)?;
    p.columns = rows.columns().to_vec();
    let mut batch = ToCheck::default();
    let mut batch_bytes = 0;
    let mut read = 0;
    loop {
        let row = match rows.next_row() {
            Ok(None) => break,
            Ok(Some(Read::Row(row))) => row,
            Ok(Some(Read::Bad(issue))) => {
                read += 1;
                note(&mut p.bad_rows, &mut p.bad_row_count, [issue]);
                continue;
            }
            Err(e) => {
                let rule = format!("{}; the rest of the file was not read", e.message);
                let issue = rows::unreadable(e.line, rule);
                note(&mut p.bad_rows, &mut p.bad_row_count, [issue]);
                break;
            }
        };
        read += 1;
        let dups = lookups.duplicates(&row, &seen)?;
        let missing = lookups.missing_references(&row)?;
        match dups.is_empty() && missing.is_empty() {
            true => p.rows += 1,
            false => batch.refused.push(row.line),
        }
        note(&mut p.duplicates, &mut p.duplicate_count, dups);
        note(
            &mut p.missing_references,
            &mut p.missing_reference_count,
            missing,
        );
        batch_bytes += row.bytes();
        batch.rows.push(row);
        let full = batch.rows.len() == BATCH || batch_bytes >= BATCH_BYTES;
        if full {
            batch_bytes = 0;
            if to_check.send(std::mem::take(&mut batch)).is_err() {
                break; // the validator stopped: its error is reported
            }
        }
    }
    let _ = to_check.send(batch);
    match rows.blank_lines() {
        0 => {}
        1 => p.notes.push("1 blank line skipped (it is no row)".into()),
        n => p
            .notes
            .push(format!("{n} blank lines skipped (they are no rows)")),
    }
    let whole = rows.finish()?;
    (p.file_bytes, p.file_sha256) = (whole.bytes, whole.sha256);
    Ok(read)
}

/// The validator's thread: every row against the schema's constraints; the first few that break
/// one, how many do, and how many of those no look-up had refused.
fn validate(
    table_name: &str,
    table: &Table,
    rows: std::sync::mpsc::Receiver<ToCheck>,
) -> Result<(Vec<RowIssue>, u64, u64)> {
    let mut validator = Validator::new(table_name)?;
    let (mut listed, mut count, mut unrefused) = (vec![], 0, 0);
    for batch in rows {
        // Runs of rows giving the same columns, ROWS_PER_INSERT at a time.
        let mut rest = batch.rows.as_slice();
        while let Some(first) = rest.first() {
            let run = rest
                .iter()
                .take(ROWS_PER_INSERT)
                .take_while(|r| same_columns(first, r))
                .count();
            let broken = validator.check_many(table, &rest[..run])?;
            unrefused += broken
                .iter()
                .filter(|i| batch.refused.binary_search(&i.line).is_err())
                .count() as u64;
            note(&mut listed, &mut count, broken);
            rest = &rest[run..];
        }
    }
    Ok((listed, count, unrefused))
}

/// A row that breaks a rule refuses the file; a database error (a full disk) is the database's.
fn refused(p: &ImportPlan, why: checks::Refused) -> Error {
    match why {
        checks::Refused::Row(issue) => bad(&p.file, issue),
        checks::Refused::Database(e) => {
            db::classify(&p.path, e, "inserting the file's rows".into())
        }
    }
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
    let ws = &ws.as_configured_now()?;
    let target = ws.env(&shown.env)?;
    let change = Import {
        target: &target,
        shown,
        input: std::sync::Mutex::new(None),
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
    /// The file, opened once under the lock by `replan`; `apply` inserts what it reads from it.
    input: std::sync::Mutex<Option<file::Opened>>,
}

impl Change for Import<'_> {
    type Plan = ImportPlan;
    type Out = u64;

    /// Under the lock: the env again, and the file opened — once: `apply` reads the rows from
    /// this open file — and refused unless it is still the one planned (device, file number,
    /// size, modification time). Its sha256 is the plan's promise, kept by `apply`: the bytes it
    /// inserts are hashed as they are read, and any other sha256 rolls the import back.
    fn replan(&self, conn: Option<&Connection>) -> Result<ImportPlan> {
        crate::storage::failpoint::hit("import:before_replan")?;
        let c = conn.ok_or_else(|| Error::Missing {
            path: self.target.path.clone(),
            next: format!("create it with `pipeline-db migrate {}`", self.target.name),
        })?;
        let mut p = self.shown.clone();
        p.confirmation = Confirmation::for_target(self.target, true);
        // Gone or unreadable since the plan read it: the file changed, not the command line.
        let input = file::open(&p.file).map_err(|e| match p.file.symlink_metadata() {
            Err(gone) if gone.kind() == std::io::ErrorKind::NotFound => {
                changed(&p, "it was removed after the plan read it".into())
            }
            _ => e,
        })?;
        if input.identity != self.shown.identity {
            return Err(changed(
                &p,
                "it was replaced or written since the plan read it (its device, file number, size or modification time differ)".into(),
            ));
        }
        *self.input.lock().unwrap_or_else(|e| e.into_inner()) = Some(input);
        describe_env(self.target, c, &mut p)?;
        p.require_importable()?;
        Ok(p)
    }

    /// Every row inserted with the constraints enforced. Into jobs, the summary's triggers are
    /// off meanwhile (a statement journal per row otherwise) and the summary gets the new jobs'
    /// groups, as stored, once at the end — in this same transaction.
    fn apply(&self, c: &Connection, p: &ImportPlan, obs: &dyn Observer) -> Result<u64> {
        crate::storage::failpoint::hit("import:before_insert")?;
        let input = self
            .input
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| {
                Error::Internal("the import file was not opened under the lock".into())
            })?;
        let table = Table::read(c, &p.table)?;
        obs.stage("importing");
        let n = match p.table == "jobs" {
            true => stats::with_triggers_off(c, |tally| {
                insert_all(c, &table, p, obs, Some(tally), input)
            })?,
            false => insert_all(c, &table, p, obs, None, input)?,
        };
        tag::write_tag(c, &self.target.name, None, "import")?;
        Ok(n)
    }
}

/// A job's group as SQLite stored it, for a row that left `created_at` or `status` to the
/// schema's defaults (a `RETURNING` clause on every insert would cost a statement journal each).
const STORED_GROUP: &str =
    "SELECT created_at, pipeline_id, status FROM jobs WHERE rowid = last_insert_rowid()";

/// The job's group (`created_at`, pipeline, status) as stored: from the row when it gives all
/// three (a STRICT table stores the text as given), else read back.
fn add_to_tally(c: &Connection, table: &Table, row: &Row, tally: &mut Tally) -> Result<()> {
    use rusqlite::types::Value;
    let given = |col| row.get(table.index(col));
    if let (Some(Value::Text(created)), Some(Value::Integer(pipeline)), Some(Value::Text(status))) =
        (given("created_at"), given("pipeline_id"), given("status"))
    {
        return tally.add_stored(created, *pipeline, status);
    }
    let (created, pipeline, status): (String, i64, String) = c
        .prepare_cached(STORED_GROUP)
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .map_err(Error::sql("reading an imported job back"))?;
    tally.add_stored(&created, pipeline, &status)
}

/// Inserts every row of the file, in order, read and typed on a second thread meanwhile; any
/// problem is the file's refusal, and bytes other than the planned ones refuse the import (in
/// its transaction, which the ritual then rolls back).
fn insert_all(
    c: &Connection,
    table: &Table,
    p: &ImportPlan,
    obs: &dyn Observer,
    tally: Option<&mut Tally>,
    input: file::Opened,
) -> Result<u64> {
    let (to_insert, rows) = std::sync::mpsc::sync_channel::<Vec<Read>>(16);
    std::thread::scope(|s| {
        let reading = s.spawn(move || read_batches(p, table, input, to_insert));
        let inserted = insert_batches(c, table, p, obs, tally, rows);
        let read = reading
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the reading thread panicked".into())));
        // A file that changed, or that cannot be read on, ends the inserts early: that is the
        // error to report.
        read.and(inserted)
    })
}

/// The reading thread: the file's rows in batches, until the end or until nobody listens; then
/// the rest of the file, whose bytes must all be the planned ones (size and sha256).
fn read_batches(
    p: &ImportPlan,
    table: &Table,
    input: file::Opened,
    to_insert: std::sync::mpsc::SyncSender<Vec<Read>>,
) -> Result<()> {
    let mut rows = Rows::new(input.hashed()?, p.format, table);
    let read = rows.header(&p.file, table).and_then(|()| {
        let mut batch = Vec::with_capacity(BATCH);
        let mut batch_bytes = 0;
        while let Some(read) = rows.next_row().map_err(|e| Error::BadInput {
            path: p.file.clone(),
            detail: e.to_string(),
        })? {
            batch_bytes += read.bytes();
            batch.push(read);
            if batch.len() == BATCH || batch_bytes >= BATCH_BYTES {
                batch_bytes = 0;
                if to_insert.send(std::mem::take(&mut batch)).is_err() {
                    return Ok(());
                }
            }
        }
        let _ = to_insert.send(batch);
        Ok(())
    });
    drop(to_insert);
    let whole = rows.finish()?;
    if (whole.bytes, whole.sha256.as_str()) != (p.file_bytes, p.file_sha256.as_str()) {
        return Err(changed(
            p,
            format!(
                "the bytes read for the insert ({}, sha256 {}) are not the planned ones ({}, sha256 {}); the rows were rolled back",
                crate::storage::text::bytes(whole.bytes),
                &whole.sha256[..12],
                crate::storage::text::bytes(p.file_bytes),
                &p.file_sha256[..12.min(p.file_sha256.len())]
            ),
        ));
    }
    read
}

/// The refusal of an import file that is not the one planned.
fn changed(p: &ImportPlan, why: String) -> Error {
    Error::Stale {
        env: p.env.clone(),
        what: format!("the {INPUT} {} changed: {why}", p.file.display()),
    }
}

fn insert_batches(
    c: &Connection,
    table: &Table,
    p: &ImportPlan,
    obs: &dyn Observer,
    mut tally: Option<&mut Tally>,
    rows: std::sync::mpsc::Receiver<Vec<Read>>,
) -> Result<u64> {
    let mut lookups = Lookups::new(c, table, true);
    let mut insert = Inserter::new();
    let mut pending: Vec<Row> = Vec::with_capacity(ROWS_PER_INSERT);
    let (mut n, mut reported) = (0u64, 0u64);
    for read in rows.into_iter().flatten() {
        let row = match read {
            Read::Row(row) => row,
            Read::Bad(issue) => {
                flush(c, table, p, &mut insert, &mut pending, tally.as_deref_mut())?;
                return Err(bad(&p.file, issue));
            }
        };
        if let Some(issue) = lookups.missing_references(&row)?.into_iter().next() {
            flush(c, table, p, &mut insert, &mut pending, tally.as_deref_mut())?;
            return Err(bad(&p.file, issue));
        }
        // Rows of one run go in one statement: the same columns, and (into jobs) each giving the
        // group the summary needs, so that none has to be read back.
        let batchable = tally.is_none() || gives_group(table, &row);
        if pending
            .first()
            .is_some_and(|f| !batchable || !same_columns(f, &row))
        {
            n += flush(c, table, p, &mut insert, &mut pending, tally.as_deref_mut())?;
        }
        match batchable {
            true => pending.push(row),
            false => {
                insert
                    .insert(c, table, &row)
                    .map_err(|why| refused(p, why))?;
                if let Some(t) = tally.as_deref_mut() {
                    add_to_tally(c, table, &row, t)?;
                }
                n += 1;
            }
        }
        if pending.len() == ROWS_PER_INSERT {
            n += flush(c, table, p, &mut insert, &mut pending, tally.as_deref_mut())?;
        }
        if n >= reported + 10_000 {
            reported = n;
            progress(obs, n, p.rows)?;
        }
    }
    n += flush(c, table, p, &mut insert, &mut pending, tally)?;
    if n != p.rows {
        return Err(Error::Internal(format!(
            "read {n} rows from the file, the plan said {}",
            p.rows
        )));
    }
    Ok(n)
}

/// Inserts the pending run in one statement (any refusal names its row) and tallies it; returns
/// how many rows went in.
fn flush(
    c: &Connection,
    table: &Table,
    p: &ImportPlan,
    insert: &mut Inserter,
    pending: &mut Vec<Row>,
    tally: Option<&mut Tally>,
) -> Result<u64> {
    insert
        .insert_many(c, table, pending)
        .map_err(|why| refused(p, why))?;
    if let Some(t) = tally {
        for row in pending.iter() {
            add_to_tally(c, table, row, t)?;
        }
    }
    let n = pending.len() as u64;
    pending.clear();
    Ok(n)
}

/// Whether a job row gives its summary group (`created_at`, `pipeline_id`, `status`) itself.
fn gives_group(table: &Table, row: &Row) -> bool {
    use rusqlite::types::Value;
    let given = |col| row.get(table.index(col));
    matches!(
        (given("created_at"), given("pipeline_id"), given("status")),
        (
            Some(Value::Text(_)),
            Some(Value::Integer(_)),
            Some(Value::Text(_))
        )
    )
}

fn progress(obs: &dyn Observer, done: u64, total: u64) -> Result<()> {
    obs.progress(&Progress {
        stage: "importing",
        done,
        total,
    });
    match obs.cancelled() {
        true => Err(Error::Cancelled),
        false => Ok(()),
    }
}

#[cfg(test)]
mod tests;
