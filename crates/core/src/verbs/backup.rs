//! `backup`: a verified snapshot of an env, to its backup dir or an explicit export path.

use std::path::{Path, PathBuf};

use crate::backups::record::*;
use crate::error::{Error, Result};
use crate::progress::Observer;

/// Options of a manual backup.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Export to this file instead of the env's backup dir (never overwritten).
    pub output: Option<PathBuf>,
    pub label: Option<String>,
}

/// `backup ENV`: a verified snapshot of the current committed state, without blocking writers.
pub fn run(
    ws: &crate::workspace::config::Workspace,
    env: &str,
    opts: &BackupOptions,
) -> Result<BackupRecord> {
    run_observed(ws, env, opts, &crate::Quiet)
}

/// [`run`], reporting progress (bytes copied, then verified) to `obs`, which can cancel it (the
/// unfinished copy is removed; nothing else was changed).
pub fn run_observed(
    ws: &crate::workspace::config::Workspace,
    env: &str,
    opts: &BackupOptions,
    obs: &dyn Observer,
) -> Result<BackupRecord> {
    crate::storage::timing::reset();
    let target = ws.env(env)?;
    let rec =
        crate::safety::audit::Recorder::new(ws.audit_path(), &target.name, &target.path, "backup");
    let result = (|| {
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
        let conn = crate::safety::session::inspect(ws, &target)?.ok_or_else(|| {
            Error::InvalidInput(format!(
                "{} does not exist; nothing to back up",
                target.path.display()
            ))
        })?;
        crate::schema::tag::require_identity(&conn, &target)?;
        crate::safety::space::preflight_space(&target, false)?;
        // No quick_check of the source first: the copy's quick_check reads the very same pages
        // (the backup API copies them verbatim). Only when it fails is the source checked, to say
        // which of the two is damaged.
        crate::backups::take::backup_now(
            ws,
            &target,
            Reason::Manual,
            opts.label.clone(),
            None,
            output.as_deref(),
            obs,
        )
        .map_err(|e| match e {
            Error::BackupVerify { .. } => {
                match crate::safety::health::require_healthy(&conn, &target) {
                    Err(corrupt @ Error::Corrupt { .. }) => corrupt,
                    _ => e,
                }
            }
            e => crate::safety::health::corrupt_if_malformed(e, &target),
        })
    })();
    let path = result.as_ref().ok().map(|r| r.path.clone());
    rec.finish("manual backup", path.as_deref(), &result)?;
    result
}

/// An explicit export path; see [`crate::backups::names::check_output_path`].
pub fn check_output_path(p: &Path) -> Result<PathBuf> {
    crate::backups::names::check_output_path(p)
}

/// An export must not land on (or beside) any env's live database, nor beside an existing manifest.
fn refuse_live_names(ws: &crate::workspace::config::Workspace, out: &Path) -> Result<()> {
    for t in ws.envs.values() {
        for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
            let mut live = t.path.as_os_str().to_owned();
            live.push(suffix);
            if out == Path::new(&live) {
                return Err(Error::Refused(format!(
                    "{} is {}'s live database (or one of its files); export somewhere else",
                    out.display(),
                    t.name
                )));
            }
        }
    }
    let manifest = manifest_path(out);
    if std::fs::symlink_metadata(&manifest).is_ok() {
        return Err(Error::Refused(format!(
            "{} already exists; the export's manifest would not fit beside it. Choose another name",
            manifest.display()
        )));
    }
    Ok(())
}
