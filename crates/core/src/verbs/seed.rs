//! `seed`: add sample data to an unprotected env in one transaction (backup first if it holds data).

use rusqlite::Connection;
use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result, StepExt, UNCHANGED};
use crate::progress::Observer;
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{self, BackupStep, Plan, Promises, TableRows};
use crate::safety::ritual::{self, Change};
use crate::safety::session;
use crate::schema::migrations;
use crate::schema::sample;
pub use crate::schema::sample::{SeedCounts, SeedOptions};
use crate::schema::tag;
use crate::storage::db;
use crate::verb::Verb;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SeedPlan {
    #[cfg_attr(feature = "ts", ts(type = "\"seed\""))]
    pub verb: Verb,
    pub env: String,
    pub path: std::path::PathBuf,
    /// Which file was at `path` when the plan was made (device, inode), or `missing`: the plan
    /// re-made under the lock refuses another file there.
    pub file_id: String,
    pub exists: bool,
    pub options: SeedOptions,
    pub tables: Vec<TableRows>,
    pub backup: Option<BackupStep>,
    /// Room checked for the new rows (and the backup) beside the env's file.
    pub space: Option<crate::safety::space::SpaceCheck>,
    pub demo_logins: Vec<(String, String)>,
    /// Sample data only adds rows (existing natural keys are skipped): no question is needed.
    pub confirmation: Confirmation,
    pub notes: Vec<String>,
}

impl Plan for SeedPlan {
    crate::safety::plan::plan_basics!(Verb::Seed);
    fn summary(&self) -> String {
        let o = &self.options;
        format!(
            "seed {} users / {} pipelines / {} jobs",
            o.users, o.pipelines, o.jobs
        )
    }
    fn promises(&self) -> Promises {
        Promises::new(Verb::Seed, &self.env)
            .file("file", &self.file_id)
            .item("confirmation", format!("{:?}", self.confirmation))
            .rows("add to", &self.tables)
            .backup(self.backup.as_ref())
            .item("options", format!("{:?}", self.options))
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
pub struct SeedOutcome {
    /// The plan as re-made under the lock: what was done.
    pub plan: SeedPlan,
    pub counts: SeedCounts,
    pub backup: Option<BackupRecord>,
    pub duration_ms: u64,
    /// The automatic retention pass after its backup: what it deleted, kept, and could not meet.
    pub retention: Option<crate::safety::retention::RetentionReport>,
}

/// What the user asks `seed` to add.
#[derive(Debug, Clone)]
pub struct SeedRequest {
    pub env: String,
    pub options: SeedOptions,
}

pub fn plan(ws: &Workspace, req: &SeedRequest) -> Result<SeedPlan> {
    let target = ws.env(&req.env)?;
    check_rules(&target, &req.options)?;
    let conn = session::inspect_for_change(ws, &target)?;
    describe(&target, &req.options, conn.as_ref())
}

fn check_rules(target: &EnvTarget, opts: &SeedOptions) -> Result<()> {
    if target.protected {
        return Err(Error::Refused(crate::verbs::actions::no_sample_data(
            &target.name,
        )));
    }
    opts.validate()
}

fn describe(target: &EnvTarget, opts: &SeedOptions, conn: Option<&Connection>) -> Result<SeedPlan> {
    let env = target.name.as_str();
    let demo = sample::DEMO_USERS
        .iter()
        .take(opts.users as usize)
        .map(|(u, _, p)| (u.to_string(), p.to_string()))
        .collect();
    let mut p = SeedPlan {
        verb: Verb::Seed,
        env: target.name.clone(),
        path: target.path.clone(),
        file_id: crate::safety::plan::file_id(&target.path),
        exists: conn.is_some(),
        options: opts.clone(),
        tables: vec![],
        backup: None,
        space: None,
        demo_logins: demo,
        confirmation: Confirmation::None,
        notes: vec![],
    };
    let Some(c) = conn else {
        p.notes.push(format!(
            "{} does not exist: it will be created, migrated and tagged",
            target.path.display()
        ));
        p.space = Some(crate::safety::space::require_for_seed(
            target, opts.jobs, false,
        )?);
        return Ok(p);
    };
    tag::require_identity(c, target)?;
    let pending = migrations::pending_or_refuse(c, &target.path, env)?;
    if !pending.is_empty() {
        return Err(Error::Refused(format!(
            "{env} has {} pending migrations; run `pipeline-db migrate {env}` first",
            pending.len()
        )));
    }
    p.tables = plan::table_rows(&db::row_counts(c)?);
    if p.tables.iter().any(|t| t.rows > 0) {
        p.backup = Some(BackupStep::new(
            target,
            Reason::PreSeed,
            true,
            "the database holds data",
        ));
    }
    p.space = Some(crate::safety::space::require_for_seed(
        target,
        opts.jobs,
        p.backup.is_some(),
    )?);
    p.notes.push(
        "rows whose natural key exists (username, pipeline name, job session id) are skipped"
            .into(),
    );
    Ok(p)
}

/// Adds the sample data of `shown` through the change ritual, in one transaction (a verified
/// backup first when the database holds data).
pub fn execute(
    ws: &Workspace,
    shown: &SeedPlan,
    confirmed: &Confirmed,
    obs: &dyn Observer,
) -> Result<SeedOutcome> {
    let ws = &ws.as_configured_now()?;
    let target = ws.env(&shown.env)?;
    let change = Seed {
        target: &target,
        options: &shown.options,
    };
    let done = ritual::run(ws, &target, shown, confirmed, obs, &change)?;
    Ok(SeedOutcome {
        plan: done.plan,
        counts: done.out,
        backup: done.backup,
        duration_ms: done.duration_ms,
        retention: done.retention,
    })
}

struct Seed<'a> {
    target: &'a EnvTarget,
    options: &'a SeedOptions,
}

impl Change for Seed<'_> {
    type Plan = SeedPlan;
    type Out = SeedCounts;
    fn summary_done(&self, _plan: &SeedPlan, out: &SeedCounts) -> Option<String> {
        Some(format!(
            "seed: {} users, {} pipelines, {} jobs added ({} already there)",
            out.users_inserted, out.pipelines_inserted, out.jobs_inserted, out.skipped_existing
        ))
    }

    fn replan(&self, conn: Option<&Connection>) -> Result<SeedPlan> {
        check_rules(self.target, self.options)?;
        describe(self.target, self.options, conn)
    }

    fn apply(&self, c: &Connection, _: &SeedPlan, obs: &dyn Observer) -> Result<SeedCounts> {
        let env = self.target.name.as_str();
        let n = sample::insert(c, self.options, obs).step(Verb::Seed, env, "insert", UNCHANGED)?;
        tag::write_tag(c, env, Some(true), "seed")?;
        Ok(n)
    }

    fn create(&self, c: &Connection, _: &SeedPlan, obs: &dyn Observer) -> Result<SeedCounts> {
        let env = self.target.name.as_str();
        migrations::apply_pending(c, &self.target.path, env)?;
        tag::write_tag(c, env, Some(true), "seed")?;
        sample::insert(c, self.options, obs)
    }

    fn check_after(&self, _: &SeedPlan) -> bool {
        false
    }
}
