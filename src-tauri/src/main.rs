//! The `pipeline-db-desktop` binary: everything is wired in the library (`pipeline_db_desktop::run`).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    pipeline_db_desktop::run();
}
