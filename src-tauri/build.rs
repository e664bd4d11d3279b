//! Reads the root `tauri.conf.json` and declares every app command, so the ACL can deny what no
//! capability grants (without `AppManifest::commands` Tauri allows every command to every window).

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(pipeline_db_desktop_commands());
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .config_path("../tauri.conf.json")
            .app_manifest(manifest),
    )
    .expect("tauri build script failed");
}

/// Keep in step with `generate_handler!` in `src/lib.rs` and `capabilities/main.json`.
fn pipeline_db_desktop_commands() -> &'static [&'static str] {
    &[
        "workspace_info",
        "status",
        "plan_reset",
        "reset_env",
        "plan_migrate",
        "migrate_env",
        "plan_seed",
        "seed_env",
        "cancel_seed",
        "plan_backup",
        "backup_env",
        "plan_restore",
        "restore_env",
        "plan_undo",
        "undo_env",
        "check_env",
        "verify_backup",
        "plan_prune",
        "prune_backups",
        "list_backups",
        "migrations",
        "audit_log",
        "browse_jobs",
        "browse_users",
        "browse_pipelines",
        "job_detail",
        "chart_data",
        "open_existing_env",
        "set_env_path",
        "remove_env",
        "set_retention",
        "debug_token_count",
    ]
}
