//! `check`: a read-only health report of one env (header, integrity, foreign keys, drift, tag,
//! migrations, backup age). On corruption it keeps a byte-identical evidence copy and points to
//! restore/undo; it never "repairs" by deleting data.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{exit, Error, Result};
use crate::schema::migrations::{self, MigrationState};
use crate::schema::stats;
use crate::schema::tag::{self, Identity};
use crate::storage::db::{self, Access, FileState};
use crate::workspace::config::Workspace;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Finding {
    /// `header`, `filesystem`, `integrity`, `foreign_keys`, `drift`, `job_summary`, `env_tag`,
    /// `migrations`, `backup`.
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckReport {
    pub env: String,
    pub path: PathBuf,
    pub exists: bool,
    pub corrupt: bool,
    pub findings: Vec<Finding>,
    /// Byte-identical copies of the corrupt file (and its WAL), kept as evidence.
    pub evidence: Vec<PathBuf>,
    pub last_verified_backup: Option<PathBuf>,
    pub last_verified_backup_age_secs: Option<i64>,
    /// What to do next, when something is wrong.
    pub advice: Vec<String>,
}

impl CheckReport {
    /// 0 all good, 5 corrupt or not a database, 1 any other problem.
    pub fn exit_code(&self) -> u8 {
        if self.corrupt {
            exit::NOT_A_DATABASE
        } else if self.findings.iter().any(|f| !f.ok) {
            exit::FAILED
        } else {
            exit::OK
        }
    }
}

/// A finding; its detail is one line, control characters escaped (SQLite's messages name
/// indexes and tables of the file, whose names may hold a newline that would print as a finding
/// of its own).
fn finding(check: &'static str, ok: bool, detail: impl Into<String>) -> Finding {
    Finding {
        check,
        ok,
        detail: crate::storage::text::printable(&detail.into()),
    }
}

pub fn run(ws: &Workspace, env: &str) -> Result<CheckReport> {
    let target = ws.env(env)?;
    let mut r = run_checks(ws, &target)?;
    backup_age(ws, &target, &mut r);
    Ok(r)
}

fn run_checks(ws: &Workspace, target: &crate::workspace::env::EnvTarget) -> Result<CheckReport> {
    let env = target.name.as_str();
    let has_backups = crate::backups::record::list(target).is_ok_and(|l| !l.is_empty());
    let mut r = CheckReport {
        env: target.name.clone(),
        path: target.path.clone(),
        exists: target.path.exists(),
        corrupt: false,
        findings: vec![],
        evidence: vec![],
        last_verified_backup: None,
        last_verified_backup_age_secs: None,
        advice: vec![],
    };
    match db::check_header(&target.path) {
        Ok(FileState::Missing) => {
            r.findings
                .push(finding("header", false, "the database file does not exist"));
            r.advice
                .push(format!("create it with `pipeline-db migrate {env}`"));
            return Ok(r);
        }
        Ok(FileState::Database) => {
            r.findings.push(finding("header", true, "SQLite format 3"));
            filesystem_finding(target, &mut r);
        }
        Err(e @ Error::NotADatabase { .. }) => {
            r.findings.push(finding("header", false, e.to_string()));
            return corrupt(
                r,
                &crate::backups::evidence::dir_for(ws, &target.name, &target.path),
                &target.path,
                has_backups,
            );
        }
        Err(e) => return Err(e),
    }
    match inspect(ws, target, &mut r) {
        Ok(()) => {}
        Err(e) if e.exit_code() == exit::NOT_A_DATABASE || is_corrupt_sqlite(&e) => {
            r.findings.push(finding("integrity", false, e.to_string()));
            return corrupt(
                r,
                &crate::backups::evidence::dir_for(ws, &target.name, &target.path),
                &target.path,
                has_backups,
            );
        }
        Err(e) => return Err(e),
    }
    if r.findings.iter().any(|f| f.check == "integrity" && !f.ok) {
        return corrupt(
            r,
            &crate::backups::evidence::dir_for(ws, &target.name, &target.path),
            &target.path,
            has_backups,
        );
    }
    Ok(r)
}

/// SQLite's locks and its WAL's shared memory are not reliable on a network filesystem: a database
/// there can be corrupted by two programs that each believe they hold the lock. Said, not refused
/// (one program on one machine may get by); `check` exits 1 on it.
fn filesystem_finding(target: &crate::workspace::env::EnvTarget, r: &mut CheckReport) {
    let Some(kind) = crate::storage::os::network_filesystem(&target.path) else {
        r.findings
            .push(finding("filesystem", true, "not a network filesystem"));
        return;
    };
    r.findings.push(finding(
        "filesystem",
        false,
        format!(
            "{} is on a network filesystem, or one not known to keep its files on a local disk ({kind}): SQLite's locks and its write-ahead log are not reliable there (\"WAL does not work over a network filesystem\", sqlite.org/wal.html)",
            target.path.display()
        ),
    ));
    // A plain copy would miss what the log holds: a verified backup is the copy.
    r.advice.push(format!(
        "keep {env}'s database on a local disk: `pipeline-db backup {env} --output /local/disk/{env}.sqlite3` (a verified copy, the log included), then `pipeline-db env path {env} /local/disk/{env}.sqlite3`",
        env = target.name
    ));
}

fn is_corrupt_sqlite(e: &Error) -> bool {
    matches!(e, Error::Sqlite { source, .. } if matches!(
        source.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    ))
}

/// Every check that needs an open (read-only) connection.
fn inspect(
    ws: &Workspace,
    target: &crate::workspace::env::EnvTarget,
    r: &mut CheckReport,
) -> Result<()> {
    let conn = db::open(&target.path, Access::ReadOnly, ws.busy_timeout())?;
    conn.execute_batch("BEGIN")
        .map_err(Error::sql("starting a read transaction"))?;
    // Every row's CHECK constraints too (SQLite skips them on a read-only connection), on the other
    // core: what a restore of a backup of this database checks. Its connections read the
    // database as it is when each scan starts (this check takes no lock).
    let open = || db::open(&target.path, Access::ReadOnly, ws.busy_timeout());
    let problems = crate::storage::check_constraints::full_check(&conn, "integrity_check", &open)?;
    r.findings.push(finding(
        "integrity",
        problems.is_empty(),
        if problems.is_empty() {
            "integrity_check ok, CHECK constraints ok".to_string()
        } else {
            problems
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        },
    ));
    if !problems.is_empty() {
        return Ok(());
    }
    let fk = db::foreign_key_problems(&conn)?;
    r.findings.push(finding(
        "foreign_keys",
        fk.is_empty(),
        if fk.is_empty() {
            "foreign_key_check ok".into()
        } else {
            fk.join("; ")
        },
    ));
    tag_finding(&conn, target, r)?;
    migrations_finding(&conn, target, r)?;
    r.findings.push(drift_finding(&migrations::drift(&conn)?));
    if crate::safety::health::require_our_schema(&conn, target, false).is_err() {
        // A view or trigger from elsewhere is never queried (a view can be an endless query):
        // the summary is not recounted until the schema is ours again.
        r.findings.push(finding(
            "summary",
            false,
            "not checked: the schema holds objects the migrations do not make (see drift)",
        ));
        return Ok(());
    }
    summary_finding(&conn, &target.name, r)
}

/// The schema against the migrations. Tables and indexes of the user's own beside ours are named
/// but pass: every verb works beside them and a restore brings them back (one rule:
/// [`migrations::DriftReport::tolerates`]).
fn drift_finding(drift: &migrations::DriftReport) -> Finding {
    let shown = |items: Vec<&migrations::DriftItem>| {
        items
            .iter()
            .map(|d| {
                let name = crate::storage::text::printable(&d.name);
                format!("{} {} {name}", d.change, d.object_type)
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (tolerated, harmful) = drift.split_tolerated();
    if !harmful.is_empty() {
        return finding("drift", false, shown(harmful));
    }
    let matches = format!(
        "schema matches the migrations up to V{}",
        drift.compared_with_version
    );
    match tolerated.is_empty() {
        true => finding("drift", true, matches),
        false => finding(
            "drift",
            true,
            format!(
                "{matches}, plus the user's own {} (inert: verbs, backups and restore work beside it)",
                shown(tolerated)
            ),
        ),
    }
}

/// The job summary table (V2) against a recount of the jobs; no finding on older schemas.
fn summary_finding(conn: &rusqlite::Connection, env: &str, r: &mut CheckReport) -> Result<()> {
    if !stats::present(conn)? {
        return Ok(());
    }
    let diffs = stats::differences(conn)?;
    if diffs.is_empty() {
        r.findings.push(finding(
            "job_summary",
            true,
            format!("{} matches a recount of the jobs", stats::TABLE),
        ));
        return Ok(());
    }
    let n = |v: Option<u64>| v.map_or("no row".to_string(), |n| n.to_string());
    let shown: Vec<String> = diffs
        .iter()
        .take(3)
        .map(|d| {
            format!(
                "{} pipeline {} {}: summary {}, jobs {}",
                d.day,
                d.pipeline_id,
                d.status,
                n(d.summary),
                n(d.recount)
            )
        })
        .collect();
    r.findings.push(finding(
        "job_summary",
        false,
        format!(
            "{} differs from a recount of the jobs in {} (day, pipeline, status) groups: {}",
            stats::TABLE,
            diffs.len(),
            shown.join("; ")
        ),
    ));
    r.advice.push(format!(
        "rebuild the job summary from the jobs with `pipeline-db migrations repair {env}` (verified \
         backup first); it drifts when jobs are written with INSERT OR REPLACE or with its triggers dropped"
    ));
    Ok(())
}

fn tag_finding(
    conn: &rusqlite::Connection,
    target: &crate::workspace::env::EnvTarget,
    r: &mut CheckReport,
) -> Result<()> {
    let f = match tag::require_identity(conn, target) {
        Ok(Identity::Tagged(t)) => finding("env_tag", true, format!("tagged {}", t.env)),
        Ok(Identity::Empty) => finding("env_tag", true, "empty database, no tag yet"),
        Ok(Identity::Untagged) => finding("env_tag", false, "no env tag"),
        Err(e) => finding("env_tag", false, e.to_string()),
    };
    r.findings.push(f);
    Ok(())
}

fn migrations_finding(
    conn: &rusqlite::Connection,
    target: &crate::workspace::env::EnvTarget,
    r: &mut CheckReport,
) -> Result<()> {
    let env = &target.name;
    match migrations::pending_or_refuse(conn, &target.path, env) {
        Ok(p) if p.is_empty() => r.findings.push(finding("migrations", true, "up to date")),
        Ok(p) => {
            let v: Vec<String> = p.iter().map(|m| format!("V{}", m.version)).collect();
            r.findings.push(finding(
                "migrations",
                false,
                format!("pending: {}", v.join(", ")),
            ));
            r.advice
                .push(format!("apply them with `pipeline-db migrate {env}`"));
        }
        Err(e) => {
            let divergent: Vec<String> = migrations::list(Some(conn))?
                .iter()
                .filter(|m| m.state == MigrationState::Divergent)
                .map(|m| format!("V{}", m.version))
                .collect();
            r.findings.push(finding("migrations", false, e.to_string()));
            if !divergent.is_empty() {
                r.advice.push(format!(
                    "if {} differ only in line endings or whitespace: `pipeline-db migrations repair {env}`",
                    divergent.join(", ")
                ));
            }
        }
    }
    Ok(())
}

fn backup_age(ws: &Workspace, target: &crate::workspace::env::EnvTarget, r: &mut CheckReport) {
    let log = crate::backups::verify::latest(ws);
    let trusted: Vec<_> = crate::backups::record::list(target)
        .map(|list| {
            list.into_iter()
                .rev()
                .filter(|b| {
                    !matches!(
                        crate::backups::verify::trust(ws, b, &log),
                        crate::backups::verify::Trust::Failed { .. }
                            | crate::backups::verify::Trust::Unknown { .. }
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    // Verified once is not proof it is still good: the stored bytes are hashed again now, and
    // one changed on disk since (a bit flipped on a USB stick) is named, not counted.
    let newest = trusted.into_iter().find(|b| {
        let recorded = b.stored.as_ref().map_or(&b.sha256, |s| &s.sha256);
        match crate::storage::hash::file(&b.path) {
            Ok(now) if &now == recorded => true,
            Ok(_) => {
                r.findings.push(finding(
                    "backup",
                    false,
                    format!(
                        "{} no longer has the sha256 it was verified with (changed on disk since): `pipeline-db backups verify {}` checks it",
                        b.path.display(),
                        b.path.file_name().unwrap_or_default().to_string_lossy()
                    ),
                ));
                false
            }
            Err(e) => {
                r.findings.push(finding("backup", false, format!("{e}")));
                false
            }
        }
    });
    match newest {
        Some(b) => {
            let age = crate::storage::time::parse(&b.created_at)
                .map(|t| crate::storage::time::now_epoch() - t);
            r.findings.push(finding(
                "backup",
                true,
                format!(
                    "newest verified backup {} ({}; its stored bytes hashed again now)",
                    b.path.display(),
                    b.created_at
                ),
            ));
            r.last_verified_backup = Some(b.path);
            r.last_verified_backup_age_secs = age;
        }
        // Backups that changed since they were verified are named above, not good.
        None if r.findings.iter().any(|f| f.check == "backup" && !f.ok) => {}
        None => {
            r.findings
                .push(finding("backup", true, "no verified backup yet"));
        }
    }
}

/// Keeps a byte-identical evidence copy and says how to recover.
fn corrupt(
    mut r: CheckReport,
    evidence_dir: &Path,
    path: &Path,
    has_backups: bool,
) -> Result<CheckReport> {
    r.corrupt = true;
    r.evidence = crate::backups::evidence::keep_evidence(path, evidence_dir)?;
    r.advice.push(format!(
        "nothing was changed or repaired; evidence kept at {}",
        r.evidence
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    r.advice.push(recovery_advice(&r.env, has_backups));
    Ok(r)
}

/// What to do about a damaged env, from where the user stands: undo if there is an action to
/// undo, restore if there are backups, else a reset that keeps the damaged file as evidence.
fn recovery_advice(env: &str, has_backups: bool) -> String {
    if has_backups {
        format!(
            "recover with `pipeline-db backups list {env}` then `pipeline-db restore {env} <backup>` (or `pipeline-db undo {env}` if its last action was the damage); where that refuses (rows that break CHECK constraints or foreign keys cannot be backed up first), rebuild it empty with `pipeline-db reset {env} --keep-evidence` (the damaged file is kept as a byte-identical evidence copy), then restore"
        )
    } else {
        format!(
            "{env} has no backup to restore: rebuild it with `pipeline-db reset {env} --keep-evidence` (the damaged file is kept as a byte-identical evidence copy first), or restore a backup from elsewhere with `pipeline-db restore {env} FILE`"
        )
    }
}
