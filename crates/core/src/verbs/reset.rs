//! `reset`: verified backup, then drop everything and rebuild through the migrations in one transaction.

use rusqlite::Connection;
use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result, StepExt};
use crate::plan::{self, BackupStep, TableRows};
use crate::progress::Observer;
use crate::safety::audit::Recorder;
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::session::{self, Opened};
use crate::safety::space::SpaceCheck;
use crate::schema::migrations::{self, MigrationInfo};
use crate::schema::sample::{self as seed, SeedCounts, SeedOptions};
use crate::schema::tag::{self, Identity};
use crate::storage::db;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

#[derive(Debug, Clone, Default)]
pub struct ResetOptions {
    /// `Some` = insert sample data after the rebuild.
    pub sample_data: Option<SeedOptions>,
    pub confirmed: Confirmed,
}

/// What a reset will do. Printed by `--dry-run`/`--json`, rendered by the desktop.
#[derive(Debug, Clone, Serialize)]
pub struct ResetPlan {
    pub verb: &'static str,
    pub env: String,
    pub path: std::path::PathBuf,
    pub protected: bool,
    pub exists: bool,
    pub size_bytes: u64,
    pub identity: Option<Identity>,
    /// Every table that will be dropped, with its rows (tables the tool does not know included).
    pub tables: Vec<TableRows>,
    pub total_rows: u64,
    /// Views, triggers and indexes that will be dropped with them.
    pub other_objects: Vec<String>,
    pub backup: Option<BackupStep>,
    pub migrations: Vec<MigrationInfo>,
    pub sample_data: Option<SeedOptions>,
    pub space: Vec<SpaceCheck>,
    pub confirmation: Confirmation,
    pub notes: Vec<String>,
}

impl ResetPlan {
    pub fn summary(&self) -> String {
        let seed = match &self.sample_data {
            Some(s) => format!(
                ", seed {} users / {} pipelines / {} jobs",
                s.users, s.pipelines, s.jobs
            ),
            None => String::new(),
        };
        format!(
            "drop {}, apply {} migrations{seed}",
            plan::summarize(&self.tables),
            self.migrations.len()
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResetOutcome {
    pub plan: ResetPlan,
    pub backup: Option<BackupRecord>,
    pub seeded: Option<SeedCounts>,
    pub row_counts_after: Vec<TableRows>,
    pub duration_ms: u64,
    /// Where the time went, step by step.
    pub timings: Vec<crate::storage::timing::StepTime>,
}

/// Rules that hold before anything is opened.
fn check_rules(target: &EnvTarget, opts: &ResetOptions) -> Result<()> {
    if target.protected && opts.sample_data.is_some() {
        return Err(Error::Refused(format!(
            "{} is protected: sample data is never written to it",
            target.name
        )));
    }
    if let Some(s) = &opts.sample_data {
        s.validate()?;
    }
    Ok(())
}

/// Builds the plan from a read-only look at the file. Writes nothing, takes no lock.
pub fn plan(ws: &Workspace, env: &str, opts: &ResetOptions) -> Result<ResetPlan> {
    let target = ws.env(env)?;
    check_rules(&target, opts)?;
    let conn = session::inspect_for_change(ws, &target)?;
    let mut p = ResetPlan {
        verb: "reset",
        env: target.name.clone(),
        path: target.path.clone(),
        protected: target.protected,
        exists: conn.is_some(),
        size_bytes: crate::safety::space::db_bytes(&target.path),
        identity: None,
        tables: vec![],
        total_rows: 0,
        other_objects: vec![],
        backup: None,
        migrations: migrations::list(None)?,
        sample_data: opts.sample_data.clone(),
        space: vec![],
        confirmation: Confirmation::for_target(&target, true),
        notes: vec![],
    };
    match &conn {
        None => p.notes.push(format!(
            "{} does not exist: it will be created; no backup is needed",
            target.path.display()
        )),
        Some(c) => {
            p.identity = Some(tag::require_identity(c, &target)?);
            p.tables = plan::table_rows(&db::row_counts(c)?);
            p.total_rows = p.tables.iter().map(|t| t.rows).sum();
            p.other_objects = other_objects(c)?;
            p.backup = Some(BackupStep::new(
                &target,
                Reason::PreReset,
                true,
                "every reset of an existing database is preceded by a verified backup",
            ));
            p.space = crate::safety::space::preflight_space(&target, true)?;
            if let Err(e) = migrations::pending_or_refuse(c, &target.path, &target.name) {
                p.notes
                    .push(format!("{e} — reset discards this history and rebuilds it"));
            }
        }
    }
    Ok(p)
}

/// Resets `env`. The order of work (each step in this file or the modules it calls):
/// rules → header → env tag → lock → write transaction → quick_check → space → verified backup →
/// drop all → migrations → tag → sample data → foreign_key_check → commit → integrity_check → audit.
pub fn run(
    ws: &Workspace,
    env: &str,
    opts: &ResetOptions,
    obs: &dyn Observer,
) -> Result<ResetOutcome> {
    let target = ws.env(env)?;
    let started = std::time::Instant::now();
    crate::storage::timing::reset();
    let rec = Recorder::new(ws.audit_path(), &target.name, &target.path, "reset");
    let mut summary = String::from("reset");
    let mut backup_path = None;
    let result = (|| {
        let plan = plan(ws, env, opts)?;
        summary = plan.summary();
        opts.confirmed
            .require(plan.confirmation, &target, "reset")?;
        let out = execute(ws, &target, opts, plan, obs, started)?;
        backup_path = out.backup.as_ref().map(|b| b.path.clone());
        Ok(out)
    })();
    rec.finish(&summary, backup_path.as_deref(), &result)?;
    result
}

fn execute(
    ws: &Workspace,
    target: &EnvTarget,
    opts: &ResetOptions,
    plan: ResetPlan,
    obs: &dyn Observer,
    started: std::time::Instant,
) -> Result<ResetOutcome> {
    let env = target.name.as_str();
    const UNCHANGED: &str = "The database is unchanged.";
    let (backup, seeded, conn_counts) = match session::open_for_change(ws, target, "reset")? {
        Opened::Missing(_lock) => {
            obs.stage("creating");
            let seeded = session::create_new_db(ws, target, |c| rebuild(c, target, opts, obs))
                .step("reset", env, "create", "Nothing was created.")?;
            let conn = db::open(&target.path, db::Access::ReadOnly, ws.busy_timeout())?;
            (None, seeded, db::row_counts(&conn)?)
        }
        Opened::Existing(s) => {
            let c = &s.conn;
            c.pragma_update(None, "foreign_keys", false)
                .map_err(Error::sql("foreign_keys off"))?;
            if opts.sample_data.is_some() {
                db::bulk_insert_pragmas(c)?;
            }
            session::begin_immediate(c, &target.path, ws.busy_timeout_ms)?;
            let (backup, seeded) =
                crate::safety::session::commit_or_rollback(c, &target.path, || {
                    let counts = db::row_counts(c)?;
                    crate::safety::space::preflight_space(target, true)?;
                    obs.stage("backing up");
                    let backup = crate::backups::take::backup_now(
                        ws,
                        target,
                        Reason::PreReset,
                        None,
                        Some(&counts),
                        None,
                        obs,
                    )
                    .step("reset", env, "backup", UNCHANGED)?;
                    obs.stage("rebuilding");
                    crate::storage::timing::step("reset: drop everything", || drop_everything(c))
                        .step("reset", env, "drop", UNCHANGED)?;
                    crate::storage::failpoint::hit("reset:after_drop")
                        .step("reset", env, "drop", UNCHANGED)?;
                    let seeded = crate::storage::timing::step("reset: rebuild", || {
                        rebuild(c, target, opts, obs)
                    })
                    .step("reset", env, "rebuild", UNCHANGED)?;
                    Ok((backup, seeded))
                })?;
            c.pragma_update(None, "foreign_keys", true)
                .map_err(Error::sql("foreign_keys on"))?;
            crate::storage::timing::step("reset: verify after", || {
                crate::safety::health::verify_after(c, target)
            })?;
            (Some(backup), seeded, db::row_counts(c)?)
        }
    };
    Ok(ResetOutcome {
        plan,
        backup,
        seeded,
        row_counts_after: plan::table_rows(&conn_counts),
        duration_ms: started.elapsed().as_millis() as u64,
        timings: crate::storage::timing::take(),
    })
}

/// Migrations, tag, optional sample data, then the foreign-key check — all in the open transaction.
fn rebuild(
    c: &Connection,
    target: &EnvTarget,
    opts: &ResetOptions,
    obs: &dyn Observer,
) -> Result<Option<SeedCounts>> {
    migrations::apply_pending(c, &target.path, &target.name)?;
    tag::write_tag(c, &target.name, Some(opts.sample_data.is_some()), "reset")?;
    let seeded = match &opts.sample_data {
        Some(s) => Some(seed::insert(c, s, obs)?),
        None => None,
    };
    let fk = db::foreign_key_problems(c)?;
    if !fk.is_empty() {
        return Err(Error::CheckFailed(format!(
            "foreign key check failed: {}",
            fk.join("; ")
        )));
    }
    Ok(seeded)
}

/// Drops every view, trigger, index and table, including ones this tool does not know.
pub(crate) fn drop_everything(c: &Connection) -> Result<()> {
    let objects: Vec<(String, String)> = {
        let mut stmt = c
            .prepare(
                "SELECT type, name FROM sqlite_schema
                 WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND type IN ('view', 'trigger', 'table')
                 ORDER BY CASE type WHEN 'trigger' THEN 0 WHEN 'view' THEN 1 ELSE 2 END, name",
            )
            .map_err(Error::sql("listing schema"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(Error::sql("listing schema"))?;
        rows
    };
    for (ty, name) in objects {
        let sql = format!(
            "DROP {} IF EXISTS {}",
            ty.to_uppercase(),
            db::quote_ident(&name)
        );
        c.execute_batch(&sql)
            .map_err(Error::sql(format!("dropping {ty} {name}")))?;
    }
    // SQLite's own bookkeeping: statistics go, the autoincrement counters are emptied.
    for (t, sql) in [
        ("sqlite_stat1", "DROP TABLE sqlite_stat1"),
        ("sqlite_stat4", "DROP TABLE sqlite_stat4"),
        ("sqlite_sequence", "DELETE FROM sqlite_sequence"),
    ] {
        let exists: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = ?1",
                [t],
                |r| r.get(0),
            )
            .map_err(Error::sql("reading schema"))?;
        if exists > 0 {
            c.execute_batch(sql)
                .map_err(Error::sql(format!("clearing {t}")))?;
        }
    }
    Ok(())
}

fn other_objects(c: &Connection) -> Result<Vec<String>> {
    let mut stmt = c
        .prepare(
            "SELECT type || ' ' || name FROM sqlite_schema
             WHERE type IN ('view', 'trigger', 'index') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
        )
        .map_err(Error::sql("listing schema"))?;
    let rows = stmt
        .query_map([], |r| r.get(0))
        .and_then(|r| r.collect::<rusqlite::Result<Vec<String>>>())
        .map_err(Error::sql("listing schema"))?;
    Ok(rows)
}
