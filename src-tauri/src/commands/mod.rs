//! Every `#[tauri::command]`, each a thin call into core. Listed once, in `list.rs` (read by
//! `generate_handler!` in `lib.rs` and by `build.rs`); `capabilities/main.json` grants the
//! window the ones listed as granted (a test checks it).

pub mod actions;
pub mod backups;
pub mod browse;
pub mod guard;
pub mod info;
pub mod progress;
pub mod recovery;
pub mod settings;

use crate::error::{CmdError, CmdResult};

/// Runs core work off the UI thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> CmdResult<T> + Send + 'static,
) -> CmdResult<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CmdError::internal(format!("the background task failed: {e}")))?
}
