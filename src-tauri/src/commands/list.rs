// The one list of the window's commands, as `module::command` (modules of `src/commands/`).
// Read by `src/lib.rs` (`generate_handler!`), by `build.rs` (`AppManifest::commands`, through
// `include!`: Tauri's ACL then denies whatever no capability grants) and by the test that checks
// `capabilities/main.json` grants exactly the `granted` ones. A new command goes here; if the
// window may call it, under `granted`, and `allow-<its-name-with-dashes>` in the capability.
//
// `app_commands!(then)` calls `then! { granted: [..], not_granted: [..] }`.
macro_rules! app_commands {
    ($then:ident) => {
        $then! {
            granted: [
                info::workspace_info,
                info::about,
                info::status,
                actions::plan_reset,
                actions::reset_env,
                actions::plan_migrate,
                actions::migrate_env,
                actions::plan_seed,
                actions::seed_env,
                actions::cancel_operation,
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
                backups::backups_view,
                backups::pin_backup,
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
                workbench::run_query,
                workbench::export_rows,
                workbench::schema,
                workbench::saved_queries,
                workbench::save_query,
                workbench::rename_query,
                workbench::delete_query,
                import::plan_import,
                import::import_env,
            ],
            // Registered, granted to no window (diagnostics; the ACL test relies on it).
            not_granted: [
                info::debug_token_count,
            ],
        }
    };
}
