//! Verifying backups after the fact (`backups verify`, restore, prune): header, sha256 against the
//! manifest, `quick_check`, schema version; results kept in `<data>/backups/verifications.jsonl`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backups::record::BackupRecord;
use crate::error::{Error, Result};
use crate::schema::tag::{self, Identity};
use crate::storage::db::{self, Access};
use crate::workspace::config::Workspace;

/// The result of verifying one backup file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VerifyReport {
    pub path: PathBuf,
    pub ok: bool,
    pub verified_at: String,
    /// Whether a sidecar manifest was found (without one the sha256 cannot be checked).
    pub has_manifest: bool,
    /// `Some(true)` = sha256 equals the manifest's; `None` = no manifest.
    pub sha256_matches: Option<bool>,
    pub schema_version: Option<i64>,
    /// The env the data inside says it belongs to.
    pub tagged_env: Option<String>,
    /// What failed, if anything.
    pub problem: Option<String>,
    /// How its schema differs from what the embedded migrations produce at its recorded version
    /// (a file from another tool, or edited): such a file is refused, never installed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_differences: Vec<String>,
    /// What was checked, in order (adapters print exactly this: nothing else was verified).
    #[serde(default)]
    pub checks: Vec<String>,
    /// The check could not be made here (no room to decompress it, no permission to read it):
    /// `problem` says why, nothing is known of the backup itself, and the result is not recorded
    /// (a backup verified before stays verified).
    #[serde(default)]
    pub inconclusive: bool,
}

impl VerifyReport {
    /// The typed error for a failed verification (`None` when it passed).
    pub fn error(&self) -> Option<Error> {
        if !self.schema_differences.is_empty() {
            return Some(Error::ForeignSchema {
                path: self.path.clone(),
                differences: self.schema_differences.clone(),
            });
        }
        self.problem.as_ref().map(|p| Error::SourceUnsound {
            path: self.path.clone(),
            detail: p.clone(),
        })
    }
}

/// Verifies `path` (never changes it). `manifest` overrides the sidecar (used for staging copies).
pub fn verify(path: &Path, manifest: Option<&BackupRecord>) -> VerifyReport {
    if crate::backups::stored::is_compressed(path) {
        return compressed(path, manifest, true);
    }
    inspect(path, manifest, true, None, Access::ReadOnly)
}

/// The report of a file that could not be read as a backup at all.
pub(crate) fn describe_failure(path: &Path, problem: String) -> VerifyReport {
    VerifyReport {
        path: path.to_path_buf(),
        ok: false,
        verified_at: crate::now_rfc3339(),
        has_manifest: false,
        sha256_matches: None,
        schema_version: None,
        tagged_env: None,
        problem: Some(problem),
        schema_differences: vec![],
        checks: vec![],
        inconclusive: false,
    }
}

/// Whether `e` says nothing of the backup, only of where it was checked: no room, no permission.
fn environmental(e: &Error) -> bool {
    match e {
        Error::NoSpace { .. } | Error::DiskFull { .. } | Error::ReadOnly { .. } => true,
        Error::Io { source, .. } => matches!(
            source.kind(),
            std::io::ErrorKind::StorageFull
                | std::io::ErrorKind::QuotaExceeded
                | std::io::ErrorKind::PermissionDenied
                | std::io::ErrorKind::ReadOnlyFilesystem
        ),
        _ => false,
    }
}

/// A compressed backup: (full) the stored file's sha256 against its manifest, then the content it
/// decompresses to (in a private temp beside it, hashed on the way) checked like a plain backup.
fn compressed(path: &Path, manifest: Option<&BackupRecord>, full: bool) -> VerifyReport {
    let manifest = manifest
        .cloned()
        .or_else(|| crate::backups::record::read_manifest(path).ok());
    let mut checks = vec![];
    let stored_problem = match manifest.as_ref().and_then(|m| m.stored.as_ref()) {
        Some(st) if full => match crate::storage::hash::file(path) {
            Ok(sha) if sha == st.sha256 => {
                checks.push("sha256 of the stored (compressed) file against its manifest".into());
                None
            }
            Ok(sha) => Some((format!(
                "the stored file's sha256 {sha} differs from the manifest's {}: it was changed or damaged after it was written",
                st.sha256
            ), false)),
            Err(e) => Some((e.to_string(), environmental(&e))),
        },
        Some(_) => None,
        // Every manifest of ours for a compressed backup records the stored file.
        None if manifest.is_some() => Some((
            "its manifest has no record of the stored (compressed) file, so the file cannot be checked against it".into(),
            false,
        )),
        None => None,
    };
    let plain = match stored_problem {
        Some(p) => Err(p),
        // Beside it: this is a backup of a backup dir's (files from elsewhere are checked on a
        // private copy in the data dir, `verbs::verify`).
        None => crate::backups::stored::plain(path, path.parent().unwrap_or(Path::new(".")))
            .map_err(|e| (e.to_string(), environmental(&e))),
    };
    let mut r = match plain {
        Ok(plain) => {
            checks.push(match crate::backups::stored::has_frame_checksum(path) {
                true => "zstd stream decompressed (frame checksum)".into(),
                false => "zstd stream decompressed (it carries no frame checksum)".into(),
            });
            inspect(
                &plain.path,
                manifest.as_ref(),
                full,
                plain.sha256.as_deref(),
                Access::ReadOnly,
            )
        }
        Err((problem, inconclusive)) => VerifyReport {
            has_manifest: manifest.is_some(),
            inconclusive,
            ..describe_failure(path, problem)
        },
    };
    r.path = path.to_path_buf();
    r.checks.splice(0..0, checks);
    r
}

/// [`verify`] of a private copy whose sha256 the caller computed while writing it (a staged
/// copy). It is opened read-write: SQLite skips CHECK constraints in `integrity_check` and
/// `quick_check` on a read-only connection (seen with 3.53), and a staged copy must pass them
/// before anything is copied into a live database.
pub(crate) fn verify_hashed(
    path: &Path,
    manifest: Option<&BackupRecord>,
    sha256: &str,
) -> VerifyReport {
    inspect(path, manifest, true, Some(sha256), Access::ReadWrite)
}

/// Header, schema version and tag only — no sha256, no `quick_check` (for a plan re-made just
/// before the staged copy is fully verified).
pub(crate) fn describe(path: &Path) -> VerifyReport {
    if crate::backups::stored::is_compressed(path) {
        return compressed(path, None, false);
    }
    inspect(path, None, false, None, Access::ReadOnly)
}

fn inspect(
    path: &Path,
    manifest: Option<&BackupRecord>,
    full: bool,
    known_sha: Option<&str>,
    access: Access,
) -> VerifyReport {
    let (sidecar, manifest_problem) = match manifest {
        Some(m) => (Some(m.clone()), None),
        None if crate::backups::record::manifest_path(path).exists() => {
            match crate::backups::record::read_manifest(path) {
                Ok(m) => (Some(m), None),
                Err(e) => (None, Some(format!("its manifest cannot be read: {e}"))),
            }
        }
        None => (None, None),
    };
    let mut r = VerifyReport {
        path: path.to_path_buf(),
        ok: false,
        verified_at: crate::now_rfc3339(),
        has_manifest: sidecar.is_some(),
        sha256_matches: None,
        schema_version: None,
        tagged_env: None,
        problem: None,
        schema_differences: vec![],
        checks: vec![],
        inconclusive: false,
    };
    match manifest_problem.map_or_else(
        || check(path, sidecar.as_ref(), full, known_sha, access, &mut r),
        Err,
    ) {
        Err(e) => r.problem = Some(e),
        Ok(()) => r.ok = true,
    }
    r
}

/// The sha256 (read on a second core, unless the caller hashed the bytes already) and SQLite's
/// checks run side by side; a sha256 mismatch is reported first, as the more precise finding.
fn check(
    path: &Path,
    manifest: Option<&BackupRecord>,
    full: bool,
    known_sha: Option<&str>,
    access: Access,
    r: &mut VerifyReport,
) -> Result<(), String> {
    db::check_copy_header(path).map_err(|e| e.to_string())?;
    r.checks.push("header".into());
    let want = manifest.filter(|_| full).map(|m| m.sha256.as_str());
    std::thread::scope(|s| {
        let hashing = match (want, known_sha) {
            (Some(_), None) => Some(s.spawn(|| crate::storage::hash::file(path))),
            _ => None,
        };
        let sqlite = check_sqlite(path, full, manifest.is_some(), access, r);
        let sha = match (known_sha, hashing) {
            (Some(k), _) => Some(Ok(k.to_string())),
            (None, Some(h)) => Some(
                h.join()
                    .unwrap_or_else(|_| Err(Error::Internal("the sha256 thread panicked".into()))),
            ),
            (None, None) => None,
        };
        if let (Some(want), Some(sha)) = (want, sha) {
            let sha = sha.map_err(|e| e.to_string())?;
            r.sha256_matches = Some(sha == want);
            r.checks.push("sha256 against its manifest".into());
            if sha != want {
                return Err(format!(
                    "sha256 {sha} differs from the manifest's {want}: the file was changed or damaged after it was written"
                ));
            }
        }
        sqlite
    })
}

/// Differences between the file's schema and what the embedded migrations produce at its
/// recorded version, and migrations recorded with another checksum or unknown to us — and,
/// apart, the inert additions (tables and indexes of the user's own), which are no difference the
/// verbs refuse, so none a restore refuses (a backup of such a database is restored with them).
fn schema_differences(conn: &rusqlite::Connection) -> Result<(Vec<String>, Vec<String>)> {
    use crate::schema::migrations::{self, MigrationState};
    let shown = |d: &migrations::DriftItem| d.shown();
    let drift = migrations::drift(conn)?;
    let (inert, harmful) = drift.split_tolerated();
    let inert = inert.into_iter().map(shown).collect();
    let mut out: Vec<String> = harmful.into_iter().map(shown).collect();
    for m in migrations::list(Some(conn))? {
        match m.state {
            MigrationState::Divergent => out.push(format!(
                "V{} `{}` recorded with another checksum",
                m.version, m.name
            )),
            MigrationState::Missing => out.push(format!(
                "V{} `{}` recorded but unknown to this pipeline-db",
                m.version, m.name
            )),
            _ => {}
        }
    }
    Ok((out, inert))
}

/// Application id, schema version, the schema itself (it must be what the embedded migrations
/// produce at that version, history included), env tag; when `full`, `quick_check` for a file
/// whose bytes a manifest of ours vouches for (its sha256 is compared beside it), else the full `integrity_check` (which also
/// compares every index with its table).
/// A file no manifest vouches for: its job summary (derived from the jobs) must equal a recount
/// of them — a changed byte in either is otherwise a consistent-looking database that `check`
/// would report right after the restore.
fn summary_matches_jobs(conn: &rusqlite::Connection) -> Result<(), String> {
    if !crate::schema::stats::present(conn).map_err(|e| e.to_string())? {
        return Ok(());
    }
    let diffs = crate::schema::stats::differences(conn).map_err(|e| e.to_string())?;
    match diffs.first() {
        None => Ok(()),
        Some(d) => Err(format!(
            "its job summary differs from a recount of its jobs in {} (day, pipeline, status) groups, e.g. {} pipeline {} {}",
            diffs.len(),
            d.day,
            d.pipeline_id,
            d.status
        )),
    }
}

fn check_sqlite(
    path: &Path,
    full: bool,
    vouched: bool,
    access: Access,
    r: &mut VerifyReport,
) -> Result<(), String> {
    let conn = match access {
        // In place: read exactly the file, leave nothing beside it; a log beside it would hold
        // pages the file alone does not (restore refuses such a file too).
        Access::ReadOnly => db::open_immutable(path)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                "a write-ahead log or rollback journal is beside it: the file alone is not a complete backup (close the program using it, or back it up with SQLite first)".to_string()
            })?,
        _ => {
            let c = db::open(path, access, Duration::from_secs(1)).map_err(|e| e.to_string())?;
            // A private copy of a file from elsewhere: read under the same limit as the file.
            db::arm_inspection_limit(&c, path);
            c
        }
    };
    let app = tag::application_id(&conn).map_err(|e| e.to_string())?;
    if app != 0 && app != tag::APPLICATION_ID {
        return Err(format!(
            "it belongs to another application (application_id {app:#x})"
        ));
    }
    if let Some(why) = db::encoding_problem(&conn).map_err(|e| e.to_string())? {
        return Err(why);
    }
    r.schema_version =
        crate::schema::migrations::schema_version(&conn).map_err(|e| e.to_string())?;
    let (differences, inert) = schema_differences(&conn).map_err(|e| e.to_string())?;
    r.schema_differences = differences;
    if !r.schema_differences.is_empty() {
        return Err(format!(
            "its schema is not what the migrations produce: {}",
            r.schema_differences.join("; ")
        ));
    }
    r.checks.push(match (r.schema_version, inert.is_empty()) {
        (Some(v), true) => format!("schema V{v} as the migrations make it"),
        (Some(v), false) => format!(
            "schema V{v} as the migrations make it, plus the user's own {} (inert: verbs work beside it)",
            inert.join(", ")
        ),
        (None, _) => "no schema".into(),
    });
    let pragma = if vouched {
        "quick_check"
    } else {
        "integrity_check"
    };
    if full {
        // CHECK constraints on every core: SQLite's pragma without them beside our scans of them
        // (the schema was found to be ours above; nothing else writes this file), each connection
        // reading it as `conn` does — in place, immutable, nothing left beside it.
        let open = || match access {
            Access::ReadOnly => db::open_immutable(path)?.ok_or_else(|| {
                Error::Refused("a log appeared beside the file while it was checked".into())
            }),
            Access::ReadWrite => db::open(path, Access::ReadOnly, Duration::from_secs(1)),
        };
        let problems = crate::storage::check_constraints::full_check(&conn, pragma, &open)
            .map_err(|e| e.to_string())?;
        if !problems.is_empty() {
            return Err(format!("{pragma}: {}", problems.join("; ")));
        }
        r.checks
            .push(format!("{pragma} (CHECK constraints included)"));
        let fk = db::foreign_key_problems(&conn).map_err(|e| e.to_string())?;
        if !fk.is_empty() {
            let first: Vec<String> = fk.into_iter().take(3).collect();
            return Err(format!(
                "rows that break a foreign key: {}",
                first.join("; ")
            ));
        }
        r.checks.push("foreign keys".into());
        if !vouched {
            if let Some(bad) = text_not_utf8(&conn).map_err(|e| e.to_string())? {
                return Err(bad);
            }
            r.checks.push("text is UTF-8".into());
            summary_matches_jobs(&conn)?;
            if crate::schema::stats::present(&conn).map_err(|e| e.to_string())? {
                r.checks
                    .push("job summary equal to a recount of the jobs".into());
            }
        }
    }
    if let Identity::Tagged(t) = tag::identity(&conn).map_err(|e| e.to_string())? {
        r.tagged_env = Some(t.env);
    }
    Ok(())
}

/// The first text value that is not valid UTF-8, in words (SQLite stores such bytes as they come;
/// every reader of ours would fail on them later). One pass over each table of the schema, which
/// was checked to be ours before (tables, not views).
fn text_not_utf8(conn: &rusqlite::Connection) -> Result<Option<String>> {
    use rusqlite::types::ValueRef;
    for table in db::table_names(conn)? {
        let sql = format!("SELECT * FROM {}", db::quote_ident(&table));
        let mut stmt = conn
            .prepare(&sql)
            .map_err(Error::sql(format!("reading {table}")))?;
        let names: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let mut rows = stmt
            .query([])
            .map_err(Error::sql(format!("reading {table}")))?;
        let mut n = 0u64;
        while let Some(row) = rows
            .next()
            .map_err(Error::sql(format!("reading {table}")))?
        {
            n += 1;
            for (i, name) in names.iter().enumerate() {
                if let Ok(ValueRef::Text(b)) = row.get_ref(i) {
                    if std::str::from_utf8(b).is_err() {
                        return Ok(Some(format!(
                            "{table}, row {n} in table order: column {name} holds text that is not UTF-8"
                        )));
                    }
                }
            }
        }
    }
    Ok(None)
}

fn log_path(ws: &Workspace) -> PathBuf {
    ws.backups_root().join("verifications.jsonl")
}

/// Appends a verification result to the log (best effort: a failure to log is only logged).
pub fn record(ws: &Workspace, r: &VerifyReport) {
    // Nothing was learnt of the backup: its trust stays what it was.
    if r.inconclusive {
        tracing::warn!(
            "{} could not be verified here: not recorded",
            r.path.display()
        );
        return;
    }
    let res = (|| {
        let log = log_path(ws);
        std::fs::create_dir_all(ws.backups_root())
            .map_err(Error::io("creating", ws.backups_root()))?;
        let line = LogLine {
            report: r.clone(),
            backup: own_backup(ws, &r.path),
        };
        let mut line = serde_json::to_vec(&line)
            .map_err(|e| Error::Internal(format!("serializing a verification: {e}")))?;
        line.push(b'\n');
        crate::storage::fs::append_line(&log, &line)
    })();
    if let Err(e) = res {
        tracing::warn!("verification log: {e}");
    }
}

/// The verification log as read: the latest record of each backup, and why it could not be read
/// (then no backup's state is known from it).
#[derive(Debug, Default)]
pub struct Log {
    latest: HashMap<PathBuf, VerifyReport>,
    unread: Option<String>,
    /// Lines before the part read were left unread: a backup with no record in it may have one.
    older_unread: bool,
}

/// How far back the log is read: its last 64 MiB (tens of thousands of verifications — far more
/// than retention keeps backups for); older lines are of backups long gone.
const LOG_READ: u64 = 64 << 20;

/// The latest recorded verification of each backup.
pub fn latest(ws: &Workspace) -> Log {
    let (bytes, older_unread) =
        match crate::storage::fs::read_untrusted_tail(&log_path(ws), LOG_READ) {
            Ok(read) => read.unwrap_or_default(),
            Err(e) => {
                tracing::warn!("verification log: {e}");
                return Log {
                    unread: Some(format!("the verification log could not be read ({e})")),
                    ..Log::default()
                };
            }
        };
    let mut latest = HashMap::new();
    let root = crate::workspace::config::canonical_lenient(&ws.backups_root());
    for line in bytes.split(|b| *b == b'\n') {
        if let Ok(line) = serde_json::from_slice::<LogLine>(line) {
            let (key, r) = log_key(line, &root);
            latest.insert(key, r);
        }
    }
    Log {
        latest,
        unread: None,
        older_unread,
    }
}

/// A line of the verification log: the report, and — for a backup in this workspace's backups
/// dir when it was verified — its `<env>/<file>`, by which it is found again after the data dir
/// was copied or moved (its absolute path then names another place: a failed backup read as
/// verified there).
#[derive(Serialize, Deserialize)]
struct LogLine {
    #[serde(flatten)]
    report: VerifyReport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backup: Option<PathBuf>,
}

/// `<env>/<file>` of a file directly in an env's dir of this workspace's backups dir; `None` for
/// any other file (a copy on a USB stick is another file, whatever its path looks like).
fn own_backup(ws: &Workspace, path: &Path) -> Option<PathBuf> {
    let root = crate::workspace::config::canonical_lenient(&ws.backups_root());
    let rel = crate::workspace::config::canonical_lenient(path)
        .strip_prefix(&root)
        .ok()?
        .to_path_buf();
    (rel.components().count() == 2).then_some(rel)
}

/// What a record is found by: its `<env>/<file>` when it was one of this workspace's backups
/// (see [`LogLine`]; a line of an older version: its path as written under `root`, the backups
/// dir canonicalized once — no file is looked up per line), else its path.
fn log_key(line: LogLine, root: &Path) -> (PathBuf, VerifyReport) {
    let under_root = || {
        let rel = line.report.path.strip_prefix(root).ok()?;
        (rel.components().count() == 2).then(|| rel.to_path_buf())
    };
    let key = line
        .backup
        .clone()
        .or_else(under_root)
        .unwrap_or_else(|| line.report.path.clone());
    (key, line.report)
}

/// How much a backup can be trusted, as `backups list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Trust {
    /// Verified when written (its manifest exists) and not checked since.
    VerifiedWhenWritten,
    /// Re-verified by `backups verify` (or restore/prune) at this time.
    Verified { at: String },
    /// What the last verification found cannot be read (the log cannot be read).
    Unknown { problem: String },
    /// The last verification failed, or the file no longer has its recorded size.
    Failed { at: Option<String>, problem: String },
}

/// The trust state of a listed backup from the log and a cheap size check (no hashing).
pub fn trust(ws: &Workspace, rec: &BackupRecord, log: &Log) -> Trust {
    let size = std::fs::metadata(&rec.path).map(|m| m.len()).ok();
    if size != Some(rec.disk_bytes()) {
        return Trust::Failed {
            at: None,
            problem: format!(
                "size is {} bytes, the manifest says {}",
                size.map(|s| s.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                rec.disk_bytes()
            ),
        };
    }
    if let Some(why) = &log.unread {
        return Trust::Unknown {
            problem: format!("{why}; `pipeline-db backups verify` checks it again"),
        };
    }
    let key = own_backup(ws, &rec.path).unwrap_or_else(|| rec.path.clone());
    match log.latest.get(&key) {
        Some(r) if r.ok => Trust::Verified {
            at: r.verified_at.clone(),
        },
        Some(r) => Trust::Failed {
            at: Some(r.verified_at.clone()),
            problem: r.problem.clone().unwrap_or_default(),
        },
        None if log.older_unread => Trust::Unknown {
            problem: format!("the verification log is over {} and only its last part was read; `pipeline-db backups verify` checks it again", crate::storage::text::bytes(LOG_READ)),
        },
        None => Trust::VerifiedWhenWritten,
    }
}
