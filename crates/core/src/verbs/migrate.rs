//! `migrate`: apply pending migrations in one transaction, after a verified backup when data exists.

use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result, StepExt};
use crate::plan::BackupStep;
use crate::safety::audit::Recorder;
use crate::safety::session::{self, Opened};
use crate::safety::space::SpaceCheck;
use crate::schema::migrations::{self, MigrationInfo};
use crate::schema::tag::{self, Identity};
use crate::storage::db;
use crate::workspace::config::Workspace;

#[derive(Debug, Clone, Serialize)]
pub struct MigratePlan {
    pub verb: &'static str,
    pub env: String,
    pub path: std::path::PathBuf,
    pub exists: bool,
    pub identity: Option<Identity>,
    pub current_version: Option<i64>,
    pub target_version: i64,
    pub pending: Vec<MigrationInfo>,
    pub total_rows: u64,
    pub backup: Option<BackupStep>,
    pub space: Vec<SpaceCheck>,
    pub notes: Vec<String>,
}

impl MigratePlan {
    pub fn summary(&self) -> String {
        match self.pending.len() {
            0 => "nothing to apply".into(),
            n => format!(
                "apply {n} migrations ({})",
                self.pending
                    .iter()
                    .map(|m| format!("V{}", m.version))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrateOutcome {
    pub plan: MigratePlan,
    pub applied: Vec<MigrationInfo>,
    pub backup: Option<BackupRecord>,
    pub schema_version: Option<i64>,
}

pub fn plan(ws: &Workspace, env: &str) -> Result<MigratePlan> {
    let target = ws.env(env)?;
    let conn = session::inspect_for_change(ws, &target)?;
    let mut p = MigratePlan {
        verb: "migrate",
        env: target.name.clone(),
        path: target.path.clone(),
        exists: conn.is_some(),
        identity: None,
        current_version: None,
        target_version: migrations::latest_version(),
        pending: migrations::list(None)?,
        total_rows: 0,
        backup: None,
        space: vec![],
        notes: vec![],
    };
    match conn {
        None => p.notes.push(format!(
            "{} does not exist: it will be created and tagged `{}`",
            target.path.display(),
            target.name
        )),
        Some(c) => {
            p.identity = Some(tag::require_identity(&c, &target)?);
            p.current_version = migrations::schema_version(&c)?;
            p.pending = migrations::pending_or_refuse(&c, &target.path, &target.name)?;
            p.total_rows = db::row_counts(&c)?.values().sum();
            if !p.pending.is_empty() && p.total_rows > 0 {
                p.backup = Some(BackupStep::new(
                    &target,
                    Reason::PreMigrate,
                    true,
                    "the database holds data and migrations are pending",
                ));
                p.space = crate::safety::space::preflight_space(&target, true)?;
            } else if !p.pending.is_empty() {
                p.notes
                    .push("the database holds no rows: no backup is needed".into());
            }
        }
    }
    Ok(p)
}

pub fn run(ws: &Workspace, env: &str) -> Result<MigrateOutcome> {
    run_observed(ws, env, &crate::Quiet)
}

/// [`run`], reporting the pre-migrate backup's progress to `obs` (which can also cancel it).
pub fn run_observed(
    ws: &Workspace,
    env: &str,
    obs: &dyn crate::Observer,
) -> Result<MigrateOutcome> {
    let target = ws.env(env)?;
    let rec = Recorder::new(ws.audit_path(), &target.name, &target.path, "migrate");
    let mut summary = String::from("migrate");
    let mut backup_path = None;
    let result = (|| {
        let plan = plan(ws, env)?;
        summary = plan.summary();
        let out = execute(ws, &target, plan, obs)?;
        backup_path = out.backup.as_ref().map(|b| b.path.clone());
        Ok(out)
    })();
    rec.finish(&summary, backup_path.as_deref(), &result)?;
    result
}

fn execute(
    ws: &Workspace,
    target: &crate::workspace::env::EnvTarget,
    plan: MigratePlan,
    obs: &dyn crate::Observer,
) -> Result<MigrateOutcome> {
    let env = target.name.as_str();
    const UNCHANGED: &str = "The database is unchanged.";
    match session::open_for_change(ws, target, "migrate")? {
        Opened::Missing(_lock) => {
            let applied = session::create_new_db(ws, target, |c| {
                let applied = migrations::apply_pending(c, &target.path, env)?;
                tag::write_tag(c, env, Some(false), "migrate")?;
                Ok(applied)
            })
            .step("migrate", env, "create", "Nothing was created.")?;
            Ok(MigrateOutcome {
                plan,
                applied,
                backup: None,
                schema_version: Some(migrations::latest_version()),
            })
        }
        Opened::Existing(s) => {
            let c = &s.conn;
            c.pragma_update(None, "foreign_keys", false)
                .map_err(Error::sql("foreign_keys off"))?;
            session::begin_immediate(c, &target.path, ws.busy_timeout_ms)?;
            let (applied, backup) =
                crate::safety::session::commit_or_rollback(c, &target.path, || {
                    let pending = migrations::pending_or_refuse(c, &target.path, env)?;
                    if pending.is_empty() {
                        return Ok((vec![], None));
                    }
                    let counts = db::row_counts(c)?;
                    let backup = if counts.values().sum::<u64>() > 0 {
                        crate::safety::space::preflight_space(target, true)?;
                        Some(
                            crate::backups::take::backup_now(
                                ws,
                                target,
                                Reason::PreMigrate,
                                None,
                                Some(&counts),
                                None,
                                obs,
                            )
                            .step("migrate", env, "backup", UNCHANGED)?,
                        )
                    } else {
                        None
                    };
                    let applied = migrations::apply_pending(c, &target.path, env)
                        .step("migrate", env, "apply", UNCHANGED)?;
                    tag::write_tag(c, env, None, "migrate")?;
                    let fk = db::foreign_key_problems(c)?;
                    if !fk.is_empty() {
                        return Err(Error::CheckFailed(format!(
                            "foreign key check failed after migrating: {}",
                            fk.join("; ")
                        )));
                    }
                    crate::storage::failpoint::hit("migrate:before_commit")
                        .step("migrate", env, "commit", UNCHANGED)?;
                    Ok((applied, backup))
                })?;
            c.pragma_update(None, "foreign_keys", true)
                .map_err(Error::sql("foreign_keys on"))?;
            if !applied.is_empty() {
                crate::safety::health::verify_after(c, target)?;
            }
            Ok(MigrateOutcome {
                plan,
                applied,
                backup,
                schema_version: migrations::schema_version(c)?,
            })
        }
    }
}
