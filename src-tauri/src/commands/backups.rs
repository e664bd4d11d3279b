//! Backup housekeeping: verify one backup (read-only) and prune with a preview of what it frees
//! (deleting backups goes through the same token gate as the other changing verbs).

use pipeline_db_core::backups::verify::{self, VerifyReport};
use pipeline_db_core::verbs::prune::{self, PrunePlan};
use pipeline_db_core::workspace::env::EnvTarget;
use pipeline_db_core::Workspace;
use tauri::State;

use super::blocking;
use super::guard::{self, Answer, Gate, Planned};
use crate::error::CmdResult;
use crate::AppState;

#[tauri::command]
pub async fn verify_backup(state: State<'_, AppState>, backup: String) -> CmdResult<VerifyReport> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || Ok(verify::verify_named(&ws, &backup)?)).await
}

fn prune_gate<'a>(p: &'a PrunePlan, target: &'a EnvTarget) -> Gate<'a> {
    Gate {
        verb: "prune",
        env: &p.env,
        path: &target.backup_dir,
        protected: target.protected,
        summary: format!(
            "delete {} backups, free {} bytes (keep {})",
            p.delete.len(),
            p.frees_bytes,
            p.keep
        ),
    }
}

fn plan_of(ws: &Workspace, env: &str) -> CmdResult<(PrunePlan, EnvTarget)> {
    let target = ws.env(env)?;
    Ok((prune::plan(ws, &target, None)?, target))
}

/// What pruning `env`'s backups (retention from the config) would delete and free.
#[tauri::command]
pub async fn plan_prune(state: State<'_, AppState>, env: String) -> CmdResult<Planned<PrunePlan>> {
    let st = state.inner().clone();
    let ws = st.ws();
    blocking(move || {
        let (p, target) = plan_of(&ws, &env)?;
        Ok(guard::issue(&st, prune_gate(&p, &target), &p))
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
    let ws = st.ws();
    blocking(move || {
        let (p, target) = plan_of(&ws, &env)?;
        guard::authorize(&st, &prune_gate(&p, &target), &p, &answer)?;
        Ok(prune::run(&ws, Some(&env), None, false)?)
    })
    .await
}
