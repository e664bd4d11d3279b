//! The analyst's workbench: read-only SQL from untrusted hands ([`guard`], [`query`]), exports
//! others can open ([`format`], [`export`]), and the reading of files to import ([`input`]; the
//! import itself is a changing verb, `verbs::import`).

pub mod export;
pub mod format;
pub mod guard;
pub mod input;
pub mod query;
