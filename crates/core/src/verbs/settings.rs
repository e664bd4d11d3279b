//! Settings: edits the TOML config the workspace loaded (add, remove or repoint envs, retention,
//! busy timeout), keeping comments, written atomically; an attached database file is only read.
//!
//! Rules:
//! - `env add` (attach) takes a NEW name only: built-in envs (`dev`, `test`, `prod`) always exist,
//!   so pointing one at another file is `env path`, which runs the same file checks.
//! - A file given to an env must pass the 16-byte header check, must not be another env's file or
//!   lie in the backups dir, must not belong to another application, and must not be tagged for
//!   another env. An untagged file is accepted but must be tagged (`env set`) before any change.
//! - The config is replaced by a temp file beside it (created without following links, fsynced,
//!   renamed, directory fsynced); a config that is a symlink is refused rather than replaced.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::verb::Verb;
use toml_edit::{DocumentMut, Item, Table};

use crate::error::{exit, Error, Result};
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::schema::tag::{self, Identity, APPLICATION_ID};
use crate::storage::db::{self, FileState};
use crate::storage::fs;
use crate::workspace::config::{
    canonical_lenient, Config, Workspace, WorkspaceOptions, CONFIG_FILE_NAME,
};
use crate::workspace::env::{check_env_name, EnvTarget, ALWAYS_PROTECTED, BUILTIN_ENVS};

/// Bounds of `busy_timeout_ms` (10 minutes at most).
pub use crate::workspace::config::BUSY_TIMEOUT_RANGE;
pub use crate::workspace::config::{KEEP_RANGE, MAX_TOTAL_MIB};
/// The audit log's env for changes that concern no single env (not a valid env name).
pub const WORKSPACE_AUDIT_ENV: &str = "*";

/// What a database file given to an env turned out to be (read-only inspection).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FileCheck {
    /// Canonical path, as it is written to the config.
    pub path: PathBuf,
    pub exists: bool,
    /// `None` when the file does not exist yet.
    pub identity: Option<Identity>,
    pub application_id: Option<i32>,
    /// The file holds data but no env tag: `pipeline-db env set <env>` must tag it before any change.
    pub needs_tag: bool,
}

/// A config change: what was checked and what is (or, with a dry run, would be) written.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsPlan {
    /// `env add`, `env remove`, `env path`, `config set`.
    #[cfg_attr(
        feature = "ts",
        ts(type = r#""env add" | "env remove" | "env path" | "config set""#)
    )]
    pub verb: Verb,
    pub config_path: PathBuf,
    /// The config file does not exist yet and is created.
    pub creates_config: bool,
    /// The env the change is confirmed for; for a retention change that deletes backups of
    /// protected envs, their names (several: separated by one space, typed so together).
    pub env: Option<String>,
    pub file: Option<FileCheck>,
    /// Each check that passed, in order.
    pub checks: Vec<String>,
    /// Each config key set or removed.
    pub changes: Vec<String>,
    /// What the user should know or do next.
    pub notes: Vec<String>,
    /// Core's answer to "must the user confirm this change": removing an env, pointing an env
    /// that holds data elsewhere, or lowering retention (the next prune deletes more). Protected
    /// envs need the typed name (the desktop: its native dialog).
    pub confirmation: Confirmation,
    #[serde(skip)]
    old_text: Option<String>,
    #[serde(skip)]
    new_text: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsOutcome {
    pub plan: SettingsPlan,
    /// False for a dry run.
    pub written: bool,
}

/// `env add`: an existing SQLite file becomes environment `name`. The file is never written.
#[derive(Debug, Clone)]
pub struct Attach {
    pub name: String,
    pub path: PathBuf,
    pub protected: bool,
}

/// The config file changes go to: the one the workspace loaded, else `<data_dir>/pipeline-db.toml`.
pub fn config_target(ws: &Workspace) -> PathBuf {
    ws.config_path
        .clone()
        .unwrap_or_else(|| ws.data_dir.join(CONFIG_FILE_NAME))
}

/// The workspace as its config file says now, for a plan: a long-running adapter (the desktop)
/// may hold one loaded before another program changed the config, and a plan made from it would
/// miss what changed — an env added since as protected, whose backups a lower retention then
/// deleted with only a y/N (review 18). The time limit given on the command line is kept.
fn as_configured_now(ws: &Workspace) -> Result<Workspace> {
    ws.as_configured_now()
}

/// The bytes of `ws`'s config file as it is now (`None`: there is none): an adapter that keeps a
/// workspace compares them with those it loaded it from, and reloads when they differ.
pub fn config_bytes(ws: &Workspace) -> Option<Vec<u8>> {
    std::fs::read(config_target(ws)).ok()
}

/// The workspace again, after a change to its config (same data dir and config file).
pub fn reload(ws: &Workspace) -> Result<Workspace> {
    let cfg = config_target(ws);
    Workspace::load(&WorkspaceOptions {
        data_dir: Some(ws.data_dir.clone()),
        config: cfg.exists().then_some(cfg),
        busy_timeout: None,
    })
}

pub fn attach(ws: &Workspace, req: &Attach, dry_run: bool) -> Result<SettingsOutcome> {
    let ws = &as_configured_now(ws)?;
    // Attaching never needs confirming (the file is only read).
    run(ws, &req.name, Verb::EnvAdd, mode(dry_run), || {
        plan_attach(ws, req)
    })
}

/// Whether a settings call only plans (`DryRun`) or writes, with what the user said: a change
/// core says must be confirmed is refused (and audit-logged) unless `Write`'s answer satisfies it.
#[derive(Debug, Clone, Copy)]
pub enum Apply<'a> {
    DryRun,
    Write(&'a Confirmed),
}

/// Removes an added env from the config (always confirmed: see [`SettingsPlan::confirmation`]).
pub fn detach(ws: &Workspace, name: &str, apply: Apply<'_>) -> Result<SettingsOutcome> {
    let ws = &as_configured_now(ws)?;
    run(ws, name, Verb::EnvRemove, apply, || plan_detach(ws, name))
}

/// Points `name` at `path` (`None`: back to the default `<data_dir>/<name>.sqlite3`). A missing
/// file is fine: migrate or reset creates it.
pub fn set_env_path(
    ws: &Workspace,
    name: &str,
    path: Option<&Path>,
    apply: Apply<'_>,
) -> Result<SettingsOutcome> {
    let ws = &as_configured_now(ws)?;
    run(ws, name, Verb::EnvPath, apply, || {
        plan_env_path(ws, name, path)
    })
}

/// Sets `retention.keep` and, if given, `retention.max_total_mib`.
pub fn set_retention(
    ws: &Workspace,
    keep: usize,
    max_total_mib: Option<u64>,
    apply: Apply<'_>,
) -> Result<SettingsOutcome> {
    let ws = &as_configured_now(ws)?;
    run(ws, WORKSPACE_AUDIT_ENV, Verb::ConfigSet, apply, || {
        plan_retention(ws, keep, max_total_mib)
    })
}

pub fn set_busy_timeout(ws: &Workspace, ms: u64, dry_run: bool) -> Result<SettingsOutcome> {
    let ws = &as_configured_now(ws)?;
    // Never needs confirming.
    run(
        ws,
        WORKSPACE_AUDIT_ENV,
        Verb::ConfigSet,
        mode(dry_run),
        || {
            if !BUSY_TIMEOUT_RANGE.contains(&ms) {
                return Err(Error::InvalidInput(format!(
                    "busy timeout {ms} ms is out of range; use 0 to {} ms",
                    BUSY_TIMEOUT_RANGE.end()
                )));
            }
            let mut e = Editor::open(ws, Verb::ConfigSet, None)?;
            e.doc["busy_timeout_ms"] = toml_edit::value(ms as i64);
            e.changes.push(format!("busy_timeout_ms = {ms}"));
            e.finish(ws, None)
        },
    )
}

/// A call whose plans never need confirming: a dry run, or a write with no answer.
fn mode(dry_run: bool) -> Apply<'static> {
    static NO_ANSWER: Confirmed = Confirmed {
        yes: false,
        typed_env: None,
    };
    match dry_run {
        true => Apply::DryRun,
        false => Apply::Write(&NO_ANSWER),
    }
}

/// Plans, then (unless a dry run) checks the confirmation the plan asks for against the answer,
/// writes and audit-logs the outcome (a refusal too). Usage errors are not logged.
fn run(
    ws: &Workspace,
    env: &str,
    verb: Verb,
    apply: Apply<'_>,
    plan: impl FnOnce() -> Result<SettingsPlan>,
) -> Result<SettingsOutcome> {
    let planned = plan();
    let Apply::Write(confirmed) = apply else {
        return planned.map(|plan| SettingsOutcome {
            plan,
            written: false,
        });
    };
    let file = planned
        .as_ref()
        .ok()
        .and_then(|p| p.file.as_ref().map(|f| f.path.clone()))
        .unwrap_or_else(|| config_target(ws));
    let write = |plan: SettingsPlan| {
        require_confirmed(&plan, confirmed)?;
        crate::safety::audit::require_writable(&ws.audit_path())?;
        // Repointing or removing an env waits for a verb running on its file (it holds the
        // file's lock): changed under it, the verb's audit line would come after the change, and
        // undo would take its backup for one of the new file's.
        let _lock = match verb {
            Verb::EnvPath | Verb::EnvRemove => running_verb_lock(ws, env, verb)?,
            _ => None,
        };
        write_config(&plan)?;
        Ok(SettingsOutcome {
            plan,
            written: true,
        })
    };
    if matches!(&planned, Err(e) if e.exit_code() == exit::USAGE) {
        return planned.and_then(write);
    }
    crate::safety::audit::recorded(
        ws,
        env,
        &file,
        verb,
        |_| planned.and_then(write),
        |result| match result {
            Ok(o) => (o.plan.changes.join("; "), None),
            Err(_) => (format!("{verb} {env}"), None),
        },
    )
}

/// The env's lock, waited for while a verb runs on its file. A verb running there holds its lock
/// file open, so with no lock file (a file on an unmounted disk, a directory it cannot write) none
/// runs and none is created; a lock file that cannot be opened proves nothing either way and is
/// passed over (only another process holding it refuses the change).
fn running_verb_lock(
    ws: &Workspace,
    env: &str,
    verb: Verb,
) -> Result<Option<crate::safety::lock::EnvLock>> {
    let Ok(t) = ws.env(env) else { return Ok(None) };
    if std::fs::symlink_metadata(crate::safety::lock::lock_path(&t.path)).is_err() {
        return Ok(None);
    }
    match crate::safety::lock::acquire(&t.path, ws.busy_timeout(), verb.as_str()) {
        Ok(l) => Ok(Some(l)),
        Err(e @ Error::Busy { .. }) => Err(e),
        Err(e) => {
            tracing::warn!("{env}'s lock not taken ({e}): no verb can be holding it");
            Ok(None)
        }
    }
}

/// Enforces the confirmation a settings plan asks for (`plan.confirmation`, decided in core), on
/// the plan made for the write itself: every writing call goes through it (`run`).
fn require_confirmed(plan: &SettingsPlan, confirmed: &Confirmed) -> Result<()> {
    let env = plan.env.as_deref().unwrap_or(ALL_ENVS);
    if confirmed.satisfies(plan.confirmation, env) {
        return Ok(());
    }
    let verb = plan.verb;
    Err(Error::Refused(match plan.confirmation {
        Confirmation::TypeEnvName if env.contains(PROTECTED_NAMES_SEPARATOR) => format!(
            "{verb} deletes backups of the protected envs {}: their names are typed together, and they were not: type `{env}` when asked on a terminal, or pass --confirm-env '{env}'; nothing was written",
            env.split(PROTECTED_NAMES_SEPARATOR).collect::<Vec<_>>().join(", ")
        ),
        Confirmation::TypeEnvName => format!(
            "{verb} {env} needs the env name typed (it is protected), and it was not: type `{env}` when asked on a terminal, or pass --confirm-env {env}; nothing was written"
        ),
        _ => format!(
            "{verb} {env} needs confirmation ({}), and none was given: answer y when asked on a terminal, or pass --force; nothing was written",
            plan.changes.join("; ")
        ),
    }))
}

/// What a settings change for the whole workspace (retention, busy timeout) names at a prompt.
pub const ALL_ENVS: &str = "all environments";

/// Between the names of the protected envs a retention change deletes backups of, in
/// [`SettingsPlan::env`] and in the text typed to confirm it (`prod staging`).
pub const PROTECTED_NAMES_SEPARATOR: &str = " ";

/// The checks of `env add` on the name alone (a window asks before it opens a file dialog):
/// valid (exit 2) and not the name of an existing env (exit 3).
pub fn check_new_env_name(ws: &Workspace, name: &str) -> Result<()> {
    valid_name(ws, name)?;
    if let Some(t) = ws.envs.get(name) {
        let hint = if BUILTIN_ENVS.contains(&name) {
            format!("`{name}` is built in; point it at the file with `pipeline-db env path {name} PATH`")
        } else {
            format!("pick another name, or remove it first with `pipeline-db env remove {name}`")
        };
        return Err(Error::Refused(format!(
            "environment `{name}` already exists (file {}); nothing was written. {hint}",
            t.path.display()
        )));
    }
    Ok(())
}

fn plan_attach(ws: &Workspace, req: &Attach) -> Result<SettingsPlan> {
    let name = req.name.as_str();
    check_new_env_name(ws, name)?;
    let mut e = Editor::open(ws, Verb::EnvAdd, Some(name))?;
    e.checks
        .push(format!("name `{name}` is valid and not in use"));
    let file = check_file(ws, name, &req.path, true, &mut e)?;
    let protected = req.protected || name == ALWAYS_PROTECTED;
    let t = e.env_table(name)?;
    t["path"] = toml_edit::value(path_str(&file.path)?);
    if protected {
        t["protected"] = toml_edit::value(true);
    }
    e.changes
        .push(format!("envs.{name}.path = {}", file.path.display()));
    if protected {
        e.changes.push(format!("envs.{name}.protected = true"));
    }
    e.finish(ws, Some(file))
}

fn plan_detach(ws: &Workspace, name: &str) -> Result<SettingsPlan> {
    let target = ws.env(name)?;
    if BUILTIN_ENVS.contains(&name) {
        return Err(Error::Refused(format!(
            "`{name}` is a built-in environment and cannot be removed; nothing was written. To point it back at its default file use `pipeline-db env path {name} --default`"
        )));
    }
    let mut e = Editor::open(ws, Verb::EnvRemove, Some(name))?;
    let envs = e.doc.get_mut("envs").and_then(Item::as_table_like_mut);
    if envs.and_then(|t| t.remove(name)).is_none() {
        return Err(Error::Config {
            path: e.path.clone(),
            message: format!("env `{name}` is not defined in this file; edit the config by hand"),
        });
    }
    e.changes.push(format!("remove [envs.{name}]"));
    e.confirm = confirmation_for(&target, true);
    e.notes.push(format!(
        "{} and the backups in {} are left where they are (an env added again under this name counts them as its own backups, for retention; `undo` restores them only if the same file is added again)",
        target.path.display(),
        target.backup_dir.display()
    ));
    e.finish(ws, None)
}

/// Removing an env, or pointing one that holds data elsewhere, is confirmed: by the typed name
/// for a protected env, by a yes otherwise.
fn confirmation_for(target: &EnvTarget, always: bool) -> Confirmation {
    let holds_data = std::fs::metadata(&target.path).is_ok_and(|m| m.len() > 0);
    match (target.protected, always || holds_data) {
        (true, _) => Confirmation::TypeEnvName,
        (false, true) => Confirmation::YesNo,
        (false, false) => Confirmation::None,
    }
}

fn plan_env_path(ws: &Workspace, name: &str, path: Option<&Path>) -> Result<SettingsPlan> {
    let target = ws.env(name)?;
    let mut e = Editor::open(ws, Verb::EnvPath, Some(name))?;
    e.confirm = confirmation_for(&target, false);
    let file = match path {
        Some(p) => {
            let f = check_file(ws, name, p, false, &mut e)?;
            e.env_table(name)?["path"] = toml_edit::value(path_str(&f.path)?);
            e.changes
                .push(format!("envs.{name}.path = {}", f.path.display()));
            Some(f)
        }
        None => {
            if let Some(t) = e.doc.get_mut("envs").and_then(|t| t.get_mut(name)) {
                if let Some(t) = t.as_table_like_mut() {
                    t.remove("path");
                }
            }
            e.changes.push(format!(
                "remove envs.{name}.path (default {name}.sqlite3 in the data dir)"
            ));
            None
        }
    };
    let new_path = file.as_ref().map_or_else(
        || canonical_lenient(&ws.data_dir.join(format!("{name}.sqlite3"))),
        |f| f.path.clone(),
    );
    match new_path == target.path {
        true => e.notes.push(format!(
            "{name} already uses {}: only the config's wording changes",
            target.path.display()
        )),
        false => e.notes.push(format!(
            "the previous file {} is left where it is",
            target.path.display()
        )),
    }
    e.finish(ws, file)
}

fn plan_retention(ws: &Workspace, keep: usize, max_total_mib: Option<u64>) -> Result<SettingsPlan> {
    let now = &ws.retention;
    let policy = crate::workspace::config::Retention {
        keep,
        max_total_mib: max_total_mib.unwrap_or(now.max_total_mib),
        ..now.clone()
    };
    policy.check().map_err(Error::InvalidInput)?;
    let mut e = Editor::open(ws, Verb::ConfigSet, None)?;
    let t = e.table("retention")?;
    t["keep"] = toml_edit::value(keep as i64);
    if let Some(m) = max_total_mib {
        t["max_total_mib"] = toml_edit::value(m as i64);
    }
    e.changes.push(format!("retention.keep = {keep}"));
    let tighter_budget =
        max_total_mib.is_some_and(|m| m > 0 && (now.max_total_mib == 0 || m < now.max_total_mib));
    if keep < now.keep || tighter_budget {
        e.confirm = Confirmation::YesNo;
    }
    if let Some(m) = max_total_mib {
        e.changes.push(format!("retention.max_total_mib = {m}"));
    }
    use crate::safety::retention::{would_delete, When};
    let doomed = would_delete(ws, &policy, When::Now)?;
    // Backups it will delete of a protected env — at a prune now, or at the env's next backup
    // (which deletes one more: review 18) —: confirmed as a prune of that env would be, for each
    // such env, so with several all their names are typed, as one text.
    // At the next backup, only where the change deletes more than the policy it replaces.
    let before = would_delete(ws, now, When::NextBackup)?;
    let count = |of: &[(String, usize)], env: &str| {
        of.iter().find(|(e, _)| e == env).map_or(0, |(_, n)| *n)
    };
    let next = would_delete(ws, &policy, When::NextBackup)?;
    let worse = next.iter().filter(|(env, n)| *n > count(&before, env));
    let protected: Vec<&str> = worse
        .chain(&doomed)
        .map(|(env, _)| env.as_str())
        .filter(|env| ws.envs.get(*env).is_some_and(|t| t.protected))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !protected.is_empty() {
        e.confirm = Confirmation::TypeEnvName;
        e.env = Some(protected.join(PROTECTED_NAMES_SEPARATOR));
    }
    e.notes.push(match doomed.is_empty() {
        true => "no backup is deleted now; it applies at each env's next backup (automatic retention) and at `pipeline-db backups prune`".into(),
        false => format!(
            "nothing is deleted now; under it `pipeline-db backups prune` deletes {} (each env's next backup deletes the same, plus the oldest it no longer keeps beside itself)",
            doomed
                .iter()
                .map(|(env, n)| format!("{n} of {env}'s backups"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    });
    e.finish(ws, None)
}

fn valid_name(ws: &Workspace, name: &str) -> Result<()> {
    check_env_name(name).map_err(|why| Error::InvalidEnvName {
        name: name.escape_debug().to_string(),
        why,
        valid: ws.env_names(),
    })
}

/// The checks of a database file given to env `name`, all read-only.
fn check_file(
    ws: &Workspace,
    name: &str,
    path: &Path,
    must_exist: bool,
    e: &mut Editor,
) -> Result<FileCheck> {
    let abs = std::path::absolute(path).map_err(Error::io("resolving path", path))?;
    if abs.file_name().is_none() {
        return Err(Error::InvalidInput(format!(
            "{} names no file",
            path.display()
        )));
    }
    // Written to the config and echoed in every message: a newline would forge a line.
    if abs.to_str().is_some_and(|t| {
        t.chars()
            .any(|c| c.is_control() || crate::backups::names::is_deceptive(c))
    }) {
        return Err(Error::InvalidInput(format!(
            "the path {} contains control or invisible characters; give a plain path",
            crate::storage::text::echo(&abs.to_string_lossy())
        )));
    }
    // A link to nothing yet would be created through: the new database would be made wherever
    // the link points (review 27: two envs on one future file; a file in the backups dir).
    if std::fs::symlink_metadata(&abs).is_ok_and(|m| m.file_type().is_symlink()) && !abs.exists() {
        return Err(Error::InvalidInput(format!(
            "{} is a symbolic link to a file that does not exist; give the path the database is (or will be) at itself",
            abs.display()
        )));
    }
    let path = canonical_lenient(&abs);
    if crate::workspace::config::in_backups_dir(&ws.data_dir, &path) {
        return Err(Error::Refused(format!(
            "{} is inside the backups dir; nothing was written. Restore a backup with `pipeline-db restore ENV BACKUP` instead",
            path.display()
        )));
    }
    // A file offered for an env is read through a kept handle only when it is already an env's
    // (a connection of ours may hold it): any other stays closed once looked at.
    let state = match ws.env_of_file(&path) {
        Some(_) => db::check_header(&path)?,
        None => db::check_copy_header(&path)?,
    };
    match state {
        FileState::Missing if must_exist => {
            return Err(Error::InvalidInput(format!(
                "{} does not exist; give the path of an existing SQLite file",
                path.display()
            )))
        }
        FileState::Missing => {
            let dir = path.parent().unwrap_or(Path::new("/"));
            if !dir.is_dir() {
                return Err(Error::InvalidInput(format!(
                    "directory {} does not exist; create it first",
                    dir.display()
                )));
            }
            e.notes.push(format!(
                "{} does not exist yet; `pipeline-db migrate {name}` creates it",
                path.display()
            ));
        }
        FileState::Database => e.checks.push("header: SQLite format 3".into()),
    }
    let same_file = |t: &crate::workspace::env::EnvTarget| {
        t.path == path
            || crate::storage::fs::file_identity(&path)
                .is_some_and(|id| crate::storage::fs::file_identity(&t.path) == Some(id))
    };
    if let Some(other) = ws.envs.values().find(|t| same_file(t) && t.name != name) {
        return Err(Error::Refused(format!(
            "{} is already the database of env `{}` (the same file, perhaps through a hard link); nothing was written. One file belongs to one env",
            path.display(),
            other.name
        )));
    }
    crate::safety::lock::refuse_a_lock_file_not_ours(&path)?;
    e.checks.push(
        "not another env's file, not in the backups dir, no other program's .lock beside it".into(),
    );
    if state == FileState::Missing {
        return Ok(FileCheck {
            path,
            exists: false,
            identity: None,
            application_id: None,
            needs_tag: false,
        });
    }
    inspect_identity(ws, name, path, e)
}

/// Reads application_id and the env tag through a read-only connection.
fn inspect_identity(
    ws: &Workspace,
    name: &str,
    path: PathBuf,
    e: &mut Editor,
) -> Result<FileCheck> {
    let target = EnvTarget {
        name: name.to_string(),
        path: path.clone(),
        protected: false,
        backup_dir: ws.backups_root().join(name),
        compress_backups: false,
    };
    let read = || -> Result<(i32, Option<String>, Identity, Option<String>)> {
        let conn = match open_without_sidecars(&path)? {
            Some(c) => c,
            None => crate::safety::session::inspect(ws, &target)?
                .ok_or_else(|| Error::InvalidInput(format!("{} disappeared", path.display())))?,
        };
        let foreign = crate::safety::health::foreign_objects(&conn, &target)?;
        let encoding = db::encoding_problem(&conn)?;
        Ok((
            tag::application_id(&conn)?,
            encoding,
            tag::identity(&conn)?,
            foreign,
        ))
    };
    let (app, encoding, identity, foreign) =
        read().map_err(|err| crate::safety::health::corrupt_if_malformed(err, &target))?;
    if app != 0 && app != APPLICATION_ID {
        return Err(Error::ForeignApplication { path, found: app });
    }
    if let Some(why) = encoding {
        return Err(Error::Refused(format!(
            "{}: {why}; nothing was written",
            path.display()
        )));
    }
    e.checks
        .push(format!("application_id {app:#x} (ours or unset)"));
    let untagged = matches!(identity, Identity::Untagged);
    match &foreign {
        // `env set` refuses the drift and `reset` the missing tag: the schema comes first.
        Some(drift) if untagged => e.notes.push(format!(
            "{drift}, and the file holds data but no env tag: it is attached for reading. Tagging refuses a file whose schema differs and reset refuses an untagged one, so first make the schema match (`pipeline-db migrations check {name}` lists the differences), then tag it with `pipeline-db env set {name}`"
        )),
        Some(drift) => e.notes.push(format!(
            "{drift}: it is attached for reading; changing verbs other than reset and restore refuse it until `pipeline-db reset {name}` rebuilds it or `pipeline-db restore {name} BACKUP` replaces it (each after a verified backup)"
        )),
        None => e.checks.push("schema: no trigger, view or changed object from elsewhere".into()),
    }
    let needs_tag = match &identity {
        Identity::Tagged(t) if t.env != name => {
            return Err(Error::Refused(format!(
                "{} is tagged `{}`, not `{name}`; nothing was written. Add it under the name of its tag (`pipeline-db env add {} PATH`), or, if it really belongs to {name}, retag it from an env that uses it with `pipeline-db env set`",
                path.display(),
                t.env,
                t.env
            )))
        }
        Identity::Tagged(_) => {
            e.checks.push(format!("env tag `{name}`"));
            false
        }
        Identity::Empty => {
            e.notes
                .push(format!("the file is empty; `pipeline-db migrate {name}` builds and tags it"));
            false
        }
        Identity::Untagged => {
            if foreign.is_none() {
                e.notes.push(format!(
                    "the file holds data but no env tag; changing verbs refuse it until you tag it with `pipeline-db env set {name}`"
                ));
            }
            true
        }
    };
    Ok(FileCheck {
        path,
        exists: true,
        identity: Some(identity),
        application_id: Some(app),
        needs_tag,
    })
}

/// The file alone, immutable (`None`: a log beside it holds pages, so it must be read through
/// SQLite's WAL index). A log whose index (`-shm`) is missing is refused: reading it would make
/// SQLite create that index beside the user's file, and nothing is written outside the data dir.
fn open_without_sidecars(path: &Path) -> Result<Option<rusqlite::Connection>> {
    path_str(path)?;
    let wal_pages = std::fs::metadata(db::sidecar(path, "-wal")).is_ok_and(|m| m.len() > 0);
    if wal_pages && !db::sidecar(path, "-shm").exists() {
        return Err(Error::Refused(format!(
            "{p} has a write-ahead log with pages beside it ({p}-wal) but no {p}-shm: the program that wrote it stopped without closing it, and reading it would create {p}-shm beside your file; nothing was written. Close it properly, or run `sqlite3 {p} \"PRAGMA wal_checkpoint(TRUNCATE)\"` (which moves the log's pages into the file), then try again",
            p = path.display()
        )));
    }
    db::open_immutable(path)
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str().ok_or_else(|| {
        Error::InvalidInput(format!(
            "{} is not valid UTF-8 and cannot be written to the TOML config; rename it",
            p.display()
        ))
    })
}

/// The config document being edited, and the plan being built.
struct Editor {
    verb: Verb,
    confirm: Confirmation,
    env: Option<String>,
    path: PathBuf,
    old_text: Option<String>,
    doc: DocumentMut,
    checks: Vec<String>,
    changes: Vec<String>,
    notes: Vec<String>,
}

impl Editor {
    fn open(ws: &Workspace, verb: Verb, env: Option<&str>) -> Result<Editor> {
        let path = config_target(ws);
        let old_text = read_config_text(&path)?;
        let doc = old_text
            .as_deref()
            .unwrap_or("")
            .parse::<DocumentMut>()
            .map_err(|err| Error::Config {
                path: path.clone(),
                message: err.to_string(),
            })?;
        Ok(Editor {
            verb,
            confirm: Confirmation::None,
            env: env.map(str::to_string),
            path,
            old_text,
            doc,
            checks: vec![],
            changes: vec![],
            notes: vec![],
        })
    }

    /// A top-level table, created (without an empty header) if missing.
    fn table(&mut self, key: &str) -> Result<&mut Table> {
        let path = self.path.clone();
        let item = self.doc.entry(key).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        item.as_table_mut().ok_or_else(|| Error::Config {
            path,
            message: format!("`{key}` is not a [table]; edit the config by hand"),
        })
    }

    fn env_table(&mut self, name: &str) -> Result<&mut Table> {
        let path = self.path.clone();
        let envs = self.table("envs")?;
        envs.entry(name)
            .or_insert_with(|| Item::Table(Table::new()))
            .as_table_mut()
            .ok_or_else(|| Error::Config {
                path,
                message: format!("`envs.{name}` is not a [table]; edit the config by hand"),
            })
    }

    /// Checks that the edited config still loads (and keeps every env on its own file).
    fn finish(self, ws: &Workspace, file: Option<FileCheck>) -> Result<SettingsPlan> {
        let new_text = self.doc.to_string();
        let cfg_err = |message: String| Error::Config {
            path: self.path.clone(),
            message: format!(
                "the change would make the config invalid ({message}); nothing was written"
            ),
        };
        let config: Config =
            toml::from_str(&new_text).map_err(|err| cfg_err(err.message().to_string()))?;
        crate::workspace::config::resolve_envs(&config, Some(&self.path), &ws.data_dir)
            .map_err(|err| cfg_err(err.to_string()))?;
        Ok(SettingsPlan {
            verb: self.verb,
            confirmation: self.confirm,
            creates_config: self.old_text.is_none(),
            config_path: self.path,
            env: self.env,
            file,
            checks: self.checks,
            changes: self.changes,
            notes: self.notes,
            old_text: self.old_text,
            new_text,
        })
    }
}

/// The config's text, `None` if it does not exist. A symlink or a non-file is refused.
fn read_config_text(path: &Path) -> Result<Option<String>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::Refused(format!(
            "config {} is a symlink; refusing to replace it. Pass the file it points to with --config (or PIPELINE_DB_CONFIG)",
            path.display()
        ))),
        Ok(m) if !m.is_file() => Err(Error::Config {
            path: path.to_path_buf(),
            message: "it is not a regular file".into(),
        }),
        Ok(_) => crate::storage::fs::read_untrusted(path, false, 1 << 20)?
            .map(|b| {
                String::from_utf8(b).map_err(|_| Error::Config {
                    path: path.to_path_buf(),
                    message: "it is not UTF-8 text".into(),
                })
            })
            .transpose(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading config", path)(e)),
    }
}

/// Replaces the config atomically: temp file beside it (never following a link), fsync, rename,
/// directory fsync. Refuses if the config changed since the plan read it.
fn write_config(plan: &SettingsPlan) -> Result<()> {
    let path = &plan.config_path;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
    let tmp = fs::temp_beside(path);
    let result = (|| {
        use std::io::Write;
        let mut f = fs::create_new(&tmp)?;
        if let Ok(m) = std::fs::metadata(path) {
            f.set_permissions(m.permissions())
                .map_err(Error::io("setting permissions of", &tmp))?;
        }
        f.write_all(plan.new_text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(Error::io("writing", &tmp))?;
        drop(f);
        if read_config_text(path)? != plan.old_text {
            return Err(Error::Refused(format!(
                "config {} changed while it was being edited; nothing was written. Try again",
                path.display()
            )));
        }
        std::fs::rename(&tmp, path).map_err(Error::io("replacing config", path))?;
        fs::fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;
