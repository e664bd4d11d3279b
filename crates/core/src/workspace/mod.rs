//! The workspace: the data dir, the TOML config and the envs it resolves to.

pub mod config;
pub mod env;
pub(crate) mod own_files;
