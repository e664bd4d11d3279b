//! The changing verbs. Each `plan_*` returns core's plan plus a single-use token; each action
//! recomputes the plan, passes the gate (`guard::authorize`), then makes one core call off the UI
//! thread. Core still enforces every safety rule (protection, backups, locks).

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use pipeline_db_core::backups::record::BackupRecord;
use pipeline_db_core::verbs::backup::BackupOptions;
use pipeline_db_core::verbs::migrate::{self, MigrateOutcome, MigratePlan};
use pipeline_db_core::verbs::reset::{self, ResetOptions, ResetOutcome, ResetPlan};
use pipeline_db_core::verbs::seed::{self, SeedOptions, SeedOutcome, SeedPlan};
use pipeline_db_core::{verbs::backup, verbs::status, Workspace};
use serde::Serialize;
use tauri::{AppHandle, Runtime, State};

use super::blocking;
use super::guard::{self, Answer, Gate, Planned};
use super::progress::EventObserver;
use crate::error::{CmdError, CmdResult};
use crate::AppState;

fn reset_options(sample_data: bool) -> ResetOptions {
    ResetOptions {
        sample_data: sample_data.then(SeedOptions::default),
        ..Default::default()
    }
}

fn reset_gate(p: &ResetPlan) -> Gate<'_> {
    Gate {
        verb: "reset",
        env: &p.env,
        path: &p.path,
        protected: p.protected,
        summary: p.summary(),
    }
}

#[tauri::command]
pub async fn plan_reset(
    state: State<'_, AppState>,
    env: String,
    sample_data: bool,
) -> CmdResult<Planned<ResetPlan>> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = reset::plan(&ws, &env, &reset_options(sample_data))?;
        Ok(guard::issue(&st, reset_gate(&p), &p))
    })
    .await
}

#[tauri::command]
pub async fn reset_env<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    env: String,
    sample_data: bool,
    answer: Answer,
) -> CmdResult<ResetOutcome> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = reset::plan(&ws, &env, &reset_options(sample_data))?;
        let confirmed = guard::authorize(&st, &reset_gate(&p), &p, &answer)?;
        let opts = ResetOptions {
            confirmed,
            ..reset_options(sample_data)
        };
        let obs = EventObserver::new(app, "reset", st.cancel.clone());
        Ok(reset::run(&ws, &env, &opts, &obs)?)
    })
    .await
}

fn migrate_gate<'a>(ws: &Workspace, p: &'a MigratePlan) -> CmdResult<Gate<'a>> {
    Ok(Gate {
        verb: "migrate",
        env: &p.env,
        path: &p.path,
        protected: ws.env(&p.env)?.protected,
        summary: p.summary(),
    })
}

#[tauri::command]
pub async fn plan_migrate(
    state: State<'_, AppState>,
    env: String,
) -> CmdResult<Planned<MigratePlan>> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = migrate::plan(&ws, &env)?;
        Ok(guard::issue(&st, migrate_gate(&ws, &p)?, &p))
    })
    .await
}

#[tauri::command]
pub async fn migrate_env<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    env: String,
    answer: Answer,
) -> CmdResult<MigrateOutcome> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = migrate::plan(&ws, &env)?;
        guard::authorize(&st, &migrate_gate(&ws, &p)?, &p, &answer)?;
        let obs = EventObserver::new(app, "migrate", st.cancel.clone());
        Ok(migrate::run_observed(&ws, &env, &obs)?)
    })
    .await
}

fn seed_options(jobs: Option<u64>) -> SeedOptions {
    let d = SeedOptions::default();
    SeedOptions {
        jobs: jobs.unwrap_or(d.jobs),
        ..d
    }
}

fn seed_gate(p: &SeedPlan) -> Gate<'_> {
    let o = &p.options;
    Gate {
        verb: "seed",
        env: &p.env,
        path: &p.path,
        protected: false, // core refuses to plan a seed of a protected env
        summary: format!(
            "insert {} users / {} pipelines / {} jobs",
            o.users, o.pipelines, o.jobs
        ),
    }
}

#[tauri::command]
pub async fn plan_seed(
    state: State<'_, AppState>,
    env: String,
    jobs: Option<u64>,
) -> CmdResult<Planned<SeedPlan>> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = seed::plan(&ws, &env, &seed_options(jobs))?;
        Ok(guard::issue(&st, seed_gate(&p), &p))
    })
    .await
}

#[tauri::command]
pub async fn seed_env<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    env: String,
    jobs: Option<u64>,
    answer: Answer,
) -> CmdResult<SeedOutcome> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let opts = seed_options(jobs);
        let p = seed::plan(&ws, &env, &opts)?;
        guard::authorize(&st, &seed_gate(&p), &p, &answer)?;
        let obs = EventObserver::new(app, "seed", st.cancel.clone());
        Ok(seed::run(&ws, &env, &opts, &obs)?)
    })
    .await
}

/// Asks the running long action (seed, reset with sample data, backup, export, restore, undo,
/// migrate's backup) to stop; core rolls it back or removes its unfinished copy.
#[tauri::command]
pub fn cancel_seed(state: State<'_, AppState>) {
    state.cancel.store(true, Ordering::SeqCst);
}

/// What "Back up now" / "Export backup…" will do (core has no plan struct for a backup: it
/// changes nothing).
#[derive(Debug, Clone, Serialize)]
pub struct BackupPlan {
    pub verb: &'static str,
    pub env: String,
    pub path: PathBuf,
    pub exists: bool,
    pub size_bytes: u64,
    pub row_counts: std::collections::BTreeMap<String, u64>,
    pub backup_dir: PathBuf,
    /// Export: the native save dialog picks the file (raised from Rust).
    pub export: bool,
}

fn backup_plan(ws: &Workspace, env: &str, export: bool) -> CmdResult<BackupPlan> {
    let target = ws.env(env)?;
    let s = status::status(ws, Some(env))?
        .pop()
        .ok_or_else(|| CmdError::internal("status returned nothing"))?;
    if !s.exists {
        return Err(CmdError::refused(format!(
            "{} does not exist; nothing to back up",
            s.path.display()
        )));
    }
    Ok(BackupPlan {
        verb: if export { "export" } else { "backup" },
        env: s.env,
        path: s.path,
        exists: s.exists,
        size_bytes: s.size_bytes,
        row_counts: s.row_counts,
        backup_dir: target.backup_dir,
        export,
    })
}

fn backup_gate(p: &BackupPlan) -> Gate<'_> {
    let rows: u64 = p.row_counts.values().sum();
    Gate {
        verb: p.verb,
        env: &p.env,
        path: &p.path,
        protected: false, // a backup changes nothing: no typed confirmation
        summary: format!("verified copy of {} rows", rows),
    }
}

#[tauri::command]
pub async fn plan_backup(
    state: State<'_, AppState>,
    env: String,
    export: bool,
) -> CmdResult<Planned<BackupPlan>> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = backup_plan(&ws, &env, export)?;
        Ok(guard::issue(&st, backup_gate(&p), &p))
    })
    .await
}

#[tauri::command]
pub async fn backup_env<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    env: String,
    export: bool,
    label: Option<String>,
    answer: Answer,
) -> CmdResult<BackupRecord> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = backup_plan(&ws, &env, export)?;
        guard::authorize(&st, &backup_gate(&p), &p, &answer)?;
        let output = if export {
            let name = format!("{env}-export.sqlite3");
            let title = format!("Export backup of {env}");
            Some(st.files.save_path(&title, &name).ok_or_else(|| {
                CmdError::cancelled("export cancelled in the save dialog; nothing was written")
            })?)
        } else {
            None
        };
        let op = if export { "export" } else { "backup" };
        let obs = EventObserver::new(app, op, st.cancel.clone());
        Ok(backup::run_observed(
            &ws,
            &env,
            &BackupOptions { output, label },
            &obs,
        )?)
    })
    .await
}
