//! `backups prune`: retention per env (count and total size), never deleting the newest verified
//! backup nor the backup `undo` would restore.

use std::path::PathBuf;

use serde::Serialize;

use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{Plan, Promises};
use crate::safety::ritual;
use crate::verb::Verb;

use crate::backups::record::BackupRecord;
use crate::error::Result;
use crate::safety::retention::{self, Guards};
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

pub use crate::safety::retention::PruneItem;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PrunePlan {
    #[cfg_attr(feature = "ts", ts(type = "\"backups prune\""))]
    pub verb: Verb,
    pub env: String,
    pub keep: usize,
    pub max_total_bytes: Option<u64>,
    /// The data dir's budget for all backups (`retention.budget_mib`), in bytes.
    pub budget_bytes: Option<u64>,
    pub delete: Vec<PruneItem>,
    /// Backups kept although the rules alone would delete them.
    pub protected: Vec<PruneItem>,
    pub total_bytes_before: u64,
    pub frees_bytes: u64,
    /// The policy cannot be met without deleting a protected backup: what is over.
    pub unmet: Option<String>,
    pub deleted: bool,
    /// Deleting backups loses them: core's one rule (y/N, the typed name on a protected env).
    pub confirmation: Confirmation,
}

/// The newest backup of the list that passes a full verification now (recorded in the
/// verification log when `record`: by the prune itself, not by a plan or a dry run, which write
/// nothing).
/// The newest backup of the list that passes a full verification now (recorded in the
/// verification log when `record`: by the prune itself, not by a plan or a dry run, which write
/// nothing), and the newer ones that could not be checked here (no room to decompress them): any
/// of those may be the newest verified one, so they are kept too (review 28: one was taken for a
/// bad one, and the only verified backup of the data was deleted; review 29: refusing the prune
/// instead left a full disk full).
fn newest_verified(
    ws: &Workspace,
    list: &[BackupRecord],
    record: bool,
) -> (Option<PathBuf>, Vec<PathBuf>) {
    let mut unchecked = vec![];
    for b in list.iter().rev() {
        let r = crate::backups::verify::verify(&b.path, Some(b));
        if record {
            crate::backups::verify::record(ws, &r);
        }
        if r.inconclusive {
            unchecked.push(b.path.clone());
        } else if r.ok {
            return (Some(b.path.clone()), unchecked);
        }
    }
    (None, unchecked)
}

/// What prune would delete in `target`'s backup dir (verifies backups, deletes nothing). The
/// other envs' backups count against the data dir's budget as `others_bytes`.
pub fn plan(ws: &Workspace, target: &EnvTarget, keep: Option<usize>) -> Result<PrunePlan> {
    let others = crate::safety::retention::others_bytes(ws, &target.name);
    plan_with(ws, target, keep, others, false)
}

/// The plan; `record`: the verifications it makes go into the verification log (the prune under
/// its lock).
fn plan_with(
    ws: &Workspace,
    target: &EnvTarget,
    keep: Option<usize>,
    others_bytes: u64,
    record: bool,
) -> Result<PrunePlan> {
    let keep = keep.unwrap_or(ws.retention.keep);
    let mib = crate::workspace::config::Retention::bytes;
    let list = crate::backups::record::list(target)?;
    let (newest, unchecked) = newest_verified(ws, &list, record);
    let guards = Guards {
        newest_verified: newest,
        undo_target: crate::verbs::undo::target_backup(ws, &target.name)?,
        just_made: None,
        unchecked,
    };
    let sel = retention::select(&list, &ws.retention, keep, &guards, others_bytes);
    let frees_bytes = sel.delete.iter().map(|d| d.size_bytes).sum();
    Ok(PrunePlan {
        verb: Verb::Prune,
        env: target.name.clone(),
        keep,
        max_total_bytes: mib(ws.retention.max_total_mib),
        budget_bytes: mib(ws.retention.budget_mib),
        confirmation: Confirmation::for_target(target, !sel.delete.is_empty()),
        delete: sel.delete,
        protected: sel.protected,
        total_bytes_before: list.iter().map(|b| b.on_disk_bytes()).sum(),
        frees_bytes,
        unmet: sel.unmet,
        deleted: false,
    })
}

/// The prune plans of one env (`Some`) or all.
pub fn plan_all(ws: &Workspace, env: Option<&str>, keep: Option<usize>) -> Result<Vec<PrunePlan>> {
    let targets = match env {
        Some(e) => vec![ws.env(e)?],
        None => ws.envs.values().cloned().collect(),
    };
    // Each env's plan counts the others' backups as they will be after the plans before it.
    let mut plans: Vec<PrunePlan> = vec![];
    for t in &targets {
        let freed: u64 = plans.iter().map(|p| p.frees_bytes).sum();
        let others = crate::safety::retention::others_bytes(ws, &t.name).saturating_sub(freed);
        plans.push(plan_with(ws, t, keep, others, false)?);
    }
    Ok(plans)
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
    let ws = &ws.as_configured_now()?;
    let t = ws.env(&shown.env)?;
    let done = ritual::audited(ws, &t.name, &t.path, shown, |_| {
        crate::safety::plan::require_confirmed(shown, confirmed, &t)?;
        let _lock = ritual::lock(ws, &t, Verb::Prune)?;
        let others = crate::safety::retention::others_bytes(ws, &t.name);
        let mut p = plan_with(ws, &t, Some(shown.keep), others, true)?;
        crate::safety::plan::require_unchanged(shown, &p)?;
        for (i, d) in p.delete.iter().enumerate() {
            retention::remove(&d.path)
                .map_err(|e| stopped_at(e, &p.delete[..i], p.delete.len()))?;
        }
        if !p.delete.is_empty() {
            crate::storage::fs::fsync_dir(&t.backup_dir)?;
        }
        p.deleted = true;
        Ok(ritual::Done {
            summary: None,
            evidence: vec![],
            plan: p.clone(),
            out: p,
            backup: None,
            duration_ms: 0,
            timings: vec![],
            retention: None,
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

/// A prune that stopped at a deletion: what it deleted before (each named), and that the rest is
/// left.
fn stopped_at(e: crate::Error, deleted: &[PruneItem], planned: usize) -> crate::Error {
    let names: Vec<String> = deleted
        .iter()
        .map(|d| d.path.display().to_string())
        .collect();
    let before = match names.is_empty() {
        true => "nothing was deleted before it".to_string(),
        false => format!("deleted before it: {}", names.join(", ")),
    };
    crate::Error::PartlyDone(format!(
        "{e}; {before}; the other {} planned deletions were not made",
        planned - deleted.len()
    ))
}
