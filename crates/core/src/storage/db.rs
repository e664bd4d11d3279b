//! Opening database files safely: the header check, connection pragmas, and read-only inspection.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::OpenFlags;

use crate::error::{Error, Result};

pub const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What is at a database path before SQLite is allowed to touch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    Missing,
    Database,
}

/// Checks the 16-byte SQLite header of an existing file without modifying it.
/// SQLite itself would treat a 0- or 1-byte file as an empty database; we refuse it.
/// For an env's database (or a file about to become one), which connections of this process may
/// hold open: read through a kept handle (see [`held_open`](crate::storage::held_open)).
pub fn check_header(path: &Path) -> Result<FileState> {
    header_of(path, true)
}

/// [`check_header`] of a file no connection of ours holds: a backup, a copy, a file to restore.
pub fn check_copy_header(path: &Path) -> Result<FileState> {
    header_of(path, false)
}

fn header_of(path: &Path, live: bool) -> Result<FileState> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(e) => return Err(Error::io("reading", path)(e)),
    };
    let not_db = |reason: String| Error::NotADatabase {
        path: path.to_path_buf(),
        reason,
    };
    if !meta.is_file() {
        return Err(crate::storage::fs::not_a_regular_file(path, &meta));
    }
    if meta.len() < 100 {
        return Err(not_db(format!(
            "{} bytes, shorter than a SQLite header",
            meta.len()
        )));
    }
    let mut head = [0u8; 16];
    match live {
        true => crate::storage::held_open::reader(path)?.read_exact(&mut head),
        false => std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)),
    }
    .map_err(Error::io("reading", path))?;
    if &head != SQLITE_HEADER {
        return Err(not_db("its header is not `SQLite format 3`".into()));
    }
    Ok(FileState::Database)
}

/// SQLite's defences for files of uncertain provenance, on every connection: no SQL that can
/// corrupt the file (DEFENSIVE), schema code may call only innocuous functions (trusted_schema
/// off), cell sizes checked while reading, no memory-mapped I/O, no ATTACH that creates or
/// writes files.
pub(crate) fn harden(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::config::DbConfig;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_ATTACH_CREATE, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_ATTACH_WRITE, false)?;
    conn.execute_batch("PRAGMA cell_size_check = ON; PRAGMA mmap_size = 0;")
}

/// A read-only connection that leaves nothing beside the file: with no pages in a `-wal` and no
/// `-journal` beside it every committed page is in the file itself, so it is opened `immutable` (a plain
/// read-only open of a WAL database would create `-wal` and `-shm`). `None`: a sidecar exists, so
/// the caller decides (SQLite must see the sidecar's pages to read the file as it is).
pub fn open_immutable(path: &Path) -> Result<Option<Connection>> {
    if log_beside(path) {
        return Ok(None);
    }
    let uri = format!("file:{}?immutable=1", uri_path(path));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let ctx = || format!("opening {}", path.display());
    let conn = Connection::open_with_flags(&uri, flags).map_err(|e| classify(path, e, ctx()))?;
    harden(&conn).map_err(|e| classify(path, e, ctx()))?;
    arm_inspection_limit(&conn, path);
    Ok(Some(conn))
}

/// How long reading a file from elsewhere may take before it is stopped: 60 s plus 1 s per 10 MiB
/// (SQLite's checks read well over 10 MiB/s; only a query that loops — a recursive view, say — or
/// a file built to be slow gets near it).
pub(crate) fn inspection_limit(path: &Path) -> Duration {
    #[cfg(feature = "failpoints")]
    if let Some(ms) = std::env::var("PIPELINE_DB_TEST_INSPECT_LIMIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return Duration::from_millis(ms);
    }
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Duration::from_secs(60 + size / (10 << 20))
}

/// Stops any statement of `conn` once [`inspection_limit`] has passed (from now); the error then
/// reads as [`Error::TooSlow`]. Every read-only connection gets it when opened; a read-write one
/// to a private copy of a file from elsewhere gets it from its caller.
pub(crate) fn arm_inspection_limit(conn: &Connection, path: &Path) {
    arm_deadline(conn, inspection_limit(path));
}

fn arm_deadline(conn: &Connection, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    let armed = conn.progress_handler(
        10_000,
        Some(move || {
            let over = std::time::Instant::now() > deadline;
            if over {
                crate::error::note_limit_hit(limit);
            }
            over
        }),
    );
    if let Err(e) = armed {
        tracing::warn!("no time limit on this read-only connection: {e}");
    }
}

/// Lifts a read-only connection's time limit, for a read of every row that the caller runs on
/// purpose (a check, a fingerprint) and that must not give up half-way on a big database.
pub(crate) fn lift_time_limit(c: &Connection) -> Result<()> {
    c.progress_handler(0, None::<fn() -> bool>)
        .map_err(Error::sql("lifting the time limit"))
}

/// A write-ahead log with pages, or a rollback journal, beside `path`: the file alone is not the
/// whole database.
pub fn log_beside(path: &Path) -> bool {
    let wal_pages = std::fs::metadata(sidecar(path, "-wal")).is_ok_and(|m| m.len() > 0);
    wal_pages || sidecar(path, "-journal").exists()
}

/// `<path><suffix>`, e.g. the `-wal` beside a database.
pub fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    std::path::PathBuf::from(p)
}

/// `path` percent-encoded for an SQLite `file:` URI (everything but unreserved bytes and `/`).
fn uri_path(path: &Path) -> String {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How a connection is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// Opens a connection with the pragmas every connection gets:
/// `busy_timeout`, `foreign_keys=ON` (outside any transaction) and, when writable, WAL.
pub fn open(path: &Path, access: Access, busy_timeout: Duration) -> Result<Connection> {
    let base = OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let flags = match access {
        Access::ReadOnly => base | OpenFlags::SQLITE_OPEN_READ_ONLY,
        Access::ReadWrite => base | OpenFlags::SQLITE_OPEN_READ_WRITE,
    };
    let ctx = || format!("opening {}", path.display());
    let mark = crate::storage::held_open::connection_opening();
    let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(path, e, ctx()))?;
    tie_to(&conn, mark).map_err(Error::sql(ctx()))?;
    conn.busy_timeout(busy_timeout).map_err(Error::sql(ctx()))?;
    harden(&conn).map_err(|e| classify(path, e, ctx()))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(|e| classify(path, e, ctx()))?;
    test_limits(&conn)?;
    if access == Access::ReadOnly {
        arm_inspection_limit(&conn, path);
        // The first read is where a read-only connection meets a hot journal: say so here.
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .map_err(|e| classify(path, e, ctx()))?;
    }
    if access != Access::ReadOnly {
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| classify(path, e, ctx()))?;
        tracing::debug!(path = %path.display(), %mode, "opened read-write");
    }
    Ok(conn)
}

/// Ties `mark` to `conn`: SQLite drops it with a function registered on the connection, which it
/// destroys only after it closed the connection's files (`held_open` may then close its handles).
/// Should the registration fail, SQLite drops the mark at once and the connection must not be
/// used: the caller returns the error, dropping it.
fn tie_to(
    conn: &Connection,
    mark: crate::storage::held_open::ConnectionMark,
) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY;
    conn.create_scalar_function("pipeline_db_open_mark", 0, flags, move |_| {
        let _ = &mark;
        Ok(rusqlite::types::Null)
    })
}

/// Test-only: `PIPELINE_DB_TEST_MAX_PAGE_COUNT` caps the database size (disk-full tests).
#[cfg(feature = "failpoints")]
fn test_limits(conn: &Connection) -> Result<()> {
    if let Some(n) = std::env::var("PIPELINE_DB_TEST_MAX_PAGE_COUNT")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    {
        conn.query_row(&format!("PRAGMA max_page_count = {n}"), [], |_| Ok(()))
            .map_err(Error::sql("max_page_count"))?;
    }
    Ok(())
}

#[cfg(not(feature = "failpoints"))]
fn test_limits(_conn: &Connection) -> Result<()> {
    Ok(())
}

/// Turns SQLite's "not a database"/"corrupt"/"busy"/"read-only" into our typed errors.
pub(crate) fn classify(path: &Path, e: rusqlite::Error, context: String) -> Error {
    use rusqlite::ErrorCode::*;
    if let Some(limit) = crate::error::limit_hit(&e) {
        return Error::TooSlow { context, limit };
    }
    // SQLITE_READONLY_ROLLBACK: a read-only connection found a journal it would have to roll back.
    if e.sqlite_error().map(|s| s.extended_code) == Some(776) {
        return Error::HotJournal {
            path: path.to_path_buf(),
        };
    }
    match e.sqlite_error_code() {
        Some(NotADatabase) => Error::NotADatabase {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        Some(ReadOnly) | Some(CannotOpen) if is_read_only(path) => Error::ReadOnly {
            path: path.to_path_buf(),
            what: e.to_string(),
        },
        Some(DiskFull) => promote_disk_full(path, Error::Sqlite { context, source: e }),
        _ => Error::Sqlite { context, source: e },
    }
}

/// A failure caused by a full disk (SQLite's SQLITE_FULL, or ENOSPC/EFBIG from a write), wherever it
/// surfaced, becomes `DiskFull` naming the directory and its free space.
pub fn promote_disk_full(path: &Path, e: Error) -> Error {
    let full = |e: &Error| match e {
        Error::Sqlite { source, .. } => {
            source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
        }
        Error::Io { source, .. } => {
            matches!(
                source.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::FileTooLarge
            )
        }
        _ => false,
    };
    let inner = match &e {
        Error::Step { source, .. } => source.as_ref(),
        other => other,
    };
    if !full(inner) {
        return e;
    }
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let available = crate::storage::fs::available_space(&dir).unwrap_or(0);
    let detail = inner.to_string();
    match e {
        Error::Step {
            verb,
            env,
            step,
            state,
            ..
        } => Error::Step {
            verb,
            env,
            step,
            state,
            source: Box::new(Error::DiskFull {
                dir,
                available,
                detail,
            }),
        },
        _ => Error::DiskFull {
            dir,
            available,
            detail,
        },
    }
}

fn is_read_only(path: &Path) -> bool {
    let dir = path.parent().unwrap_or(Path::new("."));
    use crate::storage::os::writable;
    (path.exists() && !writable(path)) || !writable(dir)
}

/// Names of user tables (everything except SQLite's internal ones), in name order.
pub fn table_names(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .map_err(Error::sql("listing tables"))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(Error::sql("listing tables"))?;
    Ok(names)
}

/// Row count of every user table (virtual tables included when their module is present).
pub fn row_counts(conn: &Connection) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for t in table_names(conn)? {
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {}", quote_ident(&t)),
                [],
                |r| r.get(0),
            )
            .map_err(Error::sql(format!("counting rows of {t}")))?;
        out.insert(t, n as u64);
    }
    Ok(out)
}

/// Number of schema objects of any kind (0 = an empty database).
pub fn schema_object_count(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(Error::sql("reading sqlite_schema"))
}

/// `PRAGMA quick_check` / `integrity_check`; returns the problems found (empty = ok).
pub fn check(conn: &Connection, pragma: &str) -> Result<Vec<String>> {
    debug_assert!(matches!(pragma, "quick_check" | "integrity_check"));
    let mut stmt = conn
        .prepare(&format!("PRAGMA {pragma}"))
        .map_err(Error::sql(pragma.to_string()))?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(Error::sql(pragma.to_string()))?;
    Ok(rows.into_iter().filter(|r| r != "ok").collect())
}

/// Why a database's text encoding is not ours (UTF-8), in words; `None` when it is. Pages of
/// another encoding cannot be copied into or out of our databases (SQLite's backup API and ATTACH
/// refuse), so such a file is no backup and no restore source.
pub(crate) fn encoding_problem(conn: &Connection) -> Result<Option<String>> {
    let enc: String = conn
        .query_row("PRAGMA encoding", [], |r| r.get(0))
        .map_err(Error::sql("reading the text encoding"))?;
    Ok((enc != "UTF-8").then(|| {
        format!("its text encoding is {enc}; pipeline-db's databases are UTF-8 (convert it with `sqlite3 FILE .dump` into a new UTF-8 database)")
    }))
}

/// `PRAGMA foreign_key_check`, as readable lines (empty = ok).
pub fn foreign_key_problems(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare("PRAGMA foreign_key_check")
        .map_err(Error::sql("foreign_key_check"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} row {} references missing {}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                r.get::<_, String>(2)?
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(Error::sql("foreign_key_check"))?;
    Ok(rows)
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Connection settings for a bulk insert; call them *before* the transaction begins (SQLite reads
/// `temp_store` for the statement journal when a transaction starts).
///
/// A larger page cache (bounded: the seed must stay under 64 MB RSS), and the statement journal in
/// memory: each multi-row INSERT keeps one (a CHECK failing on its 10th row must undo its first
/// 9), and past 64 KiB SQLite spills it to a temp file — the profile showed 4.5× the write
/// syscalls of the reference from that alone. It is freed after each statement and plays no part
/// in crash recovery: durability is unchanged, the one commit at the end is synced as always.
pub(crate) fn bulk_insert_pragmas(c: &Connection) -> Result<()> {
    c.pragma_update(None, "cache_size", -16_384)
        .map_err(Error::sql("cache_size"))?;
    c.pragma_update(None, "temp_store", "MEMORY")
        .map_err(Error::sql("temp_store"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_read_only_query_past_its_time_limit_is_stopped_and_named() {
        use super::*;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.sqlite3");
        Connection::open(&p)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        let c = open(&p, Access::ReadOnly, Duration::from_millis(100)).unwrap();
        arm_deadline(&c, Duration::from_millis(50));
        let started = std::time::Instant::now();
        let endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r";
        let err = c
            .query_row(endless, [], |r| r.get::<_, i64>(0))
            .map_err(Error::sql("counting"))
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(matches!(err, Error::TooSlow { .. }), "{err}");
        assert!(err.to_string().starts_with("counting: stopped"), "{err}");
        assert_eq!(err.exit_code(), crate::exit::REFUSED);
        // A query within the limit is unaffected.
        let c = open(&p, Access::ReadOnly, Duration::from_millis(100)).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn a_hot_rollback_journal_is_named_and_left_alone() {
        use super::*;
        let d = tempfile::tempdir().unwrap();
        let (live, crashed) = (d.path().join("a.sqlite3"), d.path().join("b"));
        std::fs::create_dir(&crashed).unwrap();
        let c = Connection::open(&live).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=DELETE; CREATE TABLE t(x);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
             INSERT INTO t SELECT randomblob(1000) FROM n;
             PRAGMA cache_size = 2; PRAGMA shrink_memory; BEGIN; UPDATE t SET x = randomblob(1000);",
        )
        .unwrap();
        // The files as a crash in the middle of that write would leave them.
        for (from, to) in [
            ("a.sqlite3", "a.sqlite3"),
            ("a.sqlite3-journal", "a.sqlite3-journal"),
        ] {
            std::fs::copy(d.path().join(from), crashed.join(to)).unwrap();
        }
        let db = crashed.join("a.sqlite3");
        // The page cache is shared by every connection of the process: `shrink_memory` makes the
        // update spill (and sync the journal's header) even while other tests hold caches.
        let journal = std::fs::read(crashed.join("a.sqlite3-journal")).unwrap();
        assert_eq!(
            journal[..8],
            [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7],
            "a hot journal"
        );
        let before = (
            std::fs::read(&db).unwrap(),
            std::fs::read(crashed.join("a.sqlite3-journal")).unwrap(),
        );
        let err = open(&db, Access::ReadOnly, Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, Error::HotJournal { .. }), "{err}");
        assert_eq!(err.exit_code(), crate::exit::REFUSED);
        assert!(
            err.to_string().contains("sqlite3"),
            "names the next step: {err}"
        );
        let after = (
            std::fs::read(&db).unwrap(),
            std::fs::read(crashed.join("a.sqlite3-journal")).unwrap(),
        );
        assert!(before == after, "neither file was touched");
    }

    use super::*;

    #[test]
    fn header_check_refuses_small_and_foreign_files_and_leaves_them_alone() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, Vec<u8>); 4] = [
            ("zero", vec![]),
            ("one", vec![b'x']),
            (
                "text",
                b"hello, this is a text file that is long enough to be a header. ".repeat(4),
            ),
            (
                "random",
                (0..4096u32)
                    .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                    .collect(),
            ),
        ];
        for (name, bytes) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).unwrap();
            let e = check_header(&p).unwrap_err();
            assert_eq!(e.exit_code(), 5, "{name}: {e}");
            assert_eq!(std::fs::read(&p).unwrap(), bytes, "{name} unchanged");
        }
        assert_eq!(
            check_header(&dir.path().join("missing")).unwrap(),
            FileState::Missing
        );
        // A directory (like a FIFO or a device) is refused before anything opens it.
        assert_eq!(check_header(dir.path()).unwrap_err().exit_code(), 3);
    }
}
