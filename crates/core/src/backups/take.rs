//! The verified pre-action backup: snapshot, verify, place, manifest and ledger.

use std::collections::BTreeMap;
use std::path::Path;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result};
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

/// Where a backup goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dest<'a> {
    /// A path the user gave (an export): exactly that name, never overwritten.
    Exact(&'a Path),
    /// The env's backup dir, under the name the shown plan gave it (else a fresh one).
    BackupDir(Option<&'a Path>),
}

/// Takes the verified backup and records it (manifest + ledger). Before a destructive step the
/// caller holds `BEGIN IMMEDIATE` and passes the row counts it read (`expected`).
pub(crate) fn backup_now(
    ws: &Workspace,
    target: &EnvTarget,
    reason: Reason,
    label: Option<String>,
    expected: Option<&BTreeMap<String, u64>>,
    dest: Dest<'_>,
    obs: &dyn crate::Observer,
) -> Result<BackupRecord> {
    crate::storage::failpoint::hit("backup:before_copy")?;
    let dest_is_explicit = matches!(dest, Dest::Exact(_));
    let dest = match dest {
        Dest::Exact(d) => d.to_path_buf(),
        Dest::BackupDir(named) => {
            crate::backups::names::check_resolves_to_itself(&target.backup_dir)?;
            std::fs::create_dir_all(&target.backup_dir)
                .map_err(Error::io("creating backup dir", &target.backup_dir))?;
            crate::backups::names::check_resolves_to_itself(&target.backup_dir)?;
            // Its ledger line must be writable before a backup exists that it would not list.
            crate::storage::fs::check_appendable_if_present(
                &ws.backups_root().join("ledger.jsonl"),
            )?;
            // The name the plan showed, when it is one of this env's backup names (a taken name
            // still gets `-2`: nothing is overwritten).
            named
                .filter(|p| p.parent() == Some(target.backup_dir.as_path()))
                .map(Path::to_path_buf)
                .unwrap_or_else(|| crate::backups::record::default_path(target, reason))
        }
    };
    let snap = crate::backups::snapshot::snapshot(
        &target.path,
        &dest,
        expected,
        dest_is_explicit,
        ws.busy_timeout(),
        obs,
    )?;
    tracing::info!(method = ?snap.method, "snapshot of {} taken", target.name);
    let rec = BackupRecord {
        path: snap.path,
        env: target.name.clone(),
        source_path: target.path.clone(),
        created_at: crate::now_rfc3339(),
        tool_version: crate::schema::tag::TOOL_VERSION.into(),
        schema_version: snap.schema_version,
        reason,
        label,
        size_bytes: snap.size_bytes,
        sha256: snap.sha256,
        row_counts: snap.row_counts,
        pinned: false,
        stored: snap.stored,
        measured_bytes: None,
    };
    crate::backups::record::record(&rec, &ws.backups_root().join("ledger.jsonl"))?;
    tracing::info!(backup = %rec.path.display(), "verified backup written");
    Ok(rec)
}
