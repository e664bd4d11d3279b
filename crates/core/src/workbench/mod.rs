//! The analyst's workbench: read-only SQL from untrusted hands ([`guard`], [`query`]), exports
//! others can open ([`format`], [`export`]), and the reading of files to import ([`input`]; the
//! import itself is a changing verb, `verbs::import`); the schema as the desktop draws it
//! ([`schema`]) and the saved queries of each env, kept in the data dir ([`saved`]).

pub mod bounded;
pub mod export;
pub mod format;
pub mod guard;
pub mod input;
pub mod query;
pub mod saved;
pub mod schema;
