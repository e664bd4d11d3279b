//! Pipeline DB desktop: a Tauri v2 window over `pipeline-db-core`. This file is builder wiring
//! only; commands live in `commands/`, tokens in `tokens.rs`, native dialogs in `confirm.rs`, the
//! TypeScript of what crosses invoke() in `ts.rs`.

pub mod commands;
pub mod confirm;
pub mod error;
pub mod state;
pub mod tokens;
pub mod ts;

pub use state::AppState;

/// Registers the state and every command (shared by `run` and the mock-runtime tests).
/// Keep in step with `build.rs` (`AppManifest::commands`) and `capabilities/main.json`.
pub fn builder<R: tauri::Runtime>(
    builder: tauri::Builder<R>,
    state: AppState,
) -> tauri::Builder<R> {
    use commands::{actions, backups, browse, info, recovery, settings};
    builder
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            info::workspace_info,
            info::status,
            actions::plan_reset,
            actions::reset_env,
            actions::plan_migrate,
            actions::migrate_env,
            actions::plan_seed,
            actions::seed_env,
            actions::cancel_seed,
            actions::plan_backup,
            actions::backup_env,
            recovery::plan_restore,
            recovery::restore_env,
            recovery::plan_undo,
            recovery::undo_env,
            recovery::check_env,
            backups::verify_backup,
            backups::plan_prune,
            backups::prune_backups,
            info::list_backups,
            info::migrations,
            info::audit_log,
            browse::browse_jobs,
            browse::browse_users,
            browse::browse_pipelines,
            browse::job_detail,
            browse::chart_data,
            settings::open_existing_env,
            settings::set_env_path,
            settings::remove_env,
            settings::set_retention,
            info::debug_token_count,
        ])
}

/// Opens the window on the workspace from `PIPELINE_DB_HOME` / `PIPELINE_DB_CONFIG` (or the
/// default data dir).
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let opts = pipeline_db_core::WorkspaceOptions::default().with_env_vars();
    let ws = match pipeline_db_core::Workspace::load(&opts) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("pipeline-db-desktop: {e}");
            std::process::exit(i32::from(e.exit_code()));
        }
    };
    builder(tauri::Builder::default(), AppState::new(ws))
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running the Pipeline DB window");
}
