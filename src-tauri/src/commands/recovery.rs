//! Restore (from the backup list or a file picked in the native open dialog), Undo last action,
//! and Check: thin calls into core's `restore`, `undo` and `check`, behind the same token gate.

use std::path::PathBuf;

use pipeline_db_core::verbs::check::{self, CheckReport};
use pipeline_db_core::verbs::restore::{self, RestoreOutcome, RestorePlan, RestoreRequest};
use pipeline_db_core::verbs::undo::{self, UndoPlan};
use pipeline_db_core::Verb;
use tauri::{AppHandle, Runtime, State};

use super::blocking;
use super::guard::{self, Answer, Planned};
use super::progress::EventObserver;
use crate::error::{CmdError, CmdResult};
use crate::AppState;

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
        // The page may only name a backup from the env's listing; any other file comes from the
        // native open dialog raised here.
        let backup = match backup {
            Some(b) => {
                let dir = ws.env(&env)?.backup_dir;
                pipeline_db_core::backups::names::from_listing(&dir, &b)?
                    .to_string_lossy()
                    .into_owned()
            }
            None => pick(&st, &env)?,
        };
        let p = restore::plan(&ws, &RestoreRequest { env, backup })?;
        guard::issue(&st, p)
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
    crate::confirm::chosen(
        st.files.open_path(&title, &start),
        "no file chosen; nothing was changed",
    )
    .map(|p: PathBuf| p.to_string_lossy().into_owned())
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
    blocking(move || {
        let running = st.ops.begin(answer.token.as_deref());
        let (p, confirmed) =
            guard::authorize_if(&st, Verb::Restore, &env, &answer, |p: &RestorePlan| {
                let source = &p.source.path;
                let named = !backup.is_empty()
                    && (source.to_string_lossy() == backup || source.ends_with(&backup));
                match named {
                    true => Ok(()),
                    false => Err(CmdError::token(
                        "this confirmation was for a restore from another backup; open the plan again; nothing was changed",
                    )),
                }
            })?;
        let obs = EventObserver::for_op(app, "restore", &running)?;
        Ok(restore::execute(&st.ws(), &p, &confirmed, &obs)?)
    })
    .await
}

#[tauri::command]
pub async fn plan_undo(state: State<'_, AppState>, env: String) -> CmdResult<Planned<UndoPlan>> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let p = undo::plan(&ws, &env)?;
        guard::issue(&st, p)
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
    blocking(move || {
        let running = st.ops.begin(answer.token.as_deref());
        let (p, confirmed) = guard::authorize::<UndoPlan>(&st, Verb::Undo, &env, &answer)?;
        let obs = EventObserver::for_op(app, "undo", &running)?;
        Ok(undo::execute(&st.ws(), &p, &confirmed, &obs)?)
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
