//! `backup`: a verified snapshot of an env, to its backup dir or an explicit export path.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backups::record::*;
use crate::error::{Error, Result};
use crate::progress::Observer;
use crate::safety::confirm::Confirmation;
use crate::safety::plan::{Plan, Promises};
use crate::safety::ritual;
use crate::verb::Verb;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

/// Options of a manual backup.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Export to this file instead of the env's backup dir (never overwritten).
    pub output: Option<PathBuf>,
    pub label: Option<String>,
}

/// A manual backup: what it will copy and where.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BackupPlan {
    #[cfg_attr(feature = "ts", ts(type = "\"backup\""))]
    pub verb: Verb,
    pub env: String,
    pub path: PathBuf,
    /// Which file was at `path` when the plan was made (device, inode), or `missing`: the plan
    /// re-made under the lock refuses another file there.
    pub file_id: String,
    pub size_bytes: u64,
    pub row_counts: std::collections::BTreeMap<String, u64>,
    pub backup_dir: PathBuf,
    /// An export to a file of the user's choosing instead of the env's backup dir.
    pub export: bool,
    pub output: Option<PathBuf>,
    pub label: Option<String>,
}

/// What `backup ENV` (or an export, `export`) will copy: the file must exist and carry the env's tag.
pub fn plan(ws: &Workspace, env: &str, export: bool) -> Result<BackupPlan> {
    let target = ws.env(env)?;
    let conn = crate::safety::session::inspect(ws, &target)?.ok_or_else(|| Error::Missing {
        path: target.path.clone(),
        next: "nothing to back up".into(),
    })?;
    crate::schema::tag::require_identity(&conn, &target)?;
    Ok(BackupPlan {
        verb: Verb::Backup,
        env: target.name.clone(),
        path: target.path.clone(),
        file_id: crate::safety::plan::file_id(&target.path),
        size_bytes: crate::safety::space::db_bytes(&target.path),
        row_counts: crate::storage::db::row_counts(&conn)?,
        backup_dir: target.backup_dir.clone(),
        export,
        output: None,
        label: None,
    })
}

impl Plan for BackupPlan {
    fn verb(&self) -> Verb {
        Verb::Backup
    }
    fn env(&self) -> &str {
        &self.env
    }
    fn confirmation(&self) -> Confirmation {
        Confirmation::None
    }
    fn summary(&self) -> String {
        "manual backup".into()
    }
    /// A backup changes nothing: only which file it copies is promised.
    fn promises(&self) -> Promises {
        Promises::new(Verb::Backup, &self.env)
            .file("file", &self.file_id)
            .item("export", self.export)
    }
}

/// A manual backup made: the record, and the automatic retention pass after it (none after an
/// export, which retention never touches).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BackupOutcome {
    #[serde(flatten)]
    pub backup: BackupRecord,
    pub retention: Option<crate::safety::retention::RetentionReport>,
}

/// `backup ENV`: a verified snapshot of the current committed state, without blocking writers.
pub fn run(ws: &Workspace, env: &str, opts: &BackupOptions) -> Result<BackupOutcome> {
    run_observed(ws, env, opts, &crate::Quiet)
}

/// [`run`], reporting progress (bytes copied, then verified) to `obs`, which can cancel it (the
/// unfinished copy is removed; nothing else was changed).
pub fn run_observed(
    ws: &Workspace,
    env: &str,
    opts: &BackupOptions,
    obs: &dyn Observer,
) -> Result<BackupOutcome> {
    let ws = &ws.as_configured_now()?;
    crate::storage::timing::reset();
    let target = ws.env(env)?;
    let shown = BackupPlan {
        verb: Verb::Backup,
        env: target.name.clone(),
        path: target.path.clone(),
        file_id: crate::safety::plan::file_id(&target.path),
        size_bytes: 0,
        row_counts: Default::default(),
        backup_dir: target.backup_dir.clone(),
        export: opts.output.is_some(),
        output: opts.output.clone(),
        label: opts.label.clone(),
    };
    let done = ritual::audited(ws, &target.name, &target.path, &shown, |_| {
        let rec = take(ws, &target, opts, obs)?;
        Ok(ritual::Done {
            summary: None,
            evidence: vec![],
            plan: shown.clone(),
            backup: Some(rec.clone()),
            out: rec,
            duration_ms: 0,
            timings: vec![],
            retention: None,
        })
    })?;
    let done = match opts.output {
        Some(_) => done,
        None => done.then_retention(ws, &target),
    };
    Ok(BackupOutcome {
        backup: done.out,
        retention: done.retention,
    })
}

fn take(
    ws: &Workspace,
    target: &EnvTarget,
    opts: &BackupOptions,
    obs: &dyn Observer,
) -> Result<BackupRecord> {
    if let Some(label) = &opts.label {
        if label.len() > 200 || label.chars().any(char::is_control) {
            return Err(Error::InvalidInput(
                "a backup label is at most 200 characters, without control characters".into(),
            ));
        }
    }
    let output = opts.output.as_deref().map(check_output_path).transpose()?;
    if let Some(out) = &output {
        refuse_live_names(ws, out)?;
    }
    let conn = crate::safety::session::inspect(ws, target)?.ok_or_else(|| Error::Missing {
        path: target.path.clone(),
        next: "nothing to back up".into(),
    })?;
    crate::schema::tag::require_identity(&conn, target)?;
    crate::safety::space::preflight_space(target, false)?;
    crate::safety::audit::require_writable(&ws.audit_path())?;
    // No quick_check of the source first: the copy's quick_check reads the very same pages
    // (the backup API copies them verbatim). Only when it fails is the source checked, to say
    // which of the two is damaged.
    crate::backups::take::backup_now(
        ws,
        target,
        Reason::Manual,
        opts.label.clone(),
        None,
        match output.as_deref() {
            Some(p) => crate::backups::take::Dest::Exact(p),
            None => crate::backups::take::Dest::BackupDir(None),
        },
        obs,
    )
    .map_err(|e| match e {
        Error::BackupVerify { .. } => match crate::safety::health::require_healthy(&conn, target) {
            Err(corrupt @ Error::Corrupt { .. }) => corrupt,
            _ => e,
        },
        e => crate::safety::health::corrupt_if_malformed(e, target),
    })
}

/// An explicit export path; see [`crate::backups::names::check_output_path`].
pub fn check_output_path(p: &Path) -> Result<PathBuf> {
    crate::backups::names::check_output_path(p)
}

/// An export must not land on one of the workspace's own files, nor beside an existing manifest.
fn refuse_live_names(ws: &Workspace, out: &Path) -> Result<()> {
    crate::workspace::own_files::refuse(ws, out)?;
    let manifest = manifest_path(out);
    if std::fs::symlink_metadata(&manifest).is_ok() {
        return Err(Error::Refused(format!(
            "{} already exists; the export's manifest would not fit beside it. Choose another name",
            manifest.display()
        )));
    }
    Ok(())
}
