//! The `pipeline-db-desktop` binary: everything is wired in the library (`pipeline_db_desktop::run`).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // WebKitGTK's accelerated compositing holds ~90 MB more in the web process at idle (measured
    // with tests/e2e/measure.sh: 274 → 183 MB RSS) and starts slower under software GL; a window
    // of cards, tables and a few charts does not need it. A user's own setting wins.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // The first statement of main: no other thread exists yet to read the environment.
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    pipeline_db_desktop::run();
}
