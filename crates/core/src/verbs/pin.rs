//! `backups pin` / `backups unpin`: a pinned backup is never deleted by retention or prune.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::verb::Verb;
use crate::workspace::config::Workspace;

/// What pinning or unpinning did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PinOutcome {
    pub env: String,
    pub backup: PathBuf,
    pub pinned: bool,
    /// `false`: it already was (nothing was changed).
    pub changed: bool,
}

/// What pinning (`pinned`) or unpinning a backup of `env` must be confirmed with: unpinning one
/// of a protected env lets retention delete it at that env's next backup, so it is confirmed as a
/// prune of it is (the typed name); pinning loses nothing.
pub fn confirmation(ws: &Workspace, env: &str, pinned: bool) -> Result<Confirmation> {
    let target = ws.env(env)?;
    Ok(match (pinned, target.protected) {
        (false, true) => Confirmation::TypeEnvName,
        _ => Confirmation::None,
    })
}

/// The backup `name` of `env` names (a name from `backups list`, or the path the listing gave it),
/// when it is one: in the env's backup dir, with a manifest. What a confirmation shows.
pub fn resolve(ws: &Workspace, env: &str, name: &str) -> Result<std::path::PathBuf> {
    let target = ws.env(env)?;
    let backup = crate::backups::names::from_listing(&target.backup_dir, name)?;
    crate::backups::record::read_manifest(&backup).map_err(|e| {
        Error::Refused(format!(
            "{} has no readable manifest, so it is not one of {env}'s backups ({e}); nothing was changed",
            backup.display()
        ))
    })?;
    Ok(backup)
}

/// Pins (`pinned`) or unpins the backup `name` of `env` (a name from `backups list`, or the
/// path the listing gave it), confirmed as [`confirmation`] says. Under the env's lock, so a
/// retention pass never decides on a pin that is changing; one audit line.
pub fn set(
    ws: &Workspace,
    env: &str,
    name: &str,
    pinned: bool,
    confirmed: &Confirmed,
) -> Result<PinOutcome> {
    let target = ws.env(env)?;
    if !confirmed.satisfies(confirmation(ws, env, pinned)?, env) {
        return Err(Error::Refused(format!(
            "unpinning a backup of {env} lets retention delete it (it is protected), and its name was not typed: type `{env}` when asked on a terminal, or pass --confirm-env {env}; nothing was changed"
        )));
    }
    let backup = resolve(ws, env, name)?;
    let verb = if pinned { Verb::Pin } else { Verb::Unpin };
    let what = if pinned { "pinned" } else { "unpinned" };
    let name = backup
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::safety::audit::recorded(
        ws,
        &target.name,
        &target.path,
        verb,
        |_| {
            let _lock =
                crate::safety::lock::acquire(&target.path, ws.busy_timeout(), verb.as_str())?;
            let changed = crate::backups::pins::set(&backup, pinned)?;
            Ok(PinOutcome {
                env: target.name.clone(),
                backup: backup.clone(),
                pinned,
                changed,
            })
        },
        |r| match r {
            Ok(o) if !o.changed => (format!("{name} was already {what}"), None),
            _ => (format!("{what} {name}"), None),
        },
    )
}
