//! Free-space preflight: a backup and a rebuild need room, refused early with the figures.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::storage::fs;
use crate::workspace::env::EnvTarget;

/// Free space check before a backup and rebuild.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    let size = db_bytes(&target.path);
    let db_dir = target.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let dev = |p: &Path| {
        let mut q = p;
        while !q.exists() {
            q = q.parent().unwrap_or(Path::new("/"));
        }
        crate::storage::os::file_identity(q).map_or(0, |(dev, _)| dev)
    };
    let mut checks = vec![];
    let margin = 64 * 1024;
    // A compressed backup needs its plain snapshot and, for a moment, the compressed file beside
    // it (a quarter of the database is room to spare: zstd gains ~6× on ours; a file that will
    // not fit fails cleanly with nothing left behind).
    let backup_bytes = match target.compress_backups {
        true => size + size / 4,
        false => size,
    };
    if backup && dev(&target.backup_dir) != dev(&db_dir) {
        checks.push((target.backup_dir.clone(), backup_bytes + margin));
        checks.push((db_dir, size + margin));
    } else {
        checks.push((
            db_dir,
            size + if backup { backup_bytes } else { 0 } + margin,
        ));
    }
    checks
        .into_iter()
        .map(|(dir, needed)| require(dir, needed, "a verified backup, then the change"))
        .collect()
}

/// Bytes a seed of `jobs` jobs writes at most: each job's row, indexes and summary share (about
/// 650 B, measured on 1M jobs: 624 MB), twice — once into the write-ahead log, once into the file.
pub(crate) fn seed_growth(jobs: u64) -> u64 {
    jobs.saturating_mul(1_400)
}

/// Room for a seed of `jobs` jobs (and its verified backup, when it takes one) beside the env's file.
pub(crate) fn require_for_seed(target: &EnvTarget, jobs: u64, backup: bool) -> Result<SpaceCheck> {
    let db_dir = target.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let copy = if backup { db_bytes(&target.path) } else { 0 };
    require(
        db_dir,
        seed_growth(jobs) + copy + 64 * 1024,
        "the new rows, written to the log and then the file, about 1.4 KB per job, plus the backup",
    )
}

/// `needed` bytes free in `dir`, or the refusal with the figures.
pub(crate) fn require(dir: PathBuf, needed: u64, what: &str) -> Result<SpaceCheck> {
    let available = fs::available_space(&dir)?;
    if available < needed {
        return Err(Error::NoSpace {
            dir,
            needed,
            available,
            what: what.into(),
        });
    }
    Ok(SpaceCheck {
        dir,
        needed_bytes: needed,
        available_bytes: available,
    })
}
