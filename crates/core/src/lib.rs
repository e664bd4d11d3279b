//! Resets, migrates, seeds and backs up the per-environment (dev / test / prod) SQLite databases of
//! the pipeline platform. Every database and safety rule lives here; the CLI and the desktop are
//! adapters. No Tauri, no clap, no terminal I/O: results are typed values, failures typed errors.
//!
//! Layers, each using only the ones above it:
//! - [`storage`]: files and connections (headers, fsync, renames, hashes, fingerprints, time).
//! - [`workspace`]: the data dir, the config, the envs.
//! - [`schema`]: migrations, the env tag, the job summary, sample data.
//! - [`backups`]: verified snapshots, manifests, the ledger, re-verification, names.
//! - [`safety`]: lock, ordered open, health, space, confirmation, audit — and the change ritual.
//! - [`verbs`]: one file per verb; [`browse`]: the desktop's read-only queries.
//! - [`workbench`]: the analyst's tools: untrusted read-only SQL, exports, import files.
//!
//! Beside them: [`error`] (the one error type, exit codes), [`verb`] (the verbs' names),
//! [`progress`] (the observer adapters implement). [`plan`] is `safety::plan`: the contract every
//! changing verb's plan follows.

pub mod error;
pub mod progress;
pub mod verb;

pub mod backups;
pub mod browse;
pub mod safety;
pub mod schema;
pub mod storage;
#[cfg(feature = "ts")]
pub mod ts;
pub mod verbs;
pub mod workbench;
pub mod workspace;

pub use error::{exit, Error, Result};
pub use progress::{Observer, Progress, Quiet};
pub use safety::confirm::{Confirmation, Confirmed};
pub use safety::plan::{self as plan, Plan};
pub use verb::Verb;
pub use workspace::config::{Workspace, WorkspaceOptions};

/// The version of the SQLite library this build carries (bundled), e.g. `3.50.4`; the adapters
/// show it beside their own version and git commit (`pipeline-db --version`, the About panel).
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

/// Now, as the schema's timestamp text.
pub fn now_rfc3339() -> String {
    storage::time::format(storage::time::now_epoch())
}

/// Now, for file names: `20261126T121500Z` plus milliseconds.
pub(crate) fn now_compact() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let t = storage::time::format(now.as_secs() as i64).replace(['-', ':'], "");
    format!("{}{:03}Z", t.trim_end_matches('Z'), now.subsec_millis())
}
