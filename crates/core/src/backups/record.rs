//! Backup records: the reason, the manifest beside each backup, the ledger, the listing per env.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::storage::fs;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Manual,
    PreReset,
    PreMigrate,
    PreRestore,
    PreRetag,
    PreSeed,
    PreRepair,
    PreImport,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Manual => "manual",
            Reason::PreReset => "pre-reset",
            Reason::PreMigrate => "pre-migrate",
            Reason::PreRestore => "pre-restore",
            Reason::PreRetag => "pre-retag",
            Reason::PreSeed => "pre-seed",
            Reason::PreRepair => "pre-repair",
            Reason::PreImport => "pre-import",
        }
    }
}

/// The sidecar manifest (`<backup>.json`) and ledger entry of one backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BackupRecord {
    pub path: PathBuf,
    pub env: String,
    pub source_path: PathBuf,
    pub created_at: String,
    pub tool_version: String,
    pub schema_version: Option<i64>,
    pub reason: Reason,
    pub label: Option<String>,
    pub size_bytes: u64,
    pub sha256: String,
    pub row_counts: BTreeMap<String, u64>,
    /// Pinned backups are never deleted by retention or prune (read from the `.pin` marker when
    /// listing; whatever a manifest says is ignored).
    #[serde(default)]
    pub pinned: bool,
    /// The stored file when it is compressed (`size_bytes` and `sha256` are then the SQLite
    /// content's, which the stored file decompresses to).
    #[serde(default)]
    pub stored: Option<crate::backups::stored::Stored>,
    /// The disk space the file takes as measured when it was listed (not part of the manifest):
    /// what retention counts, whatever the manifest claims.
    #[serde(skip)]
    pub measured_bytes: Option<u64>,
}

impl BackupRecord {
    /// Bytes the manifest says the backup takes on disk (the compressed file's, when compressed).
    pub fn disk_bytes(&self) -> u64 {
        self.stored.as_ref().map_or(self.size_bytes, |s| s.bytes)
    }

    /// Bytes the backup takes on disk as measured by [`list`] (the manifest's figure for a
    /// record that was not listed).
    pub fn on_disk_bytes(&self) -> u64 {
        self.measured_bytes.unwrap_or_else(|| self.disk_bytes())
    }
}

/// Where a backup of `target` taken now for `reason` would go (the final name may get a `-N`
/// suffix); `.sqlite3.zst` when the env's backups are compressed.
pub fn default_path(target: &crate::workspace::env::EnvTarget, reason: Reason) -> PathBuf {
    let ts = crate::now_compact();
    let plain = target
        .backup_dir
        .join(format!("{}-{ts}-{}.sqlite3", target.name, reason.as_str()));
    match target.compress_backups {
        true => crate::backups::stored::compressed_name(&plain),
        false => plain,
    }
}

/// The time a backup's name gives (`<env>-20261202T184931591Z-<reason>…`, as [`default_path`]
/// writes it), in the manifest's form (`2026-12-02T18:49:31Z`).
fn time_in_name(name: &str) -> Option<String> {
    let t = name.split('-').find(|part| {
        let b = part.as_bytes();
        b.len() == 19
            && b[8] == b'T'
            && b[18] == b'Z'
            && b.iter()
                .enumerate()
                .all(|(i, c)| matches!(i, 8 | 18) || c.is_ascii_digit())
    })?;
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        &t[0..4],
        &t[4..6],
        &t[6..8],
        &t[9..11],
        &t[11..13],
        &t[13..15]
    ))
}

/// Whether a file name in a backup dir names a backup (plain or compressed; not hidden).
pub fn is_backup_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".sqlite3") || name.ends_with(".sqlite3.zst"))
}

/// Writes the manifest beside the placed backup, then its ledger line. A backup whose manifest
/// cannot be written is removed (no listing, retention or restore would know it: a stray file);
/// one whose ledger line fails stays (its manifest lists it) and the error names it.
pub(crate) fn record(rec: &BackupRecord, ledger: &Path) -> Result<()> {
    // The file just placed, by identity: only it is removed if its manifest fails.
    let placed = fs::file_identity(&rec.path);
    if let Err(e) = write_manifest(rec) {
        let ours = placed.is_some() && fs::file_identity(&rec.path) == placed;
        if ours && std::fs::remove_file(&rec.path).is_ok() {
            if let Some(dir) = rec.path.parent() {
                let _ = fs::fsync_dir(dir);
            }
        }
        return Err(e);
    }
    let mut line = serde_json::to_vec(rec)
        .map_err(|e| Error::Internal(format!("serializing a ledger line: {e}")))?;
    line.push(b'\n');
    append_line(ledger, &line).map_err(|e| {
        Error::PartlyDone(format!(
            "{e}: the backup {} was made, verified and listed (its manifest is written), but its line in the ledger is missing; nothing else was changed",
            rec.path.display()
        ))
    })
}

fn write_manifest(rec: &BackupRecord) -> Result<()> {
    crate::storage::failpoint::hit("backup:manifest")?;
    let manifest = manifest_path(&rec.path);
    let json = serde_json::to_vec_pretty(rec)
        .map_err(|e| Error::Internal(format!("serializing a manifest: {e}")))?;
    let tmp = fs::temp_beside(&manifest);
    let mut f = fs::create_new(&tmp)?;
    std::io::Write::write_all(&mut f, &json).map_err(Error::io("writing manifest", &tmp))?;
    f.sync_all().map_err(Error::io("fsync", &tmp))?;
    drop(f);
    fs::rename_noreplace(&tmp, &manifest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("placing manifest", &manifest)(e)
    })?;
    if let Some(dir) = manifest.parent() {
        fs::fsync_dir(dir)?;
    }
    Ok(())
}

fn append_line(path: &Path, line: &[u8]) -> Result<()> {
    fs::append_line(path, line)
}

pub fn manifest_path(backup: &Path) -> PathBuf {
    let mut n = backup.file_name().unwrap_or_default().to_os_string();
    n.push(".json");
    backup.with_file_name(n)
}

/// A backup's manifest, when it vouches for it: the backup lies in one of `ws`'s backup dirs, where
/// only pipeline-db writes, and the manifest names that dir's env (a backup is filed under the env
/// it was taken from). A manifest beside a file elsewhere (a USB stick, a download) is as easy to
/// forge as the file: such a file is checked as one without a manifest.
pub(crate) fn trusted_manifest(
    ws: &crate::workspace::config::Workspace,
    backup: &Path,
) -> Option<BackupRecord> {
    let env = backup_dir_env(ws, backup)?;
    read_manifest(backup).ok().filter(|m| m.env == env)
}

/// The env whose backup dir `path` lies directly in (compared canonically), if any.
pub(crate) fn backup_dir_env(
    ws: &crate::workspace::config::Workspace,
    path: &Path,
) -> Option<String> {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    let dir = path.parent().and_then(canon)?;
    ws.envs
        .values()
        .find(|t| canon(&t.backup_dir).as_deref() == Some(dir.as_path()))
        .map(|t| t.name.clone())
}

/// A manifest is a few KiB: anything over this was not written by us.
const MANIFEST_CAP: u64 = 1 << 20;

/// Reads a backup's manifest.
pub fn read_manifest(backup: &Path) -> Result<BackupRecord> {
    let p = manifest_path(backup);
    let bytes = fs::read_untrusted(&p, false, MANIFEST_CAP)?
        .ok_or_else(|| Error::io("reading manifest", &p)(std::io::ErrorKind::NotFound.into()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::InvalidInput(format!("manifest {}: {e}", p.display())))
}

/// The backups of an env (from their manifests), oldest first.
pub fn list(target: &crate::workspace::env::EnvTarget) -> Result<Vec<BackupRecord>> {
    crate::backups::names::check_resolves_to_itself(&target.backup_dir)?;
    let rd = match std::fs::read_dir(&target.backup_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io("reading backup dir", &target.backup_dir)(e)),
    };
    let live = fs::file_identity(&target.path);
    let mut out = vec![];
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_backup_name(&name) {
            continue;
        }
        // Only a regular file of its own is a backup: not a link, a directory, or another name
        // of the env's live database (which would "hold exactly the database" whatever it holds).
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() => m,
            _ => {
                tracing::warn!("skipping {}: not a regular file", p.display());
                continue;
            }
        };
        if live.is_some() && fs::file_identity(&p) == live {
            tracing::warn!(
                "skipping {}: it is {}'s live database",
                p.display(),
                target.name
            );
            continue;
        }
        match read_manifest(&p) {
            // Filed under another env than its manifest names: not a backup this dir's env can
            // count on (nor one its retention may delete).
            Ok(rec) if rec.env != target.name => tracing::warn!(
                "skipping {}: its manifest names env {}, but it lies in {}'s backup dir",
                p.display(),
                rec.env,
                target.name
            ),
            Ok(mut rec) => {
                // A manifest is data-dir content: it cannot make a backup newer than its name
                // says (the newest verified backup is what retention never deletes). The name
                // is given as the backup starts, so the manifest's time is a little later; a day
                // later is no backup's.
                // Nor older than its name: a backup is named as it starts, so its manifest's
                // time is at most a minute before (clock steps), and never a day after.
                let parse = crate::storage::time::parse;
                let disagrees = |named: &String| match (parse(named), parse(&rec.created_at)) {
                    (Some(n), Some(m)) => m - n > 86_400 || n - m > 60,
                    (Some(_), None) => true,
                    _ => false,
                };
                if let Some(named) = time_in_name(&name).filter(disagrees) {
                    tracing::warn!(
                        "{name}: its manifest dates it {}, its name {named}: the name counts",
                        rec.created_at
                    );
                    rec.created_at = named;
                }
                rec.pinned = crate::backups::pins::is_pinned(&p);
                rec.measured_bytes = Some(crate::storage::fs::bytes_on_disk(&meta));
                rec.path = p;
                out.push(rec);
            }
            Err(err) => tracing::warn!("skipping {}: {err}", p.display()),
        }
    }
    out.sort_by(|a, b| (&a.created_at, &a.path).cmp(&(&b.created_at, &b.path)));
    Ok(out)
}

/// Files in `target`'s backup dir named like backups but without a manifest: a process stopped
/// between placing the file and writing its manifest (kill -9, power loss). They are no backups
/// of the ledger (not restorable by name, not counted by retention), but they are shown, with
/// their size on disk, rather than skipped unseen.
pub fn unrecorded(target: &crate::workspace::env::EnvTarget) -> Vec<(PathBuf, u64)> {
    let Ok(rd) = std::fs::read_dir(&target.backup_dir) else {
        return vec![];
    };
    let mut out: Vec<(PathBuf, u64)> = rd
        .flatten()
        .filter(|e| is_backup_name(&e.file_name().to_string_lossy()))
        .filter_map(|e| {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).ok().filter(|m| m.is_file())?;
            let missing = matches!(
                std::fs::symlink_metadata(manifest_path(&p)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound
            );
            missing.then(|| (p, crate::storage::fs::bytes_on_disk(&meta)))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_in_a_backup_name_reads_as_a_manifest_time() {
        let t = |n: &str| time_in_name(n);
        assert_eq!(
            t("dev-20261202T184931591Z-manual.sqlite3.zst").as_deref(),
            Some("2026-12-02T18:49:31Z")
        );
        assert_eq!(
            t("my-env-20260101T000000000Z-pre-reset-2.sqlite3").as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(t("dev-notatime-manual.sqlite3"), None);
        assert_eq!(t("dev-2026120XT184931591Z-manual.sqlite3"), None);
    }
}
