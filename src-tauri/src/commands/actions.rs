//! The changing verbs. Each `plan_*` returns core's plan plus a single-use token (the plan stays
//! on the Rust side); each action redeems the token, passes the gate (`guard::authorize`: what
//! core says the plan needs), then hands that very plan to core's `execute` off the UI thread,
//! which re-makes it under the lock and refuses if it changed.

use pipeline_db_core::verbs::backup::{self, BackupOptions, BackupPlan};
use pipeline_db_core::verbs::migrate::{self, MigrateOutcome, MigratePlan, MigrateRequest};
use pipeline_db_core::verbs::reset::{self, ResetOutcome, ResetPlan, ResetRequest};
use pipeline_db_core::verbs::seed::{self, SeedOptions, SeedOutcome, SeedPlan, SeedRequest};
use pipeline_db_core::Verb;
use tauri::{AppHandle, Runtime, State};

use super::blocking;
use super::guard::{self, Answer, Planned};
use super::progress::EventObserver;
use crate::error::{CmdError, CmdResult};
use crate::AppState;

fn reset_request(env: String, sample_data: bool) -> ResetRequest {
    ResetRequest {
        env,
        sample_data: sample_data.then(SeedOptions::default),
        keep_evidence: false,
    }
}

#[tauri::command]
pub async fn plan_reset(
    state: State<'_, AppState>,
    env: String,
    sample_data: bool,
) -> CmdResult<Planned<ResetPlan>> {
    let st = state.inner().clone();
    blocking(move || {
        let p = reset::plan(&st.ws(), &reset_request(env, sample_data))?;
        guard::issue(&st, p)
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
    blocking(move || {
        let running = st.ops.begin(answer.token.as_deref());
        let (p, confirmed) =
            guard::authorize_if(&st, Verb::Reset, &env, &answer, |p: &ResetPlan| {
                match p.sample_data.is_some() == sample_data {
                    true => Ok(()),
                    false => Err(CmdError::token(
                        "this confirmation was for another reset; open the plan again; nothing was changed",
                    )),
                }
            })?;
        let obs = EventObserver::for_op(app, "reset", &running)?;
        Ok(reset::execute(&st.ws(), &p, &confirmed, &obs)?)
    })
    .await
}

#[tauri::command]
pub async fn plan_migrate(
    state: State<'_, AppState>,
    env: String,
) -> CmdResult<Planned<MigratePlan>> {
    let st = state.inner().clone();
    blocking(move || {
        let p = migrate::plan(&st.ws(), &MigrateRequest { env })?;
        guard::issue(&st, p)
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
    blocking(move || {
        let running = st.ops.begin(answer.token.as_deref());
        let (p, confirmed) = guard::authorize::<MigratePlan>(&st, Verb::Migrate, &env, &answer)?;
        let obs = EventObserver::for_op(app, "migrate", &running)?;
        Ok(migrate::execute(&st.ws(), &p, &confirmed, &obs)?)
    })
    .await
}

fn seed_request(env: String, jobs: Option<u64>) -> SeedRequest {
    let d = SeedOptions::default();
    SeedRequest {
        env,
        options: SeedOptions {
            jobs: jobs.unwrap_or(d.jobs),
            ..d
        },
    }
}

#[tauri::command]
pub async fn plan_seed(
    state: State<'_, AppState>,
    env: String,
    jobs: Option<u64>,
) -> CmdResult<Planned<SeedPlan>> {
    let st = state.inner().clone();
    blocking(move || {
        let p = seed::plan(&st.ws(), &seed_request(env, jobs))?;
        guard::issue(&st, p)
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
    blocking(move || {
        let running = st.ops.begin(answer.token.as_deref());
        let (p, confirmed) = guard::authorize::<SeedPlan>(&st, Verb::Seed, &env, &answer)?;
        if jobs.is_some_and(|j| j != p.options.jobs) {
            return Err(CmdError::token(
                "this confirmation was for another seed; open the plan again; nothing was changed",
            ));
        }
        let obs = EventObserver::for_op(app, "seed", &running)?;
        Ok(seed::execute(&st.ws(), &p, &confirmed, &obs)?)
    })
    .await
}

/// Asks the long action started with confirmation token `id` (seed, reset with sample data,
/// backup, export, restore, undo, migrate's backup) to stop — only that one; core rolls it back
/// or removes its unfinished copy. A cancel sent before the action started is kept for it.
#[tauri::command]
pub fn cancel_operation(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    state.ops.cancel(&id, &state.tokens)
}

#[tauri::command]
pub async fn plan_backup(
    state: State<'_, AppState>,
    env: String,
    export: bool,
) -> CmdResult<Planned<BackupPlan>> {
    let st = state.inner().clone();
    blocking(move || {
        let p = backup::plan(&st.ws(), &env, export)?;
        guard::issue(&st, p)
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
) -> CmdResult<pipeline_db_core::verbs::backup::BackupOutcome> {
    let st = state.inner().clone();
    blocking(move || {
        let running = st.ops.begin(answer.token.as_deref());
        let (p, _) = guard::authorize::<BackupPlan>(&st, Verb::Backup, &env, &answer)?;
        if p.export != export {
            return Err(CmdError::token(
                "this confirmation was for another backup; open the plan again; nothing was changed",
            ));
        }
        let output = if export {
            let name = format!("{env}-export.sqlite3");
            let title = format!("Export backup of {env}");
            Some(crate::confirm::chosen(
                st.files.save_path(&title, &name),
                "export cancelled in the save dialog; nothing was written",
            )?)
        } else {
            None
        };
        let op = if export { "export" } else { "backup" };
        let obs = EventObserver::for_op(app, op, &running)?;
        Ok(backup::run_observed(
            &st.ws(),
            &env,
            &BackupOptions { output, label },
            &obs,
        )?)
    })
    .await
}
