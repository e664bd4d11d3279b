//! `backups verify`: one backup by name or path, or every listed backup, checked and recorded.
//! A file no manifest of ours vouches for is checked on a private copy (see [`unvouched`]).

use std::path::{Path, PathBuf};

use crate::backups::names;
use crate::backups::record;
use crate::backups::verify::{self, VerifyReport};
use crate::error::{Error, Result};
use crate::storage::fs;
use crate::workspace::config::Workspace;

/// `backups verify NAME`: resolves a name (in any env's backup dir) or path, verifies, records.
pub fn named(ws: &Workspace, arg: &str) -> Result<VerifyReport> {
    let path = resolve(ws, arg)?;
    // A manifest vouches only in a backup dir of ours, for that dir's env: anything else is
    // checked in full (a manifest there that cannot be read fails the verification).
    let vouched = record::backup_dir_env(ws, &path).is_some_and(|env| {
        record::manifest_path(&path).exists()
            && record::read_manifest(&path).map_or(true, |m| m.env == env)
    });
    let r = match vouched {
        true => verify::verify(&path, None),
        false => unvouched(ws, &path)?,
    };
    verify::record(ws, &r);
    Ok(r)
}

/// `backups verify --all [ENV]`: every listed backup, against its manifest.
pub fn all(ws: &Workspace, env: Option<&str>) -> Result<Vec<VerifyReport>> {
    let targets = match env {
        Some(e) => vec![ws.env(e)?],
        None => ws.envs.values().cloned().collect(),
    };
    let mut out = vec![];
    for t in &targets {
        for b in record::list(t)? {
            let r = verify::verify(&b.path, Some(&b));
            verify::record(ws, &r);
            out.push(r);
        }
    }
    Ok(out)
}

fn resolve(ws: &Workspace, arg: &str) -> Result<PathBuf> {
    if arg.contains('/') {
        return names::check_input_path(Path::new(arg), "backup");
    }
    names::check_backup_name(arg)?;
    let found: Vec<PathBuf> = ws
        .envs
        .values()
        .filter_map(|t| names::resolve_in_dir(&t.backup_dir, arg).ok())
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::InvalidInput(format!(
            "no backup named `{arg}`; see `pipeline-db backups list`"
        ))),
        _ => Err(Error::InvalidInput(format!(
            "`{arg}` names backups of several envs; give its path"
        ))),
    }
}

/// A file without a manifest of ours: its bytes prove nothing, so every rule is checked — on a
/// private copy in the data dir, because SQLite reads CHECK constraints only on a writable
/// connection and the file itself must stay untouched (and may sit on a read-only stick). The
/// copy is removed afterwards, whatever the outcome; the report names the file, not the copy.
fn unvouched(ws: &Workspace, path: &Path) -> Result<VerifyReport> {
    if let Some(t) = ws.env_of_file(path) {
        return Err(Error::InvalidInput(format!(
            "{} is the live database of {} (or one of its files), not a backup; `pipeline-db check {}` checks it",
            path.display(),
            t.name,
            t.name
        )));
    }
    if crate::storage::db::log_beside(path) {
        // The file alone is not the database: verifying in place says so and reads nothing else.
        return Ok(verify::verify(path, None));
    }
    let size = std::fs::metadata(path)
        .map_err(Error::io("reading", path))?
        .len();
    let dir = ws.backups_root();
    std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
    crate::safety::space::require(dir.clone(), size, "a private copy to check")?;
    let copy = fs::temp_beside(&dir.join("verify.sqlite3"));
    let _cleanup = RemoveOnDrop(&copy);
    // A compressed file is checked as what it decompresses to (a damaged stream fails here).
    let sha = match crate::backups::stored::is_compressed(path) {
        true => match crate::backups::stored::decompress_hashed(path, &copy, &|_| ()) {
            Ok(sha) => sha,
            Err(e) => return Ok(verify::describe_failure(path, e.to_string())),
        },
        false => {
            let mut to = fs::create_new(&copy)?;
            crate::storage::hash::copy_hashed(path, &mut to, &copy, &|_| ())?
        }
    };
    let mut r = verify::verify_hashed(&copy, None, &sha);
    r.path = path.to_path_buf();
    Ok(r)
}

/// Removes a private copy and whatever SQLite left beside it.
struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(crate::storage::db::sidecar(self.0, suffix));
        }
    }
}
