//! Durable file operations: fsync, no-overwrite rename, create-new without following links, free space.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Marker in the names of our temporary files; leftovers are removed at the next start.
pub const TEMP_MARKER: &str = ".pdb-tmp-";

pub fn fsync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(Error::io("fsync", path))
}

pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(Error::io("fsync directory", dir))
}

/// Creates a new file; fails if anything (a file, a symlink) is already at `path`.
pub fn create_new(path: &Path) -> Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    super::os::private_no_follow(&mut opts, path)
        .and_then(|()| opts.open(path))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                Error::ReadOnly {
                    path: path.to_path_buf(),
                    what: e.to_string(),
                }
            }
            _ => Error::io("creating", path)(e),
        })
}

/// A temporary name beside `final_path` (same directory, so the rename is atomic).
pub fn temp_beside(final_path: &Path) -> PathBuf {
    let name = final_path.file_name().unwrap_or_default().to_string_lossy();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    final_path.with_file_name(format!(
        ".{name}{TEMP_MARKER}{}-{nanos}",
        std::process::id()
    ))
}

/// Replaces (or creates) the small file `path` with `bytes` atomically: a new temp file beside
/// it, fsynced, renamed over `path`, the directory fsynced. On failure the temp file is removed
/// and `path` is as it was.
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_beside(path);
    let result = (|| {
        let mut f = create_new(&tmp)?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(Error::io("writing", &tmp))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(Error::io("replacing", path))?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Renames `from` to `to` atomically, failing with `AlreadyExists` instead of replacing `to`.
pub fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    super::os::rename_noreplace(from, to)
}

/// Free bytes available to us on the filesystem holding `path` (or its nearest existing parent).
pub fn available_space(path: &Path) -> Result<u64> {
    #[cfg(feature = "failpoints")]
    if let Some(n) = std::env::var("PIPELINE_DB_TEST_FREE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return Ok(n);
    }
    let mut p = path;
    while !p.exists() {
        p = p.parent().unwrap_or(Path::new("/"));
    }
    super::os::available_space(p).map_err(Error::io("measuring free space", p))
}

/// Removes our leftover temporary files (from a killed process) in `dir`; returns what it removed.
/// Only names exactly as [`temp_beside`] makes them (`.NAME.pdb-tmp-PID-NANOS`, digits only) of
/// regular files of this user whose owner pid is no longer alive are touched: `dir` may be a
/// directory of the user's own (an export's, an added env's), where a file that merely contains
/// the marker is theirs.
pub fn clean_temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut removed = vec![];
    for name in list_dir(dir) {
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        if pid_alive(pid) {
            continue;
        }
        let path = dir.join(&name);
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| super::os::own_regular_file(&m));
        if ours && std::fs::remove_file(&path).is_ok() {
            tracing::info!(path = %path.display(), "removed leftover temporary file");
            removed.push(path);
        }
    }
    removed
}

/// The pid in a name [`temp_beside`] made (`.NAME.pdb-tmp-PID-NANOS`, with SQLite's sidecar suffix
/// of such a temp copy — `-journal`, `-wal`, `-shm` — or the compressed copy's `.zst` after it);
/// `None` for any other name.
fn temp_owner(name: &str) -> Option<i32> {
    let (head, tail) = name.rsplit_once(TEMP_MARKER)?;
    let tail = ["-journal", "-wal", "-shm", ".zst"]
        .iter()
        .find_map(|s| tail.strip_suffix(s))
        .unwrap_or(tail);
    let (pid, nanos) = tail.split_once('-')?;
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    let named = head.len() > 1 && head.starts_with('.');
    if !named || !digits(pid, 10) || !digits(nanos, 10) {
        return None;
    }
    pid.parse().ok().filter(|p| *p > 0)
}

fn pid_alive(pid: i32) -> bool {
    super::os::pid_alive(pid)
}

/// sha256 of a file, streamed (see [`crate::storage::hash`]).
pub fn sha256_file(path: &Path) -> Result<String> {
    crate::storage::hash::file(path)
}

/// The names in a directory (empty if it cannot be read). Unlike `std::fs::read_dir`, an error from
/// `closedir` is ignored instead of panicking (seen under injected I/O faults).
pub fn list_dir(dir: &Path) -> Vec<std::ffi::OsString> {
    super::os::list_dir(dir)
}

/// Appends one line to a log file (created 0600 with its directory), in one write, fsynced. Never
/// follows a symlink at `path`.
pub fn append_line(path: &Path, line: &[u8]) -> Result<()> {
    use std::io::Write;
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(Error::io("creating", d))?;
    }
    let mut opts = OpenOptions::new();
    opts.append(true).read(true).create(true);
    let mut f = super::os::private_no_follow(&mut opts, path)
        .and_then(|()| opts.open(path))
        .map_err(|e| match std::fs::symlink_metadata(path) {
            // A FIFO without a reader cannot be opened without waiting (ENXIO): say what it is.
            Ok(m) if !m.is_file() && !m.file_type().is_symlink() => not_a_data_file(path, &m),
            _ => Error::io("opening", path)(e),
        })?;
    let meta = f.metadata().map_err(Error::io("reading", path))?;
    if !meta.is_file() {
        return Err(not_a_data_file(path, &meta));
    }
    // A last line cut short (a crash, a full disk, an editor) must not swallow this one: it
    // starts on a line of its own.
    let mut owned;
    let mut line = line;
    if !line.is_empty() && !ends_with_newline(&f, meta.len()) {
        owned = Vec::with_capacity(line.len() + 1);
        owned.push(b'\n');
        owned.extend_from_slice(line);
        line = &owned;
    }
    f.write_all(line).map_err(Error::io("writing", path))?;
    f.sync_data().map_err(Error::io("fsync", path))
}

/// Whether the file of `len` bytes is empty or ends with a newline (unreadable: treated as not).
fn ends_with_newline(f: &std::fs::File, len: u64) -> bool {
    if len == 0 {
        return true;
    }
    let mut last = [0u8; 1];
    #[cfg(unix)]
    let read = std::os::unix::fs::FileExt::read_exact_at(f, &mut last, len - 1);
    #[cfg(windows)]
    let read = std::os::windows::fs::FileExt::seek_read(f, &mut last, len - 1).map(|_| ());
    #[cfg(not(any(unix, windows)))]
    let read: std::io::Result<()> = Err(std::io::ErrorKind::Unsupported.into());
    read.is_ok() && last[0] == b'\n'
}

/// Fails unless a log line could be appended to `path` (creates it empty if missing). A symlink
/// there is refused as such: logs are written only to files of the data dir's own.
pub fn check_appendable(path: &Path) -> Result<()> {
    append_line(path, b"").map_err(|e| match e {
        Error::Io { source, .. } if super::os::is_symlink_refusal(&source) => {
            Error::Refused(format!(
                "{} is a symbolic link: pipeline-db writes its logs only to files of its own in the data dir, never through a link; put the file it points to in its place (or remove the link); nothing was changed",
                path.display()
            ))
        }
        e => e,
    })
}

/// [`check_appendable`] of a log that exists; a missing one passes (it is created by its first
/// line) unless a symlink stands in its place. Creates nothing.
pub fn check_appendable_if_present(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        _ => check_appendable(path),
    }
}

/// The bytes of a data-dir file anyone may have replaced (a manifest, the config, a log), `None`
/// if there is none: a symlink (unless `follow`), a FIFO, a device or a directory is refused
/// before anything is read (opening does not wait), and so is a file over `cap` bytes.
pub fn read_untrusted(path: &Path, follow: bool, cap: u64) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let Some((f, _)) = open_untrusted(path, follow)? else {
        return Ok(None);
    };
    let mut bytes = vec![];
    f.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::io("reading", path))?;
    if bytes.len() as u64 > cap {
        return Err(Error::Refused(format!(
            "{} is larger than the {} such a file can be: it was not written by pipeline-db as it is; move it away",
            path.display(),
            crate::storage::text::bytes(cap)
        )));
    }
    Ok(Some(bytes))
}

/// [`read_untrusted`] of a log that only grows: at most its last `cap` bytes, from the first
/// whole line in them; `true` with them when the lines before were left unread.
pub fn read_untrusted_tail(path: &Path, cap: u64) -> Result<Option<(Vec<u8>, bool)>> {
    use std::io::{Read, Seek};
    let Some((mut f, meta)) = open_untrusted(path, false)? else {
        return Ok(None);
    };
    let skipped = meta.len() > cap;
    if skipped {
        f.seek(std::io::SeekFrom::Start(meta.len() - cap))
            .map_err(Error::io("reading", path))?;
    }
    let mut bytes = vec![];
    f.take(cap)
        .read_to_end(&mut bytes)
        .map_err(Error::io("reading", path))?;
    if skipped {
        let first_whole = bytes
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
        bytes.drain(..first_whole);
    }
    Ok(Some((bytes, skipped)))
}

/// Opens a data-dir file anyone may have replaced for reading (see [`read_untrusted`]).
pub fn open_untrusted(
    path: &Path,
    follow: bool,
) -> Result<Option<(std::fs::File, std::fs::Metadata)>> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    let opened =
        super::os::reading_untrusted(&mut opts, path, !follow).and_then(|()| opts.open(path));
    let f = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if super::os::is_symlink_refusal(&e) => {
            return Err(Error::Refused(format!(
                "{} is a symbolic link: pipeline-db reads its own files of the data dir only as files, never through a link; put the file it points to in its place",
                path.display()
            )))
        }
        Err(e) => return Err(Error::io("opening", path)(e)),
    };
    let meta = f.metadata().map_err(Error::io("reading", path))?;
    if !meta.is_file() {
        return Err(not_a_data_file(path, &meta));
    }
    Ok(Some((f, meta)))
}

/// The refusal of a data-dir file that is no regular file (a FIFO would make a read wait forever).
fn not_a_data_file(path: &Path, meta: &std::fs::Metadata) -> Error {
    Error::Refused(format!(
        "{} is {}, not a regular file: pipeline-db neither reads nor writes it. Give pipeline-db the path of a regular file instead (a leftover of this kind in the data dir can be moved away: pipeline-db makes the file again)",
        path.display(),
        super::os::special_file_kind(&meta.file_type())
    ))
}

/// The disk space a file takes: its length, or less where fewer blocks are allocated (a sparse
/// file — a 9 GiB one made with `truncate` takes a few KiB —, or a filesystem that compresses). A
/// disk budget counted by length alone deleted good backups for space that was never used.
pub fn bytes_on_disk(meta: &std::fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.len().min(meta.blocks().saturating_mul(512))
    }
    #[cfg(not(unix))]
    {
        meta.len()
    }
}

/// (device, inode) of the file at `path` following links; `None` if it does not exist. Two env
/// paths name the same file exactly when these are equal (hard links included).
pub fn file_identity(path: &Path) -> Option<(u64, u64)> {
    super::os::file_identity(path)
}

/// The refusal for a path that exists but is not a regular file (a directory, a FIFO, a socket,
/// a device): nothing opens it, reads it or copies it.
pub fn not_a_regular_file(path: &Path, meta: &std::fs::Metadata) -> Error {
    let kind = super::os::special_file_kind(&meta.file_type());
    Error::Refused(format!(
        "{} is {kind}, not a database file; nothing was opened. A database path must name a regular file (or nothing yet): point the env elsewhere with `pipeline-db env path ENV PATH`",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_noreplace_never_overwrites() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::write(&a, "new").unwrap();
        std::fs::write(&b, "old").unwrap();
        assert_eq!(
            rename_noreplace(&a, &b).unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "old");
        std::fs::remove_file(&b).unwrap();
        rename_noreplace(&a, &b).unwrap();
        assert!(!a.exists());
    }

    #[cfg(unix)] // symlinks
    #[test]
    fn create_new_does_not_follow_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(create_new(&link).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }

    #[test]
    fn cleans_only_dead_owners_temp_files() {
        let d = tempfile::tempdir().unwrap();
        let dead = d.path().join(format!(".x{TEMP_MARKER}999999999-1"));
        let live = d
            .path()
            .join(format!(".x{TEMP_MARKER}{}-1", std::process::id()));
        std::fs::write(&dead, "").unwrap();
        std::fs::write(&live, "").unwrap();
        let removed = clean_temp_files(d.path());
        assert_eq!(removed, vec![dead.clone()]);
        assert!(live.exists());
    }

    #[test]
    fn names_that_only_contain_the_marker_are_the_users_and_stay() {
        let d = tempfile::tempdir().unwrap();
        let theirs = [
            format!("thesis{TEMP_MARKER}final.docx"),
            format!("log{TEMP_MARKER}999999999-1"),
            format!(".x{TEMP_MARKER}999999999-1.bak"),
            format!(".x{TEMP_MARKER}999999999-"),
            format!(".x{TEMP_MARKER}0-1"),
            format!(".{TEMP_MARKER}999999999-1"),
            format!(".x{TEMP_MARKER}99999999999-1"),
        ];
        for n in &theirs {
            std::fs::write(d.path().join(n), "precious").unwrap();
        }
        // A directory and a link with our exact shape are not files of ours either.
        std::fs::create_dir(d.path().join(format!(".d{TEMP_MARKER}999999999-1"))).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            d.path().join(&theirs[0]),
            d.path().join(format!(".l{TEMP_MARKER}999999999-1")),
        )
        .unwrap();
        assert_eq!(clean_temp_files(d.path()), Vec::<PathBuf>::new());
        for n in &theirs {
            assert_eq!(
                std::fs::read_to_string(d.path().join(n)).unwrap(),
                "precious"
            );
        }
        let ours = temp_beside(&d.path().join("users.csv"));
        std::fs::write(&ours, "").unwrap();
        let name = ours.file_name().unwrap().to_string_lossy().into_owned();
        let me = Some(std::process::id() as i32);
        assert_eq!(temp_owner(&name), me);
        assert_eq!(
            temp_owner(&format!("{name}-journal")),
            me,
            "SQLite's sidecar of a temp copy"
        );
        assert_eq!(
            temp_owner(&format!("{name}.zst")),
            me,
            "the compressed temp of a backup"
        );
        assert_eq!(temp_owner(&format!("{name}-journal-wal")), None);
        assert_eq!(temp_owner(&format!("{name}.zst.bak")), None);
    }
}
