//! `backups prune`: retention per env (count and total size), never deleting the newest verified
//! backup nor the backup `undo` would restore.

use std::path::PathBuf;

use serde::Serialize;

use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{Plan, Promises};
use crate::safety::ritual;
use crate::verb::Verb;

use crate::backups::record::BackupRecord;
use crate::error::{Error, Result};
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PruneItem {
    pub path: PathBuf,
    pub created_at: String,
    pub size_bytes: u64,
    /// Why it goes, or why it stays.
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PrunePlan {
    #[cfg_attr(feature = "ts", ts(type = "\"backups prune\""))]
    pub verb: Verb,
    pub env: String,
    pub keep: usize,
    pub max_total_bytes: Option<u64>,
    pub delete: Vec<PruneItem>,
    /// Backups kept although the rules alone would delete them.
    pub protected: Vec<PruneItem>,
    pub total_bytes_before: u64,
    pub frees_bytes: u64,
    pub deleted: bool,
    /// Deleting backups loses them: core's one rule (y/N, the typed name on a protected env).
    pub confirmation: Confirmation,
}

fn item(b: &BackupRecord, why: impl Into<String>) -> PruneItem {
    PruneItem {
        path: b.path.clone(),
        created_at: b.created_at.clone(),
        size_bytes: b.size_bytes,
        why: why.into(),
    }
}

/// The newest backup of the list that passes a full verification now (recorded in the log).
fn newest_verified(ws: &Workspace, list: &[BackupRecord]) -> Option<PathBuf> {
    list.iter().rev().find_map(|b| {
        let r = crate::backups::verify::verify(&b.path, Some(b));
        crate::backups::verify::record(ws, &r);
        r.ok.then(|| b.path.clone())
    })
}

/// What prune would delete in `target`'s backup dir (verifies backups, deletes nothing).
pub fn plan(ws: &Workspace, target: &EnvTarget, keep: Option<usize>) -> Result<PrunePlan> {
    let keep = keep.unwrap_or(ws.retention.keep);
    let max = (ws.retention.max_total_mib > 0).then(|| ws.retention.max_total_mib * 1024 * 1024);
    let list = crate::backups::record::list(target)?;
    let undo = crate::verbs::undo::target_backup(ws, &target.name)?;
    let newest = newest_verified(ws, &list);
    let same = |a: &PathBuf, b: &PathBuf| {
        a == b || std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok()
    };
    let guard = |b: &BackupRecord| -> Option<&'static str> {
        if newest.as_ref().is_some_and(|n| same(n, &b.path)) {
            Some("the newest verified backup")
        } else if undo.as_ref().is_some_and(|u| same(u, &b.path)) {
            Some("the backup `undo` would restore")
        } else {
            None
        }
    };
    let total: u64 = list.iter().map(|b| b.size_bytes).sum();
    let mut p = PrunePlan {
        verb: Verb::Prune,
        env: target.name.clone(),
        keep,
        max_total_bytes: max,
        delete: vec![],
        protected: vec![],
        total_bytes_before: total,
        frees_bytes: 0,
        deleted: false,
        confirmation: Confirmation::None,
    };
    let over = list.len().saturating_sub(keep);
    let mut remaining = total;
    for (i, b) in list.iter().enumerate() {
        let why = if i < over {
            format!(
                "more than {keep} backup{}",
                if keep == 1 { "" } else { "s" }
            )
        } else if max.is_some_and(|m| remaining > m) {
            format!("over the {} MiB limit", ws.retention.max_total_mib)
        } else {
            continue;
        };
        match guard(b) {
            Some(g) => p.protected.push(item(b, format!("{why}, but kept: {g}"))),
            None => {
                remaining -= b.size_bytes;
                p.delete.push(item(b, why));
            }
        }
    }
    p.frees_bytes = p.delete.iter().map(|d| d.size_bytes).sum();
    p.confirmation = Confirmation::for_target(target, !p.delete.is_empty());
    Ok(p)
}

/// The prune plans of one env (`Some`) or all.
pub fn plan_all(ws: &Workspace, env: Option<&str>, keep: Option<usize>) -> Result<Vec<PrunePlan>> {
    let targets = match env {
        Some(e) => vec![ws.env(e)?],
        None => ws.envs.values().cloned().collect(),
    };
    targets.iter().map(|t| plan(ws, t, keep)).collect()
}

/// Deletes what `shown` lists, under the env's lock (no restore is reading a backup we delete,
/// no undo target moves), after the confirmation it asks for; refused if the plan made again
/// under the lock lists anything else. Nothing to delete: no lock, no audit line.
pub fn execute(ws: &Workspace, shown: &PrunePlan, confirmed: &Confirmed) -> Result<PrunePlan> {
    if shown.delete.is_empty() {
        return Ok(PrunePlan {
            deleted: true,
            ..shown.clone()
        });
    }
    let t = ws.env(&shown.env)?;
    let done = ritual::audited(ws, &t.name, &t.path, shown, |_| {
        crate::safety::plan::require_confirmed(shown, confirmed, &t)?;
        let _lock = ritual::lock(ws, &t, Verb::Prune)?;
        let mut p = plan(ws, &t, Some(shown.keep))?;
        crate::safety::plan::require_unchanged(shown, &p)?;
        for d in &p.delete {
            remove(&d.path)?;
        }
        if !p.delete.is_empty() {
            crate::storage::fs::fsync_dir(&t.backup_dir)?;
        }
        p.deleted = true;
        Ok(ritual::Done {
            evidence: vec![],
            plan: p.clone(),
            out: p,
            backup: None,
            duration_ms: 0,
            timings: vec![],
        })
    })?;
    Ok(done.out)
}

impl Plan for PrunePlan {
    crate::safety::plan::plan_basics!(Verb::Prune);
    fn summary(&self) -> String {
        format!(
            "delete {} backups, free {} bytes",
            self.delete.len(),
            self.frees_bytes
        )
    }
    fn promises(&self) -> Promises {
        let delete: Vec<String> = self
            .delete
            .iter()
            .map(|d| d.path.display().to_string())
            .collect();
        Promises::new(Verb::Prune, &self.env)
            .item("confirmation", format!("{:?}", self.confirmation))
            .item("keep", self.keep)
            .item("delete", delete.join(", "))
    }
}

fn remove(path: &std::path::Path) -> Result<()> {
    std::fs::remove_file(path).map_err(Error::io("deleting backup", path))?;
    let m = crate::backups::record::manifest_path(path);
    match std::fs::remove_file(&m) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io("deleting manifest", &m)(e))
        }
        _ => Ok(()),
    }
}
