//! `seed`: add sample data to an unprotected env in one transaction (backup first if it holds data).

use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result, StepExt};
use crate::plan::{self, BackupStep, TableRows};
use crate::progress::Observer;
use crate::safety::audit::Recorder;
use crate::safety::session::{self, Opened};
use crate::schema::migrations;
use crate::schema::sample;
pub use crate::schema::sample::{SeedCounts, SeedOptions};
use crate::schema::tag;
use crate::storage::db;
use crate::workspace::config::Workspace;

#[derive(Debug, Clone, Serialize)]
pub struct SeedPlan {
    pub verb: &'static str,
    pub env: String,
    pub path: std::path::PathBuf,
    pub exists: bool,
    pub options: SeedOptions,
    pub tables: Vec<TableRows>,
    pub backup: Option<BackupStep>,
    pub demo_logins: Vec<(String, String)>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedOutcome {
    pub plan: SeedPlan,
    pub counts: SeedCounts,
    pub backup: Option<BackupRecord>,
    pub duration_ms: u64,
}

pub fn plan(ws: &Workspace, env: &str, opts: &SeedOptions) -> Result<SeedPlan> {
    let target = ws.env(env)?;
    if target.protected {
        return Err(Error::Refused(format!(
            "{env} is protected: sample data is never written to it"
        )));
    }
    opts.validate()?;
    let conn = session::inspect_for_change(ws, &target)?;
    let demo = sample::DEMO_USERS
        .iter()
        .take(opts.users as usize)
        .map(|(u, _, p)| (u.to_string(), p.to_string()))
        .collect();
    let mut p = SeedPlan {
        verb: "seed",
        env: target.name.clone(),
        path: target.path.clone(),
        exists: conn.is_some(),
        options: opts.clone(),
        tables: vec![],
        backup: None,
        demo_logins: demo,
        notes: vec![],
    };
    match conn {
        None => p.notes.push(format!(
            "{} does not exist: it will be created, migrated and tagged",
            target.path.display()
        )),
        Some(c) => {
            tag::require_identity(&c, &target)?;
            let pending = migrations::pending_or_refuse(&c, &target.path, env)?;
            if !pending.is_empty() {
                return Err(Error::Refused(format!(
                    "{env} has {} pending migrations; run `pipeline-db migrate {env}` first",
                    pending.len()
                )));
            }
            p.tables = plan::table_rows(&db::row_counts(&c)?);
            if p.tables.iter().any(|t| t.rows > 0) {
                p.backup = Some(BackupStep::new(
                    &target,
                    Reason::PreSeed,
                    true,
                    "the database holds data",
                ));
            }
            p.notes.push("rows whose natural key exists (username, pipeline name, job session id) are skipped".into());
        }
    }
    Ok(p)
}

pub fn run(
    ws: &Workspace,
    env: &str,
    opts: &SeedOptions,
    obs: &dyn Observer,
) -> Result<SeedOutcome> {
    let target = ws.env(env)?;
    let rec = Recorder::new(ws.audit_path(), &target.name, &target.path, "seed");
    let started = std::time::Instant::now();
    let mut backup_path = None;
    let result = (|| {
        let plan = plan(ws, env, opts)?;
        let (counts, backup) = match session::open_for_change(ws, &target, "seed")? {
            Opened::Missing(_lock) => {
                let counts = session::create_new_db(ws, &target, |c| {
                    migrations::apply_pending(c, &target.path, env)?;
                    tag::write_tag(c, env, Some(true), "seed")?;
                    sample::insert(c, opts, obs)
                })
                .step("seed", env, "insert", "Nothing was created.")?;
                (counts, None)
            }
            Opened::Existing(s) => {
                let c = &s.conn;
                db::bulk_insert_pragmas(c)?;
                session::begin_immediate(c, &target.path, ws.busy_timeout_ms)?;
                crate::safety::session::commit_or_rollback(c, &target.path, || {
                    let counts = db::row_counts(c)?;
                    let backup = if counts.values().any(|n| *n > 0) {
                        crate::safety::space::preflight_space(&target, true)?;
                        Some(
                            crate::backups::take::backup_now(
                                ws,
                                &target,
                                Reason::PreSeed,
                                None,
                                Some(&counts),
                                None,
                                obs,
                            )
                            .step(
                                "seed",
                                env,
                                "backup",
                                "The database is unchanged.",
                            )?,
                        )
                    } else {
                        None
                    };
                    let n = sample::insert(c, opts, obs).step(
                        "seed",
                        env,
                        "insert",
                        "The database is unchanged.",
                    )?;
                    tag::write_tag(c, env, Some(true), "seed")?;
                    let fk = db::foreign_key_problems(c)?;
                    if !fk.is_empty() {
                        return Err(Error::CheckFailed(format!(
                            "foreign key check failed: {}",
                            fk.join("; ")
                        )));
                    }
                    Ok((n, backup))
                })?
            }
        };
        backup_path = backup.as_ref().map(|b: &BackupRecord| b.path.clone());
        Ok(SeedOutcome {
            plan,
            counts,
            backup,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    })();
    rec.finish(
        &format!(
            "seed {} users / {} pipelines / {} jobs",
            opts.users, opts.pipelines, opts.jobs
        ),
        backup_path.as_deref(),
        &result,
    )?;
    result
}
