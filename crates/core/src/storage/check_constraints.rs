//! A file's full check on every core: SQLite's `quick_check` / `integrity_check` with CHECK
//! constraints off on one connection, while every row's CHECK constraints — read from each
//! table's own `CREATE TABLE` — run as SELECTs by rowid range on others. (SQLite evaluates a
//! table's CHECKs on one thread: ≈ 80 % of a `quick_check` of our jobs table.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::storage::db;
use crate::storage::sql_tokens::{tokens, Kind, Token};

/// Rows per scan of a big table: small enough that the cores finish together.
const ROWS_PER_SCAN: u64 = 50_000;
/// Failing rows named per scan (SQLite's own check stops at 100 problems).
const NAMED_PER_SCAN: usize = 3;

/// `PRAGMA {pragma}` (`quick_check` or `integrity_check`) of the file `conn` has open, with every
/// row's CHECK constraints evaluated: SQLite's pragma runs on `conn` with CHECKs off while the
/// CHECKs run on connections from `open` (read-only ones do), and `conn` joins them when its pragma
/// is done. Returns the problems found (empty = ok), SQLite's first.
///
/// The file should not change meanwhile (the connections read the same content only then: a
/// private copy, or a file under a write lock; `check` accepts a live file as it is). The CHECKs
/// checked are the ones its tables declare — expressions from the file, which SQLite's own check
/// evaluates the same way (on connections hardened like any other).
pub(crate) fn full_check(
    conn: &Connection,
    pragma: &str,
    open: &(dyn Fn() -> Result<Connection> + Sync),
) -> Result<Vec<String>> {
    debug_assert!(matches!(pragma, "quick_check" | "integrity_check"));
    let scans = plan_scans(conn)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let next = AtomicUsize::new(0);
    let found = Mutex::new(BTreeMap::new());
    // Set when the check has failed (an error, or `conn` interrupted): the others stop taking scans.
    let failed = AtomicBool::new(false);
    let run = |c: &Connection| {
        let r = run_scans(c, &scans, (&next, &failed), &found);
        if r.is_err() {
            failed.store(true, Ordering::SeqCst);
        }
        r
    };
    let (sqlite, scanned) = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..workers)
            .map(|_| s.spawn(|| helper(open, &run)))
            .collect();
        let sqlite = without_checks(conn, pragma);
        if sqlite.is_err() {
            failed.store(true, Ordering::SeqCst);
        }
        // `conn` takes scans too once its pragma is done, until none is left.
        let mut scanned = run(conn);
        for h in helpers {
            let panicked = || Err(Error::Internal("a CHECK scan panicked".into()));
            scanned = scanned.and(h.join().unwrap_or_else(|_| panicked()));
        }
        (sqlite, scanned)
    });
    let mut problems = sqlite?;
    match scanned {
        // A scan failing over damage SQLite has already described adds nothing to its words.
        Err(_) if !problems.is_empty() => return Ok(problems),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    problems.extend(
        found
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_values()
            .flatten(),
    );
    Ok(problems)
}

/// A second core's share: a connection of its own, then scans until none is left. One that cannot
/// be opened takes no scan (the others do them all). It keeps the time limit `open` gave it: a
/// CHECK is an expression from the file, and one built to be slow must stop like any other read
/// of a file from elsewhere (read-only connections get one by the file's size).
fn helper(
    open: &(dyn Fn() -> Result<Connection> + Sync),
    run: &(dyn Fn(&Connection) -> Result<()> + Sync),
) -> Result<()> {
    match open() {
        Ok(c) => run(&c),
        Err(e) => {
            tracing::warn!("no second connection for the CHECK scans ({e}): the others do them");
            Ok(())
        }
    }
}

/// SQLite's pragma with CHECK constraints off (set back afterwards, whatever happened).
fn without_checks(conn: &Connection, pragma: &str) -> Result<Vec<String>> {
    let set = |on: bool| {
        conn.pragma_update(None, "ignore_check_constraints", on)
            .map_err(Error::sql("ignore_check_constraints"))
    };
    set(true)?;
    let problems = db::check(conn, pragma);
    set(false)?;
    problems
}

/// Takes scans off the shared list until none is left; failing rows go to `found` under the
/// scan's index (so the report's order does not depend on which core ran what).
fn run_scans(
    c: &Connection,
    scans: &[Scan],
    (next, failed): (&AtomicUsize, &AtomicBool),
    found: &Mutex<BTreeMap<usize, Vec<String>>>,
) -> Result<()> {
    loop {
        if failed.load(Ordering::SeqCst) {
            // The check has failed already: its result is that error, whatever is left.
            return Ok(());
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        let Some(scan) = scans.get(i) else {
            return Ok(());
        };
        let bad = scan.failing_rows(c)?;
        if !bad.is_empty() {
            let mut found = found.lock().unwrap_or_else(|p| p.into_inner());
            found.insert(i, bad);
        }
    }
}

/// One SELECT over a table, or over one rowid range of it.
struct Scan {
    table: String,
    sql: String,
    has_rowid: bool,
}

impl Scan {
    fn failing_rows(&self, c: &Connection) -> Result<Vec<String>> {
        let ctx = || format!("checking the CHECK constraints of {}", self.table);
        let mut stmt = c.prepare(&self.sql).map_err(Error::sql(ctx()))?;
        let rows: Vec<Option<i64>> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(Error::sql(ctx()))?;
        Ok(rows
            .into_iter()
            .map(|id| match (self.has_rowid, id) {
                (true, Some(id)) => format!("CHECK constraint failed in {} (row {id})", self.table),
                _ => format!("CHECK constraint failed in {}", self.table),
            })
            .collect())
    }
}

/// The scans for every table that declares CHECK constraints: rowid ranges that together cover
/// every rowid, or the whole table (WITHOUT ROWID tables, small tables).
fn plan_scans(conn: &Connection) -> Result<Vec<Scan>> {
    let mut scans = vec![];
    for (table, create) in tables(conn)? {
        let clauses = check_clauses(&create).map_err(|why| {
            Error::CheckFailed(format!(
                "the CHECK constraints of {table} cannot be read: {why}"
            ))
        })?;
        if clauses.is_empty() {
            continue;
        }
        // Each clause on lines of its own: a `--` comment in one cannot reach past it.
        let failing = clauses
            .iter()
            .map(|c| format!("(\n{c}\n)"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let q = db::quote_ident(&table);
        let rowid = rowid_name(conn, &table)?;
        // NOT INDEXED: an index holding every column the CHECKs read would otherwise be read
        // instead of the rows (and `quick_check` does not compare indexes with their tables).
        let select = |range: &str| {
            let id = rowid.unwrap_or("NULL");
            format!(
                "SELECT {id} FROM {q} NOT INDEXED WHERE {range}NOT ({failing}) LIMIT {NAMED_PER_SCAN}"
            )
        };
        let ranges = match rowid {
            Some(r) => rowid_ranges(conn, &q, r)?,
            None => vec![String::new()],
        };
        let has_rowid = rowid.is_some();
        scans.extend(ranges.iter().map(|r| Scan {
            table: table.clone(),
            sql: select(r),
            has_rowid,
        }));
    }
    Ok(scans)
}

/// Every table's name and `CREATE` statement — SQLite's own too (`sqlite_stat1`, …: they declare
/// no CHECK, unless a file from elsewhere made them so, and then SQLite checks it).
fn tables(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn
        .prepare(
            "SELECT name, sql FROM sqlite_schema
             WHERE type = 'table' AND sql IS NOT NULL ORDER BY name",
        )
        .map_err(Error::sql("reading sqlite_schema"))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(Error::sql("reading sqlite_schema"));
    rows
}

/// The name that reaches a table's rowid: the first of `rowid`, `_rowid_`, `oid` that no column
/// of it is called (a column so named hides the rowid under that name). `None`: a WITHOUT ROWID
/// table, or all three are columns — the table is then scanned whole.
fn rowid_name(conn: &Connection, table: &str) -> Result<Option<&'static str>> {
    let q = db::quote_ident(table);
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_xinfo(?1)")
        .map_err(Error::sql(format!("reading the columns of {table}")))?;
    let columns: Vec<String> = stmt
        .query_map([table], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(Error::sql(format!("reading the columns of {table}")))?;
    let taken = |name: &str| columns.iter().any(|c| c.eq_ignore_ascii_case(name));
    let name = ["rowid", "_rowid_", "oid"].into_iter().find(|n| !taken(n));
    // Not a column, and yet no such name: a WITHOUT ROWID table.
    Ok(name.filter(|n| {
        conn.prepare(&format!("SELECT {n} FROM {q} LIMIT 0"))
            .is_ok()
    }))
}

/// `WHERE` prefixes splitting a table by rowid into ranges of about [`ROWS_PER_SCAN`] rows; the
/// first has no lower bound and the last no upper one, so no rowid is left out.
fn rowid_ranges(conn: &Connection, q: &str, rowid: &str) -> Result<Vec<String>> {
    let (rows, min, max): (i64, Option<i64>, Option<i64>) = conn
        .query_row(
            &format!("SELECT count(*), min({rowid}), max({rowid}) FROM {q} NOT INDEXED"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(Error::sql(format!("counting rows of {q}")))?;
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(vec![String::new()]);
    };
    let parts = (rows as u64).div_ceil(ROWS_PER_SCAN).clamp(1, 256) as i128;
    let span = max as i128 - min as i128 + 1;
    let bound = |i: i128| (min as i128 + span * i / parts) as i64;
    Ok((0..parts)
        .map(|i| {
            let lower = (i > 0).then(|| format!("{rowid} >= {} AND ", bound(i)));
            let upper = (i + 1 < parts).then(|| format!("{rowid} < {} AND ", bound(i + 1)));
            format!("{}{}", lower.unwrap_or_default(), upper.unwrap_or_default())
        })
        .collect())
}

/// The expressions of every `CHECK (…)` in a `CREATE TABLE` statement, as written, in order:
/// column and table constraints alike. Strings, quoted names, variables and comments are skipped
/// as SQLite's tokenizer skips them, so a `CHECK (` inside one is not a constraint. `CHECK` is never
/// a name to SQLite (it is no fallback keyword): one that is not a constraint of the statement's
/// own list, or parentheses that do not balance, mean the text is not read as SQLite reads it —
/// an error, never a constraint left out.
pub(crate) fn check_clauses(create: &str) -> std::result::Result<Vec<String>, String> {
    let tokens = tokens(create);
    let mut out = vec![];
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match t.kind {
            Kind::Open => depth += 1,
            Kind::Close if depth == 0 => return Err("a `)` closes nothing".into()),
            Kind::Close => depth -= 1,
            Kind::Word if t.text(create).eq_ignore_ascii_case("check") => {
                let found = (depth == 1).then(|| parenthesized(create, &tokens, i + 1));
                let Some(Some((expr, end))) = found else {
                    return Err(format!("a CHECK at byte {} is not a constraint", t.start));
                };
                out.push(expr);
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    match depth {
        0 => Ok(out),
        _ => Err("a `(` is never closed".into()),
    }
}

/// The text inside the parentheses opening at `tokens[at]` (the next token that is not a
/// comment), and the index of the closing one.
fn parenthesized(sql: &str, tokens: &[Token], at: usize) -> Option<(String, usize)> {
    let open = (at..tokens.len()).find(|&j| tokens[j].kind != Kind::Comment)?;
    if tokens[open].kind != Kind::Open {
        return None;
    }
    let mut depth = 0usize;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        match t.kind {
            Kind::Open => depth += 1,
            Kind::Close => {
                depth -= 1;
                if depth == 0 {
                    return Some((sql[tokens[open].end..t.start].to_string(), j));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
