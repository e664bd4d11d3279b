//! `undo`: restore the pre-action backup of the last destructive action in the audit log, saying
//! what would be lost if the database changed since.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::safety::audit::{self, AuditEntry};
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::verbs::restore::{self, RestoreOutcome, RestorePlan};
use crate::workspace::config::Workspace;

#[derive(Debug, Clone, Serialize)]
pub struct UndoPlan {
    pub env: String,
    /// The action being undone (its `backup` is what will be restored).
    pub action: AuditEntry,
    pub restore: RestorePlan,
    /// How the database differs from what the action left (this would be lost).
    pub changed_since: Vec<String>,
    /// The action recorded no fingerprint, so changes since cannot be ruled out.
    pub change_unknown: bool,
    pub confirmation: Confirmation,
}

/// The last successful action on `env` that took a pre-action backup (manual backups excluded).
pub fn last_action(ws: &Workspace, env: &str) -> Result<Option<AuditEntry>> {
    let (entries, _) = audit::read(&ws.audit_path(), Some(env))?;
    Ok(entries
        .into_iter()
        .rev()
        .find(|e| e.outcome == "ok" && e.backup.is_some() && e.verb != "backup"))
}

/// The backup `undo ENV` would restore (prune never deletes it).
pub fn target_backup(ws: &Workspace, env: &str) -> Result<Option<PathBuf>> {
    Ok(last_action(ws, env)?.and_then(|e| e.backup))
}

pub fn plan(ws: &Workspace, env: &str) -> Result<UndoPlan> {
    let target = ws.env(env)?;
    let action = last_action(ws, env)?.ok_or_else(|| {
        Error::InvalidInput(format!(
            "nothing to undo for {env}: the audit log has no successful action with a pre-action backup (see `pipeline-db log --env {env}`)"
        ))
    })?;
    let backup = action.backup.clone().unwrap_or_default();
    if !backup.exists() {
        return Err(Error::Refused(format!(
            "cannot undo the last {} of {env}: its backup {} no longer exists. Pick another with `pipeline-db backups list {env}`",
            action.verb,
            backup.display()
        )));
    }
    let restore = restore::plan_path(ws, &target, &backup, "undo", true)?;
    let (changed_since, change_unknown) = match &action.after {
        Some(after) => (changed(ws, &target, after)?, false),
        None => (vec![], true),
    };
    let confirmation = if changed_since.is_empty() && !change_unknown {
        restore.confirmation
    } else {
        Confirmation::TypeEnvName
    };
    Ok(UndoPlan {
        env: target.name.clone(),
        action,
        restore,
        changed_since,
        change_unknown,
        confirmation,
    })
}

fn changed(
    ws: &Workspace,
    target: &crate::workspace::env::EnvTarget,
    after: &crate::storage::fingerprint::Fingerprint,
) -> Result<Vec<String>> {
    let now = (|| {
        let Some(conn) = crate::safety::session::inspect_for_change(ws, target)? else {
            return Ok(None);
        };
        conn.execute_batch("BEGIN").map_err(Error::sql("reading"))?;
        crate::storage::fingerprint::of(&conn).map(Some)
    })();
    Ok(match now {
        Ok(Some(now)) => crate::storage::fingerprint::differences(after, &now),
        Ok(None) => vec!["the database file no longer exists".into()],
        Err(e) if e.exit_code() == crate::error::exit::NOT_A_DATABASE => {
            vec![format!(
                "the database cannot be read ({e}); it will be kept as evidence"
            )]
        }
        Err(e) => return Err(e),
    })
}

/// Undoes the last action after the confirmation the undo plan asks for.
pub fn run(ws: &Workspace, env: &str, confirmed: &Confirmed) -> Result<RestoreOutcome> {
    run_observed(ws, env, confirmed, &crate::Quiet)
}

/// [`run`], reporting the restore's progress to `obs` (see [`restore::run_observed`]).
pub fn run_observed(
    ws: &Workspace,
    env: &str,
    confirmed: &Confirmed,
    obs: &dyn crate::Observer,
) -> Result<RestoreOutcome> {
    let target = ws.env(env)?;
    let p = plan(ws, env)?;
    let needed = p.confirmation;
    if needed == Confirmation::TypeEnvName && !target.protected && confirmed.typed_env.is_none() {
        return Err(Error::Refused(format!(
            "{env} changed since the last {} ({}); undoing it loses those changes. Type `{env}` at the prompt or pass --confirm-env {env}",
            p.action.verb,
            if p.change_unknown {
                "no fingerprint was recorded, so changes cannot be ruled out".to_string()
            } else {
                p.changed_since.join("; ")
            }
        )));
    }
    let backup = p.action.backup.clone().unwrap_or_default();
    restore::run_path(
        ws,
        &target,
        &backup,
        "undo",
        |_| confirmed.require(needed, &target, "undo"),
        obs,
    )
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
        assert_eq!(
            target_backup(&ws, "dev").unwrap(),
            Some(PathBuf::from("b2"))
        );
        assert_eq!(
            target_backup(&ws, "test").unwrap(),
            Some(PathBuf::from("t1"))
        );
        assert_eq!(
            plan(&ws, "dev").unwrap_err().exit_code(),
            3,
            "b2 does not exist"
        );
    }
}
