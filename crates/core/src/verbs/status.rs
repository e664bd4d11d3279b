//! `status`: a read-only summary of every environment (never creates or changes a file).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::backups::record::BackupRecord;
use crate::error::{Error, Result};
use crate::safety::session;
use crate::schema::migrations::{self, MigrationState};
use crate::schema::tag::{self, Identity};
use crate::storage::db;
use crate::verbs::actions::{self, Actions, Facts};
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EnvStatus {
    pub env: String,
    pub path: PathBuf,
    pub protected: bool,
    pub exists: bool,
    pub size_bytes: u64,
    /// `ok`, `missing`, or the kind of the error that stopped the inspection.
    pub health: String,
    pub error: Option<String>,
    pub identity: Option<Identity>,
    pub schema_version: Option<i64>,
    pub pending_migrations: Vec<i64>,
    pub divergent_migrations: Vec<i64>,
    pub row_counts: BTreeMap<String, u64>,
    /// The same counts, the user's tables first, each with its kind (data or bookkeeping).
    pub tables: Vec<crate::plan::TableRows>,
    pub sample_data: Option<bool>,
    pub last_backup: Option<BackupRecord>,
    /// Why the env's backups could not be listed (a backups dir that is a file or a symlink):
    /// then `last_backup` says nothing, not "never".
    pub backups_error: Option<String>,
    pub last_action: Option<String>,
    pub last_action_at: Option<String>,
    /// Which actions can apply now, and why not (core's answer; the window's buttons show it).
    pub actions: Actions,
}

/// Status of one env (`Some`) or all of them.
pub fn status(ws: &Workspace, env: Option<&str>) -> Result<Vec<EnvStatus>> {
    let targets: Vec<EnvTarget> = match env {
        Some(e) => vec![ws.env(e)?],
        None => ws.envs.values().cloned().collect(),
    };
    Ok(targets.iter().map(|t| one(ws, t)).collect())
}

fn one(ws: &Workspace, t: &EnvTarget) -> EnvStatus {
    let (backups, backups_error) = match crate::backups::record::list(t) {
        Ok(b) => (b, None),
        Err(e) => (vec![], Some(e.to_string())),
    };
    let exists = t.path.exists();
    let mut s = EnvStatus {
        env: t.name.clone(),
        path: t.path.clone(),
        protected: t.protected,
        exists,
        size_bytes: crate::safety::space::db_bytes(&t.path),
        health: "missing".into(),
        error: None,
        identity: None,
        schema_version: None,
        pending_migrations: vec![],
        divergent_migrations: vec![],
        row_counts: BTreeMap::new(),
        tables: vec![],
        sample_data: None,
        last_backup: backups.last().cloned(),
        backups_error,
        last_action: None,
        last_action_at: None,
        actions: Actions::default(),
    };
    let migrate_refused = fill(ws, t, &mut s).unwrap_or_else(|e| {
        s.health = e.kind().into();
        s.error = Some(e.to_string());
        None
    });
    let latest =
        s.health == "ok" && s.pending_migrations.is_empty() && s.divergent_migrations.is_empty();
    s.actions = actions::of(
        ws,
        t,
        Facts {
            exists,
            up_to_date: s.schema_version.filter(|_| latest),
            backups: backups.len(),
            health: &s.health,
            migrate_refused: migrate_refused.as_deref(),
        },
    );
    s
}

/// Fills in what the file holds; returns why `migrate` would refuse its history, if it would.
fn fill(ws: &Workspace, t: &EnvTarget, s: &mut EnvStatus) -> Result<Option<String>> {
    let Some(c) = session::inspect(ws, t)? else {
        return Ok(None);
    };
    let id = tag::identity(&c)?;
    if let Identity::Tagged(tag) = &id {
        s.sample_data = Some(tag.sample_data);
        s.last_action = tag.last_action.clone();
        s.last_action_at = tag.last_action_at.clone();
    }
    s.identity = Some(id);
    for m in migrations::list(Some(&c))? {
        match m.state {
            MigrationState::Pending => s.pending_migrations.push(m.version),
            MigrationState::Divergent | MigrationState::Missing => {
                s.divergent_migrations.push(m.version)
            }
            MigrationState::Applied => s.schema_version = Some(m.version),
        }
    }
    // Migrate's own verdict on the history, read again only when it has something to say about
    // (a history all applied is up to date: `status` stays one read of it).
    let settled = s.pending_migrations.is_empty() && s.divergent_migrations.is_empty();
    let migrate_refused = match settled {
        true => None,
        false => migrations::pending_or_refuse(&c, &t.path, &t.name)
            .err()
            .map(|e| e.to_string()),
    };
    s.row_counts = db::row_counts(&c)?;
    s.tables = crate::plan::table_rows(&s.row_counts);
    s.health = "ok".into();
    let drift = crate::safety::health::foreign_objects(&c, t)?;
    let tag_problem = tag::require_identity(&c, t).err();
    if let Some((health, problem)) = problem(t, tag_problem, drift) {
        s.health = health;
        s.error = Some(problem);
    }
    Ok(migrate_refused)
}

/// What stops changes to the file, with next steps that work from where the user stands (the
/// health word, the message); `None`: nothing.
fn problem(t: &EnvTarget, tag: Option<Error>, drift: Option<String>) -> Option<(String, String)> {
    let env = &t.name;
    let drifted = |d: &str| {
        format!(
            "{d}: it can be read, but changing verbs other than reset and restore refuse it; `pipeline-db migrations check {env}` lists the differences, `pipeline-db reset {env}` rebuilds it and `pipeline-db restore {env} BACKUP` replaces it, each after a verified backup"
        )
    };
    match (tag, drift) {
        (None, None) => None,
        (Some(e), None) => Some((e.kind().into(), e.to_string())),
        (None, Some(d)) => Some(("foreign_schema".into(), drifted(&d))),
        // Untagged *and* drifted: `env set` refuses the drift and `reset` refuses the missing tag,
        // so the schema comes first.
        (Some(e @ Error::Untagged { .. }), Some(d)) => Some((
            e.kind().into(),
            format!(
                "{} holds data but carries no pipeline-db environment tag, and {d}. Tagging refuses a file whose schema differs and reset refuses an untagged one, so: first make the schema match (`pipeline-db migrations check {env}` lists the differences; pipeline-db did not make them), then tag it with `pipeline-db env set {env}`. Or point {env} at another file with `pipeline-db env path {env}`",
                t.path.display()
            ),
        )),
        (Some(e), Some(d)) => Some((e.kind().into(), format!("{e}; and {}", drifted(&d)))),
    }
}
