//! Backups: records (manifest, ledger, listing), verified snapshots, re-verification, names.

pub mod evidence;
pub mod names;
pub mod pins;
pub mod record;
pub(crate) mod same_state;
pub(crate) mod snapshot;
pub mod stored;
pub(crate) mod take;
pub mod verify;
