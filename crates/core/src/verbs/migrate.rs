//! `migrate`: apply pending migrations in one transaction, after a verified backup when data exists.

use rusqlite::Connection;
use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Result, StepExt, UNCHANGED};
use crate::progress::Observer;
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{self, BackupStep, Plan, Promises};
use crate::safety::ritual::{self, Change};
use crate::safety::session;
use crate::safety::space::SpaceCheck;
use crate::schema::migrations::{self, MigrationInfo};
use crate::schema::tag::{self, Identity};
use crate::storage::db;
use crate::verb::Verb;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MigratePlan {
    #[cfg_attr(feature = "ts", ts(type = "\"migrate\""))]
    pub verb: Verb,
    pub env: String,
    pub path: std::path::PathBuf,
    /// Which file was at `path` when the plan was made (device, inode), or `missing`: the plan
    /// re-made under the lock refuses another file there.
    pub file_id: String,
    pub protected: bool,
    pub exists: bool,
    pub identity: Option<Identity>,
    pub current_version: Option<i64>,
    pub target_version: i64,
    pub pending: Vec<MigrationInfo>,
    pub total_rows: u64,
    pub backup: Option<BackupStep>,
    pub space: Vec<SpaceCheck>,
    pub confirmation: Confirmation,
    pub notes: Vec<String>,
}

impl Plan for MigratePlan {
    crate::safety::plan::plan_basics!(Verb::Migrate);
    fn summary(&self) -> String {
        match self.pending.len() {
            0 => "nothing to apply".into(),
            n => format!("apply {n} migrations ({})", plan::versions(&self.pending)),
        }
    }
    fn promises(&self) -> Promises {
        Promises::new(Verb::Migrate, &self.env)
            .file("file", &self.file_id)
            .item("confirmation", format!("{:?}", self.confirmation))
            .item("schema version", format!("{:?}", self.current_version))
            .item("pending", plan::versions(&self.pending))
            .item("rows", self.total_rows)
            .backup(self.backup.as_ref())
    }
    fn backup_step(&self) -> Option<&BackupStep> {
        self.backup.as_ref()
    }
    fn backup_step_mut(&mut self) -> Option<&mut BackupStep> {
        self.backup.as_mut()
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MigrateOutcome {
    /// The plan as re-made under the lock: what was done.
    pub plan: MigratePlan,
    pub applied: Vec<MigrationInfo>,
    pub backup: Option<BackupRecord>,
    pub schema_version: Option<i64>,
    /// The automatic retention pass after its backup: what it deleted, kept, and could not meet.
    pub retention: Option<crate::safety::retention::RetentionReport>,
}

/// What the user asks `migrate` to do.
#[derive(Debug, Clone)]
pub struct MigrateRequest {
    pub env: String,
}

pub fn plan(ws: &Workspace, req: &MigrateRequest) -> Result<MigratePlan> {
    let target = ws.env(&req.env)?;
    let conn = session::inspect_for_change(ws, &target)?;
    describe(&target, conn.as_ref())
}

fn describe(target: &EnvTarget, conn: Option<&Connection>) -> Result<MigratePlan> {
    let mut p = MigratePlan {
        verb: Verb::Migrate,
        env: target.name.clone(),
        path: target.path.clone(),
        file_id: crate::safety::plan::file_id(&target.path),
        protected: target.protected,
        exists: conn.is_some(),
        identity: None,
        current_version: None,
        target_version: migrations::latest_version(),
        pending: migrations::list(None)?,
        total_rows: 0,
        backup: None,
        space: vec![],
        confirmation: Confirmation::None,
        notes: vec![],
    };
    let Some(c) = conn else {
        p.notes.push(format!(
            "{} does not exist: it will be created and tagged `{}`",
            target.path.display(),
            target.name
        ));
        return Ok(p);
    };
    p.identity = Some(tag::require_identity(c, target)?);
    p.current_version = migrations::schema_version(c)?;
    p.pending = migrations::pending_or_refuse(c, &target.path, &target.name)?;
    p.total_rows = db::row_counts(c)?.values().sum();
    let rewrites_data = !p.pending.is_empty() && p.total_rows > 0;
    p.confirmation = Confirmation::for_target(target, rewrites_data);
    if rewrites_data {
        p.backup = Some(BackupStep::new(
            target,
            Reason::PreMigrate,
            true,
            "the database holds data and migrations are pending",
        ));
        p.space = crate::safety::space::preflight_space(target, true)?;
    } else if !p.pending.is_empty() {
        p.notes
            .push("the database holds no rows: no backup is needed".into());
    }
    Ok(p)
}

/// Applies the pending migrations of `shown` through the change ritual, in one transaction,
/// after a verified backup when the database holds data; reports the backup's progress to `obs`.
pub fn execute(
    ws: &Workspace,
    shown: &MigratePlan,
    confirmed: &Confirmed,
    obs: &dyn Observer,
) -> Result<MigrateOutcome> {
    let ws = &ws.as_configured_now()?;
    let target = ws.env(&shown.env)?;
    let done = ritual::run(
        ws,
        &target,
        shown,
        confirmed,
        obs,
        &Migrate { target: &target },
    )?;
    Ok(MigrateOutcome {
        applied: done.out,
        backup: done.backup,
        schema_version: if done.plan.pending.is_empty() {
            done.plan.current_version
        } else {
            Some(migrations::latest_version())
        },
        plan: done.plan,
        retention: done.retention,
    })
}

struct Migrate<'a> {
    target: &'a EnvTarget,
}

impl Change for Migrate<'_> {
    type Plan = MigratePlan;
    type Out = Vec<MigrationInfo>;

    fn replan(&self, conn: Option<&Connection>) -> Result<MigratePlan> {
        describe(self.target, conn)
    }

    fn apply(&self, c: &Connection, plan: &MigratePlan, _: &dyn Observer) -> Result<Self::Out> {
        if plan.pending.is_empty() {
            return Ok(vec![]);
        }
        let env = self.target.name.as_str();
        let applied = migrations::apply_pending(c, &self.target.path, env).step(
            Verb::Migrate,
            env,
            "apply",
            UNCHANGED,
        )?;
        tag::write_tag(c, env, None, "migrate")?;
        crate::storage::failpoint::hit("migrate:before_commit").step(
            Verb::Migrate,
            env,
            "commit",
            UNCHANGED,
        )?;
        Ok(applied)
    }

    fn create(&self, c: &Connection, _: &MigratePlan, _: &dyn Observer) -> Result<Self::Out> {
        let env = self.target.name.as_str();
        let applied = migrations::apply_pending(c, &self.target.path, env)?;
        tag::write_tag(c, env, Some(false), "migrate")?;
        Ok(applied)
    }

    fn check_after(&self, plan: &MigratePlan) -> bool {
        !plan.pending.is_empty()
    }
}
