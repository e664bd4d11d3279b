//! The Query view (run, cancel, saved queries), Export… of a query or the data browser's filter
//! (the native save dialog raised here), and the schema view: each a thin call into core's
//! `workbench`. A query or export is an operation the page names (`wb-…`), so Cancel reaches it.

use pipeline_db_core::browse::JobFilter;
use pipeline_db_core::workbench::export::{self, ExportOutcome, ExportRequest, Source};
use pipeline_db_core::workbench::format::Format;
use pipeline_db_core::workbench::query::{self, QueryRequest, QueryView};
use pipeline_db_core::workbench::saved::{self, SavedQuery};
use pipeline_db_core::workbench::schema::{self, SchemaView};
use serde::Deserialize;
use tauri::{AppHandle, Runtime, State};
use ts_rs::TS;

use super::blocking;
use super::progress::EventObserver;
use crate::error::{CmdError, CmdResult};
use crate::AppState;

/// The id of a query or export the page starts (`wb-` and up to 60 letters, digits or dashes):
/// its own namespace, apart from confirmation tokens.
fn op_id(op: &str) -> CmdResult<&str> {
    let ok = op.len() <= 64
        && op.starts_with("wb-")
        && op.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then_some(op)
        .ok_or_else(|| CmdError::refused("an operation id is `wb-` and letters, digits or dashes"))
}

/// Runs one read-only statement through core's guard; `op` names it for Cancel.
#[tauri::command]
pub async fn run_query<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    env: String,
    sql: String,
    max_rows: Option<u64>,
    op: String,
) -> CmdResult<QueryView> {
    let st = state.inner().clone();
    blocking(move || {
        let running = st.ops.begin(Some(op_id(&op)?));
        let obs = EventObserver::for_op(app, "query", &running)?;
        let mut req = QueryRequest::new(&env, &sql);
        req.max_rows = max_rows.unwrap_or(query::DEFAULT_MAX_ROWS);
        Ok(query::run_bounded(&st.ws(), &req, obs)?.view())
    })
    .await
}

/// What Export… writes: the rows of a query, or the jobs of the data browser's filter.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ExportWhat {
    Query { sql: String },
    Jobs { filter: JobFilter },
}

/// The title of Export…'s save dialog (E2E tests find it by this name).
pub fn export_dialog_title(env: &str) -> String {
    format!("Export rows of {env}")
}

/// Export…: the native save dialog (raised here), then core writes a new file (an existing one
/// is refused, never overwritten) and logs the export.
#[tauri::command]
pub async fn export_rows<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    env: String,
    what: ExportWhat,
    format: Format,
    escape_formulas: Option<bool>,
    op: String,
) -> CmdResult<ExportOutcome> {
    let st = state.inner().clone();
    blocking(move || {
        let running = st.ops.begin(Some(op_id(&op)?));
        let (source, stem) = match what {
            ExportWhat::Query { sql } => (Source::Query(sql), "query"),
            ExportWhat::Jobs { filter } => (Source::Jobs(filter), "jobs"),
        };
        // Checked before the dialog: its title and file name are never the page's unchecked text.
        st.ws().env(&env)?;
        let name = format!("{env}-{stem}.{}", format.as_str());
        let output = crate::confirm::chosen(
            st.files.save_path(&export_dialog_title(&env), &name),
            "export cancelled in the save dialog; nothing was written",
        )?;
        let obs = EventObserver::for_op(app, "export", &running)?;
        let req = ExportRequest {
            env,
            source,
            format,
            output: Some(output),
            timeout: Some(export::DEFAULT_QUERY_TIMEOUT),
            escape_formulas: escape_formulas.unwrap_or(false),
        };
        Ok(export::run(&st.ws(), &req, Box::new(std::io::sink()), obs)?)
    })
    .await
}

/// Tables, columns, indexes and foreign keys of `env` (the schema view, the editor's completion).
#[tauri::command]
pub async fn schema(state: State<'_, AppState>, env: String) -> CmdResult<SchemaView> {
    let st = state.inner().clone();
    blocking(move || Ok(schema::describe(&st.ws(), &env)?)).await
}

#[tauri::command]
pub async fn saved_queries(state: State<'_, AppState>, env: String) -> CmdResult<Vec<SavedQuery>> {
    let st = state.inner().clone();
    blocking(move || Ok(saved::list(&st.ws(), &env)?)).await
}

/// Saves `sql` as `name` (over an existing one only when `replace`); returns the new list.
#[tauri::command]
pub async fn save_query(
    state: State<'_, AppState>,
    env: String,
    name: String,
    sql: String,
    replace: bool,
) -> CmdResult<Vec<SavedQuery>> {
    let st = state.inner().clone();
    blocking(move || Ok(saved::save(&st.ws(), &env, &name, &sql, replace)?)).await
}

#[tauri::command]
pub async fn rename_query(
    state: State<'_, AppState>,
    env: String,
    from: String,
    to: String,
) -> CmdResult<Vec<SavedQuery>> {
    let st = state.inner().clone();
    blocking(move || Ok(saved::rename(&st.ws(), &env, &from, &to)?)).await
}

#[tauri::command]
pub async fn delete_query(
    state: State<'_, AppState>,
    env: String,
    name: String,
) -> CmdResult<Vec<SavedQuery>> {
    let st = state.inner().clone();
    blocking(move || Ok(saved::delete(&st.ws(), &env, &name)?)).await
}
