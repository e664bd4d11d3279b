//! `status`: a read-only summary of every environment (never creates or changes a file).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::backups::record::BackupRecord;
use crate::error::Result;
use crate::safety::session;
use crate::schema::migrations::{self, MigrationState};
use crate::schema::tag::{self, Identity};
use crate::storage::db;
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
    pub sample_data: Option<bool>,
    pub last_backup: Option<BackupRecord>,
    pub last_action: Option<String>,
    pub last_action_at: Option<String>,
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
    let mut s = EnvStatus {
        env: t.name.clone(),
        path: t.path.clone(),
        protected: t.protected,
        exists: t.path.exists(),
        size_bytes: crate::safety::space::db_bytes(&t.path),
        health: "missing".into(),
        error: None,
        identity: None,
        schema_version: None,
        pending_migrations: vec![],
        divergent_migrations: vec![],
        row_counts: BTreeMap::new(),
        sample_data: None,
        last_backup: crate::backups::record::list(t)
            .ok()
            .and_then(|mut v| v.pop()),
        last_action: None,
        last_action_at: None,
    };
    if let Err(e) = fill(ws, t, &mut s) {
        s.health = e.kind().into();
        s.error = Some(e.to_string());
    }
    s
}

fn fill(ws: &Workspace, t: &EnvTarget, s: &mut EnvStatus) -> Result<()> {
    let Some(c) = session::inspect(ws, t)? else {
        return Ok(());
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
    s.row_counts = db::row_counts(&c)?;
    s.health = "ok".into();
    let drift = crate::safety::health::foreign_objects(&c, t)?.map(|d| format!(
        "{d}: it can be read, but changing verbs other than reset refuse it; `pipeline-db migrations check {env}` lists the differences, `pipeline-db reset {env}` rebuilds it after a verified backup",
        env = t.name
    ));
    let (health, problems): (Vec<String>, Vec<String>) = [
        tag::require_identity(&c, t)
            .err()
            .map(|e| (e.kind().to_string(), e.to_string())),
        drift.map(|d| ("foreign_schema".to_string(), d)),
    ]
    .into_iter()
    .flatten()
    .unzip();
    if let Some(first) = health.first() {
        s.health = first.clone();
        s.error = Some(problems.join("; and "));
    }
    Ok(())
}
