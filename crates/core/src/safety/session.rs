//! The preamble of every changing verb: header check, env-tag check, lock, write transaction, quick_check.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::safety::health::{corrupt_if_malformed, require_healthy};
use crate::safety::lock::{self, EnvLock};
use crate::schema::tag;
use crate::storage::db::{self, Access, FileState};
use crate::storage::fs;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

/// `env`'s database, read-only, after its header and env-tag checks (for the workbench's reads).
/// A missing file is [`Error::Missing`], whose next step is `next`. Takes no lock, writes nothing.
pub(crate) fn open_tagged(ws: &Workspace, env: &str, next: &str) -> Result<Connection> {
    let target = ws.env(env)?;
    let conn = inspect(ws, &target)?.ok_or_else(|| Error::Missing {
        path: target.path.clone(),
        next: next.to_string(),
    })?;
    tag::require_identity(&conn, &target)?;
    Ok(conn)
}

/// A read-only look at an env's file, for plans and status. Takes no lock, writes nothing.
pub(crate) fn inspect(ws: &Workspace, target: &EnvTarget) -> Result<Option<Connection>> {
    match db::check_header(&target.path)? {
        FileState::Missing => Ok(None),
        FileState::Database => {
            db::open(&target.path, Access::ReadOnly, ws.busy_timeout()).map(Some)
        }
    }
}

/// `inspect` for the plan of a changing verb: a read-only file or directory is refused first,
/// before anything opens the file.
pub(crate) fn inspect_for_change(ws: &Workspace, target: &EnvTarget) -> Result<Option<Connection>> {
    if db::check_header(&target.path)? == FileState::Database {
        preflight_writable(target)?;
    }
    inspect(ws, target)
}

/// An existing database opened for a change: identity checked, lock held.
pub(crate) struct Session {
    pub conn: Connection,
    /// The file the connection opened (device, inode): the path must name it until the change
    /// is committed and checked ([`require_same_file`]).
    pub file: (u64, u64),
    _lock: EnvLock,
}

/// Opens an existing database for a change, in the order of the safety protocol:
/// header → env tag (read-only) → lock → read-write open → tag again. `None` if the file is missing
/// (the lock is then returned so the caller can create it).
pub(crate) fn open_for_change(
    ws: &Workspace,
    target: &EnvTarget,
    verb: &str,
    tagged: bool,
) -> Result<Opened> {
    if db::check_header(&target.path)? == FileState::Database {
        // Refuse a read-only file or directory before even a read-only open (which can create
        // the -wal/-shm files of a WAL database).
        preflight_writable(target)?;
        let ro = db::open(&target.path, Access::ReadOnly, ws.busy_timeout())?;
        if tagged {
            tag::require_identity(&ro, target).map_err(|e| corrupt_if_malformed(e, target))?;
        }
        drop(ro);
    }
    if target.path.parent() == Some(ws.data_dir.as_path()) {
        ws.ensure_data_dir()?;
    }
    preflight_writable(target)?;
    crate::safety::audit::require_writable(&ws.audit_path())?;
    let lock = lock::acquire(&target.path, ws.busy_timeout(), verb)?;
    clean_leftovers(ws, target);
    match db::check_header(&target.path)? {
        FileState::Missing => Ok(Opened::Missing(lock)),
        FileState::Database => {
            // Health first, read-only: a corrupt file is refused before any read-write open
            // (which would switch it to WAL) can change a byte of it.
            let ro = db::open(&target.path, Access::ReadOnly, ws.busy_timeout())?;
            crate::storage::timing::step("open: quick_check", || require_healthy(&ro, target))?;
            drop(ro);
            let before = crate::storage::fs::file_identity(&target.path);
            let conn = db::open(&target.path, Access::ReadWrite, ws.busy_timeout())?;
            // The file stayed in place while it was opened: the connection holds the file the
            // path names (checked again before the change commits and after).
            let file = match (before, crate::storage::fs::file_identity(&target.path)) {
                (Some(a), Some(b)) if a == b => a,
                _ => return Err(replaced(target, "while it was opened")),
            };
            if tagged {
                tag::require_identity(&conn, target)?;
            }
            Ok(Opened::Existing(Box::new(Session {
                conn,
                file,
                _lock: lock,
            })))
        }
    }
}

pub(crate) enum Opened {
    Missing(EnvLock),
    Existing(Box<Session>),
}

impl Opened {
    /// The env's lock this open holds.
    pub(crate) fn lock(&self) -> &EnvLock {
        match self {
            Opened::Missing(l) => l,
            Opened::Existing(s) => &s._lock,
        }
    }
}

/// Refuses when `target.path` no longer names `file`, the file a connection of ours opened:
/// another program renamed or moved a file into its place (or removed it). The connection would
/// change the file it has open, while SQLite finds the log (`-wal`) by path — beside the other
/// file — and every backup taken by path would be of the other file.
pub(crate) fn require_same_file(target: &EnvTarget, file: (u64, u64), when: &str) -> Result<()> {
    match crate::storage::fs::file_identity(&target.path) {
        Some(now) if now == file => Ok(()),
        _ => Err(replaced(target, when)),
    }
}

fn replaced(target: &EnvTarget, when: &str) -> Error {
    Error::Stale {
        env: target.name.clone(),
        what: format!(
            "{} was replaced by another file, or removed, {when}",
            target.path.display()
        ),
    }
}

/// Refuses early, before any backup or write, when the database or its directory is read-only.
fn preflight_writable(target: &EnvTarget) -> Result<()> {
    let dir = target.path.parent().unwrap_or(Path::new("."));
    if !dir.exists() {
        return Err(Error::InvalidInput(format!(
            "directory {} does not exist; create it or fix the env's path in the config",
            dir.display()
        )));
    }
    for (p, what) in [
        (dir, "its directory is not writable"),
        (target.path.as_path(), "the file is not writable"),
    ] {
        if p.exists() && !writable(p) {
            return Err(Error::ReadOnly {
                path: target.path.clone(),
                what: what.into(),
            });
        }
    }
    Ok(())
}

fn writable(p: &Path) -> bool {
    crate::storage::os::writable(p)
}

/// Temp files left by a killed process (ours are recognisable by name and dead pid).
fn clean_leftovers(ws: &Workspace, target: &EnvTarget) {
    if let Some(dir) = target.path.parent() {
        fs::clean_temp_files(dir);
    }
    fs::clean_temp_files(&target.backup_dir);
    let _ = ws;
}

/// `BEGIN IMMEDIATE`, mapping "busy" to our typed error.
pub(crate) fn begin_immediate(conn: &Connection, path: &Path, timeout_ms: u64) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Error::DbLocked {
                    path: path.to_path_buf(),
                    waited_ms: timeout_ms,
                }
            }
            _ => db::classify(path, e, "starting a write transaction".into()),
        })
}

/// A `-wal` or `-journal` left beside a database file that no longer exists would be applied to
/// the new file SQLite opens at that path. Refuse if it holds data (it may be the last commits of
/// the deleted database); remove it (and `-shm`) if it is empty.
pub(crate) fn clear_stale_sidecars(db_path: &Path) -> Result<()> {
    let side = |suffix: &str| {
        let mut p = db_path.as_os_str().to_owned();
        p.push(suffix);
        std::path::PathBuf::from(p)
    };
    for suffix in ["-wal", "-journal"] {
        let p = side(suffix);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.len() > 0 || !m.is_file() => {
                return Err(Error::Refused(format!(
                    "{} is missing but {} ({} bytes) is still beside it; it may hold the last commits of the deleted database. Move it somewhere safe (or restore a backup) and try again",
                    db_path.display(),
                    p.display(),
                    m.len()
                )))
            }
            Ok(_) => std::fs::remove_file(&p).map_err(Error::io("removing empty", &p))?,
            Err(_) => {}
        }
    }
    let shm = side("-shm");
    if shm.exists() {
        std::fs::remove_file(&shm).map_err(Error::io("removing stale", &shm))?;
    }
    Ok(())
}

/// Creates a missing database atomically: built under a temp name, then renamed into place
/// without overwriting. `build` runs inside one transaction on the new file.
pub(crate) fn create_new_db<T>(
    ws: &Workspace,
    target: &EnvTarget,
    verb: crate::verb::Verb,
    build: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    if target.path.parent() == Some(ws.data_dir.as_path()) {
        ws.ensure_data_dir()?;
    }
    clear_stale_sidecars(&target.path)?;
    let tmp = fs::temp_beside(&target.path);
    let result = (|| {
        drop(fs::create_new(&tmp)?);
        let conn = db::open(&tmp, Access::ReadWrite, ws.busy_timeout())?;
        // A new database is built by bulk inserts (migrations, sample data).
        crate::storage::db::bulk_insert_pragmas(&conn)?;
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(Error::sql("starting a write transaction"))?;
        let out = build(&conn)?;
        conn.execute_batch("COMMIT")
            .map_err(|e| db::classify(&tmp, e, "committing".into()))?;
        // Everything into the main file before it is placed: a checkpoint that failed (a full
        // disk) is otherwise silent at close, and the file would be placed without its log
        // (review 29: a reset on a full disk placed a malformed database).
        let (busy, log, done): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| db::classify(&tmp, e, "writing the new database's log into it".into()))?;
        if busy != 0 || log != done {
            return Err(Error::CheckFailed(format!(
                "the new database's log could not be written into {} ({done} of {log} pages); nothing was placed",
                tmp.display()
            )));
        }
        conn.close()
            .map_err(|(_, e)| db::classify(&tmp, e, "closing".into()))?;
        let wal = db::sidecar(&tmp, "-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            return Err(Error::CheckFailed(format!(
                "the new database's log {} was left holding changes; nothing was placed",
                wal.display()
            )));
        }
        fs::fsync_file(&tmp)?;
        clear_stale_sidecars(&target.path)?;
        fs::rename_noreplace(&tmp, &target.path)
            .map_err(Error::io("placing new database", &target.path))?;
        fs::fsync_dir(target.path.parent().unwrap_or(Path::new(".")))?;
        // The same post-change checks as for an existing database.
        // From here the new file is in place: a failure says so.
        let placed = |e| crate::safety::health::committed_but(e, verb, target, None);
        let ro = db::open(&target.path, Access::ReadOnly, ws.busy_timeout()).map_err(placed)?;
        crate::safety::health::verify_after(&ro, target, "integrity_check").map_err(placed)?;
        Ok(out)
    })();
    if result.is_err() {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = tmp.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
    result
}

/// Runs `f` in the caller's open transaction: COMMIT on success, ROLLBACK on any error.
pub(crate) fn commit_or_rollback<T>(
    conn: &Connection,
    path: &Path,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match f() {
        Ok(v) => {
            conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                crate::storage::db::classify(path, e, "committing".into())
            })?;
            Ok(v)
        }
        Err(e) => {
            if !conn.is_autocommit() {
                if let Err(re) = conn.execute_batch("ROLLBACK") {
                    tracing::error!("rollback failed: {re}");
                }
            }
            Err(crate::storage::db::promote_disk_full(path, e))
        }
    }
}
