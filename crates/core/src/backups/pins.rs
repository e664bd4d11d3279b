//! Pins: a pinned backup (`<backup>.pin` beside it) is never deleted by retention or prune.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::storage::fs;

/// The marker file that pins `backup`.
pub fn pin_path(backup: &Path) -> PathBuf {
    let mut n = backup.file_name().unwrap_or_default().to_os_string();
    n.push(".pin");
    backup.with_file_name(n)
}

/// Whether `backup` is pinned: its marker exists and is a regular file (a symlink or directory
/// of that name pins nothing — and is refused when pinning).
pub fn is_pinned(backup: &Path) -> bool {
    std::fs::symlink_metadata(pin_path(backup)).is_ok_and(|m| m.file_type().is_file())
}

/// Pins or unpins `backup`; `Ok(false)` when it already was. The marker is created new and
/// fsynced, or removed, and the directory is fsynced. The caller holds the env's lock, so
/// retention never decides on a pin that is changing.
pub(crate) fn set(backup: &Path, pinned: bool) -> Result<bool> {
    let marker = pin_path(backup);
    let dir = backup.parent().unwrap_or(Path::new("."));
    match std::fs::symlink_metadata(&marker) {
        Ok(m) if !m.file_type().is_file() => return Err(fs::not_a_regular_file(&marker, &m)),
        Ok(_) if pinned => return Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !pinned => return Ok(false),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io("reading", &marker)(e))
        }
        _ => {}
    }
    if pinned {
        let f = fs::create_new(&marker)?;
        f.sync_all().map_err(Error::io("fsync", &marker))?;
    } else {
        std::fs::remove_file(&marker).map_err(Error::io("removing", &marker))?;
    }
    fs::fsync_dir(dir)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_and_unpin_are_idempotent_and_refuse_a_non_file_marker() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path().join("dev-1-manual.sqlite3");
        std::fs::write(&b, b"x").unwrap();
        assert!(!is_pinned(&b));
        assert!(set(&b, true).unwrap());
        assert!(is_pinned(&b));
        assert!(!set(&b, true).unwrap());
        assert!(set(&b, false).unwrap());
        assert!(!is_pinned(&b));
        assert!(!set(&b, false).unwrap());
        std::fs::create_dir(pin_path(&b)).unwrap();
        assert!(
            !is_pinned(&b),
            "a directory named like the marker pins nothing"
        );
        assert!(set(&b, true).is_err());
    }
}
