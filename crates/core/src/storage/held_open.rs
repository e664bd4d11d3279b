//! Live database files read as plain files (not through SQLite) through handles that are not closed
//! while the file is in place: on POSIX systems closing *any* handle of a file drops every lock the
//! process holds on it — SQLite's own included (SQLite's "How To Corrupt An SQLite Database File",
//! §2.2). A connection of ours would then hold no lock while SQLite believes it does, and another
//! program closing its last connection would checkpoint the WAL without regard to ours and delete
//! it — and commits of ours that went to the deleted log would be lost.
//!
//! So a live file's handle is opened once per file (device + inode) and kept while a connection
//! of ours may hold a lock: it is closed once no connection opened by `storage::db::open`
//! is left open in the process and no reader uses it (with no connection open the process holds
//! no SQLite lock to drop — and a USB stick holding an env can be unmounted while the desktop
//! runs), or once the path names another file or none (replaced by a rename, or deleted: no
//! program can open the old file again, so no lock on it protects anything). Connections are
//! counted under the same lock as the handles, so none can open between the count read as zero
//! and the close. Reads go by offset ([`At`]), so threads share one handle safely. Elsewhere than
//! Unix, where closing a handle leaves other handles' locks alone, every call opens a handle of
//! its own.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

struct Held {
    id: (u64, u64),
    file: Arc<File>,
}

/// The kept handles, and how many connections of ours are open (see the module).
struct Kept {
    handles: Vec<Held>,
    connections: usize,
}

static KEPT: Mutex<Kept> = Mutex::new(Kept {
    handles: Vec::new(),
    connections: 0,
});

fn kept() -> std::sync::MutexGuard<'static, Kept> {
    KEPT.lock().unwrap_or_else(|p| p.into_inner())
}

impl Kept {
    /// With no connection of ours open, closes the handles no reader uses. Readers give up their
    /// handle under this lock (`At`'s drop), so a count read here is never one about to drop.
    fn release_idle(&mut self) {
        if self.connections > 0 {
            return;
        }
        self.handles.retain(|h| Arc::strong_count(&h.file) > 1);
    }
}

/// One open connection of ours, counted from before its open until SQLite destroys what was
/// registered with it — after it closed the connection's files (`db::open` ties it to the
/// connection).
pub(crate) struct ConnectionMark(());

/// Counts a connection about to be opened (before the open: a handle is never closed between the
/// count and the connection's first lock).
/// Whether a connection opened by `storage::db::open` is open in this process now (a handle of
/// a file it may lock must then not be opened and closed outside this module).
pub(crate) fn connections_open() -> bool {
    kept().connections > 0
}

pub(crate) fn connection_opening() -> ConnectionMark {
    kept().connections += 1;
    ConnectionMark(())
}

impl Drop for ConnectionMark {
    fn drop(&mut self) {
        let mut k = kept();
        k.connections = k.connections.saturating_sub(1);
        k.release_idle();
    }
}

/// A reader of the live file at `path` from its start (see the module).
pub fn reader(path: &Path) -> Result<At> {
    let file = handle(path).map_err(Error::io("reading", path))?;
    let len = file.metadata().map_err(Error::io("reading", path))?.len();
    Ok(At {
        file: Some(file),
        pos: 0,
        len,
    })
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
    // Looked up and opened without the lock: a stalled disk holds up no other env's open or
    // connection close.
    let id = super::os::file_identity(path);
    {
        let mut k = kept();
        // A file with no name left (replaced by a rename, or deleted): no program can open it
        // again, so no lock on it protects anything. A file that lost one of its names is still
        // in place.
        k.handles.retain(|h| super::os::still_named(&h.file));
        if let Some(h) = k.handles.iter().find(|h| Some(h.id) == id) {
            return Ok(h.file.clone());
        }
    }
    // Never waits (a FIFO put in the file's place would hold every caller), and only a regular
    // file is kept (closing anything else drops no database's lock). A regular file once opened
    // is kept, not closed here — also should another thread have kept one of it meanwhile (both
    // are then kept and go by the same rules).
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    super::os::reading_untrusted(&mut opts, path, false)?;
    let file = opts.open(path)?;
    let meta = file.metadata();
    if let Ok(m) = &meta {
        if !m.is_file() {
            return Err(std::io::Error::other(format!(
                "{} is a {}, not a regular file",
                path.display(),
                super::os::special_file_kind(&m.file_type())
            )));
        }
    }
    let file = Arc::new(file);
    kept().handles.push(Held {
        id: meta
            .as_ref()
            .map(super::os::identity_of)
            .unwrap_or_default(),
        file: file.clone(),
    });
    meta?;
    Ok(file)
}

/// Reads one kept handle from its own position (positioned reads: the handle's shared offset is
/// never used), to the file's end; `len` is the length the file had when the reader was made.
pub struct At {
    /// `None` only in `drop`, which gives it up under the handles' lock.
    file: Option<Arc<File>>,
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

impl Drop for At {
    fn drop(&mut self) {
        let mut k = kept();
        drop(self.file.take());
        if cfg!(unix) {
            k.release_idle();
        }
    }
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| std::io::Error::other("reader dropped"))?;
        let n = super::os::read_at(file, buf, self.pos)?;
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

    /// A database in WAL mode at `p`, and a connection of ours to it (counted: `db::open`) that
    /// holds a lock.
    fn ours(p: &Path) -> rusqlite::Connection {
        rusqlite::Connection::open(p)
            .unwrap()
            .execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        let a = crate::storage::db::open(
            p,
            crate::storage::db::Access::ReadWrite,
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        a.execute_batch("INSERT INTO t VALUES (2)").unwrap();
        a
    }

    /// Once no connection of ours is open, the handles no reader uses are closed (and the file
    /// can go, its disk be unmounted); a reader still reading keeps its handle until it is done.
    #[cfg(target_os = "linux")]
    #[test]
    fn handles_are_closed_once_no_connection_of_ours_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.sqlite3");
        let a = ours(&p);
        let opened = |p: &Path| {
            std::fs::read_dir("/proc/self/fd")
                .unwrap()
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|t| t == p)
                .count()
        };
        let sqlite_s = opened(&p);
        let held = locks_on(&p);
        drop(reader(&p).unwrap());
        // While a is open its handle stays, though no reader uses it: closing it would drop a's
        // lock (the connection is counted from its open).
        assert_eq!(opened(&p), sqlite_s + 1, "one kept handle, while a is open");
        // (Closing a handle of the file drops every lock: 0. SQLite's own number may vary.)
        assert!(held > 0 && locks_on(&p) > 0, "a keeps its lock");
        let mut r = reader(&p).unwrap();
        assert_eq!(opened(&p), sqlite_s + 1, "the same handle");
        // Other tests of this binary open connections of their own meanwhile: wait for them.
        let quiet = || {
            let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while kept().connections > 0 && std::time::Instant::now() < end {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        };
        drop(a);
        quiet();
        let mut first = [0u8; 16];
        r.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"SQLite format 3\0", "the reader still reads");
        drop(r);
        quiet();
        let left = kept()
            .handles
            .iter()
            .any(|h| Some(h.id) == crate::storage::os::file_identity(&p));
        assert!(!left, "no handle of a.sqlite3 is kept");
        assert_eq!(opened(&p), 0, "nothing of this process has a.sqlite3 open");
    }

    /// Readers of one file dropped on two threads at once, beside a connection closing: once all
    /// are gone no handle is left (review 17: a reader gave up its handle after the lock, and the
    /// other drop then counted it as still in use).
    #[cfg(target_os = "linux")]
    #[test]
    fn readers_dropped_at_once_leave_no_handle() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.sqlite3");
        drop(ours(&p));
        let id = crate::storage::os::file_identity(&p);
        let open = || {
            let t = std::time::Duration::from_secs(5);
            crate::storage::db::open(&p, crate::storage::db::Access::ReadOnly, t).unwrap()
        };
        // Threads kept running, each dropping its reader (or the connection) as soon as a round
        // starts: the drops meet within microseconds.
        let readers: Vec<Mutex<Option<At>>> = (0..3).map(|_| Mutex::new(None)).collect();
        let conn: Mutex<Option<rusqlite::Connection>> = Mutex::new(None);
        let (start, done) = (std::sync::Barrier::new(5), std::sync::Barrier::new(5));
        let stop = std::sync::atomic::AtomicBool::new(false);
        let mut left = None;
        let round = |f: &(dyn Fn() + Sync)| loop {
            start.wait();
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            f();
            done.wait();
        };
        std::thread::scope(|s| {
            let (round, conn) = (&round, &conn);
            for r in &readers {
                s.spawn(move || round(&|| drop(r.lock().unwrap().take())));
            }
            s.spawn(move || round(&|| drop(conn.lock().unwrap().take())));
            for n in 0..20_000 {
                for r in &readers {
                    *r.lock().unwrap() = Some(reader(&p).unwrap());
                }
                *conn.lock().unwrap() = Some(open());
                start.wait();
                done.wait();
                let k = kept();
                if k.connections == 0 && k.handles.iter().any(|h| Some(h.id) == id) {
                    left = Some(n);
                    break;
                }
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            start.wait();
        });
        assert_eq!(
            left, None,
            "no connection, no reader, yet a handle is kept (round)"
        );
    }

    /// The POSIX rule this module exists for, and that its handles keep a connection's lock: a
    /// connection in WAL mode holds a shared lock on the file while it is open; reading the file
    /// through kept handles leaves it, closing a plain handle drops it.
    #[cfg(target_os = "linux")]
    #[test]
    fn reading_through_a_kept_handle_keeps_sqlite_s_locks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.sqlite3");
        let a = ours(&p);
        let held = locks_on(&p);
        assert!(held > 0, "a holds a lock");
        let mut bytes = vec![];
        reader(&p).unwrap().read_to_end(&mut bytes).unwrap();
        reader(&p).unwrap().read_to_end(&mut bytes).unwrap();
        // (Closing a handle of the file drops every lock: 0. SQLite's own number may vary.)
        assert!(
            locks_on(&p) > 0,
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
        let old = crate::storage::os::file_identity(&p).unwrap();
        let tmp = dir.path().join("g");
        std::fs::write(&tmp, b"newer").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        let mut r = reader(&p).unwrap();
        assert_eq!(r.len(), 5);
        let mut t = String::new();
        r.read_to_string(&mut t).unwrap();
        assert_eq!((s.as_str(), t.as_str()), ("old", "newer"));
        let k = kept();
        assert!(
            k.handles.iter().all(|h| h.id != old),
            "the replaced file's handle is closed"
        );
    }

    /// A file read first through a second name (a hard link) keeps its handle when that name is
    /// removed: the file is still in place, and a connection of ours may hold locks on it.
    #[cfg(target_os = "linux")]
    #[test]
    fn removing_another_name_of_a_live_file_keeps_its_handle() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.sqlite3");
        let alias = dir.path().join("alias.sqlite3");
        let a = ours(&p);
        let held = locks_on(&p);
        std::fs::hard_link(&p, &alias).unwrap();
        reader(&alias).unwrap().read_to_end(&mut vec![]).unwrap();
        std::fs::remove_file(&alias).unwrap();
        reader(&p).unwrap().read_to_end(&mut vec![]).unwrap();
        // The handle is kept (closing it would drop every lock of this process on the file), and
        // `a` still holds locks. (The number of SQLite's locks is not compared: it was 1 against
        // 2 once in a full run, with other tests' connections open — not a handle closed.)
        let id = crate::storage::os::file_identity(&p);
        assert!(
            kept().handles.iter().any(|h| Some(h.id) == id),
            "the handle of a's file is kept"
        );
        assert!(held > 0 && locks_on(&p) > 0, "a's locks are kept");
        drop(a);
    }

    /// A FIFO in a live file's place is refused at once (the open does not wait for a writer).
    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        assert!(std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap()
            .success());
        let e = reader(&p).err().expect("refused");
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
