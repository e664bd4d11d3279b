//! Retention: which backups a policy deletes, and the automatic pass after every backup.
//!
//! The policy (`[retention]`: `keep` per env, `max_total_mib` per env, `budget_mib` for the data
//! dir) picks the oldest backups first; a backup is never deleted when it is the newest verified
//! one of its env, the one `undo` would restore, pinned, or the one the running verb just made.
//! What those guards leave over the policy is reported, never enforced.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backups::record::BackupRecord;
use crate::error::{Error, Result};
use crate::verb::Verb;
use crate::workspace::config::{Retention, Workspace};
use crate::workspace::env::EnvTarget;

const MIB: u64 = 1024 * 1024;

/// One backup retention deletes, or keeps although the policy alone would delete it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PruneItem {
    pub path: PathBuf,
    pub created_at: String,
    /// What it takes on disk (the compressed file's size when compressed).
    pub size_bytes: u64,
    /// Why it goes, or why it stays.
    pub why: String,
}

/// The backups no policy deletes, by path.
#[derive(Debug, Default, Clone)]
pub(crate) struct Guards {
    pub newest_verified: Option<PathBuf>,
    pub undo_target: Option<PathBuf>,
    pub just_made: Option<PathBuf>,
    /// Backups that could not be checked now (no room to decompress them): any may be the newest
    /// verified one, so none is deleted.
    pub unchecked: Vec<PathBuf>,
}

impl Guards {
    fn why_kept(&self, b: &BackupRecord) -> Option<&'static str> {
        let is = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| same_file(p, &b.path));
        if is(&self.just_made) {
            Some("the backup just made")
        } else if is(&self.newest_verified) {
            Some("the newest verified backup")
        } else if is(&self.undo_target) {
            Some("the backup `undo` would restore")
        } else if self.unchecked.iter().any(|p| same_file(p, &b.path)) {
            Some("not checked now (no room to decompress it): it may be the newest verified backup")
        } else if b.pinned {
            Some("pinned")
        } else {
            None
        }
    }
}

/// The same path, or two paths that resolve to the same file (a path that does not resolve is
/// only itself).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// What the policy decides for one env's backups (oldest first).
#[derive(Debug, Default, Clone)]
pub(crate) struct Selection {
    pub delete: Vec<PruneItem>,
    pub protected: Vec<PruneItem>,
    /// The policy could not be met without deleting a guarded backup: what is over, and why.
    pub unmet: Option<String>,
}

fn item(b: &BackupRecord, why: impl Into<String>) -> PruneItem {
    PruneItem {
        path: b.path.clone(),
        created_at: b.created_at.clone(),
        size_bytes: b.on_disk_bytes(),
        why: why.into(),
    }
}

/// Applies `policy` to `list` (one env's backups, oldest first). `others_bytes` is what the other
/// envs' backups use: the data dir's budget counts them, but only this env's backups are deleted.
pub(crate) fn select(
    list: &[BackupRecord],
    policy: &Retention,
    keep: usize,
    guards: &Guards,
    others_bytes: u64,
) -> Selection {
    // A policy the config holds out of range deletes nothing: it is reported until it is fixed.
    if let Err(why) = policy.check() {
        return Selection {
            unmet: Some(format!(
                "{why}: nothing is deleted until it is fixed (`pipeline-db config set retention N`)"
            )),
            ..Selection::default()
        };
    }
    let env_max = Retention::bytes(policy.max_total_mib);
    let budget = Retention::bytes(policy.budget_mib);
    let mut env_bytes: u64 = list.iter().map(|b| b.on_disk_bytes()).sum();
    let mut count = list.len();
    // The `keep` newest are never deleted by the count rule (only a size rule reaches them).
    let over = list.len().saturating_sub(keep);
    let mut sel = Selection::default();
    for (i, b) in list.iter().enumerate() {
        let why = if i < over {
            format!(
                "more than {keep} backup{}",
                if keep == 1 { "" } else { "s" }
            )
        } else if env_max.is_some_and(|m| env_bytes > m) {
            format!("over the env's {} MiB limit", policy.max_total_mib)
        } else if budget.is_some_and(|m| env_bytes + others_bytes > m) {
            format!("over the data dir's {} MiB budget", policy.budget_mib)
        } else {
            continue;
        };
        match guards.why_kept(b) {
            Some(g) => sel.protected.push(item(b, format!("{why}, but kept: {g}"))),
            None => {
                env_bytes -= b.on_disk_bytes();
                count -= 1;
                sel.delete.push(item(b, why));
            }
        }
    }
    sel.unmet = unmet(
        policy,
        keep,
        count,
        env_bytes,
        others_bytes,
        Retention::bytes(policy.max_total_mib),
        Retention::bytes(policy.budget_mib),
    );
    sel
}

fn unmet(
    policy: &Retention,
    keep: usize,
    count: usize,
    env_bytes: u64,
    others_bytes: u64,
    env_max: Option<u64>,
    budget: Option<u64>,
) -> Option<String> {
    let mib = |b: u64| b.div_ceil(MIB);
    let over = if count > keep {
        format!("{count} backups are kept, more than retention.keep = {keep}")
    } else if env_max.is_some_and(|m| env_bytes > m) {
        format!(
            "the env's backups use {} MiB, over retention.max_total_mib = {}",
            mib(env_bytes),
            policy.max_total_mib
        )
    } else if budget.is_some_and(|m| env_bytes + others_bytes > m) {
        format!(
            "the data dir's backups use {} MiB ({} MiB of them other envs'), over retention.budget_mib = {}",
            mib(env_bytes + others_bytes),
            mib(others_bytes),
            policy.budget_mib
        )
    } else {
        return None;
    };
    Some(format!(
        "{over}: what is left is protected (newest verified, undo's target, pinned or just made) \
         or belongs to other envs; pin fewer backups, raise the limit, or run `backups prune`"
    ))
}

/// When [`would_delete`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// Now: what `backups prune` would delete.
    Now,
    /// At each env's next backup: its pass keeps the new backup (taken as big as the newest)
    /// and may delete one more of these than a prune now.
    NextBackup,
}

/// How many of each env's backups `policy` would delete (`when`): env names with a count above
/// zero. Now, the newest backup stands for the newest verified one, as the next backup's pass
/// keeps its own.
pub(crate) fn would_delete(
    ws: &Workspace,
    policy: &Retention,
    when: When,
) -> Result<Vec<(String, usize)>> {
    let mut out = vec![];
    let mut undo_targets = crate::safety::audit::last_undoable_of_each(ws)?;
    for t in ws.envs.values() {
        let mut list = crate::backups::record::list(t)?;
        let mut guards = Guards {
            newest_verified: list.last().map(|b| b.path.clone()),
            undo_target: undo_targets.remove(&t.name).and_then(|e| e.backup),
            just_made: None,
            unchecked: vec![],
        };
        if let (When::NextBackup, Some(newest)) = (when, list.last().cloned()) {
            let next = BackupRecord {
                path: newest.path.with_file_name(".the-next-backup"),
                ..newest
            };
            guards.newest_verified = Some(next.path.clone());
            guards.just_made = Some(next.path.clone());
            list.push(next);
        }
        let n = select(
            &list,
            policy,
            policy.keep,
            &guards,
            others_bytes(ws, &t.name),
        )
        .delete
        .len();
        if n > 0 {
            out.push((t.name.clone(), n));
        }
    }
    Ok(out)
}

/// Bytes used by the backups of every env but `env`.
pub(crate) fn others_bytes(ws: &Workspace, env: &str) -> u64 {
    ws.envs
        .values()
        .filter(|t| t.name != env)
        .filter_map(|t| crate::backups::record::list(t).ok())
        .flatten()
        .map(|b| b.on_disk_bytes())
        .sum()
}

/// What the automatic pass after a backup did (in the verb's outcome and the audit log).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RetentionReport {
    pub policy: Retention,
    pub deleted: Vec<PruneItem>,
    /// Kept although the policy alone would delete them (and why).
    pub protected: Vec<PruneItem>,
    /// The policy could not be met: what is over, and what to do.
    pub unmet: Option<String>,
    /// The env's backups after the pass, count and bytes.
    pub kept: usize,
    pub kept_bytes: u64,
    /// The pass itself failed (the verb it followed succeeded): what happened.
    pub error: Option<String>,
}

/// The automatic retention pass after `just_made` was made for `target`: under the env's lock,
/// the oldest backups the policy no longer wants are deleted (backup file, then its manifest),
/// and one audit line lists them. It never fails the verb it follows: a failure is reported.
pub(crate) fn after_backup(
    ws: &Workspace,
    target: &EnvTarget,
    just_made: &BackupRecord,
) -> RetentionReport {
    let mut report = RetentionReport {
        policy: ws.retention.clone(),
        deleted: vec![],
        protected: vec![],
        unmet: None,
        kept: 0,
        kept_bytes: 0,
        error: None,
    };
    if let Err(e) = apply_after(ws, target, just_made, &mut report) {
        tracing::warn!("retention after a backup of {}: {e}", target.name);
        let left = match report.deleted.len() {
            0 => "the backups were left as they are".to_string(),
            n => format!("{n} listed above were deleted before it, the others left as they are"),
        };
        report.error = Some(format!(
            "{e}; {left} (run `pipeline-db backups prune {}` later)",
            target.name
        ));
    }
    report
}

fn apply_after(
    ws: &Workspace,
    target: &EnvTarget,
    just_made: &BackupRecord,
    report: &mut RetentionReport,
) -> Result<()> {
    let _lock = crate::safety::lock::acquire(&target.path, ws.busy_timeout(), "retention")?;
    let list = crate::backups::record::list(target)?;
    let guards = Guards {
        // Verified seconds ago, under the verb's lock: the newest verified backup of the env.
        newest_verified: Some(just_made.path.clone()),
        undo_target: crate::safety::audit::last_undoable(ws, &target.name)?.and_then(|e| e.backup),
        just_made: Some(just_made.path.clone()),
        unchecked: vec![],
    };
    let others = others_bytes(ws, &target.name);
    let sel = select(&list, &ws.retention, ws.retention.keep, &guards, others);
    report.protected = sel.protected;
    report.unmet = sel.unmet;
    let deleted = match sel.delete.is_empty() {
        true => Ok(()),
        false => record_deletions(ws, target, &sel.delete, report),
    };
    // What is kept is what was not deleted, also after a failure part-way.
    report.kept = list.len() - report.deleted.len();
    report.kept_bytes = list.iter().map(|b| b.on_disk_bytes()).sum::<u64>()
        - report.deleted.iter().map(|d| d.size_bytes).sum::<u64>();
    if deleted.is_err() {
        // "What is left is protected" was worked out for a pass that finished: not said now.
        report.unmet = None;
    }
    deleted
}

/// Deletes `delete` as one audited action ("backups prune", automatic), recording each deleted
/// backup in `report` as it goes (a failure half-way still lists what was deleted).
fn record_deletions(
    ws: &Workspace,
    target: &EnvTarget,
    delete: &[PruneItem],
    report: &mut RetentionReport,
) -> Result<()> {
    let deleted = std::cell::RefCell::new(vec![]);
    let result = crate::safety::audit::recorded(
        ws,
        &target.name,
        &target.path,
        Verb::Prune,
        |_| {
            for d in delete {
                remove(&d.path)?;
                deleted.borrow_mut().push(d.clone());
            }
            crate::storage::fs::fsync_dir(&target.backup_dir)
        },
        |_| (summary(&deleted.borrow()), None),
    );
    report.deleted = deleted.into_inner();
    result
}

fn summary(deleted: &[PruneItem]) -> String {
    let names: Vec<String> = deleted
        .iter()
        .map(|d| {
            d.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    format!(
        "automatic retention: deleted {} backup{} ({} bytes): {}",
        deleted.len(),
        if deleted.len() == 1 { "" } else { "s" },
        deleted.iter().map(|d| d.size_bytes).sum::<u64>(),
        names.join(", ")
    )
}

/// Deletes one backup: the file first, then its manifest (a crash in between leaves a manifest
/// without a backup, which no listing shows), never its pin (pinned backups are never deleted).
pub(crate) fn remove(path: &Path) -> Result<()> {
    crate::storage::failpoint::hit("retention:before_delete")?;
    std::fs::remove_file(path).map_err(Error::io("deleting backup", path))?;
    let m = crate::backups::record::manifest_path(path);
    match std::fs::remove_file(&m) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io("deleting manifest", &m)(e))
        }
        _ => Ok(()),
    }
}

/// An env's backups with the policy that governs them and the disk they use (the desktop's
/// Backups view; `backups list` prints the same).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BackupsView {
    pub env: String,
    pub policy: Retention,
    /// Oldest first; `pinned` is read from each backup's pin.
    pub backups: Vec<BackupRecord>,
    /// The backup `undo` would restore, if it is one of these.
    pub undo_target: Option<PathBuf>,
    pub env_bytes: u64,
    /// What the backups of every env in the data dir use (the budget's measure).
    pub all_bytes: u64,
}

/// Reads `env`'s backups, the policy and the disk use. Changes nothing.
pub fn view(ws: &Workspace, env: &str) -> Result<BackupsView> {
    let target = ws.env(env)?;
    let backups = crate::backups::record::list(&target)?;
    let env_bytes = backups.iter().map(|b| b.on_disk_bytes()).sum();
    Ok(BackupsView {
        env: target.name.clone(),
        policy: ws.retention.clone(),
        undo_target: crate::safety::audit::last_undoable(ws, &target.name)?
            .and_then(|e| e.backup)
            .filter(|u| backups.iter().any(|b| same_file(&b.path, u))),
        backups,
        env_bytes,
        all_bytes: env_bytes + others_bytes(ws, &target.name),
    })
}

#[cfg(test)]
mod tests;
