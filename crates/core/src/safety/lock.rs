//! The cross-process lock per database file: an advisory lock on `<db>.lock` holding the owner's pid.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Held while a verb changes a database; released when its last clone is dropped (also when the
/// process dies). A clone keeps it until the action's audit line is written (see
/// the audit `Recorder`'s `hold`).
#[derive(Debug, Clone)]
pub struct EnvLock {
    _held: std::sync::Arc<Held>,
}

#[derive(Debug)]
struct Held {
    file: File,
    path: PathBuf,
}

/// The lock file that guards `db_path`.
pub fn lock_path(db_path: &Path) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    db_path.with_file_name(name)
}

/// Takes the lock for `db_path`, waiting up to `timeout` for another process to finish.
pub fn acquire(db_path: &Path, timeout: Duration, verb: &str) -> Result<EnvLock> {
    let path = lock_path(db_path);
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    let mut file = crate::storage::os::private_no_follow(&mut opts, &path)
        .and_then(|()| opts.open(&path))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                Error::ReadOnly {
                    path: path.clone(),
                    what: format!("cannot create the lock file: {e}"),
                }
            }
            _ => match std::fs::symlink_metadata(&path) {
                // Not a file of ours: say what it is and what to do.
                Ok(m) if !m.is_file() => Error::Refused(format!(
                    "{} is {}, not pipeline-db's lock file (a regular file beside the database); nothing was changed. Remove it — pipeline-db makes it again as a file",
                    path.display(),
                    match m.file_type().is_symlink() {
                        true => "a symbolic link",
                        false => crate::storage::os::special_file_kind(&m.file_type()),
                    }
                )),
                _ => Error::io("opening lock file", &path)(e),
            },
        })?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if start.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => {
                let mut owner = String::new();
                let _ = file.read_to_string(&mut owner);
                let pid = owner
                    .split_whitespace()
                    .next()
                    .unwrap_or("unknown")
                    .to_string();
                return Err(Error::Busy {
                    path: db_path.to_path_buf(),
                    pid,
                    waited_ms: start.elapsed().as_millis() as u64,
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("locking", &path)(e)),
        }
    }
    // Record who holds it, for the "in use by pid N" message of the next process.
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{} {}", std::process::id(), verb);
    let _ = file.flush();
    tracing::debug!(lock = %path.display(), verb, "lock taken");
    Ok(EnvLock {
        _held: std::sync::Arc::new(Held { file, path }),
    })
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
        tracing::debug!(lock = %self.path.display(), "lock released");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_times_out_with_the_owner_pid() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("dev.sqlite3");
        let _held = acquire(&db, Duration::from_millis(10), "reset").unwrap();
        let e = acquire(&db, Duration::from_millis(100), "reset").unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(
            e.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{e}"
        );
        drop(_held);
        acquire(&db, Duration::from_millis(10), "reset").unwrap();
    }
}
