//! The workspace: data dir, optional TOML config, and the resolved set of environments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::workspace::env::{check_env_name, EnvTarget, ALWAYS_PROTECTED, BUILTIN_ENVS};

pub const CONFIG_FILE_NAME: &str = "pipeline-db.toml";
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long any wait for a lock may be (the config's `busy_timeout_ms`, `--busy-timeout-ms`).
pub const BUSY_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 0..=600_000;

/// What the user asked for on the command line or in the environment (flags win over env vars).
#[derive(Debug, Clone, Default)]
pub struct WorkspaceOptions {
    pub data_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub busy_timeout: Option<Duration>,
}

impl WorkspaceOptions {
    /// Fills unset fields from `PIPELINE_DB_HOME` and `PIPELINE_DB_CONFIG`.
    pub fn with_env_vars(mut self) -> Self {
        let var = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        self.data_dir = self.data_dir.or_else(|| var("PIPELINE_DB_HOME"));
        self.config = self.config.or_else(|| var("PIPELINE_DB_CONFIG"));
        self
    }
}

/// The TOML config file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: Option<PathBuf>,
    pub busy_timeout_ms: Option<u64>,
    #[serde(default)]
    pub envs: BTreeMap<String, EnvConfig>,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub backups: BackupsConfig,
}

/// How backups are stored. A missing key takes its default.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct BackupsConfig {
    /// Store the backups in the backup dirs zstd-compressed (`.sqlite3.zst`). Exports
    /// (`backup --output`) stay plain SQLite files.
    pub compress: bool,
}

impl Default for BackupsConfig {
    fn default() -> Self {
        BackupsConfig { compress: true }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// Database file; relative paths are taken from the data dir.
    pub path: Option<PathBuf>,
    pub protected: Option<bool>,
}

/// Backup retention: applied after every backup (and by `backups prune`). A missing key takes
/// its default. Retention never deletes the newest verified backup of an env, the one `undo`
/// would restore, a pinned one, or the one just made; a policy those leave unmet is reported.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Backups kept per environment.
    pub keep: usize,
    /// Upper bound on the disk used by one environment's backups, in MiB (0 = no bound).
    pub max_total_mib: u64,
    /// Upper bound on the disk used by all backups in the data dir, in MiB (0 = no bound).
    pub budget_mib: u64,
}

/// The default budget of the data dir's backups: 8 GiB.
pub const DEFAULT_BUDGET_MIB: u64 = 8 * 1024;
/// Bounds of `retention.keep` (at least one backup is always kept, for undo).
pub const KEEP_RANGE: std::ops::RangeInclusive<usize> = 1..=1000;
/// Upper bound of `retention.max_total_mib` (1 TiB; 0 = no bound).
pub const MAX_TOTAL_MIB: u64 = 1 << 20;
/// Upper bound of `retention.budget_mib` (16 TiB; 0 = no bound).
pub const MAX_BUDGET_MIB: u64 = 1 << 24;

impl Retention {
    /// What is out of range, in the config's own words: the one check of a policy, wherever it
    /// comes from (a file edited by hand, `config set`). A limit past its bound would not mean
    /// "no limit" (in bytes it could wrap to nothing), and `keep = 0` would delete every backup.
    pub fn check(&self) -> std::result::Result<(), String> {
        if !KEEP_RANGE.contains(&self.keep) {
            return Err(format!(
                "retention keep {} is out of range; keep {} to {} backups per env",
                self.keep,
                KEEP_RANGE.start(),
                KEEP_RANGE.end()
            ));
        }
        for (key, value, max) in [
            ("max_total_mib", self.max_total_mib, MAX_TOTAL_MIB),
            ("budget_mib", self.budget_mib, MAX_BUDGET_MIB),
        ] {
            if value > max {
                return Err(format!(
                    "retention {key} {value} is out of range; use 0 (no bound) to {max}"
                ));
            }
        }
        Ok(())
    }

    /// A limit in MiB as bytes (`None`: no bound).
    pub fn bytes(mib: u64) -> Option<u64> {
        (mib > 0).then(|| mib.saturating_mul(1024 * 1024))
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep: 10,
            max_total_mib: 0,
            budget_mib: DEFAULT_BUDGET_MIB,
        }
    }
}

/// A loaded workspace: every environment resolved to a canonical path.
#[derive(Debug, Clone, Serialize)]
pub struct Workspace {
    pub data_dir: PathBuf,
    pub config_path: Option<PathBuf>,
    pub busy_timeout_ms: u64,
    pub retention: Retention,
    pub envs: BTreeMap<String, EnvTarget>,
}

impl Workspace {
    /// Resolves the data dir and config. Creates nothing on disk.
    pub fn load(opts: &WorkspaceOptions) -> Result<Workspace> {
        let flag_dir = opts.data_dir.clone();
        let probe_dir = match &flag_dir {
            Some(d) => absolute(d)?,
            None => default_data_dir()?,
        };
        let (config, config_path) = read_config(opts.config.as_deref(), &probe_dir)?;
        let data_dir = match (flag_dir, &config.data_dir) {
            (Some(_), _) => probe_dir,
            (None, Some(d)) => absolute(d)?,
            (None, None) => probe_dir,
        };
        let data_dir = canonical_lenient(&data_dir);
        // Every path we keep is written into the audit log and manifests as text.
        for (what, p) in [
            ("data dir", Some(&data_dir)),
            ("config file", opts.config.as_ref()),
        ] {
            if let Some(p) = p.filter(|p| p.to_str().is_none()) {
                return Err(Error::InvalidInput(format!(
                    "the {what} path {} is not valid UTF-8: pipeline-db records every path it uses in its audit log and backup manifests as text; choose a path that is",
                    p.display()
                )));
            }
        }
        let busy_timeout_ms = opts
            .busy_timeout
            .map(|d| d.as_millis() as u64)
            .or(config.busy_timeout_ms)
            .unwrap_or(DEFAULT_BUSY_TIMEOUT.as_millis() as u64);
        if !BUSY_TIMEOUT_RANGE.contains(&busy_timeout_ms) {
            let from = match (opts.busy_timeout, &config_path) {
                (Some(_), _) | (None, None) => "--busy-timeout-ms".to_string(),
                (None, Some(p)) => format!("busy_timeout_ms in {}", p.display()),
            };
            return Err(Error::InvalidInput(format!(
                "{from} is {busy_timeout_ms}; it must be between {} and {} ms (10 minutes)",
                BUSY_TIMEOUT_RANGE.start(),
                BUSY_TIMEOUT_RANGE.end()
            )));
        }
        let envs = resolve_envs(&config, config_path.as_deref(), &data_dir)?;
        crate::storage::temp::confine(&data_dir);
        Ok(Workspace {
            data_dir,
            config_path,
            busy_timeout_ms,
            retention: config.retention,
            envs,
        })
    }

    /// This workspace as its config file says now (same data dir and config file; the busy
    /// timeout given on the command line kept). A change runs on it, not on the workspace its
    /// plan was shown from: an adapter (the CLI at a prompt, the desktop) may hold one loaded
    /// before another program changed the config — an env protected since would otherwise be
    /// changed on a y/N, and retention would keep the old count (review 26).
    pub fn as_configured_now(&self) -> Result<Workspace> {
        let cfg = self
            .config_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join(CONFIG_FILE_NAME));
        let mut now = Workspace::load(&WorkspaceOptions {
            data_dir: Some(self.data_dir.clone()),
            config: cfg.exists().then_some(cfg),
            busy_timeout: None,
        })?;
        now.busy_timeout_ms = self.busy_timeout_ms;
        Ok(now)
    }

    /// A workspace with only the built-in envs under `data_dir` (tests, embedding).
    pub fn at(data_dir: impl Into<PathBuf>) -> Result<Workspace> {
        Workspace::load(&WorkspaceOptions {
            data_dir: Some(data_dir.into()),
            ..Default::default()
        })
    }

    pub fn busy_timeout(&self) -> Duration {
        Duration::from_millis(self.busy_timeout_ms)
    }

    pub fn env_names(&self) -> Vec<String> {
        self.envs.keys().cloned().collect()
    }

    /// The env whose live database `path` is — by its path, or as another name of the same file
    /// (a hard link, a symlink) — or one of its `-wal`, `-shm` or `-journal` files: such a file is
    /// read only through SQLite or a kept handle.
    pub fn env_of_file(&self, path: &Path) -> Option<&EnvTarget> {
        let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let id = crate::storage::fs::file_identity(&canon);
        let files = |t: &EnvTarget| {
            ["", "-wal", "-shm", "-journal"].map(|s| crate::storage::db::sidecar(&t.path, s))
        };
        let same = |f: &PathBuf| {
            f == &canon || (id.is_some() && crate::storage::fs::file_identity(f) == id)
        };
        self.envs.values().find(|t| files(t).iter().any(same))
    }

    /// Resolves an env name. Unknown or malformed names are a usage error; nothing is touched.
    pub fn env(&self, name: &str) -> Result<EnvTarget> {
        if let Err(why) = check_env_name(name) {
            return Err(Error::InvalidEnvName {
                name: crate::storage::text::echo(name),
                why,
                valid: self.env_names(),
            });
        }
        self.envs
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownEnv {
                name: crate::storage::text::echo(name),
                valid: self.env_names(),
            })
    }

    /// Removes temporary files left by killed pipeline-db processes (recognised by our marker and
    /// a dead owner pid) beside every env's database, in its backup dir, and in the backups dir
    /// itself (private copies `backups verify` and a restore's plan read). Creates nothing.
    pub fn clean_leftovers(&self) -> Vec<PathBuf> {
        let mut removed = crate::storage::fs::clean_temp_files(&self.backups_root());
        for t in self.envs.values() {
            if let Some(dir) = t.path.parent() {
                removed.extend(crate::storage::fs::clean_temp_files(dir));
            }
            removed.extend(crate::storage::fs::clean_temp_files(&t.backup_dir));
        }
        removed.sort();
        removed.dedup();
        removed
    }

    pub fn audit_path(&self) -> PathBuf {
        self.data_dir.join("audit.jsonl")
    }

    pub fn backups_root(&self) -> PathBuf {
        self.data_dir.join("backups")
    }

    /// Creates the data dir if needed (the only directory we create on our own, beside the backup
    /// dirs), and points SQLite's temporary files at it.
    pub fn ensure_data_dir(&self) -> Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .map_err(Error::io("creating data dir", &self.data_dir))?;
        crate::storage::temp::confine(&self.data_dir);
        Ok(())
    }
}

fn default_data_dir() -> Result<PathBuf> {
    directories::ProjectDirs::from("", "", "pipeline-db")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| {
            Error::InvalidInput(
                "cannot find a home directory for the default data dir; pass --data-dir or set PIPELINE_DB_HOME".into(),
            )
        })
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(Error::io("resolving path", p))
}

/// Whether `path` lies in the backups dir of `data_dir`, compared canonically (a symlinked dir or
/// a `..` does not hide it). No env's database may: a backup is written once and retention deletes
/// what lies there, so a live database inside it would be overwritten or deleted.
pub(crate) fn in_backups_dir(data_dir: &Path, path: &Path) -> bool {
    canonical_lenient(path).starts_with(canonical_lenient(&data_dir.join("backups")))
}

/// Canonicalizes the longest existing prefix of `p` and appends the rest.
pub(crate) fn canonical_lenient(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
            canonical_lenient(parent).join(name)
        }
        _ => p.to_path_buf(),
    }
}

fn read_config(explicit: Option<&Path>, data_dir: &Path) -> Result<(Config, Option<PathBuf>)> {
    let (path, must_exist) = match explicit {
        Some(p) => (absolute(p)?, true),
        None => (data_dir.join(CONFIG_FILE_NAME), false),
    };
    // A config may be a link (to dotfiles, say), but to a regular file of at most 1 MiB.
    let text = match crate::storage::fs::read_untrusted(&path, true, 1 << 20) {
        Ok(Some(bytes)) => String::from_utf8(bytes).map_err(|_| Error::Config {
            path: path.clone(),
            message: "it is not UTF-8 text".into(),
        })?,
        Ok(None) if !must_exist => return Ok((Config::default(), None)),
        Ok(None) => {
            return Err(Error::Config {
                path,
                message: "cannot read it: it does not exist".into(),
            })
        }
        Err(e) => {
            return Err(Error::Config {
                path,
                message: format!("cannot read it: {e}"),
            })
        }
    };
    let config: Config = toml::from_str(&text).map_err(|e| Error::Config {
        path: path.clone(),
        message: e.message().to_string(),
    })?;
    // A policy out of range (a hand-edited file) loads — `config set retention` must be able to
    // fix it, and restore and undo must run — but retention deletes nothing under it.
    if let Err(why) = config.retention.check() {
        tracing::warn!(
            "{}: {why}: retention deletes nothing until it is fixed",
            path.display()
        );
    }
    Ok((config, Some(path)))
}

pub(crate) fn resolve_envs(
    config: &Config,
    config_path: Option<&Path>,
    data_dir: &Path,
) -> Result<BTreeMap<String, EnvTarget>> {
    let cfg_err = |message: String| Error::Config {
        path: config_path.map(Path::to_path_buf).unwrap_or_default(),
        message,
    };
    let mut names: Vec<&str> = BUILTIN_ENVS.to_vec();
    names.extend(
        config
            .envs
            .keys()
            .map(String::as_str)
            .filter(|n| !BUILTIN_ENVS.contains(n)),
    );
    let mut out = BTreeMap::new();
    for name in names {
        check_env_name(name).map_err(|why| cfg_err(format!("env `{name}`: {why}")))?;
        let ec = config.envs.get(name).cloned().unwrap_or_default();
        if name == ALWAYS_PROTECTED && ec.protected == Some(false) {
            return Err(cfg_err("`prod` cannot be unprotected".into()));
        }
        let protected = name == ALWAYS_PROTECTED || ec.protected.unwrap_or(false);
        let path = match ec.path {
            Some(p) if p.is_absolute() => p,
            Some(p) => data_dir.join(p),
            None => data_dir.join(format!("{name}.sqlite3")),
        };
        if path.file_name().is_none() {
            return Err(cfg_err(format!(
                "env `{name}`: path {} names no file",
                path.display()
            )));
        }
        if in_backups_dir(data_dir, &path) {
            return Err(cfg_err(format!(
                "env `{name}`: path {} is inside the backups dir, where backups are written once and retention deletes old ones; point it at a file outside {} (to bring a backup back, `pipeline-db restore {name} BACKUP`)",
                path.display(),
                data_dir.join("backups").display()
            )));
        }
        let target = EnvTarget {
            name: name.to_string(),
            path: canonical_lenient(&path),
            protected,
            backup_dir: data_dir.join("backups").join(name),
            compress_backups: config.backups.compress,
        };
        out.insert(name.to_string(), target);
    }
    // One file, one env: by path, and by (device, inode) so a hard link is the same file.
    let mut seen = BTreeMap::new();
    let mut seen_ids = BTreeMap::new();
    for t in out.values() {
        let by_id = crate::storage::fs::file_identity(&t.path)
            .and_then(|id| seen_ids.insert(id, t.name.clone()));
        if let Some(other) = seen.insert(t.path.clone(), t.name.clone()).or(by_id) {
            return Err(cfg_err(format!(
                "envs `{other}` and `{}` share the file {} (the same file, perhaps through a hard link); point one of them elsewhere",
                t.name,
                t.path.display()
            )));
        }
    }
    refuse_files_of_others(&out, config_path, data_dir).map_err(cfg_err)?;
    Ok(out)
}

/// The data dir's folder of evidence copies of damaged files of envs kept outside it
/// (`backups::evidence::dir_for`).
pub const EVIDENCE_DIR: &str = "evidence";

/// The data dir's folder of saved queries (`workbench::saved`).
pub const SAVED_QUERIES_DIR: &str = "queries";

/// What SQLite and pipeline-db keep beside a database: an env whose path is one of them would be
/// taken for part of the other env's database (SQLite deletes a log it has checkpointed; the
/// lock is emptied and rewritten).
const BESIDE: [(&str, &str); 4] = [
    ("-wal", "SQLite's log"),
    ("-shm", "SQLite's shared memory"),
    ("-journal", "SQLite's journal"),
    (".lock", "pipeline-db's lock"),
];

/// An env's path may not be a file another env's database keeps beside it, nor one of the data
/// dir's own files (the config, the audit log, the saved queries): a change to that env would
/// overwrite or delete it. By path, and by (device, inode) where the file exists.
fn refuse_files_of_others(
    envs: &BTreeMap<String, EnvTarget>,
    config_path: Option<&Path>,
    data_dir: &Path,
) -> std::result::Result<(), String> {
    let id = crate::storage::fs::file_identity;
    let same = |a: &Path, b: &Path| a == b || id(a).is_some_and(|i| id(b) == Some(i));
    let own = [
        (
            data_dir.join(CONFIG_FILE_NAME),
            "the data dir's config file",
        ),
        (data_dir.join("audit.jsonl"), "the audit log"),
    ];
    let configs = config_path.map(|c| (c.to_path_buf(), "the config file in use"));
    let queries = canonical_lenient(&data_dir.join(SAVED_QUERIES_DIR));
    let evidence = canonical_lenient(&data_dir.join(EVIDENCE_DIR));
    for t in envs.values() {
        let beside = envs.values().filter(|o| o.name != t.name).flat_map(|o| {
            BESIDE.map(|(suffix, what)| {
                let f = crate::storage::db::sidecar(&o.path, suffix);
                (f, format!("{what} of env `{}`'s database", o.name))
            })
        });
        let own = own
            .iter()
            .chain(configs.iter())
            .map(|(f, what)| (canonical_lenient(f), what.to_string()));
        if let Some((_, what)) = beside.chain(own).find(|(f, _)| same(&t.path, f)) {
            return Err(format!(
                "env `{}`: path {} is {what}, which a change to `{}` would overwrite or delete; point it at a database file of its own",
                t.name,
                t.path.display(),
                t.name
            ));
        }
        for (dir, what) in [(&queries, "saved queries"), (&evidence, "evidence")] {
            if t.path.starts_with(dir) {
                return Err(format!(
                    "env `{}`: path {} is inside the {what} dir; point it at a database file of its own",
                    t.name,
                    t.path.display()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An env pointed at another env's `-wal`, `-shm`, `-journal` or `.lock` (SQLite deleted the
    /// first once `dev` checkpointed; taking `prod`'s lock emptied the second), or at the data
    /// dir's own files, is refused when the config loads — also through a hard link.
    #[test]
    fn an_env_on_a_file_another_env_keeps_beside_its_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let cfg = |path: &str| {
            std::fs::write(
                d.join(CONFIG_FILE_NAME),
                format!("[envs.test]\npath = \"{path}\"\n"),
            )
            .unwrap();
            Workspace::at(d)
        };
        for path in [
            "dev.sqlite3-wal",
            "dev.sqlite3-shm",
            "prod.sqlite3-journal",
            "prod.sqlite3.lock",
            "audit.jsonl",
            "pipeline-db.toml",
            "queries/x.sqlite3",
            "sub/../dev.sqlite3-wal",
        ] {
            std::fs::create_dir_all(d.join("sub")).unwrap();
            let e = cfg(path).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{path}: {e}");
            assert!(e.to_string().contains("env `test`"), "{path}: {e}");
        }
        std::fs::write(d.join("dev.sqlite3.lock"), "").unwrap();
        std::fs::hard_link(d.join("dev.sqlite3.lock"), d.join("sub/link")).unwrap();
        assert!(cfg("sub/link").is_err(), "a hard link to dev's lock");
        for fine in [
            "test.sqlite3",
            "dev.sqlite3-walrus",
            "sub/dev.sqlite3-wal",
            "other.lock",
        ] {
            cfg(fine).unwrap_or_else(|e| panic!("{fine}: {e}"));
        }
    }

    #[test]
    fn builtins_and_extra_envs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE_NAME),
            "[envs.staging]\nprotected = true\n[envs.dev]\npath = \"work/dev.db\"\n",
        )
        .unwrap();
        let ws = Workspace::at(dir.path()).unwrap();
        assert_eq!(ws.env_names(), ["dev", "prod", "staging", "test"]);
        assert!(ws.env("staging").unwrap().protected);
        assert!(ws.env("prod").unwrap().protected);
        assert!(!ws.env("dev").unwrap().protected);
        assert!(ws.env("dev").unwrap().path.ends_with("work/dev.db"));
    }

    #[test]
    fn prod_cannot_be_unprotected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE_NAME),
            "[envs.prod]\nprotected = false\n",
        )
        .unwrap();
        let err = Workspace::at(dir.path()).unwrap_err();
        assert!(err.to_string().contains("cannot be unprotected"), "{err}");
    }

    #[test]
    fn unknown_env_lists_valid_ones() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::at(dir.path()).unwrap();
        let e = ws.env("staging").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("dev, prod, test"), "{e}");
        assert_eq!(ws.env("../x").unwrap_err().exit_code(), 2);
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "nothing created"
        );
    }

    #[test]
    fn bad_config_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE_NAME), "[envs.BAD]\n").unwrap();
        assert_eq!(Workspace::at(dir.path()).unwrap_err().exit_code(), 2);
        std::fs::write(dir.path().join(CONFIG_FILE_NAME), "nonsense = 1\n").unwrap();
        assert_eq!(Workspace::at(dir.path()).unwrap_err().exit_code(), 2);
    }
}
