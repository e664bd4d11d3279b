//! Verified snapshots: consistent copy to a temp name, fsync, verify, no-overwrite rename.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::progress::{Observer, Progress};
use crate::storage::db::{self, Access};
use crate::storage::fs;

/// A verified snapshot of the database at `src_path` in `dest`: copied from one read transaction
/// (or, under the caller's write lock, as the checkpointed file) to a temp name — compressed in
/// the same read when `dest` names a `.sqlite3.zst` —, the kept file fsynced, checked
/// (`quick_check` and the row counts `expected`, of the copy or, for a compressed file copy, of
/// the pinned pages it was read from; a compressed file is read back and must decompress to
/// exactly the checked content), then renamed into place without
/// overwriting (a taken name gets `-2`, `-3`, … unless `exact_name`), and the directory is fsynced.
pub(crate) fn snapshot(
    src_path: &Path,
    dest: &Path,
    expected: Option<&BTreeMap<String, u64>>,
    exact_name: bool,
    busy_timeout: Duration,
    obs: &dyn Observer,
) -> Result<Snapshot> {
    let dir = dest
        .parent()
        .ok_or_else(|| Error::InvalidInput(format!("{} has no directory", dest.display())))?;
    let src = db::open(src_path, Access::ReadOnly, busy_timeout)?;
    src.execute_batch("BEGIN")
        .map_err(Error::sql("starting a read transaction"))?;
    let counts = db::row_counts(&src)?;
    if let Some(exp) = expected {
        if exp != &counts {
            return Err(Error::BackupVerify {
                path: src_path.to_path_buf(),
                detail: format!(
                    "the source changed under the lock: expected {exp:?}, read {counts:?}"
                ),
            });
        }
    }
    let schema_version = crate::schema::migrations::schema_version(&src)?;
    let tmp = fs::temp_beside(dest);
    // The caller holds the write lock (`expected`): when the WAL is fully checkpointed, the main
    // file is exactly the snapshot and nobody can change it, so it is copied as a file.
    let quiet = expected.is_some()
        && crate::storage::timing::step("backup: checkpoint", || quiesced(src_path, busy_timeout));
    let method = if quiet { Method::File } else { Method::Pages };
    let copy = Copy {
        src_path,
        tmp: &tmp,
        method,
        compressed: crate::backups::stored::is_compressed(dest),
    };
    let result = copy
        .copy_and_verify(&src, &counts, busy_timeout, obs)
        .and_then(|(keep, size, sha, stored)| {
            let placed = place(&keep, dest, exact_name);
            if placed.is_err() {
                let _ = std::fs::remove_file(&keep);
            }
            let final_path = placed?;
            fs::fsync_dir(dir)?;
            Ok(Snapshot {
                method,
                stored,
                path: final_path,
                size_bytes: size,
                sha256: sha,
                row_counts: counts.clone(),
                schema_version,
            })
        });
    copy.clean_up();
    result
}

/// One snapshot's copy: `tmp` is the plain copy (kept for a plain backup; for a compressed one
/// made by the backup API, a private temp that SQLite's checks read), `tmp.zst` the compressed
/// file.
struct Copy<'a> {
    src_path: &'a Path,
    tmp: &'a Path,
    method: Method,
    compressed: bool,
}

/// The verified file to place, the content's size and sha256, the stored form.
type Copied = (PathBuf, u64, String, Option<crate::backups::stored::Stored>);

impl Copy<'_> {
    fn ztmp(&self) -> PathBuf {
        crate::backups::stored::compressed_name(self.tmp)
    }

    fn copy_and_verify(
        &self,
        src: &Connection,
        counts: &BTreeMap<String, u64>,
        busy_timeout: Duration,
        obs: &dyn Observer,
    ) -> Result<Copied> {
        if self.compressed {
            return self.compressed(src, counts, busy_timeout, obs);
        }
        crate::storage::timing::step("backup: snapshot (copy + fsync)", || {
            match self.method {
                Method::File => copy_file(self.src_path, self.tmp, obs),
                Method::Pages => snapshot_to_temp(src, self.tmp, self.src_path, busy_timeout, obs),
            }?;
            crate::storage::timing::step("backup: fsync", || fs::fsync_file(self.tmp))
        })?;
        let size = std::fs::metadata(self.tmp)
            .map_err(Error::io("reading", self.tmp))?
            .len();
        let sha = verify_hashing(self.tmp, size, counts, obs)?;
        Ok((self.tmp.to_path_buf(), size, sha, None))
    }

    fn compressed(
        &self,
        src: &Connection,
        counts: &BTreeMap<String, u64>,
        busy_timeout: Duration,
        obs: &dyn Observer,
    ) -> Result<Copied> {
        let ztmp = self.ztmp();
        let pass = match self.method {
            Method::File => self.compressed_from_pinned(counts, &ztmp, busy_timeout, obs),
            Method::Pages => self.compressed_from_pages(src, counts, &ztmp, busy_timeout, obs),
        }?;
        Ok((ztmp, pass.size, pass.content_sha, Some(pass.stored)))
    }

    /// The file method: nobody can change the main file (the caller holds the write lock, every
    /// WAL frame is in it), so `quick_check` + row counts run on it on a second core while one
    /// read of it writes the compressed file (fsynced) and hashes the content. The compressed
    /// file is then read back: it must hash as written, decompress to the content's sha256 and,
    /// byte for byte, to the main file read again — the pages that passed the checks (a copy read
    /// wrong once is caught here). No plain copy is written.
    fn compressed_from_pinned(
        &self,
        counts: &BTreeMap<String, u64>,
        ztmp: &Path,
        busy_timeout: Duration,
        obs: &dyn Observer,
    ) -> Result<crate::backups::stored::Pass> {
        let checker = db::open(self.src_path, Access::ReadOnly, busy_timeout)?;
        // A copy that fails (a cancel, a full disk) stops the check instead of waiting for it.
        let stop = checker.get_interrupt_handle();
        let (pass, checked) = crate::storage::timing::step(
            "backup: snapshot (copy + compress + fsync ∥ quick_check)",
            || {
                std::thread::scope(|s| {
                    let checking = s.spawn(move || {
                        let t = std::time::Instant::now();
                        (check_pinned(&checker, self.src_path, counts), t.elapsed())
                    });
                    let pass =
                        crate::backups::stored::copy_compressing(self.src_path, ztmp, true, obs);
                    if pass.is_err() {
                        stop.interrupt();
                    }
                    let (checked, took) = checking.join().unwrap_or_else(|_| {
                        let e = Error::Internal("the quick_check thread panicked".into());
                        (Err(e), Duration::ZERO)
                    });
                    crate::storage::timing::record_duration("backup: quick_check + counts", took);
                    (pass, checked)
                })
            },
        );
        // The copy's own failure first: the check may only have been stopped because of it.
        let pass = pass?;
        checked?;
        crate::storage::timing::step("backup: verify (read back)", || {
            // Byte for byte against the pinned file the checks ran on (as marked in the copy).
            let source = crate::backups::stored::Against {
                path: self.src_path,
                marked: true,
            };
            crate::backups::stored::check_pass(ztmp, Some(source), &pass, obs)
        })?;
        Ok(pass)
    }

    /// The page method: the backup API's plain temp is compressed in one read (fsynced, hashed),
    /// then `quick_check` + row counts of the temp run beside the read-back of the compressed
    /// file, which must decompress to exactly that temp.
    fn compressed_from_pages(
        &self,
        src: &Connection,
        counts: &BTreeMap<String, u64>,
        ztmp: &Path,
        busy_timeout: Duration,
        obs: &dyn Observer,
    ) -> Result<crate::backups::stored::Pass> {
        let pass =
            crate::storage::timing::step("backup: snapshot (copy + compress + fsync)", || {
                snapshot_to_temp(src, self.tmp, self.src_path, busy_timeout, obs)?;
                crate::backups::stored::copy_compressing(self.tmp, ztmp, false, obs)
            })?;
        let plain_temp = crate::backups::stored::Against {
            path: self.tmp,
            marked: false,
        };
        crate::storage::timing::step("backup: verify (quick_check ∥ read back)", || {
            std::thread::scope(|s| {
                let reading = s.spawn(|| {
                    crate::backups::stored::check_pass(ztmp, Some(plain_temp), &pass, obs)
                });
                let verified = verify_file(self.tmp, Some(counts));
                let read = reading.join().unwrap_or_else(|_| {
                    Err(Error::Internal("the read-back thread panicked".into()))
                });
                verified.and(read)
            })
        })?;
        let _ = std::fs::remove_file(self.tmp);
        Ok(pass)
    }

    /// Removes whatever temp is left (after success only the placed file remains).
    fn clean_up(&self) {
        let _ = std::fs::remove_file(self.tmp);
        let _ = std::fs::remove_file(self.ztmp());
    }
}

/// `quick_check` + row counts of the finished, fsynced copy, with its sha256 read on a second
/// core (the two reads overlap instead of adding up).
fn verify_hashing(
    tmp: &Path,
    size: u64,
    counts: &BTreeMap<String, u64>,
    obs: &dyn Observer,
) -> Result<String> {
    crate::storage::timing::step("backup: verify (quick_check ∥ sha256)", || {
        std::thread::scope(|s| {
            let hashing = s.spawn(|| {
                let t = std::time::Instant::now();
                let report = |done| {
                    obs.bytes(&Progress {
                        stage: "verifying",
                        done,
                        total: size,
                    })
                };
                crate::storage::hash::file_with_progress(tmp, &report).map(|sha| (sha, t.elapsed()))
            });
            let t = std::time::Instant::now();
            let verified = verify_file(tmp, Some(counts));
            crate::storage::timing::record_duration("backup: quick_check + counts", t.elapsed());
            let sha = hashing
                .join()
                .unwrap_or_else(|_| Err(Error::Internal("the sha256 thread panicked".into())));
            let sha = sha.map(|(sha, took)| {
                crate::storage::timing::record_duration("backup: sha256", took);
                sha
            });
            verified.and(sha)
        })
    })
}

/// How a snapshot was copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// The quiesced main file, copied as a file (the caller held the write lock and the WAL was
    /// fully checkpointed).
    File,
    /// SQLite's backup API, page by page from a read transaction (writers are not blocked).
    Pages,
}

/// A verified copy in its final place.
pub(crate) struct Snapshot {
    pub method: Method,
    /// The compressed file, when `dest` named one.
    pub stored: Option<crate::backups::stored::Stored>,
    pub path: PathBuf,
    pub size_bytes: u64,
    pub sha256: String,
    pub row_counts: BTreeMap<String, u64>,
    pub schema_version: Option<i64>,
}

/// Pages copied per backup step: small enough for smooth progress and a prompt cancel, large
/// enough that the per-step overhead does not show. The source's read transaction stays open
/// across steps, so all steps copy one snapshot.
const PAGES_PER_STEP: i32 = 2048;

fn snapshot_to_temp(
    src: &Connection,
    tmp: &Path,
    src_path: &Path,
    busy_timeout: Duration,
    obs: &dyn Observer,
) -> Result<()> {
    drop(fs::create_new(tmp)?);
    {
        let mut dst =
            Connection::open(tmp).map_err(|e| db::classify(tmp, e, "creating backup".into()))?;
        let b =
            rusqlite::backup::Backup::new(src, &mut dst).map_err(Error::sql("starting backup"))?;
        // The caller's open read transaction on `src` makes every step read the same snapshot.
        // A busy source is retried until the busy timeout, then reported.
        let started = std::time::Instant::now();
        loop {
            use rusqlite::backup::StepResult;
            let step = b
                .step(PAGES_PER_STEP)
                .map_err(|e| db::classify(tmp, e, format!("copying into {}", tmp.display())))?;
            let p = b.progress();
            let page = i64::from(page_size(src));
            crate::progress::bytes_or_cancel(
                obs,
                "copying",
                (i64::from(p.pagecount - p.remaining) * page) as u64,
                (i64::from(p.pagecount) * page) as u64,
            )?;
            match step {
                StepResult::Done => break,
                StepResult::More => {}
                _ if started.elapsed() > busy_timeout => {
                    return Err(Error::DbLocked {
                        path: src_path.to_path_buf(),
                        waited_ms: started.elapsed().as_millis() as u64,
                    })
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        drop(b);
        crate::storage::failpoint::hit("backup:mid_copy")?;
        // A backup is one self-contained file: no WAL beside it.
        dst.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))
            .map_err(|e| db::classify(tmp, e, "finishing backup".into()))?;
        dst.close()
            .map_err(|(_, e)| db::classify(tmp, e, "closing backup".into()))?;
    }
    Ok(())
}

/// Whether the main file alone holds every committed page: a PASSIVE checkpoint (which never
/// waits for writers or readers) copied every WAL frame back, or the file is not in WAL mode.
/// Only meaningful while the caller holds the write lock (no new frame can appear after it).
/// `false` (and the page-by-page copy) when a reader elsewhere holds frames back.
pub(crate) fn quiesced(src_path: &Path, busy_timeout: Duration) -> bool {
    let checkpointed = db::open(src_path, Access::ReadWrite, busy_timeout).and_then(|c| {
        c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(Error::sql("checkpoint before the snapshot"))
    });
    match checkpointed {
        Ok((0, log, done)) if log == done => true,
        Ok((busy, log, done)) => {
            tracing::info!(
                busy,
                log,
                done,
                "WAL not fully checkpointed: copying page by page"
            );
            false
        }
        Err(e) => {
            tracing::info!("no checkpoint before the snapshot ({e}): copying page by page");
            false
        }
    }
}

/// Bytes per copy step of the file copy (progress and cancel between steps).
const FILE_CHUNK: u64 = 64 << 20;

/// Copies the quiesced main file to `tmp` (read by offset through its kept handle, 1 MiB at a
/// time), marks the copy as a rollback-journal database (header bytes 18–19: what `journal_mode=DELETE`
/// writes; a backup has no WAL beside it). The caller fsyncs and verifies it like any copy.
fn copy_file(src_path: &Path, tmp: &Path, obs: &dyn Observer) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    // A live file: read through a kept handle (see `held_open`).
    let mut from = crate::storage::held_open::reader(src_path)?;
    let total = from.len();
    let mut to = fs::create_new(tmp)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0;
    loop {
        let mut n = 0u64;
        while n < FILE_CHUNK {
            let k = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading", src_path)(e)),
            };
            to.write_all(&buf[..k])
                .map_err(|e| db::promote_disk_full(tmp, Error::io("copying into", tmp)(e)))?;
            n += k as u64;
        }
        done += n;
        crate::progress::bytes_or_cancel(obs, "copying", done, total)?;
        if n == 0 || done >= total {
            break;
        }
    }
    crate::storage::failpoint::hit("backup:mid_copy")?;
    if total >= 100 {
        to.seek(SeekFrom::Start(18))
            .and_then(|_| to.write_all(&[1, 1]))
            .map_err(Error::io("writing the copy's header", tmp))?;
    }
    Ok(())
}

fn page_size(c: &Connection) -> i32 {
    c.query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(4096)
}

/// What a restore of a snapshot checks before it replaces anything (`restore`'s staged
/// verification), checked on the snapshot itself, so that a verified backup is one that can be
/// restored: its structure (`quick_check`), every row's CHECK constraints (on every core: `conn`
/// and connections from `open`; the file cannot change meanwhile) and its foreign keys. Its
/// schema is the change's to check (`require_our_schema`): only reset changes a database whose
/// schema a restore refuses, and its plan says that `undo` will not bring it back.
pub(crate) fn restorable(
    conn: &Connection,
    open: &(dyn Fn() -> Result<Connection> + Sync),
) -> Result<Vec<String>> {
    std::thread::scope(|s| {
        // Foreign keys on a connection of their own, beside the rest (on `conn` after them when
        // none can be opened).
        let keys = s.spawn(|| {
            // With the time limit `open` gave it, as every connection reading this file.
            let c = open()
                .inspect_err(|e| {
                    tracing::warn!("no connection of its own for the foreign keys: {e}")
                })
                .ok()?;
            Some(db::foreign_key_problems(&c))
        });
        let encoding = db::encoding_problem(conn);
        let checked = crate::storage::check_constraints::full_check(conn, "quick_check", open);
        let keys = keys.join().unwrap_or_else(|_| {
            Some(Err(Error::Internal(
                "the foreign key check panicked".into(),
            )))
        });
        let mut problems: Vec<String> = encoding?.into_iter().collect();
        problems.extend(checked?);
        problems.extend(match keys {
            Some(keys) => keys?,
            None => db::foreign_key_problems(conn)?,
        });
        Ok(problems)
    })
}

/// Why a snapshot is no backup.
fn unrestorable(problems: &[String]) -> String {
    let first: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
    format!(
        "the database breaks what a restore checks ({}{}): a backup of it could not be restored, so it is not taken; `pipeline-db check` names the problems. To rebuild it anyway, keeping a byte-identical evidence copy instead of a backup: `pipeline-db reset ENV --keep-evidence`",
        first.join("; "),
        if problems.len() > 3 { "; …" } else { "" }
    )
}

/// Header, what a restore checks ([`restorable`]) and (when given) row counts of a backup file.
pub fn verify_file(path: &Path, expected: Option<&BTreeMap<String, u64>>) -> Result<()> {
    let fail = |detail: String| Error::BackupVerify {
        path: path.to_path_buf(),
        detail,
    };
    db::check_copy_header(path).map_err(|e| fail(e.to_string()))?;
    let conn = db::open(path, Access::ReadOnly, Duration::from_secs(1))
        .map_err(|e| fail(e.to_string()))?;
    let open = || db::open(path, Access::ReadOnly, Duration::from_secs(1));
    let problems = restorable(&conn, &open).map_err(|e| fail(e.to_string()))?;
    if !problems.is_empty() {
        return Err(fail(unrestorable(&problems)));
    }
    if let Some(expected) = expected {
        let got = db::row_counts(&conn).map_err(|e| fail(e.to_string()))?;
        if &got != expected {
            return Err(fail(format!(
                "row counts differ: source {expected:?}, backup {got:?}"
            )));
        }
    }
    Ok(())
}

/// What a restore checks ([`restorable`]) + row counts, through `conn` (and, for the CHECKs,
/// connections of their own), of the main file at `path` while nobody can change it (the caller
/// holds the write lock and every WAL frame is in the file): the checks of a snapshot copied from
/// it as a file. Run beside the copy.
fn check_pinned(conn: &Connection, path: &Path, counts: &BTreeMap<String, u64>) -> Result<()> {
    let fail = |detail: String| Error::BackupVerify {
        path: path.to_path_buf(),
        detail,
    };
    conn.execute_batch("BEGIN")
        .map_err(Error::sql("starting a read transaction"))?;
    let open = || db::open(path, Access::ReadOnly, Duration::from_secs(5));
    let problems = restorable(conn, &open)?;
    if !problems.is_empty() {
        return Err(fail(unrestorable(&problems)));
    }
    let got = db::row_counts(conn)?;
    if &got != counts {
        return Err(fail(format!(
            "the database changed while it was copied: expected {counts:?}, read {got:?}"
        )));
    }
    Ok(())
}

/// Renames `tmp` to `dest`, or to `dest-2`, `dest-3`, … if taken. Never overwrites.
fn place(tmp: &Path, dest: &Path, exact_name: bool) -> Result<PathBuf> {
    if exact_name {
        return match fs::rename_noreplace(tmp, dest) {
            Ok(()) => Ok(dest.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::Refused(format!(
                    "{} already exists; it was not overwritten. Choose another name",
                    dest.display()
                )))
            }
            Err(e) => Err(Error::io("renaming backup into place", dest)(e)),
        };
    }
    let name = dest
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    // `x.sqlite3.zst` → `x-2.sqlite3.zst`: the suffixes a listing recognises stay last.
    let split = [".sqlite3.zst", ".sqlite3"].iter().find_map(|s| {
        name.strip_suffix(s)
            .map(|stem| (stem.to_string(), s.to_string()))
    });
    let (stem, ext) = split.unwrap_or_else(|| {
        let p = Path::new(&name);
        (
            p.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            p.extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default(),
        )
    });
    for n in 1..1000 {
        let candidate = if n == 1 {
            dest.to_path_buf()
        } else {
            dest.with_file_name(format!("{stem}-{n}{ext}"))
        };
        match fs::rename_noreplace(tmp, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("renaming backup into place", &candidate)(e)),
        }
    }
    Err(Error::InvalidInput(format!(
        "no free backup name beside {}",
        dest.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_db(path: &Path, rows: i64) -> Connection {
        let c = Connection::open(path).unwrap();
        c.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .unwrap();
        c.execute_batch("CREATE TABLE t(x TEXT)").unwrap();
        for i in 0..rows {
            c.execute("INSERT INTO t VALUES (?1)", [format!("row {i}")])
                .unwrap();
        }
        c
    }

    fn take(src: &Path, dest: &Path) -> Snapshot {
        let counts =
            db::row_counts(&db::open(src, Access::ReadOnly, Duration::from_secs(1)).unwrap())
                .unwrap();
        snapshot(
            src,
            dest,
            Some(&counts),
            true,
            Duration::from_secs(1),
            &crate::Quiet,
        )
        .unwrap()
    }

    /// The plain content of a snapshot (decompressed beside it when compressed).
    fn content(snap: &Snapshot) -> PathBuf {
        let Some(stored) = &snap.stored else {
            return snap.path.clone();
        };
        assert_eq!(stored.bytes, std::fs::metadata(&snap.path).unwrap().len());
        assert_eq!(
            stored.sha256,
            crate::storage::hash::file(&snap.path).unwrap()
        );
        let out = snap.path.with_extension("plain");
        let sha = crate::backups::stored::decompress_hashed(&snap.path, &out, &|_| {}).unwrap();
        assert_eq!(sha, snap.sha256, "decompresses to the recorded content");
        out
    }

    #[test]
    fn compressed_snapshots_by_either_method_hold_every_row_and_leave_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src.sqlite3");
        let writer = wal_db(&src, 300);
        let out = d.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let snap = take(&src, &out.join("a.sqlite3.zst"));
        assert_eq!(snap.method, Method::File);
        assert!(snap.stored.is_some());
        let plain = content(&snap);
        assert_eq!(&std::fs::read(&plain).unwrap()[18..20], &[1, 1]);
        assert_eq!(crate::storage::hash::file(&plain).unwrap(), snap.sha256);
        verify_file(&plain, Some(&snap.row_counts)).unwrap();
        std::fs::remove_file(&plain).unwrap();

        let reader = Connection::open(&src).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        writer.execute("INSERT INTO t VALUES ('late')", []).unwrap();
        let snap = take(&src, &out.join("b.sqlite3.zst"));
        assert_eq!(snap.method, Method::Pages);
        let plain = content(&snap);
        verify_file(&plain, Some(&snap.row_counts)).unwrap();
        assert_eq!(snap.row_counts["t"], 301);
        std::fs::remove_file(&plain).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["a.sqlite3.zst", "b.sqlite3.zst"], "no temp left");
        drop(reader);
    }

    #[test]
    fn a_quiet_wal_is_copied_as_a_file_and_a_held_back_one_page_by_page() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src.sqlite3");
        let writer = wal_db(&src, 200);
        let snap = take(&src, &d.path().join("a.sqlite3"));
        assert_eq!(snap.method, Method::File);
        // The copy is a self-contained rollback-journal database with every row.
        let header = std::fs::read(&snap.path).unwrap();
        assert_eq!(&header[18..20], &[1, 1]);
        verify_file(&snap.path, Some(&snap.row_counts)).unwrap();
        assert!(!db::sidecar(&snap.path, "-wal").exists());

        // A reader elsewhere pins an older snapshot: the checkpoint cannot copy the frames after
        // it back, so the main file is not the snapshot and the backup API copies it.
        let reader = Connection::open(&src).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        writer.execute("INSERT INTO t VALUES ('late')", []).unwrap();
        let snap = take(&src, &d.path().join("b.sqlite3"));
        assert_eq!(snap.method, Method::Pages);
        assert_eq!(snap.row_counts["t"], 201);
        verify_file(&snap.path, Some(&snap.row_counts)).unwrap();
        drop(reader);
    }
}
