//! `export`: a table or a query's rows as CSV, JSON or NDJSON, streamed row by row (bounded
//! memory) to a writer or to a new file: temp file beside it → fsync → rename without replace →
//! directory fsync. An existing file is never overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use serde::Serialize;

use crate::browse::JobFilter;
use crate::error::{Error, Result, UNCHANGED};
use crate::progress::{Observer, Progress};
use crate::safety::audit;
use crate::storage::flush_behind::FlushBehind;
use crate::storage::{db, fs};
use crate::verb::Verb;
use crate::workbench::bounded::{self, GivenUp, Work};
use crate::workbench::format::{self, Column, Format};
use crate::workbench::guard;
use crate::workspace::config::Workspace;

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Every row of a table, in rowid (or primary key) order.
    Table(String),
    /// The rows of one read-only statement (through the same guard as `query`).
    Query(String),
    /// The jobs the desktop's data browser shows for this filter, every column, newest first.
    Jobs(JobFilter),
}

impl Source {
    /// What is exported, in words (the audit log's summary).
    pub fn describe(&self) -> String {
        match self {
            Source::Table(t) => format!("table {t}"),
            Source::Query(sql) => format!("query {}", crate::storage::text::echo(sql)),
            Source::Jobs(f) => f.describe(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub env: String,
    pub source: Source,
    pub format: Format,
    /// A new file; `None`: the caller's writer (stdout).
    pub output: Option<PathBuf>,
    /// Time limit of a query export (`None`: none; a table export has none).
    pub timeout: Option<Duration>,
    /// CSV: a text cell a spreadsheet would run as a formula is written after a `'` (the file
    /// then no longer imports back byte for byte). Refused for JSON and NDJSON.
    pub escape_formulas: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportOutcome {
    pub env: String,
    pub source: Source,
    pub format: Format,
    /// The file written (`None`: stdout).
    pub path: Option<PathBuf>,
    pub rows: u64,
    pub bytes: u64,
    pub duration_ms: u64,
    /// CSV: text cells a spreadsheet would run as formulas (`= + - @`, tab, CR first).
    pub formula_cells: u64,
    /// Whether those were written after a `'` (`escape_formulas`).
    pub formulas_escaped: bool,
}

/// Time limit of a `--query` export unless another is given (a table export has none).
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(600);

/// Rows between two progress reports (and cancel checks).
const PROGRESS_EVERY: u64 = 10_000;

/// Exports `req` into a new file (`req.output`) or into `out`; one audit line per export,
/// whatever its outcome (a usage error — an unknown env — is not an attempt and is not logged).
/// The rows are read on a thread of their own ([`bounded`]): the answer comes by a query's time
/// limit + [`bounded::GRACE`], or [`bounded::GRACE`] after `obs` cancels, even while SQLite is
/// inside one row, where it looks at neither; the unfinished file is then removed at once.
pub fn run<O: Observer + Send + 'static>(
    ws: &Workspace,
    req: &ExportRequest,
    out: Box<dyn Write + Send>,
    obs: O,
) -> Result<ExportOutcome> {
    let target = ws.env(&req.env)?;
    let dest = req
        .output
        .as_ref()
        .map_or("stdout".to_string(), |p| p.display().to_string());
    let what = format!(
        "export of {} ({}) to {dest}",
        req.source.describe(),
        req.format.as_str()
    );
    audit::recorded(
        ws,
        &target.name,
        &target.path,
        Verb::Export,
        |_| export_bounded(ws, req, out, obs),
        |result| match result {
            Ok(o) if o.formulas_escaped => (
                format!(
                    "{what}: {} rows, {} bytes; {} formula-like cells written after a '",
                    o.rows, o.bytes, o.formula_cells
                ),
                None,
            ),
            Ok(o) => (format!("{what}: {} rows, {} bytes", o.rows, o.bytes), None),
            Err(_) => (what.clone(), None),
        },
    )
}

/// What an export given up on inside a row leaves: the unfinished file is removed (or the
/// caller's output stops at or before that row); `reading` says what became of the reading.
pub fn left_when_given_up(output: Option<&Path>, reading: &str) -> String {
    match output {
        Some(p) => format!(
            "the unfinished file was removed and nothing is made at {}; the reading was {reading}",
            p.display()
        ),
        None => format!("the output stops at or before that row; the reading was {reading}"),
    }
}

/// [`export`] on a thread of its own, answered by its limit or a cancel (see [`run`]).
fn export_bounded<O: Observer + Send + 'static>(
    ws: &Workspace,
    req: &ExportRequest,
    out: Box<dyn Write + Send>,
    obs: O,
) -> Result<ExportOutcome> {
    let limit = match req.source {
        Source::Query(_) => req.timeout,
        Source::Table(_) | Source::Jobs(_) => None,
    };
    let obs = std::sync::Arc::new(obs);
    let (ws2, req2, obs2) = (ws.clone(), req.clone(), obs.clone());
    let left = left_when_given_up(
        req.output.as_deref(),
        "left to stop at the row's end in the background",
    );
    bounded::run(
        limit,
        &|| obs.cancelled(),
        move |w| {
            let mut out = out;
            export(&ws2, &req2, &mut out, &*obs2, w)
        },
        |why| match why {
            GivenUp::Limit => Error::QueryRunaway {
                limit_ms: limit.unwrap_or_default().as_millis() as u64,
                left,
            },
            GivenUp::Cancelled => Error::CancelledLeftFinishing { left },
            GivenUp::CancelledWaiting => Error::CancelledLeftFinishing {
                left: crate::workbench::query::LEFT_WAITING.into(),
            },
        },
    )
}

fn export(
    ws: &Workspace,
    req: &ExportRequest,
    out: &mut dyn Write,
    obs: &dyn Observer,
    work: &Work,
) -> Result<ExportOutcome> {
    if req.format == Format::Table {
        return Err(Error::InvalidInput(
            "export writes csv, json or ndjson (the table format is `pipeline-db query`'s)".into(),
        ));
    }
    if req.escape_formulas && req.format != Format::Csv {
        return Err(Error::InvalidInput(
            "escaping formulas is for CSV (a spreadsheet runs formulas in CSV cells, not in JSON)"
                .into(),
        ));
    }
    // One audit line per export: refused before anything is read when it cannot be written.
    audit::require_writable(&ws.audit_path())?;
    let started = Instant::now();
    let timeout = match req.source {
        Source::Table(_) | Source::Jobs(_) => None,
        Source::Query(_) => req.timeout,
    };
    let g = guard::open(ws, &req.env, timeout)?;
    work.opened()?;
    if !matches!(req.source, Source::Query(_)) {
        // Our own SQL of a whole table: as many columns as the table has (a legacy table of more
        // than the 100 a query may select was refused as "too many columns").
        let _ = g
            .conn()
            .set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_COLUMN, 2000);
    }
    let (sql, table, count) = match &req.source {
        Source::Query(sql) => (sql.clone(), None, None),
        Source::Table(t) => {
            let count = format!("SELECT count(*) FROM {}", db::quote_ident(t));
            (table_sql(&g, &req.env, t)?, Some(t.as_str()), Some(count))
        }
        Source::Jobs(f) => {
            let (sql, count) = f.export_sql()?;
            (sql, Some("jobs"), Some(count))
        }
    };
    // The rows to come, for the progress bar (a query's are not known: 0).
    let total = match count {
        Some(c) => Some(
            g.conn()
                .query_row(&c, [], |r| r.get::<_, i64>(0))
                .map_err(|e| g.error(e))? as u64,
        ),
        None => None,
    };
    let mut stmt = g.prepare(&sql)?;
    let columns: Vec<Column> = stmt
        .column_names()
        .iter()
        .map(|n| match table {
            Some(t) => Column::of_table(t, n),
            None => Column::of_query(n),
        })
        .collect();
    let formulas = std::cell::Cell::new(0u64);
    let mut stream = |w: &mut dyn Write, dest: PathBuf| -> Result<u64> {
        let mut sink = format::csv_escaping(req.format, w, dest, req.escape_formulas)?;
        sink.begin(&columns)?;
        let mut rows = stmt.query([]).map_err(|e| g.error(e))?;
        let mut done = 0u64;
        obs.stage("exporting");
        while let Some(r) = rows.next().map_err(|e| g.error(e))? {
            let mut vals: Vec<ValueRef<'_>> = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                vals.push(r.get_ref(i).map_err(|e| g.error(e))?);
            }
            sink.row(&vals)?;
            done += 1;
            if done.is_multiple_of(PROGRESS_EVERY) {
                obs.progress(&Progress {
                    stage: "exporting",
                    done,
                    total: total.map_or(0, |t| t.max(done)),
                });
                if obs.cancelled() {
                    return Err(Error::Cancelled);
                }
            }
        }
        sink.end()?;
        formulas.set(sink.formula_cells());
        obs.progress(&Progress {
            stage: "exporting",
            done,
            total: done,
        });
        Ok(done)
    };
    let (rows, bytes, path) = g.watch(obs, || match &req.output {
        None => {
            let mut counted = Counted { w: out, n: 0 };
            let rows = stream(&mut counted, "<stdout>".into())?;
            Ok((rows, counted.n, None))
        }
        Some(p) => {
            let checked = crate::backups::names::check_output_path(p)?;
            crate::workspace::own_files::refuse(ws, &checked)?;
            let (rows, bytes, path) = write_new_file(p, Some(work), |w, dest| stream(w, dest))?;
            Ok((rows, bytes, Some(path)))
        }
    })?;
    tracing::info!(rows, bytes, "export done");
    Ok(ExportOutcome {
        env: req.env.clone(),
        source: req.source.clone(),
        format: req.format,
        path,
        rows,
        bytes,
        duration_ms: started.elapsed().as_millis() as u64,
        formula_cells: formulas.get(),
        formulas_escaped: req.escape_formulas && formulas.get() > 0,
    })
}

/// `SELECT *` of an existing table of the env, in rowid order (primary key order for a table
/// without rowid).
fn table_sql(g: &guard::Guarded, env: &str, table: &str) -> Result<String> {
    let tables = db::table_names(g.conn())?;
    if !tables.iter().any(|t| t == table) {
        return Err(Error::InvalidInput(format!(
            "{env} has no table `{}`; its tables: {}",
            crate::storage::text::printable(table),
            tables
                .iter()
                .map(|t| crate::storage::text::printable(t))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let q = db::quote_ident(table);
    let has_rowid = g
        .conn()
        .prepare(&format!("SELECT rowid FROM {q} LIMIT 0"))
        .is_ok();
    Ok(match has_rowid {
        true => format!("SELECT * FROM {q} ORDER BY rowid"),
        false => format!("SELECT * FROM {q}"),
    })
}

/// Writes a new file at `requested` through `body`: checked like every export path (no `..`,
/// control characters, the directory exists, nothing there yet), written to a temp file beside it
/// (created new, never through a symlink), fsynced, renamed into place without replacing
/// anything, the directory fsynced. On any failure the temp file is removed and nothing is at
/// the final name. Returns (what `body` returned, bytes, the final path). With `work`, the temp
/// file is registered with it (removed by a caller that gives up) and nothing is renamed into
/// place once the caller has given up.
pub fn write_new_file<T>(
    requested: &Path,
    work: Option<&Work>,
    body: impl FnOnce(&mut dyn Write, PathBuf) -> Result<T>,
) -> Result<(T, u64, PathBuf)> {
    let path = crate::backups::names::check_output_path(requested)?;
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    fs::clean_temp_files(&dir);
    let tmp = fs::temp_beside(&path);
    // The temp file is ours: a directory that cannot take it is what the user must fix.
    let file = fs::create_new(&tmp).map_err(|e| match e {
        Error::ReadOnly { what, .. } => Error::ReadOnly {
            path: dir.clone(),
            what: format!("the export cannot be written in this directory ({what})"),
        },
        e => e,
    })?;
    if let Some(Err(e)) = work.map(|w| w.leaves(&tmp)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let written = (|| {
        // Written on a second thread that starts the disk's writeback as it goes: the fsync
        // below then has little left to do.
        let mut w = Counted {
            w: FlushBehind::new(file).map_err(Error::io("writing", &path))?,
            n: 0,
        };
        let out = body(&mut w, path.clone())?;
        let bytes = w.n;
        let file = w.w.finish().map_err(Error::io("writing", &path))?;
        crate::storage::failpoint::hit("export:before_fsync")?;
        file.sync_all().map_err(Error::io("fsync", &tmp))?;
        crate::storage::failpoint::hit("export:before_rename")?;
        if work.is_some_and(|w| !w.commit()) {
            return Err(Error::Cancelled);
        }
        fs::rename_noreplace(&tmp, &path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Refused(format!(
                "{} appeared while the export was written; it was not overwritten and {UNCHANGED}. Choose another name",
                path.display()
            )),
            _ => Error::io("renaming into place", &path)(e),
        })?;
        fs::fsync_dir(&dir)?;
        Ok((out, bytes))
    })();
    match written {
        Ok((out, bytes)) => Ok((out, bytes, path)),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(db::promote_disk_full(&path, e))
        }
    }
}

/// A writer that counts the bytes it passes on.
struct Counted<W> {
    w: W,
    n: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.w.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}
