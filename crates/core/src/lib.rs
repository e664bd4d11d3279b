//! Resets, migrates, seeds and backs up the per-environment (dev / test / prod) SQLite databases of
//! the pipeline platform. Every database and safety rule lives here; the CLI and the desktop are
//! adapters. No Tauri, no clap, no terminal I/O: results are typed values, failures typed errors.

pub mod audit;
pub mod backup;
pub mod browse;
pub mod check;
pub mod config;
pub mod db;
pub mod env;
pub mod error;
mod failpoint;
pub mod fingerprint;
pub mod fsutil;
pub mod hash;
pub mod lock;
pub mod migrate;
pub mod names;
pub mod plan;
pub mod progress;
pub mod prune;
pub mod repair;
pub mod reset;
pub mod restore;
pub mod retag;
pub mod seed;
mod session;
pub mod settings;
pub mod stats;
pub mod status;
pub mod tag;
pub mod timefmt;
pub mod timing;
pub mod undo;
pub mod upgrade;
pub mod verify;

pub use config::{Workspace, WorkspaceOptions};
pub use error::{exit, Error, Result};
pub use plan::{Confirmation, Confirmed};
pub use progress::{Observer, Progress, Quiet};

/// Now, as the schema's timestamp text.
pub fn now_rfc3339() -> String {
    timefmt::format(timefmt::now_epoch())
}

/// Now, for file names: `20261126T121500Z` plus milliseconds.
pub(crate) fn now_compact() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let t = timefmt::format(now.as_secs() as i64).replace(['-', ':'], "");
    format!("{}{:03}Z", t.trim_end_matches('Z'), now.subsec_millis())
}
