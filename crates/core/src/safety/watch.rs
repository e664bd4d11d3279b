//! Whether anyone committed to a database since a moment we marked: a change that must let go of
//! its write lock between its backup and its change (restore's page copy is a write transaction of
//! its own) checks, once it holds the lock again, that nothing was written in the gap.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result, UNCHANGED};
use crate::storage::db::{self, Access};

/// A read-only connection of our own on the database. In WAL mode `PRAGMA data_version` on it
/// changes when any other connection (ours or another program's) commits (or checkpoints with
/// TRUNCATE). With a rollback journal it cannot be read while the writer holds its exclusive lock,
/// so the header's file change counter, which every commit there increments, is read from the
/// file instead.
pub(crate) struct Watch {
    conn: Connection,
    path: PathBuf,
    wal: bool,
    seen: i64,
}

impl Watch {
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Watch> {
        let conn = db::open(path, Access::ReadOnly, busy_timeout)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(Error::sql("reading journal_mode"))?;
        let mut w = Watch {
            conn,
            path: path.to_path_buf(),
            wal: mode.eq_ignore_ascii_case("wal"),
            seen: 0,
        };
        w.mark()?;
        Ok(w)
    }

    /// Marks now (call it while the write lock is held: nothing can commit at this moment).
    pub fn mark(&mut self) -> Result<()> {
        self.seen = self.now()?;
        Ok(())
    }

    /// Refused if anything was committed since the mark (call it once the write lock is held
    /// again, before a byte is written).
    pub fn require_unchanged(&self) -> Result<()> {
        match self.now()? == self.seen {
            true => Ok(()),
            false => Err(changed_since_backup(&self.path)),
        }
    }

    fn now(&self) -> Result<i64> {
        match self.wal {
            true => data_version(&self.conn),
            false => change_counter(&self.path),
        }
    }
}

/// The refusal of a change whose database was written (or its log checkpointed) after its backup:
/// that commit is in no backup.
pub(crate) fn changed_since_backup(path: &Path) -> Error {
    Error::Refused(format!(
        "{} changed right after it was backed up (another program wrote to it, or checkpointed its log); {UNCHANGED}. Try again",
        path.display()
    ))
}

/// `PRAGMA data_version` of `c`: it moves when another connection commits (or checkpoints with
/// TRUNCATE), never for `c`'s own commits.
pub(crate) fn data_version(c: &Connection) -> Result<i64> {
    c.query_row("PRAGMA data_version", [], |r| r.get(0))
        .map_err(Error::sql("reading data_version"))
}

/// The header's file change counter (bytes 24–27), read from the file itself.
fn change_counter(path: &Path) -> Result<i64> {
    use std::io::Read;
    let mut head = [0u8; 28];
    // A live file: read through a kept handle (see `held_open`).
    crate::storage::held_open::reader(path)?
        .read_exact(&mut head)
        .map_err(Error::io("reading the header of", path))?;
    Ok(u32::from_be_bytes([head[24], head[25], head[26], head[27]]) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(dir: &Path) -> (PathBuf, Connection) {
        db_in(dir, "WAL")
    }

    fn db_in(dir: &Path, mode: &str) -> (PathBuf, Connection) {
        let p = dir.join("w.sqlite3");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(&format!("PRAGMA journal_mode={mode}; CREATE TABLE t(a);"))
            .unwrap();
        (p, c)
    }

    #[test]
    fn with_a_rollback_journal_a_commit_is_seen_while_the_writer_holds_its_exclusive_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (p, other) = db_in(dir.path(), "DELETE");
        let mut w = Watch::open(&p, Duration::from_millis(100)).unwrap();
        assert!(!w.wal);
        w.mark().unwrap();
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (1); ROLLBACK;")
            .unwrap();
        w.require_unchanged().unwrap();
        other.execute("INSERT INTO t VALUES (1)", []).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let e = w.require_unchanged().unwrap_err().to_string();
        assert!(e.contains("changed right after it was backed up"), "{e}");
        w.mark().unwrap();
        w.require_unchanged().unwrap();
        other.execute_batch("COMMIT").unwrap();
    }

    #[test]
    fn a_commit_by_another_connection_after_the_mark_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let (p, other) = db(dir.path());
        let mut w = Watch::open(&p, Duration::from_secs(1)).unwrap();
        other.execute("INSERT INTO t VALUES (1)", []).unwrap();
        w.mark().unwrap();
        w.require_unchanged().unwrap();
        other.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let e = w.require_unchanged().unwrap_err().to_string();
        assert!(e.contains("changed right after it was backed up"), "{e}");
    }

    #[test]
    fn a_rolled_back_transaction_is_not_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let (p, other) = db(dir.path());
        let mut w = Watch::open(&p, Duration::from_secs(1)).unwrap();
        w.mark().unwrap();
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (1); ROLLBACK;")
            .unwrap();
        w.require_unchanged().unwrap();
    }
}
