//! The `pipeline-db-desktop` binary: everything is wired in the library (`pipeline_db_desktop::run`).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Not done, though it would save ~90 MB: WebKitGTK with WEBKIT_DISABLE_COMPOSITING_MODE=1 uses
    // 274 → 183 MB in its web process at idle, but WebKitWebDriver's screenshot then never returns
    // (seen in the E2E under Xvfb), so the shipped default stays WebKit's own.
    // Started as a native file dialog (a child of the app, see `file_dialog`): that, and exit.
    #[cfg(target_os = "linux")]
    pipeline_db_desktop::file_dialog::serve_if_asked();
    pipeline_db_desktop::run();
}
