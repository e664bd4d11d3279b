//! Verified backups: consistent snapshot to a temp name, fsync, verify, no-overwrite rename, manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::db::{self, Access};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::progress::{Observer, Progress};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Manual,
    PreReset,
    PreMigrate,
    PreRestore,
    PreRetag,
    PreSeed,
    PreRepair,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Manual => "manual",
            Reason::PreReset => "pre-reset",
            Reason::PreMigrate => "pre-migrate",
            Reason::PreRestore => "pre-restore",
            Reason::PreRetag => "pre-retag",
            Reason::PreSeed => "pre-seed",
            Reason::PreRepair => "pre-repair",
        }
    }
}

/// The sidecar manifest (`<backup>.json`) and ledger entry of one backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupRecord {
    pub path: PathBuf,
    pub env: String,
    pub source_path: PathBuf,
    pub created_at: String,
    pub tool_version: String,
    pub schema_version: Option<i64>,
    pub reason: Reason,
    pub label: Option<String>,
    pub size_bytes: u64,
    pub sha256: String,
    pub row_counts: BTreeMap<String, u64>,
}

/// Where a backup of `env` taken now for `reason` would go (the final name may get a `-N` suffix).
pub fn default_path(backup_dir: &Path, env: &str, reason: Reason) -> PathBuf {
    let ts = crate::now_compact();
    backup_dir.join(format!("{env}-{ts}-{}.sqlite3", reason.as_str()))
}

/// Takes a verified snapshot of the database at `src_path`.
///
/// The copy is read through a fresh read-only connection in one read transaction (a connection
/// that holds the write lock cannot be a backup source). Callers about to destroy data hold
/// `BEGIN IMMEDIATE` on their own connection first, so the snapshot is exactly what they see:
/// `expected` are the row counts they read, and the snapshot must match them. The copy goes to a
/// temp name, is fsynced, `quick_check`ed and counted, then renamed to `dest` without ever
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
    let schema_version = crate::migrate::schema_version(&src)?;
    let tmp = fsutil::temp_beside(dest);
    let copied = crate::timing::step("backup: snapshot (copy + fsync)", || {
        snapshot_to_temp(&src, &tmp, src_path, busy_timeout, obs)
    });
    let result = copied.and_then(|()| {
        let size = std::fs::metadata(&tmp)
            .map_err(Error::io("reading", &tmp))?
            .len();
        // The sha256 of the finished, fsynced copy runs on a second core while SQLite verifies
        // it (quick_check + row counts): the two reads overlap instead of adding up.
        let sha = crate::timing::step("backup: verify (quick_check ∥ sha256)", || {
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
                    crate::hash::file_with_progress(&tmp, &report).map(|sha| (sha, t.elapsed()))
                });
                let t = std::time::Instant::now();
                let verified = verify_file(&tmp, Some(&counts));
                crate::timing::record_duration("backup: quick_check + counts", t.elapsed());
                let sha = hashing
                    .join()
                    .unwrap_or_else(|_| Err(Error::InvalidInput("sha256 thread panicked".into())));
                let sha = sha.map(|(sha, took)| {
                    crate::timing::record_duration("backup: sha256", took);
                    sha
                });
                verified.and(sha)
            })
        })?;
        let final_path = place(&tmp, dest, exact_name)?;
        fsutil::fsync_dir(dir)?;
        Ok(Snapshot {
            path: final_path,
            size_bytes: size,
            sha256: sha,
            row_counts: counts.clone(),
            schema_version,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A verified copy in its final place.
pub(crate) struct Snapshot {
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
    drop(fsutil::create_new(tmp)?);
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
            obs.bytes(&Progress {
                stage: "copying",
                done: (i64::from(p.pagecount - p.remaining) * page) as u64,
                total: (i64::from(p.pagecount) * page) as u64,
            });
            if obs.cancelled() {
                return Err(Error::Cancelled);
            }
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
        crate::failpoint::hit("backup:mid_copy")?;
        // A backup is one self-contained file: no WAL beside it.
        dst.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))
            .map_err(|e| db::classify(tmp, e, "finishing backup".into()))?;
        dst.close()
            .map_err(|(_, e)| db::classify(tmp, e, "closing backup".into()))?;
    }
    crate::timing::step("backup: fsync", || fsutil::fsync_file(tmp))
}

fn page_size(c: &Connection) -> i32 {
    c.query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(4096)
}

/// Header, `quick_check` and (when given) row counts of a backup file.
pub fn verify_file(path: &Path, expected: Option<&BTreeMap<String, u64>>) -> Result<()> {
    let fail = |detail: String| Error::BackupVerify {
        path: path.to_path_buf(),
        detail,
    };
    db::check_header(path).map_err(|e| fail(e.to_string()))?;
    let conn = db::open(path, Access::ReadOnly, Duration::from_secs(1))
        .map_err(|e| fail(e.to_string()))?;
    let problems = db::check(&conn, "quick_check").map_err(|e| fail(e.to_string()))?;
    if !problems.is_empty() {
        return Err(fail(format!("quick_check: {}", problems.join("; "))));
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

/// Renames `tmp` to `dest`, or to `dest-2`, `dest-3`, … if taken. Never overwrites.
fn place(tmp: &Path, dest: &Path, exact_name: bool) -> Result<PathBuf> {
    if exact_name {
        return match fsutil::rename_noreplace(tmp, dest) {
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
    let stem = dest
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let ext = dest
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    for n in 1..1000 {
        let candidate = if n == 1 {
            dest.to_path_buf()
        } else {
            dest.with_file_name(format!("{stem}-{n}{ext}"))
        };
        match fsutil::rename_noreplace(tmp, &candidate) {
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

/// Writes the sidecar manifest (create-new, fsynced) and appends the ledger entry.
pub(crate) fn record(rec: &BackupRecord, ledger: &Path) -> Result<()> {
    let manifest = manifest_path(&rec.path);
    let json = serde_json::to_vec_pretty(rec).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let tmp = fsutil::temp_beside(&manifest);
    let mut f = fsutil::create_new(&tmp)?;
    std::io::Write::write_all(&mut f, &json).map_err(Error::io("writing manifest", &tmp))?;
    f.sync_all().map_err(Error::io("fsync", &tmp))?;
    drop(f);
    fsutil::rename_noreplace(&tmp, &manifest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("placing manifest", &manifest)(e)
    })?;
    if let Some(dir) = manifest.parent() {
        fsutil::fsync_dir(dir)?;
    }
    let mut line = serde_json::to_vec(rec).map_err(|e| Error::InvalidInput(e.to_string()))?;
    line.push(b'\n');
    append_line(ledger, &line)
}

fn append_line(path: &Path, line: &[u8]) -> Result<()> {
    fsutil::append_line(path, line)
}

pub fn manifest_path(backup: &Path) -> PathBuf {
    let mut n = backup.file_name().unwrap_or_default().to_os_string();
    n.push(".json");
    backup.with_file_name(n)
}

/// Reads a backup's manifest.
pub fn read_manifest(backup: &Path) -> Result<BackupRecord> {
    let p = manifest_path(backup);
    let text = std::fs::read_to_string(&p).map_err(Error::io("reading manifest", &p))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::InvalidInput(format!("manifest {}: {e}", p.display())))
}

/// The backups of an env (from their manifests), oldest first.
pub fn list(target: &crate::env::EnvTarget) -> Result<Vec<BackupRecord>> {
    let rd = match std::fs::read_dir(&target.backup_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io("reading backup dir", &target.backup_dir)(e)),
    };
    let mut out = vec![];
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !name.ends_with(".sqlite3") {
            continue;
        }
        match read_manifest(&p) {
            Ok(mut rec) => {
                rec.path = p;
                out.push(rec);
            }
            Err(err) => tracing::warn!("skipping {}: {err}", p.display()),
        }
    }
    out.sort_by(|a, b| (&a.created_at, &a.path).cmp(&(&b.created_at, &b.path)));
    Ok(out)
}

/// Options of a manual backup.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Export to this file instead of the env's backup dir (never overwritten).
    pub output: Option<PathBuf>,
    pub label: Option<String>,
}

/// `backup ENV`: a verified snapshot of the current committed state, without blocking writers.
pub fn run(ws: &crate::config::Workspace, env: &str, opts: &BackupOptions) -> Result<BackupRecord> {
    run_observed(ws, env, opts, &crate::Quiet)
}

/// [`run`], reporting progress (bytes copied, then verified) to `obs`, which can cancel it (the
/// unfinished copy is removed; nothing else was changed).
pub fn run_observed(
    ws: &crate::config::Workspace,
    env: &str,
    opts: &BackupOptions,
    obs: &dyn Observer,
) -> Result<BackupRecord> {
    crate::timing::reset();
    let target = ws.env(env)?;
    let rec = crate::audit::Recorder::new(ws.audit_path(), &target.name, &target.path, "backup");
    let result = (|| {
        if let Some(label) = &opts.label {
            if label.len() > 200 || label.chars().any(char::is_control) {
                return Err(Error::InvalidInput(
                    "a backup label is at most 200 characters, without control characters".into(),
                ));
            }
        }
        let output = opts.output.as_deref().map(check_output_path).transpose()?;
        if let Some(out) = &output {
            refuse_live_names(ws, out)?;
        }
        let conn = crate::session::inspect(ws, &target)?.ok_or_else(|| {
            Error::InvalidInput(format!(
                "{} does not exist; nothing to back up",
                target.path.display()
            ))
        })?;
        crate::tag::require_identity(&conn, &target)?;
        crate::plan::preflight_space(&target, false)?;
        // No quick_check of the source first: the copy's quick_check reads the very same pages
        // (the backup API copies them verbatim). Only when it fails is the source checked, to say
        // which of the two is damaged.
        crate::plan::backup_now(
            ws,
            &target,
            Reason::Manual,
            opts.label.clone(),
            None,
            output.as_deref(),
            obs,
        )
        .map_err(|e| match e {
            Error::BackupVerify { .. } => match crate::session::require_healthy(&conn, &target) {
                Err(corrupt @ Error::Corrupt { .. }) => corrupt,
                _ => e,
            },
            e => crate::session::corrupt_if_malformed(e, &target),
        })
    })();
    let path = result.as_ref().ok().map(|r| r.path.clone());
    rec.finish("manual backup", path.as_deref(), &result)?;
    result
}

/// An explicit export path; see [`crate::names::check_output_path`].
pub fn check_output_path(p: &Path) -> Result<PathBuf> {
    crate::names::check_output_path(p)
}

/// An export must not land on (or beside) any env's live database, nor beside an existing manifest.
fn refuse_live_names(ws: &crate::config::Workspace, out: &Path) -> Result<()> {
    for t in ws.envs.values() {
        for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
            let mut live = t.path.as_os_str().to_owned();
            live.push(suffix);
            if out == Path::new(&live) {
                return Err(Error::Refused(format!(
                    "{} is {}'s live database (or one of its files); export somewhere else",
                    out.display(),
                    t.name
                )));
            }
        }
    }
    let manifest = manifest_path(out);
    if std::fs::symlink_metadata(&manifest).is_ok() {
        return Err(Error::Refused(format!(
            "{} already exists; the export's manifest would not fit beside it. Choose another name",
            manifest.display()
        )));
    }
    Ok(())
}
