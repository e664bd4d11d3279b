//! Where SQLite writes its temporary files — a big sort or DISTINCT of a query, VACUUM's copy, an
//! import's scratch of keys: the data dir itself, never the system's `/var/tmp` (nothing is written
//! outside the data dir). SQLite unlinks each such file (`etilqs_…`) as it opens it, so none shows
//! in the data dir or outlives its process, even one killed; and nothing is created in the data dir
//! to hold them.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The directory SQLite's temporary files go to in this process, once set.
static CONFINED: OnceLock<PathBuf> = OnceLock::new();
/// Held while it is being set (two workspaces loading at once set it once).
static SETTING: Mutex<()> = Mutex::new(());

/// Points SQLite's temporary files at `data_dir` for the rest of the process — once, by the first
/// workspace whose data dir exists as a directory (or a link to one); later calls keep it (SQLite
/// reads the setting at every temporary file and it must not change under connections). Where it
/// cannot be set, SQLite's default stays and a warning says so. Returns the directory in use.
pub fn confine(data_dir: &Path) -> Option<&'static Path> {
    if let Some(dir) = CONFINED.get() {
        return Some(dir);
    }
    let _setting = SETTING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = CONFINED.get() {
        return Some(dir);
    }
    if !std::fs::metadata(data_dir).is_ok_and(|m| m.is_dir()) {
        return None;
    }
    match point_sqlite_at(data_dir) {
        Ok(()) => Some(CONFINED.get_or_init(|| data_dir.to_path_buf())),
        Err(e) => {
            // A read-only data dir, say: nothing fails, and a warning on every command is noise.
            tracing::info!("SQLite's temporary files stay in the system's temp dir: {e}");
            None
        }
    }
}
/// Where SQLite's temporary files go in this process: the data dir once [`confine`]d, else the
/// system's temp dir SQLite falls back to.
pub fn dir() -> PathBuf {
    CONFINED.get().cloned().unwrap_or_else(std::env::temp_dir)
}

/// SQLite's own setting (`sqlite3_temp_directory`, through its pragma: no unsafe code here).
fn point_sqlite_at(dir: &Path) -> std::io::Result<()> {
    let text = dir
        .to_str()
        .ok_or_else(|| std::io::Error::other(format!("{} is not UTF-8", dir.display())))?;
    let c = rusqlite::Connection::open_in_memory().map_err(std::io::Error::other)?;
    c.pragma_update(None, "temp_store_directory", text)
        .map_err(std::io::Error::other)?;
    let set: String = c
        .query_row("PRAGMA temp_store_directory", [], |r| r.get(0))
        .map_err(std::io::Error::other)?;
    match set == text {
        true => Ok(()),
        false => Err(std::io::Error::other(format!(
            "SQLite kept `{set}` as its temp directory"
        ))),
    }
}
