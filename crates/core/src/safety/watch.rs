//! Whether anyone committed to a database since a moment we marked: a change that must let go of
//! its write lock between its backup and its change (restore's page copy is a write transaction of
//! its own) checks, once it holds the lock again, that nothing was written in the gap.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result, UNCHANGED};
use crate::storage::db::{self, Access};

/// A read-only connection of our own on the database; `PRAGMA data_version` on it changes when
/// any other connection (ours or another program's) commits.
pub(crate) struct Watch {
    conn: Connection,
    path: PathBuf,
    seen: i64,
}

impl Watch {
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Watch> {
        let conn = db::open(path, Access::ReadOnly, busy_timeout)?;
        let seen = version(&conn)?;
        Ok(Watch {
            conn,
            path: path.to_path_buf(),
            seen,
        })
    }

    /// Marks now (call it while the write lock is held: nothing can commit at this moment).
    pub fn mark(&mut self) -> Result<()> {
        self.seen = version(&self.conn)?;
        Ok(())
    }

    /// Refused if anything was committed since the mark (call it once the write lock is held
    /// again, before a byte is written).
    pub fn require_unchanged(&self) -> Result<()> {
        match version(&self.conn)? == self.seen {
            true => Ok(()),
            false => Err(Error::Refused(format!(
                "{} changed right after it was backed up (another program wrote to it); {UNCHANGED}. Try again",
                self.path.display()
            ))),
        }
    }
}

fn version(c: &Connection) -> Result<i64> {
    c.query_row("PRAGMA data_version", [], |r| r.get(0))
        .map_err(Error::sql("reading data_version"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(dir: &Path) -> (PathBuf, Connection) {
        let p = dir.join("w.sqlite3");
        let c = Connection::open(&p).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(a);")
            .unwrap();
        (p, c)
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
