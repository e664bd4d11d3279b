//! Read-only commands: workspace, status cards, backups, migrations, audit log.

use pipeline_db_core::backups::record::BackupRecord;
use pipeline_db_core::browse::MigrationsView;
use pipeline_db_core::safety::audit::AuditEntry;
use pipeline_db_core::verbs::status::EnvStatus;
use pipeline_db_core::{browse, safety::audit, verbs::status};
use serde::Serialize;
use tauri::State;

use super::blocking;
use crate::error::CmdResult;
use crate::AppState;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct WorkspaceInfo {
    pub data_dir: std::path::PathBuf,
    /// The config that was loaded (`None`: none yet).
    pub config_path: Option<std::path::PathBuf>,
    /// Where Settings write: the loaded config, else `<data_dir>/pipeline-db.toml`.
    pub config_file: std::path::PathBuf,
    pub busy_timeout_ms: u64,
    pub envs: Vec<pipeline_db_core::workspace::env::EnvTarget>,
    pub retention: pipeline_db_core::workspace::config::Retention,
    /// Core verbs not wired in this build (the window shows them as "not available yet").
    pub unavailable: Vec<&'static str>,
}

#[tauri::command]
pub fn workspace_info(state: State<'_, AppState>) -> WorkspaceInfo {
    let ws = &state.ws();
    WorkspaceInfo {
        data_dir: ws.data_dir.clone(),
        config_path: ws.config_path.clone(),
        config_file: pipeline_db_core::verbs::settings::config_target(ws),
        busy_timeout_ms: ws.busy_timeout_ms,
        envs: ws.envs.values().cloned().collect(),
        retention: ws.retention.clone(),
        unavailable: vec![],
    }
}

/// What the About panel shows: the same as `pipeline-db --version`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct About {
    pub version: &'static str,
    /// The git commit the app was built from (`unknown` outside a git checkout).
    pub commit: &'static str,
    /// The bundled SQLite's version.
    pub sqlite: &'static str,
}

#[tauri::command]
pub fn about() -> About {
    About {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("PIPELINE_DB_GIT_COMMIT"),
        sqlite: pipeline_db_core::sqlite_version(),
    }
}

#[tauri::command]
pub async fn status(state: State<'_, AppState>) -> CmdResult<Vec<EnvStatus>> {
    let ws = state.ws();
    blocking(move || Ok(status::status(&ws, None)?)).await
}

#[tauri::command]
pub async fn list_backups(state: State<'_, AppState>, env: String) -> CmdResult<Vec<BackupRecord>> {
    let ws = state.ws();
    blocking(move || Ok(pipeline_db_core::backups::record::list(&ws.env(&env)?)?)).await
}

#[tauri::command]
pub async fn migrations(state: State<'_, AppState>, env: String) -> CmdResult<MigrationsView> {
    let ws = state.ws();
    blocking(move || Ok(browse::migrations(&ws, &env)?)).await
}

/// The audit log, newest first, optionally one env's.
#[tauri::command]
pub async fn audit_log(
    state: State<'_, AppState>,
    env: Option<String>,
) -> CmdResult<Vec<AuditEntry>> {
    let ws = state.ws();
    blocking(move || {
        let (mut entries, _bad) = audit::read(&ws.audit_path(), env.as_deref())?;
        entries.reverse();
        Ok(entries)
    })
    .await
}

/// Diagnostics only: registered but granted to no window (the ACL test relies on it).
#[tauri::command]
pub fn debug_token_count(state: State<'_, AppState>) -> usize {
    state.tokens.outstanding()
}
