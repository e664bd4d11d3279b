//! Restore (from the backup list or a file picked in the native open dialog), Undo last action,
//! and Check: thin calls into core's `restore`, `undo` and `check`, behind the same token gate.

use std::path::PathBuf;

use pipeline_db_core::verbs::check::{self, CheckReport};
use pipeline_db_core::verbs::restore::{self, RestoreOutcome, RestorePlan};
use pipeline_db_core::verbs::undo::{self, UndoPlan};
use tauri::{AppHandle, Runtime, State};

use super::blocking;
use super::guard::{self, Answer, Gate, Planned};
use super::progress::EventObserver;
use crate::error::{CmdError, CmdResult};
use crate::AppState;

fn restore_gate(p: &RestorePlan) -> Gate<'_> {
    Gate {
        verb: "restore",
        env: &p.env,
        path: &p.path,
        protected: p.protected,
        summary: p.summary(),
    }
}

/// Plans a restore of `env` from `backup` (a name in its backup dir or a path); without one,
/// the native open dialog (raised from Rust) picks the file.
#[tauri::command]
pub async fn plan_restore(
    state: State<'_, AppState>,
    env: String,
    backup: Option<String>,
) -> CmdResult<Planned<RestorePlan>> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let backup = match backup {
            Some(b) => b,
            None => pick(&st, &env)?,
        };
        let p = restore::plan(&ws, &env, &backup)?;
        Ok(guard::issue(&st, restore_gate(&p), &p))
    })
    .await
}

fn pick(st: &AppState, env: &str) -> CmdResult<String> {
    let ws = st.ws();
    let dir = ws.env(env)?.backup_dir;
    let start = if dir.exists() {
        dir
    } else {
        ws.data_dir.clone()
    };
    let title = format!("Restore {env} from a backup file");
    st.files
        .open_path(&title, &start)
        .map(|p: PathBuf| p.to_string_lossy().into_owned())
        .ok_or_else(|| CmdError::cancelled("no file chosen; nothing was changed"))
}

#[tauri::command]
pub async fn restore_env<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    env: String,
    backup: String,
    answer: Answer,
) -> CmdResult<RestoreOutcome> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = restore::plan(&ws, &env, &backup)?;
        let confirmed = guard::authorize(&st, &restore_gate(&p), &p, &answer)?;
        let obs = EventObserver::new(app, "restore", st.cancel.clone());
        Ok(restore::run_observed(&ws, &env, &backup, &confirmed, &obs)?)
    })
    .await
}

fn undo_gate(p: &UndoPlan) -> Gate<'_> {
    Gate {
        verb: "undo",
        env: &p.env,
        path: &p.restore.path,
        protected: p.restore.protected,
        summary: format!(
            "undo {} ({}): {}",
            p.action.verb,
            p.action.time,
            p.restore.summary()
        ),
    }
}

#[tauri::command]
pub async fn plan_undo(state: State<'_, AppState>, env: String) -> CmdResult<Planned<UndoPlan>> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = undo::plan(&ws, &env)?;
        Ok(guard::issue(&st, undo_gate(&p), &p))
    })
    .await
}

#[tauri::command]
pub async fn undo_env<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    env: String,
    answer: Answer,
) -> CmdResult<RestoreOutcome> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = undo::plan(&ws, &env)?;
        let confirmed = guard::authorize(&st, &undo_gate(&p), &p, &answer)?;
        let obs = EventObserver::new(app, "undo", st.cancel.clone());
        Ok(undo::run_observed(&ws, &env, &confirmed, &obs)?)
    })
    .await
}

/// Integrity, foreign keys, drift, tag, migrations and backup age (changes nothing in the
/// database; a corrupt file is copied aside as evidence).
#[tauri::command]
pub async fn check_env(state: State<'_, AppState>, env: String) -> CmdResult<CheckReport> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || Ok(check::run(&ws, &env)?)).await
}
