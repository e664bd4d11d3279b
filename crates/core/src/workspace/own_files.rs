//! The files pipeline-db keeps for itself, which no export or backup `--output` may land on.

use std::path::Path;

use crate::error::{Error, Result};
use crate::workspace::config::Workspace;

/// SQLite's files beside a database (and our lock): an output with such a name in the data dir
/// would be taken for a database's journal or lock.
const SIDECARS: [&str; 4] = ["-wal", "-shm", "-journal", ".lock"];

/// Refuses an output path (already resolved) that is one of the workspace's own files: an env's
/// live database or a file beside it, anything in the backups dir (retention's), the config file,
/// the audit log, the saved queries, or — in the data dir itself — a name SQLite or pipeline-db
/// would take for a database's journal or lock. Nothing is written by this check.
pub(crate) fn refuse(ws: &Workspace, out: &Path) -> Result<()> {
    let refuse = |what: String| {
        Err(Error::Refused(format!(
            "{} is {what}; export somewhere else (nothing was written)",
            out.display()
        )))
    };
    for t in ws.envs.values() {
        for suffix in std::iter::once("").chain(SIDECARS) {
            let mut live = t.path.as_os_str().to_owned();
            live.push(suffix);
            if same_path(out, Path::new(&live)) {
                return refuse(format!("{}'s live database (or one of its files)", t.name));
            }
        }
    }
    // The backups dir is retention's: an export there could be deleted as an old backup, or
    // counted as one.
    if inside(out, &ws.backups_root()) {
        return refuse("inside the backups dir, which retention manages (an export there could be deleted as an old backup)".into());
    }
    // The config this run reads, and the data dir's own, which a run without `--config` reads.
    let configs = [
        crate::verbs::settings::config_target(ws),
        ws.data_dir.join(crate::workspace::config::CONFIG_FILE_NAME),
    ];
    if configs.iter().any(|c| same_path(out, c)) || same_path(out, &ws.audit_path()) {
        return refuse("pipeline-db's own config or audit log".into());
    }
    if inside(out, &ws.data_dir.join(crate::workbench::saved::DIR)) {
        return refuse("inside the saved queries dir".into());
    }
    if inside(
        out,
        &ws.data_dir.join(crate::workspace::config::EVIDENCE_DIR),
    ) {
        return refuse("inside the evidence dir (byte-identical copies of damaged files)".into());
    }
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let in_data_dir = out.parent().is_some_and(|p| same_path(p, &ws.data_dir));
    if in_data_dir && SIDECARS.iter().any(|s| name.ends_with(s)) {
        return refuse(
            "in the data dir with a name SQLite would take for a database's journal or lock".into(),
        );
    }
    Ok(())
}

/// Whether two paths name the same place (their directories resolved; the file need not exist).
fn same_path(a: &Path, b: &Path) -> bool {
    resolved(a) == resolved(b)
}

fn inside(p: &Path, dir: &Path) -> bool {
    resolved(p).starts_with(resolved(dir))
}

/// `p` with its nearest existing ancestor canonicalized (links, `..`), the rest appended.
fn resolved(p: &Path) -> std::path::PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => resolved(parent).join(name),
        _ => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspaces_own_files_are_refused_and_others_pass() {
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::at(d.path()).unwrap();
        let data = d.path();
        for own in [
            "dev.sqlite3",
            "prod.sqlite3-journal",
            "test.sqlite3.lock",
            "pipeline-db.toml",
            "audit.jsonl",
            "backups/dev/x.sqlite3",
            "queries/dev.json",
            "later.sqlite3-wal",
        ] {
            let e = refuse(&ws, &data.join(own)).unwrap_err();
            assert_eq!(e.exit_code(), 3, "{own}: {e}");
        }
        // Through a `..` or a link to the data dir too.
        std::fs::create_dir(data.join("out")).unwrap();
        assert!(refuse(&ws, &data.join("out/../pipeline-db.toml")).is_err());
        for fine in ["out/users.csv", "users.csv", "older.sqlite3"] {
            refuse(&ws, &data.join(fine)).unwrap();
        }
    }
}
