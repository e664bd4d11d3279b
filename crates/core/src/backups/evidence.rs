//! Evidence: a byte-identical copy of a damaged database file kept before anything replaces it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::storage::fs;

/// Copies the file (and its `-wal`, if any) to `<db>.corrupt-<ts>` (create-new, fsynced).
/// Refuses ([`Error::OpenElsewhere`]) when another process has the damaged database at `path`
/// (or its log, shared memory or journal) open: replacing it removes the file, and that program
/// would go on writing into the removed one. Checked before the evidence copy is kept.
pub fn require_not_open_elsewhere(path: &Path) -> Result<()> {
    let files: Vec<PathBuf> = ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|s| crate::storage::db::sidecar(path, s))
        .collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    match crate::storage::os::opened_by_others(&refs) {
        Some(by) => Err(crate::Error::OpenElsewhere {
            path: path.to_path_buf(),
            by,
        }),
        None => Ok(()),
    }
}

/// Where the evidence of env `env`'s damaged file `path` is kept: beside it when it is in the data
/// dir, else in `<data>/evidence/<env>/` — nothing is written outside the data dir but the env's
/// own database.
pub fn dir_for(ws: &crate::Workspace, env: &str, path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if p == ws.data_dir => p.to_path_buf(),
        _ => ws
            .data_dir
            .join(crate::workspace::config::EVIDENCE_DIR)
            .join(env),
    }
}

/// How a plan names the evidence copy to come: `<dir>/<name>.corrupt-<time>`.
pub fn planned_name(ws: &crate::Workspace, env: &str, path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    dir_for(ws, env, path).join(format!("{name}.corrupt-<time>"))
}

/// Keeps byte-identical copies of the damaged file `path` (and its `-wal`) in `dir`
/// ([`dir_for`]) as `<name>.corrupt-<time>[-wal]`; the same damage kept before is named again.
pub fn keep_evidence(path: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let ts = crate::now_compact();
    std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
    // The same damage seen again (`check` run twice) is the same evidence: kept once — a file
    // alone, or a file and its log as the pair of one time (with a log, every `check` of the same
    // damage made a new pair and filled the disk).
    let has_log = std::fs::metadata(fs_sidecar(path, "-wal")).is_ok_and(|m| m.is_file());
    if let Some(kept) = already_kept_all(path, dir, has_log)? {
        return Ok(kept);
    }
    let mut out = vec![];
    for suffix in ["", "-wal"] {
        let mut src = path.as_os_str().to_owned();
        src.push(suffix);
        let src = PathBuf::from(src);
        if suffix == "-wal" && !src.exists() {
            continue;
        }
        let size = std::fs::metadata(&src).map_or(0, |m| m.len());
        crate::safety::space::require(
            dir.to_path_buf(),
            size + (1 << 20),
            "an evidence copy of the damaged file",
        )?;
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".corrupt-{ts}{suffix}"));
        let dst = dir.join(name);
        // Copied under a temp name, then renamed: a failed copy never looks like evidence.
        let tmp = fs::temp_beside(&dst);
        let copied = (|| {
            // Only a regular file is copied, and never more than the size it had when looked at.
            let meta = std::fs::metadata(&src).map_err(Error::io("reading", &src))?;
            if !meta.is_file() {
                return Err(fs::not_a_regular_file(&src, &meta));
            }
            // The database itself may be held by a connection of ours: read through a kept handle.
            let (from, _) = crate::storage::held_open::reader_if(&src, suffix.is_empty())?;
            let mut to = fs::create_new(&tmp)?;
            std::io::copy(&mut std::io::Read::take(from, meta.len()), &mut to)
                .map_err(Error::io("writing evidence", &tmp))?;
            to.sync_all().map_err(Error::io("fsync", &tmp))?;
            drop(to);
            // The copy must be the file, byte for byte, before anything may replace the file.
            same_bytes((&src, suffix.is_empty()), &tmp, meta.len())?;
            fs::rename_noreplace(&tmp, &dst).map_err(Error::io("placing evidence", &dst))
        })();
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        out.push(dst);
    }
    fs::fsync_dir(dir)?;
    Ok(out)
}

fn fs_sidecar(path: &Path, suffix: &str) -> PathBuf {
    crate::storage::db::sidecar(path, suffix)
}

/// Evidence kept before of exactly this damage: a `.corrupt-<ts>` copy equal to the database and,
/// when it has a log, that copy's `-wal` equal to the log (any such copy: an older one kept before
/// the log appeared, or with another log, is passed over).
fn already_kept_all(db: &Path, dir: &Path, has_log: bool) -> Result<Option<Vec<PathBuf>>> {
    let copies = already_kept(db, dir, "")?;
    if !has_log {
        return Ok(copies.into_iter().next().map(|c| vec![c]));
    }
    let mut log = None;
    for copy in copies {
        let copy_wal = fs_sidecar(&copy, "-wal");
        if !std::fs::symlink_metadata(&copy_wal).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let want = match &log {
            Some(h) => h,
            None => log.insert(crate::storage::hash::file(&fs_sidecar(db, "-wal"))?),
        };
        if &crate::storage::hash::file(&copy_wal)? == want {
            return Ok(Some(vec![copy, copy_wal]));
        }
    }
    Ok(None)
}

/// Every evidence copy of `src` kept earlier (`<name>.corrupt-<ts><suffix>` in `dir`, of its
/// size and sha256), oldest name first.
fn already_kept(src: &Path, dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let Some(name) = src.file_name() else {
        return Ok(vec![]);
    };
    let prefix = format!("{}.corrupt-", name.to_string_lossy());
    let Ok(meta) = std::fs::metadata(src) else {
        return Ok(vec![]);
    };
    let mut names: Vec<String> = fs::list_dir(dir)
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix) && !n.contains(fs::TEMP_MARKER))
        .filter(|n| n.ends_with("-wal") == (suffix == "-wal"))
        .collect();
    names.sort();
    let mut want = None;
    let mut out = vec![];
    for n in names {
        let p = dir.join(&n);
        if !std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file() && m.len() == meta.len()) {
            continue;
        }
        let want = match &want {
            Some(w) => w,
            None => want.insert(match suffix {
                // The database itself may be held by a connection of ours.
                "" => crate::storage::hash::live_file(src)?,
                _ => crate::storage::hash::file(src)?,
            }),
        };
        if &crate::storage::hash::file(&p)? == want {
            out.push(p);
        }
    }
    Ok(out)
}

/// Refuses unless `copy` holds exactly the first `len` bytes of `original` (both read again;
/// `original` through a kept handle when it is the database itself).
fn same_bytes((original, live): (&Path, bool), copy: &Path, len: u64) -> Result<()> {
    let digest = |p: &Path, n: u64| -> Result<String> {
        let (f, _) = crate::storage::held_open::reader_if(p, live && p == original)?;
        let mut h = crate::storage::hash::Sha256::new();
        let mut r = std::io::Read::take(f, n);
        let mut buf = vec![0u8; 1 << 16];
        let mut seen = 0u64;
        loop {
            let k = std::io::Read::read(&mut r, &mut buf).map_err(Error::io("reading", p))?;
            if k == 0 {
                break;
            }
            seen += k as u64;
            h.update(&buf[..k]);
        }
        if seen != n {
            return Err(Error::CheckFailed(format!(
                "{} gave {seen} of its {n} bytes",
                p.display()
            )));
        }
        Ok(h.finish_hex())
    };
    if std::fs::metadata(copy).map(|m| m.len()).ok() != Some(len)
        || digest(original, len)? != digest(copy, len)?
    {
        return Err(Error::CheckFailed(format!(
            "the evidence copy {} is not byte-identical to {}",
            copy.display(),
            original.display()
        )));
    }
    Ok(())
}
