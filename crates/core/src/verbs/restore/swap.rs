//! Restore by rename: when SQLite shows that no other connection has the live database open, the
//! verified staged copy is renamed over the live file — each page is written once, by the staging
//! — instead of being copied page by page through the WAL and checkpointed (each page twice more).
//!
//! The order, all under the env's lock: the file must be replaceable as it is (a regular file with
//! one name, our owner and group, no bytes past its last page); `live` takes the database alone
//! (SQLite switches it from WAL to a rollback journal only when no other connection holds it, and
//! in exclusive locking mode keeps that exclusive lock); holding it, the live file must still be
//! exactly the verified pre-restore backup (nothing committed since); the staged copy gets the
//! live file's permission bits and WAL mode, is fsynced, renamed over the live file, and the
//! directory fsynced. A connection another program opens meanwhile waits for the lock and then
//! reads the old file, and SQLite refuses its writes (`SQLITE_READONLY_DBMOVED`): nothing it
//! writes can be lost. When any condition does not hold, restore copies page by page (the caller).

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::staged_structure;
use crate::backups::record::BackupRecord;
use crate::error::{Error, Result};
use crate::safety::watch::{self, data_version, Watch};
use crate::storage::db::{self, Access};
use crate::storage::fingerprint::Fingerprint;
use crate::storage::{fs, os, timing};
use crate::verb::Verb;
use crate::workspace::env::EnvTarget;

/// How the restored content was put in place.
pub(super) enum Placed {
    /// Renamed over the live file; the staged copy's fingerprint (for undo), how long it took, and
    /// the (device, inode) of the file placed.
    Renamed(Result<Fingerprint>, Duration, Option<(u64, u64)>),
    /// Not renamed (why not): the caller copies page by page, with this watch (marked at the
    /// pre-restore backup, or proven unchanged since).
    PageCopy(String, Watch),
}

/// How long SQLite may wait for other connections to let go before restore copies page by page.
const ALONE_WAIT: Duration = Duration::from_millis(200);

/// What [`try_rename`] works on.
pub(super) struct Swap<'a> {
    pub verb: Verb,
    pub target: &'a EnvTarget,
    pub staging: &'a Path,
    pub backup: &'a BackupRecord,
    /// The live connection's `data_version` right after the backup.
    pub version: i64,
    /// The staged copy's size, for progress.
    pub bytes: u64,
    pub obs: &'a dyn crate::progress::Observer,
    pub busy_timeout: Duration,
}

/// Renames the staged copy over the live file if it can (see the module), else says why not.
/// `fingerprint`: the staged copy's fingerprint for undo (run beside the comparison). An error
/// before the rename left the database as it was; after it, it is `CommittedCheckFailed` (the
/// restored file is in place) naming the backup.
pub(super) fn try_rename(
    s: &Swap,
    live: &mut Connection,
    watch: Watch,
    fingerprint: &(dyn Fn() -> (Result<Fingerprint>, Duration) + Sync),
) -> Result<Placed> {
    if let Err(why) = replaceable(live, s) {
        return Ok(Placed::PageCopy(why, watch));
    }
    let placeholder = in_memory()?;
    // The watch's own connection would count as another one.
    drop(watch);
    if let Err(why) = timing::step("restore: take the database alone", || alone(live, s)) {
        // The watch marked again, then the live connection shows no commit since the backup: a
        // commit after the mark is seen by the watch when the page copy takes the write lock.
        let watch = Watch::open(&s.target.path, s.busy_timeout)?;
        if data_version(live)? != s.version {
            return Err(watch::changed_since_backup(&s.target.path));
        }
        return Ok(Placed::PageCopy(why, watch));
    }
    let ready = ready_to_rename(s, fingerprint);
    let renamed = ready.and_then(|fp| {
        // The last moment a cancel is taken: the rename is the restore.
        crate::progress::bytes_or_cancel(s.obs, "restoring", 0, s.bytes)?;
        crate::storage::failpoint::hit("restore:before_rename")?;
        let id = fs::file_identity(s.staging);
        std::fs::rename(s.staging, &s.target.path).map_err(Error::io(
            "renaming the restored database into place",
            &s.target.path,
        ))?;
        Ok((fp, id))
    });
    // The old file's connection closes (its lock goes with it); the live one is the new file's.
    let old = std::mem::replace(live, placeholder);
    drop(old);
    let reopened = db::open(&s.target.path, Access::ReadWrite, s.busy_timeout);
    let placed =
        |e| crate::safety::health::committed_but(e, s.verb, s.target, Some(&s.backup.path));
    match (renamed, reopened) {
        (Ok(((fp, took), id)), reopened) => {
            *live = reopened.map_err(placed)?;
            fs::fsync_dir(s.target.path.parent().unwrap_or(Path::new("."))).map_err(placed)?;
            s.obs.bytes(&crate::progress::Progress {
                stage: "restoring",
                done: s.bytes,
                total: s.bytes,
            });
            Ok(Placed::Renamed(fp, took, id))
        }
        (Err(e), Ok(c)) => {
            *live = c;
            Err(e)
        }
        (Err(e), Err(reopen)) => Err(Error::Internal(format!(
            "{e}; and {} could not be opened again: {reopen}",
            s.target.path.display()
        ))),
    }
}

fn in_memory() -> Result<Connection> {
    Connection::open_in_memory().map_err(Error::sql("opening a placeholder connection"))
}

/// Whether the live file can be replaced as it is: see [`os::replaceable_by_rename`], and no
/// bytes past its last page (the rename would drop them, and the comparison with the backup
/// would then fail for them alone).
fn replaceable(live: &Connection, s: &Swap) -> std::result::Result<(), String> {
    let meta = |p: &Path| std::fs::symlink_metadata(p).map_err(|e| format!("{}: {e}", p.display()));
    let (live_meta, staged_meta) = (meta(&s.target.path)?, meta(s.staging)?);
    os::replaceable_by_rename(&live_meta, &staged_meta)?;
    let pages: i64 = live
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let page: i64 = live
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    match live_meta.len() == (pages * page) as u64 {
        true => Ok(()),
        false => Err("the database file has bytes past its last page".into()),
    }
}

/// Takes the database for `live` alone (see the module). `Err`: why not; `live` is then in
/// normal locking mode again (its journal mode unchanged: SQLite refused the switch).
fn alone(live: &Connection, s: &Swap) -> std::result::Result<(), String> {
    let _ = live.busy_timeout(ALONE_WAIT);
    let switched = live
        .query_row("PRAGMA locking_mode=EXCLUSIVE", [], |_| Ok(()))
        .and_then(|()| live.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0)))
        .and_then(|mode| {
            // Held from here until the connection closes (also when the file had no WAL).
            live.execute_batch("BEGIN EXCLUSIVE; COMMIT")?;
            Ok(mode)
        });
    let _ = live.busy_timeout(s.busy_timeout);
    let why = match switched {
        Ok(mode) if mode.eq_ignore_ascii_case("delete") => return Ok(()),
        Ok(mode) => format!("SQLite kept its journal mode {mode}"),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
            "another connection has the database open".into()
        }
        Err(e) => e.to_string(),
    };
    let _ = live.execute_batch("ROLLBACK");
    let _ = live.query_row("PRAGMA locking_mode=NORMAL", [], |_| Ok(()));
    Err(why)
}

/// Holding the database alone: the live file must still be exactly the pre-restore backup, the
/// staged copy's structure is checked again and its fingerprint taken (all three side by side);
/// then the staged copy gets the live file's permission bits and WAL mode, and is fsynced.
fn ready_to_rename(
    s: &Swap,
    fingerprint: &(dyn Fn() -> (Result<Fingerprint>, Duration) + Sync),
) -> Result<(Result<Fingerprint>, Duration)> {
    let (held, structure, fp) = std::thread::scope(|sc| {
        let fp = sc.spawn(fingerprint);
        let structure = sc.spawn(|| staged_structure(s.staging));
        let held = timing::step("restore: live file compared with its backup", || {
            crate::backups::same_state::holds_exactly(&s.target.path, s.backup)
        });
        let panicked = || Error::Internal("a check beside the rename panicked".into());
        let structure = structure.join().unwrap_or_else(|_| Err(panicked()));
        let fp = fp
            .join()
            .unwrap_or_else(|_| (Err(panicked()), Duration::ZERO));
        (held, structure, fp)
    });
    if !held? {
        return Err(watch::changed_since_backup(&s.target.path));
    }
    structure?;
    let mode = std::fs::metadata(&s.target.path)
        .map_err(Error::io("reading", &s.target.path))?
        .permissions();
    std::fs::set_permissions(s.staging, mode)
        .map_err(Error::io("setting permissions of", s.staging))?;
    // Opened read-write once, the staged copy is in WAL mode, as every database of ours.
    drop(db::open(s.staging, Access::ReadWrite, s.busy_timeout)?);
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(db::sidecar(s.staging, side));
    }
    fs::fsync_file(s.staging)?;
    Ok(fp)
}
