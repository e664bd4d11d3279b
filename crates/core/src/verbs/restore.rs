//! `restore`: verify a backup, back up the current database, then copy the backup *into* the live
//! database through SQLite's backup API inside the lock (the file is never renamed or replaced,
//! so a desktop holding it open sees the new content), retagged to the target env.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::backups::verify::{self, VerifyReport};
use crate::error::{Error, Result, StepExt, UNCHANGED, WRITTEN_SINCE};
use crate::progress::{Observer, Progress};
use crate::safety::audit::Recorder;
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{self, BackupStep, Plan, Promises, TableRows};
use crate::safety::ritual;
use crate::safety::session::{self, Opened};
use crate::safety::space::SpaceCheck;
use crate::safety::watch::{data_version, Watch};
use crate::schema::tag::{self, Identity};
use crate::storage::db::{self, Access};
use crate::storage::fs;
use crate::verb::Verb;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

/// The backup a restore reads from.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RestoreSource {
    pub path: PathBuf,
    /// Which file was at `path` when the plan was made (device, inode), or `missing`.
    pub file_id: String,
    /// The manifest that vouches for it (only in a backup dir of ours).
    pub manifest: Option<BackupRecord>,
    /// The sha256 of the SQLite content the plan read, for a file no manifest vouches for: the
    /// staged copy must hash the same, so the file cannot change unseen between the plan shown
    /// and the restore (a vouched one is bound by its manifest's sha256).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub content_sha256: Option<String>,
    pub verification: VerifyReport,
    pub tables: Vec<TableRows>,
    pub total_rows: u64,
}

/// What a restore will do. Printed by `--dry-run`/`--json`, rendered by the desktop.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RestorePlan {
    #[cfg_attr(feature = "ts", ts(type = r#""restore" | "undo""#))]
    pub verb: Verb,
    pub env: String,
    pub path: PathBuf,
    /// Which file was at `path` when the plan was made (device, inode), or `missing`: the plan
    /// re-made under the lock refuses another file there.
    pub file_id: String,
    pub protected: bool,
    pub exists: bool,
    pub identity: Option<Identity>,
    /// What the database holds now (all of it is replaced).
    pub tables: Vec<TableRows>,
    pub total_rows: u64,
    pub source: RestoreSource,
    pub backup: Option<BackupStep>,
    pub space: Vec<SpaceCheck>,
    pub confirmation: Confirmation,
    /// The backup's schema is older than this pipeline-db's: `migrate ENV` afterwards.
    pub migrate_after: bool,
    /// Why the current database cannot be read (it is then kept as an evidence copy).
    pub current_damaged: Option<String>,
    pub notes: Vec<String>,
}

impl Plan for RestorePlan {
    fn verb(&self) -> Verb {
        self.verb
    }
    fn env(&self) -> &str {
        &self.env
    }
    fn confirmation(&self) -> Confirmation {
        self.confirmation
    }
    fn summary(&self) -> String {
        format!(
            "replace {} with {} from {}",
            plan::summarize(&self.tables),
            plan::summarize(&self.source.tables),
            self.source.path.display()
        )
    }
    fn promises(&self) -> Promises {
        self.promises_without_confirmation()
            .item("confirmation", format!("{:?}", self.confirmation))
    }
    fn backup_step(&self) -> Option<&BackupStep> {
        self.backup.as_ref()
    }
    fn backup_step_mut(&mut self) -> Option<&mut BackupStep> {
        self.backup.as_mut()
    }
}

impl RestorePlan {
    /// What is replaced and what replaces it (undo adds its own confirmation rule).
    pub(crate) fn promises_without_confirmation(&self) -> Promises {
        Promises::new(self.verb, &self.env)
            .file("file", &self.file_id)
            .rows("replace", &self.tables)
            .item("damaged", self.current_damaged.is_some())
            .item("source", self.source.path.display())
            .file("source file", &self.source.file_id)
            .item(
                "source sha256",
                self.source
                    .content_sha256
                    .as_deref()
                    .unwrap_or("its manifest's"),
            )
            .rows("with", &self.source.tables)
            .backup(self.backup.as_ref())
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RestoreOutcome {
    pub plan: RestorePlan,
    /// The pre-restore backup of what was replaced (none if the database did not exist).
    pub backup: Option<BackupRecord>,
    /// Byte-identical copies of a damaged database that was replaced.
    pub evidence: Vec<PathBuf>,
    pub row_counts_after: Vec<TableRows>,
    pub duration_ms: u64,
    /// Where the time went, step by step.
    pub timings: Vec<crate::storage::timing::StepTime>,
    /// The automatic retention pass after its backup: what it deleted, kept, and could not meet.
    pub retention: Option<crate::safety::retention::RetentionReport>,
}

/// What the user asks `restore` to do: BACKUP is a name in ENV's backup dir or a path.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    pub env: String,
    pub backup: String,
}

/// Plans `restore ENV BACKUP` (the backup is fully verified).
pub fn plan(ws: &Workspace, req: &RestoreRequest) -> Result<RestorePlan> {
    let target = ws.env(&req.env)?;
    let path = crate::backups::names::resolve_backup_arg(&target.backup_dir, &req.backup)?;
    plan_path(ws, &target, &path, Verb::Restore, None, LiveCheck::Run)
}

/// Whether a plan runs `quick_check` on the live file: a plan made before the confirmation does;
/// the plan made again under the lock right after the ritual's open (which ran it under that same
/// lock) does not run it a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LiveCheck {
    Run,
    DoneUnderLock,
}

/// Plans a restore of the backup file at `path` (also used by `undo`). The source is read, not
/// verified: its full verification runs once, on the staged copy after the confirmation and
/// before anything is replaced (the plan says so). `relied_on`: the existing backup the shown
/// plan relied on, when this is the plan made again under the lock (see `same_state::holding`).
pub(crate) fn plan_path(
    ws: &Workspace,
    target: &EnvTarget,
    path: &Path,
    verb: Verb,
    relied_on: Option<&Path>,
    live: LiveCheck,
) -> Result<RestorePlan> {
    refuse_live_files(ws, path)?;
    let manifest = crate::backups::record::trusted_manifest(ws, path);
    let source = inspect_source(path, manifest, &ws.backups_root())?;
    let exists = target.path.exists();
    let mut p = RestorePlan {
        verb,
        env: target.name.clone(),
        path: target.path.clone(),
        file_id: crate::safety::plan::file_id(&target.path),
        protected: target.protected,
        exists,
        identity: None,
        tables: vec![],
        total_rows: 0,
        backup: None,
        space: vec![],
        // A protected env always needs the typed name, even when its file is missing.
        confirmation: Confirmation::for_target(target, exists || target.protected),
        migrate_after: false,
        current_damaged: None,
        notes: vec![],
        source,
    };
    match inspect_live(ws, target, live, relied_on) {
        Ok(None) => {}
        Ok(Some((identity, counts, held))) => {
            p.identity = Some(identity);
            p.tables = plan::table_rows(&counts);
            p.total_rows = p.tables.iter().map(|t| t.rows).sum();
            p.backup = Some(match held {
                Some(held) => BackupStep::existing(target, Reason::PreRestore, &held),
                None => BackupStep::new(
                    target,
                    Reason::PreRestore,
                    true,
                    "the current database is backed up (verified) before it is replaced",
                ),
            });
        }
        // A damaged database cannot be backed up verified: it is kept byte for byte instead.
        Err(e) if crate::safety::health::is_damaged(&e) => {
            // SQLite's message names objects of the file (an index named with newlines).
            let e = crate::storage::text::printable(&e.to_string());
            p.notes.push(format!(
                "the current database is damaged ({e}); it is kept as a byte-identical evidence copy `{}` instead of a verified backup",
                crate::backups::evidence::planned_name(ws, &target.name, &target.path).display()
            ));
            p.current_damaged = Some(e);
        }
        Err(e) => return Err(e),
    }
    p.space = preflight(target, &p.source)?;
    add_notes(&mut p, target);
    Ok(p)
}

/// The existing backup a shown plan relied on instead of taking one (for the plan made again).
pub(crate) fn relied_on(step: &Option<BackupStep>) -> Option<&Path> {
    step.as_ref()
        .filter(|b| b.existing)
        .map(|b| b.path.as_path())
}

/// What a plan reads of the live database: its identity, row counts, and the backup that holds it.
type LiveLook = (Identity, BTreeMap<String, u64>, Option<BackupRecord>);

/// Identity and row counts of the live database after a `quick_check` (unless it just ran under
/// the lock, `live`), with the backup that holds exactly it, if any (`same_state::holding`; looked
/// for on the other core while `quick_check` runs); `None` if missing.
fn inspect_live(
    ws: &Workspace,
    target: &EnvTarget,
    live: LiveCheck,
    relied_on: Option<&Path>,
) -> Result<Option<LiveLook>> {
    let Some(c) = session::inspect_for_change(ws, target)? else {
        return Ok(None);
    };
    let corrupt = |e: Error| crate::safety::health::corrupt_if_malformed(e, target);
    let held = std::thread::scope(|s| {
        let held = s.spawn(|| holding_beside(ws, target, relied_on));
        let healthy = match live {
            LiveCheck::Run => crate::safety::health::require_healthy(&c, target),
            LiveCheck::DoneUnderLock => Ok(()),
        };
        let held = held.join().unwrap_or_else(|_| {
            Err(Error::Internal(
                "the backup comparison thread panicked".into(),
            ))
        });
        healthy.map(|()| held)
    })?;
    let identity = tag::require_identity(&c, target).map_err(corrupt)?;
    let counts = db::row_counts(&c).map_err(corrupt)?;
    // Its rows must be the ones read here (the file may have changed in between: no lock). The
    // lookup only spares a backup: when it fails, the plan takes a new one.
    let held = match held {
        Ok(held) => held.filter(|b| b.row_counts == counts),
        Err(e) => {
            tracing::warn!("no backup looked for that holds {}: {e}", target.name);
            None
        }
    };
    Ok(Some((identity, counts, held)))
}

/// `same_state::holding` with row counts read on a connection of its own.
fn holding_beside(
    ws: &Workspace,
    target: &EnvTarget,
    relied_on: Option<&Path>,
) -> Result<Option<BackupRecord>> {
    let counts = db::row_counts(&db::open(
        &target.path,
        Access::ReadOnly,
        ws.busy_timeout(),
    )?)?;
    crate::backups::same_state::holding(target, &counts, relied_on)
}

/// A live database (or one with a WAL beside it) is not a backup: copying its file would miss
/// what its WAL holds. Take a backup of it with `pipeline-db backup` instead.
fn refuse_live_files(ws: &Workspace, path: &Path) -> Result<()> {
    let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(t) = ws.env_of_file(path) {
        return Err(Error::InvalidInput(format!(
            "{} is the live database of {} (or one of its files), not a backup; run `pipeline-db backup {}` and restore that",
            path.display(),
            t.name,
            t.name
        )));
    }
    let mut wal = canon.clone().into_os_string();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(Error::Refused(format!(
            "{} has a write-ahead log beside it (it is open somewhere, or was not closed cleanly): its file alone is not a complete backup. Close the program using it, or back it up with SQLite first",
            path.display()
        )));
    }
    Ok(())
}

/// Reads what the backup holds (header, schema, tag, rows; no sha256 or `quick_check`: those run
/// on the staged copy); refuses an unreadable file or a newer schema. `manifest`: the one that
/// vouches for it ([`crate::backups::record::trusted_manifest`]), if any.
fn inspect_source(
    path: &Path,
    manifest: Option<BackupRecord>,
    scratch: &Path,
) -> Result<RestoreSource> {
    if crate::backups::stored::is_compressed(path) {
        if let Some(m) = manifest {
            return from_manifest(path, m);
        }
    }
    let plain = crate::backups::stored::plain(path, scratch)?;
    let mut verification = verify::describe(&plain.path);
    verification.path = path.to_path_buf();
    verification.has_manifest = manifest.is_some();
    if let Some(e) = verification.error() {
        return Err(e);
    }
    let known = crate::schema::migrations::latest_version();
    if let Some(v) = verification.schema_version.filter(|v| *v > known) {
        return Err(Error::NewerSchema {
            path: path.to_path_buf(),
            found: v,
            known,
        });
    }
    let conn = db::open_immutable(&plain.path)?.ok_or_else(|| {
        Error::Refused(format!(
            "{} has a write-ahead log or journal beside it: its file alone is not a complete backup; {UNCHANGED}",
            path.display()
        ))
    })?;
    let tables = plan::table_rows(&db::row_counts(&conn)?);
    let content_sha256 = match (&manifest, &plain.sha256) {
        (Some(_), _) => None,
        (None, Some(sha)) => Some(sha.clone()),
        (None, None) => Some(crate::storage::hash::file(path)?),
    };
    Ok(RestoreSource {
        path: path.to_path_buf(),
        file_id: crate::safety::plan::file_id(path),
        content_sha256,
        manifest,
        total_rows: tables.iter().map(|t| t.rows).sum(),
        tables,
        verification,
    })
}

/// A compressed backup with a manifest: the plan shows what its manifest says (decompressing it
/// only to count its rows would add a whole pass, twice with the re-check under the lock); the
/// staged copy is then verified against the manifest's sha256 and must hold exactly those rows
/// and that schema version (see [`stage`]).
fn from_manifest(path: &Path, m: BackupRecord) -> Result<RestoreSource> {
    let known = crate::schema::migrations::latest_version();
    if let Some(v) = m.schema_version.filter(|v| *v > known) {
        return Err(Error::NewerSchema {
            path: path.to_path_buf(),
            found: v,
            known,
        });
    }
    let tables = plan::table_rows(&m.row_counts);
    let verification = VerifyReport {
        path: path.to_path_buf(),
        ok: true,
        verified_at: crate::now_rfc3339(),
        has_manifest: true,
        sha256_matches: None,
        schema_version: m.schema_version,
        tagged_env: Some(m.env.clone()),
        problem: None,
        schema_differences: vec![],
        checks: vec![
            "its manifest (rows, schema version, env); the content is decompressed and checked against it after you confirm".into(),
        ],
        inconclusive: false,
    };
    Ok(RestoreSource {
        path: path.to_path_buf(),
        file_id: crate::safety::plan::file_id(path),
        total_rows: tables.iter().map(|t| t.rows).sum(),
        tables,
        verification,
        manifest: Some(m),
        content_sha256: None,
    })
}

fn add_notes(p: &mut RestorePlan, target: &EnvTarget) {
    let env = &target.name;
    let v = &p.source.verification;
    p.notes.push(
        "the backup is verified in full after you confirm, on a staged copy and before anything is replaced: sha256 against its manifest, integrity_check with CHECK constraints, the schema, foreign keys"
            .into(),
    );
    match &v.tagged_env {
        Some(from) if from != env => p.notes.push(format!(
            "this backup was taken from {from}; it will be tagged {env}"
        )),
        Some(_) => {}
        None => p.notes.push(format!(
            "this backup carries no env tag; it will be tagged {env}"
        )),
    }
    if !v.has_manifest {
        p.notes.push(
            "no manifest beside this backup: its sha256 cannot be compared; CHECK constraints are checked on the staged copy before anything is replaced"
                .into(),
        );
    }
    let latest = crate::schema::migrations::latest_version();
    if v.schema_version.unwrap_or(0) < latest {
        p.migrate_after = true;
        p.notes.push(format!(
            "the backup has schema version {}, older than V{latest}: run `pipeline-db migrate {env}` after restoring",
            v.schema_version.map(|s| format!("V{s}")).unwrap_or_else(|| "none".into())
        ));
    }
    if !p.exists {
        p.notes.push(format!(
            "{} does not exist: it will be created from the backup; no pre-restore backup is needed",
            target.path.display()
        ));
    }
}

/// The SQLite size of a backup: its manifest's for a compressed one (else 10× the stored file,
/// more than zstd gains on our databases), the file's for a plain one.
fn source_bytes(source: &RestoreSource) -> u64 {
    let file = std::fs::metadata(&source.path)
        .map(|m| m.len())
        .unwrap_or(0);
    match crate::backups::stored::is_compressed(&source.path) {
        true => source
            .manifest
            .as_ref()
            .map(|m| m.size_bytes)
            .unwrap_or(file * 10),
        false => file,
    }
}

/// Room for the staging copy, the pre-restore backup and the copied pages.
fn preflight(target: &EnvTarget, source: &RestoreSource) -> Result<Vec<SpaceCheck>> {
    let src = source_bytes(source);
    let dir = target.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let needed = 2 * src + crate::safety::space::db_bytes(&target.path) + 64 * 1024;
    let mut out = vec![crate::safety::space::require(
        dir,
        needed,
        "a staged copy of the backup",
    )?];
    if target.path.exists() {
        out.extend(crate::safety::space::preflight_space(target, true)?);
    }
    Ok(out)
}

/// Restores the backup of `shown` after the confirmation it asks for, reporting progress
/// (staging, verifying, the pre-restore backup, the page copy) to `obs`, which can cancel it at
/// any point before the copy completes: the copy's write transaction is rolled back and the
/// database is unchanged. Under the lock the plan is made again and compared with `shown`.
pub fn execute(
    ws: &Workspace,
    shown: &RestorePlan,
    confirmed: &Confirmed,
    obs: &dyn Observer,
) -> Result<RestoreOutcome> {
    let ws = &ws.as_configured_now()?;
    let target = ws.env(&shown.env)?;
    let source = shown.source.path.clone();
    let done = run_shown(ws, &target, shown, shown, confirmed, obs, |live| {
        let relied = relied_on(&shown.backup);
        plan_path(ws, &target, &source, shown.verb, relied, live)
    })?;
    Ok(done.out)
}

/// Runs the restore that `restore` describes for the plan the user saw (`shown`: a restore or an
/// undo plan), in the ritual's order: confirmation → lock → plan again (refused if it changed)
/// → staged, verified copy → pre-restore backup → copy into the live file → checks → audit.
/// `replan` makes the plan again under the lock; its argument says whether the live file's
/// `quick_check` has just run under that lock.
pub(crate) fn run_shown<P: Plan>(
    ws: &Workspace,
    target: &EnvTarget,
    shown: &P,
    restore: &RestorePlan,
    confirmed: &Confirmed,
    obs: &dyn Observer,
    replan: impl FnOnce(LiveCheck) -> Result<P>,
) -> Result<ritual::Done<P, RestoreOutcome>> {
    let done = ritual::audited(ws, &target.name, &target.path, shown, |rec| {
        crate::safety::plan::require_confirmed(shown, confirmed, target)?;
        let started = Instant::now();
        crate::storage::timing::reset();
        let (mut plan, mut out) =
            restore_locked(ws, target, shown, restore.clone(), rec, obs, replan)?;
        plan::name_backup_made(&mut plan, out.backup.as_ref());
        plan::name_backup_made(&mut out.plan, out.backup.as_ref());
        let out = RestoreOutcome {
            duration_ms: started.elapsed().as_millis() as u64,
            timings: crate::storage::timing::take(),
            ..out
        };
        Ok(ritual::Done {
            summary: None,
            evidence: out.evidence.clone(),
            backup: out.backup.clone(),
            duration_ms: out.duration_ms,
            timings: out.timings.clone(),
            retention: None,
            plan,
            out,
        })
    })?;
    let mut done = done.then_retention(ws, target);
    done.out.retention = done.retention.clone();
    Ok(done)
}

fn restore_locked<P: Plan>(
    ws: &Workspace,
    target: &EnvTarget,
    shown: &P,
    mut plan: RestorePlan,
    rec: &Recorder,
    obs: &dyn Observer,
    replan: impl FnOnce(LiveCheck) -> Result<P>,
) -> Result<(P, RestoreOutcome)> {
    let env = target.name.as_str();
    let verb = shown.verb();
    let staging = fs::temp_beside(&target.path);
    let mut evidence = vec![];
    let mut fresh = None;
    let result = (|| {
        if plan.current_damaged.is_some() {
            let _lock = ritual::lock(ws, target, verb)?;
            rec.hold(&_lock);
            // The damaged file was not opened: the plan made again checks it itself.
            fresh = Some(recheck(shown, || replan(LiveCheck::Run))?);
            plan.source.verification = stage(&plan.source, &staging, (env, None), obs, || ())
                .step(verb, env, "verify", UNCHANGED)?
                .0;
            crate::backups::evidence::require_not_open_elsewhere(&target.path)?;
            evidence = crate::backups::evidence::keep_evidence(
                &target.path,
                &crate::backups::evidence::dir_for(ws, &target.name, &target.path),
            )?;
            return replace_damaged(ws, target, verb, &staging).map(|c| (None, c));
        }
        let opened = ritual::open(ws, target, verb, true)?;
        rec.hold(opened.lock());
        fresh = Some(recheck(shown, || replan(LiveCheck::DoneUnderLock))?);
        let page_size = match &opened {
            Opened::Existing(s) => Some(page_size(&s.conn)?),
            Opened::Missing(_) => None,
        };
        let step = shown
            .backup_step()
            .cloned()
            .unwrap_or_else(|| BackupStep::new(target, Reason::PreRestore, true, ""));
        // The backup the plan relied on is compared with the database on the other core while
        // the staged copy is verified (it needs no write lock: its watch catches any commit made
        // after it). It waits for the staging copy, which keeps both cores busy on its own.
        let ((verification, staged), held) = std::thread::scope(|sc| {
            let relied = matches!(opened, Opened::Existing(_)) && step.existing;
            let (copied, go) = std::sync::mpsc::channel::<()>();
            let held = relied.then(|| {
                let step = &step;
                sc.spawn(move || match go.recv() {
                    Ok(()) => ritual::existing_backup(ws, target, step),
                    // The staging copy failed: nothing to compare for.
                    Err(_) => (None, Duration::ZERO),
                })
            });
            let staged = crate::storage::timing::step("restore: stage + verify", || {
                stage(&plan.source, &staging, (env, page_size), obs, move || {
                    let _ = copied.send(());
                })
            })
            .step(verb, env, "verify", UNCHANGED)
            .and_then(|s| crate::storage::failpoint::hit("restore:staged").map(|()| s));
            // A comparison that panicked proves nothing: a new backup is taken.
            let held = held.and_then(|h| {
                let (held, took) = h.join().unwrap_or((None, Duration::ZERO));
                crate::storage::timing::record_duration(
                    "backup: existing backup checked (no new one), beside staging",
                    took,
                );
                held
            });
            Ok::<_, Error>((staged?, held))
        })?;
        plan.source.verification = verification;
        match opened {
            Opened::Missing(_lock) => {
                session::clear_stale_sidecars(&target.path)?;
                fs::rename_noreplace(&staging, &target.path)
                    .map_err(Error::io("placing restored database", &target.path))?;
                fs::fsync_dir(target.path.parent().unwrap_or(Path::new(".")))?;
                // From here the restored file is in place: a failure says so.
                let placed = |e| crate::safety::health::committed_but(e, verb, target, None);
                let c =
                    db::open(&target.path, Access::ReadWrite, ws.busy_timeout()).map_err(placed)?;
                crate::safety::health::verify_after(&c, target, "integrity_check")
                    .map_err(placed)?;
                Ok((None, db::row_counts(&c).map_err(placed)?))
            }
            Opened::Existing(mut s) => {
                // Undo's "after" fingerprint is taken from the staged copy on a second core while
                // the copy runs: the restored rows are exactly the staged ones (page copy, counts
                // checked after).
                let (backup, fp) = std::thread::scope(|sc| {
                    let fp = sc.spawn(|| {
                        let t = Instant::now();
                        let fp = fingerprint_file(&staging);
                        (fp, t.elapsed())
                    });
                    let backup = copy_in(
                        ws,
                        target,
                        (verb, &step, held),
                        &mut s.conn,
                        (&staging, &staged),
                        obs,
                    );
                    let (fp, took) = fp.join().unwrap_or_else(|_| {
                        let e = Error::Internal("the fingerprint thread panicked".into());
                        (Err(e), Duration::ZERO)
                    });
                    crate::storage::timing::record_duration(
                        "restore: fingerprint for undo (in parallel)",
                        took,
                    );
                    (backup, fp)
                });
                let backup = backup?;
                match fp {
                    Ok(fp) => rec.set_after(fp),
                    Err(e) => tracing::warn!("fingerprint after restore: {e}"),
                }
                Ok((Some(backup), db::row_counts(&s.conn)?))
            }
        }
    })();
    let _ = std::fs::remove_file(&staging);
    let (backup, counts) = result?;
    let fresh = fresh.ok_or_else(|| Error::Internal("restore ran without its re-check".into()))?;
    Ok((
        fresh,
        RestoreOutcome {
            plan,
            backup,
            evidence,
            row_counts_after: plan::table_rows(&counts),
            duration_ms: 0,
            timings: vec![],
            retention: None,
        },
    ))
}

fn recheck<P: Plan>(shown: &P, replan: impl FnOnce() -> Result<P>) -> Result<P> {
    let now = replan()?;
    plan::require_unchanged(shown, &now)?;
    Ok(now)
}

/// The pre-restore backup, the page copy into the live database, then the check after.
/// `held`: the existing backup found to hold the database, if any (then no new one is taken).
fn copy_in(
    ws: &Workspace,
    target: &EnvTarget,
    (verb, step, held): (Verb, &BackupStep, Option<(BackupRecord, Watch)>),
    live: &mut Connection,
    (staging, staged): (&Path, &Staged),
    obs: &dyn Observer,
) -> Result<BackupRecord> {
    let env = target.name.as_str();
    let (backup, watch) = ritual::back_up_then_release(ws, target, verb, step, live, obs, held)?;
    // Until the copy commits, a failure leaves the database as it was: it names the backup.
    let kept = |e: Error| e.backup_kept(&backup.path);
    // This connection's own commits (the page copy, its checkpoint) leave its `data_version` as
    // it is: a change of it below means another program wrote after the copy.
    let version = data_version(live).map_err(kept)?;
    crate::storage::failpoint::hit("restore:before_copy").map_err(kept)?;
    crate::storage::timing::step("restore: copy into the live database", || {
        copy_into(
            staging,
            live,
            &target.path,
            ws.busy_timeout(),
            obs,
            Some(&watch),
        )
    })
    .step(verb, env, "copy", UNCHANGED)
    .map_err(kept)?;
    obs.stage(crate::progress::COMMITTED);
    let after = crate::storage::failpoint::hit("restore:after_copy").and_then(|()| {
        crate::storage::timing::step("restore: checkpoint + verify after", || {
            verify_restored(live, target, (staging, staged), ws.busy_timeout())
        })
    });
    match after {
        Ok(()) => Ok(backup),
        Err(cause) => Err(put_back(ws, target, (verb, version), live, &backup, cause)),
    }
}

/// The live file was written and then failed its checks: its previous content is copied back
/// from the verified pre-restore backup before anything is reported, and the error says what
/// the database holds now and where that backup is.
/// `version`: the live connection's `data_version` before the copy. If another program wrote
/// after the copy, copying the previous content back would erase its writes: it is not done,
/// and the error says so.
fn put_back(
    ws: &Workspace,
    target: &EnvTarget,
    (verb, version): (Verb, i64),
    live: &mut Connection,
    backup: &BackupRecord,
    cause: Error,
) -> Error {
    tracing::error!(
        "{verb} of {}: {cause}; putting the previous content back",
        target.name
    );
    Error::PutBack {
        verb,
        env: target.name.clone(),
        cause: Box::new(cause),
        backup: backup.path.clone(),
        put_back_failed: copy_back(ws, target, version, live, backup).err(),
    }
}

/// [`put_back`]'s copy; `Err`: why the previous content is not back.
fn copy_back(
    ws: &Workspace,
    target: &EnvTarget,
    version: i64,
    live: &mut Connection,
    backup: &BackupRecord,
) -> std::result::Result<(), String> {
    // The watch is marked first, then the live connection shows no other writer up to now: a
    // commit after this point is seen by the watch when the copy back takes the write lock.
    let watch = Watch::open(&target.path, ws.busy_timeout());
    match data_version(live) {
        Ok(now) if now == version => {}
        Ok(_) => return Err(WRITTEN_SINCE.into()),
        // Fail closed: without knowing, a put-back could erase another program's writes.
        Err(e) => {
            return Err(format!(
                "whether another program wrote to it since the copy cannot be read: {e}"
            ))
        }
    }
    let failed = |e: Error| format!("copying it back failed: {e}");
    let watch = watch.map_err(failed)?;
    // A compressed backup is copied from its plain content, which must be the verified snapshot.
    let plain = crate::backups::stored::plain(&backup.path, &ws.backups_root())
        .and_then(|p| match &p.sha256 {
            Some(sha) if sha != &backup.sha256 => Err(Error::BackupVerify {
                path: backup.path.clone(),
                detail: format!(
                    "it decompresses to sha256 {sha}, not the recorded {}",
                    backup.sha256
                ),
            }),
            _ => Ok(p),
        })
        .map_err(failed)?;
    // Quiet: a cancel already asked for must not stop the copy that puts things back.
    let (quiet, timeout) = (&crate::Quiet, ws.busy_timeout());
    match copy_into(
        &plain.path,
        live,
        &target.path,
        timeout,
        quiet,
        Some(&watch),
    ) {
        Err(Error::Refused(_)) if watch.require_unchanged().is_err() => {
            return Err(WRITTEN_SINCE.into())
        }
        copied => copied.map_err(failed)?,
    }
    let _ = live.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    crate::safety::health::require_healthy(live, target).map_err(failed)?;
    let now = db::row_counts(live).map_err(failed)?;
    match now == backup.row_counts {
        true => Ok(()),
        false => Err(format!(
            "after copying it back, it holds {} rows, the backup {}",
            now.values().sum::<u64>(),
            backup.row_counts.values().sum::<u64>()
        )),
    }
}

fn fingerprint_file(path: &Path) -> Result<crate::storage::fingerprint::Fingerprint> {
    let c = db::open(path, Access::ReadOnly, Duration::from_secs(1))?;
    crate::storage::fingerprint::of_snapshot(&c)
}

/// Restores over a damaged database (its evidence copy already kept): through the backup API
/// when SQLite can still open it, else — a file that is not a database cannot be held open as
/// one — by renaming the staged copy over it, after removing its WAL and shared-memory files.
fn replace_damaged(
    ws: &Workspace,
    target: &EnvTarget,
    verb: Verb,
    staging: &Path,
) -> Result<BTreeMap<String, u64>> {
    let via_api = (|| {
        if db::check_header(&target.path)? != db::FileState::Database {
            return Err(Error::InvalidInput("missing".into()));
        }
        let mut c = db::open(&target.path, Access::ReadWrite, ws.busy_timeout())?;
        copy_into(
            staging,
            &mut c,
            &target.path,
            ws.busy_timeout(),
            &crate::Quiet,
            None,
        )?;
        crate::safety::health::verify_after(&c, target, "integrity_check")
    })();
    if let Err(e) = via_api {
        // Another program holds it: replacing the file would lose what it writes next.
        if e.exit_code() == crate::exit::BUSY {
            return Err(e);
        }
        crate::backups::evidence::require_not_open_elsewhere(&target.path)?;
        tracing::warn!(
            "restoring over the damaged file through the backup API failed ({e}); replacing it"
        );
        for suffix in ["-wal", "-shm"] {
            let mut p = target.path.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        std::fs::rename(staging, &target.path)
            .map_err(Error::io("replacing damaged database", &target.path))?;
        fs::fsync_dir(target.path.parent().unwrap_or(Path::new(".")))?;
    }
    // The damaged file was replaced (its evidence copy kept): a failure from here says so.
    let placed = |e| crate::safety::health::committed_but(e, verb, target, None);
    let c = db::open(&target.path, Access::ReadWrite, ws.busy_timeout()).map_err(placed)?;
    crate::safety::health::verify_after(&c, target, "integrity_check").map_err(placed)?;
    db::row_counts(&c).map_err(placed)
}

/// What was staged: its row counts and the size of its pages (bytes past its last page, which
/// SQLite ignores, are not part of it).
struct Staged {
    counts: BTreeMap<String, u64>,
    bytes: u64,
    page_size: u64,
}

/// Copies the backup to a private staging file, verifies *that copy* (what will be restored is
/// exactly what was checked), and tags it `env` — so the restore itself is one atomic commit.
/// A WAL database cannot change its page size, so the staging copy takes the live one's.
/// `copied` is called once the staging copy is written (before its verification).
fn stage(
    source: &RestoreSource,
    staging: &Path,
    (env, page): (&str, Option<i64>),
    obs: &dyn Observer,
    copied: impl FnOnce(),
) -> Result<(VerifyReport, Staged)> {
    // One read of the backup gives the staged copy and the sha256 of exactly the bytes written.
    let sha = crate::storage::timing::step("restore: stage copy (hashed) + fsync", || {
        let total = source_bytes(source);
        let report = |done| {
            obs.bytes(&Progress {
                stage: "staging",
                done,
                total,
            })
        };
        if crate::backups::stored::is_compressed(&source.path) {
            return crate::backups::stored::decompress_hashed(&source.path, staging, &report);
        }
        let mut to = fs::create_new(staging)?;
        crate::storage::hash::copy_hashed(&source.path, &mut to, staging, &report)
    })?;
    if let Some(planned) = source.content_sha256.as_ref().filter(|p| **p != sha) {
        return Err(Error::SourceUnsound {
            path: source.path.clone(),
            detail: format!(
                "it changed after the plan was made: its content's sha256 is {sha}, the plan read {planned}"
            ),
        });
    }
    copied();
    let mut v = crate::storage::timing::step("restore: verify staged copy", || {
        verify::verify_hashed(staging, source.manifest.as_ref(), &sha)
    });
    v.path = source.path.clone();
    if let Some(e) = v.error() {
        return Err(e);
    }
    if v.schema_version.unwrap_or(0) > crate::schema::migrations::latest_version() {
        return Err(Error::NewerSchema {
            path: source.path.clone(),
            found: v.schema_version.unwrap_or(0),
            known: crate::schema::migrations::latest_version(),
        });
    }
    // The staged copy passed every check above (foreign keys included); it is still a file from
    // elsewhere, so it is opened with the same defences as any other.
    let c = Connection::open(staging)
        .and_then(|c| db::harden(&c).map(|()| c))
        .map_err(|e| db::classify(staging, e, "opening staging copy".into()))?;
    require_as_planned(source, &v, &c)?;
    c.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))
        .map_err(Error::sql("staging copy"))?;
    c.execute_batch("BEGIN IMMEDIATE")
        .map_err(Error::sql("staging copy"))?;
    tag::write_tag(&c, env, None, "restore")?;
    c.execute_batch("COMMIT")
        .map_err(Error::sql("tagging staging copy"))?;
    if let Some(p) = page.filter(|p| page_size(&c).is_ok_and(|now| now != *p)) {
        c.execute_batch(&format!("PRAGMA page_size = {p}; VACUUM;"))
            .map_err(Error::sql("converting the staging copy's page size"))?;
    }
    let counts = db::row_counts(&c)?;
    let page_size = page_size(&c)? as u64;
    let pages: i64 = c
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(Error::sql("staging copy"))?;
    c.close()
        .map_err(|(_, e)| db::classify(staging, e, "closing staging copy".into()))?;
    fs::fsync_file(staging)?;
    let bytes = pages as u64 * page_size;
    Ok((
        v,
        Staged {
            counts,
            bytes,
            page_size,
        },
    ))
}

/// The staged copy must hold what the plan showed: the same rows per table and schema version
/// (a file changed after the plan, or a manifest that does not describe its file, is refused).
fn require_as_planned(source: &RestoreSource, v: &VerifyReport, c: &Connection) -> Result<()> {
    let staged = plan::table_rows(&db::row_counts(c)?);
    let planned = &source.verification.schema_version;
    if staged == source.tables && &v.schema_version == planned {
        return Ok(());
    }
    let version = |v: &Option<i64>| v.map_or("none".to_string(), |v| format!("V{v}"));
    Err(Error::SourceUnsound {
        path: source.path.clone(),
        detail: format!(
            "it holds {} at schema {}, but the plan showed {} at schema {}: it changed after the plan was made, or its manifest does not describe it",
            plan::summarize(&staged),
            version(&v.schema_version),
            plan::summarize(&source.tables),
            version(planned)
        ),
    })
}

/// After the page copy: the WAL is checkpointed into the file (so the restored content does not
/// live only in the log) while the staged copy's structure is checked again on the other core (it
/// was retagged, and maybe converted, after its full verification), then a reader begins. When the
/// log is then empty, that reader reads the main file alone and no checkpoint can write into the
/// file while it is open: the file is compared, page for page, with the staged copy (the header's
/// counters aside; the backup API copies pages verbatim). When another connection holds the log (a
/// reader of the old content, or a writer), or the comparison cannot read a file, `quick_check`
/// (CHECK constraints included) runs on the reader's snapshot instead. Either way the row counts
/// must equal what was staged.
fn verify_restored(
    c: &Connection,
    target: &EnvTarget,
    (staging, staged): (&Path, &Staged),
    busy_timeout: Duration,
) -> Result<()> {
    std::thread::scope(|s| {
        let structure = s.spawn(|| staged_structure(staging));
        crate::storage::timing::step("restore: checkpoint", || {
            let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        });
        structure.join().unwrap_or_else(|_| {
            Err(Error::CheckFailed(
                "the staged copy's check panicked".into(),
            ))
        })
    })?;
    let reader = db::open(&target.path, Access::ReadWrite, busy_timeout)?;
    reader
        .execute_batch("BEGIN")
        .map_err(Error::sql("starting a read transaction"))?;
    let now = db::row_counts(&reader)?;
    let wal = std::fs::metadata(db::sidecar(&target.path, "-wal"));
    let compared = match wal.is_ok_and(|m| m.len() == 0) {
        true => crate::storage::timing::step("restore: compare with the staged copy", || {
            let same = crate::backups::same_state::same_pages;
            same(&target.path, staging, staged.bytes, staged.page_size)
        }),
        false => Err(Error::Internal("another connection holds the log".into())),
    };
    match compared {
        Ok(true) => {}
        Ok(false) => {
            return Err(Error::CheckFailed(format!(
                "after restoring, {} is not page for page the verified staged copy",
                target.path.display()
            )))
        }
        Err(why) => {
            tracing::info!("no page comparison after the restore ({why}): quick_check instead");
            crate::storage::timing::step(
                "restore: quick_check after (no page comparison)",
                || crate::safety::health::require_healthy(&reader, target),
            )?;
        }
    }
    let staged = plan::table_rows(&staged.counts);
    let now = plan::table_rows(&now);
    if now != staged {
        return Err(Error::CheckFailed(format!(
            "after restoring, {} holds {} but the backup held {}",
            target.path.display(),
            plan::summarize(&now),
            plan::summarize(&staged)
        )));
    }
    Ok(())
}

/// `quick_check` of the staged copy's structure (read-only: CHECK constraints, verified before it
/// was retagged, are not read again; the tag's own row was checked by SQLite as it was written).
fn staged_structure(staging: &Path) -> Result<()> {
    let c = db::open_immutable(staging)?
        .ok_or_else(|| Error::CheckFailed("the staged copy has a log beside it".into()))?;
    let problems = db::check(&c, "quick_check")?;
    match problems.is_empty() {
        true => Ok(()),
        false => Err(Error::CheckFailed(format!(
            "the staged copy failed quick_check after it was retagged: {}",
            problems.join("; ")
        ))),
    }
}

fn page_size(c: &Connection) -> Result<i64> {
    c.query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(Error::sql("reading page_size"))
}

/// Copies `staging` into the live connection's database with the backup API: all pages are
/// written in one write transaction on the live database (readers see old or new, a crash leaves
/// old), in steps so that progress — and the `restore:mid_copy` failpoint — sit mid-copy. Its
/// first step takes the write lock and copies nothing: `watch` (if any) then refuses the copy if
/// anything was committed since the backup.
fn copy_into(
    staging: &Path,
    live: &mut Connection,
    live_path: &Path,
    timeout: Duration,
    obs: &dyn Observer,
    watch: Option<&Watch>,
) -> Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let src = db::open(staging, Access::ReadOnly, timeout)?;
    let b = Backup::new(&src, live)
        .map_err(|e| db::classify(live_path, e, "starting restore copy".into()))?;
    let page = page_size(&src)? as u64;
    let start = Instant::now();
    // Pages per step: none (the locks only), then one (the failpoint sits after it), then many.
    let mut pages = 0;
    loop {
        let step = b
            .step(pages)
            .map_err(|e| db::classify(live_path, e, "copying backup into the database".into()))?;
        let p = b.progress();
        let (done, total) = (
            (p.pagecount - p.remaining) as u64 * page,
            p.pagecount as u64 * page,
        );
        if let StepResult::Done = step {
            // Committed: too late to cancel (and a first step never commits before the watch
            // was asked: a verified source has pages to copy).
            obs.bytes(&Progress {
                stage: "restoring",
                done,
                total,
            });
            break;
        }
        // On a cancel (or a refusal below), dropping the unfinished backup rolls its write
        // transaction on the live db back.
        crate::progress::bytes_or_cancel(obs, "restoring", done, total)?;
        match (step, pages) {
            (StepResult::More, 0) => {
                if let Some(w) = watch {
                    w.require_unchanged()?;
                }
                pages = 1;
            }
            (StepResult::More, 1) => {
                crate::storage::failpoint::hit("restore:mid_copy")?;
                pages = 2048;
            }
            (StepResult::More, _) => {}
            _ if start.elapsed() > timeout => {
                return Err(Error::DbLocked {
                    path: live_path.to_path_buf(),
                    waited_ms: start.elapsed().as_millis() as u64,
                })
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Asks to cancel from its `n`-th progress report on.
    struct CancelFrom(usize, AtomicUsize);
    impl Observer for CancelFrom {
        fn bytes(&self, _p: &Progress) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
        fn cancelled(&self) -> bool {
            self.1.load(Ordering::SeqCst) >= self.0
        }
    }

    fn db_with(path: &Path, rows: i64) {
        let c = Connection::open(path).unwrap();
        c.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; CREATE TABLE t(a);
             WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < {rows})
             INSERT INTO t SELECT v FROM n;"
        ))
        .unwrap();
    }

    fn rows(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    /// Steps: the locks (report 1), one page (2), the rest, which commits (3). A cancel asked for
    /// at the committing step is too late: the copy is reported done, not cancelled; one asked for
    /// before it rolls the copy back.
    #[test]
    fn a_cancel_at_the_committing_step_does_not_report_a_committed_copy_as_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from.db");
        db_with(&from, 2000);
        let t = Duration::from_secs(1);
        for (cancel_from, result, held) in [(3, "done", 2000), (2, "cancelled", 5)] {
            let to = dir.path().join(format!("to-{cancel_from}.db"));
            db_with(&to, 5);
            let mut live = Connection::open(&to).unwrap();
            let obs = CancelFrom(cancel_from, AtomicUsize::new(0));
            let got = match copy_into(&from, &mut live, &to, t, &obs, None) {
                Ok(()) => "done",
                Err(Error::Cancelled) => "cancelled",
                Err(e) => panic!("{e}"),
            };
            assert_eq!(
                (got, rows(&to)),
                (result, held),
                "cancel from report {cancel_from}"
            );
        }
    }
}
