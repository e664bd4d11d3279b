//! The verbs, one file each. Changing verbs have `plan` and `execute`; read-only ones report.

pub mod actions;
pub mod backup;
pub mod check;
pub mod import;
pub mod migrate;
pub mod pin;
pub mod prune;
pub mod repair;
pub mod reset;
pub mod restore;
pub mod retag;
pub mod seed;
pub mod settings;
pub mod status;
pub mod undo;
pub mod verify;
