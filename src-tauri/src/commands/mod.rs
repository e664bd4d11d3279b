//! Every `#[tauri::command]`, each a thin call into core. Listed once, in `list.rs` (read by
//! `generate_handler!` in `lib.rs` and by `build.rs`); `capabilities/main.json` grants the
//! window the ones listed as granted (a test checks it).

pub mod actions;
pub mod backups;
pub mod browse;
pub mod guard;
pub mod import;
pub mod info;
pub mod progress;
pub mod recovery;
pub mod settings;
pub mod workbench;

use crate::error::{CmdError, CmdResult};

/// At most this many commands run core work at once; the others wait their turn without a thread
/// (a page firing thousands of invokes queues them, it does not start thousands of threads).
pub const MAX_RUNNING: usize = 4;

static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_RUNNING);

/// Runs core work off the UI thread, on the bounded pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> CmdResult<T> + Send + 'static,
) -> CmdResult<T> {
    let _turn = RUNNING
        .acquire()
        .await
        .map_err(|e| CmdError::internal(format!("the work queue is closed: {e}")))?;
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CmdError::internal(format!("the background task failed: {e}")))?
}
