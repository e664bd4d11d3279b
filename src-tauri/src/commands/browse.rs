//! The read-only data browser and charts: thin calls into `core::browse`.

use pipeline_db_core::browse::{
    self, Charts, JobCursor, JobDetail, JobFilter, JobRow, Order, Page, PipelineRow, UserRow,
};
use tauri::State;

use super::blocking;
use crate::error::CmdResult;
use crate::AppState;

pub const PAGE: u32 = 50;

#[tauri::command]
pub async fn browse_jobs(
    state: State<'_, AppState>,
    env: String,
    filter: JobFilter,
    order: Option<Order>,
    after: Option<JobCursor>,
    limit: Option<u32>,
) -> CmdResult<Page<JobRow, JobCursor>> {
    let ws = state.ws();
    blocking(move || {
        let order = order.unwrap_or_default();
        let limit = limit.unwrap_or(PAGE);
        Ok(browse::jobs(
            &ws,
            &env,
            &filter,
            order,
            after.as_ref(),
            limit,
        )?)
    })
    .await
}

#[tauri::command]
pub async fn browse_users(
    state: State<'_, AppState>,
    env: String,
    after: Option<i64>,
) -> CmdResult<Page<UserRow, i64>> {
    let ws = state.ws();
    blocking(move || Ok(browse::users(&ws, &env, after, PAGE)?)).await
}

#[tauri::command]
pub async fn browse_pipelines(
    state: State<'_, AppState>,
    env: String,
    after: Option<i64>,
) -> CmdResult<Page<PipelineRow, i64>> {
    let ws = state.ws();
    blocking(move || Ok(browse::pipelines(&ws, &env, after, PAGE)?)).await
}

#[tauri::command]
pub async fn job_detail(
    state: State<'_, AppState>,
    env: String,
    id: i64,
) -> CmdResult<Option<JobDetail>> {
    let ws = state.ws();
    blocking(move || Ok(browse::job(&ws, &env, id)?)).await
}

#[tauri::command]
pub async fn chart_data(state: State<'_, AppState>, env: String, days: u32) -> CmdResult<Charts> {
    let ws = state.ws();
    blocking(move || Ok(browse::charts(&ws, &env, days)?)).await
}
