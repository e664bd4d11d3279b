//! Import…: the file is picked in the native open dialog (raised here), core plans the import
//! (the whole file read and checked), the window shows the plan in the plan modal (with the rows
//! that keep it from running, if any), and the
//! confirmed plan goes to core's `execute` behind the same token gate as every change.

use pipeline_db_core::verbs::import::{self, ImportOutcome, ImportPlan, ImportRequest};
use pipeline_db_core::Verb;
use tauri::{AppHandle, Runtime, State};

use super::blocking;
use super::guard::{self, Answer, Planned};
use super::progress::EventObserver;
use crate::error::CmdResult;
use crate::AppState;

/// The title of Import…'s open dialog (E2E tests find it by this name).
pub fn import_dialog_title(env: &str, table: &str) -> String {
    format!("Import rows into {env} {table}")
}

/// Plans an import into `env`'s `table` of a file picked in the native open dialog. A file with
/// bad rows, duplicates or missing references is still a plan: the modal lists them and, as core
/// says (`importable`), offers no confirmation; core's `execute` would refuse it anyway.
#[tauri::command]
pub async fn plan_import(
    state: State<'_, AppState>,
    env: String,
    table: String,
) -> CmdResult<Planned<ImportPlan>> {
    let st = state.inner().clone();
    blocking(move || {
        let ws = st.ws();
        // Checked before the dialog: its title is never the page's unchecked text.
        ws.env(&env)?;
        import::check_table(&table)?;
        let file = crate::confirm::chosen(
            st.files
                .open_path(&import_dialog_title(&env, &table), &ws.data_dir),
            "no file chosen; nothing was changed",
        )?;
        let req = ImportRequest {
            env,
            table,
            file,
            format: None,
        };
        guard::issue(&st, import::plan(&ws, &req)?)
    })
    .await
}

#[tauri::command]
pub async fn import_env<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    env: String,
    answer: Answer,
) -> CmdResult<ImportOutcome> {
    let st = state.inner().clone();
    blocking(move || {
        let running = st.ops.begin(answer.token.as_deref());
        // A plan core refuses (bad rows, duplicates) is refused before any dialog asks about it.
        let (p, confirmed) =
            guard::authorize_if::<ImportPlan>(&st, Verb::Import, &env, &answer, |p| {
                p.refusal().map_or(Ok(()), |e| Err(e.into()))
            })?;
        let obs = EventObserver::for_op(app, "import", &running)?;
        Ok(import::execute(&st.ws(), &p, &confirmed, &obs)?)
    })
    .await
}
