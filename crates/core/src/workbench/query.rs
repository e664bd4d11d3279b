//! `query`: one read-only statement of untrusted SQL through the guard, its rows capped.

use std::io::Write;
use std::time::{Duration, Instant};

use rusqlite::types::{Value, ValueRef};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::progress::{Observer, Quiet};
use crate::workbench::bounded::{self, GivenUp};
use crate::workbench::format::{self, Column, Format};
use crate::workbench::guard;
use crate::workspace::config::Workspace;

/// Rows a query returns unless asked for another cap.
pub const DEFAULT_MAX_ROWS: u64 = 1_000;
/// The highest cap: more rows are an export (`pipeline-db export ENV --query SQL`), which streams.
pub const MAX_MAX_ROWS: u64 = 100_000;

#[derive(Debug, Clone)]
pub struct QueryRequest {
    pub env: String,
    pub sql: String,
    pub max_rows: u64,
    pub timeout: Duration,
}

impl QueryRequest {
    pub fn new(env: &str, sql: &str) -> QueryRequest {
        QueryRequest {
            env: env.to_string(),
            sql: sql.to_string(),
            max_rows: DEFAULT_MAX_ROWS,
            timeout: guard::DEFAULT_TIMEOUT,
        }
    }
}

/// The rows of a query, at most `max_rows` of them.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResult {
    pub env: String,
    pub columns: Vec<Column>,
    #[serde(skip)]
    pub rows: Vec<Vec<Value>>,
    /// More rows existed than `max_rows`; only the first `max_rows` are here.
    pub truncated: bool,
    pub max_rows: u64,
    pub elapsed_ms: u64,
}

/// Runs `req.sql` on `req.env` through the guard (read-only, reads only, limits, time limit).
pub fn run(ws: &Workspace, req: &QueryRequest) -> Result<QueryResult> {
    run_observed(ws, req, &Quiet)
}

/// [`run`], stopped with [`Error::Cancelled`] as soon as `obs` says the caller cancelled (the
/// running statement is interrupted, not waited for).
pub fn run_observed(ws: &Workspace, req: &QueryRequest, obs: &dyn Observer) -> Result<QueryResult> {
    run_opened(ws, req, obs, &mut || Ok(()))
}

/// [`run_observed`], calling `opened` once the database is open (a busy one is waited for in the
/// open, by the busy timeout) and the time limit has started; it may stop the query
/// (`Err(Cancelled)`: its caller has given up on it).
fn run_opened(
    ws: &Workspace,
    req: &QueryRequest,
    obs: &dyn Observer,
    opened: &mut dyn FnMut() -> Result<()>,
) -> Result<QueryResult> {
    if req.max_rows == 0 || req.max_rows > MAX_MAX_ROWS {
        return Err(Error::InvalidInput(format!(
            "--max-rows must be between 1 and {MAX_MAX_ROWS}; for more rows use `pipeline-db export {} --query SQL`, which streams",
            req.env
        )));
    }
    if req.timeout.is_zero() {
        return Err(Error::InvalidInput(
            "--timeout-ms must be at least 1".into(),
        ));
    }
    let started = Instant::now();
    let g = guard::open(ws, &req.env, Some(req.timeout))?;
    opened()?;
    let (columns, rows, truncated) = g.watch(obs, || collect(&g, req))?;
    tracing::debug!(rows = rows.len(), truncated, "query done");
    Ok(QueryResult {
        env: req.env.clone(),
        columns,
        rows,
        truncated,
        max_rows: req.max_rows,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

pub use crate::workbench::bounded::GRACE;

/// [`run_observed`] on a thread of its own ([`bounded`]), answered by its time limit + [`GRACE`]
/// at the latest, or [`GRACE`] after `obs` cancels, even inside one row, where SQLite does not
/// look at either: then [`Error::QueryRunaway`] (or [`Error::CancelledLeftFinishing`]) is returned and the
/// thread is left to end at the row's end (it only reads; its interrupt is set). A busy database
/// is waited for by the busy timeout, and is said as busy.
pub fn run_bounded<O: Observer + Send + 'static>(
    ws: &Workspace,
    req: &QueryRequest,
    obs: O,
) -> Result<QueryResult> {
    let obs = std::sync::Arc::new(obs);
    let (ws2, req2, obs2) = (ws.clone(), req.clone(), obs.clone());
    bounded::run(
        Some(req.timeout),
        &|| obs.cancelled(),
        move |w| run_opened(&ws2, &req2, &*obs2, &mut || w.opened()),
        |why| match why {
            // The statement's first step may be waiting for another program's lock (a rollback
            // journal's writer): then it is busy, not stuck inside a row.
            GivenUp::Limit => locked_by_another(ws, req).unwrap_or(Error::QueryRunaway {
                limit_ms: req.timeout.as_millis() as u64,
                left: LEFT_FINISHING.into(),
            }),
            GivenUp::Cancelled => Error::CancelledLeftFinishing {
                left: LEFT_FINISHING.into(),
            },
            GivenUp::CancelledWaiting => Error::CancelledLeftFinishing {
                left: LEFT_WAITING.into(),
            },
        },
    )
}

/// What happens to a query given up on while its open waits for a busy database.
pub const LEFT_WAITING: &str =
    "it was waiting for the database, which another program holds, and stops without reading once it gets it";

/// What happens to a query given up on inside a row.
pub const LEFT_FINISHING: &str =
    "it was left to finish that row in the background, where it only reads, and stops at the row's end";

/// [`Error::DbLocked`] when `req.env`'s database cannot be read at once now (another program holds
/// SQLite's lock): read on a connection of its own that does not wait.
fn locked_by_another(ws: &Workspace, req: &QueryRequest) -> Option<Error> {
    use crate::storage::db;
    let path = ws.env(&req.env).ok()?.path;
    // Through `db::open` like every connection of ours (its file handles are kept: closing a
    // handle of its own would drop the locks of this process's other connections on the file).
    let read = db::open(&path, db::Access::ReadOnly, Duration::ZERO).and_then(|c| {
        c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(Error::sql("reading"))
    });
    match read {
        Err(e) if e.exit_code() == crate::exit::BUSY => Some(Error::DbLocked {
            path,
            waited_ms: (req.timeout + GRACE).as_millis() as u64,
        }),
        _ => None,
    }
}

/// The result columns and at most `max_rows` rows (and whether more existed).
#[allow(clippy::type_complexity)]
fn collect(g: &guard::Guarded, req: &QueryRequest) -> Result<(Vec<Column>, Vec<Vec<Value>>, bool)> {
    let mut stmt = g.prepare(&req.sql)?;
    let columns: Vec<Column> = stmt
        .column_names()
        .iter()
        .map(|n| Column::of_query(n))
        .collect();
    let n = columns.len();
    let mut rows = vec![];
    let mut truncated = false;
    let mut held = 0u64;
    let mut cursor = stmt.query([]).map_err(|e| g.error(e))?;
    while let Some(r) = cursor.next().map_err(|e| g.error(e))? {
        if rows.len() as u64 == req.max_rows {
            truncated = true;
            break;
        }
        let mut row = Vec::with_capacity(n);
        for (i, column) in columns.iter().enumerate() {
            let v = r.get_ref(i).map_err(|e| g.error(e))?;
            held += held_bytes(v);
            row.push(owned(v, rows.len() as u64 + 1, &column.name)?);
        }
        rows.push(row);
        if held > MAX_HELD_BYTES {
            return Err(Error::QueryTooBig {
                rows: rows.len() as u64,
                held,
                limit: MAX_HELD_BYTES,
            });
        }
    }
    Ok((columns, rows, truncated))
}

/// What the console's rows may hold in memory (values, and a little for each): past it a query
/// is stopped, never left to fill the machine's memory (a few zeroblob columns of 1,000 rows took
/// 3.5 GB). The desktop's grid shows a blob as hex, twice its size.
pub const MAX_HELD_BYTES: u64 = 128 << 20;

/// The memory a value takes in a row, counted against [`MAX_HELD_BYTES`].
fn held_bytes(v: ValueRef<'_>) -> u64 {
    let payload = match v {
        ValueRef::Text(b) | ValueRef::Blob(b) => b.len() as u64,
        _ => 0,
    };
    std::mem::size_of::<Value>() as u64 + payload
}

/// A value to keep; text that is not UTF-8 is named by its row and column (the console shows text,
/// and changing its bytes would show something the database does not hold).
fn owned(v: ValueRef<'_>, row: u64, column: &str) -> Result<Value> {
    match v {
        ValueRef::Text(b) => match std::str::from_utf8(b) {
            Ok(t) => Ok(Value::Text(t.to_string())),
            Err(_) => Err(Error::Refused(format!(
                "row {row}, column `{}` holds text that is not valid UTF-8 (its first bytes: {}); nothing was changed. Select hex({}) or CAST({} AS BLOB) to see its bytes",
                crate::storage::text::printable(column),
                hex::encode(&b[..b.len().min(16)]),
                crate::storage::text::printable(column),
                crate::storage::text::printable(column),
            ))),
        },
        ValueRef::Null => Ok(Value::Null),
        ValueRef::Integer(i) => Ok(Value::Integer(i)),
        ValueRef::Real(f) => Ok(Value::Real(f)),
        ValueRef::Blob(b) => Ok(Value::Blob(b.to_vec())),
    }
}

/// A query's rows as the desktop's grid shows them: every value as text (`None`: NULL; a blob
/// its lowercase hex), with the notice facts of [`QueryResult`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QueryView {
    pub env: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// More rows existed than `max_rows`; only the first `max_rows` are here.
    pub truncated: bool,
    pub max_rows: u64,
    pub elapsed_ms: u64,
}

impl QueryResult {
    /// The result as text cells, for a window.
    pub fn view(&self) -> QueryView {
        QueryView {
            env: self.env.clone(),
            columns: self.columns.iter().map(|c| c.name.clone()).collect(),
            rows: self.text_rows(),
            truncated: self.truncated,
            max_rows: self.max_rows,
            elapsed_ms: self.elapsed_ms,
        }
    }

    /// Writes the rows as CSV, JSON or NDJSON (see [`format`]).
    /// CSV: with `escape_formulas`, a text cell a spreadsheet would run as a formula is written
    /// after a `'` (refused for JSON). Returns how many such cells CSV wrote (see
    /// [`format::formula_like`]).
    pub fn write(&self, format: Format, w: &mut dyn Write, escape_formulas: bool) -> Result<u64> {
        if escape_formulas && format != Format::Csv {
            return Err(Error::InvalidInput(
                "escaping formulas is for CSV (a spreadsheet runs formulas in CSV cells, not in JSON)"
                    .into(),
            ));
        }
        let mut sink = format::csv_escaping(format, w, "<stdout>".into(), escape_formulas)?;
        sink.begin(&self.columns)?;
        for row in &self.rows {
            let refs: Vec<ValueRef<'_>> = row.iter().map(ValueRef::from).collect();
            sink.row(&refs)?;
        }
        sink.end()?;
        Ok(sink.formula_cells())
    }

    /// The rows as text for the terminal (`None`: NULL).
    pub fn text_rows(&self) -> Vec<Vec<Option<String>>> {
        self.rows
            .iter()
            .map(|r| r.iter().map(|v| format::text_of(v.into())).collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::confirm::Confirmed;
    use crate::verbs::migrate::{self, MigrateRequest};

    /// A database another program holds (a rollback journal's writer) is told apart from a query
    /// stuck inside a row: the probe reads it as locked while the writer holds it, and not after
    /// (review 24: a query whose first step waited for the lock was said to be stuck, exit 3).
    #[test]
    fn a_database_another_program_holds_is_told_apart_from_a_stuck_row() {
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::at(d.path()).unwrap();
        let plan = migrate::plan(&ws, &MigrateRequest { env: "dev".into() }).unwrap();
        migrate::execute(&ws, &plan, &Confirmed::forced(), &Quiet).unwrap();
        let req = QueryRequest::new("dev", "SELECT 1");
        let writer = rusqlite::Connection::open(d.path().join("dev.sqlite3")).unwrap();
        let _: String = writer
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .unwrap();
        writer
            .execute_batch("BEGIN EXCLUSIVE; CREATE TABLE zz (a);")
            .unwrap();
        let e = locked_by_another(&ws, &req).expect("locked");
        assert_eq!(e.exit_code(), crate::exit::BUSY, "{e}");
        writer.execute_batch("ROLLBACK").unwrap();
        assert!(locked_by_another(&ws, &req).is_none());
    }

    /// A Cancel while the open still waits for a database another program holds is answered 2 s
    /// later, not at the end of the busy timeout (review 24's note: the desktop's Cancel was not
    /// noticed during that wait); nothing was read.
    #[test]
    fn a_cancel_while_the_open_waits_for_a_busy_database_is_answered() {
        struct CancelAt(Instant);
        impl Observer for CancelAt {
            fn cancelled(&self) -> bool {
                Instant::now() >= self.0
            }
        }
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::load(&crate::workspace::config::WorkspaceOptions {
            data_dir: Some(d.path().into()),
            busy_timeout: Some(Duration::from_secs(60)),
            ..Default::default()
        })
        .unwrap();
        let plan = migrate::plan(&ws, &MigrateRequest { env: "dev".into() }).unwrap();
        migrate::execute(&ws, &plan, &Confirmed::forced(), &Quiet).unwrap();
        let writer = rusqlite::Connection::open(d.path().join("dev.sqlite3")).unwrap();
        writer
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE zz (a);")
            .unwrap();
        let t = Instant::now();
        let req = QueryRequest::new("dev", "SELECT 1");
        let e = run_bounded(&ws, &req, CancelAt(t + Duration::from_millis(200))).unwrap_err();
        assert!(matches!(e, Error::CancelledLeftFinishing { .. }), "{e}");
        assert!(e.to_string().contains("waiting for the database"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        writer.execute_batch("ROLLBACK").unwrap();
    }
}
