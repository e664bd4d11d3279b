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
                Ok(m) if !m.is_file() => not_a_lock_file(&path, &m),
                _ => Error::io("opening lock file", &path)(e),
            },
        })?;
    // A FIFO or device opens read-write without waiting: refused as clearly (review 27: "Illegal
    // seek", exit 1).
    let meta = file.metadata().map_err(Error::io("reading", &path))?;
    if !meta.is_file() {
        return Err(not_a_lock_file(&path, &meta));
    }
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
    refuse_unless_ours(&mut file, &path)?;
    // Record who holds it, for the "in use by pid N" message of the next process.
    let _ = file.set_len(0);
    let _ = file.rewind();
    // One write: a process killed meanwhile leaves the whole line or a prefix of it.
    let _ = file.write_all(format!("{} {}", std::process::id(), verb).as_bytes());
    let _ = file.flush();
    tracing::debug!(lock = %path.display(), verb, "lock taken");
    Ok(EnvLock {
        _held: std::sync::Arc::new(Held { file, path }),
    })
}

/// Refuses a database whose lock file exists and is not pipeline-db's (see [`refuse_unless_ours`]):
/// for `env add` / `env path`, before the env is written to the config. Opens nothing for writing.
pub(crate) fn refuse_a_lock_file_not_ours(db_path: &Path) -> Result<()> {
    let path = lock_path(db_path);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("reading", &path)(e)),
        Ok(m) if !m.is_file() => Err(Error::Refused(format!(
            "{} is not a regular file, so it is not pipeline-db's lock file; nothing was written. Remove it, or point the env at a database without a file of that name beside it",
            path.display()
        ))),
        Ok(_) => {
            let mut opts = OpenOptions::new();
            opts.read(true);
            let mut file = crate::storage::os::private_no_follow(&mut opts, &path)
                .and_then(|()| opts.open(&path))
                .map_err(Error::io("reading", &path))?;
            refuse_unless_ours(&mut file, &path)
        }
    }
}

/// The refusal of a lock path that is no regular file.
fn not_a_lock_file(path: &Path, m: &std::fs::Metadata) -> Error {
    Error::Refused(format!(
        "{} is {}, not pipeline-db's lock file (a regular file beside the database); nothing was changed. Remove it — pipeline-db makes it again as a file",
        path.display(),
        match m.file_type().is_symlink() {
            true => "a symbolic link",
            false => crate::storage::os::special_file_kind(&m.file_type()),
        }
    ))
}

/// What pipeline-db leaves in a lock file: nothing (released), or `PID VERB` (its holder, or a
/// holder that died). Anything else is another program's file — a `.lock` of its own beside a
/// database given as an env's path, or a database an env's path was pointed beside — and is
/// neither emptied nor written: refused before any change, with what to do.
fn refuse_unless_ours(file: &mut File, path: &Path) -> Result<()> {
    const MAX: u64 = 128;
    let len = file.metadata().map_err(Error::io("reading", path))?.len();
    let mut held = Vec::new();
    if len <= MAX {
        file.rewind().map_err(Error::io("reading", path))?;
        Read::by_ref(file)
            .take(MAX + 1)
            .read_to_end(&mut held)
            .map_err(Error::io("reading", path))?;
    }
    if len <= MAX && held.len() as u64 <= MAX && is_ours(&held) {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "{} holds {len} bytes that are not pipeline-db's lock (empty, or a pid and a verb): it may be another program's file, and pipeline-db would overwrite it, so it was left as it is. Move it away if it is not needed, or point the env at a database without a file of that name beside it",
        path.display()
    )))
}

/// `held` is empty, or `PID VERB` as [`acquire`] writes it, or a prefix of that (its writer was
/// killed while writing).
fn is_ours(held: &[u8]) -> bool {
    let space = held.iter().position(|b| *b == b' ').unwrap_or(held.len());
    let (pid, verb) = held.split_at(space);
    pid.len() <= 10
        && pid.iter().all(u8::is_ascii_digit)
        && (verb.is_empty() || !pid.is_empty())
        && verb.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
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

    /// Another program's `.lock` beside a database (or a database an env's path was pointed
    /// beside) is refused, byte for byte as it was; ours — empty, `PID VERB`, or a prefix of it
    /// left by a killed writer — is taken.
    #[test]
    fn a_lock_file_that_is_not_ours_is_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("app.db");
        let lock = lock_path(&db);
        let sqlite = [b"SQLite format 3\0".as_slice(), &[7u8; 4096]].concat();
        let foreign: [&[u8]; 6] = [
            b"12345\n",
            b"owner=someone else",
            &sqlite,
            b"12345 reset\nmore",
            b" reset",
            &[b'1'; 200],
        ];
        for held in foreign {
            std::fs::write(&lock, held).unwrap();
            let e = acquire(&db, Duration::from_millis(10), "reset").unwrap_err();
            assert_eq!(e.exit_code(), 3, "{e}");
            assert!(e.to_string().contains("left as it is"), "{e}");
            assert_eq!(std::fs::read(&lock).unwrap(), held);
        }
        for ours in ["", "4242 reset", "4242 config set", "4242", "4242 res"] {
            std::fs::write(&lock, ours).unwrap();
            let held = acquire(&db, Duration::from_millis(10), "seed").unwrap();
            let now = std::fs::read_to_string(&lock).unwrap();
            assert_eq!(now, format!("{} seed", std::process::id()), "{ours:?}");
            drop(held);
            assert_eq!(std::fs::read(&lock).unwrap(), b"", "released: emptied");
        }
    }

    proptest::proptest! {
        /// Whatever a killed writer of ours left (any prefix of `PID VERB`) is ours.
        #[test]
        fn every_prefix_of_our_line_is_ours(pid in 1u32.., verb in "[a-z]{1,12}( [a-z]{1,12})?", cut in 0usize..40) {
            let line = format!("{pid} {verb}");
            let cut = cut.min(line.len());
            proptest::prop_assert!(is_ours(&line.as_bytes()[..cut]));
        }
    }
}
