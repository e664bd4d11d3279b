//! Live database files read as plain files (not through SQLite) through handles that are not closed
//! while the file is in place: on POSIX systems closing *any* handle of a file drops every lock the
//! process holds on it — SQLite's own included (SQLite's "How To Corrupt An SQLite Database File",
//! §2.2). A connection of ours would then hold no lock while SQLite believes it does, and another
//! program closing its last connection would checkpoint the WAL without regard to ours and delete
//! it — and commits of ours that went to the deleted log would be lost.
//!
//! So a live file's handle is opened once per file (device + inode) and kept; it is closed only
//! once the path names another file or none (replaced by a rename, or deleted): then no program can
//! open the old file again and no lock on it protects anything. Reads go by offset
//! ([`At`]), so threads share one handle safely. Elsewhere than Unix, where closing a handle
//! leaves other handles' locks alone, every call opens a handle of its own.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

struct Held {
    path: PathBuf,
    id: (u64, u64),
    file: Arc<File>,
}

static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());

/// A reader of the live file at `path` from its start (see the module).
pub fn reader(path: &Path) -> Result<At> {
    let file = handle(path).map_err(Error::io("reading", path))?;
    let len = file.metadata().map_err(Error::io("reading", path))?.len();
    Ok(At { file, pos: 0, len })
}

/// A reader of `path` from its start, and its length: through a kept handle when it is a live
/// database's file (`live`), else through a handle of its own (closed when dropped).
pub fn reader_if(path: &Path, live: bool) -> Result<(Box<dyn Read + Send>, u64)> {
    if live {
        let r = reader(path)?;
        let len = r.len();
        return Ok((Box::new(r), len));
    }
    let f = File::open(path).map_err(Error::io("reading", path))?;
    let len = f.metadata().map_err(Error::io("reading", path))?.len();
    Ok((Box::new(f), len))
}

/// The kept handle of the file at `path`, opened if none is kept yet.
fn handle(path: &Path) -> std::io::Result<Arc<File>> {
    if !cfg!(unix) {
        return File::open(path).map(Arc::new);
    }
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    // A file no longer at its path (replaced or deleted): its handle protects no lock any more.
    held.retain(|h| super::os::file_identity(&h.path) == Some(h.id));
    let id = super::os::file_identity(path);
    if let Some(h) = held.iter().find(|h| Some(h.id) == id) {
        return Ok(h.file.clone());
    }
    let file = Arc::new(File::open(path)?);
    // Kept even when it cannot be looked at: dropping it would close it.
    let id = file
        .metadata()
        .map(|m| super::os::identity_of(&m))
        .unwrap_or((0, 0));
    held.push(Held {
        path: path.to_path_buf(),
        id,
        file: file.clone(),
    });
    Ok(file)
}

/// Reads one kept handle from its own position (positioned reads: the handle's shared offset is
/// never used), to the file's end; `len` is the length the file had when the reader was made.
pub struct At {
    file: Arc<File>,
    pos: u64,
    len: u64,
}

impl At {
    /// The file's length when this reader was made.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Goes to `pos` (from the start).
    pub fn seek_to(&mut self, pos: u64) {
        self.pos = pos;
    }
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = super::os::read_at(&self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The locks this process holds on the file `p`, from `/proc/locks` (Linux).
    #[cfg(target_os = "linux")]
    fn locks_on(p: &Path) -> usize {
        let ino = crate::storage::os::file_identity(p).unwrap().1;
        let pid = std::process::id().to_string();
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.get(4) == Some(&pid.as_str())
                    && f.get(5).and_then(|d| d.rsplit(':').next()) == Some(ino.to_string().as_str())
            })
            .count()
    }

    /// The POSIX rule this module exists for, and that its handles keep a connection's lock: a
    /// connection in WAL mode holds a shared lock on the file while it is open; reading the file
    /// through kept handles leaves it, closing a plain handle drops it.
    #[cfg(target_os = "linux")]
    #[test]
    fn reading_through_a_kept_handle_keeps_sqlite_s_locks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.sqlite3");
        let a = rusqlite::Connection::open(&p).unwrap();
        a.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        let held = locks_on(&p);
        assert!(held > 0, "a holds a lock");
        let mut bytes = vec![];
        reader(&p).unwrap().read_to_end(&mut bytes).unwrap();
        reader(&p).unwrap().read_to_end(&mut bytes).unwrap();
        assert_eq!(
            locks_on(&p),
            held,
            "reading through kept handles keeps a's lock"
        );
        // What the module guards against: a plain handle, closed, drops a's lock.
        drop(File::open(&p).unwrap());
        assert_eq!(
            locks_on(&p),
            0,
            "the POSIX rule no longer holds: this module may go"
        );
        drop(a);
    }

    #[test]
    fn a_file_replaced_at_its_path_is_read_anew() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"old").unwrap();
        let mut s = String::new();
        reader(&p).unwrap().read_to_string(&mut s).unwrap();
        let tmp = dir.path().join("g");
        std::fs::write(&tmp, b"newer").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        let mut r = reader(&p).unwrap();
        assert_eq!(r.len(), 5);
        let mut t = String::new();
        r.read_to_string(&mut t).unwrap();
        assert_eq!((s.as_str(), t.as_str()), ("old", "newer"));
        let held = HELD.lock().unwrap();
        assert!(held
            .iter()
            .all(|h| h.path != p || h.id == crate::storage::os::file_identity(&p).unwrap()));
    }
}
