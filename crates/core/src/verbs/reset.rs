//! `reset`: verified backup, then drop everything and rebuild through the migrations in one transaction.

use rusqlite::Connection;
use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result, StepExt, UNCHANGED};
use crate::progress::Observer;
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{self, BackupStep, Plan, Promises, TableRows};
use crate::safety::ritual::{self, Change};
use crate::safety::session;
use crate::safety::space::SpaceCheck;
use crate::schema::migrations::{self, MigrationInfo};
use crate::schema::sample::{self as seed, SeedCounts, SeedOptions};
use crate::schema::tag::{self, Identity};
use crate::storage::db;
use crate::verb::Verb;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

/// What the user asks a reset to do.
#[derive(Debug, Clone, Default)]
pub struct ResetRequest {
    pub env: String,
    /// `Some` = insert sample data after the rebuild.
    pub sample_data: Option<SeedOptions>,
    /// Also check what a restore checks (every row's CHECK constraints, the foreign keys) before
    /// planning: a database that breaks them cannot be backed up restorably, so it is planned as
    /// damaged — kept as a byte-identical evidence copy, then rebuilt (the typed env name). The
    /// way out for rows another program wrote past the constraints.
    pub keep_evidence: bool,
}

/// What a reset will do. Printed by `--dry-run`/`--json`, rendered by the desktop.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ResetPlan {
    #[cfg_attr(feature = "ts", ts(type = "\"reset\""))]
    pub verb: Verb,
    pub env: String,
    pub path: std::path::PathBuf,
    /// Which file was at `path` when the plan was made (device, inode), or `missing`: the plan
    /// re-made under the lock refuses another file there.
    pub file_id: String,
    pub protected: bool,
    pub exists: bool,
    pub size_bytes: u64,
    pub identity: Option<Identity>,
    /// Every table that will be dropped, with its rows (tables the tool does not know included):
    /// the user's tables first, then pipeline-db's bookkeeping (`kind`).
    pub tables: Vec<TableRows>,
    /// Rows in every table, bookkeeping included.
    pub total_rows: u64,
    /// Rows in the user's tables: what the reset really throws away (0: they are empty).
    pub data_rows: u64,
    /// Views, triggers and indexes that will be dropped with them.
    pub other_objects: Vec<String>,
    pub backup: Option<BackupStep>,
    pub migrations: Vec<MigrationInfo>,
    pub sample_data: Option<SeedOptions>,
    pub space: Vec<SpaceCheck>,
    pub confirmation: Confirmation,
    /// Why the current file cannot be read (it is kept as an evidence copy, then rebuilt).
    pub damaged: Option<String>,
    pub notes: Vec<String>,
}

impl Plan for ResetPlan {
    crate::safety::plan::plan_basics!(Verb::Reset);
    fn summary(&self) -> String {
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
    fn promises(&self) -> Promises {
        Promises::new(Verb::Reset, &self.env)
            .file("file", &self.file_id)
            .item("confirmation", format!("{:?}", self.confirmation))
            .rows("drop", &self.tables)
            .item("other objects", self.other_objects.join(", "))
            .backup(self.backup.as_ref())
            .item("migrations", plan::versions(&self.migrations))
            .item("sample data", format!("{:?}", self.sample_data))
            .item("damaged", self.damaged.is_some())
    }
    fn damaged(&self) -> bool {
        self.damaged.is_some()
    }
    fn why_confirm(&self) -> Option<String> {
        self.damaged.as_ref().map(|why| {
            format!(
                "{} is damaged ({why}) and cannot be backed up verified: only a byte-identical evidence copy is kept before it is rebuilt",
                self.path.display()
            )
        })
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
pub struct ResetOutcome {
    /// The plan as re-made under the lock: what was done.
    pub plan: ResetPlan,
    pub backup: Option<BackupRecord>,
    pub seeded: Option<SeedCounts>,
    /// Byte-identical copies of a damaged file that was rebuilt.
    pub evidence: Vec<std::path::PathBuf>,
    pub row_counts_after: Vec<TableRows>,
    pub duration_ms: u64,
    /// Where the time went, step by step.
    pub timings: Vec<crate::storage::timing::StepTime>,
    /// The automatic retention pass after its backup: what it deleted, kept, and could not meet.
    pub retention: Option<crate::safety::retention::RetentionReport>,
}

/// Rules that hold before anything is opened.
fn check_rules(target: &EnvTarget, req: &ResetRequest) -> Result<()> {
    if target.protected && req.sample_data.is_some() {
        return Err(Error::Refused(crate::verbs::actions::no_sample_data(
            &target.name,
        )));
    }
    if let Some(s) = &req.sample_data {
        s.validate()?;
    }
    Ok(())
}

/// Builds the plan from a read-only look at the file. Writes nothing, takes no lock.
pub fn plan(ws: &Workspace, req: &ResetRequest) -> Result<ResetPlan> {
    let target = ws.env(&req.env)?;
    check_rules(&target, req)?;
    if !target.path.exists() {
        refuse_missing_protected(&target)?;
    }
    plan_for(ws, &target, req.sample_data.clone(), req.keep_evidence)
}

/// A protected env that does not exist yet is created by migrate, not reset (there is nothing to
/// drop, and no sample data may go into it): a reset of it is refused.
fn refuse_missing_protected(target: &EnvTarget) -> Result<()> {
    match target.protected {
        true => Err(Error::Refused(format!(
            "{}; nothing was changed",
            crate::verbs::actions::missing_protected(&target.name)
        ))),
        false => Ok(()),
    }
}

/// The plan from a read-only look, `quick_check` included: a damaged file (not a database, or
/// failing its checks) is planned as "keep evidence, rebuild" — the one way out when there is no
/// backup to restore.
fn plan_for(
    ws: &Workspace,
    target: &EnvTarget,
    sample: Option<SeedOptions>,
    deep: bool,
) -> Result<ResetPlan> {
    let looked = session::inspect_for_change(ws, target).and_then(|conn| {
        if let Some(c) = &conn {
            crate::safety::health::require_healthy(c, target)?;
        }
        Ok(conn)
    });
    match looked {
        Ok(conn) => {
            // Readable, but what a restore checks fails: planned as damaged like an unreadable
            // file (no tag required — the bad row may be the tag's —, no room for a backup that
            // is not taken), with what it holds counted.
            if let (true, Some(c)) = (deep, &conn) {
                if let Err(e) = require_restorable(ws, target, c) {
                    let mut p = describe(target, sample, None)?;
                    p.exists = true;
                    if let Ok(counts) = db::row_counts(c) {
                        p.tables = plan::table_rows(&counts);
                        p.total_rows = p.tables.iter().map(|t| t.rows).sum();
                        p.data_rows =
                            plan::totals(&p.tables, crate::schema::tables::TableKind::Data).1;
                    }
                    planned_as_damaged(ws, target, &mut p, e)?;
                    return Ok(p);
                }
            }
            describe(target, sample, conn.as_ref())
        }
        Err(e) if crate::safety::health::is_damaged(&e) => {
            let mut p = describe(target, sample, None)?;
            p.exists = true;
            planned_as_damaged(ws, target, &mut p, e)?;
            Ok(p)
        }
        Err(e) => Err(e),
    }
}

/// `p` as the plan of a damaged file (`e` says why; any other error is returned): kept as a
/// byte-identical evidence copy, then rebuilt, on the typed env name.
fn planned_as_damaged(
    ws: &Workspace,
    target: &EnvTarget,
    p: &mut ResetPlan,
    e: Error,
) -> Result<()> {
    if !crate::safety::health::is_damaged(&e) {
        return Err(e);
    }
    // What is wrong, without the advice the error carries (the plan is the advice). SQLite's
    // message names objects of the file (an index named with newlines).
    let e = match e {
        Error::Corrupt { detail, .. } => detail,
        e => e.to_string(),
    };
    let e = crate::storage::text::printable(&e);
    p.notes = vec![format!(
        "{} is damaged ({e}); no verified backup can be taken of it: it is kept as a byte-identical evidence copy `{}`, then a new database is built",
        target.path.display(),
        crate::backups::evidence::planned_name(ws, &target.name, &target.path).display()
    )];
    p.damaged = Some(e);
    // Nothing can be backed up verified: the typed env name (never `--force` alone), on every
    // env. A file that only *looked* damaged (a transient read error) is looked at again under
    // the lock, where the plan must still say damaged.
    p.confirmation = Confirmation::TypeEnvName;
    p.backup = None;
    Ok(())
}

/// [`Error::Corrupt`] when the database breaks what a restore checks (CHECK constraints, foreign
/// keys): no backup of it could be restored.
fn require_restorable(ws: &Workspace, target: &EnvTarget, c: &Connection) -> Result<()> {
    let open = || db::open(&target.path, db::Access::ReadOnly, ws.busy_timeout());
    let problems = crate::backups::snapshot::restorable(c, &open)?;
    match problems.is_empty() {
        true => Ok(()),
        false => Err(Error::Corrupt {
            path: target.path.clone(),
            env: target.name.clone(),
            detail: format!(
                "it breaks what a restore checks: {}",
                problems
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }),
    }
}

/// The plan from what `conn` sees (`None`: the file is missing).
fn describe(
    target: &EnvTarget,
    sample_data: Option<SeedOptions>,
    conn: Option<&Connection>,
) -> Result<ResetPlan> {
    let mut p = ResetPlan {
        verb: Verb::Reset,
        env: target.name.clone(),
        path: target.path.clone(),
        file_id: crate::safety::plan::file_id(&target.path),
        protected: target.protected,
        exists: conn.is_some(),
        size_bytes: crate::safety::space::db_bytes(&target.path),
        identity: None,
        tables: vec![],
        total_rows: 0,
        data_rows: 0,
        other_objects: vec![],
        backup: None,
        migrations: migrations::list(None)?,
        sample_data,
        space: vec![],
        confirmation: Confirmation::for_target(target, true),
        damaged: None,
        notes: vec![],
    };
    let Some(c) = conn else {
        p.notes.push(format!(
            "{} does not exist: it will be created; no backup is needed",
            target.path.display()
        ));
        return Ok(p);
    };
    p.identity = Some(tag::require_identity(c, target)?);
    p.tables = plan::table_rows(&db::row_counts(c)?);
    p.total_rows = p.tables.iter().map(|t| t.rows).sum();
    p.data_rows = plan::totals(&p.tables, crate::schema::tables::TableKind::Data).1;
    p.other_objects = other_objects(c)?;
    p.backup = Some(BackupStep::new(
        target,
        Reason::PreReset,
        true,
        "every reset of an existing database is preceded by a verified backup",
    ));
    p.space = crate::safety::space::preflight_space(target, true)?;
    // Reset is the one verb that changes such a database; a restore refuses its schema.
    if let Some(drift) = crate::safety::health::foreign_objects(c, target)? {
        p.notes.push(format!(
            "{drift}: its pre-reset backup is taken and verified, but a restore refuses that schema, so `undo` will not bring this database back (read the backup with `zstd -d` and sqlite3)"
        ));
    }
    if let Err(e) = migrations::pending_or_refuse(c, &target.path, &target.name) {
        p.notes
            .push(format!("{e} — reset discards this history and rebuilds it"));
    }
    Ok(p)
}

/// Resets the env of `shown` after the confirmation it asks for, through the change ritual
/// (which re-makes the plan under the lock and refuses if it changed). The work: drop every
/// object, rebuild through the migrations, tag, optional sample data — in one transaction.
pub fn execute(
    ws: &Workspace,
    shown: &ResetPlan,
    confirmed: &Confirmed,
    obs: &dyn Observer,
) -> Result<ResetOutcome> {
    let ws = &ws.as_configured_now()?;
    let target = ws.env(&shown.env)?;
    let change = Reset {
        ws,
        target: &target,
        sample_data: shown.sample_data.clone(),
    };
    let done = ritual::run(ws, &target, shown, confirmed, obs, &change)?;
    let (seeded, after) = done.out;
    Ok(ResetOutcome {
        plan: done.plan,
        backup: done.backup,
        seeded,
        evidence: done.evidence,
        row_counts_after: after,
        duration_ms: done.duration_ms,
        timings: done.timings,
        retention: done.retention,
    })
}

struct Reset<'a> {
    ws: &'a Workspace,
    target: &'a EnvTarget,
    sample_data: Option<SeedOptions>,
}

impl Change for Reset<'_> {
    type Plan = ResetPlan;
    type Out = (Option<SeedCounts>, Vec<TableRows>);

    fn compact_after(&self) -> bool {
        true
    }

    fn replan(&self, conn: Option<&Connection>) -> Result<ResetPlan> {
        let req = ResetRequest {
            env: self.target.name.clone(),
            sample_data: self.sample_data.clone(),
            keep_evidence: false,
        };
        check_rules(self.target, &req)?;
        if conn.is_none() {
            refuse_missing_protected(self.target)?;
        }
        describe(self.target, req.sample_data, conn)
    }

    fn apply(&self, c: &Connection, plan: &ResetPlan, obs: &dyn Observer) -> Result<Self::Out> {
        let env = self.target.name.as_str();
        obs.stage("rebuilding");
        crate::storage::timing::step("reset: drop everything", || drop_everything(c)).step(
            Verb::Reset,
            env,
            "drop",
            UNCHANGED,
        )?;
        crate::storage::failpoint::hit("reset:after_drop").step(
            Verb::Reset,
            env,
            "drop",
            UNCHANGED,
        )?;
        let seeded = crate::storage::timing::step("reset: rebuild", || {
            rebuild(c, self.target, plan.sample_data.as_ref(), obs)
        })
        .step(Verb::Reset, env, "rebuild", UNCHANGED)?;
        Ok((seeded, plan::table_rows(&db::row_counts(c)?)))
    }

    fn create(&self, c: &Connection, plan: &ResetPlan, obs: &dyn Observer) -> Result<Self::Out> {
        let seeded = rebuild(c, self.target, plan.sample_data.as_ref(), obs)?;
        Ok((seeded, plan::table_rows(&db::row_counts(c)?)))
    }

    fn requires_our_schema(&self) -> bool {
        false
    }

    fn replan_damaged(&self) -> Result<ResetPlan> {
        // The plan said damaged: under the lock it must still be, by the same deep look.
        plan_for(self.ws, self.target, self.sample_data.clone(), true)
    }
}

/// Migrations, tag, optional sample data, then the foreign-key check — all in the open transaction.
fn rebuild(
    c: &Connection,
    target: &EnvTarget,
    sample_data: Option<&SeedOptions>,
    obs: &dyn Observer,
) -> Result<Option<SeedCounts>> {
    migrations::apply_pending(c, &target.path, &target.name)?;
    tag::write_tag(c, &target.name, Some(sample_data.is_some()), "reset")?;
    sample_data.map(|s| seed::insert(c, s, obs)).transpose()
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
