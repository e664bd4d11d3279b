//! Settings: add an existing database file as an env (picked in the native open dialog raised
//! here, never a path from the webview), repoint or remove an env, set retention. Each is one
//! core `settings` call; the workspace is then reloaded so every later command sees the change.
//! What core says must be confirmed (removing an env, repointing one that holds data, lowering
//! retention) also needs the native confirmation.

use std::path::PathBuf;

use pipeline_db_core::verbs::settings::{self, Apply, Attach, SettingsOutcome, SettingsPlan};
use pipeline_db_core::{Confirmation, Confirmed};
use tauri::State;

use super::blocking;
use crate::confirm::ProtectedAction;
use crate::error::CmdResult;
use crate::AppState;

/// Applies a change through core, then swaps in the reloaded workspace.
fn apply(
    st: &AppState,
    change: impl FnOnce(&pipeline_db_core::Workspace) -> pipeline_db_core::Result<SettingsOutcome>,
) -> CmdResult<SettingsOutcome> {
    let ws = st.ws();
    let out = change(&ws)?;
    st.set_ws(settings::reload(&ws)?);
    Ok(out)
}

/// A settings change core says must be confirmed (removing an env, repointing one that holds
/// data, lowering retention; protected envs always) happens only after the native dialog, raised
/// here, accepts — with the env's name typed in it where core asks for that: the page cannot make
/// it on its own. The answer goes to core, which checks it against the plan it makes for the
/// write.
fn confirm_change(
    st: &AppState,
    verb: &str,
    env: Option<&str>,
    plan: &SettingsPlan,
) -> CmdResult<Confirmed> {
    if plan.confirmation == Confirmation::None {
        return Ok(Confirmed::default());
    }
    // Core names the env the change must be confirmed for (a protected env whose backups a lower
    // retention deletes), when it is not the change's own.
    let env = plan.env.as_deref().or(env);
    let ws = st.ws();
    // Several protected envs whose backups a retention change deletes are named together (and
    // typed so): no one env's file.
    let several = env.is_some_and(|e| e.contains(settings::PROTECTED_NAMES_SEPARATOR));
    let target = match several {
        true => None,
        false => env.map(|e| ws.env(e)).transpose()?,
    };
    let path = target
        .as_ref()
        .map(|t| t.path.clone())
        .unwrap_or_else(|| plan.config_path.clone());
    let summary = plan.changes.join("; ");
    let action = ProtectedAction {
        verb,
        env: env.unwrap_or(crate::confirm::ALL_ENVS),
        path: &path,
        summary: &summary,
        protected: several || target.as_ref().is_some_and(|t| t.protected),
        first: "Nothing is deleted now; the config file is rewritten.",
    };
    super::guard::native_answer(st, plan.confirmation, &action)
}

fn pick_file(st: &AppState, title: &str) -> CmdResult<PathBuf> {
    let start = st.ws().data_dir.clone();
    let start = if start.is_dir() {
        start
    } else {
        std::env::current_dir().unwrap_or_else(|_| "/".into())
    };
    crate::confirm::chosen(
        st.files.open_path(title, &start),
        "no file chosen; nothing was changed",
    )
}

/// Title of the open dialog of "Open an existing database…" (E2E tests find it by this name).
pub fn open_dialog_title(name: &str) -> String {
    format!("Open an existing SQLite database as environment {name}")
}

/// "Open an existing database…": the native open dialog, then core's checks (header, tag,
/// application id); the file itself is only read.
#[tauri::command]
pub async fn open_existing_env(
    state: State<'_, AppState>,
    name: String,
    protected: bool,
) -> CmdResult<SettingsOutcome> {
    let st = state.inner().clone();
    blocking(move || {
        // A malformed or taken name is refused before the dialog opens.
        settings::check_new_env_name(&st.ws(), &name)?;
        let path = pick_file(&st, &open_dialog_title(&name))?;
        apply(&st, |ws| {
            settings::attach(
                ws,
                &Attach {
                    name,
                    path,
                    protected,
                },
                false,
            )
        })
    })
    .await
}

/// Where `set_env_path` takes the new file from: always a native dialog raised here (or the
/// default), never a path typed in the webview.
#[derive(Debug, Clone, Copy, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum PathChoice {
    /// An existing database, picked in the open dialog (checked like "Open an existing database").
    Existing,
    /// A new file location, picked in the save dialog (created by the next Migrate or Reset).
    New,
    /// Back to `<data_dir>/<env>.sqlite3`.
    Default,
}

/// Points `env` at another file (or back to its default).
#[tauri::command]
pub async fn set_env_path(
    state: State<'_, AppState>,
    env: String,
    choice: PathChoice,
) -> CmdResult<SettingsOutcome> {
    let st = state.inner().clone();
    blocking(move || {
        st.ws().env(&env)?;
        let path = match choice {
            PathChoice::Existing => Some(pick_file(
                &st,
                &format!("Database file for environment {env}"),
            )?),
            PathChoice::New => Some(crate::confirm::chosen(
                st.files.save_path(
                    &format!("New database file for environment {env}"),
                    &format!("{env}.sqlite3"),
                ),
                "no file chosen; nothing was changed",
            )?),
            PathChoice::Default => None,
        };
        let plan = settings::set_env_path(&st.ws(), &env, path.as_deref(), Apply::DryRun)?;
        let answer = confirm_change(&st, "repoint", Some(&env), &plan.plan)?;
        apply(&st, |ws| {
            settings::set_env_path(ws, &env, path.as_deref(), Apply::Write(&answer))
        })
    })
    .await
}

/// Removes an added env from the config (its file and backups stay).
#[tauri::command]
pub async fn remove_env(state: State<'_, AppState>, env: String) -> CmdResult<SettingsOutcome> {
    let st = state.inner().clone();
    blocking(move || {
        let plan = settings::detach(&st.ws(), &env, Apply::DryRun)?;
        let answer = confirm_change(&st, "remove", Some(&env), &plan.plan)?;
        apply(&st, |ws| settings::detach(ws, &env, Apply::Write(&answer)))
    })
    .await
}

#[tauri::command]
pub async fn set_retention(
    state: State<'_, AppState>,
    keep: usize,
    max_total_mib: Option<u64>,
) -> CmdResult<SettingsOutcome> {
    let st = state.inner().clone();
    blocking(move || {
        let plan = settings::set_retention(&st.ws(), keep, max_total_mib, Apply::DryRun)?;
        let answer = confirm_change(&st, "lower the backup retention of", None, &plan.plan)?;
        apply(&st, |ws| {
            settings::set_retention(ws, keep, max_total_mib, Apply::Write(&answer))
        })
    })
    .await
}
