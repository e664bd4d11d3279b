//! The change ritual, written once. Every changing verb supplies its plan and its change:
//!
//! confirmation → header → tag → lock → open → tag again → `BEGIN IMMEDIATE` → plan re-made and
//! compared with the one shown → verified backup → the verb's change → foreign-key check →
//! `COMMIT` → checks after → undo's fingerprint (still under the lock) → audit line (also on
//! refusal and failure).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::Connection;

use crate::backups::record::{BackupRecord, Reason};
use crate::backups::take;
use crate::error::{Error, Result, StepExt, UNCHANGED};
use crate::progress::Observer;
use crate::safety::audit::{self, Recorder};
use crate::safety::confirm::Confirmed;
use crate::safety::plan::{self, Plan};
use crate::safety::session::{self, Opened};
use crate::safety::watch::Watch;
use crate::safety::{health, space};
use crate::storage::{db, fingerprint, timing};
use crate::verb::Verb;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

/// What a verb hands the ritual.
pub(crate) trait Change {
    type Plan: Plan;
    type Out;
    /// The plan again, read through the writer's connection inside its write transaction
    /// (`None`: the file is missing). Compared item by item with the plan that was shown.
    fn replan(&self, conn: Option<&Connection>) -> Result<Self::Plan>;
    /// The change, inside the write transaction, after the verified backup the plan asked for.
    fn apply(&self, c: &Connection, plan: &Self::Plan, obs: &dyn Observer) -> Result<Self::Out>;
    /// The plan again for a damaged file, under the lock (the file is not opened).
    fn replan_damaged(&self) -> Result<Self::Plan> {
        Err(Error::Internal(
            "this verb cannot replace a damaged file".into(),
        ))
    }
    /// Builds a missing database (inside the new file's one transaction). Default: refused.
    fn create(
        &self,
        _c: &Connection,
        _plan: &Self::Plan,
        _obs: &dyn Observer,
    ) -> Result<Self::Out> {
        Err(Error::Internal("this verb cannot create a database".into()))
    }
    /// Whether the file's schema must be what the migrations produce at its version before
    /// anything is written (a trigger or view from elsewhere must never run under our change).
    /// `reset` is the one that does not: it drops every object and rebuilds.
    fn requires_our_schema(&self) -> bool {
        true
    }
    /// Whether a migration recorded with another checksum is tolerated by that rule (`migrations
    /// repair`, which checks such a difference itself).
    fn tolerates_changed_checksums(&self) -> bool {
        false
    }
    /// Whether the file must already carry this env's tag (`env set` is the one that retags).
    fn requires_tag(&self) -> bool {
        true
    }
    /// Whether `integrity_check` + `foreign_key_check` run after the commit (sample data skips the
    /// full integrity check; it checks foreign keys inside its transaction).
    fn check_after(&self, _plan: &Self::Plan) -> bool {
        true
    }
    /// Whether the file is compacted after the commit (free pages returned to the file system, so
    /// later backups do not copy them): `reset`, which empties it.
    fn compact_after(&self) -> bool {
        false
    }
    /// What was done, for the audit line (`None`: the plan's summary says it).
    fn summary_done(&self, _plan: &Self::Plan, _out: &Self::Out) -> Option<String> {
        None
    }
}

/// What the ritual did: the plan as re-made under the lock (what was really done), the verb's
/// result and the pre-action backup.
pub(crate) struct Done<P, T> {
    pub plan: P,
    pub out: T,
    pub backup: Option<BackupRecord>,
    /// Byte-identical copies of a damaged file that was replaced.
    pub evidence: Vec<PathBuf>,
    pub duration_ms: u64,
    pub timings: Vec<timing::StepTime>,
    /// The automatic retention pass after the backup (`None`: no backup was made).
    pub retention: Option<crate::safety::retention::RetentionReport>,
    /// What was done, for the audit line, when the plan alone cannot say it (`None`: the plan's
    /// summary; a seed says what it really added).
    pub summary: Option<String>,
}

impl<P, T> Done<P, T> {
    /// Runs the automatic retention pass when a backup was made (after the action, which it
    /// never fails).
    pub fn then_retention(mut self, ws: &Workspace, target: &EnvTarget) -> Self {
        if let Some(b) = &self.backup {
            self.retention = Some(crate::safety::retention::after_backup(ws, target, b));
        }
        self
    }
}

/// Runs `change` on `target` for a plan the user confirmed.
pub(crate) fn run<C: Change>(
    ws: &Workspace,
    target: &EnvTarget,
    shown: &C::Plan,
    confirmed: &Confirmed,
    obs: &dyn Observer,
    change: &C,
) -> Result<Done<C::Plan, C::Out>> {
    let done = audited(ws, &target.name, &target.path, shown, |rec| {
        crate::safety::plan::require_confirmed(shown, confirmed, target)?;
        let started = Instant::now();
        timing::reset();
        if shown.damaged() {
            let (plan, evidence, out) = rebuild_damaged(ws, target, shown, obs, change, rec)?;
            // The audit line names the evidence kept instead of a backup.
            let kept: Vec<String> = evidence.iter().map(|p| p.display().to_string()).collect();
            return Ok(Done {
                summary: Some(format!(
                    "{}; the damaged file kept as evidence: {}",
                    change
                        .summary_done(&plan, &out)
                        .unwrap_or_else(|| plan.summary()),
                    kept.join(", ")
                )),
                plan,
                out,
                backup: None,
                evidence,
                duration_ms: started.elapsed().as_millis() as u64,
                timings: timing::take(),
                retention: None,
            });
        }
        let opened = open(ws, target, shown.verb(), change.requires_tag())?;
        rec.hold(opened.lock());
        let (plan, backup, out) = match opened {
            Opened::Missing(_lock) => {
                let plan = recheck(shown, change.replan(None))?;
                obs.stage("creating");
                let out = session::create_new_db(ws, target, shown.verb(), |c| {
                    change.create(c, &plan, obs)
                })
                .step(shown.verb(), &target.name, "create", UNCHANGED)?;
                (plan, None, out)
            }
            Opened::Existing(s) => {
                in_transaction(ws, target, shown, obs, change, rec, (&s.conn, s.file))?
            }
        };
        Ok(Done {
            summary: change.summary_done(&plan, &out),
            plan,
            out,
            backup,
            evidence: vec![],
            duration_ms: started.elapsed().as_millis() as u64,
            timings: timing::take(),
            retention: None,
        })
    })?;
    Ok(done.then_retention(ws, target))
}

/// A damaged file (not a database, or failing its checks) is never opened: under the lock, the
/// plan is made again, a byte-identical evidence copy is kept (fsynced, never overwritten), the
/// file and its sidecars are removed, and a new database is built the way a missing one is.
fn rebuild_damaged<C: Change>(
    ws: &Workspace,
    target: &EnvTarget,
    shown: &C::Plan,
    obs: &dyn Observer,
    change: &C,
    rec: &Recorder,
) -> Result<(C::Plan, Vec<PathBuf>, C::Out)> {
    let verb = shown.verb();
    let _lock = lock(ws, target, verb)?;
    rec.hold(&_lock);
    let plan = recheck(shown, change.replan_damaged())?;
    crate::backups::evidence::require_not_open_elsewhere(&target.path)?;
    obs.stage("keeping evidence");
    let evidence = crate::backups::evidence::keep_evidence(
        &target.path,
        &crate::backups::evidence::dir_for(ws, &target.name, &target.path),
    )?;
    for suffix in ["-wal", "-shm", "-journal", ""] {
        let p = db::sidecar(&target.path, suffix);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io("removing the damaged file", &p)(e))
            }
            _ => {}
        }
    }
    crate::storage::fs::fsync_dir(target.path.parent().unwrap_or(Path::new(".")))?;
    obs.stage("creating");
    let out = session::create_new_db(ws, target, shown.verb(), |c| change.create(c, &plan, obs)).map_err(|e| {
        Error::Step {
            verb,
            env: target.name.clone(),
            step: "create",
            state: "the damaged file was removed after its evidence copy (<file>.corrupt-<time>, beside it in the data dir, or in <data>/evidence/ENV/) was kept; no database exists now: run the same command again (on a protected env, `pipeline-db migrate ENV` creates it)",
            source: Box::new(e),
        }
    })?;
    // The new database is in place: its audit line (naming the evidence) is what is left.
    obs.stage(crate::progress::COMMITTED);
    Ok((plan, evidence, out))
}

/// Opens for a change: header → tag → lock → read-write open → tag again.
pub(crate) fn open(ws: &Workspace, target: &EnvTarget, verb: Verb, tagged: bool) -> Result<Opened> {
    session::open_for_change(ws, target, verb.as_str(), tagged)
}

fn in_transaction<C: Change>(
    ws: &Workspace,
    target: &EnvTarget,
    shown: &C::Plan,
    obs: &dyn Observer,
    change: &C,
    rec: &Recorder,
    (c, file): (&Connection, (u64, u64)),
) -> Result<(C::Plan, Option<BackupRecord>, C::Out)> {
    c.pragma_update(None, "foreign_keys", false)
        .map_err(Error::sql("foreign_keys off"))?;
    db::bulk_insert_pragmas(c)?;
    session::begin_immediate(c, &target.path, ws.busy_timeout_ms)?;
    // The backup, once made: a failure after it (rolled back) names it, as the audit line does.
    let made = std::cell::RefCell::new(None::<PathBuf>);
    let (plan, backup, out) = session::commit_or_rollback(c, &target.path, || {
        if change.requires_our_schema() {
            health::require_our_schema(c, target, change.tolerates_changed_checksums())?;
        }
        let (plan, backup) =
            recheck_and_back_up(ws, target, shown, obs, || change.replan(Some(c)), c)?;
        *made.borrow_mut() = backup.as_ref().map(|b| b.path.clone());
        // The backup (taken by path) is of the file this connection changes.
        session::require_same_file(target, file, "before the backup was checked")?;
        let out = change.apply(c, &plan, obs)?;
        require_foreign_keys(c)?;
        session::require_same_file(target, file, "while the change ran")?;
        Ok((plan, backup, out))
    })
    .map_err(|e| match made.borrow().as_deref() {
        Some(b) => e.backup_kept(b),
        None => e,
    })?;
    obs.stage(crate::progress::COMMITTED);
    c.pragma_update(None, "foreign_keys", true)
        .map_err(Error::sql("foreign_keys on"))?;
    // Replaced in the moment between the last look and COMMIT: committed into the file this
    // connection has open, whose log SQLite finds by path — beside the other file.
    if session::require_same_file(target, file, "").is_err() {
        let made = backup.as_ref().map(|b| b.path.as_path());
        let e = Error::Refused(format!(
            "{} was replaced by another file, or removed, as the change committed: the change went into the file pipeline-db had open, and SQLite's log (-wal) beside the path may now be read with the other file",
            target.path.display()
        ));
        return Err(health::committed_but(e, shown.verb(), target, made));
    }
    // Undo's "after" fingerprint (when there is something to undo) is read on a second core
    // while the checks after run: both read the committed database, still under the env's lock.
    let after = std::thread::scope(|s| {
        let fingerprint = backup
            .is_some()
            .then(|| s.spawn(|| fingerprint_after(&target.path, ws.busy_timeout())));
        let checked = match change.check_after(&plan) {
            true => timing::step("verify after", || {
                crate::storage::failpoint::hit("ritual:check_after")
                    .and_then(|()| health::verify_after(c, target, "integrity_check"))
            }),
            false => Ok(()),
        };
        let fingerprint = fingerprint.map(|f| {
            f.join()
                .unwrap_or_else(|_| Err(Error::Internal("the fingerprint thread panicked".into())))
        });
        (checked, fingerprint)
    });
    let after = match after {
        (Ok(()), fingerprint) => fingerprint,
        (Err(e), fingerprint) => {
            // Committed all the same: what it left is recorded for undo, as for a success.
            if let Some(Ok(fp)) = fingerprint {
                rec.set_after(fp);
            }
            let made = backup.as_ref().map(|b| b.path.as_path());
            return Err(health::committed_but(e, shown.verb(), target, made));
        }
    };
    if change.compact_after() {
        timing::step("compact", || compact(c, &target.path));
    }
    match after {
        Some(Ok(fp)) => rec.set_after(fp),
        Some(Err(e)) => tracing::warn!("fingerprint after the change: {e}"),
        None => {}
    }
    Ok((plan, backup, out))
}

/// Undo's "after" fingerprint of the committed database, on its own read-only connection.
fn fingerprint_after(
    path: &Path,
    busy_timeout: std::time::Duration,
) -> Result<fingerprint::Fingerprint> {
    let t = Instant::now();
    let ro = db::open(path, db::Access::ReadOnly, busy_timeout)?;
    // No time limit (read-only connections get one for inspections): it reads every row, as the
    // writer's connection did before, and must not give up half-way on a big database.
    db::lift_time_limit(&ro)?;
    ro.execute_batch("BEGIN").map_err(Error::sql("reading"))?;
    let fp = fingerprint::of(&ro);
    let _ = ro.execute_batch("COMMIT");
    tracing::debug!(
        ms = t.elapsed().as_millis() as u64,
        "fingerprint after the change"
    );
    fp
}

/// Inside the caller's write transaction: the plan re-made and compared with the one shown, then
/// the verified backup it asks for (counts read by this transaction must match the copy's).
pub(crate) fn recheck_and_back_up<P: Plan>(
    ws: &Workspace,
    target: &EnvTarget,
    shown: &P,
    obs: &dyn Observer,
    replan: impl FnOnce() -> Result<P>,
    c: &Connection,
) -> Result<(P, Option<BackupRecord>)> {
    let mut plan = recheck(shown, replan())?;
    let Some(step) = plan.backup_step() else {
        return Ok((plan, None));
    };
    let named = shown.backup_step().map(|b| b.path.as_path());
    let backup = back_up(ws, target, shown.verb(), step.reason, named, c, obs)?;
    plan::name_backup_made(&mut plan, Some(&backup));
    Ok((plan, Some(backup)))
}

/// The verified backup of what the caller's write transaction sees: the counts it reads must be
/// the copy's, and there must be room for it. It takes the name the shown plan gave it (`named`).
fn back_up(
    ws: &Workspace,
    target: &EnvTarget,
    verb: Verb,
    reason: Reason,
    named: Option<&Path>,
    c: &Connection,
    obs: &dyn Observer,
) -> Result<BackupRecord> {
    let counts = db::row_counts(c)?;
    space::preflight_space(target, true)?;
    obs.stage("backing up");
    let dest = take::Dest::BackupDir(named);
    take::backup_now(ws, target, reason, None, Some(&counts), dest, obs).step(
        verb,
        &target.name,
        "backup",
        UNCHANGED,
    )
}

/// For a change that cannot run inside the backup's transaction (restore's page copy is its own
/// write transaction): the verified backup inside `BEGIN IMMEDIATE`, then the lock is let go. The
/// [`Watch`] returned was marked while the lock was held: the change checks with it, once it holds
/// the write lock again, that nobody committed in the gap (that commit would be in no backup).
/// `held`: an existing backup found to hold exactly the database ([`existing_backup`]) — no new
/// one is taken, and its watch must still see no commit.
pub(crate) fn back_up_then_release(
    ws: &Workspace,
    target: &EnvTarget,
    verb: Verb,
    step: &plan::BackupStep,
    c: &Connection,
    obs: &dyn Observer,
    held: Option<(BackupRecord, Watch)>,
) -> Result<(BackupRecord, Watch)> {
    // A commit since the existing backup was compared: it no longer proves anything, so a new
    // backup is taken (under the lock) instead.
    if let Some((backup, watch)) = held.filter(|(_, w)| w.require_unchanged().is_ok()) {
        return Ok((backup, watch));
    }
    let mut watch = Watch::open(&target.path, ws.busy_timeout())?;
    session::begin_immediate(c, &target.path, ws.busy_timeout_ms)?;
    // No second quick_check of the live file here: open_for_change checked it under this lock,
    // and the backup's own quick_check checks the very pages it copies.
    let backup = session::commit_or_rollback(c, &target.path, || {
        // A step that relied on an existing backup names that one: the new backup gets a name
        // of its own.
        let named = (!step.existing).then_some(step.path.as_path());
        let b = back_up(ws, target, verb, step.reason, named, c, obs)?;
        watch.mark()?;
        Ok(b)
    })?;
    // Refused early when something was committed right after the lock was let go.
    watch
        .require_unchanged()
        .map_err(|e| e.backup_kept(&backup.path))?;
    Ok((backup, watch))
}

/// The existing backup a plan relied on (`step.existing`), if it still holds exactly the
/// database, with a [`Watch`] marked before the comparison: anything committed since means a new
/// backup is taken after all ([`back_up_then_release`]). It takes no write lock, so it can run
/// beside other work (restore stages its source meanwhile); `None` (it no longer holds, or cannot
/// be compared): a new backup is taken. Returns how long the comparison took (for the caller's
/// profile: it may run on another thread).
pub(crate) fn existing_backup(
    ws: &Workspace,
    target: &EnvTarget,
    step: &plan::BackupStep,
) -> (Option<(BackupRecord, Watch)>, std::time::Duration) {
    let t = Instant::now();
    let held = Watch::open(&target.path, ws.busy_timeout()).and_then(|watch| {
        let held = crate::backups::same_state::holding_now(target, &step.path, ws.busy_timeout())?;
        Ok(held.map(|b| (b, watch)))
    });
    let held = match held {
        Ok(Some(held)) => Some(held),
        Ok(None) => {
            let (path, env) = (step.path.display(), &target.name);
            tracing::warn!("{path} no longer holds exactly {env}: taking a new backup");
            None
        }
        Err(e) => {
            let path = step.path.display();
            tracing::warn!(
                "{path} cannot be compared with the database ({e}): taking a new backup"
            );
            None
        }
    };
    (held, t.elapsed())
}

/// The env's lock alone, for work on its files that opens no connection (prune, replacing a
/// file SQLite cannot open).
pub(crate) fn lock(
    ws: &Workspace,
    target: &EnvTarget,
    verb: Verb,
) -> Result<crate::safety::lock::EnvLock> {
    crate::safety::lock::acquire(&target.path, ws.busy_timeout(), verb.as_str())
}

fn recheck<P: Plan>(shown: &P, now: Result<P>) -> Result<P> {
    let now = now?;
    plan::require_unchanged(shown, &now)?;
    Ok(now)
}

/// `VACUUM` (a transaction of its own: a crash leaves the old or the compacted file, same content)
/// and a TRUNCATE checkpoint that gives the freed pages back. The change is already committed and
/// checked: a failure here (a reader holding the WAL) only leaves free pages, so it is logged.
/// Only worth it when a tenth or more of the file is free pages (at least 1 MiB): a reset with
/// sample data reuses the pages it freed, and rewriting a full file would double its time.
fn compact(c: &Connection, path: &Path) {
    let count = |pragma: &str| c.query_row(pragma, [], |r| r.get::<_, i64>(0)).unwrap_or(0);
    let (free, pages, page) = (
        count("PRAGMA freelist_count"),
        count("PRAGMA page_count"),
        count("PRAGMA page_size"),
    );
    if free * 10 < pages || free * page < 1 << 20 {
        return;
    }
    let done = crate::storage::failpoint::hit("reset:before_compact")
        .and_then(|()| c.execute_batch("VACUUM").map_err(Error::sql("VACUUM")))
        .and_then(|()| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(Error::sql("checkpoint"))
        });
    if let Err(e) = done {
        tracing::warn!("compacting {} after the change: {e}", path.display());
    }
}

fn require_foreign_keys(c: &Connection) -> Result<()> {
    let fk = db::foreign_key_problems(c)?;
    if fk.is_empty() {
        return Ok(());
    }
    Err(Error::CheckFailed(format!(
        "foreign key check failed: {}; the change is rolled back",
        fk.join("; ")
    )))
}

/// The audit wrapper every action runs in: one line per attempt, whatever the outcome — the
/// summary of what was done (or planned, if it failed) and the backup it made.
pub(crate) fn audited<P: Plan, T>(
    ws: &Workspace,
    env: &str,
    file: &Path,
    shown: &P,
    body: impl FnOnce(&Recorder) -> Result<Done<P, T>>,
) -> Result<Done<P, T>> {
    audit::recorded(ws, env, file, shown.verb(), body, |result| match result {
        Ok(d) => (
            d.summary.clone().unwrap_or_else(|| d.plan.summary()),
            d.backup.as_ref().map(|b| b.path.clone()),
        ),
        Err(e) => (shown.summary(), e.backup_taken().map(Path::to_path_buf)),
    })
}
