//! Backup housekeeping: verify one backup (read-only) and prune with a preview of what it frees
//! (deleting backups goes through the same token gate as the other changing verbs).

use pipeline_db_core::backups::verify::VerifyReport;
use pipeline_db_core::safety::retention::{self, BackupsView};
use pipeline_db_core::verbs::pin::{self, PinOutcome};
use pipeline_db_core::verbs::prune::{self, PrunePlan};
use pipeline_db_core::{Confirmation, Confirmed, Verb};
use tauri::State;

use crate::confirm::ProtectedAction;

use super::blocking;
use super::guard::{self, Answer, Planned};
use crate::error::CmdResult;
use crate::AppState;

#[tauri::command]
pub async fn verify_backup(state: State<'_, AppState>, backup: String) -> CmdResult<VerifyReport> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        // Only a backup the window listed (of any env): the page cannot probe other files.
        let listed = ws.envs.values().find_map(|t| {
            pipeline_db_core::backups::names::from_listing(&t.backup_dir, &backup).ok()
        });
        let path = listed.ok_or_else(|| {
            crate::error::CmdError::refused(
                "only a backup listed in the window can be verified from it; nothing was read",
            )
        })?;
        Ok(pipeline_db_core::verbs::verify::named(
            &ws,
            &path.to_string_lossy(),
        )?)
    })
    .await
}

/// What pruning `env`'s backups (retention from the config) would delete and free.
#[tauri::command]
pub async fn plan_prune(state: State<'_, AppState>, env: String) -> CmdResult<Planned<PrunePlan>> {
    let st = state.inner().clone();
    blocking(move || {
        let ws = st.ws();
        let p = prune::plan(&ws, &ws.env(&env)?, None)?;
        guard::issue(&st, p)
    })
    .await
}

#[tauri::command]
pub async fn prune_backups(
    state: State<'_, AppState>,
    env: String,
    answer: Answer,
) -> CmdResult<Vec<PrunePlan>> {
    let st = state.inner().clone();
    blocking(move || {
        let (p, confirmed) = guard::authorize::<PrunePlan>(&st, Verb::Prune, &env, &answer)?;
        Ok(vec![prune::execute(&st.ws(), &p, &confirmed)?])
    })
    .await
}

/// `env`'s backups with the retention policy, disk use against the budget, pins and undo's target.
#[tauri::command]
pub async fn backups_view(state: State<'_, AppState>, env: String) -> CmdResult<BackupsView> {
    let ws = state.ws();
    blocking(move || Ok(retention::view(&ws, &env)?)).await
}

/// Pins or unpins one of `env`'s listed backups (core resolves it from the listing, takes the
/// env's lock and writes the audit line). Pinning loses nothing; unpinning a protected env's
/// backup is confirmed as core says, in the native dialog (the page cannot click it).
#[tauri::command]
pub async fn pin_backup(
    state: State<'_, AppState>,
    env: String,
    backup: String,
    pinned: bool,
) -> CmdResult<PinOutcome> {
    let st = state.inner().clone();
    blocking(move || {
        let ws = st.ws();
        let needed = pin::confirmation(&ws, &env, pinned)?;
        let confirmed = match needed {
            Confirmation::None => Confirmed::default(),
            _ => {
                let target = ws.env(&env)?;
                // Only a backup core resolved is named in the dialog (never the page's text).
                let resolved = pin::resolve(&ws, &env, &backup)?;
                let name = resolved.file_name().unwrap_or_default().to_string_lossy();
                let summary =
                    format!("Unpin {name}: retention may then delete it at {env}'s next backup.");
                let action = ProtectedAction {
                    verb: Verb::Unpin.as_str(),
                    env: &env,
                    path: &target.path,
                    summary: &summary,
                    protected: target.protected,
                    first: "Nothing is deleted now.",
                };
                super::guard::native_answer(&st, needed, &action)?
            }
        };
        Ok(pin::set(&ws, &env, &backup, pinned, &confirmed)?)
    })
    .await
}
