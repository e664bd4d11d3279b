//! `undo`: restore the pre-action backup of the last destructive action in the audit log, saying
//! what would be lost if the database changed since.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::safety::audit::{self, AuditEntry};
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{BackupStep, Plan, Promises};
use crate::verb::Verb;
use crate::verbs::restore::{self, RestoreOutcome, RestorePlan};
use crate::workspace::config::Workspace;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UndoPlan {
    #[cfg_attr(feature = "ts", ts(type = "\"undo\""))]
    pub verb: Verb,
    pub env: String,
    /// The action being undone (its `backup` is what will be restored).
    pub action: AuditEntry,
    pub restore: RestorePlan,
    /// How the database differs from what the action left (this would be lost).
    pub changed_since: Vec<String>,
    /// The action recorded no fingerprint, so changes since cannot be ruled out.
    pub change_unknown: bool,
    pub confirmation: Confirmation,
    /// A digest of what the database held when the plan was made: a change after it (while the
    /// prompt waits) is refused under the lock, whatever the plan said of changes before it.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub database_now: Option<String>,
}

impl Plan for UndoPlan {
    crate::safety::plan::plan_basics!(Verb::Undo);
    fn summary(&self) -> String {
        self.restore.summary()
    }
    /// The action undone and what its restore replaces (re-made under the lock without the
    /// fingerprint, which the shown plan's confirmation already reflects).
    fn promises(&self) -> Promises {
        // The confirmation asked for is promised too: an env made protected after the plan was
        // shown needs its name typed, not the y/N of the plan (review 23).
        let p = self
            .restore
            .promises_without_confirmation()
            .item(
                "undoes",
                format!("{} at {}", self.action.verb, self.action.time),
            )
            .item("confirmation", format!("{:?}", self.confirmation));
        match &self.database_now {
            Some(d) => p.item("the database as it was when the plan was made", d.clone()),
            None => p,
        }
    }
    fn backup_step(&self) -> Option<&BackupStep> {
        self.restore.backup.as_ref()
    }
    fn backup_step_mut(&mut self) -> Option<&mut BackupStep> {
        self.restore.backup.as_mut()
    }
    fn why_confirm(&self) -> Option<String> {
        if self.confirmation != Confirmation::TypeEnvName || self.restore.protected {
            return None;
        }
        Some(format!(
            "{} changed since the last {} ({}); undoing it loses those changes",
            self.env,
            self.action.verb,
            if self.change_unknown {
                "no fingerprint was recorded, so changes cannot be ruled out".to_string()
            } else {
                self.changed_since.join("; ")
            }
        ))
    }
}

/// The last successful action on `env` that took a pre-action backup (manual backups excluded).
pub fn last_action(ws: &Workspace, env: &str) -> Result<Option<AuditEntry>> {
    audit::last_undoable(ws, env)
}

/// The backup `undo ENV` would restore (prune never deletes it).
pub fn target_backup(ws: &Workspace, env: &str) -> Result<Option<PathBuf>> {
    Ok(last_action(ws, env)?.and_then(|e| e.backup))
}

/// [`target_backup`] of every env that has one, from one read of the audit log.
pub fn target_backups(ws: &Workspace) -> Result<std::collections::BTreeMap<String, PathBuf>> {
    Ok(audit::last_undoable_of_each(ws)?
        .into_iter()
        .filter_map(|(env, e)| Some((env, e.backup?)))
        .collect())
}

pub fn plan(ws: &Workspace, env: &str) -> Result<UndoPlan> {
    describe(ws, env, None, restore::LiveCheck::Run)
}

/// The undo plan, the database compared with what the action left (also in the re-check under the
/// lock: a change while the prompt waited is refused); `relied_on`: the
/// existing backup the shown plan relied on (see [`restore::plan_path`]).
fn describe(
    ws: &Workspace,
    env: &str,
    relied_on: Option<&std::path::Path>,
    live: restore::LiveCheck,
) -> Result<UndoPlan> {
    let target = ws.env(env)?;
    let action = last_action(ws, env)?.ok_or_else(|| {
        Error::InvalidInput(format!(
            "nothing to undo for {env}: the audit log has no successful action with a pre-action backup (see `pipeline-db log --env {env}`)"
        ))
    })?;
    // The action was on the file the env names now: an env pointed elsewhere since (`env path`,
    // or removed and added again) has another database, which that backup never held. Both are
    // needed: a moved data dir changes the path without any repointing, and an `env path` may
    // point the env at the very file it had.
    let same_file = |a: &std::path::Path, b: &std::path::Path| {
        let canon = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.into());
        canon(a) == canon(b)
    };
    if audit::repointed_after(ws, env, &action)? && !same_file(&action.file, &target.path) {
        return Err(Error::Refused(format!(
            "cannot undo the last {} of {env}: it was on {}, and {env} was pointed at another file since (its path changed: it is {} now); that backup never held this file. Restore it by name if you mean to (`pipeline-db restore {env} BACKUP`); nothing was changed",
            action.verb,
            action.file.display(),
            target.path.display()
        )));
    }
    let backup = action.backup.clone().unwrap_or_default();
    if !backup.exists() {
        return Err(Error::Refused(format!(
            "cannot undo the last {} of {env}: its backup {} no longer exists. Pick another with `pipeline-db backups list {env}`",
            action.verb,
            backup.display()
        )));
    }
    // The database is fingerprinted on the other core while the restore is planned (both only
    // read): compared with what the action left, and kept as a digest for the re-check.
    let (restore, now) = std::thread::scope(|s| {
        let now = s.spawn(|| current(ws, &target));
        let restore = restore::plan_path(ws, &target, &backup, Verb::Undo, relied_on, live);
        let now = now
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the fingerprint thread panicked".into())));
        (restore, now)
    });
    let (restore, now) = (restore?, now?);
    let change_unknown = action.after.is_none();
    let changed_since = match (&action.after, &now) {
        (Some(after), Now::Print(fp)) => crate::storage::fingerprint::differences(after, fp),
        (None, Now::Print(_)) => vec![],
        (_, Now::Missing) => vec!["the database file no longer exists".into()],
        (_, Now::Unreadable(e)) => vec![format!(
            "the database cannot be read ({e}); it will be kept as evidence"
        )],
    };
    let confirmation = if changed_since.is_empty() && !change_unknown {
        restore.confirmation
    } else {
        Confirmation::TypeEnvName
    };
    Ok(UndoPlan {
        verb: Verb::Undo,
        env: target.name.clone(),
        action,
        restore,
        changed_since,
        change_unknown,
        confirmation,
        database_now: Some(now.digest()),
    })
}

/// What the database holds now.
enum Now {
    Print(crate::storage::fingerprint::Fingerprint),
    Missing,
    /// A damaged file (the restore keeps it as evidence), and why.
    Unreadable(String),
}

impl Now {
    /// A short digest of it, for the plan's promises.
    fn digest(&self) -> String {
        match self {
            Now::Print(fp) => {
                let text: String = fp
                    .tables
                    .iter()
                    .map(|(t, p)| format!("{t}:{}:{};", p.rows, p.hash))
                    .collect();
                crate::storage::hash::sha256_hex(text.as_bytes())[..16].to_string()
            }
            Now::Missing => "missing".into(),
            Now::Unreadable(_) => "unreadable".into(),
        }
    }
}

fn current(ws: &Workspace, target: &crate::workspace::env::EnvTarget) -> Result<Now> {
    let now = (|| {
        let Some(conn) = crate::safety::session::inspect_for_change(ws, target)? else {
            return Ok(None);
        };
        conn.execute_batch("BEGIN").map_err(Error::sql("reading"))?;
        crate::storage::fingerprint::of(&conn).map(Some)
    })();
    Ok(match now {
        Ok(Some(fp)) => Now::Print(fp),
        Ok(None) => Now::Missing,
        Err(e) if e.exit_code() == crate::error::exit::NOT_A_DATABASE => {
            Now::Unreadable(e.to_string())
        }
        Err(e) => return Err(e),
    })
}

/// Undoes the action of `shown` after the confirmation it asks for, through restore's ritual;
/// refused if, under the lock, the last action or the database is no longer what was shown.
pub fn execute(
    ws: &Workspace,
    shown: &UndoPlan,
    confirmed: &Confirmed,
    obs: &dyn crate::Observer,
) -> Result<RestoreOutcome> {
    let ws = &ws.as_configured_now()?;
    let target = ws.env(&shown.env)?;
    crate::storage::failpoint::hit("undo:before_execute")?;
    // A plan that said "unchanged since the action" was confirmed on that: under the lock the
    // database is compared with what the action left again, and a change since is refused (it
    // needs the name typed, on a plan that names it).
    let unchanged = shown.changed_since.is_empty() && !shown.change_unknown;
    let done = restore::run_shown(ws, &target, shown, &shown.restore, confirmed, obs, |live| {
        let relied = restore::relied_on(&shown.restore.backup);
        let now = describe(ws, &shown.env, relied, live)?;
        match unchanged && (!now.changed_since.is_empty() || now.change_unknown) {
            true => Err(Error::Stale {
                env: shown.env.clone(),
                what: format!(
                    "{} changed since the {} it would undo: {}",
                    shown.env,
                    shown.action.verb,
                    now.changed_since.join("; ")
                ),
            }),
            false => Ok(now),
        }
    })?;
    Ok(done.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(verb: &str, outcome: &str, backup: Option<&str>) -> AuditEntry {
        AuditEntry {
            time: "2026-11-26T12:00:00Z".into(),
            user: "u".into(),
            pid: 1,
            env: "dev".into(),
            file: "dev.sqlite3".into(),
            verb: verb.into(),
            summary: String::new(),
            backup: backup.map(PathBuf::from),
            outcome: outcome.into(),
            error: None,
            duration_ms: 0,
            after: None,
        }
    }

    #[test]
    fn the_undo_target_is_the_last_successful_action_with_a_pre_action_backup() {
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::at(d.path()).unwrap();
        let log = ws.audit_path();
        assert_eq!(target_backup(&ws, "dev").unwrap(), None);
        for e in [
            entry("reset", "ok", Some("b1")),
            entry("seed", "ok", Some("b2")),
            entry("reset", "failed", Some("b3")),
            entry("backup", "ok", Some("manual")),
            entry("migrate", "ok", None),
            entry("backups prune", "ok", None),
        ] {
            audit::append(&log, &e).unwrap();
        }
        let mut other = entry("reset", "ok", Some("t1"));
        other.env = "test".into();
        audit::append(&log, &other).unwrap();
        // Named in the env's backup dir now, wherever the log says it was.
        assert_eq!(
            target_backup(&ws, "dev").unwrap(),
            Some(ws.env("dev").unwrap().backup_dir.join("b2"))
        );
        assert_eq!(
            target_backup(&ws, "test").unwrap(),
            Some(ws.env("test").unwrap().backup_dir.join("t1"))
        );
        // Every env's from one read: the same.
        let all = target_backups(&ws).unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        for env in ["dev", "test"] {
            assert_eq!(all.get(env).cloned(), target_backup(&ws, env).unwrap());
        }
        assert_eq!(
            plan(&ws, "dev").unwrap_err().exit_code(),
            3,
            "b2 does not exist"
        );
    }
}
