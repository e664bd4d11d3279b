//! Pieces shared by every verb's plan, and the guarded steps every destructive action runs:
//! free-space preflight and the verified pre-action backup.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::backups::record::Reason;
use crate::workspace::env::EnvTarget;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TableRows {
    pub name: String,
    pub rows: u64,
}

pub fn table_rows(counts: &BTreeMap<String, u64>) -> Vec<TableRows> {
    counts
        .iter()
        .map(|(name, rows)| TableRows {
            name: name.clone(),
            rows: *rows,
        })
        .collect()
}

/// The backup a plan will take, or why none is needed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BackupStep {
    pub required: bool,
    pub reason: Reason,
    pub dir: PathBuf,
    /// The name it will get (a `-N` suffix is added if taken at that moment).
    pub path: PathBuf,
    pub why: String,
}

impl BackupStep {
    pub fn new(
        target: &EnvTarget,
        reason: Reason,
        required: bool,
        why: impl Into<String>,
    ) -> BackupStep {
        BackupStep {
            required,
            reason,
            dir: target.backup_dir.clone(),
            path: crate::backups::record::default_path(&target.backup_dir, &target.name, reason),
            why: why.into(),
        }
    }
}

/// Short human summary of table counts: "3 tables, 526 rows".
pub fn summarize(tables: &[TableRows]) -> String {
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    format!("{} tables, {rows} rows", tables.len())
}
