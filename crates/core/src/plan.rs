//! Pieces shared by every verb's plan, and the guarded steps every destructive action runs:
//! free-space preflight and the verified pre-action backup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::Serialize;

use crate::backup::{self, BackupRecord, Reason};
use crate::config::Workspace;
use crate::env::EnvTarget;
use crate::error::{Error, Result};
use crate::fsutil;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TableRows {
    pub name: String,
    pub rows: u64,
}

pub fn table_rows(counts: &BTreeMap<String, u64>) -> Vec<TableRows> {
    counts
        .iter()
        .map(|(name, rows)| TableRows {
            name: name.clone(),
            rows: *rows,
        })
        .collect()
}

/// The backup a plan will take, or why none is needed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BackupStep {
    pub required: bool,
    pub reason: Reason,
    pub dir: PathBuf,
    /// The name it will get (a `-N` suffix is added if taken at that moment).
    pub path: PathBuf,
    pub why: String,
}

impl BackupStep {
    pub fn new(
        target: &EnvTarget,
        reason: Reason,
        required: bool,
        why: impl Into<String>,
    ) -> BackupStep {
        BackupStep {
            required,
            reason,
            dir: target.backup_dir.clone(),
            path: backup::default_path(&target.backup_dir, &target.name, reason),
            why: why.into(),
        }
    }
}

/// How a plan must be confirmed.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// Nothing is lost: no question needed.
    None,
    /// dev/test: yes or no.
    YesNo,
    /// protected envs: the user types the env name.
    TypeEnvName,
}

impl Confirmation {
    pub fn for_target(target: &EnvTarget, destructive: bool) -> Confirmation {
        match (destructive, target.protected) {
            (false, _) => Confirmation::None,
            (true, false) => Confirmation::YesNo,
            (true, true) => Confirmation::TypeEnvName,
        }
    }
}

/// What the user said, passed from the adapter to core, which enforces the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmed {
    /// The user answered yes, or passed `--force`.
    pub yes: bool,
    /// The env name the user typed (or passed with `--confirm-env`).
    pub typed_env: Option<String>,
}

impl Confirmed {
    pub fn forced() -> Confirmed {
        Confirmed {
            yes: true,
            typed_env: None,
        }
    }

    /// Enforces the confirmation a plan asks for.
    pub fn require(&self, needed: Confirmation, target: &EnvTarget, verb: &str) -> Result<()> {
        let env = &target.name;
        match needed {
            Confirmation::None => Ok(()),
            _ if !self.yes => Err(Error::Refused(format!(
                "{verb} of {env} needs confirmation: answer the prompt, or pass --force"
            ))),
            Confirmation::TypeEnvName if self.typed_env.as_deref() != Some(env.as_str()) => {
                Err(Error::Refused(format!(
                    "{env} is protected: --force alone is not enough; type `{env}` at the prompt or pass --confirm-env {env}"
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Free space check before a backup and rebuild.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SpaceCheck {
    pub dir: PathBuf,
    pub needed_bytes: u64,
    pub available_bytes: u64,
}

/// Size of a database with its WAL.
pub fn db_bytes(path: &Path) -> u64 {
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    len(path) + len(Path::new(&wal))
}

/// Backup and rebuild need about twice the database: refuse early, with the figures.
pub(crate) fn preflight_space(target: &EnvTarget, backup: bool) -> Result<Vec<SpaceCheck>> {
    use std::os::unix::fs::MetadataExt;
    let size = db_bytes(&target.path);
    let db_dir = target.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let dev = |p: &Path| {
        let mut q = p;
        while !q.exists() {
            q = q.parent().unwrap_or(Path::new("/"));
        }
        std::fs::metadata(q).map(|m| m.dev()).unwrap_or(0)
    };
    let mut checks = vec![];
    let margin = 64 * 1024;
    if backup && dev(&target.backup_dir) != dev(&db_dir) {
        checks.push((target.backup_dir.clone(), size + margin));
        checks.push((db_dir, size + margin));
    } else {
        checks.push((db_dir, size * if backup { 2 } else { 1 } + margin));
    }
    let mut out = vec![];
    for (dir, needed) in checks {
        let available = fsutil::available_space(&dir)?;
        if available < needed {
            return Err(Error::NoSpace {
                dir,
                needed,
                available,
            });
        }
        out.push(SpaceCheck {
            dir,
            needed_bytes: needed,
            available_bytes: available,
        });
    }
    Ok(out)
}

/// Takes the verified backup and records it (manifest + ledger). Before a destructive step the
/// caller holds `BEGIN IMMEDIATE` and passes the row counts it read (`expected`).
pub(crate) fn backup_now(
    ws: &Workspace,
    target: &EnvTarget,
    reason: Reason,
    label: Option<String>,
    expected: Option<&BTreeMap<String, u64>>,
    dest: Option<&Path>,
    obs: &dyn crate::Observer,
) -> Result<BackupRecord> {
    crate::audit::require_writable(&ws.audit_path())?;
    crate::failpoint::hit("backup:before_copy")?;
    let dest_is_explicit = dest.is_some();
    let dest = match dest {
        Some(d) => d.to_path_buf(),
        None => {
            std::fs::create_dir_all(&target.backup_dir)
                .map_err(Error::io("creating backup dir", &target.backup_dir))?;
            crate::names::check_resolves_to_itself(&target.backup_dir)?;
            backup::default_path(&target.backup_dir, &target.name, reason)
        }
    };
    let snap = backup::snapshot(
        &target.path,
        &dest,
        expected,
        dest_is_explicit,
        ws.busy_timeout(),
        obs,
    )?;
    let rec = BackupRecord {
        path: snap.path,
        env: target.name.clone(),
        source_path: target.path.clone(),
        created_at: crate::now_rfc3339(),
        tool_version: crate::tag::TOOL_VERSION.into(),
        schema_version: snap.schema_version,
        reason,
        label,
        size_bytes: snap.size_bytes,
        sha256: snap.sha256,
        row_counts: snap.row_counts,
    };
    backup::record(&rec, &ws.backups_root().join("ledger.jsonl"))?;
    tracing::info!(backup = %rec.path.display(), "verified backup written");
    Ok(rec)
}

/// Runs `f` in the caller's open transaction: COMMIT on success, ROLLBACK on any error.
pub(crate) fn commit_or_rollback<T>(
    conn: &Connection,
    path: &Path,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match f() {
        Ok(v) => {
            conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                crate::db::classify(path, e, "committing".into())
            })?;
            Ok(v)
        }
        Err(e) => {
            if !conn.is_autocommit() {
                if let Err(re) = conn.execute_batch("ROLLBACK") {
                    tracing::error!("rollback failed: {re}");
                }
            }
            Err(crate::db::promote_disk_full(path, e))
        }
    }
}

/// Short human summary of table counts: "3 tables, 526 rows".
pub fn summarize(tables: &[TableRows]) -> String {
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    format!("{} tables, {rows} rows", tables.len())
}
